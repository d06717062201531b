//! Counting a table's items for a drill or a restore: a `Select=COUNT` scan split into parallel
//! segments, paced in read units, and resumable.
//!
//! A sequential Scan "can only read one partition at a time. For this reason, the throughput of
//! a Scan is constrained by the maximum throughput of a single partition" (developer guide,
//! Parallel scan), and a partition serves at most 3,000 read units a second (developer guide,
//! partition key design): a 100 GB table is some 100,000 one-MB pages, hours of one thread. So a
//! count reads `TotalSegments` segments ([`segments_for`], from the table's size), up to
//! [`WORKERS`] at once, each page's start taken from one [`ReadPacer`] spending the table's read
//! rate ([`ScanSize::read_rate`]) by the read units each page reports (`ConsumedCapacity`,
//! `ReturnConsumedCapacity=TOTAL`). Where it got to is a [`CountProgress`], a cursor per segment,
//! so a count that outlasts an invocation goes on in the next from where each segment stopped.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use tracing::warn;

use crate::error::AwsError;
use crate::naming::TableName;
use crate::tables::{Key, Tables};

/// Table bytes per segment. The developer guide suggests "one segment per 2 GB of data" to
/// begin with; the count paces itself in read units whatever the segments, so more segments
/// cost only a request each, and spread the pages over more partitions. A segment of 256 MiB
/// is about 256 pages, seconds at one partition's rate: also the unit a drill resumes at.
pub const SEGMENT_BYTES: i64 = 256 * 1024 * 1024;
/// Segments for a table of more than one page: a new on-demand table serves 12,000 read units
/// a second, four partitions' worth, which one sequential scan could not use.
pub const MIN_SEGMENTS: u32 = 4;
/// The most segments a count splits into (the API allows 1,000,000).
pub const MAX_SEGMENTS: u32 = 1_000;
/// Segments read at once.
pub const WORKERS: usize = 16;
/// Read units a second a table without a known rate serves: "a newly created table with
/// on-demand capacity mode" can serve "up to 12,000 read request units" (developer guide,
/// On-demand capacity mode, initial throughput).
pub const ON_DEMAND_READ_RATE: f64 = 12_000.0;
/// One page's read units when the answer does not say: 1 MB in 4 KB units, halved for an
/// eventually consistent read (developer guide, read consumption for Scan).
const FULL_PAGE_UNITS: f64 = 256.0;
/// The slowest a throttled count slows to: a page's worth a second.
const SLOWEST_RATE: f64 = 128.0;
/// The pause after a throttled page before it is read again.
const THROTTLE_PAUSE: Duration = Duration::from_secs(1);
/// Bytes in one page of a scan (Scan, API reference: "a maximum of 1 MB").
const PAGE_BYTES: i64 = 1024 * 1024;

/// One segment of a `total`-segment scan; a total of 1 is a sequential scan (no `Segment`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// Zero-based.
    pub index: u32,
    /// `TotalSegments`.
    pub total: u32,
}

/// What DescribeTable says of a table's size and read rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScanSize {
    /// `TableSizeBytes` (updated about every six hours).
    pub bytes: i64,
    /// `ItemCount` (as approximate).
    pub items: i64,
    /// Read units a second the table serves: provisioned `ReadCapacityUnits`, or an on-demand
    /// table's `MaxReadRequestUnits`; `None` for on-demand without a maximum.
    pub read_units: Option<f64>,
}

impl ScanSize {
    /// The read units a second a count spends.
    pub fn read_rate(&self) -> f64 {
        match self.read_units {
            Some(units) if units > 0.0 => units,
            _ => ON_DEMAND_READ_RATE,
        }
    }
}

/// `TotalSegments` for a table of `bytes`: one for a table of one page, else one per
/// [`SEGMENT_BYTES`], between [`MIN_SEGMENTS`] and [`MAX_SEGMENTS`].
pub fn segments_for(bytes: i64) -> u32 {
    if bytes <= PAGE_BYTES {
        return 1;
    }
    let wanted = (bytes.saturating_add(SEGMENT_BYTES - 1)) / SEGMENT_BYTES;
    u32::try_from(wanted)
        .unwrap_or(MAX_SEGMENTS)
        .clamp(MIN_SEGMENTS, MAX_SEGMENTS)
}

/// Where one segment's count is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SegmentCount {
    /// Items this segment counted.
    pub items: i64,
    /// The last evaluated key to go on after; `None` before its first page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Key>,
    /// Its last page was read.
    #[serde(default)]
    pub done: bool,
}

