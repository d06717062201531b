//! Many tables in one stack, through the strict layer: EventBridge takes five targets per rule,
//! so seven tables need two rules; fewer tables later retire the second rule; `invoke` finds a
//! table's target in whichever rule holds it; `down` removes every rule. Too many tables for
//! IAM's policy size is refused before anything is written.

use std::collections::BTreeSet;

use crate::support::aws::{clients, policy_statements};
use crate::support::cli::{built_zip_path, installer, installer_at, installer_ok};
use test_support::proxy::Proxy;
use test_support::{moto_endpoint, unique_name};

/// The ids of the targets of rule `rule`, or `None` if it does not exist.
async fn targets(events: &aws_sdk_eventbridge::Client, rule: &str) -> Option<BTreeSet<String>> {
    let out = events.list_targets_by_rule().rule(rule).send().await.ok()?;
    Some(out.targets().iter().map(|t| t.id().to_owned()).collect())
}

#[tokio::test(flavor = "multi_thread")]
async fn seven_tables_take_two_rules_and_three_take_one_again() {
    let aws = clients().await;
    let stack = unique_name("many");
    let tables: Vec<String> = (0..7).map(|i| unique_name(&format!("T{i}"))).collect();
    let zip = built_zip_path().display().to_string();
    let args = |command: &'static str, n: usize| {
        let mut args = vec![command, "--stack", stack.as_str(), "--zip", zip.as_str()];
        for table in &tables[..n] {
            args.extend(["--table", table.as_str()]);
        }
        args
    };

    let report = installer_ok(&args("up", 7));
    let first = format!("{stack}-schedule");
    let second = format!("{stack}-schedule-2");
    assert!(report.contains(&second), "{report}");
    let ids = |range: std::ops::Range<usize>| -> BTreeSet<String> {
        tables[range]
            .iter()
            .map(|t| format!("backup-{t}"))
            .collect()
    };
    assert_eq!(targets(&aws.events, &first).await, Some(ids(0..5)));
    assert_eq!(targets(&aws.events, &second).await, Some(ids(5..7)));
    let sources: BTreeSet<String> = policy_statements(&aws, &stack)
        .await
        .iter()
        .filter_map(|s| {
            s["Condition"]["ArnLike"]["AWS:SourceArn"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(
        sources.len(),
        2,
        "one invoke permission per rule: {sources:?}"
    );

    // One execution reserved per table's target, so seven tables' runs need not queue.
    let reserved = |aws: &crate::support::aws::Clients| {
        let lambda = aws.lambda.clone();
        let stack = stack.clone();
        async move {
            lambda
                .get_function()
                .function_name(&stack)
                .send()
                .await
                .expect("the function")
                .concurrency()
                .and_then(|c| c.reserved_concurrent_executions())
        }
    };
    assert_eq!(reserved(&aws).await, Some(7));

    let again = installer_ok(&args("up", 7));
    assert!(again.contains("no changes"), "{again}");

    // The seventh table's target is in the second rule: invoke finds it there.
    let out = installer(&[
        "invoke", "--stack", &stack, "--table", &tables[6], "--zip", &zip,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON result");
    assert_eq!(result["table"], tables[6].as_str());

    let shrunk = installer_ok(&args("up", 3));
    assert!(shrunk.contains("delete (no longer needed)"), "{shrunk}");
    assert_eq!(targets(&aws.events, &first).await, Some(ids(0..3)));
    assert_eq!(
        targets(&aws.events, &second).await,
        None,
        "the second rule is gone"
    );
    assert_eq!(policy_statements(&aws, &stack).await.len(), 1);
    assert_eq!(reserved(&aws).await, Some(3), "and three for three tables");

    // `down` removes what the stack is now, and, named with --table, the four tables it no
    // longer backs up (made by it, so deleted with --delete-data).
    let mut down = vec!["down", "--stack", &stack, "--yes", "--delete-data"];
    for table in &tables[3..] {
        down.extend(["--table", table.as_str()]);
    }
    installer_ok(&down);
    assert_eq!(targets(&aws.events, &first).await, None);
    for table in &tables {
        let gone = aws.dynamodb.describe_table().table_name(table).send().await;
        assert!(gone.is_err(), "{table} is deleted");
    }
}

#[test]
fn more_tables_than_the_role_policy_can_name_are_refused_before_any_write() {
    let proxy = Proxy::start(&moto_endpoint(), None);
    let stack = unique_name("huge");
    let zip = built_zip_path().display().to_string();
    // 255-character names: about 20 fit in IAM's 10,240 characters; 40 do not.
    let tables: Vec<String> = (0..40)
        .map(|i| format!("{i:03}{}", "x".repeat(252)))
        .collect();
    let mut args = vec!["up", "--stack", stack.as_str(), "--zip", zip.as_str()];
    for table in &tables {
        args.extend(["--table", table.as_str()]);
    }
    let out = installer_at(proxy.endpoint())
        .args(&args)
        .output()
        .expect("run installer");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("over IAM's limit of 10240") && stderr.contains("--stack"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    assert_eq!(proxy.writes(), Vec::new(), "nothing was written");
}
