//! Plans: per resource, what `up` would do ([`Change`], typed by the resource's fields) or `down`
//! would remove ([`Removal`]), and the one flat view of a plan ([`PlanLine`]) that is printed and
//! serialized.

use std::fmt;

use serde::Serialize;

/// The kinds of resource, as plans name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// CloudWatch Logs group.
    LogGroup,
    /// IAM role.
    Role,
    /// S3 bucket.
    Bucket,
    /// DynamoDB table.
    Table,
    /// Lambda function.
    Function,
    /// EventBridge rule, its targets and invoke permission.
    Schedule,
    /// EventBridge Scheduler schedule group and its schedules.
    ScheduleGroup,
    /// The IAM role EventBridge Scheduler invokes the function with.
    SchedulerRole,
    /// The function's backups of a table.
    Backups,
    /// SNS alert topic and its e-mail subscriptions.
    Topic,
    /// CloudWatch alarm.
    Alarm,
    /// Another bucket exports go to (checked, never changed).
    ExportBucket,
    /// The stack's recorded settings (a document in its bucket), written last.
    Settings,
}

impl Kind {
    /// The name plans print.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::LogGroup => "log group",
            Kind::Role => "role",
            Kind::Bucket => "bucket",
            Kind::Table => "table",
            Kind::Function => "function",
            Kind::Schedule => "schedule",
            Kind::ScheduleGroup => "schedule group",
            Kind::SchedulerRole => "scheduler role",
            Kind::Backups => "backups",
            Kind::Topic => "topic",
            Kind::Alarm => "alarm",
            Kind::ExportBucket => "export bucket",
            Kind::Settings => "settings",
        }
    }
}

impl Kind {
    /// Every kind, in the order plans list them.
    pub const ALL: [Kind; 13] = [
        Kind::LogGroup,
        Kind::Role,
        Kind::SchedulerRole,
        Kind::Bucket,
        Kind::ExportBucket,
        Kind::Table,
        Kind::Function,
        Kind::ScheduleGroup,
        Kind::Schedule,
        Kind::Backups,
        Kind::Topic,
        Kind::Alarm,
        Kind::Settings,
    ];
}

/// A string schema with these values.
fn names_schema(names: &[&str]) -> schemars::Schema {
    schemars::json_schema!({"type": "string", "enum": names})
}

impl schemars::JsonSchema for Kind {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Kind".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        names_schema(&Kind::ALL.map(Kind::as_str))
    }
}

impl schemars::JsonSchema for Removal {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Removal".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let all = [
            Removal::Delete,
            Removal::Absent,
            Removal::NotOurs,
            Removal::Kept,
        ];
        names_schema(&all.map(Removal::as_str))
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl Serialize for Kind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// What `up` does to one resource; `F` is the resource's own enum of the fields it can update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change<F> {
    /// It does not exist: create it.
    Create,
    /// It exists but these fields differ: update them.
    Update(Vec<F>),
    /// It exists as desired.
    Unchanged,
    /// It exists and is not this stack's: use it as it is, never modify or delete it.
    UseExisting,
    /// It exists, is not this stack's, and the stack cannot do without owning it.
    Conflict(String),
    /// It is this stack's and no longer needed (a schedule rule for tables since dropped).
    Delete,
}

impl<F: Copy + PartialEq> Change<F> {
    /// Whether this creates the resource or updates `field`.
    pub fn sets(&self, field: F) -> bool {
        match self {
            Change::Create => true,
            Change::Update(fields) => fields.contains(&field),
            Change::Unchanged | Change::UseExisting | Change::Conflict(_) | Change::Delete => false,
        }
    }
}

/// What `down` does to one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// It is this stack's: delete it.
    Delete,
    /// It is not there.
    Absent,
    /// It is there but not this stack's: leave it.
    NotOurs,
    /// It is this stack's data (backups, a table it made, the bucket), which `down` keeps
    /// unless a `--delete-*` flag says otherwise.
    Kept,
}

impl Removal {
    /// The name `--output json` gives it.
    pub fn as_str(self) -> &'static str {
        match self {
            Removal::Delete => "delete",
            Removal::Absent => "absent",
            Removal::NotOurs => "not-ours",
            Removal::Kept => "kept",
        }
    }
}

