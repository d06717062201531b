//! What each command returns: typed, and with `--output json` printed as one JSON document on
//! stdout (`{"command": "<name>", ...}`), while the human report goes to stderr.

use std::path::PathBuf;

use serde::Serialize;
use serde_json::Value;

use crate::deploy::plan::{PlanLine, RemovalStep};
use backup_lambda::drill::Verdict;

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
    /// `coverage`: every table of the account judged against the stack's objective.
    Coverage(crate::compliance::coverage::Coverage),
    /// `bundle`.
    Bundle(Bundled),
    /// `init`.
    Init(Initialized),
    /// `reference`.
    Reference(Referenced),
    /// `down`.
    Down(Removed),
    /// `restore`.
    Restore(Restored),
    /// `restore --in-place`: the table swapped for its backup under its own name.
    RestoreInPlace(RestoredInPlace),
    /// `restore --items`: single items as a backup holds them, into a file.
    RestoreItems(ItemsRestored),
    /// `rollback`: the writes of a window undone in the live table.
    Rollback(RolledBack),
    /// `vault init`: the locked bucket made or checked.
    Vault(super::vault::VaultInitialized),
    /// `drill`: the drill's record.
    Drill(backup_lambda::drill::DrillRecord),
    /// `logs`: it prints its events as they come, and nothing after.
    Logs,
    /// `completions` and `schema`: what they print is the output.
    Printed,
}

/// The exit status of a command that ran to the end and found what it checks wanting: `report`
/// with an objective missed, `drill` with a failed drill, `restore` with a restore not proven,
/// `invoke` with a partial run, `status` with a stack that differs from its settings, `rollback`
/// with an item it could not write. (0: all
/// well; 1: the command failed; 2: a usage error.)
pub const EXIT_VERDICT: u8 = 3;

