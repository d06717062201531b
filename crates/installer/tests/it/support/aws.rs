//! Direct SDK clients for inspecting what a command left in moto.

use serde_json::Value;
use test_support::moto_config;

/// One client per service the stack uses, straight to moto (not through any proxy).
pub struct Clients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub events: aws_sdk_eventbridge::Client,
    pub iam: aws_sdk_iam::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub s3: aws_sdk_s3::Client,
    pub sns: aws_sdk_sns::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub scheduler: aws_sdk_scheduler::Client,
}

/// Clients for moto.
pub async fn clients() -> Clients {
    let config = moto_config().await;
    Clients {
        dynamodb: aws_sdk_dynamodb::Client::new(&config),
        events: aws_sdk_eventbridge::Client::new(&config),
        iam: aws_sdk_iam::Client::new(&config),
        lambda: aws_sdk_lambda::Client::new(&config),
        logs: aws_sdk_cloudwatchlogs::Client::new(&config),
        s3: aws_sdk_s3::Client::new(&config),
        sns: aws_sdk_sns::Client::new(&config),
        cloudwatch: aws_sdk_cloudwatch::Client::new(&config),
        scheduler: aws_sdk_scheduler::Client::new(&config),
    }
}

/// Whether the function `name` exists.
pub async fn function_exists(aws: &Clients, name: &str) -> bool {
    aws.lambda
        .get_function()
        .function_name(name)
        .send()
        .await
        .is_ok()
}

/// What of stack `stack` (backing up `table`, with the default bucket name) is still in moto:
/// empty once `down` has removed it all.
pub async fn leftovers(aws: &Clients, stack: &str, table: &str) -> Vec<&'static str> {
    let mut left = Vec::new();
    let function = aws.lambda.get_function().function_name(stack).send();
    if function.await.is_ok() {
        left.push("function");
    }
    let role = aws.iam.get_role().role_name(format!("{stack}-role")).send();
    if role.await.is_ok() {
        left.push("role");
    }
    let rule = aws
        .events
        .describe_rule()
        .name(format!("{stack}-schedule"))
        .send();
    if rule.await.is_ok() {
        left.push("rule");
    }
    if aws
        .dynamodb
        .describe_table()
        .table_name(table)
        .send()
        .await
        .is_ok()
    {
        left.push("table");
    }
    let bucket = format!("{stack}-logs-123456789012-us-east-1");
    if aws.s3.head_bucket().bucket(bucket).send().await.is_ok() {
        left.push("bucket");
    }
    let groups = aws
        .logs
        .describe_log_groups()
        .log_group_name_prefix(format!("/aws/lambda/{stack}"))
        .send()
        .await
        .expect("describe log groups");
    if !groups.log_groups().is_empty() {
        left.push("log group");
    }
    let topic = format!("arn:aws:sns:us-east-1:123456789012:{stack}-alerts");
    let topic = aws.sns.get_topic_attributes().topic_arn(topic).send();
    if topic.await.is_ok() {
        left.push("topic");
    }
    let alarms = aws
        .cloudwatch
        .describe_alarms()
        .alarm_name_prefix(format!("{stack}-"))
        .send()
        .await
        .expect("describe alarms");
    if !alarms.metric_alarms().is_empty() {
        left.push("alarms");
    }
    left
}

/// The statements of stack `stack`'s role policy (`<stack>-policy` on `<stack>-role`).
pub async fn role_statements(aws: &Clients, stack: &str) -> Vec<Value> {
    let policy = aws
        .iam
        .get_role_policy()
        .role_name(format!("{stack}-role"))
        .policy_name(format!("{stack}-policy"))
        .send()
        .await
        .expect("the stack's role policy");
    installer::deploy::policy::decode_document(policy.policy_document())
        .expect("a JSON policy")["Statement"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The statements of function `function`'s resource policy.
pub async fn policy_statements(aws: &Clients, function: &str) -> Vec<Value> {
    let policy = aws
        .lambda
        .get_policy()
        .function_name(function)
        .send()
        .await
        .expect("the function has a policy")
        .policy
        .unwrap_or_default();
    let policy: Value = serde_json::from_str(&policy).expect("policy JSON");
    policy["Statement"].as_array().cloned().unwrap_or_default()
}

/// How many targets the stack's schedule rule has.
pub async fn target_count(aws: &Clients, stack: &str) -> usize {
    aws.events
        .list_targets_by_rule()
        .rule(format!("{stack}-schedule"))
        .send()
        .await
        .expect("the rule exists")
        .targets()
        .len()
}

/// Makes a movies table `table` and tags it `key=value` in moto directly (so the tag shows at
/// once, as on a table tagged long ago).
pub async fn tagged_movies_table(aws: &Clients, table: &str, key: &str, value: &str) {
    test_support::create_movies_table(&aws.dynamodb, table).await;
    aws.dynamodb
        .tag_resource()
        .resource_arn(format!(
            "arn:aws:dynamodb:us-east-1:123456789012:table/{table}"
        ))
        .tags(
            aws_sdk_dynamodb::types::Tag::builder()
                .key(key)
                .value(value)
                .build()
                .expect("a tag"),
        )
        .send()
        .await
        .expect("TagResource");
}
