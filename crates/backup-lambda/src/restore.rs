//! Restoring a backup and proving it restored: which backup ([`choose`]), starting the restore
//! ([`start`]), waiting for the table ([`status`]), putting back what a restore drops
//! ([`reapply`]) and checking the data ([`verify`]). Shared by `installer restore` and the
//! restore drill, so that both prove a restore the same way.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeValue, BillingMode, KeySchemaElement, PointInTimeRecoveryDescription,
    PointInTimeRecoverySpecification, Select, TableStatus, TimeToLiveSpecification,
    TimeToLiveStatus,
};
use serde::Serialize;

use crate::error::{AwsError, AwsResult};
use crate::naming::TableName;
use crate::ownership::Whose;
use crate::retention::{Backup, BackupState};

/// Which backup to restore.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// The newest AVAILABLE one.
    Latest,
    /// The one with this name (the newest, should several share it).
    Named(String),
    /// The one with this ARN.
    Arn(String),
}

impl Choice {
    /// `latest`, an ARN (`arn:...`), or a name.
    pub fn parse(text: &str) -> Self {
        if text == "latest" {
            Choice::Latest
        } else if text.starts_with("arn:") {
            Choice::Arn(text.to_owned())
        } else {
            Choice::Named(text.to_owned())
        }
    }
}

/// Why no backup could be chosen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChoiceError {
    /// The table has no backup to restore.
    #[error(
        "table {table} has no {which} to restore; make one first (`installer invoke --table {table}`), or pass --any to consider backups this stack did not make"
    )]
    NoBackups {
        /// The table.
        table: String,
        /// "available backup", made by this stack or at all.
        which: &'static str,
    },
    /// No backup has that name or ARN.
    #[error(
        "table {table} has no {which} backup {wanted:?}; list them with `installer status --table {table}`"
    )]
    NotFound {
        /// The table.
        table: String,
        /// The name or ARN asked for.
        wanted: String,
        /// "available backup", made by this stack or at all.
        which: &'static str,
    },
    /// The ARN is of another table's backup.
    #[error(
        "backup {arn} is not a backup of table {table}; pass a backup of {table}, or --table for the table it belongs to"
    )]
    OtherTable {
        /// The table.
        table: String,
        /// The ARN given.
        arn: String,
    },
}

/// Picks the backup `choice` names among `backups` (the table's, as listed): AVAILABLE ones only
/// (a CREATING backup cannot be restored yet), and only those `whose` includes.
pub fn choose(
    table: &TableName,
    backups: &[Backup],
    choice: &Choice,
    whose: Whose<'_>,
) -> Result<Backup, ChoiceError> {
    let which = match whose {
        Whose::Any => "available backup",
        Whose::Stack(_) => "available backup made by this stack",
    };
    if let Choice::Arn(arn) = choice
        && !arn.contains(&format!(":table/{table}/backup/"))
    {
        return Err(ChoiceError::OtherTable {
            table: table.to_string(),
            arn: arn.clone(),
        });
    }
    let mut candidates: Vec<&Backup> = backups
        .iter()
        .filter(|b| b.state == BackupState::Available)
        .filter(|b| whose.includes(table, b))
        .collect();
    candidates.sort_by_key(|b| std::cmp::Reverse(b.created));
    let found = match choice {
        Choice::Latest => candidates.first(),
        Choice::Named(name) => candidates.iter().find(|b| &b.name == name),
        Choice::Arn(arn) => candidates.iter().find(|b| &b.arn == arn),
    };
    match (found, choice) {
        (Some(backup), _) => Ok((*backup).clone()),
        (None, Choice::Latest) => Err(ChoiceError::NoBackups {
            table: table.to_string(),
            which,
        }),
        (None, Choice::Named(wanted) | Choice::Arn(wanted)) => Err(ChoiceError::NotFound {
            table: table.to_string(),
            wanted: wanted.clone(),
            which,
        }),
    }
}

