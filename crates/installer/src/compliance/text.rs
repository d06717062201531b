//! The report as text for a terminal: a header, one row per table, then each table's findings,
//! gaps, drills, exports, retained backups and what was left out.

use std::fmt::Write;

use super::Report;
use super::assess::human;

/// Renders the report.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let stamp = |t: time::OffsetDateTime| {
        t.format(time::macros::format_description!(
            "[year]-[month]-[day] [hour]:[minute] UTC"
        ))
        .unwrap_or_default()
    };
    let _ = writeln!(
        out,
        "Backup compliance of stack {} ({}, {}): {} to {}",
        report.stack,
        report.account,
        report.region,
        stamp(report.from),
        stamp(report.to)
    );
    let _ = write!(
        out,
        "Objectives: RPO {} ({})",
        human(report.rpo_seconds),
        report.rpo_basis
    );
    match report.rto_seconds {
        Some(rto) => {
            let _ = writeln!(out, ", RTO {}", human(rto));
        }
        None => out.push('\n'),
    }
    if let Some(lock) = &report.export_bucket_lock {
        let _ = writeln!(out, "Export copies: {lock}");
    }
    out.push('\n');
    let _ = writeln!(
        out,
        "{:<24} {:>7} {:>7} {:>6} {:>12} {:>12} {:>8} {:>9}  {:<6} {:<6}",
        "TABLE",
        "OK",
        "PARTIAL",
        "FAILED",
        "LONGEST GAP",
        "NEWEST AGE",
        "KEPT",
        "DRILLS",
        "RPO",
        "RTO"
    );
    for t in &report.tables {
        let passed = t
            .drills
            .iter()
            .filter(|d| d.verdict == backup_lambda::drill::Verdict::Passed)
            .count();
        let _ = writeln!(
            out,
            "{:<24} {:>7} {:>7} {:>6} {:>12} {:>12} {:>8} {:>9}  {:<6} {:<6}",
            t.table,
            t.runs.ok,
            t.runs.partial,
            t.runs.failed,
            t.longest_gap.map_or("-".to_owned(), |g| human(g.seconds)),
            t.newest_age_seconds.map_or("none".to_owned(), human),
            t.retained.len(),
            format!("{passed}/{}", t.drills.len()),
            if t.rpo_met { "met" } else { "MISSED" },
            match t.rto_met {
                None => "-",
                Some(true) => "met",
                Some(false) => "MISSED",
            }
        );
    }
    for t in &report.tables {
        let mut lines = Vec::new();
        lines.extend(t.findings.iter().map(|f| format!("missed: {f}")));
        lines.extend(t.gaps_over_rpo.iter().map(|g| {
            format!(
                "no backup for {} from {} to {}",
                human(g.seconds),
                stamp(g.from),
                stamp(g.to)
            )
        }));
        lines.extend(t.problems.iter().map(|p| {
            format!(
                "{} run at {}: {}",
                p.outcome,
                p.at,
                p.error.as_deref().unwrap_or("no detail")
            )
        }));
        lines.extend(t.drills.iter().map(|d| {
            format!(
                "drill at {}: {}, restored in {}{}{}",
                d.at,
                d.verdict,
                if d.recovery_upper_bound {
                    "at most "
                } else {
                    ""
                },
                human(d.recovery_seconds),
                d.reason
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            )
        }));
        if let Some(e) = &t.exports {
            lines.push(format!(
                "exports: {} completed, {} failed, {} running; newest completed {}",
                e.completed,
                e.failed,
                e.in_progress,
                match (&e.newest_completed, e.newest_completed_age_seconds) {
                    (Some(period), Some(age)) => format!("{period} (data {} old)", human(age)),
                    (Some(period), None) => period.clone(),
                    (None, _) => "none".to_owned(),
                }
            ));
            lines.extend(e.notes.iter().map(|n| format!("export: {n}")));
        }
        if let Some(c) = &t.export_chain {
            lines.push(format!(
                "export chains: {} restore point(s) in {} chain(s), {}; newest {}; {} running, {} failed",
                c.points,
                c.chains,
                stretches(&c.coverage),
                match (&c.newest_point, c.newest_point_age_seconds) {
                    (Some(p), Some(age)) => format!("{p} ({} old)", human(age)),
                    _ => "none".to_owned(),
                },
                c.in_progress,
                c.failed
            ));
            lines.extend(c.notes.iter().map(|n| format!("export chain: {n}")));
        }
        lines.extend(
            t.retained
                .iter()
                .map(|b| format!("kept: {} ({} old)", b.name, human(b.age_seconds))),
        );
        lines.extend(
            t.skipped
                .iter()
                .map(|s| format!("left out: {} ({})", s.key, s.reason)),
        );
        if !lines.is_empty() {
            let _ = writeln!(out, "\n{}:", t.table);
            for line in lines {
                let _ = writeln!(out, "  {line}");
            }
        }
    }
    if let Some(coverage) = &report.coverage {
        out.push_str("\nCoverage: ");
        for line in super::coverage::lines(coverage) {
            let _ = writeln!(out, "{line}");
        }
    }
    let _ = writeln!(
        out,
        "\n{}",
        if report.met {
            "All objectives met.".to_owned()
        } else {
            format!(
                "Objectives MISSED (exit status {}).",
                crate::commands::summary::EXIT_VERDICT
            )
        }
    );
    out
}

/// Stretches of restore points, for a person: `covered 2026-11-01T02:00:00Z to
/// 2026-11-03T02:00:00Z and ...`, or `nothing covered`.
pub fn stretches(coverage: &[super::chains::Stretch]) -> String {
    if coverage.is_empty() {
        return "nothing covered".to_owned();
    }
    let each: Vec<String> = coverage
        .iter()
        .map(|s| format!("{} to {}", s.from, s.to))
        .collect();
    format!("covered {}", each.join(" and "))
}
