//! A stack's settings as one typed layer, [`Settings`]: the flags of `up` and `plan`, the keys of
//! a settings file's `[stacks.<name>]` table and the document a deployed stack carries are the
//! same struct, in which every field is optional (`None`: not given here).
//!
//! [`Settings::over`] lays one layer over another. What `up` and `plan` want is, from the
//! bottom: the defaults, then the deployed stack's recorded settings (or the settings file,
//! which is the whole desired state and replaces them, or nothing with `--reset`), then the
//! flags. The result, made [`Settings::complete`], is what `up` records with the stack, so that
//! every later command needs only `--stack`; [`changes`] between the recorded and the wanted
//! settings is what plans show first (`keep: 3 → 7`).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::build::arch::Arch;
use crate::deploy::exports::{ColdClass, ExportChoice, ExportModeChoice, ExportViewChoice};

/// The stack a command means when `--stack` is not given.
pub const DEFAULT_STACK: &str = "dynamodb-backup";

/// The defaults, one constant each: [`Settings::defaults`] and the flags' help say the same.
pub mod default {
    /// `--table`: the tutorial's sample table.
    pub const TABLE: &str = "Movies";
    /// `--schedule`.
    pub const SCHEDULE: &str = "rate(1 day)";
    /// `--schedule-timezone`.
    pub const SCHEDULE_TIMEZONE: &str = "UTC";
    /// `--schedule-window`.
    pub const SCHEDULE_WINDOW: &str = "off";
    /// `--keep`.
    pub const KEEP: i64 = 3;
    /// `--log-retention-days`.
    pub const LOG_RETENTION_DAYS: i64 = 14;
    /// `--log-expire-days`.
    pub const LOG_EXPIRE_DAYS: i64 = 90;
    /// `--memory`.
    pub const MEMORY: i64 = 128;
    /// `--timeout`.
    pub const TIMEOUT: i64 = 120;
    /// `--drill-every`.
    pub const DRILL_EVERY: &str = "off";
    /// `--drill-timeout`.
    pub const DRILL_TIMEOUT: &str = "12h";
    /// `--export-cold-days`.
    pub const EXPORT_COLD_DAYS: i64 = 30;
    /// `--export-full-every`.
    pub const EXPORT_FULL_EVERY: &str = "7d";
    /// `--export-expire-days`.
    pub const EXPORT_EXPIRE_DAYS: i64 = 365;
}

/// What runs a stack's schedule (`--schedule-via`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum ScheduleVia {
    /// EventBridge rules: UTC only, one rule per five tables.
    Rules,
    /// EventBridge Scheduler: a time zone, a flexible window, a schedule per table.
    Scheduler,
}

/// A number (of days, of generations), or `off`: `--max-age-days 30`, `--keep-weekly off` (in a
/// file, `30` or `"off"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberOrOff {
    /// Turned off.
    Off,
    /// This many (checked against the setting's range later, so that a negative number gets
    /// the range's message).
    Number(i64),
}

impl FromStr for NumberOrOff {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text == "off" {
            return Ok(Self::Off);
        }
        text.parse()
            .map(Self::Number)
            .map_err(|_| format!("{text:?} is neither a whole number nor off"))
    }
}

impl fmt::Display for NumberOrOff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Off => f.write_str("off"),
            Self::Number(n) => write!(f, "{n}"),
        }
    }
}

impl Serialize for NumberOrOff {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Off => s.serialize_str("off"),
            Self::Number(n) => s.serialize_i64(*n),
        }
    }
}

impl<'de> Deserialize<'de> for NumberOrOff {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Number(i64),
            Text(String),
        }
        match Either::deserialize(d)? {
            Either::Number(n) => Ok(Self::Number(n)),
            Either::Text(text) if text == "off" => Ok(Self::Off),
            Either::Text(text) => Err(serde::de::Error::custom(format!(
                "{text:?} is neither a whole number nor \"off\""
            ))),
        }
    }
}

impl schemars::JsonSchema for NumberOrOff {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "NumberOrOff".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"oneOf": [{"type": "integer"}, {"const": "off"}]})
    }
}

