//! The tables backed up. A missing table is created in the tutorial's shape (`year` N hash key,
//! `title` S range key, on-demand billing) and tagged as the stack's; an existing table that is
//! not the stack's is backed up but never modified or deleted, with one exception the user asks
//! for by name: with exports on and `--enable-pitr`, point-in-time recovery (which exports need)
//! is turned on for it. Without `--enable-pitr` such a table without PITR is refused.

use std::time::Duration;

use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BackupStatus, BillingMode, KeySchemaElement, KeyType,
    PointInTimeRecoveryStatus, ScalarAttributeType, TableDescription, TableStatus, Tag,
};
use backup_lambda::naming::TableName;
use backup_lambda::ownership::Ownership;
use backup_lambda::retention::{Backup, BackupState};
use backup_lambda::store::{BackupStore, DynamoDbBackups};

use crate::aws::{Aws, AwsError, AwsResult};
use crate::data::{loader, movies};
use crate::deploy::plan::{Change, Kind};
use crate::deploy::resources::{Resource, Tags, absent_if, is_ours};

/// A table, as a [`Resource`]: created (with the built-in sample) or used as it is; only its
/// point-in-time recovery is ever changed.
pub struct Table;

fields! {
    /// Point-in-time recovery, turned on for exports or `--pitr-days`, or its recovery period.
    PointInTimeRecovery => "point-in-time recovery",
}

/// Whether the stack needs point-in-time recovery on a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pitr {
    /// No (no exports).
    NotNeeded,
    /// Yes, for exports or `--pitr-days`; `elsewhere`: it may be turned on for a table the
    /// stack did not make (`--enable-pitr`).
    Needed {
        /// `--enable-pitr` was given.
        elsewhere: bool,
        /// The recovery period asked for (`None`: whatever it is, DynamoDB's 35 days when the
        /// stack turns it on).
        days: Option<u32>,
    },
}

/// A table's point-in-time recovery, as DescribeContinuousBackups tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PitrState {
    /// Whether it is on.
    pub enabled: bool,
    /// Its recovery period (`RecoveryPeriodInDays`), when on.
    pub days: Option<i32>,
}

/// A table as the stack wants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desired {
    /// Its name.
    pub name: TableName,
    /// The stack's tags, for a table the stack makes.
    pub tags: Tags,
    /// Whether it needs point-in-time recovery.
    pub pitr: Pitr,
}

impl Resource for Table {
    const KIND: Kind = Kind::Table;
    type Desired = Desired;
    type Observed = Option<Observed>;
    type Field = Field;

    fn name(desired: &Desired) -> &str {
        desired.name.as_str()
    }

    /// Reads the table, its tags and, where the stack needs it, its point-in-time recovery.
    async fn observe(aws: &Aws, desired: &Desired) -> Result<Option<Observed>, AwsError> {
        let Some(mut observed) = observe(aws, &desired.name).await? else {
            return Ok(None);
        };
        if desired.pitr != Pitr::NotNeeded {
            observed.pitr = Some(pitr_state(aws, &desired.name).await?);
        }
        Ok(Some(observed))
    }

    fn diff(desired: &Desired, observed: &Option<Observed>) -> Change<Field> {
        let Some(o) = observed else {
            return Change::Create;
        };
        let ours = is_ours(&o.tags, &desired.tags);
        let wrong = |state: Option<PitrState>, days: Option<u32>| match state {
            Some(state) if state.enabled => {
                days.is_some_and(|d| state.days != i32::try_from(d).ok())
            }
            _ => true,
        };
        match desired.pitr {
            Pitr::Needed { elsewhere, days } if wrong(o.pitr, days) => {
                if ours || elsewhere {
                    Change::Update(vec![Field::PointInTimeRecovery])
                } else {
                    let why = match days {
                        Some(days) => format!("--pitr-days {days} needs"),
                        None => "exports need".to_owned(),
                    };
                    Change::Conflict(format!(
                        "{why} point-in-time recovery on table {}, which this stack did not make; turn it on yourself or pass --enable-pitr (PITR is billed per GB-month of the table)",
                        desired.name
                    ))
                }
            }
            _ if ours => Change::Unchanged,
            _ => Change::UseExisting,
        }
    }

