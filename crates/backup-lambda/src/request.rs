//! The invocation event and the function's environment, validated before any AWS call.

use std::num::NonZeroU32;

use serde_json::Value;
use thiserror::Error;

use crate::drill::{DrillSettings, parse_period};
use crate::export::{
    ChainSettings, DEFAULT_FULL_EVERY_DAYS, DEFAULT_PREFIX, ExportEvery, ExportMode,
    ExportSettings, ExportView, MAX_FULL_EVERY_DAYS,
};
use crate::naming::{StackName, StackNameError, TableName, TableNameError};
use crate::ownership::{ADOPTED_UNTIL_VAR, Ownership, STACK_NAME_VAR};
use crate::retention::{AgeLimitTooShort, Generations, RetentionPolicy};
use crate::zone::{UnknownZone, ZONE_VAR, Zone};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// `MAX_BACKUPS` when the environment does not set it: the tutorial's 3.
const DEFAULT_MAX_BACKUPS: NonZeroU32 = NonZeroU32::new(3).expect("3 is not zero");
/// The largest `MaxBackups` accepted (AWS has no such limit; this catches typos like 30000).
const MAX_KEEP: u32 = 1000;
/// The largest `MaxAgeDays` accepted (100 years).
const MAX_AGE_DAYS: u32 = 36_500;

/// Why an event or the environment was rejected. Nothing has been called in AWS when this is
/// returned.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RequestError {
    /// The event is not a JSON object.
    #[error("the event must be a JSON object such as {{\"TableName\": \"Movies\"}}, got {0}")]
    NotAnObject(String),
    /// The event has no `TableName`.
    #[error("the event has no \"TableName\"; send an event such as {{\"TableName\": \"Movies\"}}")]
    MissingTable,
    /// `TableName` is not a string.
    #[error("\"TableName\" must be a string such as \"Movies\", got {0}")]
    TableNotString(String),
    /// `TableName` is not a valid DynamoDB table name.
    #[error("invalid \"TableName\": {0}")]
    BadTable(#[from] TableNameError),
    /// A count in the event or the environment is not a whole number in range.
    #[error("{field} must be a whole number from 1 to {max}, got {got}")]
    OutOfRange {
        /// The event field or environment variable.
        field: &'static str,
        /// The largest accepted value.
        max: u32,
        /// What was given.
        got: String,
    },
    /// The event's `TableTag` is not a tag.
    #[error(
        "\"TableTag\" must be {{\"Key\": \"backup\", \"Value\": \"daily\"}} (a key of 1 to 128 characters, a value of up to 256), got {0}"
    )]
    BadTableTag(String),
    /// The event's `Continuation` is not one the function hands on.
    #[error(
        "\"Continuation\" must be {{\"Run\": \"<request id>\", \"Part\": 2}} (a part from 2 on), as a run over a tag hands it on, got {0}"
    )]
    BadContinuation(String),
    /// An export setting in the environment is not valid.
    #[error("{field} must be {expected}, got {got:?}")]
    BadExportSetting {
        /// The environment variable.
        field: &'static str,
        /// What it must be.
        expected: &'static str,
        /// What was given.
        got: String,
    },
    /// `STACK_NAME` is unset.
    #[error(
        "STACK_NAME is not set: set it to the name of the stack whose backups these are (installer up sets it)"
    )]
    NoStack,
    /// `STACK_NAME` is not a stack name.
    #[error("STACK_NAME must name the stack whose backups these are: {0}")]
    BadStack(StackNameError),
    /// `ADOPTED_UNTIL` is not an RFC 3339 time.
    #[error("ADOPTED_UNTIL must be an RFC 3339 time such as 2026-12-04T10:00:00Z, got {0:?}")]
    BadAdoptedUntil(String),
    /// The age limit would cut a generation rule short.
    #[error(transparent)]
    AgeLimit(#[from] AgeLimitTooShort),
    /// `SCHEDULE_TIMEZONE` is not a time zone.
    #[error("{ZONE_VAR}: {0}")]
    BadZone(#[from] UnknownZone),
    /// A drill period in the environment is not a period.
    #[error("{field} must be off or a period such as 7d, 12h or 30m, got {got:?}")]
    BadPeriod {
        /// The environment variable.
        field: &'static str,
        /// What was given.
        got: String,
    },
}

/// The function's defaults, read once from its environment at cold start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The stack, whose name marks its backups (`STACK_NAME`), and the unmarked backups it
    /// adopted (`ADOPTED_UNTIL`).
    pub ownership: Ownership,
    /// Retention used when the event does not override it.
    pub default_policy: RetentionPolicy,
    /// The zone of the stack's calendar (`SCHEDULE_TIMEZONE`, default UTC): where the
    /// generations' periods begin and end.
    pub zone: Zone,
    /// Bucket that receives a JSON record of every run (`LOG_BUCKET`), if any.
    pub log_bucket: Option<String>,
    /// Restore drills (`DRILL_EVERY`, `DRILL_TIMEOUT`), if on.
    pub drill: Option<DrillSettings>,
    /// Exports to S3 (`EXPORT_EVERY`, `EXPORT_BUCKET`, `EXPORT_BUCKET_OWNER`,
    /// `EXPORT_BUCKET_REGION`, `EXPORT_PREFIX`),
    /// if on.
    pub export: Option<ExportSettings>,
}

