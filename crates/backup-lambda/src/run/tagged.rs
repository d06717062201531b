//! A run over the tables a tag selects (`{"TableTag": ...}`): found now, backed up a few at a
//! time within DynamoDB's rates, each with its own record, one table's failure not stopping the
//! others.

use futures::{StreamExt, stream};
use serde::Serialize;
use serde_json::Value;
use tracing::{info, warn};

use std::time::Duration;

use super::continued::{self, Continuation, HandOn, LogicalRun, PendingDeletion, Skip, TakeOver};
use super::listing::{Listing, ListingReport};
use super::{BackupFunction, DEADLINE_MARGIN, Invocation, RunError, RunRecord};
use crate::continuer::Continuer;
use crate::naming::TableName;
use crate::request::BackupRequest;
use crate::store::{BackupStore, RecordSink, WriteIf};
use crate::tables::Tables;

/// What a tagged table's AccessDeniedException most likely means: the role's `CreateBackup` is
/// conditioned on the tag, and DynamoDB evaluates tag conditions "as if no tags are present" in
/// an account or region where its attribute-based access control is not enabled (developer
/// guide, "Enabling ABAC in DynamoDB").
pub const ABAC_HINT: &str = "the role may back up only tables carrying the tag, and where DynamoDB's attribute-based access control (ABAC) is not enabled for this account and region tag conditions match no table: enable ABAC (DynamoDB console, Settings), or run `installer up` again with --no-tag-conditions";

/// At most this many tables backed up at once by a run over a tag (the pacers keep their calls
/// within DynamoDB's rates whatever this is). Enough that DeleteBackup's ten a second, which
/// needs a table's deletions to begin every third of a second when each has three, never waits
/// on the other steps of a table (its fingerprint, CreateBackup, the records): a table may take
/// five seconds in all.
const TABLE_CONCURRENCY: usize = 16;

/// A table of a run over a tag that could not be backed up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableFailure {
    /// The table.
    pub table: String,
    /// The error's category (`errorType`).
    pub error_type: String,
    /// The error, in one line.
    pub error: String,
}

/// What a run over the tables a tag selects did: each table's record, and the failures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaggedRun {
    /// The tag, `key=value`.
    pub tag: String,
    /// The tables it selected, by name (not those whose tags could not be read: they are in
    /// `failures`).
    pub selected: Vec<String>,
    /// The record of each table backed up, by table name.
    pub records: Vec<RunRecord>,
    /// The tables that could not be.
    pub failures: Vec<TableFailure>,
    /// How the run listed the tables' backups.
    pub listing: ListingReport,
    /// With a log bucket: this invocation's part of the logical run.
    pub continuation: Option<PartOutcome>,
}

/// What a part of a logical run did, or why it did nothing (see [`super::continued`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum PartOutcome {
    /// The part ran.
    Ran {
        /// The logical run: its first invocation's request id.
        run: String,
        /// This part's number (1 for the scheduled invocation).
        part: u32,
        /// The run's tables, in all.
        tables: usize,
        /// The first table this part ran (an index into them).
        from: usize,
        /// How many tables this part ran.
        ran: usize,
        /// How many deletions earlier parts left this one finished.
        deletions_finished: usize,
        /// Deletions left for the next part.
        pending: usize,
        /// How the part handed on, if it did.
        handed_on: Option<HandOn>,
        /// Whether the run is finished.
        finished: bool,
        /// Tables that failed in any part so far.
        failed: Vec<String>,
        /// The unfinished run this one took over, if any.
        took_over: Option<TakeOver>,
    },
    /// The invocation did nothing.
    Skipped {
        /// The run its event named.
        run: String,
        /// The part its event named.
        part: u32,
        /// Why.
        why: Skip,
    },
}

/// Where a run over a tag keeps its state, and the state as read.
struct Saved {
    bucket: String,
    key: String,
    /// The version read or written last; `None` when there was none.
    etag: Option<String>,
}

/// A part stops starting tables once less than this share of the time it began with is left
/// (but at least [`MIN_RESERVE`] and at most [`MAX_RESERVE`]), leaving the tables under way time
/// to finish and itself time to hand on.
const RESERVE_SHARE: u32 = 10;
/// The least time kept back.
const MIN_RESERVE: Duration = Duration::from_secs(2);
/// The most time kept back.
const MAX_RESERVE: Duration = Duration::from_secs(30);