/// Starts restoring the backup `backup_arn` into the new table `target` (RestoreTableFromBackup).
pub async fn start(
    db: &Client,
    backup_arn: &str,
    target: &TableName,
    billing: Option<BillingMode>,
) -> Result<(), AwsError> {
    db.restore_table_from_backup()
        .backup_arn(backup_arn)
        .target_table_name(target.as_str())
        .set_billing_mode_override(billing)
        .send()
        .await
        .aws("RestoreTableFromBackup", target.as_str())
        .map(drop)
}

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

/// The window point-in-time recovery can restore `table` to, as Unix seconds (earliest,
/// latest); `None` when it is off.
pub async fn pitr_window(db: &Client, table: &TableName) -> Result<Option<(f64, f64)>, AwsError> {
    let Some(p) = pitr(db, table).await? else {
        return Ok(None);
    };
    let secs = |t: Option<&aws_sdk_dynamodb::primitives::DateTime>| t.map(|t| t.as_secs_f64());
    Ok(secs(p.earliest_restorable_date_time()).zip(secs(p.latest_restorable_date_time())))
}

/// The table's status, `None` when there is no such table.
pub async fn status(db: &Client, table: &TableName) -> Result<Option<TableStatus>, AwsError> {
    match db.describe_table().table_name(table.as_str()).send().await {
        Ok(out) => Ok(out.table.and_then(|t| t.table_status)),
        Err(e) => {
            let err = AwsError::new("DescribeTable", table.as_str(), &e);
            if err.is("ResourceNotFoundException") {
                Ok(None)
            } else {
                Err(err)
            }
        }
    }
}

/// How long [`enable_pitr`] keeps asking while DynamoDB says a new table's continuous backups
/// are not yet available.
pub const PITR_PATIENCE: std::time::Duration = std::time::Duration::from_secs(120);