/// Every setting of a stack: a flag of `up` and `plan` (with its environment variable), a key of
/// the settings file (the long flag's name), and a field of the document the deployed stack
/// carries. `None` is "not given": the layer below decides.
#[derive(
    Debug, Clone, Default, PartialEq, clap::Args, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Settings {
    /// Table to back up (repeat for several): the stack's whole list [default: Movies]. An
    /// existing table not made by this stack is backed up but never modified. A missing one
    /// stops `up`, except the tutorial's sample Movies, which is created (see --create-table).
    /// --add-table and --remove-table change the deployed list by one.
    #[arg(
        long = "table",
        env = "INSTALLER_TABLES",
        value_delimiter = ',',
        value_name = "TABLE",
        conflicts_with = "table_tag"
    )]
    #[serde(rename = "table", skip_serializing_if = "Option::is_none", default)]
    #[schemars(rename = "table")]
    pub tables: Option<Vec<String>>,
    /// Back up every table carrying this tag instead of named tables (KEY=VALUE): the
    /// function finds them on every run, so a table tagged later is protected from then on.
    #[arg(long, env = "INSTALLER_TABLE_TAG", value_name = "KEY=VALUE")]
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub table_tag: Option<String>,
    /// S3 bucket for run records [default: <stack>-logs-<account>-<region>].
    #[arg(long, env = "INSTALLER_BUCKET")]
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub bucket: Option<String>,
    /// EventBridge schedule: rate(...) or 6-field cron(...) [default: rate(1 day)]. The tutorial
    /// used 'rate(1 minute)'.
    #[arg(long, env = "INSTALLER_SCHEDULE")]
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub schedule: Option<String>,
    /// The IANA time zone the schedule's cron fields are read in (Europe/Berlin): runs go through
    /// EventBridge Scheduler, which keeps 02:00 at 02:00 when the clocks change. Generations'
    /// days, weeks, months and years begin at its midnight [default: UTC].
    #[arg(long, env = "INSTALLER_SCHEDULE_TIMEZONE", value_name = "ZONE")]
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub schedule_timezone: Option<String>,
    /// Let EventBridge Scheduler start each run up to this long after its time (1m to 24h, in
    /// whole minutes), spreading the runs of many stacks, or off [default: off].
    #[arg(long, env = "INSTALLER_SCHEDULE_WINDOW", value_name = "PERIOD|off")]
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub schedule_window: Option<String>,
    /// What runs the schedule: rules (EventBridge rules, UTC only) or scheduler (EventBridge
    /// Scheduler, with a role of its own). A stack moves from one to the other when told
    /// [default: scheduler when a time zone other than UTC or a window is given, else rules].
    #[arg(long, value_enum, env = "INSTALLER_SCHEDULE_VIA")]
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub schedule_via: Option<ScheduleVia>,
    /// Newest backups kept per table [default: 3].
    #[arg(long, env = "INSTALLER_KEEP", allow_negative_numbers = true)]
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub keep: Option<i64>,
    /// Also delete the function's backups older than this many days (never the newest), or off
    /// [default: off].
    #[arg(
        long,
        env = "INSTALLER_MAX_AGE_DAYS",
        allow_negative_numbers = true,
        value_name = "DAYS|off"
    )]
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub max_age_days: Option<NumberOrOff>,
    /// Generations: also keep the newest backup of each of this many days, or off
    /// [default: off]. Days, weeks, months and years begin at midnight in the schedule's zone.
    #[arg(
        long,
        env = "INSTALLER_KEEP_DAILY",
        allow_negative_numbers = true,
        value_name = "DAYS|off"
    )]
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub keep_daily: Option<NumberOrOff>,
    /// Generations: also keep the newest backup of each of this many ISO weeks (Monday to
    /// Sunday), or off [default: off].
    #[arg(
        long,
        env = "INSTALLER_KEEP_WEEKLY",
        allow_negative_numbers = true,
        value_name = "WEEKS|off"
    )]
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub keep_weekly: Option<NumberOrOff>,
    /// Generations: also keep the newest backup of each of this many months, or off
    /// [default: off].
    #[arg(
        long,
        env = "INSTALLER_KEEP_MONTHLY",
        allow_negative_numbers = true,
        value_name = "MONTHS|off"
    )]
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub keep_monthly: Option<NumberOrOff>,
    /// Generations: also keep the newest backup of each of this many years, or off
    /// [default: off].
    #[arg(
        long,
        env = "INSTALLER_KEEP_YEARLY",
        allow_negative_numbers = true,
        value_name = "YEARS|off"
    )]
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub keep_yearly: Option<NumberOrOff>,
    /// Days CloudWatch keeps the function's logs (a value CloudWatch accepts, e.g. 7, 14, 30)
    /// [default: 14].
    #[arg(
        long,
        env = "INSTALLER_LOG_RETENTION_DAYS",
        allow_negative_numbers = true
    )]
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub log_retention_days: Option<i64>,
    /// Days run records stay in the bucket [default: 90].
    #[arg(long, env = "INSTALLER_LOG_EXPIRE_DAYS", allow_negative_numbers = true)]
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub log_expire_days: Option<i64>,
    /// Function memory in MB, 128 to 10240 [default: 128].
    #[arg(long, env = "INSTALLER_MEMORY", allow_negative_numbers = true)]
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub memory: Option<i64>,
    /// Function timeout in seconds, 1 to 900; deletions past it are left for the next run
    /// [default: 120].
    #[arg(long, env = "INSTALLER_TIMEOUT", allow_negative_numbers = true)]
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub timeout: Option<i64>,
    /// CPU architecture of the function: arm64 (Graviton, about 20 % cheaper per GB-second) or
    /// x86_64 [default: arm64].
    #[arg(long, value_enum, env = "INSTALLER_ARCH")]
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub arch: Option<Arch>,
    /// Give the bucket a policy that denies requests without TLS [default: true, except for a
    /// plain http:// endpoint such as a local emulator, where it would deny every request].
    #[arg(long, env = "INSTALLER_BUCKET_TLS_ONLY")]
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub bucket_tls_only: Option<bool>,
    /// Restore drills: how often the function restores its newest backup into a scratch table
    /// and verifies it: off, or a period such as 7d, 12h or 30m [default: off].
    #[arg(long, env = "INSTALLER_DRILL_EVERY")]
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub drill_every: Option<String>,
    /// How long a drill's restore may take before the drill is recorded as failed
    /// [default: 12h].
    #[arg(long, env = "INSTALLER_DRILL_TIMEOUT")]
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub drill_timeout: Option<String>,
    /// Alerts: e-mail this address when a run fails, a backup is missing or a drill fails, and
    /// again when it is over (repeat for several: the stack's whole list; each address confirms
    /// its subscription by e-mail). `--alerts off` removes every destination.
    #[arg(long = "alert-email", value_name = "ADDRESS")]
    #[serde(
        rename = "alert-email",
        skip_serializing_if = "Option::is_none",
        default
    )]
    #[schemars(rename = "alert-email")]
    pub alert_emails: Option<Vec<String>>,
    /// Alerts: notify this existing SNS topic too (repeat for several: the stack's whole list;
    /// never modified or deleted).
    #[arg(long = "alert-topic", value_name = "ARN")]
    #[serde(
        rename = "alert-topic",
        skip_serializing_if = "Option::is_none",
        default
    )]
    #[schemars(rename = "alert-topic")]
    pub alert_topics: Option<Vec<String>>,
    /// Encrypt the stack's alert topic with this customer managed KMS key (ARN, id or alias);
    /// its key policy must let cloudwatch.amazonaws.com use it (see docs/alerts.md).
    #[arg(long, value_name = "KEY")]
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub alert_kms_key: Option<String>,
    /// Export each table to S3 (DynamoDB JSON) once a day or once a week, or off [default: off].
    /// Needs point-in-time recovery on the table: turned on for tables the stack makes (see
    /// --enable-pitr).
    #[arg(long, value_enum, env = "INSTALLER_EXPORT")]
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub export: Option<ExportChoice>,
    /// Export to this bucket instead of the stack's (another account's or region's: give the
    /// stack's role the bucket policy in docs/exports.md).
    #[arg(long, env = "INSTALLER_EXPORT_BUCKET", value_name = "NAME")]
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub export_bucket: Option<String>,
    /// The account that owns --export-bucket, when it is not this one.
    #[arg(long, env = "INSTALLER_EXPORT_BUCKET_OWNER", value_name = "ACCOUNT")]
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub export_bucket_owner: Option<String>,
    /// The region of --export-bucket, when it is not the stack's: its checks are asked there.
    #[arg(long, env = "INSTALLER_EXPORT_BUCKET_REGION", value_name = "REGION")]
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub export_bucket_region: Option<String>,
    /// Refuse an --export-bucket without S3 Object Lock default retention (a vault made with
    /// `installer vault init`), checked by every `up` [default: false].
    #[arg(long, env = "INSTALLER_REQUIRE_LOCK", num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub require_lock: Option<bool>,
    /// Full exports each period, or incremental chains: a full export every
    /// --export-full-every and incremental exports of every moment in between, one a run, so
    /// `restore --from-export chain --time T` reaches any run since [default: full].
    #[arg(long, value_enum, env = "INSTALLER_EXPORT_MODE")]
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub export_mode: Option<ExportModeChoice>,
    /// With --export-mode incremental: days between two full exports, each starting a new
    /// chain (a restore applies at most this many days of incremental exports) [default: 7d].
    #[arg(long, env = "INSTALLER_EXPORT_FULL_EVERY", value_name = "DAYS")]
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub export_full_every: Option<String>,
    /// With --export-mode incremental: what each incremental export holds of a changed item
    /// [default: new-and-old].
    #[arg(long, value_enum, env = "INSTALLER_EXPORT_VIEW")]
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub export_view: Option<ExportViewChoice>,
    /// Days after which exports in the stack's bucket move to --export-cold-class [default: 30].
    #[arg(
        long,
        env = "INSTALLER_EXPORT_COLD_DAYS",
        allow_negative_numbers = true
    )]
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub export_cold_days: Option<i64>,
    /// The colder storage class exports move to [default: glacier-ir].
    #[arg(long, value_enum, env = "INSTALLER_EXPORT_COLD_CLASS")]
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub export_cold_class: Option<ColdClass>,
    /// Days after which exports in the stack's bucket are deleted [default: 365].
    #[arg(
        long,
        env = "INSTALLER_EXPORT_EXPIRE_DAYS",
        allow_negative_numbers = true
    )]
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub export_expire_days: Option<i64>,
    /// Point-in-time recovery on the stack's tables, with a recovery period of this many days
    /// (1 to 35; `restore --time` reaches back that far), or off: then it is on only where
    /// exports need it, with DynamoDB's 35 days [default: off].
    #[arg(
        long,
        env = "INSTALLER_PITR_DAYS",
        allow_negative_numbers = true,
        value_name = "DAYS|off"
    )]
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub pitr_days: Option<NumberOrOff>,
    /// Turn on point-in-time recovery (billed per GB-month) on tables the stack did not make,
    /// where exports need it; without it such a table is refused [default: false].
    #[arg(long, env = "INSTALLER_ENABLE_PITR", num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub enable_pitr: Option<bool>,
    /// With --table-tag: grant CreateBackup and ExportTableToPointInTime on the account's tables
    /// without the aws:ResourceTag condition, for accounts and regions where DynamoDB's
    /// attribute-based access control (ABAC) is not enabled, which evaluate tag conditions as if
    /// no table had tags. The function still backs up only the tagged tables [default: false].
    #[arg(long, env = "INSTALLER_NO_TAG_CONDITIONS", num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub no_tag_conditions: Option<bool>,
}

