//! Incremental export chains (`EXPORT_MODE=incremental`): a full export of the table at a moment
//! T0, then incremental exports covering every moment after it back to back — `[T0, T1)`,
//! `[T1, T2)`, ... — so that the table's state at each boundary can be rebuilt from S3 alone: the
//! full export imported, then each incremental's items written in order. A new chain begins
//! (with a full export at the boundary where the last one ends) every `EXPORT_FULL_EVERY` days,
//! so a restore never reads more than that many days of changes.
//!
//! DynamoDB's terms (API reference, ExportTableToPointInTime and IncrementalExportSpecification;
//! developer guide, "Exporting DynamoDB table data to Amazon S3"): an incremental export covers
//! "from 15 minutes up to 24 hours", `ExportFromTime` inclusive and `ExportToTime` exclusive;
//! both ends, and a full export's `ExportTime`, must lie in the table's point-in-time recovery
//! window (`InvalidExportTimeException`), which runs from `EarliestRestorableDateTime` to
//! `LatestRestorableDateTime`, "typically 5 minutes before the current time"
//! (DescribeContinuousBackups). Every window is therefore planned from the window
//! DescribeContinuousBackups reports, never from the function's clock.
//!
//! Each run: the chains' exports still under way are asked about (DescribeExport); a failed
//! export is started again while the recovery window still covers it, and otherwise recorded as
//! a gap (lost coverage: never skipped silently); incrementals are started from where the
//! current chain ends up to the latest restorable moment (several when runs were missed, each
//! at most 24 hours, at most [`STARTS_PER_RUN`] a run: the rest next run); and a new chain is
//! begun when the current one is old enough, lost its full export, or has a gap.
//!
//! State lives in the log bucket: `chains/<table>/<id>.json` per chain (its id is its full
//! export's moment, `20261205T020000Z`), and `chains/<table>/head.json` naming the chains with
//! work left (the current one, and an older one until its last exports
//! have ended). The plan ([`plan`]), the restore points ([`restore_path`]) and the coverage
//! ([`coverage`]) are pure.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use tracing::{info, warn};

use crate::error::AwsError;
use crate::export::{
    ChainSettings, ExportKind, ExportRecord, ExportRequest, ExportSettings, ExportState, ExportView,
};
use crate::record;
use crate::store::{BackupStore, RecordSink, WriteIf};

/// The shortest window an incremental export may cover.
pub const WINDOW_MIN: Duration = Duration::from_secs(15 * 60);
/// The longest.
pub const WINDOW_MAX: Duration = Duration::from_secs(24 * 3600);
/// At most this many exports are started for one table in one run (retries included): a
/// stack that was stopped for weeks catches up over several runs instead of starting dozens of
/// exports at once.
pub const STARTS_PER_RUN: usize = 8;

/// The moments a table can be exported at, as DescribeContinuousBackups reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecoveryWindow {
    /// `EarliestRestorableDateTime`.
    pub earliest: OffsetDateTime,
    /// `LatestRestorableDateTime`.
    pub latest: OffsetDateTime,
}

/// A full export or an incremental one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum LinkKind {
    /// The table at the chain's start.
    Full,
    /// The items changed in a window.
    Incremental,
}

/// One export of a chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Link {
    /// Full or incremental.
    pub kind: LinkKind,
    /// An incremental's window start (inclusive), RFC 3339; none for the full export.
    #[serde(with = "time::serde::rfc3339::option")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub from: Option<OffsetDateTime>,
    /// An incremental's window end (exclusive), or the moment the full export holds.
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub to: OffsetDateTime,
    /// How many times it was started (a failed export is started again while the recovery
    /// window covers it).
    pub attempt: u32,
    /// It failed and the recovery window no longer covers it: recorded as a gap.
    pub lost: bool,
    /// The export itself (its `period` is the link's name: `full`, or the window).
    pub export: ExportRecord,
}

