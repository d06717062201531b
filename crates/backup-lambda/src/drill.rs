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

use aws_sdk_dynamodb::types::TableStatus;
use aws_sdk_s3::primitives::ByteStream;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tracing::{info, warn};

use crate::error::{AwsError, AwsResult};
use crate::naming::TableName;
use crate::record;
use crate::restore::{self, Choice, CountProgress, Verification, Verified};
use crate::store::{BackupStore, DynamoDbBackups};

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
    pub started_at: String,
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
    pub started_at: String,
    /// When the drill was judged (RFC 3339).
    pub finished_at: String,
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

/// A table's drills: the clients and where the state lives.
#[derive(Debug, Clone)]
pub struct Drill {
    db: aws_sdk_dynamodb::Client,
    s3: aws_sdk_s3::Client,
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

/// `at` as RFC 3339.
fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
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

/// Whether a drill is due at `now`, the last having finished at `last` (RFC 3339, if any).
pub fn due(last: Option<&str>, every: Duration, now: OffsetDateTime) -> bool {
    let Some(finished) = last.and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok()) else {
        return true;
    };
    now - finished >= every
}

impl Drill {
    /// Drills for tables whose state and records live in `bucket`.
    pub fn new(
        db: aws_sdk_dynamodb::Client,
        s3: aws_sdk_s3::Client,
        bucket: &str,
        settings: DrillSettings,
        owner: crate::ownership::Ownership,
    ) -> Self {
        Self {
            db,
            s3,
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
            let last = last.as_ref().map(|l| l.finished_at.as_str());
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
        let backups = DynamoDbBackups::new(self.db.clone())
            .list_backups_paced(table, || self.list_pacer.wait())
            .await?;
        let Ok(backup) = restore::choose(
            table,
            &backups,
            &Choice::Latest,
            crate::ownership::Whose::Stack(&self.owner),
        ) else {
            return Ok(DrillStep::Idle {
                why: "no AVAILABLE backup made by this stack yet".to_owned(),
            });
        };
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
            started_at: rfc3339(now),
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
        let on_demand = Some(aws_sdk_dynamodb::types::BillingMode::PayPerRequest);
        match restore::start(&self.db, &drill.backup_arn, scratch, on_demand).await {
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
        let started = OffsetDateTime::parse(&drill.started_at, &Rfc3339).unwrap_or(now);
        // Whether this call has seen the table not yet ACTIVE: then seeing it ACTIVE is exact.
        let mut watched = fresh;
        loop {
            let status = restore::status(&self.db, &scratch).await?;
            let elapsed = (OffsetDateTime::now_utc().max(now) - started).whole_seconds();
            let elapsed = u64::try_from(elapsed).unwrap_or(0);
            match status {
                _ if drill.finished => return self.clean_up(table, &scratch).await,
                // A count begun by earlier runs that the timeout overtook: the drill fails (and
                // its billed copy goes) rather than stay open while the scan crawls on.
                Some(TableStatus::Active)
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
                Some(TableStatus::Active) => {
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
        let verification = match restore::verify(&self.db, &drill.backup_arn, scratch, from, until)
            .await?
        {
            Verified::Done(verification) => verification,
            Verified::Partial(progress) => {
                info!(table = %table, drill = %drill.id, counted = progress.items, "the verifying count goes on in the next run");
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
            started_at: drill.started_at.clone(),
            finished_at: rfc3339(OffsetDateTime::now_utc()),
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
        let sink = crate::store::S3Records::new(self.s3.clone());
        let entry = crate::ledger::Entry::Drill(crate::ledger::DrillEntry::from(&record));
        if let Err(e) = crate::ledger::append(&sink, &self.bucket, name, entry).await {
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
        match self
            .db
            .delete_table()
            .table_name(scratch.as_str())
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) => {
                let err = AwsError::new("DeleteTable", scratch.as_str(), &e);
                if err.is("ResourceInUseException") {
                    return Ok(DrillStep::CleaningUp {
                        scratch: scratch.to_string(),
                    });
                }
                if !err.is("ResourceNotFoundException") {
                    return Err(err);
                }
            }
        }
        self.delete(&record::drill_state_key(table.as_str()))
            .await?;
        Ok(DrillStep::Idle {
            why: "cleaned up".to_owned(),
        })
    }

    /// Reads a JSON object from the bucket, `None` when there is none.
    async fn read<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<Option<T>, AwsError> {
        let uri = format!("s3://{}/{key}", self.bucket);
        let out = match self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) => {
                let err = AwsError::new("GetObject", uri.as_str(), &e);
                return if err.is("NoSuchKey") {
                    Ok(None)
                } else {
                    Err(err)
                };
            }
        };
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| AwsError::malformed("GetObject", uri.as_str(), &e.to_string()))?
            .into_bytes();
        Ok(serde_json::from_slice(&bytes).ok())
    }

    /// Writes `value` as JSON to the bucket.
    async fn write<T: Serialize>(&self, key: &str, value: &T) -> Result<(), AwsError> {
        let body = serde_json::to_vec_pretty(value).unwrap_or_default();
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/json")
            .body(ByteStream::from(body))
            .send()
            .await
            .aws("PutObject", format!("s3://{}/{key}", self.bucket))
            .map(drop)
    }

    /// Deletes an object from the bucket (already gone is fine).
    async fn delete(&self, key: &str) -> Result<(), AwsError> {
        self.s3
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .aws("DeleteObject", format!("s3://{}/{key}", self.bucket))
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

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
        assert!(!due(Some("2026-11-25T12:00:00Z"), week, now));
        assert!(due(Some("2026-11-22T12:00:00Z"), week, now));
        assert!(
            due(Some("not a time"), week, now),
            "an unreadable time counts as none"
        );
    }

    #[test]
    fn scratch_tables_are_named_after_the_table() {
        let table = TableName::parse("Movies").unwrap();
        let scratch = scratch_name(&table, "20261129120000").unwrap();
        assert_eq!(scratch.as_str(), "Movies-drill-20261129120000");
        let long = TableName::parse(&"x".repeat(250)).unwrap();
        assert!(scratch_name(&long, "20261129120000").is_none());
    }
}