impl Settings {
    /// Every setting at its default: what a stack gets that nobody configured.
    pub fn defaults() -> Self {
        Self {
            tables: Some(vec![default::TABLE.to_owned()]),
            table_tag: None,
            bucket: None,
            schedule: Some(default::SCHEDULE.to_owned()),
            schedule_timezone: Some(default::SCHEDULE_TIMEZONE.to_owned()),
            schedule_window: Some(default::SCHEDULE_WINDOW.to_owned()),
            schedule_via: None,
            keep: Some(default::KEEP),
            max_age_days: Some(NumberOrOff::Off),
            keep_daily: Some(NumberOrOff::Off),
            keep_weekly: Some(NumberOrOff::Off),
            keep_monthly: Some(NumberOrOff::Off),
            keep_yearly: Some(NumberOrOff::Off),
            log_retention_days: Some(default::LOG_RETENTION_DAYS),
            log_expire_days: Some(default::LOG_EXPIRE_DAYS),
            memory: Some(default::MEMORY),
            timeout: Some(default::TIMEOUT),
            arch: Some(Arch::Arm64),
            bucket_tls_only: None,
            drill_every: Some(default::DRILL_EVERY.to_owned()),
            drill_timeout: Some(default::DRILL_TIMEOUT.to_owned()),
            alert_emails: Some(Vec::new()),
            alert_topics: Some(Vec::new()),
            alert_kms_key: None,
            export: Some(ExportChoice::Off),
            export_bucket: None,
            export_bucket_owner: None,
            export_bucket_region: None,
            require_lock: Some(false),
            export_mode: Some(ExportModeChoice::Full),
            export_full_every: Some(default::EXPORT_FULL_EVERY.to_owned()),
            export_view: Some(ExportViewChoice::NewAndOld),
            export_cold_days: Some(default::EXPORT_COLD_DAYS),
            export_cold_class: Some(ColdClass::GlacierIr),
            export_expire_days: Some(default::EXPORT_EXPIRE_DAYS),
            pitr_days: Some(NumberOrOff::Off),
            enable_pitr: Some(false),
            no_tag_conditions: Some(false),
        }
    }

