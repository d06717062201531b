//! One file per subcommand; here what they share: the error type, the runtime, and the steps
//! `plan` and `up` have in common (validate, build, connect, observe, plan).

mod alerts;
mod build;
mod bundle;
mod coverage;
mod down;
mod drill;
mod init;
mod invoke;
mod load_data;
mod logs;
mod plan;
mod policy;
mod reference;
mod report;
mod restore;
mod restore_chain;
mod restore_export;
mod restore_in_place;
mod restore_items;
mod rollback;
mod status;
pub mod summary;
mod up;
mod vault;

pub(crate) use alerts::alerts;
pub(crate) use build::build;
pub(crate) use bundle::bundle;
pub(crate) use coverage::{CoverageArgs, coverage};
pub(crate) use down::{Leftovers, down};
pub(crate) use drill::drill;
pub(crate) use init::{InitArgs, init};
pub(crate) use invoke::{InvokeArgs, invoke};
pub(crate) use load_data::{OnBadRecord, load_data};
pub(crate) use logs::logs;
pub(crate) use plan::plan;
pub(crate) use policy::{PolicyArgs, policy};
pub(crate) use reference::reference;
pub(crate) use report::{ReportArgs, report};
pub(crate) use restore::{RestoreArgs, restore};
pub(crate) use rollback::{RollbackArgs, rollback};
pub(crate) use status::status;
pub(crate) use up::up;
pub(crate) use vault::{VaultArgs, vault};

use std::future::Future;
use std::path::Path;
use std::time::Instant;

use miette::Diagnostic;
use thiserror::Error;

use crate::aws::{Aws, AwsError, ConnectArgs, ConnectError};
use crate::build::artifact::{self, ArtifactError};
use crate::build::package::Package;
use crate::cli::{Command, Output, SchemaOf};
use crate::data::movies::DataError;
use crate::deploy::config::{ConfigError, StackArgs, StackConfig, StackRef};
use crate::deploy::deployed::{self, Deployed, Origin};
use crate::deploy::desired::Desired;
use crate::deploy::policy::PolicyError;
use crate::deploy::settings::SettingChange;
use crate::deploy::settings::Settings;
use crate::deploy::settings_file::{self, SettingsFileError};
use crate::deploy::stack::{self, StackError, StackPlan};
use crate::report::stdout;
use summary::{Phases, Planned, Summary, Unmarked};

