//! The figures of a compliance report, computed from a table's history without any I/O: run
//! counts, the achieved recovery point (longest gap between successful backups, age of the
//! newest), gaps longer than the RPO, drills against the RTO, and the verdicts.

use std::time::Duration;

use backup_lambda::drill::Verdict;
use backup_lambda::ledger::{DrillEntry, Outcome};
use backup_lambda::record::rfc3339;
use serde::Serialize;
use time::OffsetDateTime;

/// The period a report covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Its start (inclusive).
    pub from: OffsetDateTime,
    /// Its end (inclusive): "now" unless `--to` says otherwise.
    pub to: OffsetDateTime,
}

impl Window {
    /// Whether `at` falls inside.
    pub fn contains(&self, at: OffsetDateTime) -> bool {
        self.from <= at && at <= self.to
    }
}

/// What the backups must achieve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Objectives {
    /// Recovery point objective: the longest acceptable time without a new backup.
    pub rpo: Duration,
    /// Recovery time objective: the longest acceptable restore, proven by drills.
    pub rto: Option<Duration>,
}

/// One run, as the report reads it from a ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// When it started.
    pub at: OffsetDateTime,
    /// How it ended.
    pub outcome: Outcome,
    /// Whether it made a backup (a recovery point).
    pub made_backup: bool,
    /// Why it failed or was partial.
    pub error: Option<String>,
}

/// One drill, as the report reads it from a ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drill {
    /// When it was judged.
    pub at: OffsetDateTime,
    /// The ledger's line.
    pub entry: DrillEntry,
}

/// A backup that exists now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Retained {
    /// Its name.
    pub name: String,
    /// When it was made (RFC 3339).
    pub created: String,
    /// Its age at the end of the window, in seconds.
    pub age_seconds: u64,
}

/// An object under the ledgers' prefix that is not a readable ledger, or a line that is not
/// a readable entry: reported, then left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Skipped {
    /// The object's key.
    pub key: String,
    /// What is wrong with it.
    pub reason: String,
}

/// A stretch without a successful backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Gap {
    /// The last backup before it (RFC 3339 in the JSON).
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String")]
    pub from: OffsetDateTime,
    /// The next backup, or the end of the window.
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String")]
    pub to: OffsetDateTime,
    /// Its length in seconds.
    pub seconds: u64,
}

/// How many runs ended each way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct RunCounts {
    /// Backed up and pruned.
    pub ok: usize,
    /// Backed up, some deletions failed.
    pub partial: usize,
    /// No backup, or no pruning.
    pub failed: usize,
}

/// A drill in the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct DrillLine {
    /// When it was judged (RFC 3339).
    pub at: String,
    /// The backup restored.
    pub backup: String,
    /// The verdict.
    pub verdict: Verdict,
    /// The recovery time in seconds.
    pub recovery_seconds: u64,
    /// Whether that is an upper bound.
    pub recovery_upper_bound: bool,
    /// Why it failed.
    pub reason: Option<String>,
}

/// A run that failed or was partial, for the report's list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Problem {
    /// When (RFC 3339).
    pub at: String,
    /// How it ended.
    pub outcome: Outcome,
    /// Why.
    pub error: Option<String>,
}

/// At most this many failed or partial runs are listed one by one (all are counted).
pub const PROBLEMS_LISTED: usize = 50;

