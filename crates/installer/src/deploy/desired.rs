//! The stack as it should be: every resource's desired state, built from a validated
//! [`StackConfig`] and the account it goes into. Immutable once built, but for one decision
//! that depends on the account ([`Desired::settled`]).

use std::collections::HashMap;

use backup_lambda::ownership::{ADOPTED_UNTIL_VAR, STACK_NAME_VAR};
use backup_lambda::request::GENERATION_VARS;
use backup_lambda::zone::ZONE_VAR;
use time::format_description::well_known::Rfc3339;

use crate::aws::Aws;
use crate::build::package::Package;
use crate::deploy::alerts::{self, NoWindow};
use crate::deploy::config::{StackConfig, TARGETS_PER_RULE};
use crate::deploy::exports::EXPORT_PREFIX;
use crate::deploy::policy::{PolicyError, PolicyVars};
use crate::deploy::resources::{
    Tags, alarm, bucket, export_bucket, function, log_group, role, rule, schedules,
    settings_object, table, topic,
};
use crate::deploy::settings::ScheduleVia;
use crate::deploy::stack::Observed;
use backup_lambda::export::ExportMode;

/// Every resource of the stack, as it should be.
#[derive(Debug, Clone)]
pub struct Desired {
    /// The function's log group.
    pub log_group: log_group::Desired,
    /// The function's role.
    pub role: role::Desired,
    /// The run-record bucket.
    pub bucket: bucket::Desired,
    /// Another bucket exports go to (`--export-bucket`), checked but never changed.
    pub export_bucket: Option<export_bucket::Desired>,
    /// The tables backed up.
    pub tables: Vec<table::Desired>,
    /// The function.
    pub function: function::Desired,
    /// The schedule rules (one per five tables), their targets and invoke permissions; none
    /// when EventBridge Scheduler runs the schedule.
    pub rules: Vec<rule::Desired>,
    /// The rules the stack would have without Scheduler: deleted where they exist when it runs
    /// the schedule.
    pub retired_rules: Vec<rule::Desired>,
    /// The Scheduler schedule group and its schedules; made only when `scheduler_wanted`,
    /// deleted if it exists and is not.
    pub schedules: schedules::Desired,
    /// The role the schedules invoke the function with, under the same terms.
    pub scheduler_role: role::Desired,
    /// Whether EventBridge Scheduler runs the schedule (`--schedule-via scheduler`).
    pub scheduler_wanted: bool,
    /// The stack's alert topic; made only when `topic_wanted` (there are `--alert-email`
    /// addresses), deleted if it exists and is not.
    pub topic: topic::Desired,
    /// Whether the stack has a topic of its own.
    pub topic_wanted: bool,
    /// The alarms (none without alerts).
    pub alarms: Vec<alarm::Desired>,
    /// The settings recorded with the stack, written after everything else.
    pub settings: settings_object::Desired,
    /// Why the tables get no missing-backup alarm, when alerts are on but the schedule cannot
    /// be watched that way.
    pub no_missing_alarm: Option<NoWindow>,
    /// Why the tables get no missing-export alarm, when alerts and exports are on but the
    /// exports cannot be watched that way.
    pub no_export_missing_alarm: Option<NoWindow>,
    /// The stack's tags.
    pub tags: Tags,
    /// The longest time between two firings of the schedule, when known.
    pub schedule_interval: Option<std::time::Duration>,
    /// The region the stack is in.
    pub region: String,
    /// Whether the function restores (drills) or exports its tables, which needs the KMS keys
    /// of tables encrypted with one.
    pub reads_through_kms: bool,
    /// Whether the tables are chosen by tag (so unknown to `up`).
    pub by_tag: bool,
}

