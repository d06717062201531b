//! `installer coverage`: every table of the account and region (or those carrying `--tag`), each
//! with whether the stack backs it up, its newest backup of any kind, its point-in-time recovery
//! and deletion protection, and a verdict against the stack's recovery point objective; exit 3
//! when a table the stack selects is not covered.
//!
//! One pass, paced: ListTables (100 a page), the account's backups listed once (ListBackups
//! without a table, `ALL`, 100 a page at five a second), then each table's DescribeTable and
//! DescribeContinuousBackups, eight tables at a time; ListTagsOfResource (ten a second) only
//! for `--tag`, and for a stack that chooses its tables by tag.

use std::collections::{HashMap, HashSet};

use backup_lambda::naming::TableName;
use backup_lambda::pace::Pacers;
use backup_lambda::retention::{Backup, BackupKind};
use backup_lambda::select::TableTag;
use backup_lambda::store::{BackupStore, DynamoDbBackups};
use futures::{StreamExt, stream};
use time::OffsetDateTime;

use super::CommandError;
use crate::aws::{Aws, AwsError, ConnectArgs};
use crate::compliance::coverage::{self, ChainState, Coverage, NewestBackup, Pitr, TableCoverage};
use crate::compliance::history::Requests;
use crate::deploy::config::{StackConfig, StackRef};

/// Tables read at once.
const CONCURRENCY: usize = 8;

/// `coverage`'s own flags.
#[derive(Debug, Clone)]
pub struct CoverageArgs {
    /// `--rpo`: the objective, instead of twice the schedule's interval.
    pub rpo: Option<String>,
    /// `--tag KEY=VALUE`: only the tables carrying it.
    pub tag: Option<String>,
}

/// `installer coverage`.
pub async fn coverage(
    stack: &StackRef,
    args: &CoverageArgs,
    connect: &ConnectArgs,
) -> Result<Coverage, CommandError> {
    let given_rpo = args
        .rpo
        .as_deref()
        .map(|t| super::report::duration("--rpo", t))
        .transpose()?;
    let tag = args.tag.as_deref().map(parse_tag).transpose()?;
    let (aws, config, _) = super::deployed_stack(stack, None, connect).await?;
    let requests = Requests::default();
    requests.add();
    let (rpo, rpo_basis) = super::report::stack_rpo(&aws, &config, &requests, given_rpo).await?;
    let result = judge(&aws, &config, &requests, rpo, rpo_basis, tag).await?;
    for line in coverage::lines(&result) {
        result!("{line}");
    }
    Ok(result)
}

/// Judges every table of the account and region (or those carrying `tag`) against `rpo`, for
/// the stack `config`: `coverage` and `report --coverage`.
pub(super) async fn judge(
    aws: &Aws,
    config: &StackConfig,
    requests: &Requests,
    rpo: std::time::Duration,
    rpo_basis: String,
    tag: Option<TableTag>,
) -> Result<Coverage, CommandError> {
    let store = DynamoDbBackups::new(aws.dynamodb.clone()).every_kind();
    let pacers = Pacers::default();

    let selected: HashSet<String> = super::stack_tables(config, aws)
        .await?
        .iter()
        .map(ToString::to_string)
        .collect();
    let tables: Vec<TableName> = match &tag {
        Some(tag) => {
            let found = backup_lambda::select::tagged_tables(&store, tag, &pacers.tags).await?;
            for (table, e) in &found.unreadable {
                report!("could not read the tags of {table}, left out: {e}");
            }
            found.tables
        }
        None => store.list_tables().await?,
    };
    let newest = newest_backups(&store, &pacers, requests).await?;
    // Chains are read where the stack makes them: its selected tables' chain records.
    let chains_in = config
        .export
        .as_ref()
        .is_some_and(|e| matches!(e.mode, backup_lambda::export::ExportMode::Incremental(_)))
        .then(|| config.bucket_name(&aws.account, &aws.region));
    let chains_in = chains_in.as_deref();
    let now = OffsetDateTime::now_utc();
    let read: Vec<Result<TableCoverage, AwsError>> = stream::iter(&tables)
        .map(|table| {
            let store = &store;
            let newest = newest.get(table.as_str()).cloned();
            let selected = selected.contains(table.as_str());
            async move {
                let chain = match chains_in.filter(|_| selected) {
                    Some(bucket) => Some(chain_state(aws, bucket, table, requests).await?),
                    None => None,
                };
                let facts = Facts {
                    newest,
                    selected,
                    chain,
                };
                read_table(aws, store, requests, table, facts, rpo, now).await
            }
        })
        .buffered(CONCURRENCY)
        .collect()
        .await;
    let mut covered = Vec::with_capacity(read.len());
    for table in read {
        covered.push(table?);
    }
    let (selected_uncovered, unselected_uncovered) = Coverage::tally(&covered);
    Ok(Coverage {
        stack: config.stack.to_string(),
        account: aws.account.clone(),
        region: aws.region.clone(),
        rpo_seconds: rpo.as_secs(),
        rpo_basis,
        tag: tag.map(|t| t.to_string()),
        tables: covered,
        selected_uncovered,
        unselected_uncovered,
        requests: requests.count(),
    })
}

