//! `installer rollback`: the writes of a window undone in the live table, from incremental
//! exports the strict layer answers from the item writes it saw. The table's clock is set back
//! (the layer's `rewind`) so that a window of an hour passes in seconds: the table is made and
//! filled "three hours ago", the bad writes happen "two hours ago", and a write after the window
//! happens now. Everything goes through one proxy of this test's own, which records the writes
//! and can stop the installer right after its Nth write.

use std::process::{Output, Stdio};
use std::time::Duration;

use serde_json::Value;
use test_support::proxy::{Faults, Proxy};
use test_support::{config_for, moto_endpoint, unique_name};

use crate::support::cli::{built_zip_path, installer_at, remove_all};
use crate::support::stack::as_strs;

use crate::support::items::{Item, movie};

fn run(proxy: &Proxy, args: &[&str]) -> Output {
    installer_at(proxy.endpoint())
        .args(args)
        .output()
        .expect("run installer")
}

fn json_ok(proxy: &Proxy, args: &[&str]) -> Value {
    let mut all = vec!["--output", "json"];
    all.extend(args);
    let out = run(proxy, &all);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "installer {args:?} failed:\n{stderr}");
    let document: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    crate::support::schema::assert_valid(&document);
    document
}

/// A moment `ago` before now, as RFC 3339.
fn ago(ago: Duration) -> String {
    let at = time::OffsetDateTime::now_utc() - ago;
    at.format(&time::format_description::well_known::Rfc3339)
        .expect("formats")
}

/// The item writes to `table` that took effect since the `from`th the layer recorded (a
/// conditional write refused, or a write that failed, is not one).
fn item_writes(proxy: &Proxy, table: &str, from: usize) -> usize {
    written(proxy, table) - from
}

