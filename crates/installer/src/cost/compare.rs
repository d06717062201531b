//! `plan --cost --compare`: the configured stack's data protection priced against the
//! alternatives that give the same recovery objectives, from the same tables' sizes and the same
//! dated price table: a recovery point at least every run for recent days, and recovery points
//! reaching as far back as the configured stack's do (its *horizon*).
//!
//! The alternatives:
//! - on-demand backups, one a run, all kept for the horizon;
//! - generations (daily 7, weekly 4, monthly and yearly as the horizon needs), counted by the
//!   retention rule itself ([`super::held`]);
//! - point-in-time recovery (any second of the last 35 days) alone, where the horizon is within
//!   35 days; else with weekly full exports kept for the horizon (cold after 30 days), and with
//!   an incremental export chain (a weekly full export and an incremental one a run, kept for the
//!   horizon, cold after 30 days: a recovery point every run for the whole horizon), priced
//!   from the tables' changes a day ([`super::chain_cost`]).

use std::num::NonZeroU32;

use backup_lambda::retention::{Generations, RetentionPolicy};
use backup_lambda::zone::Zone;
use serde::Serialize;

use super::{MONTH_DAYS, Prices, held, money};

/// The cost lines of an estimate that protect data (what the alternatives replace).
pub const PROTECTION_ITEMS: [&str; 4] = [
    super::BACKUPS_ITEM,
    super::PITR_ITEM,
    super::EXPORTS_ITEM,
    super::EXPORT_STORAGE_ITEM,
];

/// Point-in-time recovery's longest recovery period, in days.
const PITR_DAYS: f64 = 35.0;
/// Days exports stay in S3 Standard before the cold class, in the export alternative.
const WARM_DAYS: f64 = 30.0;

/// What is compared.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareInputs {
    /// The tables' size, GB.
    pub total_gb: f64,
    /// Days between runs at most (the schedule's longest gap).
    pub interval_days: f64,
    /// How far back the configured stack's recovery points reach, in days.
    pub horizon_days: f64,
    /// The configured stack's data protection, US dollars a month.
    pub configured_usd: f64,
    /// The configured stack's recovery points per table.
    pub configured_points: f64,
    /// The zone generations are counted in.
    pub zone: Zone,
    /// Each table's changes a day, GB.
    pub daily_changes_gb: Vec<f64>,
}

/// One way to protect the tables.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Alternative {
    /// What it is.
    pub option: String,
    /// US dollars a month.
    pub monthly_usd: f64,
    /// Recovery points per table it holds (any second of a window counts as one point a run).
    pub recovery_points: f64,
    /// How it was priced.
    pub detail: String,
    /// Whether this is the stack as configured.
    pub configured: bool,
}

/// The alternatives, cheapest first.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Comparison {
    /// How far back every alternative reaches, in days.
    pub horizon_days: f64,
    /// Each, cheapest first.
    pub alternatives: Vec<Alternative>,
    /// The cheapest.
    pub cheapest: String,
    /// What the cheapest saves a month against the configured stack (0 when it is the stack).
    pub saving_monthly_usd: f64,
}

/// The smallest generations, in the auditors' order (daily 7, weekly 4, then months up to 12,
/// then years), whose oldest backup reaches `horizon` days back at one run every `every`, and
/// what they hold.
fn generations_for(
    horizon: f64,
    zone: &Zone,
    every: std::time::Duration,
) -> (Generations, super::Held) {
    let policy = |g: Generations| RetentionPolicy {
        max_backups: NonZeroU32::MIN,
        max_age_days: None,
        generations: g,
    };
    let n = NonZeroU32::new;
    let mut g = Generations {
        daily: n(7),
        ..Generations::default()
    };
    let mut candidates = vec![g];
    g.weekly = n(4);
    candidates.push(g);
    for months in 1..=12 {
        g.monthly = n(months);
        candidates.push(g);
    }
    for years in 1..=100 {
        g.yearly = n(years);
        candidates.push(g);
    }
    let mut found = None;
    for candidate in candidates {
        let kept = held(&policy(candidate), zone, every);
        found = Some((candidate, kept));
        if kept.reach_days >= horizon {
            break;
        }
    }
    found.unwrap_or_else(|| (g, held(&policy(g), zone, every)))
}

