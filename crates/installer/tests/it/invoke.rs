//! `installer invoke` and `logs` against moto: the deployed zip's bootstrap runs here under a
//! Lambda Runtime API (moto cannot run functions), making and pruning real backups, writing run
//! records, and leaving its log lines where `logs` finds them.

use crate::support::cli::{built_zip_path, installer, installer_ok, remove_all};
use crate::support::stack::Stack;
use serde_json::Value;
use test_support::{backup_names, moto_config, unique_name};

#[tokio::test]
async fn four_local_invokes_leave_three_backups_records_and_logs() {
    let config = moto_config().await;
    let db = aws_sdk_dynamodb::Client::new(&config);
    let s3 = aws_sdk_s3::Client::new(&config);
    let deployed = Stack::new("inv");
    let (stack, table) = (deployed.name.clone(), deployed.table.clone());
    deployed.ok("up", &[]);

    let mut created = Vec::new();
    let mut deleted = Vec::new();
    let mut last = Value::Null;
    for _ in 0..4 {
        let out = deployed.run("invoke", &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(stderr.contains("locally"), "{stderr}");
        assert!(
            stderr.contains("  INFO  backup created  arn="),
            "log lines are shown, for reading: {stderr}"
        );
        let result: Value =
            serde_json::from_slice(&out.stdout).expect("the function's JSON result");
        assert_eq!(result["status"], "ok");
        assert_eq!(result["table"], table.as_str());
        assert!(
            result["record_uri"].is_string(),
            "the run record was written: {result}"
        );
        created.push(result["backup_created"]["arn"].as_str().unwrap().to_owned());
        for gone in result["deleted"].as_array().unwrap() {
            deleted.push(gone["arn"].as_str().unwrap().to_owned());
        }
        last = result;
    }
    // Run back to back, the oldest backup may still be CREATING when the fourth run would delete
    // it (DynamoDB refuses that): the run then leaves it for a later one and says so.
    // Two runs in one second make backups of one name (names are to the second, as in the
    // tutorial): the older is a copy, deleted like any backup past the newest three.
    let still_creating = last["still_creating"].as_array().unwrap().len();
    let kept = last["kept"].as_array().unwrap().len();
    let names: std::collections::BTreeSet<&str> = last["kept"]
        .as_array()
        .unwrap()
        .iter()
        .chain(last["still_creating"].as_array().unwrap())
        .map(|n| n.as_str().unwrap())
        .collect();
    assert_eq!(
        kept,
        names.len().min(3),
        "the newest three names are kept: {last}"
    );
    assert_eq!(
        deleted.len() + kept + still_creating,
        4,
        "every backup is kept, deleted or left while CREATING: {last}"
    );
    let listed = db.list_backups().table_name(&table).send().await.unwrap();
    let mut arns: Vec<&str> = listed
        .backup_summaries()
        .iter()
        .filter_map(|b| b.backup_arn())
        .collect();
    arns.sort();
    let mut left: Vec<&str> = created
        .iter()
        .filter(|a| !deleted.contains(a))
        .map(String::as_str)
        .collect();
    left.sort();
    assert_eq!(arns, left, "exactly what was made and not deleted remains");
    assert_eq!(
        backup_names(&db, &table).await.len(),
        kept + still_creating,
        "what is kept remains, and any still being made"
    );

    let bucket = format!("{stack}-logs-123456789012-us-east-1");
    let records = s3
        .list_objects_v2()
        .bucket(&bucket)
        .prefix(format!("runs/{table}/"))
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = records
        .contents()
        .iter()
        .filter_map(|o| o.key())
        .filter(|k| !k.contains("/fingerprints/"))
        .collect();
    let (ledgers, runs): (Vec<&str>, Vec<&str>) = keys.iter().partition(|k| k.contains("/daily/"));
    assert_eq!(runs.len(), 4, "one run record per invoke: {keys:?}");
    // One ledger per UTC day: two if the invokes straddle midnight.
    let mut lines = 0;
    for key in &ledgers {
        let ledger = s3
            .get_object()
            .bucket(&bucket)
            .key(*key)
            .send()
            .await
            .unwrap();
        let ledger: backup_lambda::ledger::DayLedger =
            serde_json::from_slice(&ledger.body.collect().await.unwrap().into_bytes()).unwrap();
        lines += ledger.runs.len();
    }
    assert_eq!(
        lines, 4,
        "each invoke appended its line to its day's ledger: {keys:?}"
    );

    // For reading: level, message and fields; metrics as their values.
    let readable = deployed.run("logs", &[]);
    let readable = String::from_utf8_lossy(&readable.stdout);
    assert_eq!(
        readable.matches(" INFO  run finished  ").count(),
        4,
        "{readable}"
    );
    assert_eq!(
        readable.matches(" metrics BackupMade=1").count(),
        4,
        "{readable}"
    );
    assert!(!readable.contains("xrayTraceId"), "{readable}");

    // As the function wrote them, with --raw.
    let logs = deployed.run("logs", &["--raw"]);
    let printed = String::from_utf8_lossy(&logs.stdout);
    assert!(logs.status.success());
    assert_eq!(printed.matches("START RequestId:").count(), 4, "{printed}");
    assert_eq!(
        printed.matches("\"message\":\"run finished\"").count(),
        4,
        "{printed}"
    );
    assert!(printed.contains("REPORT RequestId:"), "{printed}");
    // One metrics line per run, in CloudWatch's embedded metric format.
    let emf: Vec<Value> = printed
        .lines()
        .filter_map(|l| l.split_once(' ').map(|(_, message)| message))
        .filter_map(|m| serde_json::from_str::<Value>(m).ok())
        .filter(|v| v.get("_aws").is_some())
        .collect();
    assert_eq!(emf.len(), 4, "{printed}");
    for doc in &emf {
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Namespace"],
            "ScheduledDynamoDBBackups"
        );
        assert_eq!(doc["Stack"], stack.as_str());
        assert_eq!(doc["Table"], table.as_str());
        assert_eq!(doc["BackupMade"], 1.0);
    }

    installer_ok(&remove_all(&stack));
}

