//! `installer up`, `status` and `down` against moto, with every resource inspected through the
//! AWS API (not through the installer's own code).

use std::collections::HashMap;

use crate::support::aws::{Clients, clients, function_exists, leftovers};
use crate::support::cli::{built_zip_path, installer, installer_at, installer_ok, remove_all};
use base64::Engine as _;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use test_support::{backup_names, count_items, create_movies_table, moto_config, unique_name};

async fn table_exists(aws: &Clients, name: &str) -> bool {
    aws.dynamodb
        .describe_table()
        .table_name(name)
        .send()
        .await
        .is_ok()
}

async fn role_exists(aws: &Clients, stack: &str) -> bool {
    aws.iam
        .get_role()
        .role_name(format!("{stack}-role"))
        .send()
        .await
        .is_ok()
}

fn url_decoded_json(document: &str) -> Value {
    let decoded = percent_encoding::percent_decode_str(document)
        .decode_utf8()
        .expect("utf-8");
    serde_json::from_str(&decoded).expect("policy JSON")
}

/// A stack name and table name of its own, and the deploy flags for them.
struct Names {
    stack: String,
    table: String,
    zip: String,
}

impl Names {
    fn new() -> Self {
        Self {
            stack: unique_name("st"),
            table: unique_name("Movies"),
            zip: built_zip_path().display().to_string(),
        }
    }

