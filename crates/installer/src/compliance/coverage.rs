//! Which of the account's tables are protected, and how (`installer coverage`): each table's
//! facts as read (selected by the stack or not, its newest backup of any kind, point-in-time
//! recovery, deletion protection) and a verdict against the stack's recovery point objective,
//! computed here without I/O. The command, which reads the facts, is `commands/coverage.rs`.

use serde::Serialize;
use time::OffsetDateTime;

/// A table's newest on-demand backup, of any kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct NewestBackup {
    /// Its name.
    pub name: String,
    /// Who made it: `USER`, `SYSTEM` or `AWS_BACKUP` (ListBackups' `BackupType`).
    pub kind: String,
    /// When DynamoDB made it.
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String")]
    pub created: OffsetDateTime,
    /// Its age when read, in seconds.
    pub age_seconds: u64,
}

/// A table's point-in-time recovery, when on.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Pitr {
    /// The earliest moment it can restore.
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String")]
    pub earliest: OffsetDateTime,
    /// The latest (about five minutes ago).
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String")]
    pub latest: OffsetDateTime,
    /// How far back it reaches, in days.
    pub days: f64,
}

/// A selected table's incremental export chains, for a stack that makes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ChainState {
    /// How many chains its records hold.
    pub chains: usize,
    /// The newest moment a chain can restore, if any.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schemars(with = "Option<String>")]
    pub newest_point: Option<OffsetDateTime>,
    /// Windows the chains recorded as lost (not covered, and past recovery).
    pub lost_windows: usize,
}

/// How a table stands against the objective.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// A recovery point within the objective: point-in-time recovery, or a backup young enough.
    Covered,
    /// Backups, but the newest is older than the objective, and no point-in-time recovery.
    Stale,
    /// No backup and no point-in-time recovery.
    Unprotected,
}

/// What covers a covered table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CoveredBy {
    /// Point-in-time recovery, whose latest restorable moment is within the objective.
    Pitr,
    /// An on-demand backup younger than the objective.
    Backup,
    /// A point of an incremental export chain within the objective.
    ExportChain,
}

/// One table of the account.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct TableCoverage {
    /// The table.
    pub table: String,
    /// Whether the stack backs it up.
    pub selected: bool,
    /// Its newest backup of any kind, if any.
    pub newest_backup: Option<NewestBackup>,
    /// Its point-in-time recovery, when on.
    pub pitr: Option<Pitr>,
    /// Whether it has deletion protection.
    pub deletion_protection: bool,
    /// Its incremental export chains, for a selected table of a stack that makes them.
    pub export_chain: Option<ChainState>,
    /// How it stands against the objective.
    pub verdict: Verdict,
    /// What covers it, when covered.
    pub covered_by: Option<CoveredBy>,
}

/// `installer coverage`: every table of the account and region (or those carrying `--tag`).
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Coverage {
    /// The stack whose selection and objective these are.
    pub stack: String,
    /// The account.
    pub account: String,
    /// The region.
    pub region: String,
    /// The recovery point objective, in seconds.
    pub rpo_seconds: u64,
    /// Where it comes from (`--rpo`, or twice the schedule's interval).
    pub rpo_basis: String,
    /// The tag that scoped the listing, `key=value`, if one did.
    pub tag: Option<String>,
    /// Each table, by name.
    pub tables: Vec<TableCoverage>,
    /// Selected tables not covered: the command's verdict (exit 3 when any).
    pub selected_uncovered: Vec<String>,
    /// Tables not covered that the stack does not select.
    pub unselected_uncovered: usize,
    /// The AWS requests the command made.
    pub requests: usize,
}

/// A table's verdict: covered when point-in-time recovery's latest moment, the newest backup,
/// or the newest point of its export chains is within `rpo` of `now`; stale when there is a
/// backup or a chain point, only older.
pub fn verdict(
    newest: Option<&NewestBackup>,
    pitr: Option<&Pitr>,
    chain: Option<&ChainState>,
    rpo: std::time::Duration,
    now: OffsetDateTime,
) -> (Verdict, Option<CoveredBy>) {
    let within = |at: OffsetDateTime| now - at <= rpo;
    let point = chain.and_then(|c| c.newest_point);
    if pitr.is_some_and(|p| within(p.latest)) {
        (Verdict::Covered, Some(CoveredBy::Pitr))
    } else if newest.is_some_and(|b| within(b.created)) {
        (Verdict::Covered, Some(CoveredBy::Backup))
    } else if point.is_some_and(within) {
        (Verdict::Covered, Some(CoveredBy::ExportChain))
    } else if newest.is_some() || point.is_some() {
        (Verdict::Stale, None)
    } else {
        (Verdict::Unprotected, None)
    }
}

impl Coverage {
    /// The selected tables that are not covered, and how many unselected ones are not.
    pub fn tally(tables: &[TableCoverage]) -> (Vec<String>, usize) {
        let uncovered = |t: &&TableCoverage| t.verdict != Verdict::Covered;
        let selected = tables
            .iter()
            .filter(|t| t.selected)
            .filter(uncovered)
            .map(|t| t.table.clone())
            .collect();
        let others = tables
            .iter()
            .filter(|t| !t.selected)
            .filter(uncovered)
            .count();
        (selected, others)
    }
}

