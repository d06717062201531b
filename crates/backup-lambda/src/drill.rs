//! Restore drills: proving, on a schedule, that the backups restore. A drill restores the newest
//! AVAILABLE backup the function made into a scratch table (`<table>-drill-<stamp>`), waits for
//! it (across runs: restores can outlast an invocation), verifies it as `installer restore` does,
//! records the verdict and the recovery time beside the run records, and deletes the scratch
//! table. [`Drill::advance`] moves a table's drill one step; every step can be repeated, so a
//! crash or timeout anywhere is finished by the next run.
//!
//! State lives in the log bucket: `runs/<table>/drills/in-progress.json` while a drill runs,
//! `runs/<table>/drills/last.json` for the last one finished, and one record per drill.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tracing::{info, warn};

use crate::count::{CountProgress, Counting};
use crate::error::AwsError;
use crate::fingerprint::Fingerprints;
use crate::naming::TableName;
use crate::record;
use crate::restore::{self, Verification, Verified};
use crate::store::{BackupStore, RecordSink};
use crate::tables::{Deletion, TableState, Tables};

/// How many of the newest backups a drill looks through for one with a fingerprint.
const FINGERPRINTED_LOOKBACK: usize = 3;

/// How often drills run and how long one may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DrillSettings {
    /// A drill is due this long after the last one finished.
    pub every: Duration,
    /// A drill whose table is not ACTIVE this long after it started has failed.
    pub timeout: Duration,
}

/// Parses a period such as `30s`, `15m`, `12h` or `7d`.
pub fn parse_period(text: &str) -> Option<Duration> {
    let (number, unit) = text.split_at(text.len().checked_sub(1)?);
    let n: u64 = number.parse().ok()?;
    let seconds = match unit {
        "s" => n,
        "m" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        "d" => n.checked_mul(86_400)?,
        _ => return None,
    };
    Some(Duration::from_secs(seconds))
}

/// A drill under way, as kept in the bucket between runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct InProgress {
    /// The drill's id: its start, `YYYYmmddHHMMSS`.
    pub id: String,
    /// The scratch table restored into.
    pub scratch: String,
    /// The backup restored.
    pub backup_name: String,
    /// Its ARN.
    pub backup_arn: String,
    /// When the restore was asked for (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub started_at: OffsetDateTime,
    /// The drill is over (recorded) and only its scratch table is left to delete.
    #[serde(default)]
    pub finished: bool,
    /// How far the verifying count got, when a run ran out of time before its end: the next
    /// run goes on from there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counted: Option<CountProgress>,
}

/// How a drill ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum Verdict {
    /// Restored, ACTIVE, and verified.
    Passed,
    /// Not ACTIVE in time, or not verified.
    Failed,
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Verdict::Passed => "passed",
            Verdict::Failed => "failed",
        })
    }
}

/// The record of one drill, written beside the run records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct DrillRecord {
    /// The table drilled.
    pub table: String,
    /// The drill's id.
    pub id: String,
    /// The backup restored.
    pub backup_name: String,
    /// Its ARN.
    pub backup_arn: String,
    /// The scratch table.
    pub scratch: String,
    /// When the restore was asked for (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub started_at: OffsetDateTime,
    /// When the drill was judged (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub finished_at: OffsetDateTime,
    /// Seconds from asking for the restore to seeing the table ACTIVE: the recovery time. Seen
    /// within the run that started it, this is to the second; seen by a later run, it is at
    /// most this (`recovery_upper_bound`).
    pub recovery_seconds: u64,
    /// Whether the table became ACTIVE between runs, so `recovery_seconds` is an upper bound.
    pub recovery_upper_bound: bool,
    /// What the check found, for a table that became ACTIVE.
    pub verification: Option<Verification>,
    /// The verdict.
    pub verdict: Verdict,
    /// Why it failed, if it did.
    pub reason: Option<String>,
}

/// What one [`Drill::advance`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum DrillStep {
    /// No drill due, or none possible yet (no AVAILABLE backup).
    Idle {
        /// Why nothing was done.
        why: String,
    },
    /// A restore was started.
    Started {
        /// The drill under way.
        drill: InProgress,
    },
    /// The restore is not ACTIVE yet.
    Waiting {
        /// The drill under way.
        drill: InProgress,
        /// Seconds since it started.
        elapsed_seconds: u64,
    },
    /// The drill was judged and recorded.
    Finished {
        /// Its record.
        record: Box<DrillRecord>,
    },
    /// A finished drill's scratch table could not be deleted yet (a table still CREATING
    /// cannot be); the next run tries again.
    CleaningUp {
        /// The scratch table.
        scratch: String,
    },
    /// The restored table is ACTIVE and its count is under way: this run counted what it had
    /// time for, and the next goes on from there.
    Verifying {
        /// The drill under way, with how far the count got.
        drill: InProgress,
        /// Seconds since it started.
        elapsed_seconds: u64,
    },
}

