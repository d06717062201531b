//! A run over the tables a tag selects (`{"TableTag": ...}`): found now, backed up a few at a
//! time within DynamoDB's rates, each with its own record, one table's failure not stopping the
//! others.

use futures::{StreamExt, stream};
use serde::Serialize;
use serde_json::Value;
use tracing::{info, warn};

use super::listing::{Listing, ListingReport};
use super::{BackupFunction, DEADLINE_MARGIN, Invocation, RunError, RunRecord};
use crate::request::BackupRequest;
use crate::store::{BackupStore, RecordSink};
use crate::tables::Tables;

/// What a tagged table's AccessDeniedException most likely means: the role's `CreateBackup` is
/// conditioned on the tag, and DynamoDB evaluates tag conditions "as if no tags are present" in
/// an account or region where its attribute-based access control is not enabled (developer
/// guide, "Enabling ABAC in DynamoDB").
pub const ABAC_HINT: &str = "the role may back up only tables carrying the tag, and where DynamoDB's attribute-based access control (ABAC) is not enabled for this account and region tag conditions match no table: enable ABAC (DynamoDB console, Settings), or run `installer up` again with --no-tag-conditions";

/// At most this many tables backed up at once by a run over a tag (the pacers keep their calls
/// within DynamoDB's rates whatever this is).
const TABLE_CONCURRENCY: usize = 8;

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
}

impl<S: BackupStore, T: Tables, R: RecordSink> BackupFunction<S, T, R> {
    /// Backs up every table carrying `tag`, found now, up to [`TABLE_CONCURRENCY`] at once and
    /// within DynamoDB's per-account rates (the pacers); each table gets its own run record and
    /// ledger line, and one table's failure does not stop the others. A table whose turn comes
    /// too close to the deadline is left for the next run (a failure, so it shows). The
    /// event's other fields (`MaxBackups`, `MaxAgeDays`) apply to every table.
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
        let discover = |source| RunError::Discover {
            tag: tag.to_string(),
            source,
        };
        let found = crate::select::tagged_tables(&self.store, tag, &self.pacers.tags)
            .await
            .map_err(discover)?;
        let tables = found.tables;
        for (table, e) in &found.unreadable {
            warn!(table = %table, error = %e, "could not read the table's tags; it is left out of this run");
        }
        info!(tag = %tag, tables = tables.len(), unreadable = found.unreadable.len(), "tables selected by tag");
        let listing = Listing::for_tables(tables.len());
        let listing = &listing;
        let runs: Vec<(String, Result<RunRecord, RunError>)> = stream::iter(&tables)
            .map(|table| async move {
                let name = table.to_string();
                let late = invocation
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
        let mut result = TaggedRun {
            tag: tag.to_string(),
            selected: tables.iter().map(ToString::to_string).collect(),
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
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::time::Duration;

    use serde_json::json;

    use crate::fake::{MemoryBucket, MemoryStore, NOW};
    use crate::naming::TableName;
    use crate::retention::{Backup, BackupKind, BackupState};
    use crate::run::fixtures::{prod, settings};

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
        let event = json!({"TableTag": {"Key": "backup", "Value": "daily"}, "MaxBackups": 2});
        let tag = crate::select::TableTag::from_event(&event)
            .unwrap()
            .unwrap();
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
        let event = json!({"TableTag": {"Key": "backup", "Value": "daily"}});
        let tag = crate::select::TableTag::from_event(&event)
            .unwrap()
            .unwrap();
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
        let event = json!({"TableTag": {"Key": "backup", "Value": "daily"}});
        let tag = crate::select::TableTag::from_event(&event)
            .unwrap()
            .unwrap();
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
        let tagged = vec![("backup".to_owned(), "daily".to_owned())];
        let names: Vec<String> = (0..30).map(|i| format!("T{i:02}")).collect();
        let mut old = Vec::new();
        for table in &names {
            for hours in 1..=5 {
                let created = NOW - time::Duration::hours(hours);
                let name = TableName::parse(table)
                    .unwrap()
                    .backup_name(&prod(), created);
                old.push(Backup {
                    arn: format!("arn:aws:dynamodb:us-east-1:1:table/{table}/backup/{name}"),
                    name,
                    created,
                    state: BackupState::Available,
                    kind: BackupKind::User,
                });
            }
        }
        let store = MemoryStore {
            tables: names.iter().map(|t| (t.clone(), tagged.clone())).collect(),
            ..MemoryStore::with(old)
        };
        let function = BackupFunction::new(&store, &store, MemoryBucket::default(), settings(None));
        let event = json!({"TableTag": {"Key": "backup", "Value": "daily"}, "MaxBackups": 3});
        let tag = crate::select::TableTag::from_event(&event)
            .unwrap()
            .unwrap();
        let run = function
            .handle_tagged(&tag, &event, &Invocation::new("r", NOW))
            .await
            .unwrap();
        assert!(run.failures.is_empty(), "{:?}", run.failures);
        // 150 old backups and up to 8 new ones: two pages.
        assert_eq!(run.listing, ListingReport::Account { pages: 2 });
        let calls = store.calls();
        assert_eq!(calls.iter().filter(|c| *c == "list account").count(), 2);
        assert!(!calls.iter().any(|c| c == "list"), "no table listed alone");
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
        let tagged = vec![("backup".to_owned(), "daily".to_owned())];
        // Two tables, six old backups each: 2 × (6 + 1 − 3) = 8 deletions in all.
        let mut old = Vec::new();
        for table in ["A-table", "B-table"] {
            for hours in 1..=6 {
                let created = NOW - time::Duration::hours(hours);
                let name = TableName::parse(table)
                    .unwrap()
                    .backup_name(&prod(), created);
                old.push(Backup {
                    arn: format!("arn:{table}/backup/{name}"),
                    name,
                    created,
                    state: BackupState::Available,
                    kind: BackupKind::User,
                });
            }
        }
        let store = MemoryStore {
            tables: vec![
                ("A-table".to_owned(), tagged.clone()),
                ("B-table".to_owned(), tagged),
            ],
            ..MemoryStore::with(old)
        };
        let function = BackupFunction::new(&store, &store, MemoryBucket::default(), settings(None));
        let event = json!({"TableTag": {"Key": "backup", "Value": "daily"}});
        let tag = crate::select::TableTag::from_event(&event)
            .unwrap()
            .unwrap();
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
