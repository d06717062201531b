//! A deployed stack's settings, found from its name alone: the document `up` recorded in the
//! stack's bucket ([`settings_object`]), or, for a stack deployed by a release that recorded
//! none (or whose document cannot be read), the settings read back from what exists: the
//! function's environment and configuration, the schedule rules' targets, the log group, the
//! bucket's lifecycle, the alert topic and the alarms.

use std::collections::HashMap;

use backup_lambda::naming::StackName;
use backup_lambda::request::GENERATION_VARS;

use crate::aws::{Aws, AwsError};
use crate::deploy::config::{ConfigError, StackConfig};
use crate::deploy::desired::Desired;
use crate::deploy::exports::{ExportChoice, ExportModeChoice, ExportViewChoice};
use crate::deploy::resources::bucket::{self, Bucket};
use crate::deploy::resources::settings_object::{self, Stored};
use crate::deploy::resources::{Resource, function};
use crate::deploy::settings::{NumberOrOff, Settings, period_text};
use crate::deploy::stack::{self, Observed, StackError};

/// Where a deployed stack's settings came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The document `up` recorded.
    Recorded,
    /// Read back from the resources: no document (`why` says what was found instead).
    Derived {
        /// Why there is no document to use.
        why: String,
    },
    /// Nothing of the stack exists: the defaults.
    NotDeployed,
}

/// A deployed stack's settings, complete, and where they came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Deployed {
    /// The settings.
    pub settings: Settings,
    /// Where they came from.
    pub origin: Origin,
    /// The stack's bucket, as its function names it (or the default name).
    pub bucket: String,
}

impl Deployed {
    /// The stack's validated config. Settings read back from a stack are its own, so a
    /// failure here means the stack was changed into something `up` would not make.
    pub fn config(&self, stack: &StackName) -> Result<StackConfig, ConfigError> {
        StackConfig::from_settings(stack.as_str(), &self.settings)
    }
}

