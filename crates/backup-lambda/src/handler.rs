//! One invocation, end to end, generic over the ports as in aws-lambda-rust-runtime's
//! examples: the table's run (or a tag's runs), each one's metrics, and a drill step. `main`
//! only builds the AWS ports and hands each event here; tests hand it the in-memory ones.

use std::time::Duration;

use lambda_runtime::Diagnostic;
use serde_json::Value;
use time::OffsetDateTime;

use crate::continuer::{Continuer, NoContinuer};
use crate::drill::{Drill, StepLimits};
use crate::metrics;
use crate::naming::TableName;
use crate::request::Settings;
use crate::run::{BackupFunction, Invocation, RunError};
use crate::select::TableTag;
use crate::store::{BackupStore, RecordSink};
use crate::tables::Tables;

/// How long before the deadline a drill stops waiting for its restore, leaving the run time to
/// answer.
const DRILL_MARGIN: Duration = Duration::from_secs(5);
/// How long one run waits for a drill's restore at most; later runs check on it.
const DRILL_WAIT: Duration = Duration::from_secs(30);

/// Lambda's view of a failed run: `errorType` is the AWS error code or `InvalidEvent`.
#[derive(Debug)]
pub struct Failure(pub RunError);

impl From<Failure> for Diagnostic {
    fn from(Failure(err): Failure) -> Self {
        Diagnostic {
            error_type: err.error_type(),
            error_message: err.to_string(),
        }
    }
}

/// The function with its drills, built once at cold start.
pub struct Handler<S, T, R, C = NoContinuer> {
    function: BackupFunction<S, T, R, C>,
    /// Drills keep their state beside the run records, so there are none without a log bucket.
    drill: Option<Drill<S, T, R>>,
    /// The metrics' `Stack` dimension: the function's name.
    stack: String,
}

impl<S: BackupStore + Clone, T: Tables + Clone, R: RecordSink + Clone> Handler<S, T, R> {
    /// Puts the handler together: `stack` is the function's name (the metrics' dimension).
    pub fn new(store: S, tables: T, records: R, settings: Settings, stack: &str) -> Self {
        let drill = match (&settings.drill, &settings.log_bucket) {
            (Some(drill), Some(bucket)) => Some(Drill::new(
                store.clone(),
                tables.clone(),
                records.clone(),
                bucket,
                *drill,
                settings.ownership.clone(),
            )),
            _ => None,
        };
        Self {
            function: BackupFunction::new(store, tables, records, settings),
            drill,
            stack: stack.to_owned(),
        }
    }
}