    fn flags<'a>(&'a self, extra: &[&'a str]) -> Vec<&'a str> {
        let mut flags = vec![
            "--stack",
            &self.stack,
            "--table",
            &self.table,
            "--zip",
            &self.zip,
            "--create-table",
        ];
        flags.extend_from_slice(extra);
        flags
    }

    fn bucket(&self) -> String {
        format!("{}-logs-123456789012-us-east-1", self.stack)
    }
}

fn run(command: &str, names: &Names, extra: &[&str]) -> String {
    let mut args = vec![command];
    args.extend(names.flags(extra));
    installer_ok(&args)
}

#[tokio::test]
async fn up_builds_every_resource_as_configured() {
    let aws = clients().await;
    let n = Names::new();
    let out = run(
        "up",
        &n,
        &[
            "--bucket-tls-only",
            "true",
            "--keep",
            "5",
            "--max-age-days",
            "400",
            "--keep-weekly",
            "4",
            "--keep-monthly",
            "12",
            "--schedule",
            "rate(1 minute)",
        ],
    );
    assert!(out.contains("up to date"), "{out}");
    // The deployed stack gives its generations back: planning it again changes nothing.
    let again = run("plan", &n, &[]);
    assert!(!again.contains("keep-"), "{again}");
    assert!(
        again
            .lines()
            .any(|l| l.contains("function") && l.ends_with("no change")),
        "{again}"
    );
    log_group_keeps_events_14_days(&aws, &n).await;
    role_is_trusted_by_lambda_and_scoped_to_the_stack(&aws, &n).await;
    bucket_is_private_encrypted_tls_only_owned_and_expiring(&aws, &n).await;
    table_has_the_tutorials_keys_tags_and_sample(&aws, &n).await;
    let function_arn = function_runs_the_zip_with_its_settings_one_at_a_time(&aws, &n).await;
    schedule_targets_the_function_with_the_tutorials_input(&aws, &n, &function_arn).await;
    installer_ok(&remove_all(&n.stack));
}

/// Log group: retention 14 days.
async fn log_group_keeps_events_14_days(aws: &Clients, n: &Names) {
    let log_group = format!("/aws/lambda/{}", n.stack);
    let groups = aws
        .logs
        .describe_log_groups()
        .log_group_name_prefix(&log_group)
        .send()
        .await
        .unwrap();
    let group = groups
        .log_groups()
        .iter()
        .find(|g| g.log_group_name() == Some(&log_group))
        .expect("log group");
    assert_eq!(group.retention_in_days(), Some(14));
}

/// Role: trusted by Lambda in this account; inline policy scoped to the stack.
async fn role_is_trusted_by_lambda_and_scoped_to_the_stack(aws: &Clients, n: &Names) {
    let role = aws
        .iam
        .get_role()
        .role_name(format!("{}-role", n.stack))
        .send()
        .await
        .unwrap();
    let role = role.role().expect("role");
    let trust = url_decoded_json(role.assume_role_policy_document().expect("trust policy"));
    assert_eq!(
        trust["Statement"][0]["Principal"]["Service"],
        "lambda.amazonaws.com"
    );
    assert_eq!(
        trust["Statement"][0]["Condition"]["StringEquals"]["aws:SourceAccount"],
        "123456789012"
    );
    let policy = aws
        .iam
        .get_role_policy()
        .role_name(role.role_name())
        .policy_name(format!("{}-policy", n.stack))
        .send()
        .await
        .unwrap();
    let policy = url_decoded_json(policy.policy_document());
    let table_arn = format!("arn:aws:dynamodb:us-east-1:123456789012:table/{}", n.table);
    let statements = policy["Statement"].as_array().expect("statements");
    assert!(statements.iter().any(|s| {
        s["Action"]
            .as_array()
            .is_some_and(|a| a.contains(&"dynamodb:CreateBackup".into()))
            && s["Resource"] == table_arn.as_str()
    }));
    assert!(
        statements
            .iter()
            .any(|s| s["Action"] == "dynamodb:DeleteBackup"
                && s["Resource"] == format!("{table_arn}/backup/*"))
    );
    assert!(
        statements
            .iter()
            .all(|s| s["Resource"] != "*" || s["Action"] == "dynamodb:ListBackups")
    );
}

/// Bucket: private, encrypted, TLS-only, owner-enforced, runs/ expiring after 90 days, tagged.
async fn bucket_is_private_encrypted_tls_only_owned_and_expiring(aws: &Clients, n: &Names) {
    let bucket = n.bucket();
    let block = aws
        .s3
        .get_public_access_block()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let block = block
        .public_access_block_configuration()
        .expect("public access block");
    assert_eq!(
        [
            block.block_public_acls(),
            block.ignore_public_acls(),
            block.block_public_policy(),
            block.restrict_public_buckets()
        ],
        [Some(true); 4]
    );
    let encryption = aws
        .s3
        .get_bucket_encryption()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    assert!(
        encryption
            .server_side_encryption_configuration()
            .is_some_and(|c| !c.rules().is_empty())
    );
    let bucket_policy: Value = serde_json::from_str(
        aws.s3
            .get_bucket_policy()
            .bucket(&bucket)
            .send()
            .await
            .unwrap()
            .policy()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(bucket_policy["Statement"][0]["Effect"], "Deny");
    assert_eq!(
        bucket_policy["Statement"][0]["Condition"]["Bool"]["aws:SecureTransport"],
        "false"
    );
    let ownership = aws
        .s3
        .get_bucket_ownership_controls()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    assert_eq!(
        ownership.ownership_controls().unwrap().rules()[0]
            .object_ownership()
            .as_str(),
        "BucketOwnerEnforced"
    );
    let lifecycle = aws
        .s3
        .get_bucket_lifecycle_configuration()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let rule = &lifecycle.rules()[0];
    assert_eq!(rule.filter().and_then(|f| f.prefix()), Some("runs/"));
    assert_eq!(rule.expiration().and_then(|e| e.days()), Some(90));
    let tagging = aws
        .s3
        .get_bucket_tagging()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    assert!(
        tagging
            .tag_set()
            .iter()
            .any(|t| t.key() == "stack" && t.value() == n.stack)
    );
}

/// Table: the tutorial's keys, on demand, tagged, with the built-in sample loaded.
async fn table_has_the_tutorials_keys_tags_and_sample(aws: &Clients, n: &Names) {
    assert_eq!(
        count_items(&aws.dynamodb, &n.table).await,
        30,
        "the 30 built-in sample movies"
    );
    let table = aws
        .dynamodb
        .describe_table()
        .table_name(&n.table)
        .send()
        .await
        .unwrap();
    let table = table.table().expect("table");
    let keys: Vec<(&str, &str)> = table
        .key_schema()
        .iter()
        .map(|k| (k.attribute_name(), k.key_type().as_str()))
        .collect();
    assert_eq!(keys, vec![("year", "HASH"), ("title", "RANGE")]);
    let table_tags = aws
        .dynamodb
        .list_tags_of_resource()
        .resource_arn(table.table_arn().unwrap())
        .send()
        .await
        .unwrap();
    assert!(
        table_tags
            .tags()
            .iter()
            .any(|t| t.key() == "managed-by" && t.value() == "installer")
    );
}

/// Function: the zip, provided.al2023, bootstrap, its settings, one run at a time. Returns its
/// ARN.
async fn function_runs_the_zip_with_its_settings_one_at_a_time(aws: &Clients, n: &Names) -> String {
    let ours = HashMap::from([
        ("managed-by".to_owned(), "installer".to_owned()),
        ("stack".to_owned(), n.stack.clone()),
    ]);
    let bucket = n.bucket();
    let function = aws
        .lambda
        .get_function()
        .function_name(&n.stack)
        .send()
        .await
        .unwrap();
    let config = function.configuration().expect("configuration");
    let zip = std::fs::read(built_zip_path()).unwrap();
    let sha = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&zip));
    assert_eq!(config.code_sha256(), Some(sha.as_str()));
    assert_eq!(
        config.runtime().map(|r| r.as_str()),
        Some("provided.al2023")
    );
    assert_eq!(config.handler(), Some("bootstrap"));
    assert_eq!(
        config.architectures()[0].as_str(),
        "arm64",
        "Graviton by default"
    );
    assert_eq!(
        config.role(),
        Some(format!("arn:aws:iam::123456789012:role/{}-role", n.stack).as_str())
    );
    let env = config
        .environment()
        .and_then(|e| e.variables())
        .expect("environment");
    assert_eq!(env.get("MAX_BACKUPS").map(String::as_str), Some("5"));
    assert_eq!(env.get("MAX_AGE_DAYS").map(String::as_str), Some("400"));
    assert_eq!(env.get("KEEP_WEEKLY").map(String::as_str), Some("4"));
    assert_eq!(env.get("KEEP_MONTHLY").map(String::as_str), Some("12"));
    assert_eq!(
        env.get("KEEP_DAILY"),
        None,
        "a generation left off is not set"
    );
    assert_eq!(env.get("LOG_BUCKET"), Some(&bucket));
    assert_eq!(
        function
            .concurrency()
            .and_then(|c| c.reserved_concurrent_executions()),
        Some(1)
    );
    // Scheduled runs are not retried by Lambda (a failed run over many tables would run them
    // all three times), and an event waits at most the schedule's interval (capped at 6 h).
    let invoke_config = aws
        .lambda
        .get_function_event_invoke_config()
        .function_name(&n.stack)
        .send()
        .await
        .expect("the function's asynchronous invocation settings");
    assert_eq!(invoke_config.maximum_retry_attempts(), Some(0));
    assert_eq!(
        invoke_config.maximum_event_age_in_seconds(),
        Some(60),
        "rate(1 minute)"
    );
    assert_eq!(function.tags(), Some(&ours));
    config.function_arn().unwrap().to_owned()
}