/// Turns on point-in-time recovery of `table`. A table made a moment ago (created, restored or
/// imported) answers ContinuousBackupsUnavailableException until its backups are enabled
/// (UpdateContinuousBackups, API reference: "Backups have not yet been enabled for this
/// table."): asked again, every second then up to every 8 s, for [`PITR_PATIENCE`].
pub async fn enable_pitr(db: &Client, table: &TableName) -> Result<(), AwsError> {
    let name = table.as_str();
    let spec = PointInTimeRecoverySpecification::builder()
        .point_in_time_recovery_enabled(true)
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
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
    let ttl = db
        .describe_time_to_live()
        .table_name(src)
        .send()
        .await
        .aws("DescribeTimeToLive", src)?;
    if let Some(d) = ttl.time_to_live_description()
        && d.time_to_live_status() == Some(&TimeToLiveStatus::Enabled)
        && let Some(attribute) = d.attribute_name()
    {
        put_ttl(db, target, attribute).await?;
        done.ttl_attribute = Some(attribute.to_owned());
    }
    if pitr(db, source).await?.is_some() {
        enable_pitr(db, target).await?;
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

/// Turns on time to live on `target`, on `attribute`.
async fn put_ttl(db: &Client, target: &TableName, attribute: &str) -> Result<(), AwsError> {
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
    let dst = target.as_str();
    // Every page (ListTagsOfResource: "NextToken ... fetches the next page of results").
    let tags = crate::store::BackupStore::table_tags(
        &crate::store::DynamoDbBackups::new(db.clone()),
        source_arn,
    )
    .await?
    .into_iter()
    .map(|(key, value)| {
        aws_sdk_dynamodb::types::Tag::builder()
            .key(key)
            .value(value)
            .build()
    })
    .collect::<Result<Vec<_>, _>>()
    .map_err(|e| AwsError::malformed("TagResource", dst, &e.to_string()))?;
    if tags.is_empty() {
        return Ok(0);
    }
    let target_arn = db
        .describe_table()
        .table_name(dst)
        .send()
        .await
        .aws("DescribeTable", dst)?
        .table
        .and_then(|t| t.table_arn)
        .unwrap_or_default();
    let count = tags.len();
    db.tag_resource()
        .resource_arn(target_arn)
        .set_tags(Some(tags))
        .send()
        .await
        .aws("TagResource", dst)?;
    Ok(count)
}

/// Where a verification's expected item count comes from, and so what a difference means.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum CountSource {
    /// DescribeBackup's `SourceTableDetails.ItemCount`, the source table's figure as of its last
    /// refresh (DynamoDB API reference, SourceTableDetails: "Number of items in the table. Note
    /// that this is an approximate value."; TableDescription.ItemCount: "DynamoDB updates this
    /// value approximately every six hours."). A table written in the hours before its backup
    /// restores to another count: a difference is reported, never a failure.
    #[default]
    Approximate,
    /// An export's `ItemCount`, the items the export wrote: a difference is a failure.
    Exact,
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Verification {
    /// Items the source recorded: the backup's (approximate) or the export's (exact) count.
    pub expected_items: Option<i64>,
    /// Whether `expected_items` is approximate or exact (records written before this field
    /// existed compared with a backup's, approximate, figure).
    #[serde(default)]
    pub count_source: CountSource,
    /// Items the restored table holds (a paged `Select=COUNT` scan).
    pub restored_items: i64,
    /// The key schema is the source's.
    pub keys_match: bool,
    /// The secondary indexes (by name) are the source's.
    pub indexes_match: bool,
}

impl Verification {
    /// Whether the restore is proven: the keys and indexes are the source's, and the count is
    /// the export's exactly; against a backup's approximate count, a difference is only reported
    /// ([`Verification::counts`]), as it cannot tell a bad restore from a stale figure.
    pub fn passed(&self) -> bool {
        let counts = match self.count_source {
            CountSource::Exact => self.expected_items == Some(self.restored_items),
            CountSource::Approximate => true,
        };
        counts && self.keys_match && self.indexes_match
    }

    /// Whether the restored count differs from the recorded one (or there is none).
    pub fn counts_differ(&self) -> bool {
        self.expected_items != Some(self.restored_items)
    }

    /// The counts, for a person: `restored 30 items; the backup's recorded count is 27
    /// (approximate ...)`.
    pub fn counts(&self) -> String {
        let restored = self.restored_items;
        match (self.count_source, self.expected_items) {
            (_, None) => format!("restored {restored} items; the source recorded no count"),
            (CountSource::Exact, Some(n)) if n == restored => {
                format!("restored {restored} items, as the export holds")
            }
            (CountSource::Exact, Some(n)) => {
                format!("restored {restored} items; the export holds {n}")
            }
            (CountSource::Approximate, Some(n)) if n == restored => {
                format!("restored {restored} items, as the backup recorded")
            }
            (CountSource::Approximate, Some(n)) => format!(
                "restored {restored} items; the backup's recorded count is {n} (approximate: DynamoDB refreshes it about every six hours, so the difference is reported, not failed)"
            ),
        }
    }

    /// Why the restore is not proven, in one line; `None` when it is.
    pub fn failure(&self) -> Option<String> {
        if self.passed() {
            return None;
        }
        let mut why = Vec::new();
        if self.count_source == CountSource::Exact && self.counts_differ() {
            why.push(self.counts());
        }
        if !self.keys_match {
            why.push("the key schema differs from the source's".to_owned());
        }
        if !self.indexes_match {
            why.push("the secondary indexes differ from the source's".to_owned());
        }
        Some(why.join("; "))
    }
}

/// What a bounded [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verified {
    /// The whole check.
    Done(Verification),
    /// The count ran out of time: where it got to.
    Partial(CountProgress),
}

/// Checks the restored `target` against the backup `backup_arn` it came from, counting from
/// `counted` on and stopping at `until` if the count is not done by then.
pub async fn verify(
    db: &Client,
    backup_arn: &str,
    target: &TableName,
    counted: CountProgress,
    until: Option<tokio::time::Instant>,
) -> Result<Verified, AwsError> {
    let described = describe_backup(db, backup_arn).await?;
    let description = described.backup_description();
    let source = description.and_then(|d| d.source_table_details());
    let features = description.and_then(|d| d.source_table_feature_details());
    let restored = db
        .describe_table()
        .table_name(target.as_str())
        .send()
        .await
        .aws("DescribeTable", target.as_str())?;
    let table = restored.table();
    let keys = |k: &[KeySchemaElement]| -> Vec<(String, String)> {
        k.iter()
            .map(|e| {
                (
                    e.attribute_name().to_owned(),
                    e.key_type().as_str().to_owned(),
                )
            })
            .collect()
    };
    let source_indexes = features.map_or_else(Vec::new, |f| {
        index_names(
            f.global_secondary_indexes().iter().map(|i| i.index_name()),
            f.local_secondary_indexes().iter().map(|i| i.index_name()),
        )
    });
    let restored_indexes = table.map_or_else(Vec::new, |t| {
        index_names(
            t.global_secondary_indexes().iter().map(|i| i.index_name()),
            t.local_secondary_indexes().iter().map(|i| i.index_name()),
        )
    });
    let restored_items = match count_items_from(db, target, false, counted, until).await? {
        Counted::Done(items) => items,
        Counted::Partial(progress) => return Ok(Verified::Partial(progress)),
    };
    Ok(Verified::Done(Verification {
        expected_items: source.and_then(|s| s.item_count()),
        count_source: CountSource::Approximate,
        restored_items,
        keys_match: source.map(|s| keys(s.key_schema())) == table.map(|t| keys(t.key_schema())),
        indexes_match: source_indexes == restored_indexes,
    }))
}

/// Checks `target`, imported from an export of `source` that held `expected_items`, against the
/// source as it is now: the item count against the export's, and the key schema and index
/// names against the source's.
pub async fn verify_import(
    db: &Client,
    source: &TableName,
    expected_items: Option<i64>,
    target: &TableName,
) -> Result<Verification, AwsError> {
    let describe = |table: &TableName| {
        let name = table.as_str().to_owned();
        async move {
            db.describe_table()
                .table_name(&name)
                .send()
                .await
                .aws("DescribeTable", &name)
        }
    };
    let (source_table, target_table) = (describe(source).await?, describe(target).await?);
    let shape = |t: Option<&aws_sdk_dynamodb::types::TableDescription>| {
        t.map(|t| {
            let keys: Vec<(String, String)> = t
                .key_schema()
                .iter()
                .map(|e| {
                    (
                        e.attribute_name().to_owned(),
                        e.key_type().as_str().to_owned(),
                    )
                })
                .collect();
            let indexes = index_names(
                t.global_secondary_indexes().iter().map(|i| i.index_name()),
                t.local_secondary_indexes().iter().map(|i| i.index_name()),
            );
            (keys, indexes)
        })
    };
    let (from, to) = (shape(source_table.table()), shape(target_table.table()));
    Ok(Verification {
        expected_items,
        count_source: CountSource::Exact,
        // Compared exactly, so read consistently (Scan, API reference: "ConsistentRead ... The
        // default setting for ConsistentRead is false"): an import's last writes count.
        restored_items: count_items(db, target, true).await?,
        keys_match: from.as_ref().map(|f| &f.0) == to.as_ref().map(|t| &t.0),
        indexes_match: from.as_ref().map(|f| &f.1) == to.as_ref().map(|t| &t.1),
    })
}

/// The names of a table's global and local secondary indexes, sorted.
fn index_names<'a>(
    global: impl Iterator<Item = Option<&'a str>>,
    local: impl Iterator<Item = Option<&'a str>>,
) -> Vec<String> {
    sorted(global.chain(local).flatten().map(str::to_owned).collect())
}