impl Link {
    /// Where the link's coverage starts: the window's start, or the full export's moment.
    pub fn start(&self) -> OffsetDateTime {
        self.from.unwrap_or(self.to)
    }

    fn completed(&self) -> bool {
        self.export.status == ExportState::Completed
    }

    /// Failed, not yet lost: to start again or record as lost.
    fn failed(&self) -> bool {
        self.export.status == ExportState::Failed && !self.lost
    }
}

/// Coverage that was lost: no export holds the changes of `[from, to)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Gap {
    /// Its start, RFC 3339.
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub from: OffsetDateTime,
    /// Its end.
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub to: OffsetDateTime,
    /// Why, in one line.
    pub reason: String,
}

/// A chain, as recorded at `chains/<table>/<id>.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Chain {
    /// The table.
    pub table: String,
    /// Its id: its full export's moment, `20261205T020000Z`.
    pub id: String,
    /// The bucket its exports are written to.
    pub bucket: String,
    /// What its incrementals hold of each item.
    pub view: ExportView,
    /// The full export it starts with.
    pub full: Link,
    /// Its incremental exports, in order: each starts where the one before ends.
    pub incrementals: Vec<Link>,
    /// Coverage it lost.
    pub gaps: Vec<Gap>,
    /// The account that owns `bucket`, when another account's.
    #[serde(default)]
    pub bucket_owner: Option<String>,
    /// When a newer chain began (its full export's moment): this chain covers no later moment.
    #[serde(with = "time::serde::rfc3339::option")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub closed_at: Option<OffsetDateTime>,
}

/// The name of a chain's copy beside its exports (`<prefix><table>/chains/<id>/chain.json`).
pub const CHAIN_COPY: &str = "chain.json";

impl Chain {
    /// Where the copy of this chain's record lives in its exports' bucket: in the folder of its
    /// exports, beside them, so that the chain restores from that bucket alone (a vault in
    /// another account, after the stack's own bucket is emptied).
    pub fn copy_key(&self) -> String {
        let folder = self
            .full
            .export
            .prefix
            .rsplit_once('/')
            .map_or("", |(folder, _)| folder);
        format!("{folder}/{CHAIN_COPY}")
    }

    /// Where its exports end: the last incremental's end, else the full export's moment. A
    /// failed export still counts (it is started again or recorded as a gap).
    pub fn end(&self) -> OffsetDateTime {
        self.incrementals.last().map_or(self.full.to, |l| l.to)
    }

    /// Whether a restore through it can reach its end: its full export is not lost and none of
    /// its incrementals is.
    fn whole(&self) -> bool {
        !self.full.lost && self.gaps.is_empty()
    }

    /// Its full export and incrementals.
    pub fn links(&self) -> impl Iterator<Item = &Link> {
        std::iter::once(&self.full).chain(&self.incrementals)
    }

    fn link_mut(&mut self, slot: Slot) -> Option<&mut Link> {
        match slot {
            Slot::Full => Some(&mut self.full),
            Slot::Incremental(i) => self.incrementals.get_mut(i),
        }
    }

    /// Whether it has work left: the current chain always, an older one while an export is
    /// under way or failed and not yet lost.
    fn open(&self) -> bool {
        self.closed_at.is_none()
            || self
                .links()
                .any(|l| l.export.status == ExportState::InProgress || l.failed())
    }

    /// Records the failed export `slot` as lost: the gap it leaves (an incremental's window, or
    /// for the full export everything the chain covers), which the chain keeps.
    pub fn lose(&mut self, slot: Slot) -> Option<Gap> {
        let end = self.closed_at.unwrap_or_else(|| self.end());
        let link = self.link_mut(slot)?;
        link.lost = true;
        let gap = Gap {
            from: link.start(),
            to: if link.kind == LinkKind::Full {
                end
            } else {
                link.to
            },
            reason: format!(
                "the export failed ({}) and the table's point-in-time recovery no longer reaches back to {}",
                link.export.failure.as_deref().unwrap_or("no reason given"),
                record::rfc3339(link.start())
            ),
        };
        self.gaps.push(gap.clone());
        Some(gap)
    }

