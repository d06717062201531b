//! The stack's IAM roles, each trusted by one service and with one inline least-privilege
//! policy rendered from `policies/`: the function's, `<stack>-role` ([`Role`], trusted by
//! Lambda in this account), and with EventBridge Scheduler the schedules', `<stack>-scheduler`
//! ([`SchedulerRole`], trusted by Scheduler for the stack's schedule group).

use aws_sdk_iam::types::Tag;
use serde_json::Value;

use crate::aws::{Aws, AwsError, AwsResult};
use crate::deploy::plan::{Change, Kind, compare};
use crate::deploy::policy::decode_document;
use crate::deploy::resources::{Resource, Tags, is_ours};

/// The function's role, as a [`Resource`].
pub struct Role;

/// The schedules' role, as a [`Resource`]: the same contract as [`Role`], planned under its own
/// kind.
pub struct SchedulerRole;

impl Resource for SchedulerRole {
    const KIND: Kind = Kind::SchedulerRole;
    type Desired = Desired;
    type Observed = Option<Observed>;
    type Field = Field;

    fn name(desired: &Desired) -> &str {
        &desired.name
    }

    async fn observe(aws: &Aws, desired: &Desired) -> Result<Option<Observed>, AwsError> {
        Role::observe(aws, desired).await
    }

    fn diff(desired: &Desired, observed: &Option<Observed>) -> Change<Field> {
        Role::diff(desired, observed)
    }

    async fn apply(
        aws: &Aws,
        desired: &Desired,
        observed: &Option<Observed>,
        change: &Change<Field>,
    ) -> Result<(), AwsError> {
        if *change == Change::Delete {
            return Role::delete(aws, desired).await;
        }
        Role::apply(aws, desired, observed, change).await
    }

    async fn delete(aws: &Aws, desired: &Desired) -> Result<(), AwsError> {
        Role::delete(aws, desired).await
    }
}

fields! {
    /// Who may assume it.
    TrustPolicy => "trust policy",
    /// Its inline permissions policy.
    Permissions => "permissions",
}

impl Resource for Role {
    const KIND: Kind = Kind::Role;
    type Desired = Desired;
    type Observed = Option<Observed>;
    type Field = Field;

    fn name(desired: &Desired) -> &str {
        &desired.name
    }

