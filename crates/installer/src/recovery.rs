//! What `installer restore` asks of DynamoDB beyond the [`Tables`](backup_lambda::tables::Tables)
//! port it shares with the drill: restoring to a point in time and reading its window, turning
//! point-in-time recovery on, and putting back on a restored table what a restore drops
//! ([`reapply`]).

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    PointInTimeRecoveryDescription, PointInTimeRecoverySpecification, TimeToLiveSpecification,
    TimeToLiveStatus,
};
use backup_lambda::definition::TableDefinition;
use backup_lambda::error::{AwsError, AwsResult};
use backup_lambda::naming::TableName;
use backup_lambda::store::BackupStore;
use backup_lambda::tables::{TableState, Tables};
use serde::Serialize;
use time::OffsetDateTime;

/// Starts restoring `source` as it was at `at` into the new table `target`
/// (RestoreTableToPointInTime; the source needs point-in-time recovery).
pub async fn start_at(
    db: &Client,
    source: &TableName,
    at: time::OffsetDateTime,
    target: &TableName,
) -> Result<(), AwsError> {
    let when = aws_sdk_dynamodb::primitives::DateTime::from_nanos(at.unix_timestamp_nanos())
        .map_err(|e| {
            AwsError::malformed("RestoreTableToPointInTime", target.as_str(), &e.to_string())
        })?;
    db.restore_table_to_point_in_time()
        .source_table_name(source.as_str())
        .target_table_name(target.as_str())
        .restore_date_time(when)
        .send()
        .await
        .aws("RestoreTableToPointInTime", target.as_str())
        .map(drop)
}

/// The table's point-in-time recovery, when it is on.
async fn pitr(
    db: &Client,
    table: &TableName,
) -> Result<Option<PointInTimeRecoveryDescription>, AwsError> {
    let out = db
        .describe_continuous_backups()
        .table_name(table.as_str())
        .send()
        .await
        .aws("DescribeContinuousBackups", table.as_str())?;
    Ok(out
        .continuous_backups_description
        .and_then(|d| d.point_in_time_recovery_description)
        .filter(|p| {
            p.point_in_time_recovery_status()
                .is_some_and(|s| s.as_str() == "ENABLED")
        }))
}

/// The recovery period of `table`'s point-in-time recovery in days, when it is on (35, the
/// default, when DynamoDB does not say).
pub async fn pitr_days(db: &Client, table: &TableName) -> Result<Option<u32>, AwsError> {
    Ok(pitr(db, table).await?.map(|p| {
        p.recovery_period_in_days()
            .and_then(|d| u32::try_from(d).ok())
            .unwrap_or(35)
    }))
}

/// The window point-in-time recovery can restore `table` to (earliest, latest); `None` when it is
/// off.
pub async fn pitr_window(
    db: &Client,
    table: &TableName,
) -> Result<Option<(OffsetDateTime, OffsetDateTime)>, AwsError> {
    let Some(p) = pitr(db, table).await? else {
        return Ok(None);
    };
    let time = |t: Option<&aws_sdk_dynamodb::primitives::DateTime>| {
        t.and_then(|t| OffsetDateTime::from_unix_timestamp_nanos(t.as_nanos()).ok())
    };
    Ok(time(p.earliest_restorable_date_time()).zip(time(p.latest_restorable_date_time())))
}

/// How long [`enable_pitr`] keeps asking while DynamoDB says a new table's continuous backups
/// are not yet available.
pub const PITR_PATIENCE: std::time::Duration = std::time::Duration::from_secs(120);

/// Turns on point-in-time recovery of `table`. A table made a moment ago (created, restored or
/// imported) answers ContinuousBackupsUnavailableException until its backups are enabled
/// (UpdateContinuousBackups, API reference: "Backups have not yet been enabled for this
/// table."): asked again, every second then up to every 8 s, for [`PITR_PATIENCE`].
pub async fn enable_pitr(
    db: &Client,
    table: &TableName,
    days: Option<u32>,
) -> Result<(), AwsError> {
    let name = table.as_str();
    let spec = PointInTimeRecoverySpecification::builder()
        .point_in_time_recovery_enabled(true)
        .set_recovery_period_in_days(days.and_then(|d| i32::try_from(d).ok()))
        .build()
        .map_err(|e| AwsError::malformed("UpdateContinuousBackups", name, &e.to_string()))?;
    let started = tokio::time::Instant::now();
    let mut pause = std::time::Duration::from_secs(1);
    loop {
        let answer = db
            .update_continuous_backups()
            .table_name(name)
            .point_in_time_recovery_specification(spec.clone())
            .send()
            .await
            .aws("UpdateContinuousBackups", name);
        match answer {
            Ok(_) => return Ok(()),
            Err(e)
                if e.is("ContinuousBackupsUnavailableException")
                    && started.elapsed() + pause <= PITR_PATIENCE =>
            {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(std::time::Duration::from_secs(8));
            }
            Err(e) => return Err(e),
        }
    }
}