    /// Records `[from, to)` as lost: no export ran while the recovery window covered `from`,
    /// where the chain ends.
    pub fn unreachable(&mut self, from: OffsetDateTime, to: OffsetDateTime) -> Gap {
        let gap = Gap {
            from,
            to,
            reason: format!(
                "no export ran while the table's point-in-time recovery covered {}",
                record::rfc3339(from)
            ),
        };
        self.gaps.push(gap.clone());
        gap
    }

    /// The restore points it offers: its full export's moment, then each incremental's end
    /// while every export up to it has completed.
    pub fn points(&self) -> Vec<OffsetDateTime> {
        if !self.full.completed() {
            return Vec::new();
        }
        let mut points = vec![self.full.to];
        for link in &self.incrementals {
            // Each export must start where the one before ends: a window missing between
            // two would be changes never applied.
            if !link.completed() || link.from != points.last().copied() {
                break;
            }
            points.push(link.to);
        }
        points
    }
}

/// The chains with work left, as recorded at `chains/<table>/head.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    /// Their ids, oldest first: the last is the current chain.
    pub open: Vec<String>,
}

/// `20261205T020000Z` (whole seconds, UTC).
pub fn compact(at: OffsetDateTime) -> String {
    record::rfc3339(at).replace(['-', ':'], "")
}

/// `at` without its fraction of a second: DynamoDB takes export times in whole seconds.
fn whole_seconds(at: OffsetDateTime) -> OffsetDateTime {
    at.replace_nanosecond(0).unwrap_or(at)
}

/// Which export of a chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// Its full export.
    Full,
    /// Its incremental with this index.
    Incremental(usize),
}

/// One thing a run does to a table's chains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Start a failed export again (the recovery window still covers it).
    Retry {
        /// The chain (index into the open chains).
        chain: usize,
        /// Which export.
        slot: Slot,
    },
    /// Record a failed export as lost coverage (the recovery window no longer covers it).
    Lose {
        /// The chain.
        chain: usize,
        /// Which export.
        slot: Slot,
    },
    /// Record `[from, to)` as lost: the current chain ends at `from`, which the recovery
    /// window no longer reaches (runs stopped for longer than it lasts, or recovery was off).
    Unreachable {
        /// Where the chain ends.
        from: OffsetDateTime,
        /// The latest restorable moment.
        to: OffsetDateTime,
    },
    /// Start an incremental export of `[from, to)` in the current chain.
    Incremental {
        /// The window's start.
        from: OffsetDateTime,
        /// Its end.
        to: OffsetDateTime,
    },
    /// Begin a new chain with a full export of the table at `at`.
    Full {
        /// The moment exported.
        at: OffsetDateTime,
    },
}

/// `[from, to)` cut into windows DynamoDB accepts, back to back from `from`: whole days while
/// a day fits, then the rest when it is 15 minutes or more (else it waits for the next run). A
/// daily schedule running a little late gets one window of a day a run, not two halves.
pub fn windows(from: OffsetDateTime, to: OffsetDateTime) -> Vec<(OffsetDateTime, OffsetDateTime)> {
    let min = time::Duration::try_from(WINDOW_MIN).unwrap_or(time::Duration::MAX);
    let max = time::Duration::try_from(WINDOW_MAX).unwrap_or(time::Duration::MAX);
    let mut cuts = Vec::new();
    let mut start = from;
    while to - start >= min {
        let end = if to - start > max { start + max } else { to };
        cuts.push((start, end));
        start = end;
    }
    cuts
}