impl<S: BackupStore, T: Tables, R: RecordSink, C: Continuer> BackupFunction<S, T, R, C> {
    /// Backs up every table carrying `tag`, found now, up to [`TABLE_CONCURRENCY`] at once and
    /// within DynamoDB's per-account rates (the pacers); each table gets its own run record and
    /// ledger line, and one table's failure does not stop the others. The event's other fields
    /// (`MaxBackups`, `MaxAgeDays`) apply to every table.
    ///
    /// With a log bucket and a way to continue, the run is a logical run that may span
    /// invocations ([`super::continued`]): a part that is running out of time stops starting
    /// tables and hands the rest on. Without, a table whose turn comes too close to the deadline
    /// is left for the next run (a failure, so it shows).
    pub async fn handle_tagged(
        &self,
        tag: &crate::select::TableTag,
        event: &Value,
        invocation: &Invocation,
    ) -> Result<TaggedRun, RunError> {
        // The event's retention, checked before any call: one bad field fails the invocation,
        // not each table in turn.
        let policy = crate::request::policy_from_event(event, &self.settings.default_policy)
            .inspect_err(|e| warn!(error = %e, "rejected event"))?;
        let continuation =
            Continuation::from_event(event).inspect_err(|e| warn!(error = %e, "rejected event"))?;
        let bucket = self
            .settings
            .log_bucket
            .as_deref()
            .filter(|_| self.continuer.available());
        match (bucket, invocation.deadline, continuation) {
            (Some(bucket), Some(deadline), continuation) => {
                let saved = Saved {
                    bucket: bucket.to_owned(),
                    key: continued::key(tag),
                    etag: None,
                };
                self.run_part(
                    tag,
                    event,
                    policy,
                    invocation,
                    deadline,
                    saved,
                    continuation,
                )
                .await
            }
            (_, _, Some(continuation)) => {
                warn!(run = %continuation.run, part = continuation.part, "a continuation, but this function keeps no state to continue with; nothing to do");
                Ok(TaggedRun {
                    tag: tag.to_string(),
                    selected: Vec::new(),
                    records: Vec::new(),
                    failures: Vec::new(),
                    listing: ListingReport::PerTable,
                    continuation: Some(PartOutcome::Skipped {
                        run: continuation.run,
                        part: continuation.part,
                        why: Skip::Superseded { current: None },
                    }),
                })
            }
            (_, _, None) => {
                let found = self.discover(tag).await?;
                let listing = Listing::for_tables(found.tables.len());
                let tables = stream::iter(found.tables.clone());
                let running = self.run_tables(tables, policy, invocation, &listing, None);
                let (runs, _) = listing.alongside(&self.store, &self.pacers, running).await;
                Ok(self.assemble(tag, found, runs, &listing, None))
            }
        }
    }

    /// The tables carrying `tag` (see [`crate::select::tagged_tables`]).
    async fn discover(
        &self,
        tag: &crate::select::TableTag,
    ) -> Result<crate::select::Discovery, RunError> {
        let found = crate::select::tagged_tables(&self.store, tag, &self.pacers.tags)
            .await
            .map_err(|source| RunError::Discover {
                tag: tag.to_string(),
                source,
            })?;
        for (table, e) in &found.unreadable {
            warn!(table = %table, error = %e, "could not read the table's tags; it is left out of this run");
        }
        info!(tag = %tag, tables = found.tables.len(), unreadable = found.unreadable.len(), "tables selected by tag");
        Ok(found)
    }

    /// Runs `tables` in order as they come, up to [`TABLE_CONCURRENCY`] at once. With
    /// `stop_starting`, no table starts after it (the ones not started are not in the answer,
    /// and are always the last ones: tables start in order); without, a table whose turn comes
    /// too close to the deadline fails with `NoTimeLeft`.
    async fn run_tables(
        &self,
        tables: impl futures::Stream<Item = TableName>,
        policy: crate::retention::RetentionPolicy,
        invocation: &Invocation,
        listing: &Listing,
        stop_starting: Option<tokio::time::Instant>,
    ) -> (Vec<(String, Result<RunRecord, RunError>)>, usize) {
        let started = std::sync::atomic::AtomicUsize::new(0);
        let started_ref = &started;
        let runs = tables
            .take_while(|_| {
                let go = stop_starting.is_none_or(|at| tokio::time::Instant::now() <= at);
                std::future::ready(go)
            })
            .map(|table| async move {
                started_ref.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let name = table.to_string();
                let late = stop_starting.is_none()
                    && invocation
                        .deadline
                        .is_some_and(|d| tokio::time::Instant::now() + DEADLINE_MARGIN * 2 > d);
                if late {
                    let error = RunError::NoTimeLeft {
                        table: name.clone(),
                    };
                    return (name, Err(error));
                }
                let request = BackupRequest {
                    table: table.clone(),
                    policy,
                };
                (name, self.run(&request, invocation, listing).await)
            })
            .buffer_unordered(TABLE_CONCURRENCY)
            .collect()
            .await;
        (runs, started.into_inner())
    }

