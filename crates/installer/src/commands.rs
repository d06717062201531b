//! `plan`, `up`, `status` and `down`: flags → a validated [`StackConfig`] → the desired stack
//! → what exists → a plan → applied, printed, or reversed.

use std::future::Future;
use std::io::{BufRead, IsTerminal, Write};
use std::time::Instant;

use backup_lambda::store::{BackupStore, DynamoDbBackups};
use miette::Diagnostic;
use serde_json::{Value, json};
use thiserror::Error;

use crate::artifact::{self, ArtifactError};
use crate::aws::{Aws, AwsError, AwsResult, ConnectArgs, ConnectError};
use crate::config::{ConfigError, StackArgs, StackConfig};
use crate::movies::{self, DataError};
use crate::package::Package;
use crate::plan::{Action, Plan, Removal};
use crate::policy::PolicyError;
use crate::stack::{self, Desired, StackError};

/// Where `up` and `plan` write the zip they build, in the workspace they build it from.
const DEFAULT_ZIP: &str = "target/lambda/backup-lambda.zip";

/// Why a command failed.
#[derive(Debug, Error, Diagnostic)]
pub enum CommandError {
    /// The flags are invalid (nothing was called).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The deployment zip could not be built or is unusable (nothing was called).
    #[error(transparent)]
    Artifact(#[from] ArtifactError),
    /// The account could not be reached.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// A policy template did not render.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// Applying or reading the stack failed.
    #[error(transparent)]
    Stack(#[from] StackError),
    /// `down` without a terminal to confirm on.
    #[error(
        "down deletes resources and needs confirmation: pass --yes to confirm without a terminal"
    )]
    NeedsConfirmation,
    /// The user said no.
    #[error("down cancelled; nothing was deleted")]
    Cancelled,
    /// The sample data could not be read.
    #[error(transparent)]
    Data(#[from] DataError),
    /// `--table` is not a table name.
    #[error("invalid --table: {0}")]
    Table(#[from] backup_lambda::naming::TableNameError),
    /// Bad records with `--on-bad-record reject`.
    #[error(
        "{count} bad record(s), the first: record {index}: {reason}; fix them or pass --on-bad-record skip"
    )]
    Rejected {
        /// How many.
        count: usize,
        /// The first one's index.
        index: usize,
        /// Why it is bad.
        reason: String,
    },
    /// The table to load into does not exist.
    #[error("table {0} does not exist; create it with `installer up --table {0}` first")]
    NoTable(String),
    /// Some items were never written.
    #[error(
        "{failed} of {total} items were not written after retries (throttled?); run load-data again to finish"
    )]
    Incomplete {
        /// Items not written.
        failed: usize,
        /// Items tried.
        total: usize,
    },
    /// Running the function failed.
    #[error(transparent)]
    Invoke(#[from] crate::invoke::InvokeError),
    /// The function ran and reported an error.
    #[error("the function failed: {kind}: {message}")]
    FunctionFailed {
        /// Its errorType.
        kind: String,
        /// Its errorMessage.
        message: String,
    },
    /// `--since` is not a duration.
    #[error("invalid --since {0:?}: use a number and a unit, e.g. 30s, 15m, 1h or 2d")]
    Since(String),
    /// The async runtime could not start.
    #[error("could not start the async runtime: {0}")]
    Runtime(std::io::Error),
}

impl From<AwsError> for CommandError {
    fn from(err: AwsError) -> Self {
        Self::Stack(StackError::Aws(err))
    }
}

/// Runs a command's future to completion on a multi-threaded runtime and returns its
/// machine-readable summary.
pub fn block_on<F: Future<Output = Result<Value, CommandError>>>(
    future: F,
) -> miette::Result<Value> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CommandError::Runtime)?;
    Ok(runtime.block_on(future)?)
}

/// A plan's steps as JSON: kind, name, action and the fields an update changes.
fn steps_json(plan: &Plan) -> Value {
    plan.steps
        .iter()
        .map(|s| {
            let (action, fields, detail) = match &s.action {
                Action::Create => ("create", Vec::new(), None),
                Action::Update(fields) => ("update", fields.clone(), None),
                Action::NoChange => ("none", Vec::new(), None),
                Action::UseExisting => ("use-existing", Vec::new(), None),
                Action::Conflict(why) => ("conflict", Vec::new(), Some(why.clone())),
                Action::Delete => ("delete", Vec::new(), None),
            };
            json!({"kind": s.kind, "name": s.name, "action": action, "fields": fields, "conflict": detail})
        })
        .collect()
}

