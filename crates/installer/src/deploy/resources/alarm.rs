//! The stack's CloudWatch alarms (`<stack>-...`), each one [`Resource`]: the function failed,
//! a table's backup is missing, a table's drill failed (see [`crate::deploy::alerts`] for which
//! and why). Each notifies the alert topics on ALARM and on OK. PutMetricAlarm replaces an
//! alarm whole, so any difference in its settings is one call; tags are only set on creation,
//! and changed with TagResource.

use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, MetricAlarm, Statistic, Tag};

use crate::aws::{Aws, AwsError, AwsResult};
use crate::deploy::plan::{Change, Kind, compare};
use crate::deploy::resources::{Resource, Tags, absent_if, is_ours};

/// One alarm, as a [`Resource`].
pub struct Alarm;

fields! {
    /// The metric, statistic, period, evaluation range, threshold or missing-data treatment.
    Condition => "condition",
    /// The topics notified.
    Actions => "actions",
    /// The description.
    Description => "description",
    /// The stack's tags.
    Tags => "tags",
}

/// What an alarm watches and when it fires.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// The metric's namespace.
    pub namespace: String,
    /// The metric.
    pub metric: String,
    /// Its dimensions, sorted by name.
    pub dimensions: Vec<(String, String)>,
    /// The statistic over each period.
    pub statistic: Statistic,
    /// Seconds per period.
    pub period: i32,
    /// Periods looked at.
    pub evaluation_periods: i32,
    /// Of which this many must breach.
    pub datapoints_to_alarm: i32,
    /// The threshold.
    pub threshold: f64,
    /// How the statistic is compared with it.
    pub comparison: ComparisonOperator,
    /// `breaching`, `notBreaching`, `ignore` or `missing`.
    pub missing_data: String,
}

/// An alarm as the stack wants it.
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    /// Its name.
    pub name: String,
    /// What it means, for whoever receives it.
    pub description: String,
    /// When it fires.
    pub condition: Condition,
    /// The topics notified on ALARM and on OK.
    pub actions: Vec<String>,
    /// The stack's tags.
    pub tags: Tags,
}

/// An alarm as it exists.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    /// Its ARN.
    pub arn: String,
    /// Its description.
    pub description: String,
    /// When it fires.
    pub condition: Condition,
    /// Topics notified on ALARM.
    pub alarm_actions: Vec<String>,
    /// Topics notified on OK.
    pub ok_actions: Vec<String>,
    /// `OK`, `ALARM` or `INSUFFICIENT_DATA`.
    pub state: String,
    /// Why, as CloudWatch says.
    pub reason: String,
    /// Its tags.
    pub tags: Tags,
}