impl Summary {
    /// Why the command's verdict is negative, in one line, when it is ([`EXIT_VERDICT`]).
    pub fn failed_verdict(&self) -> Option<String> {
        match self {
            Summary::Report(report) => (!report.met).then(|| {
                "an objective was missed (the verdicts above)".to_owned()
            }),
            Summary::Coverage(coverage) => (!coverage.selected_uncovered.is_empty()).then(|| {
                format!(
                    "{} table(s) the stack backs up have no recovery point within the objective: {}",
                    coverage.selected_uncovered.len(),
                    coverage.selected_uncovered.join(", ")
                )
            }),
            Summary::Drill(record) => (record.verdict != Verdict::Passed).then(|| {
                format!(
                    "the drill of {} failed: {}",
                    record.table,
                    record.reason.as_deref().unwrap_or("the restore was not proven")
                )
            }),
            Summary::Restore(restored) => (!restored.verified).then(|| {
                format!(
                    "the restored table {} does not match what it was restored from (the verification above); it is kept for inspection: delete it when done",
                    restored.target
                )
            }),
            Summary::Invoke(invoked) => {
                let status = invoked.result["status"].as_str().unwrap_or_default();
                // The causes the run names (`partial`); a record without them (an older
                // function's) was partial for its deletions.
                let deletions = invoked.result["failures"].as_array().map_or(0, Vec::len);
                let causes: Vec<&str> = invoked.result["partial"]
                    .as_array()
                    .map(|c| c.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let mut why = Vec::new();
                if deletions > 0 || causes.is_empty() {
                    why.push(format!(
                        "{deletions} deletion(s) failed (see \"failures\" in the result)"
                    ));
                }
                if causes.contains(&"export") {
                    why.push("an export failed or its coverage was lost (see \"export\" or \"export_chain\" in the result: a chain's failed export is started again while point-in-time recovery covers it)".to_owned());
                }
                (status == "partial").then(|| {
                    format!(
                        "the run was partial: the backup was made, but {}",
                        why.join(", and ")
                    )
                })
            }
            Summary::Status(status) => {
                let drifted = status.resources.iter().filter(|r| !r.is_noop()).count();
                (drifted > 0).then(|| {
                    format!(
                        "the stack drifted from its deployed settings: {drifted} resource(s) missing, differing or in the way (above); `installer up --stack {}` puts it right",
                        status.stack
                    )
                })
            }
            Summary::RestoreInPlace(restored) => (!restored.verified).then(|| {
                format!(
                    "the table {} restored in place does not match its backup (the verification above); the backup made first, {}, holds the table as it was",
                    restored.table,
                    restored.backup_before.as_deref().unwrap_or("(none)")
                )
            }),
            Summary::Rollback(rolled) => (!rolled.failed.is_empty()).then(|| {
                format!(
                    "{} item(s) of {} could not be written (\"failed\" above); run the same command again to try them again",
                    rolled.failed.len(),
                    rolled.table
                )
            }),
            Summary::Build(_)
            | Summary::Plan(_)
            | Summary::Up(_)
            | Summary::LoadData(_)
            | Summary::Bundle(_)
            | Summary::Init(_)
            | Summary::RestoreItems(_)
            | Summary::Reference(_)
            | Summary::Vault(_)
            | Summary::Down(_)
            | Summary::Logs
            | Summary::Printed => None,
        }
    }
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
        let json = serde_json::to_string(self).expect("an error document is strings");
        let _ = crate::report::stdout::line(&json);
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

/// `reference`: the files written.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Referenced {
    /// The Markdown reference, then the man pages.
    pub files: Vec<PathBuf>,
}

/// `restore --items`: the items read from a backup (through a scratch table) or an export, into
/// a file or back into the table.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ItemsRestored {
    /// The table.
    pub table: String,
    /// The backup read (none: an export was).
    pub backup: Option<String>,
    /// The export read (`--from-export`), its ARN.
    pub export: Option<String>,
    /// The scratch table the backup was restored into (deleted since); none for an export.
    pub scratch: Option<String>,
    /// The JSON Lines file written (`--to-file`), else none: the items went back to the table.
    pub file: Option<PathBuf>,
    /// How many items were written to the file or put back in the table.
    pub written: usize,
    /// The keys the backup or export does not hold, as given.
    pub missing: Vec<serde_json::Value>,
    /// Put back in the table: the keys of items that are as the backup holds them already.
    pub unchanged: Vec<serde_json::Value>,
    /// Put back in the table: the keys of items changed since the backup, left as they are
    /// (without `--overwrite`, or written again while this ran).
    pub skipped: Vec<serde_json::Value>,
    /// The backup made of the table before any item was written over (`--overwrite`).
    pub backup_before: Option<String>,
}

/// `restore --in-place`: the table backed up, deleted, restored from a backup under its own name,
/// given its settings back, and verified.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct RestoredInPlace {
    /// The table.
    pub table: String,
    /// The backup put in its place.
    pub from: RestoredFrom,
    /// The backup of the table made first, as the stack's own: it holds the table as it was
    /// before the swap (restore it to undo the swap; this command never deletes it).
    pub backup_before: Option<String>,
    /// This run went on from one interrupted before.
    pub resumed: bool,
    /// The settings read before the swap and put back.
    pub reapplied: crate::in_place::TableSettings,
    /// What could not be carried over, one line each.
    pub not_carried: Vec<String>,
    /// What the check of the restored table found.
    pub verification: backup_lambda::restore::Verification,
    /// The restore is proven.
    pub verified: bool,
    /// How long the run took, in milliseconds.
    pub elapsed_ms: u128,
}