#[tokio::test]
async fn invoking_a_table_without_a_schedule_target_says_how_to_fix_it() {
    let stack = unique_name("inv");
    let out = installer(&["invoke", "--stack", &stack, "--table", "Movies"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("has no target for table Movies; deploy it with `installer up"),
        "{stderr}"
    );
}

/// The schedule invokes asynchronously, and Lambda retries a failed asynchronous invocation
/// (twice by default) with the same request id. A local invoke does what Lambda would: once with
/// `up`'s settings (no retries), three times, one request id, where the function is left with
/// Lambda's defaults.
#[tokio::test]
async fn a_failed_run_is_retried_as_lambda_would_retry_a_scheduled_one() {
    let config = moto_config().await;
    let db = aws_sdk_dynamodb::Client::new(&config);
    let lambda = aws_sdk_lambda::Client::new(&config);
    let deployed = Stack::new("rty");
    let (stack, table) = (deployed.name.clone(), deployed.table.clone());
    deployed.ok("up", &[]);
    // The table is gone: every run fails at its backup.
    db.delete_table().table_name(&table).send().await.unwrap();
    let starts = |stderr: &str| -> Vec<String> {
        stderr
            .lines()
            .filter_map(|l| l.split("START RequestId: ").nth(1))
            .map(|rest| {
                rest.split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect()
    };

    let out = deployed.run("invoke", &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert_eq!(starts(&stderr).len(), 1, "no retries after up: {stderr}");

    lambda
        .delete_function_event_invoke_config()
        .function_name(&stack)
        .send()
        .await
        .expect("back to Lambda's defaults");
    let out = deployed.run("invoke", &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    let ids = starts(&stderr);
    assert_eq!(ids.len(), 3, "two retries by default: {stderr}");
    assert!(
        ids.iter().all(|id| id == &ids[0]),
        "one request id: {ids:?}"
    );

    deployed.ok("down", &["--yes", "--delete-data"]);
}

/// Two stacks back up one table: each keeps its own newest N and never prunes the other's, and
/// an unmarked backup (the tutorial's name format) is nobody's until one stack adopts it.
#[tokio::test]
async fn two_stacks_on_one_table_keep_their_own_backups() {
    let config = moto_config().await;
    let db = aws_sdk_dynamodb::Client::new(&config);
    let table = unique_name("Shared");
    test_support::create_movies_table(&db, &table).await;
    let unmarked = format!("{table}-20260101000000");
    db.create_backup()
        .table_name(&table)
        .backup_name(&unmarked)
        .send()
        .await
        .unwrap();
    let zip = built_zip_path().display().to_string();
    let stacks = [unique_name("one"), unique_name("two")];
    let run = |stack: &str, command: &str, extra: &[&str]| {
        let mut args = vec![command, "--stack", stack];
        if matches!(command, "up" | "plan") {
            args.extend(["--table", &table, "--zip", &zip]);
        }
        args.extend(extra);
        installer_ok(&args)
    };
    for stack in &stacks {
        run(stack, "up", &["--keep", "2"]);
    }
    let invoke = |stack: &str| -> Value {
        let out = installer(&["invoke", "--stack", stack, "--table", &table]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("the function's JSON result")
    };
    let marked = |stack: &str, name: &str| {
        name.strip_prefix(&format!("{table}-{stack}-"))
            .is_some_and(|stamp| stamp.len() == 14)
    };
    let mut newest: Vec<String> = Vec::new();
    for round in 0..3 {
        for stack in &stacks {
            let result = invoke(stack);
            let name = result["backup_created"]["name"]
                .as_str()
                .unwrap()
                .to_owned();
            assert!(marked(stack, &name), "{name} carries its stack");
            for gone in result["deleted"].as_array().unwrap() {
                let gone = gone["name"].as_str().unwrap();
                assert!(marked(stack, gone), "{stack} deleted {gone}, not its own");
            }
            if round == 2 {
                newest.push(name);
            }
        }
        // Names are to the second: the next round's are new names.
        std::thread::sleep(std::time::Duration::from_millis(1100));
    }
    let names = backup_names(&db, &table).await;
    assert!(
        names.contains(&unmarked),
        "never deleted implicitly: {names:?}"
    );
    for (stack, name) in stacks.iter().zip(&newest) {
        assert!(names.contains(name), "{stack}'s newest is kept: {names:?}");
        let own = names.iter().filter(|n| marked(stack, n)).count();
        assert!(
            (2..=3).contains(&own),
            "{stack} keeps its 2 (one may be CREATING): {names:?}"
        );
    }

    // `plan` lists the unmarked backup; `up --adopt-backups` makes it the first stack's, whose
    // next run prunes it as its oldest.
    let plan = run(&stacks[0], "plan", &[]);
    assert!(
        plan.contains("1 unmarked backup(s), not this stack's"),
        "{plan}"
    );
    let adopted = run(&stacks[0], "up", &["--adopt-backups"]);
    assert!(adopted.contains("adopt 1 unmarked backup(s)"), "{adopted}");
    let result = invoke(&stacks[0]);
    let deleted: Vec<&str> = result["deleted"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["name"].as_str())
        .collect();
    assert!(deleted.contains(&unmarked.as_str()), "{result}");

    // `down --delete-backups` of one stack leaves the other's.
    run(&stacks[0], "down", &["--yes", "--delete-backups"]);
    let names = backup_names(&db, &table).await;
    assert!(!names.iter().any(|n| marked(&stacks[0], n)), "{names:?}");
    assert!(
        names.iter().filter(|n| marked(&stacks[1], n)).count() >= 2,
        "{names:?}"
    );
    run(&stacks[1], "down", &["--yes", "--delete-data"]);
    assert!(backup_names(&db, &table).await.is_empty());
}
