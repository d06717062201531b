//! Per-table metrics without an API call: one log line per run in CloudWatch's embedded metric
//! format (EMF), which CloudWatch Logs turns into metrics in [`NAMESPACE`] with the dimensions
//! `Stack` (the function's name) and `Table`.
//!
//! The format (CloudWatch user guide, "Specification: Embedded metric format"): a JSON object
//! whose `_aws` member holds `Timestamp` (milliseconds since the epoch) and `CloudWatchMetrics`,
//! a list of directives each naming a `Namespace`, `Dimensions` (lists of dimension keys, at most
//! 30 keys) and `Metrics` (each a `Name` and `Unit`, at most 100); every dimension key and metric
//! name is also a top-level member holding the value (a string for dimensions, a number for
//! metrics).

use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::drill::{DrillStep, Verdict};
use crate::run::RunRecord;

/// The namespace the metrics go to.
pub const NAMESPACE: &str = "ScheduledDynamoDBBackups";

/// 1 for a run that made a backup, 0 for one that could not: what the missing-backup alarm
/// sums.
pub const BACKUP_MADE: &str = "BackupMade";

/// 1 for a drill that passed, 0 for one that failed: what the drill alarm watches.
pub const DRILL_PASSED: &str = "DrillPassed";

/// 1 for an export seen to complete, 0 for one seen to fail or that could not be started or
/// checked: what the export alarm watches.
pub const EXPORT_COMPLETED: &str = "ExportCompleted";

/// One metric: its name, unit and value.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    /// The metric's name.
    pub name: &'static str,
    /// Its CloudWatch unit (`Count`, `Milliseconds`, `Seconds`).
    pub unit: &'static str,
    /// Its value.
    pub value: f64,
}

/// The metrics of a run: `BackupMade` 1, `BackupsKept`, `DeletionsFailed`, `RunDuration`, and
/// `ExportCompleted` when the run saw an export end or fail: 0 if any of its export steps
/// failed (the previous period's or this one's, or a chain's: a failed export, lost coverage, an
/// export not started), else 1 if one completed.
pub fn of_run(record: &RunRecord) -> Vec<Metric> {
    let value = if record.export_failed() {
        Some(0.0)
    } else if record.export_completed() {
        Some(1.0)
    } else {
        None
    };
    let export = value.map(|value| Metric {
        name: EXPORT_COMPLETED,
        unit: "Count",
        value,
    });
    let mut metrics = vec![
        Metric {
            name: BACKUP_MADE,
            unit: "Count",
            value: 1.0,
        },
        Metric {
            name: "BackupsKept",
            unit: "Count",
            value: record.kept.len() as f64,
        },
        Metric {
            name: "DeletionsFailed",
            unit: "Count",
            value: record.failures.len() as f64,
        },
        Metric {
            name: "RunDuration",
            unit: "Milliseconds",
            value: record.duration_ms as f64,
        },
    ];
    metrics.extend(export);
    metrics
}

/// The metrics of a run that made no backup: `BackupMade` 0.
pub fn of_failed_run() -> Vec<Metric> {
    vec![Metric {
        name: BACKUP_MADE,
        unit: "Count",
        value: 0.0,
    }]
}

/// The metrics of a drill step that judged a drill: `DrillPassed` (1/0) and, for a drill whose
/// table became ACTIVE, `RecoveryTime`.
pub fn of_drill(step: &DrillStep) -> Vec<Metric> {
    let DrillStep::Finished { record } = step else {
        return Vec::new();
    };
    let mut metrics = vec![Metric {
        name: DRILL_PASSED,
        unit: "Count",
        value: if record.verdict == Verdict::Passed {
            1.0
        } else {
            0.0
        },
    }];
    if record.verification.is_some() {
        metrics.push(Metric {
            name: "RecoveryTime",
            unit: "Seconds",
            value: record.recovery_seconds as f64,
        });
    }
    metrics
}

