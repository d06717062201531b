//! The third port, beside [`crate::store`]'s two: the DynamoDB tables a restore makes, checks
//! and deletes ([`Tables`]), and [`DynamoDbTables`], the port over the DynamoDB API. Drills and
//! `installer restore` reach DynamoDB's tables only through it.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{AttributeValue, BillingMode, KeySchemaElement, Select, TableStatus};
use serde::{Deserialize, Serialize};

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

/// One page of a `Select=COUNT` scan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CountPage {
    /// Items on the page.
    pub items: i64,
    /// The key to go on after, when there is more.
    pub last: Option<Key>,
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

    /// One page of a `Select=COUNT` scan of the table after `after`, strongly consistent when
    /// `consistent` (twice the read units).
    fn count_page(
        &self,
        table: &TableName,
        consistent: bool,
        after: Option<&Key>,
    ) -> impl Future<Output = Result<CountPage, AwsError>> + Send;
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

fn to_key(key: &Key) -> HashMap<String, AttributeValue> {
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
        let out = self
            .client
            .describe_table()
            .table_name(table.as_str())
            .send()
            .await
            .aws("DescribeTable", table.as_str())?;
        let t = out.table().ok_or_else(|| {
            AwsError::malformed("DescribeTable", table.as_str(), "the response has no Table")
        })?;
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

    async fn count_page(
        &self,
        table: &TableName,
        consistent: bool,
        after: Option<&Key>,
    ) -> Result<CountPage, AwsError> {
        let page = self
            .client
            .scan()
            .table_name(table.as_str())
            .select(Select::Count)
            .consistent_read(consistent)
            .set_exclusive_start_key(after.map(to_key))
            .send()
            .await
            .aws("Scan", table.as_str())?;
        let items = i64::from(page.count());
        let last = match page.last_evaluated_key {
            Some(key) if !key.is_empty() => Some(from_key(table, key)?),
            _ => None,
        };
        Ok(CountPage { items, last })
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

    fn count_page(
        &self,
        table: &TableName,
        consistent: bool,
        after: Option<&Key>,
    ) -> impl Future<Output = Result<CountPage, AwsError>> + Send {
        (**self).count_page(table, consistent, after)
    }
}
