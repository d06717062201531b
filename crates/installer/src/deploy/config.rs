//! What the user asked for: flags (each with an environment-variable twin) validated into a
//! [`StackConfig`] before any AWS call, so that bad input never leaves a half-made stack.

use std::num::NonZeroU32;
use std::path::PathBuf;

use crate::deploy::alerts::AlertSettings;
use crate::deploy::exports::{
    self, ColdClass, ExportChoice, ExportConfig, ExportConfigError, ExportModeChoice,
    ExportViewChoice,
};
use backup_lambda::naming::{MAX_STACK_LEN, StackName, TableName, TableNameError};
use thiserror::Error;

use crate::build::arch::Arch;
use crate::deploy::schedule::{Schedule, ScheduleError};
use crate::deploy::settings::{DEFAULT_STACK, NumberOrOff, ScheduleVia, Settings, default};
use backup_lambda::drill::{DrillSettings, parse_period};
use backup_lambda::retention::{AgeLimitTooShort, Generations, RetentionPolicy};
use backup_lambda::select::TableTag;
use backup_lambda::zone::{UnknownZone, Zone};

/// Retention periods CloudWatch Logs accepts, in days.
pub const LOG_RETENTION_DAYS: &[u32] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

/// `up`'s and `plan`'s flags: the stack, its settings (each changes only itself; the rest
/// come from the deployed stack, or the settings file), the edits that need their own names,
/// and what applies to one `up` only.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct StackArgs {
    /// Name of the stack; prefixes every resource name [default: dynamodb-backup].
    #[arg(long, env = "INSTALLER_STACK")]
    pub stack: Option<String>,
    /// The settings.
    #[command(flatten)]
    pub settings: Settings,
    /// Add this table to the deployed stack's (repeatable).
    #[arg(long, value_name = "TABLE", conflicts_with_all = ["tables", "table_tag"])]
    pub add_table: Vec<String>,
    /// Stop backing up this table (repeatable); the table and its backups are kept.
    #[arg(long, value_name = "TABLE", conflicts_with_all = ["tables", "table_tag"])]
    pub remove_table: Vec<String>,
    /// `--alerts off`: remove every alert destination (e-mail addresses, topics, the key) and
    /// with them the alarms; with --alert-email or --alert-topic, replace them instead.
    #[arg(long, value_enum, value_name = "off")]
    pub alerts: Option<AlertsOff>,
    /// Start from the defaults instead of the deployed stack's settings (or the settings
    /// file's): every setting not given goes back to its default.
    #[arg(long)]
    pub reset: bool,
    /// The settings file [default: installer.toml here, if there is one]: its
    /// [stacks.<stack>] table is the stack's whole desired state, and flags override it.
    #[arg(long, env = "INSTALLER_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Deploy this zip instead of building one (it is checked all the same).
    #[arg(long, env = "INSTALLER_ZIP", value_name = "PATH")]
    pub zip: Option<PathBuf>,
    /// Create each named table that does not exist, in the tutorial's shape (partition key
    /// year, sort key title, on-demand) with the built-in sample of 30 movies. Without it only
    /// the sample table Movies is created, and another missing table stops `up` before any
    /// change (a typo never makes a table).
    #[arg(long, env = "INSTALLER_CREATE_TABLE")]
    pub create_table: bool,
    /// Adopt the tables' unmarked backups made until now (named <table>-<YYYYmmddHHMMSS>: this
    /// tool's names before backups carried their stack, and the tutorial function's): from then
    /// on they count among the stack's, so retention prunes them and `down --delete-backups`
    /// deletes them. `plan` lists them. Without it they are never touched.
    #[arg(long, env = "INSTALLER_ADOPT_BACKUPS")]
    pub adopt_backups: bool,
}

/// `--alerts`' one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AlertsOff {
    /// No alert destinations.
    Off,
}

/// The stack a command other than `up` and `plan` works on: its settings are the deployed
/// stack's own.
#[derive(Debug, Clone, clap::Args)]
pub struct StackRef {
    /// Name of the deployed stack.
    #[arg(long, env = "INSTALLER_STACK", default_value = DEFAULT_STACK)]
    pub stack: String,
}

impl StackRef {
    /// The stack's name, checked.
    pub fn name(&self) -> Result<StackName, ConfigError> {
        StackName::parse(&self.stack).map_err(|_| ConfigError::Stack(self.stack.clone()))
    }
}

impl StackArgs {
    /// The stack's name: `--stack`, else the settings file's only stack, else the default.
    pub fn name(&self, file_stack: Option<&str>) -> Result<StackName, ConfigError> {
        let name = self
            .stack
            .as_deref()
            .or(file_stack)
            .unwrap_or(DEFAULT_STACK);
        StackName::parse(name).map_err(|_| ConfigError::Stack(name.to_owned()))
    }

    /// Checks the flags alone, before any AWS call: every value given is valid (over the
    /// defaults; what depends on other settings, such as a tag with `--no-tag-conditions`, is
    /// checked once the deployed ones are known), and every table named to add or remove is a
    /// table name.
    pub fn check(&self, file_stack: Option<&str>) -> Result<StackName, ConfigError> {
        let name = self.name(file_stack)?;
        match StackConfig::from_settings(name.as_str(), &self.settings) {
            Err(e) if !e.is_combination() || self.decides(&e) => return Err(e),
            _ => {}
        }
        for table in self.add_table.iter().chain(&self.remove_table) {
            TableName::parse(table.trim())?;
        }
        Ok(name)
    }

