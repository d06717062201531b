//! `installer invoke`: one backup run now, with the schedule's exact input.

use std::path::Path;

use serde_json::Value;

use super::CommandError;
use super::summary::Invoked;
use crate::aws::ConnectArgs;
use crate::build::arch::Arch;
use crate::deploy::config::StackRef;
use crate::local::deployed_code::Candidate;
use crate::local::invoke::InvokeError;

/// Whether `endpoint` is this machine (a local emulator, which cannot execute functions).
fn is_loopback(endpoint: Option<&str>) -> bool {
    endpoint
        .and_then(|e| e.split("://").nth(1))
        .and_then(|rest| rest.split(['/', ':']).next().map(|host| (host, rest)))
        .is_some_and(|(host, rest)| {
            matches!(host, "127.0.0.1" | "localhost") || rest.starts_with("[::1]")
        })
}

/// `invoke`'s own flags.
#[derive(Debug, Clone)]
pub struct InvokeArgs {
    /// `--table`: which table's schedule input to send.
    pub table: Option<String>,
    /// `--event`: the event to send instead of the schedule's input.
    pub event: Option<String>,
    /// `--zip`: the code to run locally.
    pub zip: Option<std::path::PathBuf>,
    /// `--local`.
    pub local: bool,
    /// `--raw`.
    pub raw: bool,
}

/// `installer invoke`.
pub async fn invoke(
    stack: &StackRef,
    args: &InvokeArgs,
    connect: &ConnectArgs,
) -> Result<Invoked, CommandError> {
    let (force_local, raw) = (args.local, args.raw);
    if let Some(table) = &args.table {
        backup_lambda::naming::TableName::parse(table.trim())?;
    }
    let event = match &args.event {
        None => None,
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(value) if value.is_object() => Some(value.to_string()),
            _ => return Err(CommandError::EventNotAnObject(text.clone())),
        },
    };
    let (aws, config, _) = super::deployed_stack(stack, None, connect).await?;
    if let (Some(tag), Some(table)) = (&config.table_tag, &args.table) {
        return Err(CommandError::TableOfTagStack {
            stack: config.stack.to_string(),
            tag: tag.to_string(),
            table: table.clone(),
        });
    }
    let scheduler = config.schedule_via == crate::deploy::settings::ScheduleVia::Scheduler;
    let input = if let Some(event) = event {
        event
    } else if scheduler {
        let name = match &config.table_tag {
            Some(_) => crate::deploy::resources::schedules::TAG_SCHEDULE.to_owned(),
            None => crate::deploy::resources::schedules::schedule_name(&super::one_table(
                &config,
                args.table.as_deref(),
            )?),
        };
        crate::local::invoke::schedule_input(&aws, config.stack.as_str(), &name).await?
    } else if config.table_tag.is_some() {
        let rule = crate::deploy::config::rule_name(config.stack.as_str(), 1);
        crate::local::invoke::tag_input(&aws, &rule).await?
    } else {
        let table = super::one_table(&config, args.table.as_deref())?;
        crate::local::invoke::scheduled_input(
            &aws,
            &config.rule_for(&table),
            config.stack.as_str(),
            &table,
        )
        .await?
    };
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
        crate::local::invoke::local(
            &aws,
            config.function_name(),
            &config.log_group(),
            code_here(args.zip.as_deref())?,
            args.zip.is_some(),
            &input,
        )
        .await?
    } else {
        crate::local::invoke::remote(&aws, config.function_name(), &input).await?
    };
    for line in &run.logs {
        if raw {
            report!("  {line}");
        } else {
            report!("  {}", crate::report::log_line::render(line));
        }
    }
    match run.result {
        Ok(result) => Ok(Invoked {
            function: config.function_name().to_owned(),
            input: serde_json::from_str::<Value>(&input).unwrap_or(Value::Null),
            local: run.local,
            request_id: run.request_id,
            result,
            logs: run.logs,
        }),
        Err((kind, message)) => Err(CommandError::FunctionFailed { kind, message }),
    }
}

/// The zips on this machine that may be the deployed code: `--zip` alone if given; else the ones
/// this installer carries and, in a checkout, the last `installer build` of each architecture.
fn code_here(zip: Option<&Path>) -> Result<Vec<Candidate>, CommandError> {
    let read = |path: &Path| -> Result<Vec<u8>, CommandError> {
        std::fs::read(path).map_err(|e| {
            InvokeError::Local(format!("could not read {}: {e}", path.display())).into()
        })
    };
    if let Some(path) = zip {
        return Ok(vec![Candidate {
            label: path.display().to_string(),
            bytes: read(path)?,
        }]);
    }
    let mut candidates = Vec::new();
    for bytes in crate::build::bundle::embedded() {
        candidates.push(Candidate {
            label: "the zip this installer carries".to_owned(),
            bytes,
        });
    }
    if crate::build::compile::in_checkout() {
        for arch in [Arch::Arm64, Arch::X86_64] {
            let built = crate::build::compile::workspace_root().join(arch.default_zip());
            if built.is_file() {
                candidates.push(Candidate {
                    label: built.display().to_string(),
                    bytes: read(&built)?,
                });
            }
        }
    }
    Ok(candidates)
}
