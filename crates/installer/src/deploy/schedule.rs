//! EventBridge schedule expressions, validated here with AWS's rules because local emulators
//! accept expressions that AWS rejects, and read in the schedule's time zone (EventBridge rules:
//! UTC; EventBridge Scheduler: any IANA zone).
//!
//! - `rate(<value> <unit>)`: a positive whole value; unit `minute`, `hour` or `day`, singular for
//!   a value of 1 and plural otherwise.
//! - `cron(<minutes> <hours> <day-of-month> <month> <day-of-week> <year>)`: six fields, and exactly
//!   one of day-of-month and day-of-week is `?`.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use backup_lambda::zone::Zone;
use thiserror::Error;
use time::OffsetDateTime;

/// Why a schedule expression is not one EventBridge accepts.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error(
    "invalid schedule {expression:?}: {reason}; use e.g. 'rate(1 day)', 'rate(5 minutes)' or 'cron(0 3 * * ? *)'"
)]
pub struct ScheduleError {
    /// The rejected expression.
    pub expression: String,
    /// What is wrong with it.
    pub reason: String,
}

/// A validated EventBridge schedule expression, and the zone its cron fields are read in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    expression: String,
    zone: Zone,
}

impl Schedule {
    /// The expression as EventBridge takes it.
    pub fn as_str(&self) -> &str {
        &self.expression
    }

    /// The zone its cron fields are read in.
    pub fn zone(&self) -> &Zone {
        &self.zone
    }

    /// The same expression read in `zone`.
    #[must_use]
    pub fn in_zone(self, zone: Zone) -> Self {
        Self { zone, ..self }
    }

    /// The next `count` runs after `after`: for a cron expression, as EventBridge Scheduler
    /// runs it (a local time the clocks skip does not run; one they repeat runs once, the first
    /// time); for a rate, `after` plus whole periods (a rate counts from when the schedule is
    /// made, and days are 24 hours whatever the clocks do). Empty where [`Schedule::interval`]
    /// is `None`.
    pub fn next_runs(&self, after: OffsetDateTime, count: usize) -> Vec<OffsetDateTime> {
        if let Some(rate) = self.rate() {
            let rate = time::Duration::try_from(rate).unwrap_or(time::Duration::DAY);
            return (1..=count).map(|k| after + rate * (k as u32)).collect();
        }
        // Two years hold a run of any expression that runs at all (a yearly one, or one on
        // February 29th in a leap year).
        let until = after + time::Duration::days(2 * 366 + 1);
        let mut runs = self.firings(after, until).unwrap_or_default();
        runs.truncate(count);
        runs
    }
}

impl Schedule {
    /// The longest time between two consecutive firings: the rate itself, or for a cron
    /// expression the longest gap over two years of firings from 2027 (leap year and the
    /// turn of a year included). `None` for a cron expression with `L`, `W` or `#` (firings
    /// that depend on the calendar in ways not simulated here) or one that fires fewer than
    /// twice in those years.
    pub fn interval(&self) -> Option<Duration> {
        if let Some(rate) = self.rate() {
            return Some(rate);
        }
        let (_, longest) = self.simulate()?;
        (longest > 0).then(|| Duration::from_secs(longest.unsigned_abs()))
    }

    /// How many times a month (30.4375 days) it fires: exactly for a rate, on average over the
    /// two simulated years for a cron expression; `None` where [`Schedule::interval`] is.
    pub fn runs_per_month(&self) -> Option<f64> {
        const MONTH_SECONDS: f64 = 30.4375 * 86_400.0;
        if let Some(rate) = self.rate() {
            return Some(MONTH_SECONDS / rate.as_secs_f64());
        }
        let (count, longest) = self.simulate()?;
        (longest > 0).then(|| count as f64 / 24.0)
    }

    /// A rate expression's period (`None` for a cron expression).
    pub fn rate_period(&self) -> Option<Duration> {
        self.rate()
    }

    /// A rate expression's period.
    fn rate(&self) -> Option<Duration> {
        let body = inner(&self.expression, "rate")?;
        let (value, unit) = body.split_once(' ')?;
        let value: u64 = value.parse().ok()?;
        let unit = match unit.trim_end_matches('s') {
            "minute" => 60,
            "hour" => 3600,
            _ => 86_400,
        };
        Some(Duration::from_secs(value * unit))
    }