/// `rollback`: each item changed in the window put back as it was at its start, unless it
/// changed again since.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct RolledBack {
    /// The table.
    pub table: String,
    /// The window's start (RFC 3339): items are as they were then.
    pub from: String,
    /// The window's end (RFC 3339, exclusive): writes from then on are never undone.
    pub to: String,
    /// The incremental exports read, in order (their ARNs).
    pub exports: Vec<String>,
    /// Whether this only showed what it would do (`--dry-run`).
    pub dry_run: bool,
    /// Keys changed in the window (only those of `--keys`, when given).
    pub changed: usize,
    /// Items put back as they were (with `--dry-run`: that would be).
    pub put_back: usize,
    /// Items deleted, as they did not exist at the window's start (with `--dry-run`: that
    /// would be).
    pub deleted: usize,
    /// Items that are as they were at the window's start already (a rollback run before, or a
    /// write that undid itself).
    pub as_it_was: usize,
    /// The keys of items written again after the window: left as they are.
    pub skipped: Vec<Value>,
    /// The keys of items with too many attributes to guard their write with a condition
    /// (DynamoDB's 300 operators, 4 KB): left as they are.
    pub too_wide: Vec<Value>,
    /// The items whose write failed, and why: left as they are (the same command run again
    /// tries them again).
    pub failed: Vec<FailedItem>,
    /// `--keys` given that the window did not change.
    pub not_in_window: Vec<Value>,
    /// A few of the changes, as the item is now and as it will be.
    pub sample: Vec<ItemDiff>,
    /// The on-demand backup made of the table before the first write (the stack's own, kept by
    /// its retention), from which the rollback itself can be undone.
    pub backup_before: Option<String>,
    /// How long it took, in milliseconds.
    pub elapsed_ms: u128,
}

/// An item a rollback could not write.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct FailedItem {
    /// Its key.
    pub key: Value,
    /// The error.
    pub error: String,
}

/// One item before and after a rollback, in plain JSON.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ItemDiff {
    /// Its key.
    pub key: Value,
    /// The item now (`null`: absent).
    pub now: Option<Value>,
    /// The item at the window's start, as it is put back (`null`: deleted).
    pub then: Option<Value>,
}

/// `init`: the settings file written.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Initialized {
    /// The file.
    pub path: PathBuf,
    /// The stack whose table was written.
    pub stack: String,
    /// What the settings were taken from (before the flags given).
    pub from: String,
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
    /// The settings that change, against the deployed stack's (none for a new stack).
    pub settings: Vec<crate::deploy::settings::SettingChange>,
    /// One line per resource.
    pub resources: Vec<PlanLine>,
    /// The alert topic, its subscriptions and the alarms, as they are now.
    pub alerts: Alerts,
    /// How long each phase took.
    pub phases_ms: Phases,
    /// The monthly cost estimate (`plan --cost` only).
    pub cost: Option<crate::cost::CostEstimate>,
    /// The export bucket's Object Lock as read (`Object Lock compliance for 365 days`, `no
    /// Object Lock`), when exports go to another bucket.
    pub export_bucket_lock: Option<String>,
    /// The schedule's next five runs (`plan` only; for a rate, counted from now: a rate runs
    /// from when its schedule is made).
    pub next_runs: Vec<NextRun>,
    /// Per named table with any, its unmarked backups (`<table>-<YYYYmmddHHMMSS>`) that the
    /// stack has not adopted, and whether `--adopt-backups` adopts them now.
    pub unmarked: Vec<Unmarked>,
}

/// A table's unmarked backups: not the stack's unless adopted, never deleted implicitly.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Unmarked {
    /// The table.
    pub table: String,
    /// How many unmarked backups it has that the stack has not adopted.
    pub count: usize,
    /// Whether this `up` adopts them (`--adopt-backups`).
    pub adopt: bool,
}

impl std::fmt::Display for Unmarked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = crate::deploy::plan::Kind::Backups;
        write!(f, "{kind:<14} {:<44} ", self.table)?;
        if self.adopt {
            write!(f, "adopt {} unmarked backup(s)", self.count)
        } else {
            write!(
                f,
                "{} unmarked backup(s), not this stack's: left as they are (--adopt-backups adopts them)",
                self.count
            )
        }
    }
}