/// The coverage as lines for a terminal: a header, one line per table, then the verdict.
pub fn lines(coverage: &Coverage) -> Vec<String> {
    let human = super::assess::human;
    let mut out = vec![
        format!(
            "{} table(s) in account {} ({}){}; objective {} ({}):",
            coverage.tables.len(),
            coverage.account,
            coverage.region,
            coverage
                .tag
                .as_deref()
                .map(|t| format!(" tagged {t}"))
                .unwrap_or_default(),
            human(coverage.rpo_seconds),
            coverage.rpo_basis
        ),
        format!(
            "  {:<32} {:<9} {:<22} {:<12} {:<10} verdict",
            "table", "selected", "newest backup", "pitr", "del-prot"
        ),
    ];
    for t in &coverage.tables {
        let backup = t.newest_backup.as_ref().map_or("none".to_owned(), |b| {
            format!("{} ago ({})", human(b.age_seconds), b.kind)
        });
        let pitr = t
            .pitr
            .map_or("off".to_owned(), |p| format!("{} days", p.days));
        out.push(format!(
            "  {:<32} {:<9} {:<22} {:<12} {:<10} {}",
            t.table,
            if t.selected { "yes" } else { "no" },
            backup,
            pitr,
            if t.deletion_protection { "on" } else { "off" },
            verdict_text(t)
        ));
    }
    out.push(format!(
        "{} selected table(s) not covered; {} other table(s) not covered; {} request(s)",
        coverage.selected_uncovered.len(),
        coverage.unselected_uncovered,
        coverage.requests
    ));
    out
}

/// A table's verdict in words: `covered (backup)`, `STALE`, `UNPROTECTED`.
pub fn verdict_text(table: &TableCoverage) -> String {
    match (table.verdict, table.covered_by) {
        (Verdict::Covered, Some(by)) => format!("covered ({})", by_name(by)),
        (Verdict::Covered, None) => "covered".to_owned(),
        (Verdict::Stale, _) => "STALE".to_owned(),
        (Verdict::Unprotected, _) => "UNPROTECTED".to_owned(),
    }
}

fn by_name(by: CoveredBy) -> &'static str {
    match by {
        CoveredBy::Pitr => "point-in-time recovery",
        CoveredBy::Backup => "backup",
        CoveredBy::ExportChain => "export chain",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-12-05 12:00 UTC);
    const DAY: Duration = Duration::from_secs(86_400);

    fn backup(hours_ago: i64) -> NewestBackup {
        NewestBackup {
            name: "b".into(),
            kind: "USER".into(),
            created: NOW - time::Duration::hours(hours_ago),
            age_seconds: u64::try_from(hours_ago * 3600).unwrap(),
        }
    }

    fn pitr(minutes_ago: i64) -> Pitr {
        Pitr {
            earliest: NOW - time::Duration::days(35),
            latest: NOW - time::Duration::minutes(minutes_ago),
            days: 35.0,
        }
    }

    #[test]
    fn a_table_is_covered_by_recovery_or_a_young_backup_else_stale_or_unprotected() {
        let rpo = 2 * DAY;
        assert_eq!(
            verdict(None, Some(&pitr(5)), None, rpo, NOW),
            (Verdict::Covered, Some(CoveredBy::Pitr))
        );
        assert_eq!(
            verdict(Some(&backup(47)), None, None, rpo, NOW),
            (Verdict::Covered, Some(CoveredBy::Backup))
        );
        // Exactly the objective's age still counts; a second more does not.
        assert_eq!(
            verdict(Some(&backup(48)), None, None, rpo, NOW).0,
            Verdict::Covered
        );
        let older = NewestBackup {
            created: NOW - time::Duration::hours(48) - time::Duration::seconds(1),
            ..backup(48)
        };
        assert_eq!(
            verdict(Some(&older), None, None, rpo, NOW),
            (Verdict::Stale, None)
        );
        assert_eq!(
            verdict(None, None, None, rpo, NOW),
            (Verdict::Unprotected, None)
        );
        // Recovery that stopped reaching the present (turned off a while ago and still read,
        // or a clock far behind) does not cover: only its latest moment counts.
        assert_eq!(
            verdict(Some(&backup(100)), Some(&pitr(3 * 24 * 60)), None, rpo, NOW).0,
            Verdict::Stale
        );
        // An export chain's newest point counts as a recovery point.
        let chain = |hours_ago: i64| ChainState {
            chains: 1,
            newest_point: Some(NOW - time::Duration::hours(hours_ago)),
            lost_windows: 0,
        };
        assert_eq!(
            verdict(Some(&backup(100)), None, Some(&chain(20)), rpo, NOW),
            (Verdict::Covered, Some(CoveredBy::ExportChain))
        );
        assert_eq!(
            verdict(None, None, Some(&chain(60)), rpo, NOW),
            (Verdict::Stale, None)
        );
        let empty = ChainState {
            newest_point: None,
            ..chain(0)
        };
        assert_eq!(
            verdict(None, None, Some(&empty), rpo, NOW),
            (Verdict::Unprotected, None)
        );
    }

    #[test]
    fn only_selected_tables_decide_the_verdict() {
        let table = |name: &str, selected: bool, verdict: Verdict| TableCoverage {
            table: name.into(),
            selected,
            newest_backup: None,
            pitr: None,
            deletion_protection: false,
            export_chain: None,
            verdict,
            covered_by: None,
        };
        let tables = [
            table("A", true, Verdict::Covered),
            table("B", true, Verdict::Stale),
            table("C", false, Verdict::Unprotected),
            table("D", false, Verdict::Covered),
            table("E", true, Verdict::Unprotected),
        ];
        assert_eq!(
            Coverage::tally(&tables),
            (vec!["B".to_owned(), "E".to_owned()], 1)
        );
    }
}
