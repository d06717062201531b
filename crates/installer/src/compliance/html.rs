//! The report as one self-contained HTML page: inline CSS and SVG, no script, no network. Each
//! table gets its verdict, its figures and a timeline: every run a mark coloured by outcome,
//! stretches without a backup longer than the RPO shaded, drills marked above the runs.

use std::fmt::Write;

use backup_lambda::drill::Verdict;
use backup_lambda::ledger::Outcome;
use time::OffsetDateTime;

use super::Report;
use super::assess::{TableReport, human};

/// The timeline's drawing width, in SVG units.
const WIDTH: f64 = 960.0;
/// Up to this many runs, each gets its own mark; past it, one mark per pixel column (the
/// worst outcome in it), since denser marks could not be told apart anyway.
const MARKS_PER_RUN: usize = 1500;

/// Escapes text for HTML.
fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn stamp(t: OffsetDateTime) -> String {
    t.format(time::macros::format_description!(
        "[year]-[month]-[day] [hour]:[minute] UTC"
    ))
    .unwrap_or_default()
}

fn class_of(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Ok => "ok",
        Outcome::Partial => "partial",
        Outcome::Failed => "failed",
    }
}

const STYLE: &str = r#"
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;background:#f6f7f9;color:#1f2933}
main{max-width:1000px;margin:0 auto;padding:24px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:19px;margin:0}
.sub{color:#52606d;margin:0 0 16px}
.verdict{display:inline-block;padding:2px 10px;border-radius:12px;font-weight:600;font-size:13px}
.met{background:#dcfce7;color:#166534}.missed{background:#fee2e2;color:#991b1b}
.overall{font-size:16px;padding:6px 14px;margin:8px 0 16px}
section.table{background:#fff;border:1px solid #e4e7eb;border-radius:8px;padding:16px 20px;margin:16px 0}
.head{display:flex;gap:12px;align-items:center;margin-bottom:8px}
dl{display:grid;grid-template-columns:repeat(4,1fr);gap:6px 16px;margin:8px 0}
dt{color:#52606d;font-size:12px;text-transform:uppercase;letter-spacing:.04em}dd{margin:0;font-weight:600}
ul{margin:6px 0;padding-left:20px}
.legend span{margin-right:16px;font-size:13px;color:#52606d}
.sw{display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:middle}
svg{width:100%;height:auto;display:block;margin-top:8px}
.run.ok,.slot.ok{stroke:#16a34a;fill:#16a34a}.run.partial,.slot.partial{stroke:#d97706;fill:#d97706}
.run.failed,.slot.failed{stroke:#dc2626;fill:#dc2626}
.gap{fill:#dc2626;fill-opacity:.14}.drill.passed{fill:#2563eb}.drill.failed{fill:#dc2626}
.axis{stroke:#9aa5b1}.tick{font-size:11px;fill:#52606d}
.findings li{color:#991b1b}.skipped{color:#52606d;font-size:13px}
"#;

/// Renders the whole page.
pub fn render(report: &Report) -> String {
    let mut page = String::with_capacity(64 * 1024);
    let verdict = if report.met { "met" } else { "missed" };
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>Backup compliance: {stack}</title><style>{STYLE}</style></head><body><main>\
         <h1>Backup compliance report</h1>\
         <p class=\"sub\">Stack <b>{stack}</b> in account {account} ({region}) &middot; {from} to {to}</p>\
         <p>Objectives: a new backup at least every <b>{rpo}</b> (recovery point objective, {basis})",
        stack = esc(&report.stack),
        account = esc(&report.account),
        region = esc(&report.region),
        from = stamp(report.from),
        to = stamp(report.to),
        rpo = human(report.rpo_seconds),
        basis = esc(&report.rpo_basis),
    );
    if let Some(rto) = report.rto_seconds {
        let _ = write!(
            page,
            ", and restores proven by drills within <b>{}</b> (recovery time objective)",
            human(rto)
        );
    }
    if let Some(lock) = &report.export_bucket_lock {
        let _ = write!(page, ". Export copies: <b>{}</b>", esc(lock));
    }
    let _ = write!(
        page,
        ".</p><p id=\"overall\" class=\"verdict overall {verdict}\">{}</p>",
        if report.met {
            "All objectives met"
        } else {
            "Objectives missed"
        }
    );
    page.push_str(
        "<p class=\"legend\"><span><i class=\"sw\" style=\"background:#16a34a\"></i>backup made</span>\
         <span><i class=\"sw\" style=\"background:#d97706\"></i>backup made, old ones not all pruned</span>\
         <span><i class=\"sw\" style=\"background:#dc2626\"></i>run failed</span>\
         <span><i class=\"sw\" style=\"background:#dc2626;opacity:.2\"></i>longer without a backup than the objective</span>\
         <span><i class=\"sw\" style=\"background:#2563eb;transform:rotate(45deg)\"></i>restore drill</span></p>",
    );
    for table in &report.tables {
        table_section(&mut page, report, table);
    }
    if let Some(coverage) = &report.coverage {
        coverage_section(&mut page, coverage);
    }
    page.push_str("</main></body></html>\n");
    page
}

/// Every table of the account: selected or not, newest backup, point-in-time recovery,
/// deletion protection and the verdict, the uncovered marked as missed.
fn coverage_section(page: &mut String, coverage: &super::coverage::Coverage) {
    use super::coverage::Verdict;
    let _ = write!(
        page,
        "<section id=\"coverage\"><h2>Coverage of every table in {account} ({region})</h2>\
         <p class=\"sub\">{uncovered} table(s) of this stack not covered, {others} other(s) not covered\
         </p><table><tr><th>table</th><th>this stack's</th><th>newest backup</th>\
         <th>point-in-time recovery</th><th>deletion protection</th><th>verdict</th></tr>",
        account = esc(&coverage.account),
        region = esc(&coverage.region),
        uncovered = coverage.selected_uncovered.len(),
        others = coverage.unselected_uncovered,
    );
    for t in &coverage.tables {
        let backup = t.newest_backup.as_ref().map_or("none".to_owned(), |b| {
            format!("{} ago ({})", human(b.age_seconds), esc(&b.kind))
        });
        let pitr = t
            .pitr
            .map_or("off".to_owned(), |p| format!("{} days", p.days));
        let class = match (t.verdict, t.selected) {
            (Verdict::Covered, _) => "met",
            (_, true) => "missed",
            (_, false) => "other",
        };
        let _ = write!(
            page,
            "<tr class=\"{class}\" data-table=\"{name}\"><td>{name}</td><td>{selected}</td><td>{backup}</td>\
             <td>{pitr}</td><td>{protection}</td><td class=\"verdict {class}\">{verdict}</td></tr>",
            name = esc(&t.table),
            selected = if t.selected { "yes" } else { "no" },
            protection = if t.deletion_protection { "on" } else { "off" },
            verdict = esc(&super::coverage::verdict_text(t)),
        );
    }
    page.push_str("</table></section>");
}

fn table_section(page: &mut String, report: &Report, t: &TableReport) {
    let met = t.rpo_met && t.rto_met != Some(false);
    let _ = write!(
        page,
        "<section class=\"table\" data-table=\"{name}\"><div class=\"head\"><h2>{name}</h2>\
         <span class=\"verdict {class}\">{label}</span></div><dl>\
         <div><dt>Runs OK</dt><dd class=\"runs-ok\">{ok}</dd></div>\
         <div><dt>Partial</dt><dd class=\"runs-partial\">{partial}</dd></div>\
         <div><dt>Failed</dt><dd class=\"runs-failed\">{failed}</dd></div>\
         <div><dt>Backups kept now</dt><dd>{kept}</dd></div>\
         <div><dt>Longest gap</dt><dd class=\"longest-gap\">{gap}</dd></div>\
         <div><dt>Newest backup age</dt><dd>{age}</dd></div>\
         <div><dt>Drills passed</dt><dd>{passed} of {drills}</dd></div>\
         <div><dt>Slowest restore</dt><dd>{slowest}</dd></div></dl>",
        name = esc(&t.table),
        class = if met { "met" } else { "missed" },
        label = if met {
            "objectives met"
        } else {
            "objectives missed"
        },
        ok = t.runs.ok,
        partial = t.runs.partial,
        failed = t.runs.failed,
        kept = t.retained.len(),
        gap = t
            .longest_gap
            .map_or("none".to_owned(), |g| human(g.seconds)),
        age = t.newest_age_seconds.map_or("no backup".to_owned(), human),
        passed = t
            .drills
            .iter()
            .filter(|d| d.verdict == Verdict::Passed)
            .count(),
        drills = t.drills.len(),
        slowest = t
            .drills
            .iter()
            .map(|d| d.recovery_seconds)
            .max()
            .map_or("no drill".to_owned(), human),
    );
    timeline(page, report, t);
    if !t.findings.is_empty() {
        page.push_str("<ul class=\"findings\">");
        for finding in &t.findings {
            let _ = write!(page, "<li>{}</li>", esc(finding));
        }
        page.push_str("</ul>");
    }
    if let Some(e) = &t.exports {
        let _ = write!(
            page,
            "<p class=\"exports\">Exports to S3: <span class=\"exports-completed\">{}</span> completed, \
             <span class=\"exports-failed\">{}</span> failed, {} running; newest completed {}.</p>",
            e.completed,
            e.failed,
            e.in_progress,
            match (&e.newest_completed, e.newest_completed_age_seconds) {
                (Some(period), Some(age)) => format!("{} (data {} old)", esc(period), human(age)),
                (Some(period), None) => esc(period),
                (None, _) => "none".to_owned(),
            }
        );
        if !e.notes.is_empty() {
            page.push_str("<ul class=\"export-notes\">");
            for note in &e.notes {
                let _ = write!(page, "<li>{}</li>", esc(note));
            }
            page.push_str("</ul>");
        }
    }
    if let Some(c) = &t.export_chain {
        let _ = write!(
            page,
            "<p class=\"export-chain\">Export chains: <span class=\"chain-points\">{}</span> restore point(s) in {} chain(s), {}; newest {}; {} running, {} failed.</p>",
            c.points,
            c.chains,
            esc(&super::text::stretches(&c.coverage)),
            match (&c.newest_point, c.newest_point_age_seconds) {
                (Some(p), Some(age)) => format!("{} ({} old)", esc(p), human(age)),
                _ => "none".to_owned(),
            },
            c.in_progress,
            c.failed
        );
        if !c.notes.is_empty() {
            page.push_str("<ul class=\"chain-notes\">");
            for note in &c.notes {
                let _ = write!(page, "<li>{}</li>", esc(note));
            }
            page.push_str("</ul>");
        }
    }
    if !t.skipped.is_empty() {
        let _ = write!(
            page,
            "<p class=\"skipped\">Left out ({}): ",
            t.skipped.len()
        );
        for s in &t.skipped {
            let _ = write!(page, "<code>{}</code> ({}); ", esc(&s.key), esc(&s.reason));
        }
        page.push_str("</p>");
    }
    page.push_str("</section>");
}

/// The SVG timeline of one table.
fn timeline(page: &mut String, report: &Report, t: &TableReport) {
    let span = (report.to - report.from).as_seconds_f64().max(1.0);
    let x =
        |at: OffsetDateTime| ((at - report.from).as_seconds_f64() / span * WIDTH).clamp(0.0, WIDTH);
    let _ = write!(
        page,
        "<svg viewBox=\"-40 0 {w} 120\" role=\"img\" aria-label=\"timeline of {name}\">",
        w = WIDTH + 80.0,
        name = esc(&t.table)
    );
    for gap in &t.gaps_over_rpo {
        let _ = write!(
            page,
            "<rect class=\"gap\" x=\"{:.1}\" y=\"30\" width=\"{:.1}\" height=\"58\"><title>no backup for {} from {}</title></rect>",
            x(gap.from),
            (x(gap.to) - x(gap.from)).max(1.0),
            human(gap.seconds),
            stamp(gap.from)
        );
    }
    if t.timeline.len() <= MARKS_PER_RUN {
        for (at, outcome) in &t.timeline {
            let _ = write!(
                page,
                "<line class=\"run {c}\" x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"40\" y2=\"80\" stroke-width=\"2\"><title>{c} run at {when}</title></line>",
                c = class_of(*outcome),
                x = x(*at),
                when = stamp(*at)
            );
        }
    } else {
        // One column per pixel: the worst outcome of the runs in it.
        let mut columns: Vec<Option<(Outcome, usize)>> = vec![None; WIDTH as usize + 1];
        for (at, outcome) in &t.timeline {
            let column = &mut columns[x(*at) as usize];
            let rank = |o: Outcome| match o {
                Outcome::Ok => 0,
                Outcome::Partial => 1,
                Outcome::Failed => 2,
            };
            *column = Some(match *column {
                None => (*outcome, 1),
                Some((worst, n)) if rank(*outcome) > rank(worst) => (*outcome, n + 1),
                Some((worst, n)) => (worst, n + 1),
            });
        }
        for (i, column) in columns.iter().enumerate() {
            if let Some((worst, n)) = column {
                let _ = write!(
                    page,
                    "<rect class=\"slot {c}\" data-runs=\"{n}\" x=\"{i}\" y=\"40\" width=\"1\" height=\"40\"/>",
                    c = class_of(*worst)
                );
            }
        }
    }
    for drill in &t.drills {
        let at = OffsetDateTime::parse(&drill.at, &time::format_description::well_known::Rfc3339)
            .unwrap_or(report.from);
        let (cx, verdict) = (
            x(at),
            match drill.verdict {
                Verdict::Passed => "passed",
                Verdict::Failed => "failed",
            },
        );
        let _ = write!(
            page,
            "<path class=\"drill {verdict}\" d=\"M{cx:.1} 12 l7 7 l-7 7 l-7 -7 z\"><title>drill {verdict} at {when}: restored in {rec}</title></path>",
            when = stamp(at),
            rec = human(drill.recovery_seconds)
        );
    }
    let _ = write!(
        page,
        "<line class=\"axis\" x1=\"0\" x2=\"{WIDTH}\" y1=\"92\" y2=\"92\"/>"
    );
    // Ticks on round times (whole hours or days, UTC), at most ten of them.
    let steps = [
        3600,
        3 * 3600,
        6 * 3600,
        12 * 3600,
        86_400,
        2 * 86_400,
        7 * 86_400,
        14 * 86_400,
        28 * 86_400,
        91 * 86_400,
    ];
    let step = steps
        .into_iter()
        .find(|s| span / f64::from(*s) <= 10.0)
        .unwrap_or(365 * 86_400);
    let first = report.from.unix_timestamp().div_euclid(i64::from(step)) * i64::from(step);
    let mut tick = first;
    while tick <= report.to.unix_timestamp() {
        let Ok(at) = OffsetDateTime::from_unix_timestamp(tick) else {
            break;
        };
        tick += i64::from(step);
        if at < report.from {
            continue;
        }
        let label = if step >= 86_400 {
            at.format(time::macros::format_description!(
                "[month repr:short] [day]"
            ))
        } else {
            at.format(time::macros::format_description!(
                "[month repr:short] [day] [hour]:00"
            ))
        }
        .unwrap_or_default();
        let _ = write!(
            page,
            "<line class=\"axis\" x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"92\" y2=\"96\"/><text class=\"tick\" x=\"{x:.1}\" y=\"110\" text-anchor=\"middle\">{label}</text>",
            x = x(at)
        );
    }
    page.push_str("</svg>");
}
