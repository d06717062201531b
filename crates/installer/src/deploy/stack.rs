//! `up`'s pipeline over the whole stack: what exists ([`observe`]), the typed plan between that
//! and the [`Desired`] stack ([`plan`], a [`StackPlan`]), and applying it ([`apply`]). Every
//! resource goes through its [`Resource`] contract, so this file names each resource once.

use futures::future::try_join_all;
use thiserror::Error;

use crate::aws::{Aws, AwsError, retry_conflicts};
use crate::deploy::config;
use crate::deploy::desired::Desired;
use crate::deploy::plan::{Change, PlanLine, Step};
use crate::deploy::policy::PolicyError;
use crate::deploy::resources::alarm::{self, Alarm};
use crate::deploy::resources::bucket::{self, Bucket};
use crate::deploy::resources::export_bucket::{self, ExportBucket};
use crate::deploy::resources::function::{self, Function};
use crate::deploy::resources::log_group::{self, LogGroup};
use crate::deploy::resources::role::{self, Role, SchedulerRole};
use crate::deploy::resources::rule::{self, Rule};
use crate::deploy::resources::schedules::{self, Schedules};
use crate::deploy::resources::settings_object::{self, SettingsObject};
use crate::deploy::resources::table::{self, Table};
use crate::deploy::resources::topic::{self, Topic};
use crate::deploy::resources::{Resource, is_ours};
use crate::report::progress::Progress;

/// Why `up` or `down` stopped.
#[derive(Debug, Error)]
pub enum StackError {
    /// An AWS call failed.
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// A policy template did not render.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// Something exists that the stack needs to own but does not.
    #[error("{0}")]
    Conflict(String),
}

/// Every resource of the stack, as it exists.
#[derive(Debug, Clone)]
pub struct Observed {
    /// The log group.
    pub log_group: Option<log_group::Observed>,
    /// The role.
    pub role: Option<role::Observed>,
    /// The schedules' role, if it exists.
    pub scheduler_role: Option<role::Observed>,
    /// The Scheduler schedule group, if it exists.
    pub schedules: Option<schedules::Observed>,
    /// The bucket.
    pub bucket: bucket::Found,
    /// The export bucket, when exports go to another one.
    pub export_bucket: Option<export_bucket::Observed>,
    /// Each desired table, in order.
    pub tables: Vec<Option<table::Observed>>,
    /// The function.
    pub function: Option<function::Observed>,
    /// Each desired rule, in order.
    pub rules: Vec<Option<rule::Observed>>,
    /// The stack's rules that are no longer desired (fewer tables than before, or Scheduler
    /// runs the schedule now), with what they hold.
    pub stale_rules: Vec<(rule::Desired, Option<rule::Observed>)>,
    /// How many more executions the account can reserve (`None`: unknown, counts as enough).
    pub reservable: Option<i32>,
    /// The stack's alert topic, if it exists.
    pub topic: Option<topic::Observed>,
    /// Each desired alarm, in order.
    pub alarms: Vec<Option<alarm::Observed>>,
    /// The stack's alarms that are no longer desired, as they are (to delete).
    pub stale_alarms: Vec<(alarm::Desired, alarm::Observed)>,
    /// The recorded settings.
    pub settings: settings_object::Stored,
}

/// A read of what only a stack run by EventBridge Scheduler has (its group, its role), for a
/// stack that is not: whatever stops it (an operator policy written before Scheduler, a
/// region without it) counts as absent, so that `plan`, `up` and `status` of a rules stack go
/// on; a stack moved back from Scheduler then has its group removed by a later `up` that can
/// read it.
async fn unless_unwanted<T>(
    wanted: bool,
    read: impl Future<Output = Result<Option<T>, AwsError>>,
) -> Result<Option<T>, AwsError> {
    match read.await {
        Err(e) if !wanted => {
            tracing::debug!(error = %e, "could not read what EventBridge Scheduler would hold; taken as absent");
            Ok(None)
        }
        other => other,
    }
}

