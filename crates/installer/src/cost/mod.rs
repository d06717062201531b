//! `plan --cost`: what the configured stack costs a month, from each table's current size, and
//! what each option saves against keeping only on-demand backups. Pure: the prices come from
//! one file (`prices/aws-prices.json`, dated, embedded at build time), the sizes from the
//! caller, so every figure is unit-tested against a hand-computed example.
//!
//! The model (list prices, free tiers not deducted, a 30.4375-day month):
//! - on-demand backups: the full copies of each table retention holds in steady state
//!   ([`backups_kept`]: `--keep`, and with generations the distinct backups their rules keep at
//!   the schedule's rate), per GB-month;
//! - point-in-time recovery (with exports), per GB-month of each table;
//! - exports: each table's size per export, per GB, times the exports a month; with incremental
//!   chains ([`chain_cost`]), a full export every `--export-full-every` and an incremental export
//!   a run, billed on the changes it processes (each table's writes a day, measured from its
//!   `ConsumedWriteCapacityUnits`, one WCU a KB, else from the billed sizes of the stack's own
//!   recent incremental exports of it ([`exported_daily_change`]), else assumed
//!   [`DEFAULT_DAILY_CHANGE`] of its size),
//!   [`INCREMENTAL_MIN_GB`] at least each;
//! - export storage, in steady state: the copies younger than `--export-cold-days` in S3
//!   Standard, the rest until `--export-expire-days` in the cold class (an export taken as large
//!   as its table, an incremental as its changes: compression makes them smaller, so this is an
//!   upper bound);
//! - restore drills: the restored GB, and the verifying scan's read request units (one per
//!   8 KB, eventually consistent);
//! - the function: one invocation per table per run, [`RUN_SECONDS`] each at its memory and
//!   architecture, and requests; its logs ([`LOG_BYTES_PER_RUN`] a run) ingested and kept for
//!   the log retention; its run records (two PUTs and a GET a run);
//! - alarms, per alarm-month.

pub mod compare;
mod prices;

pub use prices::{PriceTable, Prices};

use serde::Serialize;

use backup_lambda::retention::RetentionPolicy;
use backup_lambda::zone::Zone;

use crate::build::arch::Arch;
use crate::deploy::exports::ExportConfig;
use backup_lambda::export::ExportMode;

/// The estimate's line for on-demand backups.
pub const BACKUPS_ITEM: &str = "on-demand backups";
/// Its line for point-in-time recovery.
pub const PITR_ITEM: &str = "point-in-time recovery";
/// Its line for exports.
pub const EXPORTS_ITEM: &str = "exports to S3";
/// Its line for the exports' storage.
pub const EXPORT_STORAGE_ITEM: &str = "export storage";

/// Days in the average month.
pub const MONTH_DAYS: f64 = 30.4375;
/// Seconds one run of the function is taken to last (measured runs take well under this).
pub const RUN_SECONDS: f64 = 1.0;
/// Bytes of log one run writes (about a dozen JSON lines and its metrics).
pub const LOG_BYTES_PER_RUN: f64 = 4096.0;
const GB: f64 = 1024.0 * 1024.0 * 1024.0;

/// The share of a table taken to change a day when its writes cannot be measured.
pub const DEFAULT_DAILY_CHANGE: f64 = 0.01;
/// The least an incremental export is billed for: 10 MB (DynamoDB pricing, "Incremental export
/// to Amazon S3").
pub const INCREMENTAL_MIN_GB: f64 = 10.0 / 1024.0;

/// Where a table's daily change comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeBasis {
    /// Its `ConsumedWriteCapacityUnits` over the last 7 days.
    Measured,
    /// The billed sizes of the stack's recent incremental exports of it over the windows they
    /// cover ([`exported_daily_change`]; no write metrics).
    Exported,
    /// [`DEFAULT_DAILY_CHANGE`] of its size (no write metrics, no incremental exports).
    Assumed,
    /// `--assume-daily-change`.
    Given,
}