    /// A cron expression's firings over the two years from 2027 (731 days) in its zone: how
    /// many, and the longest gap between two in seconds (a night the clocks skip its time makes
    /// a gap of two days).
    fn simulate(&self) -> Option<(u64, i64)> {
        let (count, longest, _) = self.gaps()?;
        Some((count, longest))
    }

    /// The firings over the two simulated years: how many, and the longest and shortest gap
    /// between two in seconds.
    fn gaps(&self) -> Option<(u64, i64, i64)> {
        let start = time::macros::datetime!(2027-01-01 00:00 UTC);
        let firings = self.firings(start, start + time::Duration::days(366 + 365))?;
        let gaps = firings
            .windows(2)
            .map(|pair| (pair[1] - pair[0]).whole_seconds());
        let (longest, shortest) = gaps.fold((0, i64::MAX), |(l, s), g| (l.max(g), s.min(g)));
        Some((firings.len() as u64, longest, shortest))
    }

    /// The shortest time between two consecutive firings (a rate's period; for a cron in a zone,
    /// the night the clocks go back can bring two runs closer): how long one run may wait for
    /// delivery without meeting the next. `None` where [`Schedule::interval`] is.
    pub fn shortest_interval(&self) -> Option<Duration> {
        if let Some(rate) = self.rate() {
            return Some(rate);
        }
        let (_, longest, shortest) = self.gaps()?;
        (longest > 0).then(|| Duration::from_secs(shortest.unsigned_abs()))
    }

    /// A cron expression's firings after `after` and until `until`, in order: its fields read
    /// on the wall clock of its zone, a local time the clocks skip not run, one they repeat run
    /// once (the first time). `None` for a rate, or a cron expression with `L`, `W` or `#`.
    fn firings(&self, after: OffsetDateTime, until: OffsetDateTime) -> Option<Vec<OffsetDateTime>> {
        let fields: Vec<&str> = inner(&self.expression, "cron")?.split(' ').collect();
        let sets: Vec<Vec<bool>> = fields
            .iter()
            .zip(&FIELDS)
            .map(|(value, field)| matching(value, field))
            .collect::<Option<_>>()?;
        let [minutes, hours, dom, months, dow, years] = &sets[..] else {
            return None;
        };
        // Local dates from the day before to the day after, whatever the zone's offset.
        let first = after.date() - time::Duration::days(1);
        let days = (until.date() - first).whole_days() + 2;
        let mut runs = Vec::new();
        for offset in 0..days {
            let day = first + time::Duration::days(offset);
            let weekday = u32::from(day.weekday().number_from_sunday());
            let year = u32::try_from(day.year()).ok()?;
            let fires_today = dom[day.day() as usize - 1]
                && dow[weekday as usize - 1]
                && months[u8::from(day.month()) as usize - 1]
                && years.get((year - 1970) as usize).copied().unwrap_or(false);
            if !fires_today {
                continue;
            }
            for (hour, _) in hours.iter().enumerate().filter(|(_, on)| **on) {
                for (minute, _) in minutes.iter().enumerate().filter(|(_, on)| **on) {
                    let at = self.zone.wall_clock(
                        day,
                        u8::try_from(hour).ok()?,
                        u8::try_from(minute).ok()?,
                    );
                    if let Some(at) = at.filter(|at| *at > after && *at <= until) {
                        runs.push(at);
                    }
                }
            }
        }
        runs.sort();
        Some(runs)
    }
}

/// Which values of `field` a (valid) cron field matches, index 0 being `field.min`; `?`
/// matches all (the other day field decides). `None` for `L`, `W` and `#`.
fn matching(value: &str, field: &Field) -> Option<Vec<bool>> {
    let size = (field.max - field.min + 1) as usize;
    if value == "?" {
        return Some(vec![true; size]);
    }
    let mut on = vec![false; size];
    for item in value.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => (range, step.parse::<u32>().ok()?),
            None => (item, 1),
        };
        let (from, to) = match range.split_once('-') {
            _ if range == "*" => (field.min, field.max),
            Some((from, to)) => (value_of(from, field)?, value_of(to, field)?),
            // `5/15`: from 5 to the end, every 15.
            None if step > 1 => (value_of(range, field)?, field.max),
            None => {
                let single = value_of(range, field)?;
                (single, single)
            }
        };
        for v in (from..=to).step_by(step as usize) {
            on[(v - field.min) as usize] = true;
        }
    }
    Some(on)
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.expression)
    }
}