/// Why the deployed settings could not be found.
#[derive(Debug, thiserror::Error)]
pub enum DeployedError {
    /// An AWS read failed.
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// The defaults did not make a stack (cannot happen for a valid stack name).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The stack's policies did not render.
    #[error(transparent)]
    Stack(#[from] StackError),
}

/// Reads `stack`'s settings: its recorded document, else what its resources say. The document
/// is in the bucket the function names, else in `bucket` (`down --bucket`: a stack whose
/// function is gone, with a bucket of its own name), else in the default bucket.
pub async fn read(
    aws: &Aws,
    stack: &StackName,
    bucket: Option<&str>,
) -> Result<Deployed, DeployedError> {
    let hint = bucket;
    let defaults = StackConfig::from_settings(stack.as_str(), &Settings::defaults())?;
    let desired = Desired::new(&defaults, aws, None).map_err(|e| DeployedError::Stack(e.into()))?;
    let function = function::Function::observe(aws, &desired.function).await?;
    let bucket = function
        .as_ref()
        .and_then(|f| f.environment.get("LOG_BUCKET").cloned())
        .or_else(|| hint.map(str::to_owned))
        .unwrap_or_else(|| desired.bucket.name.clone());
    let why = match settings_object::read(aws, &bucket, &settings_object::key(stack.as_str()))
        .await?
    {
        Stored::Found(document) if document.stack == stack.as_str() => {
            return Ok(Deployed {
                settings: document.settings.complete(),
                origin: Origin::Recorded,
                bucket,
            });
        }
        Stored::Found(document) => format!(
            "the settings document in s3://{bucket} belongs to stack {}",
            document.stack
        ),
        Stored::Newer(format) => format!(
            "the settings document in s3://{bucket} was written by a newer installer (format {format}); use that installer to change the stack"
        ),
        Stored::Unreadable(why) => {
            format!("the settings document in s3://{bucket} cannot be read ({why})")
        }
        Stored::Absent => "no settings document (deployed by an earlier release)".to_owned(),
    };
    let observed = stack::observe(aws, &desired).await?;
    let nothing = observed.function.is_none()
        && observed.rules.iter().all(Option::is_none)
        && observed.stale_rules.is_empty()
        && observed.log_group.is_none();
    if nothing {
        return Ok(Deployed {
            settings: Settings::defaults().complete(),
            origin: Origin::NotDeployed,
            bucket,
        });
    }
    let bucket_found = if bucket == desired.bucket.name {
        observed.bucket.clone()
    } else {
        let other = bucket::Desired {
            name: bucket.clone(),
            ..desired.bucket.clone()
        };
        Bucket::observe(aws, &other).await?
    };
    let settings = derive(&observed, &bucket_found, &desired, aws.tls);
    Ok(Deployed {
        settings: settings.complete(),
        origin: Origin::Derived { why },
        bucket,
    })
}

/// The settings the resources of a stack were made with, as far as they say: what they do not
/// say is left to the defaults.
fn derive(observed: &Observed, bucket: &bucket::Found, desired: &Desired, tls: bool) -> Settings {
    let mut s = Settings::default();
    if let Some(f) = &observed.function {
        derive_function(&mut s, &f.environment, &desired.bucket.name);
        s.memory = f.memory.map(i64::from);
        s.timeout = f.timeout.map(i64::from);
        s.arch = f.arch;
    }
    s.log_retention_days = observed
        .log_group
        .as_ref()
        .and_then(|g| g.retention_days)
        .map(i64::from);
    // The stack's further rules in their order (`-schedule-2` before `-schedule-10`), so that each
    // table stays in its rule.
    let mut stale: Vec<_> = observed
        .stale_rules
        .iter()
        .filter_map(|(d, o)| Some((rule_number(&d.name), o.as_ref()?)))
        .collect();
    stale.sort_by_key(|(n, _)| *n);
    let rules = observed
        .rules
        .iter()
        .flatten()
        .chain(stale.into_iter().map(|(_, o)| o));
    let mut tables = Vec::new();
    for rule in rules {
        if s.schedule.is_none() {
            s.schedule.clone_from(&rule.schedule);
        }
        for (_, _, input) in &rule.targets {
            let Ok(event) = serde_json::from_str::<serde_json::Value>(input) else {
                continue;
            };
            if let Some(table) = event.get("TableName").and_then(|t| t.as_str()) {
                // A table in two rules (an `up` stopped while moving it) is one table.
                if !tables.iter().any(|t| t == table) {
                    tables.push(table.to_owned());
                }
            } else if let Ok(Some(tag)) = backup_lambda::select::TableTag::from_event(&event) {
                s.table_tag = Some(format!("{}={}", tag.key, tag.value));
            }
        }
    }
    if !tables.is_empty() {
        s.tables = Some(tables);
    }
    // Only a policy that was read says whether it is conditioned: a missing one is drift, and
    // the default (conditioned) puts it back.
    if s.table_tag.is_some()
        && let Some(policy) = observed.role.as_ref().and_then(|r| r.policy.as_ref())
    {
        s.no_tag_conditions = Some(!policy.to_string().contains("aws:ResourceTag"));
    }
    if let bucket::Found::Here(b) = bucket {
        s.log_expire_days = b.expire_days.map(i64::from);
        if let Some(tiers) = b.exports {
            s.export_cold_days = Some(i64::from(tiers.cold_days));
            s.export_cold_class = Some(tiers.cold_class);
            s.export_expire_days = Some(i64::from(tiers.expire_days));
        }
        // Only a choice that differs from what the endpoint would decide is a setting; a
        // TLS-only policy missing on a TLS endpoint is drift, which the default puts back.
        if b.policy.is_some() && !tls {
            s.bucket_tls_only = Some(true);
        }
    }
    derive_alerts(&mut s, observed, desired);
    s
}

/// `<stack>-schedule-<n>`'s n (1 for `<stack>-schedule`).
fn rule_number(name: &str) -> usize {
    name.rsplit_once("-schedule-")
        .and_then(|(_, n)| n.parse().ok())
        .unwrap_or(1)
}

/// The settings the function's environment carries (see `desired::environment`).
fn derive_function(s: &mut Settings, env: &HashMap<String, String>, default_bucket: &str) {
    let var = |name: &str| env.get(name).map(String::as_str);
    s.keep = var("MAX_BACKUPS").and_then(|v| v.parse().ok());
    let bucket = var("LOG_BUCKET").filter(|b| *b != default_bucket);
    s.bucket = bucket.map(str::to_owned);
    s.max_age_days = Some(
        var("MAX_AGE_DAYS")
            .and_then(|v| v.parse().ok())
            .map_or(NumberOrOff::Off, NumberOrOff::Number),
    );
    let [daily, weekly, monthly, yearly] = GENERATION_VARS.map(|name| {
        Some(
            var(name)
                .and_then(|v| v.parse().ok())
                .map_or(NumberOrOff::Off, NumberOrOff::Number),
        )
    });
    (s.keep_daily, s.keep_weekly, s.keep_monthly, s.keep_yearly) = (daily, weekly, monthly, yearly);
    let period = |name: &str| {
        var(name)
            .and_then(backup_lambda::drill::parse_period)
            .map(period_text)
    };
    s.drill_every = Some(period("DRILL_EVERY").unwrap_or_else(|| "off".to_owned()));
    s.drill_timeout = period("DRILL_TIMEOUT");
    s.export = Some(match var("EXPORT_EVERY") {
        Some("daily") => ExportChoice::Daily,
        Some("weekly") => ExportChoice::Weekly,
        _ => ExportChoice::Off,
    });
    let own_bucket = var("LOG_BUCKET").unwrap_or(default_bucket);
    s.export_bucket = var("EXPORT_BUCKET")
        .filter(|b| *b != own_bucket)
        .map(str::to_owned);
    s.export_bucket_owner = var("EXPORT_BUCKET_OWNER").map(str::to_owned);
    s.export_bucket_region = var("EXPORT_BUCKET_REGION").map(str::to_owned);
    if var("EXPORT_MODE") == Some("incremental") {
        s.export_mode = Some(ExportModeChoice::Incremental);
        s.export_full_every = var("EXPORT_FULL_EVERY").map(str::to_owned);
        s.export_view = var("EXPORT_VIEW")
            .and_then(backup_lambda::export::ExportView::parse)
            .map(ExportViewChoice::of);
    }
}

/// The alert destinations: the stack's topic's e-mail subscriptions and its key, and the other
/// topics its alarms notify (with default settings no alarm is wanted, so every alarm of the
/// stack is among the stale ones).
fn derive_alerts(s: &mut Settings, observed: &Observed, desired: &Desired) {
    if let Some(topic) = &observed.topic {
        let mut emails: Vec<String> = Vec::new();
        for sub in topic
            .subscriptions
            .iter()
            .filter(|sub| sub.protocol == "email")
        {
            let address = sub.endpoint.to_ascii_lowercase();
            if !emails.contains(&address) {
                emails.push(address);
            }
        }
        s.alert_emails = Some(emails);
        s.alert_kms_key.clone_from(&topic.kms_key);
    }
    let mut topics: Vec<String> = Vec::new();
    for (_, alarm) in &observed.stale_alarms {
        for action in alarm.alarm_actions.iter().chain(&alarm.ok_actions) {
            if *action != desired.topic.arn && !topics.contains(action) {
                topics.push(action.clone());
            }
        }
    }
    s.alert_topics = Some(topics);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_functions_environment_gives_back_its_settings() {
        let env: HashMap<String, String> = [
            ("MAX_BACKUPS", "7"),
            ("LOG_BUCKET", "custom-logs"),
            ("MAX_AGE_DAYS", "400"),
            ("KEEP_MONTHLY", "12"),
            ("DRILL_EVERY", "604800s"),
            ("DRILL_TIMEOUT", "43200s"),
            ("EXPORT_EVERY", "weekly"),
            ("EXPORT_BUCKET", "vault"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let mut s = Settings::default();
        derive_function(&mut s, &env, "s-logs-1-r");
        assert_eq!(s.keep, Some(7));
        assert_eq!(s.bucket.as_deref(), Some("custom-logs"));
        assert_eq!(s.max_age_days, Some(NumberOrOff::Number(400)));
        assert_eq!(s.keep_monthly, Some(NumberOrOff::Number(12)));
        assert_eq!(s.keep_daily, Some(NumberOrOff::Off));
        assert_eq!(s.drill_every.as_deref(), Some("7d"));
        assert_eq!(s.drill_timeout.as_deref(), Some("12h"));
        assert_eq!(s.export, Some(ExportChoice::Weekly));
        assert_eq!(s.export_bucket.as_deref(), Some("vault"));

        assert_eq!(rule_number("s-schedule"), 1);
        assert_eq!(rule_number("s-schedule-2"), 2);
        assert!(rule_number("s-schedule-10") > rule_number("s-schedule-9"));

        let mut plain = Settings::default();
        let env = HashMap::from([("LOG_BUCKET".to_owned(), "s-logs-1-r".to_owned())]);
        derive_function(&mut plain, &env, "s-logs-1-r");
        assert_eq!(plain.bucket, None, "the default name is no setting");
        assert_eq!(plain.export, Some(ExportChoice::Off));
        assert_eq!(plain.drill_every.as_deref(), Some("off"));
    }
}