impl Settings {
    /// Reads `STACK_NAME` (required), `ADOPTED_UNTIL` (unset: nothing adopted),
    /// `MAX_BACKUPS` (default 3), `MAX_AGE_DAYS` (unset: no age limit), `KEEP_DAILY`,
    /// `KEEP_WEEKLY`, `KEEP_MONTHLY`, `KEEP_YEARLY` (unset: no such generation),
    /// `SCHEDULE_TIMEZONE` (default UTC), `LOG_BUCKET`,
    /// `DRILL_EVERY` (unset or `off`: no drills), `DRILL_TIMEOUT` (default 12h) and the export
    /// settings (see [`export_settings`]) through `var`, which returns a variable's value if it
    /// is set.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, RequestError> {
        let non_empty = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let stack = non_empty(STACK_NAME_VAR).ok_or(RequestError::NoStack)?;
        let stack = StackName::parse(stack.trim()).map_err(RequestError::BadStack)?;
        let adopted_until = non_empty(ADOPTED_UNTIL_VAR)
            .map(|v| {
                OffsetDateTime::parse(v.trim(), &Rfc3339)
                    .map_err(|_| RequestError::BadAdoptedUntil(v))
            })
            .transpose()?;
        let max_backups = match non_empty("MAX_BACKUPS") {
            Some(v) => parse_count("MAX_BACKUPS", &Value::String(v), MAX_KEEP)?,
            None => DEFAULT_MAX_BACKUPS,
        };
        let max_age_days = non_empty("MAX_AGE_DAYS")
            .map(|v| parse_count("MAX_AGE_DAYS", &Value::String(v), MAX_AGE_DAYS))
            .transpose()?;
        let mut generations = Generations::default();
        for (var, slot) in generation_slots(&mut generations) {
            *slot = non_empty(var.env)
                .map(|v| parse_count(var.env, &Value::String(v), MAX_KEEP))
                .transpose()?;
        }
        let default_policy = RetentionPolicy {
            max_backups,
            max_age_days,
            generations,
        };
        default_policy.check()?;
        let zone = non_empty(ZONE_VAR)
            .map(|name| Zone::parse(&name))
            .transpose()?
            .unwrap_or_else(Zone::utc);
        let log_bucket = non_empty("LOG_BUCKET");
        let export = export_settings(&non_empty)?;
        if export.is_some() && log_bucket.is_none() {
            return Err(RequestError::BadExportSetting {
                field: "LOG_BUCKET",
                expected: "set when EXPORT_EVERY is (exports are recorded there)",
                got: String::new(),
            });
        }
        Ok(Self {
            ownership: Ownership {
                stack,
                adopted_until,
            },
            default_policy,
            zone,
            log_bucket,
            drill: drill_settings(&non_empty)?,
            export,
        })
    }

    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Self, RequestError> {
        Self::from_vars(|name| std::env::var(name).ok())
    }
}

/// The drill settings from `DRILL_EVERY` and `DRILL_TIMEOUT`; `None` when drills are off.
fn drill_settings(
    var: &impl Fn(&str) -> Option<String>,
) -> Result<Option<DrillSettings>, RequestError> {
    let period = |field: &'static str, text: String| {
        parse_period(text.trim()).ok_or(RequestError::BadPeriod { field, got: text })
    };
    let every = match var("DRILL_EVERY") {
        None => return Ok(None),
        Some(v) if v.trim() == "off" => return Ok(None),
        Some(v) => period("DRILL_EVERY", v)?,
    };
    let timeout = match var("DRILL_TIMEOUT") {
        Some(v) => period("DRILL_TIMEOUT", v)?,
        None => DEFAULT_DRILL_TIMEOUT,
    };
    Ok(Some(DrillSettings { every, timeout }))
}