/// How long one [`Drill::advance`] may take.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StepLimits {
    /// Poll a restore under way until then, so that a small table's drill finishes within one
    /// run with an exact recovery time (`None`: do not wait).
    pub wait_until: Option<tokio::time::Instant>,
    /// Stop the verifying count then, keeping its position for the next run (`None`: count to
    /// the end, as a run on this machine may).
    pub count_until: Option<tokio::time::Instant>,
}

/// A table's drills: the ports they go through and where their state lives.
#[derive(Debug, Clone)]
pub struct Drill<S, T, R> {
    /// Lists the backups a drill chooses from.
    backups: S,
    /// Restores, checks and deletes the scratch tables.
    tables: T,
    /// Keeps the drill's state and records.
    records: R,
    bucket: String,
    settings: DrillSettings,
    /// Whose backups a drill restores: the stack's own.
    owner: crate::ownership::Ownership,
    /// ListBackups at DynamoDB's five a second, across every drill this value starts (the
    /// function runs its drills after its backups, one table at a time); clones share it.
    list_pacer: std::sync::Arc<crate::pace::Pacer>,
}

/// The stamp a drill is named and identified by.
fn stamp(at: OffsetDateTime) -> String {
    at.format(time::macros::format_description!(
        "[year][month][day][hour][minute][second]"
    ))
    .unwrap_or_default()
}

/// How many characters a drill's id (its stamp, `YYYYmmddHHMMSS`) has: the role may restore
/// into, scan and delete `<table>-drill-` followed by exactly this many characters, so that a
/// table of the user's such as `Orders-drill-archive` is never the role's to touch.
pub const ID_LEN: usize = 14;

/// The scratch table of `table`'s drill `id`: `<table>-drill-<id>`, or `None` where the name
/// would be too long for DynamoDB.
pub fn scratch_name(table: &TableName, id: &str) -> Option<TableName> {
    TableName::parse(&format!("{table}-drill-{id}")).ok()
}

/// Whether a drill is due at `now`, the last having finished at `last` (if any).
pub fn due(last: Option<OffsetDateTime>, every: Duration, now: OffsetDateTime) -> bool {
    last.is_none_or(|finished| now - finished >= every)
}

impl<S: BackupStore, T: Tables, R: RecordSink> Drill<S, T, R> {
    /// Drills for tables whose state and records live in `bucket`.
    pub fn new(
        backups: S,
        tables: T,
        records: R,
        bucket: &str,
        settings: DrillSettings,
        owner: crate::ownership::Ownership,
    ) -> Self {
        Self {
            backups,
            tables,
            records,
            bucket: bucket.to_owned(),
            settings,
            owner,
            list_pacer: std::sync::Arc::new(crate::pace::Pacers::default().list),
        }
    }

    /// Moves `table`'s drill one step at `now`: starts one if due, checks the one under way,
    /// judges and records it once its table is ACTIVE (or failed once it is too late), and
    /// deletes its scratch table, within `limits`. With `force`, a drill starts even if none is
    /// due.
    pub async fn advance(
        &self,
        table: &TableName,
        now: OffsetDateTime,
        limits: StepLimits,
        force: bool,
    ) -> Result<DrillStep, AwsError> {
        let state: Option<InProgress> = self.read(&record::drill_state_key(table.as_str())).await?;
        let Some(drill) = state else {
            let last: Option<DrillRecord> =
                self.read(&record::drill_last_key(table.as_str())).await?;
            let last = last.as_ref().map(|l| l.finished_at);
            if !force && !due(last, self.settings.every, now) {
                return Ok(DrillStep::Idle {
                    why: "not due yet".to_owned(),
                });
            }
            return self.start(table, now, limits).await;
        };
        self.resume(table, drill, now, limits, false).await
    }

