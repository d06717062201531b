//! `installer report` through the strict layer: figures against a synthetic history computed
//! by hand (failures, a stopped schedule, a partial run, drills, malformed and foreign objects
//! in the ledgers' prefix; exports completed, failed and missed), the exit status as a CI gate,
//! the HTML page as headless Chromium renders it, and the ledger the real function writes as it
//! runs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::cli::installer;
use crate::support::stack::Stack;
use backup_lambda::drill::Verdict;
use backup_lambda::export::{ExportRecord, ExportState};
use backup_lambda::ledger::{DayLedger, DrillEntry, Outcome, RunEntry};
use serde_json::Value;
use test_support::{create_movies_table, unique_name};

/// The history, by hand: daily at 03:00 from Nov 1 to Nov 10; Nov 4 failed, Nov 5 and 6 never
/// ran (the schedule stopped), Nov 8 partial. Drills on Nov 2 (passed, 5 min) and Nov 9 (failed
/// after 12 h). A run on Oct 31 is outside the period.
fn ledgers(table: &str) -> Vec<DayLedger> {
    let mut out = Vec::new();
    for d in (1..=10).chain([0]) {
        let date = time::macros::date!(2026 - 10 - 31) + time::Duration::days(d);
        let outcome = match d {
            4 => Outcome::Failed,
            5 | 6 => continue,
            8 => Outcome::Partial,
            _ => Outcome::Ok,
        };
        let mut ledger = DayLedger::new(table, date);
        let at = format!("{}T03:00:00Z", backup_lambda::record::day_name(date));
        ledger.runs.push(RunEntry {
            at: at.clone(),
            request_id: format!("req-{d}"),
            outcome,
            backup: (outcome != Outcome::Failed).then(|| format!("{table}-{d}")),
            duration_ms: 900,
            error: (outcome != Outcome::Ok).then(|| "LimitExceededException: slow down".to_owned()),
        });
        let drill = |verdict, recovery_seconds, reason: Option<&str>| DrillEntry {
            at: at.replace("03:00", "04:00"),
            id: format!("drill-{d}"),
            backup: format!("{table}-{d}"),
            verdict,
            recovery_seconds,
            recovery_upper_bound: false,
            reason: reason.map(str::to_owned),
        };
        match d {
            2 => ledger.drills.push(drill(Verdict::Passed, 300, None)),
            9 => ledger.drills.push(drill(
                Verdict::Failed,
                43_200,
                Some("not ACTIVE within 43200 s"),
            )),
            10 => ledger.runs.push(RunEntry {
                at: "yesterday".to_owned(),
                ..ledger.runs[0].clone()
            }),
            _ => {}
        }
        out.push(ledger);
    }
    out
}

/// Daily exports by hand: Nov 2, 3 and 10 completed (the newest asked for at 03:05), Nov 5
/// failed, Nov 4 and 6 to 9 missed; Oct 20 is outside the period.
/// An RFC 3339 time.
fn at(text: &str) -> time::OffsetDateTime {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).unwrap()
}

fn export_records(table: &str) -> Vec<ExportRecord> {
    [
        ("2026-10-20", ExportState::Completed),
        ("2026-11-02", ExportState::Completed),
        ("2026-11-03", ExportState::Completed),
        ("2026-11-05", ExportState::Failed),
        ("2026-11-10", ExportState::Completed),
    ]
    .into_iter()
    .map(|(period, status)| ExportRecord {
        table: table.to_owned(),
        period: period.to_owned(),
        export_arn: format!(
            "arn:aws:dynamodb:us-east-1:123456789012:table/{table}/export/{period}"
        ),
        bucket: "logs".to_owned(),
        prefix: format!("exports/{table}/{period}"),
        started_at: at(&format!("{period}T03:05:00Z")),
        status,
        finished_at: Some(at(&format!("{period}T03:15:00Z"))),
        duration_seconds: Some(600),
        item_count: (status == ExportState::Completed).then_some(30),
        billed_size_bytes: (status == ExportState::Completed).then_some(4_096),
        failure: (status == ExportState::Failed).then(|| "UNKNOWN: Failed to export".to_owned()),
    })
    .collect()
}