/// What a run does, given the open chains (oldest first, as their exports now stand), the
/// table's recovery window, the settings and the bucket exports now go to.
///
/// A chain that lost coverage (a failed export the window no longer covers) offers no point
/// past it, so it is not extended: a new chain begins at the latest moment. A chain made with
/// another bucket or view is not extended either: a new chain begins where it ends.
pub fn plan(
    chains: &[Chain],
    window: RecoveryWindow,
    settings: ChainSettings,
    bucket: &str,
) -> Vec<Action> {
    let latest = whole_seconds(window.latest);
    let mut actions = Vec::new();
    let mut starts = 0;
    let mut broken = false;
    let current = chains.len().checked_sub(1);
    for (c, chain) in chains.iter().enumerate() {
        let slots = std::iter::once(Slot::Full)
            .chain((0..chain.incrementals.len()).map(Slot::Incremental))
            .zip(chain.links());
        for (slot, link) in slots {
            if !link.failed() {
                continue;
            }
            if link.start() < window.earliest {
                actions.push(Action::Lose { chain: c, slot });
                broken |= Some(c) == current;
            } else if starts < STARTS_PER_RUN {
                actions.push(Action::Retry { chain: c, slot });
                starts += 1;
            }
        }
    }
    if latest < window.earliest {
        // Recovery went on less than a second ago: no whole second to export yet.
        return actions;
    }
    let Some(current) = current.map(|c| &chains[c]) else {
        actions.push(Action::Full { at: latest });
        return actions;
    };
    broken |= !current.whole();
    let mut end = current.end();
    if end < window.earliest {
        // Recorded once: a run whose new chain could not start leaves the gap recorded.
        if !current.gaps.iter().any(|g| g.from == end) {
            actions.push(Action::Unreachable {
                from: end,
                to: latest,
            });
        }
        actions.push(Action::Full { at: latest });
        return actions;
    }
    if broken {
        actions.push(Action::Full { at: latest });
        return actions;
    }
    if current.bucket != bucket || current.view != settings.view {
        actions.push(Action::Full { at: end });
        return actions;
    }
    for (from, to) in windows(end, latest)
        .into_iter()
        .take(STARTS_PER_RUN.saturating_sub(starts))
    {
        actions.push(Action::Incremental { from, to });
        end = to;
    }
    let full_every = time::Duration::days(i64::from(settings.full_every_days));
    if end - current.full.to >= full_every {
        actions.push(Action::Full { at: end });
    }
    actions
}

/// A way to rebuild the table at a moment: a chain's full export, then its first `incrementals`
/// incremental exports in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestorePath {
    /// The chain (index into the chains given).
    pub chain: usize,
    /// How many of its incrementals to apply.
    pub incrementals: usize,
    /// The moment the table is rebuilt at: the last applied export's end.
    pub at: OffsetDateTime,
}

/// The way to the latest restore point at or before `at` among `chains` (any order), from the
/// chain whose points reach latest (the newest such chain where two reach the same moment:
/// fewer incrementals to apply). `None` when no point is at or before `at`.
pub fn restore_path(chains: &[Chain], at: OffsetDateTime) -> Option<RestorePath> {
    chains
        .iter()
        .enumerate()
        .filter_map(|(c, chain)| {
            let points = chain.points();
            let n = points.iter().rposition(|p| *p <= at)?;
            Some(RestorePath {
                chain: c,
                incrementals: n,
                at: points[n],
            })
        })
        .max_by(|a, b| {
            a.at.cmp(&b.at)
                .then(chains[a.chain].full.to.cmp(&chains[b.chain].full.to))
        })
}

/// A stretch of time whose every export boundary can be restored to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// Its first restore point.
    pub from: OffsetDateTime,
    /// Its last.
    pub to: OffsetDateTime,
}

/// What `chains` (any order) cover: the stretches of restore points, merged where one chain's
/// points reach the next chain's start, oldest first. Between two stretches, the moments have no
/// restore point.
pub fn coverage(chains: &[Chain]) -> Vec<Span> {
    let mut spans: Vec<Span> = chains
        .iter()
        .filter_map(|c| {
            let points = c.points();
            Some(Span {
                from: *points.first()?,
                to: *points.last()?,
            })
        })
        .collect();
    spans.sort_by_key(|s| s.from);
    let mut merged: Vec<Span> = Vec::new();
    for span in spans {
        match merged.last_mut() {
            Some(last) if span.from <= last.to => last.to = last.to.max(span.to),
            _ => merged.push(span),
        }
    }
    merged
}

