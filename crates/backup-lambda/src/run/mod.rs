//! One invocation from start to finish: validate, back up, list, decide, delete, record.
//! [`BackupFunction::handle`] runs one table; `tagged` fans a tag's tables out over it;
//! `record` is what a run writes down; `error` why one failed.

pub mod continued;
mod error;
#[cfg(test)]
mod fixtures;
mod listing;
mod record;
mod tagged;

pub use error::RunError;
pub use listing::ListingReport;
pub use record::{
    BackupRef, FailedDelete, Invocation, KeptBy, PartialCause, PolicyRecord, RunRecord, RunStatus,
};
pub use tagged::{ABAC_HINT, TableFailure, TaggedRun};

use std::time::{Duration, Instant};

use futures::{StreamExt, stream};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tracing::{error, info, warn};

use self::listing::Listing;
use crate::chain;
use crate::continuer::{Continuer, NoContinuer};
use crate::error::AwsError;
use crate::export::{self, ChainSettings, ExportMode, ExportSettings};
use crate::fingerprint::Fingerprints;
use crate::ledger::{self, Entry, Outcome, RunEntry};
use crate::pace::Pacers;
use crate::request::{BackupRequest, Settings};
use crate::retention::{self, Backup};
use crate::store::{BackupStore, RecordSink};
use crate::tables::Tables;

/// How many more turns a deletion refused with LimitExceededException gets.
const DELETE_RETRIES: u32 = 2;
/// At most this many DeleteBackup calls in flight at once.
const DELETE_CONCURRENCY: usize = 4;

/// Deletions are not started later than this before the invocation's deadline, leaving time
/// for them to finish and for the run record to be written.
const DEADLINE_MARGIN: Duration = Duration::from_secs(3);
/// A call still unanswered this long before the deadline is given up (a throttled call can be
/// retried by the SDK for longer than the invocation has left), so that the run record is
/// still written before Lambda stops the invocation.
const CALL_MARGIN: Duration = Duration::from_secs(1);

/// Error codes with which DynamoDB refuses a backup for now, not for good: a new table's
/// backups are still being enabled, or another backup operation on the table is under way
/// (CreateBackup, API reference).
const NOT_YET: [&str; 2] = [
    "ContinuousBackupsUnavailableException",
    "BackupInUseException",
];
/// The first pause before asking again after [`NOT_YET`]; doubled each time up to
/// [`NOT_YET_MAX_PAUSE`].
const NOT_YET_PAUSE: Duration = Duration::from_secs(1);
/// The longest pause between those tries.
const NOT_YET_MAX_PAUSE: Duration = Duration::from_secs(8);
/// How long to keep trying when the invocation has no deadline (a local run).
const NOT_YET_LIMIT: Duration = Duration::from_secs(60);

/// What happened to one deletion.
#[derive(Debug)]
pub(crate) enum DeleteResult {
    Deleted,
    Failed(AwsError),
    Deferred,
    /// DynamoDB refused: the backup is in use (still being made, or being restored by a drill).
    InUse,
}

/// The function: its AWS clients and settings, built once at cold start.
#[derive(Debug)]
pub struct BackupFunction<S, T, R, C = NoContinuer> {
    store: S,
    /// Reads the tables' samples for their fingerprints.
    tables: T,
    records: R,
    settings: Settings,
    /// DynamoDB's per-account rates, kept across every table and run of this instance.
    pacers: Pacers,
    /// Hands a run over a tag that outlasts its invocation on to a new one.
    continuer: C,
}

impl<S: BackupStore, T: Tables, R: RecordSink> BackupFunction<S, T, R> {
    /// Puts the function together from its parts, without continuations (see
    /// [`BackupFunction::continuing_with`]).
    pub fn new(store: S, tables: T, records: R, settings: Settings) -> Self {
        Self {
            store,
            tables,
            records,
            settings,
            pacers: Pacers::default(),
            continuer: NoContinuer,
        }
    }
}

impl<S: BackupStore, T: Tables, R: RecordSink, C: Continuer> BackupFunction<S, T, R, C> {
    /// The same function, handing runs over a tag that outlast their invocation on through
    /// `continuer`.
    pub fn continuing_with<D: Continuer>(self, continuer: D) -> BackupFunction<S, T, R, D> {
        BackupFunction {
            store: self.store,
            tables: self.tables,
            records: self.records,
            settings: self.settings,
            pacers: self.pacers,
            continuer,
        }
    }

    /// Handles one event. Returns the run record, or an error if the event is invalid, the
    /// backup could not be made, or the table's backups could not be listed.
    pub async fn handle(
        &self,
        event: &Value,
        invocation: &Invocation,
    ) -> Result<RunRecord, RunError> {
        let request = BackupRequest::from_event(event, &self.settings.default_policy)
            .inspect_err(|e| error!(error = %e, "rejected event"))?;
        self.run(&request, invocation, &Listing::per_table()).await
    }

