//! The whole stack: the desired resources built from a [`StackConfig`], what exists, the plan
//! between them, and applying it (`up`) or reversing it (`down`).

use std::collections::HashMap;

use backup_lambda::naming::TableName;
use futures::future::try_join_all;
use thiserror::Error;

use crate::aws::{Aws, AwsError, retry_conflicts};
use crate::config::{self, StackConfig, TARGETS_PER_RULE};
use crate::package::Package;
use crate::plan::{Action, Plan, Removal, Step};
use crate::policy::{PolicyError, PolicyVars};
use crate::progress::Progress;
use crate::resources::{Tags, bucket, function, log_group, removal, role, rule, table};
use crate::{loader, movies};
use indicatif::ProgressBar;

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

/// Every resource of the stack, as it should be.
#[derive(Debug, Clone)]
pub struct Desired {
    /// The function's log group.
    pub log_group: log_group::Desired,
    /// The function's role.
    pub role: role::Desired,
    /// The run-record bucket.
    pub bucket: bucket::Desired,
    /// The tables backed up.
    pub tables: Vec<TableName>,
    /// The function.
    pub function: function::Desired,
    /// The schedule rules (one per five tables), their targets and invoke permissions.
    pub rules: Vec<rule::Desired>,
    /// The stack's tags.
    pub tags: Tags,
}

impl Desired {
    /// Builds every resource's desired state for `config` in `aws`'s account, deploying `zip`
    /// (`None` where no code is deployed: `down`, `status`).
    pub fn new(config: &StackConfig, aws: &Aws, zip: Option<Package>) -> Result<Self, PolicyError> {
        let tags: Tags = config.tags().into_iter().collect();
        let bucket_name = config.bucket_name(&aws.account, &aws.region);
        let vars = PolicyVars {
            partition: aws.partition.clone(),
            region: aws.region.clone(),
            account: aws.account.clone(),
            log_group: config.log_group(),
            bucket: bucket_name.clone(),
            tables: config.tables.iter().map(ToString::to_string).collect(),
        };
        let role_name = config.role_name();
        let function_name = config.function_name().to_owned();
        let function_arn = format!(
            "arn:{}:lambda:{}:{}:function:{function_name}",
            aws.partition, aws.region, aws.account
        );
        let mut environment = HashMap::from([
            ("MAX_BACKUPS".to_owned(), config.keep.to_string()),
            ("LOG_BUCKET".to_owned(), bucket_name.clone()),
        ]);
        if let Some(days) = config.max_age_days {
            environment.insert("MAX_AGE_DAYS".to_owned(), days.to_string());
        }
        let rules = config
            .rule_names()
            .into_iter()
            .zip(config.tables.chunks(TARGETS_PER_RULE))
            .map(|(name, tables)| rule::Desired {
                arn: rule::arn(aws, &name),
                schedule: config.schedule.as_str().to_owned(),
                function_name: function_name.clone(),
                function_arn: function_arn.clone(),
                targets: tables
                    .iter()
                    .map(|t| (rule::target_id(t), rule::target_input(t)))
                    .collect(),
                statement_id: format!("{name}-invoke"),
                tags: tags.clone(),
                name,
            })
            .collect();
        Ok(Self {
            log_group: log_group::Desired {
                name: config.log_group(),
                retention_days: config.log_retention_days,
                tags: tags.clone(),
            },
            role: role::Desired {
                name: role_name.clone(),
                trust: vars.trust_policy()?,
                policy_name: config.policy_name(),
                policy: vars.function_policy()?,
                tags: tags.clone(),
            },
            bucket: bucket::Desired {
                name: bucket_name,
                policy: if config.bucket_tls_only.unwrap_or(aws.tls) {
                    Some(vars.bucket_policy()?)
                } else {
                    None
                },
                expire_days: i32::try_from(config.log_expire_days.get()).unwrap_or(i32::MAX),
                tags: tags.clone(),
                default_name: config.bucket.is_none(),
            },
            tables: config.tables.clone(),
            function: function::Desired {
                name: function_name.clone(),
                role_arn: role::arn(aws, &role_name),
                zip,
                arch: config.arch,
                memory: i32::try_from(config.memory).unwrap_or(i32::MAX),
                timeout: i32::try_from(config.timeout).unwrap_or(i32::MAX),
                environment,
                tags: tags.clone(),
                reserve_concurrency: true,
            },
            rules,
            tags,
        })
    }
}

