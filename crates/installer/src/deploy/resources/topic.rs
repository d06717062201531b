//! The stack's SNS alert topic, `<stack>-alerts`, with `--alert-email` subscriptions: made only
//! when there are addresses to tell. Its policy lets only this account's CloudWatch alarms
//! publish; with `--alert-kms-key` it is encrypted with that customer managed key (CloudWatch
//! alarms cannot publish through the AWS managed `alias/aws/sns` key, whose policy cannot grant
//! them its use; see the SNS Developer Guide, "Enable compatibility between event sources from
//! AWS services and encrypted topics").

use serde_json::Value;

use crate::aws::{Aws, AwsError, AwsResult};
use crate::deploy::plan::{Change, Kind, compare};
use crate::deploy::resources::{Resource, Tags, absent_if, is_ours};

/// The alert topic, as a [`Resource`].
pub struct Topic;

fields! {
    /// Who may publish.
    Policy => "policy",
    /// The KMS key it is encrypted with.
    Encryption => "encryption",
    /// The e-mail addresses subscribed.
    Subscriptions => "subscriptions",
    /// The stack's tags.
    Tags => "tags",
}

/// The topic as the stack wants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desired {
    /// `<stack>-alerts`.
    pub name: String,
    /// Its ARN.
    pub arn: String,
    /// Its access policy (JSON).
    pub policy: String,
    /// The customer managed key it is encrypted with, if any.
    pub kms_key: Option<String>,
    /// The addresses to subscribe.
    pub emails: Vec<String>,
    /// The stack's tags.
    pub tags: Tags,
}

/// One subscription of the topic.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Subscription {
    /// Its protocol (`email`, ...).
    pub protocol: String,
    /// The address.
    pub endpoint: String,
    /// Its ARN, `None` while the address has not confirmed it.
    pub arn: Option<String>,
}

impl Subscription {
    /// `confirmed` or `pending confirmation`.
    pub fn state(&self) -> &'static str {
        if self.arn.is_some() {
            "confirmed"
        } else {
            "pending confirmation"
        }
    }
}

/// The topic as it exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// Its access policy.
    pub policy: Option<String>,
    /// Its KMS key, if encrypted.
    pub kms_key: Option<String>,
    /// Its subscriptions.
    pub subscriptions: Vec<Subscription>,
    /// Its tags.
    pub tags: Tags,
}

/// Whether two policies say the same (SNS may reformat the JSON).
fn same_policy(a: Option<&str>, b: &str) -> bool {
    let parse = |s: &str| serde_json::from_str::<Value>(s).ok();
    a.and_then(parse).is_some_and(|a| Some(a) == parse(b))
}

/// The e-mail addresses `observed` has (any state), lower-cased.
fn subscribed(observed: &Observed) -> Vec<String> {
    observed
        .subscriptions
        .iter()
        .filter(|s| s.protocol == "email")
        .map(|s| s.endpoint.to_ascii_lowercase())
        .collect()
}

/// Addresses wanted but not subscribed.
fn missing<'a>(desired: &'a Desired, observed: Option<&Observed>) -> Vec<&'a String> {
    let have = observed.map(subscribed).unwrap_or_default();
    desired
        .emails
        .iter()
        .filter(|e| !have.contains(&e.to_ascii_lowercase()))
        .collect()
}

/// Confirmed e-mail subscriptions to addresses no longer wanted: their ARNs.
fn unwanted(desired: &Desired, observed: &Observed) -> Vec<String> {
    let wanted: Vec<String> = desired
        .emails
        .iter()
        .map(|e| e.to_ascii_lowercase())
        .collect();
    observed
        .subscriptions
        .iter()
        .filter(|s| s.protocol == "email" && !wanted.contains(&s.endpoint.to_ascii_lowercase()))
        .filter_map(|s| s.arn.clone())
        .collect()
}

impl Resource for Topic {
    const KIND: Kind = Kind::Topic;
    type Desired = Desired;
    type Observed = Option<Observed>;
    type Field = Field;

    fn name(desired: &Desired) -> &str {
        &desired.name
    }