/// What a run did about one export of a chain, or why it could not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum ChainStep {
    /// An export was started (or started again).
    Started {
        /// The chain.
        chain: String,
        /// The export.
        link: Link,
    },
    /// An export is still under way.
    Waiting {
        /// The chain.
        chain: String,
        /// The export.
        link: Link,
    },
    /// An export ended (COMPLETED or FAILED).
    Finished {
        /// The chain.
        chain: String,
        /// The export.
        link: Link,
    },
    /// Coverage was lost and recorded as a gap.
    Lost {
        /// The chain.
        chain: String,
        /// The gap.
        gap: Gap,
    },
    /// Something could not be read, started or recorded.
    Error {
        /// Why, in one line.
        error: String,
    },
}

impl ChainStep {
    /// Whether this step is a failure to report and alarm on.
    pub fn failed(&self) -> bool {
        match self {
            Self::Finished { link, .. } => link.export.status == ExportState::Failed,
            Self::Lost { .. } | Self::Error { .. } => true,
            Self::Started { .. } | Self::Waiting { .. } => false,
        }
    }

    /// Whether this step saw an export complete.
    pub fn completed(&self) -> bool {
        matches!(self, Self::Finished { link, .. } if link.export.status == ExportState::Completed)
    }
}

/// What one run did about a table's chains.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainRun {
    /// The steps, in order.
    pub steps: Vec<ChainStep>,
    /// The current chain's id, once there is one.
    pub chain: Option<String>,
    /// Where the current chain's exports end (RFC 3339), started or done.
    #[serde(with = "time::serde::rfc3339::option")]
    pub exported_to: Option<OffsetDateTime>,
    /// The restore points this run's exports end at whose fingerprint it recorded (RFC 3339;
    /// [`crate::fingerprint::PointFingerprint`]).
    pub fingerprinted: Vec<String>,
}

impl ChainRun {
    fn error(error: impl std::fmt::Display) -> Self {
        Self {
            steps: vec![ChainStep::Error {
                error: error.to_string(),
            }],
            chain: None,
            exported_to: None,
            fingerprinted: Vec::new(),
        }
    }

    /// The restore points of the exports this run started (`to` of each), once each, with the
    /// chain that first reached it (an incremental and the next chain's full export may end
    /// at the same moment).
    pub fn started_points(&self) -> Vec<(String, OffsetDateTime)> {
        let mut points: Vec<(String, OffsetDateTime)> = Vec::new();
        for step in &self.steps {
            if let ChainStep::Started { chain, link } = step
                && !points.iter().any(|(_, at)| *at == link.to)
            {
                points.push((chain.clone(), link.to));
            }
        }
        points
    }
}

/// A chain read from the log bucket (with the version read: `None` for one this run began),
/// and whether this run changed it.
struct Held {
    chain: Chain,
    changed: bool,
    etag: Option<String>,
}

