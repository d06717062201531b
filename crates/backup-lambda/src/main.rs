//! The Lambda entry point (`bootstrap`): builds the AWS clients once, then serves invocations.

use backup_lambda::drill::{Drill, StepLimits};
use backup_lambda::metrics;
use backup_lambda::naming::TableName;
use backup_lambda::request::Settings;
use backup_lambda::select::TableTag;
use std::time::SystemTime;

use backup_lambda::run::{BackupFunction, Invocation, RunError};
use backup_lambda::store::{DynamoDbBackups, S3Records};
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde_json::Value;
use time::OffsetDateTime;

/// How long before the deadline a drill stops waiting for its restore, leaving the run time to
/// answer.
const DRILL_MARGIN: std::time::Duration = std::time::Duration::from_secs(5);
/// How long one run waits for a drill's restore at most; later runs check on it.
const DRILL_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

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
        | RunError::Tables { .. } => {}
    }
}

/// Lambda's view of a failed run: `errorType` is the AWS error code or `InvalidEvent`.
#[derive(Debug)]
struct Failure(RunError);

impl From<Failure> for Diagnostic {
    fn from(Failure(err): Failure) -> Self {
        Diagnostic {
            error_type: err.error_type(),
            error_message: err.to_string(),
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    backup_lambda::logging::init();
    match Settings::from_env() {
        Ok(settings) => serve(settings).await,
        // Keep serving, failing every invocation with the reason, so that the misconfiguration
        // shows in each invocation's error and log instead of as a crash loop.
        Err(invalid) => {
            tracing::error!(error = %invalid, "invalid environment");
            lambda_runtime::run(service_fn(move |_: LambdaEvent<Value>| {
                let err = RunError::InvalidEnvironment(invalid.clone());
                async move { Err::<Value, _>(Failure(err)) }
            }))
            .await
        }
    }
}

/// Builds the AWS clients once and serves invocations with them.
async fn serve(settings: Settings) -> Result<(), lambda_runtime::Error> {
    let config = backup_lambda::sdk::config_loader().load().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    let s3 = aws_sdk_s3::Client::new(&config);
    // Drills keep their state beside the run records, so they need the log bucket.
    let drill = match (&settings.drill, &settings.log_bucket) {
        (Some(drill), Some(bucket)) => Some(Drill::new(
            dynamodb.clone(),
            s3.clone(),
            bucket,
            *drill,
            settings.ownership.clone(),
        )),
        _ => None,
    };
    let function =
        BackupFunction::new(DynamoDbBackups::new(dynamodb), S3Records::new(s3), settings);
    let (function, drill) = (&function, &drill);
    // Lambda names the function in its environment; the metrics' `Stack` dimension.
    let stack = &std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_default();

    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let remaining = event
            .context
            .deadline()
            .duration_since(SystemTime::now())
            .unwrap_or_default();
        let invocation = Invocation::new(&event.context.request_id, OffsetDateTime::now_utc())
            .with_deadline(tokio::time::Instant::now() + remaining);
        let tag =
            TableTag::from_event(&event.payload).map_err(|e| Failure(RunError::InvalidEvent(e)))?;
        match tag {
            Some(tag) => {
                serve_tagged(function, drill, stack, &tag, &event.payload, &invocation).await
            }
            None => serve_one(function, drill, stack, &event.payload, &invocation).await,
        }
    }))
    .await
}

/// The function as this binary builds it.
type Function = BackupFunction<DynamoDbBackups, S3Records>;

/// One table's run (`{"TableName": ...}`): the backup, its metrics, and a drill step.
async fn serve_one(
    function: &Function,
    drill: &Option<Drill>,
    stack: &str,
    payload: &Value,
    invocation: &Invocation,
) -> Result<Value, Failure> {
    let record = match function.handle(payload, invocation).await {
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
    let mut result = serde_json::to_value(&record).unwrap_or(Value::Null);
    if let (Some(drill), Ok(table)) = (drill, TableName::parse(&record.table)) {
        // A drill waits for its restore within the run for a little while (a small table
        // restores in that time, giving an exact recovery time), never near the deadline,
        // and never so long that the run holds up the next scheduled one.
        let soon = tokio::time::Instant::now() + DRILL_WAIT;
        let limits = StepLimits {
            wait_until: invocation.deadline.map(|d| (d - DRILL_MARGIN).min(soon)),
            count_until: invocation.deadline.map(|d| d - DRILL_MARGIN),
        };
        result["drill"] = drill_step(drill, stack, &table, invocation.now, limits).await;
    }
    Ok(result)
}

/// A run over the tables a tag selects (`{"TableTag": ...}`): each table's backup and metrics,
/// its drill step (without waiting), and a failed invocation if any table failed.
async fn serve_tagged(
    function: &Function,
    drill: &Option<Drill>,
    stack: &str,
    tag: &TableTag,
    payload: &Value,
    invocation: &Invocation,
) -> Result<Value, Failure> {
    let run = function
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
    let mut result = serde_json::to_value(&run).unwrap_or(Value::Null);
    if let Some(drill) = drill {
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
            let step = drill_step(drill, stack, &table, invocation.now, limits).await;
            steps.insert(table.to_string(), step);
        }
        result["drills"] = Value::Object(steps);
    }
    match run.failures.first() {
        None => Ok(result),
        Some(first) => Err(Failure(RunError::Tables {
            tag: run.tag.clone(),
            failed: run.failures.len(),
            selected: run.selected.len(),
            first: format!("{}: {}", first.table, first.error),
        })),
    }
}

/// Moves `table`'s drill one step and emits its metrics; the step as JSON (or the error).
async fn drill_step(
    drill: &Drill,
    stack: &str,
    table: &TableName,
    now: OffsetDateTime,
    limits: StepLimits,
) -> Value {
    match drill.advance(table, now, limits, false).await {
        Ok(step) => {
            metrics::emit(stack, table.as_str(), now, &metrics::of_drill(&step));
            serde_json::to_value(step).unwrap_or(Value::Null)
        }
        Err(e) => {
            tracing::warn!(table = %table, error = %e, "the restore drill could not advance; the next run will try again");
            serde_json::json!({"state": "error", "error": e.to_string()})
        }
    }
}
