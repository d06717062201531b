//! An EventBridge schedule rule of the stack (`<stack>-schedule`, and `<stack>-schedule-2`, ...
//! for every five tables past the first five, a rule's quota of targets): one target per table
//! with the constant input `{"TableName":"<table>"}`, and the function's permission for
//! EventBridge to invoke it from this rule only.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_sdk_eventbridge::types::{RuleState, Tag, Target};
use aws_sdk_lambda::error::SdkError;
use aws_sdk_lambda::operation::add_permission::AddPermissionError;
use backup_lambda::naming::TableName;
use serde_json::{Value, json};

use crate::aws::{Aws, AwsError, AwsResult, is_transient};
use crate::deploy::plan::{Change, Kind, compare};
use crate::deploy::resources::{Resource, Tags, absent_if, is_ours};

/// A schedule rule, as a [`Resource`].
pub struct Rule;

fields! {
    /// The schedule expression (and that the rule is enabled).
    Schedule => "schedule",
    /// One target per table, with its constant input.
    Targets => "targets",
    /// The function's permission for EventBridge to invoke it from this rule.
    Permission => "permission",
}

impl Resource for Rule {
    const KIND: Kind = Kind::Schedule;
    type Desired = Desired;
    type Observed = Option<Observed>;
    type Field = Field;

    fn name(desired: &Desired) -> &str {
        &desired.name
    }

