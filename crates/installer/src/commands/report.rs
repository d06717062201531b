//! `installer report`: what the backups achieved over a period, from the daily ledgers in the
//! log bucket, against a recovery point objective (and, with drills, a recovery time one).
//! Requests: one GetCallerIdentity, one DescribeRule (without `--rpo`), then per table one
//! ListObjectsV2 page per 1,000 days, one GetObject per day covered, the ListBackups pages, one
//! ListObjectsV2 page of export records per 1,000 periods and one GetObject per period covered.

use std::path::PathBuf;
use std::time::Duration;

use backup_lambda::drill::parse_period;
use backup_lambda::naming::TableName;
use backup_lambda::store::{BackupStore, DynamoDbBackups};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::CommandError;
use crate::aws::{Aws, AwsError, ConnectArgs};
use crate::compliance::assess::{self, Objectives, Retained, Window};
use crate::compliance::history::{self, Requests};
use crate::compliance::{Report, html};
use crate::deploy::config::{StackConfig, StackRef};
use crate::deploy::resources::function;
use crate::deploy::schedule::Schedule;

/// The report's own flags.
#[derive(Debug, Clone)]
pub struct ReportArgs {
    /// `--table`: the tables to report on (default: the stack's).
    pub tables: Vec<String>,
    /// How far back from `to`: `30d`.
    pub since: String,
    /// The start, instead of `since`.
    pub from: Option<String>,
    /// The end (default: now).
    pub to: Option<String>,
    /// The RPO (default: twice the schedule's interval).
    pub rpo: Option<String>,
    /// The RTO.
    pub rto: Option<String>,
    /// Where to write the HTML page.
    pub html: Option<PathBuf>,
    /// `--coverage`: judge every table of the account too.
    pub coverage: bool,
}

/// A moment from the command line: RFC 3339, or a day (`2026-11-01`, midnight UTC).
pub(super) fn moment(flag: &'static str, text: &str) -> Result<OffsetDateTime, CommandError> {
    OffsetDateTime::parse(text, &Rfc3339)
        .ok()
        .or_else(|| {
            time::Date::parse(
                text,
                time::macros::format_description!("[year]-[month]-[day]"),
            )
            .ok()
            .map(|d| d.midnight().assume_utc())
        })
        .ok_or_else(|| CommandError::NotATime {
            flag,
            text: text.to_owned(),
        })
}

pub(super) fn duration(flag: &'static str, text: &str) -> Result<Duration, CommandError> {
    parse_period(text)
        .filter(|d| !d.is_zero())
        .ok_or_else(|| CommandError::NotADuration {
            flag,
            text: text.to_owned(),
        })
}

/// The period, from the flags, checked before any request.
fn window(args: &ReportArgs, now: OffsetDateTime) -> Result<Window, CommandError> {
    let to = match &args.to {
        Some(text) => moment("--to", text)?,
        None => now,
    };
    let from = match &args.from {
        Some(text) => moment("--from", text)?,
        None => to - duration("--since", &args.since)?,
    };
    if from >= to {
        return Err(CommandError::EmptyPeriod);
    }
    Ok(Window { from, to })
}

/// The deployed rule's schedule (the stack's first rule), if it is deployed.
/// The stack's recovery point objective and where it comes from: `given` (`--rpo`), else
/// twice the longest gap between the deployed schedule's runs, read in the stack's zone (a night
/// the clocks skip a cron's time is a longer gap) with Scheduler's window (a run may start that
/// much late).
pub(super) async fn stack_rpo(
    aws: &Aws,
    config: &StackConfig,
    requests: &Requests,
    given: Option<std::time::Duration>,
) -> Result<(std::time::Duration, String), CommandError> {
    if let Some(rpo) = given {
        return Ok((rpo, "--rpo".to_owned()));
    }
    let expression = deployed_schedule(aws, config, requests)
        .await?
        .unwrap_or_else(|| config.schedule.to_string());
    let window = 60 * u64::from(config.schedule_window.unwrap_or(0));
    let interval = expression
        .parse::<Schedule>()
        .ok()
        .and_then(|s| s.in_zone(config.schedule.zone().clone()).interval())
        .map(|i| i + std::time::Duration::from_secs(window))
        .ok_or_else(|| CommandError::RpoUnknown(expression.clone()))?;
    Ok((interval * 2, format!("twice the schedule {expression}")))
}