impl<S: BackupStore + Clone, T: Tables + Clone, R: RecordSink + Clone, C: Continuer>
    Handler<S, T, R, C>
{
    /// The same handler, continuing runs over a tag that outlast their invocation through
    /// `continuer` (see [`crate::run::continued`]).
    pub fn continuing_with<D: Continuer>(self, continuer: D) -> Handler<S, T, R, D> {
        Handler {
            function: self.function.continuing_with(continuer),
            drill: self.drill,
            stack: self.stack,
        }
    }

    /// Handles one event: `{"TableName": ...}` or `{"TableTag": ...}`.
    pub async fn handle(&self, payload: &Value, invocation: &Invocation) -> Result<Value, Failure> {
        let tag = TableTag::from_event(payload).map_err(|e| Failure(RunError::InvalidEvent(e)))?;
        match tag {
            Some(tag) => self.serve_tagged(&tag, payload, invocation).await,
            None => self.serve_one(payload, invocation).await,
        }
    }

    /// One table's run (`{"TableName": ...}`): the backup, its metrics, and a drill step.
    async fn serve_one(&self, payload: &Value, invocation: &Invocation) -> Result<Value, Failure> {
        let stack = self.stack.as_str();
        let record = match self.function.handle(payload, invocation).await {
            Ok(record) => record,
            Err(err) => {
                emit_failure_metrics(stack, &err, invocation.now);
                return Err(Failure(err));
            }
        };
        metrics::emit(
            stack,
            &record.table,
            invocation.now,
            &metrics::of_run(&record),
        );
        let mut result = to_json(&record);
        if let (Some(drill), Ok(table)) = (&self.drill, TableName::parse(&record.table)) {
            // A drill waits for its restore within the run for a little while (a small table
            // restores in that time, giving an exact recovery time), never near the deadline,
            // and never so long that the run holds up the next scheduled one.
            let soon = tokio::time::Instant::now() + DRILL_WAIT;
            let limits = StepLimits {
                wait_until: invocation.deadline.map(|d| (d - DRILL_MARGIN).min(soon)),
                count_until: invocation.deadline.map(|d| d - DRILL_MARGIN),
            };
            result["drill"] = self.drill_step(drill, &table, invocation.now, limits).await;
        }
        Ok(result)
    }

    /// A run over the tables a tag selects (`{"TableTag": ...}`): each table's backup and
    /// metrics, its drill step (without waiting), and a failed invocation if any table failed.
    async fn serve_tagged(
        &self,
        tag: &TableTag,
        payload: &Value,
        invocation: &Invocation,
    ) -> Result<Value, Failure> {
        let stack = self.stack.as_str();
        let run = self
            .function
            .handle_tagged(tag, payload, invocation)
            .await
            .map_err(Failure)?;
        for record in &run.records {
            metrics::emit(
                stack,
                &record.table,
                invocation.now,
                &metrics::of_run(record),
            );
        }
        for failure in &run.failures {
            metrics::emit(
                stack,
                &failure.table,
                invocation.now,
                &metrics::of_failed_run(),
            );
        }
        let mut result = to_json(&run);
        if let Some(drill) = &self.drill {
            let mut steps = serde_json::Map::new();
            for table in run
                .records
                .iter()
                .filter_map(|r| TableName::parse(&r.table).ok())
            {
                // No waiting for restores here; a count goes on until the deadline at most.
                let limits = StepLimits {
                    wait_until: None,
                    count_until: invocation.deadline.map(|d| d - DRILL_MARGIN),
                };
                let step = self.drill_step(drill, &table, invocation.now, limits).await;
                steps.insert(table.to_string(), step);
            }
            result["drills"] = Value::Object(steps);
        }
        match run.failed() {
            None => Ok(result),
            Some((failed, first)) => Err(Failure(RunError::Tables {
                tag: run.tag.clone(),
                failed,
                selected: run.selected.len(),
                first,
            })),
        }
    }

    /// Moves `table`'s drill one step and emits its metrics; the step as JSON (or the error).
    async fn drill_step(
        &self,
        drill: &Drill<S, T, R>,
        table: &TableName,
        now: OffsetDateTime,
        limits: StepLimits,
    ) -> Value {
        match drill.advance(table, now, limits, false).await {
            Ok(step) => {
                metrics::emit(&self.stack, table.as_str(), now, &metrics::of_drill(&step));
                to_json(&step)
            }
            Err(e) => {
                tracing::warn!(table = %table, error = %e, "the restore drill could not advance; the next run will try again");
                serde_json::json!({"state": "error", "error": e.to_string()})
            }
        }
    }
}

/// A result as JSON: records, runs and steps are strings, numbers, lists and maps with string
/// keys, which always serialize.
fn to_json(value: &impl serde::Serialize) -> Value {
    serde_json::to_value(value).expect("a result is strings, numbers, lists and string-keyed maps")
}

