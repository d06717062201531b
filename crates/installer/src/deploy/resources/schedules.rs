//! The stack's EventBridge Scheduler schedules, for a schedule in a time zone or with a flexible
//! window (`--schedule-via scheduler`): one schedule group named after the stack, tagged as
//! the stack's (Scheduler tags groups, not schedules), holding one schedule per table (or one
//! for the tag that chooses them) with the same constant input the rules send. Scheduler
//! invokes the function with the schedules' own role, so the function needs no permission for
//! it.
//!
//! Every schedule is written whole: UpdateSchedule "uses all values, including empty values,
//! specified in the request and overrides the existing schedule" (API reference), so an update
//! that left a field out would reset it.

use aws_sdk_scheduler::types::{
    FlexibleTimeWindow, FlexibleTimeWindowMode, RetryPolicy, ScheduleState, Tag, Target,
};
use backup_lambda::naming::TableName;
use sha2::{Digest, Sha256};

use crate::aws::{Aws, AwsError, AwsResult};
use crate::deploy::plan::{Change, Kind, compare};
use crate::deploy::resources::{Resource, Tags, absent_if, is_ours};

/// The schedule group and its schedules, as a [`Resource`].
pub struct Schedules;

fields! {
    /// The schedules in the group (expression, zone, window, input, role, retries).
    Entries => "schedules",
}

/// The name of the schedule of tables chosen by tag.
pub const TAG_SCHEDULE: &str = "tagged";
/// The longest schedule name (CreateSchedule, `Name`: "Maximum length of 64").
const NAME_LEN: usize = 64;
/// Retries of a delivery Scheduler could not make (throttled, or Lambda unavailable): the most
/// it allows (RetryPolicy, `MaximumRetryAttempts`: "Maximum value of 185"). A run delivered
/// late is still the run: the function makes one backup a period whatever the tries.
const DELIVERY_RETRIES: i32 = 185;
/// How long a run waits for Scheduler's retries to deliver it, at most (RetryPolicy,
/// `MaximumEventAgeInSeconds`: "Minimum value of 60. Maximum value of 86400").
const EVENT_AGE: std::ops::RangeInclusive<i32> = 60..=86_400;
/// How long `up` waits for IAM to let Scheduler assume a role it has just made.
const ROLE_PATIENCE: std::time::Duration = std::time::Duration::from_secs(120);

/// One schedule, as the stack wants it and as it is read back.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Entry {
    /// Its name in the group: the table's (shortened past 64 characters), or `tagged`.
    pub name: String,
    /// The schedule expression.
    pub expression: String,
    /// The IANA zone it is read in.
    pub zone: String,
    /// The flexible window in minutes, if any.
    pub window: Option<i32>,
    /// The constant input, `{"TableName": ...}` or the tag's.
    pub input: String,
    /// The function's ARN.
    pub function_arn: String,
    /// The schedules' role's ARN.
    pub role_arn: String,
    /// How long Scheduler keeps trying to deliver one run, in seconds.
    pub event_age: i32,
    /// Whether it is enabled.
    pub enabled: bool,
}

/// The group and its schedules, as the stack wants them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desired {
    /// The group: the stack's name.
    pub group: String,
    /// The group's ARN.
    pub arn: String,
    /// The stack's tags, on the group.
    pub tags: Tags,
    /// The schedules, sorted by name.
    pub entries: Vec<Entry>,
}

/// The group as it exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// Its tags.
    pub tags: Tags,
    /// Whether it is being deleted (its schedules go first).
    pub deleting: bool,
    /// Its schedules, sorted by name.
    pub entries: Vec<Entry>,
}

impl Resource for Schedules {
    const KIND: Kind = Kind::ScheduleGroup;
    type Desired = Desired;
    type Observed = Option<Observed>;
    type Field = Field;

    fn name(desired: &Desired) -> &str {
        &desired.group
    }

    /// Reads the group, its tags and every schedule in it.
    async fn observe(aws: &Aws, desired: &Desired) -> Result<Option<Observed>, AwsError> {
        let group = desired.group.as_str();
        let Some(found) = absent_if(
            aws.scheduler
                .get_schedule_group()
                .name(group)
                .send()
                .await
                .aws("GetScheduleGroup", group),
            &["ResourceNotFoundException"],
        )?
        else {
            return Ok(None);
        };
        let tags = aws
            .scheduler
            .list_tags_for_resource()
            .resource_arn(found.arn().unwrap_or(&desired.arn))
            .send()
            .await
            .aws("ListTagsForResource", group)?
            .tags()
            .iter()
            .map(|t| (t.key().to_owned(), t.value().to_owned()))
            .collect();
        let mut entries = Vec::new();
        for name in names(aws, group).await? {
            if let Some(entry) = read(aws, group, &name).await? {
                entries.push(entry);
            }
        }
        entries.sort();
        Ok(Some(Observed {
            tags,
            deleting: found.state().is_some_and(|s| s.as_str() == "DELETING"),
            entries,
        }))
    }

