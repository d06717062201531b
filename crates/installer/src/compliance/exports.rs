//! A table's exports to S3 in a report, computed from its export records without any I/O: how
//! many completed, failed or are still running, the newest completed one's age (the age of the
//! data it holds: an export is of the moment it was asked for), and the periods that have no
//! export between the first in the window and the current one. Exports are not objectives: a
//! failed or missed one is a note, not a missed RPO (backups are what the RPO judges).

use backup_lambda::export::{ExportEvery, ExportRecord, ExportState};
use serde::Serialize;
use time::OffsetDateTime;

use super::assess::{Window, human};

/// At most this many missed periods are named (all are counted).
const MISSED_NAMED: usize = 10;

/// What the report says about a table's exports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ExportFigures {
    /// Exports whose period overlaps the window, oldest first.
    pub exports: Vec<ExportRecord>,
    /// How many of them completed.
    pub completed: usize,
    /// How many failed.
    pub failed: usize,
    /// How many are still running.
    pub in_progress: usize,
    /// The newest completed export's period.
    pub newest_completed: Option<String>,
    /// The age of the data it holds at the end of the window, in seconds.
    pub newest_completed_age_seconds: Option<u64>,
    /// Periods without an export, from the first export in the window up to (not including)
    /// the period the window ends in; at most the first ten are named.
    pub missed_periods: Vec<String>,
    /// How many periods were missed.
    pub missed: usize,
    /// What needs attention, one sentence each.
    pub notes: Vec<String>,
}