    /// This layer over `base`: each setting given here wins, the rest come from `base`. Naming
    /// the tables drops a `base`'s tag and naming a tag drops its tables (the two are one
    /// choice), each with the setting that only fits the other (`no-tag-conditions`,
    /// `enable-pitr`); naming an export bucket drops the owner of the one before.
    #[must_use]
    pub fn over(&self, base: &Settings) -> Settings {
        let Settings {
            tables,
            table_tag,
            bucket,
            schedule,
            schedule_timezone,
            schedule_window,
            schedule_via,
            keep,
            max_age_days,
            keep_daily,
            keep_weekly,
            keep_monthly,
            keep_yearly,
            log_retention_days,
            log_expire_days,
            memory,
            timeout,
            arch,
            bucket_tls_only,
            drill_every,
            drill_timeout,
            alert_emails,
            alert_topics,
            alert_kms_key,
            export,
            export_bucket,
            export_bucket_owner,
            export_bucket_region,
            require_lock,
            export_mode,
            export_full_every,
            export_view,
            export_cold_days,
            export_cold_class,
            export_expire_days,
            pitr_days,
            enable_pitr,
            no_tag_conditions,
        } = self.clone();
        let by_tag_here = table_tag.is_some() && tables.is_none();
        let named_here = tables.is_some() && table_tag.is_none();
        Settings {
            tables: if by_tag_here {
                None
            } else {
                pick(tables, &base.tables)
            },
            table_tag: if named_here {
                None
            } else {
                pick(table_tag, &base.table_tag)
            },
            bucket: pick(bucket, &base.bucket),
            schedule: pick(schedule, &base.schedule),
            // A zone or a window given here chooses Scheduler again, unless told otherwise here.
            schedule_via: match schedule_via {
                None if schedule_timezone.is_some() || schedule_window.is_some() => None,
                given => given.or(base.schedule_via),
            },
            schedule_timezone: pick(schedule_timezone, &base.schedule_timezone),
            schedule_window: pick(schedule_window, &base.schedule_window),
            keep: keep.or(base.keep),
            max_age_days: max_age_days.or(base.max_age_days),
            keep_daily: keep_daily.or(base.keep_daily),
            keep_weekly: keep_weekly.or(base.keep_weekly),
            keep_monthly: keep_monthly.or(base.keep_monthly),
            keep_yearly: keep_yearly.or(base.keep_yearly),
            log_retention_days: log_retention_days.or(base.log_retention_days),
            log_expire_days: log_expire_days.or(base.log_expire_days),
            memory: memory.or(base.memory),
            timeout: timeout.or(base.timeout),
            arch: arch.or(base.arch),
            bucket_tls_only: bucket_tls_only.or(base.bucket_tls_only),
            drill_every: pick(drill_every, &base.drill_every),
            drill_timeout: pick(drill_timeout, &base.drill_timeout),
            alert_emails: pick(alert_emails, &base.alert_emails),
            alert_topics: pick(alert_topics, &base.alert_topics),
            alert_kms_key: pick(alert_kms_key, &base.alert_kms_key),
            export: export.or(base.export),
            export_bucket_owner: if export_bucket.is_some() {
                export_bucket_owner
            } else {
                pick(export_bucket_owner, &base.export_bucket_owner)
            },
            export_bucket_region: if export_bucket.is_some() {
                export_bucket_region
            } else {
                pick(export_bucket_region, &base.export_bucket_region)
            },
            require_lock: require_lock.or(base.require_lock),
            export_mode: export_mode.or(base.export_mode),
            export_full_every: pick(export_full_every, &base.export_full_every),
            export_view: export_view.or(base.export_view),
            export_bucket: pick(export_bucket, &base.export_bucket),
            export_cold_days: export_cold_days.or(base.export_cold_days),
            export_cold_class: export_cold_class.or(base.export_cold_class),
            export_expire_days: export_expire_days.or(base.export_expire_days),
            pitr_days: pitr_days.or(base.pitr_days),
            enable_pitr: match enable_pitr {
                None if by_tag_here => None,
                given => given.or(base.enable_pitr),
            },
            no_tag_conditions: match no_tag_conditions {
                None if named_here => None,
                given => given.or(base.no_tag_conditions),
            },
        }
    }