/// Reads every resource, all at once (reads only).
pub async fn observe(aws: &Aws, desired: &Desired) -> Result<Observed, AwsError> {
    let prefix = config::rule_name(&desired.function.name, 1);
    let alarm_prefix = crate::deploy::alerts::alarm_prefix(&desired.function.name);
    let export_bucket = async {
        match &desired.export_bucket {
            Some(d) => ExportBucket::observe(aws, d).await.map(Some),
            None => Ok(None),
        }
    };
    let (
        export_bucket,
        settings,
        alerts,
        (scheduler_role, schedules, retired),
        (log_group, role, bucket, tables, function, rules, stale, reservable),
    ) = tokio::try_join!(
        export_bucket,
        SettingsObject::observe(aws, &desired.settings),
        async {
            tokio::try_join!(
                Topic::observe(aws, &desired.topic),
                try_join_all(desired.alarms.iter().map(|a| Alarm::observe(aws, a))),
                alarm::stale(aws, &alarm_prefix, &desired.alarms, &desired.tags),
            )
        },
        async {
            tokio::try_join!(
                unless_unwanted(
                    desired.scheduler_wanted,
                    SchedulerRole::observe(aws, &desired.scheduler_role)
                ),
                unless_unwanted(
                    desired.scheduler_wanted,
                    Schedules::observe(aws, &desired.schedules)
                ),
                try_join_all(desired.retired_rules.iter().map(|r| Rule::observe(aws, r))),
            )
        },
        async {
            tokio::try_join!(
                LogGroup::observe(aws, &desired.log_group),
                Role::observe(aws, &desired.role),
                Bucket::observe(aws, &desired.bucket),
                try_join_all(desired.tables.iter().map(|t| Table::observe(aws, t))),
                Function::observe(aws, &desired.function),
                try_join_all(desired.rules.iter().map(|r| Rule::observe(aws, r))),
                rule::stale(aws, &prefix, &desired.rules, &desired.tags),
                function::reservable_concurrency(aws),
            )
        },
    )?;
    let (topic, alarms, stale_alarms) = alerts;
    let mut stale_rules: Vec<_> = (desired.retired_rules.iter().cloned())
        .zip(retired)
        .filter(|(_, found)| found.is_some())
        .collect();
    if let Some(first) = desired.rules.first().or(desired.retired_rules.first()) {
        let retired = |name: &String| desired.retired_rules.iter().any(|r| r.name == *name);
        for name in stale.iter().filter(|n| !retired(n)) {
            let old = rule::renamed(first, name);
            let found = Rule::observe(aws, &old).await?;
            stale_rules.push((old, found));
        }
    }
    Ok(Observed {
        log_group,
        role,
        scheduler_role,
        schedules,
        bucket,
        export_bucket,
        tables,
        function,
        rules,
        stale_rules,
        reservable,
        topic,
        alarms,
        stale_alarms,
        settings,
    })
}

/// What `up` does to each resource, typed by each resource's own fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackPlan {
    /// The log group.
    pub log_group: Step<Change<log_group::Field>>,
    /// The role.
    pub role: Step<Change<role::Field>>,
    /// The schedules' role: wanted, or this stack's and to delete; `None` when neither.
    pub scheduler_role: Option<Step<Change<role::Field>>>,
    /// The bucket.
    pub bucket: Step<Change<bucket::Field>>,
    /// The export bucket, when exports go to another one.
    pub export_bucket: Option<Step<Change<crate::deploy::resources::NoFields>>>,
    /// Each desired table, in order.
    pub tables: Vec<Step<Change<table::Field>>>,
    /// The function.
    pub function: Step<Change<function::Field>>,
    /// The Scheduler schedule group: wanted, or this stack's and to delete; `None` when
    /// neither.
    pub schedules: Option<Step<Change<schedules::Field>>>,
    /// Each desired rule, in order, then each stale one (to delete).
    pub rules: Vec<Step<Change<rule::Field>>>,
    /// The alert topic: wanted, or this stack's and to delete; `None` when neither.
    pub topic: Option<Step<Change<topic::Field>>>,
    /// Each desired alarm, in order, then each stale one (to delete).
    pub alarms: Vec<Step<Change<alarm::Field>>>,
    /// The recorded settings.
    pub settings: Step<Change<settings_object::Field>>,
}

impl StackPlan {
    /// One line per resource, in the order `up` works: what is printed and serialized.
    pub fn lines(&self) -> Vec<PlanLine> {
        let mut lines = vec![self.log_group.line(), self.role.line()];
        lines.extend(self.scheduler_role.iter().map(Step::line));
        lines.push(self.bucket.line());
        lines.extend(self.export_bucket.iter().map(Step::line));
        lines.extend(self.tables.iter().map(Step::line));
        lines.push(self.function.line());
        lines.extend(self.schedules.iter().map(Step::line));
        lines.extend(self.rules.iter().map(Step::line));
        lines.extend(self.topic.iter().map(Step::line));
        lines.extend(self.alarms.iter().map(Step::line));
        lines.push(self.settings.line());
        lines
    }

    /// Whether applying it would change nothing.
    pub fn is_noop(&self) -> bool {
        self.lines().iter().all(PlanLine::is_noop)
    }

    /// Why it cannot be applied, if something is in the way.
    pub fn conflict(&self) -> Option<String> {
        self.lines().into_iter().find_map(|l| l.conflict)
    }
}