    /// Starts a drill of the newest AVAILABLE backup of the stack's.
    async fn start(
        &self,
        table: &TableName,
        now: OffsetDateTime,
        limits: StepLimits,
    ) -> Result<DrillStep, AwsError> {
        let backups = self
            .backups
            .list_backups_paced(table, || self.list_pacer.wait())
            .await?;
        let candidates =
            restore::candidates(table, &backups, crate::ownership::Whose::Stack(&self.owner));
        let Some(newest) = candidates.first() else {
            return Ok(DrillStep::Idle {
                why: "no AVAILABLE backup made by this stack yet".to_owned(),
            });
        };
        // The newest backup with a fingerprint, so that the drill checks the data too: the
        // newest backup's fingerprint is recorded by the run after it, so this is usually the
        // one before it.
        let mut backup = (*newest).clone();
        for candidate in candidates.iter().take(FINGERPRINTED_LOOKBACK) {
            if self
                .fingerprints()
                .load(table, &candidate.name)
                .await?
                .is_some()
            {
                backup = (*candidate).clone();
                break;
            }
        }
        let id = stamp(now);
        let Some(scratch) = scratch_name(table, &id) else {
            warn!(table = %table, "the table's name is too long for a drill's scratch table; no drill");
            return Ok(DrillStep::Idle {
                why: "table name too long for a scratch table".to_owned(),
            });
        };
        let drill = InProgress {
            id,
            scratch: scratch.to_string(),
            backup_name: backup.name,
            backup_arn: backup.arn,
            started_at: now,
            finished: false,
            counted: None,
        };
        // The state first: a crash after it is finished by the next run (which starts the
        // restore if its table is not there).
        self.write(&record::drill_state_key(table.as_str()), &drill)
            .await?;
        self.restore(&drill, &scratch).await?;
        info!(table = %table, scratch = %scratch, backup = %drill.backup_name, "drill started");
        match limits.wait_until {
            Some(_) => self.resume(table, drill, now, limits, true).await,
            None => Ok(DrillStep::Started { drill }),
        }
    }

    /// Restores the drill's backup into its scratch table, on demand whatever the source's billing
    /// (RestoreTableFromBackup's `BillingModeOverride`): the verifying scan then neither
    /// throttles on nor bills the source's provisioned capacity.
    async fn restore(&self, drill: &InProgress, scratch: &TableName) -> Result<(), AwsError> {
        match self
            .tables
            .restore_backup(&drill.backup_arn, scratch, true)
            .await
        {
            Err(e) if e.is("TableAlreadyExistsException") || e.is("ResourceInUseException") => {
                Ok(())
            }
            other => other,
        }
    }

    /// Checks a drill under way and moves it on. `fresh`: it was started by this call, so the
    /// moment its table is seen ACTIVE is the recovery time itself.
    async fn resume(
        &self,
        table: &TableName,
        drill: InProgress,
        now: OffsetDateTime,
        limits: StepLimits,
        fresh: bool,
    ) -> Result<DrillStep, AwsError> {
        let Ok(scratch) = TableName::parse(&drill.scratch) else {
            self.delete(&record::drill_state_key(table.as_str()))
                .await?;
            return Ok(DrillStep::Idle {
                why: "discarded an unreadable drill state".to_owned(),
            });
        };
        let started = drill.started_at;
        // Whether this call has seen the table not yet ACTIVE: then seeing it ACTIVE is exact.
        let mut watched = fresh;
        loop {
            let status = self.tables.state(&scratch).await?;
            let elapsed = (OffsetDateTime::now_utc().max(now) - started).whole_seconds();
            let elapsed = u64::try_from(elapsed).unwrap_or(0);
            match status {
                _ if drill.finished => return self.clean_up(table, &scratch).await,
                // A count begun by earlier runs that the timeout overtook: the drill fails (and
                // its billed copy goes) rather than stay open while the scan crawls on.
                Some(TableState::Active)
                    if drill.counted.is_some() && elapsed > self.settings.timeout.as_secs() =>
                {
                    let counted = drill.counted.as_ref().map_or(0, |c| c.items);
                    let reason = format!(
                        "the verifying count did not finish within {} s ({counted} items counted)",
                        self.settings.timeout.as_secs()
                    );
                    let record = self.record(table, &drill, elapsed, true, None, Some(reason));
                    return self.conclude(table, drill, &scratch, record).await;
                }
                Some(TableState::Active) => {
                    let upper_bound = !watched || drill.counted.is_some();
                    let judged = self
                        .judge(
                            table,
                            drill.clone(),
                            &scratch,
                            elapsed,
                            upper_bound,
                            limits.count_until,
                        )
                        .await;
                    return match judged {
                        // A table that cannot be verified (reads refused, say) must not keep
                        // the drill open forever: past the timeout it fails, with the reason.
                        Err(e) if elapsed > self.settings.timeout.as_secs() => {
                            let reason = format!("could not verify the restored table: {e}");
                            let record = self.record(
                                table,
                                &drill,
                                elapsed,
                                upper_bound,
                                None,
                                Some(reason),
                            );
                            self.conclude(table, drill, &scratch, record).await
                        }
                        judged => judged,
                    };
                }
                None if self.last_is(table, &drill.id).await? => {
                    // Recorded and its table deleted; only the state was left.
                    self.delete(&record::drill_state_key(table.as_str()))
                        .await?;
                    return Ok(DrillStep::Idle {
                        why: "finished an interrupted clean-up".to_owned(),
                    });
                }
                None => self.restore(&drill, &scratch).await?,
                Some(_) if elapsed > self.settings.timeout.as_secs() => {
                    return self.fail(table, drill, &scratch, elapsed).await;
                }
                Some(_) => {}
            }
            watched = true;
            let wait = Duration::from_secs(2);
            match limits.wait_until {
                Some(until) if tokio::time::Instant::now() + wait < until => {
                    tokio::time::sleep(wait).await;
                }
                _ => {
                    return Ok(DrillStep::Waiting {
                        drill,
                        elapsed_seconds: elapsed,
                    });
                }
            }
        }
    }

