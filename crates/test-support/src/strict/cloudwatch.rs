//! CloudWatch alarms' limits, as the PutMetricAlarm API reference documents them.

use std::time::Instant;

use super::{Call, Reply, Rule, Service, Upstream};

/// PutMetricAlarm refuses a period other than 10, 20, 30 or a multiple of 60 seconds, and an
/// evaluation range (Period × EvaluationPeriods) over 604,800 s, or over 86,400 s for a period
/// under an hour; DatapointsToAlarm may not exceed EvaluationPeriods.
///
/// PutMetricAlarm, API reference, `Period`: "Valid values are 10, 20, 30, and any multiple of
/// 60"; "An alarm's total current evaluation period can be no longer than seven days, so
/// Period multiplied by EvaluationPeriods can't be more than 604,800 seconds. For alarms with
/// a period of less than one hour (3,600 seconds), the total evaluation period can't be longer
/// than one day (86,400 seconds)." moto accepts any values.
pub struct AlarmEvaluationRange;

/// Why `call`'s alarm breaks the limits, if it does.
fn broken(call: &Call) -> Option<String> {
    let number = |name: &str| call.param(name).and_then(|v| v.parse::<u64>().ok());
    let period = number("Period")?;
    let periods = number("EvaluationPeriods")?;
    if ![10, 20, 30].contains(&period) && (period == 0 || period % 60 != 0) {
        return Some(format!(
            "Period {period} must be 10, 20, 30 or a multiple of 60"
        ));
    }
    let limit = if period < 3600 { 86_400 } else { 604_800 };
    if period * periods > limit {
        return Some(format!(
            "The evaluation range (Period * EvaluationPeriods = {}) must not exceed {limit} seconds",
            period * periods
        ));
    }
    match number("DatapointsToAlarm") {
        Some(points) if points > periods => Some(format!(
            "DatapointsToAlarm {points} must not exceed EvaluationPeriods {periods}"
        )),
        _ => None,
    }
}

impl Rule for AlarmEvaluationRange {
    fn name(&self) -> &'static str {
        "AlarmEvaluationRange"
    }

    fn refuse(&self, call: &Call, _: Instant, _: &dyn Upstream) -> Option<Reply> {
        if !call.is(Service::CloudWatch, "PutMetricAlarm") {
            return None;
        }
        broken(call).map(|why| Reply::query_error(400, "ValidationError", &why))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::Nothing;
    use super::*;

    fn put(period: u32, periods: u32) -> Call {
        let body = format!(
            "Action=PutMetricAlarm&Version=2010-08-01&AlarmName=a&Period={period}&EvaluationPeriods={periods}&DatapointsToAlarm={periods}"
        );
        Call::parse("POST", "/", None, None, body.as_bytes())
    }

    #[test]
    fn ranges_past_the_documented_limits_are_refused() {
        let rule = AlarmEvaluationRange;
        let now = Instant::now();
        for (period, periods) in [(60, 1440), (3600, 168), (30, 2880), (86_400, 7)] {
            assert!(
                rule.refuse(&put(period, periods), now, &Nothing).is_none(),
                "{period} x {periods}"
            );
        }
        for (period, periods) in [(60, 1441), (3600, 169), (45, 1), (1800, 49)] {
            let refused = rule
                .refuse(&put(period, periods), now, &Nothing)
                .expect("refused");
            assert_eq!(refused.status, 400);
            assert!(
                String::from_utf8_lossy(&refused.body).contains("<Code>ValidationError</Code>")
            );
        }
    }
}
