//! `installer up`: create or update the whole stack.

use std::time::Instant;

use super::summary::{Applied, Phases, Planned};
use super::{CommandError, Prepared, alerts, planned, prepare, print_plan};
use crate::aws::ConnectArgs;
use crate::deploy::alerts::{EXPORT_MISSING_SUFFIX, MISSING_SUFFIX};
use crate::deploy::config::StackArgs;
use crate::deploy::plan::Change;
use crate::deploy::stack;

/// `installer up`.
pub async fn up(
    args: &StackArgs,
    connect: &ConnectArgs,
    approval: crate::deploy::plan::Approval,
) -> Result<Applied, CommandError> {
    let Prepared {
        config: _,
        aws,
        desired,
        observed,
        plan,
        settings,
        unmarked,
        phases,
    } = prepare(args, connect).await?;
    report!(
        "stack {} in account {} ({}):",
        desired.function.name,
        aws.account,
        aws.region
    );
    print_plan(&plan, &settings, &unmarked);
    let export_bucket_lock = super::export_lock(&desired, &observed);
    let summary = |elapsed_ms: u128, alerts| Applied {
        plan: Planned {
            export_bucket_lock: export_bucket_lock.clone(),
            ..planned(
                &aws,
                &desired,
                alerts,
                (&plan, &settings, &unmarked),
                Phases {
                    apply_ms: Some(elapsed_ms),
                    ..phases
                },
            )
        },
        function_arn: desired.function_arn().to_owned(),
        rule_arn: desired.rules.first().map(|r| r.arn.clone()),
        rule_arns: desired.rules.iter().map(|r| r.arn.clone()).collect(),
        schedule_group_arn: desired
            .scheduler_wanted
            .then(|| desired.schedules.arn.clone()),
        role_arn: desired.function.role_arn.clone(),
        bucket: desired.bucket.name.clone(),
        elapsed_ms,
    };
    if plan.is_noop() {
        report!("no changes");
        return Ok(summary(0, alerts(&desired, &observed)));
    }
    let lines = plan.lines();
    let asked = approval.wanted_for(&lines);
    if !asked.is_empty() {
        report!("these need your approval:");
        for line in &asked {
            report!("  {line}");
        }
        if !super::down::confirm("apply the plan above?") {
            return Err(CommandError::NotApproved);
        }
    }
    let started = Instant::now();
    stack::apply(&aws, &desired, &observed, &plan).await?;
    let elapsed = started.elapsed();
    report!("up to date in {:.1}s", elapsed.as_secs_f64());
    let new_missing_alarms = plan
        .alarms
        .iter()
        .filter(|s| s.action == Change::Create && s.name.ends_with(MISSING_SUFFIX));
    if new_missing_alarms.count() > 0 {
        report!(
            "note: a new backup-missing alarm has no data until its table's first backup, so it goes to ALARM until then; `installer invoke --table <table>` makes one now"
        );
    }
    let new_export_alarms = plan
        .alarms
        .iter()
        .filter(|s| s.action == Change::Create && s.name.ends_with(EXPORT_MISSING_SUFFIX));
    if new_export_alarms.count() > 0 {
        report!(
            "note: a new export-missing alarm is in ALARM until its table's first export completes and a run after it sees so"
        );
    }
    // The subscriptions and alarms as they are now that they exist.
    let now = if desired.alarms.is_empty() && observed.topic.is_none() {
        observed
    } else {
        stack::observe(&aws, &desired).await?
    };
    Ok(summary(elapsed.as_millis(), alerts(&desired, &now)))
}