    /// The last finished drill of `table`, if any.
    pub async fn last(&self, table: &TableName) -> Result<Option<DrillRecord>, AwsError> {
        self.read(&record::drill_last_key(table.as_str())).await
    }

    /// The drill of `table` under way, if any.
    pub async fn in_progress(&self, table: &TableName) -> Result<Option<InProgress>, AwsError> {
        self.read(&record::drill_state_key(table.as_str())).await
    }

    /// Ends `table`'s drill under way, if any, without judging it (for `down`): waits until its
    /// scratch table can be deleted (a table still CREATING cannot be), deletes it, and forgets
    /// the drill. Returns the scratch table's name, if there was one.
    pub async fn abandon(
        &self,
        table: &TableName,
        patience: Duration,
    ) -> Result<Option<String>, AwsError> {
        let Some(drill) = self.in_progress(table).await? else {
            return Ok(None);
        };
        let started = tokio::time::Instant::now();
        if let Ok(scratch) = TableName::parse(&drill.scratch) {
            while let DrillStep::CleaningUp { .. } = self.clean_up(table, &scratch).await? {
                if started.elapsed() > patience {
                    return Err(AwsError::malformed(
                        "DeleteTable",
                        scratch.as_str(),
                        "the drill's table is still being restored; run `down` again later",
                    ));
                }
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        } else {
            self.delete(&record::drill_state_key(table.as_str()))
                .await?;
        }
        Ok(Some(drill.scratch))
    }

    /// Whether the last recorded drill of `table` is `id`.
    async fn last_is(&self, table: &TableName, id: &str) -> Result<bool, AwsError> {
        let last: Option<DrillRecord> = self.read(&record::drill_last_key(table.as_str())).await?;
        Ok(last.is_some_and(|l| l.id == id))
    }

    /// Verifies the ACTIVE scratch table, records the verdict, and cleans up; a count not done
    /// by `until` is kept in the drill's state for the next run to go on with.
    async fn judge(
        &self,
        table: &TableName,
        drill: InProgress,
        scratch: &TableName,
        elapsed: u64,
        upper_bound: bool,
        until: Option<tokio::time::Instant>,
    ) -> Result<DrillStep, AwsError> {
        let from = drill.counted.clone().unwrap_or_default();
        let fingerprint = self.fingerprints().load(table, &drill.backup_name).await?;
        let source = self.tables.backup_source(&drill.backup_arn).await?;
        let verification = match restore::verify(
            &self.tables,
            &source,
            scratch,
            Counting {
                from,
                until,
                ..Counting::default()
            },
            fingerprint.as_ref(),
        )
        .await?
        {
            Verified::Done(verification) => verification,
            Verified::Partial(progress) => {
                info!(
                    table = %table,
                    drill = %drill.id,
                    counted = progress.items,
                    segments = progress.segments.len(),
                    segments_done = progress.segments_done(),
                    "the verifying count goes on in the next run"
                );
                let drill = InProgress {
                    counted: Some(progress),
                    ..drill
                };
                self.write(&record::drill_state_key(table.as_str()), &drill)
                    .await?;
                return Ok(DrillStep::Verifying {
                    drill,
                    elapsed_seconds: elapsed,
                });
            }
        };
        if verification.counts_differ() {
            warn!(table = %table, drill = %drill.id, counts = %verification.counts(), "restored count differs from the recorded one");
        }
        let reason = verification.failure();
        let record = self.record(
            table,
            &drill,
            elapsed,
            upper_bound,
            Some(verification),
            reason,
        );
        self.conclude(table, drill, scratch, record).await
    }

    /// Records a drill whose table was not ACTIVE in time as failed, and cleans up.
    async fn fail(
        &self,
        table: &TableName,
        drill: InProgress,
        scratch: &TableName,
        elapsed: u64,
    ) -> Result<DrillStep, AwsError> {
        let reason = format!(
            "the restored table was not ACTIVE within {} s",
            self.settings.timeout.as_secs()
        );
        let record = self.record(table, &drill, elapsed, true, None, Some(reason));
        self.conclude(table, drill, scratch, record).await
    }

    /// A drill's record.
    fn record(
        &self,
        table: &TableName,
        drill: &InProgress,
        elapsed: u64,
        upper_bound: bool,
        verification: Option<Verification>,
        reason: Option<String>,
    ) -> DrillRecord {
        DrillRecord {
            table: table.to_string(),
            id: drill.id.clone(),
            backup_name: drill.backup_name.clone(),
            backup_arn: drill.backup_arn.clone(),
            scratch: drill.scratch.clone(),
            started_at: drill.started_at,
            finished_at: OffsetDateTime::now_utc(),
            recovery_seconds: elapsed,
            recovery_upper_bound: upper_bound,
            verdict: if reason.is_none() && verification.is_some() {
                Verdict::Passed
            } else {
                Verdict::Failed
            },
            verification,
            reason,
        }
    }

    /// Writes the record (and `last.json`), marks the drill finished, and cleans up.
    async fn conclude(
        &self,
        table: &TableName,
        drill: InProgress,
        scratch: &TableName,
        record: DrillRecord,
    ) -> Result<DrillStep, AwsError> {
        let name = table.as_str();
        self.write(&record::drill_record_key(name, &drill.id), &record)
            .await?;
        self.write(&record::drill_last_key(name), &record).await?;
        let entry = crate::ledger::Entry::Drill(crate::ledger::DrillEntry::from(&record));
        if let Err(e) = crate::ledger::append(&self.records, &self.bucket, name, entry).await {
            warn!(table = %table, error = %e, "could not add the drill to its day's ledger");
        }
        let finished = InProgress {
            finished: true,
            ..drill
        };
        self.write(&record::drill_state_key(name), &finished)
            .await?;
        info!(
            table = %table,
            verdict = ?record.verdict,
            recovery_seconds = record.recovery_seconds,
            upper_bound = record.recovery_upper_bound,
            reason = record.reason.as_deref().unwrap_or(""),
            "drill finished"
        );
        if let DrillStep::CleaningUp { .. } = self.clean_up(table, scratch).await? {
            warn!(scratch = %scratch, "the drill's table cannot be deleted yet; the next run will");
        }
        Ok(DrillStep::Finished {
            record: Box::new(record),
        })
    }

    /// Deletes a finished drill's scratch table, then its state.
    async fn clean_up(
        &self,
        table: &TableName,
        scratch: &TableName,
    ) -> Result<DrillStep, AwsError> {
        if self.tables.delete_table(scratch).await? == Deletion::InUse {
            return Ok(DrillStep::CleaningUp {
                scratch: scratch.to_string(),
            });
        }
        self.delete(&record::drill_state_key(table.as_str()))
            .await?;
        Ok(DrillStep::Idle {
            why: "cleaned up".to_owned(),
        })
    }

    /// The fingerprints kept beside the drills.
    fn fingerprints(&self) -> Fingerprints<'_, T, R> {
        Fingerprints::new(&self.tables, &self.records, &self.bucket)
    }

