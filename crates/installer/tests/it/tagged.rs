//! Tables chosen by tag, through the strict layer (where new tags show in ListTagsOfResource
//! only after a while, as TagResource's reference says they may: 20 s here, longer than a run
//! reading every table's tags at DynamoDB's 10 a second takes, whatever other tests left in
//! moto): `up --table-tag backup=daily`
//! makes one rule whose one target sends the tag and a policy conditioned on it; a run backs up
//! the tagged tables only; a table tagged after `up` is picked up once its tag shows, with no
//! new `up`; `status` lists the tagged tables; `down` deletes the function's backups of them and
//! leaves the tables, which are not the stack's.

use std::time::Duration;

use crate::support::aws::{Clients, clients};
use crate::support::cli::{built_zip_path, installer_at, invoke_result_at};
use aws_sdk_dynamodb::types::Tag;
use serde_json::Value;
use test_support::proxy::Proxy;
use test_support::strict::{Strict, Windows};
use test_support::{config_for, moto_endpoint, unique_name};

/// How long new tags take to show in ListTagsOfResource through this test's strict layer.
const TAGS_SHOW_AFTER: Duration = Duration::from_secs(20);

/// Tags `table` through `endpoint`, as a user's own tooling would on AWS.
async fn tag(endpoint: &str, table: &str, value: &str) {
    let arn = format!("arn:aws:dynamodb:us-east-1:123456789012:table/{table}");
    let client = aws_sdk_dynamodb::Client::new(&config_for(endpoint).await);
    client
        .tag_resource()
        .resource_arn(arn)
        .tags(Tag::builder().key("backup").value(value).build().unwrap())
        .send()
        .await
        .unwrap();
}

async fn backups(aws: &Clients, table: &str) -> usize {
    aws.dynamodb
        .list_backups()
        .table_name(table)
        .send()
        .await
        .unwrap()
        .backup_summaries()
        .len()
}

fn tables_of(result: &Value) -> Vec<String> {
    result["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["table"].as_str().unwrap().to_owned())
        .collect()
}

/// `installer <args>` through `proxy`: its result (stdout) then its report (stderr), after
/// checking it succeeded.
fn ok(proxy: &Proxy, args: &[&str]) -> String {
    let out = installer_at(proxy.endpoint())
        .args(args)
        .output()
        .expect("run installer");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "installer {args:?} failed:\n{stderr}");
    String::from_utf8_lossy(&out.stdout).into_owned() + &stderr
}

/// `installer --output json invoke <args>` through `proxy`: the function's result.
fn invoke(proxy: &Proxy, args: &[&str]) -> Value {
    invoke_result_at(proxy.endpoint(), args)
}