/// Writes the history, a foreign object, an unreadable ledger, another table's ledger, a run
/// record (not a ledger, never read), the export records and a foreign object among them into
/// `bucket`.
async fn seed(s3: &aws_sdk_s3::Client, bucket: &str, table: &str) {
    s3.create_bucket().bucket(bucket).send().await.unwrap();
    let put = |key: String, body: Vec<u8>| {
        s3.put_object()
            .bucket(bucket)
            .key(key)
            .body(body.into())
            .send()
    };
    for ledger in ledgers(table) {
        let key = format!("runs/{table}/daily/{}.json", ledger.day);
        put(key, serde_json::to_vec(&ledger).unwrap())
            .await
            .unwrap();
    }
    let daily = format!("runs/{table}/daily");
    put(format!("{daily}/2026-11-03.txt"), b"notes".to_vec())
        .await
        .unwrap();
    put(
        format!("{daily}/2026-11-05.json"),
        b"{\"version\":".to_vec(),
    )
    .await
    .unwrap();
    let other = DayLedger::new("Other", time::macros::date!(2026 - 11 - 06));
    put(
        format!("{daily}/2026-11-06.json"),
        serde_json::to_vec(&other).unwrap(),
    )
    .await
    .unwrap();
    put(
        format!("runs/{table}/2026/11/07/030000-x.json"),
        b"{}".to_vec(),
    )
    .await
    .unwrap();
    for record in export_records(table) {
        let key = format!("runs/{table}/exports/{}.json", record.period);
        put(key, serde_json::to_vec(&record).unwrap())
            .await
            .unwrap();
    }
    put(format!("runs/{table}/exports/notes.txt"), b"notes".to_vec())
        .await
        .unwrap();
}

fn report(stack: &str, table: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "--output",
        "json",
        "report",
        "--stack",
        stack,
        "--table",
        table,
        "--from",
        "2026-11-01",
        "--to",
        "2026-11-11",
    ];
    args.extend(extra);
    installer(&args)
}

fn json_of(out: &Output) -> Value {
    let document = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    crate::support::schema::assert_valid(&document);
    document
}

/// Debian's `chromium`, which the tests' set-up installs (`.ci/run`): headless, in a profile of
/// its own, and making no connection of its own (the page needs none; the machine allows none).
fn chromium() -> Command {
    let profile = tempdir().join("chromium-profile");
    let mut command = Command::new("chromium");
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()));
    command
}