/// The zip to deploy: `--zip`, or a fresh `installer build`.
fn deployment_zip(config: &StackConfig) -> Result<Package, ArtifactError> {
    match &config.zip {
        Some(path) => artifact::load(path, config.arch),
        None => {
            let out = crate::compile::workspace_root().join(DEFAULT_ZIP);
            let built = artifact::build(config.arch, None, &out)?;
            artifact::load(&built.path, config.arch)
        }
    }
}

/// Everything `plan` and `up` need, with how long each phase took.
struct Prepared {
    aws: Aws,
    desired: Desired,
    observed: stack::Observed,
    plan: Plan,
    /// Milliseconds spent loading config and credentials and asking STS who we are (`connect`),
    /// and reading every resource (`observe`).
    phases: Value,
}

/// Validates, builds and connects, then reads the stack: everything `plan` and `up` share.
async fn prepare(args: &StackArgs, connect: &ConnectArgs) -> Result<Prepared, CommandError> {
    let config = StackConfig::from_args(args)?;
    let zip = deployment_zip(&config)?;
    let started = Instant::now();
    let aws = Aws::connect(connect).await?;
    let connected = started.elapsed();
    let mut desired = Desired::new(&config, &aws, Some(zip))?;
    if !aws.tls && config.bucket_tls_only.is_none() {
        report!(
            "note: the endpoint is plain HTTP, so the bucket gets no TLS-only policy (it would deny every request there); AWS endpoints always get it"
        );
    }
    let started = Instant::now();
    let observed = stack::observe(&aws, &desired).await?;
    let plan = stack::plan(&mut desired, &observed);
    let phases = json!({
        "connect_ms": connected.as_millis(),
        "observe_ms": started.elapsed().as_millis(),
    });
    Ok(Prepared {
        aws,
        desired,
        observed,
        plan,
        phases,
    })
}

fn print_plan(plan: &Plan) {
    for step in &plan.steps {
        report!("  {step}");
    }
}

/// `installer plan`.
pub async fn plan(args: &StackArgs, connect: &ConnectArgs) -> Result<Value, CommandError> {
    let Prepared {
        aws,
        desired,
        plan,
        phases,
        ..
    } = prepare(args, connect).await?;
    report!("plan for account {} in {}:", aws.account, aws.region);
    print_plan(&plan);
    if plan.is_noop() {
        report!("no changes");
    }
    Ok(plan_summary("plan", &aws, &desired, &plan, phases))
}

/// What `plan` and `up` report: the stack, where it is, each resource's action, and the time
/// each phase took.
fn plan_summary(command: &str, aws: &Aws, desired: &Desired, plan: &Plan, phases: Value) -> Value {
    json!({
        "command": command,
        "stack": desired.function.name,
        "account": aws.account,
        "region": aws.region,
        "changes": !plan.is_noop(),
        "resources": steps_json(plan),
        "phases_ms": phases,
    })
}

/// `installer up`.
pub async fn up(args: &StackArgs, connect: &ConnectArgs) -> Result<Value, CommandError> {
    let Prepared {
        aws,
        desired,
        observed,
        plan,
        phases,
    } = prepare(args, connect).await?;
    report!(
        "stack {} in account {} ({}):",
        desired.function.name,
        aws.account,
        aws.region
    );
    print_plan(&plan);
    let summary = |elapsed_ms: u128| {
        let mut summary = plan_summary("up", &aws, &desired, &plan, phases.clone());
        summary["phases_ms"]["apply_ms"] = json!(elapsed_ms);
        summary["function_arn"] = json!(desired.rules.first().map(|r| &r.function_arn));
        summary["rule_arn"] = json!(desired.rules.first().map(|r| &r.arn));
        summary["rule_arns"] = json!(desired.rules.iter().map(|r| &r.arn).collect::<Vec<_>>());
        summary["role_arn"] = json!(desired.function.role_arn);
        summary["bucket"] = json!(desired.bucket.name);
        summary["elapsed_ms"] = json!(elapsed_ms);
        summary
    };
    if plan.is_noop() {
        report!("no changes");
        return Ok(summary(0));
    }
    let started = Instant::now();
    stack::apply(&aws, &desired, &observed, &plan).await?;
    report!("up to date in {:.1}s", started.elapsed().as_secs_f64());
    Ok(summary(started.elapsed().as_millis()))
}