/// What [`reapply`] put back on the restored table (a restore keeps the data, keys and indexes,
/// but not these settings).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Reapplied {
    /// The source's time-to-live attribute, if it has TTL on.
    pub ttl_attribute: Option<String>,
    /// Point-in-time recovery, turned on as on the source.
    pub point_in_time_recovery: bool,
    /// Deletion protection, turned on as on the source.
    pub deletion_protection: bool,
    /// How many of the source's tags were copied.
    pub tags: usize,
}

/// Puts back on `target` what a restore drops and the source has: TTL, point-in-time recovery,
/// deletion protection and (with `tags`) its tags.
pub async fn reapply(
    db: &Client,
    source: &TableName,
    target: &TableName,
    tags: bool,
) -> Result<Reapplied, AwsError> {
    let (src, dst) = (source.as_str(), target.as_str());
    let mut done = Reapplied::default();
    if let Some((TimeToLiveStatus::Enabled, attribute)) = ttl(db, source).await? {
        put_ttl(db, target, &attribute).await?;
        done.ttl_attribute = Some(attribute);
    }
    if pitr(db, source).await?.is_some() {
        enable_pitr(db, target, None).await?;
        done.point_in_time_recovery = true;
    }
    let described = db
        .describe_table()
        .table_name(src)
        .send()
        .await
        .aws("DescribeTable", src)?;
    let source_table = described.table();
    if source_table.and_then(|t| t.deletion_protection_enabled()) == Some(true) {
        db.update_table()
            .table_name(dst)
            .deletion_protection_enabled(true)
            .send()
            .await
            .aws("UpdateTable", dst)?;
        done.deletion_protection = true;
    }
    if tags && let Some(arn) = source_table.and_then(|t| t.table_arn()) {
        done.tags = copy_tags(db, arn, target).await?;
    }
    Ok(done)
}

/// Puts back on `target` what the definition kept beside an export says of a source that no
/// longer exists: point-in-time recovery (DynamoDB exports only a table that has it on) and
/// deletion protection. Its TTL and tags are not in the definition, so they stay as an import
/// leaves them.
pub async fn reapply_from_definition(
    db: &Client,
    definition: &TableDefinition,
    target: &TableName,
) -> Result<Reapplied, AwsError> {
    let mut done = Reapplied::default();
    enable_pitr(db, target, None).await?;
    done.point_in_time_recovery = true;
    if definition.deletion_protection {
        db.update_table()
            .table_name(target.as_str())
            .deletion_protection_enabled(true)
            .send()
            .await
            .aws("UpdateTable", target.as_str())?;
        done.deletion_protection = true;
    }
    Ok(done)
}

/// The backup `backup_arn` as DescribeBackup describes it.
async fn describe_backup(
    db: &Client,
    backup_arn: &str,
) -> Result<aws_sdk_dynamodb::operation::describe_backup::DescribeBackupOutput, AwsError> {
    db.describe_backup()
        .backup_arn(backup_arn)
        .send()
        .await
        .aws("DescribeBackup", backup_arn)
}

/// Puts back on `target` what the backup `backup_arn` recorded of its source table, for a source
/// that no longer exists: its time-to-live attribute (DescribeBackup's
/// `SourceTableFeatureDetails.TimeToLiveDescription`). Point-in-time recovery, deletion
/// protection and tags are not in a backup's description, so they stay as a restore leaves them.
pub async fn reapply_from_backup(
    db: &Client,
    backup_arn: &str,
    target: &TableName,
) -> Result<Reapplied, AwsError> {
    let described = describe_backup(db, backup_arn).await?;
    let ttl = described
        .backup_description()
        .and_then(|d| d.source_table_feature_details())
        .and_then(|f| f.time_to_live_description())
        .filter(|t| t.time_to_live_status() == Some(&TimeToLiveStatus::Enabled))
        .and_then(|t| t.attribute_name());
    let mut done = Reapplied::default();
    if let Some(attribute) = ttl {
        put_ttl(db, target, attribute).await?;
        done.ttl_attribute = Some(attribute.to_owned());
    }
    Ok(done)
}