/// Schedule: the cadence, one target with the tutorial's constant input, invoke permission.
async fn schedule_targets_the_function_with_the_tutorials_input(
    aws: &Clients,
    n: &Names,
    function_arn: &str,
) {
    let rule_name = format!("{}-schedule", n.stack);
    let rule = aws
        .events
        .describe_rule()
        .name(&rule_name)
        .send()
        .await
        .unwrap();
    assert_eq!(rule.schedule_expression(), Some("rate(1 minute)"));
    let targets = aws
        .events
        .list_targets_by_rule()
        .rule(&rule_name)
        .send()
        .await
        .unwrap();
    let [target] = targets.targets() else {
        panic!("one target: {targets:?}")
    };
    assert_eq!(target.arn(), function_arn);
    assert_eq!(
        target.input(),
        Some(json!({"TableName": n.table}).to_string().as_str())
    );
    let permission: Value = serde_json::from_str(
        aws.lambda
            .get_policy()
            .function_name(&n.stack)
            .send()
            .await
            .unwrap()
            .policy()
            .unwrap(),
    )
    .unwrap();
    let statements = permission["Statement"].as_array().unwrap();
    assert_eq!(statements.len(), 1);
    assert_eq!(
        statements[0]["Principal"]["Service"],
        "events.amazonaws.com"
    );
    assert_eq!(
        statements[0]["Condition"]["ArnLike"]["AWS:SourceArn"],
        rule.arn().unwrap()
    );
}

