//! The command line: clap's types for every subcommand and flag, usage errors as one line, and
//! the logging the flags choose. What each subcommand does is in [`crate::commands`].

use std::path::PathBuf;

use clap::{CommandFactory, Parser, Subcommand};

use crate::aws::ConnectArgs;
use crate::build::arch::Arch;
use crate::commands::OnBadRecord;
use crate::deploy::config::{StackArgs, StackRef};

/// Which JSON Schema `installer schema` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SchemaOf {
    /// The documents `--output json` prints.
    Output,
    /// The settings file, installer.toml.
    Settings,
}

/// What goes to stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    /// Results for people (the function's result for `invoke`, log lines for `logs`).
    Text,
    /// One JSON document per command (one JSON line per event for `logs`).
    Json,
}

/// Deploys scheduled DynamoDB backups with retention.
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Cli {
    /// Show debug logs (the commands run) on stderr.
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// Hide the per-resource report on stderr (errors still show).
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// `json`: print one machine-readable document on stdout (human text stays on stderr).
    #[arg(long, global = true, value_enum, default_value_t = Output::Text, env = "INSTALLER_OUTPUT")]
    pub output: Output,
    /// Where to connect (region, profile, endpoint).
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Compile the backup function for Lambda and write its deployment zip.
    ///
    /// The zip holds one entry, `bootstrap` (mode 0755), with fixed timestamps: the same binary
    /// always gives the same zip, so an unchanged function is recognised by its CodeSha256. The
    /// binary is linked against glibc 2.34 with cargo zigbuild and refused if it needs more.
    #[command(
        after_help = "Examples:\n  installer build\n  installer build --arch x86_64 --out dist/backup.zip\n  installer build --bootstrap ./bootstrap   # package a binary built elsewhere"
    )]
    Build {
        /// CPU architecture of the Lambda function.
        #[arg(long, value_enum, default_value_t = Arch::Arm64, env = "INSTALLER_ARCH")]
        arch: Arch,
        /// Where to write the zip [default: target/lambda/backup-lambda-<ARCH>.zip].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Package this prebuilt binary instead of compiling (it is checked all the same).
        #[arg(long, value_name = "PATH")]
        bootstrap: Option<PathBuf>,
    },
    /// Show what `up` would create, update or leave, without changing anything.
    ///
    /// The settings are the deployed stack's, changed by the flags given (each changes only
    /// its own setting); the changes show first (`keep: 3 → 7`), then each resource's line.
    #[command(
        after_help = "Examples:\n  installer plan                       # the deployed stack as it is: no changes\n  installer plan --keep 7              # keep: 3 → 7, and what that changes\n  installer plan --reset --table Music # from the defaults, not the deployed settings"
    )]
    Plan {
        /// The stack's settings.
        #[command(flatten)]
        stack: StackArgs,
        /// Also estimate the stack's monthly cost from each table's current size (list prices
        /// from the price table built in; also in --output json).
        #[arg(long)]
        cost: bool,
        /// With --cost: price the stack's data protection against the alternatives for the same
        /// recovery objectives (one backup a run, generations, point-in-time recovery with
        /// exports) and say which is cheapest.
        #[arg(long, requires = "cost")]
        compare: bool,
        /// With --cost: price each table as if it held this many GB (a what-if; else its size
        /// now).
        #[arg(long, requires = "cost", value_name = "GB", value_parser = positive_gb)]
        assume_table_gb: Option<f64>,
        /// With --cost: price each table as if this percentage of it changed a day (a what-if;
        /// else its writes over the last 7 days, ConsumedWriteCapacityUnits, or 1 %).
        #[arg(long, requires = "cost", value_name = "PERCENT", value_parser = percent)]
        assume_daily_change: Option<f64>,
        /// Exit 0 when nothing would change and 2 when something would (as `terraform plan
        /// -detailed-exitcode`); an error, or a conflict that would stop `up`, is 1 either way.
        #[arg(long)]
        detailed_exitcode: bool,
    },
    /// Create or update the whole stack; a second run with the same settings changes nothing.
    ///
    /// A flag changes only its own setting: the rest are the deployed stack's (recorded with it
    /// by the last `up`), or the defaults for a new stack or with --reset.
    #[command(
        after_help = "Examples:\n  installer up\n  installer up --schedule 'rate(1 minute)'      # the tutorial's cadence\n  installer up --table Movies --table Music --keep 7\n  installer up --stack prod --keep 5           # later: only the retention changes\n  installer up --stack prod --add-table Orders --alerts off\n  AWS_ENDPOINT_URL=http://127.0.0.1:5000 installer up   # a local emulator"
    )]
    Up {
        /// The stack's settings.
        #[command(flatten)]
        stack: StackArgs,
        /// Apply without asking (CI). On a terminal `up` shows the plan and asks first when
        /// --require-approval says so; elsewhere it never asks.
        #[arg(long, short = 'y')]
        yes: bool,
        /// When `up` asks on a terminal: never; broadening (a deletion, or a change to the role's
        /// permissions or trust); any change.
        #[arg(
            long,
            env = "INSTALLER_REQUIRE_APPROVAL",
            value_enum,
            default_value = "broadening"
        )]
        require_approval: crate::deploy::plan::Approval,
    },
    /// Show what exists, whether it matches, each table's backups and its run records.
    ///
    /// The settings are the ones the stack was deployed with, so what differs is drift: a
    /// resource changed or deleted behind the tool's back. Exit status: 0 when every resource
    /// is as the deployed settings want it, 3 when one is missing, differs or is in the way, 1
    /// when the stack could not be read.
    #[command(
        after_help = "Examples:\n  installer status\n  installer --output json status | jq '.tables[0].backups'"
    )]
    Status {
        /// The deployed stack.
        #[command(flatten)]
        stack: StackRef,
    },
    /// List every table of the account and region with how it is protected, judged against the
    /// stack's recovery point objective.
    ///
    /// Each table: whether the stack backs it up, its newest on-demand backup of any kind (not
    /// AWS Backup's recovery points, which ListBackups does not list), point-in-time recovery
    /// and deletion protection, and a verdict: covered (point-in-time recovery, or a backup within
    /// the objective), stale or unprotected.
    ///
    /// Exit status: 0 when every table the stack backs up is covered, 3 when one is not.
    #[command(
        after_help = "Examples:\n  installer coverage\n  installer coverage --tag team=payments --rpo 1d\n  installer --output json coverage | jq '.tables[] | select(.verdict != \"covered\")'"
    )]
    Coverage {
        /// The deployed stack.
        #[command(flatten)]
        stack: StackRef,
        /// The recovery point objective: 1d, 12h [default: twice the schedule's interval].
        #[arg(long)]
        rpo: Option<String>,
        /// Only the tables carrying this tag, KEY=VALUE.
        #[arg(long, value_name = "KEY=VALUE")]
        tag: Option<String>,
    },
    /// Load movies into a table: the AWS getting-started moviedata.json (or .zip), or the built-in
    /// sample.
    #[command(
        after_help = "Examples:\n  installer load-data --file moviedata.json\n  installer load-data --file moviedata.zip --table Movies --on-bad-record reject"
    )]
    LoadData {
        /// The table to load into (it must exist; `up` makes it).
        #[arg(long, env = "INSTALLER_TABLE", default_value = "Movies")]
        table: String,
        /// moviedata.json, or the moviedata.zip AWS publishes [default: the built-in sample].
        #[arg(long, value_name = "PATH")]
        file: Option<PathBuf>,
        /// What to do with records that lack a whole-number year or a title, or repeat a key.
        #[arg(long, value_enum, default_value_t = OnBadRecord::Skip)]
        on_bad_record: OnBadRecord,
        /// Batches of 25 in flight at once (1 to 64).
        #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
        concurrency: u16,
    },
    /// Run the backup once now with the schedule's exact input, and show its result and logs.
    ///
    /// Against AWS this is Lambda's Invoke API. Against a local emulator (an endpoint on this
    /// machine), which cannot run functions, the deployed zip's bootstrap runs here under a Lambda
    /// Runtime API with the function's environment, and its logs go to the function's log group.
    ///
    /// Exit status: 0 for an `ok` run, 3 for a `partial` one (the backup was made, some
    /// deletions failed), 1 when the run failed.
    #[command(
        after_help = "Examples:\n  installer invoke\n  installer invoke --table Music\n  AWS_ENDPOINT_URL=http://127.0.0.1:5000 installer invoke   # runs locally"
    )]
    Invoke {
        /// The deployed stack.
        #[command(flatten)]
        stack: StackRef,
        /// The table whose backup to run [default: the stack's first table].
        #[arg(long, env = "INSTALLER_TABLE")]
        table: Option<String>,
        /// Send this event (a JSON object) instead of the schedule's input: a run's
        /// continuation as the emulator queued it, say.
        #[arg(long, value_name = "JSON", conflicts_with = "table")]
        event: Option<String>,
        /// Run this zip when running locally, instead of finding the deployed code's zip here.
        #[arg(long, env = "INSTALLER_ZIP", value_name = "PATH")]
        zip: Option<PathBuf>,
        /// Run the function here even if the endpoint is not on this machine.
        #[arg(long)]
        local: bool,
        /// Print the function's log lines as it wrote them (JSON), not rendered for reading.
        #[arg(long)]
        raw: bool,
    },
    /// Show the function's log events, oldest first.
    #[command(after_help = "Examples:\n  installer logs\n  installer logs --since 15m --follow")]
    Logs {
        /// The deployed stack.
        #[command(flatten)]
        stack: StackRef,
        /// How far back to start: 30s, 15m, 1h, 2d.
        #[arg(long, default_value = "1h")]
        since: String,
        /// Keep printing new events until interrupted.
        #[arg(long)]
        follow: bool,
        /// Print the events as the function wrote them (JSON), not rendered for reading
        /// (`--output json` prints them raw too, one JSON line each).
        #[arg(long)]
        raw: bool,
    },
    /// Restore a backup (or a point in time, or an export to S3) into a new table, then verify it.
    ///
    /// Never overwrites: the target must not exist (--in-place swaps the table for its backup
    /// instead, backing it up first). Waits until the table is ACTIVE, puts back
    /// what a restore drops (TTL, point-in-time recovery, deletion protection, tags), and checks
    /// the restored item count against the backup's (or export's) and the keys and indexes
    /// against the source.
    ///
    /// Exit status: 0 when the restore is proven, 3 when the restored table does not match what
    /// it came from (it is kept for inspection), 1 when the restore failed.
    #[command(
        after_help = "Examples:\n  installer restore --table Movies --to Movies-restored\n  installer restore --table Movies --key year=2013,title=Rush --to-file rush.jsonl\n  installer restore --table Movies --items keys.jsonl --from-export latest\n  installer restore --table Movies --to Movies-old --backup Movies-20261128030000\n  installer restore --table Movies --to Movies-10am --time 2026-11-28T10:00:00Z\n  installer restore --table Movies --to Movies-from-s3 --from-export latest\n  installer restore --table Movies --to Movies-tuesday --from-export chain --time 2026-12-01T02:00:00Z\n  installer restore --table Movies --in-place --backup Movies-20261128030000 --yes"
    )]
    Restore {
        /// The table whose backup to restore.
        #[arg(long, env = "INSTALLER_TABLE", default_value = "Movies")]
        table: String,
        /// The new table to restore into (it must not exist).
        #[arg(long, required_unless_present_any = ["items", "keys", "in_place"])]
        to: Option<String>,
        /// Single items instead of a table: a JSON Lines file of keys in plain JSON, one a line
        /// ({"year": 2013, "title": "Rush"}), put back in the table as the backup (or, with
        /// --from-export, the export) holds them (those deleted since; changed ones only with
        /// --overwrite), or into --to-file.
        #[arg(long, value_name = "FILE", conflicts_with_all = ["to", "time"])]
        items: Option<std::path::PathBuf>,
        /// A single item's key instead of a table (repeatable): NAME=VALUE pairs, e.g.
        /// --key year=2013,title=Rush.
        #[arg(long = "key", value_name = "KEY", conflicts_with_all = ["to", "time"])]
        keys: Vec<String>,
        /// Write the items to this file (JSON Lines, plain JSON) instead of the table.
        #[arg(long, value_name = "PATH", conflicts_with = "overwrite")]
        to_file: Option<std::path::PathBuf>,
        /// With --items or --key: also put back items changed since the backup, over their
        /// current version (the table is backed up first, as the stack's own backup).
        #[arg(long)]
        overwrite: bool,
        /// Which backup: `latest`, a backup's name, or its ARN.
        #[arg(long, default_value = "latest", conflicts_with = "time")]
        backup: String,
        /// The stack whose backups are considered (backups carry their stack's name).
        #[arg(long, env = "INSTALLER_STACK", default_value = "dynamodb-backup")]
        stack: String,
        /// Consider backups this stack did not make (manual ones, other stacks') too.
        #[arg(long)]
        any: bool,
        /// Restore the table as it was at this moment (RFC 3339) with point-in-time recovery;
        /// with --from-export chain, at the chain's latest restore point at or before it.
        #[arg(long)]
        time: Option<String>,
        /// Import an export to S3 instead (ImportTable): `latest`, a period such as 2026-11-30
        /// or 2026-W49, an export's ARN, the S3 location it was written to
        /// (s3://<bucket>/exports/<table>/<period>: any age, by its manifest-summary.json; the
        /// only one that restores a table that is gone, from the definition kept beside it), or
        /// `chain`: the stack's incremental export chains (--export-mode incremental), their
        /// full export imported and their incremental exports applied up to --time
        /// (s3://<bucket>/exports/<table>/chains: the chains' copies beside their exports,
        /// without the stack).
        #[arg(long, value_name = "EXPORT", conflicts_with = "any")]
        from_export: Option<String>,
        /// Do not copy the source table's tags onto the new one.
        #[arg(long)]
        no_tags: bool,
        /// With --from-export: restore data files that a lifecycle rule moved to S3 Glacier
        /// Flexible Retrieval or Deep Archive (for 7 days) and wait for them, which takes hours;
        /// without it such an export is refused before anything is written.
        #[arg(long, requires = "from_export", conflicts_with_all = ["items", "keys"])]
        thaw: bool,
        /// Restore into the table's own name, in its place: back the table up first (the
        /// stack's own backup, never deleted by this command), read its settings, delete it,
        /// restore the backup under its name, put back what a restore drops (TTL, point-in-time
        /// recovery and its period, deletion protection, tags, stream, table class, resource
        /// policy, contributor insights; billing, capacity and encryption go into the restore
        /// itself), verify, and say what could not be carried over. Asks for the table's name
        /// on a terminal. Run again after an interruption, it goes on from where it stopped.
        #[arg(
            long,
            conflicts_with_all = ["to", "items", "keys", "to_file", "overwrite", "time", "from_export", "thaw"]
        )]
        in_place: bool,
        /// With --in-place: turn the table's deletion protection off for the swap (it is turned
        /// on again on the restored table); without it, a protected table is refused.
        #[arg(long)]
        disable_deletion_protection: bool,
        /// With --in-place: do not ask for confirmation (needed without a terminal).
        #[arg(long)]
        yes: bool,
        /// Parallel scan segments (1-1000) for the count that verifies a table restored from a
        /// backup; by default one per 256 MiB of the table, at least 4 past one page (1 means
        /// one sequential scan). The count is paced to the table's read capacity either way.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
        scan_segments: Option<u32>,
    },
    /// Undo the writes made to a table in a window, in place: each item changed between --from
    /// and --to is written back as it was at --from (or deleted, if it did not exist then).
    ///
    /// Reads the window's changes from DynamoDB incremental exports (point-in-time recovery
    /// must be on) written to the stack's bucket, backs the table up first (the stack's own
    /// backup: restore it to undo the rollback), and writes each item only while it is still as
    /// the window left it: an item written again after the window is listed and left. Shows the
    /// counts and a sample first and asks on a terminal; --dry-run only shows. Run again after an
    /// interruption, it finishes the rest without writing anything twice.
    #[command(
        after_help = "Examples:\n  installer rollback --table Movies --from 2026-12-05T09:00:00Z --to 2026-12-05T09:45:00Z --dry-run\n  installer rollback --table Movies --from 2026-12-05T09:00:00Z --yes\n  installer rollback --table Movies --from 2026-12-05T09:00:00Z --keys damaged.jsonl --yes"
    )]
    Rollback(crate::commands::RollbackArgs),
    /// Run one restore drill now: restore the table's newest backup into a scratch table, verify
    /// it, record it beside the run records, and delete the scratch table.
    ///
    /// The same code the function runs on its schedule with `up --drill-every 7d`. Exit status: 0
    /// when the drill passed, 3 when it failed (not ACTIVE within --drill-timeout, or not
    /// verified; the verdict and reason are in the output), 1 when it could not be run.
    #[command(
        after_help = "Examples:\n  installer drill\n  installer drill --table Music\n  installer --output json drill | jq .recovery_seconds"
    )]
    Drill {
        /// The deployed stack.
        #[command(flatten)]
        stack: StackRef,
        /// The table to drill [default: the stack's first table].
        #[arg(long, env = "INSTALLER_TABLE")]
        table: Option<String>,
        /// How long this drill's restore may take before it fails [default: the stack's
        /// drill timeout].
        #[arg(long, value_name = "PERIOD")]
        drill_timeout: Option<String>,
    },
    /// Report what the backups achieved over a period: runs, recovery points, drills, verdicts.
    ///
    /// Reads the daily ledgers the function keeps beside its run records (one request per day
    /// covered) and the backups that exist now. Exit status: 0 when every table met every
    /// objective, 3 when one was missed, 1 when the report could not be made.
    #[command(
        after_help = "Examples:\n  installer report\n  installer report --since 7d --rpo 26h --rto 1h\n  installer report --from 2026-11-01 --to 2026-12-01 --html november.html\n  installer --output json report | jq '.tables[] | {table, rpo_met}'"
    )]
    Report {
        /// The deployed stack.
        #[command(flatten)]
        stack: StackRef,
        /// A table to report on (repeatable) [default: every table the stack backs up].
        #[arg(long = "table", value_name = "TABLE")]
        tables: Vec<String>,
        /// How far back from --to the period starts: 90m, 26h, 30d.
        #[arg(long, default_value = "30d", conflicts_with = "from")]
        since: String,
        /// The period's start: RFC 3339 or a day (2026-11-01, midnight UTC).
        #[arg(long)]
        from: Option<String>,
        /// The period's end: RFC 3339 or a day [default: now].
        #[arg(long)]
        to: Option<String>,
        /// Recovery point objective: the longest acceptable time without a new backup
        /// [default: twice the schedule's interval].
        #[arg(long)]
        rpo: Option<String>,
        /// Recovery time objective: restores proven by drills in the period within this.
        #[arg(long)]
        rto: Option<String>,
        /// Also write the report as one self-contained HTML page here.
        #[arg(long, value_name = "PATH")]
        html: Option<PathBuf>,
        /// Add a coverage section: every table of the account and region, whether the stack
        /// backs it up, and whether it is protected within the RPO (as `installer coverage`; it
        /// reads every table, so it is not the default). A table the stack backs up that is not
        /// covered misses the RPO.
        #[arg(long)]
        coverage: bool,
    },
    /// Write a copy of this installer that carries a function zip, to deploy from anywhere.
    ///
    /// The zip is appended to the executable (which still runs as before); `up` and `plan` then
    /// deploy it when no --zip is given, and `invoke` runs it when it is the deployed code.
    /// `make dist` builds release installers this way.
    #[command(after_help = "Examples:
  installer build && installer build --arch x86_64 && installer bundle --out dist/installer
  installer bundle --zip my-arm64.zip --out installer-with-my-function")]
    Bundle {
        /// A zip to carry (from `installer build`), repeatable: at most one per architecture,
        /// which is read from its `bootstrap` [default: target/lambda/backup-lambda-arm64.zip
        /// and, if built, target/lambda/backup-lambda-x86_64.zip].
        #[arg(long = "zip", value_name = "PATH")]
        zips: Vec<PathBuf>,
        /// Where to write the installer.
        #[arg(long)]
        out: PathBuf,
        /// The installer executable to carry it [default: this one]; e.g. one built for
        /// another platform.
        #[arg(long, value_name = "PATH")]
        installer: Option<PathBuf>,
    },
    /// Print a JSON Schema: of the documents `--output json` prints (one per command, told
    /// apart by their "command" field; schemas/installer-output.schema.json), or of the
    /// settings file (schemas/installer-settings.schema.json, for editors that check TOML).
    Schema {
        /// Which schema.
        #[arg(long, value_enum, default_value_t = SchemaOf::Output)]
        of: SchemaOf,
    },
    /// Write the settings file (installer.toml) for a stack, from the flags given or from a
    /// deployed stack, so that `up` and `plan` read its settings from a reviewed file.
    ///
    /// Each key is a long flag of `up`, with its help as a comment; another stack's table in
    /// the file is kept.
    #[command(
        after_help = "Examples:\n  installer init --from-stack prod            # a deployed stack, to a file\n  installer init --stack staging --keep 7 --schedule 'rate(12 hours)'\n  installer init --from-stack prod --config ops/backups.toml"
    )]
    Init(crate::commands::InitArgs),
    /// Print the least-privilege IAM policy an operator needs to run the installer on a stack.
    ///
    /// Scoped to the stack's resources (its role, function, log group, schedule, bucket, tables,
    /// topic and alarms) in this account and region wherever IAM allows, with iam:PassRole for
    /// the stack's role to Lambda only. Read from the flags and the settings file, never from
    /// the account (the operator may have no permission yet); attach it before the first `up`.
    #[command(
        after_help = "Examples:\n  installer policy --for up > operator-policy.json\n  installer policy --stack prod --for all --table Orders --table Customers\n  aws iam put-role-policy --role-name ci-deployer --policy-name backups --policy-document file://operator-policy.json"
    )]
    Policy(crate::commands::PolicyArgs),
    /// Make a locked bucket for another account's exports: copies ransomware and mistakes in
    /// the source account cannot delete.
    ///
    /// Run with the vault account's credentials. The bucket gets S3 Object Lock with default
    /// retention, versioning, no public access, SSE-S3, and a policy that lets only the source
    /// account's stacks write exports and nobody bypass the lock; the source stack then exports
    /// there with `up --export-bucket ... --require-lock`. Compliance mode cannot be shortened
    /// by anyone, root included (docs/exports.md, "Locked copies").
    Vault(crate::commands::VaultArgs),
    /// Write the command reference: docs/reference/installer.md (every subcommand, flag,
    /// default, environment variable and exit status) and a man page per subcommand in
    /// docs/reference/man, generated from the command line itself.
    #[command(
        after_help = "Examples:\n  installer reference                       # docs/reference, as committed\n  installer reference --out /tmp/ref && man /tmp/ref/man/installer-up.1"
    )]
    Reference {
        /// The folder to write into.
        #[arg(long, default_value = "docs/reference")]
        out: std::path::PathBuf,
    },
    /// Print a shell completion script: `installer completions bash > /etc/bash_completion.d/installer`.
    #[command(
        after_help = "Examples:\n  installer completions bash > ~/.local/share/bash-completion/completions/installer\n  installer completions zsh > \"${fpath[1]}/_installer\"\n  installer completions fish > ~/.config/fish/completions/installer.fish"
    )]
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Remove the stack (only what is tagged as this stack's); its backups, the tables it made
    /// and its bucket (run records, exports) are kept unless a --delete-* flag says otherwise.
    #[command(
        after_help = "Examples:\n  installer down --dry-run  # what would go and what is kept, with backup counts\n  installer down            # asks for confirmation on a terminal\n  installer down --yes      # no questions (CI); keeps backups, tables and the bucket\n  installer down --yes --delete-data   # also this stack's backups, tables and bucket"
    )]
    Down {
        /// The deployed stack.
        #[command(flatten)]
        stack: StackRef,
        /// Do not ask for confirmation (required when stdin is not a terminal).
        #[arg(long, short = 'y')]
        yes: bool,
        /// Print what would be deleted and kept, and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// What of the stack's data to delete too.
        #[command(flatten)]
        delete: crate::deploy::removal::DeleteData,
        /// What to look for besides what the stack's settings name.
        #[command(flatten)]
        leftovers: crate::commands::Leftovers,
    },
}