/// A table as the estimate sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct TableSize {
    /// Its name.
    pub name: String,
    /// Its size in bytes (DescribeTable's `TableSizeBytes`; 0 for one `up` will create).
    pub bytes: i64,
    /// Bytes written to it a day.
    pub daily_change_bytes: f64,
    /// Where that comes from.
    pub change: ChangeBasis,
}

impl TableSize {
    /// A table of `bytes` whose writes a day are unknown: [`DEFAULT_DAILY_CHANGE`] of it.
    pub fn assumed(name: &str, bytes: i64) -> Self {
        Self {
            name: name.to_owned(),
            bytes,
            daily_change_bytes: bytes.max(0) as f64 * DEFAULT_DAILY_CHANGE,
            change: ChangeBasis::Assumed,
        }
    }
}

/// How far back [`exported_daily_change`] looks: the incrementals whose windows end within it.
pub const EXPORTED_CHANGE_WITHIN: time::Duration = time::Duration::days(7);

/// Bytes a day a table changes by, as its chains' incremental exports show it: the billed sizes
/// (DynamoDB bills an incremental export on the change data it processes) of the completed
/// incrementals whose windows end within [`EXPORTED_CHANGE_WITHIN`] before `now`, over the time
/// those windows cover; `None` when no such incremental covers an hour or more. An upper
/// bound where a window is billed its 10 MB least.
pub fn exported_daily_change(
    chains: &[backup_lambda::chain::Chain],
    now: time::OffsetDateTime,
) -> Option<f64> {
    use backup_lambda::export::ExportState;
    let since = now - EXPORTED_CHANGE_WITHIN;
    let (bytes, seconds) = chains
        .iter()
        .flat_map(|c| &c.incrementals)
        .filter(|l| l.export.status == ExportState::Completed && l.to >= since && l.to <= now)
        .filter_map(|l| {
            Some((
                l.export.billed_size_bytes?,
                (l.to - l.from?).whole_seconds(),
            ))
        })
        .fold((0_i64, 0_i64), |(b, s), (bytes, seconds)| {
            (b + bytes.max(0), s + seconds.max(0))
        });
    (seconds >= 3600).then(|| bytes as f64 * 86_400.0 / seconds as f64)
}

/// Each table's changes a day, in GB.
pub fn daily_changes_gb(tables: &[TableSize]) -> Vec<f64> {
    tables
        .iter()
        .map(|t| t.daily_change_bytes.max(0.0) / GB)
        .collect()
}

/// What an incremental chain costs a month.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainCost {
    /// Its exports (full and incremental), US dollars a month.
    pub exports_usd: f64,
    /// Their storage in steady state.
    pub storage_usd: f64,
    /// How the exports were priced.
    pub exports_detail: String,
    /// How the storage was priced.
    pub storage_detail: String,
}

/// What chains of tables `gb` in all, each changing `changes_gb[i]` a day, cost a month: a full
/// export every `full_every_days`, an incremental export of each table a run (`runs_per_month`,
/// each billed [`INCREMENTAL_MIN_GB`] at least), each kept `expire_days` (S3 Standard for
/// `cold_days`, then `cold_class`).
pub fn chain_cost(
    gb: f64,
    changes_gb: &[f64],
    runs_per_month: f64,
    full_every_days: f64,
    tiers: crate::deploy::exports::Tiers,
    p: &Prices,
) -> ChainCost {
    let fulls = MONTH_DAYS / full_every_days.max(1.0);
    let run_days = MONTH_DAYS / runs_per_month.max(1e-9);
    let per_run: f64 = changes_gb
        .iter()
        .map(|c| (c * run_days).max(INCREMENTAL_MIN_GB))
        .sum();
    let change_gb: f64 = changes_gb.iter().sum();
    let exports_usd = fulls * gb * p.dynamodb_export_gb
        + runs_per_month * per_run * p.dynamodb_incremental_export_gb;
    let (cold_days, expire_days) = (
        f64::from(tiers.cold_days.min(tiers.expire_days)),
        f64::from(tiers.expire_days),
    );
    let cold_class = tiers.cold_class.api_name();
    let (standard, cold_price) = (p.s3_price("STANDARD"), p.s3_price(cold_class));
    let full_warm = cold_days / full_every_days.max(1.0);
    let full_cold = (expire_days - cold_days) / full_every_days.max(1.0);
    let storage_usd = gb * (full_warm * standard + full_cold * cold_price)
        + change_gb * (cold_days * standard + (expire_days - cold_days) * cold_price);
    ChainCost {
        exports_usd,
        storage_usd,
        exports_detail: format!(
            "{fulls:.2} full a month × {gb:.3} GB × ${}/GB + {runs_per_month:.0} incremental × {per_run:.4} GB × ${}/GB",
            p.dynamodb_export_gb, p.dynamodb_incremental_export_gb
        ),
        storage_detail: format!(
            "{:.1} full copies × {gb:.3} GB and {expire_days:.0} days of changes × {change_gb:.4} GB, ${standard} (STANDARD) for {cold_days:.0} days then ${cold_price} ({cold_class})",
            full_warm + full_cold
        ),
    }
}

