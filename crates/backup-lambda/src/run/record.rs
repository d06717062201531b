//! What a run did, as the Lambda's result and the JSON written to the log bucket: the
//! [`RunRecord`] and the parts it names, and the day-ledger line made from it.

use serde::Serialize;
use time::OffsetDateTime;
use tracing::{info, warn};

use super::DeleteResult;
use crate::chain::ChainStep;
use crate::export::{self, ExportStep};
use crate::ledger::{Outcome, RunEntry};
use crate::request::BackupRequest;
use crate::retention::{Backup, RetentionPolicy, Rule};
use crate::zone::Zone;

/// A backup named in a run record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BackupRef {
    /// The backup's name.
    pub name: String,
    /// The backup's ARN.
    pub arn: String,
}

impl From<&Backup> for BackupRef {
    fn from(b: &Backup) -> Self {
        Self {
            name: b.name.clone(),
            arn: b.arn.clone(),
        }
    }
}

/// A backup whose deletion failed, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailedDelete {
    /// The backup's name.
    pub name: String,
    /// The backup's ARN.
    pub arn: String,
    /// The error, in one line.
    pub error: String,
}

/// The retention a run applied, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyRecord {
    /// Newest owned backups kept.
    pub max_backups: u32,
    /// Age limit in days, if any.
    pub max_age_days: Option<u32>,
    /// Days whose newest backup is kept, if that generation is on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_daily: Option<u32>,
    /// ISO weeks whose newest backup is kept, if on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_weekly: Option<u32>,
    /// Months whose newest backup is kept, if on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_monthly: Option<u32>,
    /// Years whose newest backup is kept, if on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_yearly: Option<u32>,
    /// The zone the generations' periods were read in, when there are generations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
}

impl PolicyRecord {
    /// The record of `policy`, with generations read in `zone`.
    pub fn of(policy: &RetentionPolicy, zone: &Zone) -> Self {
        let g = policy.generations;
        let count = |n: Option<std::num::NonZeroU32>| n.map(std::num::NonZeroU32::get);
        Self {
            max_backups: policy.max_backups.get(),
            max_age_days: count(policy.max_age_days),
            keep_daily: count(g.daily),
            keep_weekly: count(g.weekly),
            keep_monthly: count(g.monthly),
            keep_yearly: count(g.yearly),
            time_zone: (!g.is_empty()).then(|| zone.name().to_owned()),
        }
    }
}

/// A kept backup and the rules that keep it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeptBy {
    /// The backup's name.
    pub name: String,
    /// The rules that keep it.
    pub rules: Vec<Rule>,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Backed up, and every deletion due was made (or deferred to the next run).
    Ok,
    /// Backed up, but some deletions failed, or an export step did ([`RunRecord::partial`]
    /// says which).
    Partial,
    /// Backed up, but the backups could not be listed, so none were deleted.
    Failed,
}

/// Why a run is partial.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PartialCause {
    /// A deletion failed (`failures`).
    Deletions,
    /// An export failed, could not be started or recorded, or its coverage was lost (`export`,
    /// `previous_export` or `export_chain`).
    Export,
}

/// One invocation's identity and timing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// The Lambda request id.
    pub request_id: String,
    /// The wall-clock time the run starts (names the backup and the record).
    pub now: OffsetDateTime,
    /// When Lambda stops the invocation, if known: deletions that could not finish by then are
    /// left for the next run.
    pub deadline: Option<tokio::time::Instant>,
    /// The monotonic moment of `now`, for [`Invocation::clock`].
    pub started: std::time::Instant,
}

impl Invocation {
    /// An invocation with no deadline.
    pub fn new(request_id: &str, now: OffsetDateTime) -> Self {
        Self {
            request_id: request_id.to_owned(),
            now,
            deadline: None,
            started: std::time::Instant::now(),
        }
    }

    /// The wall-clock time now, by the invocation's start and the monotonic time since: the one
    /// clock of every table's run in the invocation (fingerprints compare its readings across
    /// runs to the second).
    pub fn clock(&self) -> OffsetDateTime {
        self.now + self.started.elapsed()
    }

    /// The same invocation, ending at `deadline`.
    pub fn with_deadline(self, deadline: tokio::time::Instant) -> Self {
        Self {
            deadline: Some(deadline),
            ..self
        }
    }
}

/// What one run did: the Lambda's result and the JSON written to the log bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunRecord {
    /// How the run ended.
    pub status: RunStatus,
    /// Why it is partial: empty unless `status` is `partial`.
    pub partial: Vec<PartialCause>,
    /// The table backed up.
    pub table: String,
    /// The Lambda request id.
    pub request_id: String,
    /// When the run started (RFC 3339, UTC).
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    /// How long the run took, in milliseconds.
    pub duration_ms: u64,
    /// The retention applied.
    pub policy: PolicyRecord,
    /// The backup this run made (or, with `reused_backup`, an earlier attempt of it made).
    pub backup_created: BackupRef,
    /// This invocation is a retry or a second delivery of one whose earlier attempt made
    /// `backup_created`: no second backup was made.
    pub reused_backup: bool,
    /// How many backups the table has (all kinds this listing returned).
    pub backups_listed: usize,
    /// Owned backups kept, newest first.
    pub kept: Vec<String>,
    /// Why each kept backup stays: its name and the rules that keep it (`newest`, `last`,
    /// `daily`, `weekly`, `monthly`, `yearly`), newest first.
    pub kept_by: Vec<KeptBy>,
    /// Owned backups deleted.
    pub deleted: Vec<BackupRef>,
    /// Owned backups due for deletion but still being made, or in use by a restore under way
    /// (deleted by a later run).
    pub still_creating: Vec<String>,
    /// Owned backups due for deletion that this run had no time left for (the next run
    /// deletes them).
    pub deferred: Vec<String>,
    /// Deletions that failed.
    pub failures: Vec<FailedDelete>,
    /// Backups left alone because this function did not make them.
    pub not_owned: usize,
    /// What this run did about this period's export to S3, when exports are on.
    pub export: Option<ExportStep>,
    /// What this run did about the previous period's export, when it was still under way.
    pub previous_export: Option<ExportStep>,
    /// What this run did about the table's incremental export chains, with
    /// `EXPORT_MODE=incremental`.
    pub export_chain: Option<crate::chain::ChainRun>,
    /// What this run did about fingerprints (with a log bucket, when it made its backup): its
    /// sample, the earlier backups' fingerprints it completed, and whether its own awaits one.
    pub fingerprint: Option<crate::fingerprint::FingerprintStep>,
    /// Where this record was written (`s3://bucket/key`), if it was.
    pub record_uri: Option<String>,
    /// Why listing failed, if it did.
    pub error: Option<String>,
}

