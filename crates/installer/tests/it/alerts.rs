//! Alerts through the strict layer: `up --alert-email ... --alert-topic ... --alert-kms-key ...`
//! makes the topic, its policy, its subscriptions and the alarms, each checked field by field
//! against moto; `status` shows e-mail subscriptions pending confirmation (as SNS keeps them
//! until the address confirms) and each alarm's state; a second `up` changes nothing; turning
//! drills off removes their alarm; `down` leaves none of it and never touches the topic it was
//! only given. Bad addresses, ARNs and keys fail before any request.

use crate::support::aws::{clients, function_exists, leftovers};
use crate::support::cli::{
    built_zip_path, installer, installer_ok, installer_with_endpoint, remove_all,
};
use aws_sdk_cloudwatch::types::MetricAlarm;
use serde_json::{Value, json};
use test_support::unique_name;

const KEY: &str = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

fn dimensions(alarm: &MetricAlarm) -> Vec<(String, String)> {
    let mut d: Vec<(String, String)> = alarm
        .dimensions()
        .iter()
        .map(|d| (d.name().unwrap().to_owned(), d.value().unwrap().to_owned()))
        .collect();
    d.sort();
    d
}

#[tokio::test(flavor = "multi_thread")]
async fn up_makes_the_topic_subscriptions_and_alarms_and_down_removes_them() {
    let aws = clients().await;
    let stack = unique_name("alr");
    let table = unique_name("Movies");
    let zip = built_zip_path().display().to_string();
    // A topic of the team's own, which the stack notifies but must never change or delete.
    let theirs = aws
        .sns
        .create_topic()
        .name(unique_name("team-pager"))
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    let ours = format!("arn:aws:sns:us-east-1:123456789012:{stack}-alerts");
    let args = |extra: &[&str]| -> Vec<String> {
        let mut a = vec![
            "--stack",
            &stack,
            "--table",
            &table,
            "--zip",
            &zip,
            "--schedule",
            "rate(1 hour)",
            "--export",
            "daily",
            "--alert-email",
            "ops@example.com",
            "--alert-email",
            "DBA@example.com",
            "--alert-topic",
            &theirs,
            "--alert-kms-key",
            KEY,
        ];
        a.extend(extra);
        a.into_iter().map(str::to_owned).collect()
    };
    let run = |command: &str, extra: &[&str]| {
        let mut all = vec![command.to_owned()];
        all.extend(args(extra));
        installer_ok(&all.iter().map(String::as_str).collect::<Vec<_>>())
    };
    run("up", &["--drill-every", "7d"]);

    // The topic: tagged, encrypted with the given key, only CloudWatch alarms of this account
    // may publish.
    let attributes = aws
        .sns
        .get_topic_attributes()
        .topic_arn(&ours)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap();
    assert_eq!(attributes["KmsMasterKeyId"], KEY);
    let policy: Value = serde_json::from_str(&attributes["Policy"]).unwrap();
    assert_eq!(
        policy["Statement"],
        json!([{
            "Sid": "OnlyThisAccountsCloudWatchAlarmsPublish",
            "Effect": "Allow",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Action": "sns:Publish",
            "Resource": ours,
            "Condition": {
                "ArnLike": {"aws:SourceArn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:*"},
                "StringEquals": {"aws:SourceAccount": "123456789012"}
            }
        }])
    );
    let tags = aws
        .sns
        .list_tags_for_resource()
        .resource_arn(&ours)
        .send()
        .await
        .unwrap();
    assert!(
        tags.tags()
            .iter()
            .any(|t| t.key == "stack" && t.value == stack),
        "{tags:?}"
    );
    let subscribed = aws
        .sns
        .list_subscriptions_by_topic()
        .topic_arn(&ours)
        .send()
        .await
        .unwrap();
    let mut endpoints: Vec<(&str, &str)> = subscribed
        .subscriptions()
        .iter()
        .map(|s| (s.protocol().unwrap(), s.endpoint().unwrap()))
        .collect();
    endpoints.sort();
    assert_eq!(
        endpoints,
        [("email", "DBA@example.com"), ("email", "ops@example.com")]
    );

    // The alarms, field by field.
    let found = aws
        .cloudwatch
        .describe_alarms()
        .alarm_name_prefix(format!("{stack}-"))
        .send()
        .await
        .unwrap();
    let alarm = |suffix: &str| {
        let name = format!("{stack}-{suffix}");
        found
            .metric_alarms()
            .iter()
            .find(|a| a.alarm_name() == Some(name.as_str()))
            .unwrap_or_else(|| panic!("alarm {name} in {found:#?}"))
            .clone()
    };
    assert_eq!(found.metric_alarms().len(), 5);
    let ours_and_theirs = vec![ours.clone(), theirs.clone()];
    let stack_table = vec![
        ("Stack".to_owned(), stack.clone()),
        ("Table".to_owned(), table.clone()),
    ];
    for (a, namespace, metric, dims, statistic, period, periods, comparison, missing) in [
        (
            alarm("function-errors"),
            "AWS/Lambda",
            "Errors",
            vec![("FunctionName".to_owned(), stack.clone())],
            "Sum",
            300,
            1,
            "GreaterThanOrEqualToThreshold",
            "notBreaching",
        ),
        (
            // One hour plus a 6-minute margin, minute by minute, missing data breaching.
            alarm(&format!("{table}-backup-missing")),
            "ScheduledDynamoDBBackups",
            "BackupMade",
            stack_table.clone(),
            "Sum",
            60,
            66,
            "LessThanThreshold",
            "breaching",
        ),
        (
            alarm(&format!("{table}-drill-failed")),
            "ScheduledDynamoDBBackups",
            "DrillPassed",
            stack_table.clone(),
            "Minimum",
            300,
            1,
            "LessThanThreshold",
            "ignore",
        ),
        (
            alarm(&format!("{table}-export-failed")),
            "ScheduledDynamoDBBackups",
            "ExportCompleted",
            stack_table.clone(),
            "Minimum",
            300,
            1,
            "LessThanThreshold",
            "ignore",
        ),
        (
            // A day, plus the hour between runs, plus a quarter day, hour by hour.
            alarm(&format!("{table}-export-missing")),
            "ScheduledDynamoDBBackups",
            "ExportCompleted",
            stack_table.clone(),
            "Sum",
            3600,
            31,
            "LessThanThreshold",
            "breaching",
        ),
    ] {
        let name = a.alarm_name().unwrap();
        assert_eq!(a.namespace(), Some(namespace), "{name}");
        assert_eq!(a.metric_name(), Some(metric), "{name}");
        assert_eq!(dimensions(&a), dims, "{name}");
        assert_eq!(a.statistic().map(|s| s.as_str()), Some(statistic), "{name}");
        assert_eq!(a.period(), Some(period), "{name}");
        assert_eq!(a.evaluation_periods(), Some(periods), "{name}");
        assert_eq!(
            a.datapoints_to_alarm(),
            Some(periods),
            "{name}: all of them"
        );
        assert_eq!(a.threshold(), Some(1.0), "{name}");
        assert_eq!(
            a.comparison_operator().map(|c| c.as_str()),
            Some(comparison),
            "{name}"
        );
        assert_eq!(a.treat_missing_data(), Some(missing), "{name}");
        assert_eq!(a.actions_enabled(), Some(true), "{name}");
        assert_eq!(
            a.alarm_actions(),
            ours_and_theirs,
            "{name}: notified on ALARM"
        );
        assert_eq!(a.ok_actions(), ours_and_theirs, "{name}: and on OK");
    }

    // status: subscriptions pending confirmation (the strict layer keeps them so), each alarm's
    // state.
    let mut status_args = vec![
        "--output".to_owned(),
        "json".to_owned(),
        "status".to_owned(),
    ];
    status_args.extend(["--stack".to_owned(), stack.clone()]);
    let out = installer(&status_args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    crate::support::schema::assert_valid(&status);
    let alerts = &status["alerts"];
    assert_eq!(alerts["topic"], ours.as_str());
    assert_eq!(alerts["other_topics"], json!([theirs]));
    let states: Vec<&str> = alerts["subscriptions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["pending confirmation", "pending confirmation"]);
    let alarms = alerts["alarms"].as_array().unwrap();
    assert_eq!(alarms.len(), 5);
    assert!(
        alarms
            .iter()
            .all(|a| ["OK", "ALARM", "INSUFFICIENT_DATA"].contains(&a["state"].as_str().unwrap())),
        "{alarms:#?}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("subscription email ops@example.com: pending confirmation"),
        "{stderr}"
    );

    // Idempotent: nothing to change.
    let mut plan_args = vec!["--output".to_owned(), "json".to_owned(), "plan".to_owned()];
    plan_args.extend(args(&["--drill-every", "7d"]));
    let out = installer(&plan_args.iter().map(String::as_str).collect::<Vec<_>>());
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    crate::support::schema::assert_valid(&plan);
    assert_eq!(
        plan["changes"],
        false,
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Drills off: their alarm goes, the others stay.
    run("up", &["--drill-every", "off"]);
    let left = aws
        .cloudwatch
        .describe_alarms()
        .alarm_name_prefix(format!("{stack}-"))
        .send()
        .await
        .unwrap();
    let mut names: Vec<&str> = left
        .metric_alarms()
        .iter()
        .filter_map(|a| a.alarm_name())
        .collect();
    names.sort();
    let missing = format!("{stack}-{table}-backup-missing");
    let errors = format!("{stack}-function-errors");
    let export_failed = format!("{stack}-{table}-export-failed");
    let export_missing = format!("{stack}-{table}-export-missing");
    let mut expected = [
        errors.as_str(),
        missing.as_str(),
        export_failed.as_str(),
        export_missing.as_str(),
    ];
    expected.sort_unstable();
    assert_eq!(names, expected);

    installer_ok(&remove_all(&stack));
    assert_eq!(leftovers(&aws, &stack, &table).await, Vec::<&str>::new());
    let still = aws
        .sns
        .get_topic_attributes()
        .topic_arn(&theirs)
        .send()
        .await;
    assert!(
        still.is_ok(),
        "the team's topic is not the stack's to delete"
    );
}

#[test]
fn a_schedule_too_long_for_an_alarm_gets_none_and_says_why() {
    let stack = unique_name("alw");
    let table = unique_name("Movies");
    let zip = built_zip_path().display().to_string();
    let base = [
        "--stack",
        &stack,
        "--table",
        &table,
        "--zip",
        &zip,
        "--schedule",
        "rate(7 days)",
        "--export",
        "weekly",
        "--alert-email",
        "ops@example.com",
    ];
    let out = installer(&[&["--output", "json", "plan"][..], &base].concat());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    let note = plan["alerts"]["note"].as_str().unwrap_or_default();
    assert!(note.contains("beyond the 7 days"), "{plan:#}");
    let export_note = plan["alerts"]["export_note"].as_str().unwrap_or_default();
    assert!(
        export_note.contains("no alarm can tell a missing export"),
        "{plan:#}"
    );
    let alarms: Vec<&str> = plan["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "alarm")
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        alarms,
        [
            format!("{stack}-function-errors"),
            format!("{stack}-{table}-export-failed")
        ],
        "no missing-backup or missing-export alarm"
    );
}

#[test]
fn bad_alert_settings_fail_before_any_request() {
    for (args, why) in [
        (
            vec!["--alert-email", "ops.example.com"],
            "invalid --alert-email \"ops.example.com\": it has no @",
        ),
        (vec!["--alert-email", "ops@localhost"], "not a domain name"),
        (vec!["--alert-email", "o ps@example.com"], "spaces"),
        (
            vec!["--alert-topic", "arn:aws:sqs:us-east-1:123456789012:q"],
            "invalid --alert-topic",
        ),
        (vec!["--alert-topic", "ops-alerts"], "invalid --alert-topic"),
        (
            vec![
                "--alert-email",
                "ops@example.com",
                "--alert-kms-key",
                "alias/aws/sns",
            ],
            "CloudWatch alarms cannot publish to a topic encrypted with the AWS managed key alias/aws/sns",
        ),
        (
            vec![
                "--alert-email",
                "ops@example.com",
                "--alert-kms-key",
                "my key",
            ],
            "invalid --alert-kms-key",
        ),
    ] {
        let mut all = vec!["up", "--table", "Movies"];
        all.extend(&args);
        // A closed port: a request would fail with a different message.
        let out = installer_with_endpoint(&all, "http://127.0.0.1:9");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(why), "{args:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    }
}

/// A key with no e-mail address is valid for a stack that has addresses, so it is judged once
/// the deployed settings are read: refused for a new stack, before any write.
#[tokio::test]
async fn a_key_without_addresses_is_refused_once_the_stack_is_known() {
    let stack = unique_name("alk");
    let out = installer(&[
        "up",
        "--stack",
        &stack,
        "--table",
        "Movies",
        "--alert-kms-key",
        "alias/mine",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("pass --alert-email too"), "{stderr}");
    assert!(
        !function_exists(&clients().await, &stack).await,
        "nothing made"
    );
}
