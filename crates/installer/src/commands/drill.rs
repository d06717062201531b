//! `installer drill`: one restore drill now, from this machine, with the function's own code.

use std::time::Duration;

use backup_lambda::drill::{DrillRecord, DrillSettings, DrillStep, StepLimits, parse_period};
use backup_lambda::naming::TableName;
use time::OffsetDateTime;

use super::CommandError;
use crate::aws::ConnectArgs;
use crate::deploy::config::{ConfigError, StackRef};
use crate::deploy::resources::function;
use crate::report::progress::Progress;

/// `installer drill`: restores the table's newest backup made by the function into a scratch
/// table, waits for it, verifies it, records the drill beside the run records (as a scheduled
/// drill does), and deletes the scratch table. A drill the function has under way is finished
/// instead of starting another.
pub async fn drill(
    stack: &StackRef,
    table: Option<&str>,
    timeout: Option<&str>,
    connect: &ConnectArgs,
) -> Result<DrillRecord, CommandError> {
    if let Some(table) = table {
        TableName::parse(table.trim())?;
    }
    let timeout = timeout
        .map(|text| {
            parse_period(text)
                .filter(|d| !d.is_zero())
                .ok_or_else(|| ConfigError::Period {
                    flag: "drill-timeout",
                    got: text.to_owned(),
                })
        })
        .transpose()?;
    let (aws, config, _) = super::deployed_stack(stack, None, connect).await?;
    let table = &super::one_table(&config, table)?;
    let bucket = config.bucket_name(&aws.account, &aws.region);
    // Drills off: the stack's recorded drill timeout all the same.
    let recorded = config
        .settings
        .drill_timeout
        .as_deref()
        .and_then(parse_period)
        .unwrap_or(backup_lambda::request::DEFAULT_DRILL_TIMEOUT);
    let mut settings = config.drill.unwrap_or(DrillSettings {
        every: Duration::ZERO,
        timeout: recorded,
    });
    if let Some(timeout) = timeout {
        settings.timeout = timeout;
    }
    let owner = function::read_ownership(&aws, &config.stack).await?;
    let drill = aws.drills(&bucket, settings, owner);
    report!("drilling {table}: restore its newest backup, verify it, record it, clean up");
    let progress = Progress::new();
    let work = run(&drill, table, settings.timeout);
    let record = progress
        .step("drill", "table", table.as_str(), work)
        .await?;
    report!(
        "  {}: {} from {} in {} s{}; recorded as runs/{table}/drills/{}.json",
        record.verdict,
        record.scratch,
        record.backup_name,
        record.recovery_seconds,
        if record.recovery_upper_bound {
            " at most"
        } else {
            ""
        },
        record.id
    );
    if let Some(reason) = &record.reason {
        report!("  {reason}");
    }
    Ok(record)
}

/// Advances the drill until it is judged (each step may poll up to a minute).
async fn run(
    drill: &crate::aws::Drills,
    table: &TableName,
    timeout: Duration,
) -> Result<DrillRecord, CommandError> {
    let give_up = tokio::time::Instant::now() + timeout + Duration::from_secs(60);
    let mut force = true;
    loop {
        // Polls up to a minute a step; counts to the end (no Lambda deadline here).
        let limits = StepLimits {
            wait_until: Some(tokio::time::Instant::now() + Duration::from_secs(60)),
            count_until: None,
        };
        let step = drill
            .advance(table, OffsetDateTime::now_utc(), limits, force)
            .await?;
        force = false;
        match step {
            DrillStep::Finished { record } => return Ok(*record),
            DrillStep::Idle { why } if why.contains("no AVAILABLE backup") => {
                return Err(CommandError::NothingToDrill(table.to_string()));
            }
            DrillStep::Idle { .. } => force = true,
            DrillStep::Started { .. }
            | DrillStep::Waiting { .. }
            | DrillStep::Verifying { .. }
            | DrillStep::CleaningUp { .. } => {}
        }
        if tokio::time::Instant::now() > give_up {
            return Err(CommandError::DrillStuck(table.to_string()));
        }
    }
}