/// `installer status`.
pub async fn status(args: &StackArgs, connect: &ConnectArgs) -> Result<Value, CommandError> {
    let config = StackConfig::from_args(args)?;
    let aws = Aws::connect(connect).await?;
    let mut desired = Desired::new(&config, &aws, None)?;
    let observed = stack::observe(&aws, &desired).await?;
    let plan = stack::plan(&mut desired, &observed);
    report!(
        "stack {} in account {} ({}):",
        desired.function.name,
        aws.account,
        aws.region
    );
    for step in &plan.steps {
        let state = match &step.action {
            Action::Create => "missing".to_owned(),
            Action::NoChange => "ok".to_owned(),
            Action::UseExisting => "exists (not this stack's)".to_owned(),
            Action::Update(fields) => format!("differs: {}", fields.join(", ")),
            Action::Conflict(why) => format!("conflict: {why}"),
            Action::Delete => "no longer needed".to_owned(),
        };
        report!("  {:<10} {:<44} {state}", step.kind, step.name);
    }
    let store = DynamoDbBackups::new(aws.dynamodb.clone());
    let mut tables = Vec::new();
    for table in &desired.tables {
        let mut listed = Vec::new();
        match store.list_backups(table).await {
            Ok(mut backups) => {
                backups.sort_by_key(|b| std::cmp::Reverse(b.created));
                report!("  backups of {table}: {}", backups.len());
                for b in backups {
                    let owner = if table.owns_backup_name(&b.name) {
                        "function"
                    } else {
                        "other"
                    };
                    report!("    {:<40} {:?} {} ({owner})", b.name, b.state, b.created);
                    listed.push(json!({"name": b.name, "arn": b.arn, "state": format!("{:?}", b.state), "made_by": owner}));
                }
            }
            Err(e) => report!("  backups of {table}: could not list ({e})"),
        }
        let records = print_run_records(&aws, &desired.bucket.name, table).await;
        tables.push(json!({"table": table.as_str(), "backups": listed, "run_records": records}));
    }
    Ok(json!({
        "command": "status",
        "stack": desired.function.name,
        "account": aws.account,
        "region": aws.region,
        "resources": steps_json(&plan),
        "tables": tables,
    }))
}

/// Prints how many run records the bucket holds for `table`, and the newest few; returns all
/// their keys, oldest first.
async fn print_run_records(
    aws: &Aws,
    bucket: &str,
    table: &backup_lambda::naming::TableName,
) -> Vec<String> {
    let prefix = backup_lambda::record::table_prefix(table.as_str());
    let mut keys = Vec::new();
    let mut token = None;
    loop {
        match aws
            .s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(&prefix)
            .set_continuation_token(token)
            .send()
            .await
        {
            Ok(page) => {
                keys.extend(
                    page.contents()
                        .iter()
                        .filter_map(|o| o.key().map(str::to_owned)),
                );
                token = page.next_continuation_token;
                if token.is_none() {
                    break;
                }
            }
            Err(e) => {
                let err = AwsError::new("ListObjectsV2", bucket, &e);
                report!("  run records of {table}: could not list ({err})");
                return keys;
            }
        }
    }
    keys.sort();
    report!("  run records of {table} in s3://{bucket}: {}", keys.len());
    for key in keys.iter().rev().take(5) {
        report!("    {key}");
    }
    keys
}