/// `table`'s time to live: its status and attribute, when it has one (DescribeTimeToLive).
pub(crate) async fn ttl(
    db: &Client,
    table: &TableName,
) -> Result<Option<(TimeToLiveStatus, String)>, AwsError> {
    let out = db
        .describe_time_to_live()
        .table_name(table.as_str())
        .send()
        .await
        .aws("DescribeTimeToLive", table.as_str())?;
    Ok(out
        .time_to_live_description
        .and_then(|d| d.time_to_live_status.zip(d.attribute_name)))
}

/// Turns on time to live on `target`, on `attribute`.
pub(crate) async fn put_ttl(
    db: &Client,
    target: &TableName,
    attribute: &str,
) -> Result<(), AwsError> {
    let dst = target.as_str();
    let spec = TimeToLiveSpecification::builder()
        .enabled(true)
        .attribute_name(attribute)
        .build()
        .map_err(|e| AwsError::malformed("UpdateTimeToLive", dst, &e.to_string()))?;
    db.update_time_to_live()
        .table_name(dst)
        .time_to_live_specification(spec)
        .send()
        .await
        .aws("UpdateTimeToLive", dst)
        .map(drop)
}

/// Copies the tags of the table `source_arn` onto `target`; returns how many.
async fn copy_tags(db: &Client, source_arn: &str, target: &TableName) -> Result<usize, AwsError> {
    // Every page (ListTagsOfResource: "NextToken ... fetches the next page of results").
    let tags = backup_lambda::store::DynamoDbBackups::new(db.clone())
        .table_tags(source_arn)
        .await?;
    put_tags(db, target, &tags).await?;
    Ok(tags.len())
}

/// Tags `target` with `tags` (TagResource, one call; none: no call).
pub(crate) async fn put_tags(
    db: &Client,
    target: &TableName,
    tags: &[(String, String)],
) -> Result<(), AwsError> {
    let dst = target.as_str();
    if tags.is_empty() {
        return Ok(());
    }
    let tags = tags
        .iter()
        .map(|(key, value)| {
            aws_sdk_dynamodb::types::Tag::builder()
                .key(key)
                .value(value)
                .build()
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| AwsError::malformed("TagResource", dst, &e.to_string()))?;
    let target_arn = db
        .describe_table()
        .table_name(dst)
        .send()
        .await
        .aws("DescribeTable", dst)?
        .table
        .and_then(|t| t.table_arn)
        .unwrap_or_default();
    db.tag_resource()
        .resource_arn(target_arn)
        .set_tags(Some(tags))
        .send()
        .await
        .aws("TagResource", dst)
        .map(drop)
}

/// How long a restore waits for its table to become ACTIVE (restores of large tables take
/// hours on AWS).
const ACTIVE_PATIENCE: std::time::Duration = std::time::Duration::from_secs(12 * 3600);

/// Waits until `table` is ACTIVE, saying each status it passes through.
pub(crate) async fn wait_active(tables: &impl Tables, table: &TableName) -> Result<(), AwsError> {
    let started = std::time::Instant::now();
    let mut last = None;
    loop {
        let status = tables.state(table).await?;
        if status == Some(TableState::Active) {
            return Ok(());
        }
        // Statuses a table does not leave by itself (DescribeTable, API reference,
        // TableStatus: "INACCESSIBLE_ENCRYPTION_CREDENTIALS - The KMS key used to encrypt the
        // table in inaccessible", "ARCHIVED - The table has been archived").
        if let Some(TableState::NotActive(stuck)) = &status
            && [
                "INACCESSIBLE_ENCRYPTION_CREDENTIALS",
                "ARCHIVING",
                "ARCHIVED",
            ]
            .contains(&stuck.as_str())
        {
            return Err(AwsError::malformed(
                "DescribeTable (waiting for ACTIVE)",
                table.as_str(),
                &format!("the table is {stuck}, which it does not leave by itself"),
            ));
        }
        if status != last {
            let shown = status
                .as_ref()
                .map_or_else(|| "not yet listed".to_owned(), ToString::to_string);
            report!(
                "  {table} is {shown} after {:.0}s",
                started.elapsed().as_secs_f64()
            );
            last = status;
        }
        if started.elapsed() > ACTIVE_PATIENCE {
            return Err(AwsError::malformed(
                "DescribeTable (waiting for ACTIVE)",
                table.as_str(),
                "the restored table is still not ACTIVE; check it later with `installer status`",
            ));
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}
