//! What each command returns: typed, and with `--output json` printed as one JSON document on
//! stdout (`{"command": "<name>", ...}`), while the human report goes to stderr.

use std::path::PathBuf;

use serde::Serialize;
use serde_json::Value;

use crate::deploy::plan::{PlanLine, Removal, Step};

/// One command's result.
#[derive(Debug, Serialize)]
#[serde(tag = "command", rename_all = "kebab-case")]
#[derive(schemars::JsonSchema)]
pub enum Summary {
    /// `build`.
    Build(Built),
    /// `plan`.
    Plan(Planned),
    /// `up`.
    Up(Applied),
    /// `status`.
    Status(Status),
    /// `load-data`.
    LoadData(Loaded),
    /// `invoke`.
    Invoke(Invoked),
    /// `report`.
    Report(crate::compliance::Report),
    /// `bundle`.
    Bundle(Bundled),
    /// `down`.
    Down(Removed),
    /// `restore`.
    Restore(Restored),
    /// `drill`: the drill's record.
    Drill(backup_lambda::drill::DrillRecord),
    /// `logs`: it prints its events as they come, and nothing after.
    Logs,
    /// `completions` and `schema`: what they print is the output.
    Printed,
}

/// Every document `--output json` prints: a command's result, or its failure (the schema's root,
/// `installer schema`; never built, only described).
#[derive(Debug, schemars::JsonSchema)]
#[serde(untagged)]
pub enum Document {
    /// A result.
    Result(Box<Summary>),
    /// A failure.
    Failure(Failed),
}

/// What `--output json` prints on stdout when a command fails (the one-line message is on
/// stderr too), so that a script reading stdout learns why.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Failed {
    /// The command that failed (`up`, `restore`, ...), or `installer` when none was named.
    pub command: String,
    /// The error.
    pub error: FailedError,
}

/// A failure's kind and message.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct FailedError {
    /// `usage` (exit 2: a flag or variable found invalid before any AWS call) or `failure`
    /// (exit 1).
    pub kind: FailureKind,
    /// The message, as on stderr.
    pub message: String,
}

/// Which kind of failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FailureKind {
    /// Invalid input, found before any AWS call (exit 2).
    Usage,
    /// The command failed (exit 1).
    Failure,
}

impl Failed {
    /// Prints the document on stdout.
    pub fn print(&self) {
        let _ = crate::report::stdout::line(&serde_json::to_string(self).unwrap_or_default());
    }
}

/// `build`: the zip written.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Built {
    /// Where.
    pub zip: PathBuf,
    /// Its size.
    pub zip_bytes: usize,
    /// The size of the `bootstrap` in it.
    pub bootstrap_bytes: usize,
    /// Lambda's name for its architecture.
    pub arch: &'static str,
    /// The newest glibc version it needs (none for a static binary).
    pub glibc_floor: Option<String>,
    /// Lambda's `CodeSha256` of it.
    pub code_sha256: String,
}

/// `bundle`: the installer written and the zips it carries.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Bundled {
    /// Where the installer was written.
    pub installer: PathBuf,
    /// Its size.
    pub bytes: u64,
    /// The zips it carries, one per architecture.
    pub carried: Vec<CarriedZip>,
}

/// One zip a bundled installer carries.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct CarriedZip {
    /// Lambda's name for the architecture its `bootstrap` is built for.
    pub arch: &'static str,
    /// The file it was read from.
    pub zip: PathBuf,
    /// Lambda's `CodeSha256` of it.
    pub code_sha256: String,
}

/// The stack, where it is, and what `up` would do or did to each resource.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Planned {
    /// The stack's name.
    pub stack: String,
    /// The account.
    pub account: String,
    /// The region.
    pub region: String,
    /// Whether anything would change.
    pub changes: bool,
    /// One line per resource.
    pub resources: Vec<PlanLine>,
    /// The alert topic, its subscriptions and the alarms, as they are now.
    pub alerts: Alerts,
    /// How long each phase took.
    pub phases_ms: Phases,
    /// The monthly cost estimate (`plan --cost` only).
    pub cost: Option<crate::cost::CostEstimate>,
}

impl Planned {
    /// How many resources are in the way of `up` (a conflict stops it before any write).
    pub fn conflicts(&self) -> usize {
        self.resources
            .iter()
            .filter(|line| line.action == crate::deploy::plan::Verb::Conflict)
            .count()
    }
}

/// The stack's alerting, as it is: where alarms go, who is subscribed, each alarm's state.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Alerts {
    /// The stack's own topic, when it has (or `up` makes) one.
    pub topic: Option<String>,
    /// Existing topics notified too.
    pub other_topics: Vec<String>,
    /// The e-mail subscriptions of the stack's topic.
    pub subscriptions: Vec<AlertSubscription>,
    /// Each of the stack's alarms.
    pub alarms: Vec<AlarmState>,
    /// Why the tables have no missing-backup alarm, when they have none.
    pub note: Option<String>,
    /// Why the tables have no missing-export alarm, when exports are on and they have none.
    pub export_note: Option<String>,
}

/// One subscription of the alert topic.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct AlertSubscription {
    /// `email`, ...
    pub protocol: String,
    /// The address.
    pub endpoint: String,
    /// `confirmed` or `pending confirmation`.
    pub state: &'static str,
}

/// One alarm and its state.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct AlarmState {
    /// Its name.
    pub name: String,
    /// `OK`, `ALARM`, `INSUFFICIENT_DATA`, or `missing` before `up` makes it.
    pub state: String,
    /// Why, as CloudWatch says.
    pub reason: String,
}