/// Every resource of the stack, as it exists.
#[derive(Debug, Clone)]
pub struct Observed {
    /// The log group.
    pub log_group: Option<log_group::Observed>,
    /// The role.
    pub role: Option<role::Observed>,
    /// The bucket.
    pub bucket: bucket::Found,
    /// Each desired table, in order.
    pub tables: Vec<Option<table::Observed>>,
    /// The function.
    pub function: Option<function::Observed>,
    /// Each desired rule, in order.
    pub rules: Vec<Option<rule::Observed>>,
    /// The stack's rules that are no longer desired (fewer tables than before), with what they
    /// hold.
    pub stale_rules: Vec<(rule::Desired, Option<rule::Observed>)>,
    /// The account has concurrency left to reserve one execution for the function.
    pub can_reserve: bool,
}

/// Reads every resource, all at once (reads only).
pub async fn observe(aws: &Aws, desired: &Desired) -> Result<Observed, AwsError> {
    let prefix = config::rule_name(&desired.function.name, 1);
    let (log_group, role, bucket, tables, function, rules, stale, can_reserve) = tokio::try_join!(
        log_group::observe(aws, &desired.log_group.name),
        role::observe(aws, &desired.role),
        bucket::observe(aws, &desired.bucket),
        try_join_all(desired.tables.iter().map(|t| table::observe(aws, t))),
        function::observe(aws, &desired.function.name),
        try_join_all(desired.rules.iter().map(|r| rule::observe(aws, r))),
        rule::stale(aws, &prefix, &desired.rules, &desired.tags),
        function::can_reserve(aws),
    )?;
    let mut stale_rules = Vec::new();
    if let Some(first) = desired.rules.first() {
        for name in stale {
            let old = rule::renamed(first, &name);
            let found = rule::observe(aws, &old).await?;
            stale_rules.push((old, found));
        }
    }
    Ok(Observed {
        log_group,
        role,
        bucket,
        tables,
        function,
        rules,
        stale_rules,
        can_reserve,
    })
}

/// The kinds of resource, as plans name them.
pub mod kind {
    /// CloudWatch Logs group.
    pub const LOG_GROUP: &str = "log group";
    /// IAM role.
    pub const ROLE: &str = "role";
    /// S3 bucket.
    pub const BUCKET: &str = "bucket";
    /// DynamoDB table.
    pub const TABLE: &str = "table";
    /// Lambda function.
    pub const FUNCTION: &str = "function";
    /// EventBridge rule, targets and invoke permission.
    pub const SCHEDULE: &str = "schedule";
    /// The function's backups of a table.
    pub const BACKUPS: &str = "backups";
}

/// What `up` would do to each resource, in the order it would do it. Where the account has no
/// concurrency left to reserve, the function goes without a reservation (with a warning) rather
/// than failing.
pub fn plan(desired: &mut Desired, observed: &Observed) -> Plan {
    let reserved = observed
        .function
        .as_ref()
        .and_then(|f| f.concurrency)
        .is_some();
    if !observed.can_reserve && !reserved {
        desired.function.reserve_concurrency = false;
        tracing::warn!(
            "this account's Lambda concurrency limit leaves none to reserve, so scheduled runs are not kept from overlapping; ask AWS to raise the limit to reserve one"
        );
    }
    let step = |kind, name: &str, action| Step {
        kind,
        name: name.to_owned(),
        action,
    };
    let mut steps = vec![
        step(
            kind::LOG_GROUP,
            &desired.log_group.name,
            log_group::diff(&desired.log_group, observed.log_group.as_ref()),
        ),
        step(
            kind::ROLE,
            &desired.role.name,
            role::diff(&desired.role, observed.role.as_ref()),
        ),
        step(
            kind::BUCKET,
            &desired.bucket.name,
            bucket::diff(&desired.bucket, &observed.bucket),
        ),
    ];
    for (t, o) in desired.tables.iter().zip(&observed.tables) {
        steps.push(step(
            kind::TABLE,
            t.as_str(),
            table::diff(o.as_ref(), &desired.tags),
        ));
    }
    steps.push(step(
        kind::FUNCTION,
        &desired.function.name,
        function::diff(&desired.function, observed.function.as_ref()),
    ));
    for (r, o) in desired.rules.iter().zip(&observed.rules) {
        steps.push(step(kind::SCHEDULE, &r.name, rule::diff(r, o.as_ref())));
    }
    for (old, _) in &observed.stale_rules {
        steps.push(step(kind::SCHEDULE, &old.name, Action::Delete));
    }
    Plan { steps }
}