/// What the estimate is of: the stack's settings that cost money.
#[derive(Debug, Clone, PartialEq)]
pub struct CostInputs {
    /// The tables and their sizes.
    pub tables: Vec<TableSize>,
    /// Backups kept per table in steady state (see [`backups_kept`]).
    pub backups_kept: u32,
    /// Runs a month (from the schedule).
    pub runs_per_month: f64,
    /// Function memory, MB.
    pub memory_mb: u32,
    /// Function architecture.
    pub arch: Arch,
    /// Days between drills, if on.
    pub drill_every_days: Option<f64>,
    /// Exports, if on.
    pub export: Option<ExportConfig>,
    /// Alarms the stack has.
    pub alarms: usize,
    /// Days CloudWatch keeps the logs.
    pub log_retention_days: u32,
}

/// One item of the monthly cost.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct CostLine {
    /// What it is.
    pub item: String,
    /// US dollars a month.
    pub monthly_usd: f64,
    /// How it was computed.
    pub detail: String,
}

/// What an option saves a month against the alternative named.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Saving {
    /// The option.
    pub option: String,
    /// What it is compared with.
    pub against: String,
    /// The alternative's cost a month.
    pub against_monthly_usd: f64,
    /// The option's cost a month.
    pub option_monthly_usd: f64,
    /// The difference (positive: the option is cheaper).
    pub monthly_usd: f64,
}

/// The monthly cost of the configured stack.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct CostEstimate {
    /// The region priced.
    pub region: String,
    /// The region whose prices were used (us-east-1 where the region is not in the table).
    pub priced_as: String,
    /// The price table's date.
    pub prices_date: String,
    /// Currency of every figure.
    pub currency: String,
    /// The tables priced: their size and changes a day.
    pub tables: Vec<PricedTable>,
    /// Each item.
    pub lines: Vec<CostLine>,
    /// Their sum.
    pub total_monthly_usd: f64,
    /// What the options save.
    pub savings: Vec<Saving>,
    /// The stack's data protection against the alternatives for the same recovery objectives
    /// (`plan --cost --compare`).
    pub compare: Option<compare::Comparison>,
}

/// A table as priced.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct PricedTable {
    /// Its name.
    pub name: String,
    /// Its size, GB.
    pub gb: f64,
    /// Its changes a day, GB.
    pub daily_change_gb: f64,
    /// Where they come from.
    pub change: ChangeBasis,
}

/// The most runs [`backups_kept`] lays out: past it they are spaced further apart.
const MOST_RUNS: u64 = 100_000;

/// The tables' size together, in GB.
pub fn total_gb(tables: &[TableSize]) -> f64 {
    tables.iter().map(|t| t.bytes.max(0) as f64 / GB).sum()
}

/// What a retention policy holds in steady state.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Held {
    /// Backups of a table kept.
    pub backups: u32,
    /// The oldest one's age, in days: how far back recovery reaches.
    pub reach_days: f64,
}