    /// One part of a logical run over `tag` (see [`super::continued`]): claims it in the state,
    /// finishes the deletions an earlier part left, runs tables from where the run got to
    /// until the time left runs short, then records how far it got and hands the rest on.
    #[allow(clippy::too_many_arguments)]
    async fn run_part(
        &self,
        tag: &crate::select::TableTag,
        event: &Value,
        policy: crate::retention::RetentionPolicy,
        invocation: &Invocation,
        deadline: tokio::time::Instant,
        mut saved: Saved,
        continuation: Option<Continuation>,
    ) -> Result<TaggedRun, RunError> {
        let reserve = (deadline.saturating_duration_since(tokio::time::Instant::now())
            / RESERVE_SHARE)
            .clamp(MIN_RESERVE, MAX_RESERVE);
        let previous = self.read_state(&mut saved).await;
        let claimed = match &continuation {
            None => Ok(LogicalRun::begin(
                previous.as_ref(),
                tag,
                &invocation.request_id,
                invocation.now,
            )),
            Some(c) => match &previous {
                None => Err(Skip::Superseded { current: None }),
                Some(state) => state.resume(c, &invocation.request_id, invocation.now),
            },
        };
        let claimed = match claimed {
            Ok(state) => match self.write_state(&mut saved, &state).await {
                true => Ok(state),
                false => Err(Skip::Raced),
            },
            Err(skip) => Err(skip),
        };
        let mut state = match claimed {
            Ok(state) => state,
            Err(why) => {
                let (run, part) =
                    continuation.map_or((invocation.request_id.clone(), 1), |c| (c.run, c.part));
                warn!(run = %run, part, why = ?why, "this part of the run does nothing");
                return Ok(TaggedRun {
                    tag: tag.to_string(),
                    selected: Vec::new(),
                    records: Vec::new(),
                    failures: Vec::new(),
                    listing: ListingReport::PerTable,
                    continuation: Some(PartOutcome::Skipped { run, part, why }),
                });
            }
        };
        let part = state.part().map_or(1, |p| p.number);
        info!(run = %state.run, part, from = state.next, tables = state.tables.len(), pending = state.pending.len(), took_over = ?state.took_over, discovering = state.discovery.is_some(), "a part of the run begins");
        let listed = self.list_candidates(tag, &mut state).await?;
        // The tables under way must be done, and their deletions stopped, in time to hand on.
        let soft = Invocation {
            deadline: Some(deadline - reserve / 2),
            ..invocation.clone()
        };
        let stop = deadline - reserve;
        // The tables found before and not yet run, then each table as discovery finds it:
        // ListTagsOfResource (10 a second) is limited apart from the backup calls, so tags are
        // read while the tables found run.
        let known: Vec<TableName> = state
            .tables
            .iter()
            .skip(state.next)
            .filter_map(|t| TableName::parse(t).ok())
            .collect();
        let unchecked: Vec<TableName> = state
            .unchecked()
            .iter()
            .filter_map(|t| TableName::parse(t).ok())
            .collect();
        let prefix = state
            .discovery
            .as_ref()
            .map(|p| p.prefix.clone())
            .unwrap_or_default();
        let listing = Listing::for_tables(known.len() + unchecked.len() + state.pending.len());
        let (found, arriving) = tokio::sync::mpsc::unbounded_channel();
        let reading = async {
            let checked = match unchecked.is_empty() {
                true => crate::select::Checked::default(),
                false => {
                    crate::select::check_tags(
                        &self.store,
                        tag,
                        &self.pacers.tags,
                        &prefix,
                        &unchecked,
                        Some(stop),
                        Some(&found),
                    )
                    .await
                }
            };
            // The runner's stream ends with the last table found.
            drop(found);
            checked
        };
        let running = async {
            let (deletions_finished, pending) = self
                .finish_deletions(&state.pending, &listing, soft.deadline)
                .await;
            let arriving = stream::unfold(arriving, |mut rx| async move {
                rx.recv().await.map(|table| (table, rx))
            });
            let tables = stream::iter(known).chain(arriving);
            let (runs, ran) = self
                .run_tables(tables, policy, &soft, &listing, Some(stop))
                .await;
            (deletions_finished, pending, runs, ran)
        };
        let running = listing.alongside(&self.store, &self.pacers, running);
        let (checked, (deletions_finished, mut pending, runs, ran)) =
            tokio::join!(reading, running);
        for (table, e) in &checked.unreadable {
            warn!(table = %table, error = %e, "could not read the table's tags; it is left out of this run");
        }
        let tagged: Vec<String> = checked.tagged.iter().map(ToString::to_string).collect();
        state.checked(checked.checked, &tagged);
        if let Some(progress) = &state.discovery {
            info!(tag = %tag, checked = progress.checked, of = progress.names.len(), tables = state.tables.len(), "tables looked at");
        } else if checked.checked > 0 || listed {
            info!(tag = %tag, tables = state.tables.len(), "tables selected by tag");
        }
        let discovered = listed || checked.checked > 0;
        let unreadable = checked.unreadable;
        for (_, run) in &runs {
            if let Ok(record) = run {
                pending.extend(record.deferred.iter().map(|name| PendingDeletion {
                    table: record.table.clone(),
                    name: name.clone(),
                }));
            }
        }
        let failed: Vec<String> = runs
            .iter()
            .filter(|(_, r)| r.is_err())
            .map(|(t, _)| t.clone())
            .chain(unreadable.iter().map(|(t, _)| t.to_string()))
            .collect();
        let pending_count = pending.len();
        let more = state.end_part(
            ran,
            deletions_finished,
            pending,
            failed,
            self.clock(invocation),
        );
        // A part that got nothing done would hand on for ever: the next scheduled run takes
        // the rest over instead.
        let progressed = ran > 0 || deletions_finished > 0 || discovered;
        let handed_on = if more && !progressed {
            warn!(run = %state.run, "this part got nothing done in its time; the next scheduled run takes the rest over");
            state.handed_on(HandOn::Failed {
                error: "the part got nothing done before its deadline".to_owned(),
            });
            let _ = self.write_state(&mut saved, &state).await;
            state.part().and_then(|p| p.handed_on.clone())
        } else if more {
            Some(self.hand_on(&mut saved, &mut state, event).await)
        } else {
            if !self.write_state(&mut saved, &state).await {
                warn!(run = %state.run, "another run took the state over; this one's end is not recorded");
            }
            info!(run = %state.run, part, parts = state.parts.len(), failed = state.failed.len(), "the run is finished");
            None
        };
        let discovery = crate::select::Discovery {
            tables: Vec::new(),
            unreadable,
        };
        let from = state.part().map_or(0, |p| p.from);
        let outcome = PartOutcome::Ran {
            run: state.run.clone(),
            part,
            tables: state.tables.len(),
            from,
            ran,
            deletions_finished,
            pending: pending_count,
            handed_on,
            finished: state.finished.is_some(),
            failed: state.failed.clone(),
            took_over: state.took_over.clone(),
        };
        let mut result = self.assemble(tag, discovery, runs, &listing, Some(outcome));
        result.selected = state.tables.clone();
        Ok(result)
    }

