//! `installer status`: what exists, whether it matches, each table's backups and run records;
//! the result on stdout (`status | grep` finds it), what could not be read on stderr.

use backup_lambda::drill::{DrillRecord, DrillSettings, InProgress};
use backup_lambda::export::ExportRecord;
use backup_lambda::naming::TableName;
use backup_lambda::ownership::Ownership;
use backup_lambda::record::rfc3339;
use backup_lambda::store::{BackupStore, DynamoDbBackups};

use super::CommandError;
use super::summary::{BackupStatus, MadeBy, Status, TableStatus};
use crate::aws::{Aws, AwsError, ConnectArgs};
use crate::compliance::assess::Window;
use crate::compliance::chains::ChainFigures;
use crate::compliance::history::{Requests, read_chains};
use crate::deploy::config::StackRef;
use crate::deploy::deployed::Origin;
use crate::deploy::desired::Desired;
use crate::deploy::plan::Kind;
use crate::deploy::plan::Verb;
use crate::deploy::resources::function;
use crate::deploy::stack;

/// `installer status`.
pub async fn status(stack: &StackRef, connect: &ConnectArgs) -> Result<Status, CommandError> {
    let (aws, config, deployed) = super::deployed_stack(stack, None, connect).await?;
    let desired = Desired::new(&config, &aws, None)?;
    let observed = stack::observe(&aws, &desired).await?;
    let desired = desired.settled(&observed);
    let plan = stack::plan(&desired, &observed);
    // A stack that recorded no settings has not drifted for it: `up` records them.
    let recorded = deployed.origin == Origin::Recorded;
    let lines: Vec<_> = plan
        .lines()
        .into_iter()
        .filter(|l| recorded || l.kind != Kind::Settings)
        .collect();
    result!(
        "stack {} in account {} ({}):",
        desired.function.name,
        aws.account,
        aws.region
    );
    for line in lines.clone() {
        let state = match line.action {
            Verb::Create => "missing".to_owned(),
            Verb::None => "ok".to_owned(),
            Verb::UseExisting => "exists (not this stack's)".to_owned(),
            Verb::Update => format!("differs: {}", line.fields.join(", ")),
            Verb::Conflict => format!("conflict: {}", line.conflict.unwrap_or_default()),
            Verb::Delete => "no longer needed".to_owned(),
        };
        result!("  {:<14} {:<44} {state}", line.kind, line.name);
    }
    // Printed with the result: `status | grep` finds the lock.
    let export_bucket_lock = match (&desired.export_bucket, &observed.export_bucket) {
        (
            Some(bucket),
            Some(crate::deploy::resources::export_bucket::Observed::Reachable(lock)),
        ) => {
            result!("  export bucket {}: {lock}", bucket.name);
            Some(lock.to_string())
        }
        _ => None,
    };
    let alerts = super::alerts(&desired, &observed);
    let store = DynamoDbBackups::new(aws.dynamodb.clone());
    let environment = observed.function.as_ref().map(|f| &f.environment);
    let owner = function::ownership(&config.stack, environment);
    let mut tables = Vec::new();
    let drills = aws.drills(
        &desired.bucket.name,
        config.drill.unwrap_or(DrillSettings {
            every: std::time::Duration::ZERO,
            timeout: backup_lambda::request::DEFAULT_DRILL_TIMEOUT,
        }),
        owner.clone(),
    );
    for table in &super::stack_tables(&config, &aws).await? {
        let (last_drill, drill_in_progress) = print_drills(&drills, table).await;
        let backups = print_backups(&store, &owner, table).await;
        let RecordKeys {
            runs: run_records,
            exports,
        } = print_run_records(&aws, &desired.bucket.name, table).await;
        // Point-in-time recovery, where the stack wants it and read it.
        let pitr = desired
            .tables
            .iter()
            .zip(&observed.tables)
            .find(|(d, _)| &d.name == table)
            .and_then(|(_, o)| o.as_ref()?.pitr);
        let pitr_days = match pitr {
            Some(state) if state.enabled => {
                let days = state
                    .days
                    .map_or_else(|| "its default period".to_owned(), |d| format!("{d} days"));
                result!("  point-in-time recovery of {table}: on, recovering {days} back");
                state.days
            }
            Some(_) => {
                result!("  point-in-time recovery of {table}: off, which the stack needs");
                None
            }
            None => None,
        };
        let incremental = config
            .export
            .as_ref()
            .is_some_and(|e| matches!(e.mode, backup_lambda::export::ExportMode::Incremental(_)));
        let last_export = match exports.last() {
            Some(key) => print_last_export(&aws, &desired.bucket.name, table, key).await,
            None if config.export.is_some() && !incremental => {
                result!("  last export of {table}: none yet");
                None
            }
            None => None,
        };
        let export_chain = if incremental {
            print_chains(&aws, &desired.bucket.name, table).await
        } else {
            None
        };
        tables.push(TableStatus {
            table: table.to_string(),
            backups,
            run_records,
            last_drill,
            drill_in_progress,
            last_export,
            export_chain,
            pitr_days,
        });
    }
    Ok(Status {
        stack: desired.function.name.clone(),
        account: aws.account.clone(),
        region: aws.region.clone(),
        resources: lines,
        alerts,
        export_bucket_lock,
        tables,
    })
}