/// How many backups of a table `policy` holds once a run every `every` has gone on longer
/// than any rule reaches, and how old the oldest is: `decide` itself, run over such a history,
/// in `zone`. A schedule that would make more than [`MOST_RUNS`] runs in that time is laid out
/// more sparsely, which can only count fewer of the generations' periods as shared with
/// `--keep`'s newest.
pub fn backups_kept(policy: &RetentionPolicy, zone: &Zone, every: std::time::Duration) -> u32 {
    held(policy, zone, every).backups
}

/// [`backups_kept`], with the reach.
pub fn held(policy: &RetentionPolicy, zone: &Zone, every: std::time::Duration) -> Held {
    use backup_lambda::retention::{Backup, BackupKind, BackupState, decide};
    let reach_days = policy.generations.reach_days().map_or(0, |(_, days)| days);
    let span = std::time::Duration::from_secs(reach_days * 86_400 + 86_400);
    let every = every.max(std::time::Duration::from_secs(60));
    let by_rate = (span.as_secs() / every.as_secs()).max(u64::from(policy.max_backups.get())) + 1;
    let runs = by_rate.min(MOST_RUNS);
    let step = if runs < by_rate {
        span / (runs as u32)
    } else {
        every
    };
    let (Ok(table), Ok(stack)) = (
        backup_lambda::naming::TableName::parse("Movies"),
        backup_lambda::naming::StackName::parse("cost"),
    ) else {
        return Held {
            backups: policy.max_backups.get(),
            reach_days: every.as_secs_f64() * f64::from(policy.max_backups.get()) / 86_400.0,
        };
    };
    let now = time::macros::datetime!(2027-01-01 00:00 UTC);
    let step = time::Duration::try_from(step).unwrap_or(time::Duration::DAY);
    let backups: Vec<Backup> = (0..runs)
        .map(|i| {
            let created = now - step * (i as u32);
            Backup {
                arn: format!("arn:{i}"),
                name: table.backup_name(&stack, created),
                created,
                state: BackupState::Available,
                kind: BackupKind::User,
            }
        })
        .collect();
    let owner = backup_lambda::ownership::Ownership::new(stack);
    let kept = decide(&table, &owner, &backups, policy, zone, now).keep;
    let oldest = kept.iter().map(|k| k.backup.created).min().unwrap_or(now);
    Held {
        backups: u32::try_from(kept.len()).unwrap_or(u32::MAX),
        reach_days: (now - oldest).as_seconds_f64() / 86_400.0,
    }
}

/// Cents, to keep figures readable in JSON (sub-cent items keep four decimals).
fn money(usd: f64) -> f64 {
    (usd * 10_000.0).round() / 10_000.0
}