    /// Whether the flags alone make the combination `e`, whatever is deployed: both halves
    /// are given (`--table-tag` with `--enable-pitr`, `--table` with `--no-tag-conditions`).
    fn decides(&self, e: &ConfigError) -> bool {
        let s = &self.settings;
        match e {
            ConfigError::PitrByTag => s.table_tag.is_some() && s.enable_pitr == Some(true),
            ConfigError::TagConditionsWithoutTag => {
                (s.tables.is_some() || !self.add_table.is_empty())
                    && s.no_tag_conditions == Some(true)
            }
            _ => false,
        }
    }

    /// The settings `up` applies: these flags over `base` (the deployed stack's settings, or
    /// the settings file's, or the defaults with `--reset`), with `--alerts off`,
    /// `--add-table` and `--remove-table` applied; complete.
    pub fn wanted(&self, base: &Settings) -> Result<Settings, ConfigError> {
        let mut base = if self.reset {
            Settings::defaults()
        } else {
            base.clone()
        };
        if self.alerts.is_some() {
            base.alert_emails = Some(Vec::new());
            base.alert_topics = Some(Vec::new());
            base.alert_kms_key = None;
        }
        let mut wanted = self.settings.over(&base).complete();
        if !self.add_table.is_empty() || !self.remove_table.is_empty() {
            let Some(tables) = wanted
                .tables
                .as_mut()
                .filter(|_| wanted.table_tag.is_none())
            else {
                return Err(ConfigError::EditTablesByTag);
            };
            for table in &self.add_table {
                let table = table.trim();
                if tables.iter().any(|t| t == table) {
                    return Err(ConfigError::AlreadyInStack(table.to_owned()));
                }
                tables.push(table.to_owned());
            }
            for table in &self.remove_table {
                let table = table.trim();
                let Some(at) = tables.iter().position(|t| t == table) else {
                    return Err(ConfigError::NotInStack(table.to_owned()));
                };
                tables.remove(at);
            }
        }
        Ok(wanted)
    }

    /// The config of stack `name` for `settings` (from [`StackArgs::wanted`]) with this `up`'s
    /// own choices.
    pub fn config(
        &self,
        name: &StackName,
        settings: &Settings,
    ) -> Result<StackConfig, ConfigError> {
        let mut config = StackConfig::from_settings(name.as_str(), settings)?;
        config.zip.clone_from(&self.zip);
        config.create_tables = self.create_table;
        config.adopt_backups = self.adopt_backups;
        Ok(config)
    }
}

/// The tutorial's sample table: `up` creates it (with the built-in sample) when it is missing.
pub const SAMPLE_TABLE: &str = "Movies";

/// Targets one EventBridge rule may have at once (PutTargets, API reference: "Each rule can have
/// up to five (5) targets associated with it at one time").
pub const TARGETS_PER_RULE: usize = 5;

/// The stack's `n`-th schedule rule (from 1): `<stack>-schedule`, then `<stack>-schedule-<n>`.
pub fn rule_name(stack: &str, n: usize) -> String {
    if n <= 1 {
        format!("{stack}-schedule")
    } else {
        format!("{stack}-schedule-{n}")
    }
}