/// Prints `table`'s last restore drill (verdict, recovery time, age) and any under way.
async fn print_drills(
    drills: &crate::aws::Drills,
    table: &TableName,
) -> (Option<DrillRecord>, Option<InProgress>) {
    let last = drills.last(table).await.unwrap_or_else(|e| {
        report!("  drills of {table}: could not read ({e})");
        None
    });
    let under_way = drills.in_progress(table).await.unwrap_or_default();
    match &last {
        Some(d) => result!(
            "  last drill of {table}: {}, recovered in {}{} s, finished {}{}",
            d.verdict,
            if d.recovery_upper_bound {
                "at most "
            } else {
                ""
            },
            d.recovery_seconds,
            rfc3339(d.finished_at),
            d.reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        ),
        None => result!("  last drill of {table}: none"),
    }
    if let Some(d) = &under_way {
        result!(
            "  drill of {table} under way since {}: {} from {}",
            rfc3339(d.started_at),
            d.scratch,
            d.backup_name
        );
    }
    (last, under_way)
}

/// Prints `table`'s backups, newest first, and whose each is; returns them.
async fn print_backups(
    store: &DynamoDbBackups,
    owner: &Ownership,
    table: &TableName,
) -> Vec<BackupStatus> {
    let mut backups = match store.list_backups(table).await {
        Ok(backups) => backups,
        Err(e) => {
            report!("  backups of {table}: could not list ({e})");
            return Vec::new();
        }
    };
    backups.sort_by_key(|b| std::cmp::Reverse(b.created));
    let now = time::OffsetDateTime::now_utc();
    result!("  backups of {table}: {}", backups.len());
    backups
        .into_iter()
        .map(|b| {
            let made_by = if owner.owns(table, &b) {
                MadeBy::Stack
            } else if owner.could_adopt(table, &b) {
                MadeBy::Unmarked
            } else {
                MadeBy::Other
            };
            result!(
                "    {:<40} {} {} ({made_by})",
                b.name,
                b.state,
                crate::report::when(b.created, now)
            );
            BackupStatus {
                state: b.state.to_string(),
                name: b.name,
                arn: b.arn,
                made_by,
            }
        })
        .collect()
}