    /// Reads the rule, its targets, and the function's resource policy.
    async fn observe(aws: &Aws, desired: &Desired) -> Result<Option<Observed>, AwsError> {
        let name = desired.name.as_str();
        let Some(rule) = absent_if(
            aws.events
                .describe_rule()
                .name(name)
                .send()
                .await
                .aws("DescribeRule", name),
            &["ResourceNotFoundException"],
        )?
        else {
            return Ok(None);
        };
        let tags = aws
            .events
            .list_tags_for_resource()
            .resource_arn(&desired.arn)
            .send()
            .await
            .aws("ListTagsForResource", name)?
            .tags()
            .iter()
            .map(|t| (t.key().to_owned(), t.value().to_owned()))
            .collect();
        let targets = aws
            .events
            .list_targets_by_rule()
            .rule(name)
            .send()
            .await
            .aws("ListTargetsByRule", name)?
            .targets()
            .iter()
            .map(|t| {
                (
                    t.id().to_owned(),
                    t.arn().to_owned(),
                    t.input().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        let policy = read_policy(aws, desired.function_name.as_str()).await?;
        let permitted = permits(&policy, &desired.statement_id, &desired.arn);
        let has_statement = statements_with_id(&policy, &desired.statement_id) > 0;
        Ok(Some(Observed {
            schedule: rule.schedule_expression,
            enabled: rule.state == Some(RuleState::Enabled),
            tags,
            targets,
            permitted,
            stale_statement: has_statement && !permitted,
        }))
    }

    /// What `up` does to the rule, its targets and the permission.
    fn diff(desired: &Desired, observed: &Option<Observed>) -> Change<Field> {
        let observed = observed.as_ref();
        match observed {
            None => Change::Create,
            Some(o) if !is_ours(&o.tags, &desired.tags) => Change::Conflict(format!(
                "EventBridge rule {} exists and is not this stack's; delete it or choose another --stack",
                desired.name
            )),
            Some(o) => {
                let mut targets = o.targets.clone();
                targets.sort();
                compare(&[
                    (
                        Field::Schedule,
                        o.schedule.as_deref() != Some(desired.schedule.as_str()) || !o.enabled,
                    ),
                    (Field::Targets, targets != desired_targets(desired)),
                    (Field::Permission, !o.permitted),
                ])
            }
        }
    }

    async fn apply(
        aws: &Aws,
        desired: &Desired,
        observed: &Option<Observed>,
        change: &Change<Field>,
    ) -> Result<(), AwsError> {
        if *change == Change::Delete {
            return retire(aws, desired).await;
        }
        if change.sets(Field::Schedule) {
            put_rule(aws, desired).await?;
        }
        if change.sets(Field::Targets) {
            put_targets(aws, desired, observed.as_ref()).await?;
        }
        if change.sets(Field::Permission) {
            if observed.as_ref().is_some_and(|o| o.stale_statement) {
                revoke_invoke(aws, desired).await?;
            }
            grant_invoke(aws, desired).await?;
        }
        Ok(())
    }

    async fn delete(aws: &Aws, desired: &Desired) -> Result<(), AwsError> {
        delete(aws, &desired.name).await
    }
}

/// The principal the invoke permission is granted to.
const PRINCIPAL: &str = "events.amazonaws.com";
/// Entries one PutTargets call may carry (PutTargets, API reference: "The maximum number of
/// entries per request is 10").
const ENTRIES_PER_CALL: usize = 10;

/// The rule as the stack wants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desired {
    /// `<stack>-schedule`.
    pub name: String,
    /// Its ARN.
    pub arn: String,
    /// The schedule expression.
    pub schedule: String,
    /// The function's name and ARN.
    pub function_name: String,
    /// The function's ARN.
    pub function_arn: String,
    /// `(target id, constant input)`, one per table.
    pub targets: Vec<(String, String)>,
    /// The invoke permission's statement id.
    pub statement_id: String,
    /// The stack's tags.
    pub tags: Tags,
}

/// The rule, its targets and the invoke permission, as they exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// The schedule expression.
    pub schedule: Option<String>,
    /// Whether it is enabled.
    pub enabled: bool,
    /// Its tags.
    pub tags: Tags,
    /// `(target id, target ARN, input)`.
    pub targets: Vec<(String, String, String)>,
    /// The invoke permission is there, for this rule only.
    pub permitted: bool,
    /// A statement with the permission's id is there but with other terms.
    pub stale_statement: bool,
}

/// The rule's ARN.
pub fn arn(aws: &Aws, name: &str) -> String {
    format!(
        "arn:{}:events:{}:{}:rule/{name}",
        aws.partition, aws.region, aws.account
    )
}

/// A target id for a table: EventBridge allows 64 characters of `[.\-_A-Za-z0-9]`.
pub fn target_id(table: &TableName) -> String {
    let name = table.as_str();
    if name.len() <= 57 {
        return format!("backup-{name}");
    }
    // FNV-1a, so that long names that share a prefix still get distinct ids.
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("backup-{}-{:08x}", &name[..48], hash as u32)
}

/// The id of the one target of a stack whose tables are chosen by tag.
pub const TAG_TARGET_ID: &str = "backup-by-tag";

/// The constant input of that target: `{"TableTag":{"Key":"<key>","Value":"<value>"}}`.
pub fn tag_input(tag: &backup_lambda::select::TableTag) -> String {
    json!({ "TableTag": { "Key": tag.key, "Value": tag.value } }).to_string()
}

/// The constant input a table's target sends: exactly `{"TableName":"<table>"}`.
pub fn target_input(table: &TableName) -> String {
    json!({ "TableName": table.as_str() }).to_string()
}

/// Whether the function's resource policy lets EventBridge invoke it from `rule_arn` under
/// `statement_id`.
fn permits(policy: &Value, statement_id: &str, rule_arn: &str) -> bool {
    policy["Statement"].as_array().is_some_and(|statements| {
        statements.iter().any(|s| {
            s["Sid"] == statement_id
                && s["Effect"] == "Allow"
                && s["Principal"]["Service"] == PRINCIPAL
                && s["Action"] == "lambda:InvokeFunction"
                && s["Condition"]["ArnLike"]["AWS:SourceArn"] == rule_arn
        })
    })
}

/// The function's resource policy (`null` when it has none, or no function exists).
async fn read_policy(aws: &Aws, function: &str) -> Result<Value, AwsError> {
    let policy = absent_if(
        aws.lambda
            .get_policy()
            .function_name(function)
            .send()
            .await
            .aws("GetPolicy", function),
        &["ResourceNotFoundException"],
    )?;
    Ok(policy
        .and_then(|p| p.policy)
        .and_then(|p| serde_json::from_str::<Value>(&p).ok())
        .unwrap_or_default())
}

/// How many statements of `policy` carry `statement_id`.
fn statements_with_id(policy: &Value, statement_id: &str) -> usize {
    policy["Statement"]
        .as_array()
        .map_or(0, |s| s.iter().filter(|s| s["Sid"] == statement_id).count())
}

/// A pause of 50 to 250 ms that differs between processes, so that two runs settling the same
/// policy stop taking turns.
fn jitter() -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let spread = u64::from(nanos ^ std::process::id().wrapping_mul(2_654_435_761)) % 200;
    Duration::from_millis(50 + spread)
}