/// Asks on the terminal; `true` only for "yes".
fn confirm(question: &str) -> bool {
    eprint!("{question} [yes/no]: ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer).is_ok() && answer.trim() == "yes"
}

/// `installer down`.
pub async fn down(
    args: &StackArgs,
    connect: &ConnectArgs,
    yes: bool,
    keep_data: bool,
) -> Result<Value, CommandError> {
    let config = StackConfig::from_args(args)?;
    if !yes && !std::io::stdin().is_terminal() {
        return Err(CommandError::NeedsConfirmation);
    }
    let aws = Aws::connect(connect).await?;
    let desired = Desired::new(&config, &aws, None)?;
    let observed = stack::observe(&aws, &desired).await?;
    let steps = stack::removal_plan(&aws, &desired, &observed, keep_data).await?;
    report!(
        "removing stack {} from account {} ({}):",
        config.stack,
        aws.account,
        aws.region
    );
    for step in &steps {
        report!("  {step}");
    }
    let summary = |backups: &[(String, usize)], elapsed_ms: u128| {
        let resources: Vec<Value> = steps
            .iter()
            .map(|s| {
                let action = match s.action {
                    Removal::Delete => "delete",
                    Removal::Absent => "absent",
                    Removal::NotOurs => "not-ours",
                    Removal::Kept => "kept",
                };
                json!({"kind": s.kind, "name": s.name, "action": action})
            })
            .collect();
        let backups: Vec<Value> = backups
            .iter()
            .map(|(table, count)| json!({"table": table, "deleted": count}))
            .collect();
        json!({
            "command": "down",
            "stack": config.stack,
            "account": aws.account,
            "region": aws.region,
            "resources": resources,
            "backups_deleted": backups,
            "elapsed_ms": elapsed_ms,
        })
    };
    if steps.iter().all(|s| s.action != Removal::Delete) {
        report!("nothing to remove");
        return Ok(summary(&[], 0));
    }
    if !yes && !confirm("delete the resources marked 'delete'?") {
        return Err(CommandError::Cancelled);
    }
    let started = Instant::now();
    let backups = stack::remove(&aws, &steps).await?;
    for (table, count) in &backups {
        report!("  deleted {count} backup(s) of {table} made by the function");
    }
    report!("removed in {:.1}s", started.elapsed().as_secs_f64());
    Ok(summary(&backups, started.elapsed().as_millis()))
}

/// What `load-data` does with a bad record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnBadRecord {
    /// Report it and load the rest.
    Skip,
    /// Load nothing.
    Reject,
}

/// `installer load-data`.
pub async fn load_data(
    table: &str,
    file: Option<&std::path::Path>,
    on_bad: OnBadRecord,
    concurrency: usize,
    connect: &ConnectArgs,
) -> Result<Value, CommandError> {
    let table = backup_lambda::naming::TableName::parse(table)?;
    let records = match file {
        Some(path) => movies::parse(&path.display().to_string(), &movies::read(path)?)?,
        None => movies::parse("built-in sample", movies::BUILT_IN.as_bytes())?,
    };
    for (index, reason) in records.bad.iter().take(20) {
        report!("  record {index}: {reason}");
    }
    if records.bad.len() > 20 {
        report!("  ... and {} more bad records", records.bad.len() - 20);
    }
    if on_bad == OnBadRecord::Reject
        && let Some((index, reason)) = records.bad.first()
    {
        return Err(CommandError::Rejected {
            count: records.bad.len(),
            index: *index,
            reason: reason.to_string(),
        });
    }
    let aws = Aws::connect(connect).await?;
    if crate::resources::table::observe(&aws, &table)
        .await?
        .is_none()
    {
        return Err(CommandError::NoTable(table.to_string()));
    }
    let total = records.items.len();
    let bar = crate::loader::progress(total);
    let report =
        crate::loader::load(&aws, table.as_str(), records.items, concurrency, &bar).await?;
    report!(
        "loaded {} item(s) into {table}, skipped {} bad record(s), {} failed, in {:.2}s ({:.0} items/s)",
        report.loaded,
        records.bad.len(),
        report.failed,
        report.elapsed.as_secs_f64(),
        report.rate()
    );
    if report.failed > 0 {
        return Err(CommandError::Incomplete {
            failed: report.failed,
            total,
        });
    }
    let bad: Vec<Value> = records
        .bad
        .iter()
        .map(|(index, reason)| json!({"index": index, "reason": reason.to_string()}))
        .collect();
    Ok(json!({
        "command": "load-data",
        "table": table.as_str(),
        "loaded": report.loaded,
        "skipped": bad,
        "failed": report.failed,
        "elapsed_ms": report.elapsed.as_millis(),
        "items_per_second": report.rate(),
    }))
}

/// Whether `endpoint` is this machine (a local emulator, which cannot execute functions).
fn is_loopback(endpoint: Option<&str>) -> bool {
    endpoint
        .and_then(|e| e.split("://").nth(1))
        .and_then(|rest| rest.split(['/', ':']).next().map(|host| (host, rest)))
        .is_some_and(|(host, rest)| {
            matches!(host, "127.0.0.1" | "localhost") || rest.starts_with("[::1]")
        })
}