/// Moves `table`'s chains one run forward at `now` (see the module's documentation).
#[allow(clippy::too_many_arguments)]
pub async fn advance<S: BackupStore, R: RecordSink>(
    store: &S,
    records: &R,
    log_bucket: &str,
    settings: &ExportSettings,
    chain_settings: ChainSettings,
    table: &str,
    table_arn: &str,
    now: OffsetDateTime,
) -> ChainRun {
    let head_key = record::chain_head_key(table);
    let (head, etag) = match records.read_record(log_bucket, &head_key).await {
        Ok(Some(stored)) => match serde_json::from_slice::<Head>(&stored.body) {
            Ok(head) => (head, Some(stored.etag)),
            Err(e) => return ChainRun::error(format!("s3://{log_bucket}/{head_key}: {e}")),
        },
        Ok(None) => (Head::default(), None),
        Err(e) => return ChainRun::error(e),
    };
    let mut held = Vec::new();
    for id in &head.open {
        let key = record::chain_key(table, id);
        match records.read_record(log_bucket, &key).await {
            Ok(Some(stored)) => match serde_json::from_slice::<Chain>(&stored.body) {
                Ok(chain) => held.push(Held {
                    chain,
                    changed: false,
                    etag: Some(stored.etag),
                }),
                Err(e) => return ChainRun::error(format!("s3://{log_bucket}/{key}: {e}")),
            },
            Ok(None) => {
                return ChainRun::error(format!(
                    "s3://{log_bucket}/{key} is missing, and {head_key} names it"
                ));
            }
            Err(e) => return ChainRun::error(e),
        }
    }
    let mut steps = Vec::new();
    check(store, &mut held, &mut steps, now).await;
    match store.recovery_window(table).await {
        Ok(Some(window)) => {
            let actions = {
                let chains: Vec<Chain> = held.iter().map(|h| h.chain.clone()).collect();
                plan(&chains, window, chain_settings, &settings.bucket)
            };
            let starter = Starter {
                store,
                records,
                settings,
                table,
                table_arn,
                view: chain_settings.view,
                now,
            };
            // Once a new window cannot be started, no later one is: the chain must stay back
            // to back (the next run starts from where it ends).
            let mut stalled = false;
            for action in actions {
                let extends = matches!(action, Action::Incremental { .. } | Action::Full { .. });
                if stalled && extends {
                    continue;
                }
                let started = starter.act(action, &mut held, &mut steps).await;
                stalled |= extends && !started;
            }
        }
        Ok(None) => steps.push(ChainStep::Error {
            error: format!(
                "table {table} has point-in-time recovery off, and incremental exports read it: turn it on (`installer up` does for the tables it exports)"
            ),
        }),
        Err(e) => steps.push(ChainStep::Error {
            error: e.to_string(),
        }),
    }
    let current = held.last().map(|h| (h.chain.id.clone(), h.chain.end()));
    if let Err(e) = save(records, log_bucket, table, &head, etag, &mut held).await {
        warn!(table = %table, error = %e, "could not record the export chain");
        steps.push(ChainStep::Error {
            error: e.to_string(),
        });
    }
    ChainRun {
        steps,
        chain: current.as_ref().map(|(id, _)| id.clone()),
        exported_to: current.map(|(_, end)| end),
        fingerprinted: Vec::new(),
    }
}

/// Asks DynamoDB about every export still under way and takes in its answer.
async fn check<S: BackupStore>(
    store: &S,
    held: &mut [Held],
    steps: &mut Vec<ChainStep>,
    now: OffsetDateTime,
) {
    for h in held.iter_mut() {
        let id = h.chain.id.clone();
        let Held { chain, changed, .. } = h;
        for link in std::iter::once(&mut chain.full).chain(chain.incrementals.iter_mut()) {
            if link.export.status != ExportState::InProgress {
                continue;
            }
            match store.describe_export(&link.export.export_arn).await {
                Ok(status) if link.export.update(&status, now) => {
                    *changed = true;
                    if link.export.status == ExportState::Failed {
                        warn!(chain = %id, export = %link.export.export_arn, failure = link.export.failure.as_deref().unwrap_or(""), "chain export failed");
                    } else {
                        info!(chain = %id, export = %link.export.export_arn, items = link.export.item_count, "chain export completed");
                    }
                    steps.push(ChainStep::Finished {
                        chain: id.clone(),
                        link: link.clone(),
                    });
                }
                Ok(_) => steps.push(ChainStep::Waiting {
                    chain: id.clone(),
                    link: link.clone(),
                }),
                Err(e) => steps.push(ChainStep::Error {
                    error: e.to_string(),
                }),
            }
        }
    }
}