fn rendered_dom(page: &Path) -> String {
    let out = chromium()
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium is installed (apt-get install chromium; .ci/run does)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn count(dom: &str, needle: &str) -> usize {
    dom.matches(needle).count()
}

#[tokio::test(flavor = "multi_thread")]
async fn figures_verdicts_and_page_match_a_history_computed_by_hand() {
    // Set-up straight to moto: a new table's backups would be "being enabled" for a while.
    let config = test_support::moto_config().await;
    let (s3, db) = (
        aws_sdk_s3::Client::new(&config),
        aws_sdk_dynamodb::Client::new(&config),
    );
    let (stack, table) = (unique_name("rpt"), unique_name("Movies"));
    // The stack is not deployed (removed, its bucket kept): the report reads the default bucket.
    let bucket = format!("{stack}-logs-123456789012-us-east-1");
    seed(&s3, &bucket, &table).await;
    create_movies_table(&db, &table).await;
    // One backup kept now, as the stack's function names them, and three it did not make:
    // another stack's, an unmarked one it never adopted, and a manual one.
    for name in [
        format!("{table}-{stack}-20261110030000"),
        format!("{table}-other-20261110030000"),
        format!("{table}-20261110030000"),
        format!("{table}-manual"),
    ] {
        db.create_backup()
            .table_name(&table)
            .backup_name(name)
            .send()
            .await
            .unwrap();
    }
    let dir = tempdir();
    let page = dir.join("report.html");
    let page_arg = page.display().to_string();

    let out = report(
        &stack,
        &table,
        &["--rpo", "2d", "--rto", "10m", "--html", &page_arg],
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "objectives missed: exit 3\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json = json_of(&out);
    assert_eq!(json["met"], false);
    let t = &json["tables"][0];
    assert_eq!(
        t["runs"],
        serde_json::json!({"ok": 6, "partial": 1, "failed": 1})
    );
    assert_eq!(t["backups_made"], 7);
    assert_eq!(t["longest_gap"]["seconds"], 4 * 86_400, "Nov 3 to Nov 7");
    assert_eq!(t["longest_gap"]["from"], "2026-11-03T03:00:00Z");
    assert_eq!(t["newest_age_seconds"], 21 * 3600);
    assert_eq!(t["gaps_over_rpo"].as_array().unwrap().len(), 1);
    assert_eq!(t["rpo_met"], false);
    assert_eq!(t["rto_met"], false, "the Nov 9 drill failed");
    assert_eq!(t["drills"].as_array().unwrap().len(), 2);
    assert_eq!(t["drills"][0]["recovery_seconds"], 300);
    let kept: Vec<&str> = t["retained"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        kept,
        [format!("{table}-{stack}-20261110030000")],
        "only the stack's backups count as kept"
    );
    let skipped: Vec<String> = t["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| format!("{} {}", s["key"], s["reason"]))
        .collect();
    assert_eq!(skipped.len(), 5, "{skipped:#?}");
    for (what, why) in [
        ("exports/notes.txt", "not named as an export period"),
        ("2026-11-03.txt", "not named as a day"),
        ("2026-11-05.json", "not a ledger"),
        ("2026-11-06.json", "a ledger of table \\\"Other\\\""),
        ("2026-11-10.json", "1 line(s) without an RFC 3339 time"),
    ] {
        assert!(
            skipped.iter().any(|s| s.contains(what) && s.contains(why)),
            "{what}: {skipped:#?}"
        );
    }
    // GetCallerIdentity; no DescribeRule with --rpo; one listing, one read per ledger-named
    // object in the period (10 days; the .txt is not read), one ListBackups; one listing of
    // the export records and one read per period in the window (not Oct 20's, nor the .txt).
    assert_eq!(
        json["requests"],
        1 + 1 + 10 + 1 + 1 + 4,
        "{}",
        json["requests"]
    );
    // Exports: not an objective, but counted and noted.
    let exports = &t["exports"];
    assert_eq!(
        (
            &exports["completed"],
            &exports["failed"],
            &exports["in_progress"]
        ),
        (&Value::from(3), &Value::from(1), &Value::from(0))
    );
    assert_eq!(exports["newest_completed"], "2026-11-10");
    assert_eq!(
        exports["newest_completed_age_seconds"],
        20 * 3600 + 55 * 60,
        "from Nov 10 03:05 to Nov 11 00:00"
    );
    assert_eq!(
        exports["missed_periods"],
        serde_json::json!([
            "2026-11-04",
            "2026-11-06",
            "2026-11-07",
            "2026-11-08",
            "2026-11-09"
        ])
    );
    assert_eq!(
        exports["notes"],
        serde_json::json!([
            "the export of 2026-11-05 failed: UNKNOWN: Failed to export",
            "5 daily period(s) without an export: 2026-11-04, 2026-11-06, 2026-11-07, 2026-11-08, 2026-11-09"
        ])
    );

    let dom = rendered_dom(&page);
    assert!(
        dom.contains("id=\"overall\" class=\"verdict overall missed\""),
        "{dom}"
    );
    assert_eq!(count(&dom, "class=\"run ok\""), 6);
    assert_eq!(count(&dom, "class=\"run partial\""), 1);
    assert_eq!(count(&dom, "class=\"run failed\""), 1);
    assert_eq!(
        count(&dom, "class=\"gap\""),
        1,
        "the Nov 3 to 7 gap is shaded"
    );
    assert_eq!(count(&dom, "class=\"drill passed\""), 1);
    assert_eq!(count(&dom, "class=\"drill failed\""), 1);
    assert!(dom.contains(&format!("data-table=\"{table}\"")));
    assert!(
        dom.contains("<dd class=\"longest-gap\">4 d</dd>"),
        "figures on the page"
    );
    assert!(
        dom.contains("<span class=\"exports-completed\">3</span>")
            && dom.contains("<span class=\"exports-failed\">1</span>"),
        "export figures on the page"
    );
    assert_eq!(
        count(&dom, "2026-11-05 failed"),
        1,
        "the failed export noted"
    );
    assert!(
        !dom.contains("http://") && !dom.contains("https://"),
        "no network"
    );

    // A screenshot as a reader sees it (the README's is made the same way).
    let shot = dir.join("report.png");
    let out = chromium()
        .args([
            "--window-size=1100,900",
            &format!("--screenshot={}", shot.display()),
        ])
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(out.status.success());
    let png = std::fs::read(&shot).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");

    // The same history passes looser objectives: exit 0, the CI gate opens.
    let out = report(&stack, &table, &["--rpo", "4d"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json_of(&out)["met"], true);
    // The text table by default.
    let out = installer(&[
        "report",
        "--stack",
        &stack,
        "--table",
        &table,
        "--from",
        "2026-11-01",
        "--to",
        "2026-11-11",
        "--rpo",
        "4d",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("All objectives met."), "{text}");
    assert!(
        text.contains(
            "exports: 3 completed, 1 failed, 0 running; newest completed 2026-11-10 (data 20 h 55 min old)"
        ),
        "{text}"
    );
    assert!(text.contains("left out: runs/"), "{text}");
}

#[test]
fn bad_periods_and_objectives_fail_before_any_request() {
    for (args, why) in [
        (vec!["--since", "30"], "--since \"30\" is not a duration"),
        (
            vec!["--from", "last week"],
            "--from \"last week\" is not a time",
        ),
        (
            vec!["--from", "2026-11-05", "--to", "2026-11-01"],
            "--from must be before --to",
        ),
        (vec!["--rpo", "soon"], "--rpo \"soon\" is not a duration"),
        (vec!["--rto", "0h"], "--rto \"0h\" is not a duration"),
        (
            vec!["--html", "/no/such/folder/r.html"],
            "its folder does not exist",
        ),
    ] {
        let mut all = vec!["report"];
        all.extend(&args);
        // A closed port: any request would fail differently.
        let out = crate::support::cli::installer_with_endpoint(&all, "http://127.0.0.1:9");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(why), "{args:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    }
}

#[test]
fn the_functions_own_runs_land_in_the_ledger_the_report_reads() {
    let deployed = Stack::new("rpl");
    deployed.ok("up", &["--schedule", "rate(1 hour)"]);
    deployed.ok("invoke", &[]);
    deployed.ok("invoke", &[]);
    let out = deployed.run("report", &["--since", "1h", "--output", "json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json = json_of(&out);
    assert_eq!(
        json["rpo_seconds"], 7200,
        "twice the deployed schedule's hour"
    );
    assert_eq!(json["rpo_basis"], "twice the schedule rate(1 hour)");
    let t = &json["tables"][0];
    assert_eq!(t["runs"]["ok"], 2, "{t}");
    assert_eq!(t["backups_made"], 2);
    assert_eq!(t["retained"].as_array().unwrap().len(), 2);
    assert!(t["skipped"].as_array().unwrap().is_empty(), "{t}");
    deployed.ok("down", &["--yes", "--delete-data"]);
}

/// A fresh folder under the target directory.
fn tempdir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(unique_name("report"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