    /// Reads the topic's attributes, tags and subscriptions, if it exists.
    async fn observe(aws: &Aws, desired: &Desired) -> Result<Option<Observed>, AwsError> {
        let arn = desired.arn.as_str();
        let found = aws
            .sns
            .get_topic_attributes()
            .topic_arn(arn)
            .send()
            .await
            .aws("GetTopicAttributes", arn);
        let Some(found) = absent_if(found, &["NotFound", "NotFoundException"])? else {
            return Ok(None);
        };
        let attributes = found.attributes.unwrap_or_default();
        let tags = aws
            .sns
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .aws("ListTagsForResource", arn)?
            .tags
            .unwrap_or_default()
            .into_iter()
            .map(|t| (t.key, t.value))
            .collect();
        let mut subscriptions = Vec::new();
        let mut token = None;
        loop {
            let page = aws
                .sns
                .list_subscriptions_by_topic()
                .topic_arn(arn)
                .set_next_token(token)
                .send()
                .await
                .aws("ListSubscriptionsByTopic", arn)?;
            subscriptions.extend(page.subscriptions().iter().map(|s| {
                Subscription {
                    protocol: s.protocol().unwrap_or_default().to_owned(),
                    endpoint: s.endpoint().unwrap_or_default().to_owned(),
                    arn: s
                        .subscription_arn()
                        .filter(|a| a.starts_with("arn:"))
                        .map(str::to_owned),
                }
            }));
            token = page.next_token;
            if token.is_none() {
                break;
            }
        }
        Ok(Some(Observed {
            policy: attributes.get("Policy").cloned(),
            kms_key: attributes
                .get("KmsMasterKeyId")
                .filter(|k| !k.is_empty())
                .cloned(),
            subscriptions,
            tags,
        }))
    }

