//! Incremental export chains end to end through the strict layer, whose point-in-time window
//! and incremental exports follow the table's clock (set back with the layer's `rewind`, so a
//! day of runs passes in seconds): `up --export daily --export-mode incremental`; a run begins
//! the chain with a full export at the latest restorable moment; later runs export the changes
//! since, back to back; an incremental that fails (the proxy's injected fault) is reported (the
//! run that finds it failed is partial, `invoke`'s verdict negative) and starts it again while
//! the recovery window covers it; `restore --from-export chain --time T` rebuilds the table at the latest
//! point at or before T (import, then the incrementals in order), proven by count and old
//! images; and bad input is one line before any write.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;
use test_support::proxy::Proxy;
use test_support::strict::{Strict, Windows};
use test_support::{config_for, moto_endpoint};

use crate::support::cli::{installer_with_endpoint, invoke_result_at};
use crate::support::stack::{Stack, as_strs};

use crate::support::items::{Item, movie};

/// The items of the table this test wrote (titles A to F; `up` loads sample movies too) as
/// `title -> rating`.
async fn contents(db: &aws_sdk_dynamodb::Client, table: &str) -> HashMap<String, String> {
    let out = db
        .scan()
        .table_name(table)
        .consistent_read(true)
        .send()
        .await
        .expect("scan");
    out.items()
        .iter()
        .map(|i| {
            let text = |name: &str| match i.get(name) {
                Some(AttributeValue::S(s) | AttributeValue::N(s)) => s.clone(),
                _ => "-".to_owned(),
            };
            (text("title"), text("rating"))
        })
        .filter(|(title, _)| ["A", "B", "C", "D", "E", "F"].contains(&title.as_str()))
        .collect()
}

fn expected(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(t, r)| ((*t).to_owned(), (*r).to_owned()))
        .collect()
}

/// A moment `ago` before now, as RFC 3339.
fn ago(ago: Duration) -> String {
    backup_lambda::record::rfc3339(time::OffsetDateTime::now_utc() - ago)
}

/// A strict proxy to moto whose exports are IN_PROGRESS for two seconds, with `windows`'
/// other settings.
fn proxy(windows: Windows) -> Proxy {
    Proxy::with(
        &moto_endpoint(),
        None,
        Some(Strict::aws(Windows {
            export_in_progress: Duration::from_secs(2),
            ..windows
        })),
    )
}

/// `installer <args>` through `at`, which must succeed: its stdout and stderr.
fn ok_at(at: &str, args: &[String]) -> (String, String) {
    let out = installer_with_endpoint(&as_strs(args), at);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "installer {args:?} failed:\n{stderr}");
    (String::from_utf8_lossy(&out.stdout).into_owned(), stderr)
}

/// `--output json restore --stack <stack> --table <table> --to <target> --from-export <pick>`.
fn restore_args(stack: &str, table: &str, target: &str, pick: &str) -> Vec<String> {
    [
        "--output",
        "json",
        "restore",
        "--stack",
        stack,
        "--table",
        table,
        "--to",
        target,
        "--from-export",
        pick,
    ]
    .iter()
    .map(|a| (*a).to_owned())
    .collect()
}

