//! `installer plan`: what `up` would do, without changing anything; with `--cost`, what the
//! configured stack would cost a month. Both are the result, on stdout.

use super::summary::{NextRun, Planned};
use super::{CommandError, Prepared, alerts, planned, prepare};
use crate::aws::{Aws, AwsResult, ConnectArgs};
use crate::cost::{self, CostEstimate, CostInputs, PriceTable, TableSize};
use crate::deploy::config::{StackArgs, StackConfig};
use crate::deploy::desired::Desired;

/// What `plan --cost` is asked for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CostOptions {
    /// `--compare`.
    pub compare: bool,
    /// `--assume-table-gb`.
    pub table_gb: Option<f64>,
    /// `--assume-daily-change`.
    pub daily_change_percent: Option<f64>,
}

/// `installer plan`.
pub async fn plan(
    args: &StackArgs,
    connect: &ConnectArgs,
    cost: Option<CostOptions>,
) -> Result<Planned, CommandError> {
    let Prepared {
        config,
        aws,
        desired,
        observed,
        plan,
        settings,
        unmarked,
        phases,
    } = prepare(args, connect).await?;
    result!("plan for account {} in {}:", aws.account, aws.region);
    for change in &settings {
        result!("  {change}");
    }
    for line in plan.lines() {
        result!("  {line}");
    }
    for table in &unmarked {
        result!("  {table}");
    }
    if plan.is_noop() {
        result!("no changes");
    }
    let export_bucket_lock = super::export_lock(&desired, &observed);
    let next_runs = NextRun::of(&config.schedule, time::OffsetDateTime::now_utc());
    if !next_runs.is_empty() {
        result!(
            "next runs of {} in {}:",
            config.schedule,
            config.schedule.zone()
        );
        for run in &next_runs {
            result!("  {run}");
        }
    }
    let alerts = alerts(&desired, &observed);
    let mut planned = planned(
        &aws,
        &desired,
        alerts,
        (&plan, &settings, &unmarked),
        phases,
    );
    planned.next_runs = next_runs;
    planned.export_bucket_lock = export_bucket_lock;
    if let Some(options) = cost {
        planned.cost = Some(estimate(&aws, &config, &desired, options).await?);
    }
    Ok(planned)
}

/// Bytes written to `table` a day over the last 7 days, from its `ConsumedWriteCapacityUnits`
/// (one write unit per KB written: an upper bound, as each write rounds up to a whole KB);
/// `None` without datapoints (a new table, or metrics not readable: the estimate then assumes).
async fn daily_writes(aws: &Aws, table: &str) -> Option<f64> {
    use aws_sdk_cloudwatch::types::{Dimension, Statistic};
    let now = std::time::SystemTime::now();
    let week = std::time::Duration::from_secs(7 * 86_400);
    let out = aws
        .cloudwatch
        .get_metric_statistics()
        .namespace("AWS/DynamoDB")
        .metric_name("ConsumedWriteCapacityUnits")
        .dimensions(Dimension::builder().name("TableName").value(table).build())
        .start_time((now - week).into())
        .end_time(now.into())
        .period(86_400)
        .statistics(Statistic::Sum)
        .send()
        .await
        .aws("GetMetricStatistics", table);
    match out {
        Ok(out) => {
            let days = out.datapoints();
            let units: f64 = days.iter().filter_map(|d| d.sum()).sum();
            (!days.is_empty()).then(|| units * 1024.0 / days.len() as f64)
        }
        Err(e) => {
            tracing::warn!(
                "could not read {table}'s write metrics ({e}); its daily change is assumed"
            );
            None
        }
    }
}

/// Bytes written to `table` a day as the stack's own incremental exports of it show
/// ([`cost::exported_daily_change`], from the chain records in `bucket`); `None` when there are
/// none (a stack not deployed, or without chains) or they cannot be read.
async fn exported_change(aws: &Aws, bucket: &str, table: &str) -> Option<f64> {
    let requests = crate::compliance::history::Requests::default();
    let read = crate::compliance::history::read_chains(&aws.s3, bucket, table, &requests).await;
    match read {
        Ok((chains, _)) => cost::exported_daily_change(&chains, time::OffsetDateTime::now_utc()),
        Err(e) => {
            tracing::debug!("no chain records of {table} to size its changes by ({e})");
            None
        }
    }
}