/// `installer invoke`.
pub async fn invoke(
    args: &StackArgs,
    connect: &ConnectArgs,
    force_local: bool,
) -> Result<Value, CommandError> {
    let config = StackConfig::from_args(args)?;
    let table = config
        .tables
        .first()
        .ok_or(CommandError::Config(ConfigError::NoTable))?;
    let aws = Aws::connect(connect).await?;
    let input =
        crate::invoke::scheduled_input(&aws, &config.rule_for(table), &config.stack, table).await?;
    let local = force_local || is_loopback(aws.config.endpoint_url());
    report!(
        "invoking {} with {input} ({})",
        config.function_name(),
        if local {
            "locally: the emulator cannot run functions"
        } else {
            "in Lambda"
        }
    );
    let run = if local {
        let zip = config
            .zip
            .clone()
            .unwrap_or_else(|| crate::compile::workspace_root().join(DEFAULT_ZIP));
        crate::invoke::local(
            &aws,
            config.function_name(),
            &config.log_group(),
            &zip,
            &input,
        )
        .await?
    } else {
        crate::invoke::remote(&aws, config.function_name(), &input).await?
    };
    for line in &run.logs {
        report!("  {line}");
    }
    match run.result {
        Ok(result) => Ok(json!({
            "command": "invoke",
            "function": config.function_name(),
            "input": serde_json::from_str::<Value>(&input).unwrap_or(Value::Null),
            "local": run.local,
            "request_id": run.request_id,
            "result": result,
            "logs": run.logs,
        })),
        Err((kind, message)) => Err(CommandError::FunctionFailed { kind, message }),
    }
}

/// Parses a duration such as `30s`, `15m`, `1h` or `2d`.
pub fn parse_since(text: &str) -> Option<std::time::Duration> {
    let (number, unit) = text.split_at(text.len().checked_sub(1)?);
    let n: u64 = number.parse().ok()?;
    let seconds = match unit {
        "s" => n,
        "m" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        "d" => n.checked_mul(86_400)?,
        _ => return None,
    };
    Some(std::time::Duration::from_secs(seconds))
}

/// How far behind the newest event `logs --follow` keeps reading, for events delivered late.
const LATE_EVENTS_MS: i64 = 120_000;

/// `installer logs`.
pub async fn logs(
    args: &StackArgs,
    connect: &ConnectArgs,
    since: &str,
    follow: bool,
    json_lines: bool,
) -> Result<Value, CommandError> {
    let config = StackConfig::from_args(args)?;
    let window = parse_since(since).ok_or_else(|| CommandError::Since(since.to_owned()))?;
    let aws = Aws::connect(connect).await?;
    let group = config.log_group();
    let now_ms = || {
        i64::try_from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_millis(),
        )
        .unwrap_or(i64::MAX)
    };
    let mut start = now_ms() - i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
    let mut seen = std::collections::HashSet::new();
    let mut newest = start;
    loop {
        let mut events = Vec::new();
        let mut token = None;
        loop {
            let page = aws
                .logs
                .filter_log_events()
                .log_group_name(&group)
                .start_time(start)
                .set_next_token(token)
                .send()
                .await
                .aws("FilterLogEvents", group.as_str())?;
            events.extend(page.events.unwrap_or_default());
            token = page.next_token;
            if token.is_none() {
                break;
            }
        }
        events.sort_by_key(|e| e.timestamp);
        for event in events {
            let id = event.event_id.clone().unwrap_or_default();
            if !seen.insert(id) {
                continue;
            }
            let when = event
                .timestamp
                .and_then(|ms| {
                    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()
                })
                .and_then(|t| {
                    t.format(&time::format_description::well_known::Rfc3339)
                        .ok()
                })
                .unwrap_or_default();
            let message = event.message.unwrap_or_default();
            if json_lines {
                println!(
                    "{}",
                    json!({"timestamp": when, "message": message.trim_end()})
                );
            } else {
                println!("{when} {}", message.trim_end());
            }
            newest = newest.max(event.timestamp.unwrap_or(newest));
        }
        // CloudWatch Logs may deliver an event after later ones: read again from a while before
        // the newest seen (what was printed is skipped by its id), so a late one still shows.
        start = start.max(newest - LATE_EVENTS_MS);
        if !follow {
            return Ok(Value::Null);
        }
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    }
}
