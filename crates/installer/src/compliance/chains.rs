//! A table's incremental export chains in a report, computed from the chain records without any
//! I/O ([`backup_lambda::chain`]): the stretches of restore points within the window, the
//! coverage recorded as lost there and why, the moments between two stretches that have no
//! restore point, the exports still running or failed and being started again, and the newest
//! point's age. As exports to S3, chains are not objectives: what they lack is a note.

use backup_lambda::chain::{self, Chain};
use backup_lambda::export::ExportState;
use backup_lambda::record::rfc3339;
use serde::Serialize;

use super::assess::{Window, human};

/// A stretch of time every export boundary of which can be restored to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Stretch {
    /// Its first restore point (RFC 3339).
    pub from: String,
    /// Its last.
    pub to: String,
}

/// Coverage lost, as a chain recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct LostCoverage {
    /// The chain.
    pub chain: String,
    /// Its start (RFC 3339).
    pub from: String,
    /// Its end.
    pub to: String,
    /// Why.
    pub reason: String,
}

/// What the report says about a table's export chains.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ChainFigures {
    /// Chains with a restore point or an export in the window.
    pub chains: usize,
    /// Restore points in the window.
    pub points: usize,
    /// The stretches of restore points that reach into the window, oldest first.
    pub coverage: Vec<Stretch>,
    /// Coverage the chains recorded as lost, overlapping the window.
    pub lost: Vec<LostCoverage>,
    /// The newest restore point (RFC 3339).
    pub newest_point: Option<String>,
    /// Its age at the end of the window, in seconds.
    pub newest_point_age_seconds: Option<u64>,
    /// Exports still running.
    pub in_progress: usize,
    /// Exports that failed and are being started again (their recovery window still covers
    /// them).
    pub failed: usize,
    /// What needs attention, one sentence each.
    pub notes: Vec<String>,
}

/// Judges `chains` over `window`; `None` when none has a restore point or an export in it.
pub fn assess(window: Window, chains: &[Chain]) -> Option<ChainFigures> {
    let touches = |c: &Chain| c.full.to <= window.to && c.end() >= window.from;
    let chains: Vec<&Chain> = chains.iter().filter(|c| touches(c)).collect();
    if chains.is_empty() {
        return None;
    }
    let owned: Vec<Chain> = chains.iter().map(|c| (*c).clone()).collect();
    let spans: Vec<chain::Span> = chain::coverage(&owned)
        .into_iter()
        .filter(|s| s.from <= window.to && s.to >= window.from)
        .collect();
    let mut points: Vec<time::OffsetDateTime> = owned
        .iter()
        .flat_map(Chain::points)
        .filter(|p| window.from <= *p && *p <= window.to)
        .collect();
    points.sort();
    points.dedup();
    let newest = points.last().copied();
    let newest_age = newest.map(|p| (window.to - p).whole_seconds().max(0).unsigned_abs());
    let lost: Vec<LostCoverage> = owned
        .iter()
        .flat_map(|c| c.gaps.iter().map(move |g| (c, g)))
        .filter(|(_, g)| g.from <= window.to && g.to >= window.from)
        .map(|(c, g)| LostCoverage {
            chain: c.id.clone(),
            from: rfc3339(g.from),
            to: rfc3339(g.to),
            reason: g.reason.clone(),
        })
        .collect();
    let links = || owned.iter().flat_map(Chain::links);
    let in_progress = links()
        .filter(|l| l.export.status == ExportState::InProgress)
        .count();
    let failed = links()
        .filter(|l| l.export.status == ExportState::Failed && !l.lost)
        .count();

    let mut notes = Vec::new();
    for l in &lost {
        notes.push(format!(
            "chain {} lost {} to {}: {}",
            l.chain, l.from, l.to, l.reason
        ));
    }
    for pair in spans.windows(2) {
        notes.push(format!(
            "no restore point from {} to {}",
            rfc3339(pair[0].to),
            rfc3339(pair[1].from)
        ));
    }
    if failed > 0 {
        notes.push(format!(
            "{failed} export(s) failed and are being started again; the points after them wait"
        ));
    }
    match newest_age {
        None => notes.push("no restore point in the period".to_owned()),
        Some(age) if age > 2 * 86_400 => {
            notes.push(format!("the newest restore point is {} old", human(age)))
        }
        Some(_) => {}
    }
    Some(ChainFigures {
        chains: chains.len(),
        points: points.len(),
        coverage: spans
            .iter()
            .map(|s| Stretch {
                from: rfc3339(s.from),
                to: rfc3339(s.to),
            })
            .collect(),
        lost,
        newest_point: newest.map(rfc3339),
        newest_point_age_seconds: newest_age,
        in_progress,
        failed,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use backup_lambda::chain::Gap;
    use time::OffsetDateTime;
    use time::macros::datetime;

    /// A chain from `t0` with daily incrementals in these states.
    fn chain(t0: OffsetDateTime, states: &[ExportState]) -> Chain {
        let windows: Vec<_> = (1..)
            .zip(states)
            .map(|(day, s)| (t0 + time::Duration::days(day), *s))
            .collect();
        backup_lambda::fake::chain_of(t0, &windows)
    }

    #[test]
    fn coverage_points_and_lost_stretches_are_told_within_the_window() {
        use ExportState::{Completed, Failed, InProgress};
        let t0 = datetime!(2026-11-01 02:00 UTC);
        let day = time::Duration::days(1);
        // Chain 1: three days, the third lost (recovery no longer covered it).
        let mut first = chain(t0, &[Completed, Completed, Failed]);
        first.incrementals[2].lost = true;
        first.gaps.push(Gap {
            from: t0 + 2 * day,
            to: t0 + 3 * day,
            reason: "the export failed".to_owned(),
        });
        first.closed_at = Some(t0 + 3 * day);
        // Chain 2, from where chain 1 ends: one day done, one failed (retrying), one running.
        let second = chain(t0 + 3 * day, &[Completed, Failed, InProgress]);
        let window = Window {
            from: t0 + day,
            to: t0 + 10 * day,
        };
        let f = assess(window, &[second, first]).expect("chains in the window");
        assert_eq!(f.chains, 2);
        // Points in the window: t0+1d, t0+2d (chain 1), t0+3d, t0+4d (chain 2).
        assert_eq!(f.points, 4);
        assert_eq!(
            f.coverage,
            vec![
                Stretch {
                    from: rfc3339(t0),
                    to: rfc3339(t0 + 2 * day)
                },
                Stretch {
                    from: rfc3339(t0 + 3 * day),
                    to: rfc3339(t0 + 4 * day)
                }
            ]
        );
        assert_eq!(f.lost.len(), 1);
        assert_eq!((f.in_progress, f.failed), (1, 1));
        assert_eq!(
            f.newest_point.as_deref(),
            Some(rfc3339(t0 + 4 * day).as_str())
        );
        assert_eq!(f.newest_point_age_seconds, Some(6 * 86_400));
        let notes = f.notes.join("\n");
        assert!(
            notes.contains("lost 2026-11-03T02:00:00Z to 2026-11-04T02:00:00Z"),
            "{notes}"
        );
        assert!(
            notes.contains("no restore point from 2026-11-03T02:00:00Z to 2026-11-04T02:00:00Z"),
            "{notes}"
        );
        assert!(notes.contains("1 export(s) failed"), "{notes}");
        assert!(notes.contains("newest restore point is 6 d old"), "{notes}");
        // A window before every chain: nothing to say.
        let before = Window {
            from: t0 - 10 * day,
            to: t0 - day,
        };
        assert_eq!(assess(before, &[chain(t0, &[Completed])]), None);
    }
}