    /// Lists the account's tables, once per run, if its discovery has not yet: whether it did.
    async fn list_candidates(
        &self,
        tag: &crate::select::TableTag,
        state: &mut LogicalRun,
    ) -> Result<bool, RunError> {
        if state.discovery.as_ref().is_none_or(|p| p.listed) {
            return Ok(false);
        }
        let (names, prefix) = crate::select::candidates(&self.store)
            .await
            .map_err(|source| RunError::Discover {
                tag: tag.to_string(),
                source,
            })?
            .unwrap_or_default();
        state.listed(names.iter().map(ToString::to_string).collect(), prefix);
        Ok(true)
    }

    /// The wall-clock time now, by the invocation's clock.
    fn clock(&self, invocation: &Invocation) -> time::OffsetDateTime {
        invocation.clock()
    }

    /// Writes the state with this part handed on, then queues the next part; a state that
    /// another run has taken over is not handed on.
    async fn hand_on(&self, saved: &mut Saved, state: &mut LogicalRun, event: &Value) -> HandOn {
        state.handed_on(HandOn::Invoked);
        if !self.write_state(saved, state).await {
            let error = "another run took the state over before this part could hand on".to_owned();
            warn!(run = %state.run, "{error}");
            return HandOn::Failed { error };
        }
        let next = state.next_continuation();
        match self.continuer.invoke_async(&next.event(event)).await {
            Ok(()) => {
                info!(run = %state.run, part = next.part, from = state.next, "handed the rest of the run on");
                HandOn::Invoked
            }
            Err(e) => {
                warn!(run = %state.run, error = %e, "could not hand the rest of the run on; the next scheduled run takes it over");
                let how = HandOn::Failed {
                    error: e.to_string(),
                };
                state.handed_on(how.clone());
                let _ = self.write_state(saved, state).await;
                how
            }
        }
    }

    /// Deletes the backups earlier parts had no time for (found by name in the listing),
    /// before `deadline`: how many were done, and those left.
    async fn finish_deletions(
        &self,
        pending: &[PendingDeletion],
        listing: &Listing,
        deadline: Option<tokio::time::Instant>,
    ) -> (usize, Vec<PendingDeletion>) {
        let mut due = Vec::new();
        for deletion in pending {
            let Ok(table) = TableName::parse(&deletion.table) else {
                continue;
            };
            match listing.backups(&self.store, &self.pacers, &table).await {
                Ok(backups) => due.extend(
                    backups
                        .into_iter()
                        .filter(|b| b.name == deletion.name)
                        .map(|b| (deletion.clone(), b)),
                ),
                Err(e) => {
                    warn!(table = %table, error = %e, "could not list the table's backups to finish its deletions; the next run's retention will");
                }
            }
        }
        let backups: Vec<crate::retention::Backup> = due.iter().map(|(_, b)| b.clone()).collect();
        let mut done = 0;
        let mut left = Vec::new();
        for (backup, result) in self.delete_all(&backups, deadline).await {
            match result {
                super::DeleteResult::Deferred => {
                    if let Some((d, _)) = due.iter().find(|(_, b)| b.arn == backup.arn) {
                        left.push(d.clone());
                    }
                }
                super::DeleteResult::Deleted => done += 1,
                super::DeleteResult::InUse | super::DeleteResult::Failed(_) => {
                    warn!(backup = %backup.name, "a deletion left by an earlier part could not be done; the next run's retention tries again");
                }
            }
        }
        (done, left)
    }

    /// The run's state as stored (remembering its version in `saved`); `None` when there is
    /// none, or it cannot be read or understood (a new run then starts over it).
    async fn read_state(&self, saved: &mut Saved) -> Option<LogicalRun> {
        match self.records.read_record(&saved.bucket, &saved.key).await {
            Ok(Some(stored)) => {
                saved.etag = Some(stored.etag);
                serde_json::from_slice(&stored.body)
                    .inspect_err(|e| warn!(key = %saved.key, error = %e, "the run's state is not one this version wrote; starting over it"))
                    .ok()
            }
            Ok(None) => None,
            // Without s3:ListBucket a missing key reads as AccessDenied.
            Err(e) if e.is("AccessDenied") => None,
            Err(e) => {
                warn!(key = %saved.key, error = %e, "could not read the run's state");
                None
            }
        }
    }

    /// Writes `state` if the stored one is still the version last read or written; whether it
    /// was written.
    async fn write_state(&self, saved: &mut Saved, state: &LogicalRun) -> bool {
        let body = serde_json::to_vec(state).expect("a run's state is strings, numbers and lists");
        let when = saved
            .etag
            .as_deref()
            .map_or(WriteIf::Absent, WriteIf::Unchanged);
        match self
            .records
            .put_record_if(&saved.bucket, &saved.key, body.clone(), when)
            .await
        {
            Ok(true) => {}
            Ok(false) => return false,
            Err(e) => {
                warn!(key = %saved.key, error = %e, "could not write the run's state");
                return false;
            }
        }
        // The new version's ETag, for the next conditional write.
        match self.records.read_record(&saved.bucket, &saved.key).await {
            Ok(Some(stored)) if stored.body == body => {
                saved.etag = Some(stored.etag);
                true
            }
            _ => false,
        }
    }