/// Prints `table`'s incremental export chains: their restore points, what they lost, what is
/// running; `None` when they cannot be read, or hold no export yet.
async fn print_chains(aws: &Aws, bucket: &str, table: &TableName) -> Option<ChainFigures> {
    let requests = Requests::default();
    let read = read_chains(&aws.s3, bucket, table.as_str(), &requests).await;
    let chains = match read {
        Ok((chains, _)) => chains,
        Err(e) => {
            report!("  export chains of {table}: could not read them ({e})");
            return None;
        }
    };
    let all_time = Window {
        from: time::OffsetDateTime::UNIX_EPOCH,
        to: time::OffsetDateTime::now_utc(),
    };
    let Some(figures) = crate::compliance::chains::assess(all_time, &chains) else {
        result!("  export chains of {table}: none yet");
        return None;
    };
    result!(
        "  export chains of {table}: {} restore point(s), {}; newest {}; {} running, {} failed",
        figures.points,
        crate::compliance::text::stretches(&figures.coverage),
        figures.newest_point.as_deref().unwrap_or("none"),
        figures.in_progress,
        figures.failed
    );
    for note in &figures.notes {
        result!("    {note}");
    }
    Some(figures)
}

/// Prints `table`'s newest export (the record at `key`): its period, state, size and duration.
async fn print_last_export(
    aws: &Aws,
    bucket: &str,
    table: &TableName,
    key: &str,
) -> Option<ExportRecord> {
    let read = async {
        let out = aws
            .s3
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| AwsError::new("GetObject", key, &e).to_string())?;
        let body = out.body.collect().await.map_err(|e| e.to_string())?;
        serde_json::from_slice::<ExportRecord>(&body.into_bytes()).map_err(|e| e.to_string())
    };
    match read.await {
        Ok(export) => {
            let figures = match (export.item_count, export.billed_size_bytes) {
                (Some(items), Some(bytes)) => format!(", {items} items, {bytes} bytes"),
                _ => String::new(),
            };
            let took = export
                .duration_seconds
                .map(|s| format!(", took {s} s"))
                .unwrap_or_default();
            let failure = export
                .failure
                .as_deref()
                .map(|f| format!(" ({f})"))
                .unwrap_or_default();
            result!(
                "  last export of {table}: {} {}{figures}{took} to s3://{}/{}{failure}",
                export.period,
                export.status,
                export.bucket,
                export.prefix
            );
            Some(export)
        }
        Err(e) => {
            report!("  last export of {table}: could not read {key} ({e})");
            None
        }
    }
}

/// The keys of a table's records, each oldest first.
#[derive(Debug, Default)]
struct RecordKeys {
    /// Its runs' records.
    runs: Vec<String>,
    /// Its periods' export records.
    exports: Vec<String>,
}

/// Prints how many run records the bucket holds for `table`, and the newest few; returns all
/// their keys and those of its export records.
async fn print_run_records(aws: &Aws, bucket: &str, table: &TableName) -> RecordKeys {
    let prefix = backup_lambda::record::table_prefix(table.as_str());
    let exports_prefix = format!("{prefix}{}", backup_lambda::record::EXPORTS_FOLDER);
    let mut keys = Vec::new();
    let mut exports = Vec::new();
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
                for key in page.contents().iter().filter_map(|o| o.key()) {
                    if backup_lambda::record::is_run_record_key(key) {
                        keys.push(key.to_owned());
                    } else if key.starts_with(&exports_prefix) {
                        exports.push(key.to_owned());
                    }
                }
                token = page.next_continuation_token;
                if token.is_none() {
                    break;
                }
            }
            Err(e) => {
                let err = AwsError::new("ListObjectsV2", bucket, &e);
                report!("  run records of {table}: could not list ({err})");
                return RecordKeys {
                    runs: keys,
                    exports,
                };
            }
        }
    }
    keys.sort();
    result!("  run records of {table} in s3://{bucket}: {}", keys.len());
    for key in keys.iter().rev().take(5) {
        result!("    {key}");
    }
    // Periods name the keys (`2026-11-30`, `2026-W49`), so they sort in time order.
    exports.sort();
    RecordKeys {
        runs: keys,
        exports,
    }
}