/// The monthly cost of the configured stack, from each table's size now (DescribeTable; a
/// table `up` would create counts as empty) and writes a day, printed as a table.
async fn estimate(
    aws: &Aws,
    config: &StackConfig,
    desired: &Desired,
    options: CostOptions,
) -> Result<CostEstimate, CommandError> {
    let mut tables = Vec::new();
    for table in &super::stack_tables(config, aws).await? {
        let name = table.as_str();
        let bytes = match options.table_gb {
            Some(gb) => (gb * 1_073_741_824.0) as i64,
            None => {
                let described = aws.dynamodb.describe_table().table_name(name).send().await;
                match described.aws("DescribeTable", name) {
                    Ok(d) => d.table().and_then(|t| t.table_size_bytes()).unwrap_or(0),
                    Err(e) if e.is("ResourceNotFoundException") => 0,
                    Err(e) => return Err(e.into()),
                }
            }
        };
        let size = match options.daily_change_percent {
            Some(percent) => TableSize {
                daily_change_bytes: bytes.max(0) as f64 * percent / 100.0,
                change: cost::ChangeBasis::Given,
                ..TableSize::assumed(name, bytes)
            },
            None => match daily_writes(aws, name).await {
                Some(written) => TableSize {
                    daily_change_bytes: written,
                    change: cost::ChangeBasis::Measured,
                    ..TableSize::assumed(name, bytes)
                },
                None => match exported_change(aws, &desired.bucket.name, name).await {
                    Some(exported) => TableSize {
                        daily_change_bytes: exported,
                        change: cost::ChangeBasis::Exported,
                        ..TableSize::assumed(name, bytes)
                    },
                    None => TableSize::assumed(name, bytes),
                },
            },
        };
        tables.push(size);
    }
    let prices = PriceTable::embedded().map_err(CommandError::Prices)?;
    let runs_per_month = config.schedule.runs_per_month().unwrap_or_else(|| {
        tracing::warn!(
            "the schedule {} has no fixed rate to count runs by; the function's cost assumes one run a day",
            config.schedule
        );
        cost::MONTH_DAYS
    });
    let every = config
        .schedule
        .interval()
        .unwrap_or(std::time::Duration::from_secs(86_400));
    let held = cost::held(&config.retention(), config.schedule.zone(), every);
    let inputs = CostInputs {
        tables,
        backups_kept: held.backups,
        runs_per_month,
        memory_mb: config.memory,
        arch: config.arch,
        drill_every_days: config.drill.map(|d| d.every.as_secs_f64() / 86_400.0),
        export: config.export.clone(),
        alarms: desired.alarms.len(),
        log_retention_days: config.log_retention_days,
    };
    let mut estimate = cost::estimate(&inputs, &aws.region, &prices);
    if options.compare {
        estimate.compare = Some(comparison(
            config,
            &inputs,
            &estimate,
            held,
            &prices,
            &aws.region,
        ));
    }
    if estimate.priced_as != estimate.region {
        tracing::warn!(
            "the price table has no prices for {}; the estimate uses {}'s",
            estimate.region,
            estimate.priced_as
        );
    }
    print(&estimate, &inputs.tables);
    Ok(estimate)
}

/// The stack against its alternatives: the same tables, the same schedule, recovery points as
/// far back as the stack's reach (its backups', its exports' and point-in-time recovery's).
fn comparison(
    config: &StackConfig,
    inputs: &CostInputs,
    estimate: &CostEstimate,
    held: cost::Held,
    prices: &PriceTable,
    region: &str,
) -> cost::compare::Comparison {
    let exports_reach = config
        .export
        .as_ref()
        .map_or(0.0, |e| f64::from(e.tiers.expire_days));
    let pitr_reach = config.pitr_days.map_or(0.0, f64::from);
    let export_copies = config.export.as_ref().map_or(0.0, |e| {
        f64::from(e.tiers.expire_days) / (e.every.length().as_secs_f64() / 86_400.0)
    });
    let compare_inputs = cost::compare::CompareInputs {
        total_gb: cost::total_gb(&inputs.tables),
        interval_days: config
            .longest_gap()
            .map_or(1.0, |g| g.as_secs_f64() / 86_400.0),
        horizon_days: held.reach_days.max(exports_reach).max(pitr_reach),
        configured_usd: estimate
            .lines
            .iter()
            .filter(|l| cost::compare::PROTECTION_ITEMS.contains(&l.item.as_str()))
            .map(|l| l.monthly_usd)
            .sum(),
        configured_points: f64::from(held.backups) + export_copies,
        daily_changes_gb: cost::daily_changes_gb(&inputs.tables),
        zone: config.schedule.zone().clone(),
    };
    cost::compare::compare(&compare_inputs, prices.for_region(region).1)
}

/// Prints the estimate: tables and sizes, one line per item, the total and the savings.
fn print(estimate: &CostEstimate, tables: &[TableSize]) {
    let sizes: Vec<String> = tables
        .iter()
        .map(|t| {
            format!(
                "{} {:.3} GB, {:.4} GB changed a day ({})",
                t.name,
                t.bytes as f64 / 1_073_741_824.0,
                t.daily_change_bytes / 1_073_741_824.0,
                match t.change {
                    cost::ChangeBasis::Measured => "its writes over 7 days",
                    cost::ChangeBasis::Exported => "its incremental exports over 7 days",
                    cost::ChangeBasis::Assumed => "assumed 1 %: no write metrics",
                    cost::ChangeBasis::Given => "--assume-daily-change",
                }
            )
        })
        .collect();
    result!(
        "monthly cost ({} list prices of {}, {}; {}):",
        estimate.priced_as,
        estimate.prices_date,
        estimate.currency,
        sizes.join(", ")
    );
    for line in &estimate.lines {
        result!(
            "  {:<24} {:>12} $  {}",
            line.item,
            format!("{:.2}", line.monthly_usd),
            line.detail
        );
    }
    result!(
        "  {:<24} {:>12} $",
        "total",
        format!("{:.2}", estimate.total_monthly_usd)
    );
    if let Some(c) = &estimate.compare {
        result!(
            "the same recovery objectives (a point every run, reaching back {:.0} days), a month:",
            c.horizon_days
        );
        for a in &c.alternatives {
            result!(
                "  {:>12} $  {}{}  ({:.0} recovery points; {})",
                format!("{:.2}", a.monthly_usd),
                a.option,
                if a.configured { " ←" } else { "" },
                a.recovery_points,
                a.detail
            );
        }
        result!(
            "cheapest: {} (saves {:.2} $ a month against the stack as configured)",
            c.cheapest,
            c.saving_monthly_usd
        );
    }
    for saving in &estimate.savings {
        result!(
            "  {} instead of {}: {:.2} $ a month against {:.2} $, saving {:.2} $",
            saving.option,
            saving.against,
            saving.option_monthly_usd,
            saving.against_monthly_usd,
            saving.monthly_usd
        );
    }
}