/// Why the settings were rejected. Nothing has been called in AWS when this is returned.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConfigError {
    /// `--schedule-window` is not a window Scheduler takes.
    #[error(
        "invalid --schedule-window {0:?}: use off or whole minutes from 1m to 24h, such as 15m or 2h"
    )]
    Window(String),
    /// `--schedule-timezone` is not a zone.
    #[error("invalid --schedule-timezone: {0}")]
    Zone(#[from] UnknownZone),
    /// EventBridge rules asked to do what only Scheduler does.
    #[error(
        "--schedule-via rules runs in UTC on the minute: it cannot take {0}; use --schedule-via scheduler"
    )]
    RulesAreUtc(String),
    /// `--max-age-days` shorter than a generation rule reaches.
    #[error(
        "--max-age-days {} would delete backups --keep-{} {} keeps (up to {} days old): use --max-age-days {} or more, or --max-age-days off",
        .0.max_age_days, .0.rule, .0.count, .0.reach, .0.reach
    )]
    AgeLimit(AgeLimitTooShort),
    /// An `--alert-email` is not an e-mail address.
    #[error("invalid --alert-email {0:?}: {1}; give an address such as ops@example.com")]
    Email(String, &'static str),
    /// An `--alert-topic` is not an SNS topic ARN.
    #[error(
        "invalid --alert-topic {0:?}: use an SNS topic ARN such as arn:aws:sns:us-east-1:123456789012:ops-alerts"
    )]
    TopicArn(String),
    /// `--alert-kms-key` is not a key CloudWatch alarms can publish through.
    #[error("invalid --alert-kms-key {0:?}: {1}")]
    KmsKey(String, &'static str),
    /// `--alert-kms-key` without an e-mail address (no topic of the stack's own to encrypt).
    #[error(
        "invalid --alert-kms-key {0:?}: it encrypts the stack's own topic, which is made only for --alert-email addresses; pass --alert-email too"
    )]
    KmsKeyWithoutEmail(String),
    /// `--add-table` names a table the stack backs up already.
    #[error("--add-table {0}: the stack backs up this table already; see `installer status`")]
    AlreadyInStack(String),
    /// More alert destinations than an alarm can notify.
    #[error(
        "too many alert destinations: an alarm notifies at most 5 topics (the stack's own topic counts as one); pass fewer --alert-topic"
    )]
    TooManyTopics,
    /// An alarm's name would be too long.
    #[error(
        "alarm name {0:?} would be over CloudWatch's 255 characters; use a shorter --stack or table name"
    )]
    AlarmName(String),
    /// A period flag is not a period.
    #[error("invalid --{flag} {got:?}: use a number and a unit, e.g. 7d, 12h or 30m{}", if *flag == "drill-every" { " (or off)" } else { "" })]
    Period {
        /// The flag.
        flag: &'static str,
        /// What was given.
        got: String,
    },
    /// The stack name cannot name every resource.
    #[error(
        "invalid --stack {0:?}: use 1 to {MAX_STACK_LEN} lowercase letters, digits and hyphens, starting with a letter"
    )]
    Stack(String),
    /// `--table-tag` is not `KEY=VALUE`.
    #[error(
        "invalid --table-tag {0:?}: use KEY=VALUE, e.g. backup=daily (a key of 1 to 128 characters, a value of up to 256)"
    )]
    TableTag(String),
    /// `--enable-pitr` with tables chosen by tag, which `up` does not know.
    #[error(
        "--enable-pitr needs tables named with --table: with --table-tag, `up` does not know the tables; turn point-in-time recovery on for each tagged table yourself"
    )]
    PitrByTag,
    /// `--no-tag-conditions` without `--table-tag`.
    #[error(
        "--no-tag-conditions applies to tables chosen with --table-tag; drop it, or choose the tables with --table-tag"
    )]
    TagConditionsWithoutTag,
    /// A table name is not a DynamoDB table name.
    #[error("invalid --table: {0}")]
    Table(#[from] TableNameError),
    /// No table was given.
    #[error("no --table given; name the table to back up, e.g. --table Movies")]
    NoTable,
    /// `--table` and `--table-tag` both set (in a settings file).
    #[error(
        "table and table-tag are both set; a stack backs up named tables or tagged ones: keep one"
    )]
    TablesAndTag,
    /// `--add-table` or `--remove-table` on a stack that chooses its tables by tag.
    #[error(
        "--add-table and --remove-table edit a list of named tables, but this stack backs up the tables tagged by --table-tag; tag or untag the table instead, or name every table with --table"
    )]
    EditTablesByTag,
    /// `--remove-table` names a table the stack does not back up.
    #[error("--remove-table {0}: the stack does not back up this table; see `installer status`")]
    NotInStack(String),
    /// The same table was given twice.
    #[error("--table {0:?} is given twice; name each table once")]
    DuplicateTable(String),
    /// The bucket name breaks S3's naming rules.
    #[error("invalid --{flag} {name:?}: {reason}")]
    Bucket {
        /// The flag that named it.
        flag: &'static str,
        /// The rejected name.
        name: String,
        /// The rule it breaks.
        reason: &'static str,
    },
    /// The schedule is not one EventBridge accepts.
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    /// The export settings are invalid.
    #[error(transparent)]
    Export(#[from] ExportConfigError),
    /// A number is out of its range.
    #[error("--{flag} must be {expected}, got {got}")]
    OutOfRange {
        /// The flag.
        flag: &'static str,
        /// What it accepts.
        expected: String,
        /// What was given.
        got: i64,
    },
}

impl ConfigError {
    /// Whether this is about settings together rather than one value: flags alone over the
    /// defaults may show it where the deployed settings would not.
    pub fn is_combination(&self) -> bool {
        matches!(
            self,
            ConfigError::PitrByTag
                | ConfigError::TagConditionsWithoutTag
                | ConfigError::KmsKeyWithoutEmail(_)
                | ConfigError::TooManyTopics
                | ConfigError::AlarmName(_)
                | ConfigError::Export(ExportConfigError::OwnerWithoutBucket)
        )
    }
}

/// A validated stack: every name and setting the resources are built from.
#[derive(Debug, Clone, PartialEq)]
pub struct StackConfig {
    /// The stack name.
    pub stack: StackName,
    /// The tables backed up, in the order given (none when chosen by tag).
    pub tables: Vec<TableName>,
    /// The tag that chooses the tables, when not named.
    pub table_tag: Option<TableTag>,
    /// The bucket name chosen with `--bucket`, if any.
    pub bucket: Option<String>,
    /// The schedule expression, in its zone.
    pub schedule: Schedule,
    /// What runs it.
    pub schedule_via: ScheduleVia,
    /// Scheduler's flexible window, in minutes (1 to 1440), if any.
    pub schedule_window: Option<u32>,
    /// `MAX_BACKUPS` for the function.
    pub keep: NonZeroU32,
    /// `MAX_AGE_DAYS` for the function.
    pub max_age_days: Option<NonZeroU32>,
    /// `KEEP_DAILY`, `KEEP_WEEKLY`, `KEEP_MONTHLY`, `KEEP_YEARLY` for the function.
    pub generations: Generations,
    /// Log group retention.
    pub log_retention_days: u32,
    /// Lifecycle expiry of run records.
    pub log_expire_days: NonZeroU32,
    /// Function memory (MB).
    pub memory: u32,
    /// Function timeout (s).
    pub timeout: u32,
    /// Function architecture.
    pub arch: Arch,
    /// A prebuilt zip to deploy.
    pub zip: Option<PathBuf>,
    /// The bucket's TLS-only policy, if decided by flag rather than by the endpoint.
    pub bucket_tls_only: Option<bool>,
    /// Restore drills, if on.
    pub drill: Option<DrillSettings>,
    /// Alerts, if any destination was given.
    pub alerts: Option<AlertSettings>,
    /// Exports to S3, if on.
    pub export: Option<ExportConfig>,
    /// Whether point-in-time recovery may be turned on for tables the stack did not make.
    pub enable_pitr: bool,
    /// Point-in-time recovery's recovery period on the stack's tables, when it is asked for
    /// (`--pitr-days`).
    pub pitr_days: Option<u32>,
    /// With a tag: whether the role's table actions are conditioned on it (off with
    /// `--no-tag-conditions`).
    pub tag_conditions: bool,
    /// Whether `up` may create any missing named table (`--create-table`), not only the sample.
    pub create_tables: bool,
    /// Whether `up` adopts the unmarked backups made until now (`--adopt-backups`).
    pub adopt_backups: bool,
    /// The complete settings this config was made from: what `up` records with the stack.
    pub settings: Settings,
}