    fn diff(desired: &Desired, observed: &Option<Observed>) -> Change<Field> {
        match observed {
            None => Change::Create,
            Some(o) if !is_ours(&o.tags, &desired.tags) => Change::Conflict(format!(
                "EventBridge Scheduler schedule group {} exists and is not this stack's; delete it or choose another --stack",
                desired.group
            )),
            Some(o) if o.deleting => Change::Conflict(format!(
                "EventBridge Scheduler is still deleting schedule group {} (a `down` a moment ago); run `up` again in a minute",
                desired.group
            )),
            Some(o) => compare(&[(Field::Entries, o.entries != desired.entries)]),
        }
    }

    /// Makes the group if it is missing, writes every schedule that differs, and deletes the
    /// group's schedules the stack no longer wants.
    async fn apply(
        aws: &Aws,
        desired: &Desired,
        observed: &Option<Observed>,
        change: &Change<Field>,
    ) -> Result<(), AwsError> {
        if *change == Change::Delete {
            return Self::delete(aws, desired).await;
        }
        let group = desired.group.as_str();
        if *change == Change::Create {
            create_group(aws, desired).await?;
        }
        let existing = observed.as_ref().map_or(&[][..], |o| &o.entries[..]);
        for entry in &desired.entries {
            match existing.iter().find(|e| e.name == entry.name) {
                Some(found) if found == entry => {}
                Some(_) => {
                    let start = keep_phase(aws, group, entry).await?;
                    write(aws, group, entry, Write::Update, start).await?;
                }
                None => write(aws, group, entry, Write::Create, None).await?,
            }
        }
        for gone in existing
            .iter()
            .filter(|e| !desired.entries.iter().any(|d| d.name == e.name))
        {
            delete_schedule(aws, group, &gone.name).await?;
        }
        Ok(())
    }

    /// Deletes the schedules, then the group (already gone is fine): the schedules first, so
    /// that none runs while the group is DELETING, and a later `up` finds the name free.
    async fn delete(aws: &Aws, desired: &Desired) -> Result<(), AwsError> {
        let group = desired.group.as_str();
        let names = match names(aws, group).await {
            Ok(names) => names,
            Err(e) if e.is("ResourceNotFoundException") => return Ok(()),
            Err(e) => return Err(e),
        };
        for name in names {
            delete_schedule(aws, group, &name).await?;
        }
        absent_if(
            aws.scheduler
                .delete_schedule_group()
                .name(group)
                .send()
                .await
                .aws("DeleteScheduleGroup", group),
            &["ResourceNotFoundException"],
        )
        .map(drop)
    }
}

/// The schedule's name for `table`: the table's own name (its characters are all allowed in a
/// schedule's), or past 64 characters its first 55 and 8 hex digits of its SHA-256.
pub fn schedule_name(table: &TableName) -> String {
    let name = table.as_str();
    if name.len() <= NAME_LEN {
        return name.to_owned();
    }
    let digest = Sha256::digest(name.as_bytes());
    let hex: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{hex}", &name[..NAME_LEN - 9])
}

/// How long one run may wait for delivery: the schedule's shortest gap, within Scheduler's
/// bounds (a later delivery would overlap the next run).
pub fn event_age(interval: Option<std::time::Duration>) -> i32 {
    let seconds = interval.map_or(*EVENT_AGE.end(), |i| {
        i32::try_from(i.as_secs()).unwrap_or(i32::MAX)
    });
    seconds.clamp(*EVENT_AGE.start(), *EVENT_AGE.end())
}

/// The group's ARN.
pub fn arn(aws: &Aws, group: &str) -> String {
    format!(
        "arn:{}:scheduler:{}:{}:schedule-group/{group}",
        aws.partition, aws.region, aws.account
    )
}

/// Every schedule's name in `group`, all pages.
async fn names(aws: &Aws, group: &str) -> Result<Vec<String>, AwsError> {
    let mut names = Vec::new();
    let mut token = None;
    loop {
        let page = aws
            .scheduler
            .list_schedules()
            .group_name(group)
            .set_next_token(token)
            .send()
            .await
            .aws("ListSchedules", group)?;
        names.extend(
            page.schedules()
                .iter()
                .filter_map(|s| s.name().map(str::to_owned)),
        );
        token = page.next_token;
        if token.is_none() {
            return Ok(names);
        }
    }
}