    async fn apply(
        aws: &Aws,
        desired: &Desired,
        _: &Option<Observed>,
        change: &Change<Field>,
    ) -> Result<(), AwsError> {
        let pitr = match change {
            Change::Create => {
                create(aws, &desired.name, &desired.tags).await?;
                load_sample(aws, &desired.name).await?;
                desired.pitr != Pitr::NotNeeded
            }
            Change::Update(fields) => fields.contains(&Field::PointInTimeRecovery),
            _ => false,
        };
        if pitr {
            let days = match desired.pitr {
                Pitr::Needed { days, .. } => days,
                Pitr::NotNeeded => None,
            };
            enable_pitr(aws, &desired.name, days).await?;
        }
        Ok(())
    }

    /// Deletes the table (already gone is fine).
    async fn delete(aws: &Aws, desired: &Desired) -> Result<(), AwsError> {
        let table = &desired.name;
        let name = table.as_str();
        absent_if(
            aws.dynamodb
                .delete_table()
                .table_name(name)
                .send()
                .await
                .aws("DeleteTable", name),
            &["ResourceNotFoundException"],
        )
        .map(drop)
    }
}

/// The existing table whose name is nearest to `missing` (a typo's likely target): ListTables,
/// every page. Only asked once `up` has found `missing` absent.
pub async fn nearest(aws: &Aws, missing: &TableName) -> Result<Option<TableName>, AwsError> {
    let tables = DynamoDbBackups::new(aws.dynamodb.clone())
        .list_tables()
        .await?;
    Ok(nearest_name(missing, &tables).cloned())
}

/// The name in `names` closest to `missing` by edit distance (ignoring case), if it is close
/// enough to be a typo of it: at most a third of its characters differ, and never more than 3.
fn nearest_name<'a>(missing: &TableName, names: &'a [TableName]) -> Option<&'a TableName> {
    let wanted = missing.as_str().to_ascii_lowercase();
    let limit = (wanted.len() / 3).clamp(1, 3);
    names
        .iter()
        .map(|name| {
            let distance = strsim::levenshtein(&wanted, &name.as_str().to_ascii_lowercase());
            (distance, name)
        })
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, name)| (*distance, name.as_str()))
        .map(|(_, name)| name)
}

/// Loads the built-in sample movies into a table the stack just made.
async fn load_sample(aws: &Aws, table: &TableName) -> Result<(), AwsError> {
    let records = movies::parse("built-in sample", movies::BUILT_IN.as_bytes())
        .map_err(|e| AwsError::malformed("BatchWriteItem", table.as_str(), &e.to_string()))?;
    let report = loader::load(
        aws,
        table.as_str(),
        records.items,
        4,
        &indicatif::ProgressBar::hidden(),
    )
    .await?;
    if report.failed > 0 {
        return Err(AwsError::malformed(
            "BatchWriteItem",
            table.as_str(),
            &format!("{} sample items were never processed", report.failed),
        ));
    }
    report!("  loaded {} sample movies into {table}", report.loaded);
    Ok(())
}

/// How long `up` waits for a new table to become ACTIVE.
const ACTIVE_TIMEOUT: Duration = Duration::from_secs(300);

/// The table's point-in-time recovery and its period (DescribeContinuousBackups).
async fn pitr_state(aws: &Aws, table: &TableName) -> Result<PitrState, AwsError> {
    let name = table.as_str();
    let out = aws
        .dynamodb
        .describe_continuous_backups()
        .table_name(name)
        .send()
        .await
        .aws("DescribeContinuousBackups", name)?;
    let description = out
        .continuous_backups_description()
        .and_then(|d| d.point_in_time_recovery_description());
    Ok(PitrState {
        enabled: description.and_then(|p| p.point_in_time_recovery_status())
            == Some(&PointInTimeRecoveryStatus::Enabled),
        days: description.and_then(|p| p.recovery_period_in_days()),
    })
}

