//! The daily ledger: one JSON object per table and UTC day (`runs/<table>/daily/<day>.json`,
//! see [`crate::record::ledger_key`]) that lists the outcome of every run and the verdict of
//! every drill that day. The function appends to it after each run and drill; `installer
//! report` reads one object per day covered instead of one per run (a per-minute schedule
//! makes 1,440 runs a day). The full record of each run stays beside it.
//!
//! Appends are read-modify-write with S3 conditional writes (`If-None-Match: *` to create,
//! `If-Match: <etag>` to update), so two runs of the same table finishing together both land:
//! the loser of the race reads again and retries.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::drill::{DrillRecord, Verdict};
use crate::error::AwsError;
use crate::record;
use crate::store::{RecordSink, WriteIf};

/// The layout version this code writes and reads.
pub const VERSION: u32 = 1;

/// How many times an append reads and tries again after losing a race.
const ATTEMPTS: u32 = 8;
/// The pause after the first lost race, growing by as much each time.
const RACE_PAUSE: Duration = Duration::from_millis(40);

/// One table's runs and drills on one UTC day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayLedger {
    /// The layout version ([`VERSION`]).
    pub version: u32,
    /// The table.
    pub table: String,
    /// The UTC day, `YYYY-MM-DD`.
    pub day: String,
    /// The day's runs, in the order they finished.
    #[serde(default)]
    pub runs: Vec<RunEntry>,
    /// The day's drills, in the order they were judged.
    #[serde(default)]
    pub drills: Vec<DrillEntry>,
}

/// How a run ended, as the report counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum Outcome {
    /// Backed up, and every deletion due was made or left for a later run.
    Ok,
    /// Backed up, but some deletions failed.
    Partial,
    /// No backup was made, or the backups could not be listed to prune them.
    Failed,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Outcome::Ok => "ok",
            Outcome::Partial => "partial",
            Outcome::Failed => "failed",
        })
    }
}

/// One run, in a line of the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunEntry {
    /// When the run started (RFC 3339, UTC).
    pub at: String,
    /// The Lambda request id.
    pub request_id: String,
    /// How it ended.
    pub outcome: Outcome,
    /// The backup it made, if it made one: the recovery points the report measures.
    pub backup: Option<String>,
    /// How long it took, in milliseconds.
    #[serde(default)]
    pub duration_ms: u64,
    /// Why it failed or was partial, in one line.
    #[serde(default)]
    pub error: Option<String>,
}

/// One drill, in a line of the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrillEntry {
    /// When it was judged (RFC 3339, UTC).
    pub at: String,
    /// The drill's id.
    pub id: String,
    /// The backup restored.
    pub backup: String,
    /// The verdict.
    pub verdict: Verdict,
    /// Seconds from asking for the restore to the table being ACTIVE.
    pub recovery_seconds: u64,
    /// Whether that is an upper bound (seen by a later run).
    #[serde(default)]
    pub recovery_upper_bound: bool,
    /// Why it failed, if it did.
    #[serde(default)]
    pub reason: Option<String>,
}

impl From<&DrillRecord> for DrillEntry {
    fn from(d: &DrillRecord) -> Self {
        Self {
            at: crate::record::rfc3339(d.finished_at),
            id: d.id.clone(),
            backup: d.backup_name.clone(),
            verdict: d.verdict,
            recovery_seconds: d.recovery_seconds,
            recovery_upper_bound: d.recovery_upper_bound,
            reason: d.reason.clone(),
        }
    }
}

/// What is appended to a ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A run.
    Run(RunEntry),
    /// A drill.
    Drill(DrillEntry),
}

impl Entry {
    /// When it happened: the day whose ledger it goes to.
    fn at(&self) -> &str {
        match self {
            Entry::Run(run) => &run.at,
            Entry::Drill(drill) => &drill.at,
        }
    }
}