/// The EMF document for `metrics` of `table` in `stack` at `at`.
pub fn document(stack: &str, table: &str, at: OffsetDateTime, metrics: &[Metric]) -> Value {
    let definitions: Vec<Value> = metrics
        .iter()
        .map(|m| json!({"Name": m.name, "Unit": m.unit}))
        .collect();
    let mut doc = Map::new();
    doc.insert(
        "_aws".to_owned(),
        json!({
            "Timestamp": i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(0),
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["Stack", "Table"]],
                "Metrics": definitions,
            }],
        }),
    );
    doc.insert("Stack".to_owned(), Value::from(stack));
    doc.insert("Table".to_owned(), Value::from(table));
    for m in metrics {
        doc.insert(m.name.to_owned(), json!(m.value));
    }
    Value::Object(doc)
}

/// Prints the EMF line on stdout, where Lambda sends it to CloudWatch Logs (nothing for no
/// metrics).
pub fn emit(stack: &str, table: &str, at: OffsetDateTime, metrics: &[Metric]) {
    if !metrics.is_empty() {
        println!("{}", document(stack, table, at, metrics));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    /// Checks a document against the EMF specification's rules.
    fn assert_valid_emf(doc: &Value) {
        let aws = &doc["_aws"];
        assert!(aws["Timestamp"].is_i64(), "Timestamp in ms: {doc}");
        let directives = aws["CloudWatchMetrics"].as_array().expect("directives");
        assert!(!directives.is_empty());
        for d in directives {
            let namespace = d["Namespace"].as_str().expect("Namespace");
            assert!(!namespace.is_empty() && namespace.len() <= 1024);
            for set in d["Dimensions"].as_array().expect("Dimensions") {
                let keys = set.as_array().expect("a dimension set");
                assert!(keys.len() <= 30);
                for key in keys {
                    let key = key.as_str().expect("a dimension key");
                    assert!(doc[key].is_string(), "dimension {key} is a string member");
                }
            }
            let metrics = d["Metrics"].as_array().expect("Metrics");
            assert!(metrics.len() <= 100);
            for m in metrics {
                let name = m["Name"].as_str().expect("Name");
                assert!(doc[name].is_number(), "metric {name} is a number member");
                let unit = m["Unit"].as_str().expect("Unit");
                assert!(
                    ["Count", "Milliseconds", "Seconds"].contains(&unit),
                    "a CloudWatch unit: {unit}"
                );
            }
        }
    }

    #[test]
    fn a_runs_metrics_are_valid_emf_with_stack_and_table() {
        let metrics = vec![
            Metric {
                name: "BackupMade",
                unit: "Count",
                value: 1.0,
            },
            Metric {
                name: "RunDuration",
                unit: "Milliseconds",
                value: 812.0,
            },
        ];
        let at = datetime!(2026-11-29 12:00:00 UTC);
        let doc = document("dynamodb-backup", "Movies", at, &metrics);
        assert_valid_emf(&doc);
        assert_eq!(doc["_aws"]["Timestamp"], 1_795_953_600_000_i64);
        assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Namespace"], NAMESPACE);
        assert_eq!(doc["Stack"], "dynamodb-backup");
        assert_eq!(doc["Table"], "Movies");
        assert_eq!(doc["BackupMade"], 1.0);
        assert_eq!(doc["RunDuration"], 812.0);
    }

    #[test]
    fn a_failed_run_reports_no_backup_and_a_drill_its_verdict() {
        let failed = of_failed_run();
        assert_eq!(failed[0].name, "BackupMade");
        assert_eq!(failed[0].value, 0.0);
        assert_valid_emf(&document("s", "T", OffsetDateTime::UNIX_EPOCH, &failed));
        let idle = DrillStep::Idle {
            why: "not due yet".to_owned(),
        };
        assert!(of_drill(&idle).is_empty(), "no verdict, no metric");
    }
}