impl Serialize for Removal {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One resource of `down`'s plan: what happens to it and, for a table's backups, how many of
/// this stack's there are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct RemovalStep {
    /// The kind of resource.
    pub kind: Kind,
    /// Its name.
    pub name: String,
    /// What happens to it.
    pub action: Removal,
    /// For `backups`: how many of the table's backups are this stack's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<usize>,
}

impl fmt::Display for RemovalStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:<14} {:<44} ", self.kind, self.name)?;
        let count = self.count.unwrap_or_default();
        match (self.action, self.kind) {
            (Removal::Delete, Kind::Backups) => write!(f, "delete {count} backup(s)"),
            (Removal::Delete, _) => f.write_str("delete"),
            (Removal::Absent, _) => f.write_str("absent"),
            (Removal::NotOurs, _) => f.write_str("not this stack's; left as it is"),
            (Removal::Kept, Kind::Backups) => {
                write!(f, "keep {count} backup(s) (--delete-backups deletes them)")
            }
            (Removal::Kept, Kind::Table) => f.write_str("keep (--delete-tables deletes it)"),
            (Removal::Kept, Kind::Bucket) => {
                f.write_str("keep, with its run records and exports (--delete-bucket deletes it)")
            }
            (Removal::Kept, Kind::Settings) => f.write_str(
                "keep, beside the run records: a later `up` or `down` by name reads them (--delete-bucket deletes them)",
            ),
            (Removal::Kept, _) => f.write_str("keep"),
        }
    }
}

/// One resource and what happens to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Step<A> {
    /// The kind of resource.
    pub kind: Kind,
    /// Its name.
    pub name: String,
    /// What happens to it.
    pub action: A,
}

impl<A: fmt::Display> fmt::Display for Step<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:<14} {:<44} {}", self.kind, self.name, self.action)
    }
}

impl<F: fmt::Display> Step<Change<F>> {
    /// The step as a plan line.
    pub fn line(&self) -> PlanLine {
        let (action, fields, conflict) = match &self.action {
            Change::Create => (Verb::Create, Vec::new(), None),
            Change::Update(fields) => (
                Verb::Update,
                fields.iter().map(ToString::to_string).collect(),
                None,
            ),
            Change::Unchanged => (Verb::None, Vec::new(), None),
            Change::UseExisting => (Verb::UseExisting, Vec::new(), None),
            Change::Conflict(why) => (Verb::Conflict, Vec::new(), Some(why.clone())),
            Change::Delete => (Verb::Delete, Vec::new(), None),
        };
        PlanLine {
            kind: self.kind,
            name: self.name.clone(),
            action,
            fields,
            conflict,
        }
    }
}

/// What a plan line says happens, in a word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[derive(schemars::JsonSchema)]
pub enum Verb {
    /// Created.
    Create,
    /// Updated.
    Update,
    /// Left as it is.
    None,
    /// Used as it is (not this stack's).
    UseExisting,
    /// In the way.
    Conflict,
    /// Deleted.
    Delete,
}

/// One resource's line of a plan, whatever its kind: what `plan` and `up` print and what
/// `--output json` lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct PlanLine {
    /// The kind of resource.
    pub kind: Kind,
    /// Its name.
    pub name: String,
    /// What happens to it.
    pub action: Verb,
    /// The fields an update changes.
    pub fields: Vec<String>,
    /// Why it is in the way, for a conflict.
    pub conflict: Option<String>,
}

impl PlanLine {
    /// Whether applying it changes nothing.
    pub fn is_noop(&self) -> bool {
        matches!(self.action, Verb::None | Verb::UseExisting)
    }

    /// Whether it deletes something, or changes what the role may do (or who may assume it):
    /// what `up` asks about by default.
    pub fn is_broadening(&self) -> bool {
        self.action == Verb::Delete || (self.kind == Kind::Role && self.action == Verb::Update)
    }
}

/// When `up` asks before applying (on a terminal, without `--yes`), as `cdk deploy
/// --require-approval` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Approval {
    /// Never ask.
    Never,
    /// Ask when the plan deletes something or changes the role's permissions or trust.
    Broadening,
    /// Ask whenever the plan changes anything.
    Any,
}