async fn deployed_schedule(
    aws: &Aws,
    config: &StackConfig,
    requests: &Requests,
) -> Result<Option<String>, AwsError> {
    if config.schedule_via == crate::deploy::settings::ScheduleVia::Scheduler {
        let name = match (&config.table_tag, config.tables.first()) {
            (Some(_), _) => crate::deploy::resources::schedules::TAG_SCHEDULE.to_owned(),
            (None, Some(table)) => crate::deploy::resources::schedules::schedule_name(table),
            (None, None) => return Ok(None),
        };
        requests.add();
        let group = config.stack.as_str();
        return match crate::deploy::resources::schedules::read(aws, group, &name).await {
            Ok(found) => Ok(found.map(|entry| entry.expression)),
            Err(e) if e.is("ResourceNotFoundException") => Ok(None),
            Err(e) => Err(e),
        };
    }
    let Some(rule) = config.rule_names().into_iter().next() else {
        return Ok(None);
    };
    requests.add();
    match aws.events.describe_rule().name(&rule).send().await {
        Ok(out) => Ok(out.schedule_expression),
        Err(e) => {
            let err = AwsError::new("DescribeRule", rule.as_str(), &e);
            if err.is("ResourceNotFoundException") {
                Ok(None)
            } else {
                Err(err)
            }
        }
    }
}

/// The Object Lock of the bucket the stack exports to, when it is another bucket.
async fn export_lock(aws: &Aws, config: &StackConfig, requests: &Requests) -> Option<String> {
    let desired =
        crate::deploy::resources::export_bucket::Desired::of(config.export.as_ref(), &aws.account)?;
    requests.add();
    Some(
        crate::deploy::resources::export_bucket::lock(aws, &desired)
            .await
            .to_string(),
    )
}