    /// The invocation's result from each table's run.
    fn assemble(
        &self,
        tag: &crate::select::TableTag,
        found: crate::select::Discovery,
        runs: Vec<(String, Result<RunRecord, RunError>)>,
        listing: &Listing,
        continuation: Option<PartOutcome>,
    ) -> TaggedRun {
        let mut result = TaggedRun {
            tag: tag.to_string(),
            selected: found.tables.iter().map(ToString::to_string).collect(),
            records: Vec::new(),
            failures: found
                .unreadable
                .into_iter()
                .map(|(table, e)| TableFailure {
                    table: table.to_string(),
                    error_type: e
                        .code
                        .clone()
                        .unwrap_or_else(|| format!("{}Failed", e.operation)),
                    error: format!("could not read its tags, so it was not backed up: {e}"),
                })
                .collect(),
            listing: listing.report(),
            continuation,
        };
        for (table, run) in runs {
            match run {
                Ok(record) => result.records.push(record),
                Err(e) => result.failures.push(TableFailure {
                    table,
                    error_type: e.error_type(),
                    error: match &e {
                        RunError::CreateBackup { source, .. }
                            if source.is("AccessDeniedException") =>
                        {
                            format!("{e}; {ABAC_HINT}")
                        }
                        _ => e.to_string(),
                    },
                }),
            }
        }
        result.records.sort_by(|a, b| a.table.cmp(&b.table));
        result.failures.sort_by(|a, b| a.table.cmp(&b.table));
        result
    }
}