/// How far a count got: every segment's cursor, and the items counted in all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "StoredCount")]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CountProgress {
    /// Items counted so far, every segment together.
    pub items: i64,
    /// One cursor per segment (`TotalSegments` is their number); empty before the first page.
    #[serde(default)]
    pub segments: Vec<SegmentCount>,
}

/// A count as stored: today's, or one written before segments (`{"items", "after"}`: one
/// sequential scan's cursor), read as a count of one segment.
#[derive(Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
struct StoredCount {
    items: i64,
    #[serde(default)]
    after: Option<Key>,
    #[serde(default)]
    segments: Vec<SegmentCount>,
}

impl From<StoredCount> for CountProgress {
    fn from(stored: StoredCount) -> Self {
        let StoredCount {
            items,
            after,
            segments,
        } = stored;
        let segments = if segments.is_empty() && (items > 0 || after.is_some()) {
            vec![SegmentCount {
                items,
                after,
                done: false,
            }]
        } else {
            segments
        };
        Self { items, segments }
    }
}

impl CountProgress {
    /// Segments whose last page was read.
    pub fn segments_done(&self) -> usize {
        self.segments.iter().filter(|s| s.done).count()
    }

    /// Every segment read to its end (and there are segments).
    pub fn finished(&self) -> bool {
        !self.segments.is_empty() && self.segments.iter().all(|s| s.done)
    }
}

/// Where a bounded count ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Counted {
    /// Every page was read: the table's items.
    Done(i64),
    /// Time ran out: where to go on from.
    Partial(CountProgress),
}

/// Told of the count's progress after every page.
pub type Watch<'a> = &'a (dyn Fn(&CountProgress) + Sync);

/// How one call counts.
#[derive(Clone, Default)]
pub struct Counting<'a> {
    /// Strongly consistent reads (twice the read units): an import's last writes count.
    pub consistent: bool,
    /// Where to go on from; the default starts afresh.
    pub from: CountProgress,
    /// When to stop starting pages; `None` counts to the end.
    pub until: Option<Instant>,
    /// `TotalSegments` for a fresh count; `None` chooses from the table's size
    /// ([`segments_for`]). A count going on keeps its own.
    pub segments: Option<u32>,
    /// The table's size as known elsewhere (the backup it was restored from): DescribeTable's
    /// `TableSizeBytes` is refreshed only every six hours or so, and a new table's may be 0.
    pub known_bytes: Option<i64>,
    /// Told after every page.
    pub watch: Option<Watch<'a>>,
}

impl std::fmt::Debug for Counting<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Counting")
            .field("consistent", &self.consistent)
            .field("from", &self.from)
            .field("until", &self.until)
            .field("segments", &self.segments)
            .field("known_bytes", &self.known_bytes)
            .field("watch", &self.watch.is_some())
            .finish()
    }
}

/// Spends a read rate: each page's start waits until the units spent before it fit the rate.
/// A page reserves a full page's units when it starts and is settled at what it reported.
#[derive(Debug)]
pub struct ReadPacer {
    state: Mutex<PacerState>,
}

#[derive(Debug)]
struct PacerState {
    /// Read units a second.
    rate: f64,
    /// When the units reserved so far are spent.
    free_at: Option<Instant>,
}