/// Everything the report says about one table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct TableReport {
    /// The table.
    pub table: String,
    /// Runs in the window, by outcome.
    pub runs: RunCounts,
    /// Successful backups made in the window.
    pub backups_made: usize,
    /// The newest of them (RFC 3339).
    pub newest_backup: Option<String>,
    /// Its age at the end of the window, in seconds.
    pub newest_age_seconds: Option<u64>,
    /// The longest time between two consecutive successful backups in the window.
    pub longest_gap: Option<Gap>,
    /// Every stretch without a backup longer than the RPO (the newest's age included).
    pub gaps_over_rpo: Vec<Gap>,
    /// The backups made by the function that exist now, newest first.
    pub retained: Vec<Retained>,
    /// Drills judged in the window, oldest first.
    pub drills: Vec<DrillLine>,
    /// The first [`PROBLEMS_LISTED`] failed or partial runs.
    pub problems: Vec<Problem>,
    /// Whether the RPO was met.
    pub rpo_met: bool,
    /// Whether the RTO was met (`None` without `--rto`).
    pub rto_met: Option<bool>,
    /// Why an objective was missed, one sentence each.
    pub findings: Vec<String>,
    /// Objects and lines left out.
    pub skipped: Vec<Skipped>,
    /// The exports to S3 in the window, if any (judged by [`super::exports::assess`]).
    pub exports: Option<super::exports::ExportFigures>,
    /// The incremental export chains with restore points or exports in the window, if any
    /// (judged by [`super::chains::assess`]).
    pub export_chain: Option<super::chains::ChainFigures>,
    /// Every run's time and outcome, for the timeline (not in the JSON: a year of a
    /// per-minute schedule is half a million).
    #[serde(skip)]
    pub timeline: Vec<(OffsetDateTime, Outcome)>,
}

/// `seconds` as the largest two units: `2 d 3 h`, `5 min 10 s`, `40 s`.
pub fn human(seconds: u64) -> String {
    let units = [(86_400, "d"), (3600, "h"), (60, "min"), (1, "s")];
    let mut parts = Vec::new();
    let mut rest = seconds;
    for (size, name) in units {
        if rest >= size || (parts.is_empty() && size == 1) {
            parts.push(format!("{} {name}", rest / size));
            rest %= size;
        }
        if parts.len() == 2 {
            break;
        }
    }
    if parts.len() == 2 && parts[1].starts_with("0 ") {
        parts.pop();
    }
    parts.join(" ")
}

fn seconds(d: time::Duration) -> u64 {
    d.whole_seconds().max(0).unsigned_abs()
}