/// Writes `shell`'s completion script for the whole command line to stdout (a reader that
/// stops early, such as `head`, is not an error).
pub fn print_completions(shell: clap_complete::Shell) {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "installer", &mut script);
    let _ = crate::report::stdout::bytes(&script);
}

/// A clap usage error as one line: the problem, clap's tip if it has one, and where the help is
/// (`subcommand` names it when clap's message has no usage line).
pub fn usage_error_line(rendered: &str, subcommand: Option<&str>) -> String {
    let mut problem: Option<String> = None;
    // The lines a problem ending in `:` goes on with ("the following required arguments were
    // not provided:" then one indented line per argument), until a blank line.
    let mut listing = false;
    let mut listed: Vec<String> = Vec::new();
    let mut tip = None;
    let mut command =
        subcommand.map_or_else(|| "installer".to_owned(), |s| format!("installer {s}"));
    for line in rendered.lines().map(str::trim) {
        if listing {
            if line.is_empty() {
                listing = false;
            } else {
                listed.push(line.to_owned());
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix("error: ") {
            if problem.is_none() {
                listing = rest.ends_with(':');
                problem = Some(rest.trim_end_matches(':').to_owned());
            }
        } else if let Some(rest) = line.strip_prefix("tip: ") {
            tip.get_or_insert(rest.to_owned());
        } else if let Some(rest) = line.strip_prefix("Usage: ") {
            let words: Vec<&str> = rest
                .split_whitespace()
                .take_while(|w| !w.starts_with(['[', '<', '-']))
                .collect();
            if !words.is_empty() {
                command = words.join(" ");
            }
        }
    }
    let mut line = format!(
        "error: {}",
        problem.unwrap_or_else(|| rendered.trim().to_owned())
    );
    if !listed.is_empty() {
        line.push_str(&format!(": {}", listed.join(", ")));
    }
    if let Some(tip) = tip {
        line.push_str(&format!(" ({tip})"));
    }
    if let Some(variable) = from_environment(&line, subcommand) {
        line.push_str(&format!(
            " (the value came from the environment variable {variable})"
        ));
    }
    line.push_str(&format!("; see `{command} --help`"));
    line
}

/// A usage error found after parsing (a value clap took, then found invalid before any AWS
/// call) as one line, in the same shape as clap's: `error: <message>; see ... --help`.
pub fn usage_error_message(message: &str) -> String {
    let subcommand = subcommand();
    usage_error_line(&format!("error: {message}"), subcommand.as_deref())
}

/// The subcommand named on the command line, `installer` when none is.
pub fn command_name() -> String {
    subcommand().unwrap_or_else(|| "installer".to_owned())
}

/// Whether the command line asks for `--output json` (read from the words themselves, for
/// errors found before or while clap parses them).
pub fn wants_json() -> bool {
    let words: Vec<String> = std::env::args().collect();
    words
        .windows(2)
        .any(|w| w[0] == "--output" && w[1] == "json")
        || words.iter().any(|w| w == "--output=json")
}

/// The subcommand named on the command line, if any.
fn subcommand() -> Option<String> {
    std::env::args()
        .skip(1)
        .find(|a| Cli::command().find_subcommand(a).is_some())
}

/// The environment variable a flag that `message` names took its value from: the flag has one
/// (`--keep`: `INSTALLER_KEEP`), it is set, and the flag is not on the command line. A message
/// blaming `--keep` for `INSTALLER_KEEP=abc` sends a user looking for a flag never typed.
fn from_environment(message: &str, subcommand: Option<&str>) -> Option<String> {
    let command = Cli::command();
    let scope = subcommand
        .and_then(|s| command.find_subcommand(s).cloned())
        .unwrap_or_else(|| command.clone());
    let typed: Vec<String> = std::env::args().collect();
    scope
        .get_arguments()
        .chain(command.get_arguments())
        .filter_map(|arg| Some((arg.get_long()?, arg.get_env()?)))
        .find(|(long, env)| {
            let flag = format!("--{long}");
            let named = message.match_indices(&flag).any(|(at, _)| {
                !message[at + flag.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '-')
            });
            named
                && std::env::var_os(env).is_some()
                && !typed
                    .iter()
                    .any(|a| a == &flag || a.starts_with(&format!("{flag}=")))
        })
        .map(|(_, env)| env.to_string_lossy().into_owned())
}

/// Parses the command line; a usage error is printed as one line (exit 2), `--help` and
/// `--version` as clap prints them.
pub fn parse() -> Cli {
    match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => e.exit(),
        Err(e) => {
            let subcommand = subcommand();
            let rendered = e.render().to_string();
            let line = usage_error_line(&rendered, subcommand.as_deref());
            eprintln!("{line}");
            if wants_json() {
                crate::commands::summary::Failed {
                    command: command_name(),
                    error: crate::commands::summary::FailedError {
                        kind: crate::commands::summary::FailureKind::Usage,
                        message: line.trim_start_matches("error: ").to_owned(),
                    },
                }
                .print();
            }
            std::process::exit(2);
        }
    }
}

/// Logs to stderr: this tool's warnings (its debug lines with `-v`), and only the SDK's errors
/// (its informational lines with `-v`), so that credential-chain chatter does not bury the one
/// line that matters.
pub fn init_logging(verbose: bool) {
    use tracing::level_filters::LevelFilter;
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let (own, others) = if verbose {
        (LevelFilter::DEBUG, LevelFilter::INFO)
    } else {
        (LevelFilter::WARN, LevelFilter::ERROR)
    };
    let filter = tracing_subscriber::filter::Targets::new()
        .with_target("installer", own)
        .with_target("backup_lambda", own)
        .with_default(others);
    // For people, `warning: <message> <fields>`; with -v, timestamps and levels for debugging.
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false);
    let layer = if verbose {
        layer.boxed()
    } else {
        layer.event_format(Plain).boxed()
    };
    tracing_subscriber::registry()
        .with(layer)
        .with(filter)
        .init();
}