/// `installer report`.
pub async fn report(
    stack: &StackRef,
    args: &ReportArgs,
    connect: &ConnectArgs,
) -> Result<Report, CommandError> {
    stack.name()?;
    let chosen = args
        .tables
        .iter()
        .map(|t| TableName::parse(t.trim()))
        .collect::<Result<Vec<_>, _>>()?;
    let window = window(args, OffsetDateTime::now_utc())?;
    let given_rpo = args
        .rpo
        .as_deref()
        .map(|t| duration("--rpo", t))
        .transpose()?;
    let rto = args
        .rto
        .as_deref()
        .map(|t| duration("--rto", t))
        .transpose()?;
    if let Some(path) = &args.html {
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
        if dir.is_some_and(|d| !d.is_dir()) {
            return Err(CommandError::HtmlFolderMissing(path.clone()));
        }
    }

    let (aws, config, _) = super::deployed_stack(stack, None, connect).await?;
    let requests = Requests::default();
    // Connecting asked STS who we are.
    requests.add();
    let (rpo, rpo_basis) = stack_rpo(&aws, &config, &requests, given_rpo).await?;
    let objectives = Objectives { rpo, rto };
    let bucket = config.bucket_name(&aws.account, &aws.region);
    let store = DynamoDbBackups::new(aws.dynamodb.clone());
    let owner = function::read_ownership(&aws, &config.stack).await?;
    let mut tables = Vec::new();
    let tables_to_read = if chosen.is_empty() {
        super::stack_tables(&config, &aws).await?
    } else {
        // Any table's ledgers in the stack's bucket: one the stack no longer backs up still has
        // its history.
        chosen
    };
    let incremental = config
        .export
        .as_ref()
        .is_some_and(|e| matches!(e.mode, backup_lambda::export::ExportMode::Incremental(_)));
    for table in &tables_to_read {
        report!("reading the ledgers of {table} in s3://{bucket}");
        let history = history::read(&aws.s3, &bucket, table.as_str(), window, &requests).await?;
        requests.add();
        let mut retained: Vec<Retained> = store
            .list_backups(table)
            .await?
            .into_iter()
            .filter(|b| owner.owns(table, b))
            .map(|b| Retained {
                created: b.created.format(&Rfc3339).unwrap_or_default(),
                age_seconds: (window.to - b.created)
                    .whole_seconds()
                    .max(0)
                    .unsigned_abs(),
                name: b.name,
            })
            .collect();
        retained.sort_by_key(|b| b.age_seconds);
        let (exports, mut skipped) =
            history::read_exports(&aws.s3, &bucket, table.as_str(), window, &requests).await?;
        // Chains are listed where the stack makes them (one more listing a table).
        let chains = if incremental {
            let (chains, left_out) =
                history::read_chains(&aws.s3, &bucket, table.as_str(), &requests).await?;
            skipped.extend(left_out);
            chains
        } else {
            Vec::new()
        };
        skipped.splice(0..0, history.skipped);
        let mut judged = assess::assess(
            table.as_str(),
            window,
            objectives,
            history.runs,
            history.drills,
            retained,
            skipped,
        );
        judged.exports = crate::compliance::exports::assess(window, exports);
        judged.export_chain = crate::compliance::chains::assess(window, &chains);
        tables.push(judged);
    }
    let coverage = if args.coverage {
        report!("judging every table's coverage");
        let judged =
            super::coverage::judge(&aws, &config, &requests, rpo, rpo_basis.clone(), None).await?;
        Some(judged)
    } else {
        None
    };
    let covered = coverage
        .as_ref()
        .is_none_or(|c| c.selected_uncovered.is_empty());
    let mut report = Report {
        stack: config.function_name().to_owned(),
        account: aws.account.clone(),
        region: aws.region.clone(),
        from: window.from,
        to: window.to,
        rpo_seconds: rpo.as_secs(),
        rpo_basis,
        rto_seconds: rto.map(|d| d.as_secs()),
        met: covered && tables.iter().all(|t| t.rpo_met && t.rto_met != Some(false)),
        tables,
        requests: requests.count(),
        html: None,
        export_bucket_lock: export_lock(&aws, &config, &requests).await,
        coverage,
    };
    if let Some(path) = &args.html {
        std::fs::write(path, html::render(&report)).map_err(|source| CommandError::HtmlWrite {
            path: path.display().to_string(),
            source,
        })?;
        report!("wrote {}", path.display());
        report.html = Some(path.display().to_string());
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn args() -> ReportArgs {
        ReportArgs {
            tables: Vec::new(),
            since: "30d".to_owned(),
            from: None,
            to: None,
            rpo: None,
            rto: None,
            html: None,
            coverage: false,
        }
    }

    #[test]
    fn the_period_comes_from_since_or_from_and_to() {
        let now = datetime!(2026-11-30 12:00 UTC);
        let w = window(&args(), now).unwrap();
        assert_eq!((w.from, w.to), (datetime!(2026-10-31 12:00 UTC), now));
        let given = ReportArgs {
            from: Some("2026-11-01".to_owned()),
            to: Some("2026-11-02T06:00:00Z".to_owned()),
            ..args()
        };
        let w = window(&given, now).unwrap();
        assert_eq!(
            (w.from, w.to),
            (
                datetime!(2026-11-01 00:00 UTC),
                datetime!(2026-11-02 06:00 UTC)
            )
        );
        for (bad, why) in [
            (
                ReportArgs {
                    since: "30".to_owned(),
                    ..args()
                },
                "--since \"30\" is not a duration",
            ),
            (
                ReportArgs {
                    from: Some("yesterday".to_owned()),
                    ..args()
                },
                "--from \"yesterday\"",
            ),
            (
                ReportArgs {
                    from: Some("2026-11-05".to_owned()),
                    to: Some("2026-11-01".to_owned()),
                    ..args()
                },
                "before --to",
            ),
        ] {
            let err = window(&bad, now).unwrap_err().to_string();
            assert!(err.contains(why), "{err}");
        }
    }
}