/// Runs `table`'s function every two seconds until no export of its chains is under way,
/// none failing to be read, started or recorded, nor lost.
fn until_exports_end(at: &str, stack: &str, table: &str) {
    for _ in 0..20 {
        std::thread::sleep(Duration::from_secs(2));
        let run = invoke_result_at(at, &["--stack", stack, "--table", table]);
        let steps = run["export_chain"]["steps"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(
            steps
                .iter()
                .all(|s| s["state"] != "error" && s["state"] != "lost"),
            "{run}"
        );
        if steps
            .iter()
            .all(|s| s["state"] != "waiting" && s["state"] != "started")
        {
            return;
        }
    }
    panic!("the chain's exports never completed");
}

/// Deletes the tables a test restored into, and removes its stack and everything it made.
async fn clean_up(at: &str, db: &aws_sdk_dynamodb::Client, targets: &[&str], stack: &str) {
    for target in targets {
        db.delete_table()
            .table_name(*target)
            .send()
            .await
            .expect("delete");
    }
    let remove: Vec<String> = crate::support::cli::remove_all(stack)
        .iter()
        .map(|a| (*a).to_owned())
        .collect();
    ok_at(at, &remove);
}

/// Deletes `table` and waits until DynamoDB no longer describes it.
async fn delete_and_wait(db: &aws_sdk_dynamodb::Client, table: &str) {
    db.delete_table()
        .table_name(table)
        .send()
        .await
        .expect("delete the source");
    for _ in 0..100 {
        if db.describe_table().table_name(table).send().await.is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_chain_restores_the_table_at_each_of_its_points() {
    let proxy = proxy(Windows::default());
    let history = proxy.history().expect("a strict proxy");
    let at = proxy.endpoint();
    let db = aws_sdk_dynamodb::Client::new(&config_for(at).await);
    let deployed = Stack::new("chain").with(&["--export", "daily", "--export-mode", "incremental"]);
    let (stack, table) = (deployed.name.clone(), deployed.table.clone());
    let installer = |args: &[&str]| installer_with_endpoint(args, at);
    let ok = |args: Vec<String>| ok_at(at, &args);
    let invoke = || invoke_result_at(at, &["--stack", &stack, "--table", &table]);
    // `restore --from-export <pick>` into `target` (with `extra`): its JSON document, checked
    // against the published schema, and what it said on stderr.
    let restore_from = |target: &str, pick: &str, extra: &[&str]| -> (Value, String) {
        let mut args = restore_args(&stack, &table, target, pick);
        args.extend(extra.iter().map(|a| (*a).to_owned()));
        let (stdout, stderr) = ok(args);
        let restored: Value = serde_json::from_str(&stdout).expect("JSON");
        crate::support::schema::assert_valid(&restored);
        assert_eq!(restored["verified"], true, "{stdout}\n{stderr}");
        (restored, stderr)
    };
    // The same from the stack's chains.
    let restore = |target: &str, extra: &[&str]| restore_from(target, "chain", extra).0;
    let hour = Duration::from_secs(3600);
    let minute = Duration::from_secs(60);

    // Three hours ago: the stack (point-in-time recovery on for its table) and four items.
    history.rewind(&table, 3 * hour);
    ok(deployed.args("up", &[]));
    // The chains' records outlive the run records: a rule of their own, the exports' 365 days
    // and a chain's 7 more.
    let s3 = aws_sdk_s3::Client::new(&config_for(at).await);
    let bucket = format!("{stack}-logs-123456789012-us-east-1");
    let lifecycle = s3
        .get_bucket_lifecycle_configuration()
        .bucket(&bucket)
        .send()
        .await
        .expect("the bucket's lifecycle");
    let rule = lifecycle
        .rules()
        .iter()
        .find(|r| r.id() == Some("expire-chain-records"))
        .expect("a rule for the chain records");
    assert_eq!(rule.filter().and_then(|f| f.prefix()), Some("chains/"));
    assert_eq!(rule.expiration().and_then(|e| e.days()), Some(372));
    for (title, rating) in [("A", "1"), ("B", "2"), ("C", "3"), ("D", "4")] {
        db.put_item()
            .table_name(&table)
            .set_item(Some(movie(title, Some(rating))))
            .send()
            .await
            .expect("put");
    }
    // 2 h 50 min ago, the first run: the chain begins with a full export at the latest
    // restorable moment (five minutes before, after the four items).
    history.rewind(&table, 2 * hour + 50 * minute);
    // F is written after that moment and before the export is asked for: the full export,
    // of the moment, must not hold it (moto's would; the strict layer's does not).
    db.put_item()
        .table_name(&table)
        .set_item(Some(movie("F", Some("6"))))
        .send()
        .await
        .expect("put");
    let first = invoke();
    let chain = &first["export_chain"];
    let id = chain["chain"].as_str().expect("a chain id").to_owned();
    let recorded = s3
        .list_objects_v2()
        .bucket(&bucket)
        .prefix(format!("chains/{table}/"))
        .send()
        .await
        .expect("list");
    let keys: Vec<&str> = recorded.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(
        keys,
        vec![
            format!("chains/{table}/{id}.json").as_str(),
            format!("chains/{table}/head.json").as_str()
        ]
    );
    assert_eq!(chain["steps"][0]["state"], "started", "{first}");
    assert_eq!(chain["steps"][0]["link"]["kind"], "full");

    // 2 h 30 min ago, the bad morning: A changed, B deleted, E made.
    history.rewind(&table, 2 * hour + 30 * minute);
    let put = |item: Item| db.put_item().table_name(&table).set_item(Some(item)).send();
    put(movie("A", Some("10"))).await.expect("put");
    put(movie("E", Some("50"))).await.expect("put");
    db.delete_item()
        .table_name(&table)
        .set_key(Some(movie("B", None)))
        .send()
        .await
        .expect("delete");
    // 1 h 30 min ago, a run: one incremental from the full export's moment to 1 h 35 min ago,
    // which is to fail.
    history.rewind(&table, hour + 30 * minute);
    proxy.incremental_exports_fail(1);
    let second = invoke();
    let started: Vec<&Value> = second["export_chain"]["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter(|s| s["state"] == "started")
        .collect();
    assert_eq!(started.len(), 1, "{second}");
    let point_1 = started[0]["link"]["to"]
        .as_str()
        .expect("an end")
        .to_owned();
    assert_eq!(
        started[0]["link"]["from"].as_str(),
        chain["exported_to"].as_str()
    );

    // An hour ago, C changed; 20 minutes ago, a run finds the incremental failed: it reports
    // it (the run partial, the export FAILED) and starts it again, since the recovery window
    // still covers it, then exports that hour too.
    history.rewind(&table, hour);
    put(movie("C", Some("30"))).await.expect("put");
    history.rewind(&table, 20 * minute);
    let out = installer(&[
        "--output", "json", "invoke", "--stack", &stack, "--table", &table,
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(3),
        "a partial run's verdict: {stderr}"
    );
    assert!(stderr.contains("an export failed"), "{stderr}");
    let third = serde_json::from_slice::<Value>(&out.stdout).expect("JSON")["result"].clone();
    let steps = third["export_chain"]["steps"].as_array().expect("steps");
    let failed: Vec<&Value> = steps
        .iter()
        .filter(|s| s["state"] == "finished" && s["link"]["export"]["status"] == "FAILED")
        .collect();
    assert_eq!(failed.len(), 1, "{third}");
    assert_eq!(failed[0]["link"]["to"].as_str(), Some(point_1.as_str()));
    assert_eq!(third["status"], "partial", "a failed export is reported");
    assert_eq!(third["partial"], serde_json::json!(["export"]), "{third}");
    let started: Vec<&Value> = steps.iter().filter(|s| s["state"] == "started").collect();
    assert_eq!(started.len(), 2, "{third}");
    assert_eq!(started[0]["link"]["to"].as_str(), Some(point_1.as_str()));
    assert_eq!(started[0]["link"]["attempt"], 2, "started again: {third}");
    assert_eq!(
        started[1]["link"]["from"].as_str(),
        Some(point_1.as_str()),
        "the next window from where the failed one ends: {third}"
    );
    // Runs until every export has completed (each IN_PROGRESS for two seconds).
    until_exports_end(at, &stack, &table);

    // Restored at the full export's moment: the four items, F not yet written.
    let target_0 = format!("{table}-p0");
    let t0 = chain["exported_to"]
        .as_str()
        .expect("the chain's moment")
        .to_owned();
    let restored = restore(&target_0, &["--time", &t0]);
    assert_eq!(restored["from"]["chain"]["at"], t0.as_str());
    assert_eq!(restored["from"]["chain"]["applied"]["incrementals"], 0);
    assert_eq!(
        contents(&db, &target_0).await,
        expected(&[("A", "1"), ("B", "2"), ("C", "3"), ("D", "4")])
    );

    // Restored at the first incremental's end (asked for a minute after it): F made, A
    // changed, B gone, E made, C as it was.
    let target_1 = format!("{table}-p1");
    let time_1 = backup_lambda::record::rfc3339(
        time::OffsetDateTime::parse(&point_1, &time::format_description::well_known::Rfc3339)
            .expect("RFC 3339")
            + time::Duration::minutes(1),
    );
    let restored = restore(&target_1, &["--time", &time_1]);
    let from = &restored["from"]["chain"];
    assert_eq!(from["chain"], id.as_str());
    assert_eq!(from["at"], point_1.as_str());
    assert_eq!(from["applied"]["incrementals"], 1);
    assert_eq!(from["applied"]["made"], 2);
    assert_eq!(from["applied"]["deleted"], 1);
    assert_eq!(from["applied"]["old_images_differing"], 0);
    assert_eq!(
        contents(&db, &target_1).await,
        expected(&[("A", "10"), ("C", "3"), ("D", "4"), ("E", "50"), ("F", "6")])
    );

    // Restored at the chain's latest point: C changed too.
    let target_2 = format!("{table}-p2");
    let restored = restore(&target_2, &[]);
    assert_eq!(restored["from"]["chain"]["applied"]["incrementals"], 2);
    assert_eq!(
        contents(&db, &target_2).await,
        expected(&[
            ("A", "10"),
            ("C", "30"),
            ("D", "4"),
            ("E", "50"),
            ("F", "6")
        ])
    );

    // The report tells the chain's coverage: three points back to back, nothing lost.
    let (stdout, _) = ok(vec![
        "--output".into(),
        "json".into(),
        "report".into(),
        "--stack".into(),
        stack.clone(),
        "--table".into(),
        table.clone(),
    ]);
    let report: Value = serde_json::from_str(&stdout).expect("JSON");
    crate::support::schema::assert_valid(&report);
    let chains = &report["tables"][0]["export_chain"];
    assert_eq!(chains["points"], 3, "{chains}");
    assert_eq!(
        chains["coverage"].as_array().map(Vec::len),
        Some(1),
        "{chains}"
    );
    assert_eq!(chains["lost"], serde_json::json!([]));
    assert_eq!(chains["newest_point"], restored["from"]["chain"]["at"]);
    // And status, every point so far.
    let (stdout, _) = ok(vec![
        "--output".into(),
        "json".into(),
        "status".into(),
        "--stack".into(),
        stack.clone(),
    ]);
    let status: Value = serde_json::from_str(&stdout).expect("JSON");
    crate::support::schema::assert_valid(&status);
    let table_status = &status["tables"][0];
    assert_eq!(table_status["export_chain"]["points"], 3, "{table_status}");
    assert_eq!(
        table_status["last_export"],
        Value::Null,
        "no period's export"
    );
    // And coverage (scoped to this table by a tag of its own): its chains, newest point the
    // latest restored.
    let moto = aws_sdk_dynamodb::Client::new(&config_for(&moto_endpoint()).await);
    let mark = test_support::unique_name("chain");
    moto.tag_resource()
        .resource_arn(format!(
            "arn:aws:dynamodb:us-east-1:123456789012:table/{table}"
        ))
        .tags(
            aws_sdk_dynamodb::types::Tag::builder()
                .key("coverage")
                .value(&mark)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let (stdout, _) = ok(vec![
        "--output".into(),
        "json".into(),
        "coverage".into(),
        "--stack".into(),
        stack.clone(),
        "--tag".into(),
        format!("coverage={mark}"),
        "--rpo".into(),
        "1d".into(),
    ]);
    let coverage: Value = serde_json::from_str(&stdout).expect("JSON");
    crate::support::schema::assert_valid(&coverage);
    let judged = &coverage["tables"][0];
    assert_eq!(judged["table"], table.as_str(), "{coverage}");
    assert_eq!(judged["selected"], true);
    assert_eq!(judged["export_chain"]["chains"], 1, "{judged}");
    assert_eq!(judged["export_chain"]["lost_windows"], 0, "{judged}");
    assert_eq!(
        judged["export_chain"]["newest_point"], restored["from"]["chain"]["at"],
        "{judged}"
    );

    // Bad input: a moment before the chain's first point, and --time with another export.
    let calls = proxy.calls().len();
    let early = installer(&[
        "restore",
        "--stack",
        &stack,
        "--table",
        &table,
        "--to",
        "Never",
        "--from-export",
        "chain",
        "--time",
        &ago(10 * hour),
    ]);
    assert_eq!(early.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&early.stderr);
    assert!(
        stderr.contains("no restore point") && stderr.contains("first restore point"),
        "{stderr}"
    );
    let mixed = installer(&[
        "restore",
        "--stack",
        &stack,
        "--table",
        &table,
        "--to",
        "Never",
        "--from-export",
        "latest",
        "--time",
        &ago(hour),
    ]);
    assert_eq!(mixed.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&mixed.stderr).contains("--from-export chain"));
    let writes = proxy.calls()[calls..]
        .iter()
        .filter(|c| c.call.mutating)
        .count();
    assert_eq!(writes, 0, "nothing was written for bad input");

    // The table deleted and the stack's chain records emptied (what an attacker holding the
    // account would do): the copies beside the exports restore the latest point, the new table
    // defined by what the function kept beside the chain's full export.
    delete_and_wait(&db, &table).await;
    let records = s3
        .list_objects_v2()
        .bucket(&bucket)
        .prefix(format!("chains/{table}/"))
        .send()
        .await
        .expect("the chain records");
    for object in records.contents() {
        s3.delete_object()
            .bucket(&bucket)
            .key(object.key().unwrap_or_default())
            .send()
            .await
            .expect("delete a chain record");
    }
    let target_3 = format!("{table}-vault");
    let copies = format!("s3://{bucket}/exports/{table}/chains");
    let (restored, stderr) = restore_from(&target_3, &copies, &[]);
    assert!(
        stderr.contains("is gone: its definition came from beside the export"),
        "{stderr}"
    );
    assert_eq!(restored["from"]["chain"]["applied"]["incrementals"], 2);
    assert_eq!(
        contents(&db, &target_3).await,
        contents(&db, &target_2).await
    );

    history.rewind(&table, Duration::ZERO);
    let targets = [&target_0, &target_1, &target_2, &target_3].map(String::as_str);
    clean_up(at, &db, &targets, &stack).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_chain_in_another_regions_bucket_is_written_and_restored_there() {
    let proxy = proxy(Windows::default());
    let history = proxy.history().expect("a strict proxy");
    let at = proxy.endpoint();
    let config = config_for(at).await;
    let db = aws_sdk_dynamodb::Client::new(&config);
    let in_region = |region: &str| {
        aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&config)
                .region(aws_sdk_s3::config::Region::new(region.to_owned()))
                .build(),
        )
    };
    let (ireland, home) = (in_region("eu-west-1"), in_region("us-east-1"));
    // The bucket the exports go to, in another region than the stack.
    let bucket = test_support::unique_name("far-exports");
    ireland
        .create_bucket()
        .bucket(&bucket)
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::EuWest1)
                .build(),
        )
        .send()
        .await
        .expect("a bucket in eu-west-1");
    let deployed = Stack::new("far").with(&[
        "--export",
        "daily",
        "--export-mode",
        "incremental",
        "--export-bucket",
        &bucket,
        "--export-bucket-region",
        "eu-west-1",
    ]);
    let (stack, table) = (deployed.name.clone(), deployed.table.clone());
    let ok = |args: Vec<String>| ok_at(at, &args);
    let invoke = || invoke_result_at(at, &["--stack", &stack, "--table", &table]);

    // An hour ago the stack; 50 minutes ago the first run, which begins the chain.
    history.rewind(&table, Duration::from_secs(3600));
    ok(deployed.args("up", &[]));
    for (title, rating) in [("A", "1"), ("B", "2")] {
        db.put_item()
            .table_name(&table)
            .set_item(Some(movie(title, Some(rating))))
            .send()
            .await
            .expect("put");
    }
    history.rewind(&table, Duration::from_secs(50 * 60));
    let first = invoke();
    let id = first["export_chain"]["chain"]
        .as_str()
        .expect("a chain")
        .to_owned();
    assert_eq!(first["export_chain"]["steps"][0]["state"], "started");
    // What the function writes beside the exports is there, written in the bucket's region
    // (the stack's region is refused with S3's redirect, as on AWS).
    let folder = format!("exports/{table}/chains/{id}");
    for key in [
        format!("{folder}/full/table.json"),
        format!("{folder}/chain.json"),
    ] {
        ireland
            .head_object()
            .bucket(&bucket)
            .key(&key)
            .send()
            .await
            .unwrap_or_else(|e| panic!("s3://{bucket}/{key}: {e:?}"));
    }
    let redirected = home
        .head_object()
        .bucket(&bucket)
        .key(format!("{folder}/chain.json"))
        .send()
        .await
        .expect_err("another region's endpoint");
    assert_eq!(
        redirected.raw_response().map(|r| r.status().as_u16()),
        Some(301)
    );
    // The full export completes; a later run records it (and copies the record again).
    until_exports_end(at, &stack, &table);

    // The table gone: the installer finds the bucket's region itself and restores from the
    // copies there.
    delete_and_wait(&db, &table).await;
    let target = format!("{table}-back");
    let copies = format!("s3://{bucket}/exports/{table}/chains");
    let (stdout, stderr) = ok(restore_args(&stack, &table, &target, &copies));
    let restored: Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(restored["verified"], true, "{stdout}\n{stderr}");
    assert_eq!(
        contents(&db, &target).await,
        expected(&[("A", "1"), ("B", "2")])
    );

    history.rewind(&table, Duration::ZERO);
    clean_up(at, &db, &[&target], &stack).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_chain_point_is_fingerprinted_and_its_restore_checked_against_it() {
    // Restore points a few seconds back (AWS: typically five minutes), so that a run's sample
    // is read after the point it exports up to, as on AWS, without setting the clock back.
    let lag = Duration::from_secs(20);
    let proxy = proxy(Windows {
        latest_restorable_lag: lag,
        ..Windows::default()
    });
    let at = proxy.endpoint();
    let config = config_for(at).await;
    let (db, s3) = (
        aws_sdk_dynamodb::Client::new(&config),
        aws_sdk_s3::Client::new(&config),
    );
    let plain = Stack::new("print");
    let (stack, table) = (plain.name.clone(), plain.table.clone());
    let chained = Stack::named(stack.clone(), table.clone()).with(&[
        "--export",
        "daily",
        "--export-mode",
        "incremental",
    ]);
    let installer = |args: &[&str]| installer_with_endpoint(args, at);
    let ok = |args: Vec<String>| ok_at(at, &args);
    let invoke = || invoke_result_at(at, &["--stack", &stack, "--table", &table]);
    let restore =
        |target: &str| installer(&as_strs(&restore_args(&stack, &table, target, "chain")));

    // A run of the stack without exports reads the first sample; a while later the stack
    // exports chains, and its first run begins one at the latest restorable moment, after
    // that sample, and reads its own sample after it: the point is fingerprinted at once.
    ok(plain.args("up", &[]));
    invoke();
    std::thread::sleep(Duration::from_secs(6));
    ok(chained.args("up", &[]));
    std::thread::sleep(lag + Duration::from_secs(2));
    let begun = invoke();
    let chain = &begun["export_chain"];
    let point = chain["exported_to"].as_str().expect("a point").to_owned();
    assert_eq!(
        chain["fingerprinted"],
        serde_json::json!([point]),
        "{begun}"
    );
    // The live table moves on.
    db.put_item()
        .table_name(&table)
        .set_item(Some(movie("A", Some("99"))))
        .send()
        .await
        .expect("put");
    until_exports_end(at, &stack, &table);

    // Restored at the point: the fingerprinted items are all there as they read.
    let good = format!("{table}-fp");
    let out = restore(&good);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let restored: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    crate::support::schema::assert_valid(&restored);
    assert_eq!(restored["from"]["chain"]["at"], point.as_str());
    let sample = &restored["verification"]["sample"];
    let checked = sample["checked"].as_u64().expect("a fingerprint checked");
    assert!(checked >= 25, "{sample}");
    assert_eq!(sample["matched"].as_u64(), Some(checked), "{sample}");
    assert!(
        stderr.contains(&format!("the {checked} fingerprinted items all match")),
        "{stderr}"
    );
    assert_eq!(restored["verified"], true);

    // A fingerprint the restore does not match is a restore not proven: the check is made.
    let bucket = format!("{stack}-logs-123456789012-us-east-1");
    let compact = point.replace(['-', ':'], "");
    let key = format!("runs/{table}/fingerprints/points/{compact}.json");
    let body = s3
        .get_object()
        .bucket(&bucket)
        .key(&key)
        .send()
        .await
        .expect("the point's fingerprint")
        .body
        .collect()
        .await
        .expect("read")
        .into_bytes();
    let mut print: Value = serde_json::from_slice(&body).expect("JSON");
    print["items"][0]["digest"] = Value::from("0".repeat(64));
    s3.put_object()
        .bucket(&bucket)
        .key(&key)
        .body(serde_json::to_vec(&print).expect("JSON").into())
        .send()
        .await
        .expect("put");
    let bad = format!("{table}-fp2");
    let out = restore(&bad);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let unproven: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let sample = &unproven["verification"]["sample"];
    assert_eq!(sample["matched"].as_u64(), Some(checked - 1), "{sample}");
    assert_eq!(sample["first_difference"]["kind"], "changed");
    assert_eq!(unproven["verified"], false);

    clean_up(at, &db, &[&good, &bad], &stack).await;
}