impl Desired {
    /// Builds every resource's desired state for `config` in `aws`'s account, deploying `zip`
    /// (`None` where no code is deployed: `down`, `status`). Fails only where a policy cannot be
    /// rendered or would be over IAM's size limit: before anything is written.
    pub fn new(config: &StackConfig, aws: &Aws, zip: Option<Package>) -> Result<Self, PolicyError> {
        let tags: Tags = config.tags().into_iter().collect();
        let bucket_name = config.bucket_name(&aws.account, &aws.region);
        let vars = PolicyVars {
            partition: aws.partition.clone(),
            region: aws.region.clone(),
            account: aws.account.clone(),
            stack: config.stack.to_string(),
            log_group: config.log_group(),
            bucket: bucket_name.clone(),
            tables: config.tables.iter().map(ToString::to_string).collect(),
            drill: config.drill.is_some(),
            export_bucket: config.export_bucket(&bucket_name).map(str::to_owned),
            table_tag: config
                .table_tag
                .as_ref()
                .map(|t| (t.key.clone(), t.value.clone())),
            tag_conditions: config.tag_conditions,
        };
        let role_name = config.role_name();
        let topic_name = alerts::topic_name(config.function_name());
        let topic = topic::Desired {
            arn: topic::arn(aws, &topic_name),
            policy: vars.alert_topic_policy(&topic_name)?.to_string(),
            kms_key: config.alerts.as_ref().and_then(|a| a.kms_key.clone()),
            emails: config
                .alerts
                .as_ref()
                .map(|a| a.emails.clone())
                .unwrap_or_default(),
            tags: tags.clone(),
            name: topic_name,
        };
        let topic_wanted = !topic.emails.is_empty();
        let watch = match &config.alerts {
            Some(settings) => {
                let mut actions = Vec::new();
                if topic_wanted {
                    actions.push(topic.arn.clone());
                }
                actions.extend(settings.topics.iter().cloned());
                alerts::alarms(config, &actions, &tags)
            }
            None => alerts::Watch {
                alarms: Vec::new(),
                no_missing_alarm: None,
                no_export_missing_alarm: None,
            },
        };
        Ok(Self {
            log_group: log_group::Desired {
                name: config.log_group(),
                retention_days: config.log_retention_days,
                tags: tags.clone(),
            },
            role: role::Desired {
                name: role_name.clone(),
                trust: vars.trust_policy()?,
                policy_name: config.policy_name(),
                policy: vars.function_policy()?,
                description: "Runs the scheduled DynamoDB backup function (managed by installer)",
                tags: tags.clone(),
            },
            scheduler_role: role::Desired {
                name: config.scheduler_role_name(),
                trust: vars.scheduler_trust_policy()?,
                policy_name: config.policy_name(),
                policy: vars.scheduler_policy()?,
                description: "Lets EventBridge Scheduler invoke the scheduled DynamoDB backup function (managed by installer)",
                tags: tags.clone(),
            },
            schedules: schedule_group(config, aws, &tags),
            scheduler_wanted: config.schedule_via == ScheduleVia::Scheduler,
            bucket: bucket::Desired {
                name: bucket_name.clone(),
                policy: if config.bucket_tls_only.unwrap_or(aws.tls) {
                    Some(vars.bucket_policy()?)
                } else {
                    None
                },
                expire_days: i32::try_from(config.log_expire_days.get()).unwrap_or(i32::MAX),
                // Another bucket's lifecycle is its owner's to set.
                exports: config
                    .export
                    .as_ref()
                    .filter(|e| e.bucket.is_none())
                    .map(|e| e.tiers),
                // Kept as long as the exports they name; where those are in another bucket
                // (whose lifecycle is its owner's), kept.
                chain_records_days: config.export.as_ref().and_then(|e| match e.mode {
                    ExportMode::Incremental(chain) if e.bucket.is_none() => {
                        i32::try_from(e.tiers.expire_days + chain.full_every_days).ok()
                    }
                    _ => None,
                }),
                tags: tags.clone(),
                default_name: config.bucket.is_none(),
            },
            export_bucket: export_bucket::Desired::of(config.export.as_ref(), &aws.account),
            tables: config
                .tables
                .iter()
                .map(|name| table::Desired {
                    name: name.clone(),
                    tags: tags.clone(),
                    pitr: if config.export.is_some() || config.pitr_days.is_some() {
                        table::Pitr::Needed {
                            elsewhere: config.enable_pitr,
                            days: config.pitr_days,
                        }
                    } else {
                        table::Pitr::NotNeeded
                    },
                })
                .collect(),
            function: function::Desired {
                name: config.function_name().to_owned(),
                role_arn: role::arn(aws, &role_name),
                zip,
                arch: config.arch,
                memory: i32::try_from(config.memory).unwrap_or(i32::MAX),
                timeout: i32::try_from(config.timeout).unwrap_or(i32::MAX),
                environment: environment(config, &bucket_name),
                tags: tags.clone(),
                // One target per named table; a tag's tables are one target, one invocation.
                concurrency: Some(function::concurrency_for(config.tables.len())),
                async_invoke: function::AsyncInvoke::for_schedule(config.schedule.interval()),
            },
            rules: match config.schedule_via {
                ScheduleVia::Rules => rules(config, aws, &tags),
                ScheduleVia::Scheduler => Vec::new(),
            },
            retired_rules: match config.schedule_via {
                ScheduleVia::Rules => Vec::new(),
                ScheduleVia::Scheduler => rules(config, aws, &tags),
            },
            settings: settings_object::Desired {
                bucket: bucket_name.clone(),
                key: settings_object::key(config.stack.as_str()),
                document: settings_object::Document::new(
                    config.stack.as_str(),
                    config.settings.clone(),
                ),
            },
            topic,
            topic_wanted,
            alarms: watch.alarms,
            no_missing_alarm: watch.no_missing_alarm,
            no_export_missing_alarm: watch.no_export_missing_alarm,
            tags,
            schedule_interval: config.longest_gap(),
            region: aws.region.clone(),
            reads_through_kms: config.drill.is_some() || config.export.is_some(),
            by_tag: config.table_tag.is_some(),
        })
    }