impl Approval {
    /// The lines of `plan` that need approval under this policy (none: apply without asking).
    pub fn wanted_for(self, plan: &[PlanLine]) -> Vec<&PlanLine> {
        plan.iter()
            .filter(|line| match self {
                Approval::Never => false,
                Approval::Broadening => line.is_broadening(),
                Approval::Any => !line.is_noop(),
            })
            .collect()
    }
}

impl fmt::Display for PlanLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:<14} {:<44} ", self.kind, self.name)?;
        match self.action {
            Verb::Create => f.write_str("create"),
            Verb::Update => write!(f, "update ({})", self.fields.join(", ")),
            Verb::None => f.write_str("no change"),
            Verb::UseExisting => f.write_str("use existing (not this stack's; left as it is)"),
            Verb::Conflict => write!(
                f,
                "conflict: {}",
                self.conflict.as_deref().unwrap_or_default()
            ),
            Verb::Delete => f.write_str("delete (no longer needed)"),
        }
    }
}

/// Which fields differ between desired and observed values: `(field, differs)` pairs in, a
/// [`Change::Update`] or [`Change::Unchanged`] out.
pub fn compare<F: Copy>(fields: &[(F, bool)]) -> Change<F> {
    let changed: Vec<F> = fields
        .iter()
        .filter(|(_, differs)| *differs)
        .map(|(field, _)| *field)
        .collect();
    if changed.is_empty() {
        Change::Unchanged
    } else {
        Change::Update(changed)
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn up_asks_about_deletions_and_role_changes_by_default() {
        let line = |kind: Kind, action: Verb| PlanLine {
            kind,
            name: "x".to_owned(),
            action,
            fields: Vec::new(),
            conflict: None,
        };
        let plan = vec![
            line(Kind::Function, Verb::Update),
            line(Kind::Role, Verb::Update),
            line(Kind::Table, Verb::Create),
            line(Kind::Schedule, Verb::Delete),
            line(Kind::Bucket, Verb::None),
        ];
        let kinds = |policy: Approval| -> Vec<(Kind, Verb)> {
            policy
                .wanted_for(&plan)
                .iter()
                .map(|l| (l.kind, l.action))
                .collect()
        };
        assert_eq!(
            kinds(Approval::Broadening),
            [(Kind::Role, Verb::Update), (Kind::Schedule, Verb::Delete)]
        );
        assert_eq!(
            kinds(Approval::Any).len(),
            4,
            "every change, not the unchanged"
        );
        assert!(kinds(Approval::Never).is_empty());
        let quiet = vec![
            line(Kind::Table, Verb::Create),
            line(Kind::Function, Verb::Update),
        ];
        assert!(Approval::Broadening.wanted_for(&quiet).is_empty());
    }
    use super::*;

    #[test]
    fn compare_names_only_the_fields_that_differ() {
        assert_eq!(
            compare(&[("memory", false), ("timeout", false)]),
            Change::Unchanged
        );
        assert_eq!(
            compare(&[("memory", true), ("timeout", false), ("environment", true)]),
            Change::Update(vec!["memory", "environment"])
        );
    }

    #[test]
    fn a_line_says_what_happens_and_is_a_noop_only_when_nothing_does() {
        let step = |action| Step {
            kind: Kind::Table,
            name: "Movies".into(),
            action,
        };
        let line = step(Change::Update(vec!["tags"])).line();
        assert_eq!(line.to_string().split_whitespace().last(), Some("(tags)"));
        assert!(!line.is_noop());
        assert!(step(Change::<&str>::Unchanged).line().is_noop());
        assert!(step(Change::<&str>::UseExisting).line().is_noop());
        assert!(!step(Change::<&str>::Create).line().is_noop());
        let conflict = step(Change::<&str>::Conflict("not ours".into())).line();
        assert_eq!(conflict.conflict.as_deref(), Some("not ours"));
        let json = serde_json::to_value(&conflict).expect("serializes");
        assert_eq!(json["kind"], "table");
        assert_eq!(json["action"], "conflict");
    }

    #[test]
    fn sets_says_whether_a_field_is_written() {
        assert!(Change::Create.sets("code"));
        assert!(Change::Update(vec!["code"]).sets("code"));
        assert!(!Change::Update(vec!["code"]).sets("configuration"));
        assert!(!Change::<&str>::Unchanged.sets("code"));
    }
}
