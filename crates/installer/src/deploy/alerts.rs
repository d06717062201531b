//! Which alarms the stack has and when they fire, from the validated [`AlertSettings`]: pure,
//! so the windows are unit-tested against CloudWatch's documented limits.
//!
//! - `<stack>-function-errors`: the function's `AWS/Lambda` `Errors` ≥ 1 in 5 minutes.
//! - `<stack>-<table>-backup-missing`: the function's `BackupMade` (embedded metric format,
//!   [`backup_lambda::metrics`]) summed to less than 1 over the schedule's longest interval
//!   plus a margin, **missing data breaching**: a rule that stops firing, a function that is
//!   gone or failing, and a table that is not backed up all alarm alike.
//! - `<stack>-<table>-drill-failed` (with drills): `DrillPassed` below 1; missing data
//!   ignored, so the alarm stays in ALARM until a drill passes.
//! - `<stack>-<table>-export-failed` (with exports): `ExportCompleted` below 1 (an export
//!   seen to fail, or one that could not be started or checked); missing data ignored, so the
//!   alarm stays in ALARM until an export completes.
//! - `<stack>-<table>-export-missing` (with daily exports): `ExportCompleted` summed to less
//!   than 1 over a day, plus the schedule's longest interval (the run that sees an export end
//!   may come that much later), plus a quarter of a day for exports that take longer than the
//!   last; missing data breaching, as for backups. Weekly exports cannot be watched this way
//!   (their window is past the 7 days an alarm can look back): `installer report` shows each
//!   table's newest export instead.
//!
//! CloudWatch's limits (PutMetricAlarm, API reference): a period of 10, 20, 30 or a multiple of
//! 60 seconds; period × evaluation periods at most 86,400 s for periods under an hour and at
//! most 604,800 s (7 days) otherwise. The missing-backup window is cut into 1-minute periods
//! while it fits in a day, into 1-hour periods up to 7 days, and is all of them breaching
//! ("N of N"). A schedule whose gaps reach past 7 days (or a cron expression without a fixed
//! longest gap) cannot be watched this way: rather than an alarm that would fire between every
//! two honest runs, the stack gets none, says so, and `installer report --rpo` from cron is
//! the check for it.

use std::time::Duration;

use aws_sdk_cloudwatch::types::{ComparisonOperator, Statistic};
use backup_lambda::metrics;

use crate::deploy::config::StackConfig;
use crate::deploy::resources::Tags;
use crate::deploy::resources::alarm::{Condition, Desired as Alarm};

/// The longest range an alarm can look back over (periods of an hour or more).
const MAX_RANGE: u64 = 604_800;
/// The longest range for periods under an hour.
const MAX_SHORT_RANGE: u64 = 86_400;
/// The least margin past the schedule's interval before a backup counts as missing: metrics
/// from the embedded format take a little while to arrive.
const MIN_MARGIN: Duration = Duration::from_secs(300);

/// What `--alert-email`, `--alert-topic` and `--alert-kms-key` asked for, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertSettings {
    /// Addresses to subscribe to the stack's own topic (none: no topic of its own).
    pub emails: Vec<String>,
    /// Existing topics to notify too (never modified or deleted).
    pub topics: Vec<String>,
    /// The customer managed key for the stack's topic.
    pub kms_key: Option<String>,
}

/// The window a missing-backup alarm looks back over: the period and how many of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Seconds per period.
    pub period: i32,
    /// Periods, all of which must be without a backup.
    pub periods: i32,
}

/// Why a schedule gets no missing-backup alarm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoWindow {
    /// The cron expression has no fixed longest gap.
    NoInterval,
    /// Interval plus margin is beyond the 7 days an alarm can look back.
    TooLong(Duration),
    /// The tables are chosen by tag, found at run time: `up` cannot name them in alarms.
    ByTag,
}

/// The window for a schedule whose longest gap between runs is `interval`: the interval plus a
/// margin of a tenth of it, at least [`MIN_MARGIN`], rounded up to whole periods.
pub fn missing_window(interval: Option<Duration>) -> Result<Window, NoWindow> {
    let interval = interval.ok_or(NoWindow::NoInterval)?;
    window_over(interval + (interval / 10).max(MIN_MARGIN))
}

/// The window for exports every `every`, seen ending by runs at most `interval` apart: both,
/// plus a quarter of `every` for an export slower than the one before.
pub fn export_missing_window(
    every: Duration,
    interval: Option<Duration>,
) -> Result<Window, NoWindow> {
    let interval = interval.ok_or(NoWindow::NoInterval)?;
    window_over(every + interval + every / 4)
}

/// `span` cut into 1-minute periods while it fits in a day, else 1-hour periods up to 7 days.
fn window_over(span: Duration) -> Result<Window, NoWindow> {
    let seconds = span.as_secs();
    let (period, limit) = if seconds <= MAX_SHORT_RANGE {
        (60, MAX_SHORT_RANGE)
    } else {
        (3600, MAX_RANGE)
    };
    let periods = seconds.div_ceil(period);
    if periods * period > limit {
        return Err(NoWindow::TooLong(span));
    }
    Ok(Window {
        period: i32::try_from(period).unwrap_or(i32::MAX),
        periods: i32::try_from(periods).unwrap_or(i32::MAX),
    })
}

