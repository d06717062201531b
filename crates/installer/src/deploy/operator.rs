//! The operator's policy: the least-privilege IAM policy a person or a CI role needs to run
//! the installer's commands on one stack (`installer policy`), scoped to the stack's resource
//! names in its account and region wherever IAM has resource-level permissions for the action,
//! with `iam:PassRole` limited to the stack's role and to Lambda. The function's own policy is
//! elsewhere (`policy.rs`, `policies/`); this is the one who deploys it.

use serde_json::{Value, json};

use crate::deploy::alerts;
use crate::deploy::config::StackConfig;

/// Which commands the policy is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Purpose {
    /// `plan`, `up`, `status`, `invoke`, `logs` and `load-data`.
    Up,
    /// `down` (with every `--delete-*`), and `status`/`plan` to see what it would do.
    Down,
    /// `restore` (every source: a backup, a point in time, an export), `rollback` and `drill`.
    Restore,
    /// `report`, `coverage` and `status`.
    Report,
    /// All of them.
    All,
}

impl Purpose {
    fn includes(self, other: Purpose) -> bool {
        self == Purpose::All || self == other
    }
}

/// Where the stack is: the partition, region and account its ARNs name.
#[derive(Debug, Clone)]
pub struct Place {
    /// `aws`, `aws-cn`, `aws-us-gov`.
    pub partition: String,
    /// The stack's region.
    pub region: String,
    /// The stack's account.
    pub account: String,
}

/// The resources of one stack, as ARNs (patterns where the names are chosen later).
struct Arns {
    role: String,
    scheduler_role: String,
    schedule_group: String,
    schedules: String,
    function: String,
    log_group: String,
    rules: String,
    bucket: String,
    objects: String,
    export_buckets: Vec<String>,
    tables: Vec<String>,
    backups: Vec<String>,
    any_table: String,
    topic: String,
    alarms: String,
}

impl Arns {
    fn new(config: &StackConfig, place: &Place) -> Self {
        let Place {
            partition: p,
            region: r,
            account: a,
        } = place;
        let stack = config.stack.as_str();
        let bucket = config.bucket_name(a, r);
        let tables: Vec<String> = if config.table_tag.is_some() {
            // Chosen by tag, on every run: any table of the account and region.
            vec![format!("arn:{p}:dynamodb:{r}:{a}:table/*")]
        } else {
            config
                .tables
                .iter()
                .map(|t| format!("arn:{p}:dynamodb:{r}:{a}:table/{t}"))
                .collect()
        };
        let backups = tables.iter().map(|t| format!("{t}/backup/*")).collect();
        let export_buckets = config
            .export
            .as_ref()
            .and_then(|e| e.bucket.as_ref())
            .map(|b| vec![format!("arn:{p}:s3:::{b}"), format!("arn:{p}:s3:::{b}/*")])
            .unwrap_or_default();
        Self {
            role: format!("arn:{p}:iam::{a}:role/{}", config.role_name()),
            scheduler_role: format!("arn:{p}:iam::{a}:role/{}", config.scheduler_role_name()),
            schedule_group: format!("arn:{p}:scheduler:{r}:{a}:schedule-group/{stack}"),
            schedules: format!("arn:{p}:scheduler:{r}:{a}:schedule/{stack}/*"),
            function: format!("arn:{p}:lambda:{r}:{a}:function:{stack}"),
            log_group: format!("arn:{p}:logs:{r}:{a}:log-group:{}", config.log_group()),
            rules: format!("arn:{p}:events:{r}:{a}:rule/{stack}-schedule*"),
            objects: format!("arn:{p}:s3:::{bucket}/*"),
            bucket: format!("arn:{p}:s3:::{bucket}"),
            export_buckets,
            tables,
            backups,
            any_table: format!("arn:{p}:dynamodb:{r}:{a}:table/*"),
            topic: format!(
                "arn:{p}:sns:{r}:{a}:{}",
                alerts::topic_name(config.function_name())
            ),
            alarms: format!("arn:{p}:cloudwatch:{r}:{a}:alarm:{stack}-*"),
        }
    }
}

/// One statement.
fn allow(sid: &str, actions: &[&str], resources: &[String]) -> Value {
    json!({
        "Sid": sid,
        "Effect": "Allow",
        "Action": actions,
        "Resource": resources,
    })
}