/// Why a command failed.
#[derive(Debug, Error, Diagnostic)]
pub enum CommandError {
    /// The flags are invalid (nothing was called).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The deployment zip could not be built or is unusable (nothing was called).
    #[error(transparent)]
    Artifact(#[from] ArtifactError),
    /// The account could not be reached.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// A policy template did not render.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// Applying or reading the stack failed.
    #[error(transparent)]
    Stack(#[from] StackError),
    /// `--from-export` names an incremental export.
    #[error(
        "{0} is an incremental export (a rollback's): it holds a window's changes, not the table; name a full export (latest, a period, its ARN or location)"
    )]
    IncrementalExport(String),
    /// No chain point to restore.
    #[error("no restore point of {table}'s export chains: {why}")]
    NoChain {
        /// The table.
        table: String,
        /// Why.
        why: String,
    },
    /// `--time` with an export other than the chains.
    #[error(
        "--time with --from-export needs --from-export chain (an export holds one moment): drop --time, or use --from-export chain"
    )]
    TimeWithExport,
    /// An export's files could not be read.
    #[error(transparent)]
    ExportFiles(#[from] crate::export_files::ExportFilesError),
    /// A rollback could not be done.
    #[error(transparent)]
    Rollback(#[from] crate::rollback::RollbackError),
    /// An in-place restore was refused or stopped.
    #[error(transparent)]
    InPlace(#[from] crate::in_place::InPlaceError),
    /// `vault init` was refused or stopped.
    #[error(transparent)]
    Vault(#[from] vault::VaultError),
    /// The deployed stack's settings could not be read.
    #[error(transparent)]
    Deployed(#[from] crate::deploy::deployed::DeployedError),
    /// The settings file could not be used (nothing was called).
    #[error(transparent)]
    SettingsFile(#[from] SettingsFileError),
    /// `--table` names a table the stack does not back up.
    #[error("stack {stack} does not back up table {table} (it backs up {tables}); check --table")]
    NotTheStacks {
        /// The stack.
        stack: String,
        /// The table named.
        table: String,
        /// The tables it backs up.
        tables: String,
    },
    /// The deployed stack's settings are not ones `up` would accept (changed by hand, or read
    /// back from resources that were).
    #[error(
        "the settings of stack {stack} (s3://{bucket}/settings/{stack}.json, or its resources) are not valid: {source}; fix them with `installer up --stack {stack}` and the flag named"
    )]
    DeployedInvalid {
        /// The stack.
        stack: String,
        /// Its bucket.
        bucket: String,
        /// What is wrong.
        source: ConfigError,
    },
    /// `init --from-stack` names a stack that is not deployed.
    #[error(
        "stack {stack} is not deployed in account {account} ({region}): no function, schedule or log group; check --from-stack and --region"
    )]
    NotDeployed {
        /// The stack.
        stack: String,
        /// The account looked in.
        account: String,
        /// The region looked in.
        region: String,
    },
    /// A key file could not be read.
    #[error("could not read {path}: {source}")]
    KeysRead {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The items' file could not be written.
    #[error("could not write {path}: {source}")]
    KeysWrite {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A key is not one of the table's keys.
    #[error("{at}: {why}")]
    BadKey {
        /// Where: the file and line, or the flag.
        at: String,
        /// What is wrong.
        why: String,
    },
    /// Single items come from a backup or an export, not a point in time (clap keeps `--time`
    /// from `--items`; this is the guard behind it).
    #[error(
        "--items and --key restore single items from a backup (--backup) or an export (--from-export); from a point in time, restore the table with --to and read them there"
    )]
    ItemsFromBackupOnly,
    /// `invoke --table` on a stack that chooses its tables by tag.
    #[error(
        "stack {stack} backs up the tables tagged {tag}, all in one run: `invoke` runs that, so drop --table {table}"
    )]
    TableOfTagStack {
        /// The stack.
        stack: String,
        /// Its tag.
        tag: String,
        /// The table named.
        table: String,
    },
    /// `coverage --tag` that is not `KEY=VALUE`.
    #[error(
        "--tag must be KEY=VALUE, such as backup=daily (a key of 1 to 128 characters, a value of up to 256), got {0:?}"
    )]
    CoverageTag(String),
    /// `invoke --event` that is not a JSON object.
    #[error(
        "--event must be a JSON object such as '{{\"TableName\": \"Movies\"}}' (the event the function receives), got {0}"
    )]
    EventNotAnObject(String),
    /// A command needs a table and the stack chooses its tables by tag.
    #[error("stack {0} backs up the tables carrying its tag: name the one to use with --table")]
    TableNeeded(String),
    /// `down` without a terminal to confirm on.
    #[error(
        "down deletes resources and needs confirmation: pass --yes to confirm without a terminal"
    )]
    NeedsConfirmation,
    /// The user said no.
    #[error("down cancelled; nothing was deleted")]
    Cancelled,
    /// `up` was not approved at its prompt.
    #[error(
        "up cancelled; nothing was changed (--yes, or --require-approval never, applies without asking)"
    )]
    NotApproved,
    /// The sample data could not be read.
    #[error(transparent)]
    Data(#[from] DataError),
    /// `--table` is not a table name.
    #[error("invalid --table: {0}")]
    Table(#[from] backup_lambda::naming::TableNameError),
    /// Bad records with `--on-bad-record reject`.
    #[error(
        "{count} bad record(s), the first: record {index}: {reason}; fix them or pass --on-bad-record skip"
    )]
    Rejected {
        /// How many.
        count: usize,
        /// The first one's index.
        index: usize,
        /// Why it is bad.
        reason: String,
    },
    /// The table to load into does not exist.
    #[error(
        "table {0} does not exist; create it with `installer up --table {0} --create-table` first"
    )]
    NoTable(String),
    /// A named table does not exist and `up` may not create it (no `--create-table`).
    #[error(
        "table {table} does not exist in account {account} ({region}){} To back up a new table, pass --create-table (it is made keyed year/title with the 30 sample movies).",
        nearest.as_ref().map_or_else(|| ".".to_owned(), |n| format!("; did you mean {n}?"))
    )]
    MissingTable {
        /// The table named.
        table: String,
        /// The account looked in.
        account: String,
        /// The region looked in.
        region: String,
        /// The existing table with the nearest name, if one is close.
        nearest: Option<String>,
    },
    /// Some items were never written.
    #[error(
        "{failed} of {total} items were not written after retries (throttled?); run load-data again to finish"
    )]
    Incomplete {
        /// Items not written.
        failed: usize,
        /// Items tried.
        total: usize,
    },
    /// Running the function failed.
    #[error(transparent)]
    Invoke(#[from] crate::local::invoke::InvokeError),
    /// The function ran and reported an error.
    #[error("the function failed: {kind}: {message}")]
    FunctionFailed {
        /// Its errorType.
        kind: String,
        /// Its errorMessage.
        message: String,
    },
    /// `--to` is not a table name.
    #[error("invalid --to: {0}")]
    Target(backup_lambda::naming::TableNameError),
    /// The restore's target exists (or is the source).
    #[error("table {0} already exists; a restore never overwrites a table: choose another --to")]
    TargetTaken(String),
    /// `--time` is not RFC 3339.
    #[error("invalid --time {0:?}: use RFC 3339, e.g. 2026-11-28T10:00:00Z")]
    Time(String),
    /// The table to restore from does not exist.
    #[error("table {0} does not exist in this account and region; check --table and --region")]
    NoSource(String),
    /// The table an export is restored from is gone, and the export was not named by where it
    /// was written (whose `table.json` keeps the table's definition).
    #[error(
        "table {0} does not exist in this account and region, and its definition is kept only beside its exports: name the export by where it was written, --from-export s3://<bucket>/<prefix> (its folder holds table.json), or restore one of its backups (without --from-export)"
    )]
    SourceGone(String),
    /// The table an export is restored from is gone, and no definition was kept beside it.
    #[error(
        "table {table} does not exist in this account and region, and {location} holds no table.json (exports made before this version do not): make a table of the same name and key schema first, then restore from the location"
    )]
    NoDefinition {
        /// The table.
        table: String,
        /// Where its export was written.
        location: String,
    },
    /// The table to restore from does not exist, and has no backup to restore.
    #[error(
        "table {0} does not exist in this account and region and has no backup to restore; check --table and --region, or pass --any to consider backups this stack did not make"
    )]
    NoSourceNorBackup(String),
    /// `--time` of a table that no longer exists.
    #[error(
        "table {0} no longer exists, so it has no point-in-time window; if it was deleted with point-in-time recovery on, DynamoDB kept its last state as the backup {0}$DeletedTableBackup: restore that with --any and no --time"
    )]
    DeletedSourcePointInTime(String),
    /// No backup to restore.
    #[error(transparent)]
    Choice(#[from] backup_lambda::restore::ChoiceError),
    /// `--time` without point-in-time recovery.
    #[error(
        "table {0} has no point-in-time recovery, so it cannot be restored to a --time; restore a backup with --backup instead"
    )]
    NoPitr(String),
    /// `--time` outside the window.
    #[error(
        "--time {time} is outside the point-in-time window {earliest} to {latest}; choose a time inside it"
    )]
    OutsidePitr {
        /// The time asked for.
        time: String,
        /// The earliest restorable moment.
        earliest: String,
        /// The latest restorable moment.
        latest: String,
    },
    /// `--from-export` names an ARN that is not one of the table's exports.
    #[error(
        "{export} is not an export of table {table}; list them with `aws dynamodb list-exports`, or pass --from-export latest"
    )]
    NoSuchExport {
        /// The table.
        table: String,
        /// The ARN given.
        export: String,
    },
    /// The export named has not completed.
    #[error(
        "export {export} is {status}, not COMPLETED; wait for it, or pass another --from-export"
    )]
    ExportNotCompleted {
        /// The export.
        export: String,
        /// Its status.
        status: String,
    },
    /// No export to restore.
    #[error(
        "table {table} has no {pick} (ListExports shows the past 90 days only: pass an older export's ARN, or the S3 location it was written to, s3://<bucket>/<prefix>, to --from-export); start one with `installer up --export daily` and a run, or restore a backup instead"
    )]
    NoExport {
        /// The table.
        table: String,
        /// What was looked for.
        pick: String,
    },
    /// The export's data files are archived and `--thaw` was not given.
    #[error(
        "{count} data file(s) of export {export} are in an archive storage class (S3 Glacier Flexible Retrieval or Deep Archive), which ImportTable cannot read until restored; run again with --thaw to restore them for 7 days and wait (hours), or restore them yourself, e.g. aws s3api restore-object --bucket {bucket} --key {first} --restore-request Days=7"
    )]
    ExportArchived {
        /// The export.
        export: String,
        /// How many files.
        count: usize,
        /// Their bucket.
        bucket: String,
        /// The first one's key.
        first: String,
    },
    /// The export's data files could not be found.
    #[error("cannot find the data of export {export}: {why}")]
    ExportData {
        /// The export.
        export: String,
        /// Why.
        why: String,
    },
    /// ImportTable cannot recreate a local secondary index.
    #[error(
        "table {0} has local secondary indexes, which ImportTable cannot create; restore it from a backup (--backup) instead"
    )]
    ImportCannotMakeLsi(String),
    /// The built-in price table does not parse (a build-time mistake).
    #[error("the built-in price table is not valid: {0}")]
    Prices(serde_json::Error),
    /// No backup to drill.
    #[error(
        "table {0} has no AVAILABLE backup made by this stack to drill; run one first (`installer invoke --table {0}`)"
    )]
    NothingToDrill(String),
    /// The drill did not end.
    #[error(
        "the drill of table {0} did not end in time; see `installer status` and run `installer drill` again"
    )]
    DrillStuck(String),
    /// `--since` is not a duration.
    #[error("invalid --since {0:?}: use a number and a unit, e.g. 30s, 15m, 1h or 2d")]
    Since(String),
    /// A `report` flag that should be a time is not (nothing was called).
    #[error(
        "{flag} {text:?} is not a time: use RFC 3339 (2026-11-01T00:00:00Z) or a day (2026-11-01)"
    )]
    NotATime {
        /// The flag.
        flag: &'static str,
        /// What it was given.
        text: String,
    },
    /// A `report` flag that should be a duration is not (nothing was called).
    #[error("{flag} {text:?} is not a duration: use a number and a unit, e.g. 90m, 26h or 30d")]
    NotADuration {
        /// The flag.
        flag: &'static str,
        /// What it was given.
        text: String,
    },
    /// `report --from` is not before `--to`.
    #[error("the period is empty: --from must be before --to")]
    EmptyPeriod,
    /// `report --html`'s folder does not exist (nothing was called).
    #[error("--html {0}: its folder does not exist; create it or choose another path")]
    HtmlFolderMissing(std::path::PathBuf),
    /// The deployed schedule has no fixed interval to derive the default RPO from.
    #[error(
        "the schedule {0} has no fixed interval to derive an RPO from; pass --rpo, e.g. --rpo 26h"
    )]
    RpoUnknown(String),
    /// The report's page could not be written.
    #[error("could not write --html {path}: {source}")]
    HtmlWrite {
        /// Where.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// `bundle` was given two zips of one architecture.
    #[error("{first} and {second} are both built for {arch}; pass one zip per architecture")]
    BundleSameArch {
        /// The first zip.
        first: std::path::PathBuf,
        /// The second.
        second: std::path::PathBuf,
        /// Their architecture.
        arch: crate::build::arch::Arch,
    },
    /// `bundle` could not read itself or write the installer.
    #[error("could not write {path}: {source}")]
    BundleWrite {
        /// The installer it was writing.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// `reference` could not write a file.
    #[error("could not write {path}: {source}")]
    ReferenceWrite {
        /// The file or folder.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The async runtime could not start.
    #[error("could not start the async runtime: {0}")]
    Runtime(std::io::Error),
}

impl From<AwsError> for CommandError {
    fn from(err: AwsError) -> Self {
        Self::Stack(StackError::Aws(err))
    }
}

impl CommandError {
    /// Whether this is a usage error: a flag (or its environment variable) found invalid before
    /// any AWS call, reported like clap's own (one line, exit 2) rather than as a failure.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            CommandError::Config(_)
                | CommandError::TimeWithExport
                | CommandError::EventNotAnObject(_)
                | CommandError::CoverageTag(_)
                | CommandError::SettingsFile(_)
                | CommandError::Table(_)
                | CommandError::Target(_)
                | CommandError::Time(_)
                | CommandError::Since(_)
                | CommandError::BadKey { .. }
                | CommandError::NotATime { .. }
                | CommandError::NotADuration { .. }
                | CommandError::EmptyPeriod
                | CommandError::HtmlFolderMissing(_)
                | CommandError::Connect(ConnectError::BadEndpoint(_))
        ) || matches!(self, CommandError::Rollback(e) if e.is_usage())
            || matches!(self, CommandError::InPlace(e) if e.is_usage())
            || matches!(self, CommandError::Vault(e) if e.is_usage())
    }
}