/// One run of the schedule to come.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct NextRun {
    /// When, in UTC (RFC 3339).
    pub at: String,
    /// The same moment on the schedule zone's wall clock (`2027-03-29T02:30:00`).
    pub local: String,
    /// The schedule's zone.
    pub zone: String,
}

impl NextRun {
    /// The next `count` runs of `schedule` after `now`.
    pub fn of(
        schedule: &crate::deploy::schedule::Schedule,
        now: time::OffsetDateTime,
    ) -> Vec<Self> {
        let zone = schedule.zone();
        schedule
            .next_runs(now, 5)
            .into_iter()
            .map(|at| Self {
                at: backup_lambda::record::rfc3339(at),
                local: zone.local(at).to_string(),
                zone: zone.name().to_owned(),
            })
            .collect()
    }
}

impl std::fmt::Display for NextRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let local = self.local.replacen('T', " ", 1);
        let utc = self.at.replacen('T', " ", 1);
        write!(f, "{local} {} ({utc})", self.zone)
    }
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
    /// Every schedule rule's ARN (none when EventBridge Scheduler runs the schedule).
    pub rule_arns: Vec<String>,
    /// The EventBridge Scheduler schedule group's ARN, when Scheduler runs the schedule.
    pub schedule_group_arn: Option<String>,
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
    /// The export bucket's Object Lock as read, when exports go to another bucket.
    pub export_bucket_lock: Option<String>,
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
    /// Its incremental export chains, with `--export-mode incremental` (or chains left from it).
    pub export_chain: Option<crate::compliance::chains::ChainFigures>,
    /// Its point-in-time recovery's recovery period in days, where the stack wants it on
    /// (exports, `--pitr-days`) and it is on.
    pub pitr_days: Option<i32>,
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
    /// Whose it is.
    pub made_by: MadeBy,
}

/// Whose a backup is, as `status` sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum MadeBy {
    /// This stack's: named with the stack, or unmarked and adopted.
    Stack,
    /// In the unmarked `<table>-<YYYYmmddHHMMSS>` format and not adopted: `up --adopt-backups`
    /// would make it the stack's.
    Unmarked,
    /// Anyone else's: made by hand, by another stack, by AWS Backup.
    Other,
}

impl std::fmt::Display for MadeBy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            MadeBy::Stack => "this stack's",
            MadeBy::Unmarked => "unmarked, not adopted: up --adopt-backups adopts it",
            MadeBy::Other => "not this stack's",
        })
    }
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
    /// What happened to each resource (with `--dry-run`, what would).
    pub resources: Vec<RemovalStep>,
    /// Whether this was `--dry-run`: nothing was deleted.
    pub dry_run: bool,
    /// Per table, how many of the stack's backups were deleted.
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
    pub reapplied: crate::recovery::Reapplied,
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
    /// A restore point of an incremental export chain: its full export imported, then its
    /// incremental exports applied in order.
    Chain {
        /// The chain's id.
        chain: String,
        /// The moment rebuilt, RFC 3339: the last applied export's end.
        at: String,
        /// The full export's ARN.
        full_export: String,
        /// The import's ARN.
        import_arn: String,
        /// Items the import could not write.
        import_errors: i64,
        /// What applying the incrementals did.
        applied: ChainApplied,
    },
}

/// What applying a chain's incremental exports did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ChainApplied {
    /// Incremental exports applied.
    pub incrementals: usize,
    /// Their lines (changed items).
    pub lines: usize,
    /// Items that did not exist before a line put them.
    pub made: i64,
    /// Items a line deleted.
    pub deleted: i64,
    /// Lines whose `OldImage` was not the item as rebuilt so far (with `NEW_AND_OLD_IMAGES`):
    /// a hole in the chain; 0 for a proven restore.
    pub old_images_differing: usize,
    /// Changed items read back from the new table once every change was applied (an eighth of
    /// the changed keys, 1,000 at most): each must be as the last change left it.
    pub sampled: usize,
    /// Sampled items that were not: 0 for a proven restore.
    pub sample_differing: usize,
}