/// One schedule as it is (`None`: deleted since it was listed).
pub async fn read(aws: &Aws, group: &str, name: &str) -> Result<Option<Entry>, AwsError> {
    let Some(found) = absent_if(
        aws.scheduler
            .get_schedule()
            .group_name(group)
            .name(name)
            .send()
            .await
            .aws("GetSchedule", name),
        &["ResourceNotFoundException"],
    )?
    else {
        return Ok(None);
    };
    let target = found.target();
    let window = found
        .flexible_time_window()
        .filter(|w| *w.mode() == FlexibleTimeWindowMode::Flexible)
        .and_then(FlexibleTimeWindow::maximum_window_in_minutes);
    Ok(Some(Entry {
        name: name.to_owned(),
        expression: found.schedule_expression().unwrap_or_default().to_owned(),
        zone: found
            .schedule_expression_timezone()
            .unwrap_or("UTC")
            .to_owned(),
        window,
        input: target
            .and_then(Target::input)
            .unwrap_or_default()
            .to_owned(),
        function_arn: target.map(Target::arn).unwrap_or_default().to_owned(),
        role_arn: target.map(Target::role_arn).unwrap_or_default().to_owned(),
        event_age: target
            .and_then(Target::retry_policy)
            .and_then(RetryPolicy::maximum_event_age_in_seconds)
            .unwrap_or(*EVENT_AGE.end()),
        enabled: found.state() != Some(&ScheduleState::Disabled),
    }))
}