fn sorted(mut names: Vec<String>) -> Vec<String> {
    names.sort();
    names
}

/// One attribute of a table key, as kept between runs (key attributes are strings, numbers or
/// binary: CreateTable, API reference, `AttributeType`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum KeyValue {
    /// A string.
    S(String),
    /// A number, as DynamoDB writes it.
    N(String),
    /// Binary.
    B(Vec<u8>),
}

/// How far a paged count got: the items counted and the key to go on after.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CountProgress {
    /// Items counted so far.
    pub items: i64,
    /// The last evaluated key to continue after; `None` before the first page.
    pub after: Option<BTreeMap<String, KeyValue>>,
}

/// Where a bounded count ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Counted {
    /// Every page was read: the table's items.
    Done(i64),
    /// Time ran out: where to go on from.
    Partial(CountProgress),
}

fn to_key(key: &BTreeMap<String, KeyValue>) -> HashMap<String, AttributeValue> {
    key.iter()
        .map(|(name, value)| {
            let value = match value {
                KeyValue::S(s) => AttributeValue::S(s.clone()),
                KeyValue::N(n) => AttributeValue::N(n.clone()),
                KeyValue::B(b) => AttributeValue::B(Blob::new(b.clone())),
            };
            (name.clone(), value)
        })
        .collect()
}

