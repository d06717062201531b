//! `installer restore` through the strict layer (backups CREATING for a while, restored tables
//! CREATING for a while): the latest and a named backup restored and verified item for item on
//! the tutorial's 4,609 movies (where `../shared` has them; the built-in sample otherwise), and
//! every kind of bad request refused in one line with nothing written.

use std::path::PathBuf;
use std::process::Output;

use crate::support::cli::{installer, installer_at, installer_ok, remove_all};
use crate::support::stack::Stack;
use serde_json::Value;
use test_support::proxy::Proxy;
use test_support::{count_items, moto_config, moto_endpoint, strict_config, unique_name};

/// The tutorial's data, where this checkout has `../shared` beside it.
fn moviedata() -> Option<PathBuf> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/moviedata.json");
    path.exists().then_some(path)
}

/// `installer --output json restore ...`, its JSON.
fn restore_json(args: &[&str]) -> Value {
    restore_reported(args).0
}

/// `installer --output json restore ...`, its JSON and its report (stderr).
fn restore_reported(args: &[&str]) -> (Value, String) {
    let mut all = vec!["--output", "json", "restore"];
    all.extend(args);
    let out = installer(&all);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "restore {args:?} failed:\n{stderr}");
    let document = serde_json::from_slice(&out.stdout).expect("one JSON document");
    crate::support::schema::assert_valid(&document);
    (document, stderr)
}