/// Loads the built-in sample movies into a table the stack just made.
async fn load_sample(aws: &Aws, table: &TableName) -> Result<(), AwsError> {
    let records = movies::parse("built-in sample", movies::BUILT_IN.as_bytes())
        .map_err(|e| AwsError::malformed("BatchWriteItem", table.as_str(), &e.to_string()))?;
    let report = loader::load(
        aws,
        table.as_str(),
        records.items,
        4,
        &ProgressBar::hidden(),
    )
    .await?;
    if report.failed > 0 {
        return Err(AwsError::malformed(
            "BatchWriteItem",
            table.as_str(),
            &format!("{} sample items were never processed", report.failed),
        ));
    }
    report!("  loaded {} sample movies into {table}", report.loaded);
    Ok(())
}

/// Runs one resource's `work` for `action` under the progress display (again, from the start,
/// while AWS says another change to it is under way); nothing for a resource with nothing to do.
async fn timed<F, Fut>(
    progress: &Progress,
    kind: &'static str,
    name: &str,
    action: Action,
    work: F,
) -> Result<(), AwsError>
where
    F: Fn(Action) -> Fut,
    Fut: Future<Output = Result<(), AwsError>>,
{
    let label = match &action {
        Action::Create => "create",
        Action::Update(_) => "update",
        Action::Delete => "delete",
        _ => return Ok(()),
    };
    let attempt = || work(action.clone());
    progress
        .step(label, kind, name, retry_conflicts(name, attempt))
        .await
}

/// Applies `plan`: the log group, role, bucket and tables at once, then the function, then the
/// schedule. Steps with nothing to do make no call. Refuses before any write if the plan has a
/// conflict.
pub async fn apply(
    aws: &Aws,
    desired: &Desired,
    observed: &Observed,
    plan: &Plan,
) -> Result<(), StackError> {
    if let Some((_, why)) = plan.conflicts().next() {
        return Err(StackError::Conflict(why.to_owned()));
    }
    let action = |kind: &str, name: &str| {
        plan.steps
            .iter()
            .find(|s| s.kind == kind && s.name == name)
            .map_or(Action::NoChange, |s| s.action.clone())
    };
    let progress = &Progress::new();
    let tables = desired.tables.iter().map(|t| {
        timed(
            progress,
            kind::TABLE,
            t.as_str(),
            action(kind::TABLE, t.as_str()),
            move |_| async move {
                table::create(aws, t, &desired.tags).await?;
                load_sample(aws, t).await
            },
        )
    });
    let log_group = &desired.log_group;
    let role = &desired.role;
    let bucket = &desired.bucket;
    tokio::try_join!(
        timed(
            progress,
            kind::LOG_GROUP,
            &log_group.name,
            action(kind::LOG_GROUP, &log_group.name),
            |a| async move { log_group::apply(aws, log_group, &a).await }
        ),
        timed(
            progress,
            kind::ROLE,
            &role.name,
            action(kind::ROLE, &role.name),
            |a| async move { role::apply(aws, role, &a).await }
        ),
        timed(
            progress,
            kind::BUCKET,
            &bucket.name,
            action(kind::BUCKET, &bucket.name),
            |a| async move { bucket::apply(aws, bucket, &a).await }
        ),
        try_join_all(tables),
    )?;
    let function = &desired.function;
    timed(
        progress,
        kind::FUNCTION,
        &function.name,
        action(kind::FUNCTION, &function.name),
        |a| async move { function::apply(aws, function, &a).await },
    )
    .await?;
    for (rule, found) in desired.rules.iter().zip(&observed.rules) {
        let found = found.as_ref();
        timed(
            progress,
            kind::SCHEDULE,
            &rule.name,
            action(kind::SCHEDULE, &rule.name),
            |a| async move { rule::apply(aws, rule, found, &a).await },
        )
        .await?;
    }
    for (old, _) in &observed.stale_rules {
        timed(progress, kind::SCHEDULE, &old.name, Action::Delete, |_| {
            rule::retire(aws, old)
        })
        .await?;
    }
    Ok(())
}