#[tokio::test]
async fn down_removes_everything_and_twice_is_fine() {
    let aws = clients().await;
    let n = Names::new();
    run("up", &n, &[]);
    // A backup the stack's function made, one in the unmarked format (the tutorial's, or this
    // tool's before backups carried their stack), another stack's and one made by hand.
    let unmarked = format!("{}-20260101000000", n.table);
    let other_stack = format!("{}-prod-20260101000000", n.table);
    for name in [
        format!("{}-{}-20260101000000", n.table, n.stack),
        unmarked.clone(),
        other_stack.clone(),
        "by-hand".to_owned(),
    ] {
        aws.dynamodb
            .create_backup()
            .table_name(&n.table)
            .backup_name(name)
            .send()
            .await
            .unwrap();
    }

    let out = installer(&["down", "--stack", &n.stack]);
    assert!(
        !out.status.success(),
        "down without --yes and without a terminal must refuse"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("pass --yes"));
    assert!(function_exists(&aws, &n.stack).await, "nothing deleted");

    let report = installer_ok(&remove_all(&n.stack));
    assert!(report.contains("deleted 1 backup(s)"), "{report}");
    assert_eq!(
        leftovers(&aws, &n.stack, &n.table).await,
        Vec::<&str>::new()
    );
    let mut left = vec!["by-hand".to_owned(), other_stack, unmarked];
    left.sort();
    assert_eq!(
        backup_names(&aws.dynamodb, &n.table).await,
        left,
        "only the stack's backups are deleted: never another stack's or unmarked ones"
    );

    let again = installer_ok(&remove_all(&n.stack));
    assert!(again.contains("nothing to remove"), "{again}");
}

#[tokio::test]
async fn an_existing_table_that_is_not_ours_survives_up_and_down() {
    let aws = clients().await;
    let n = Names::new();
    create_movies_table(&aws.dynamodb, &n.table).await;
    aws.dynamodb
        .put_item()
        .table_name(&n.table)
        .item(
            "year",
            aws_sdk_dynamodb::types::AttributeValue::N("2013".into()),
        )
        .item(
            "title",
            aws_sdk_dynamodb::types::AttributeValue::S("Rush".into()),
        )
        .send()
        .await
        .unwrap();

    let plan = run("up", &n, &[]);
    assert!(plan.contains("use existing"), "{plan}");
    let report = installer_ok(&remove_all(&n.stack));
    assert!(report.contains("not this stack's"), "{report}");

    let table = aws
        .dynamodb
        .describe_table()
        .table_name(&n.table)
        .send()
        .await
        .expect("still there");
    assert!(table.table().is_some());
    let tags = aws
        .dynamodb
        .list_tags_of_resource()
        .resource_arn(table.table().unwrap().table_arn().unwrap())
        .send()
        .await
        .unwrap();
    assert!(tags.tags().is_empty(), "never tagged");
    assert_eq!(
        count_items(&aws.dynamodb, &n.table).await,
        1,
        "its data is untouched"
    );
}

