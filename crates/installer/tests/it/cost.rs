//! `plan --cost` against moto through the strict layer: the estimate comes with the plan, in
//! text and in the published JSON schema, priced from the built-in table, with the alarms the
//! settings imply and the savings of exports and arm64. (The figures themselves are checked
//! against a hand-computed 10 GB example in the unit tests; moto reports every table as 0
//! bytes.)

use crate::support::cli::{built_zip_path, installer};
use serde_json::Value;
use test_support::unique_name;

#[test]
fn plan_with_cost_prices_the_configured_stack() {
    let stack = unique_name("cst");
    let zip = built_zip_path().display().to_string();
    let out = installer(&[
        "--output",
        "json",
        "plan",
        "--cost",
        "--stack",
        &stack,
        "--zip",
        &zip,
        "--export",
        "daily",
        "--drill-every",
        "7d",
        "--alert-email",
        "ops@example.com",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    crate::support::schema::assert_valid(&plan);
    let cost = &plan["cost"];
    assert_eq!(cost["priced_as"], "us-east-1", "{cost}");
    assert_eq!(cost["currency"], "USD");
    let line = |item: &str| -> f64 {
        cost["lines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["item"] == item)
            .unwrap_or_else(|| panic!("{item} in {cost}"))["monthly_usd"]
            .as_f64()
            .unwrap()
    };
    // Function errors, backup missing, drill failed, export failed, export missing: 5 × $0.10.
    assert_eq!(line("alarms"), 0.5);
    // The table does not exist yet: nothing to keep, export or drill.
    assert_eq!(line("on-demand backups"), 0.0);
    assert_eq!(line("export storage"), 0.0);
    let total: f64 = cost["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["monthly_usd"].as_f64().unwrap())
        .sum();
    assert!((cost["total_monthly_usd"].as_f64().unwrap() - total).abs() < 1e-9);
    let savings = cost["savings"].as_array().unwrap();
    assert!(
        savings[0]["option"]
            .as_str()
            .unwrap()
            .starts_with("exports")
    );
    assert!(savings[1]["option"].as_str().unwrap().starts_with("arm64"));
    assert!(
        stderr.contains("monthly cost (us-east-1 list prices of"),
        "{stderr}"
    );

    // Without --cost the plan carries no estimate.
    let out = installer(&["--output", "json", "plan", "--stack", &stack, "--zip", &zip]);
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(plan["cost"].is_null());
}

#[test]
fn plan_compare_lists_the_alternatives_for_the_stacks_reach() {
    let stack = unique_name("cmp");
    let zip = built_zip_path().display().to_string();
    let out = installer(&[
        "--output",
        "json",
        "plan",
        "--cost",
        "--compare",
        "--stack",
        &stack,
        "--zip",
        &zip,
        "--keep",
        "3",
        "--keep-daily",
        "7",
        "--keep-weekly",
        "4",
        "--keep-monthly",
        "12",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    crate::support::schema::assert_valid(&plan);
    let compare = &plan["cost"]["compare"];
    // Twelve months' newest backups reach eleven months back (this month's is one of them):
    // the retention rule run over a simulated history of the daily schedule.
    let horizon = compare["horizon_days"].as_f64().unwrap();
    assert!((300.0..=340.0).contains(&horizon), "{compare}");
    let options: Vec<&str> = compare["alternatives"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["option"].as_str().unwrap())
        .collect();
    assert!(options.contains(&"as configured"), "{options:?}");
    assert!(
        options
            .iter()
            .any(|o| o.starts_with("on-demand backups, one a run"))
    );
    assert!(
        options
            .iter()
            .any(|o| o.starts_with("generations (daily 7"))
    );
    assert!(options.iter().any(|o| o.contains("weekly exports kept")));
    assert!(stderr.contains("the same recovery objectives"), "{stderr}");

    // --compare prices alternatives to an estimate: without --cost it is a usage error.
    let out = installer(&["plan", "--compare", "--stack", &stack]);
    assert_eq!(out.status.code(), Some(2));
}

/// The example as a what-if: a 500 GB table changing 1 % a day, a recovery point a day
/// kept a year, as daily full exports and as an incremental chain (a full export a week).
#[test]
fn a_what_if_prices_a_500_gb_table_as_full_exports_and_as_a_chain() {
    let stack = unique_name("cwi");
    let zip = built_zip_path().display().to_string();
    let exports_usd = |mode: &str| -> (f64, Value) {
        let out = installer(&[
            "--output",
            "json",
            "plan",
            "--cost",
            "--compare",
            "--assume-table-gb",
            "500",
            "--assume-daily-change",
            "1%",
            "--stack",
            &stack,
            "--zip",
            &zip,
            "--export",
            "daily",
            "--export-mode",
            mode,
            "--export-expire-days",
            "365",
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
        crate::support::schema::assert_valid(&plan);
        let cost = plan["cost"].clone();
        let sum: f64 = cost["lines"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| l["item"] == "exports to S3" || l["item"] == "export storage")
            .map(|l| l["monthly_usd"].as_f64().unwrap())
            .sum();
        (sum, cost)
    };
    let (full, cost) = exports_usd("full");
    assert_eq!(cost["tables"][0]["gb"], 500.0);
    assert_eq!(cost["tables"][0]["daily_change_gb"], 5.0);
    assert_eq!(cost["tables"][0]["change"], "given");
    // 30.4375 × 500 GB × $0.10, and 30 copies warm, 335 cold (GLACIER_IR).
    let expected_full = 30.4375 * 50.0 + 500.0 * (30.0 * 0.023 + 335.0 * 0.004);
    assert!(
        (full - expected_full).abs() < 0.01,
        "{full} vs {expected_full}"
    );
    let (chain, cost) = exports_usd("incremental");
    let expected_chain = 30.4375 / 7.0 * 50.0
        + 30.4375 * 0.5
        + 500.0 * (30.0 / 7.0 * 0.023 + 335.0 / 7.0 * 0.004)
        + 5.0 * (30.0 * 0.023 + 335.0 * 0.004);
    assert!(
        (chain - expected_chain).abs() < 0.01,
        "{chain} vs {expected_chain}"
    );
    let options: Vec<&str> = cost["compare"]["alternatives"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["option"].as_str())
        .collect();
    assert!(
        options.iter().any(|o| o.contains("export chain")),
        "{options:?}"
    );

    // A what-if out of range is one line, before any call.
    for (flag, value) in [("--assume-daily-change", "150"), ("--assume-table-gb", "0")] {
        let out = installer(&["plan", "--cost", flag, value, "--stack", &stack]);
        assert_eq!(out.status.code(), Some(2), "{flag} {value}");
        assert!(String::from_utf8_lossy(&out.stderr).contains(value));
    }
}
