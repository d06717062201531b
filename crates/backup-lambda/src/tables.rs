//! The third port, beside [`crate::store`]'s two: the DynamoDB tables a restore makes, checks
//! and deletes, and the items a fingerprint samples and checks ([`Tables`]), and [`DynamoDbTables`], the port over the DynamoDB API. Drills and
//! `installer restore` reach DynamoDB's tables only through it.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeValue, BillingMode, KeySchemaElement, ReturnConsumedCapacity, Select,
    TableDescription, TableStatus,
};
use serde::{Deserialize, Serialize};

use crate::count::{ScanSize, Segment};
use crate::error::{AwsError, AwsResult};
use crate::naming::TableName;

/// What a table's status means to a restore.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableState {
    /// ACTIVE: it can be read.
    Active,
    /// Any other status (`CREATING` while a restore runs), as DynamoDB names it.
    NotActive(String),
}

impl std::fmt::Display for TableState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TableState::Active => f.write_str("ACTIVE"),
            TableState::NotActive(status) => f.write_str(status),
        }
    }
}

/// How a DeleteTable ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deletion {
    /// Deleted (DynamoDB goes on deleting it in the background).
    Deleted,
    /// There was no such table.
    Missing,
    /// The table cannot be deleted yet (ResourceInUseException: still CREATING, say).
    InUse,
}

/// A table's key schema and secondary indexes: what a restore must carry over.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableShape {
    /// The key attributes and their roles (`HASH`, `RANGE`), in schema order.
    pub keys: Vec<(String, String)>,
    /// The global and local secondary indexes' names, sorted.
    pub indexes: Vec<String>,
}

/// What a backup recorded of its source table (DescribeBackup).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackupSource {
    /// The source's key schema, when the description has it (`SourceTableDetails`).
    pub keys: Option<Vec<(String, String)>>,
    /// The source's secondary indexes' names, sorted (`SourceTableFeatureDetails`).
    pub indexes: Vec<String>,
    /// The source's item count as of its last refresh: approximate.
    pub item_count: Option<i64>,
    /// The source's size in bytes when backed up (`SourceTableDetails.TableSizeBytes`).
    pub size_bytes: Option<i64>,
}

/// One attribute of a table key, as kept between runs (key attributes are strings, numbers or
/// binary: CreateTable, API reference, `AttributeType`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum KeyValue {
    /// A string.
    S(String),
    /// A number, as DynamoDB writes it.
    N(String),
    /// Binary.
    B(Vec<u8>),
}

/// A table key: its attributes by name.
pub type Key = BTreeMap<String, KeyValue>;

/// An item as the SDK holds it.
pub type Item = HashMap<String, AttributeValue>;

/// Keys BatchGetItem takes in one request (API reference, BatchGetItem: "A single operation can
/// retrieve up to 16 MB of data, which can contain as many as 100 items").
pub const KEYS_PER_BATCH: usize = 100;

/// How many times [`Tables::get_items`] asks again for the keys BatchGetItem left unprocessed.
const UNPROCESSED_TRIES: u32 = 8;

/// One page of a `Select=COUNT` scan.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CountPage {
    /// Items on the page.
    pub items: i64,
    /// The key to go on after, when there is more.
    pub last: Option<Key>,
    /// The read units the page took (`ConsumedCapacity`), when the answer says.
    pub read_units: Option<f64>,
}