async fn create_group(aws: &Aws, desired: &Desired) -> Result<(), AwsError> {
    let group = desired.group.as_str();
    let tags = desired
        .tags
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| AwsError::malformed("CreateScheduleGroup", group, &e.to_string()))?;
    match aws
        .scheduler
        .create_schedule_group()
        .name(group)
        .set_tags(Some(tags))
        .send()
        .await
        .aws("CreateScheduleGroup", group)
    {
        Ok(_) => Ok(()),
        // Made by an earlier, interrupted `up` (its tags were checked when it was observed).
        Err(e) if e.is("ConflictException") => Ok(()),
        Err(e) => Err(e),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Write {
    Create,
    Update,
}

/// Creates or updates (whole) one schedule, waiting while IAM has not yet let Scheduler assume
/// a role made a moment ago; a create that finds the schedule there updates it.
async fn write(
    aws: &Aws,
    group: &str,
    entry: &Entry,
    mut how: Write,
    start: Option<aws_sdk_scheduler::primitives::DateTime>,
) -> Result<(), AwsError> {
    let operation = |how| match how {
        Write::Create => "CreateSchedule",
        Write::Update => "UpdateSchedule",
    };
    let window = match entry.window {
        Some(minutes) => FlexibleTimeWindow::builder()
            .mode(FlexibleTimeWindowMode::Flexible)
            .maximum_window_in_minutes(minutes),
        None => FlexibleTimeWindow::builder().mode(FlexibleTimeWindowMode::Off),
    }
    .build()
    .map_err(|e| AwsError::malformed(operation(how), &entry.name, &e.to_string()))?;
    let target = Target::builder()
        .arn(&entry.function_arn)
        .role_arn(&entry.role_arn)
        .input(&entry.input)
        .retry_policy(
            RetryPolicy::builder()
                .maximum_event_age_in_seconds(entry.event_age)
                .maximum_retry_attempts(DELIVERY_RETRIES)
                .build(),
        )
        .build()
        .map_err(|e| AwsError::malformed(operation(how), &entry.name, &e.to_string()))?;
    let state = if entry.enabled {
        ScheduleState::Enabled
    } else {
        ScheduleState::Disabled
    };
    let started = tokio::time::Instant::now();
    let mut pause = std::time::Duration::from_secs(1);
    loop {
        // The two operations take the same whole schedule (their builders are two types).
        macro_rules! whole {
            ($request:expr) => {
                $request
                    .group_name(group)
                    .name(&entry.name)
                    .schedule_expression(&entry.expression)
                    .schedule_expression_timezone(&entry.zone)
                    .flexible_time_window(window.clone())
                    .target(target.clone())
                    .state(state.clone())
                    .set_start_date(start)
                    .send()
                    .await
                    .map(drop)
                    .aws(operation(how), &entry.name)
            };
        }
        let result = match how {
            Write::Create => whole!(aws.scheduler.create_schedule()),
            Write::Update => whole!(aws.scheduler.update_schedule()),
        };
        match result {
            Err(e) if how == Write::Create && e.is("ConflictException") => how = Write::Update,
            Err(e) if role_not_ready(&e) && started.elapsed() + pause < ROLE_PATIENCE => {
                tracing::info!(schedule = %entry.name, "waiting for IAM to let EventBridge Scheduler assume the new role");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(std::time::Duration::from_secs(8));
            }
            other => return other,
        }
    }
}

/// The StartDate an update of a rate schedule sends: the first of its periods (counted from its
/// StartDate, else from when it was made) at least a minute away. Without one, "your schedule
/// starts invoking its target immediately" (Scheduler user guide, "Rate-based schedules"), so
/// every update would add a run and move the runs' phase. `None` for a cron schedule.
async fn keep_phase(
    aws: &Aws,
    group: &str,
    entry: &Entry,
) -> Result<Option<aws_sdk_scheduler::primitives::DateTime>, AwsError> {
    let Some(period) = entry
        .expression
        .parse::<crate::deploy::schedule::Schedule>()
        .ok()
        .and_then(|s| s.rate_period())
    else {
        return Ok(None);
    };
    let Some(found) = absent_if(
        aws.scheduler
            .get_schedule()
            .group_name(group)
            .name(&entry.name)
            .send()
            .await
            .aws("GetSchedule", &entry.name),
        &["ResourceNotFoundException"],
    )?
    else {
        return Ok(None);
    };
    let Some(anchor) = found.start_date().or(found.creation_date()) else {
        return Ok(None);
    };
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let period = i64::try_from(period.as_secs()).unwrap_or(i64::MAX);
    Ok(Some(aws_sdk_scheduler::primitives::DateTime::from_secs(
        next_start(anchor.secs(), period, now),
    )))
}

/// The first time at least a minute after `now` that is `anchor` plus or minus whole `period`s
/// (seconds): the runs' phase, whichever side of now the anchor is.
fn next_start(anchor: i64, period: i64, now: i64) -> i64 {
    let after = now + 60;
    if period <= 0 {
        return after;
    }
    after + (anchor - after).rem_euclid(period)
}

/// Whether Scheduler refused a role it cannot assume yet: IAM has not propagated a new role or
/// its trust ("The execution role you provide must allow AWS EventBridge Scheduler to assume
/// the role.").
fn role_not_ready(err: &AwsError) -> bool {
    err.is("ValidationException") && err.detail.contains("assume the role")
}

async fn delete_schedule(aws: &Aws, group: &str, name: &str) -> Result<(), AwsError> {
    absent_if(
        aws.scheduler
            .delete_schedule()
            .group_name(group)
            .name(name)
            .send()
            .await
            .aws("DeleteSchedule", name),
        &["ResourceNotFoundException"],
    )
    .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_table_name_makes_a_short_schedule_name_of_its_own() {
        let short = TableName::parse("Movies").expect("valid");
        assert_eq!(schedule_name(&short), "Movies");
        let long = TableName::parse(&"a".repeat(200)).expect("valid");
        let other = TableName::parse(&format!("{}b", "a".repeat(199))).expect("valid");
        let (a, b) = (schedule_name(&long), schedule_name(&other));
        assert_eq!(a.len(), NAME_LEN);
        assert_ne!(
            a, b,
            "two long names that share a beginning get two schedules"
        );
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-'));
    }

    #[test]
    fn an_updated_rate_keeps_its_phase() {
        let day = 86_400;
        // Made at midnight of day 0; updated at noon of day 10: next at midnight of day 11.
        assert_eq!(next_start(0, day, 10 * day + day / 2), 11 * day);
        // A minute before a run, the run after it (a start must be a minute ahead).
        assert_eq!(next_start(0, day, 11 * day - 30), 12 * day);
        // A start further ahead than a period comes back to the next run of its phase.
        assert_eq!(next_start(20 * day + 3600, day, 10 * day), 10 * day + 3600);
    }

    #[test]
    fn a_run_waits_for_delivery_one_interval_within_schedulers_bounds() {
        let secs = std::time::Duration::from_secs;
        assert_eq!(event_age(Some(secs(3600))), 3600);
        assert_eq!(event_age(Some(secs(10))), 60);
        assert_eq!(event_age(Some(secs(7 * 86_400))), 86_400);
        assert_eq!(event_age(None), 86_400);
    }
}