impl DayLedger {
    /// An empty ledger of `table` for `day`.
    pub fn new(table: &str, day: time::Date) -> Self {
        Self {
            version: VERSION,
            table: table.to_owned(),
            day: record::day_name(day),
            runs: Vec::new(),
            drills: Vec::new(),
        }
    }

    fn push(&mut self, entry: Entry) {
        match entry {
            Entry::Run(run) => self.runs.push(run),
            Entry::Drill(drill) => self.drills.push(drill),
        }
    }
}

/// The UTC day of an RFC 3339 time.
fn day_of(at: &str) -> Option<time::Date> {
    OffsetDateTime::parse(at, &Rfc3339)
        .ok()
        .map(|t| t.to_offset(time::UtcOffset::UTC).date())
}

/// Appends `entry` to `table`'s ledger of the day it happened, in `bucket`, creating the
/// ledger if it is the day's first. A ledger that cannot be read as one is left as it is
/// (and reported as an error), never overwritten.
pub async fn append(
    sink: &impl RecordSink,
    bucket: &str,
    table: &str,
    entry: Entry,
) -> Result<(), AwsError> {
    const OP: &str = "PutObject";
    let Some(day) = day_of(entry.at()) else {
        return Err(AwsError::malformed(
            OP,
            table,
            &format!("the entry's time {:?} is not RFC 3339", entry.at()),
        ));
    };
    let key = record::ledger_key(table, day);
    let uri = format!("s3://{bucket}/{key}");
    let mut pause = RACE_PAUSE;
    let mut last_denied = None;
    for _ in 0..ATTEMPTS {
        // Without s3:ListBucket, S3 answers a read of a missing key with 403, not 404: try to
        // create it, which only succeeds if it is missing indeed.
        let (current, denied) = match sink.read_record(bucket, &key).await {
            Ok(found) => (found, None),
            Err(e) if e.is("AccessDenied") => (None, Some(e)),
            Err(e) => return Err(e),
        };
        let (mut ledger, etag) = match current {
            None => (DayLedger::new(table, day), None),
            Some(stored) => match serde_json::from_slice::<DayLedger>(&stored.body) {
                Ok(ledger) if ledger.version == VERSION && ledger.table == table => {
                    (ledger, Some(stored.etag))
                }
                _ => {
                    return Err(AwsError::malformed(
                        OP,
                        uri,
                        "the ledger there is not one this version wrote; left as it is",
                    ));
                }
            },
        };
        ledger.push(entry.clone());
        let body = serde_json::to_vec(&ledger).expect("a ledger is strings, numbers and lists");
        let when = etag.as_deref().map_or(WriteIf::Absent, WriteIf::Unchanged);
        if sink.put_record_if(bucket, &key, body, when).await? {
            return Ok(());
        }
        // Another run wrote first: read again. A read that was denied because the ledger was
        // missing now finds the ledger that run created.
        last_denied = denied;
        tokio::time::sleep(pause).await;
        pause += RACE_PAUSE;
    }
    // Denied every time, and never allowed to create it: the role cannot read the ledger.
    Err(last_denied.unwrap_or_else(|| {
        AwsError::malformed(
            OP,
            uri,
            &format!("other writers changed the ledger {ATTEMPTS} times in a row; giving up"),
        )
    }))
}

