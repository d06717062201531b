//! `down`'s pipeline: what to remove ([`removal_plan`]: only what carries the stack's tags, plus
//! the stack's backups) and removing it ([`remove`]). The data the stack protects (its backups,
//! the tables it made, the bucket with the run records and exports) is kept unless
//! [`DeleteData`] says otherwise, as AWS Backup keeps recovery points when a plan is deleted.

use std::time::Duration;

use backup_lambda::drill::DrillSettings;
use backup_lambda::naming::TableName;
use backup_lambda::ownership::Ownership;
use backup_lambda::select::{TableTag, tagged_tables};
use backup_lambda::store::DynamoDbBackups;

use crate::aws::{Aws, AwsError};
use crate::deploy::desired::Desired;
use crate::deploy::plan::{Kind, Removal, RemovalStep};
use crate::deploy::resources::alarm;
use crate::deploy::resources::bucket::{self, Bucket};
use crate::deploy::resources::function::Function;
use crate::deploy::resources::log_group::LogGroup;
use crate::deploy::resources::role::{Role, SchedulerRole};
use crate::deploy::resources::schedules::Schedules;
use crate::deploy::resources::settings_object::{SettingsObject, Stored};
use crate::deploy::resources::table::{self, Table};
use crate::deploy::resources::topic::Topic;
use crate::deploy::resources::{Resource, is_ours, removal, rule};
use crate::deploy::stack::{Observed, StackError};
use crate::report::progress::Progress;

/// What `down` deletes of the stack's data besides the stack itself: nothing unless asked.
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub struct DeleteData {
    /// Also delete this stack's backups of each table (never backups it did not make).
    #[arg(long, conflicts_with = "keep_data")]
    pub delete_backups: bool,
    /// Also delete the tables this stack made (a table it did not make is never deleted).
    #[arg(long, conflicts_with = "keep_data")]
    pub delete_tables: bool,
    /// Also delete the stack's bucket: its run records, daily ledgers and the exports in it.
    #[arg(long, conflicts_with = "keep_data")]
    pub delete_bucket: bool,
    /// All of the stack's data: --delete-backups --delete-tables --delete-bucket.
    #[arg(long, conflicts_with = "keep_data")]
    pub delete_data: bool,
    /// Keep all data: what `down` does without a --delete-* flag (accepted for scripts written
    /// when it deleted by default).
    #[arg(long, hide = true)]
    pub keep_data: bool,
}

impl DeleteData {
    /// Whether `down` deletes resources of this kind that are the stack's data; other kinds
    /// (the function, role, schedules...) are always deleted.
    pub fn deletes(self, kind: Kind) -> bool {
        let asked = match kind {
            Kind::Backups => self.delete_backups,
            Kind::Table => self.delete_tables,
            // The recorded settings are the bucket's: they say what the kept data belonged to.
            Kind::Bucket | Kind::Settings => self.delete_bucket,
            _ => return true,
        };
        !self.keep_data && (asked || self.delete_data)
    }
}

/// How long `down` waits for a drill's table still being restored before it can delete it.
const DRILL_PATIENCE: Duration = Duration::from_secs(3600);

/// The tables `down` considers: the ones configured, plus any the stack's rules target (so that
/// `down` without `--table` still finds tables a multi-table `up` made), plus those carrying a
/// tag a rule targets (found as the function finds them).
async fn tables_to_remove(
    aws: &Aws,
    desired: &Desired,
    observed: &Observed,
    extra: &[TableName],
) -> Result<Vec<TableName>, AwsError> {
    let mut tables: Vec<TableName> = desired.tables.iter().map(|t| t.name.clone()).collect();
    for table in extra {
        if !tables.contains(table) {
            tables.push(table.clone());
        }
    }
    let inputs: Vec<serde_json::Value> = observed
        .rules
        .iter()
        .chain(observed.stale_rules.iter().map(|(_, found)| found))
        .flatten()
        .filter(|r| is_ours(&r.tags, &desired.tags))
        .flat_map(|r| &r.targets)
        .map(|(_, _, input)| input)
        .chain(
            observed
                .schedules
                .iter()
                .filter(|s| is_ours(&s.tags, &desired.tags))
                .flat_map(|s| &s.entries)
                .map(|e| &e.input),
        )
        .filter_map(|input| serde_json::from_str(input).ok())
        .collect();
    let mut targeted: Vec<TableName> = inputs
        .iter()
        .filter_map(|input| TableName::parse(input["TableName"].as_str()?).ok())
        .collect();
    let store = DynamoDbBackups::new(aws.dynamodb.clone());
    for input in &inputs {
        if let Ok(Some(tag)) = TableTag::from_event(input) {
            // `down` must know every table it may hold backups of: an unreadable one stops it.
            let pacer = backup_lambda::pace::Pacers::default().tags;
            targeted.extend(tagged_tables(&store, &tag, &pacer).await?.complete()?);
        }
    }
    for table in targeted {
        if !tables.contains(&table) {
            tables.push(table);
        }
    }
    Ok(tables)
}