/// The configured stack and its alternatives, priced with `p`.
pub fn compare(inputs: &CompareInputs, p: &Prices) -> Comparison {
    let gb = inputs.total_gb;
    let horizon = inputs.horizon_days.max(inputs.interval_days);
    let mut all = vec![Alternative {
        option: "as configured".to_owned(),
        monthly_usd: money(inputs.configured_usd),
        recovery_points: inputs.configured_points,
        detail: "the estimate's backups, point-in-time recovery and exports".to_owned(),
        configured: true,
    }];

    let points = (horizon / inputs.interval_days).ceil();
    all.push(Alternative {
        option: format!("on-demand backups, one a run, kept {horizon:.0} days"),
        monthly_usd: money(points * gb * p.dynamodb_backup_gb_month),
        recovery_points: points,
        detail: format!(
            "{points:.0} kept × {gb:.3} GB × ${}/GB-month",
            p.dynamodb_backup_gb_month
        ),
        configured: false,
    });

    let every = std::time::Duration::from_secs_f64((inputs.interval_days * 86_400.0).max(60.0));
    let (generations, kept) = generations_for(horizon, &inputs.zone, every);
    let [d, w, m, y] = generations.counts().map(|c| c.map_or(0, NonZeroU32::get));
    all.push(Alternative {
        option: format!("generations (daily {d}, weekly {w}, monthly {m}, yearly {y})"),
        monthly_usd: money(f64::from(kept.backups) * gb * p.dynamodb_backup_gb_month),
        recovery_points: f64::from(kept.backups),
        detail: format!(
            "{} kept × {gb:.3} GB × ${}/GB-month",
            kept.backups, p.dynamodb_backup_gb_month
        ),
        configured: false,
    });

    let pitr = gb * p.dynamodb_pitr_gb_month;
    let runs_in_window = (PITR_DAYS / inputs.interval_days).ceil();
    if horizon <= PITR_DAYS {
        all.push(Alternative {
            option: "point-in-time recovery alone (any second of 35 days)".to_owned(),
            monthly_usd: money(pitr),
            recovery_points: runs_in_window,
            detail: format!("{gb:.3} GB × ${}/GB-month", p.dynamodb_pitr_gb_month),
            configured: false,
        });
    } else {
        let per_month = MONTH_DAYS / 7.0;
        let copies = (horizon / 7.0).ceil();
        let warm = (WARM_DAYS / 7.0).min(copies);
        let cold = copies - warm;
        let (standard, glacier) = (p.s3_price("STANDARD"), p.s3_price("GLACIER_IR"));
        let exports = per_month * gb * p.dynamodb_export_gb;
        let storage = gb * (warm * standard + cold * glacier);
        all.push(Alternative {
            option: format!(
                "point-in-time recovery (35 days) + weekly exports kept {horizon:.0} days"
            ),
            monthly_usd: money(pitr + exports + storage),
            recovery_points: runs_in_window + (copies - PITR_DAYS / 7.0).max(0.0),
            detail: format!(
                "{gb:.3} GB × ${}/GB-month + {per_month:.2} exports × {gb:.3} GB × ${}/GB + {warm:.1} copies × ${standard} (STANDARD) + {cold:.1} × ${glacier} (GLACIER_IR) per GB-month",
                p.dynamodb_pitr_gb_month, p.dynamodb_export_gb
            ),
            configured: false,
        });
    }
    if horizon > PITR_DAYS {
        let runs_per_month = MONTH_DAYS / inputs.interval_days;
        let tiers = crate::deploy::exports::Tiers {
            cold_days: WARM_DAYS as u32,
            cold_class: crate::deploy::exports::ColdClass::GlacierIr,
            expire_days: horizon.ceil() as u32,
        };
        let chain = super::chain_cost(gb, &inputs.daily_changes_gb, runs_per_month, 7.0, tiers, p);
        all.push(Alternative {
            option: format!(
                "point-in-time recovery (35 days) + an export chain (weekly full, an incremental a run) kept {horizon:.0} days"
            ),
            monthly_usd: money(pitr + chain.exports_usd + chain.storage_usd),
            recovery_points: points,
            detail: format!(
                "{gb:.3} GB × ${}/GB-month + {} + {}",
                p.dynamodb_pitr_gb_month, chain.exports_detail, chain.storage_detail
            ),
            configured: false,
        });
    }
    all.sort_by(|a, b| a.monthly_usd.total_cmp(&b.monthly_usd));
    let (cheapest, cheapest_usd) = all.first().map_or_else(
        || ("as configured".to_owned(), inputs.configured_usd),
        |a| (a.option.clone(), a.monthly_usd),
    );
    Comparison {
        horizon_days: money(horizon),
        saving_monthly_usd: money(inputs.configured_usd - cheapest_usd),
        cheapest,
        alternatives: all,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cost::PriceTable;

    fn prices() -> Prices {
        PriceTable::embedded()
            .expect("the embedded table")
            .for_region("us-east-1")
            .1
            .clone()
    }

    #[test]
    fn a_month_of_daily_backups_is_dearer_than_generations_and_pitr() {
        // 100 GB, daily, 30 backups kept (a 30-day horizon), at $0.10 a GB-month: $300.
        let inputs = CompareInputs {
            total_gb: 100.0,
            interval_days: 1.0,
            horizon_days: 30.0,
            configured_usd: 300.0,
            configured_points: 30.0,
            zone: Zone::utc(),
            daily_changes_gb: vec![1.0],
        };
        let c = compare(&inputs, &prices());
        let cost = |prefix: &str| {
            c.alternatives
                .iter()
                .find(|a| a.option.starts_with(prefix))
                .map(|a| a.monthly_usd)
                .expect(prefix)
        };
        assert_eq!(cost("on-demand backups"), 300.0);
        // PITR: 100 GB × $0.20.
        assert_eq!(cost("point-in-time recovery alone"), 20.0);
        let generations = c
            .alternatives
            .iter()
            .find(|a| a.option.starts_with("generations"))
            .expect("generations");
        // Daily 7 and weekly 4 reach 19 days on this calendar (runs to 2027-01-01, a Friday):
        // the month ends of December and November come in too, November's reaching 32 days:
        // 7 days, December 20 and 13, November 30: 10 backups, $100.
        assert_eq!(
            generations.option,
            "generations (daily 7, weekly 4, monthly 3, yearly 0)"
        );
        assert_eq!(generations.monthly_usd, 100.0);
        assert_eq!(
            c.cheapest,
            "point-in-time recovery alone (any second of 35 days)"
        );
        assert_eq!(c.saving_monthly_usd, 280.0);
        assert!(
            c.alternatives
                .windows(2)
                .all(|w| w[0].monthly_usd <= w[1].monthly_usd)
        );
    }

    #[test]
    fn a_year_long_horizon_prices_weekly_exports_beside_pitr() {
        let inputs = CompareInputs {
            total_gb: 500.0,
            interval_days: 1.0,
            horizon_days: 365.0,
            configured_usd: 0.0,
            configured_points: 0.0,
            zone: Zone::utc(),
            daily_changes_gb: vec![5.0],
        };
        let c = compare(&inputs, &prices());
        let exports = c
            .alternatives
            .iter()
            .find(|a| a.option.contains("weekly exports"))
            .expect("exports beside PITR past 35 days");
        // PITR 500 × 0.20 = 100; exports 30.4375/7 × 500 × 0.10 = 217.41; storage: 30/7
        // copies warm × 500 × 0.023 = 49.29, and 53 − 4.29 cold × 500 × 0.004 = 97.43.
        let expected = 100.0
            + 30.4375 / 7.0 * 50.0
            + 500.0 * (30.0 / 7.0 * 0.023 + (53.0 - 30.0 / 7.0) * 0.004);
        assert!(
            (exports.monthly_usd - expected).abs() < 0.01,
            "{exports:?} vs {expected}"
        );
        let backups = c
            .alternatives
            .iter()
            .find(|a| a.option.starts_with("on-demand"))
            .expect("backups");
        assert_eq!(backups.monthly_usd, 365.0 * 500.0 * 0.10);
        // The chain, 500 GB changing 1 % (5 GB) a day: PITR 100; a weekly full export 217.41;
        // an incremental a day, 30.4375 × 5 GB × 0.10 = 15.22; storage: 30/7 full copies warm
        // and 335/7 cold × 500 GB (145.00), 30 days of changes warm and 335 cold × 5 GB (10.15).
        let chain = c
            .alternatives
            .iter()
            .find(|a| a.option.contains("export chain"))
            .expect("a chain past 35 days");
        let expected = 100.0
            + 30.4375 / 7.0 * 50.0
            + 30.4375 * 0.5
            + 500.0 * (30.0 / 7.0 * 0.023 + 335.0 / 7.0 * 0.004)
            + 5.0 * (30.0 * 0.023 + 335.0 * 0.004);
        assert!(
            (chain.monthly_usd - expected).abs() < 0.01,
            "{chain:?} vs {expected}"
        );
        assert_eq!(chain.recovery_points, 365.0, "a point a day for the year");
    }
}
