//! `installer plan`: what `up` would do, without changing anything.

use super::summary::Planned;
use super::{CommandError, Prepared, alerts, planned, prepare, print_plan};
use crate::aws::ConnectArgs;
use crate::deploy::config::StackArgs;

/// `installer plan`.
pub async fn plan(args: &StackArgs, connect: &ConnectArgs) -> Result<Planned, CommandError> {
    let Prepared {
        aws,
        desired,
        observed,
        plan,
        phases,
    } = prepare(args, connect).await?;
    report!("plan for account {} in {}:", aws.account, aws.region);
    print_plan(&plan);
    if plan.is_noop() {
        report!("no changes");
    }
    let alerts = alerts(&desired, &observed);
    Ok(planned(&aws, &desired, alerts, &plan, phases))
}
