//! Exports to S3 through the strict layer (where an export is IN_PROGRESS for a while and a
//! repeated ClientToken is the same export): `up --export daily` turns on point-in-time
//! recovery for the stack's table, tiers `exports/` in the stack's bucket (checked field by
//! field) and gives the role the export permissions; runs start the day's export, wait for it,
//! record its outcome and size, and never start a second one; a table the stack did not make
//! gets PITR only with `--enable-pitr`; an export bucket that does not exist, or is another
//! account's, and settings S3 would bill early-deletion for are refused before any write; an
//! export archived to Glacier is refused or thawed; one older than ListExports' 90 days is
//! restored by its ARN.

use std::time::Duration;

use crate::support::aws::{clients, function_exists, leftovers};
use crate::support::cli::{
    built_zip_path, installer, installer_at, installer_ok, installer_with_endpoint,
    invoke_result_at, remove_all,
};
use aws_sdk_s3::types::TransitionStorageClass;
use serde_json::Value;
use test_support::proxy::Proxy;
use test_support::strict::{Strict, Windows};
use test_support::{moto_endpoint, unique_name};

use crate::support::stack::Stack;

async fn pitr_on(aws: &crate::support::aws::Clients, table: &str) -> bool {
    let out = aws
        .dynamodb
        .describe_continuous_backups()
        .table_name(table)
        .send()
        .await
        .unwrap();
    out.continuous_backups_description()
        .and_then(|d| d.point_in_time_recovery_description())
        .and_then(|p| p.point_in_time_recovery_status())
        .map(|s| s.as_str().to_owned())
        == Some("ENABLED".to_owned())
}

/// How long this file's first test's exports are IN_PROGRESS.
const EXPORT_WINDOW: Duration = Duration::from_secs(12);