/// Runs the stack's function once and waits until the backup it made is AVAILABLE (the strict
/// layer shows it CREATING for a while); the run's record.
async fn backed_up(deployed: &Stack) -> Value {
    let out = deployed.run("invoke", &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run: Value = serde_json::from_slice(&out.stdout).expect("run record");
    let strict = aws_sdk_dynamodb::Client::new(&strict_config().await);
    test_support::until_backup_available(&strict, run["backup_created"]["arn"].as_str().unwrap())
        .await;
    run
}

#[tokio::test(flavor = "multi_thread")]
async fn the_latest_and_a_named_backup_restore_with_every_item_verified() {
    let moto = aws_sdk_dynamodb::Client::new(&moto_config().await);
    let deployed = Stack::new("rst");
    let (stack, table) = (deployed.name.clone(), deployed.table.clone());
    deployed.ok("up", &[]);
    if let Some(file) = moviedata() {
        installer_ok(&[
            "load-data",
            "--table",
            &table,
            "--file",
            file.to_str().unwrap(),
        ]);
    }
    let items = i64::from(count_items(&moto, &table).await);
    let run = backed_up(&deployed).await;
    let backup = run["backup_created"]["name"].as_str().unwrap().to_owned();

    let latest = format!("{table}-latest");
    let restored = restore_json(&["--stack", &stack, "--table", &table, "--to", &latest]);
    assert_eq!(restored["verified"], true, "{restored}");
    assert_eq!(restored["from"]["backup"]["name"], backup.as_str());
    assert_eq!(restored["verification"]["restored_items"], items);
    // The backup's ItemCount is the table's figure as of DynamoDB's last refresh (about every six
    // hours): through the strict layer still CreateTable's 0. The difference is reported, and the
    // restore is proven all the same.
    assert_eq!(restored["verification"]["expected_items"], 0);
    assert_eq!(restored["verification"]["count_source"], "approximate");
    assert_eq!(
        restored["reapplied"]["tags"], 2,
        "the stack's two tags: {restored}"
    );
    assert_eq!(i64::from(count_items(&moto, &latest).await), items);

    // Counted in five parallel scan segments (moto describes every table as 0 bytes, so the
    // count would choose one), its progress reported as it goes.
    let named = format!("{table}-named");
    let (restored, report) = restore_reported(&[
        "--stack",
        &stack,
        "--table",
        &table,
        "--to",
        &named,
        "--backup",
        &backup,
        "--no-tags",
        "--scan-segments",
        "5",
    ]);
    assert_eq!(restored["verified"], true, "{restored}");
    assert_eq!(restored["reapplied"]["tags"], 0);
    assert_eq!(restored["verification"]["restored_items"], items);
    assert_eq!(i64::from(count_items(&moto, &named).await), items);
    let counted = format!("counted {} items, 5 of 5 segments done", thousands(items));
    assert!(report.contains(&counted), "{counted:?} in:\n{report}");
    eprintln!(
        "restore of {items} items: phases {} (ms)",
        restored["phases_ms"]
    );

    installer_ok(&remove_all(&stack));
    for t in [&latest, &named] {
        moto.delete_table()
            .table_name(t)
            .send()
            .await
            .expect("delete restored table");
    }
}

/// The main disaster: the table itself is gone. Its backups outlive it, so `restore` brings it
/// back from the newest one (with what the backup recorded of it), verified; a point in time of
/// a table that no longer exists is refused in one line naming the system backup to use.
#[tokio::test(flavor = "multi_thread")]
async fn a_deleted_table_is_restored_from_its_backups() {
    let moto = aws_sdk_dynamodb::Client::new(&moto_config().await);
    let deployed = Stack::new("del");
    let (stack, table) = (deployed.name.clone(), deployed.table.clone());
    deployed.ok("up", &[]);
    let items = i64::from(count_items(&moto, &table).await);
    let run = backed_up(&deployed).await;

    moto.delete_table()
        .table_name(&table)
        .send()
        .await
        .expect("the disaster");
    let back = format!("{table}-back");
    let restored = restore_json(&["--stack", &stack, "--table", &table, "--to", &back]);
    assert_eq!(restored["verified"], true, "{restored}");
    assert_eq!(
        restored["from"]["backup"]["name"],
        run["backup_created"]["name"]
    );
    assert_eq!(restored["verification"]["restored_items"], items);
    assert_eq!(i64::from(count_items(&moto, &back).await), items);

    let out = installer(&[
        "restore",
        "--table",
        &table,
        "--to",
        &format!("{table}-pit"),
        "--time",
        "2026-11-28T10:00:00Z",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("no longer exists") && stderr.contains("$DeletedTableBackup"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");

    // And under its own name, which a deleted table leaves free; while the table is there, the
    // same request is refused as any taken target.
    let again = restore_json(&["--stack", &stack, "--table", &table, "--to", &table]);
    assert_eq!(again["verified"], true, "{again}");
    assert_eq!(i64::from(count_items(&moto, &table).await), items);
    let out = installer(&[
        "restore", "--stack", &stack, "--table", &table, "--to", &table,
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("already exists"), "{stderr}");

    installer_ok(&remove_all(&stack));
    moto.delete_table()
        .table_name(&back)
        .send()
        .await
        .expect("delete the restored table");
}

/// `installer restore <args>` through a proxy of its own, so that its writes can be counted.
fn refused(proxy: &Proxy, args: &[&str]) -> String {
    let out: Output = installer_at(proxy.endpoint())
        .arg("restore")
        .args(args)
        .output()
        .expect("run installer");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "restore {args:?} should fail");
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    stderr
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_restores_are_one_line_and_write_nothing() {
    let moto = aws_sdk_dynamodb::Client::new(&moto_config().await);
    let table = unique_name("Movies");
    let taken = unique_name("Taken");
    test_support::create_movies_table(&moto, &table).await;
    test_support::create_movies_table(&moto, &taken).await;
    let proxy = Proxy::start(&moto_endpoint(), None);
    let cases: [(&[&str], &str); 7] = [
        (
            &["--table", "NoSuchTable-x", "--to", "R-x"],
            "does not exist",
        ),
        (
            &["--table", &table, "--to", "R-y"],
            "has no available backup made by this stack",
        ),
        (&["--table", &table, "--to", &taken], "already exists"),
        (&["--table", &table, "--to", "x"], "invalid --to"),
        (
            &[
                "--table",
                &table,
                "--to",
                "R-z",
                "--backup",
                "arn:aws:dynamodb:us-east-1:123456789012:table/Films/backup/01",
            ],
            "is not a backup of table",
        ),
        (
            &["--table", &table, "--to", "R-w", "--time", "yesterday"],
            "invalid --time",
        ),
        (
            &["--table", &table, "--to", "R-v", "--scan-segments", "0"],
            "--scan-segments",
        ),
    ];
    for (args, says) in cases {
        let stderr = refused(&proxy, args);
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
    assert_eq!(proxy.writes(), Vec::new(), "nothing was written");
}

/// Single items as the backup holds them: a key file and `--key`, typed from the table's key
/// schema, read through a scratch table that is deleted after, into a JSON Lines file (the live
/// table, where one item was since deleted and another changed, not written); then back into
/// the table: the deleted one put back, the changed one only with --overwrite, after a backup.
#[tokio::test(flavor = "multi_thread")]
async fn single_items_come_back_from_a_backup_into_a_file() {
    use aws_sdk_dynamodb::types::AttributeValue;
    let moto = aws_sdk_dynamodb::Client::new(&moto_config().await);
    let deployed = Stack::new("itm");
    let (stack, table) = (deployed.name.clone(), deployed.table.clone());
    deployed.ok("up", &[]);
    backed_up(&deployed).await;
    // Since the backup: Rush deleted, Gravity rewritten.
    let key = |title: &str| {
        [
            ("year".to_owned(), AttributeValue::N("2013".into())),
            ("title".to_owned(), AttributeValue::S(title.into())),
        ]
        .into_iter()
        .collect::<std::collections::HashMap<_, _>>()
    };
    // The live table's item of that title (2013), read straight from moto.
    let live = |title: &'static str| test_support::item_of(&moto, &table, key(title));
    moto.delete_item()
        .table_name(&table)
        .set_key(Some(key("Rush")))
        .send()
        .await
        .unwrap();
    moto.put_item()
        .table_name(&table)
        .set_item(Some(key("Gravity")))
        .send()
        .await
        .unwrap();

    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(unique_name("items"));
    std::fs::create_dir_all(&dir).unwrap();
    let keys = dir.join("keys.jsonl");
    std::fs::write(
        &keys,
        "{\"year\": 2013, \"title\": \"Rush\"}\n{\"year\": 1999, \"title\": \"Not There\"}\n",
    )
    .unwrap();
    let out_file = dir.join("items.jsonl");
    // `restore --items keys.jsonl --key Gravity <extra>`, its document.
    let items_restore = |extra: &[&str]| -> Value {
        let mut args = vec![
            "--output",
            "json",
            "restore",
            "--stack",
            &stack,
            "--table",
            &table,
            "--items",
            keys.to_str().unwrap(),
            "--key",
            "year=2013,title=Gravity",
        ];
        args.extend(extra);
        let out = installer(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        let document: Value = serde_json::from_slice(&out.stdout).expect("JSON");
        crate::support::schema::assert_valid(&document);
        document
    };
    let document = items_restore(&["--to-file", out_file.to_str().unwrap()]);
    assert_eq!(document["command"], "restore-items");
    assert_eq!(document["written"], 2, "{document}");
    assert_eq!(
        document["missing"],
        serde_json::json!([{"year": 1999, "title": "Not There"}])
    );
    let written: Vec<Value> = std::fs::read_to_string(&out_file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(written[0]["title"], "Rush");
    assert_eq!(
        written[0]["info"]["directors"],
        serde_json::json!(["Ron Howard"])
    );
    assert_eq!(written[1]["title"], "Gravity");
    assert_eq!(
        written[1]["info"]["directors"],
        serde_json::json!(["Alfonso Cuaron"]),
        "the backup's version, not the live one"
    );
    // The live table is as it was made since; the scratch table is gone (or going).
    let rush = live("Rush").await;
    assert!(rush.is_none(), "--to-file: the live table is not written");
    let scratch = document["scratch"].as_str().unwrap();
    let left = moto.describe_table().table_name(scratch).send().await;
    assert!(
        left.is_err()
            || left
                .unwrap()
                .table()
                .and_then(|t| t.table_status())
                .map(|s| s.as_str())
                == Some("DELETING"),
        "the scratch table is deleted"
    );

    // Back into the table: the deleted item is put back, the changed one is left (and listed)
    // unless --overwrite, which first backs the table up as the stack's own.
    let first = items_restore(&[]);
    assert_eq!(first["written"], 1, "{first}");
    assert_eq!(
        first["skipped"],
        serde_json::json!([{"year": "2013", "title": "Gravity"}])
    );
    assert_eq!(first["backup_before"], Value::Null);
    let rush = live("Rush").await;
    assert!(rush.is_some_and(|i| i.contains_key("info")), "Rush is back");
    let second = items_restore(&["--overwrite"]);
    assert_eq!(second["written"], 1, "{second}");
    assert_eq!(
        second["unchanged"],
        serde_json::json!([{"year": 2013, "title": "Rush"}])
    );
    let before = second["backup_before"].as_str().expect("a backup first");
    assert!(before.starts_with(&format!("{table}-{stack}-")), "{before}");
    let gravity = live("Gravity").await;
    assert!(
        gravity.is_some_and(|i| i.contains_key("info")),
        "Gravity is as the backup holds it"
    );

    // A key of the wrong shape: one line naming it, before anything is restored.
    let out = installer(&[
        "restore",
        "--stack",
        &stack,
        "--table",
        &table,
        "--key",
        "year=2013",
        "--to-file",
        out_file.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("key 1: the table's key is year (N), title (S)"),
        "{stderr}"
    );
    installer_ok(&remove_all(&stack));
    let _ = std::fs::remove_dir_all(&dir);
}

/// `4609` as `4,609`, as the report writes counts.
fn thousands(n: i64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