/// Why a command's document always serializes: its types are strings, numbers, lists and maps
/// with string keys (and JSON the function returned).
const SERIALIZES: &str = "a summary is strings, numbers, lists and string-keyed maps";

/// Runs `command` and prints its result on stdout as `output` says: the JSON document with
/// `--output json`; in text, the function's result for `invoke` and the table for `report`
/// (`plan` and `status` print theirs as they go, with [`crate::result!`]; progress is on
/// stderr). The exit status is 0; [`summary::EXIT_VERDICT`] when what the command checked is
/// found wanting ([`Summary::failed_verdict`]); for `plan`, 1 when `up` would stop and, with
/// `--detailed-exitcode`, 2 when something would change.
pub fn run(
    command: Command,
    connect: &ConnectArgs,
    output: Output,
) -> miette::Result<std::process::ExitCode> {
    let detailed = matches!(
        &command,
        Command::Plan {
            detailed_exitcode: true,
            ..
        }
    );
    let summary = dispatch(command, connect, output == Output::Json)?;
    match (output, &summary) {
        (_, Summary::Logs | Summary::Printed) => {}
        (Output::Json, summary) => {
            let json = serde_json::to_string(summary).expect(SERIALIZES);
            let _ = stdout::line(&json);
        }
        (Output::Text, Summary::Invoke(invoked)) => {
            let json = serde_json::to_string_pretty(&invoked.result).expect(SERIALIZES);
            let _ = stdout::line(&json);
        }
        (Output::Text, Summary::Report(report)) => {
            let _ = stdout::bytes(crate::compliance::text::render(report).as_bytes());
        }
        (Output::Text, _) => {}
    }
    Ok(match summary {
        // `up` would stop on a conflict: the plan is shown, and it is a failure.
        Summary::Plan(planned) if planned.conflicts() > 0 => {
            report!(
                "up would stop: {} resource(s) in the way (the conflicts above)",
                planned.conflicts()
            );
            std::process::ExitCode::FAILURE
        }
        Summary::Plan(planned) if detailed && planned.changes => std::process::ExitCode::from(2),
        summary => match summary.failed_verdict() {
            Some(why) => {
                // Shown even with -q: it is why the status is not 0.
                eprintln!("{why}");
                std::process::ExitCode::from(summary::EXIT_VERDICT)
            }
            None => std::process::ExitCode::SUCCESS,
        },
    })
}