/// The export settings: `EXPORT_EVERY` (unset or `off`: no exports; `daily` or `weekly`),
/// `EXPORT_BUCKET` (required then), `EXPORT_BUCKET_OWNER` (a 12-digit account id, for another
/// account's bucket), `EXPORT_BUCKET_REGION` (for a bucket in another region), `EXPORT_PREFIX` (default `exports/`; a trailing `/` is added) and
/// `EXPORT_MODE` (`full`, the default, or `incremental`, with `EXPORT_FULL_EVERY` days between
/// full exports, default 7, and `EXPORT_VIEW` `new-and-old` (the default) or `new`; incremental
/// chains export at every run, so only with `EXPORT_EVERY=daily`).
pub fn export_settings(
    var: &impl Fn(&str) -> Option<String>,
) -> Result<Option<ExportSettings>, RequestError> {
    let bad =
        |field: &'static str, expected: &'static str, got: String| RequestError::BadExportSetting {
            field,
            expected,
            got,
        };
    let every = match var("EXPORT_EVERY") {
        None => return Ok(None),
        Some(v) if v.trim() == "off" => return Ok(None),
        Some(v) => {
            ExportEvery::parse(&v).ok_or_else(|| bad("EXPORT_EVERY", "off, daily or weekly", v))?
        }
    };
    let bucket = var("EXPORT_BUCKET")
        .map(|b| b.trim().to_owned())
        .ok_or_else(|| bad("EXPORT_BUCKET", "set when EXPORT_EVERY is", String::new()))?;
    let bucket_owner = var("EXPORT_BUCKET_OWNER").map(|o| o.trim().to_owned());
    if let Some(owner) = &bucket_owner
        && (owner.len() != 12 || !owner.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(bad(
            "EXPORT_BUCKET_OWNER",
            "a 12-digit AWS account id",
            owner.clone(),
        ));
    }
    let bucket_region = var("EXPORT_BUCKET_REGION").map(|r| r.trim().to_owned());
    if let Some(region) = &bucket_region
        && (region.is_empty()
            || !region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'))
    {
        return Err(bad(
            "EXPORT_BUCKET_REGION",
            "an AWS region name such as eu-west-1",
            region.clone(),
        ));
    }
    let mut prefix =
        var("EXPORT_PREFIX").map_or_else(|| DEFAULT_PREFIX.to_owned(), |p| p.trim().to_owned());
    if !prefix.ends_with('/') {
        prefix.push('/');
    }
    let mode = match var("EXPORT_MODE").as_deref().map(str::trim) {
        None | Some("full") => ExportMode::Full,
        Some("incremental") => {
            if every != ExportEvery::Daily {
                return Err(bad(
                    "EXPORT_MODE",
                    "full with EXPORT_EVERY=weekly (incremental chains export at every run: use EXPORT_EVERY=daily)",
                    "incremental".to_owned(),
                ));
            }
            let full_every_days = match var("EXPORT_FULL_EVERY") {
                None => DEFAULT_FULL_EVERY_DAYS,
                Some(v) => v
                    .trim()
                    .trim_end_matches('d')
                    .parse()
                    .ok()
                    .filter(|d| (1..=MAX_FULL_EVERY_DAYS).contains(d))
                    .ok_or_else(|| {
                        bad(
                            "EXPORT_FULL_EVERY",
                            "a number of days from 1 to 365, such as 7d",
                            v,
                        )
                    })?,
            };
            let view = match var("EXPORT_VIEW") {
                None => ExportView::NewAndOld,
                Some(v) => ExportView::parse(&v)
                    .ok_or_else(|| bad("EXPORT_VIEW", "new-and-old or new", v))?,
            };
            ExportMode::Incremental(ChainSettings {
                full_every_days,
                view,
            })
        }
        Some(other) => return Err(bad("EXPORT_MODE", "full or incremental", other.to_owned())),
    };
    Ok(Some(ExportSettings {
        every,
        mode,
        bucket,
        bucket_owner,
        bucket_region,
        prefix,
    }))
}

/// How long a drill's table may take to become ACTIVE before the drill fails.
pub const DEFAULT_DRILL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(12 * 3600);

/// One validated invocation: which table, and how many of its backups to keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupRequest {
    /// The table to back up.
    pub table: TableName,
    /// The retention for this run: the event's overrides on top of the defaults.
    pub policy: RetentionPolicy,
}