impl FromStr for Schedule {
    type Err = ScheduleError;

    fn from_str(expression: &str) -> Result<Self, Self::Err> {
        let fail = |reason: String| ScheduleError {
            expression: expression.to_owned(),
            reason,
        };
        if let Some(body) = inner(expression, "rate") {
            check_rate(body).map_err(fail)?;
        } else if let Some(body) = inner(expression, "cron") {
            check_cron(body).map_err(fail)?;
        } else {
            return Err(fail("it must be rate(...) or cron(...)".to_owned()));
        }
        Ok(Self {
            expression: expression.to_owned(),
            zone: Zone::utc(),
        })
    }
}

/// The text between `name(` and the final `)`.
fn inner<'a>(expression: &'a str, name: &str) -> Option<&'a str> {
    expression
        .strip_prefix(name)?
        .strip_prefix('(')?
        .strip_suffix(')')
}

fn check_rate(body: &str) -> Result<(), String> {
    let parts: Vec<&str> = body.split(' ').collect();
    let [value, unit] = parts[..] else {
        return Err("a rate is a value and a unit separated by one space".to_owned());
    };
    let value: u32 = value
        .parse()
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| format!("the rate value {value:?} must be a whole number above 0"))?;
    let singular = ["minute", "hour", "day"];
    let plural = ["minutes", "hours", "days"];
    match (value, singular.contains(&unit), plural.contains(&unit)) {
        (1, true, _) => Ok(()),
        (1, _, true) => Err(format!(
            "a value of 1 takes a singular unit: 'rate(1 {})'",
            unit.trim_end_matches('s')
        )),
        (_, _, true) => Ok(()),
        (_, true, _) => Err(format!(
            "a value above 1 takes a plural unit: 'rate({value} {unit}s)'"
        )),
        _ => Err(format!(
            "unknown unit {unit:?}; use minute(s), hour(s) or day(s)"
        )),
    }
}

/// One cron field's rules: its name, numeric range, names, and extra special characters.
struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
    specials: &'static [char],
}

const MONTHS: &[&str] = &[
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAYS: &[&str] = &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

const FIELDS: [Field; 6] = [
    Field {
        name: "minutes",
        min: 0,
        max: 59,
        names: &[],
        specials: &[],
    },
    Field {
        name: "hours",
        min: 0,
        max: 23,
        names: &[],
        specials: &[],
    },
    Field {
        name: "day-of-month",
        min: 1,
        max: 31,
        names: &[],
        specials: &['?', 'L', 'W'],
    },
    Field {
        name: "month",
        min: 1,
        max: 12,
        names: MONTHS,
        specials: &[],
    },
    Field {
        name: "day-of-week",
        min: 1,
        max: 7,
        names: DAYS,
        specials: &['?', 'L', '#'],
    },
    Field {
        name: "year",
        min: 1970,
        max: 2199,
        names: &[],
        specials: &[],
    },
];

fn check_cron(body: &str) -> Result<(), String> {
    let parts: Vec<&str> = body.split(' ').collect();
    if parts.len() != 6 {
        return Err(format!(
            "cron takes 6 fields (minutes hours day-of-month month day-of-week year), got {}",
            parts.len()
        ));
    }
    let (dom, dow) = (parts[2], parts[4]);
    if (dom == "?") == (dow == "?") {
        return Err("exactly one of day-of-month and day-of-week must be '?'".to_owned());
    }
    for (value, field) in parts.iter().zip(&FIELDS) {
        check_field(value, field)?;
    }
    Ok(())
}

fn check_field(value: &str, field: &Field) -> Result<(), String> {
    let bad = || format!("the {} field {value:?} is not valid", field.name);
    if value == "?" {
        return if field.specials.contains(&'?') {
            Ok(())
        } else {
            Err(bad())
        };
    }
    for item in value.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => (range, Some(step)),
            None => (item, None),
        };
        if let Some(step) = step {
            let step: u32 = step.parse().map_err(|_| bad())?;
            if step == 0 || step > field.max {
                return Err(bad());
            }
        }
        if range == "*" {
            continue;
        }
        if field.specials.contains(&'L') && (range == "L" || range == "LW") && step.is_none() {
            continue;
        }
        if field.specials.contains(&'#')
            && let Some((day, nth)) = range.split_once('#')
        {
            let nth: u32 = nth.parse().map_err(|_| bad())?;
            if step.is_some() || !(1..=5).contains(&nth) {
                return Err(bad());
            }
            value_of(day, field).ok_or_else(bad)?;
            continue;
        }
        let single = range
            .strip_suffix('W')
            .filter(|_| field.specials.contains(&'W'))
            .or_else(|| {
                range
                    .strip_suffix('L')
                    .filter(|_| field.specials.contains(&'L') && field.name == "day-of-week")
            });
        if let Some(day) = single {
            value_of(day, field).ok_or_else(bad)?;
            continue;
        }
        match range.split_once('-') {
            Some((from, to)) => {
                value_of(from, field).ok_or_else(bad)?;
                value_of(to, field).ok_or_else(bad)?;
            }
            None => {
                value_of(range, field).ok_or_else(bad)?;
            }
        }
    }
    Ok(())
}