/// Leaves exactly one invoke statement with the stack's id. AWS refuses a second statement with
/// the same id, but an emulator may take two `up`s racing to add it: then copies are removed (or,
/// if both racers removed one, it is added again) until one is left.
async fn settle_statement(aws: &Aws, desired: &Desired) -> Result<(), AwsError> {
    let function = desired.function_name.as_str();
    for _ in 0..SETTLE_ROUNDS {
        let policy = read_policy(aws, function).await?;
        match statements_with_id(&policy, &desired.statement_id) {
            1 => return Ok(()),
            0 => {
                let added = add_invoke(aws, desired)
                    .await
                    .aws("AddPermission", function);
                absent_if(added, &["ResourceConflictException"])?;
            }
            _ => revoke_invoke(aws, desired).await?,
        }
        tokio::time::sleep(jitter()).await;
    }
    Err(AwsError::malformed(
        "AddPermission",
        function,
        "another run kept changing the invoke permission; run `up` again",
    ))
}

fn desired_targets(desired: &Desired) -> Vec<(String, String, String)> {
    let mut targets: Vec<_> = desired
        .targets
        .iter()
        .map(|(id, input)| (id.clone(), desired.function_arn.clone(), input.clone()))
        .collect();
    targets.sort();
    targets
}

/// Creates or updates the rule itself: its schedule, enabled, tagged.
async fn put_rule(aws: &Aws, desired: &Desired) -> Result<(), AwsError> {
    let name = desired.name.as_str();
    let tags = desired
        .tags
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| AwsError::malformed("PutRule", name, &e.to_string()))?;
    aws.events
        .put_rule()
        .name(name)
        .schedule_expression(&desired.schedule)
        .state(RuleState::Enabled)
        .description("Runs the DynamoDB backup function (managed by installer)")
        .set_tags(Some(tags))
        .send()
        .await
        .aws("PutRule", name)
        .map(drop)
}