impl BackupRequest {
    /// Validates an event such as `{"TableName": "Movies", "MaxBackups": 5, "MaxAgeDays": 30}`.
    /// Unknown fields are ignored; `null` overrides count as absent.
    pub fn from_event(event: &Value, defaults: &RetentionPolicy) -> Result<Self, RequestError> {
        let fields = event
            .as_object()
            .ok_or_else(|| RequestError::NotAnObject(truncate(event)))?;
        let table = match fields.get("TableName") {
            None | Some(Value::Null) => return Err(RequestError::MissingTable),
            Some(Value::String(name)) => TableName::parse(name)?,
            Some(other) => return Err(RequestError::TableNotString(truncate(other))),
        };
        Ok(Self {
            table,
            policy: policy_of(fields, defaults)?,
        })
    }
}

/// The retention an event such as `{"TableTag": ..., "MaxBackups": 5}` asks for: its
/// `MaxBackups`, `MaxAgeDays` and `KeepDaily`, `KeepWeekly`, `KeepMonthly`, `KeepYearly` (a
/// count, or `"off"`) over `defaults`.
pub fn policy_from_event(
    event: &Value,
    defaults: &RetentionPolicy,
) -> Result<RetentionPolicy, RequestError> {
    let fields = event
        .as_object()
        .ok_or_else(|| RequestError::NotAnObject(truncate(event)))?;
    policy_of(fields, defaults)
}

fn policy_of(
    fields: &serde_json::Map<String, Value>,
    defaults: &RetentionPolicy,
) -> Result<RetentionPolicy, RequestError> {
    let max_backups = match fields.get("MaxBackups") {
        None | Some(Value::Null) => defaults.max_backups,
        Some(v) => parse_count("MaxBackups", v, MAX_KEEP)?,
    };
    let max_age_days = match fields.get("MaxAgeDays") {
        None | Some(Value::Null) => defaults.max_age_days,
        Some(v) => Some(parse_count("MaxAgeDays", v, MAX_AGE_DAYS)?),
    };
    let mut generations = defaults.generations;
    for (var, slot) in generation_slots(&mut generations) {
        match fields.get(var.event) {
            None | Some(Value::Null) => {}
            Some(Value::String(off)) if off.trim() == "off" => *slot = None,
            Some(v) => *slot = Some(parse_count(var.event, v, MAX_KEEP)?),
        }
    }
    let policy = RetentionPolicy {
        max_backups,
        max_age_days,
        generations,
    };
    policy.check()?;
    Ok(policy)
}

/// The environment variables of the generation rules, in [`Generations::counts`] order.
pub const GENERATION_VARS: [&str; 4] = ["KEEP_DAILY", "KEEP_WEEKLY", "KEEP_MONTHLY", "KEEP_YEARLY"];

/// Where a generation rule is read from: its environment variable and its event field.
struct GenerationVar {
    env: &'static str,
    event: &'static str,
}

/// Each generation rule's variable and its place in `generations`.
fn generation_slots(
    generations: &mut Generations,
) -> [(GenerationVar, &mut Option<NonZeroU32>); 4] {
    let Generations {
        daily,
        weekly,
        monthly,
        yearly,
    } = generations;
    let [d, w, m, y] = GENERATION_VARS;
    let var = |env, event| GenerationVar { env, event };
    [
        (var(d, "KeepDaily"), daily),
        (var(w, "KeepWeekly"), weekly),
        (var(m, "KeepMonthly"), monthly),
        (var(y, "KeepYearly"), yearly),
    ]
}

/// Parses a positive whole number no larger than `max`, given as a JSON number or a string.
fn parse_count(field: &'static str, value: &Value, max: u32) -> Result<NonZeroU32, RequestError> {
    let parsed = match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    parsed
        .and_then(|n| u32::try_from(n).ok())
        .filter(|&n| n <= max)
        .and_then(NonZeroU32::new)
        .ok_or_else(|| RequestError::OutOfRange {
            field,
            max,
            got: truncate(value),
        })
}