/// A number in the field's range, or one of its names (JAN, MON, ...).
fn value_of(text: &str, field: &Field) -> Option<u32> {
    let number = match text.parse::<u32>() {
        Ok(n) => n,
        Err(_) => {
            let upper = text.to_ascii_uppercase();
            let index = field.names.iter().position(|name| *name == upper)?;
            field.min + u32::try_from(index).ok()?
        }
    };
    (field.min..=field.max).contains(&number).then_some(number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_eventbridge_accepts() {
        for ok in [
            "rate(1 minute)",
            "rate(5 minutes)",
            "rate(1 hour)",
            "rate(12 hours)",
            "rate(1 day)",
            "rate(7 days)",
            "cron(0 3 * * ? *)",
            "cron(0/15 * * * ? *)",
            "cron(0 18 ? * MON-FRI *)",
            "cron(0 8 1 * ? *)",
            "cron(15 10 ? * 6L 2026-2030)",
            "cron(0 12 L * ? *)",
            "cron(0 12 15W * ? *)",
            "cron(0 9 ? * 2#1 *)",
            "cron(0,30 1-5 ? JAN,JUL SUN *)",
        ] {
            assert_eq!(
                ok.parse::<Schedule>().map(|s| s.to_string()),
                Ok(ok.to_owned()),
                "{ok}"
            );
        }
    }

    #[test]
    fn intervals_are_the_longest_time_between_firings() {
        let hours = |h: u64| Some(Duration::from_secs(h * 3600));
        for (expression, interval) in [
            ("rate(1 minute)", Some(Duration::from_secs(60))),
            ("rate(5 minutes)", Some(Duration::from_secs(300))),
            ("rate(12 hours)", hours(12)),
            ("rate(7 days)", hours(7 * 24)),
            ("cron(0 3 * * ? *)", hours(24)),
            ("cron(0/15 * * * ? *)", Some(Duration::from_secs(900))),
            ("cron(5/25 * * * ? *)", Some(Duration::from_secs(25 * 60))),
            // Friday 18:00 to Monday 18:00.
            ("cron(0 18 ? * MON-FRI *)", hours(72)),
            ("cron(0 6,18 * * ? *)", hours(12)),
            // The first of the month: 31 days at most.
            ("cron(0 8 1 * ? *)", hours(31 * 24)),
            ("cron(0 12 L * ? *)", None),
            ("cron(0 9 ? * 2#1 *)", None),
            // Fires only in a year long gone.
            ("cron(0 3 * * ? 2020)", None),
        ] {
            let schedule: Schedule = expression.parse().unwrap();
            assert_eq!(schedule.interval(), interval, "{expression}");
        }
    }

    #[test]
    fn a_cron_in_a_zone_runs_by_its_wall_clock_as_scheduler_does() {
        let berlin = Zone::parse("Europe/Berlin").expect("a zone");
        let at_0230: Schedule = "cron(30 2 * * ? *)".parse().unwrap();
        let at_0230 = at_0230.in_zone(berlin.clone());
        // 2027-03-28: Berlin's clocks skip from 02:00 to 03:00, so 02:30 does not happen that
        // night: the longest gap is 47 hours (02:30 CET on the 27th to 02:30 CEST on the 29th).
        // Rules in UTC never skip.
        assert_eq!(at_0230.interval(), Some(Duration::from_secs(47 * 3600)));
        let utc: Schedule = "cron(30 2 * * ? *)".parse().unwrap();
        assert_eq!(utc.interval(), Some(Duration::from_secs(24 * 3600)));
        let runs = |s: &Schedule, from| -> Vec<String> {
            s.next_runs(from, 3)
                .iter()
                .map(|t| {
                    t.format(&time::format_description::well_known::Rfc3339)
                        .unwrap()
                })
                .collect()
        };
        assert_eq!(
            runs(&at_0230, time::macros::datetime!(2027-03-26 12:00 UTC)),
            [
                "2027-03-27T01:30:00Z",
                "2027-03-29T00:30:00Z",
                "2027-03-30T00:30:00Z"
            ]
        );
        // 2027-10-31: 02:30 happens twice (CEST, then CET); it runs once, the first time.
        assert_eq!(
            runs(&at_0230, time::macros::datetime!(2027-10-30 12:00 UTC)),
            [
                "2027-10-31T00:30:00Z",
                "2027-11-01T01:30:00Z",
                "2027-11-02T01:30:00Z"
            ]
        );
        // A rate counts 24-hour days whatever the zone.
        let daily: Schedule = "rate(1 day)".parse().unwrap();
        let daily = daily.in_zone(berlin);
        assert_eq!(
            runs(&daily, time::macros::datetime!(2027-03-27 12:00 UTC)),
            [
                "2027-03-28T12:00:00Z",
                "2027-03-29T12:00:00Z",
                "2027-03-30T12:00:00Z"
            ]
        );
        assert_eq!(daily.interval(), Some(Duration::from_secs(24 * 3600)));
        // An hourly cron in Berlin: 2 hours the night 02:xx is skipped, never less than 1.
        let hourly: Schedule = "cron(30 * * * ? *)".parse().unwrap();
        let hourly = hourly.in_zone(Zone::parse("Europe/Berlin").expect("a zone"));
        assert_eq!(hourly.interval(), Some(Duration::from_secs(2 * 3600)));
        assert_eq!(hourly.shortest_interval(), Some(Duration::from_secs(3600)));
    }

    #[test]
    fn runs_a_month_are_exact_for_rates_and_averaged_for_cron() {
        let runs = |e: &str| e.parse::<Schedule>().unwrap().runs_per_month();
        assert_eq!(runs("rate(1 day)"), Some(30.4375));
        assert_eq!(runs("rate(1 hour)"), Some(730.5));
        // 731 days of one firing, over 24 months.
        assert_eq!(runs("cron(0 3 * * ? *)"), Some(731.0 / 24.0));
        // Weekdays twice a day: 2027 has 261 weekdays (it starts on a Friday: 52 weeks and a
        // Friday), 2028 has 260 (52 weeks and a weekend): 2 × 521 over 24 months.
        assert_eq!(runs("cron(0 6,18 ? * MON-FRI *)"), Some(1042.0 / 24.0));
        assert_eq!(runs("cron(0 12 L * ? *)"), None);
    }

    #[test]
    fn rejects_what_eventbridge_rejects() {
        for (bad, why) in [
            ("rate(1 minutes)", "singular unit"),
            ("rate(5 minute)", "plural unit"),
            ("rate(0 minutes)", "above 0"),
            ("rate(-1 days)", "above 0"),
            ("rate(1.5 hours)", "whole number"),
            ("rate(2 weeks)", "unknown unit"),
            ("rate(5  minutes)", "one space"),
            ("rate(5minutes)", "one space"),
            ("cron(0 3 * * *)", "6 fields"),
            ("cron(0 3 * * * *)", "exactly one"),
            ("cron(0 3 ? * ? *)", "exactly one"),
            ("cron(60 3 * * ? *)", "minutes field"),
            ("cron(0 24 * * ? *)", "hours field"),
            ("cron(0 3 32 * ? *)", "day-of-month"),
            ("cron(0 3 ? 13 MON *)", "month field"),
            ("cron(0 3 ? * FUNDAY *)", "day-of-week"),
            ("cron(0 3 * * ? 1969)", "year field"),
            ("cron(0/0 * * * ? *)", "minutes field"),
            ("every day", "rate(...) or cron(...)"),
            ("", "rate(...) or cron(...)"),
            ("RATE(1 day)", "rate(...) or cron(...)"),
        ] {
            let err = bad.parse::<Schedule>().expect_err(bad);
            assert!(err.to_string().contains(why), "{bad}: {err}");
            assert!(
                err.to_string().contains("rate(1 day)"),
                "the error shows a fix: {err}"
            );
        }
    }
}
