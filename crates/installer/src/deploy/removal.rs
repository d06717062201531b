//! `down`'s pipeline: what to remove ([`removal_plan`]: only what carries the stack's tags, plus
//! the backups the function made) and removing it ([`remove`]).

use std::time::Duration;

use backup_lambda::drill::{Drill, DrillSettings};
use backup_lambda::naming::TableName;
use backup_lambda::select::{TableTag, tagged_tables};
use backup_lambda::store::DynamoDbBackups;

use crate::aws::{Aws, AwsError};
use crate::deploy::desired::Desired;
use crate::deploy::plan::{Kind, Removal, Step};
use crate::deploy::resources::alarm;
use crate::deploy::resources::bucket::{self, Bucket};
use crate::deploy::resources::function::Function;
use crate::deploy::resources::log_group::LogGroup;
use crate::deploy::resources::role::Role;
use crate::deploy::resources::table::{self, Table};
use crate::deploy::resources::topic::Topic;
use crate::deploy::resources::{Resource, is_ours, removal, rule};
use crate::deploy::stack::{Observed, StackError};
use crate::report::progress::Progress;

/// How long `down` waits for a drill's table still being restored before it can delete it.
const DRILL_PATIENCE: Duration = Duration::from_secs(3600);

/// The tables `down` considers: the ones configured, plus any the stack's rules target (so that
/// `down` without `--table` still finds tables a multi-table `up` made), plus those carrying a
/// tag a rule targets (found as the function finds them).
async fn tables_to_remove(
    aws: &Aws,
    desired: &Desired,
    observed: &Observed,
) -> Result<Vec<TableName>, AwsError> {
    let mut tables: Vec<TableName> = desired.tables.iter().map(|t| t.name.clone()).collect();
    let inputs: Vec<serde_json::Value> = observed
        .rules
        .iter()
        .chain(observed.stale_rules.iter().map(|(_, found)| found))
        .flatten()
        .filter(|r| is_ours(&r.tags, &desired.tags))
        .flat_map(|r| &r.targets)
        .filter_map(|(_, _, input)| serde_json::from_str(input).ok())
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

/// A step of `down`.
fn step(kind: Kind, name: &str, action: Removal) -> Step<Removal> {
    Step {
        kind,
        name: name.to_owned(),
        action,
    }
}

/// What `down` would remove, in the order it would remove it.
pub async fn removal_plan(
    aws: &Aws,
    desired: &Desired,
    observed: &Observed,
    keep_data: bool,
) -> Result<Vec<Step<Removal>>, AwsError> {
    let ours = &desired.tags;
    let data = |found: Removal| match found {
        Removal::Delete if keep_data => Removal::Kept,
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
        step(
            Kind::LogGroup,
            &desired.log_group.name,
            removal(observed.log_group.as_ref().map(|l| &l.tags), ours),
        ),
    ]);
    for table in tables_to_remove(aws, desired, observed).await? {
        // The function's backups go unless --keep-data, whoever owns the table.
        let backups = if table::function_backups(aws, &table).await?.is_empty() {
            Removal::Absent
        } else {
            data(Removal::Delete)
        };
        steps.push(step(Kind::Backups, table.as_str(), backups));
        let found = match desired.tables.iter().position(|t| t.name == table) {
            Some(i) => observed.tables[i].clone(),
            None => table::observe(aws, &table).await?,
        };
        let found = removal(found.as_ref().map(|t| &t.tags), ours);
        steps.push(step(Kind::Table, table.as_str(), data(found)));
    }
    let bucket = match &observed.bucket {
        bucket::Found::Absent => Removal::Absent,
        bucket::Found::Foreign => Removal::NotOurs,
        bucket::Found::Here(o) => data(removal(Some(&o.tags), ours)),
    };
    steps.push(step(Kind::Bucket, &desired.bucket.name, bucket));
    Ok(steps)
}

/// Removes what `steps` say to delete, in order, except that the schedule rules are only
/// disabled at first (so that no new backup starts) and deleted last: until then they still name
/// every table the stack backs up, so a `down` stopped midway is finished by the next one.
/// Returns, per table, how many of the function's backups were deleted.
pub async fn remove(
    aws: &Aws,
    desired: &Desired,
    steps: &[Step<Removal>],
) -> Result<Vec<(String, usize)>, StackError> {
    let progress = Progress::new();
    let mut backups_deleted = Vec::new();
    let deletions: Vec<_> = steps
        .iter()
        .filter(|s| s.action == Removal::Delete)
        .collect();
    let rules = || deletions.iter().filter(|s| s.kind == Kind::Schedule);
    for step in rules() {
        let work = rule::disable(aws, &step.name);
        progress
            .step("disable", "schedule", &step.name, work)
            .await?;
    }
    end_drills(aws, desired, steps).await;
    for step in deletions.iter().filter(|s| s.kind != Kind::Schedule) {
        let work = delete(aws, desired, step, &mut backups_deleted);
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
/// its backup in use. Done even with `--keep-data`: a scratch table is not data.
async fn end_drills(aws: &Aws, desired: &Desired, steps: &[Step<Removal>]) {
    let ours = |s: &&Step<Removal>| {
        s.kind == Kind::Bucket && matches!(s.action, Removal::Delete | Removal::Kept)
    };
    if !steps.iter().any(|s| ours(&s)) {
        return;
    }
    let settings = DrillSettings {
        every: Duration::ZERO,
        timeout: Duration::ZERO,
    };
    let drills = Drill::new(
        aws.dynamodb.clone(),
        aws.s3.clone(),
        &desired.bucket.name,
        settings,
    );
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

/// Deletes what one step names; the function's backups it deleted are added to `backups`.
async fn delete(
    aws: &Aws,
    desired: &Desired,
    step: &Step<Removal>,
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
        Kind::LogGroup => LogGroup::delete(aws, &desired.log_group).await,
        Kind::Topic => Topic::delete(aws, &desired.topic).await,
        Kind::Alarm => alarm::delete_named(aws, &step.name).await,
        Kind::Bucket => Bucket::delete(aws, &desired.bucket).await,
        // Never planned for removal: the bucket and its exports are the user's.
        Kind::ExportBucket => Ok(()),
        Kind::Backups => {
            let count = table::delete_function_backups(aws, &table()?).await?;
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