/// The tables `down` considers: the ones configured, plus any the stack's rule targets (so that
/// `down` without `--table` still finds tables a multi-table `up` made).
fn tables_to_remove(desired: &Desired, observed: &Observed) -> Vec<TableName> {
    let mut tables = desired.tables.clone();
    let targeted = observed
        .rules
        .iter()
        .chain(observed.stale_rules.iter().map(|(_, found)| found))
        .flatten()
        .filter(|r| crate::resources::is_ours(&r.tags, &desired.tags))
        .flat_map(|r| &r.targets)
        .filter_map(|(_, _, input)| serde_json::from_str::<serde_json::Value>(input).ok())
        .filter_map(|input| TableName::parse(input["TableName"].as_str()?).ok());
    for table in targeted {
        if !tables.contains(&table) {
            tables.push(table);
        }
    }
    tables
}

/// What `down` would remove, in the order it would remove it.
pub async fn removal_plan(
    aws: &Aws,
    desired: &Desired,
    observed: &Observed,
    keep_data: bool,
) -> Result<Vec<Step<Removal>>, AwsError> {
    let ours = &desired.tags;
    let step = |kind, name: &str, action| Step {
        kind,
        name: name.to_owned(),
        action,
    };
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
        .map(|(r, o)| step(kind::SCHEDULE, &r.name, removal(o.map(|o| &o.tags), ours)))
        .collect();
    steps.extend([
        step(
            kind::FUNCTION,
            &desired.function.name,
            removal(observed.function.as_ref().map(|f| &f.tags), ours),
        ),
        step(
            kind::ROLE,
            &desired.role.name,
            removal(observed.role.as_ref().map(|r| &r.tags), ours),
        ),
        step(
            kind::LOG_GROUP,
            &desired.log_group.name,
            removal(observed.log_group.as_ref().map(|l| &l.tags), ours),
        ),
    ]);
    for table in tables_to_remove(desired, observed) {
        // The function's backups go unless --keep-data, whoever owns the table.
        let backups = if table::function_backups(aws, &table).await?.is_empty() {
            Removal::Absent
        } else {
            data(Removal::Delete)
        };
        steps.push(step(kind::BACKUPS, table.as_str(), backups));
        let found = match desired.tables.iter().position(|t| *t == table) {
            Some(i) => observed.tables[i].clone(),
            None => table::observe(aws, &table).await?,
        };
        steps.push(step(
            kind::TABLE,
            table.as_str(),
            data(removal(found.as_ref().map(|t| &t.tags), ours)),
        ));
    }
    let bucket = match &observed.bucket {
        bucket::Found::Absent => Removal::Absent,
        bucket::Found::Foreign => Removal::NotOurs,
        bucket::Found::Here(o) => data(removal(Some(&o.tags), ours)),
    };
    steps.push(step(kind::BUCKET, &desired.bucket.name, bucket));
    Ok(steps)
}

/// Removes what `steps` say to delete, in order, except that the schedule rules are only
/// disabled at first (so that no new backup starts) and deleted last: until then they still name
/// every table the stack backs up, so a `down` stopped midway is finished by the next one.
/// Returns, per table, how many of the function's backups were deleted.
pub async fn remove(
    aws: &Aws,
    steps: &[Step<Removal>],
) -> Result<Vec<(String, usize)>, StackError> {
    let progress = Progress::new();
    let mut backups_deleted = Vec::new();
    let deletions: Vec<_> = steps
        .iter()
        .filter(|s| s.action == Removal::Delete)
        .collect();
    let rules = || deletions.iter().filter(|s| s.kind == kind::SCHEDULE);
    for step in rules() {
        let work = rule::disable(aws, &step.name);
        progress
            .step("disable", step.kind, &step.name, work)
            .await?;
    }
    for step in deletions.iter().filter(|s| s.kind != kind::SCHEDULE) {
        let name = step.name.as_str();
        let work = async {
            match step.kind {
                kind::FUNCTION => function::delete(aws, name).await,
                kind::ROLE => role::delete(aws, name).await,
                kind::LOG_GROUP => log_group::delete(aws, name).await,
                kind::BACKUPS | kind::TABLE => {
                    let table = TableName::parse(name)
                        .map_err(|e| AwsError::malformed("DeleteTable", name, &e.to_string()))?;
                    if step.kind == kind::BACKUPS {
                        let count = table::delete_function_backups(aws, &table).await?;
                        backups_deleted.push((name.to_owned(), count));
                        Ok(())
                    } else {
                        table::delete(aws, &table).await
                    }
                }
                kind::BUCKET => bucket::delete(aws, name).await,
                _ => Ok(()),
            }
        };
        progress.step("delete", step.kind, name, work).await?;
    }
    for step in rules() {
        let work = rule::delete(aws, &step.name);
        progress.step("delete", step.kind, &step.name, work).await?;
    }
    Ok(backups_deleted)
}