/// Runs the subcommand and returns its machine-readable summary.
fn dispatch(command: Command, connect: &ConnectArgs, json: bool) -> miette::Result<Summary> {
    match command {
        Command::Build {
            arch,
            out,
            bootstrap,
        } => {
            let out = out.unwrap_or_else(|| std::path::PathBuf::from(arch.default_zip()));
            Ok(Summary::Build(build(arch, bootstrap.as_deref(), &out)?))
        }
        Command::Bundle {
            zips,
            out,
            installer,
        } => Ok(Summary::Bundle(bundle(&zips, installer.as_deref(), &out)?)),
        Command::Plan {
            stack,
            cost,
            compare,
            assume_table_gb,
            assume_daily_change,
            detailed_exitcode: _,
        } => {
            let cost = cost.then_some(plan::CostOptions {
                compare,
                table_gb: assume_table_gb,
                daily_change_percent: assume_daily_change,
            });
            block_on(plan(&stack, connect, cost)).map(Summary::Plan)
        }
        Command::Up {
            stack,
            yes,
            require_approval,
        } => {
            // Only a person at a terminal can answer; a script or CI is never asked.
            let ask = !yes && std::io::IsTerminal::is_terminal(&std::io::stdin());
            let approval = if ask {
                require_approval
            } else {
                crate::deploy::plan::Approval::Never
            };
            block_on(up(&stack, connect, approval)).map(Summary::Up)
        }
        Command::Init(args) => block_on(init(&args, connect)).map(Summary::Init),
        Command::Policy(args) => block_on(policy(&args, connect)).map(|()| Summary::Printed),
        Command::Rollback(args) => block_on(rollback(&args, connect)).map(Summary::Rollback),
        Command::Vault(args) => block_on(vault(&args, connect)).map(Summary::Vault),
        Command::Reference { out } => Ok(Summary::Reference(reference(&out)?)),
        Command::Schema { of } => {
            let schema = match of {
                SchemaOf::Output => schemars::schema_for!(summary::Document),
                SchemaOf::Settings => {
                    schemars::schema_for!(crate::deploy::settings_file::SettingsFile)
                }
            };
            let json = serde_json::to_string_pretty(&schema).expect(SERIALIZES);
            let _ = stdout::line(&json);
            Ok(Summary::Printed)
        }
        Command::Completions { shell } => {
            crate::cli::print_completions(shell);
            Ok(Summary::Printed)
        }
        Command::Status { stack } => block_on(status(&stack, connect)).map(Summary::Status),
        Command::Coverage { stack, rpo, tag } => {
            let args = CoverageArgs { rpo, tag };
            block_on(coverage(&stack, &args, connect)).map(Summary::Coverage)
        }
        Command::LoadData {
            table,
            file,
            on_bad_record,
            concurrency,
        } => block_on(load_data(
            &table,
            file.as_deref(),
            on_bad_record,
            usize::from(concurrency),
            connect,
        ))
        .map(Summary::LoadData),
        Command::Invoke {
            stack,
            table,
            event,
            zip,
            local,
            raw,
        } => {
            let args = InvokeArgs {
                table,
                event,
                zip,
                local,
                raw,
            };
            block_on(invoke(&stack, &args, connect)).map(Summary::Invoke)
        }
        Command::Logs {
            stack,
            since,
            follow,
            raw,
        } => block_on(logs(&stack, connect, &since, follow, json, raw)).map(|()| Summary::Logs),
        Command::Down {
            stack,
            yes,
            dry_run,
            delete,
            leftovers,
        } => block_on(down(&stack, connect, yes, dry_run, (delete, &leftovers))).map(Summary::Down),
        Command::Drill {
            stack,
            table,
            drill_timeout,
        } => block_on(drill(
            &stack,
            table.as_deref(),
            drill_timeout.as_deref(),
            connect,
        ))
        .map(Summary::Drill),
        Command::Report {
            stack,
            tables,
            since,
            from,
            to,
            rpo,
            rto,
            html,
            coverage,
        } => {
            let args = ReportArgs {
                tables,
                since,
                from,
                to,
                rpo,
                rto,
                html,
                coverage,
            };
            block_on(report(&stack, &args, connect)).map(Summary::Report)
        }
        Command::Restore {
            table,
            to,
            items,
            keys,
            to_file,
            overwrite,
            backup,
            stack,
            any,
            time,
            from_export,
            no_tags,
            thaw,
            in_place,
            disable_deletion_protection,
            yes,
            scan_segments,
        } => {
            let args = RestoreArgs {
                table,
                to,
                items,
                keys,
                to_file,
                overwrite,
                backup,
                stack,
                any,
                time,
                from_export,
                no_tags,
                thaw,
                in_place,
                disable_deletion_protection,
                yes,
                scan_segments,
            };
            let in_place_only = [
                (
                    args.disable_deletion_protection,
                    "--disable-deletion-protection",
                ),
                (args.yes, "--yes"),
            ];
            if let Some((_, flag)) = in_place_only.iter().find(|(given, _)| *given && !in_place) {
                Err(CommandError::from(crate::in_place::InPlaceError::OnlyInPlace(flag)).into())
            } else if args.in_place {
                block_on(restore_in_place::restore_in_place(&args, connect))
                    .map(Summary::RestoreInPlace)
            } else if args.items.is_some() || !args.keys.is_empty() {
                block_on(restore_items::restore_items(&args, connect)).map(Summary::RestoreItems)
            } else {
                block_on(restore(&args, connect)).map(Summary::Restore)
            }
        }
    }
}

