//! `installer down`: remove the stack, keeping its data unless asked ([`DeleteData`]);
//! `--dry-run` prints what it would do, on stdout.

use std::io::{BufRead, IsTerminal, Write};
use std::time::Instant;

use super::CommandError;
use super::summary::{BackupsDeleted, Removed};
use crate::aws::ConnectArgs;
use crate::deploy::config::StackRef;
use crate::deploy::desired::Desired;
use crate::deploy::plan::Removal;
use crate::deploy::removal::DeleteData;
use crate::deploy::resources::function;
use crate::deploy::{removal, stack};

/// Asks on the terminal; `true` only for "yes".
pub(super) fn confirm(question: &str) -> bool {
    eprint!("{question} [yes/no]: ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer).is_ok() && answer.trim() == "yes"
}

/// What `down` looks for besides what the stack's settings name.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Leftovers {
    /// The stack's bucket, when it has a name of its own (`up --bucket`) and the stack's
    /// function, which names it, is gone (a `down` that kept the data, or was stopped).
    #[arg(long, value_name = "NAME")]
    pub bucket: Option<String>,
    /// Also a table the stack no longer backs up (repeatable): its backups made by the stack
    /// and, if the stack made it, the table are the stack's data too.
    #[arg(long = "table", value_name = "TABLE")]
    pub tables: Vec<String>,
}

/// `installer down`.
pub async fn down(
    stack: &StackRef,
    connect: &ConnectArgs,
    yes: bool,
    dry_run: bool,
    (delete, leftovers): (DeleteData, &Leftovers),
) -> Result<Removed, CommandError> {
    stack.name()?;
    let extra = leftovers
        .tables
        .iter()
        .map(|t| backup_lambda::naming::TableName::parse(t.trim()))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(bucket) = &leftovers.bucket {
        crate::deploy::config::check_bucket("bucket", bucket)?;
    }
    if !yes && !dry_run && !std::io::stdin().is_terminal() {
        return Err(CommandError::NeedsConfirmation);
    }
    let (aws, config, _) =
        super::deployed_stack(stack, leftovers.bucket.as_deref(), connect).await?;
    let desired = Desired::new(&config, &aws, None)?;
    let observed = stack::observe(&aws, &desired).await?;
    let environment = observed.function.as_ref().map(|f| &f.environment);
    let owner = function::ownership(&config.stack, environment);
    let steps = removal::removal_plan(&aws, &desired, &observed, &owner, delete, &extra).await?;
    let summary = |backups: &[(String, usize)], elapsed_ms: u128| Removed {
        stack: config.stack.to_string(),
        account: aws.account.clone(),
        region: aws.region.clone(),
        resources: steps.clone(),
        dry_run,
        backups_deleted: backups
            .iter()
            .map(|(table, deleted)| BackupsDeleted {
                table: table.clone(),
                deleted: *deleted,
            })
            .collect(),
        elapsed_ms,
    };
    if dry_run {
        // The plan is the result.
        result!(
            "down would remove stack {} from account {} ({}):",
            config.stack,
            aws.account,
            aws.region
        );
        for step in &steps {
            result!("  {step}");
        }
        return Ok(summary(&[], 0));
    }
    report!(
        "removing stack {} from account {} ({}):",
        config.stack,
        aws.account,
        aws.region
    );
    for step in &steps {
        report!("  {step}");
    }
    if steps.iter().all(|s| s.action != Removal::Delete) {
        report!("nothing to remove");
        return Ok(summary(&[], 0));
    }
    if !yes && !confirm("delete the resources marked 'delete'?") {
        return Err(CommandError::Cancelled);
    }
    let started = Instant::now();
    let backups = removal::remove(&aws, &desired, &owner, &steps).await?;
    for (table, count) in &backups {
        report!("  deleted {count} backup(s) of {table} made by this stack");
    }
    report!("removed in {:.1}s", started.elapsed().as_secs_f64());
    Ok(summary(&backups, started.elapsed().as_millis()))
}