impl StackConfig {
    /// The retention the function applies by default.
    pub fn retention(&self) -> RetentionPolicy {
        RetentionPolicy {
            max_backups: self.keep,
            max_age_days: self.max_age_days,
            generations: self.generations,
        }
    }

    /// Whether `up` may create `table` when it is missing: the sample always, others with
    /// `--create-table`.
    pub fn may_create(&self, table: &TableName) -> bool {
        self.create_tables || table.as_str() == SAMPLE_TABLE
    }
}

/// Checks an e-mail address closely enough to catch typos before SNS is asked: one `@`, a
/// local part of 1 to 64 characters, a domain of dot-separated labels.
fn check_email(address: &str) -> Result<(), ConfigError> {
    let fail = |why| Err(ConfigError::Email(address.to_owned(), why));
    if address.len() > 254 {
        return fail("it is longer than 254 characters");
    }
    let Some((local, domain)) = address.split_once('@') else {
        return fail("it has no @");
    };
    if domain.contains('@') {
        return fail("it has more than one @");
    }
    if local.is_empty() || local.len() > 64 {
        return fail("the part before @ must have 1 to 64 characters");
    }
    if address
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || "<>()[],;:\\\"".contains(c))
    {
        return fail("it contains spaces or characters addresses cannot have");
    }
    let labels: Vec<&str> = domain.split('.').collect();
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    if labels.len() < 2 || !labels.iter().all(label_ok) {
        return fail("the domain after @ is not a domain name");
    }
    Ok(())
}

/// Checks an SNS topic ARN: `arn:<partition>:sns:<region>:<12 digits>:<name>`.
fn check_topic_arn(arn: &str) -> Result<(), ConfigError> {
    let parts: Vec<&str> = arn.split(':').collect();
    let ok = matches!(
        parts[..],
        ["arn", partition, "sns", region, account, name]
            if ["aws", "aws-cn", "aws-us-gov"].contains(&partition)
                && !region.is_empty()
                && region.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && account.len() == 12
                && account.chars().all(|c| c.is_ascii_digit())
                && (1..=256).contains(&name.len())
                && name.trim_end_matches(".fifo").chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    );
    if ok {
        Ok(())
    } else {
        Err(ConfigError::TopicArn(arn.to_owned()))
    }
}

/// Checks `--alert-kms-key`: a key ARN or id, or an alias, but not the AWS managed SNS key.
fn check_kms_key(key: &str) -> Result<(), ConfigError> {
    let fail = |why| Err(ConfigError::KmsKey(key.to_owned(), why));
    if key == "alias/aws/sns" || key.ends_with(":alias/aws/sns") {
        return fail(
            "CloudWatch alarms cannot publish to a topic encrypted with the AWS managed key alias/aws/sns (its policy cannot be changed to let them); create a customer managed key whose policy allows cloudwatch.amazonaws.com kms:Decrypt and kms:GenerateDataKey*, and pass that",
        );
    }
    let id_ok = |id: &str| {
        (id.len() == 36 && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-'))
            || (id.starts_with("mrk-")
                && id.len() == 36
                && id[4..].chars().all(|c| c.is_ascii_hexdigit()))
    };
    let ok = match key.strip_prefix("alias/") {
        Some(alias) => !alias.is_empty() && !alias.starts_with("aws/"),
        None if key.starts_with("arn:") => {
            key.contains(":kms:") && (key.contains(":key/") || key.contains(":alias/"))
        }
        None => id_ok(key),
    };
    if ok {
        Ok(())
    } else {
        fail("use a customer managed key's ARN, id (a UUID) or alias (alias/name)")
    }
}

/// `--alert-email`, `--alert-topic`, `--alert-kms-key`; `None` when no destination is given.
fn alerts(args: &Settings) -> Result<Option<AlertSettings>, ConfigError> {
    let mut emails: Vec<String> = Vec::new();
    for email in args.alert_emails.iter().flatten() {
        let email = email.trim();
        check_email(email)?;
        if !emails.iter().any(|e| e.eq_ignore_ascii_case(email)) {
            emails.push(email.to_owned());
        }
    }
    let mut topics: Vec<String> = Vec::new();
    for topic in args.alert_topics.iter().flatten() {
        check_topic_arn(topic)?;
        if !topics.contains(topic) {
            topics.push(topic.clone());
        }
    }
    if let Some(key) = &args.alert_kms_key {
        check_kms_key(key)?;
        if emails.is_empty() {
            return Err(ConfigError::KmsKeyWithoutEmail(key.clone()));
        }
    }
    if usize::from(!emails.is_empty()) + topics.len() > 5 {
        return Err(ConfigError::TooManyTopics);
    }
    if emails.is_empty() && topics.is_empty() {
        return Ok(None);
    }
    Ok(Some(AlertSettings {
        emails,
        topics,
        kms_key: args.alert_kms_key.clone(),
    }))
}

/// `--drill-every` (off, or a period) and `--drill-timeout` (a period).
fn drill(every: &str, timeout: &str) -> Result<Option<DrillSettings>, ConfigError> {
    let period = |flag: &'static str, text: &str| {
        parse_period(text)
            .filter(|d| !d.is_zero())
            .ok_or_else(|| ConfigError::Period {
                flag,
                got: text.to_owned(),
            })
    };
    // Checked even while drills are off: it is recorded for when they are on.
    let timeout = period("drill-timeout", timeout)?;
    if every == "off" {
        return Ok(None);
    }
    Ok(Some(DrillSettings {
        every: period("drill-every", every)?,
        timeout,
    }))
}