    /// Backs up one table as `request` says, lists its backups (as `listing` does), deletes what
    /// retention lets go and records the run.
    async fn run(
        &self,
        request: &BackupRequest,
        invocation: &Invocation,
        listing: &Listing,
    ) -> Result<RunRecord, RunError> {
        let now = invocation.now;
        let started = Instant::now();
        let table = &request.table;

        let earlier = self
            .backup_of_earlier_attempt(table, invocation, listing)
            .await;
        let reused = earlier.is_some();
        let clock = || invocation.clock();
        let fingerprints = self
            .settings
            .log_bucket
            .as_deref()
            .filter(|_| !reused)
            .map(|bucket| Fingerprints::new(&self.tables, &self.records, bucket));
        let before = match &fingerprints {
            Some(f) => Some(f.before_backup(table, clock).await),
            None => None,
        };
        let requested_from = clock();
        let created = match earlier {
            Some(backup) => Ok(backup),
            None => {
                let name = table.backup_name(&self.settings.ownership.stack, now);
                info!(table = %table, backup = %name, "creating backup");
                self.create_when_possible(table, &name, invocation.deadline)
                    .await
                    .map_err(|source| RunError::CreateBackup {
                        table: table.to_string(),
                        source,
                    })
                    .inspect_err(|e| error!(table = %table, error = %e, "backup failed"))
            }
        };
        let created = match created {
            Ok(created) => created,
            Err(err) => {
                let entry = RunEntry {
                    at: invocation.now.format(&Rfc3339).unwrap_or_default(),
                    request_id: invocation.request_id.clone(),
                    outcome: Outcome::Failed,
                    backup: None,
                    duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                    error: Some(err.to_string()),
                };
                self.append_to_ledger(table.as_str(), entry).await;
                return Err(err);
            }
        };
        info!(table = %table, backup = %created.name, arn = %created.arn, status = ?created.state, "backup created");

        let requested = (requested_from, clock());
        let mut record = RunRecord::started(request, invocation, &created, &self.settings.zone);
        record.reused_backup = reused;
        let mut samples = None;
        if let (Some(f), Some(before)) = (&fingerprints, before) {
            let (step, kept) = f.after_backup(table, before, &created, requested).await;
            record.fingerprint = Some(step);
            samples = kept;
        }
        let decision = match self.list_and_decide(request, created, now, listing).await {
            Ok((listed, decision)) => {
                record.backups_listed = listed;
                decision
            }
            Err(err) => {
                error!(table = %table, error = %err, "listing backups failed; none deleted");
                record.status = RunStatus::Failed;
                record.error = Some(err.to_string());
                self.finish(&mut record, started, now).await;
                return Err(err);
            }
        };
        record.kept = decision
            .keep
            .iter()
            .map(|k| k.backup.name.clone())
            .collect();
        record.kept_by = decision
            .keep
            .iter()
            .map(|k| KeptBy {
                name: k.backup.name.clone(),
                rules: k.rules.clone(),
            })
            .collect();
        record.still_creating = decision
            .still_creating
            .iter()
            .map(|b| b.name.clone())
            .collect();
        record.not_owned = decision.not_owned;
        for (backup, result) in self.delete_all(&decision.delete, invocation.deadline).await {
            record.note_deletion(backup, result);
        }
        if let (Some(settings), Some(bucket)) = (&self.settings.export, &self.settings.log_bucket) {
            match settings.mode {
                ExportMode::Full => {
                    let steps = self.export(settings, bucket, &record, now).await;
                    record.previous_export = steps.previous;
                    record.export = Some(steps.current);
                }
                ExportMode::Incremental(chain_settings) => {
                    let mut run = self
                        .chain(settings, chain_settings, bucket, &record, now)
                        .await;
                    if let (Some(f), Some(samples)) = (&fingerprints, &samples) {
                        let points = run.started_points();
                        run.fingerprinted = f
                            .record_points(table, samples, points)
                            .await
                            .into_iter()
                            .map(crate::record::rfc3339)
                            .collect();
                    }
                    record.export_chain = Some(run);
                }
            }
        }
        if !record.failures.is_empty() {
            record.partial.push(PartialCause::Deletions);
        }
        if record.export_failed() {
            record.partial.push(PartialCause::Export);
        }
        if !record.partial.is_empty() {
            record.status = RunStatus::Partial;
        }
        self.finish(&mut record, started, now).await;
        Ok(record)
    }

    /// The backup an earlier attempt of this very invocation made, if its ledger line says one
    /// did and it is still listed ([`ledger::backup_of_attempt`]): Lambda retries a failed
    /// asynchronous invocation and may deliver one twice, with the same request id, and a retry
    /// must not make a second backup. Anything unreadable counts as no earlier attempt (a
    /// backup too many is better than none).
    async fn backup_of_earlier_attempt(
        &self,
        table: &crate::naming::TableName,
        invocation: &Invocation,
        listing: &Listing,
    ) -> Option<Backup> {
        let bucket = self.settings.log_bucket.as_ref()?;
        let found = ledger::backup_of_attempt(
            &self.records,
            bucket,
            table.as_str(),
            &invocation.request_id,
            invocation.now,
        )
        .await;
        let name = match found {
            Ok(found) => found?,
            Err(e) => {
                info!(table = %table, error = %e, "could not read the ledger to tell a retried invocation; backing up");
                return None;
            }
        };
        let listed = listing.backups(&self.store, &self.pacers, table).await;
        match listed.map(|all| all.into_iter().find(|b| b.name == name)) {
            Ok(Some(backup)) => {
                warn!(table = %table, backup = %name, request_id = %invocation.request_id, "a retried or repeated invocation: an earlier attempt made this backup; not making another");
                Some(backup)
            }
            Ok(None) => {
                warn!(table = %table, backup = %name, "an earlier attempt's backup is no longer listed; making a new one");
                None
            }
            Err(e) => {
                warn!(table = %table, error = %e, "could not list backups to find an earlier attempt's; backing up");
                None
            }
        }
    }

    /// Lists the table's backups (counting `created` even if not listed yet) and decides which
    /// go: how many were listed, and the decision.
    async fn list_and_decide(
        &self,
        request: &BackupRequest,
        created: Backup,
        now: OffsetDateTime,
        listing: &Listing,
    ) -> Result<(usize, retention::RetentionDecision), RunError> {
        let table = &request.table;
        let policy = request.policy;
        let mut backups = listing
            .backups(&self.store, &self.pacers, table)
            .await
            .map_err(|source| RunError::ListBackups {
                table: table.to_string(),
                backup: created.name.clone(),
                source,
            })?;
        // A backup made a moment ago may not be listed yet; it counts all the same.
        if !backups.iter().any(|b| b.arn == created.arn) {
            backups.push(created);
        }
        info!(table = %table, listed = backups.len(), "listed backups");
        let decision = retention::decide(
            table,
            &self.settings.ownership,
            &backups,
            &policy,
            &self.settings.zone,
            now,
        );
        info!(
            table = %table,
            keep = decision.keep.len(),
            delete = decision.delete.len(),
            still_creating = decision.still_creating.len(),
            not_owned = decision.not_owned,
            max_backups = policy.max_backups.get(),
            max_age_days = policy.max_age_days.map(|d| d.get()),
            "retention decided"
        );
        Ok((backups.len(), decision))
    }