impl From<&RunRecord> for RunEntry {
    fn from(record: &RunRecord) -> Self {
        let failures = (!record.failures.is_empty())
            .then(|| format!("{} deletion(s) failed", record.failures.len()));
        let export = record.export_steps().find_map(|step| match step {
            ExportStep::Error { error } => Some(format!("export failed: {error}")),
            ExportStep::Finished { export } if export.status == export::ExportState::Failed => {
                Some(format!(
                    "export of {} failed: {}",
                    export.period,
                    export.failure.as_deref().unwrap_or("no reason given")
                ))
            }
            _ => None,
        });
        let chain = record
            .export_chain
            .iter()
            .flat_map(|c| &c.steps)
            .find_map(|step| match step {
                ChainStep::Error { error } => Some(format!("export chain: {error}")),
                ChainStep::Lost { gap, .. } => Some(format!(
                    "export chain lost {} to {}: {}",
                    crate::record::rfc3339(gap.from),
                    crate::record::rfc3339(gap.to),
                    gap.reason
                )),
                ChainStep::Finished { link, .. }
                    if link.export.status == export::ExportState::Failed =>
                {
                    Some(format!(
                        "chain export {} failed: {}",
                        link.export.period,
                        link.export.failure.as_deref().unwrap_or("no reason given")
                    ))
                }
                ChainStep::Started { .. }
                | ChainStep::Waiting { .. }
                | ChainStep::Finished { .. } => None,
            });
        Self {
            at: crate::record::rfc3339(record.started_at),
            request_id: record.request_id.clone(),
            outcome: match record.status {
                RunStatus::Ok => Outcome::Ok,
                RunStatus::Partial => Outcome::Partial,
                RunStatus::Failed => Outcome::Failed,
            },
            backup: Some(record.backup_created.name.clone()),
            duration_ms: record.duration_ms,
            error: record.error.clone().or(failures).or(export).or(chain),
        }
    }
}

impl RunRecord {
    /// The record of a run that has just made `created`, before anything else happened.
    pub(super) fn started(
        request: &BackupRequest,
        invocation: &Invocation,
        created: &Backup,
        zone: &Zone,
    ) -> Self {
        Self {
            status: RunStatus::Ok,
            partial: Vec::new(),
            table: request.table.to_string(),
            request_id: invocation.request_id.clone(),
            started_at: invocation.now,
            duration_ms: 0,
            policy: PolicyRecord::of(&request.policy, zone),
            backup_created: BackupRef::from(created),
            reused_backup: false,
            backups_listed: 0,
            kept: Vec::new(),
            kept_by: Vec::new(),
            deleted: Vec::new(),
            still_creating: Vec::new(),
            deferred: Vec::new(),
            failures: Vec::new(),
            not_owned: 0,
            export: None,
            previous_export: None,
            export_chain: None,
            fingerprint: None,
            record_uri: None,
            error: None,
        }
    }

    /// The export steps this run took: the previous period's (if checked), then this period's.
    pub fn export_steps(&self) -> impl Iterator<Item = &ExportStep> {
        self.previous_export.iter().chain(self.export.iter())
    }

    /// Whether any export step of this run failed: a full export's, or a chain's (an export
    /// seen to fail, lost coverage, or one that could not be started, checked or recorded).
    pub fn export_failed(&self) -> bool {
        self.export_steps().any(ExportStep::failed)
            || self
                .export_chain
                .iter()
                .flat_map(|c| &c.steps)
                .any(ChainStep::failed)
    }

    /// Whether this run saw an export complete.
    pub fn export_completed(&self) -> bool {
        self.export_steps().any(ExportStep::completed)
            || self
                .export_chain
                .iter()
                .flat_map(|c| &c.steps)
                .any(ChainStep::completed)
    }

    /// Records (and logs) what happened to one deletion.
    pub(super) fn note_deletion(&mut self, backup: &Backup, result: DeleteResult) {
        match result {
            DeleteResult::Deferred => {
                info!(backup = %backup.name, "no time left to delete; the next run will");
                self.deferred.push(backup.name.clone());
            }
            DeleteResult::InUse => {
                info!(backup = %backup.name, "backup in use (being made or restored from); a later run deletes it");
                self.still_creating.push(backup.name.clone());
            }
            DeleteResult::Deleted => {
                info!(backup = %backup.name, arn = %backup.arn, "deleted backup");
                self.deleted.push(BackupRef::from(backup));
            }
            DeleteResult::Failed(e) => {
                warn!(backup = %backup.name, arn = %backup.arn, error = %e, "could not delete backup");
                self.failures.push(FailedDelete {
                    name: backup.name.clone(),
                    arn: backup.arn.clone(),
                    error: e.to_string(),
                });
            }
        }
    }
}