/// Removes the targets the rule should no longer have, then puts every desired one (at most
/// [`ENTRIES_PER_CALL`] a call).
async fn put_targets(
    aws: &Aws,
    desired: &Desired,
    observed: Option<&Observed>,
) -> Result<(), AwsError> {
    let name = desired.name.as_str();
    let stale: Vec<String> = observed
        .map(|o| {
            o.targets
                .iter()
                .filter(|(id, ..)| !desired.targets.iter().any(|(want, _)| want == id))
                .map(|(id, ..)| id.clone())
                .collect()
        })
        .unwrap_or_default();
    if !stale.is_empty() {
        remove_targets(aws, name, stale).await?;
    }
    let targets = desired
        .targets
        .iter()
        .map(|(id, input)| {
            Target::builder()
                .id(id)
                .arn(&desired.function_arn)
                .input(input)
                .build()
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| AwsError::malformed("PutTargets", name, &e.to_string()))?;
    for batch in targets.chunks(ENTRIES_PER_CALL) {
        let out = aws
            .events
            .put_targets()
            .rule(name)
            .set_targets(Some(batch.to_vec()))
            .send()
            .await
            .aws("PutTargets", name)?;
        if out.failed_entry_count() > 0 {
            let why = out
                .failed_entries()
                .first()
                .and_then(|f| f.error_message())
                .unwrap_or("no reason given");
            return Err(AwsError::malformed("PutTargets", name, why));
        }
    }
    Ok(())
}

/// Removes the targets `ids` from the rule. RemoveTargets (API reference): "This action can
/// partially fail if too many requests are made at the same time. If that happens,
/// FailedEntryCount is non-zero in the response": a failed entry is an error, not a silent
/// leftover.
async fn remove_targets(aws: &Aws, name: &str, ids: Vec<String>) -> Result<(), AwsError> {
    let out = aws
        .events
        .remove_targets()
        .rule(name)
        .set_ids(Some(ids))
        .send()
        .await
        .aws("RemoveTargets", name)?;
    if out.failed_entry_count() > 0 {
        let why = out
            .failed_entries()
            .first()
            .map(|f| {
                format!(
                    "target {} not removed: {}",
                    f.target_id().unwrap_or("?"),
                    f.error_message().unwrap_or("no reason given")
                )
            })
            .unwrap_or_else(|| "a target was not removed".to_owned());
        return Err(AwsError::malformed("RemoveTargets", name, &why));
    }
    Ok(())
}

/// Tries of AddPermission when the service is busy or the network fails.
const GRANT_ATTEMPTS: u32 = 6;
/// Rounds of [`settle_statement`] before giving up.
const SETTLE_ROUNDS: u32 = 12;

/// Lets EventBridge invoke the function from this rule; a statement with the same id that was
/// not seen when reading (left by an interrupted run) is replaced.
///
/// AddPermission is not safe to repeat blindly (a repeat after a lost answer is a conflict on
/// AWS and a duplicate statement on some emulators), so the SDK's retries are off for it: after a
/// transient failure or a conflict the policy is read, and the call is made again only if the
/// statement is not already there as it should be.
async fn grant_invoke(aws: &Aws, desired: &Desired) -> Result<(), AwsError> {
    let function = desired.function_name.as_str();
    let mut backoff = Duration::from_millis(500);
    let mut attempt = 1;
    loop {
        let sent = add_invoke(aws, desired).await;
        let e = match sent {
            Ok(()) => return settle_statement(aws, desired).await,
            Err(e) => e,
        };
        let err = AwsError::new("AddPermission", function, &e);
        let conflict = err.is("ResourceConflictException");
        if attempt >= GRANT_ATTEMPTS || !(conflict || is_transient(&e)) {
            return Err(err);
        }
        if !conflict {
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(8));
        }
        if permits(
            &read_policy(aws, function).await?,
            &desired.statement_id,
            &desired.arn,
        ) {
            return Ok(());
        }
        if conflict {
            revoke_invoke(aws, desired).await?;
        }
        attempt += 1;
    }
}

/// One AddPermission call for the schedule's statement, without the SDK's retries.
async fn add_invoke(aws: &Aws, desired: &Desired) -> Result<(), SdkError<AddPermissionError>> {
    let function = desired.function_name.as_str();
    aws.lambda
        .add_permission()
        .function_name(function)
        .statement_id(&desired.statement_id)
        .action("lambda:InvokeFunction")
        .principal(PRINCIPAL)
        .source_arn(&desired.arn)
        .customize()
        .config_override(
            aws_sdk_lambda::config::Builder::default().retry_config(RetryConfig::disabled()),
        )
        .send()
        .await
        .map(drop)
}

/// Removes the invoke permission's statement (already gone is fine).
async fn revoke_invoke(aws: &Aws, desired: &Desired) -> Result<(), AwsError> {
    let function = desired.function_name.as_str();
    absent_if(
        aws.lambda
            .remove_permission()
            .function_name(function)
            .statement_id(&desired.statement_id)
            .send()
            .await
            .aws("RemovePermission", function),
        &["ResourceNotFoundException"],
    )
    .map(drop)
}

/// The stack's rules beyond `wanted` (left by an `up` with more tables) that carry the stack's
/// tags: `<prefix>-<n>` for any number n, found with ListRules.
pub async fn stale(
    aws: &Aws,
    prefix: &str,
    wanted: &[Desired],
    ours: &Tags,
) -> Result<Vec<String>, AwsError> {
    let mut names = Vec::new();
    let mut token = None;
    loop {
        let page = aws
            .events
            .list_rules()
            .name_prefix(prefix)
            .set_next_token(token)
            .send()
            .await
            .aws("ListRules", prefix)?;
        names.extend(
            page.rules()
                .iter()
                .filter_map(|r| r.name().map(str::to_owned)),
        );
        token = page.next_token;
        if token.is_none() {
            break;
        }
    }
    let mut stale = Vec::new();
    for name in names {
        let numbered = name
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix('-'))
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        if !numbered || wanted.iter().any(|w| w.name == name) {
            continue;
        }
        let arn = wanted
            .first()
            .map(|w| {
                w.arn
                    .replace(&format!("rule/{}", w.name), &format!("rule/{name}"))
            })
            .unwrap_or_default();
        let tags: Tags = aws
            .events
            .list_tags_for_resource()
            .resource_arn(&arn)
            .send()
            .await
            .aws("ListTagsForResource", name.as_str())?
            .tags()
            .iter()
            .map(|t| (t.key().to_owned(), t.value().to_owned()))
            .collect();
        if is_ours(&tags, ours) {
            stale.push(name);
        }
    }
    Ok(stale)
}