    /// Makes the backup, waiting while DynamoDB says it cannot yet ([`NOT_YET`]), for as long as
    /// the invocation leaves time to finish the run.
    async fn create_when_possible(
        &self,
        table: &crate::naming::TableName,
        name: &str,
        deadline: Option<tokio::time::Instant>,
    ) -> Result<Backup, AwsError> {
        let give_up = deadline.map_or_else(
            || tokio::time::Instant::now() + NOT_YET_LIMIT,
            |d| d - DEADLINE_MARGIN,
        );
        let mut pause = NOT_YET_PAUSE;
        loop {
            self.pacers.create.wait().await;
            let checked = self
                .store
                .create_backup(table, name, || self.pacers.list.wait())
                .await;
            match checked {
                Err(e)
                    if NOT_YET.iter().any(|code| e.is(code))
                        && tokio::time::Instant::now() + pause <= give_up =>
                {
                    warn!(table = %table, error = %e, pause_ms = pause.as_millis(), "DynamoDB cannot back up the table yet; trying again");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(NOT_YET_MAX_PAUSE);
                }
                result => return result,
            }
        }
    }

    /// Deletes `backups`, starting each at the delete pacer's next free start (10 a second,
    /// shared with every other table) and running at most [`DELETE_CONCURRENCY`] at once; every deletion is tried whatever happens to the others,
    /// except those that would start less than [`DEADLINE_MARGIN`] before `deadline`; one still
    /// unanswered [`CALL_MARGIN`] before it is given up and left for the next run.
    /// Results come back in the order of `backups`.
    async fn delete_all<'a>(
        &self,
        backups: &'a [Backup],
        deadline: Option<tokio::time::Instant>,
    ) -> Vec<(&'a Backup, DeleteResult)> {
        let last_start = deadline.map(|d| d - DEADLINE_MARGIN);
        stream::iter(backups.iter())
            .map(|backup| async move {
                let mut refused = 0;
                loop {
                    let Some(start) = self.pacers.delete.reserve_by(last_start) else {
                        return (backup, DeleteResult::Deferred);
                    };
                    tokio::time::sleep_until(start).await;
                    let call = self.store.delete_backup(&backup.arn);
                    let answer = match deadline {
                        Some(deadline) => {
                            tokio::time::timeout_at(deadline - CALL_MARGIN, call).await
                        }
                        None => Ok(call.await),
                    };
                    let Ok(answer) = answer else {
                        return (backup, DeleteResult::Deferred);
                    };
                    let result = match answer {
                        Ok(()) => DeleteResult::Deleted,
                        // Already gone, e.g. by an earlier attempt whose answer was lost.
                        Err(e) if e.is("BackupNotFoundException") => DeleteResult::Deleted,
                        // Not a failure: it is still being made or being restored from.
                        Err(e) if e.is("BackupInUseException") => DeleteResult::InUse,
                        // Over the account's rate (another client deleting too, or calls
                        // bunched on the network): another turn, a few times.
                        Err(e) if e.is("LimitExceededException") && refused < DELETE_RETRIES => {
                            refused += 1;
                            continue;
                        }
                        Err(e) => DeleteResult::Failed(e),
                    };
                    return (backup, result);
                }
            })
            .buffered(DELETE_CONCURRENCY)
            .collect()
            .await
    }

    /// Moves the table's exports one step (see [`export::advance`]); the table's ARN is the
    /// prefix of the ARN of the backup this run made.
    async fn export(
        &self,
        settings: &ExportSettings,
        bucket: &str,
        record: &RunRecord,
        now: OffsetDateTime,
    ) -> export::ExportSteps {
        let Some(table_arn) = export::table_arn_of_backup(&record.backup_created.arn) else {
            return export::ExportSteps {
                previous: None,
                current: export::ExportStep::Error {
                    error: format!(
                        "cannot tell the table's ARN from its backup's, {}",
                        record.backup_created.arn
                    ),
                },
            };
        };
        export::advance(
            &self.store,
            &self.records,
            bucket,
            settings,
            &record.table,
            table_arn,
            now,
        )
        .await
    }

    /// Moves the table's export chains one run forward (see [`chain::advance`]).
    async fn chain(
        &self,
        settings: &ExportSettings,
        chain_settings: ChainSettings,
        bucket: &str,
        record: &RunRecord,
        now: OffsetDateTime,
    ) -> chain::ChainRun {
        let Some(table_arn) = export::table_arn_of_backup(&record.backup_created.arn) else {
            return chain::ChainRun {
                steps: vec![chain::ChainStep::Error {
                    error: format!(
                        "cannot tell the table's ARN from its backup's, {}",
                        record.backup_created.arn
                    ),
                }],
                chain: None,
                exported_to: None,
                fingerprinted: Vec::new(),
            };
        };
        chain::advance(
            &self.store,
            &self.records,
            bucket,
            settings,
            chain_settings,
            &record.table,
            table_arn,
            now,
        )
        .await
    }

    /// Adds a run to its day's ledger in the log bucket (if set); a failure is logged, not
    /// fatal: the run itself is done and its record written.
    async fn append_to_ledger(&self, table: &str, entry: RunEntry) {
        let Some(bucket) = &self.settings.log_bucket else {
            return;
        };
        match ledger::append(&self.records, bucket, table, Entry::Run(entry)).await {
            Ok(()) => info!(table = %table, "added the run to its day's ledger"),
            Err(e) => {
                warn!(table = %table, error = %e, "could not add the run to its day's ledger")
            }
        }
    }

    /// Stamps the duration, writes the record to the log bucket (if set) and logs the outcome.
    async fn finish(&self, record: &mut RunRecord, started: Instant, now: OffsetDateTime) {
        record.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        if let Some(bucket) = &self.settings.log_bucket {
            let key = crate::record::key(&record.table, now, &record.request_id);
            let uri = format!("s3://{bucket}/{key}");
            record.record_uri = Some(uri.clone());
            let body = serde_json::to_vec_pretty(&*record)
                .expect("a run record is strings, numbers and lists");
            match self.records.put_record(bucket, &key, body).await {
                Ok(()) => info!(record = %uri, "wrote run record"),
                Err(e) => {
                    record.record_uri = None;
                    warn!(bucket = %bucket, key = %key, error = %e, "could not write run record");
                }
            }
        }
        self.append_to_ledger(&record.table, RunEntry::from(&*record))
            .await;
        info!(
            table = %record.table,
            status = ?record.status,
            kept = record.kept.len(),
            deleted = record.deleted.len(),
            failures = record.failures.len(),
            duration_ms = record.duration_ms,
            "run finished"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::ExportStep;
    use serde_json::json;
    use time::macros::datetime;

    use crate::fake::{MemoryBucket, MemoryStore, NOW};
    use fixtures::{ledger, manual, ours, settings, tutorial_event};

    #[tokio::test(start_paused = true)]
    async fn keeps_three_of_ours_and_the_manual_one() {
        let store = MemoryStore::with(vec![ours(1), ours(2), ours(3), ours(4), manual()]);
        let function = BackupFunction::new(
            &store,
            &store,
            MemoryBucket::default(),
            settings(Some("logs")),
        );
        let record = function
            .handle(&tutorial_event(), &Invocation::new("req-1", NOW))
            .await
            .expect("run succeeds");

        assert_eq!(record.status, RunStatus::Ok);
        assert_eq!(record.backup_created.name, "Movies-prod-20261125070532");
        assert_eq!(
            record.kept,
            vec![
                "Movies-prod-20261125070532".to_owned(),
                ours(1).name,
                ours(2).name
            ]
        );
        assert_eq!(
            record
                .deleted
                .iter()
                .map(|b| b.name.clone())
                .collect::<Vec<_>>(),
            vec![ours(3).name, ours(4).name]
        );
        assert_eq!(record.not_owned, 1);
        let mut expected = vec![
            "Movies-prod-20261125070532".to_owned(),
            ours(1).name,
            ours(2).name,
            "Movies-manual".to_owned(),
        ];
        expected.sort();
        assert_eq!(store.names(), expected);

        let records = function.records.run_records();
        assert_eq!(records.len(), 1);
        let (bucket, key, json) = &records[0];
        assert_eq!(bucket, "logs");
        assert_eq!(key, "runs/Movies/2026/11/25/070532-req-1.json");
        assert_eq!(json["deleted"].as_array().map(Vec::len), Some(2));
        assert_eq!(
            json["record_uri"],
            "s3://logs/runs/Movies/2026/11/25/070532-req-1.json"
        );
        let ledger = ledger(&function.records, "runs/Movies/daily/2026-11-25.json").unwrap();
        let run = &ledger.runs[..];
        assert_eq!(run.len(), 1, "one line per run in the day's ledger");
        assert_eq!(
            (run[0].outcome, run[0].request_id.as_str()),
            (Outcome::Ok, "req-1")
        );
        assert_eq!(run[0].at, "2026-11-25T07:05:32Z");
        assert_eq!(run[0].backup.as_deref(), Some("Movies-prod-20261125070532"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_backup_already_gone_counts_as_deleted() {
        let mut store = MemoryStore::with(vec![ours(1), ours(2), ours(3), ours(4)]);
        store.already_gone.insert(ours(3).arn);
        let function = BackupFunction::new(&store, &store, MemoryBucket::default(), settings(None));
        let record = function
            .handle(&tutorial_event(), &Invocation::new("r", NOW))
            .await
            .expect("run succeeds");

        assert_eq!(record.status, RunStatus::Ok);
        assert!(record.failures.is_empty(), "{:?}", record.failures);
        let deleted: Vec<&str> = record.deleted.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(deleted, [ours(3).name.as_str(), ours(4).name.as_str()]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_delete_is_reported_and_the_others_still_happen() {
        let mut store = MemoryStore::with(vec![ours(1), ours(2), ours(3), ours(4), ours(5)]);
        store.fail_delete.insert(ours(3).arn);
        let function = BackupFunction::new(&store, &store, MemoryBucket::default(), settings(None));
        let record = function
            .handle(&tutorial_event(), &Invocation::new("r", NOW))
            .await
            .expect("run succeeds");

        assert_eq!(record.status, RunStatus::Partial);
        assert_eq!(record.failures.len(), 1);
        assert_eq!(record.failures[0].arn, ours(3).arn);
        assert!(record.failures[0].error.contains("LimitExceededException"));
        assert_eq!(record.deleted.len(), 2);
        assert!(store.names().contains(&ours(3).name));
        assert!(!store.names().contains(&ours(5).name));
        assert!(
            function.records.run_records().is_empty(),
            "no bucket, no record"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn every_page_of_listbackups_is_paced_to_five_per_second() {
        let old: Vec<Backup> = (1..=9).map(ours).collect();
        let store = MemoryStore {
            page_size: Some(2),
            ..MemoryStore::with(old)
        };
        let function = BackupFunction::new(&store, &store, MemoryBucket::default(), settings(None));
        let started = tokio::time::Instant::now();
        let record = function
            .handle(&tutorial_event(), &Invocation::new("r", NOW))
            .await
            .expect("run succeeds");
        // 9 old and the new one on pages of 2: 5 pages, started 220 ms apart; all were seen.
        let lists = function
            .store
            .calls
            .lock()
            .unwrap()
            .iter()
            .filter(|c| *c == "list")
            .count();
        assert_eq!(lists, 5);
        assert_eq!(record.deleted.len(), 10 - 3);
        assert!(
            started.elapsed() >= Duration::from_millis(4 * 220),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn deletes_are_paced_to_ten_per_second() {
        let old: Vec<Backup> = (1..=25).map(ours).collect();
        let store = MemoryStore::with(old);
        let function = BackupFunction::new(&store, &store, MemoryBucket::default(), settings(None));
        let started = tokio::time::Instant::now();
        let record = function
            .handle(&tutorial_event(), &Invocation::new("r", NOW))
            .await
            .expect("run succeeds");
        assert_eq!(record.deleted.len(), 23);
        // 23 deletions started one per 100 ms: the last one starts 2.2 s after the first.
        assert!(
            started.elapsed() >= Duration::from_millis(2200),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn deletions_that_would_outlive_the_invocation_are_left_for_the_next_run() {
        let old: Vec<Backup> = (1..=25).map(ours).collect();
        let store = MemoryStore::with(old);
        let function = BackupFunction::new(
            &store,
            &store,
            MemoryBucket::default(),
            settings(Some("logs")),
        );
        // 4.05 s left: deletions may start until 1.05 s from now: one per 110 ms, slots 0..=9.
        let deadline = tokio::time::Instant::now() + Duration::from_millis(4050);
        let invocation = Invocation::new("r", NOW).with_deadline(deadline);
        let record = function
            .handle(&tutorial_event(), &invocation)
            .await
            .expect("run succeeds");
        assert_eq!(record.status, RunStatus::Ok);
        assert_eq!(record.deleted.len(), 10);
        assert_eq!(record.deferred.len(), 13);
        assert_eq!(
            record.deferred[0],
            ours(13).name,
            "the newest due are deleted first"
        );
        assert_eq!(store.names().len(), 3 + 13);
        assert_eq!(
            function.records.run_records().len(),
            1,
            "the record is still written"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_backup_in_use_by_a_restore_is_left_for_a_later_run_not_failed() {
        let mut store = MemoryStore::with(vec![ours(1), ours(2), ours(3), ours(4)]);
        store.in_use.insert(ours(3).arn);
        let function = BackupFunction::new(&store, &store, MemoryBucket::default(), settings(None));
        let record = function
            .handle(&tutorial_event(), &Invocation::new("r", NOW))
            .await
            .expect("run succeeds");
        assert_eq!(record.status, RunStatus::Ok, "{:?}", record.failures);
        assert_eq!(record.still_creating, vec![ours(3).name]);
        assert_eq!(record.deleted.len(), 1);
        assert!(store.names().contains(&ours(3).name));
    }

    #[tokio::test(start_paused = true)]
    async fn a_new_tables_backup_waits_until_backups_are_enabled() {
        let store = MemoryStore::with(vec![ours(1)]);
        *store.not_yet.lock().unwrap() = 2;
        let function = BackupFunction::new(&store, &store, MemoryBucket::default(), settings(None));
        let started = tokio::time::Instant::now();
        let deadline = started + Duration::from_secs(60);
        let record = function
            .handle(
                &tutorial_event(),
                &Invocation::new("r", NOW).with_deadline(deadline),
            )
            .await
            .expect("run succeeds once backups are enabled");
        assert_eq!(record.status, RunStatus::Ok);
        let creates = function
            .store
            .calls()
            .iter()
            .filter(|c| c.starts_with("create"))
            .count();
        assert_eq!(creates, 3, "two refusals, then the backup");
        assert_eq!(
            started.elapsed(),
            Duration::from_secs(3),
            "paused 1 s, then 2 s"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn backups_that_never_enable_fail_the_run_before_the_deadline() {
        let store = MemoryStore::default();
        *store.not_yet.lock().unwrap() = u32::MAX;
        let function = BackupFunction::new(&store, &store, MemoryBucket::default(), settings(None));
        let started = tokio::time::Instant::now();
        let deadline = started + Duration::from_secs(20);
        let err = function
            .handle(
                &tutorial_event(),
                &Invocation::new("r", NOW).with_deadline(deadline),
            )
            .await
            .expect_err("must fail");
        assert_eq!(err.error_type(), "ContinuousBackupsUnavailableException");
        assert!(
            started.elapsed() <= Duration::from_secs(17),
            "gave up {:?} after the start, past deadline minus margin",
            started.elapsed()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_deletion_that_never_answers_is_left_for_the_next_run() {
        let mut store = MemoryStore::with(vec![ours(1), ours(2), ours(3), ours(4)]);
        store.hang_delete.insert(ours(3).arn);
        let function = BackupFunction::new(
            &store,
            &store,
            MemoryBucket::default(),
            settings(Some("logs")),
        );
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let record = function
            .handle(
                &tutorial_event(),
                &Invocation::new("r", NOW).with_deadline(deadline),
            )
            .await
            .expect("the run ends before the deadline");
        assert_eq!(record.deferred, vec![ours(3).name]);
        assert_eq!(record.deleted.len(), 1);
        assert!(tokio::time::Instant::now() <= deadline - CALL_MARGIN);
        assert_eq!(
            function.records.run_records().len(),
            1,
            "the record is written"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn generations_keep_each_days_newest_and_the_record_says_why() {
        let store = MemoryStore::with(vec![ours(24), ours(48), ours(49), ours(72)]);
        let mut settings = settings(Some("logs"));
        settings.zone = crate::zone::Zone::parse("Europe/Berlin").expect("a zone");
        let function = BackupFunction::new(&store, &store, MemoryBucket::default(), settings);
        let event = json!({"TableName": "Movies", "MaxBackups": 1, "KeepDaily": 3});
        let record = function
            .handle(&event, &Invocation::new("r", NOW))
            .await
            .expect("run succeeds");
        let new = record.backup_created.name.clone();
        assert_eq!(record.kept, vec![new.clone(), ours(24).name, ours(48).name]);
        let rules = |name: &str| {
            record
                .kept_by
                .iter()
                .find(|k| k.name == name)
                .map(|k| k.rules.clone())
        };
        use crate::retention::Rule;
        assert_eq!(
            rules(&new),
            Some(vec![Rule::Newest, Rule::Last, Rule::Daily])
        );
        assert_eq!(rules(&ours(24).name), Some(vec![Rule::Daily]));
        // 49 hours ago is the same day as 48: not that day's newest.
        let deleted: Vec<&str> = record.deleted.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(deleted, [ours(49).name.as_str(), ours(72).name.as_str()]);
        assert_eq!(record.policy.keep_daily, Some(3));
        assert_eq!(record.policy.time_zone.as_deref(), Some("Europe/Berlin"));
        let written = serde_json::to_value(&record).expect("serializes");
        assert_eq!(written["kept_by"][1]["rules"], json!(["daily"]));
    }

    #[tokio::test(start_paused = true)]
    async fn the_new_backup_counts_even_if_not_listed_yet() {
        let mut store = MemoryStore::with(vec![ours(1), ours(2), ours(3)]);
        store.hide_new_from_list = true;
        let function = BackupFunction::new(&store, &store, MemoryBucket::default(), settings(None));
        let record = function
            .handle(&tutorial_event(), &Invocation::new("r", NOW))
            .await
            .expect("run succeeds");
        assert_eq!(record.kept[0], "Movies-prod-20261125070532");
        assert_eq!(record.deleted.len(), 1);
        assert_eq!(record.deleted[0].name, ours(3).name);
    }

    #[tokio::test]
    async fn a_failed_backup_fails_the_run_and_changes_nothing() {
        let mut store = MemoryStore::with(vec![ours(1), ours(2), ours(3), ours(4)]);
        store.fail_create = true;
        let function = BackupFunction::new(
            &store,
            &store,
            MemoryBucket::default(),
            settings(Some("logs")),
        );
        let err = function
            .handle(&tutorial_event(), &Invocation::new("r", NOW))
            .await
            .expect_err("must fail");
        assert_eq!(err.error_type(), "TableNotFoundException");
        assert!(
            err.to_string()
                .contains("could not back up table \"Movies\""),
            "{err}"
        );
        assert_eq!(store.calls(), vec!["create Movies-prod-20261125070532"]);
        assert!(function.records.run_records().is_empty());
        let ledger = ledger(&function.records, "runs/Movies/daily/2026-11-25.json")
            .expect("the failed run is in the day's ledger");
        assert_eq!(ledger.runs.len(), 1);
        assert_eq!(ledger.runs[0].outcome, Outcome::Failed);
        assert_eq!(ledger.runs[0].backup, None);
        assert!(
            ledger.runs[0]
                .error
                .as_deref()
                .unwrap()
                .contains("TableNotFound")
        );
    }

    #[tokio::test]
    async fn a_failed_listing_fails_the_run_and_deletes_nothing() {
        let mut store = MemoryStore::with(vec![ours(1), ours(2), ours(3), ours(4)]);
        store.fail_list = true;
        let function = BackupFunction::new(
            &store,
            &store,
            MemoryBucket::default(),
            settings(Some("logs")),
        );
        let err = function
            .handle(&tutorial_event(), &Invocation::new("r", NOW))
            .await
            .expect_err("must fail");
        assert!(matches!(err, RunError::ListBackups { .. }), "{err}");
        assert!(
            function
                .store
                .calls()
                .iter()
                .all(|c| !c.starts_with("delete"))
        );
        let records = function.records.run_records();
        assert_eq!(records[0].2["status"], "failed");
        let ledger = ledger(&function.records, "runs/Movies/daily/2026-11-25.json").unwrap();
        assert_eq!(ledger.runs[0].outcome, Outcome::Failed);
        assert_eq!(
            ledger.runs[0].backup.as_deref(),
            Some("Movies-prod-20261125070532"),
            "the backup was made all the same: a recovery point"
        );
    }

    #[tokio::test]
    async fn a_bad_event_makes_no_call() {
        let store = MemoryStore::default();
        let function = BackupFunction::new(
            &store,
            &store,
            MemoryBucket::default(),
            settings(Some("logs")),
        );
        for event in [
            json!({}),
            json!({"TableName": "x"}),
            json!({"TableName": "Movies", "MaxBackups": 0}),
        ] {
            let err = function
                .handle(&event, &Invocation::new("r", NOW))
                .await
                .expect_err("must fail");
            assert_eq!(err.error_type(), "InvalidEvent");
        }
        assert!(store.calls().is_empty());
        assert!(function.records.run_records().is_empty());
    }

    /// Lambda retries a failed asynchronous invocation, and may deliver an event twice, with the
    /// same request id: the second attempt finds the first one's backup and makes none.
    #[tokio::test(start_paused = true)]
    async fn a_repeated_invocation_makes_no_second_backup() {
        let store = MemoryStore::default();
        let function = BackupFunction::new(
            &store,
            &store,
            MemoryBucket::default(),
            settings(Some("logs")),
        );
        let first = function
            .handle(&tutorial_event(), &Invocation::new("same-request", NOW))
            .await
            .unwrap();
        assert!(!first.reused_backup);
        let again = function
            .handle(
                &tutorial_event(),
                &Invocation::new("same-request", NOW + time::Duration::minutes(1)),
            )
            .await
            .unwrap();
        assert!(again.reused_backup, "{again:?}");
        assert_eq!(again.backup_created, first.backup_created);
        assert_eq!(store.names().len(), 1, "one backup: {:?}", store.names());
        let creates = function
            .store
            .calls()
            .iter()
            .filter(|c| c.starts_with("create"))
            .count();
        assert_eq!(creates, 1);

        // Another invocation (another request id) backs up as usual.
        let next = function
            .handle(
                &tutorial_event(),
                &Invocation::new("next-request", NOW + time::Duration::minutes(2)),
            )
            .await
            .unwrap();
        assert!(!next.reused_backup);
        assert_eq!(store.names().len(), 2);
    }

    fn with_exports(every: crate::export::ExportEvery) -> Settings {
        Settings {
            export: Some(ExportSettings {
                every,
                mode: crate::export::ExportMode::Full,
                bucket: "vault".to_owned(),
                bucket_owner: None,
                bucket_region: None,
                prefix: crate::export::DEFAULT_PREFIX.to_owned(),
            }),
            ..settings(Some("logs"))
        }
    }

    fn export_step(record: &RunRecord) -> (&'static str, Option<crate::export::ExportState>) {
        match record.export.as_ref().expect("exports are on") {
            ExportStep::Started { export } => ("started", Some(export.status)),
            ExportStep::Waiting { export } => ("waiting", Some(export.status)),
            ExportStep::Finished { export } => ("finished", Some(export.status)),
            ExportStep::Done { status, .. } => ("done", Some(*status)),
            ExportStep::Error { .. } => ("error", None),
        }
    }

    /// A chain through the handler: the first run exports the table at the latest restorable
    /// moment; the next, a day on, sees it complete and exports the day's changes from exactly
    /// there; a failed incremental is started again; PITR off is an error the record names.
    #[tokio::test(start_paused = true)]
    async fn an_incremental_chain_is_begun_extended_and_recorded() {
        use crate::chain::{Chain, RecoveryWindow};
        use crate::export::{ChainSettings, ExportKind, ExportMode, ExportState, ExportView};
        let store =
            MemoryStore::default().with_table("Movies", crate::fake::MemoryTable::movies(40));
        let mut settings = with_exports(crate::export::ExportEvery::Daily);
        if let Some(export) = settings.export.as_mut() {
            export.mode = ExportMode::Incremental(ChainSettings {
                full_every_days: 7,
                view: ExportView::New,
            });
        }
        let function = BackupFunction::new(&store, &store, MemoryBucket::default(), settings);
        let day = time::Duration::days(1);
        let latest = NOW - time::Duration::minutes(5);
        let window = |latest: OffsetDateTime| RecoveryWindow {
            earliest: NOW - 2 * day,
            latest,
        };
        let run = |at: OffsetDateTime, id: &'static str| {
            let function = &function;
            async move {
                function
                    .handle(&tutorial_event(), &Invocation::new(id, at))
                    .await
                    .expect("run succeeds")
            }
        };
        let off = run(NOW, "r0").await;
        assert_eq!(off.status, RunStatus::Partial, "recovery off is a failure");
        assert!(store.exports.lock().unwrap().is_empty());

        *store.recovery_window.lock().unwrap() = Some(window(latest));
        let first = run(NOW, "r1").await;
        assert_eq!(first.status, RunStatus::Ok);
        let t0 = latest.replace_nanosecond(0).unwrap();
        assert_eq!(
            store.exports.lock().unwrap()[0].kind,
            ExportKind::Full { at: Some(t0) }
        );
        let id = crate::chain::compact(t0);
        assert_eq!(
            first.export_chain.as_ref().unwrap().chain.as_deref(),
            Some(id.as_str())
        );
        assert_eq!(
            first.export_chain.as_ref().unwrap().fingerprinted,
            Vec::<String>::new(),
            "no sample was read five seconds before the chain's first point"
        );
        let chain = |function: &BackupFunction<&MemoryStore, &MemoryStore, MemoryBucket>| -> Chain {
            let key = crate::record::chain_key("Movies", &id);
            serde_json::from_value(function.records.json("logs", &key).expect("the chain"))
                .expect("a chain")
        };
        assert_eq!(
            function
                .records
                .json("logs", "chains/Movies/head.json")
                .expect("the head")["open"],
            json!([id])
        );

        *store.export_state.lock().unwrap() = Some(ExportState::Completed);
        *store.recovery_window.lock().unwrap() = Some(window(t0 + day));
        let second = run(NOW + day, "r2").await;
        assert!(second.export_completed(), "{second:?}");
        let exports = store.exports.lock().unwrap().clone();
        assert_eq!(
            exports[1].kind,
            ExportKind::Incremental {
                from: t0,
                to: t0 + day,
                view: ExportView::New
            }
        );
        assert_eq!(
            exports[1].prefix,
            format!(
                "exports/Movies/chains/{id}/{}-{}",
                id,
                crate::chain::compact(t0 + day)
            )
        );
        let recorded = chain(&function);
        assert_eq!(recorded.points(), vec![t0], "the incremental is under way");
        // The incremental's end is fingerprinted from the first run's sample and this one's,
        // read a day before it and five minutes after it.
        let point = crate::record::rfc3339(t0 + day);
        assert_eq!(
            second.export_chain.as_ref().unwrap().fingerprinted,
            vec![point.clone()]
        );
        let print = function
            .records
            .json(
                "logs",
                &crate::record::point_fingerprint_key("Movies", t0 + day),
            )
            .expect("the point's fingerprint");
        assert_eq!(print["at"], point.as_str());
        assert_eq!(print["chain"], id.as_str());
        assert_eq!(
            print["items"].as_array().map(Vec::len),
            Some(40),
            "every item read the same either side"
        );
        // The table's definition beside the chain's full export only.
        let beside = |prefix: &str| {
            function
                .records
                .json("vault", &crate::definition::definition_key(prefix))
        };
        assert!(beside(&exports[0].prefix).is_some(), "{:?}", exports[0]);
        assert!(beside(&exports[1].prefix).is_none());
        // And the chain's record, copied beside its exports as it is kept in the log bucket.
        let copy = function
            .records
            .json("vault", &format!("exports/Movies/chains/{id}/chain.json"))
            .expect("the chain's copy beside its exports");
        assert_eq!(
            Some(copy),
            function
                .records
                .json("logs", &crate::record::chain_key("Movies", &id))
        );
        assert_eq!(
            recorded.incrementals[0].export.status,
            ExportState::InProgress
        );

        *store.export_state.lock().unwrap() = Some(ExportState::Failed);
        *store.recovery_window.lock().unwrap() =
            Some(window(t0 + day + time::Duration::minutes(10)));
        let third = run(NOW + day + time::Duration::minutes(15), "r3").await;
        assert_eq!(
            third.status,
            RunStatus::Partial,
            "a failed export is a failure"
        );
        let exports = store.exports.lock().unwrap().clone();
        assert_eq!(
            exports.len(),
            3,
            "the failed window started again, nothing new yet"
        );
        assert_eq!(exports[2].kind, exports[1].kind);
        assert_ne!(exports[2].client_token, exports[1].client_token);
        assert_eq!(chain(&function).incrementals[0].attempt, 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_period_is_exported_once_and_its_outcome_recorded() {
        use crate::export::{ExportEvery, ExportState};
        let store = MemoryStore::default();
        let function = BackupFunction::new(
            &store,
            &store,
            MemoryBucket::default(),
            with_exports(ExportEvery::Daily),
        );
        let run = |at: OffsetDateTime, id: &'static str| {
            let function = &function;
            async move {
                function
                    .handle(&tutorial_event(), &Invocation::new(id, at))
                    .await
                    .expect("run succeeds")
            }
        };
        let first = run(NOW, "r1").await;
        assert_eq!(
            export_step(&first),
            ("started", Some(ExportState::InProgress))
        );
        assert_eq!(first.status, RunStatus::Ok);
        {
            let exports = store.exports.lock().unwrap();
            assert_eq!(exports.len(), 1);
            assert_eq!(
                exports[0].table_arn,
                "arn:aws:dynamodb:us-east-1:1:table/Movies"
            );
            assert_eq!(
                (exports[0].bucket.as_str(), exports[0].prefix.as_str()),
                ("vault", "exports/Movies/2026-11-25")
            );
        }
        let key = "runs/Movies/exports/2026-11-25.json";
        let recorded =
            |function: &BackupFunction<&MemoryStore, &MemoryStore, MemoryBucket>| -> Value {
                function
                    .records
                    .json("logs", key)
                    .expect("the export record")
            };
        assert_eq!(recorded(&function)["status"], "IN_PROGRESS");
        // Beside the export, in its bucket: the table's definition, so that the export restores
        // without the table.
        let definition = function
            .records
            .json("vault", "exports/Movies/2026-11-25/table.json")
            .expect("the table's definition beside the export");
        let definition: crate::definition::TableDefinition =
            serde_json::from_value(definition).expect("a definition");
        assert_eq!(
            definition.table_arn,
            "arn:aws:dynamodb:us-east-1:1:table/Movies"
        );
        assert_eq!(
            definition.shape().keys,
            [("year", "HASH"), ("title", "RANGE")].map(|(a, r)| (a.to_owned(), r.to_owned()))
        );

        let later = NOW + time::Duration::minutes(1);
        let second = run(later, "r2").await;
        assert_eq!(
            export_step(&second),
            ("waiting", Some(ExportState::InProgress))
        );

        *store.export_state.lock().unwrap() = Some(ExportState::Completed);
        let third = run(later + time::Duration::minutes(30), "r3").await;
        assert_eq!(
            export_step(&third),
            ("finished", Some(ExportState::Completed))
        );
        let done = recorded(&function);
        assert_eq!(done["status"], "COMPLETED");
        assert_eq!(done["item_count"], 4609);
        assert_eq!(done["billed_size_bytes"], 1_234_567);
        assert_eq!(
            done["duration_seconds"],
            20 * 60,
            "from asking to DynamoDB's end"
        );
        let metrics = crate::metrics::of_run(&third);
        assert!(
            metrics
                .iter()
                .any(|m| m.name == crate::metrics::EXPORT_COMPLETED && m.value == 1.0)
        );

        let fourth = run(later + time::Duration::hours(2), "r4").await;
        assert_eq!(export_step(&fourth), ("done", Some(ExportState::Completed)));
        assert_eq!(
            store.exports.lock().unwrap().len(),
            1,
            "one export per period"
        );

        let next_day = run(NOW + time::Duration::days(1), "r5").await;
        assert_eq!(
            export_step(&next_day),
            ("started", Some(ExportState::InProgress))
        );
        let exports = store.exports.lock().unwrap();
        assert_eq!(exports[1].prefix, "exports/Movies/2026-11-26");
        assert_ne!(exports[0].client_token, exports[1].client_token);
    }

    fn previous_step(record: &RunRecord) -> Option<(&str, crate::export::ExportState)> {
        match record.previous_export.as_ref()? {
            ExportStep::Waiting { export } => Some(("waiting", export.status)),
            ExportStep::Finished { export } => Some(("finished", export.status)),
            other => panic!("the previous period's export is only ever checked: {other:?}"),
        }
    }

    /// DynamoDB's exports take minutes to hours ("ExportTableToPointInTime" runs asynchronously;
    /// DescribeExport reports IN_PROGRESS until it ends), so on a daily schedule yesterday's
    /// export is often still running at today's run. Today's export starts all the same: each
    /// day gets its export, none is skipped while another runs.
    #[tokio::test(start_paused = true)]
    async fn an_export_running_over_the_period_end_does_not_hold_back_the_next() {
        use crate::export::{ExportEvery, ExportState};
        let store = MemoryStore::default();
        let function = BackupFunction::new(
            &store,
            &store,
            MemoryBucket::default(),
            with_exports(ExportEvery::Daily),
        );
        let event = tutorial_event();
        let day = |n: i64| datetime!(2026-11-25 00:05:00 UTC) + time::Duration::days(n);
        let first = function
            .handle(&event, &Invocation::new("r1", day(0)))
            .await
            .unwrap();
        assert_eq!(first.previous_export, None);
        assert_eq!(
            export_step(&first),
            ("started", Some(ExportState::InProgress))
        );

        // A day later the first export is still IN_PROGRESS: checked, and the second started.
        let second = function
            .handle(&event, &Invocation::new("r2", day(1)))
            .await
            .unwrap();
        assert_eq!(
            previous_step(&second),
            Some(("waiting", ExportState::InProgress))
        );
        assert_eq!(
            export_step(&second),
            ("started", Some(ExportState::InProgress))
        );
        assert_eq!(second.status, RunStatus::Ok);
        {
            let exports = store.exports.lock().unwrap();
            let prefixes: Vec<&str> = exports.iter().map(|e| e.prefix.as_str()).collect();
            assert_eq!(
                prefixes,
                ["exports/Movies/2026-11-25", "exports/Movies/2026-11-26"]
            );
        }

        // The day after, the second export has failed: recorded and reported, and the third
        // day's export starts in the same run.
        *store.export_state.lock().unwrap() = Some(ExportState::Failed);
        let third = function
            .handle(&event, &Invocation::new("r3", day(2)))
            .await
            .unwrap();
        assert_eq!(
            previous_step(&third),
            Some(("finished", ExportState::Failed))
        );
        assert_eq!(
            export_step(&third),
            ("started", Some(ExportState::InProgress))
        );
        assert_eq!(
            third.status,
            RunStatus::Partial,
            "a failed export is reported"
        );
        assert_eq!(store.exports.lock().unwrap().len(), 3);
        let ledger = ledger(&function.records, "runs/Movies/daily/2026-11-27.json").unwrap();
        let line = ledger.runs.last().unwrap();
        assert_eq!(line.outcome, Outcome::Partial);
        assert!(
            line.error
                .as_deref()
                .unwrap_or_default()
                .contains("export of 2026-11-26 failed: S3NoSuchBucket"),
            "{line:?}"
        );
        let metrics = crate::metrics::of_run(&third);
        assert!(
            metrics
                .iter()
                .any(|m| m.name == crate::metrics::EXPORT_COMPLETED && m.value == 0.0)
        );

        // An export that completes over the boundary counts as completed in the next run.
        *store.export_state.lock().unwrap() = Some(ExportState::Completed);
        let fourth = function
            .handle(&event, &Invocation::new("r4", day(3)))
            .await
            .unwrap();
        assert_eq!(
            previous_step(&fourth),
            Some(("finished", ExportState::Completed))
        );
        assert_eq!(
            export_step(&fourth),
            ("started", Some(ExportState::InProgress))
        );
        assert!(
            crate::metrics::of_run(&fourth)
                .iter()
                .any(|m| m.name == crate::metrics::EXPORT_COMPLETED && m.value == 1.0)
        );
        assert_eq!(
            store.exports.lock().unwrap().len(),
            4,
            "one export for each of the four days"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_export_that_cannot_start_makes_the_run_partial() {
        let store = MemoryStore {
            fail_export: true,
            ..MemoryStore::default()
        };
        let function = BackupFunction::new(
            &store,
            &store,
            MemoryBucket::default(),
            with_exports(crate::export::ExportEvery::Weekly),
        );
        let record = function
            .handle(&tutorial_event(), &Invocation::new("r", NOW))
            .await
            .expect("the backup is made all the same");
        assert_eq!(record.status, RunStatus::Partial);
        assert_eq!(export_step(&record), ("error", None));
        let ExportStep::Error { error } = record.export.as_ref().unwrap() else {
            unreachable!()
        };
        assert!(
            error.contains("PointInTimeRecoveryUnavailableException"),
            "{error}"
        );
        assert_eq!(store.names().len(), 1, "the backup stands");
    }
}
