//! The function's CloudWatch Logs group, `/aws/lambda/<stack>`: created before the function so
//! that its retention applies from the first line.

use crate::aws::{Aws, AwsError, AwsResult};
use crate::plan::{Action, compare};
use crate::resources::{Tags, is_ours};

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

/// Reads the log group named `name`, if it exists.
pub async fn observe(aws: &Aws, name: &str) -> Result<Option<Observed>, AwsError> {
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

/// The log group's ARN (without the `:*` suffix that DescribeLogGroups adds).
fn arn(aws: &Aws, name: &str) -> String {
    format!(
        "arn:{}:logs:{}:{}:log-group:{name}",
        aws.partition, aws.region, aws.account
    )
}

/// What `up` does to the log group.
pub fn diff(desired: &Desired, observed: Option<&Observed>) -> Action {
    match observed {
        None => Action::Create,
        Some(o) if !is_ours(&o.tags, &desired.tags) => Action::Conflict(format!(
            "log group {} exists and is not this stack's; delete it or choose another --stack",
            desired.name
        )),
        Some(o) => compare(&[(
            "retention",
            o.retention_days != i32::try_from(desired.retention_days).ok(),
        )]),
    }
}

/// Creates or updates the log group as `action` says.
pub async fn apply(aws: &Aws, desired: &Desired, action: &Action) -> Result<(), AwsError> {
    let name = &desired.name;
    if *action == Action::Create {
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
    if matches!(action, Action::Create | Action::Update(_)) {
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
pub async fn delete(aws: &Aws, name: &str) -> Result<(), AwsError> {
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