    /// Reads the role, its tags and the stack's inline policy.
    async fn observe(aws: &Aws, desired: &Desired) -> Result<Option<Observed>, AwsError> {
        let name = &desired.name;
        let role = match aws.iam.get_role().role_name(name).send().await {
            Ok(out) => out.role,
            Err(e) => {
                let err = AwsError::new("GetRole", name, &e);
                return if err.is("NoSuchEntity") {
                    Ok(None)
                } else {
                    Err(err)
                };
            }
        };
        let trust = role
            .as_ref()
            .and_then(|r| r.assume_role_policy_document())
            .and_then(decode_document);
        // GetRole carries the role's tags, so no ListRoleTags call is needed.
        let tags = role
            .as_ref()
            .map(|r| {
                r.tags()
                    .iter()
                    .map(|t| (t.key().to_owned(), t.value().to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        let policy = match aws
            .iam
            .get_role_policy()
            .role_name(name)
            .policy_name(&desired.policy_name)
            .send()
            .await
        {
            Ok(out) => decode_document(out.policy_document()),
            Err(e) => {
                let err = AwsError::new("GetRolePolicy", name, &e);
                if !err.is("NoSuchEntity") {
                    return Err(err);
                }
                None
            }
        };
        Ok(Some(Observed {
            trust,
            policy,
            tags,
        }))
    }

    /// What `up` does to the role.
    fn diff(desired: &Desired, observed: &Option<Observed>) -> Change<Field> {
        let observed = observed.as_ref();
        match observed {
            None => Change::Create,
            Some(o) if !is_ours(&o.tags, &desired.tags) => Change::Conflict(format!(
                "IAM role {} exists and is not this stack's; delete it or choose another --stack",
                desired.name
            )),
            Some(o) => compare(&[
                (Field::TrustPolicy, o.trust.as_ref() != Some(&desired.trust)),
                (
                    Field::Permissions,
                    o.policy.as_ref() != Some(&desired.policy),
                ),
            ]),
        }
    }

    /// Creates the role or updates its policies, as `change` says.
    async fn apply(
        aws: &Aws,
        desired: &Desired,
        _: &Option<Observed>,
        change: &Change<Field>,
    ) -> Result<(), AwsError> {
        let name = &desired.name;
        let (trust, policy) = match change {
            Change::Create => {
                let tags = desired
                    .tags
                    .iter()
                    .map(|(k, v)| Tag::builder().key(k).value(v).build())
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| AwsError::malformed("CreateRole", name, &e.to_string()))?;
                match aws
                    .iam
                    .create_role()
                    .role_name(name)
                    .assume_role_policy_document(desired.trust.to_string())
                    .description(desired.description)
                    .set_tags(Some(tags))
                    .send()
                    .await
                {
                    Ok(_) => (false, true),
                    // Made by an earlier, interrupted run: make sure both documents are current.
                    Err(e) if AwsError::new("CreateRole", name, &e).is("EntityAlreadyExists") => {
                        (true, true)
                    }
                    Err(e) => return Err(AwsError::new("CreateRole", name, &e)),
                }
            }
            Change::Update(_)
            | Change::Unchanged
            | Change::UseExisting
            | Change::Conflict(_)
            | Change::Delete => (
                change.sets(Field::TrustPolicy),
                change.sets(Field::Permissions),
            ),
        };
        if trust {
            aws.iam
                .update_assume_role_policy()
                .role_name(name)
                .policy_document(desired.trust.to_string())
                .send()
                .await
                .aws("UpdateAssumeRolePolicy", name)?;
        }
        if policy {
            aws.iam
                .put_role_policy()
                .role_name(name)
                .policy_name(&desired.policy_name)
                .policy_document(desired.policy.to_string())
                .send()
                .await
                .aws("PutRolePolicy", name)?;
        }
        Ok(())
    }

    /// Deletes the role: first its inline and attached policies, which IAM requires.
    async fn delete(aws: &Aws, desired: &Desired) -> Result<(), AwsError> {
        let name = desired.name.as_str();
        let gone = |err: AwsError| {
            if err.is("NoSuchEntity") {
                Ok(())
            } else {
                Err(err)
            }
        };
        let inline = match aws.iam.list_role_policies().role_name(name).send().await {
            Ok(out) => out.policy_names,
            Err(e) => return gone(AwsError::new("ListRolePolicies", name, &e)),
        };
        for policy in inline {
            if let Err(e) = aws
                .iam
                .delete_role_policy()
                .role_name(name)
                .policy_name(&policy)
                .send()
                .await
            {
                gone(AwsError::new("DeleteRolePolicy", name, &e))?;
            }
        }
        let attached = aws
            .iam
            .list_attached_role_policies()
            .role_name(name)
            .send()
            .await
            .aws("ListAttachedRolePolicies", name)?;
        for policy in attached.attached_policies() {
            if let Some(policy_arn) = policy.policy_arn() {
                aws.iam
                    .detach_role_policy()
                    .role_name(name)
                    .policy_arn(policy_arn)
                    .send()
                    .await
                    .aws("DetachRolePolicy", name)?;
            }
        }
        match aws.iam.delete_role().role_name(name).send().await {
            Ok(_) => Ok(()),
            Err(e) => gone(AwsError::new("DeleteRole", name, &e)),
        }
    }
}

/// The role as the stack wants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desired {
    /// `<stack>-role`.
    pub name: String,
    /// Its trust policy.
    pub trust: Value,
    /// The inline policy's name.
    pub policy_name: String,
    /// The inline policy.
    pub policy: Value,
    /// What it is for, as IAM shows it.
    pub description: &'static str,
    /// The stack's tags.
    pub tags: Tags,
}

/// The role as it exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// Its trust policy (decoded), if readable.
    pub trust: Option<Value>,
    /// The inline policy of the stack's name (decoded), if present.
    pub policy: Option<Value>,
    /// Its tags.
    pub tags: Tags,
}

/// The role's ARN.
pub fn arn(aws: &Aws, name: &str) -> String {
    format!("arn:{}:iam::{}:role/{name}", aws.partition, aws.account)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn policies_are_compared_as_documents() {
        let desired = Desired {
            name: "s-role".into(),
            trust: json!({"Version": "2012-10-17", "Statement": []}),
            policy_name: "s-policy".into(),
            policy: json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow"}]}),
            description: "test",
            tags: Tags::from([("stack".into(), "s".into())]),
        };
        // As IAM returns them: URL-encoded, with other spacing.
        let observed = Observed {
            trust: decode_document(
                "%7B%22Statement%22%3A%5B%5D%2C%20%22Version%22%3A%222012-10-17%22%7D",
            ),
            policy: None,
            tags: desired.tags.clone(),
        };
        assert_eq!(
            Role::diff(&desired, &Some(observed.clone())),
            Change::Update(vec![Field::Permissions])
        );
        let complete = Observed {
            policy: Some(desired.policy.clone()),
            ..observed
        };
        assert_eq!(
            Role::diff(&desired, &Some(complete.clone())),
            Change::Unchanged
        );
    }
}