    /// The same stack, settled against the account: the reservation is what the account has
    /// room for (its free reservable executions plus what the function holds already); with no
    /// room at all the function goes without one, with fewer than wanted it takes what there is,
    /// each with a warning, rather than failing. Call before planning.
    pub fn settled(mut self, observed: &Observed) -> Self {
        let held = observed
            .function
            .as_ref()
            .and_then(|f| f.concurrency)
            .unwrap_or(0);
        if let (Some(wanted), Some(free)) = (self.function.concurrency, observed.reservable) {
            let room = free + held;
            if room < 1 {
                self.function.concurrency = None;
                tracing::warn!(
                    "this account's Lambda concurrency limit leaves none to reserve, so scheduled runs are not kept from overlapping; ask AWS to raise the limit to reserve one"
                );
            } else if room < wanted {
                self.function.concurrency = Some(room);
                tracing::warn!(
                    "this account's Lambda concurrency limit leaves {room} of the {wanted} executions wanted to reserve; the tables' runs queue behind each other"
                );
            }
        }
        self.use_the_tables_kms_keys(observed);
        // An adoption stays until adopted again: `up` without --adopt-backups keeps it.
        if let Some(until) = observed
            .function
            .as_ref()
            .and_then(|f| f.environment.get(ADOPTED_UNTIL_VAR))
        {
            self.function
                .environment
                .entry(ADOPTED_UNTIL_VAR.to_owned())
                .or_insert_with(|| until.clone());
        }
        let targets = if self.scheduler_wanted {
            self.schedules.entries.len()
        } else {
            self.rules.iter().map(|r| r.targets.len()).sum::<usize>()
        };
        let drills = self.function.environment.contains_key("DRILL_EVERY");
        if let Some(interval) = self.schedule_interval
            && let Some(queue) = function::queue_time(targets, self.function.concurrency, drills)
            && queue > interval
        {
            tracing::warn!(
                "{targets} tables' runs may take about {} s in all at {} at once, longer than the schedule's {} s between runs: runs will drift and Lambda drops events older than {} s; choose a longer --schedule or split the tables across stacks",
                queue.as_secs(),
                self.function.concurrency.unwrap_or(1),
                interval.as_secs(),
                self.function.async_invoke.max_event_age_seconds
            );
        }
        self
    }