/// Judges one table's history over `window` against `objectives`. `runs` and `drills` may
/// come in any order and may hold entries outside the window (they are left out);
/// `retained` are the backups that exist now.
pub fn assess(
    table: &str,
    window: Window,
    objectives: Objectives,
    mut runs: Vec<Run>,
    mut drills: Vec<Drill>,
    retained: Vec<Retained>,
    skipped: Vec<Skipped>,
) -> TableReport {
    runs.retain(|r| window.contains(r.at));
    runs.sort_by_key(|r| r.at);
    drills.retain(|d| window.contains(d.at));
    drills.sort_by_key(|d| d.at);

    let mut counts = RunCounts::default();
    for run in &runs {
        match run.outcome {
            Outcome::Ok => counts.ok += 1,
            Outcome::Partial => counts.partial += 1,
            Outcome::Failed => counts.failed += 1,
        }
    }
    let points: Vec<OffsetDateTime> = runs
        .iter()
        .filter(|r| r.made_backup)
        .map(|r| r.at)
        .collect();
    let gap = |from: OffsetDateTime, to: OffsetDateTime| Gap {
        from,
        to,
        seconds: seconds(to - from),
    };
    let between: Vec<Gap> = points.windows(2).map(|w| gap(w[0], w[1])).collect();
    let longest_gap = between.iter().copied().max_by_key(|g| g.seconds);
    let newest = points.last().copied();
    let trailing = newest.map(|n| gap(n, window.to));
    let rpo = objectives.rpo.as_secs();
    let gaps_over_rpo: Vec<Gap> = between
        .iter()
        .chain(trailing.iter())
        .copied()
        .filter(|g| g.seconds > rpo)
        .collect();

    let mut findings = Vec::new();
    match (newest, trailing) {
        (Some(_), Some(age)) if age.seconds > rpo => findings.push(format!(
            "the newest backup is {} old, over the RPO of {}",
            human(age.seconds),
            human(rpo)
        )),
        (None, _) => findings.push("no successful backup in the period".to_owned()),
        _ => {}
    }
    if let Some(g) = longest_gap.filter(|g| g.seconds > rpo) {
        findings.push(format!(
            "{} gap(s) between backups longer than the RPO of {}, the longest {} from {}",
            between.iter().filter(|g| g.seconds > rpo).count(),
            human(rpo),
            human(g.seconds),
            rfc3339(g.from)
        ));
    }
    let rpo_met = findings.is_empty();

    let rto_met = objectives.rto.map(|rto| {
        let before = findings.len();
        if drills.is_empty() {
            findings.push("no restore drill in the period to prove the RTO".to_owned());
        }
        let failed = drills
            .iter()
            .filter(|d| d.entry.verdict == Verdict::Failed)
            .count();
        if failed > 0 {
            findings.push(format!("{failed} restore drill(s) failed"));
        }
        let slow = drills
            .iter()
            .filter(|d| d.entry.verdict == Verdict::Passed)
            .filter(|d| d.entry.recovery_seconds > rto.as_secs())
            .count();
        if slow > 0 {
            findings.push(format!(
                "{slow} restore drill(s) took longer than the RTO of {}",
                human(rto.as_secs())
            ));
        }
        findings.len() == before
    });

    let problems = runs
        .iter()
        .filter(|r| r.outcome != Outcome::Ok)
        .take(PROBLEMS_LISTED)
        .map(|r| Problem {
            at: rfc3339(r.at),
            outcome: r.outcome,
            error: r.error.clone(),
        })
        .collect();
    TableReport {
        table: table.to_owned(),
        runs: counts,
        backups_made: points.len(),
        newest_backup: newest.map(rfc3339),
        newest_age_seconds: trailing.map(|g| g.seconds),
        longest_gap,
        gaps_over_rpo,
        retained,
        drills: drills
            .into_iter()
            .map(|d| DrillLine {
                at: rfc3339(d.at),
                backup: d.entry.backup,
                verdict: d.entry.verdict,
                recovery_seconds: d.entry.recovery_seconds,
                recovery_upper_bound: d.entry.recovery_upper_bound,
                reason: d.entry.reason,
            })
            .collect(),
        problems,
        rpo_met,
        rto_met,
        findings,
        skipped,
        exports: None,
        export_chain: None,
        timeline: runs.iter().map(|r| (r.at, r.outcome)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const FROM: OffsetDateTime = datetime!(2026-11-01 00:00 UTC);
    const TO: OffsetDateTime = datetime!(2026-11-11 00:00 UTC);

    fn window() -> Window {
        Window { from: FROM, to: TO }
    }

    fn day(n: i64) -> Duration {
        Duration::from_secs(u64::try_from(n).unwrap() * 86_400)
    }

    fn run(at: OffsetDateTime, outcome: Outcome) -> Run {
        Run {
            at,
            outcome,
            made_backup: outcome != Outcome::Failed,
            error: (outcome != Outcome::Ok).then(|| "boom".to_owned()),
        }
    }

    fn drill(at: OffsetDateTime, verdict: Verdict, recovery_seconds: u64) -> Drill {
        Drill {
            at,
            entry: DrillEntry {
                at: rfc3339(at),
                id: "d".to_owned(),
                backup: "Movies-1".to_owned(),
                verdict,
                recovery_seconds,
                recovery_upper_bound: false,
                reason: None,
            },
        }
    }

    /// Daily at 03:00 from Nov 1 to Nov 10, with Nov 4 failed and Nov 5 and 6 missing (the
    /// schedule stopped), Nov 8 partial.
    fn history() -> Vec<Run> {
        let mut runs = Vec::new();
        for d in 1..=10 {
            let at = datetime!(2026-11-01 03:00 UTC) + time::Duration::days(d - 1);
            match d {
                4 => runs.push(run(at, Outcome::Failed)),
                5 | 6 => {}
                8 => runs.push(run(at, Outcome::Partial)),
                _ => runs.push(run(at, Outcome::Ok)),
            }
        }
        // Outside the window: ignored.
        runs.push(run(datetime!(2026-10-31 03:00 UTC), Outcome::Failed));
        runs
    }

    /// `runs` judged over the window against an RPO of `rpo_days` and no RTO.
    fn judged(rpo_days: i64, runs: Vec<Run>) -> TableReport {
        let objectives = Objectives {
            rpo: day(rpo_days),
            rto: None,
        };
        assess("Movies", window(), objectives, runs, vec![], vec![], vec![])
    }

    #[test]
    fn the_longest_gap_spans_failed_and_missing_runs() {
        let report = judged(2, history());
        assert_eq!(
            report.runs,
            RunCounts {
                ok: 6,
                partial: 1,
                failed: 1
            }
        );
        assert_eq!(report.backups_made, 7, "partial runs made a backup");
        let longest = report.longest_gap.unwrap();
        // Nov 3 03:00 (last before the failure) to Nov 7 03:00.
        assert_eq!(longest.from, datetime!(2026-11-03 03:00 UTC));
        assert_eq!(longest.seconds, 4 * 86_400);
        // The newest is Nov 10 03:00, 21 h before the end.
        assert_eq!(report.newest_age_seconds, Some(21 * 3600));
        assert_eq!(report.gaps_over_rpo.len(), 1);
        assert!(!report.rpo_met);
        assert_eq!(report.findings.len(), 1, "{:?}", report.findings);
        assert!(report.findings[0].contains("4 d"), "{:?}", report.findings);
        assert_eq!(report.problems.len(), 2);
        assert_eq!(report.timeline.len(), 8);
    }

    #[test]
    fn a_wide_enough_rpo_is_met() {
        let report = judged(4, history());
        assert!(report.rpo_met, "{:?}", report.findings);
        assert!(report.gaps_over_rpo.is_empty());
        assert_eq!(report.rto_met, None);
    }

    #[test]
    fn a_stale_newest_backup_misses_the_rpo() {
        let runs = vec![
            run(datetime!(2026-11-01 03:00 UTC), Outcome::Ok),
            run(datetime!(2026-11-02 03:00 UTC), Outcome::Ok),
        ];
        let report = judged(2, runs);
        assert!(!report.rpo_met);
        let trailing = report.gaps_over_rpo.last().unwrap();
        assert_eq!(
            (trailing.from, trailing.to),
            (datetime!(2026-11-02 03:00 UTC), TO)
        );
        assert!(report.findings[0].contains("newest backup is 8 d 21 h old"));
    }

    #[test]
    fn no_backup_at_all_misses_the_rpo() {
        let runs = vec![run(datetime!(2026-11-05 03:00 UTC), Outcome::Failed)];
        let report = judged(2, runs);
        assert!(!report.rpo_met);
        assert_eq!(report.findings, ["no successful backup in the period"]);
        assert_eq!(report.newest_age_seconds, None);
    }

    #[test]
    fn drills_prove_the_rto_only_if_all_pass_in_time() {
        let objectives = Objectives {
            rpo: day(4),
            rto: Some(Duration::from_secs(600)),
        };
        let assess_drills = |drills| {
            assess(
                "Movies",
                window(),
                objectives,
                history(),
                drills,
                vec![],
                vec![],
            )
        };
        let passed = assess_drills(vec![drill(
            datetime!(2026-11-02 04:00 UTC),
            Verdict::Passed,
            300,
        )]);
        assert_eq!(passed.rto_met, Some(true), "{:?}", passed.findings);
        let slow = assess_drills(vec![drill(
            datetime!(2026-11-02 04:00 UTC),
            Verdict::Passed,
            900,
        )]);
        assert_eq!(slow.rto_met, Some(false));
        assert!(slow.findings[0].contains("longer than the RTO of 10 min"));
        let failed = assess_drills(vec![
            drill(datetime!(2026-11-02 04:00 UTC), Verdict::Passed, 300),
            drill(datetime!(2026-11-09 04:00 UTC), Verdict::Failed, 43_200),
        ]);
        assert_eq!(failed.rto_met, Some(false));
        assert_eq!(failed.findings, ["1 restore drill(s) failed"]);
        let none = assess_drills(vec![drill(
            datetime!(2026-10-02 04:00 UTC),
            Verdict::Passed,
            1,
        )]);
        assert_eq!(
            none.rto_met,
            Some(false),
            "a drill outside the period proves nothing"
        );
        assert!(none.drills.is_empty());
    }

    #[test]
    fn durations_read_in_two_units() {
        assert_eq!(human(0), "0 s");
        assert_eq!(human(40), "40 s");
        assert_eq!(human(310), "5 min 10 s");
        assert_eq!(human(3600), "1 h");
        assert_eq!(human(2 * 86_400 + 3 * 3600 + 59), "2 d 3 h");
    }
}