/// One resource's step: its name and its diff.
fn step<R: Resource>(desired: &R::Desired, observed: &R::Observed) -> Step<Change<R::Field>> {
    Step {
        kind: R::KIND,
        name: R::name(desired).to_owned(),
        action: R::diff(desired, observed),
    }
}

/// The step of a resource `up` makes only when `wanted`: its diff, or when unwanted its
/// deletion if it is the stack's (`tags` of what exists), else nothing.
fn wanted_or_ours<R: Resource>(
    wanted: bool,
    desired: &R::Desired,
    observed: &R::Observed,
    tags: Option<&crate::deploy::resources::Tags>,
    ours: &crate::deploy::resources::Tags,
) -> Option<Step<Change<R::Field>>> {
    match tags {
        _ if wanted => Some(step::<R>(desired, observed)),
        Some(found) if is_ours(found, ours) => Some(Step {
            kind: R::KIND,
            name: R::name(desired).to_owned(),
            action: Change::Delete,
        }),
        _ => None,
    }
}

/// What `up` would do to each resource (pure: reads nothing, writes nothing).
pub fn plan(desired: &Desired, observed: &Observed) -> StackPlan {
    let mut rules: Vec<_> = desired
        .rules
        .iter()
        .zip(&observed.rules)
        .map(|(d, o)| step::<Rule>(d, o))
        .collect();
    rules.extend(observed.stale_rules.iter().map(|(old, _)| Step {
        kind: Rule::KIND,
        name: old.name.clone(),
        action: Change::Delete,
    }));
    let topic = match &observed.topic {
        _ if desired.topic_wanted => Some(step::<Topic>(&desired.topic, &observed.topic)),
        Some(found) if is_ours(&found.tags, &desired.tags) => Some(Step {
            kind: Topic::KIND,
            name: desired.topic.name.clone(),
            action: Change::Delete,
        }),
        _ => None,
    };
    let mut alarms: Vec<_> = desired
        .alarms
        .iter()
        .zip(&observed.alarms)
        .map(|(d, o)| step::<Alarm>(d, o))
        .collect();
    alarms.extend(observed.stale_alarms.iter().map(|(old, _)| Step {
        kind: Alarm::KIND,
        name: old.name.clone(),
        action: Change::Delete,
    }));
    StackPlan {
        topic,
        alarms,
        log_group: step::<LogGroup>(&desired.log_group, &observed.log_group),
        role: step::<Role>(&desired.role, &observed.role),
        scheduler_role: wanted_or_ours::<SchedulerRole>(
            desired.scheduler_wanted,
            &desired.scheduler_role,
            &observed.scheduler_role,
            observed.scheduler_role.as_ref().map(|r| &r.tags),
            &desired.tags,
        ),
        schedules: wanted_or_ours::<Schedules>(
            desired.scheduler_wanted,
            &desired.schedules,
            &observed.schedules,
            observed.schedules.as_ref().map(|s| &s.tags),
            &desired.tags,
        ),
        bucket: step::<Bucket>(&desired.bucket, &observed.bucket),
        export_bucket: desired
            .export_bucket
            .as_ref()
            .zip(observed.export_bucket.as_ref())
            .map(|(d, o)| step::<ExportBucket>(d, o)),
        tables: desired
            .tables
            .iter()
            .zip(&observed.tables)
            .map(|(d, o)| step::<Table>(d, o))
            .collect(),
        function: step::<Function>(&desired.function, &observed.function),
        rules,
        settings: step::<SettingsObject>(&desired.settings, &observed.settings),
    }
}

/// Applies one resource's step under the progress display (again, from the start, while AWS
/// says another change to it is under way); nothing for a resource with nothing to do.
async fn run<R: Resource>(
    progress: &Progress,
    aws: &Aws,
    desired: &R::Desired,
    observed: &R::Observed,
    step: &Step<Change<R::Field>>,
) -> Result<(), AwsError> {
    let label = match &step.action {
        Change::Create => "create",
        Change::Update(_) => "update",
        Change::Delete => "delete",
        Change::Unchanged | Change::UseExisting | Change::Conflict(_) => return Ok(()),
    };
    let attempt = || R::apply(aws, desired, observed, &step.action);
    let work = retry_conflicts(&step.name, attempt);
    progress
        .step(label, R::KIND.as_str(), &step.name, work)
        .await
}