    fn diff(desired: &Desired, observed: &Option<Observed>) -> Change<Field> {
        match observed {
            None => Change::Create,
            Some(o) if !is_ours(&o.tags, &desired.tags) => Change::Conflict(format!(
                "SNS topic {} exists and is not this stack's; delete it, pass it as --alert-topic instead, or choose another --stack",
                desired.name
            )),
            Some(o) => compare(&[
                (
                    Field::Policy,
                    !same_policy(o.policy.as_deref(), &desired.policy),
                ),
                (Field::Encryption, o.kms_key != desired.kms_key),
                (
                    Field::Subscriptions,
                    !missing(desired, Some(o)).is_empty() || !unwanted(desired, o).is_empty(),
                ),
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
        let (name, arn) = (desired.name.as_str(), desired.arn.as_str());
        if *change == Change::Delete {
            return Self::delete(aws, desired).await;
        }
        if *change == Change::Create {
            // CreateTopic is idempotent for the same name, attributes and tags.
            let tags = desired
                .tags
                .iter()
                .map(|(k, v)| {
                    aws_sdk_sns::types::Tag::builder()
                        .key(k)
                        .value(v)
                        .build()
                        .map_err(|e| AwsError::malformed("CreateTopic", name, &e.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let mut create = aws
                .sns
                .create_topic()
                .name(name)
                .attributes("Policy", &desired.policy)
                .set_tags(Some(tags));
            if let Some(key) = &desired.kms_key {
                create = create.attributes("KmsMasterKeyId", key);
            }
            create.send().await.aws("CreateTopic", name)?;
        } else {
            let set = |attribute: &'static str, value: String| async move {
                aws.sns
                    .set_topic_attributes()
                    .topic_arn(arn)
                    .attribute_name(attribute)
                    .attribute_value(value)
                    .send()
                    .await
                    .aws("SetTopicAttributes", arn)
                    .map(drop)
            };
            if change.sets(Field::Policy) {
                set("Policy", desired.policy.clone()).await?;
            }
            if change.sets(Field::Encryption) {
                set(
                    "KmsMasterKeyId",
                    desired.kms_key.clone().unwrap_or_default(),
                )
                .await?;
            }
            if change.sets(Field::Tags) {
                let tags = desired
                    .tags
                    .iter()
                    .filter_map(|(k, v)| {
                        aws_sdk_sns::types::Tag::builder()
                            .key(k)
                            .value(v)
                            .build()
                            .ok()
                    })
                    .collect();
                aws.sns
                    .tag_resource()
                    .resource_arn(arn)
                    .set_tags(Some(tags))
                    .send()
                    .await
                    .aws("TagResource", arn)?;
            }
        }
        if change.sets(Field::Subscriptions) {
            for email in missing(desired, observed.as_ref()) {
                aws.sns
                    .subscribe()
                    .topic_arn(arn)
                    .protocol("email")
                    .endpoint(email)
                    .send()
                    .await
                    .aws("Subscribe", email.as_str())?;
            }
            for subscription in observed.iter().flat_map(|o| unwanted(desired, o)) {
                aws.sns
                    .unsubscribe()
                    .subscription_arn(&subscription)
                    .send()
                    .await
                    .aws("Unsubscribe", subscription.as_str())?;
            }
        }
        Ok(())
    }

    /// Deletes the topic and with it its subscriptions (already gone is fine: DeleteTopic
    /// succeeds for a topic that does not exist).
    async fn delete(aws: &Aws, desired: &Desired) -> Result<(), AwsError> {
        let arn = desired.arn.as_str();
        let deleted = aws
            .sns
            .delete_topic()
            .topic_arn(arn)
            .send()
            .await
            .aws("DeleteTopic", arn);
        absent_if(deleted, &["NotFound", "NotFoundException"]).map(drop)
    }
}

/// The ARN of topic `name` in `aws`'s account and region.
pub fn arn(aws: &Aws, name: &str) -> String {
    format!(
        "arn:{}:sns:{}:{}:{name}",
        aws.partition, aws.region, aws.account
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desired(emails: &[&str]) -> Desired {
        Desired {
            name: "s-alerts".to_owned(),
            arn: "arn:aws:sns:us-east-1:123456789012:s-alerts".to_owned(),
            policy: r#"{"Version":"2012-10-17","Statement":[]}"#.to_owned(),
            kms_key: None,
            emails: emails.iter().map(|e| (*e).to_owned()).collect(),
            tags: Tags::from([("stack".to_owned(), "s".to_owned())]),
        }
    }

    fn observed(subscriptions: &[(&str, Option<&str>)]) -> Observed {
        Observed {
            policy: Some(r#"{ "Statement": [], "Version": "2012-10-17" }"#.to_owned()),
            kms_key: None,
            subscriptions: subscriptions
                .iter()
                .map(|(e, arn)| Subscription {
                    protocol: "email".to_owned(),
                    endpoint: (*e).to_owned(),
                    arn: arn.map(str::to_owned),
                })
                .collect(),
            tags: Tags::from([("stack".to_owned(), "s".to_owned())]),
        }
    }

    #[test]
    fn subscriptions_are_compared_by_address_whatever_their_state_or_case() {
        let want = desired(&["ops@example.com", "dba@example.com"]);
        let have = observed(&[
            ("OPS@example.com", Some("arn:aws:sns:x")),
            ("dba@example.com", None),
        ]);
        assert_eq!(
            Topic::diff(&want, &Some(have)),
            Change::Unchanged,
            "policy JSON reformatted is the same"
        );
        let have = observed(&[("ops@example.com", None)]);
        assert_eq!(
            Topic::diff(&want, &Some(have.clone())),
            Change::Update(vec![Field::Subscriptions])
        );
        assert_eq!(missing(&want, Some(&have)), [&"dba@example.com".to_owned()]);
        let gone = observed(&[
            ("old@example.com", Some("arn:old")),
            ("new@example.com", None),
        ]);
        assert_eq!(
            unwanted(&want, &gone),
            ["arn:old"],
            "a pending one has no ARN to remove"
        );
    }

    #[test]
    fn a_topic_of_another_stack_is_a_conflict() {
        let mut foreign = observed(&[]);
        foreign.tags.clear();
        assert!(matches!(
            Topic::diff(&desired(&[]), &Some(foreign)),
            Change::Conflict(_)
        ));
    }
}