/// The tables the stack backs up now: the ones named, or those carrying `--table-tag`, found as
/// the function finds them (ListTables and each table's tags).
pub(crate) async fn stack_tables(
    config: &StackConfig,
    aws: &Aws,
) -> Result<Vec<backup_lambda::naming::TableName>, AwsError> {
    match &config.table_tag {
        None => Ok(config.tables.clone()),
        Some(tag) => {
            let store = backup_lambda::store::DynamoDbBackups::new(aws.dynamodb.clone());
            let pacer = backup_lambda::pace::Pacers::default().tags;
            let found = backup_lambda::select::tagged_tables(&store, tag, &pacer).await?;
            report!("tables tagged {tag}: {}", found.tables.len());
            for (table, e) in &found.unreadable {
                report!("  could not read the tags of {table}, left out: {e}");
            }
            Ok(found.tables)
        }
    }
}

/// A deployed stack, found by its name alone: the connection, its config (from the settings
/// `up` recorded with it, or read back from its resources) and where they came from.
pub(crate) async fn deployed_stack(
    stack: &StackRef,
    bucket: Option<&str>,
    connect: &ConnectArgs,
) -> Result<(Aws, StackConfig, Deployed), CommandError> {
    let name = stack.name()?;
    let aws = Aws::connect(connect).await?;
    let deployed = deployed::read(&aws, &name, bucket).await?;
    match &deployed.origin {
        Origin::Recorded => {}
        Origin::Derived { why } => report!(
            "note: {why}; the stack's settings were read from its resources (`installer up --stack {name}` records them)"
        ),
        Origin::NotDeployed => report!(
            "note: stack {name} is not deployed in account {} ({}): no function, schedule or log group",
            aws.account,
            aws.region
        ),
    }
    // The stack's own settings not making a stack is no usage error: say whose they are.
    let config = deployed
        .config(&name)
        .map_err(|e| CommandError::DeployedInvalid {
            stack: name.to_string(),
            bucket: deployed.bucket.clone(),
            source: e,
        })?;
    Ok((aws, config, deployed))
}

