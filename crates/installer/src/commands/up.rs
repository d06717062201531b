//! `installer up`: create or update the whole stack.

use std::time::Instant;

use super::summary::{Applied, Phases};
use super::{CommandError, Prepared, planned, prepare, print_plan};
use crate::aws::ConnectArgs;
use crate::deploy::config::StackArgs;
use crate::deploy::stack;

/// `installer up`.
pub async fn up(args: &StackArgs, connect: &ConnectArgs) -> Result<Applied, CommandError> {
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
    let summary = |elapsed_ms: u128| Applied {
        plan: planned(
            &aws,
            &desired,
            &plan,
            Phases {
                apply_ms: Some(elapsed_ms),
                ..phases
            },
        ),
        function_arn: desired.function_arn().to_owned(),
        rule_arn: desired.rules.first().map(|r| r.arn.clone()),
        rule_arns: desired.rules.iter().map(|r| r.arn.clone()).collect(),
        role_arn: desired.function.role_arn.clone(),
        bucket: desired.bucket.name.clone(),
        elapsed_ms,
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