/// A step of `down` (no count).
fn step(kind: Kind, name: &str, action: Removal) -> RemovalStep {
    RemovalStep {
        kind,
        name: name.to_owned(),
        action,
        count: None,
    }
}

/// What `down` would remove, in the order it would remove it; `extra`: tables the stack no
/// longer backs up, whose backups (and, if the stack made them, the tables) are its data too.
pub async fn removal_plan(
    aws: &Aws,
    desired: &Desired,
    observed: &Observed,
    owner: &Ownership,
    delete: DeleteData,
    extra: &[TableName],
) -> Result<Vec<RemovalStep>, AwsError> {
    let ours = &desired.tags;
    let data = |kind: Kind, found: Removal| match found {
        Removal::Delete if !delete.deletes(kind) => Removal::Kept,
        other => other,
    };
    let rules = desired
        .rules
        .iter()
        .zip(&observed.rules)
        .map(|(r, o)| (r, o.as_ref()))
        .chain(observed.stale_rules.iter().map(|(r, o)| (r, o.as_ref())));
    let mut steps: Vec<_> = rules
        .map(|(r, o)| step(Kind::Schedule, &r.name, removal(o.map(|o| &o.tags), ours)))
        .collect();
    if observed.schedules.is_some() {
        let found = removal(observed.schedules.as_ref().map(|s| &s.tags), ours);
        steps.push(step(Kind::ScheduleGroup, &desired.schedules.group, found));
    }
    // Alarms before the function, so that taking it away raises no missing-backup alarm; the
    // topic after them.
    let alarms = desired
        .alarms
        .iter()
        .zip(&observed.alarms)
        .map(|(a, o)| (a, o.as_ref()))
        .chain(observed.stale_alarms.iter().map(|(a, o)| (a, Some(o))));
    steps
        .extend(alarms.map(|(a, o)| step(Kind::Alarm, &a.name, removal(o.map(|o| &o.tags), ours))));
    if desired.topic_wanted || observed.topic.is_some() {
        let found = removal(observed.topic.as_ref().map(|t| &t.tags), ours);
        steps.push(step(Kind::Topic, &desired.topic.name, found));
    }
    steps.extend([
        step(
            Kind::Function,
            &desired.function.name,
            removal(observed.function.as_ref().map(|f| &f.tags), ours),
        ),
        step(
            Kind::Role,
            &desired.role.name,
            removal(observed.role.as_ref().map(|r| &r.tags), ours),
        ),
    ]);
    if observed.scheduler_role.is_some() {
        let found = removal(observed.scheduler_role.as_ref().map(|r| &r.tags), ours);
        steps.push(step(
            Kind::SchedulerRole,
            &desired.scheduler_role.name,
            found,
        ));
    }
    steps.extend([step(
        Kind::LogGroup,
        &desired.log_group.name,
        removal(observed.log_group.as_ref().map(|l| &l.tags), ours),
    )]);
    for table in tables_to_remove(aws, desired, observed, extra).await? {
        // The stack's backups, whoever owns the table: kept unless --delete-backups.
        let count = table::stack_backups(aws, owner, &table).await?.len();
        let backups = if count == 0 {
            Removal::Absent
        } else {
            data(Kind::Backups, Removal::Delete)
        };
        steps.push(RemovalStep {
            count: Some(count),
            ..step(Kind::Backups, table.as_str(), backups)
        });
        let found = match desired.tables.iter().position(|t| t.name == table) {
            Some(i) => observed.tables[i].clone(),
            None => table::observe(aws, &table).await?,
        };
        let found = removal(found.as_ref().map(|t| &t.tags), ours);
        steps.push(step(Kind::Table, table.as_str(), data(Kind::Table, found)));
    }
    let bucket = match &observed.bucket {
        bucket::Found::Absent => Removal::Absent,
        bucket::Found::Foreign => Removal::NotOurs,
        bucket::Found::Here(o) => data(Kind::Bucket, removal(Some(&o.tags), ours)),
    };
    // The settings last (deleting the bucket deletes them too), so that a `down` stopped
    // midway still finds the stack's settings; kept with the bucket, so that a later `down
    // --delete-data` (or `up`) by name knows what the kept data belonged to. Never another
    // stack's document.
    let settings = match &observed.settings {
        Stored::Absent => Removal::Absent,
        Stored::Found(d) if d.stack != desired.settings.document.stack => Removal::NotOurs,
        // In a bucket that is not the stack's, or unreadable, it is left to the bucket's owner.
        _ if bucket == Removal::NotOurs => Removal::NotOurs,
        Stored::Unreadable(_) => Removal::NotOurs,
        Stored::Found(_) | Stored::Newer(_) => data(Kind::Settings, Removal::Delete),
    };
    steps.push(step(Kind::Bucket, &desired.bucket.name, bucket));
    steps.push(step(
        Kind::Settings,
        &desired.settings.document.stack,
        settings,
    ));
    Ok(steps)
}