/// Starts a run's exports.
struct Starter<'a, S, R> {
    store: &'a S,
    /// Where a full export's table definition is written, beside it.
    records: &'a R,
    settings: &'a ExportSettings,
    table: &'a str,
    table_arn: &'a str,
    view: ExportView,
    now: OffsetDateTime,
}

impl<S: BackupStore, R: RecordSink> Starter<'_, S, R> {
    /// The link of a new export: `from` for an incremental's window start.
    fn link(&self, chain: &str, from: Option<OffsetDateTime>, to: OffsetDateTime) -> Link {
        let (kind, name) = match from {
            None => (LinkKind::Full, "full".to_owned()),
            Some(from) => (
                LinkKind::Incremental,
                format!("{}-{}", compact(from), compact(to)),
            ),
        };
        let prefix = format!(
            "{}{}/chains/{chain}/{name}",
            self.settings.prefix, self.table
        );
        Link {
            kind,
            from,
            to,
            attempt: 0,
            lost: false,
            export: ExportRecord {
                table: self.table.to_owned(),
                period: name,
                export_arn: String::new(),
                bucket: self.settings.bucket.clone(),
                prefix,
                started_at: self.now,
                status: ExportState::InProgress,
                finished_at: None,
                duration_seconds: None,
                item_count: None,
                billed_size_bytes: None,
                failure: None,
            },
        }
    }

    /// Starts `link`'s export (its next attempt); `false` when it could not be started.
    async fn start(&self, chain: &str, link: &mut Link, steps: &mut Vec<ChainStep>) -> bool {
        let kind = match link.from {
            None => ExportKind::Full { at: Some(link.to) },
            Some(from) => ExportKind::Incremental {
                from,
                to: link.to,
                view: self.view,
            },
        };
        let digest = Sha256::digest(
            format!(
                "{}\n{}\n{}\n{}\n{}\n{}",
                self.table_arn,
                link.export.bucket,
                link.export.prefix,
                link.attempt,
                chain,
                self.view.as_str()
            )
            .as_bytes(),
        );
        let token: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        let request = ExportRequest {
            kind,
            table_arn: self.table_arn.to_owned(),
            bucket: link.export.bucket.clone(),
            bucket_owner: self.settings.bucket_owner.clone(),
            prefix: link.export.prefix.clone(),
            client_token: token,
        };
        match self.store.start_export(&request).await {
            Ok(status) => {
                link.attempt += 1;
                link.export.export_arn.clone_from(&status.arn);
                link.export.started_at = self.now;
                link.export.status = ExportState::InProgress;
                link.export.finished_at = None;
                link.export.duration_seconds = None;
                link.export.failure = None;
                link.export.update(&status, self.now);
                info!(table = %self.table, chain = %chain, export = %status.arn, window = %link.export.period, "chain export started");
                if link.from.is_none() {
                    crate::export::keep_definition(
                        self.store,
                        self.records,
                        &link.export.bucket,
                        self.table,
                        &link.export.prefix,
                    )
                    .await;
                }
                steps.push(ChainStep::Started {
                    chain: chain.to_owned(),
                    link: link.clone(),
                });
                true
            }
            Err(e) => {
                warn!(table = %self.table, chain = %chain, error = %e, "could not start a chain export");
                steps.push(ChainStep::Error {
                    error: e.to_string(),
                });
                false
            }
        }
    }

    /// Does `action`; `false` when an export it needed could not be started.
    async fn act(&self, action: Action, held: &mut Vec<Held>, steps: &mut Vec<ChainStep>) -> bool {
        match action {
            Action::Retry { chain, slot } => {
                let Some(h) = held.get_mut(chain) else {
                    return true;
                };
                let id = h.chain.id.clone();
                if let Some(link) = h.chain.link_mut(slot) {
                    let started = self.start(&id, link, steps).await;
                    h.changed |= started;
                }
                true
            }
            Action::Lose { chain, slot } => {
                let Some(h) = held.get_mut(chain) else {
                    return true;
                };
                let Some(gap) = h.chain.lose(slot) else {
                    return true;
                };
                h.changed = true;
                steps.push(ChainStep::Lost {
                    chain: h.chain.id.clone(),
                    gap,
                });
                true
            }
            Action::Unreachable { from, to } => {
                let Some(h) = held.last_mut() else {
                    return true;
                };
                let gap = h.chain.unreachable(from, to);
                h.changed = true;
                steps.push(ChainStep::Lost {
                    chain: h.chain.id.clone(),
                    gap,
                });
                true
            }
            Action::Incremental { from, to } => {
                let Some(h) = held.last_mut() else {
                    return false;
                };
                let id = h.chain.id.clone();
                let mut link = self.link(&id, Some(from), to);
                let started = self.start(&id, &mut link, steps).await;
                if started {
                    h.chain.incrementals.push(link);
                    h.changed = true;
                }
                started
            }
            Action::Full { at } => {
                let id = compact(at);
                let mut full = self.link(&id, None, at);
                if !self.start(&id, &mut full, steps).await {
                    return false;
                }
                if let Some(h) = held.last_mut() {
                    h.chain.closed_at = Some(at);
                    h.changed = true;
                }
                held.push(Held {
                    chain: Chain {
                        table: self.table.to_owned(),
                        id,
                        bucket: self.settings.bucket.clone(),
                        view: self.view,
                        full,
                        incrementals: Vec::new(),
                        gaps: Vec::new(),
                        closed_at: None,
                        bucket_owner: self.settings.bucket_owner.clone(),
                    },
                    changed: true,
                    etag: None,
                });
                true
            }
        }
    }
}