/// A log line as a compiler would print it: `warning: <message> <field>=<value> ...`.
struct Plain;

impl<S, N> tracing_subscriber::fmt::FormatEvent<S, N> for Plain
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut writer: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let label = match *event.metadata().level() {
            tracing::Level::ERROR => "error",
            tracing::Level::WARN => "warning",
            tracing::Level::INFO => "info",
            tracing::Level::DEBUG => "debug",
            tracing::Level::TRACE => "trace",
        };
        write!(writer, "{label}: ")?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

/// `--assume-table-gb`: more than 0, at most a petabyte.
fn positive_gb(text: &str) -> Result<f64, String> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|gb| gb.is_finite() && *gb > 0.0 && *gb <= 1_048_576.0)
        .ok_or_else(|| format!("{text:?} is not a size in GB from above 0 to 1048576 (a petabyte)"))
}

/// `--assume-daily-change`: a percentage from 0 to 100 (`1`, `0.5`, `2%`).
fn percent(text: &str) -> Result<f64, String> {
    text.trim()
        .trim_end_matches('%')
        .parse::<f64>()
        .ok()
        .filter(|p| p.is_finite() && (0.0..=100.0).contains(p))
        .ok_or_else(|| format!("{text:?} is not a percentage from 0 to 100"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage_error(args: &[&str]) -> String {
        let err = Cli::try_parse_from(args).expect_err("a usage error");
        let subcommand = args
            .get(1)
            .filter(|a| Cli::command().find_subcommand(a).is_some());
        usage_error_line(&err.render().to_string(), subcommand.copied())
    }

    #[test]
    fn usage_errors_are_one_line_with_the_tip_and_the_help_to_read() {
        let line = usage_error(&["installer", "up", "--kep", "3"]);
        assert!(line.contains("unexpected argument '--kep'"), "{line}");
        assert!(
            line.contains("'--keep'"),
            "the tip names the right flag: {line}"
        );
        assert!(line.ends_with("see `installer up --help`"), "{line}");
        assert_eq!(line.lines().count(), 1);

        let line = usage_error(&["installer", "upp"]);
        assert!(line.contains("unrecognized subcommand 'upp'"), "{line}");
        assert!(line.ends_with("see `installer --help`"), "{line}");

        let line = usage_error(&["installer", "up", "--keep", "many"]);
        assert!(line.contains("invalid value 'many' for '--keep"), "{line}");
        assert!(line.ends_with("see `installer up --help`"), "{line}");
        assert_eq!(line.lines().count(), 1);

        // Missing arguments are named (clap lists them on the lines after its message).
        let line = usage_error(&["installer", "restore"]);
        assert!(
            line.starts_with(
                "error: the following required arguments were not provided: --to <TO>"
            ),
            "{line}"
        );
        assert!(line.ends_with("see `installer restore --help`"), "{line}");
        assert_eq!(line.lines().count(), 1);
    }
}