/// A short rendering of a JSON value for an error message.
fn truncate(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(80) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// An environment of `pairs`, with the stack `prod` unless they name one.
    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
                .or_else(|| (name == "STACK_NAME").then(|| "prod".to_owned()))
        }
    }

    fn defaults() -> RetentionPolicy {
        Settings::from_vars(|name| (name == "STACK_NAME").then(|| "prod".to_owned()))
            .expect("an environment with only the stack is valid")
            .default_policy
    }

    #[test]
    fn the_tutorial_event_uses_the_defaults() {
        let req =
            BackupRequest::from_event(&json!({"TableName": "Movies"}), &defaults()).expect("valid");
        assert_eq!(req.table.as_str(), "Movies");
        assert_eq!(req.policy.max_backups.get(), 3);
        assert_eq!(req.policy.max_age_days, None);
    }

    #[test]
    fn the_event_overrides_the_defaults() {
        let req = BackupRequest::from_event(
            &json!({"TableName": "Movies", "MaxBackups": 5, "MaxAgeDays": "30", "Other": 1}),
            &defaults(),
        )
        .expect("valid");
        assert_eq!(req.policy.max_backups.get(), 5);
        assert_eq!(req.policy.max_age_days.map(NonZeroU32::get), Some(30));
    }

    #[test]
    fn bad_events_are_rejected_with_the_reason() {
        let cases = [
            (json!({}), "has no \"TableName\""),
            (json!(null), "must be a JSON object"),
            (json!("Movies"), "must be a JSON object"),
            (json!({"TableName": ""}), "0 characters long"),
            (json!({"TableName": 7}), "must be a string"),
            (json!({"TableName": "Bad Name"}), "contains ' '"),
            (
                json!({"TableName": "Movies", "MaxBackups": 0}),
                "MaxBackups must be a whole number from 1",
            ),
            (json!({"TableName": "Movies", "MaxBackups": -2}), "got -2"),
            (json!({"TableName": "Movies", "MaxBackups": 2.5}), "got 2.5"),
            (
                json!({"TableName": "Movies", "MaxAgeDays": 0}),
                "MaxAgeDays must be",
            ),
        ];
        for (event, expected) in cases {
            let err = BackupRequest::from_event(&event, &defaults())
                .expect_err(&format!("{event} must be rejected"));
            assert!(
                err.to_string().contains(expected),
                "{event}: {err} does not mention {expected:?}"
            );
        }
    }

    #[test]
    fn environment_defaults_are_validated() {
        let s = Settings::from_vars(env(&[
            ("MAX_BACKUPS", "7"),
            ("MAX_AGE_DAYS", "14"),
            ("LOG_BUCKET", "logs"),
        ]))
        .expect("valid");
        assert_eq!(s.default_policy.max_backups.get(), 7);
        assert_eq!(s.default_policy.max_age_days.map(NonZeroU32::get), Some(14));
        assert_eq!(s.log_bucket.as_deref(), Some("logs"));

        let err = Settings::from_vars(env(&[("MAX_BACKUPS", "zero")])).expect_err("invalid");
        assert!(err.to_string().starts_with("MAX_BACKUPS must be"), "{err}");
        let empty = Settings::from_vars(env(&[("LOG_BUCKET", " ")])).expect("valid");
        assert_eq!(empty.log_bucket, None);
        assert_eq!(empty.export, None);
        assert_eq!(empty.ownership.stack.as_str(), "prod");
        assert_eq!(empty.ownership.adopted_until, None);
        assert!(empty.zone.is_utc());
        assert!(empty.default_policy.generations.is_empty());
    }

    #[test]
    fn generations_and_the_zone_come_from_the_environment_and_the_event() {
        let s = Settings::from_vars(env(&[
            ("KEEP_DAILY", "7"),
            ("KEEP_MONTHLY", "12"),
            ("SCHEDULE_TIMEZONE", "Europe/Berlin"),
        ]))
        .expect("valid");
        let g = s.default_policy.generations;
        assert_eq!(g.daily.map(NonZeroU32::get), Some(7));
        assert_eq!(g.weekly, None);
        assert_eq!(g.monthly.map(NonZeroU32::get), Some(12));
        assert_eq!(s.zone.name(), "Europe/Berlin");

        // An event turns one off and another on, over those defaults.
        let policy = policy_from_event(
            &json!({"TableTag": {"Key": "k", "Value": "v"}, "KeepDaily": "off", "KeepYearly": 3}),
            &s.default_policy,
        )
        .expect("valid");
        assert_eq!(policy.generations.daily, None);
        assert_eq!(policy.generations.monthly.map(NonZeroU32::get), Some(12));
        assert_eq!(policy.generations.yearly.map(NonZeroU32::get), Some(3));

        let cases: [(&'static [(&'static str, &'static str)], &str); 3] = [
            (
                &[("KEEP_WEEKLY", "0")],
                "KEEP_WEEKLY must be a whole number from 1",
            ),
            (
                &[("SCHEDULE_TIMEZONE", "Europe/Berln")],
                "SCHEDULE_TIMEZONE: \"Europe/Berln\" is not a time zone",
            ),
            (
                &[("KEEP_MONTHLY", "12"), ("MAX_AGE_DAYS", "90")],
                "an age limit of 90 days would delete backups keep-monthly 12 keeps (up to 372 days old)",
            ),
        ];
        for (vars, expected) in cases {
            let err = Settings::from_vars(env(vars))
                .expect_err(expected)
                .to_string();
            assert!(err.starts_with(expected), "{err}");
        }
        let err = BackupRequest::from_event(
            &json!({"TableName": "Movies", "KeepDaily": 0}),
            &s.default_policy,
        )
        .expect_err("zero");
        assert!(
            err.to_string()
                .starts_with("KeepDaily must be a whole number from 1"),
            "{err}"
        );
        let err = BackupRequest::from_event(
            &json!({"TableName": "Movies", "MaxAgeDays": 30}),
            &s.default_policy,
        )
        .expect_err("an age limit under a year of months");
        assert!(matches!(err, RequestError::AgeLimit(_)), "{err}");
    }

    #[test]
    fn the_stack_is_required_and_an_adoption_is_a_time() {
        let err = Settings::from_vars(|_| None).expect_err("no STACK_NAME");
        assert!(
            err.to_string().starts_with("STACK_NAME is not set"),
            "{err}"
        );
        let bad = Settings::from_vars(|n| (n == "STACK_NAME").then(|| "Prod_1".to_owned()));
        assert!(matches!(bad, Err(RequestError::BadStack(_))));
        let vars = |until: &'static str| {
            move |n: &str| match n {
                "STACK_NAME" => Some("prod".to_owned()),
                "ADOPTED_UNTIL" => Some(until.to_owned()),
                _ => None,
            }
        };
        let adopted = Settings::from_vars(vars("2026-12-04T10:00:00Z")).expect("valid");
        assert_eq!(
            adopted.ownership.adopted_until,
            Some(time::macros::datetime!(2026-12-04 10:00 UTC))
        );
        let err = Settings::from_vars(vars("yesterday")).expect_err("not a time");
        assert!(
            err.to_string().starts_with("ADOPTED_UNTIL must be"),
            "{err}"
        );
    }

    #[test]
    fn export_settings_are_validated() {
        let vars = |pairs: Vec<(&'static str, &'static str)>| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
                    .or_else(|| (name == "STACK_NAME").then(|| "prod".to_owned()))
            }
        };
        let on = vec![
            ("LOG_BUCKET", "logs"),
            ("EXPORT_EVERY", "weekly"),
            ("EXPORT_BUCKET", "vault"),
            ("EXPORT_BUCKET_OWNER", "210987654321"),
            ("EXPORT_BUCKET_REGION", "eu-west-1"),
            ("EXPORT_PREFIX", "dynamodb"),
        ];
        let export = Settings::from_vars(vars(on.clone()))
            .expect("valid")
            .export
            .expect("on");
        assert_eq!(export.every, ExportEvery::Weekly);
        assert_eq!(export.bucket, "vault");
        assert_eq!(export.bucket_owner.as_deref(), Some("210987654321"));
        assert_eq!(export.bucket_region.as_deref(), Some("eu-west-1"));
        assert_eq!(export.prefix, "dynamodb/");
        let off = Settings::from_vars(vars(vec![("EXPORT_EVERY", "off")])).expect("valid");
        assert_eq!(off.export, None);

        let refused = |change: (&'static str, &'static str), expected: &str| {
            let mut pairs: Vec<_> = on.iter().filter(|(k, _)| *k != change.0).copied().collect();
            if !change.1.is_empty() {
                pairs.push(change);
            }
            let err = Settings::from_vars(vars(pairs)).expect_err("invalid");
            assert!(err.to_string().contains(expected), "{err}");
        };
        refused(
            ("EXPORT_EVERY", "hourly"),
            "EXPORT_EVERY must be off, daily or weekly",
        );
        refused(("EXPORT_BUCKET", ""), "EXPORT_BUCKET must be set");
        refused(("EXPORT_BUCKET_OWNER", "12345"), "12-digit AWS account id");
        refused(("EXPORT_BUCKET_REGION", "EU West"), "an AWS region name");
        refused(
            ("LOG_BUCKET", ""),
            "LOG_BUCKET must be set when EXPORT_EVERY is",
        );
    }
}