/// `--tag KEY=VALUE`, checked as the function checks an event's `TableTag`.
fn parse_tag(text: &str) -> Result<TableTag, CommandError> {
    let bad = || CommandError::CoverageTag(text.to_owned());
    let (key, value) = text.split_once('=').ok_or_else(bad)?;
    let event = serde_json::json!({"TableTag": {"Key": key, "Value": value}});
    TableTag::from_event(&event).ok().flatten().ok_or_else(bad)
}

/// The newest backup of every table that has one, from one listing of the account (each page
/// at the ListBackups pacer's turn).
async fn newest_backups(
    store: &DynamoDbBackups,
    pacers: &Pacers,
    requests: &Requests,
) -> Result<HashMap<String, Backup>, AwsError> {
    let before_page = || {
        requests.add();
        pacers.list.wait()
    };
    let listed = store
        .list_account_backups_paced(before_page, None)
        .await?
        .unwrap_or_default();
    let mut newest: HashMap<String, Backup> = HashMap::new();
    for (table, backup) in listed {
        let newer = newest
            .get(&table)
            .is_none_or(|known| backup.created > known.created);
        if newer {
            newest.insert(table, backup);
        }
    }
    Ok(newest)
}

/// What is known of a table before its own reads.
struct Facts {
    /// Its newest backup, from the account's listing.
    newest: Option<Backup>,
    /// Whether the stack backs it up.
    selected: bool,
    /// Its export chains, for a selected table of a stack that makes them.
    chain: Option<ChainState>,
}

/// `table`'s incremental export chains as recorded in the stack's bucket: how many, the newest
/// moment they restore, and the windows they lost.
async fn chain_state(
    aws: &Aws,
    bucket: &str,
    table: &TableName,
    requests: &Requests,
) -> Result<ChainState, AwsError> {
    let (chains, _) =
        crate::compliance::history::read_chains(&aws.s3, bucket, table.as_str(), requests).await?;
    Ok(ChainState {
        chains: chains.len(),
        newest_point: chains
            .iter()
            .filter_map(|c| c.points().last().copied())
            .max(),
        lost_windows: chains.iter().map(|c| c.gaps.len()).sum(),
    })
}

/// One table's facts and verdict: DescribeTable (deletion protection) and
/// DescribeContinuousBackups (its recovery window).
async fn read_table(
    aws: &Aws,
    store: &DynamoDbBackups,
    requests: &Requests,
    table: &TableName,
    facts: Facts,
    rpo: std::time::Duration,
    now: OffsetDateTime,
) -> Result<TableCoverage, AwsError> {
    let Facts {
        newest,
        selected,
        chain,
    } = facts;
    requests.add();
    let described = aws
        .dynamodb
        .describe_table()
        .table_name(table.as_str())
        .send()
        .await;
    let deletion_protection = match described {
        Ok(out) => out
            .table()
            .and_then(|t| t.deletion_protection_enabled())
            .unwrap_or(false),
        Err(e) => {
            let err = AwsError::new("DescribeTable", table.as_str(), &e);
            // Deleted since it was listed: nothing to cover.
            if !err.is("ResourceNotFoundException") {
                return Err(err);
            }
            false
        }
    };
    requests.add();
    let pitr = match store.recovery_window(table.as_str()).await {
        Ok(window) => window.map(|w| Pitr {
            earliest: w.earliest,
            latest: w.latest,
            days: ((w.latest - w.earliest).whole_seconds() as f64 / 86_400.0 * 10.0).round() / 10.0,
        }),
        Err(e) if e.is("TableNotFoundException") => None,
        Err(e) => return Err(e),
    };
    let newest_backup = newest.map(|b| NewestBackup {
        age_seconds: u64::try_from((now - b.created).whole_seconds()).unwrap_or(0),
        kind: match b.kind {
            BackupKind::User => "USER",
            BackupKind::System => "SYSTEM",
            BackupKind::AwsBackup => "AWS_BACKUP",
            BackupKind::Unknown => "UNKNOWN",
        }
        .to_owned(),
        name: b.name,
        created: b.created,
    });
    let (verdict, covered_by) = coverage::verdict(
        newest_backup.as_ref(),
        pitr.as_ref(),
        chain.as_ref(),
        rpo,
        now,
    );
    Ok(TableCoverage {
        table: table.to_string(),
        selected,
        newest_backup,
        pitr,
        deletion_protection,
        export_chain: chain,
        verdict,
        covered_by,
    })
}