#[tokio::test]
async fn a_resource_of_the_same_name_that_is_not_ours_stops_up_before_any_write() {
    let aws = clients().await;
    let n = Names::new();
    aws.iam
        .create_role()
        .role_name(format!("{}-role", n.stack))
        .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[]}"#)
        .send()
        .await
        .unwrap();
    let out = installer(&[
        "up", "--stack", &n.stack, "--table", &n.table, "--zip", &n.zip,
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("role") && stderr.contains("is not this stack's"),
        "{stderr}"
    );
    assert!(!table_exists(&aws, &n.table).await, "no table made");
    assert!(!function_exists(&aws, &n.stack).await, "no function made");

    // `plan` says so by its exit status too (it exited 0, and CI had to parse its JSON).
    let out = installer(&[
        "--output", "json", "plan", "--stack", &n.stack, "--table", &n.table, "--zip", &n.zip,
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("up would stop: 1 resource(s) in the way"),
        "{stderr}"
    );
    let planned: serde_json::Value = serde_json::from_slice(&out.stdout).expect("the plan");
    assert_eq!(planned["command"], "plan");

    let report = installer_ok(&remove_all(&n.stack));
    assert!(report.contains("not this stack's"), "{report}");
    assert!(role_exists(&aws, &n.stack).await, "the role is left");
}

#[tokio::test]
async fn an_untagged_bucket_with_data_is_never_taken_even_with_the_default_name() {
    let aws = clients().await;
    let n = Names::new();
    aws.s3
        .create_bucket()
        .bucket(n.bucket())
        .send()
        .await
        .unwrap();
    aws.s3
        .put_object()
        .bucket(n.bucket())
        .key("someone-elses/report.csv")
        .body(aws_sdk_s3::primitives::ByteStream::from_static(b"a,b\n"))
        .send()
        .await
        .unwrap();
    let out = installer(&[
        "up", "--stack", &n.stack, "--table", &n.table, "--zip", &n.zip,
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("is not this stack's"), "{stderr}");
    assert!(!function_exists(&aws, &n.stack).await, "no function made");

    installer_ok(&remove_all(&n.stack));
    let kept = aws
        .s3
        .get_object()
        .bucket(n.bucket())
        .key("someone-elses/report.csv")
        .send()
        .await;
    assert!(kept.is_ok(), "down left the bucket and its object");
}

#[test]
fn bad_flags_fail_before_any_aws_call() {
    for (flags, expected) in [
        (
            &["up", "--schedule", "rate(1 minutes)"][..],
            "singular unit",
        ),
        (&["up", "--keep", "0"][..], "--keep must be"),
        (&["up", "--stack", "Bad_Name"][..], "invalid --stack"),
        (
            &["up", "--log-retention-days", "10"][..],
            "CloudWatch Logs accepts",
        ),
        (&["plan", "--table", "x"][..], "invalid --table"),
        (&["up", "--bucket", "Bad"][..], "invalid --bucket"),
        (&["down", "--bucket", "Bad"][..], "invalid --bucket"),
        // Only `up` and `plan` take settings: a deployed stack knows its own.
        (
            &["status", "--bucket", "logs"][..],
            "unexpected argument '--bucket'",
        ),
        (
            &["status", "--keep", "5"][..],
            "unexpected argument '--keep'",
        ),
    ] {
        let out = crate::support::cli::installer_with_endpoint(flags, "http://127.0.0.1:9");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{flags:?}");
        assert!(stderr.contains(expected), "{flags:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    }
}

#[tokio::test]
async fn up_converges_after_being_killed_midway() {
    let aws = clients().await;
    let n = Names::new();
    // What a run killed after its first calls leaves: a tagged role without its policy and a
    // tagged log group without retention.
    let tags = [("managed-by", "installer"), ("stack", n.stack.as_str())];
    let iam_tags = tags.map(|(k, v)| {
        aws_sdk_iam::types::Tag::builder()
            .key(k)
            .value(v)
            .build()
            .unwrap()
    });
    aws.iam
        .create_role()
        .role_name(format!("{}-role", n.stack))
        .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[]}"#)
        .set_tags(Some(iam_tags.to_vec()))
        .send()
        .await
        .unwrap();
    aws.logs
        .create_log_group()
        .log_group_name(format!("/aws/lambda/{}", n.stack))
        .set_tags(Some(
            tags.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        ))
        .send()
        .await
        .unwrap();

    let plan = run("plan", &n, &[]);
    assert!(
        plan.contains("update (trust policy, permissions)"),
        "{plan}"
    );
    assert!(plan.contains("update (retention)"), "{plan}");
    // `plan --detailed-exitcode`: 2 while something would change, 0 once nothing would.
    let detailed = |n: &Names| {
        installer(&[
            "plan",
            "--detailed-exitcode",
            "--stack",
            &n.stack,
            "--table",
            &n.table,
            "--zip",
            &n.zip,
        ])
        .status
        .code()
    };
    assert_eq!(detailed(&n), Some(2));
    run("up", &n, &[]);
    assert_eq!(detailed(&n), Some(0));
    let again = run("up", &n, &[]);
    assert!(again.contains("no changes"), "{again}");
    assert!(function_exists(&aws, &n.stack).await);
    installer_ok(&remove_all(&n.stack));
    assert!(!function_exists(&aws, &n.stack).await);
}

#[tokio::test]
async fn down_keeps_the_backups_tables_and_bucket_unless_asked() {
    let aws = clients().await;
    let n = Names::new();
    run("up", &n, &[]);
    let ours = format!("{}-{}-20260101000000", n.table, n.stack);
    aws.dynamodb
        .create_backup()
        .table_name(&n.table)
        .backup_name(&ours)
        .send()
        .await
        .unwrap();
    let down = |extra: &[&str]| {
        let mut args = vec!["down", "--stack", &n.stack];
        args.extend(extra);
        installer(&args)
    };

    // --dry-run: the plan on stdout, with the count, and nothing changed (no --yes needed).
    let dry = down(&["--dry-run"]);
    assert!(
        dry.status.success(),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    let plan = String::from_utf8_lossy(&dry.stdout);
    assert!(
        plan.contains("keep 1 backup(s) (--delete-backups deletes them)"),
        "{plan}"
    );
    assert!(plan.contains("keep (--delete-tables deletes it)"), "{plan}");
    assert!(
        function_exists(&aws, &n.stack).await,
        "a dry run deletes nothing"
    );

    let out = down(&["--yes"]);
    let report = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{report}");
    assert!(report.contains("keep 1 backup(s)"), "{report}");
    assert!(!function_exists(&aws, &n.stack).await);
    assert!(table_exists(&aws, &n.table).await);
    assert_eq!(backup_names(&aws.dynamodb, &n.table).await, vec![ours]);
    assert!(aws.s3.head_bucket().bucket(n.bucket()).send().await.is_ok());

    // Asked, it deletes this stack's data: the backups alone first, then the rest.
    let out = down(&["--yes", "--delete-backups"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(backup_names(&aws.dynamodb, &n.table).await.is_empty());
    assert!(
        table_exists(&aws, &n.table).await,
        "--delete-backups keeps the table"
    );
    installer_ok(&remove_all(&n.stack));
    assert!(!table_exists(&aws, &n.table).await);
    assert!(
        aws.s3
            .head_bucket()
            .bucket(n.bucket())
            .send()
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_missing_table_stops_up_before_any_write() {
    let aws = clients().await;
    let n = Names::new();
    create_movies_table(&aws.dynamodb, &n.table).await;
    // A typo of the table that exists: one character dropped.
    let typo = n.table.replacen("Movies", "Movis", 1);
    for command in ["up", "plan"] {
        let out = installer_at(&test_support::aws_endpoint())
            .env_remove("INSTALLER_CREATE_TABLE")
            .args([
                command, "--stack", &n.stack, "--table", &typo, "--zip", &n.zip,
            ])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{command}: {stderr}");
        let error = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or_default();
        assert!(
            error.contains(&format!("table {typo} does not exist")),
            "{error}"
        );
        assert!(
            error.contains(&format!("did you mean {}?", n.table)),
            "{error}"
        );
        assert!(error.contains("--create-table"), "{error}");
    }
    assert!(!table_exists(&aws, &typo).await, "no table made");
    assert!(!function_exists(&aws, &n.stack).await, "nothing made");
    assert!(!role_exists(&aws, &n.stack).await, "no role made");
}

#[tokio::test]
async fn status_and_plan_print_their_results_on_stdout() {
    let n = Names::new();
    run("up", &n, &[]);
    for command in ["status", "plan"] {
        let args = match command {
            "plan" => [vec![command], n.flags(&[])].concat(),
            _ => vec![command, "--stack", &n.stack],
        };
        let out = installer(&args);
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert!(out.status.success(), "{stderr}");
        // What `installer status | grep function` finds.
        let line = stdout
            .lines()
            .find(|l| l.trim_start().starts_with("function"))
            .unwrap_or_else(|| panic!("{command}: no function line on stdout:\n{stdout}"));
        assert!(line.contains(&n.stack), "{line}");
        assert!(
            !stderr.contains(line),
            "{command}: the result is not on stderr"
        );
    }
    // The function changed behind the tool's back: real drift, the status's verdict, exit 3.
    clients()
        .await
        .lambda
        .update_function_configuration()
        .function_name(&n.stack)
        .memory_size(256)
        .send()
        .await
        .unwrap();
    let out = installer(&["status", "--stack", &n.stack]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("the stack drifted from its deployed settings: 1 resource(s)"),
        "{stderr}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("differs: configuration"), "{stdout}");
    installer_ok(&remove_all(&n.stack));
}

#[tokio::test]
async fn outside_us_east_1_the_bucket_is_made_in_the_stack_region() {
    let n = Names::new();
    let mut args = vec!["up", "--region", "eu-west-1"];
    args.extend(n.flags(&[]));
    installer_ok(&args);
    let config = moto_config()
        .await
        .into_builder()
        .region(aws_config::Region::new("eu-west-1"))
        .build();
    let s3 = aws_sdk_s3::Client::new(&config);
    let bucket = format!("{}-logs-123456789012-eu-west-1", n.stack);
    let location = s3
        .get_bucket_location()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    assert_eq!(
        location.location_constraint().map(|l| l.as_str()),
        Some("eu-west-1")
    );
    installer_ok(&[
        "down",
        "--yes",
        "--delete-data",
        "--region",
        "eu-west-1",
        "--stack",
        &n.stack,
    ]);
}

#[test]
fn missing_credentials_are_one_clear_line() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_installer"))
        .args(["status", "--region", "us-east-1"])
        .env_clear()
        .env("AWS_ENDPOINT_URL", test_support::aws_endpoint())
        .env("HOME", "/nonexistent")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run installer");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("no AWS credentials found"), "{stderr}");
    assert!(stderr.contains("aws configure"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
}

#[test]
fn an_unreachable_endpoint_is_one_clear_line() {
    let out = crate::support::cli::installer_with_endpoint(&["status"], "http://127.0.0.1:9");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("could not reach the endpoint http://127.0.0.1:9"),
        "{stderr}"
    );
    assert!(stderr.contains("--endpoint-url"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
}

#[tokio::test]
async fn a_stale_invoke_permission_is_replaced_not_duplicated() {
    let aws = clients().await;
    let n = Names::new();
    run("up", &n, &[]);
    let statement_id = format!("{}-schedule-invoke", n.stack);
    aws.lambda
        .remove_permission()
        .function_name(&n.stack)
        .statement_id(&statement_id)
        .send()
        .await
        .unwrap();
    aws.lambda
        .add_permission()
        .function_name(&n.stack)
        .statement_id(&statement_id)
        .action("lambda:InvokeFunction")
        .principal("events.amazonaws.com")
        .source_arn("arn:aws:events:us-east-1:123456789012:rule/someone-elses")
        .send()
        .await
        .unwrap();

    let plan = run("up", &n, &[]);
    assert!(plan.contains("update (permission)"), "{plan}");
    let policy = aws
        .lambda
        .get_policy()
        .function_name(&n.stack)
        .send()
        .await
        .unwrap();
    let policy: Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
    let statements = policy["Statement"].as_array().unwrap();
    assert_eq!(statements.len(), 1, "{policy}");
    assert_eq!(
        statements[0]["Condition"]["ArnLike"]["AWS:SourceArn"],
        format!(
            "arn:aws:events:us-east-1:123456789012:rule/{}-schedule",
            n.stack
        )
    );
    assert!(run("up", &n, &[]).contains("no changes"));
    installer_ok(&remove_all(&n.stack));
}

#[tokio::test]
async fn output_json_is_one_document_on_stdout_and_quiet_silences_the_report() {
    let n = Names::new();
    let mut args = vec!["--output", "json", "-q", "up"];
    args.extend(n.flags(&[]));
    let out = installer(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "-q: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let up: Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    crate::support::schema::assert_valid(&up);
    assert_eq!(up["command"], "up");
    assert_eq!(up["changes"], true);
    let resources = up["resources"].as_array().expect("resources");
    let kinds: Vec<&str> = resources
        .iter()
        .filter_map(|r| r["kind"].as_str())
        .collect();
    assert_eq!(
        kinds,
        [
            "log group",
            "role",
            "bucket",
            "table",
            "function",
            "schedule",
            "settings"
        ]
    );
    assert!(resources.iter().all(|r| r["action"] == "create"), "{up}");
    for phase in ["connect_ms", "observe_ms", "apply_ms"] {
        assert!(up["phases_ms"][phase].is_u64(), "{phase} in {up}");
    }
    assert_eq!(up["phases_ms"]["apply_ms"], up["elapsed_ms"]);
    assert_eq!(
        up["function_arn"],
        format!("arn:aws:lambda:us-east-1:123456789012:function:{}", n.stack)
    );

    let args = ["--output", "json", "status", "--stack", &n.stack];
    let status: Value = serde_json::from_slice(&installer(&args).stdout).expect("JSON");
    crate::support::schema::assert_valid(&status);
    assert!(
        status["resources"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["action"] == "none"),
        "{status}"
    );
    assert_eq!(status["tables"][0]["table"], n.table.as_str());

    let down = installer(&[
        "--output",
        "json",
        "down",
        "--yes",
        "--delete-data",
        "--stack",
        &n.stack,
    ]);
    let down: Value = serde_json::from_slice(&down.stdout).expect("JSON");
    crate::support::schema::assert_valid(&down);
    assert_eq!(down["command"], "down");
    assert!(
        down["resources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["kind"] == "function" && r["action"] == "delete")
    );
}

/// `up` at a terminal shows the plan and asks before it widens what the role may do (or deletes
/// something); "no" changes nothing, `--yes` applies. Run under `script`, which gives `up` a
/// terminal as a person's shell would.
#[tokio::test]
async fn up_at_a_terminal_asks_before_widening_the_role() {
    let aws = clients().await;
    let n = Names::new();
    run("up", &n, &[]);
    let at_terminal = |extra: &[&str], answer: &str| {
        let mut words = vec![env!("CARGO_BIN_EXE_installer"), "up"];
        words.extend(n.flags(extra));
        let mut child = std::process::Command::new("script")
            .args(["-qec", &words.join(" "), "/dev/null"])
            .env("AWS_ENDPOINT_URL", test_support::aws_endpoint())
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            .env_remove("AWS_PROFILE")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("script (util-linux) runs the installer at a terminal");
        {
            use std::io::Write as _;
            let mut stdin = child.stdin.take().unwrap();
            let _ = stdin.write_all(answer.as_bytes());
        }
        let out = child.wait_with_output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let drill_statements = || async {
        crate::support::aws::role_statements(&aws, &n.stack)
            .await
            .iter()
            .filter(|s| s["Sid"] == "CheckOwnTablesBackups")
            .count()
    };
    let refused = at_terminal(&["--drill-every", "7d"], "no\n");
    assert!(refused.contains("need your approval"), "{refused}");
    assert!(refused.contains("up cancelled"), "{refused}");
    assert_eq!(drill_statements().await, 0, "nothing changed");
    let applied = at_terminal(&["--drill-every", "7d", "--yes"], "");
    assert!(!applied.contains("need your approval"), "{applied}");
    assert_eq!(drill_statements().await, 1, "applied with --yes");
    installer_ok(&remove_all(&n.stack));
}