    /// With drills or exports, lets the role use the KMS keys the tables are encrypted with
    /// (through DynamoDB only); tables chosen by tag are not known here, so `up` says what to
    /// grant instead.
    fn use_the_tables_kms_keys(&mut self, observed: &Observed) {
        if !self.reads_through_kms {
            return;
        }
        if let Some(bucket) = &self.export_bucket {
            tracing::info!(
                "if the export bucket {} is encrypted with a customer managed KMS key (SSE-KMS), grant {} kms:GenerateDataKey and kms:Decrypt on it with kms:ViaService s3.{}.amazonaws.com, and let the key's policy allow it",
                bucket.name,
                self.role.name,
                self.region
            );
        }
        if self.by_tag {
            tracing::warn!(
                "drills and exports of tables encrypted with a customer managed KMS key need the role to use that key: tables chosen by tag are not known to up, so grant {} kms:CreateGrant, Decrypt, DescribeKey, Encrypt, GenerateDataKey* and ReEncrypt* on such keys with kms:ViaService dynamodb.{}.amazonaws.com",
                self.role.name,
                self.region
            );
            return;
        }
        let mut keys: Vec<String> = observed
            .tables
            .iter()
            .flatten()
            .filter_map(|t| t.kms_key.clone())
            .collect();
        keys.sort();
        keys.dedup();
        if keys.is_empty() {
            return;
        }
        if let Some(statements) = self.role.policy["Statement"].as_array_mut() {
            statements.push(crate::deploy::policy::kms_through_dynamodb(
                &self.region,
                &keys,
            ));
        }
    }

    /// The function's ARN.
    pub fn function_arn(&self) -> &str {
        self.rules
            .first()
            .map_or_else(|| self.function.name.as_str(), |r| &r.function_arn)
    }
}

/// The function's environment: `MAX_BACKUPS`, `LOG_BUCKET`, with an age limit `MAX_AGE_DAYS`,
/// with generations `KEEP_DAILY`, `KEEP_WEEKLY`, `KEEP_MONTHLY`, `KEEP_YEARLY`,
/// with drills `DRILL_EVERY` and `DRILL_TIMEOUT`, and with exports `EXPORT_EVERY`,
/// `EXPORT_BUCKET`, `EXPORT_PREFIX` (and `EXPORT_BUCKET_OWNER` for another account's bucket,
/// `EXPORT_BUCKET_REGION` for one in another region;
/// `EXPORT_MODE`, `EXPORT_FULL_EVERY` and `EXPORT_VIEW` for incremental chains).
fn environment(config: &StackConfig, bucket: &str) -> HashMap<String, String> {
    let mut environment = HashMap::from([
        (STACK_NAME_VAR.to_owned(), config.stack.to_string()),
        ("MAX_BACKUPS".to_owned(), config.keep.to_string()),
        ("LOG_BUCKET".to_owned(), bucket.to_owned()),
    ]);
    if config.adopt_backups {
        let now = time::OffsetDateTime::now_utc().replace_nanosecond(0);
        let now = now.unwrap_or_else(|_| time::OffsetDateTime::now_utc());
        let until = now.format(&Rfc3339).unwrap_or_default();
        environment.insert(ADOPTED_UNTIL_VAR.to_owned(), until);
    }
    if let Some(days) = config.max_age_days {
        environment.insert("MAX_AGE_DAYS".to_owned(), days.to_string());
    }
    if !config.schedule.zone().is_utc() {
        environment.insert(
            ZONE_VAR.to_owned(),
            config.schedule.zone().name().to_owned(),
        );
    }
    for (var, count) in GENERATION_VARS.into_iter().zip(config.generations.counts()) {
        if let Some(count) = count {
            environment.insert(var.to_owned(), count.to_string());
        }
    }
    if let Some(drill) = config.drill {
        let seconds = |d: std::time::Duration| format!("{}s", d.as_secs());
        environment.insert("DRILL_EVERY".to_owned(), seconds(drill.every));
        environment.insert("DRILL_TIMEOUT".to_owned(), seconds(drill.timeout));
    }
    if let (Some(export), Some(export_bucket)) = (&config.export, config.export_bucket(bucket)) {
        environment.extend([
            ("EXPORT_EVERY".to_owned(), export.every.as_str().to_owned()),
            ("EXPORT_BUCKET".to_owned(), export_bucket.to_owned()),
            ("EXPORT_PREFIX".to_owned(), EXPORT_PREFIX.to_owned()),
        ]);
        if let Some(owner) = &export.bucket_owner {
            environment.insert("EXPORT_BUCKET_OWNER".to_owned(), owner.clone());
        }
        if let Some(region) = &export.bucket_region {
            environment.insert("EXPORT_BUCKET_REGION".to_owned(), region.clone());
        }
        if let ExportMode::Incremental(chain) = export.mode {
            environment.extend([
                ("EXPORT_MODE".to_owned(), "incremental".to_owned()),
                (
                    "EXPORT_FULL_EVERY".to_owned(),
                    format!("{}d", chain.full_every_days),
                ),
                ("EXPORT_VIEW".to_owned(), chain.view.as_str().to_owned()),
            ]);
        }
    }
    environment
}