impl ReadPacer {
    /// A pacer spending `rate` read units a second.
    pub fn new(rate: f64) -> Self {
        Self {
            state: Mutex::new(PacerState {
                rate: rate.max(SLOWEST_RATE),
                free_at: None,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PacerState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reserves `units` and returns when the page may start.
    pub fn reserve(&self, units: f64) -> Instant {
        let now = Instant::now();
        let mut state = self.lock();
        let at = state.free_at.map_or(now, |free| free.max(now));
        state.free_at = Some(at + Duration::from_secs_f64(units.max(0.0) / state.rate));
        at
    }

    /// Corrects a page's reservation of `reserved` units to the `used` it reported.
    pub fn settle(&self, reserved: f64, used: f64) {
        let mut state = self.lock();
        let rate = state.rate;
        if let Some(free) = state.free_at.as_mut() {
            let difference = (used - reserved) / rate;
            if difference >= 0.0 {
                *free += Duration::from_secs_f64(difference);
            } else {
                *free = free
                    .checked_sub(Duration::from_secs_f64(-difference))
                    .unwrap_or(*free);
            }
        }
    }

    /// Halves the rate, down to a page a second: the table refused a page.
    pub fn slow_down(&self) -> f64 {
        let mut state = self.lock();
        state.rate = (state.rate / 2.0).max(SLOWEST_RATE);
        state.rate
    }

    /// The rate now.
    pub fn rate(&self) -> f64 {
        self.lock().rate
    }
}

/// Counts `table`'s items as `how` says: a fresh count splits into segments, a count going on
/// keeps its own; segments are read [`WORKERS`] at a time, each page paced in read units. Stops
/// starting pages at `how.until` (every call reads at least one page, so every call makes
/// progress) and returns where each segment got to.
pub async fn count_items_from(
    tables: &impl Tables,
    table: &TableName,
    mut how: Counting<'_>,
) -> Result<Counted, AwsError> {
    let size = tables.scan_size(table).await?;
    let mut progress = std::mem::take(&mut how.from);
    if progress.segments.is_empty() {
        let total = how
            .segments
            .unwrap_or_else(|| segments_for(size.bytes.max(how.known_bytes.unwrap_or(0))))
            .clamp(1, MAX_SEGMENTS);
        progress.segments = vec![SegmentCount::default(); total as usize];
    }
    let total = u32::try_from(progress.segments.len()).unwrap_or(MAX_SEGMENTS);
    let waiting: VecDeque<u32> = (0..total)
        .filter(|&i| !progress.segments[i as usize].done)
        .collect();
    let workers = waiting.len().min(WORKERS);
    let shared = Shared {
        progress: Mutex::new(progress),
        waiting: Mutex::new(waiting),
        pacer: ReadPacer::new(size.read_rate()),
        read_one: AtomicBool::new(false),
        full_page: if how.consistent {
            FULL_PAGE_UNITS
        } else {
            FULL_PAGE_UNITS / 2.0
        },
    };
    let work = (0..workers).map(|_| worker(tables, table, &how, &shared, total));
    futures::future::try_join_all(work).await?;
    let progress = shared
        .progress
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner);
    Ok(if progress.finished() {
        Counted::Done(progress.items)
    } else {
        Counted::Partial(progress)
    })
}

/// What the workers of one count share.
struct Shared {
    progress: Mutex<CountProgress>,
    waiting: Mutex<VecDeque<u32>>,
    pacer: ReadPacer,
    /// A page was read in this call: from now on `until` stops the count.
    read_one: AtomicBool,
    /// A full page's read units at this consistency.
    full_page: f64,
}

/// Reads segments from the shared queue to their end, or until time is up.
async fn worker(
    tables: &impl Tables,
    table: &TableName,
    how: &Counting<'_>,
    shared: &Shared,
    total: u32,
) -> Result<(), AwsError> {
    loop {
        let next = shared
            .waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop_front();
        let Some(index) = next else {
            return Ok(());
        };
        let segment = Segment { index, total };
        let mut after = shared
            .progress
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .segments[index as usize]
            .after
            .clone();
        loop {
            let out_of_time = how.until.is_some_and(|u| Instant::now() >= u);
            if out_of_time && shared.read_one.load(Ordering::SeqCst) {
                return Ok(());
            }
            let reserved = shared.full_page;
            tokio::time::sleep_until(shared.pacer.reserve(reserved)).await;
            let page = match tables
                .count_page(table, how.consistent, segment, after.as_ref())
                .await
            {
                Ok(page) => page,
                Err(e) if e.is_throttling() => {
                    shared.pacer.settle(reserved, 0.0);
                    let rate = shared.pacer.slow_down();
                    warn!(table = %table, segment = index, rate, "a count page was throttled; reading slower");
                    tokio::time::sleep(THROTTLE_PAUSE).await;
                    continue;
                }
                Err(e) => return Err(e),
            };
            shared
                .pacer
                .settle(reserved, page.read_units.unwrap_or(reserved));
            shared.read_one.store(true, Ordering::SeqCst);
            let snapshot = {
                let mut progress = shared
                    .progress
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                progress.items += page.items;
                let cursor = &mut progress.segments[index as usize];
                cursor.items += page.items;
                cursor.after.clone_from(&page.last);
                cursor.done = page.last.is_none();
                how.watch.is_some().then(|| progress.clone())
            };
            if let (Some(watch), Some(snapshot)) = (how.watch, snapshot) {
                watch(&snapshot);
            }
            match page.last {
                Some(key) => after = Some(key),
                None => break,
            }
        }
    }
}

/// What a person watching a count is told: items, segments done, rate and the time left when
/// the table's approximate item count (`expected`) gives one.
pub fn progress_line(progress: &CountProgress, expected: Option<i64>, elapsed: Duration) -> String {
    let seconds = elapsed.as_secs_f64();
    #[allow(clippy::cast_precision_loss)] // item counts far below 2^52
    let rate = if seconds > 0.0 {
        progress.items as f64 / seconds
    } else {
        0.0
    };
    let mut line = format!(
        "counted {} items, {} of {} segments done, {} items/s",
        thousands(progress.items),
        progress.segments_done(),
        progress.segments.len(),
        thousands(rate.round() as i64),
    );
    if let Some(expected) = expected.filter(|&e| e > progress.items && rate > 0.0) {
        #[allow(clippy::cast_precision_loss)]
        let left = (expected - progress.items) as f64 / rate;
        line.push_str(&format!(
            ", about {} left of ~{} items",
            about(Duration::from_secs_f64(left)),
            thousands(expected)
        ));
    }
    line
}

/// A time left in whole seconds, minutes or hours.
fn about(left: Duration) -> String {
    match left.as_secs() {
        s if s < 120 => format!("{s} s"),
        s if s < 7_200 => format!("{} min", s / 60),
        s => format!("{:.1} h", s as f64 / 3_600.0),
    }
}

/// `1234567` as `1,234,567`.
fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::{MemoryStore, MemoryTable};
    use aws_sdk_dynamodb::types::AttributeValue;

    fn movies() -> TableName {
        TableName::parse("Movies").unwrap()
    }

    /// A store holding `items` movies, read `page` items a Scan page.
    fn store(items: i64, page: i64) -> MemoryStore {
        MemoryStore {
            scan_page: Some(page),
            ..MemoryStore::default()
        }
        .with_table("Movies", MemoryTable::movies(items))
    }

    /// Counts the store's `Movies` to the end in `segments` segments.
    async fn count_in(store: &MemoryStore, segments: u32) -> Counted {
        let how = Counting {
            segments: Some(segments),
            ..Counting::default()
        };
        count_items_from(store, &movies(), how).await.unwrap()
    }

    fn scans(store: &MemoryStore) -> usize {
        store
            .calls()
            .iter()
            .filter(|c| c.starts_with("scan "))
            .count()
    }

    #[test]
    fn segments_grow_with_the_table_between_four_and_a_thousand() {
        assert_eq!(segments_for(0), 1, "an empty table");
        assert_eq!(segments_for(PAGE_BYTES), 1, "one page");
        assert_eq!(segments_for(PAGE_BYTES + 1), MIN_SEGMENTS);
        assert_eq!(segments_for(600 << 20), MIN_SEGMENTS);
        assert_eq!(segments_for(2 << 30), 8, "2 GiB: 256 MiB each");
        assert_eq!(segments_for(100 << 30), 400, "100 GiB");
        assert_eq!(segments_for(i64::MAX), MAX_SEGMENTS);
    }

    #[tokio::test(start_paused = true)]
    async fn segments_count_every_item_once() {
        let store = store(10_007, 100);
        assert_eq!(count_in(&store, 8).await, Counted::Done(10_007));
        // 10,007 items in 8 segments of 1,250 or 1,251: 13 pages each.
        assert_eq!(scans(&store), 8 * 13);
    }

    #[tokio::test(start_paused = true)]
    async fn a_size_known_from_the_backup_splits_a_table_described_as_empty() {
        // DescribeTable of the fake says the rows' bytes: a few KB, one segment by itself.
        let store = store(100, 10);
        let how = |known_bytes| Counting {
            until: Some(Instant::now()),
            known_bytes,
            ..Counting::default()
        };
        let segments = |counted| match counted {
            Counted::Partial(progress) => progress.segments.len(),
            Counted::Done(_) => 0,
        };
        let alone = count_items_from(&store, &movies(), how(None))
            .await
            .unwrap();
        assert_eq!(segments(alone), 1);
        let known = count_items_from(&store, &movies(), how(Some(600 << 20)))
            .await
            .unwrap();
        assert_eq!(segments(known), MIN_SEGMENTS as usize);
    }

    #[tokio::test(start_paused = true)]
    async fn a_count_cut_by_its_deadline_goes_on_per_segment_and_counts_nothing_twice() {
        let store = store(5_000, 50);
        let table = movies();
        let watched = Mutex::new(Vec::new());
        let watch = |p: &CountProgress| watched.lock().unwrap().push(p.items);
        let mut from = CountProgress::default();
        let mut calls = 0;
        let total = loop {
            calls += 1;
            // Each call has until now: the pages under way when time is up finish, no more.
            let how = Counting {
                from,
                until: Some(Instant::now()),
                segments: Some(6),
                watch: Some(&watch),
                ..Counting::default()
            };
            match count_items_from(&store, &table, how).await.unwrap() {
                Counted::Done(items) => break items,
                Counted::Partial(progress) => {
                    assert_eq!(progress.segments.len(), 6, "the segments are kept");
                    assert_eq!(
                        progress.items,
                        progress.segments.iter().map(|s| s.items).sum::<i64>()
                    );
                    // As a drill's state keeps it.
                    let json = serde_json::to_string(&progress).unwrap();
                    from = serde_json::from_str(&json).unwrap();
                }
            }
            assert!(calls < 200, "the count makes progress");
        };
        assert_eq!(total, 5_000);
        assert!(calls > 2, "time ran out more than once: {calls}");
        // 5,000 items in 6 segments of 833 or 834: 17 pages each, none read twice.
        assert_eq!(scans(&store), 6 * 17);
        let watched = watched.into_inner().unwrap();
        assert_eq!(watched.last(), Some(&5_000), "told of every page");
        assert!(watched.windows(2).all(|w| w[0] <= w[1]));
    }

    #[tokio::test(start_paused = true)]
    async fn a_count_stored_before_segments_goes_on_as_one_sequential_scan() {
        let store = store(3_000, 1_000);
        let old = r#"{"items": 1000, "after": {"position": {"N": "999"}}}"#;
        let from: CountProgress = serde_json::from_str(old).unwrap();
        assert_eq!(from.segments.len(), 1);
        let how = Counting {
            from,
            ..Counting::default()
        };
        let counted = count_items_from(&store, &movies(), how).await.unwrap();
        assert_eq!(counted, Counted::Done(3_000));
        assert_eq!(scans(&store), 2, "the two pages left");
    }

    /// Items of 4 KB: one strongly consistent read unit each.
    fn heavy(items: usize) -> MemoryTable {
        let mut table = MemoryTable::movies(0);
        table.rows = (0..items)
            .map(|n| {
                let mut item = crate::fake::movie(i64::try_from(n).unwrap());
                let filler = 4096 - crate::fake::item_bytes(&item) - 6;
                item.insert(
                    "filler".to_owned(),
                    AttributeValue::S("x".repeat(usize::try_from(filler).unwrap())),
                );
                item
            })
            .collect();
        table
    }

    #[tokio::test(start_paused = true)]
    async fn the_table_read_rate_not_the_segments_bounds_the_count() {
        for segments in [1, 4] {
            let store = MemoryStore {
                scan_page: Some(256),
                read_units: Some(256.0),
                ..MemoryStore::default()
            }
            .with_table("Movies", heavy(2_560));
            let started = Instant::now();
            let how = Counting {
                consistent: true,
                segments: Some(segments),
                ..Counting::default()
            };
            let counted = count_items_from(&store, &movies(), how).await.unwrap();
            assert_eq!(counted, Counted::Done(2_560));
            // 2,560 read units at 256 a second: the first page at once, the rest a second
            // apart (in segments, a page may wait for a second's worth of another's).
            let took = started.elapsed();
            assert!(
                took >= Duration::from_secs(9) && took <= Duration::from_secs(11),
                "{segments} segment(s): {took:?}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_throttled_page_is_read_again_slower() {
        let store = store(1_000, 100);
        *store.throttle_scans.lock().unwrap() = 3;
        assert_eq!(count_in(&store, 2).await, Counted::Done(1_000));
        assert_eq!(scans(&store), 10 + 3, "each refused page asked again");
    }

    #[tokio::test(start_paused = true)]
    async fn a_count_that_cannot_read_fails() {
        let store = MemoryStore {
            deny_reads: true,
            ..store(10, 10)
        };
        let err = count_items_from(&store, &movies(), Counting::default())
            .await
            .unwrap_err();
        assert!(err.is("AccessDeniedException"), "{err}");
    }

    #[test]
    fn a_progress_line_says_items_segments_rate_and_time_left() {
        let progress = CountProgress {
            items: 250_000,
            segments: vec![
                SegmentCount {
                    items: 150_000,
                    after: None,
                    done: true,
                },
                SegmentCount {
                    items: 100_000,
                    after: Some(Key::new()),
                    done: false,
                },
            ],
        };
        assert_eq!(
            progress_line(&progress, Some(1_000_000), Duration::from_secs(10)),
            "counted 250,000 items, 1 of 2 segments done, 25,000 items/s, about 30 s left of ~1,000,000 items"
        );
        assert_eq!(
            progress_line(&progress, None, Duration::from_secs(10)),
            "counted 250,000 items, 1 of 2 segments done, 25,000 items/s"
        );
    }
}