fn condition_of(a: &MetricAlarm) -> Condition {
    let mut dimensions: Vec<(String, String)> = a
        .dimensions()
        .iter()
        .map(|d| {
            (
                d.name().unwrap_or_default().to_owned(),
                d.value().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    dimensions.sort();
    Condition {
        namespace: a.namespace().unwrap_or_default().to_owned(),
        metric: a.metric_name().unwrap_or_default().to_owned(),
        dimensions,
        statistic: a
            .statistic()
            .cloned()
            .unwrap_or_else(|| Statistic::from("")),
        period: a.period().unwrap_or_default(),
        evaluation_periods: a.evaluation_periods().unwrap_or_default(),
        // Unset means "all of them" (PutMetricAlarm, DatapointsToAlarm).
        datapoints_to_alarm: a
            .datapoints_to_alarm()
            .unwrap_or_else(|| a.evaluation_periods().unwrap_or_default()),
        threshold: a.threshold().unwrap_or_default(),
        comparison: a
            .comparison_operator()
            .cloned()
            .unwrap_or_else(|| ComparisonOperator::from("")),
        missing_data: a.treat_missing_data().unwrap_or("missing").to_owned(),
    }
}

/// Reads the alarm named `name`, with its tags, if it exists.
pub async fn observe_named(aws: &Aws, name: &str) -> Result<Option<Observed>, AwsError> {
    let out = aws
        .cloudwatch
        .describe_alarms()
        .alarm_names(name)
        .send()
        .await
        .aws("DescribeAlarms", name)?;
    let Some(alarm) = out
        .metric_alarms()
        .iter()
        .find(|a| a.alarm_name() == Some(name))
    else {
        return Ok(None);
    };
    let arn = alarm.alarm_arn().unwrap_or_default().to_owned();
    let tags = aws
        .cloudwatch
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .aws("ListTagsForResource", arn.as_str())?
        .tags
        .unwrap_or_default()
        .into_iter()
        .filter_map(|t| Some((t.key?, t.value?)))
        .collect();
    Ok(Some(Observed {
        description: alarm.alarm_description().unwrap_or_default().to_owned(),
        condition: condition_of(alarm),
        alarm_actions: alarm.alarm_actions().to_vec(),
        ok_actions: alarm.ok_actions().to_vec(),
        state: alarm
            .state_value()
            .map_or("INSUFFICIENT_DATA", |s| s.as_str())
            .to_owned(),
        reason: alarm.state_reason().unwrap_or_default().to_owned(),
        tags,
        arn,
    }))
}

/// The stack's alarms (named with `prefix`, carrying the stack's tags) that are not in
/// `desired`: a table no longer backed up, drills or alerts turned off. Each comes as a
/// `Desired` of itself as it is (for its name) and as observed.
pub async fn stale(
    aws: &Aws,
    prefix: &str,
    desired: &[Desired],
    ours: &Tags,
) -> Result<Vec<(Desired, Observed)>, AwsError> {
    let mut names = Vec::new();
    let mut token = None;
    loop {
        let page = aws
            .cloudwatch
            .describe_alarms()
            .alarm_name_prefix(prefix)
            .set_next_token(token)
            .send()
            .await
            .aws("DescribeAlarms", prefix)?;
        names.extend(
            page.metric_alarms()
                .iter()
                .filter_map(|a| a.alarm_name())
                .filter(|n| !desired.iter().any(|d| d.name == *n))
                .map(str::to_owned),
        );
        token = page.next_token;
        if token.is_none() {
            break;
        }
    }
    let mut stale = Vec::new();
    for name in names {
        if let Some(found) = observe_named(aws, &name).await?
            && is_ours(&found.tags, ours)
        {
            let itself = Desired {
                name,
                description: found.description.clone(),
                condition: found.condition.clone(),
                actions: found.alarm_actions.clone(),
                tags: found.tags.clone(),
            };
            stale.push((itself, found));
        }
    }
    Ok(stale)
}

impl Resource for Alarm {
    const KIND: Kind = Kind::Alarm;
    type Desired = Desired;
    type Observed = Option<Observed>;
    type Field = Field;

    fn name(desired: &Desired) -> &str {
        &desired.name
    }

    async fn observe(aws: &Aws, desired: &Desired) -> Result<Option<Observed>, AwsError> {
        observe_named(aws, &desired.name).await
    }

    fn diff(desired: &Desired, observed: &Option<Observed>) -> Change<Field> {
        match observed {
            None => Change::Create,
            Some(o) if !is_ours(&o.tags, &desired.tags) => Change::Conflict(format!(
                "alarm {} exists and is not this stack's; delete it or choose another --stack",
                desired.name
            )),
            Some(o) => compare(&[
                (Field::Condition, o.condition != desired.condition),
                (
                    Field::Actions,
                    o.alarm_actions != desired.actions || o.ok_actions != desired.actions,
                ),
                (Field::Description, o.description != desired.description),
                (Field::Tags, !is_ours(&o.tags, &desired.tags)),
            ]),
        }
    }

    async fn apply(
        aws: &Aws,
        desired: &Desired,
        observed: &Option<Observed>,
        change: &Change<Field>,
    ) -> Result<(), AwsError> {
        let name = desired.name.as_str();
        if *change == Change::Delete {
            return delete_named(aws, name).await;
        }
        let c = &desired.condition;
        if change.sets(Field::Condition)
            || change.sets(Field::Actions)
            || change.sets(Field::Description)
        {
            let dimensions = c
                .dimensions
                .iter()
                .map(|(n, v)| Dimension::builder().name(n).value(v).build())
                .collect();
            let tags = desired
                .tags
                .iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build())
                .collect();
            aws.cloudwatch
                .put_metric_alarm()
                .alarm_name(name)
                .alarm_description(&desired.description)
                .namespace(&c.namespace)
                .metric_name(&c.metric)
                .set_dimensions(Some(dimensions))
                .statistic(c.statistic.clone())
                .period(c.period)
                .evaluation_periods(c.evaluation_periods)
                .datapoints_to_alarm(c.datapoints_to_alarm)
                .threshold(c.threshold)
                .comparison_operator(c.comparison.clone())
                .treat_missing_data(&c.missing_data)
                .actions_enabled(true)
                .set_alarm_actions(Some(desired.actions.clone()))
                .set_ok_actions(Some(desired.actions.clone()))
                .set_tags(Some(tags))
                .send()
                .await
                .aws("PutMetricAlarm", name)?;
        }
        if let (Some(o), true) = (
            observed,
            change.sets(Field::Tags) && *change != Change::Create,
        ) {
            let tags = desired
                .tags
                .iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build())
                .collect();
            aws.cloudwatch
                .tag_resource()
                .resource_arn(&o.arn)
                .set_tags(Some(tags))
                .send()
                .await
                .aws("TagResource", name)?;
        }
        Ok(())
    }

    /// Deletes the alarm (already gone is fine).
    async fn delete(aws: &Aws, desired: &Desired) -> Result<(), AwsError> {
        delete_named(aws, &desired.name).await
    }
}

/// Deletes the alarm named `name` (already gone is fine).
pub async fn delete_named(aws: &Aws, name: &str) -> Result<(), AwsError> {
    let deleted = aws
        .cloudwatch
        .delete_alarms()
        .alarm_names(name)
        .send()
        .await
        .aws("DeleteAlarms", name);
    absent_if(deleted, &["ResourceNotFound", "ResourceNotFoundException"]).map(drop)
}