/// The policy for `purpose` on the stack `config` describes, at `place`.
pub fn policy(purpose: Purpose, config: &StackConfig, place: &Place) -> Value {
    let arn = Arns::new(config, place);
    let Place {
        partition: p,
        region: r,
        account: a,
    } = place;
    let one = |s: &String| vec![s.clone()];
    let mut statements = vec![
        // Who am I: every command's first call; it has no resource.
        allow("WhoAmI", &["sts:GetCallerIdentity"], &["*".to_owned()]),
        // Actions IAM authorizes only on "*" (no resource-level permissions).
        allow(
            "ActionsWithoutResources",
            &[
                "dynamodb:ListTables",
                "dynamodb:ListBackups",
                "dynamodb:ListExports",
                "lambda:GetAccountSettings",
                "events:ListRules",
                "scheduler:ListSchedules",
                "logs:DescribeLogGroups",
                "sns:Unsubscribe",
            ],
            &["*".to_owned()],
        ),
        allow(
            "ReadTheStack",
            &[
                "iam:GetRole",
                "iam:GetRolePolicy",
                "iam:ListRolePolicies",
                "iam:ListAttachedRolePolicies",
            ],
            &[arn.role.clone(), arn.scheduler_role.clone()],
        ),
        allow(
            "ReadTheFunction",
            &[
                "lambda:GetFunction",
                "lambda:GetFunctionConfiguration",
                "lambda:GetFunctionConcurrency",
                "lambda:GetFunctionEventInvokeConfig",
                "lambda:GetPolicy",
                "lambda:ListTags",
            ],
            &one(&arn.function),
        ),
        allow(
            "ReadTheSchedule",
            &[
                "events:DescribeRule",
                "events:ListTargetsByRule",
                "events:ListTagsForResource",
            ],
            &one(&arn.rules),
        ),
        allow(
            "ReadTheSchedulerGroup",
            &[
                "scheduler:GetScheduleGroup",
                "scheduler:ListTagsForResource",
            ],
            &one(&arn.schedule_group),
        ),
        allow(
            "ReadTheSchedulerSchedules",
            &["scheduler:GetSchedule"],
            &one(&arn.schedules),
        ),
        allow(
            "ReadTheLogs",
            &[
                "logs:ListTagsForResource",
                "logs:ListTagsLogGroup",
                "logs:FilterLogEvents",
            ],
            &[arn.log_group.clone(), format!("{}:*", arn.log_group)],
        ),
        allow(
            "ReadTheBucket",
            &[
                "s3:ListBucket",
                "s3:GetBucketLocation",
                "s3:GetBucketPolicy",
                "s3:GetEncryptionConfiguration",
                "s3:GetBucketOwnershipControls",
                "s3:GetBucketPublicAccessBlock",
                "s3:GetLifecycleConfiguration",
                "s3:GetBucketTagging",
                "s3:GetObject",
            ],
            &[arn.bucket.clone(), arn.objects.clone()],
        ),
        allow(
            "ReadTheTables",
            &[
                "dynamodb:DescribeTable",
                "dynamodb:ListTagsOfResource",
                "dynamodb:DescribeContinuousBackups",
                "dynamodb:DescribeTimeToLive",
                "dynamodb:DescribeBackup",
            ],
            &[arn.tables.clone(), arn.backups.clone()].concat(),
        ),
        allow(
            "ReadTheAlerts",
            &[
                "sns:GetTopicAttributes",
                "sns:ListSubscriptionsByTopic",
                "sns:ListTagsForResource",
            ],
            &one(&arn.topic),
        ),
        allow(
            "ReadTheAlarms",
            &[
                "cloudwatch:DescribeAlarms",
                "cloudwatch:ListTagsForResource",
            ],
            &[format!("arn:{p}:cloudwatch:{r}:{a}:alarm:*")],
        ),
    ];
    if !arn.export_buckets.is_empty() {
        statements.push(allow(
            "CheckTheExportBucket",
            // GetObjectLockConfiguration (API reference): "you must have permission to perform
            // the s3:GetBucketObjectLockConfiguration action": plan, up and status read the lock.
            &[
                "s3:ListBucket",
                "s3:GetBucketLocation",
                "s3:GetObject",
                "s3:GetBucketObjectLockConfiguration",
            ],
            &arn.export_buckets,
        ));
    }
    if purpose.includes(Purpose::Up) {
        statements.extend(up(&arn));
    }
    if purpose.includes(Purpose::Down) {
        statements.extend(down(&arn));
    }
    if purpose.includes(Purpose::Restore) {
        statements.extend(restore(&arn, place));
    }
    if purpose.includes(Purpose::Report) {
        // `coverage` judges every table of the account: their descriptions, recovery windows
        // and tags (no items), on any table.
        statements.push(allow(
            "JudgeEveryTablesCoverage",
            &[
                "dynamodb:DescribeTable",
                "dynamodb:DescribeContinuousBackups",
                "dynamodb:ListTagsOfResource",
            ],
            std::slice::from_ref(&arn.any_table),
        ));
    }
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// What `up` (and `invoke`, `load-data`) write, and what `plan --cost` reads.
fn up(arn: &Arns) -> Vec<Value> {
    vec![
        // `plan --cost` prices incremental exports from the tables' writes a day;
        // GetMetricStatistics has no resource-level permissions (service authorization
        // reference for CloudWatch: no resource type), so it is granted on `*`.
        allow(
            "ReadTheTablesWriteRates",
            &["cloudwatch:GetMetricStatistics"],
            &["*".to_owned()],
        ),
        allow(
            "MakeTheRole",
            &[
                "iam:CreateRole",
                "iam:TagRole",
                "iam:UpdateAssumeRolePolicy",
                "iam:PutRolePolicy",
            ],
            &[arn.role.clone(), arn.scheduler_role.clone()],
        ),
        json!({
            "Sid": "HandTheRoleToLambdaOnly",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": arn.role,
            "Condition": {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}},
        }),
        json!({
            "Sid": "HandTheSchedulerRoleToSchedulerOnly",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": arn.scheduler_role,
            "Condition": {"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}},
        }),
        allow(
            "MakeTheSchedulerGroup",
            &[
                "scheduler:CreateScheduleGroup",
                "scheduler:TagResource",
                "scheduler:DeleteScheduleGroup",
            ],
            std::slice::from_ref(&arn.schedule_group),
        ),
        allow(
            "MakeTheSchedulerSchedules",
            &[
                "scheduler:CreateSchedule",
                "scheduler:UpdateSchedule",
                "scheduler:DeleteSchedule",
            ],
            std::slice::from_ref(&arn.schedules),
        ),
        allow(
            "MakeTheFunction",
            &[
                "lambda:CreateFunction",
                "lambda:UpdateFunctionCode",
                "lambda:UpdateFunctionConfiguration",
                "lambda:PutFunctionConcurrency",
                "lambda:DeleteFunctionConcurrency",
                "lambda:PutFunctionEventInvokeConfig",
                "lambda:UpdateFunctionEventInvokeConfig",
                "lambda:AddPermission",
                "lambda:RemovePermission",
                "lambda:TagResource",
                "lambda:InvokeFunction",
            ],
            std::slice::from_ref(&arn.function),
        ),
        allow(
            "MakeTheLogGroup",
            &[
                "logs:CreateLogGroup",
                "logs:PutRetentionPolicy",
                "logs:TagResource",
                "logs:TagLogGroup",
                "logs:CreateLogStream",
                "logs:PutLogEvents",
            ],
            &[arn.log_group.clone(), format!("{}:*", arn.log_group)],
        ),
        allow(
            "MakeTheSchedule",
            &[
                "events:PutRule",
                "events:PutTargets",
                "events:RemoveTargets",
                "events:DeleteRule",
                "events:EnableRule",
                "events:TagResource",
            ],
            std::slice::from_ref(&arn.rules),
        ),
        allow(
            "MakeTheBucket",
            &[
                "s3:CreateBucket",
                "s3:PutBucketPolicy",
                "s3:PutEncryptionConfiguration",
                "s3:PutBucketOwnershipControls",
                "s3:PutBucketPublicAccessBlock",
                "s3:PutLifecycleConfiguration",
                "s3:PutBucketTagging",
                "s3:PutObject",
            ],
            &[arn.bucket.clone(), arn.objects.clone()],
        ),
        allow(
            "MakeTheTables",
            &[
                "dynamodb:CreateTable",
                "dynamodb:TagResource",
                "dynamodb:UpdateContinuousBackups",
                "dynamodb:BatchWriteItem",
            ],
            &arn.tables,
        ),
        allow(
            "MakeTheAlerts",
            &[
                "sns:CreateTopic",
                "sns:SetTopicAttributes",
                "sns:Subscribe",
                "sns:TagResource",
                "sns:DeleteTopic",
            ],
            std::slice::from_ref(&arn.topic),
        ),
        allow(
            "MakeTheAlarms",
            &[
                "cloudwatch:PutMetricAlarm",
                "cloudwatch:DeleteAlarms",
                "cloudwatch:TagResource",
            ],
            std::slice::from_ref(&arn.alarms),
        ),
    ]
}

/// What `down` deletes (with every `--delete-*`).
fn down(arn: &Arns) -> Vec<Value> {
    vec![
        allow(
            "RemoveTheRole",
            &[
                "iam:DeleteRole",
                "iam:DeleteRolePolicy",
                "iam:DetachRolePolicy",
            ],
            &[arn.role.clone(), arn.scheduler_role.clone()],
        ),
        allow(
            "RemoveTheSchedulerSchedules",
            &["scheduler:DeleteSchedule"],
            std::slice::from_ref(&arn.schedules),
        ),
        allow(
            "RemoveTheSchedulerGroup",
            &["scheduler:DeleteScheduleGroup"],
            std::slice::from_ref(&arn.schedule_group),
        ),
        allow(
            "RemoveTheFunction",
            &["lambda:DeleteFunction"],
            std::slice::from_ref(&arn.function),
        ),
        allow(
            "RemoveTheLogGroup",
            &["logs:DeleteLogGroup"],
            &[arn.log_group.clone(), format!("{}:*", arn.log_group)],
        ),
        allow(
            "RemoveTheSchedule",
            &[
                "events:DisableRule",
                "events:RemoveTargets",
                "events:DeleteRule",
            ],
            std::slice::from_ref(&arn.rules),
        ),
        allow(
            "RemoveTheBucket",
            &[
                "s3:ListBucketVersions",
                "s3:DeleteObject",
                "s3:DeleteObjectVersion",
                "s3:DeleteBucket",
            ],
            &[arn.bucket.clone(), arn.objects.clone()],
        ),
        allow(
            "RemoveTheTablesAndBackups",
            &["dynamodb:DeleteTable", "dynamodb:DeleteBackup"],
            &[arn.tables.clone(), arn.backups.clone()].concat(),
        ),
        allow(
            "RemoveTheAlerts",
            &["sns:DeleteTopic"],
            std::slice::from_ref(&arn.topic),
        ),
        allow(
            "RemoveTheAlarms",
            &["cloudwatch:DeleteAlarms"],
            std::slice::from_ref(&arn.alarms),
        ),
    ]
}

/// What `restore`, `rollback` and `drill` need: a restore makes a table of a name chosen at the
/// time, so the write actions are on any table of the account and region (`restore --in-place`
/// also deletes the table it swaps, reads and puts back its resource policy and contributor
/// insights, and keeps its journal under `restores/` in the bucket); a rollback exports the
/// table's changes into the stack's bucket (DynamoDB writes them as the caller) and writes items.
fn restore(arn: &Arns, place: &Place) -> Vec<Value> {
    let Place {
        partition: p,
        region: r,
        account: a,
    } = place;
    vec![
        allow(
            "RestoreIntoNewTables",
            &[
                "dynamodb:RestoreTableFromBackup",
                "dynamodb:RestoreTableToPointInTime",
                "dynamodb:ImportTable",
                "dynamodb:DescribeImport",
                "dynamodb:DescribeExport",
                "dynamodb:ExportTableToPointInTime",
                "dynamodb:DescribeTable",
                "dynamodb:DescribeContinuousBackups",
                "dynamodb:DescribeTimeToLive",
                "dynamodb:ListTagsOfResource",
                "dynamodb:UpdateTimeToLive",
                "dynamodb:UpdateContinuousBackups",
                "dynamodb:UpdateTable",
                "dynamodb:TagResource",
                "dynamodb:Scan",
                "dynamodb:BatchGetItem",
                "dynamodb:CreateBackup",
                "dynamodb:Query",
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
                "dynamodb:BatchWriteItem",
                "dynamodb:DeleteTable",
                "dynamodb:GetResourcePolicy",
                "dynamodb:PutResourcePolicy",
                "dynamodb:DescribeContributorInsights",
                "dynamodb:UpdateContributorInsights",
                "dynamodb:DescribeKinesisStreamingDestination",
            ],
            &[
                arn.any_table.clone(),
                format!("{}/backup/*", arn.any_table),
                format!("{}/export/*", arn.any_table),
                format!("{}/import/*", arn.any_table),
            ],
        ),
        allow(
            "RecordDrills",
            &["s3:PutObject", "s3:DeleteObject", "s3:RestoreObject"],
            std::slice::from_ref(&arn.objects),
        ),
        // ExportTableToPointInTime (rollback) writes its files as the caller: AWS lists
        // s3:AbortMultipartUpload, s3:PutObject and s3:PutObjectAcl for it (developer guide,
        // "Requesting a table export in DynamoDB", IAM policy for exports), under `rollbacks/`.
        allow(
            "ExportWindowsForRollbacks",
            &["s3:AbortMultipartUpload", "s3:PutObject", "s3:PutObjectAcl"],
            &[format!("{}rollbacks/*", arn.objects.trim_end_matches('*'))],
        ),
        allow(
            "ImportTableLogs",
            &[
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:DescribeLogStreams",
                "logs:PutLogEvents",
                "logs:PutRetentionPolicy",
            ],
            &[format!("arn:{p}:logs:{r}:{a}:log-group:/aws-dynamodb/*")],
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::settings::Settings;

    fn place() -> Place {
        Place {
            partition: "aws".into(),
            region: "eu-west-1".into(),
            account: "123456789012".into(),
        }
    }

    #[test]
    fn a_rollback_may_export_into_the_stacks_bucket_as_dynamodb_requires() {
        let config = StackConfig::from_settings("prod", &Settings::default()).expect("valid");
        let text = policy(Purpose::Restore, &config, &place()).to_string();
        for action in [
            "dynamodb:ExportTableToPointInTime",
            "s3:AbortMultipartUpload",
            "s3:PutObjectAcl",
            "s3:PutObject",
        ] {
            assert!(text.contains(&format!("\"{action}\"")), "{action}");
        }
    }

    #[test]
    fn an_export_bucket_may_be_checked_for_its_lock() {
        let config = StackConfig::from_settings(
            "prod",
            &Settings {
                export: Some(crate::deploy::exports::ExportChoice::Daily),
                export_bucket: Some("acme-vault".into()),
                export_bucket_owner: Some("210987654321".into()),
                require_lock: Some(true),
                ..Settings::default()
            },
        )
        .expect("valid");
        let doc = policy(Purpose::Up, &config, &place());
        let check = doc["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["Sid"] == "CheckTheExportBucket")
            .expect("the export bucket's statement");
        let actions = check["Action"].to_string();
        assert!(
            actions.contains("s3:GetBucketObjectLockConfiguration"),
            "{actions}"
        );
        assert!(
            check["Resource"]
                .to_string()
                .contains("arn:aws:s3:::acme-vault")
        );
    }

    #[test]
    fn the_policy_passes_the_scheduler_role_to_scheduler_only() {
        let config = StackConfig::from_settings("prod", &Settings::default()).expect("valid");
        let doc = policy(Purpose::Up, &config, &place());
        let pass = doc["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["Sid"] == "HandTheSchedulerRoleToSchedulerOnly")
            .expect("PassRole of the scheduler role");
        assert_eq!(
            pass["Resource"],
            "arn:aws:iam::123456789012:role/prod-scheduler"
        );
        assert_eq!(
            pass["Condition"]["StringEquals"]["iam:PassedToService"],
            "scheduler.amazonaws.com"
        );
    }

    #[test]
    fn the_policy_names_the_stacks_resources_and_passes_its_role_to_lambda_only() {
        let config = StackConfig::from_settings(
            "prod",
            &Settings {
                tables: Some(vec!["Orders".into()]),
                ..Settings::default()
            },
        )
        .expect("valid");
        let doc = policy(Purpose::Up, &config, &place());
        let text = doc.to_string();
        assert!(text.contains("arn:aws:iam::123456789012:role/prod-role"));
        assert!(text.contains("arn:aws:dynamodb:eu-west-1:123456789012:table/Orders"));
        assert!(text.contains("arn:aws:s3:::prod-logs-123456789012-eu-west-1"));
        let pass = doc["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["Action"] == "iam:PassRole")
            .expect("PassRole");
        assert_eq!(pass["Resource"], "arn:aws:iam::123456789012:role/prod-role");
        assert_eq!(
            pass["Condition"]["StringEquals"]["iam:PassedToService"],
            "lambda.amazonaws.com"
        );
        // `up` deletes nothing of the stack's but its own stale rules and alarms.
        assert!(!text.contains("iam:DeleteRole") && !text.contains("dynamodb:DeleteTable"));
        let all = policy(Purpose::All, &config, &place()).to_string();
        assert!(all.contains("iam:DeleteRole") && all.contains("RestoreTableFromBackup"));
    }
}