    /// This layer over the defaults, in the one form each value is recorded in (periods in
    /// their largest whole unit, `7d` rather than `168h`), so that equal settings compare equal.
    #[must_use]
    pub fn complete(&self) -> Settings {
        let mut all = self.over(&Self::defaults());
        let canonical = |text: &mut Option<String>| {
            if let Some(period) = text
                .as_deref()
                .and_then(backup_lambda::drill::parse_period)
                .filter(|d| !d.is_zero())
            {
                *text = Some(period_text(period));
            }
        };
        canonical(&mut all.drill_every);
        canonical(&mut all.drill_timeout);
        canonical(&mut all.schedule_window);
        if let Some(zone) = all
            .schedule_timezone
            .as_deref()
            .and_then(|z| backup_lambda::zone::Zone::parse(z).ok())
        {
            all.schedule_timezone = Some(zone.name().to_owned());
        }
        all.schedule_via = Some(all.schedule_via.unwrap_or_else(|| {
            let utc = all
                .schedule_timezone
                .as_deref()
                .is_none_or(|z| backup_lambda::zone::Zone::parse(z).is_ok_and(|z| z.is_utc()));
            let window = all.schedule_window.as_deref().is_some_and(|w| w != "off");
            if utc && !window {
                ScheduleVia::Rules
            } else {
                ScheduleVia::Scheduler
            }
        }));
        if all.table_tag.is_some() {
            all.tables = None;
        }
        // Dropped by the choice of tables in `over`, and so back to their defaults.
        all.enable_pitr = all.enable_pitr.or(Some(false));
        all.no_tag_conditions = all.no_tag_conditions.or(Some(false));
        // One spelling per value: `INSTALLER_TABLES="Movies, Music"` names `Music`.
        let trim = |list: &mut Option<Vec<String>>| {
            for item in list.iter_mut().flatten() {
                *item = item.trim().to_owned();
            }
        };
        trim(&mut all.tables);
        trim(&mut all.alert_emails);
        trim(&mut all.alert_topics);
        all
    }