#[tokio::test(flavor = "multi_thread")]
async fn a_days_export_is_started_once_waited_for_and_recorded() {
    let aws = clients().await;
    // A proxy of its own, whose exports stay IN_PROGRESS long enough that a second run started
    // right after the first still finds this one so on a loaded machine (a run takes seconds
    // under qemu).
    let proxy = Proxy::with(
        &moto_endpoint(),
        None,
        Some(Strict::aws(Windows {
            export_in_progress: EXPORT_WINDOW,
            ..Windows::default()
        })),
    );
    let at = proxy.endpoint();
    let installer = |args: &[&str]| installer_with_endpoint(args, at);
    let installer_ok = |args: &[&str]| {
        let out = installer(args);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "installer {args:?} failed:\n{stderr}");
        String::from_utf8_lossy(&out.stdout).into_owned() + &stderr
    };
    let invoke = |args: &[&str]| invoke_result_at(at, args);
    let deployed = Stack::new("exp").with(&["--export", "daily"]);
    let (stack, table) = (deployed.name.clone(), deployed.table.clone());
    let bucket = format!("{stack}-logs-123456789012-us-east-1");
    let run = |command: &str, extra: &[&str]| {
        installer_ok(&crate::support::stack::as_strs(
            &deployed.args(command, extra),
        ))
    };
    let stderr = run("up", &[]);
    assert!(
        stderr.contains(&format!("turned on point-in-time recovery for {table}")),
        "{stderr}"
    );
    assert!(pitr_on(&aws, &table).await, "PITR on for the stack's table");

    // The bucket's lifecycle: run records expire; exports go cold after 30 days and expire
    // after 365, and their unfinished uploads are aborted after 7.
    let lifecycle = aws
        .s3
        .get_bucket_lifecycle_configuration()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let rule = lifecycle
        .rules()
        .iter()
        .find(|r| r.id() == Some("tier-exports"))
        .expect("a rule for exports");
    assert_eq!(rule.filter().and_then(|f| f.prefix()), Some("exports/"));
    assert_eq!(rule.status().as_str(), "Enabled");
    let [transition] = rule.transitions() else {
        panic!("one transition: {rule:?}");
    };
    assert_eq!(transition.days(), Some(30));
    assert_eq!(
        transition.storage_class(),
        Some(&TransitionStorageClass::GlacierIr)
    );
    assert_eq!(rule.expiration().and_then(|e| e.days()), Some(365));
    assert_eq!(
        rule.abort_incomplete_multipart_upload()
            .and_then(|a| a.days_after_initiation()),
        Some(7)
    );
    assert!(
        lifecycle
            .rules()
            .iter()
            .any(|r| r.id() == Some("expire-run-records")),
        "the run-record rule stays"
    );

    // The role may export its tables, check those exports and write under exports/.
    let statements = crate::support::aws::role_statements(&aws, &stack).await;
    let sid = |sid: &str| {
        statements
            .iter()
            .find(|s| s["Sid"] == sid)
            .unwrap_or_else(|| panic!("{sid} in {statements:?}"))
            .clone()
    };
    assert_eq!(
        sid("ExportTheTablesToS3")["Resource"],
        format!("arn:aws:dynamodb:us-east-1:123456789012:table/{table}")
    );
    assert_eq!(
        sid("WriteExportsUnderTheirPrefix")["Resource"],
        format!("arn:aws:s3:::{bucket}/exports/*")
    );

    // Run 1 starts today's export; run 2, a moment later, finds it still in progress.
    let target = ["--stack", stack.as_str(), "--table", table.as_str()];
    let first = invoke(&target);
    assert_eq!(first["export"]["state"], "started", "{first}");
    let export = &first["export"]["export"];
    let period = export["period"].as_str().unwrap().to_owned();
    assert_eq!(export["status"], "IN_PROGRESS");
    assert_eq!(export["prefix"], format!("exports/{table}/{period}"));
    assert_eq!(export["bucket"], bucket.as_str());
    let arn = export["export_arn"].as_str().unwrap().to_owned();
    let started = std::time::Instant::now();
    let second = invoke(&target);
    assert!(
        started.elapsed() < EXPORT_WINDOW,
        "the second run took longer than the export's window"
    );
    assert_eq!(second["export"]["state"], "waiting", "{second}");
    assert_eq!(second["status"], "ok");

    // Once DynamoDB has finished, a run records the outcome and its figures.
    tokio::time::sleep(EXPORT_WINDOW.saturating_sub(started.elapsed())).await;
    let third = invoke(&target);
    assert_eq!(third["export"]["state"], "finished", "{third}");
    let done = &third["export"]["export"];
    assert_eq!(done["status"], "COMPLETED");
    assert_eq!(done["export_arn"], arn.as_str());
    assert_eq!(done["item_count"], 30, "the built-in sample's 30 movies");
    assert!(done["billed_size_bytes"].as_i64().unwrap() > 0, "{done}");
    assert!(done["duration_seconds"].as_u64().is_some(), "{done}");
    let record = aws
        .s3
        .get_object()
        .bucket(&bucket)
        .key(format!("runs/{table}/exports/{period}.json"))
        .send()
        .await
        .expect("the export's record");
    let record: Value =
        serde_json::from_slice(&record.body.collect().await.unwrap().into_bytes()).unwrap();
    assert_eq!(record["status"], "COMPLETED");
    assert_eq!(record["item_count"], 30);
    let written = aws
        .s3
        .list_objects_v2()
        .bucket(&bucket)
        .prefix(format!("exports/{table}/{period}/"))
        .send()
        .await
        .unwrap();
    assert!(
        written.key_count().unwrap_or(0) > 0,
        "the export wrote its data under its prefix"
    );

    // Later runs the same day: nothing more to do, and never a second export.
    let fourth = invoke(&target);
    assert_eq!(fourth["export"]["state"], "done", "{fourth}");
    let table_arn = format!("arn:aws:dynamodb:us-east-1:123456789012:table/{table}");
    let exports = aws
        .dynamodb
        .list_exports()
        .table_arn(&table_arn)
        .send()
        .await
        .unwrap();
    assert_eq!(exports.export_summaries().len(), 1, "one export per day");

    // `status` shows the newest export, in a document that follows the published schema.
    let out = installer(&["--output", "json", "status", "--stack", &stack]);
    assert!(out.status.success());
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    crate::support::schema::assert_valid(&status);
    let last = &status["tables"][0]["last_export"];
    assert_eq!(last["status"], "COMPLETED", "{status}");
    assert_eq!(last["period"], period.as_str());
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains(&format!(
            "last export of {table}: {period} COMPLETED, 30 items"
        )),
        "{text}"
    );

    // `report` reads the function's export records: today's export, completed.
    let out = installer(&[
        "--output", "json", "report", "--stack", &stack, "--table", &table, "--since", "1d",
        "--rpo", "1d",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    crate::support::schema::assert_valid(&report);
    let figures = &report["tables"][0]["exports"];
    assert_eq!(figures["completed"], 1, "{report:#}");
    assert_eq!(figures["newest_completed"], period.as_str());
    assert_eq!(figures["exports"][0]["item_count"], 30);

    // The export restores into a new table (ImportTable), verified against the export's count.
    let restored = format!("{table}-from-s3");
    // A lifecycle rule moved the export's data to S3 Glacier Flexible Retrieval: ImportTable
    // cannot read it until restored (GetObject: InvalidObjectState), so `restore` refuses in one
    // line, before anything is made, and `--thaw` restores the files first.
    let listed = aws
        .s3
        .list_objects_v2()
        .bucket(&bucket)
        .prefix(format!("exports/{table}/{period}/"))
        .send()
        .await
        .unwrap();
    for key in listed
        .contents()
        .iter()
        .filter_map(|o| o.key())
        .filter(|k| k.contains("/data/"))
    {
        aws.s3
            .copy_object()
            .bucket(&bucket)
            .key(key)
            .copy_source(format!("{bucket}/{key}"))
            .storage_class(aws_sdk_s3::types::StorageClass::Glacier)
            .send()
            .await
            .expect("to Glacier");
    }
    let frozen = installer(&[
        "restore",
        "--table",
        &table,
        "--to",
        &restored,
        "--from-export",
        "latest",
    ]);
    let stderr = String::from_utf8_lossy(&frozen.stderr);
    assert!(!frozen.status.success());
    assert!(
        stderr.contains("archive storage class") && stderr.contains("--thaw"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    assert!(
        aws.dynamodb
            .describe_table()
            .table_name(&restored)
            .send()
            .await
            .is_err(),
        "nothing made"
    );
    let out = installer(&[
        "--output",
        "json",
        "restore",
        "--table",
        &table,
        "--to",
        &restored,
        "--from-export",
        "latest",
        "--thaw",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let document: Value = serde_json::from_slice(&out.stdout).unwrap();
    crate::support::schema::assert_valid(&document);
    assert_eq!(
        document["from"]["export"]["arn"],
        arn.as_str(),
        "{document}"
    );
    assert_eq!(document["from"]["export"]["import_errors"], 0);
    assert_eq!(document["verified"], true);
    assert_eq!(document["verification"]["expected_items"], 30);
    assert_eq!(document["verification"]["restored_items"], 30);
    let count = aws
        .dynamodb
        .scan()
        .table_name(&restored)
        .select(aws_sdk_dynamodb::types::Select::Count)
        .send()
        .await
        .unwrap()
        .count();
    assert_eq!(count, 30, "the data came back");
    // Single items straight from the export, by its manifests: one it holds (changed in the
    // table since, so that only the export can give it back as it was, and its year written as
    // 2013.0), one it does not, and the first again (asked for once).
    let rush = || {
        [
            (
                "year".to_owned(),
                aws_sdk_dynamodb::types::AttributeValue::N("2013".into()),
            ),
            (
                "title".to_owned(),
                aws_sdk_dynamodb::types::AttributeValue::S("Rush".into()),
            ),
        ]
        .into_iter()
        .collect::<std::collections::HashMap<_, _>>()
    };
    let exported = test_support::item_of(&aws.dynamodb, &table, rush())
        .await
        .expect("Rush is in the sample");
    aws.dynamodb
        .put_item()
        .table_name(&table)
        .set_item(Some(rush()))
        .send()
        .await
        .unwrap();
    let out_file = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(test_support::unique_name("export-items"))
        .with_extension("jsonl");
    let out = installer(&[
        "--output",
        "json",
        "restore",
        "--table",
        &table,
        "--key",
        "year=2013.0,title=Rush",
        "--key",
        "year=1999,title=Not There",
        "--key",
        "year=2013,title=Rush",
        "--from-export",
        "latest",
        "--to-file",
        out_file.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let items: Value = serde_json::from_slice(&out.stdout).unwrap();
    crate::support::schema::assert_valid(&items);
    assert_eq!(items["command"], "restore-items");
    assert_eq!(items["export"], arn.as_str(), "{items}");
    assert_eq!(items["backup"], Value::Null);
    assert_eq!(items["written"], 1, "{items}");
    assert_eq!(
        items["missing"],
        serde_json::json!([{"year": "1999", "title": "Not There"}])
    );
    let line: Value = serde_json::from_str(std::fs::read_to_string(&out_file).unwrap().trim())
        .expect("one JSON line");
    assert_eq!(
        (line["year"].as_i64(), line["title"].as_str()),
        (Some(2013), Some("Rush"))
    );
    assert!(
        line["info"].is_object(),
        "the export's item, not the table's: {line}"
    );
    assert_eq!(
        line["info"]["rating"].as_f64(),
        exported
            .get("info")
            .and_then(|i| i.as_m().ok())
            .and_then(|m| m.get("rating"))
            .and_then(|r| r.as_n().ok())
            .and_then(|n| n.parse::<f64>().ok()),
        "as exported"
    );
    // Never over an existing table; a period without an export is one line naming what to do.
    for (pick, target, expected) in [
        ("latest", restored.as_str(), "already exists"),
        (
            "2020-01-01",
            "Nowhere-1",
            "has no completed export of 2020-01-01",
        ),
    ] {
        let out = installer(&[
            "restore",
            "--table",
            &table,
            "--to",
            target,
            "--from-export",
            pick,
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(stderr.contains(expected), "{pick}: {stderr}");
    }
    let by_period = format!("{table}-{period}");
    installer_ok(&[
        "restore",
        "--table",
        &table,
        "--to",
        &by_period,
        "--from-export",
        &period,
    ]);
    for t in [&restored, &by_period] {
        aws.dynamodb
            .delete_table()
            .table_name(t)
            .send()
            .await
            .unwrap();
    }

    // A second `up` changes nothing.
    let plan = run("plan", &[]);
    assert!(plan.contains("no changes"), "{plan}");

    installer_ok(&remove_all(&stack));
    assert_eq!(leftovers(&aws, &stack, &table).await, Vec::<&str>::new());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_table_not_made_by_the_stack_gets_pitr_only_when_asked() {
    let aws = clients().await;
    let stack = unique_name("exq");
    let table = unique_name("Theirs");
    test_support::create_movies_table(&aws.dynamodb, &table).await;
    let zip = built_zip_path().display().to_string();
    let args = |extra: &[&str]| -> Vec<String> {
        [
            "up", "--stack", &stack, "--table", &table, "--zip", &zip, "--export", "weekly",
        ]
        .iter()
        .chain(extra)
        .map(|s| (*s).to_owned())
        .collect()
    };
    let refused = installer(&args(&[]).iter().map(String::as_str).collect::<Vec<_>>());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(
        stderr.contains(&format!(
            "exports need point-in-time recovery on table {table}"
        )) && stderr.contains("--enable-pitr"),
        "{stderr}"
    );
    assert!(!pitr_on(&aws, &table).await, "left as it was");
    assert!(
        !function_exists(&aws, &stack).await,
        "refused before anything was made"
    );

    installer_ok(
        &args(&["--enable-pitr"])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert!(pitr_on(&aws, &table).await);
    installer_ok(&remove_all(&stack));
    assert!(
        aws.dynamodb
            .describe_table()
            .table_name(&table)
            .send()
            .await
            .is_ok(),
        "their table stays"
    );
}

/// ListExports lists "completed exports within the past 90 days" while the stack keeps exports a
/// year: an older export is found by its ARN (DescribeExport) or by the S3 location it was
/// written to (its manifest-summary.json), and `latest` says why it finds none. The strict layer
/// here lists an export for 6 s instead of 90 days. With the table gone, only the location
/// restores it, from the table definition the function kept beside the export.
#[tokio::test(flavor = "multi_thread")]
async fn an_export_past_listexports_window_is_restored_by_its_arn_or_location() {
    let windows = Windows {
        exports_listed: Duration::from_secs(6),
        export_in_progress: Duration::from_secs(1),
        ..Windows::default()
    };
    let proxy = Proxy::with(&moto_endpoint(), None, Some(Strict::aws(windows)));
    let stack = unique_name("exa");
    let table = unique_name("Movies");
    let zip = built_zip_path().display().to_string();
    let run = |args: &[&str]| {
        let out = installer_at(proxy.endpoint())
            .args(args)
            .output()
            .expect("run installer");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let target = ["--stack", stack.as_str(), "--table", table.as_str()];
    let (ok, _, stderr) = run(&[
        "up", "--stack", &stack, "--table", &table, "--zip", &zip, "--export", "daily",
    ]);
    assert!(ok, "{stderr}");
    let invoke = || -> Value {
        let mut args = vec!["--output", "json", "invoke"];
        args.extend(target);
        let (ok, stdout, stderr) = run(&args);
        assert!(ok, "{stderr}");
        let document: Value = serde_json::from_str(&stdout).expect("invoke's document");
        document["result"].clone()
    };
    let started = invoke();
    let arn = started["export"]["export"]["export_arn"]
        .as_str()
        .unwrap_or_else(|| panic!("an export started: {started}"))
        .to_owned();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let finished = invoke();
    assert_eq!(finished["export"]["state"], "finished", "{finished}");
    tokio::time::sleep(Duration::from_secs(6)).await;

    // `restore --from-export <pick>` into `to`, with a JSON document on stdout when `json`.
    let restore = |json: bool, to: &str, pick: &str| {
        let mut args = if json {
            vec!["--output", "json"]
        } else {
            Vec::new()
        };
        args.extend([
            "restore",
            "--table",
            &table,
            "--to",
            to,
            "--from-export",
            pick,
        ]);
        run(&args)
    };
    let restored = format!("{table}-old");
    let (ok, _, stderr) = restore(false, &restored, "latest");
    assert!(!ok);
    assert!(stderr.contains("past 90 days"), "{stderr}");
    // Restored by the export's ARN, then by where it was written (its manifest-summary.json: no
    // DynamoDB listing at all); each verified against the export's exact count.
    let restore_from = |pick: &str, to: &str| {
        let (ok, stdout, stderr) = restore(true, to, pick);
        assert!(ok, "{stderr}");
        let document: Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(document["verified"], true, "{document}");
        assert_eq!(document["from"]["export"]["arn"], arn.as_str());
        assert_eq!(document["verification"]["expected_items"], 30, "{document}");
    };
    restore_from(&arn, &restored);
    let period = started["export"]["export"]["period"].as_str().unwrap();
    let location = format!("s3://{stack}-logs-123456789012-us-east-1/exports/{table}/{period}");
    let by_location = format!("{table}-loc");
    restore_from(&location, &by_location);

    // The table gone (deleted by mistake or by an attacker): the export still restores from
    // where it was written, with the definition the function kept beside it; any other pick
    // says so in one line.
    let aws = clients().await;
    aws.dynamodb
        .delete_table()
        .table_name(&table)
        .send()
        .await
        .expect("delete the source");
    for _ in 0..100 {
        let described = aws
            .dynamodb
            .describe_table()
            .table_name(&table)
            .send()
            .await;
        if described.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let gone = format!("{table}-gone");
    let (ok, _, stderr) = restore(false, &gone, &arn);
    assert!(!ok);
    assert!(
        stderr.contains("its definition is kept only beside its exports")
            && stderr.contains("--from-export s3://"),
        "{stderr}"
    );
    let (ok, stdout, stderr) = restore(true, &gone, &location);
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains("is gone: its definition came from beside the export"),
        "{stderr}"
    );
    let document: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(document["verified"], true, "{document}");
    assert_eq!(document["verification"]["restored_items"], 30, "{document}");
    assert_eq!(document["verification"]["keys_match"], true, "{document}");
    assert_eq!(
        document["reapplied"]["point_in_time_recovery"], true,
        "{document}"
    );

    let (ok, _, stderr) = run(&remove_all(&stack));
    assert!(ok, "{stderr}");
    for restored in [&restored, &by_location, &gone] {
        aws.dynamodb
            .delete_table()
            .table_name(restored)
            .send()
            .await
            .expect("delete the restored table");
    }
}

/// An export bucket of another account needs `--export-bucket-owner`, and the owner given must
/// be the bucket's: `up` checks with HeadBucket's ExpectedBucketOwner (403 on another owner, S3
/// API reference), before anything is written, instead of every export failing later.
#[tokio::test(flavor = "multi_thread")]
async fn an_export_bucket_of_another_owner_is_refused_before_any_write() {
    let aws = clients().await;
    let stack = unique_name("exo");
    let vault = unique_name("vault");
    let table = unique_name("Movies");
    aws.s3.create_bucket().bucket(&vault).send().await.unwrap();
    let zip = built_zip_path().display().to_string();
    let out = installer(&[
        "up",
        "--stack",
        &stack,
        "--table",
        &table,
        "--zip",
        &zip,
        "--export",
        "daily",
        "--export-bucket",
        &vault,
        "--export-bucket-owner",
        "999999999999",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "export bucket {vault} is not owned by account 999999999999"
        )),
        "{stderr}"
    );
    assert_eq!(
        leftovers(&aws, &stack, &table).await,
        Vec::<&str>::new(),
        "nothing written"
    );
}

#[test]
fn a_missing_export_bucket_and_early_deletion_are_refused_before_any_write() {
    let stack = unique_name("exr");
    let missing = unique_name("no-such-vault");
    let zip = built_zip_path().display().to_string();
    let out = installer(&[
        "up",
        "--stack",
        &stack,
        "--zip",
        &zip,
        "--export",
        "daily",
        "--export-bucket",
        &missing,
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains(&format!("export bucket {missing} does not exist")),
        "{stderr}"
    );

    // Checked before any request: a closed port is never reached.
    let closed = "http://127.0.0.1:9";
    for (flags, expected) in [
        (
            vec![
                "--export-cold-class",
                "standard-ia",
                "--export-cold-days",
                "10",
            ],
            "no sooner than day 30",
        ),
        (
            vec![
                "--export-cold-class",
                "deep-archive",
                "--export-expire-days",
                "200",
            ],
            "--export-expire-days 210",
        ),
        (
            vec!["--export-bucket-owner", "12345"],
            "invalid --export-bucket-owner",
        ),
        (
            vec!["--export-bucket", "Not_A_Bucket"],
            "invalid --export-bucket",
        ),
    ] {
        let mut args = vec!["up", "--stack", &stack, "--export", "daily"];
        args.extend(flags.iter().copied());
        let out = installer_with_endpoint(&args, closed);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{flags:?}");
        assert!(stderr.contains(expected), "{flags:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    }
}