/// Removes what `steps` say to delete, in order, except that the schedule rules are only
/// disabled at first (so that no new backup starts) and deleted last: until then they still name
/// every table the stack backs up, so a `down` stopped midway is finished by the next one.
/// Scheduler's schedules cannot be kept while off in the same way, so they go first (`down`
/// read the tables they name before it began).
/// Returns, per table, how many of the function's backups were deleted.
pub async fn remove(
    aws: &Aws,
    desired: &Desired,
    owner: &Ownership,
    steps: &[RemovalStep],
) -> Result<Vec<(String, usize)>, StackError> {
    let progress = Progress::new();
    let mut backups_deleted = Vec::new();
    let deletions: Vec<_> = steps
        .iter()
        .filter(|s| s.action == Removal::Delete)
        .collect();
    let rules = || deletions.iter().filter(|s| s.kind == Kind::Schedule);
    let first = |s: &&&RemovalStep| s.kind == Kind::ScheduleGroup;
    for step in deletions.iter().filter(first) {
        let work = delete(aws, desired, owner, step, &mut backups_deleted);
        progress
            .step("delete", step.kind.as_str(), &step.name, work)
            .await?;
    }
    for step in rules() {
        let work = rule::disable(aws, &step.name);
        progress
            .step("disable", "schedule", &step.name, work)
            .await?;
    }
    end_drills(aws, desired, owner, steps).await;
    let rest = |s: &&&RemovalStep| !matches!(s.kind, Kind::Schedule | Kind::ScheduleGroup);
    for step in deletions.iter().filter(rest) {
        let work = delete(aws, desired, owner, step, &mut backups_deleted);
        progress
            .step("delete", step.kind.as_str(), &step.name, work)
            .await?;
    }
    for step in rules() {
        let work = rule::delete(aws, &step.name);
        progress
            .step("delete", "schedule", &step.name, work)
            .await?;
    }
    Ok(backups_deleted)
}

/// Ends any restore drill under way on the stack's tables (their state is in the stack's bucket,
/// if it is there): a drill's scratch table would outlive the function, and its restore keeps
/// its backup in use. Done even when the data is kept: a scratch table is not data.
async fn end_drills(aws: &Aws, desired: &Desired, owner: &Ownership, steps: &[RemovalStep]) {
    let ours = |s: &&RemovalStep| {
        s.kind == Kind::Bucket && matches!(s.action, Removal::Delete | Removal::Kept)
    };
    if !steps.iter().any(|s| ours(&s)) {
        return;
    }
    let settings = DrillSettings {
        every: Duration::ZERO,
        timeout: Duration::ZERO,
    };
    let drills = aws.drills(&desired.bucket.name, settings, owner.clone());
    for step in steps.iter().filter(|s| s.kind == Kind::Table) {
        let Ok(table) = TableName::parse(&step.name) else {
            continue;
        };
        match drills.abandon(&table, DRILL_PATIENCE).await {
            Ok(Some(scratch)) => report!("  deleted {scratch}, the table of a drill under way"),
            Ok(None) => {}
            // The bucket may deny these reads (a TLS-only policy over plain HTTP, a narrower
            // role): `down` goes on, and says what might be left.
            Err(e) => report!(
                "  could not check {table} for a restore drill under way ({e}); delete any {table}-drill-* table it left by hand"
            ),
        }
    }
}

/// Deletes what one step names; the stack's backups it deleted are added to `backups`.
async fn delete(
    aws: &Aws,
    desired: &Desired,
    owner: &Ownership,
    step: &RemovalStep,
    backups: &mut Vec<(String, usize)>,
) -> Result<(), AwsError> {
    let table = || {
        TableName::parse(&step.name)
            .map_err(|e| AwsError::malformed("DeleteTable", step.name.as_str(), &e.to_string()))
    };
    match step.kind {
        Kind::Schedule => rule::delete(aws, &step.name).await,
        Kind::Function => Function::delete(aws, &desired.function).await,
        Kind::Role => Role::delete(aws, &desired.role).await,
        Kind::SchedulerRole => SchedulerRole::delete(aws, &desired.scheduler_role).await,
        Kind::ScheduleGroup => Schedules::delete(aws, &desired.schedules).await,
        Kind::LogGroup => LogGroup::delete(aws, &desired.log_group).await,
        Kind::Topic => Topic::delete(aws, &desired.topic).await,
        Kind::Alarm => alarm::delete_named(aws, &step.name).await,
        Kind::Bucket => Bucket::delete(aws, &desired.bucket).await,
        // Never planned for removal: the bucket and its exports are the user's.
        Kind::ExportBucket => Ok(()),
        Kind::Settings => SettingsObject::delete(aws, &desired.settings).await,
        Kind::Backups => {
            let count = table::delete_stack_backups(aws, owner, &table()?).await?;
            backups.push((step.name.clone(), count));
            Ok(())
        }
        Kind::Table => {
            let table = table::Desired {
                name: table()?,
                tags: desired.tags.clone(),
                pitr: table::Pitr::NotNeeded,
            };
            Table::delete(aws, &table).await
        }
    }
}