/// The estimate for `inputs` in `region`, priced from `table` (us-east-1's prices where the
/// region has none: `priced_as` says so).
pub fn estimate(inputs: &CostInputs, region: &str, table: &PriceTable) -> CostEstimate {
    let (priced_as, p) = table.for_region(region);
    let total_gb = total_gb(&inputs.tables);
    let n_tables = inputs.tables.len() as f64;
    let mut lines = Vec::new();
    let mut line = |item: &str, usd: f64, detail: String| {
        lines.push(CostLine {
            item: item.to_owned(),
            monthly_usd: money(usd),
            detail,
        });
    };

    let keep = f64::from(inputs.backups_kept);
    line(
        BACKUPS_ITEM,
        keep * total_gb * p.dynamodb_backup_gb_month,
        format!(
            "{keep} kept × {total_gb:.3} GB × ${}/GB-month",
            p.dynamodb_backup_gb_month
        ),
    );
    let mut export_cost = 0.0;
    let mut export_copies = 0.0;
    if let Some(export) = &inputs.export {
        let period_days = match export.every {
            backup_lambda::export::ExportEvery::Daily => 1.0,
            backup_lambda::export::ExportEvery::Weekly => 7.0,
        };
        let per_month = MONTH_DAYS / period_days;
        let pitr = total_gb * p.dynamodb_pitr_gb_month;
        line(
            PITR_ITEM,
            pitr,
            format!(
                "{total_gb:.3} GB × ${}/GB-month (exports need it)",
                p.dynamodb_pitr_gb_month
            ),
        );
        let tiers = export.tiers;
        let warm = f64::from(tiers.cold_days.min(tiers.expire_days)) / period_days;
        let cold = f64::from(tiers.expire_days.saturating_sub(tiers.cold_days)) / period_days;
        let (exports, storage) = match export.mode {
            ExportMode::Full => {
                let exports = per_month * total_gb * p.dynamodb_export_gb;
                line(
                    EXPORTS_ITEM,
                    exports,
                    format!(
                        "{per_month:.2} a month × {total_gb:.3} GB × ${}/GB",
                        p.dynamodb_export_gb
                    ),
                );
                let cold_class = tiers.cold_class.api_name();
                let (standard, cold_price) = (p.s3_price("STANDARD"), p.s3_price(cold_class));
                let storage = total_gb * (warm * standard + cold * cold_price);
                line(
                    EXPORT_STORAGE_ITEM,
                    storage,
                    format!(
                        "{warm:.1} copies × {total_gb:.3} GB × ${standard} (STANDARD) + {cold:.1} × {total_gb:.3} GB × ${cold_price} ({cold_class})"
                    ),
                );
                (exports, storage)
            }
            ExportMode::Incremental(chain) => {
                let c = chain_cost(
                    total_gb,
                    &daily_changes_gb(&inputs.tables),
                    inputs.runs_per_month,
                    f64::from(chain.full_every_days),
                    tiers,
                    p,
                );
                line(EXPORTS_ITEM, c.exports_usd, c.exports_detail);
                line(EXPORT_STORAGE_ITEM, c.storage_usd, c.storage_detail);
                (c.exports_usd, c.storage_usd)
            }
        };
        export_cost = pitr + exports + storage;
        export_copies = match export.mode {
            ExportMode::Full => warm + cold,
            // A recovery point a run, kept until the exports expire.
            ExportMode::Incremental(_) => {
                f64::from(tiers.expire_days) * inputs.runs_per_month / MONTH_DAYS
            }
        };
    }
    if let Some(every) = inputs.drill_every_days {
        let per_month = MONTH_DAYS / every;
        let units = total_gb * GB / 8192.0;
        let drills = per_month
            * (total_gb * p.dynamodb_restore_gb
                + units / 1e6 * p.dynamodb_read_request_units_million);
        line(
            "restore drills",
            drills,
            format!(
                "{per_month:.2} a month × ({total_gb:.3} GB × ${}/GB restored + {units:.0} read units × ${}/million)",
                p.dynamodb_restore_gb, p.dynamodb_read_request_units_million
            ),
        );
    }
    let invocations = inputs.runs_per_month * n_tables;
    let gb_seconds = invocations * RUN_SECONDS * f64::from(inputs.memory_mb) / 1024.0;
    let arch = match inputs.arch {
        Arch::X86_64 => "x86_64",
        Arch::Arm64 => "arm64",
    };
    let compute = gb_seconds * p.lambda_price(arch);
    let requests = invocations / 1e6 * p.lambda_requests_million;
    line(
        "function",
        compute + requests,
        format!(
            "{invocations:.0} runs × {RUN_SECONDS} s × {} MB ({arch}) + requests",
            inputs.memory_mb
        ),
    );
    let log_gb = invocations * LOG_BYTES_PER_RUN / GB;
    let kept_gb = log_gb * (f64::from(inputs.log_retention_days) / MONTH_DAYS).clamp(0.0, 1.0);
    line(
        "logs",
        log_gb * p.logs_ingest_gb + kept_gb * p.logs_store_gb_month,
        format!("{log_gb:.4} GB ingested, up to {kept_gb:.4} GB kept"),
    );
    line(
        "run records",
        invocations * (2.0 * p.s3_put_thousand + p.s3_get_thousand) / 1000.0,
        format!("{invocations:.0} runs × (2 PUT + 1 GET)"),
    );
    line(
        "alarms",
        inputs.alarms as f64 * p.cloudwatch_alarm_month,
        format!(
            "{} × ${}/alarm-month",
            inputs.alarms, p.cloudwatch_alarm_month
        ),
    );

    let mut savings = Vec::new();
    if inputs.export.is_some() {
        let as_backups = export_copies * total_gb * p.dynamodb_backup_gb_month;
        savings.push(Saving {
            option: format!("exports ({export_copies:.0} copies in S3 tiers)"),
            against: format!("the same {export_copies:.0} copies as on-demand backups"),
            against_monthly_usd: money(as_backups),
            option_monthly_usd: money(export_cost),
            monthly_usd: money(as_backups - export_cost),
        });
    }
    let (x86, arm) = (
        gb_seconds * p.lambda_price("x86_64"),
        gb_seconds * p.lambda_price("arm64"),
    );
    savings.push(match inputs.arch {
        Arch::X86_64 => Saving {
            option: "arm64 (--arch arm64)".to_owned(),
            against: "x86_64, as configured".to_owned(),
            against_monthly_usd: money(x86),
            option_monthly_usd: money(arm),
            monthly_usd: money(x86 - arm),
        },
        Arch::Arm64 => Saving {
            option: "arm64, as configured".to_owned(),
            against: "x86_64".to_owned(),
            against_monthly_usd: money(x86),
            option_monthly_usd: money(arm),
            monthly_usd: money(x86 - arm),
        },
    });
    let total = lines.iter().map(|l| l.monthly_usd).sum();
    CostEstimate {
        region: region.to_owned(),
        priced_as: priced_as.to_owned(),
        prices_date: table.date.clone(),
        currency: table.currency.clone(),
        tables: inputs
            .tables
            .iter()
            .map(|t| PricedTable {
                name: t.name.clone(),
                gb: money(t.bytes.max(0) as f64 / GB),
                daily_change_gb: money(t.daily_change_bytes.max(0.0) / GB),
                change: t.change,
            })
            .collect(),
        lines,
        total_monthly_usd: money(total),
        savings,
        compare: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exported_change_is_the_recent_incrementals_billed_bytes_over_their_windows() {
        use backup_lambda::export::ExportState::{Completed, Failed};
        let t0 = time::macros::datetime!(2026-11-20 02:00 UTC);
        let hours = |n: i64| t0 + time::Duration::hours(n);
        let mut chain = backup_lambda::fake::chain_of(
            t0,
            &[
                (hours(24), Completed),
                (hours(36), Completed),
                (hours(48), Failed),
                (hours(60), Completed),
            ],
        );
        let billed = [3_000_000, 1_000_000, 50_000_000, 2_000_000];
        for (link, bytes) in chain.incrementals.iter_mut().zip(billed) {
            link.export.billed_size_bytes = Some(bytes);
        }
        // Seen at 60 h: every window ended within 7 days; the failed one not counted. 6 MB over
        // 24 + 12 + 12 hours = 2 days.
        let now = hours(60);
        assert_eq!(
            exported_daily_change(std::slice::from_ref(&chain), now),
            Some(3_000_000.0)
        );
        // At 216 h, only the windows that ended at 48 h or later: 2 MB over 12 hours.
        assert_eq!(
            exported_daily_change(std::slice::from_ref(&chain), hours(216)),
            Some(4_000_000.0)
        );
        // Nothing completed recently, or less than an hour of windows: no figure.
        assert_eq!(
            exported_daily_change(std::slice::from_ref(&chain), hours(60 + 30 * 24)),
            None
        );
        let mut short =
            backup_lambda::fake::chain_of(t0, &[(t0 + time::Duration::minutes(30), Completed)]);
        short.incrementals[0].export.billed_size_bytes = Some(1_000_000);
        assert_eq!(exported_daily_change(&[short], hours(1)), None);
    }

    #[test]
    fn generations_hold_the_distinct_backups_their_rules_keep() {
        let policy = |keep: u32, g: [u32; 4]| RetentionPolicy {
            max_backups: std::num::NonZeroU32::new(keep).expect("positive"),
            max_age_days: None,
            generations: backup_lambda::retention::Generations {
                daily: std::num::NonZeroU32::new(g[0]),
                weekly: std::num::NonZeroU32::new(g[1]),
                monthly: std::num::NonZeroU32::new(g[2]),
                yearly: std::num::NonZeroU32::new(g[3]),
            },
        };
        let day = std::time::Duration::from_secs(86_400);
        let hour = std::time::Duration::from_secs(3_600);
        let utc = Zone::utc();
        assert_eq!(backups_kept(&policy(3, [0; 4]), &utc, day), 3);
        // Daily runs to 2027-01-01: 7 days, 2 more ISO weeks (Dec 20, 13), 10 more month ends
        // (Nov 30 back to Feb 28); the years are Jan 1 and Dec 31, kept already.
        assert_eq!(backups_kept(&policy(1, [7, 4, 12, 2]), &utc, day), 19);
        // Hourly: the newest 24 hours reach Dec 31 01:00, so 5 more days (Dec 30 to 26).
        assert_eq!(backups_kept(&policy(24, [7, 0, 0, 0]), &utc, hour), 29);
    }
    use crate::deploy::exports::{ColdClass, Tiers};
    use backup_lambda::export::ExportEvery;

    fn ten_gb_daily() -> CostInputs {
        CostInputs {
            tables: vec![TableSize::assumed("Movies", 10 * 1024 * 1024 * 1024)],
            backups_kept: 3,
            runs_per_month: MONTH_DAYS,
            memory_mb: 128,
            arch: Arch::X86_64,
            drill_every_days: Some(7.0),
            export: Some(ExportConfig {
                every: ExportEvery::Daily,
                mode: backup_lambda::export::ExportMode::Full,
                bucket: None,
                bucket_owner: None,
                bucket_region: None,
                require_lock: false,
                tiers: Tiers {
                    cold_days: 30,
                    cold_class: ColdClass::GlacierIr,
                    expire_days: 365,
                },
            }),
            alarms: 4,
            log_retention_days: 14,
        }
    }

    fn item(e: &CostEstimate, name: &str) -> f64 {
        e.lines
            .iter()
            .find(|l| l.item == name)
            .unwrap_or_else(|| panic!("{name} in {:?}", e.lines))
            .monthly_usd
    }

    #[test]
    fn a_ten_gb_table_backed_up_daily_costs_what_the_hand_computation_says() {
        let prices = PriceTable::embedded().expect("the embedded table parses");
        let e = estimate(&ten_gb_daily(), "us-east-1", &prices);
        assert_eq!(e.priced_as, "us-east-1");
        assert_eq!(e.currency, "USD");
        // 3 × 10 GB × $0.10
        assert_eq!(item(&e, "on-demand backups"), 3.0);
        // 10 GB × $0.20
        assert_eq!(item(&e, "point-in-time recovery"), 2.0);
        // 30.4375 exports × 10 GB × $0.10
        assert_eq!(item(&e, "exports to S3"), 30.4375);
        // 30 copies × 10 GB × $0.023 + 335 × 10 GB × $0.004 = 6.9 + 13.4
        assert_eq!(item(&e, "export storage"), 20.3);
        // 4.348 drills × (10 GB × $0.15 + 1,310,720 units × $0.125/M) = 4.348 × 1.66384
        assert_eq!(item(&e, "restore drills"), 7.2347);
        // 30.4375 runs × 1 s × 0.125 GB × $0.0000166667 + requests
        assert_eq!(item(&e, "function"), 0.0001);
        assert_eq!(item(&e, "alarms"), 0.4);
        let sum: f64 = e.lines.iter().map(|l| l.monthly_usd).sum();
        assert!((e.total_monthly_usd - sum).abs() < 1e-9);

        // 365 copies as backups: 365 × 10 × $0.10 = $365 against 2 + 30.4375 + 20.3.
        let exports = &e.savings[0];
        assert_eq!(exports.against_monthly_usd, 365.0);
        assert_eq!(exports.option_monthly_usd, 52.7375);
        assert_eq!(exports.monthly_usd, 312.2625);
        let arm = &e.savings[1];
        assert!(arm.option.starts_with("arm64"));
        assert!(arm.monthly_usd >= 0.0 && arm.option_monthly_usd < arm.against_monthly_usd + 1e-9);
    }

    #[test]
    fn weekly_exports_keep_a_seventh_of_the_copies_and_off_costs_nothing() {
        let prices = PriceTable::embedded().unwrap();
        let mut inputs = ten_gb_daily();
        if let Some(export) = &mut inputs.export {
            export.every = ExportEvery::Weekly;
        }
        let weekly = estimate(&inputs, "us-east-1", &prices);
        // 30/7 copies × 10 × $0.023 + 335/7 × 10 × $0.004 = 0.9857 + 1.9143
        assert_eq!(item(&weekly, "export storage"), 2.9);
        inputs.export = None;
        inputs.drill_every_days = None;
        let plain = estimate(&inputs, "us-east-1", &prices);
        assert!(
            plain
                .lines
                .iter()
                .all(|l| !l.item.contains("export") && l.item != "restore drills")
        );
        assert_eq!(plain.savings.len(), 1, "only the architecture");
    }

    #[test]
    fn an_unknown_region_is_priced_as_us_east_1_and_says_so() {
        let prices = PriceTable::embedded().unwrap();
        let e = estimate(&ten_gb_daily(), "ap-southeast-7", &prices);
        assert_eq!(e.region, "ap-southeast-7");
        assert_eq!(e.priced_as, "us-east-1");
        assert_eq!(item(&e, "on-demand backups"), 3.0);
    }

    #[test]
    fn a_chain_prices_weekly_full_exports_and_a_days_changes_a_run() {
        use backup_lambda::export::{ChainSettings, ExportView};
        let mut inputs = ten_gb_daily();
        // 10 GB changing 2 % (0.2 GB) a day; exports kept 365 days, cold (GLACIER_IR) after 30.
        inputs.tables[0].daily_change_bytes = 0.02 * 10.0 * GB;
        if let Some(export) = inputs.export.as_mut() {
            export.mode = ExportMode::Incremental(ChainSettings {
                full_every_days: 7,
                view: ExportView::NewAndOld,
            });
        }
        let e = estimate(&inputs, "us-east-1", &PriceTable::embedded().unwrap());
        let line = |item: &str| {
            e.lines
                .iter()
                .find(|l| l.item == item)
                .map(|l| l.monthly_usd)
                .expect(item)
        };
        // 30.4375/7 full × 10 GB × $0.10 + 30.4375 incremental × 0.2 GB × $0.10.
        let exports = 30.4375 / 7.0 * 1.0 + 30.4375 * 0.02;
        assert!((line(EXPORTS_ITEM) - exports).abs() < 0.001, "{e:?}");
        // 30/7 full copies warm, 335/7 cold, of 10 GB; 30 days of 0.2 GB warm, 335 cold.
        let storage = 10.0 * (30.0 / 7.0 * 0.023 + 335.0 / 7.0 * 0.004)
            + 0.2 * (30.0 * 0.023 + 335.0 * 0.004);
        assert!((line(EXPORT_STORAGE_ITEM) - storage).abs() < 0.001, "{e:?}");
        assert_eq!(e.tables[0].daily_change_gb, 0.2);
        // A table that hardly changes is billed 10 MB an incremental export.
        inputs.tables[0].daily_change_bytes = 1024.0;
        let e = estimate(&inputs, "us-east-1", &PriceTable::embedded().unwrap());
        let least = 30.4375 / 7.0 * 1.0 + 30.4375 * INCREMENTAL_MIN_GB * 0.10;
        assert!(
            (e.lines
                .iter()
                .find(|l| l.item == EXPORTS_ITEM)
                .unwrap()
                .monthly_usd
                - least)
                .abs()
                < 0.001
        );
    }
}