/// The stack's schedule group: one schedule per table, or one for the tag, each sending what
/// the rules would.
fn schedule_group(config: &StackConfig, aws: &Aws, tags: &Tags) -> schedules::Desired {
    let group = config.stack.to_string();
    let inputs: Vec<(String, String)> = match &config.table_tag {
        Some(tag) => vec![(schedules::TAG_SCHEDULE.to_owned(), rule::tag_input(tag))],
        None => config
            .tables
            .iter()
            .map(|t| (schedules::schedule_name(t), rule::target_input(t)))
            .collect(),
    };
    let mut entries: Vec<schedules::Entry> = inputs
        .into_iter()
        .map(|(name, input)| schedules::Entry {
            name,
            expression: config.schedule.as_str().to_owned(),
            zone: config.schedule.zone().name().to_owned(),
            window: config.schedule_window.and_then(|m| i32::try_from(m).ok()),
            input,
            function_arn: format!(
                "arn:{}:lambda:{}:{}:function:{}",
                aws.partition,
                aws.region,
                aws.account,
                config.function_name()
            ),
            role_arn: role::arn(aws, &config.scheduler_role_name()),
            event_age: schedules::event_age(config.schedule.shortest_interval()),
            enabled: true,
        })
        .collect();
    entries.sort();
    schedules::Desired {
        arn: schedules::arn(aws, &group),
        group,
        tags: tags.clone(),
        entries,
    }
}

/// One rule per [`TARGETS_PER_RULE`] tables, each targeting the function once per table.
fn rules(config: &StackConfig, aws: &Aws, tags: &Tags) -> Vec<rule::Desired> {
    let function_name = config.function_name();
    let function_arn = format!(
        "arn:{}:lambda:{}:{}:function:{function_name}",
        aws.partition, aws.region, aws.account
    );
    // Tables chosen by tag: one rule, one target sending the tag.
    let by_tag = config
        .table_tag
        .as_ref()
        .map(|tag| vec![(rule::TAG_TARGET_ID.to_owned(), rule::tag_input(tag))]);
    let targets: Vec<Vec<(String, String)>> = match by_tag {
        Some(target) => vec![target],
        None => config
            .tables
            .chunks(TARGETS_PER_RULE)
            .map(|tables| {
                tables
                    .iter()
                    .map(|t| (rule::target_id(t), rule::target_input(t)))
                    .collect()
            })
            .collect(),
    };
    config
        .rule_names()
        .into_iter()
        .zip(targets)
        .map(|(name, targets)| rule::Desired {
            arn: rule::arn(aws, &name),
            schedule: config.schedule.as_str().to_owned(),
            function_name: function_name.to_owned(),
            function_arn: function_arn.clone(),
            targets,
            statement_id: format!("{name}-invoke"),
            tags: tags.clone(),
            name,
        })
        .collect()
}