/// Applies `plan`: the log group, role, bucket and tables at once, then the function, then the
/// schedule. Steps with nothing to do make no call. Refuses before any write if the plan has a
/// conflict.
pub async fn apply(
    aws: &Aws,
    desired: &Desired,
    observed: &Observed,
    plan: &StackPlan,
) -> Result<(), StackError> {
    if let Some(why) = plan.conflict() {
        return Err(StackError::Conflict(why));
    }
    let progress = &Progress::new();
    let tables = (desired.tables.iter().zip(&observed.tables))
        .zip(&plan.tables)
        .map(|((d, o), s)| run::<Table>(progress, aws, d, o, s));
    // The schedules' role before its schedules; one no longer wanted after them.
    let scheduler_role = |deleting: bool| {
        let step = plan
            .scheduler_role
            .as_ref()
            .filter(|s| (s.action == Change::Delete) == deleting);
        async move {
            match step {
                Some(s) => {
                    let (d, o) = (&desired.scheduler_role, &observed.scheduler_role);
                    run::<SchedulerRole>(progress, aws, d, o, s).await
                }
                None => Ok(()),
            }
        }
    };
    tokio::try_join!(
        run::<LogGroup>(
            progress,
            aws,
            &desired.log_group,
            &observed.log_group,
            &plan.log_group
        ),
        run::<Role>(progress, aws, &desired.role, &observed.role, &plan.role),
        scheduler_role(false),
        run::<Bucket>(
            progress,
            aws,
            &desired.bucket,
            &observed.bucket,
            &plan.bucket
        ),
        try_join_all(tables),
    )?;
    run::<Function>(
        progress,
        aws,
        &desired.function,
        &observed.function,
        &plan.function,
    )
    .await?;
    // The schedules before the rules they replace go (and after the rules that replace them
    // are made, below), so that no period goes without a run.
    if let Some(s) = plan
        .schedules
        .as_ref()
        .filter(|s| s.action != Change::Delete)
    {
        run::<Schedules>(progress, aws, &desired.schedules, &observed.schedules, s).await?;
    }
    let rules = (desired.rules.iter().zip(&observed.rules))
        .chain(observed.stale_rules.iter().map(|(d, o)| (d, o)));
    for ((d, o), s) in rules.zip(&plan.rules) {
        run::<Rule>(progress, aws, d, o, s).await?;
    }
    if let Some(s) = plan
        .schedules
        .as_ref()
        .filter(|s| s.action == Change::Delete)
    {
        run::<Schedules>(progress, aws, &desired.schedules, &observed.schedules, s).await?;
    }
    scheduler_role(true).await?;
    // The topic before the alarms that notify it; a topic no longer wanted after them.
    let topic = plan.topic.as_ref();
    if let Some(s) = topic.filter(|s| s.action != Change::Delete) {
        run::<Topic>(progress, aws, &desired.topic, &observed.topic, s).await?;
    }
    let alarms = (desired.alarms.iter().zip(&observed.alarms))
        .map(|(d, o)| (d, o.clone()))
        .chain(
            observed
                .stale_alarms
                .iter()
                .map(|(d, o)| (d, Some(o.clone()))),
        );
    for ((d, o), s) in alarms.zip(&plan.alarms) {
        run::<Alarm>(progress, aws, d, &o, s).await?;
    }
    if let Some(s) = topic.filter(|s| s.action == Change::Delete) {
        run::<Topic>(progress, aws, &desired.topic, &observed.topic, s).await?;
    }
    // Last: the settings are recorded only once everything they describe exists.
    run::<SettingsObject>(
        progress,
        aws,
        &desired.settings,
        &observed.settings,
        &plan.settings,
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::plan::Kind;

    fn created<R: Resource>() -> Step<Change<R::Field>> {
        Step {
            kind: R::KIND,
            name: R::KIND.as_str().to_owned(),
            action: Change::Create,
        }
    }

    /// Every kind but `backups` (which only `down` has) is a step of the plan, in the order of
    /// `Kind::ALL` (the schema's): a resource added to one and not the other fails here (the
    /// checklist at the top of `resources/mod.rs`).
    #[test]
    fn the_plan_has_a_line_for_every_kind_in_its_order() {
        let plan = StackPlan {
            log_group: created::<LogGroup>(),
            role: created::<Role>(),
            scheduler_role: Some(created::<SchedulerRole>()),
            schedules: Some(created::<Schedules>()),
            bucket: created::<Bucket>(),
            export_bucket: Some(created::<ExportBucket>()),
            tables: vec![created::<Table>()],
            function: created::<Function>(),
            rules: vec![created::<Rule>()],
            topic: Some(created::<Topic>()),
            alarms: vec![created::<Alarm>()],
            settings: created::<SettingsObject>(),
        };
        let kinds: Vec<Kind> = plan.lines().iter().map(|l| l.kind).collect();
        let planned: Vec<Kind> = Kind::ALL
            .into_iter()
            .filter(|k| *k != Kind::Backups)
            .collect();
        assert_eq!(kinds, planned);
    }
}