    /// Whether no setting is given.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// `top` if given, else `below`.
fn pick<T: Clone>(top: Option<T>, below: &Option<T>) -> Option<T> {
    top.or_else(|| below.clone())
}

/// A period in its largest whole unit: `7d`, `36h`, `90m`, `45s`.
pub fn period_text(period: Duration) -> String {
    let seconds = period.as_secs();
    [(86_400, "d"), (3_600, "h"), (60, "m")]
        .into_iter()
        .find(|(unit, _)| seconds > 0 && seconds.is_multiple_of(*unit))
        .map_or_else(
            || format!("{seconds}s"),
            |(unit, name)| format!("{}{name}", seconds / unit),
        )
}

/// One setting that a plan changes, as `plan` prints it (`keep: 3 → 7`, `alert-email:
/// + ops@example.com`) and `--output json` carries it.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct SettingChange {
    /// The setting: the long flag's name, which is also the settings file's key.
    pub setting: String,
    /// Its value as deployed (absent: not set).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<Value>,
    /// Its value after the change (absent: not set).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<Value>,
    /// For a list: the values added.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub added: Vec<Value>,
    /// For a list: the values removed.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub removed: Vec<Value>,
}

impl fmt::Display for SettingChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |v: &Option<Value>| match v {
            None => "(not set)".to_owned(),
            Some(Value::String(s)) => s.clone(),
            Some(Value::Array(items)) if items.is_empty() => "(none)".to_owned(),
            Some(other) => other.to_string(),
        };
        write!(f, "{}: ", self.setting)?;
        if self.added.is_empty() && self.removed.is_empty() {
            return write!(f, "{} → {}", show(&self.from), show(&self.to));
        }
        let item = |v: &Value| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let edits: Vec<String> = (self.added.iter().map(|v| format!("+ {}", item(v))))
            .chain(self.removed.iter().map(|v| format!("- {}", item(v))))
            .collect();
        f.write_str(&edits.join(", "))
    }
}