/// The backup an earlier attempt of the invocation `request_id` made of `table`, as its ledger
/// line says: Lambda runs a retried asynchronous invocation with the same request id (AWS
/// knowledge center, "lambda-function-duplicate-invocations": duplicates "that returned an error
/// or timed out and have the same request ID" are Lambda's retries), and its queue may deliver
/// an event twice. Reads the ledger of the day `now` falls in and, when different, of the day
/// six hours before (Lambda keeps an event at most six hours). `None` when no attempt made one.
pub async fn backup_of_attempt(
    sink: &impl RecordSink,
    bucket: &str,
    table: &str,
    request_id: &str,
    now: OffsetDateTime,
) -> Result<Option<String>, AwsError> {
    let today = now.to_offset(time::UtcOffset::UTC).date();
    let earliest = (now - time::Duration::hours(6))
        .to_offset(time::UtcOffset::UTC)
        .date();
    let mut days = vec![today];
    if earliest != today {
        days.push(earliest);
    }
    for day in days {
        let stored = match sink
            .read_record(bucket, &record::ledger_key(table, day))
            .await
        {
            Ok(Some(stored)) => stored,
            // A day without a ledger yet, read without s3:ListBucket: S3 answers 403.
            Ok(None) => continue,
            Err(e) if e.is("AccessDenied") => continue,
            Err(e) => return Err(e),
        };
        let Ok(ledger) = serde_json::from_slice::<DayLedger>(&stored.body) else {
            continue;
        };
        if let Some(backup) = ledger
            .runs
            .into_iter()
            .rev()
            .filter(|run| run.request_id == request_id)
            .find_map(|run| run.backup)
        {
            return Ok(Some(backup));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::MemoryBucket;

    /// Another run's write of its own line to the day's ledger, made first.
    fn another_run(current: Option<&[u8]>) -> Vec<u8> {
        let mut ledger = match current {
            Some(body) => serde_json::from_slice(body).unwrap(),
            None => DayLedger::new("Movies", time::macros::date!(2026 - 11 - 25)),
        };
        ledger.push(Entry::Run(run("2026-11-25T07:05:00Z", Outcome::Ok)));
        serde_json::to_vec(&ledger).unwrap()
    }

    fn racing(times: usize, deny_missing: bool) -> MemoryBucket {
        let bucket = if deny_missing {
            MemoryBucket::without_list_bucket()
        } else {
            MemoryBucket::default()
        };
        bucket.race(times, another_run);
        bucket
    }

    fn run(at: &str, outcome: Outcome) -> RunEntry {
        RunEntry {
            at: at.to_owned(),
            request_id: format!("req-{at}"),
            outcome,
            backup: (outcome != Outcome::Failed).then(|| "Movies-20261125070532".to_owned()),
            duration_ms: 800,
            error: None,
        }
    }

    fn ledger(bucket: &MemoryBucket, day: &str) -> DayLedger {
        let key = format!("runs/Movies/daily/{day}.json");
        serde_json::from_value(bucket.json("b", &key).expect("the ledger")).unwrap()
    }

    #[tokio::test]
    async fn runs_append_to_the_ledger_of_their_utc_day() {
        let bucket = MemoryBucket::default();
        for (at, outcome) in [
            ("2026-11-25T23:59:30Z", Outcome::Ok),
            ("2026-11-26T00:00:30+00:00", Outcome::Failed),
            ("2026-11-26T01:00:30+01:00", Outcome::Partial),
        ] {
            append(&bucket, "b", "Movies", Entry::Run(run(at, outcome)))
                .await
                .unwrap();
        }
        let first = ledger(&bucket, "2026-11-25");
        assert_eq!(first.runs.len(), 1);
        assert_eq!((first.version, first.day.as_str()), (VERSION, "2026-11-25"));
        let second = ledger(&bucket, "2026-11-26");
        let outcomes: Vec<_> = second.runs.iter().map(|r| r.outcome).collect();
        assert_eq!(outcomes, [Outcome::Failed, Outcome::Partial]);
        assert_eq!(second.runs[0].backup, None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_run_that_loses_the_race_reads_again_and_both_land() {
        let bucket = racing(2, false);
        append(
            &bucket,
            "b",
            "Movies",
            Entry::Run(run("2026-11-25T07:06:00Z", Outcome::Ok)),
        )
        .await
        .unwrap();
        let runs = ledger(&bucket, "2026-11-25").runs;
        let times: Vec<_> = runs.iter().map(|r| r.at.as_str()).collect();
        assert_eq!(
            times,
            [
                "2026-11-25T07:05:00Z",
                "2026-11-25T07:05:00Z",
                "2026-11-25T07:06:00Z"
            ],
            "both racing writes and ours are kept"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn endless_races_give_up_with_an_error() {
        let bucket = racing(usize::MAX, false);
        let entry = Entry::Run(run("2026-11-25T07:06:00Z", Outcome::Ok));
        let err = append(&bucket, "b", "Movies", entry).await.unwrap_err();
        assert!(err.detail.contains("8 times"), "{err}");
    }

    #[tokio::test]
    async fn a_missing_ledger_read_as_access_denied_is_created() {
        let bucket = MemoryBucket::without_list_bucket();
        let entry = Entry::Run(run("2026-11-25T07:06:00Z", Outcome::Ok));
        append(&bucket, "b", "Movies", entry.clone()).await.unwrap();
        append(&bucket, "b", "Movies", entry).await.unwrap();
        assert_eq!(ledger(&bucket, "2026-11-25").runs.len(), 2);
    }

    /// Two runs of the day's first minute both find no ledger (read as AccessDenied without
    /// s3:ListBucket, S3 API reference, GetObject: "If you don't have the s3:ListBucket
    /// permission, Amazon S3 returns an HTTP status code 403"); the one that loses the race to
    /// create it reads again and appends, instead of reporting AccessDenied.
    #[tokio::test(start_paused = true)]
    async fn losing_the_race_to_create_a_ledger_read_as_denied_reads_again() {
        let bucket = racing(1, true);
        let entry = Entry::Run(run("2026-11-25T07:06:00Z", Outcome::Ok));
        append(&bucket, "b", "Movies", entry).await.unwrap();
        assert_eq!(
            ledger(&bucket, "2026-11-25").runs.len(),
            2,
            "both runs land"
        );
    }

    #[tokio::test]
    async fn a_retried_invocation_finds_the_backup_its_first_attempt_made() {
        // Reads of a missing ledger are denied (no s3:ListBucket): today's has none yet.
        let bucket = MemoryBucket::without_list_bucket();
        let first = RunEntry {
            request_id: "req-1".to_owned(),
            outcome: Outcome::Failed,
            backup: Some("Movies-20261125235930".to_owned()),
            ..run("2026-11-25T23:59:30Z", Outcome::Ok)
        };
        append(&bucket, "b", "Movies", Entry::Run(first))
            .await
            .unwrap();
        let other = RunEntry {
            request_id: "req-2".to_owned(),
            ..run("2026-11-25T23:59:40Z", Outcome::Failed)
        };
        append(&bucket, "b", "Movies", Entry::Run(other))
            .await
            .unwrap();
        // The retry comes a minute later, on the next day: yesterday's ledger has the line.
        let retry = time::macros::datetime!(2026-11-26 00:01:00 UTC);
        let found = backup_of_attempt(&bucket, "b", "Movies", "req-1", retry)
            .await
            .unwrap();
        assert_eq!(found.as_deref(), Some("Movies-20261125235930"));
        let none = backup_of_attempt(&bucket, "b", "Movies", "req-2", retry)
            .await
            .unwrap();
        assert_eq!(none, None, "an attempt that made no backup");
        let unknown = backup_of_attempt(&bucket, "b", "Movies", "req-3", retry)
            .await
            .unwrap();
        assert_eq!(unknown, None);
    }

    #[tokio::test]
    async fn a_foreign_object_in_the_ledgers_place_is_left_alone() {
        let bucket = MemoryBucket::default();
        let key = "runs/Movies/daily/2026-11-25.json";
        bucket
            .put_record("b", key, b"not a ledger".to_vec())
            .await
            .unwrap();
        let entry = Entry::Run(run("2026-11-25T07:06:00Z", Outcome::Ok));
        let err = append(&bucket, "b", "Movies", entry).await.unwrap_err();
        assert!(err.detail.contains("left as it is"), "{err}");
        let kept = bucket.read_record("b", key).await.unwrap().unwrap();
        assert_eq!(kept.body, b"not a ledger");
    }
}