    /// Reads a JSON object from the bucket, `None` when there is none (or it is unreadable:
    /// a state this version cannot read is started over, not stuck on).
    async fn read<V: serde::de::DeserializeOwned>(&self, key: &str) -> Result<Option<V>, AwsError> {
        let stored = self.records.read_record(&self.bucket, key).await?;
        Ok(stored.and_then(|s| serde_json::from_slice(&s.body).ok()))
    }

    /// Writes `value` as JSON to the bucket.
    async fn write<V: Serialize>(&self, key: &str, value: &V) -> Result<(), AwsError> {
        let body = serde_json::to_vec_pretty(value)
            .expect("a drill's state and records are strings, numbers and maps with string keys");
        self.records.put_record(&self.bucket, key, body).await
    }

    /// Deletes an object from the bucket (already gone is fine).
    async fn delete(&self, key: &str) -> Result<(), AwsError> {
        self.records.delete_record(&self.bucket, key).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::{MemoryBucket, MemoryStore, MemoryTable};
    use crate::naming::StackName;
    use crate::ownership::Ownership;
    use time::macros::datetime;

    const BUCKET: &str = "logs";

    fn movies() -> TableName {
        TableName::parse("Movies").unwrap()
    }

    fn prod() -> Ownership {
        Ownership::new(StackName::parse("prod").unwrap())
    }

    fn weekly(timeout_secs: u64) -> DrillSettings {
        DrillSettings {
            every: Duration::from_secs(7 * 86_400),
            timeout: Duration::from_secs(timeout_secs),
        }
    }

    /// A `Movies` table of `items` items with one AVAILABLE backup made by `stack`.
    async fn backed_up(items: i64, stack: &str) -> MemoryStore {
        let store = MemoryStore::default().with_table("Movies", MemoryTable::movies(items));
        let stack = StackName::parse(stack).unwrap();
        let name = movies().backup_name(&stack, datetime!(2026-11-25 07:05:32 UTC));
        store
            .create_backup(&movies(), &name, || std::future::ready(()))
            .await
            .unwrap();
        store.finish_backups();
        store
    }

    fn drill<'a>(
        store: &'a MemoryStore,
        bucket: &'a MemoryBucket,
        settings: DrillSettings,
    ) -> Drill<&'a MemoryStore, &'a MemoryStore, &'a MemoryBucket> {
        Drill::new(store, store, bucket, BUCKET, settings, prod())
    }

    /// Waits for the restore as a single-table run does, with time to count everything.
    fn within_run() -> StepLimits {
        StepLimits {
            wait_until: Some(tokio::time::Instant::now() + Duration::from_secs(30)),
            count_until: None,
        }
    }

    fn finished(step: DrillStep) -> DrillRecord {
        match step {
            DrillStep::Finished { record } => *record,
            other => panic!("expected a finished drill, got {other:?}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_due_drill_restores_verifies_records_and_cleans_up_within_one_run() {
        let store = backed_up(4609, "prod").await;
        let bucket = MemoryBucket::default();
        let drills = drill(&store, &bucket, weekly(3600));
        let now = OffsetDateTime::now_utc();

        let record = finished(
            drills
                .advance(&movies(), now, within_run(), false)
                .await
                .unwrap(),
        );
        assert_eq!(record.verdict, Verdict::Passed, "{record:?}");
        assert!(
            !record.recovery_upper_bound,
            "seen ACTIVE by the run that started it"
        );
        let verification = record.verification.clone().unwrap();
        assert_eq!(verification.restored_items, 4609);
        assert!(verification.keys_match && verification.indexes_match);
        assert!(record.backup_name.starts_with("Movies-prod-"));
        assert!(
            store
                .calls()
                .contains(&format!("restore {}", record.scratch)),
            "{:?}",
            store.calls()
        );
        assert_eq!(
            store.table_names(),
            ["Movies"],
            "the scratch table is deleted"
        );
        let last = bucket
            .json(BUCKET, &record::drill_last_key("Movies"))
            .unwrap();
        assert_eq!(last["verdict"], "passed");
        let kept = bucket.json(BUCKET, &record::drill_record_key("Movies", &record.id));
        assert_eq!(kept, Some(last));
        assert_eq!(
            bucket.json(BUCKET, &record::drill_state_key("Movies")),
            None,
            "no drill is left in progress"
        );

        let again = drills
            .advance(&movies(), now, within_run(), false)
            .await
            .unwrap();
        assert_eq!(
            again,
            DrillStep::Idle {
                why: "not due yet".to_owned()
            }
        );
        let forced = drills
            .advance(&movies(), now, within_run(), true)
            .await
            .unwrap();
        assert_eq!(
            finished(forced).verdict,
            Verdict::Passed,
            "--force drills anyway"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_restore_that_outlasts_its_run_is_finished_by_later_runs() {
        let store = backed_up(30, "prod").await;
        let bucket = MemoryBucket::default();
        let drills = drill(&store, &bucket, weekly(3600));
        let now = OffsetDateTime::now_utc();
        let no_wait = StepLimits::default();

        let started = drills
            .advance(&movies(), now, no_wait, false)
            .await
            .unwrap();
        let DrillStep::Started { drill: under_way } = started else {
            panic!("{started:?}");
        };
        assert_eq!(store.table_names(), ["Movies", under_way.scratch.as_str()]);
        // DescribeTable says CREATING twice (MemoryStore's restore), then ACTIVE.
        for _ in 0..2 {
            let step = drills
                .advance(&movies(), now, no_wait, false)
                .await
                .unwrap();
            assert!(matches!(step, DrillStep::Waiting { .. }), "{step:?}");
        }
        let record = finished(
            drills
                .advance(&movies(), now, no_wait, false)
                .await
                .unwrap(),
        );
        assert_eq!(record.verdict, Verdict::Passed);
        assert_eq!(record.id, under_way.id);
        assert!(
            record.recovery_upper_bound,
            "seen ACTIVE between runs: an upper bound"
        );
        assert_eq!(store.table_names(), ["Movies"]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_count_too_long_for_one_run_goes_on_in_the_next() {
        let store = MemoryStore {
            scan_page: Some(10),
            ..backed_up(35, "prod").await
        };
        let bucket = MemoryBucket::default();
        let drills = drill(&store, &bucket, weekly(3600));
        let now = OffsetDateTime::now_utc();
        // Each run's time to count is up at once: it counts one page.
        let hurried = || StepLimits {
            wait_until: Some(tokio::time::Instant::now() + Duration::from_secs(30)),
            count_until: Some(tokio::time::Instant::now()),
        };
        for counted in [10, 20, 30] {
            let step = drills
                .advance(&movies(), now, hurried(), false)
                .await
                .unwrap();
            let DrillStep::Verifying {
                drill: under_way, ..
            } = step
            else {
                panic!("{step:?}");
            };
            assert_eq!(under_way.counted.map(|c| c.items), Some(counted));
        }
        let record = finished(
            drills
                .advance(&movies(), now, hurried(), false)
                .await
                .unwrap(),
        );
        assert_eq!(
            record.verification.unwrap().restored_items,
            35,
            "nothing counted twice"
        );
        assert_eq!(record.verdict, Verdict::Passed);
    }

    #[tokio::test(start_paused = true)]
    async fn a_restore_not_active_within_the_timeout_fails_and_is_cleaned_up() {
        let store = MemoryStore {
            restore_takes: Some(3),
            ..backed_up(30, "prod").await
        };
        let bucket = MemoryBucket::default();
        let drills = drill(&store, &bucket, weekly(60));
        // Started ten minutes ago, as far as the drill can tell.
        let now = OffsetDateTime::now_utc() - time::Duration::minutes(10);
        let step = drills
            .advance(&movies(), now, StepLimits::default(), false)
            .await
            .unwrap();
        assert!(matches!(step, DrillStep::Started { .. }), "{step:?}");
        let failed = drills
            .advance(&movies(), now, StepLimits::default(), false)
            .await
            .unwrap();
        let record = finished(failed);
        assert_eq!(record.verdict, Verdict::Failed);
        assert_eq!(
            record.reason.as_deref(),
            Some("the restored table was not ACTIVE within 60 s")
        );
        // A table still CREATING cannot be deleted: a later run does it.
        assert_eq!(store.table_names().len(), 2);
        let step = drills
            .advance(&movies(), now, StepLimits::default(), false)
            .await
            .unwrap();
        assert_eq!(
            step,
            DrillStep::CleaningUp {
                scratch: record.scratch.clone()
            }
        );
        assert_eq!(store.table_names().len(), 2);
        let step = drills
            .advance(&movies(), now, StepLimits::default(), false)
            .await
            .unwrap();
        assert_eq!(
            step,
            DrillStep::Idle {
                why: "cleaned up".to_owned()
            }
        );
        assert_eq!(store.table_names(), ["Movies"]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_table_that_cannot_be_verified_fails_once_past_the_timeout() {
        let store = MemoryStore {
            deny_reads: true,
            ..backed_up(30, "prod").await
        };
        let bucket = MemoryBucket::default();
        let drills = drill(&store, &bucket, weekly(3600));
        let now = OffsetDateTime::now_utc();
        let err = drills
            .advance(&movies(), now, within_run(), false)
            .await
            .unwrap_err();
        assert!(err.is("AccessDeniedException"), "{err}");
        assert!(
            bucket
                .json(BUCKET, &record::drill_state_key("Movies"))
                .is_some(),
            "the drill stays open for the next run"
        );
        let later = now + time::Duration::hours(2);
        let record = finished(
            drills
                .advance(&movies(), later, within_run(), false)
                .await
                .unwrap(),
        );
        assert_eq!(record.verdict, Verdict::Failed);
        let reason = record.reason.unwrap();
        assert!(
            reason.starts_with("could not verify the restored table"),
            "{reason}"
        );
        assert_eq!(store.table_names(), ["Movies"]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_run_that_crashed_after_saving_its_state_is_finished_by_the_next() {
        let store = backed_up(30, "prod").await;
        let bucket = MemoryBucket::default();
        let drills = drill(&store, &bucket, weekly(3600));
        let now = OffsetDateTime::now_utc();
        let backup = store.backups.lock().unwrap()[0].clone();
        // The state was written; the restore was never asked for.
        let state = InProgress {
            id: stamp(now),
            scratch: format!("Movies-drill-{}", stamp(now)),
            backup_name: backup.name,
            backup_arn: backup.arn,
            started_at: now,
            finished: false,
            counted: None,
        };
        bucket
            .put_record(
                BUCKET,
                &record::drill_state_key("Movies"),
                serde_json::to_vec(&state).unwrap(),
            )
            .await
            .unwrap();
        let record = finished(
            drills
                .advance(&movies(), now, within_run(), false)
                .await
                .unwrap(),
        );
        assert_eq!(record.id, state.id);
        assert_eq!(record.verdict, Verdict::Passed);
        assert_eq!(store.table_names(), ["Movies"]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_drill_restores_only_its_own_stacks_backups() {
        let store = backed_up(30, "trial").await;
        let bucket = MemoryBucket::default();
        let drills = drill(&store, &bucket, weekly(3600));
        let step = drills
            .advance(&movies(), OffsetDateTime::now_utc(), within_run(), false)
            .await
            .unwrap();
        assert_eq!(
            step,
            DrillStep::Idle {
                why: "no AVAILABLE backup made by this stack yet".to_owned()
            }
        );
        assert!(!store.calls().iter().any(|c| c.starts_with("restore")));
    }

    #[test]
    fn periods_parse_in_seconds_minutes_hours_and_days() {
        assert_eq!(parse_period("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_period("7d"), Some(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_period("12h"), Some(Duration::from_secs(12 * 3600)));
        assert_eq!(parse_period("7"), None);
        assert_eq!(parse_period("d"), None);
        assert_eq!(parse_period("-1d"), None);
    }

    #[test]
    fn a_drill_is_due_a_period_after_the_last_finished() {
        let now = datetime!(2026-11-29 12:00 UTC);
        let week = Duration::from_secs(7 * 86_400);
        assert!(due(None, week, now), "never drilled");
        assert!(!due(Some(datetime!(2026-11-25 12:00 UTC)), week, now));
        assert!(due(Some(datetime!(2026-11-22 12:00 UTC)), week, now));
    }

    #[test]
    fn scratch_tables_are_named_after_the_table() {
        let table = TableName::parse("Movies").unwrap();
        let scratch = scratch_name(&table, "20261129120000").unwrap();
        assert_eq!(scratch.as_str(), "Movies-drill-20261129120000");
        let long = TableName::parse(&"x".repeat(250)).unwrap();
        assert!(scratch_name(&long, "20261129120000").is_none());
    }

    /// Three hourly runs of `Movies` (4,609 movies) with a log bucket, the second changing one of
    /// the items the samples read an hour after its backup; returns the backups' names.
    async fn three_hourly_runs(store: &MemoryStore, bucket: &MemoryBucket) -> Vec<String> {
        use crate::run::{BackupFunction, Invocation};
        let settings = crate::request::Settings::from_vars(|name| match name {
            "STACK_NAME" => Some("prod".to_owned()),
            "LOG_BUCKET" => Some(BUCKET.to_owned()),
            _ => None,
        })
        .unwrap();
        let function = BackupFunction::new(store, store, bucket, settings);
        let event = serde_json::json!({"TableName": "Movies"});
        let mut names = Vec::new();
        for hour in 0..3 {
            let now = datetime!(2026-12-01 02:00 UTC) + time::Duration::hours(hour);
            let record = function
                .handle(&event, &Invocation::new(&format!("req-{hour}"), now))
                .await
                .unwrap();
            names.push(record.backup_created.name.clone());
            if hour == 1 {
                let mut changed = crate::fake::movie(1);
                changed.insert(
                    "title".to_owned(),
                    aws_sdk_dynamodb::types::AttributeValue::S("Movie 1".to_owned()),
                );
                changed.remove("info");
                store.put_item("Movies", changed);
            }
        }
        store.finish_backups();
        names
    }

    #[tokio::test(start_paused = true)]
    async fn a_drill_checks_the_data_against_the_fingerprint_the_next_run_recorded() {
        let store = MemoryStore::default().with_table("Movies", MemoryTable::movies(4609));
        let bucket = MemoryBucket::default();
        let names = three_hourly_runs(&store, &bucket).await;

        // The first backup had no sample a minute before it; the third's is recorded by a
        // fourth run; the second's by the third.
        let print = |name: &str| bucket.json(BUCKET, &record::fingerprint_key("Movies", name));
        assert_eq!(print(&names[0]), None);
        assert_eq!(print(&names[2]), None);
        let second = print(&names[1]).expect("the second backup's fingerprint");
        let items = second["items"].as_array().unwrap();
        assert_eq!(second["sampled"], 100, "{second}");
        assert_eq!(
            items.len(),
            99,
            "the movie changed after the backup is left out"
        );
        assert!(!second.to_string().contains(r#""Movie 1""#), "{second}");

        let record = finished(
            drill(&store, &bucket, weekly(3600))
                .advance(&movies(), OffsetDateTime::now_utc(), within_run(), true)
                .await
                .unwrap(),
        );
        assert_eq!(
            record.backup_name, names[1],
            "the newest backup with a fingerprint"
        );
        assert_eq!(record.verdict, Verdict::Passed, "{record:?}");
        let sample = record.verification.unwrap().sample.unwrap();
        assert_eq!((sample.checked, sample.matched), (99, 99));
    }

    #[tokio::test(start_paused = true)]
    async fn a_restore_that_keeps_the_count_but_loses_values_fails_its_drill_naming_the_item() {
        let store = MemoryStore {
            restores_lose: Some("info".to_owned()),
            ..MemoryStore::default()
        }
        .with_table("Movies", MemoryTable::movies(4609));
        let bucket = MemoryBucket::default();
        three_hourly_runs(&store, &bucket).await;

        let record = finished(
            drill(&store, &bucket, weekly(3600))
                .advance(&movies(), OffsetDateTime::now_utc(), within_run(), true)
                .await
                .unwrap(),
        );
        assert_eq!(record.verdict, Verdict::Failed);
        let verification = record.verification.clone().unwrap();
        assert_eq!(verification.restored_items, 4609, "the count alone passes");
        let reason = record.reason.unwrap();
        assert!(
            reason.starts_with(r#"item {"title":"Movie 0","year":1900} holds other values"#),
            "{reason}"
        );
        assert!(
            reason.contains("(0 of the backup's 99 fingerprinted items match)"),
            "{reason}"
        );
    }
}