/// The metrics of a run that failed: no backup if it could not make one; one made if it failed
/// after (listing); none for an event that names no valid table.
fn emit_failure_metrics(stack: &str, err: &RunError, at: OffsetDateTime) {
    match err {
        RunError::CreateBackup { table, .. } => {
            metrics::emit(stack, table, at, &metrics::of_failed_run());
        }
        RunError::ListBackups { table, .. } => {
            let made = metrics::Metric {
                name: metrics::BACKUP_MADE,
                unit: "Count",
                value: 1.0,
            };
            metrics::emit(stack, table, at, &[made]);
        }
        RunError::InvalidEnvironment(_)
        | RunError::InvalidEvent(_)
        | RunError::Discover { .. }
        | RunError::NoTimeLeft { .. }
        | RunError::Tables { .. } => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::{MemoryBucket, MemoryStore, MemoryTable};
    use crate::naming::StackName;
    use crate::store::BackupStore;
    use serde_json::json;

    /// The environment `up` gives the function: stack `prod`, a log bucket, weekly drills.
    fn settings() -> Settings {
        Settings::from_vars(|name| {
            let value = match name {
                "STACK_NAME" => "prod",
                "LOG_BUCKET" => "logs",
                "DRILL_EVERY" => "7d",
                "DRILL_TIMEOUT" => "1h",
                _ => return None,
            };
            Some(value.to_owned())
        })
        .unwrap()
    }

    /// Tables `Movies` and `Orders` (tagged `backup=daily`), each with one AVAILABLE backup of
    /// the stack's.
    async fn account() -> MemoryStore {
        let daily = vec![("backup".to_owned(), "daily".to_owned())];
        let store = MemoryStore {
            tables: vec![
                ("Movies".to_owned(), daily.clone()),
                ("Orders".to_owned(), daily),
            ],
            ..MemoryStore::default()
        }
        .with_table("Movies", MemoryTable::movies(4609))
        .with_table("Orders", MemoryTable::movies(12));
        let prod = StackName::parse("prod").unwrap();
        let then = OffsetDateTime::now_utc() - time::Duration::days(1);
        for table in ["Movies", "Orders"] {
            let table = TableName::parse(table).unwrap();
            let name = table.backup_name(&prod, then);
            store
                .create_backup(&table, &name, || std::future::ready(()))
                .await
                .unwrap();
        }
        store.finish_backups();
        store
    }

    fn invocation() -> Invocation {
        Invocation::new("req-1", OffsetDateTime::now_utc())
            .with_deadline(tokio::time::Instant::now() + Duration::from_secs(900))
    }

    #[tokio::test(start_paused = true)]
    async fn one_invocation_backs_up_the_table_then_drills_its_last_backup() {
        let store = account().await;
        let bucket = MemoryBucket::default();
        let handler = Handler::new(&store, &store, &bucket, settings(), "backups-prod");
        let result = handler
            .handle(&json!({"TableName": "Movies"}), &invocation())
            .await
            .unwrap();
        assert_eq!(result["table"], "Movies");
        assert_eq!(result["status"], "ok", "{result}");
        assert_eq!(result["drill"]["state"], "finished", "{result}");
        assert_eq!(result["drill"]["record"]["verdict"], "passed");
        let restored = result["drill"]["record"]["backup_name"].as_str().unwrap();
        assert!(restored.starts_with("Movies-prod-"), "{restored}");
        assert_ne!(
            Some(restored),
            result["backup"]["name"].as_str(),
            "the drill restores an AVAILABLE backup, not the one still being made"
        );
        assert_eq!(bucket.run_records().len(), 1);
        assert_eq!(
            store.table_names(),
            ["Movies", "Orders"],
            "no scratch table left"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_tag_run_backs_up_and_starts_a_drill_for_each_table_without_waiting() {
        let store = account().await;
        let bucket = MemoryBucket::default();
        let handler = Handler::new(&store, &store, &bucket, settings(), "backups-prod");
        let event = json!({"TableTag": {"Key": "backup", "Value": "daily"}});
        let result = handler.handle(&event, &invocation()).await.unwrap();
        assert_eq!(
            result["records"].as_array().map(Vec::len),
            Some(2),
            "{result}"
        );
        for table in ["Movies", "Orders"] {
            assert_eq!(result["drills"][table]["state"], "started", "{result}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_run_is_a_failed_invocation_named_by_its_error() {
        let store = MemoryStore {
            fail_create: true,
            ..account().await
        };
        let bucket = MemoryBucket::default();
        let handler = Handler::new(&store, &store, &bucket, settings(), "backups-prod");
        let failure = handler
            .handle(&json!({"TableName": "Movies"}), &invocation())
            .await
            .unwrap_err();
        let diagnostic = Diagnostic::from(failure);
        assert_eq!(diagnostic.error_type, "TableNotFoundException");
        assert!(
            !store.calls().iter().any(|c| c.starts_with("restore")),
            "no drill after a failed run"
        );

        let invalid = handler
            .handle(&json!({"TableName": ""}), &invocation())
            .await
            .unwrap_err();
        assert_eq!(Diagnostic::from(invalid).error_type, "InvalidEvent");
    }
}