/// Restores into, checks and deletes tables.
pub trait Tables: Send + Sync {
    /// Starts restoring the backup `backup_arn` into the new table `target`
    /// (RestoreTableFromBackup); `on_demand` bills the restored table per request whatever the
    /// source's billing (`BillingModeOverride`).
    fn restore_backup(
        &self,
        backup_arn: &str,
        target: &TableName,
        on_demand: bool,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// The table's status, `None` when there is no such table (DescribeTable).
    fn state(
        &self,
        table: &TableName,
    ) -> impl Future<Output = Result<Option<TableState>, AwsError>> + Send;

    /// The table's key schema and indexes (DescribeTable).
    fn shape(&self, table: &TableName)
    -> impl Future<Output = Result<TableShape, AwsError>> + Send;

    /// What the backup recorded of its source (DescribeBackup).
    fn backup_source(
        &self,
        backup_arn: &str,
    ) -> impl Future<Output = Result<BackupSource, AwsError>> + Send;

    /// Deletes the table (DeleteTable).
    fn delete_table(
        &self,
        table: &TableName,
    ) -> impl Future<Output = Result<Deletion, AwsError>> + Send;

    /// The table's size and read rate (DescribeTable), to split and pace a count.
    fn scan_size(
        &self,
        table: &TableName,
    ) -> impl Future<Output = Result<ScanSize, AwsError>> + Send;

    /// One page of a `Select=COUNT` scan of `segment` of the table after `after` (a key this
    /// segment gave), strongly consistent when `consistent` (twice the read units), with the
    /// read units it took.
    fn count_page(
        &self,
        table: &TableName,
        consistent: bool,
        segment: Segment,
        after: Option<&Key>,
    ) -> impl Future<Output = Result<CountPage, AwsError>> + Send;

    /// The first `limit` items of segment `segment` of a `total`-segment parallel scan (Scan
    /// with `Segment`, `TotalSegments` and `Limit`), strongly consistent: the same items for the
    /// same data, as a segment is the items whose partition keys hash into its range.
    fn sample_segment(
        &self,
        table: &TableName,
        segment: u32,
        total: u32,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<Item>, AwsError>> + Send;

    /// The items with these keys (BatchGetItem, strongly consistent), at most
    /// [`KEYS_PER_BATCH`]; a key with no item is left out.
    fn get_items(
        &self,
        table: &TableName,
        keys: &[Key],
    ) -> impl Future<Output = Result<Vec<Item>, AwsError>> + Send;
}

/// The attributes `names` of `item` as a [`Key`]; `None` if one is missing or not a key type.
pub fn key_of(item: &Item, names: &[String]) -> Option<Key> {
    names
        .iter()
        .map(|name| {
            let value = match item.get(name)? {
                AttributeValue::S(s) => KeyValue::S(s.clone()),
                AttributeValue::N(n) => KeyValue::N(n.clone()),
                AttributeValue::B(b) => KeyValue::B(b.as_ref().to_vec()),
                _ => return None,
            };
            Some((name.clone(), value))
        })
        .collect()
}

/// A key as plain JSON, for a person: `{"title":"Rush","year":2013}` (binary in hex).
pub fn key_text(key: &Key) -> String {
    let fields: serde_json::Map<String, serde_json::Value> = key
        .iter()
        .map(|(name, value)| {
            let value = match value {
                KeyValue::S(s) => serde_json::Value::String(s.clone()),
                KeyValue::N(n) => serde_json::from_str::<serde_json::Number>(n)
                    .map_or_else(|_| serde_json::Value::String(n.clone()), Into::into),
                KeyValue::B(b) => {
                    serde_json::Value::String(b.iter().map(|x| format!("{x:02x}")).collect())
                }
            };
            (name.clone(), value)
        })
        .collect();
    serde_json::Value::Object(fields).to_string()
}

/// [`Tables`] over the DynamoDB API.
#[derive(Debug, Clone)]
pub struct DynamoDbTables {
    client: aws_sdk_dynamodb::Client,
}

impl DynamoDbTables {
    /// Wraps a DynamoDB client (build it once, at cold start).
    pub fn new(client: aws_sdk_dynamodb::Client) -> Self {
        Self { client }
    }

    /// DescribeTable's `Table`.
    async fn describe(&self, table: &TableName) -> Result<TableDescription, AwsError> {
        self.client
            .describe_table()
            .table_name(table.as_str())
            .send()
            .await
            .aws("DescribeTable", table.as_str())?
            .table
            .ok_or_else(|| {
                AwsError::malformed("DescribeTable", table.as_str(), "the response has no Table")
            })
    }
}

/// A key schema as `(attribute, role)` pairs.
fn keys(schema: &[KeySchemaElement]) -> Vec<(String, String)> {
    schema
        .iter()
        .map(|e| {
            (
                e.attribute_name().to_owned(),
                e.key_type().as_str().to_owned(),
            )
        })
        .collect()
}

/// The names of a table's global and local secondary indexes, sorted.
fn index_names<'a>(
    global: impl Iterator<Item = Option<&'a str>>,
    local: impl Iterator<Item = Option<&'a str>>,
) -> Vec<String> {
    let mut names: Vec<String> = global.chain(local).flatten().map(str::to_owned).collect();
    names.sort();
    names
}

/// A key as the SDK holds an item's attributes.
pub fn key_item(key: &Key) -> Item {
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

fn from_key(table: &TableName, key: HashMap<String, AttributeValue>) -> Result<Key, AwsError> {
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

impl Tables for DynamoDbTables {
    async fn restore_backup(
        &self,
        backup_arn: &str,
        target: &TableName,
        on_demand: bool,
    ) -> Result<(), AwsError> {
        self.client
            .restore_table_from_backup()
            .backup_arn(backup_arn)
            .target_table_name(target.as_str())
            .set_billing_mode_override(on_demand.then_some(BillingMode::PayPerRequest))
            .send()
            .await
            .aws("RestoreTableFromBackup", target.as_str())
            .map(drop)
    }

    async fn state(&self, table: &TableName) -> Result<Option<TableState>, AwsError> {
        match self
            .client
            .describe_table()
            .table_name(table.as_str())
            .send()
            .await
        {
            Ok(out) => Ok(out
                .table
                .and_then(|t| t.table_status)
                .map(|status| match status {
                    TableStatus::Active => TableState::Active,
                    other => TableState::NotActive(other.as_str().to_owned()),
                })),
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

    async fn shape(&self, table: &TableName) -> Result<TableShape, AwsError> {
        let t = self.describe(table).await?;
        Ok(TableShape {
            keys: keys(t.key_schema()),
            indexes: index_names(
                t.global_secondary_indexes().iter().map(|i| i.index_name()),
                t.local_secondary_indexes().iter().map(|i| i.index_name()),
            ),
        })
    }

    async fn backup_source(&self, backup_arn: &str) -> Result<BackupSource, AwsError> {
        let out = self
            .client
            .describe_backup()
            .backup_arn(backup_arn)
            .send()
            .await
            .aws("DescribeBackup", backup_arn)?;
        let description = out.backup_description();
        let source = description.and_then(|d| d.source_table_details());
        let features = description.and_then(|d| d.source_table_feature_details());
        Ok(BackupSource {
            keys: source.map(|s| keys(s.key_schema())),
            indexes: features.map_or_else(Vec::new, |f| {
                index_names(
                    f.global_secondary_indexes().iter().map(|i| i.index_name()),
                    f.local_secondary_indexes().iter().map(|i| i.index_name()),
                )
            }),
            item_count: source.and_then(|s| s.item_count()),
            size_bytes: source.and_then(|s| s.table_size_bytes()),
        })
    }

    async fn delete_table(&self, table: &TableName) -> Result<Deletion, AwsError> {
        match self
            .client
            .delete_table()
            .table_name(table.as_str())
            .send()
            .await
            .aws("DeleteTable", table.as_str())
        {
            Ok(_) => Ok(Deletion::Deleted),
            Err(e) if e.is("ResourceInUseException") => Ok(Deletion::InUse),
            Err(e) if e.is("ResourceNotFoundException") => Ok(Deletion::Missing),
            Err(e) => Err(e),
        }
    }

    async fn scan_size(&self, table: &TableName) -> Result<ScanSize, AwsError> {
        let t = self.describe(table).await?;
        let on_demand = t
            .billing_mode_summary()
            .and_then(|b| b.billing_mode())
            .is_some_and(|m| *m == BillingMode::PayPerRequest);
        // Provisioned: ReadCapacityUnits; on demand, MaxReadRequestUnits where set (-1 or
        // absent: no maximum). DescribeTable reports ReadCapacityUnits 0 for on-demand tables.
        #[allow(clippy::cast_precision_loss)] // capacities far below 2^52
        let read_units = if on_demand {
            t.on_demand_throughput()
                .and_then(|o| o.max_read_request_units())
                .filter(|&units| units > 0)
                .map(|units| units as f64)
        } else {
            t.provisioned_throughput()
                .and_then(|p| p.read_capacity_units())
                .filter(|&units| units > 0)
                .map(|units| units as f64)
        };
        Ok(ScanSize {
            bytes: t.table_size_bytes().unwrap_or(0),
            items: t.item_count().unwrap_or(0),
            read_units,
        })
    }

    async fn count_page(
        &self,
        table: &TableName,
        consistent: bool,
        segment: Segment,
        after: Option<&Key>,
    ) -> Result<CountPage, AwsError> {
        let int = |n: u32| i32::try_from(n).unwrap_or(i32::MAX);
        // A total of one is a sequential scan, as counts stored before segments were.
        let parallel = segment.total > 1;
        let page = self
            .client
            .scan()
            .table_name(table.as_str())
            .select(Select::Count)
            .consistent_read(consistent)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .set_segment(parallel.then(|| int(segment.index)))
            .set_total_segments(parallel.then(|| int(segment.total)))
            .set_exclusive_start_key(after.map(key_item))
            .send()
            .await
            .aws("Scan", table.as_str())?;
        let items = i64::from(page.count());
        let read_units = page.consumed_capacity().and_then(|c| c.capacity_units());
        let last = match page.last_evaluated_key {
            Some(key) if !key.is_empty() => Some(from_key(table, key)?),
            _ => None,
        };
        Ok(CountPage {
            items,
            last,
            read_units,
        })
    }

    async fn sample_segment(
        &self,
        table: &TableName,
        segment: u32,
        total: u32,
        limit: u32,
    ) -> Result<Vec<Item>, AwsError> {
        let int = |n: u32| i32::try_from(n).unwrap_or(i32::MAX);
        let page = self
            .client
            .scan()
            .table_name(table.as_str())
            .segment(int(segment))
            .total_segments(int(total))
            .limit(int(limit))
            .consistent_read(true)
            .send()
            .await
            .aws("Scan", table.as_str())?;
        Ok(page.items.unwrap_or_default())
    }

    async fn get_items(&self, table: &TableName, keys: &[Key]) -> Result<Vec<Item>, AwsError> {
        let mut found = Vec::new();
        let mut asked: Vec<Item> = keys.iter().map(key_item).collect();
        let mut pause = std::time::Duration::from_millis(50);
        for _ in 0..UNPROCESSED_TRIES {
            if asked.is_empty() {
                return Ok(found);
            }
            let request = aws_sdk_dynamodb::types::KeysAndAttributes::builder()
                .set_keys(Some(std::mem::take(&mut asked)))
                .consistent_read(true)
                .build()
                .map_err(|e| AwsError::malformed("BatchGetItem", table.as_str(), &e.to_string()))?;
            let out = self
                .client
                .batch_get_item()
                .request_items(table.as_str(), request)
                .send()
                .await
                .aws("BatchGetItem", table.as_str())?;
            if let Some(mut responses) = out.responses {
                found.extend(responses.remove(table.as_str()).unwrap_or_default());
            }
            // BatchGetItem, API reference: "If DynamoDB returns any unprocessed items, you should
            // retry the batch operation on those items ... we strongly recommend that you use an
            // exponential backoff algorithm."
            asked = out
                .unprocessed_keys
                .and_then(|mut u| u.remove(table.as_str()))
                .map(|k| k.keys)
                .unwrap_or_default();
            if !asked.is_empty() {
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
        }
        if asked.is_empty() {
            Ok(found)
        } else {
            Err(AwsError::malformed(
                "BatchGetItem",
                table.as_str(),
                &format!("{} keys stayed unprocessed", asked.len()),
            ))
        }
    }
}

/// Shared tables, as [`crate::store::BackupStore`] for `&T`.
impl<T: Tables> Tables for &T {
    fn restore_backup(
        &self,
        backup_arn: &str,
        target: &TableName,
        on_demand: bool,
    ) -> impl Future<Output = Result<(), AwsError>> + Send {
        (**self).restore_backup(backup_arn, target, on_demand)
    }

    fn state(
        &self,
        table: &TableName,
    ) -> impl Future<Output = Result<Option<TableState>, AwsError>> + Send {
        (**self).state(table)
    }

    fn shape(
        &self,
        table: &TableName,
    ) -> impl Future<Output = Result<TableShape, AwsError>> + Send {
        (**self).shape(table)
    }

    fn backup_source(
        &self,
        backup_arn: &str,
    ) -> impl Future<Output = Result<BackupSource, AwsError>> + Send {
        (**self).backup_source(backup_arn)
    }

    fn delete_table(
        &self,
        table: &TableName,
    ) -> impl Future<Output = Result<Deletion, AwsError>> + Send {
        (**self).delete_table(table)
    }

    fn scan_size(
        &self,
        table: &TableName,
    ) -> impl Future<Output = Result<ScanSize, AwsError>> + Send {
        (**self).scan_size(table)
    }

    fn count_page(
        &self,
        table: &TableName,
        consistent: bool,
        segment: Segment,
        after: Option<&Key>,
    ) -> impl Future<Output = Result<CountPage, AwsError>> + Send {
        (**self).count_page(table, consistent, segment, after)
    }

    fn sample_segment(
        &self,
        table: &TableName,
        segment: u32,
        total: u32,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<Item>, AwsError>> + Send {
        (**self).sample_segment(table, segment, total, limit)
    }

    fn get_items(
        &self,
        table: &TableName,
        keys: &[Key],
    ) -> impl Future<Output = Result<Vec<Item>, AwsError>> + Send {
        (**self).get_items(table, keys)
    }
}