/// The same rule under another name (its own ARN and statement id), with no targets: how a
/// stale rule is read and removed.
pub fn renamed(desired: &Desired, name: &str) -> Desired {
    Desired {
        arn: desired
            .arn
            .replace(&format!("rule/{}", desired.name), &format!("rule/{name}")),
        name: name.to_owned(),
        targets: Vec::new(),
        statement_id: format!("{name}-invoke"),
        ..desired.clone()
    }
}

/// Stops the rule from firing (already gone is fine): the first step of `down`, so that no new
/// backup starts while the stack is taken apart.
pub async fn disable(aws: &Aws, name: &str) -> Result<(), AwsError> {
    absent_if(
        aws.events
            .disable_rule()
            .name(name)
            .send()
            .await
            .aws("DisableRule", name),
        &["ResourceNotFoundException"],
    )
    .map(drop)
}

/// Removes a rule the stack no longer needs: its targets, the rule, and its invoke statement.
async fn retire(aws: &Aws, desired: &Desired) -> Result<(), AwsError> {
    delete(aws, &desired.name).await?;
    let statement = read_policy(aws, &desired.function_name).await?;
    if statements_with_id(&statement, &desired.statement_id) > 0 {
        revoke_invoke(aws, desired).await?;
    }
    Ok(())
}

/// Removes the rule's targets, then the rule (already gone is fine).
pub async fn delete(aws: &Aws, name: &str) -> Result<(), AwsError> {
    let Some(listed) = absent_if(
        aws.events
            .list_targets_by_rule()
            .rule(name)
            .send()
            .await
            .aws("ListTargetsByRule", name),
        &["ResourceNotFoundException"],
    )?
    else {
        return Ok(());
    };
    let ids: Vec<String> = listed.targets().iter().map(|t| t.id().to_owned()).collect();
    if !ids.is_empty() {
        remove_targets(aws, name, ids).await?;
    }
    absent_if(
        aws.events
            .delete_rule()
            .name(name)
            .send()
            .await
            .aws("DeleteRule", name),
        &["ResourceNotFoundException"],
    )
    .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(name: &str) -> TableName {
        TableName::parse(name).expect("valid")
    }

    #[test]
    fn input_is_exactly_the_tutorial_event() {
        assert_eq!(target_input(&table("Movies")), r#"{"TableName":"Movies"}"#);
    }

    #[test]
    fn target_ids_fit_eventbridge_and_stay_distinct() {
        assert_eq!(target_id(&table("Movies")), "backup-Movies");
        let a = target_id(&table(&format!("{}a", "x".repeat(200))));
        let b = target_id(&table(&format!("{}b", "x".repeat(200))));
        assert!(a.len() <= 64 && b.len() <= 64, "{a} {b}");
        assert_ne!(a, b);
    }

    #[test]
    fn permission_must_be_for_this_rule_only() {
        let rule = "arn:aws:events:us-east-1:123456789012:rule/s-schedule";
        let statement = |source: &str| {
            json!({"Statement": [{
                "Sid": "s-schedule",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "lambda:InvokeFunction",
                "Condition": {"ArnLike": {"AWS:SourceArn": source}}
            }]})
        };
        assert!(permits(&statement(rule), "s-schedule", rule));
        assert!(!permits(
            &statement("arn:aws:events:us-east-1:123456789012:rule/other"),
            "s-schedule",
            rule
        ));
        assert!(!permits(&statement(rule), "other-id", rule));
        assert!(!permits(&json!({}), "s-schedule", rule));
    }
}