fn from_key(
    table: &TableName,
    key: HashMap<String, AttributeValue>,
) -> Result<BTreeMap<String, KeyValue>, AwsError> {
    key.into_iter()
        .map(|(name, value)| {
            let value = match value {
                AttributeValue::S(s) => KeyValue::S(s),
                AttributeValue::N(n) => KeyValue::N(n),
                AttributeValue::B(b) => KeyValue::B(b.into_inner()),
                other => {
                    return Err(AwsError::malformed(
                        "Scan",
                        table.as_str(),
                        &format!("LastEvaluatedKey {name} is not a key type: {other:?}"),
                    ));
                }
            };
            Ok((name, value))
        })
        .collect()
}

/// How many items `table` holds: a paged `Select=COUNT` scan, strongly consistent when
/// `consistent` (twice the read units).
pub async fn count_items(
    db: &Client,
    table: &TableName,
    consistent: bool,
) -> Result<i64, AwsError> {
    match count_items_from(db, table, consistent, CountProgress::default(), None).await? {
        Counted::Done(items) => Ok(items),
        Counted::Partial(progress) => Ok(progress.items),
    }
}

/// Counts `table`'s items from `from` on, page by page, until the last page or until `until`
/// (checked before each page after the first, so every call makes progress): a table too large
/// to scan within one invocation is counted across several, its position kept by the caller.
pub async fn count_items_from(
    db: &Client,
    table: &TableName,
    consistent: bool,
    from: CountProgress,
    until: Option<tokio::time::Instant>,
) -> Result<Counted, AwsError> {
    let mut progress = from;
    let mut first = true;
    loop {
        if !first && until.is_some_and(|u| tokio::time::Instant::now() >= u) {
            return Ok(Counted::Partial(progress));
        }
        first = false;
        let page = db
            .scan()
            .table_name(table.as_str())
            .select(Select::Count)
            .consistent_read(consistent)
            .set_exclusive_start_key(progress.after.as_ref().map(to_key))
            .send()
            .await
            .aws("Scan", table.as_str())?;
        progress.items += i64::from(page.count());
        match page.last_evaluated_key {
            Some(key) if !key.is_empty() => progress.after = Some(from_key(table, key)?),
            _ => return Ok(Counted::Done(progress.items)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::naming::StackName;
    use crate::ownership::Ownership;
    use crate::retention::BackupKind;
    use time::macros::datetime;

    fn prod() -> Ownership {
        Ownership::new(StackName::parse("prod").unwrap())
    }

    fn table() -> TableName {
        TableName::parse("Movies").unwrap()
    }

    fn backup(name: &str, minutes: i64, state: BackupState) -> Backup {
        Backup {
            arn: format!("arn:aws:dynamodb:us-east-1:1:table/Movies/backup/{name}"),
            name: name.to_owned(),
            created: datetime!(2026-11-29 00:00 UTC) + time::Duration::minutes(minutes),
            state,
            kind: BackupKind::User,
        }
    }

    #[test]
    fn latest_is_the_newest_available_backup_of_this_stack() {
        let backups = vec![
            backup("Movies-prod-20261129000100", 1, BackupState::Available),
            backup("Movies-prod-20261129000300", 3, BackupState::Creating),
            backup("Movies-prod-20261129000200", 2, BackupState::Available),
            backup("Movies-trial-20261129000400", 4, BackupState::Available),
            backup("manual", 5, BackupState::Available),
        ];
        let chosen = choose(&table(), &backups, &Choice::Latest, Whose::Stack(&prod())).unwrap();
        assert_eq!(
            chosen.name, "Movies-prod-20261129000200",
            "not another stack's"
        );
        let any = choose(&table(), &backups, &Choice::Latest, Whose::Any).unwrap();
        assert_eq!(any.name, "manual", "--any considers every backup");
    }

    #[test]
    fn names_and_arns_resolve_and_bad_ones_are_named() {
        let backups = vec![backup(
            "Movies-prod-20261129000100",
            1,
            BackupState::Available,
        )];
        let named = Choice::parse("Movies-prod-20261129000100");
        assert_eq!(
            choose(&table(), &backups, &named, Whose::Stack(&prod()))
                .unwrap()
                .name,
            "Movies-prod-20261129000100"
        );
        let by_arn = Choice::parse(&backups[0].arn);
        assert_eq!(
            choose(&table(), &backups, &by_arn, Whose::Stack(&prod())).unwrap(),
            backups[0]
        );
        let other = Choice::parse("arn:aws:dynamodb:us-east-1:1:table/Films/backup/x");
        assert!(matches!(
            choose(&table(), &backups, &other, Whose::Stack(&prod())),
            Err(ChoiceError::OtherTable { .. })
        ));
        let missing = choose(
            &table(),
            &backups,
            &Choice::parse("nope"),
            Whose::Stack(&prod()),
        )
        .unwrap_err();
        assert!(missing.to_string().contains("\"nope\""), "{missing}");
        let none = choose(&table(), &[], &Choice::Latest, Whose::Stack(&prod())).unwrap_err();
        assert!(none.to_string().contains("installer invoke"), "{none}");
    }

    #[test]
    fn an_exact_count_must_agree_and_an_approximate_one_is_only_reported() {
        let exact = Verification {
            expected_items: Some(4609),
            count_source: CountSource::Exact,
            restored_items: 4609,
            keys_match: true,
            indexes_match: true,
        };
        assert!(exact.passed());
        assert_eq!(exact.failure(), None);
        let short = Verification {
            restored_items: 4608,
            ..exact.clone()
        };
        assert!(!short.passed());
        assert_eq!(
            short.failure().as_deref(),
            Some("restored 4608 items; the export holds 4609")
        );
        assert!(
            !Verification {
                expected_items: None,
                ..exact.clone()
            }
            .passed()
        );

        // A backup's ItemCount may be hours old: 30 restored against 27 recorded passes, and
        // says so in words, not as `Some(27)`.
        let stale = Verification {
            expected_items: Some(27),
            count_source: CountSource::Approximate,
            restored_items: 30,
            ..exact.clone()
        };
        assert!(stale.passed());
        assert!(stale.counts_differ());
        let text = stale.counts();
        assert!(
            text.starts_with("restored 30 items; the backup's recorded count is 27 (approximate"),
            "{text}"
        );
        assert!(!text.contains("Some("), "{text}");
        assert!(
            Verification {
                expected_items: None,
                ..stale.clone()
            }
            .passed()
        );

        // Keys and indexes are exact whatever the count.
        let keys = Verification {
            keys_match: false,
            ..stale.clone()
        };
        assert!(!keys.passed());
        assert_eq!(
            keys.failure().as_deref(),
            Some("the key schema differs from the source's")
        );
        assert!(
            !Verification {
                indexes_match: false,
                ..stale
            }
            .passed()
        );
    }

    #[test]
    fn records_written_before_the_count_source_read_as_approximate() {
        let old: Verification = serde_json::from_str(
            r#"{"expected_items": 27, "restored_items": 30, "keys_match": true, "indexes_match": true}"#,
        )
        .unwrap();
        assert_eq!(old.count_source, CountSource::Approximate);
        assert!(old.passed());
    }
}
