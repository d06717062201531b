//! The function's CloudWatch Logs group, `/aws/lambda/<stack>`: created before the function so
//! that its retention applies from the first line.

use crate::aws::{Aws, AwsError, AwsResult};
use crate::deploy::plan::{Change, Kind, compare};
use crate::deploy::resources::{Resource, Tags, is_ours};

/// The log group, as a [`Resource`].
pub struct LogGroup;

fields! {
    /// How long events are kept.
    Retention => "retention",
}

impl Resource for LogGroup {
    const KIND: Kind = Kind::LogGroup;
    type Desired = Desired;
    type Observed = Option<Observed>;
    type Field = Field;

    fn name(desired: &Desired) -> &str {
        &desired.name
    }

    /// Reads the log group named `name`, if it exists.
    async fn observe(aws: &Aws, desired: &Desired) -> Result<Option<Observed>, AwsError> {
        let name = desired.name.as_str();
        let out = aws
            .logs
            .describe_log_groups()
            .log_group_name_prefix(name)
            .send()
            .await
            .aws("DescribeLogGroups", name)?;
        let Some(group) = out
            .log_groups()
            .iter()
            .find(|g| g.log_group_name() == Some(name))
        else {
            return Ok(None);
        };
        let tags = aws
            .logs
            .list_tags_for_resource()
            .resource_arn(arn(aws, name))
            .send()
            .await
            .aws("ListTagsForResource", name)?
            .tags
            .unwrap_or_default();
        Ok(Some(Observed {
            retention_days: group.retention_in_days(),
            tags,
        }))
    }

    /// What `up` does to the log group.
    fn diff(desired: &Desired, observed: &Option<Observed>) -> Change<Field> {
        let observed = observed.as_ref();
        match observed {
            None => Change::Create,
            Some(o) if !is_ours(&o.tags, &desired.tags) => Change::Conflict(format!(
                "log group {} exists and is not this stack's; delete it or choose another --stack",
                desired.name
            )),
            Some(o) => compare(&[(
                Field::Retention,
                o.retention_days != i32::try_from(desired.retention_days).ok(),
            )]),
        }
    }

    /// Creates or updates the log group as `change` says.
    async fn apply(
        aws: &Aws,
        desired: &Desired,
        _: &Option<Observed>,
        change: &Change<Field>,
    ) -> Result<(), AwsError> {
        let name = &desired.name;
        if *change == Change::Create {
            match aws
                .logs
                .create_log_group()
                .log_group_name(name)
                .set_tags(Some(desired.tags.clone()))
                .send()
                .await
            {
                Ok(_) => {}
                // Made by an earlier, interrupted run a moment ago: carry on and set retention.
                Err(e)
                    if AwsError::new("CreateLogGroup", name, &e)
                        .is("ResourceAlreadyExistsException") => {}
                Err(e) => return Err(AwsError::new("CreateLogGroup", name, &e)),
            }
        }
        if change.sets(Field::Retention) {
            aws.logs
                .put_retention_policy()
                .log_group_name(name)
                .retention_in_days(i32::try_from(desired.retention_days).unwrap_or(i32::MAX))
                .send()
                .await
                .aws("PutRetentionPolicy", name)?;
        }
        Ok(())
    }

    /// Deletes the log group (already gone is fine).
    async fn delete(aws: &Aws, desired: &Desired) -> Result<(), AwsError> {
        let name = desired.name.as_str();
        match aws
            .logs
            .delete_log_group()
            .log_group_name(name)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => {
                let err = AwsError::new("DeleteLogGroup", name, &e);
                if err.is("ResourceNotFoundException") {
                    Ok(())
                } else {
                    Err(err)
                }
            }
        }
    }
}

/// The log group as the stack wants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desired {
    /// `/aws/lambda/<stack>`.
    pub name: String,
    /// Days CloudWatch keeps events.
    pub retention_days: u32,
    /// The stack's tags.
    pub tags: Tags,
}

/// The log group as it exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// Its retention, if any is set.
    pub retention_days: Option<i32>,
    /// Its tags.
    pub tags: Tags,
}

/// The log group's ARN (without the `:*` suffix that DescribeLogGroups adds).
fn arn(aws: &Aws, name: &str) -> String {
    format!(
        "arn:{}:logs:{}:{}:log-group:{name}",
        aws.partition, aws.region, aws.account
    )
}