/// Turns on point-in-time recovery, waiting while a new table's backups are being enabled
/// ([`crate::recovery::enable_pitr`]).
async fn enable_pitr(aws: &Aws, table: &TableName, days: Option<u32>) -> Result<(), AwsError> {
    crate::recovery::enable_pitr(&aws.dynamodb, table, days).await?;
    match days {
        Some(days) => {
            report!("  turned on point-in-time recovery for {table}, recovering {days} days back")
        }
        None => report!("  turned on point-in-time recovery for {table}"),
    }
    Ok(())
}

/// A table as it exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// Its ARN.
    pub arn: String,
    /// Its tags.
    pub tags: Tags,
    /// Point-in-time recovery, where it was read (only when the stack needs it).
    pub pitr: Option<PitrState>,
    /// The KMS key the table is encrypted with, when it is a KMS key (SSEType KMS: customer
    /// managed or `aws/dynamodb`), not one DynamoDB owns.
    pub kms_key: Option<String>,
}

/// Reads the table and its tags.
pub async fn observe(aws: &Aws, table: &TableName) -> Result<Option<Observed>, AwsError> {
    let Some(table) = describe(aws, table).await? else {
        return Ok(None);
    };
    // A table being deleted (by a `down` a moment ago) is as good as gone: `up` makes it anew
    // once it is.
    if table.table_status == Some(TableStatus::Deleting) {
        return Ok(None);
    }
    let kms_key = table
        .sse_description()
        .filter(|d| d.sse_type() == Some(&aws_sdk_dynamodb::types::SseType::Kms))
        .and_then(|d| d.kms_master_key_arn())
        .map(str::to_owned);
    let Some(arn) = table.table_arn else {
        return Ok(None);
    };
    // Every page: a table may have up to 50 tags and ListTagsOfResource pages them.
    let tags = DynamoDbBackups::new(aws.dynamodb.clone())
        .table_tags(&arn)
        .await?
        .into_iter()
        .collect();
    Ok(Some(Observed {
        arn,
        tags,
        pitr: None,
        kms_key,
    }))
}

/// Creates the table, tagged, and waits until it is ACTIVE.
async fn create(aws: &Aws, table: &TableName, tags: &Tags) -> Result<(), AwsError> {
    let name = table.as_str();
    let malformed = |e: aws_sdk_dynamodb::error::BuildError| {
        AwsError::malformed("CreateTable", name, &e.to_string())
    };
    let attribute = |attr: &str, kind| {
        AttributeDefinition::builder()
            .attribute_name(attr)
            .attribute_type(kind)
            .build()
            .map_err(malformed)
    };
    let key = |attr: &str, kind| {
        KeySchemaElement::builder()
            .attribute_name(attr)
            .key_type(kind)
            .build()
            .map_err(malformed)
    };
    let tags = tags
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build().map_err(malformed))
        .collect::<Result<Vec<_>, _>>()?;
    let request = aws
        .dynamodb
        .create_table()
        .table_name(name)
        .attribute_definitions(attribute("year", ScalarAttributeType::N)?)
        .attribute_definitions(attribute("title", ScalarAttributeType::S)?)
        .key_schema(key("year", KeyType::Hash)?)
        .key_schema(key("title", KeyType::Range)?)
        .billing_mode(BillingMode::PayPerRequest)
        .set_tags(Some(tags));
    loop {
        let err = match request.clone().send().await {
            Ok(_) => break,
            Err(e) => AwsError::new("CreateTable", name, &e),
        };
        if !err.is("ResourceInUseException") {
            return Err(err);
        }
        // The name is in use: by a table an earlier, interrupted run made (wait for it like a
        // new one), or by one still being deleted (wait until it is gone, then make it anew).
        if status(aws, table).await? != Some(TableStatus::Deleting) {
            break;
        }
        wait_deleted(aws, table).await?;
    }
    aws.dynamodb
        .wait_until_table_exists()
        .table_name(name)
        .wait(ACTIVE_TIMEOUT)
        .await
        .map(drop)
        .aws("DescribeTable (waiting for ACTIVE)", name)
}