/// Why the chains could not be recorded.
#[derive(Debug, thiserror::Error)]
enum SaveError {
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error(
        "another run changed {0} at the same time; this run's exports are not recorded (the next run goes on from the other's)"
    )]
    Raced(String),
}

/// Writes the chains this run changed and then the head, each only if no other run wrote it
/// since it was read (a chain this run began, only if none is there), dropping the older chains
/// with no work left.
async fn save<R: RecordSink>(
    records: &R,
    log_bucket: &str,
    table: &str,
    head: &Head,
    etag: Option<String>,
    held: &mut [Held],
) -> Result<(), SaveError> {
    for h in held.iter_mut().filter(|h| h.changed) {
        let body = serde_json::to_vec_pretty(&h.chain).expect("a chain is strings and numbers");
        let key = record::chain_key(table, &h.chain.id);
        let when = match &h.etag {
            Some(etag) => WriteIf::Unchanged(etag),
            None => WriteIf::Absent,
        };
        if !records
            .put_record_if(log_bucket, &key, body.clone(), when)
            .await?
        {
            return Err(SaveError::Raced(key));
        }
        h.changed = false;
        // The copy beside the exports: written after the record (the record decides who won a
        // race); a copy that cannot be written costs the chain nothing but that way to restore.
        let copy = h.chain.copy_key();
        if let Err(e) = records.put_record(&h.chain.bucket, &copy, body).await {
            warn!(table = %table, bucket = %h.chain.bucket, key = %copy, error = %e, "could not copy the chain's record beside its exports");
        }
    }
    let open = Head {
        open: held
            .iter()
            .filter(|h| h.chain.open())
            .map(|h| h.chain.id.clone())
            .collect(),
    };
    if open == *head {
        return Ok(());
    }
    let key = record::chain_head_key(table);
    let body = serde_json::to_vec_pretty(&open).expect("a head is strings");
    let when = match &etag {
        Some(etag) => WriteIf::Unchanged(etag),
        None => WriteIf::Absent,
    };
    if records.put_record_if(log_bucket, &key, body, when).await? {
        Ok(())
    } else {
        Err(SaveError::Raced(key))
    }
}

#[cfg(test)]
mod tests;