#[tokio::test(flavor = "multi_thread")]
async fn tagged_tables_are_found_on_every_run() {
    let aws = clients().await;
    let proxy = Proxy::with(
        &moto_endpoint(),
        None,
        Some(Strict::aws(Windows {
            tags_propagation: TAGS_SHOW_AFTER,
            ..Windows::default()
        })),
    );
    let stack = unique_name("tag");
    // A value of this test's own, so that other tests' tables never match.
    let value = unique_name("daily");
    let selector = format!("backup={value}");
    let (first, second, untagged, later) = (
        unique_name("Orders"),
        unique_name("Movies"),
        unique_name("Scratch"),
        unique_name("Late"),
    );
    for table in [&first, &second, &untagged, &later] {
        test_support::create_movies_table(&aws.dynamodb, table).await;
    }
    // Tagged before this test's layer saw them: they show at once.
    let moto = moto_endpoint();
    tag(&moto, &first, &value).await;
    tag(&moto, &second, &value).await;
    tag(&moto, &untagged, "weekly").await;

    let zip = built_zip_path().display().to_string();
    let base = ["--stack", stack.as_str(), "--table-tag", selector.as_str()];
    let mut up = vec!["up", "--zip", zip.as_str()];
    up.extend(base);
    ok(&proxy, &up);
    let rule = aws
        .events
        .list_targets_by_rule()
        .rule(format!("{stack}-schedule"))
        .send()
        .await
        .unwrap();
    let [target] = rule.targets() else {
        panic!("one target: {rule:?}");
    };
    assert_eq!(target.id(), "backup-by-tag");
    let input: Value = serde_json::from_str(target.input().unwrap()).unwrap();
    assert_eq!(input["TableTag"]["Key"], "backup");
    assert_eq!(input["TableTag"]["Value"], value.as_str());

    // Every command but `up` by the stack's name alone: it knows its tag, so `plan` with no
    // flags is "no changes".
    let by_name = ["--stack", stack.as_str()];
    let mut plan = vec!["plan", "--zip", zip.as_str()];
    plan.extend(by_name);
    let planned = ok(&proxy, &plan);
    assert!(planned.contains("no changes"), "{planned}");
    let run = invoke(&proxy, &by_name);
    let mut expected = vec![first.clone(), second.clone()];
    expected.sort();
    assert_eq!(tables_of(&run), expected, "{run}");
    // Two tables: the account's backups listed once (or, in an emulator shared with the other
    // tests' backups, given up after two pages), never one listing per table from the start.
    let mode = run["listing"]["mode"].as_str();
    assert!(
        matches!(mode, Some("account" | "account_abandoned")),
        "{run}"
    );
    assert_eq!(
        backups(&aws, &untagged).await,
        0,
        "untagged tables are left alone"
    );

    // Tagged after `up`: not listed at once (DynamoDB applies tags eventually), then backed up
    // by the next run, with no new `up`.
    tag(proxy.endpoint(), &later, &value).await;
    let tagged = tokio::time::Instant::now();
    let missed = invoke(&proxy, &by_name);
    assert!(
        tagged.elapsed() < TAGS_SHOW_AFTER,
        "the run outlasted the tags' propagation; raise TAGS_SHOW_AFTER"
    );
    assert!(!tables_of(&missed).contains(&later), "{missed}");
    tokio::time::sleep_until(tagged + TAGS_SHOW_AFTER).await;
    assert!(tables_of(&invoke(&proxy, &by_name)).contains(&later));
    assert_eq!(backups(&aws, &later).await, 1);

    let mut status = vec!["status"];
    status.extend(by_name);
    let stderr = ok(&proxy, &status);
    assert!(!stderr.contains("differs"), "no drift: {stderr}");
    for table in [&first, &second, &later] {
        assert!(stderr.contains(&format!("backups of {table}:")), "{stderr}");
    }
    assert!(
        !stderr.contains(&format!("backups of {untagged}:")),
        "{stderr}"
    );

    let mut down = vec!["down", "--yes", "--delete-data"];
    down.extend(by_name);
    ok(&proxy, &down);
    for table in [&first, &second, &later] {
        assert_eq!(
            backups(&aws, table).await,
            0,
            "the function's backups of {table} go"
        );
        assert!(
            aws.dynamodb
                .describe_table()
                .table_name(table.as_str())
                .send()
                .await
                .is_ok(),
            "{table} is not the stack's: it stays"
        );
    }
}

#[test]
fn a_tag_is_checked_before_any_request() {
    let closed = "http://127.0.0.1:9";
    for (args, expected) in [
        (vec!["--table-tag", "backup"], "invalid --table-tag"),
        (vec!["--table-tag", "=daily"], "invalid --table-tag"),
        (
            vec![
                "--table-tag",
                "backup=daily",
                "--export",
                "daily",
                "--enable-pitr",
            ],
            "--enable-pitr needs tables named",
        ),
        (
            vec!["--table-tag", "backup=daily", "--table", "Movies"],
            "cannot be used with",
        ),
    ] {
        let mut all = vec!["up"];
        all.extend(args.iter().copied());
        let out = crate::support::cli::installer_with_endpoint(&all, closed);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}