/// The table as DescribeTable tells it, `None` when there is no such table.
async fn describe(aws: &Aws, table: &TableName) -> Result<Option<TableDescription>, AwsError> {
    let name = table.as_str();
    let described = absent_if(
        aws.dynamodb
            .describe_table()
            .table_name(name)
            .send()
            .await
            .aws("DescribeTable", name),
        &["ResourceNotFoundException"],
    )?;
    Ok(described.and_then(|d| d.table))
}

/// The table's status, `None` when there is no such table.
async fn status(aws: &Aws, table: &TableName) -> Result<Option<TableStatus>, AwsError> {
    Ok(describe(aws, table).await?.and_then(|t| t.table_status))
}

/// Waits until a table being deleted is gone, asking every second (deletion takes seconds to
/// minutes), for up to [`ACTIVE_TIMEOUT`].
async fn wait_deleted(aws: &Aws, table: &TableName) -> Result<(), AwsError> {
    let started = tokio::time::Instant::now();
    tracing::info!(table = %table, "waiting for the table's earlier deletion to finish");
    while status(aws, table).await?.is_some() {
        if started.elapsed() > ACTIVE_TIMEOUT {
            return Err(AwsError::malformed(
                "DescribeTable (waiting for deletion)",
                table.as_str(),
                "the table is still being deleted; run `up` again later",
            ));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    Ok(())
}

/// Every backup of `table` that is `owner`'s (see [`Ownership::owns`]), found with the
/// function's own paged listing.
pub async fn stack_backups(
    aws: &Aws,
    owner: &Ownership,
    table: &TableName,
) -> Result<Vec<Backup>, AwsError> {
    let listed = DynamoDbBackups::new(aws.dynamodb.clone())
        .list_backups(table)
        .await?;
    Ok(listed
        .into_iter()
        .filter(|b| owner.owns(table, b))
        .filter(|b| b.state != BackupState::Deleted)
        .collect())
}

/// How many of `table`'s backups are unmarked and not yet adopted by `owner` (what
/// `--adopt-backups` would adopt).
pub async fn unmarked_backups(
    aws: &Aws,
    owner: &Ownership,
    table: &TableName,
) -> Result<usize, AwsError> {
    let listed = DynamoDbBackups::new(aws.dynamodb.clone())
        .list_backups(table)
        .await?;
    Ok(listed
        .iter()
        .filter(|b| owner.could_adopt(table, b) && b.state != BackupState::Deleted)
        .count())
}

/// DeleteBackup may be called 10 times a second per account (API reference): start one at most
/// every 110 ms, a little under that, so that network jitter never bunches 11 into one second.
const DELETE_INTERVAL: Duration = Duration::from_millis(110);
/// How long `down` waits for one backup still being made (CREATING) before giving up on it.
const CREATING_PATIENCE: Duration = Duration::from_secs(900);

/// Deletes every backup of `table` that is `owner`'s; other backups are never touched.
/// Backups still being made are waited for (DynamoDB refuses to delete them), deletions are
/// paced to DynamoDB's rate limit, and a deletion refused as in use is tried again. Returns how
/// many were deleted.
pub async fn delete_stack_backups(
    aws: &Aws,
    owner: &Ownership,
    table: &TableName,
) -> Result<usize, AwsError> {
    let backups = stack_backups(aws, owner, table).await?;
    let mut next = tokio::time::Instant::now();
    for backup in &backups {
        tokio::time::sleep_until(next).await;
        delete_when_done(aws, backup).await?;
        next = tokio::time::Instant::now() + DELETE_INTERVAL;
    }
    Ok(backups.len())
}

/// Deletes one backup once it is no longer being made, asking every second (then up to every
/// 8 s) while DynamoDB says it is CREATING or in use, for up to [`CREATING_PATIENCE`].
async fn delete_when_done(aws: &Aws, backup: &Backup) -> Result<(), AwsError> {
    let store = DynamoDbBackups::new(aws.dynamodb.clone());
    let started = tokio::time::Instant::now();
    let mut pause = Duration::from_secs(1);
    let mut creating = backup.state == BackupState::Creating;
    loop {
        if creating {
            tracing::info!(backup = %backup.name, "waiting for the backup to finish before deleting it");
            creating = backup_state(aws, &backup.arn).await? == Some(BackupStatus::Creating);
        }
        if !creating {
            match store.delete_backup(&backup.arn).await {
                Ok(()) => return Ok(()),
                Err(e) if e.is("BackupNotFoundException") => return Ok(()),
                Err(e) if e.is("BackupInUseException") => {}
                Err(e) => return Err(e),
            }
        }
        if started.elapsed() > CREATING_PATIENCE {
            return Err(AwsError::malformed(
                "DeleteBackup",
                backup.arn.as_str(),
                "the backup is still being made; run `down` again later to finish",
            ));
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(8));
        creating = true;
    }
}

/// A backup's status (DescribeBackup), `None` when it is gone.
async fn backup_state(aws: &Aws, arn: &str) -> Result<Option<BackupStatus>, AwsError> {
    let described = absent_if(
        aws.dynamodb
            .describe_backup()
            .backup_arn(arn)
            .send()
            .await
            .aws("DescribeBackup", arn),
        &["BackupNotFoundException"],
    )?;
    Ok(described
        .and_then(|d| d.backup_description)
        .and_then(|d| d.backup_details)
        .map(|d| d.backup_status))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(all: &[&str]) -> Vec<TableName> {
        all.iter()
            .map(|n| TableName::parse(n).expect("valid"))
            .collect()
    }

    #[test]
    fn point_in_time_recovery_is_updated_when_off_or_of_another_period() {
        let ours: Tags = [("stack".to_owned(), "s".to_owned())].into_iter().collect();
        let desired = |days| Desired {
            name: TableName::parse("Orders").unwrap(),
            tags: ours.clone(),
            pitr: Pitr::Needed {
                elsewhere: false,
                days,
            },
        };
        let found = |enabled, days| {
            Some(Observed {
                arn: "arn:aws:dynamodb:r:a:table/Orders".into(),
                tags: ours.clone(),
                pitr: Some(PitrState { enabled, days }),
                kms_key: None,
            })
        };
        let update = Change::Update(vec![Field::PointInTimeRecovery]);
        assert_eq!(Table::diff(&desired(None), &found(false, None)), update);
        assert_eq!(
            Table::diff(&desired(None), &found(true, Some(35))),
            Change::Unchanged
        );
        assert_eq!(
            Table::diff(&desired(Some(7)), &found(true, Some(35))),
            update
        );
        assert_eq!(
            Table::diff(&desired(Some(7)), &found(true, Some(7))),
            Change::Unchanged
        );
        // Another's table: asked for, never changed without --enable-pitr.
        let theirs = Some(Observed {
            tags: Tags::new(),
            ..found(true, Some(35)).unwrap()
        });
        assert!(matches!(
            Table::diff(&desired(Some(7)), &theirs),
            Change::Conflict(_)
        ));
    }

    #[test]
    fn the_nearest_name_is_a_likely_typo_or_none() {
        let tables = names(&["Orders", "OrderLines", "Customers", "orders-archive"]);
        let nearest = |missing: &str| {
            nearest_name(&TableName::parse(missing).expect("valid"), &tables).map(TableName::as_str)
        };
        assert_eq!(nearest("Ordrs"), Some("Orders"));
        assert_eq!(nearest("orders"), Some("Orders"), "case is ignored");
        assert_eq!(nearest("Custmers"), Some("Customers"));
        assert_eq!(nearest("Invoices"), None, "nothing close");
        assert_eq!(nearest("abc"), None);
        assert_eq!(
            nearest_name(&TableName::parse("Ordrs").expect("valid"), &[]),
            None
        );
    }
}
