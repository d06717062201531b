//! `installer init`: writes a stack's table of the settings file, from the flags given or from a
//! deployed stack (`--from-stack`), so that a stack moves to a reviewed file in one command.

use std::path::PathBuf;

use super::CommandError;
use super::summary::Initialized;
use crate::aws::{Aws, ConnectArgs};
use crate::deploy::config::{ConfigError, StackConfig};
use crate::deploy::deployed::{self, Origin};
use crate::deploy::settings::{DEFAULT_STACK, Settings};
use crate::deploy::settings_file::{self, DEFAULT_FILE};
use backup_lambda::naming::StackName;

/// `init`'s flags.
#[derive(Debug, Clone, clap::Args)]
pub struct InitArgs {
    /// The stack's name in the file [default: --from-stack's, else dynamodb-backup].
    #[arg(long, env = "INSTALLER_STACK")]
    pub stack: Option<String>,
    /// Start from this deployed stack's settings (recorded by its `up`, or read back from its
    /// resources) instead of the defaults.
    #[arg(long, value_name = "STACK")]
    pub from_stack: Option<String>,
    /// The settings, over the deployed stack's or the defaults.
    #[command(flatten)]
    pub settings: Settings,
    /// The file to write [default: installer.toml]; another stack's table in it is kept.
    #[arg(long, env = "INSTALLER_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Replace the stack's table if the file has one.
    #[arg(long)]
    pub force: bool,
}

/// `installer init`.
pub async fn init(args: &InitArgs, connect: &ConnectArgs) -> Result<Initialized, CommandError> {
    let stack_name =
        |name: &str| StackName::parse(name).map_err(|_| ConfigError::Stack(name.to_owned()));
    let name = args
        .stack
        .as_deref()
        .or(args.from_stack.as_deref())
        .unwrap_or(DEFAULT_STACK);
    let name = stack_name(name)?;
    StackConfig::from_settings(name.as_str(), &args.settings)?;
    let path = args
        .config
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_FILE));
    let (base, from) = match &args.from_stack {
        Some(deployed_name) => {
            let deployed_name = stack_name(deployed_name)?;
            let aws = Aws::connect(connect).await?;
            let deployed = deployed::read(&aws, &deployed_name, None).await?;
            let from = match deployed.origin {
                Origin::Recorded => format!("the settings stack {deployed_name} recorded"),
                Origin::Derived { why } => {
                    report!("note: {why}; the settings were read from its resources");
                    format!("the resources of stack {deployed_name}")
                }
                Origin::NotDeployed => {
                    return Err(CommandError::NotDeployed {
                        stack: deployed_name.to_string(),
                        account: aws.account.clone(),
                        region: aws.region.clone(),
                    });
                }
            };
            (deployed.settings, from)
        }
        None => (Settings::defaults(), "the defaults".to_owned()),
    };
    let settings = args.settings.over(&base).complete();
    StackConfig::from_settings(name.as_str(), &settings)?;
    settings_file::write(&path, name.as_str(), &settings, args.force)?;
    report!(
        "wrote [stacks.{name}] to {} from {from}{}; `installer plan --stack {name}` reads it",
        path.display(),
        if args.settings.is_empty() {
            ""
        } else {
            " and the flags given"
        }
    );
    Ok(Initialized {
        path,
        stack: name.to_string(),
        from,
    })
}