/// Milliseconds each phase of `plan` and `up` took.
#[derive(Debug, Clone, Copy, Serialize, schemars::JsonSchema)]
pub struct Phases {
    /// Loading configuration and credentials and asking STS who we are.
    pub connect_ms: u128,
    /// Reading every resource.
    pub observe_ms: u128,
    /// Applying the plan (`up` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub apply_ms: Option<u128>,
}

/// `up`: the plan as applied, and what the stack is made of.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Applied {
    /// The plan applied.
    #[serde(flatten)]
    pub plan: Planned,
    /// The function's ARN.
    pub function_arn: String,
    /// The first schedule rule's ARN.
    pub rule_arn: Option<String>,
    /// Every schedule rule's ARN.
    pub rule_arns: Vec<String>,
    /// The role's ARN.
    pub role_arn: String,
    /// The run-record bucket.
    pub bucket: String,
    /// How long applying took.
    pub elapsed_ms: u128,
}

/// `status`: each resource's state, and each table's backups and run records.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Status {
    /// The stack's name.
    pub stack: String,
    /// The account.
    pub account: String,
    /// The region.
    pub region: String,
    /// One line per resource (what `up` would do).
    pub resources: Vec<PlanLine>,
    /// The alert topic, its subscriptions and the alarms.
    pub alerts: Alerts,
    /// Each table backed up.
    pub tables: Vec<TableStatus>,
}

/// One table's backups and run records.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct TableStatus {
    /// The table.
    pub table: String,
    /// Its backups, newest first.
    pub backups: Vec<BackupStatus>,
    /// The keys of its run records, oldest first.
    pub run_records: Vec<String>,
    /// Its last finished restore drill, if any.
    pub last_drill: Option<backup_lambda::drill::DrillRecord>,
    /// Its restore drill under way, if any.
    pub drill_in_progress: Option<backup_lambda::drill::InProgress>,
    /// Its newest export to S3, if any.
    pub last_export: Option<backup_lambda::export::ExportRecord>,
}

/// One backup as `status` lists it.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct BackupStatus {
    /// Its name.
    pub name: String,
    /// Its ARN.
    pub arn: String,
    /// Its state (`Available`, `Creating`, ...).
    pub state: String,
    /// `function` for the function's own, `other` for the rest.
    pub made_by: &'static str,
}

/// `load-data`: how the load went.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Loaded {
    /// The table.
    pub table: String,
    /// Items written.
    pub loaded: usize,
    /// Records skipped, with why.
    pub skipped: Vec<Skipped>,
    /// Items never written.
    pub failed: usize,
    /// How long it took.
    pub elapsed_ms: u128,
    /// Items written per second.
    pub items_per_second: f64,
}

/// A record `load-data` skipped.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Skipped {
    /// Its index in the file.
    pub index: usize,
    /// Why.
    pub reason: String,
}

/// `invoke`: the run and its result.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Invoked {
    /// The function.
    pub function: String,
    /// The event it got.
    pub input: Value,
    /// Whether it ran here rather than in Lambda.
    pub local: bool,
    /// The request id.
    pub request_id: String,
    /// The function's result (its run record).
    pub result: Value,
    /// Its log lines.
    pub logs: Vec<String>,
}

/// `down`: what was removed.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Removed {
    /// The stack's name.
    pub stack: String,
    /// The account.
    pub account: String,
    /// The region.
    pub region: String,
    /// What happened to each resource.
    pub resources: Vec<Step<Removal>>,
    /// Per table, how many of the function's backups were deleted.
    pub backups_deleted: Vec<BackupsDeleted>,
    /// How long removing took.
    pub elapsed_ms: u128,
}

/// `restore`: what was restored from, what was put back, and what the verification found.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Restored {
    /// The table whose backup was restored.
    pub table: String,
    /// The new table.
    pub target: String,
    /// What it was restored from.
    pub from: RestoredFrom,
    /// The settings put back that a restore drops.
    pub reapplied: backup_lambda::restore::Reapplied,
    /// What the check found (a point-in-time restore has no backup to check against).
    pub verification: Option<backup_lambda::restore::Verification>,
    /// Whether the restore is proven.
    pub verified: bool,
    /// How long each phase took.
    pub phases_ms: RestorePhases,
}

/// What a restore was made from.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
#[derive(schemars::JsonSchema)]
pub enum RestoredFrom {
    /// An on-demand backup.
    Backup {
        /// Its name.
        name: String,
        /// Its ARN.
        arn: String,
    },
    /// The table as it was at a moment (point-in-time recovery).
    PointInTime {
        /// The moment, RFC 3339.
        at: String,
    },
    /// An export to S3, imported with ImportTable.
    Export {
        /// The export's ARN.
        arn: String,
        /// Where its data files are: `s3://bucket/prefix`.
        data: String,
        /// The import's ARN.
        import_arn: String,
        /// Items the import could not write (malformed, or not matching the keys).
        import_errors: i64,
    },
}

impl std::fmt::Display for RestoredFrom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RestoredFrom::Backup { name, .. } => write!(f, "backup {name}"),
            RestoredFrom::PointInTime { at } => write!(f, "the table as it was at {at}"),
            RestoredFrom::Export { arn, data, .. } => write!(f, "export {arn} ({data})"),
        }
    }
}

/// Milliseconds each phase of `restore` took.
#[derive(Debug, Clone, Copy, Serialize, schemars::JsonSchema)]
pub struct RestorePhases {
    /// Starting the restore.
    pub start_ms: u128,
    /// Waiting until the table was ACTIVE.
    pub wait_ms: u128,
    /// Putting back TTL, point-in-time recovery, deletion protection and tags.
    pub reapply_ms: u128,
    /// Counting and comparing.
    pub verify_ms: u128,
}

/// How many of the function's backups of a table `down` deleted.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct BackupsDeleted {
    /// The table.
    pub table: String,
    /// How many.
    pub deleted: usize,
}