impl TaggedRun {
    /// Whether the invocation fails, and with which failures: a part that handed the rest on
    /// does not (its failures are in the run's state; the part that finishes the run fails if
    /// any part had a failure), any other run does when a table failed.
    pub fn failed(&self) -> Option<(usize, String)> {
        let first = self
            .failures
            .first()
            .map(|f| format!("{}: {}", f.table, f.error));
        match &self.continuation {
            Some(PartOutcome::Ran {
                handed_on: Some(HandOn::Invoked),
                ..
            })
            | Some(PartOutcome::Skipped { .. }) => None,
            Some(PartOutcome::Ran { failed, .. }) if !failed.is_empty() => Some((
                failed.len(),
                first.unwrap_or_else(|| format!("{} (in an earlier part)", failed[0])),
            )),
            _ => first.map(|f| (self.failures.len(), f)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::time::Duration;

    use serde_json::json;

    use crate::fake::{MemoryBucket, MemoryContinuer, MemoryStore, NOW};
    use crate::naming::TableName;
    use crate::retention::{Backup, BackupKind, BackupState};
    use crate::run::fixtures::{prod, settings};

    /// The schedule's event for the tables tagged `backup=daily` (with `MaxBackups` when
    /// given), and its tag.
    fn daily(max_backups: Option<u32>) -> (Value, crate::select::TableTag) {
        let mut event = json!({"TableTag": {"Key": "backup", "Value": "daily"}});
        if let Some(n) = max_backups {
            event["MaxBackups"] = json!(n);
        }
        let tag = crate::select::TableTag::from_event(&event)
            .unwrap()
            .unwrap();
        (event, tag)
    }

    /// `tables` tables tagged `backup=daily`, each with `old` backups of the stack's, made
    /// 1 to `old` hours before [`NOW`].
    fn tagged_account(tables: usize, old: i64) -> MemoryStore {
        let tagged = vec![("backup".to_owned(), "daily".to_owned())];
        let names: Vec<String> = (0..tables).map(|i| format!("T{i:02}")).collect();
        let mut backups = Vec::new();
        for table in &names {
            for hours in 1..=old {
                let created = NOW - time::Duration::hours(hours);
                let name = TableName::parse(table)
                    .unwrap()
                    .backup_name(&prod(), created);
                backups.push(Backup {
                    arn: format!("arn:aws:dynamodb:us-east-1:1:table/{table}/backup/{name}"),
                    name,
                    created,
                    state: BackupState::Available,
                    kind: BackupKind::User,
                });
            }
        }
        MemoryStore {
            tables: names.iter().map(|t| (t.clone(), tagged.clone())).collect(),
            ..MemoryStore::with(backups)
        }
    }

    /// How many backups of `table` were made (CreateBackup calls).
    fn made(store: &MemoryStore, table: &str) -> usize {
        let prefix = format!("create {table}-");
        store
            .calls()
            .iter()
            .filter(|c| c.starts_with(&prefix))
            .count()
    }

    /// How many backups `table` has now.
    fn left(store: &MemoryStore, table: &str) -> usize {
        let prefix = format!("{table}-");
        store
            .backups
            .lock()
            .unwrap()
            .iter()
            .filter(|b| b.name.starts_with(&prefix))
            .count()
    }

    /// An invocation `request` at `now` that Lambda stops `seconds` after it starts.
    fn invocation(request: &str, now: time::OffsetDateTime, seconds: u64) -> Invocation {
        Invocation::new(request, now)
            .with_deadline(tokio::time::Instant::now() + Duration::from_secs(seconds))
    }

    /// Delivers each queued continuation in turn (a new request each) until none is left: the
    /// results of every part, from `first` on.
    async fn follow<C: Continuer>(
        function: &BackupFunction<&MemoryStore, &MemoryStore, &MemoryBucket, C>,
        continuer: &MemoryContinuer,
        tag: &crate::select::TableTag,
        first: TaggedRun,
        now: time::OffsetDateTime,
        seconds: u64,
    ) -> Vec<TaggedRun> {
        let mut parts = vec![first];
        while let Some(event) = continuer.take().pop() {
            let request = format!("cont-{}", parts.len() + 1);
            let part = function
                .handle_tagged(tag, &event, &invocation(&request, now, seconds))
                .await
                .expect("a continuation runs");
            parts.push(part);
        }
        parts
    }

    fn ran(part: &TaggedRun) -> usize {
        match &part.continuation {
            Some(PartOutcome::Ran { ran, .. }) => *ran,
            other => panic!("{other:?}"),
        }
    }

    /// 60 tables keeping 2 of 5 backups: 180 deletions at DynamoDB's ten a second, 18 s at
    /// least, in invocations Lambda stops after 8 s.
    #[tokio::test(start_paused = true)]
    async fn a_run_cut_at_its_deadline_continues_and_finishes_exactly_once_per_table() {
        let store = tagged_account(60, 4);
        let bucket = MemoryBucket::default();
        let continuer = MemoryContinuer::default();
        let function = BackupFunction::new(&store, &store, &bucket, settings(Some("logs")))
            .continuing_with(&continuer);
        let (event, tag) = daily(Some(2));
        let first = function
            .handle_tagged(&tag, &event, &invocation("sched-1", NOW, 8))
            .await
            .unwrap();
        assert!(
            first.failed().is_none(),
            "a part that hands on does not fail: {:?}",
            first.continuation
        );
        let parts = follow(&function, &continuer, &tag, first, NOW, 8).await;
        assert!(parts.len() >= 3, "{} parts", parts.len());
        let total: usize = parts.iter().map(ran).sum();
        assert_eq!(total, 60, "every table run once");
        for table in (0..60).map(|i| format!("T{i:02}")) {
            assert_eq!(made(&store, &table), 1, "{table}: one backup made");
            assert_eq!(left(&store, &table), 2, "{table}: exactly 2 kept");
        }
        let last = parts.last().unwrap();
        match &last.continuation {
            Some(PartOutcome::Ran {
                finished: true,
                handed_on: None,
                part,
                failed,
                ..
            }) => {
                assert_eq!(*part as usize, parts.len());
                assert!(failed.is_empty(), "{failed:?}");
            }
            other => panic!("{other:?}"),
        }
        // One record per table, all of the logical run.
        let records = bucket.run_records();
        assert_eq!(records.len(), 60);
        let state: continued::LogicalRun = serde_json::from_slice(
            &bucket
                .read_record("logs", &continued::key(&tag))
                .await
                .unwrap()
                .unwrap()
                .body,
        )
        .unwrap();
        assert_eq!(state.run, "sched-1");
        assert_eq!(state.parts.len(), parts.len());
        assert!(state.finished.is_some());
        assert!(state.pending.is_empty());
    }

    /// ListTagsOfResource is ten a second per account: 70 tables' tags take 7 s, in
    /// invocations that stop starting work after 1 s. Discovery goes on part after part, each
    /// table's tags read once, and each tagged table found is backed up (once) while the
    /// others' tags are still read.
    #[tokio::test(start_paused = true)]
    async fn a_discovery_longer_than_an_invocation_goes_on_in_the_next_part() {
        let mut store = tagged_account(50, 0);
        store
            .tables
            .extend((0..20).map(|i| (format!("U{i:02}"), Vec::new())));
        let bucket = MemoryBucket::default();
        let continuer = MemoryContinuer::default();
        let function = BackupFunction::new(&store, &store, &bucket, settings(Some("logs")))
            .continuing_with(&continuer);
        let (event, tag) = daily(None);
        let first = function
            .handle_tagged(&tag, &event, &invocation("sched-1", NOW, 3))
            .await
            .unwrap();
        assert!(ran(&first) > 0, "tables found ran while tags were read");
        assert!(first.selected.len() < 50, "{} found", first.selected.len());
        assert!(
            matches!(
                first.continuation,
                Some(PartOutcome::Ran {
                    finished: false,
                    handed_on: Some(HandOn::Invoked),
                    ..
                })
            ),
            "{:?}",
            first.continuation
        );
        let parts = follow(&function, &continuer, &tag, first, NOW, 3).await;
        assert!(parts.len() >= 5, "{} parts", parts.len());
        assert_eq!(
            store.tag_calls.lock().unwrap().len(),
            70,
            "each table's tags read once"
        );
        assert_eq!(parts.iter().map(ran).sum::<usize>(), 50);
        for i in 0..50 {
            assert_eq!(made(&store, &format!("T{i:02}")), 1);
        }
        for i in 0..20 {
            assert_eq!(made(&store, &format!("U{i:02}")), 0);
        }
        let last = parts.last().unwrap();
        assert_eq!(last.selected.len(), 50);
        assert!(matches!(
            last.continuation,
            Some(PartOutcome::Ran { finished: true, .. })
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn a_continuation_delivered_twice_runs_once() {
        let store = tagged_account(30, 4);
        let bucket = MemoryBucket::default();
        let continuer = MemoryContinuer::default();
        let function = BackupFunction::new(&store, &store, &bucket, settings(Some("logs")))
            .continuing_with(&continuer);
        let (event, tag) = daily(Some(2));
        function
            .handle_tagged(&tag, &event, &invocation("sched-1", NOW, 5))
            .await
            .unwrap();
        let queued = continuer.take();
        assert_eq!(queued.len(), 1, "one continuation");
        let again = queued[0].clone();
        let second = function
            .handle_tagged(&tag, &again, &invocation("cont-a", NOW, 5))
            .await
            .unwrap();
        assert!(matches!(
            second.continuation,
            Some(PartOutcome::Ran { part: 2, .. })
        ));
        let calls = store.calls().len();
        let twice = function
            .handle_tagged(&tag, &again, &invocation("cont-b", NOW, 5))
            .await
            .unwrap();
        assert_eq!(
            twice.continuation,
            Some(PartOutcome::Skipped {
                run: "sched-1".into(),
                part: 2,
                why: Skip::Duplicate {
                    claimed_by: "cont-a".into()
                }
            })
        );
        assert_eq!(store.calls().len(), calls, "the duplicate called nothing");
        assert!(twice.failed().is_none());
    }

    /// The first part's continuation is lost (Invoke refused); the next scheduled run, a day
    /// later, runs the tables the first had not reached first and every table once; a late
    /// delivery of the old run's part finds the state another run's.
    #[tokio::test(start_paused = true)]
    async fn a_lost_continuation_is_finished_by_the_next_scheduled_run() {
        let store = tagged_account(40, 4);
        let bucket = MemoryBucket::default();
        let refusing = MemoryContinuer {
            fail: true,
            ..MemoryContinuer::default()
        };
        let (event, tag) = daily(Some(2));
        let lost = BackupFunction::new(&store, &store, &bucket, settings(Some("logs")))
            .continuing_with(&refusing);
        let first = lost
            .handle_tagged(&tag, &event, &invocation("sched-1", NOW, 8))
            .await
            .unwrap();
        let reached = ran(&first);
        // Backups start quickly and deletions go ten a second: the part may have started every
        // table and left deletions, or not reached some tables; either way it had more to do.
        let left = match &first.continuation {
            Some(PartOutcome::Ran { pending, .. }) => *pending + (40 - reached),
            other => panic!("{other:?}"),
        };
        assert!(left > 0, "the first part could not finish");
        assert!(
            matches!(
                &first.continuation,
                Some(PartOutcome::Ran {
                    handed_on: Some(HandOn::Failed { .. }),
                    ..
                })
            ),
            "{:?}",
            first.continuation
        );
        let continuer = MemoryContinuer::default();
        let function = BackupFunction::new(&store, &store, &bucket, settings(Some("logs")))
            .continuing_with(&continuer);
        let tomorrow = NOW + time::Duration::days(1);
        let next = function
            .handle_tagged(&tag, &event, &invocation("sched-2", tomorrow, 600))
            .await
            .unwrap();
        let parts = follow(&function, &continuer, &tag, next, tomorrow, 600).await;
        match &parts[0].continuation {
            Some(PartOutcome::Ran {
                took_over: Some(taken),
                ..
            }) => {
                assert_eq!(taken.run, "sched-1");
                assert!(taken.tables_left >= (40 - reached).max(1), "{taken:?}");
            }
            other => panic!("{other:?}"),
        }
        let total: usize = parts.iter().map(ran).sum();
        assert_eq!(total, 40, "the second run ran every table once");
        let names: Vec<String> = (0..40).map(|i| format!("T{i:02}")).collect();
        let once = names.iter().filter(|t| made(&store, t) == 1).count();
        assert_eq!(
            once,
            40 - reached,
            "the tables the first run had not reached were backed up once, by the second"
        );
        assert!(names.iter().all(|t| (1..=2).contains(&made(&store, t))));
        // The old run's part 2, delivered late after all: nothing.
        let late = Continuation {
            run: "sched-1".into(),
            part: 2,
        }
        .event(&event);
        let calls = store.calls().len();
        let skipped = function
            .handle_tagged(&tag, &late, &invocation("late", tomorrow, 600))
            .await
            .unwrap();
        assert!(
            matches!(
                skipped.continuation,
                Some(PartOutcome::Skipped {
                    why: Skip::Superseded { .. },
                    ..
                })
            ),
            "{:?}",
            skipped.continuation
        );
        assert_eq!(store.calls().len(), calls);
    }

    #[tokio::test(start_paused = true)]
    async fn a_tag_selects_tables_and_one_failing_does_not_stop_the_others() {
        let tagged = || vec![("backup".to_owned(), "daily".to_owned())];
        let store = MemoryStore {
            tables: vec![
                ("Orders".to_owned(), tagged()),
                ("Movies".to_owned(), tagged()),
                ("Scratch".to_owned(), vec![]),
                (
                    "Weekly".to_owned(),
                    vec![("backup".to_owned(), "weekly".to_owned())],
                ),
                ("Broken".to_owned(), tagged()),
            ],
            fail_tables: HashSet::from(["Broken".to_owned()]),
            ..MemoryStore::default()
        };
        let function = BackupFunction::new(
            &store,
            &store,
            MemoryBucket::default(),
            settings(Some("logs")),
        );
        let (event, tag) = daily(Some(2));
        let run = function
            .handle_tagged(&tag, &event, &Invocation::new("r", NOW))
            .await
            .expect("the selection itself works");
        assert_eq!(run.selected, ["Broken", "Movies", "Orders"]);
        let backed_up: Vec<&str> = run.records.iter().map(|r| r.table.as_str()).collect();
        assert_eq!(backed_up, ["Movies", "Orders"]);
        assert!(
            run.records.iter().all(|r| r.policy.max_backups == 2),
            "the event's overrides apply"
        );
        assert_eq!(run.failures.len(), 1);
        assert_eq!(run.failures[0].table, "Broken");
        let calls = store.calls();
        assert!(
            !calls
                .iter()
                .any(|c| c.contains("Scratch") || c.contains("Weekly")),
            "{calls:?}"
        );
        let records = function.records.run_records();
        let keys: Vec<&str> = records.iter().map(|(_, k, _)| k.as_str()).collect();
        assert!(
            keys.contains(&"runs/Movies/2026/11/25/070532-r.json"),
            "{keys:?}"
        );
        assert!(
            keys.contains(&"runs/Orders/2026/11/25/070532-r.json"),
            "{keys:?}"
        );
    }

    /// ListTagsOfResource: "You can call ListTagsOfResource up to 10 times per second, per
    /// account" (API reference). Discovery keeps to it, and a table whose tags cannot be read is
    /// that table's failure, not the whole run's.
    #[tokio::test(start_paused = true)]
    async fn discovery_paces_tag_reads_and_an_unreadable_table_fails_alone() {
        let tagged = || vec![("backup".to_owned(), "daily".to_owned())];
        let mut tables: Vec<(String, Vec<(String, String)>)> =
            (0..12).map(|i| (format!("T{i:02}"), tagged())).collect();
        tables.push(("Hidden".to_owned(), tagged()));
        let store = MemoryStore {
            tables,
            unreadable_tags: HashSet::from(["Hidden".to_owned()]),
            ..MemoryStore::default()
        };
        let function = BackupFunction::new(&store, &store, MemoryBucket::default(), settings(None));
        let (event, tag) = daily(None);
        let run = function
            .handle_tagged(&tag, &event, &Invocation::new("r", NOW))
            .await
            .expect("discovery itself works");
        assert_eq!(run.records.len(), 12, "every readable table is backed up");
        assert_eq!(run.failures.len(), 1);
        assert_eq!(run.failures[0].table, "Hidden");
        assert!(
            run.failures[0].error.contains("could not read its tags"),
            "{:?}",
            run.failures[0]
        );
        let calls = store.tag_calls.lock().unwrap().clone();
        assert_eq!(calls.len(), 13);
        let closest = calls
            .windows(2)
            .map(|w| w[1].saturating_duration_since(w[0]))
            .min()
            .unwrap();
        assert!(
            closest >= Duration::from_millis(100),
            "tag reads {closest:?} apart: over 10 a second"
        );
    }

    /// A tagged table whose backup is denied: most likely the account has no ABAC for DynamoDB,
    /// so the role's tag condition matches nothing. The failure says so, and what to do.
    #[tokio::test(start_paused = true)]
    async fn a_denied_tagged_table_names_abac_and_the_way_out() {
        let tagged = vec![("backup".to_owned(), "daily".to_owned())];
        let store = MemoryStore {
            tables: vec![("Orders".to_owned(), tagged)],
            denied_tables: HashSet::from(["Orders".to_owned()]),
            ..MemoryStore::default()
        };
        let function = BackupFunction::new(&store, &store, MemoryBucket::default(), settings(None));
        let (event, tag) = daily(None);
        let run = function
            .handle_tagged(&tag, &event, &Invocation::new("r", NOW))
            .await
            .unwrap();
        let failure = &run.failures[0];
        assert_eq!(failure.error_type, "AccessDeniedException");
        assert!(
            failure.error.contains("ABAC") && failure.error.contains("--no-tag-conditions"),
            "{failure:?}"
        );
    }

    /// ListBackups is five calls a second per account: a run over many tables lists the
    /// account once (100 a page) instead of each table, and retention is exactly as per table.
    #[tokio::test(start_paused = true)]
    async fn a_run_over_many_tables_lists_the_accounts_backups_once() {
        let store = tagged_account(30, 5);
        let names: Vec<String> = (0..30).map(|i| format!("T{i:02}")).collect();
        let function = BackupFunction::new(&store, &store, MemoryBucket::default(), settings(None));
        let (event, tag) = daily(Some(3));
        let run = function
            .handle_tagged(&tag, &event, &Invocation::new("r", NOW))
            .await
            .unwrap();
        assert!(run.failures.is_empty(), "{:?}", run.failures);
        // 150 old backups and up to 16 new ones: two pages, listed from the run's start; the
        // first tables, finding DeleteBackup idle, listed themselves one at a time until their
        // deletions queued up; the rest used the account's listing.
        let calls = store.calls();
        let alone = calls.iter().filter(|c| *c == "list").count();
        assert_eq!(run.listing, ListingReport::Account { pages: 2, alone });
        assert_eq!(calls.iter().filter(|c| *c == "list account").count(), 2);
        assert!(alone <= 4, "{alone} tables listed alone");
        for table in &names {
            let left = lock_backups(&store)
                .iter()
                .filter(|b| b.name.starts_with(&format!("{table}-")))
                .count();
            assert_eq!(left, 3, "{table} keeps exactly 3");
        }
    }

    fn lock_backups(store: &MemoryStore) -> Vec<Backup> {
        store.backups.lock().unwrap().clone()
    }

    #[tokio::test(start_paused = true)]
    async fn deletions_of_many_tables_share_dynamodbs_ten_a_second() {
        // Two tables, six old backups each: 2 × (6 + 1 − 3) = 8 deletions in all.
        let store = tagged_account(2, 6);
        let function = BackupFunction::new(&store, &store, MemoryBucket::default(), settings(None));
        let (event, tag) = daily(None);
        let started = tokio::time::Instant::now();
        let run = function
            .handle_tagged(&tag, &event, &Invocation::new("r", NOW))
            .await
            .unwrap();
        let deleted: usize = run.records.iter().map(|r| r.deleted.len()).sum();
        assert_eq!(deleted, 8);
        // Eight deletions one per 110 ms across both tables: the last starts 0.77 s in.
        assert!(
            started.elapsed() >= Duration::from_millis(770),
            "{:?}",
            started.elapsed()
        );
    }
}