/// The settings that differ between `before` (as deployed) and `after` (as wanted), both
/// complete, in the order the settings are declared. A list that gains or loses members shows
/// them; one that only changes order shows both orders.
pub fn changes(before: &Settings, after: &Settings) -> Vec<SettingChange> {
    let as_map = |s: &Settings| match serde_json::to_value(s) {
        Ok(Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    let (before, after) = (as_map(before), as_map(after));
    let mut keys: Vec<&String> = before.keys().chain(after.keys()).collect();
    keys.sort_by_key(|k| order(k));
    keys.dedup();
    keys.into_iter()
        .filter(|k| before.get(*k) != after.get(*k))
        .map(|key| {
            let (from, to) = (before.get(key).cloned(), after.get(key).cloned());
            // A list not set is an empty one (the tables of a stack chosen by tag).
            let list = |v: &Option<Value>| match v {
                Some(Value::Array(items)) => Some(items.clone()),
                None => Some(Vec::new()),
                Some(_) => None,
            };
            let is_list =
                matches!(from, Some(Value::Array(_))) || matches!(to, Some(Value::Array(_)));
            let (added, removed) = match (list(&from), list(&to)) {
                (Some(old), Some(new)) if is_list => (
                    new.iter().filter(|v| !old.contains(v)).cloned().collect(),
                    old.iter().filter(|v| !new.contains(v)).cloned().collect(),
                ),
                _ => (Vec::new(), Vec::new()),
            };
            SettingChange {
                setting: key.clone(),
                from,
                to,
                added,
                removed,
            }
        })
        .collect()
}

/// The settings alone as a command line: their flags, in declaration order, with their help.
pub fn flags() -> clap::Command {
    use clap::CommandFactory as _;
    #[derive(clap::Parser)]
    struct Only {
        #[command(flatten)]
        settings: Settings,
    }
    Only::command()
}

/// A setting's place in the declaration order (the flags' order in `--help`).
fn order(key: &str) -> usize {
    flags()
        .get_arguments()
        .position(|a| a.get_long() == Some(key))
        .unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        settings: Settings,
    }

    fn flags(args: &[&str]) -> Settings {
        Flags::try_parse_from(std::iter::once("installer").chain(args.iter().copied()))
            .expect("flags parse")
            .settings
    }

    #[test]
    fn a_flag_changes_its_setting_and_nothing_else() {
        let deployed = flags(&["--keep", "7", "--schedule", "rate(12 hours)"]).complete();
        let wanted = flags(&["--keep", "5"]).over(&deployed).complete();
        let changed = changes(&deployed, &wanted);
        assert_eq!(changed.len(), 1, "{changed:?}");
        assert_eq!(changed[0].to_string(), "keep: 7 → 5");
        assert!(changes(&deployed, &Settings::default().over(&deployed).complete()).is_empty());
    }

    #[test]
    fn tables_and_a_tag_are_one_choice() {
        let by_tag = flags(&["--table-tag", "backup=daily"]).complete();
        assert_eq!(by_tag.tables, None);
        let named = flags(&["--table", "Music"]).over(&by_tag).complete();
        assert_eq!(named.table_tag, None);
        assert_eq!(named.tables, Some(vec!["Music".to_owned()]));
        let changed: Vec<String> = changes(&by_tag, &named)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            changed,
            ["table: + Music", "table-tag: backup=daily → (not set)"]
        );
    }

    #[test]
    fn lists_show_what_they_gain_and_lose_and_a_new_export_bucket_drops_the_old_owner() {
        let deployed = flags(&[
            "--alert-email",
            "a@example.com",
            "--export",
            "daily",
            "--export-bucket",
            "vault",
        ])
        .complete();
        let wanted = flags(&["--alert-email", "b@example.com ", "--export", "off"])
            .over(&deployed)
            .complete();
        let changed: Vec<String> = changes(&deployed, &wanted)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            changed,
            [
                "alert-email: + b@example.com, - a@example.com",
                "export: daily → off"
            ],
            "off keeps the bucket for when exports are on again"
        );
        let theirs = flags(&[
            "--export-bucket",
            "theirs",
            "--export-bucket-owner",
            "210987654321",
        ])
        .over(&deployed)
        .complete();
        let mine = flags(&["--export-bucket", "mine"]).over(&theirs).complete();
        assert_eq!(
            mine.export_bucket_owner, None,
            "the owner was the old bucket's"
        );
        let tagged = flags(&["--enable-pitr"]).over(&deployed).complete();
        let by_tag = flags(&["--table-tag", "k=v"]).over(&tagged).complete();
        assert_eq!(by_tag.enable_pitr, Some(false), "pitr is for named tables");
    }

    #[test]
    fn periods_are_recorded_in_one_form() {
        let a = flags(&["--drill-every", "168h", "--drill-timeout", "720m"]).complete();
        let b = flags(&["--drill-every", "7d", "--drill-timeout", "12h"]).complete();
        assert_eq!(a, b);
        assert_eq!(a.drill_every.as_deref(), Some("7d"));
        assert_eq!(period_text(Duration::from_secs(90)), "90s");
        assert_eq!(period_text(Duration::from_secs(5400)), "90m");
    }

    #[test]
    fn each_flag_says_its_default_in_its_help() {
        use clap::CommandFactory as _;
        let command = Flags::command();
        let defaults = serde_json::to_value(Settings::defaults()).expect("serializes");
        for (key, value) in defaults.as_object().expect("an object") {
            let shown = match value {
                Value::String(s) => s.clone(),
                Value::Array(items) => items
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(","),
                other => other.to_string(),
            };
            if shown.is_empty() {
                continue;
            }
            let arg = command
                .get_arguments()
                .find(|a| a.get_long() == Some(key))
                .unwrap_or_else(|| panic!("no flag --{key}"));
            let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
            assert!(
                help.contains(&format!("[default: {shown}]")),
                "--{key}'s help does not say its default {shown}: {help}"
            );
        }
    }

    #[test]
    fn a_file_layer_rejects_unknown_keys() {
        let parsed: Result<Settings, _> = serde_json::from_value(serde_json::json!({"kep": 3}));
        assert!(parsed.is_err());
        let parsed: Settings =
            serde_json::from_value(serde_json::json!({"keep": 3, "max-age-days": "off"}))
                .expect("valid");
        assert_eq!(parsed.max_age_days, Some(NumberOrOff::Off));
    }
}