/// The table a command works on: `--table` (one the stack backs up, when it names its
/// tables), else the stack's first.
pub(crate) fn one_table(
    config: &StackConfig,
    given: Option<&str>,
) -> Result<backup_lambda::naming::TableName, CommandError> {
    let Some(given) = given else {
        return config
            .tables
            .first()
            .cloned()
            .ok_or_else(|| CommandError::TableNeeded(config.stack.to_string()));
    };
    let table = backup_lambda::naming::TableName::parse(given.trim())?;
    if config.table_tag.is_none() && !config.tables.contains(&table) {
        return Err(CommandError::NotTheStacks {
            stack: config.stack.to_string(),
            table: table.to_string(),
            tables: config
                .tables
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    Ok(table)
}

/// Runs a command's future to completion on a multi-threaded runtime and returns its result.
fn block_on<T, F: Future<Output = Result<T, CommandError>>>(future: F) -> miette::Result<T> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CommandError::Runtime)?;
    Ok(runtime.block_on(future)?)
}

/// The zip to deploy: `--zip`; else the one this installer carries (a release binary) for the
/// architecture asked for; else, in a checkout of the source, a fresh `installer build`.
fn deployment_zip(config: &StackConfig) -> Result<Package, ArtifactError> {
    if let Some(path) = &config.zip {
        return artifact::load(path, config.arch);
    }
    let (matching, other): (Vec<_>, Vec<_>) = crate::build::bundle::embedded()
        .into_iter()
        .map(|bytes| {
            artifact::load_bytes(
                bytes,
                Path::new("the zip this installer carries"),
                config.arch,
            )
        })
        .partition(Result::is_ok);
    match matching.into_iter().chain(other).next() {
        Some(Ok(package)) => {
            report!(
                "deploying the function zip this installer carries (CodeSha256 {})",
                package.code_sha256()
            );
            Ok(package)
        }
        _ if crate::build::compile::in_checkout() => {
            let out = crate::build::compile::workspace_root().join(config.arch.default_zip());
            let built = artifact::build(config.arch, None, &out)?;
            artifact::load(&built.path, config.arch)
        }
        Some(Err(wrong)) => Err(wrong),
        None => Err(ArtifactError::NoZip(config.arch)),
    }
}

/// The unmarked backups of each named table that exists, counted against what the stack has
/// adopted so far (its function's `ADOPTED_UNTIL`): listed by `plan` and `up`, adopted with
/// `--adopt-backups`.
async fn unmarked(
    config: &StackConfig,
    aws: &Aws,
    desired: &Desired,
    observed: &stack::Observed,
) -> Result<Vec<Unmarked>, AwsError> {
    let environment = observed.function.as_ref().map(|f| &f.environment);
    let owner = crate::deploy::resources::function::ownership(&config.stack, environment);
    let mut found = Vec::new();
    for (table, _) in desired
        .tables
        .iter()
        .zip(&observed.tables)
        .filter(|(_, o)| o.is_some())
    {
        let count =
            crate::deploy::resources::table::unmarked_backups(aws, &owner, &table.name).await?;
        if count > 0 {
            found.push(Unmarked {
                table: table.name.to_string(),
                count,
                adopt: config.adopt_backups,
            });
        }
    }
    Ok(found)
}

/// Stops at the first named table that does not exist and may not be created (see
/// [`StackConfig::may_create`]), naming the nearest existing table: a typo never makes a table.
async fn refuse_missing_tables(
    config: &StackConfig,
    aws: &Aws,
    desired: &Desired,
    observed: &stack::Observed,
) -> Result<(), CommandError> {
    let missing = desired
        .tables
        .iter()
        .zip(&observed.tables)
        .find(|(table, found)| found.is_none() && !config.may_create(&table.name));
    let Some((table, _)) = missing else {
        return Ok(());
    };
    let nearest = crate::deploy::resources::table::nearest(aws, &table.name).await?;
    Err(CommandError::MissingTable {
        table: table.name.to_string(),
        account: aws.account.clone(),
        region: aws.region.clone(),
        nearest: nearest.map(|n| n.to_string()),
    })
}

/// Everything `plan` and `up` need, with how long each phase took.
pub(crate) struct Prepared {
    pub(crate) config: StackConfig,
    pub(crate) aws: Aws,
    pub(crate) desired: Desired,
    pub(crate) observed: stack::Observed,
    pub(crate) plan: StackPlan,
    /// The settings this plan changes, against the deployed stack's.
    pub(crate) settings: Vec<SettingChange>,
    /// The named tables' unmarked backups the stack has not adopted.
    pub(crate) unmarked: Vec<Unmarked>,
    /// How long connecting and reading every resource took.
    pub(crate) phases: Phases,
}

/// Validates, builds and connects, then reads the stack: everything `plan` and `up` share.
pub(crate) async fn prepare(
    args: &StackArgs,
    connect: &ConnectArgs,
) -> Result<Prepared, CommandError> {
    let file = settings_file::for_stack(args.config.as_deref(), args.stack.as_deref())?;
    let name = args.check(file.as_ref().map(|(stack, _)| stack.as_str()))?;
    let started = Instant::now();
    let aws = Aws::connect(connect).await?;
    let connected = started.elapsed();
    let started = Instant::now();
    let deployed = deployed::read(&aws, &name, None).await?;
    // A settings file is the whole desired state: the deployed settings are what it changes.
    let base = match &file {
        Some((_, settings)) => settings.complete(),
        None => deployed.settings.clone(),
    };
    let settings = args.wanted(&base)?;
    let config = args.config(&name, &settings)?;
    explain(
        args,
        file.as_ref().map(|(_, s)| s),
        &deployed,
        &config.settings,
    );
    let settings_changes = match deployed.origin {
        Origin::NotDeployed => Vec::new(),
        Origin::Recorded | Origin::Derived { .. } => {
            crate::deploy::settings::changes(&deployed.settings, &config.settings)
        }
    };
    if let Origin::Derived { why } = &deployed.origin {
        report!(
            "note: {why}; the stack's settings were read from its resources, and `up` records them"
        );
    }
    let zip = deployment_zip(&config)?;
    let desired = Desired::new(&config, &aws, Some(zip))?;
    match config.drill {
        Some(d) => report!(
            "restore drills: every {} s, each failing if its restore takes over {} s",
            d.every.as_secs(),
            d.timeout.as_secs()
        ),
        None => report!("restore drills: off (turn on with --drill-every 7d)"),
    }
    if !aws.tls && config.bucket_tls_only.is_none() {
        report!(
            "note: the endpoint is plain HTTP, so the bucket gets no TLS-only policy (it would deny every request there); AWS endpoints always get it"
        );
    }
    let observed = stack::observe(&aws, &desired).await?;
    refuse_missing_tables(&config, &aws, &desired, &observed).await?;
    let unmarked = unmarked(&config, &aws, &desired, &observed).await?;
    let desired = desired.settled(&observed);
    let plan = stack::plan(&desired, &observed);
    let phases = Phases {
        connect_ms: connected.as_millis(),
        observe_ms: started.elapsed().as_millis(),
        apply_ms: None,
    };
    Ok(Prepared {
        config,
        aws,
        desired,
        observed,
        plan,
        settings: settings_changes,
        unmarked,
        phases,
    })
}

/// With `-v`, where each setting `up` applies comes from: a flag (or its environment
/// variable), the settings file, the deployed stack, or the default.
fn explain(args: &StackArgs, file: Option<&Settings>, deployed: &Deployed, wanted: &Settings) {
    if !tracing::enabled!(tracing::Level::DEBUG) {
        return;
    }
    let keys = |s: &Settings| match serde_json::to_value(s) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    let from_stack =
        file.is_none() && matches!(deployed.origin, Origin::Recorded | Origin::Derived { .. });
    let (flags, file) = (keys(&args.settings), file.map(keys).unwrap_or_default());
    let edited = |key: &str| match key {
        "table" => !args.add_table.is_empty() || !args.remove_table.is_empty(),
        "alert-email" | "alert-topic" | "alert-kms-key" => args.alerts.is_some(),
        _ => false,
    };
    for (key, value) in keys(wanted) {
        let source = if flags.contains_key(&key) || edited(&key) {
            "a flag or its environment variable"
        } else if args.reset {
            "the default (--reset)"
        } else if file.contains_key(&key) {
            "the settings file"
        } else if from_stack {
            "the deployed stack"
        } else {
            "the default"
        };
        tracing::debug!("setting {key} = {value} (from {source})");
    }
}

/// Prints the plan: the settings it changes, then one line per resource.
pub(crate) fn print_plan(plan: &StackPlan, settings: &[SettingChange], unmarked: &[Unmarked]) {
    for change in settings {
        report!("  {change}");
    }
    for line in plan.lines() {
        report!("  {line}");
    }
    for table in unmarked {
        report!("  {table}");
    }
}

/// The export bucket's Object Lock, as `plan` and `up` show it (after the resources' lines).
pub(crate) fn export_lock(
    desired: &Desired,
    observed: &crate::deploy::stack::Observed,
) -> Option<String> {
    use crate::deploy::resources::export_bucket::Observed as Found;
    let bucket = desired.export_bucket.as_ref()?;
    match &observed.export_bucket {
        Some(Found::Reachable(lock)) => {
            report!("  export bucket {}: {lock}", bucket.name);
            Some(lock.to_string())
        }
        _ => None,
    }
}

/// What `plan` (and `up`, before its own fields) report: the stack, where it is, each
/// resource's line, and the time each phase took.
pub(crate) fn planned(
    aws: &Aws,
    desired: &Desired,
    alerts: summary::Alerts,
    prepared: (&StackPlan, &[SettingChange], &[Unmarked]),
    phases: Phases,
) -> Planned {
    let (plan, settings, unmarked) = prepared;
    Planned {
        settings: settings.to_vec(),
        unmarked: unmarked.to_vec(),
        alerts,
        stack: desired.function.name.clone(),
        account: aws.account.clone(),
        region: aws.region.clone(),
        changes: !plan.is_noop(),
        resources: plan.lines(),
        phases_ms: phases,
        cost: None,
        next_runs: Vec::new(),
        export_bucket_lock: None,
    }
}