/// How many item writes to `table` the layer has recorded.
fn written(proxy: &Proxy, table: &str) -> usize {
    proxy.history().expect("a strict proxy").writes(table).len()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rollback_puts_the_windows_writes_back_and_leaves_later_ones() {
    let proxy = Proxy::start(&moto_endpoint(), None);
    let history = proxy.history().expect("a strict proxy");
    let db = aws_sdk_dynamodb::Client::new(&config_for(proxy.endpoint()).await);
    let moto = aws_sdk_dynamodb::Client::new(&config_for(&moto_endpoint()).await);
    let stack = unique_name("rb");
    let table = unique_name("Movies");
    let zip = built_zip_path().display().to_string();
    let hour = Duration::from_secs(3600);

    // Three hours ago: the stack, its table (point-in-time recovery on), and five good items.
    history.rewind(&table, 3 * hour);
    let out = run(
        &proxy,
        &[
            "up",
            "--stack",
            &stack,
            "--table",
            &table,
            "--zip",
            &zip,
            "--pitr-days",
            "1",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (title, rating) in [("A", "1"), ("B", "2"), ("C", "3"), ("D", "4")] {
        db.put_item()
            .table_name(&table)
            .set_item(Some(movie(title, Some(rating))))
            .send()
            .await
            .expect("put");
    }
    // Two hours ago, the bad writes: A changed, B deleted, E made, D changed.
    history.rewind(&table, 2 * hour);
    let put = |item: Item| db.put_item().table_name(&table).set_item(Some(item)).send();
    put(movie("A", Some("10"))).await.expect("put");
    put(movie("E", Some("50"))).await.expect("put");
    put(movie("D", Some("40"))).await.expect("put");
    db.delete_item()
        .table_name(&table)
        .set_key(Some(movie("B", None)))
        .send()
        .await
        .expect("delete");
    // Now, after the window: D written again, which the rollback must leave.
    history.rewind(&table, Duration::ZERO);
    put(movie("D", Some("400"))).await.expect("put");

    let (from, to) = (ago(2 * hour + 30 * 60 * Duration::from_secs(1)), ago(hour));
    let rollback = |extra: &[&str]| {
        let mut args = vec![
            "rollback", "--stack", &stack, "--table", &table, "--from", &from, "--to", &to,
        ];
        args.extend(extra);
        args.iter()
            .map(|a| (*a).to_owned())
            .collect::<Vec<String>>()
    };

    // Bad input, each one line before any write.
    let before = written(&proxy, &table);
    let calls_before = proxy.calls().len();
    let bad: &[(&[&str], &str)] = &[
        (&["--from", &to, "--to", &from], "must be after --from"),
        (
            &[
                "--from",
                &from,
                "--to",
                &ago(2 * hour + 20 * 60 * Duration::from_secs(1)),
            ],
            "at least 15 minutes",
        ),
        (&["--from", &ago(5 * hour), "--to", &to], "outside table"),
        (&["--from", "yesterday"], "is not a time"),
    ];
    for (flags, expected) in bad {
        let mut args = vec!["rollback", "--stack", &stack, "--table", &table, "--yes"];
        args.extend(*flags);
        let out = run(&proxy, &args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{flags:?} should fail");
        assert!(stderr.contains(expected), "{flags:?}: {stderr}");
    }
    let out = run(&proxy, &as_strs(&rollback(&[])));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--yes"),
        "no terminal, no --yes: refused"
    );
    assert_eq!(item_writes(&proxy, &table, before), 0, "no item written");

    // A dry run shows what it would do, and writes nothing; with --keys, only those.
    let dry = json_ok(&proxy, &as_strs(&rollback(&["--dry-run"])));
    assert_eq!(dry["command"], "rollback");
    assert_eq!(dry["changed"], 4, "{dry}");
    assert_eq!(dry["put_back"], 2, "{dry}");
    assert_eq!(dry["deleted"], 1, "{dry}");
    assert_eq!(
        dry["skipped"],
        serde_json::json!([{"year": 2099, "title": "D"}])
    );
    assert_eq!(dry["backup_before"], Value::Null);
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(unique_name("rb"));
    std::fs::create_dir_all(&dir).expect("a folder");
    let keys = dir.join("keys.jsonl");
    std::fs::write(
        &keys,
        "{\"year\": 2099, \"title\": \"A\"}\n{\"year\": 2099.0, \"title\": \"C\"}\n",
    )
    .expect("write keys");
    let some = json_ok(
        &proxy,
        &as_strs(&rollback(&[
            "--dry-run",
            "--keys",
            keys.to_str().expect("utf-8"),
        ])),
    );
    assert_eq!(some["changed"], 1, "{some}");
    assert_eq!(some["put_back"], 1, "{some}");
    assert_eq!(
        some["not_in_window"],
        serde_json::json!([{"year": 2099.0, "title": "C"}])
    );
    std::fs::write(&keys, "{\"title\": \"A\"}\n").expect("write keys");
    let out = run(
        &proxy,
        &as_strs(&rollback(&[
            "--dry-run",
            "--keys",
            keys.to_str().expect("utf-8"),
        ])),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("the table's key is"),
        "{stderr}"
    );
    assert_eq!(
        item_writes(&proxy, &table, before),
        0,
        "a dry run writes nothing"
    );
    // Point-in-time recovery off (turned off and on again behind the layer's back): refused.
    let pitr = |on: bool| {
        moto.update_continuous_backups()
            .table_name(&table)
            .point_in_time_recovery_specification(
                aws_sdk_dynamodb::types::PointInTimeRecoverySpecification::builder()
                    .point_in_time_recovery_enabled(on)
                    .build()
                    .expect("spec"),
            )
            .send()
    };
    pitr(false).await.expect("pitr off");
    let out = run(&proxy, &as_strs(&rollback(&["--yes"])));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("point-in-time recovery off"),
        "{stderr}"
    );
    pitr(true).await.expect("pitr on");

    // Paced to a write a second and stopped right after every second write, then run again,
    // until it ends: every item as it was at --from, except D (written after the window); no
    // item written twice; one backup made before the first item write, and named at the end.
    // Throttling, server errors and lost connections on one request in twenty, too: a run they
    // stop is run again, like one that was killed.
    proxy.set_faults(Some(Faults {
        percent: 5,
        seed: 29,
    }));
    let mut runs = 0;
    let mut resumed_with_work_left = false;
    let done: Value = loop {
        runs += 1;
        assert!(runs < 20, "the rollback never finished");
        let writes_before = item_writes(&proxy, &table, before);
        proxy.hold_after_writes(2);
        let mut child = installer_at(proxy.endpoint())
            .args(["--output", "json"])
            .args(as_strs(&rollback(&["--yes", "--writes-per-second", "1"])))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start installer");
        let finished = loop {
            if proxy.wait_until_holding(Duration::from_millis(200)) {
                break false;
            }
            if let Some(status) = child.try_wait().expect("status") {
                break status.success();
            }
        };
        if finished {
            proxy.release();
            let mut stdout = String::new();
            std::io::Read::read_to_string(&mut child.stdout.take().expect("stdout"), &mut stdout)
                .expect("read");
            break serde_json::from_str(&stdout).expect("JSON");
        }
        let _ = child.kill();
        let _ = child.wait();
        proxy.release();
        let writes = item_writes(&proxy, &table, before);
        if writes > writes_before && writes < 3 {
            resumed_with_work_left = true;
        }
    };
    assert!(
        runs > 2,
        "the rollback was interrupted more than once ({runs} runs)"
    );
    assert!(
        resumed_with_work_left,
        "a run was stopped between two item writes"
    );
    assert_eq!(
        item_writes(&proxy, &table, before),
        3,
        "A and B put back, E deleted, each once"
    );
    let backups_made = proxy.calls()[calls_before..]
        .iter()
        .filter(|c| {
            c.reached_moto
                && c.call.operation == "CreateBackup"
                && c.request
                    .body
                    .contains(&format!("\"TableName\":\"{table}\""))
        })
        .count();
    assert_eq!(backups_made, 1, "one backup, whatever the interruptions");
    let backup = done["backup_before"]
        .as_str()
        .expect("the backup made first");
    assert!(
        test_support::backup_names(&moto, &table)
            .await
            .iter()
            .any(|b| b == backup),
        "{backup} exists"
    );
    let get = |title: &str| test_support::item_of(&moto, &table, movie(title, None));
    assert_eq!(get("A").await, Some(movie("A", Some("1"))));
    assert_eq!(get("B").await, Some(movie("B", Some("2"))));
    assert_eq!(get("C").await, Some(movie("C", Some("3"))));
    assert_eq!(get("E").await, None);
    assert_eq!(
        get("D").await,
        Some(movie("D", Some("400"))),
        "a later write is kept"
    );

    // Once more, without --to: the window the first run resolved, not a longer one; everything
    // is found done, nothing is written, not even tried (each item is read before any write),
    // and the same exports are read (their ClientToken).
    let calls_again = proxy.calls().len();
    let again = json_ok(
        &proxy,
        &[
            "rollback", "--stack", &stack, "--table", &table, "--from", &from, "--yes",
        ],
    );
    assert_eq!(again["to"], done["to"], "{again}");
    assert_eq!(again["as_it_was"], 3, "{again}");
    assert_eq!(again["put_back"], 0);
    assert_eq!(again["skipped"].as_array().map(Vec::len), Some(1));
    assert_eq!(again["backup_before"], done["backup_before"]);
    let tried = proxy.calls()[calls_again..]
        .iter()
        .filter(|c| {
            ["PutItem", "DeleteItem", "CreateBackup"].contains(&c.call.operation.as_str())
                && c.request
                    .body
                    .contains(&format!("\"TableName\":\"{table}\""))
        })
        .count();
    assert_eq!(tried, 0, "a rollback found done sends no write at all");
    assert_eq!(
        item_writes(&proxy, &table, before),
        3,
        "nothing written twice"
    );
    assert_eq!(
        again["exports"], dry["exports"],
        "the same export, by its token"
    );

    // A rollback's exports are incremental: `restore --from-export` never takes one for the
    // table, and refuses one named by its ARN.
    let export = again["exports"][0].as_str().expect("an export");
    for (pick, expected) in [
        ("latest", "has no completed export"),
        (export, "is an incremental export"),
    ] {
        let out = run(
            &proxy,
            &[
                "restore",
                "--table",
                &table,
                "--to",
                &format!("{table}-x"),
                "--from-export",
                pick,
            ],
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && stderr.contains(expected),
            "{pick}: {stderr}"
        );
    }

    let out = run(&proxy, &remove_all(&stack));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