/// The alarms' names all start with this: `<stack>-`.
pub fn alarm_prefix(stack: &str) -> String {
    format!("{stack}-")
}

/// The name of the stack's function-errors alarm.
pub fn errors_alarm(stack: &str) -> String {
    format!("{stack}-function-errors")
}

/// How a missing-backup alarm's name ends.
pub const MISSING_SUFFIX: &str = "-backup-missing";

/// The name of a table's missing-backup alarm.
pub fn missing_alarm(stack: &str, table: &str) -> String {
    format!("{stack}-{table}{MISSING_SUFFIX}")
}

/// The name of a table's drill-failed alarm.
pub fn drill_alarm(stack: &str, table: &str) -> String {
    format!("{stack}-{table}-drill-failed")
}

/// How an export-missing alarm's name ends.
pub const EXPORT_MISSING_SUFFIX: &str = "-export-missing";

/// The name of a table's export-missing alarm.
pub fn export_missing_alarm(stack: &str, table: &str) -> String {
    format!("{stack}-{table}{EXPORT_MISSING_SUFFIX}")
}

/// The name of a table's export-failed alarm.
pub fn export_alarm(stack: &str, table: &str) -> String {
    format!("{stack}-{table}-export-failed")
}

/// The stack's topic: `<stack>-alerts`.
pub fn topic_name(stack: &str) -> String {
    format!("{stack}-alerts")
}

/// A condition true from the first 0 of `metric` (a 1/0 verdict the function emits) until the
/// next 1: its Minimum over 5 minutes below 1, missing data ignored (so it holds between runs).
fn failed_once(metric: &str, dimensions: Vec<(String, String)>) -> Condition {
    Condition {
        namespace: metrics::NAMESPACE.to_owned(),
        metric: metric.to_owned(),
        dimensions,
        statistic: Statistic::Minimum,
        period: 300,
        evaluation_periods: 1,
        datapoints_to_alarm: 1,
        threshold: 1.0,
        comparison: ComparisonOperator::LessThanThreshold,
        missing_data: "ignore".to_owned(),
    }
}

/// A condition true while `metric` sums to less than 1 in every period of `window`, missing
/// data breaching: what happens regularly has stopped happening.
fn stopped(metric: &str, dimensions: Vec<(String, String)>, window: Window) -> Condition {
    Condition {
        namespace: metrics::NAMESPACE.to_owned(),
        metric: metric.to_owned(),
        dimensions,
        statistic: Statistic::Sum,
        period: window.period,
        evaluation_periods: window.periods,
        datapoints_to_alarm: window.periods,
        threshold: 1.0,
        comparison: ComparisonOperator::LessThanThreshold,
        missing_data: "breaching".to_owned(),
    }
}

/// The stack's alarms, and what could not be watched.
#[derive(Debug)]
pub struct Watch {
    /// The alarms, notifying the actions given.
    pub alarms: Vec<Alarm>,
    /// Why the tables get no missing-backup alarm, when they get none.
    pub no_missing_alarm: Option<NoWindow>,
    /// Why the tables get no missing-export alarm, when exports are on and they get none.
    pub no_export_missing_alarm: Option<NoWindow>,
}

