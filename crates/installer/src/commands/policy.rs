//! `installer policy`: the least-privilege IAM policy an operator (a person, or CI's role) needs
//! to run the installer's commands on one stack, printed as a policy document to attach.

use std::path::PathBuf;

use super::CommandError;
use crate::aws::{Aws, ConnectArgs};
use crate::deploy::config::StackConfig;
use crate::deploy::operator::{self, Place, Purpose};
use crate::deploy::settings::{DEFAULT_STACK, Settings};
use crate::deploy::settings_file;

/// `policy`'s flags: the stack's settings as `plan` takes them (never read from the account:
/// the operator may have no permission yet), and which commands.
#[derive(Debug, Clone, clap::Args)]
pub struct PolicyArgs {
    /// Name of the stack [default: the settings file's only stack, else dynamodb-backup].
    #[arg(long, env = "INSTALLER_STACK")]
    pub stack: Option<String>,
    /// Which commands the policy is for.
    #[arg(long = "for", value_enum, default_value_t = Purpose::All)]
    pub purpose: Purpose,
    /// The settings file [default: installer.toml here, if there is one].
    #[arg(long, env = "INSTALLER_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The settings (over the file's, or the defaults): the tables, bucket and exports name
    /// the resources the policy allows.
    #[command(flatten)]
    pub settings: Settings,
}

/// `installer policy`: prints the policy on stdout.
pub async fn policy(args: &PolicyArgs, connect: &ConnectArgs) -> Result<(), CommandError> {
    let file = settings_file::for_stack(args.config.as_deref(), args.stack.as_deref())?;
    let name = args
        .stack
        .clone()
        .or_else(|| file.as_ref().map(|(s, _)| s.clone()))
        .unwrap_or_else(|| DEFAULT_STACK.to_owned());
    let base = file.map(|(_, s)| s).unwrap_or_default();
    let config = StackConfig::from_settings(&name, &args.settings.over(&base))?;
    // Only STS, which needs no permission: the account and partition the ARNs name.
    let aws = Aws::connect(connect).await?;
    let place = Place {
        partition: aws.partition.clone(),
        region: aws.region.clone(),
        account: aws.account.clone(),
    };
    let document = operator::policy(args.purpose, &config, &place);
    let text = serde_json::to_string_pretty(&document).expect(super::SERIALIZES);
    report!(
        "the policy for {:?} on stack {name} in account {} ({}); attach it to the role or user that runs the installer",
        args.purpose,
        place.account,
        place.region
    );
    let _ = crate::report::stdout::line(&text);
    Ok(())
}