impl std::fmt::Display for RestoredFrom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RestoredFrom::Backup { name, .. } => write!(f, "backup {name}"),
            RestoredFrom::PointInTime { at } => write!(f, "the table as it was at {at}"),
            RestoredFrom::Export { arn, data, .. } => write!(f, "export {arn} ({data})"),
            RestoredFrom::Chain { chain, at, .. } => {
                write!(f, "export chain {chain} at {at}")
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn invoked(result: Value) -> Summary {
        Summary::Invoke(Invoked {
            function: "dynamodb-backup".to_owned(),
            input: json!({"TableName": "Movies"}),
            local: true,
            request_id: "r".to_owned(),
            result,
            logs: Vec::new(),
        })
    }

    fn drill(verdict: Verdict, reason: Option<&str>) -> Summary {
        Summary::Drill(backup_lambda::drill::DrillRecord {
            table: "Movies".to_owned(),
            id: "20261204000000".to_owned(),
            backup_name: "Movies-dynamodb-backup-20261204000000".to_owned(),
            backup_arn: "arn:aws:dynamodb:us-east-1:123456789012:table/Movies/backup/1".to_owned(),
            scratch: "Movies-drill-20261204000000".to_owned(),
            started_at: time::macros::datetime!(2026-12-04 00:00 UTC),
            finished_at: time::macros::datetime!(2026-12-04 00:05 UTC),
            recovery_seconds: 300,
            recovery_upper_bound: false,
            verification: None,
            verdict,
            reason: reason.map(str::to_owned),
        })
    }

    fn restored(verified: bool) -> Summary {
        Summary::Restore(Restored {
            table: "Movies".to_owned(),
            target: "Movies-back".to_owned(),
            from: RestoredFrom::PointInTime {
                at: "2026-12-04T00:00:00Z".to_owned(),
            },
            reapplied: crate::recovery::Reapplied::default(),
            verification: None,
            verified,
            phases_ms: RestorePhases {
                start_ms: 0,
                wait_ms: 0,
                reapply_ms: 0,
                verify_ms: 0,
            },
        })
    }

    #[test]
    fn a_negative_verdict_says_why_and_a_positive_one_nothing() {
        assert_eq!(invoked(json!({"status": "ok"})).failed_verdict(), None);
        let partial = invoked(json!({"status": "partial", "failures": [{"name": "x"}]}))
            .failed_verdict()
            .expect("a partial run is a negative verdict");
        assert!(partial.contains("1 deletion(s) failed"), "{partial}");
        let export = invoked(json!({"status": "partial", "failures": [], "partial": ["export"]}))
            .failed_verdict()
            .expect("a partial run is a negative verdict");
        assert!(export.contains("an export failed"), "{export}");
        assert!(!export.contains("deletion"), "{export}");
        let both = invoked(json!({
            "status": "partial",
            "failures": [{"name": "x"}],
            "partial": ["deletions", "export"]
        }))
        .failed_verdict()
        .expect("a partial run is a negative verdict");
        assert!(
            both.contains("1 deletion(s) failed") && both.contains("and an export failed"),
            "{both}"
        );

        assert_eq!(drill(Verdict::Passed, None).failed_verdict(), None);
        let failed = drill(Verdict::Failed, Some("not ACTIVE within 2 s"))
            .failed_verdict()
            .expect("a failed drill");
        assert_eq!(failed, "the drill of Movies failed: not ACTIVE within 2 s");

        assert_eq!(restored(true).failed_verdict(), None);
        let unproven = restored(false).failed_verdict().expect("not proven");
        assert!(
            unproven.contains("Movies-back does not match"),
            "{unproven}"
        );

        assert_eq!(Summary::Logs.failed_verdict(), None);
    }
}
