//! The installer's library: everything behind the `installer` command, from flags to a
//! deployed stack. The binary (`main.rs`) only parses the command line and dispatches.
//!
//! Code map, one folder per layer:
//!
//! | where | what |
//! | --- | --- |
//! | `cli.rs` | clap's types, usage errors as one line, logging |
//! | `commands/` | one file per subcommand: flags in, a report out (stderr) and a summary (stdout); `vault.rs`: `vault init`, the locked bucket another account's exports go to; `restore_chain.rs`: `restore --from-export chain`, a chain's full export imported and its incrementals applied |
//! | `build/` | the deployment zip: compile for glibc 2.34, check the ELF, zip reproducibly |
//! | `deploy/` | the stack: `settings` (flags, the settings file `settings_file`, the deployed stack's recorded settings `deployed`, layered) → `config` → `desired` → `stack::observe` → `stack::plan` → `stack::apply`, or `removal` for `down`; `alerts`: which alarms and their windows; `operator`: the least-privilege policy of whoever runs the installer (`installer policy`) |
//! | `deploy/resources/` | one file per AWS resource, each behind the one `Resource` contract (the schedule: `rule.rs` for EventBridge rules, or `schedules.rs` and `role.rs`'s `SchedulerRole` for EventBridge Scheduler) |
//! | `deploy/schedule.rs` | schedule expressions checked as EventBridge does, and their runs on a zone's clock: the longest and shortest gaps, the next runs |
//! | `local/` | the deployed `bootstrap` run here under a Lambda Runtime API (`invoke` on an emulator); `deployed_code`: which zip that is |
//! | `data/` | the movies format, the built-in sample, the batch loader; DynamoDB JSON and exports' gzip'd data files (`dynamodb_json`) |
//! | `compliance/` | `installer report`: the daily ledgers, export records and export chains read (`history`), judged (`assess`, `exports`, `chains`), rendered (`text`, `html`) |
//! | `cost/` | `plan --cost`: the monthly cost of the configured stack from the dated price table (`prices/aws-prices.json`); `compare`: the alternatives for the same recovery objectives (`--compare`) |
//! | `report/` | the human report on stderr (progress lines, `-q`) and results on stdout (`result!`, a closed pipe ends quietly) |
//! | `rollback/` | `installer rollback`: the window checked and cut (`window`), its incremental exports started, waited for and read (`exports`), what a rerun needs (`journal`), each key's change and step (`changes`, pure), the conditional paced writes (`writes`) |
//! | `in_place/` | `restore --in-place`: the table's settings read before the swap and put back after (`settings`), the journal a rerun goes on from, why a swap is refused |
//! | `bucket_json.rs` | the journals the installer keeps in the stack's bucket, read and written |
//! | `export_files.rs` | an export read by its manifests, data files streamed (rollback, single items from an export) |
//! | `items.rs` | reading items by key (a table's shape, BatchGetItem) and comparing them as DynamoDB does (`backup_lambda::canonical`, which fingerprints use too), shared by `restore --items` and `rollback` |
//! | `recovery.rs` | what `restore` asks of DynamoDB beyond the function's `Tables` port: point-in-time restores, turning PITR on, putting back what a restore drops, waiting for a restored table |
//! | `aws.rs` | the connection: credential chain, STS identity, one client per service, and S3 clients for other regions' buckets (`s3_in`, `s3_for`: the region found with HeadBucket) |
//!
//! Data flows one way: flags over the settings file or the deployed stack's settings → a
//! validated `StackConfig` → the `Desired` stack → the `Observed`
//! one → a typed `StackPlan` → applied (`up`), printed (`plan`, `status`) or reversed (`down`).
//! What the function and the installer share (table and backup naming, retention, the run-record
//! and daily-ledger layout, the metric names, `AwsError`) lives once, in the `backup-lambda` crate.

#![warn(missing_docs)]

/// Prints a line of the human report on stderr, unless `-q` silenced it.
#[macro_export]
macro_rules! report {
    ($($arg:tt)*) => {
        if !$crate::report::is_quiet() {
            eprintln!($($arg)*);
        }
    };
}

/// Prints a line of a command's result (`plan`'s lines, `status`): on stdout, where a script
/// reads it, or on stderr beside the report when stdout holds the `--output json` document.
/// `-q` does not silence a result; a closed stdout ends it quietly.
#[macro_export]
macro_rules! result {
    ($($arg:tt)*) => {
        $crate::report::result_line(&format!($($arg)*))
    };
}

pub(crate) mod aws;
pub(crate) mod bucket_json;
pub(crate) mod build;
pub mod cli;
pub mod commands;
pub mod compliance;
pub mod cost;
pub(crate) mod data;
pub mod deploy;
pub(crate) mod export_files;
pub(crate) mod in_place;
pub(crate) mod items;
pub mod local;
pub(crate) mod recovery;
pub mod report;
pub(crate) mod rollback;