/// Judges `records` (any order; those of other periods are left out) over `window`; `None`
/// when no export's period overlaps it.
pub fn assess(window: Window, records: Vec<ExportRecord>) -> Option<ExportFigures> {
    let mut exports: Vec<(ExportEvery, OffsetDateTime, ExportRecord)> = records
        .into_iter()
        .filter_map(|r| {
            let (every, start) = ExportEvery::period_start(&r.period)?;
            let end = start + time::Duration::try_from(every.length()).ok()?;
            (start <= window.to && end > window.from).then_some((every, start, r))
        })
        .collect();
    exports.sort_by_key(|(_, start, _)| *start);
    if exports.is_empty() {
        return None;
    }
    let count = |state: ExportState| exports.iter().filter(|e| e.2.status == state).count();
    let (completed, failed, in_progress) = (
        count(ExportState::Completed),
        count(ExportState::Failed),
        count(ExportState::InProgress),
    );
    let newest = exports
        .iter()
        .rev()
        .find(|e| e.2.status == ExportState::Completed)
        .map(|e| &e.2);
    let newest_age = newest.map(|r| {
        (window.to - r.started_at)
            .whole_seconds()
            .max(0)
            .unsigned_abs()
    });

    // The cadence of the newest export; periods of another (before a change) are not judged.
    let every = exports.last().map_or(ExportEvery::Daily, |e| e.0);
    let first = exports
        .iter()
        .find(|e| e.0 == every)
        .map_or(window.to, |e| e.1);
    let current = ExportEvery::period_start(&every.period(window.to)).map(|(_, s)| s);
    let step = time::Duration::try_from(every.length()).unwrap_or(time::Duration::DAY);
    let mut missed = Vec::new();
    let mut at = first;
    while current.is_some_and(|c| at < c) {
        let period = every.period(at);
        if !exports.iter().any(|e| e.2.period == period) {
            missed.push(period);
        }
        at += step;
    }

    let mut notes = Vec::new();
    for (_, _, r) in &exports {
        if r.status == ExportState::Failed {
            notes.push(format!(
                "the export of {} failed: {}",
                r.period,
                r.failure.as_deref().unwrap_or("no reason given")
            ));
        }
    }
    if !missed.is_empty() {
        notes.push(format!(
            "{} {} period(s) without an export: {}{}",
            missed.len(),
            every.as_str(),
            missed
                .iter()
                .take(MISSED_NAMED)
                .cloned()
                .collect::<Vec<_>>()
                .join(", "),
            if missed.len() > MISSED_NAMED {
                ", ..."
            } else {
                ""
            }
        ));
    }
    match (newest, newest_age) {
        (None, _) => notes.push("no export completed in the period".to_owned()),
        (Some(r), Some(age)) if age > 2 * every.length().as_secs() => notes.push(format!(
            "the newest completed export ({}) holds data {} old",
            r.period,
            human(age)
        )),
        _ => {}
    }
    let missed_count = missed.len();
    missed.truncate(MISSED_NAMED);
    Some(ExportFigures {
        completed,
        failed,
        in_progress,
        newest_completed: newest.map(|r| r.period.clone()),
        newest_completed_age_seconds: newest_age,
        missed_periods: missed,
        missed: missed_count,
        notes,
        exports: exports.into_iter().map(|(_, _, r)| r).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn record(period: &str, status: ExportState, started_at: &str) -> ExportRecord {
        ExportRecord {
            table: "Movies".to_owned(),
            period: period.to_owned(),
            export_arn: format!("arn:aws:dynamodb:us-east-1:1:table/Movies/export/{period}"),
            bucket: "logs".to_owned(),
            prefix: format!("exports/Movies/{period}"),
            started_at: OffsetDateTime::parse(
                started_at,
                &time::format_description::well_known::Rfc3339,
            )
            .unwrap(),
            status,
            finished_at: None,
            duration_seconds: None,
            item_count: None,
            billed_size_bytes: None,
            failure: (status == ExportState::Failed)
                .then(|| "UNKNOWN: table was deleted".to_owned()),
        }
    }

    #[test]
    fn daily_exports_counted_with_failures_and_missed_days_named() {
        let window = Window {
            from: datetime!(2026-11-20 00:00 UTC),
            to: datetime!(2026-11-27 12:00 UTC),
        };
        let figures = assess(
            window,
            vec![
                // Before the window: left out.
                record("2026-11-18", ExportState::Completed, "2026-11-18T03:00:00Z"),
                record("2026-11-23", ExportState::Failed, "2026-11-23T03:00:00Z"),
                record("2026-11-20", ExportState::Completed, "2026-11-20T03:00:00Z"),
                record("2026-11-21", ExportState::Completed, "2026-11-21T03:00:00Z"),
                record("2026-11-26", ExportState::Completed, "2026-11-26T03:00:00Z"),
                record(
                    "2026-11-27",
                    ExportState::InProgress,
                    "2026-11-27T03:00:00Z",
                ),
            ],
        )
        .expect("exports in the window");
        let periods: Vec<&str> = figures.exports.iter().map(|r| r.period.as_str()).collect();
        assert_eq!(
            periods,
            [
                "2026-11-20",
                "2026-11-21",
                "2026-11-23",
                "2026-11-26",
                "2026-11-27"
            ]
        );
        assert_eq!(
            (figures.completed, figures.failed, figures.in_progress),
            (3, 1, 1)
        );
        assert_eq!(figures.newest_completed.as_deref(), Some("2026-11-26"));
        // From 2026-11-26 03:00 to 2026-11-27 12:00.
        assert_eq!(figures.newest_completed_age_seconds, Some(33 * 3600));
        // 22, 24 and 25 have none; 27, the window's own day, is not judged.
        assert_eq!(
            figures.missed_periods,
            ["2026-11-22", "2026-11-24", "2026-11-25"]
        );
        assert_eq!(figures.missed, 3);
        assert_eq!(
            figures.notes,
            [
                "the export of 2026-11-23 failed: UNKNOWN: table was deleted",
                "3 daily period(s) without an export: 2026-11-22, 2026-11-24, 2026-11-25",
            ]
        );
    }

    #[test]
    fn weekly_exports_and_a_stale_or_absent_completed_one() {
        let window = Window {
            from: datetime!(2026-10-01 00:00 UTC),
            to: datetime!(2026-11-30 00:00 UTC),
        };
        // W40 (Sep 28) overlaps the window's start; W45 and W46 have none; the newest
        // completed is W44's, 4 weeks old.
        let figures = assess(
            window,
            vec![
                record("2026-W40", ExportState::Completed, "2026-09-28T01:00:00Z"),
                record("2026-W41", ExportState::Completed, "2026-10-05T01:00:00Z"),
                record("2026-W42", ExportState::Completed, "2026-10-12T01:00:00Z"),
                record("2026-W43", ExportState::Completed, "2026-10-19T01:00:00Z"),
                record("2026-W44", ExportState::Completed, "2026-10-26T01:00:00Z"),
                record("2026-W47", ExportState::Failed, "2026-11-16T01:00:00Z"),
            ],
        )
        .unwrap();
        assert_eq!(figures.exports.len(), 6);
        // W48 (Nov 23) is missed too; W49, the window's own week, is not judged.
        assert_eq!(figures.missed_periods, ["2026-W45", "2026-W46", "2026-W48"]);
        assert!(
            figures.notes.contains(
                &"the newest completed export (2026-W44) holds data 34 d 23 h old".to_owned()
            ),
            "{:?}",
            figures.notes
        );

        let none = assess(
            window,
            vec![record(
                "2026-W47",
                ExportState::Failed,
                "2026-11-16T01:00:00Z",
            )],
        )
        .unwrap();
        assert!(
            none.notes
                .contains(&"no export completed in the period".to_owned())
        );
        assert_eq!(none.newest_completed_age_seconds, None);

        assert_eq!(assess(window, Vec::new()), None, "no exports: no section");
    }
}
