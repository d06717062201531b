//! `installer coverage` against a hand-built account, through the strict layer: five tables
//! carrying this test's own tag (so that other tests' tables stay out), two of them the
//! stack's, judged against a one-day objective; exit 3 while a table the stack backs up is
//! not covered, 0 once it is; a bad `--tag` is one line and no request.

use aws_sdk_dynamodb::types::PointInTimeRecoverySpecification;
use serde_json::Value;
use test_support::proxy::Proxy;
use test_support::{moto_endpoint, unique_name};

use crate::support::aws::{clients, tagged_movies_table};
use crate::support::cli::{built_zip_path, installer_at};

/// `installer --output json coverage <args>` through `proxy`: its exit code and document.
fn coverage(proxy: &Proxy, args: &[&str]) -> (i32, Value, String) {
    let out = installer_at(proxy.endpoint())
        .args(["--output", "json", "coverage"])
        .args(args)
        .output()
        .expect("run installer");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let document = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), document, stderr)
}

fn table<'a>(document: &'a Value, name: &str) -> &'a Value {
    document["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == name)
        .unwrap_or_else(|| panic!("{name} in {document}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn every_tagged_table_is_judged_and_an_uncovered_one_of_the_stack_fails() {
    let aws = clients().await;
    let proxy = Proxy::start(&moto_endpoint(), None);
    let stack = unique_name("cov");
    let value = unique_name("team");
    let [backed, bare, recovering, forgotten, guarded] =
        ["Backed", "Bare", "Pitr", "Forgotten", "Guarded"].map(unique_name);
    for name in [&backed, &bare, &recovering, &forgotten, &guarded] {
        tagged_movies_table(&aws, name, "team", &value).await;
    }
    for name in [&backed, &guarded] {
        aws.dynamodb
            .create_backup()
            .table_name(name.as_str())
            .backup_name(format!("{name}-manual"))
            .send()
            .await
            .unwrap();
    }
    aws.dynamodb
        .update_continuous_backups()
        .table_name(recovering.as_str())
        .point_in_time_recovery_specification(
            PointInTimeRecoverySpecification::builder()
                .point_in_time_recovery_enabled(true)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    aws.dynamodb
        .update_table()
        .table_name(guarded.as_str())
        .deletion_protection_enabled(true)
        .send()
        .await
        .unwrap();

    // Bad input: one line, before any request.
    proxy.clear();
    let (code, _, stderr) = coverage(&proxy, &["--stack", &stack, "--tag", "team"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--tag must be KEY=VALUE"), "{stderr}");
    assert!(proxy.calls().is_empty(), "no request: {:?}", proxy.calls());

    let zip = built_zip_path().display().to_string();
    let up = installer_at(proxy.endpoint())
        .args(["up", "--zip", &zip, "--stack", &stack])
        .args(["--table", &backed, "--table", &bare])
        .output()
        .unwrap();
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );

    let tag = format!("team={value}");
    let args = [
        "--stack",
        stack.as_str(),
        "--tag",
        tag.as_str(),
        "--rpo",
        "1d",
    ];
    let (code, document, stderr) = coverage(&proxy, &args);
    assert_eq!(code, 3, "a selected table is uncovered: {stderr}");
    assert!(stderr.contains(bare.as_str()), "{stderr}");
    assert_eq!(
        document["tables"].as_array().unwrap().len(),
        5,
        "{document}"
    );
    assert_eq!(document["rpo_seconds"], 86_400);
    assert_eq!(document["tag"], tag.as_str());
    let expect = |name: &str, selected: bool, verdict: &str, by: Value| {
        let t = table(&document, name);
        assert_eq!(t["selected"], selected, "{t}");
        assert_eq!(t["verdict"], verdict, "{t}");
        assert_eq!(t["covered_by"], by, "{t}");
    };
    expect(&backed, true, "covered", "backup".into());
    expect(&bare, true, "unprotected", Value::Null);
    expect(&recovering, false, "covered", "pitr".into());
    expect(&forgotten, false, "unprotected", Value::Null);
    expect(&guarded, false, "covered", "backup".into());
    assert_eq!(table(&document, &guarded)["deletion_protection"], true);
    assert_eq!(table(&document, &backed)["deletion_protection"], false);
    assert_eq!(
        table(&document, &backed)["newest_backup"]["name"],
        format!("{backed}-manual")
    );
    assert_eq!(table(&document, &backed)["newest_backup"]["kind"], "USER");
    assert!(table(&document, &recovering)["pitr"]["latest"].is_string());
    assert!(table(&document, &bare)["pitr"].is_null());
    assert_eq!(document["selected_uncovered"], serde_json::json!([bare]));
    assert_eq!(document["unselected_uncovered"], 1);
    assert!(document["requests"].as_u64().unwrap() > 0);

    // The same verdicts as a section of the report (every table of the account, so the other
    // tests' too), in its JSON, its text and its page.
    let pages = tempfile::TempDir::new().unwrap();
    let page = pages.path().join("report.html");
    let report = installer_at(proxy.endpoint())
        .args([
            "--output", "json", "report", "--stack", &stack, "--rpo", "1d",
        ])
        .args(["--coverage", "--html", page.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&report.stderr);
    assert_eq!(report.status.code(), Some(3), "{stderr}");
    let report: Value = serde_json::from_slice(&report.stdout).expect("the report");
    crate::support::schema::assert_valid(&report);
    assert_eq!(report["met"], false);
    let judged = &report["coverage"];
    assert_eq!(judged["selected_uncovered"], serde_json::json!([bare]));
    assert_eq!(table(judged, &backed)["verdict"], "covered");
    assert_eq!(table(judged, &forgotten)["verdict"], "unprotected");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("<section id=\"coverage\">"), "the section");
    assert!(
        html.contains(&format!("<tr class=\"missed\" data-table=\"{bare}\">")),
        "the stack's uncovered table marked missed"
    );
    assert!(html.contains(&format!("<tr class=\"other\" data-table=\"{forgotten}\">")));

    // The stack's run backs the bare table up: every selected table is covered.
    let invoke = installer_at(proxy.endpoint())
        .args(["invoke", "--stack", &stack, "--table", &bare])
        .output()
        .unwrap();
    assert!(
        invoke.status.success(),
        "{}",
        String::from_utf8_lossy(&invoke.stderr)
    );
    let (code, document, stderr) = coverage(&proxy, &args);
    assert_eq!(code, 0, "{stderr}");
    let t = table(&document, &bare);
    assert_eq!(t["verdict"], "covered", "{t}");
    assert!(
        t["newest_backup"]["name"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{bare}-{stack}-")),
        "{t}"
    );

    let down = installer_at(proxy.endpoint())
        .args(["down", "--yes", "--delete-backups", "--stack", &stack])
        .output()
        .unwrap();
    assert!(
        down.status.success(),
        "{}",
        String::from_utf8_lossy(&down.stderr)
    );
}