/// The stack's alarms, notifying `actions` (topic ARNs); and, when the schedule cannot be
/// watched for missing backups or exports, why not.
pub fn alarms(config: &StackConfig, actions: &[String], tags: &Tags) -> Watch {
    let stack = config.function_name();
    let alarm = |name: String, description: String, condition: Condition| Alarm {
        name,
        description,
        condition,
        actions: actions.to_vec(),
        tags: tags.clone(),
    };
    let ours = |table: &str| {
        let mut dimensions = vec![
            ("Stack".to_owned(), stack.to_owned()),
            ("Table".to_owned(), table.to_owned()),
        ];
        dimensions.sort();
        dimensions
    };
    let mut all = vec![alarm(
        errors_alarm(stack),
        format!("The backup function {stack} failed a run: see `installer logs --stack {stack}`."),
        Condition {
            namespace: "AWS/Lambda".to_owned(),
            metric: "Errors".to_owned(),
            dimensions: vec![("FunctionName".to_owned(), stack.to_owned())],
            statistic: Statistic::Sum,
            period: 300,
            evaluation_periods: 1,
            datapoints_to_alarm: 1,
            threshold: 1.0,
            comparison: ComparisonOperator::GreaterThanOrEqualToThreshold,
            missing_data: "notBreaching".to_owned(),
        },
    )];
    let window = missing_window(config.longest_gap());
    let export_window = config
        .export
        .as_ref()
        .map(|export| export_missing_window(export.every.length(), config.longest_gap()));
    for table in &config.tables {
        if let Ok(w) = window {
            all.push(alarm(
                missing_alarm(stack, table.as_str()),
                format!(
                    "No backup of table {table} in the last {} s (schedule {}): the rule, the function or the table needs attention. See `installer status --stack {stack}`.",
                    i64::from(w.period) * i64::from(w.periods),
                    config.schedule
                ),
                stopped(metrics::BACKUP_MADE, ours(table.as_str()), w),
            ));
        }
        if let Some(Ok(w)) = export_window {
            all.push(alarm(
                export_missing_alarm(stack, table.as_str()),
                format!(
                    "No export of table {table} to S3 completed in the last {} s: see `installer status --stack {stack}` and the run records.",
                    i64::from(w.period) * i64::from(w.periods),
                ),
                stopped(metrics::EXPORT_COMPLETED, ours(table.as_str()), w),
            ));
        }
        if config.drill.is_some() {
            all.push(alarm(
                drill_alarm(stack, table.as_str()),
                format!(
                    "A restore drill of table {table} failed: its backup did not restore and verify in time. See `installer status --stack {stack}`."
                ),
                failed_once(metrics::DRILL_PASSED, ours(table.as_str())),
            ));
        }
        if config.export.is_some() {
            all.push(alarm(
                export_alarm(stack, table.as_str()),
                format!(
                    "An export of table {table} to S3 failed or could not be started. See `installer status --stack {stack}` and the run records."
                ),
                failed_once(metrics::EXPORT_COMPLETED, ours(table.as_str())),
            ));
        }
    }
    let by_tag = config.table_tag.is_some();
    Watch {
        alarms: all,
        no_missing_alarm: if by_tag {
            Some(NoWindow::ByTag)
        } else {
            window.err()
        },
        no_export_missing_alarm: match export_window {
            Some(_) if by_tag => Some(NoWindow::ByTag),
            Some(w) => w.err(),
            None => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(seconds: u64) -> Result<Window, NoWindow> {
        missing_window(Some(Duration::from_secs(seconds)))
    }

    #[test]
    fn short_schedules_are_watched_minute_by_minute() {
        // 1 minute + the 5-minute floor of the margin.
        assert_eq!(
            window(60),
            Ok(Window {
                period: 60,
                periods: 6
            })
        );
        // 1 hour + 6 minutes.
        assert_eq!(
            window(3600),
            Ok(Window {
                period: 60,
                periods: 66
            })
        );
        // 12 hours + 72 minutes.
        assert_eq!(
            window(43_200),
            Ok(Window {
                period: 60,
                periods: 792
            })
        );
    }

    #[test]
    fn a_day_or_more_is_watched_hour_by_hour() {
        // 24 h + 2.4 h: 27 hourly periods, since 26.4 h of minutes would pass the 1-day range.
        assert_eq!(
            window(86_400),
            Ok(Window {
                period: 3600,
                periods: 27
            })
        );
        assert_eq!(
            window(6 * 86_400),
            Ok(Window {
                period: 3600,
                periods: 159
            })
        );
    }

    #[test]
    fn every_window_is_within_cloudwatchs_limits() {
        for minutes in (1..=10_080).step_by(7) {
            if let Ok(w) = window(minutes * 60) {
                let range = i64::from(w.period) * i64::from(w.periods);
                assert!(w.period == 60 || w.period % 60 == 0);
                let limit = if w.period < 3600 { 86_400 } else { 604_800 };
                assert!(range <= limit, "{minutes} min: {w:?}");
                assert!(
                    range >= i64::try_from(minutes * 60).unwrap(),
                    "covers the interval"
                );
            }
        }
    }

    #[test]
    fn daily_exports_are_watched_over_a_day_the_schedules_gap_and_a_quarter_day() {
        const DAY: Duration = Duration::from_secs(86_400);
        let hour = Duration::from_secs(3600);
        // 24 h + 1 h + 6 h.
        assert_eq!(
            export_missing_window(DAY, Some(hour)),
            Ok(Window {
                period: 3600,
                periods: 31
            })
        );
        // 24 h + 24 h + 6 h.
        assert_eq!(
            export_missing_window(DAY, Some(DAY)),
            Ok(Window {
                period: 3600,
                periods: 54
            })
        );
        // Weekly exports, or daily ones seen only every 6 days, are past the 7-day range.
        assert!(matches!(
            export_missing_window(7 * DAY, Some(hour)),
            Err(NoWindow::TooLong(_))
        ));
        assert!(matches!(
            export_missing_window(DAY, Some(6 * DAY)),
            Err(NoWindow::TooLong(_))
        ));
        assert_eq!(export_missing_window(DAY, None), Err(NoWindow::NoInterval));
    }

    #[test]
    fn past_seven_days_there_is_no_honest_alarm() {
        assert!(matches!(window(7 * 86_400), Err(NoWindow::TooLong(_))));
        assert_eq!(missing_window(None), Err(NoWindow::NoInterval));
    }
}