/// `--table-tag KEY=VALUE`, checked as the function checks an event's `TableTag`.
fn parse_tag(text: &str) -> Result<TableTag, ConfigError> {
    let bad = || ConfigError::TableTag(text.to_owned());
    let (key, value) = text.split_once('=').ok_or_else(bad)?;
    let event = serde_json::json!({"TableTag": {"Key": key, "Value": value}});
    TableTag::from_event(&event).ok().flatten().ok_or_else(bad)
}

/// Numeric flags are read as i64 so that a negative value gets this message, not a parse error.
fn in_range(flag: &'static str, got: i64, min: u32, max: u32) -> Result<u32, ConfigError> {
    u32::try_from(got)
        .ok()
        .filter(|v| (min..=max).contains(v))
        .ok_or_else(|| ConfigError::OutOfRange {
            flag,
            expected: format!("from {min} to {max}"),
            got,
        })
}

fn positive(flag: &'static str, got: i64, max: u32) -> Result<NonZeroU32, ConfigError> {
    in_range(flag, got, 1, max).and_then(|v| {
        NonZeroU32::new(v).ok_or(ConfigError::OutOfRange {
            flag,
            expected: format!("from 1 to {max}"),
            got,
        })
    })
}

/// Checks a bucket name (given with `--flag`) against S3's general-purpose bucket naming rules.
pub fn check_bucket(flag: &'static str, name: &str) -> Result<(), ConfigError> {
    let fail = |reason| {
        Err(ConfigError::Bucket {
            flag,
            name: name.to_owned(),
            reason,
        })
    };
    if !(3..=63).contains(&name.len()) {
        return fail("bucket names have 3 to 63 characters");
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
    {
        return fail("use only lowercase letters, digits, '-' and '.'");
    }
    let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !edge_ok(name.chars().next()) || !edge_ok(name.chars().last()) {
        return fail("it must start and end with a letter or digit");
    }
    if name.contains("..") || name.contains(".-") || name.contains("-.") {
        return fail("dots may not be next to each other or to a hyphen");
    }
    if name.split('.').count() == 4 && name.split('.').all(|p| p.parse::<u8>().is_ok()) {
        return fail("it may not look like an IP address");
    }
    if ["xn--", "sthree-", "amzn-s3-demo-"]
        .iter()
        .any(|p| name.starts_with(p))
        || ["-s3alias", "--ol-s3", "--x-s3", ".mrap", "--table-s3"]
            .iter()
            .any(|s| name.ends_with(s))
    {
        return fail("it uses a prefix or suffix S3 reserves");
    }
    Ok(())
}

impl StackConfig {
    /// Validates `settings` (a layer: what it does not give is the default) for the stack
    /// named `stack`; the first problem found is returned. The config's one-`up` choices
    /// (`--zip`, `--create-table`, `--adopt-backups`) are off; see [`StackArgs::config`].
    pub fn from_settings(stack: &str, settings: &Settings) -> Result<Self, ConfigError> {
        let stack = StackName::parse(stack).map_err(|_| ConfigError::Stack(stack.to_owned()))?;
        let all = settings.complete();
        let default_table = [default::TABLE.to_owned()];
        let names = match (&settings.tables, &settings.table_tag) {
            (Some(_), Some(_)) => return Err(ConfigError::TablesAndTag),
            (Some(names), None) => &names[..],
            (None, Some(_)) => &[],
            (None, None) => &default_table[..],
        };
        let mut tables = Vec::with_capacity(names.len());
        for name in names {
            let table = TableName::parse(name.trim())?;
            if tables.contains(&table) {
                return Err(ConfigError::DuplicateTable(table.to_string()));
            }
            tables.push(table);
        }
        let table_tag = all.table_tag.as_deref().map(parse_tag).transpose()?;
        let enable_pitr = all.enable_pitr.unwrap_or_default();
        let no_tag_conditions = all.no_tag_conditions.unwrap_or_default();
        // Settings that do not go together, reported after every value is checked.
        let combination = if table_tag.is_some() {
            enable_pitr.then_some(ConfigError::PitrByTag)
        } else if tables.is_empty() {
            return Err(ConfigError::NoTable);
        } else {
            no_tag_conditions.then_some(ConfigError::TagConditionsWithoutTag)
        };
        let buckets = [
            ("bucket", &all.bucket),
            ("export-bucket", &all.export_bucket),
        ];
        for (flag, bucket) in buckets {
            if let Some(bucket) = bucket {
                check_bucket(flag, bucket)?;
            }
        }
        let export = exports::validate(exports::ExportFlags {
            choice: all.export.unwrap_or(ExportChoice::Off),
            bucket: all.export_bucket.as_deref(),
            owner: all.export_bucket_owner.as_deref(),
            region: all.export_bucket_region.as_deref(),
            mode: all.export_mode.unwrap_or(ExportModeChoice::Full),
            full_every: all
                .export_full_every
                .as_deref()
                .unwrap_or(crate::deploy::settings::default::EXPORT_FULL_EVERY),
            view: all.export_view.unwrap_or(ExportViewChoice::NewAndOld),
            require_lock: all.require_lock.unwrap_or(false),
            cold_days: all.export_cold_days.unwrap_or(default::EXPORT_COLD_DAYS),
            cold_class: all.export_cold_class.unwrap_or(ColdClass::GlacierIr),
            expire_days: all
                .export_expire_days
                .unwrap_or(default::EXPORT_EXPIRE_DAYS),
        })?;
        let retention = all
            .log_retention_days
            .unwrap_or(default::LOG_RETENTION_DAYS);
        let log_retention_days = u32::try_from(retention)
            .ok()
            .filter(|d| LOG_RETENTION_DAYS.contains(d));
        let Some(log_retention_days) = log_retention_days else {
            return Err(ConfigError::OutOfRange {
                flag: "log-retention-days",
                expected: format!(
                    "one of the periods CloudWatch Logs accepts ({})",
                    LOG_RETENTION_DAYS
                        .iter()
                        .map(u32::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                got: retention,
            });
        };
        let max_age_days = match all.max_age_days {
            None | Some(NumberOrOff::Off) => None,
            Some(NumberOrOff::Number(days)) => Some(positive("max-age-days", days, 36_500)?),
        };
        let generation = |flag: &'static str, value: Option<NumberOrOff>| match value {
            None | Some(NumberOrOff::Off) => Ok(None),
            Some(NumberOrOff::Number(n)) => positive(flag, n, 1000).map(Some),
        };
        let generations = Generations {
            daily: generation("keep-daily", all.keep_daily)?,
            weekly: generation("keep-weekly", all.keep_weekly)?,
            monthly: generation("keep-monthly", all.keep_monthly)?,
            yearly: generation("keep-yearly", all.keep_yearly)?,
        };
        let keep = positive("keep", all.keep.unwrap_or(default::KEEP), 1000)?;
        RetentionPolicy {
            max_backups: keep,
            max_age_days,
            generations,
        }
        .check()
        .map_err(ConfigError::AgeLimit)?;
        let schedule = all.schedule.as_deref().unwrap_or(default::SCHEDULE);
        let zone = Zone::parse(
            all.schedule_timezone
                .as_deref()
                .unwrap_or(default::SCHEDULE_TIMEZONE),
        )?;
        let window_text = all
            .schedule_window
            .as_deref()
            .unwrap_or(default::SCHEDULE_WINDOW);
        // FlexibleTimeWindow, MaximumWindowInMinutes: "Valid Range: Minimum value of 1. Maximum
        // value of 1440."
        let schedule_window = match window_text.trim() {
            "off" => None,
            text => Some(
                parse_period(text)
                    .filter(|p| p.as_secs() % 60 == 0)
                    .and_then(|p| u32::try_from(p.as_secs() / 60).ok())
                    .filter(|m| (1..=1440).contains(m))
                    .ok_or_else(|| ConfigError::Window(text.to_owned()))?,
            ),
        };
        let schedule_via =
            all.schedule_via
                .unwrap_or(if zone.is_utc() && schedule_window.is_none() {
                    ScheduleVia::Rules
                } else {
                    ScheduleVia::Scheduler
                });
        if schedule_via == ScheduleVia::Rules {
            if !zone.is_utc() {
                return Err(ConfigError::RulesAreUtc(format!(
                    "--schedule-timezone {zone}"
                )));
            }
            if schedule_window.is_some() {
                return Err(ConfigError::RulesAreUtc(format!(
                    "--schedule-window {window_text}"
                )));
            }
        }
        // PointInTimeRecoverySpecification, RecoveryPeriodInDays: "Valid Range: Minimum value of
        // 1. Maximum value of 35."
        let pitr_days = match all.pitr_days {
            None | Some(NumberOrOff::Off) => None,
            Some(NumberOrOff::Number(days)) => Some(in_range("pitr-days", days, 1, 35)?),
        };
        let drill = drill(
            all.drill_every.as_deref().unwrap_or(default::DRILL_EVERY),
            all.drill_timeout
                .as_deref()
                .unwrap_or(default::DRILL_TIMEOUT),
        )?;
        if let Some(e) = combination {
            return Err(e);
        }
        Ok(Self {
            stack,
            tables,
            table_tag,
            bucket: all.bucket.clone(),
            schedule: schedule.parse::<Schedule>()?.in_zone(zone),
            schedule_via,
            schedule_window,
            keep,
            max_age_days,
            generations,
            log_retention_days,
            log_expire_days: positive(
                "log-expire-days",
                all.log_expire_days.unwrap_or(default::LOG_EXPIRE_DAYS),
                36_500,
            )?,
            memory: in_range("memory", all.memory.unwrap_or(default::MEMORY), 128, 10_240)?,
            timeout: in_range("timeout", all.timeout.unwrap_or(default::TIMEOUT), 1, 900)?,
            arch: all.arch.unwrap_or(Arch::Arm64),
            zip: None,
            bucket_tls_only: all.bucket_tls_only,
            drill,
            alerts: alerts(&all)?,
            export,
            enable_pitr,
            pitr_days,
            create_tables: false,
            adopt_backups: false,
            tag_conditions: !no_tag_conditions,
            settings: all.clone(),
        })
        .and_then(Self::check_alarm_names)
    }

    /// Refuses table names that would make an alarm name over 255 characters.
    fn check_alarm_names(self) -> Result<Self, ConfigError> {
        if self.alerts.is_some() {
            for table in &self.tables {
                let name =
                    crate::deploy::alerts::missing_alarm(self.stack.as_str(), table.as_str());
                if name.len() > 255 {
                    return Err(ConfigError::AlarmName(name));
                }
            }
        }
        Ok(self)
    }

    /// The Lambda function's name.
    pub fn function_name(&self) -> &str {
        self.stack.as_str()
    }

    /// The bucket exports go to, if on: `--export-bucket`, or the stack's `bucket`.
    pub fn export_bucket<'a>(&'a self, bucket: &'a str) -> Option<&'a str> {
        self.export
            .as_ref()
            .map(|e| e.bucket.as_deref().unwrap_or(bucket))
    }

    /// The IAM role's name.
    pub fn role_name(&self) -> String {
        format!("{}-role", self.stack)
    }

    /// The longest time between two runs: the schedule's longest gap on its zone's clock, plus
    /// Scheduler's flexible window (a run may start that much after its time, and the next on
    /// time). `None` where [`Schedule::interval`] is.
    pub fn longest_gap(&self) -> Option<std::time::Duration> {
        let window =
            std::time::Duration::from_secs(60 * u64::from(self.schedule_window.unwrap_or(0)));
        self.schedule.interval().map(|i| i + window)
    }

    /// The role EventBridge Scheduler invokes the function with.
    pub fn scheduler_role_name(&self) -> String {
        format!("{}-scheduler", self.stack)
    }

    /// The role's inline policy's name.
    pub fn policy_name(&self) -> String {
        format!("{}-policy", self.stack)
    }

    /// The function's log group.
    pub fn log_group(&self) -> String {
        format!("/aws/lambda/{}", self.stack)
    }

    /// The EventBridge rules' names, one per [`TARGETS_PER_RULE`] tables (a rule holds at most
    /// five targets): `<stack>-schedule`, then `<stack>-schedule-2`, `-3`, ...
    pub fn rule_names(&self) -> Vec<String> {
        let rules = self.tables.len().div_ceil(TARGETS_PER_RULE).max(1);
        (1..=rules)
            .map(|n| rule_name(self.stack.as_str(), n))
            .collect()
    }

    /// The name of the rule whose target runs the backup of `table`.
    pub fn rule_for(&self, table: &TableName) -> String {
        let index = self.tables.iter().position(|t| t == table).unwrap_or(0);
        rule_name(self.stack.as_str(), index / TARGETS_PER_RULE + 1)
    }

    /// The bucket's name: `--bucket`, or `<stack>-logs-<account>-<region>`.
    pub fn bucket_name(&self, account: &str, region: &str) -> String {
        self.bucket
            .clone()
            .unwrap_or_else(|| format!("{}-logs-{account}-{region}", self.stack))
    }

    /// The tags every taggable resource of this stack carries.
    pub fn tags(&self) -> Vec<(String, String)> {
        vec![
            ("managed-by".to_owned(), "installer".to_owned()),
            ("stack".to_owned(), self.stack.to_string()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::resources::Tags;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        stack: StackArgs,
    }

    fn config(flags: &[&str]) -> Result<StackConfig, ConfigError> {
        let args = Cli::try_parse_from(std::iter::once("installer").chain(flags.iter().copied()))
            .expect("flags parse");
        let name = args.stack.stack.as_deref().unwrap_or(DEFAULT_STACK);
        StackConfig::from_settings(name, &args.stack.settings)
    }

    #[test]
    fn a_zone_or_window_chooses_scheduler_and_widens_the_longest_gap() {
        let c = config(&[
            "--schedule",
            "cron(30 2 * * ? *)",
            "--schedule-timezone",
            "Europe/Berlin",
            "--schedule-window",
            "15m",
        ])
        .expect("valid");
        assert_eq!(c.schedule_via, ScheduleVia::Scheduler);
        assert_eq!(c.schedule_window, Some(15));
        // 47 hours the night 02:30 is skipped, and a run may start 15 minutes late.
        let gap = std::time::Duration::from_secs(47 * 3600 + 15 * 60);
        assert_eq!(c.longest_gap(), Some(gap));
        let utc = config(&["--schedule", "cron(30 2 * * ? *)"]).expect("valid");
        assert_eq!(utc.schedule_via, ScheduleVia::Rules);
        assert_eq!(
            utc.longest_gap(),
            Some(std::time::Duration::from_secs(24 * 3600))
        );
        let asked = config(&["--schedule-via", "scheduler"]).expect("valid");
        assert_eq!(asked.schedule_via, ScheduleVia::Scheduler);
    }

    #[test]
    fn defaults_reproduce_the_tutorial_with_a_daily_schedule() {
        let c = config(&[]).expect("defaults are valid");
        assert_eq!(c.stack.as_str(), "dynamodb-backup");
        assert_eq!(c.tables, vec![TableName::parse("Movies").unwrap()]);
        assert_eq!(c.schedule.as_str(), "rate(1 day)");
        assert_eq!(c.keep.get(), 3);
        assert_eq!(c.settings, Settings::defaults().complete());
        assert_eq!(c.log_retention_days, 14);
        assert_eq!(c.role_name(), "dynamodb-backup-role");
        assert_eq!(c.log_group(), "/aws/lambda/dynamodb-backup");
        assert_eq!(
            c.bucket_name("123456789012", "ap-southeast-3"),
            "dynamodb-backup-logs-123456789012-ap-southeast-3"
        );
    }

    #[test]
    fn the_longest_stack_still_gives_a_valid_default_bucket() {
        let stack = "a".repeat(MAX_STACK_LEN);
        let c = config(&["--stack", &stack]).expect("valid");
        assert_eq!(
            check_bucket("bucket", &c.bucket_name("123456789012", "ap-southeast-3")),
            Ok(())
        );
    }

    #[test]
    fn exports_name_their_bucket_and_add_an_alarm_per_table() {
        let off = config(&[]).expect("valid");
        assert_eq!(off.export, None);
        assert_eq!(off.export_bucket("logs"), None);
        let own = config(&["--export", "daily"]).expect("valid");
        assert_eq!(own.export_bucket("logs"), Some("logs"));
        let c = config(&[
            "--export",
            "weekly",
            "--export-bucket",
            "vault",
            "--export-bucket-owner",
            "210987654321",
            "--table",
            "Movies",
            "--table",
            "Music",
            "--alert-email",
            "ops@example.com",
        ])
        .expect("valid");
        assert_eq!(c.export_bucket("logs"), Some("vault"));
        let watch = crate::deploy::alerts::alarms(&c, &[], &Tags::new());
        assert!(matches!(
            watch.no_export_missing_alarm,
            Some(crate::deploy::alerts::NoWindow::TooLong(_))
        ));
        let exports: Vec<_> = watch
            .alarms
            .iter()
            .filter(|a| a.condition.metric == backup_lambda::metrics::EXPORT_COMPLETED)
            .map(|a| a.name.as_str())
            .collect();
        assert_eq!(
            exports,
            [
                "dynamodb-backup-Movies-export-failed",
                "dynamodb-backup-Music-export-failed"
            ],
            "weekly exports: no export-missing alarm"
        );
    }

    #[test]
    fn bad_settings_are_rejected_with_the_flag_named() {
        for (flags, expected) in [
            (&["--stack", "My_Stack"][..], "invalid --stack"),
            (&["--stack", &"a".repeat(29)][..], "invalid --stack"),
            (&["--stack", "1abc"][..], "invalid --stack"),
            (&["--stack", "abc-"][..], "invalid --stack"),
            (&["--table", "ab"][..], "invalid --table"),
            (
                &["--table", "Movies", "--table", "Movies"][..],
                "given twice",
            ),
            (&["--bucket", "Logs"][..], "lowercase"),
            (&["--bucket", "ab"][..], "3 to 63"),
            (&["--bucket", "192.168.1.1"][..], "IP address"),
            (&["--bucket", "a..b"][..], "dots"),
            (&["--bucket=-abc"][..], "start and end"),
            (&["--bucket", "xn--abc"][..], "reserves"),
            (&["--schedule", "rate(1 minutes)"][..], "singular unit"),
            (&["--keep", "0"][..], "--keep must be from 1 to 1000"),
            (&["--max-age-days", "0"][..], "--max-age-days must be"),
            (
                &["--keep-daily", "0"][..],
                "--keep-daily must be from 1 to 1000",
            ),
            (
                &["--keep-yearly", "-1"][..],
                "--keep-yearly must be from 1 to 1000",
            ),
            (
                &[
                    "--keep-weekly",
                    "4",
                    "--keep-monthly",
                    "6",
                    "--max-age-days",
                    "60",
                ][..],
                "--max-age-days 60 would delete backups --keep-monthly 6 keeps (up to 186 days old): use --max-age-days 186 or more, or --max-age-days off",
            ),
            (
                &["--log-retention-days", "10"][..],
                "CloudWatch Logs accepts",
            ),
            (&["--log-expire-days", "0"][..], "--log-expire-days"),
            (
                &["--memory", "64"][..],
                "--memory must be from 128 to 10240",
            ),
            (&["--timeout", "901"][..], "--timeout must be from 1 to 900"),
        ] {
            let err = config(flags).expect_err(&format!("{flags:?} must be rejected"));
            assert!(err.to_string().contains(expected), "{flags:?}: {err}");
        }
    }

    fn stack_args(flags: &[&str]) -> StackArgs {
        Cli::try_parse_from(std::iter::once("installer").chain(flags.iter().copied()))
            .expect("flags parse")
            .stack
    }

    #[test]
    fn a_flag_is_checked_alone_and_against_the_deployed_settings_after() {
        // What depends on the deployed settings waits for them.
        assert!(stack_args(&["--no-tag-conditions"]).check(None).is_ok());
        assert!(
            stack_args(&["--alert-kms-key", "alias/k"])
                .check(None)
                .is_ok()
        );
        let tagged = Settings {
            table_tag: Some("backup=daily".into()),
            ..Settings::default()
        }
        .complete();
        let args = stack_args(&["--no-tag-conditions"]);
        let wanted = args.wanted(&tagged).expect("valid over a tag stack");
        let name = args.name(None).unwrap();
        assert!(!args.config(&name, &wanted).unwrap().tag_conditions);
        let named = Settings::defaults().complete();
        let wanted = args.wanted(&named).unwrap();
        assert_eq!(
            args.config(&name, &wanted),
            Err(ConfigError::TagConditionsWithoutTag)
        );
        // A value is checked even where its feature is off.
        let err = stack_args(&["--drill-timeout", "soon"])
            .check(None)
            .unwrap_err();
        assert!(err.to_string().contains("--drill-timeout"), "{err}");
        // Adding a table the stack has is said as such.
        let err = stack_args(&["--add-table", "Movies"])
            .wanted(&named)
            .unwrap_err();
        assert_eq!(err, ConfigError::AlreadyInStack("Movies".into()));
        let err = stack_args(&["--remove-table", "Music"])
            .wanted(&named)
            .unwrap_err();
        assert_eq!(err, ConfigError::NotInStack("Music".into()));
        let err = stack_args(&["--add-table", "Music"])
            .wanted(&tagged)
            .unwrap_err();
        assert_eq!(err, ConfigError::EditTablesByTag);
    }

    #[test]
    fn several_tables_and_the_tutorial_cadence() {
        let c =
            config(&["--table", "Movies,Music", "--schedule", "rate(1 minute)"]).expect("valid");
        assert_eq!(c.tables.len(), 2);
        assert_eq!(c.schedule.as_str(), "rate(1 minute)");
    }
}
