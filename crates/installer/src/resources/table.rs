//! The tables backed up. A missing table is created in the tutorial's shape (`year` N hash key,
//! `title` S range key, on-demand billing) and tagged as the stack's; an existing table that is
//! not the stack's is backed up but never modified or deleted.

use std::time::Duration;

use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, Tag,
};
use backup_lambda::naming::TableName;
use backup_lambda::retention::{BackupKind, BackupState};
use backup_lambda::store::{BackupStore, DynamoDbBackups};

use crate::aws::{Aws, AwsError};
use crate::plan::Action;
use crate::resources::{Tags, absent_if, is_ours};

/// How long `up` waits for a new table to become ACTIVE.
const ACTIVE_TIMEOUT: Duration = Duration::from_secs(300);

/// A table as it exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// Its ARN.
    pub arn: String,
    /// Its tags.
    pub tags: Tags,
}

/// Reads the table and its tags.
pub async fn observe(aws: &Aws, table: &TableName) -> Result<Option<Observed>, AwsError> {
    let name = table.as_str();
    let described = absent_if(
        aws.dynamodb
            .describe_table()
            .table_name(name)
            .send()
            .await
            .map_err(|e| AwsError::new("DescribeTable", name, &e)),
        &["ResourceNotFoundException"],
    )?;
    let Some(arn) = described.and_then(|d| d.table?.table_arn) else {
        return Ok(None);
    };
    let tags = aws
        .dynamodb
        .list_tags_of_resource()
        .resource_arn(&arn)
        .send()
        .await
        .map_err(|e| AwsError::new("ListTagsOfResource", name, &e))?
        .tags()
        .iter()
        .map(|t| (t.key().to_owned(), t.value().to_owned()))
        .collect();
    Ok(Some(Observed { arn, tags }))
}

/// What `up` does to a table.
pub fn diff(observed: Option<&Observed>, ours: &Tags) -> Action {
    match observed {
        None => Action::Create,
        Some(o) if is_ours(&o.tags, ours) => Action::NoChange,
        Some(_) => Action::UseExisting,
    }
}

/// Creates the table, tagged, and waits until it is ACTIVE.
pub async fn create(aws: &Aws, table: &TableName, tags: &Tags) -> Result<(), AwsError> {
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
    let created = aws
        .dynamodb
        .create_table()
        .table_name(name)
        .attribute_definitions(attribute("year", ScalarAttributeType::N)?)
        .attribute_definitions(attribute("title", ScalarAttributeType::S)?)
        .key_schema(key("year", KeyType::Hash)?)
        .key_schema(key("title", KeyType::Range)?)
        .billing_mode(BillingMode::PayPerRequest)
        .set_tags(Some(tags))
        .send()
        .await;
    match created {
        Ok(_) => {}
        // Made by an earlier, interrupted run: wait for it like a new one.
        Err(e) if AwsError::new("CreateTable", name, &e).is("ResourceInUseException") => {}
        Err(e) => return Err(AwsError::new("CreateTable", name, &e)),
    }
    aws.dynamodb
        .wait_until_table_exists()
        .table_name(name)
        .wait(ACTIVE_TIMEOUT)
        .await
        .map(drop)
        .map_err(|e| AwsError::new("DescribeTable (waiting for ACTIVE)", name, &e))
}

/// Deletes the table (already gone is fine).
pub async fn delete(aws: &Aws, table: &TableName) -> Result<(), AwsError> {
    let name = table.as_str();
    absent_if(
        aws.dynamodb
            .delete_table()
            .table_name(name)
            .send()
            .await
            .map_err(|e| AwsError::new("DeleteTable", name, &e)),
        &["ResourceNotFoundException"],
    )
    .map(drop)
}

/// The ARNs of every backup of `table` that the function made (named
/// `<table>-<YYYYmmddHHMMSS>`), found with the function's own paged listing.
pub async fn function_backups(aws: &Aws, table: &TableName) -> Result<Vec<String>, AwsError> {
    let listed = DynamoDbBackups::new(aws.dynamodb.clone())
        .list_backups(table)
        .await?;
    Ok(listed
        .into_iter()
        .filter(|b| b.kind == BackupKind::User && table.owns_backup_name(&b.name))
        .filter(|b| b.state != BackupState::Deleted)
        .map(|b| b.arn)
        .collect())
}

/// Deletes every backup of `table` that the function made; other backups are never touched.
/// Returns how many were deleted.
pub async fn delete_function_backups(aws: &Aws, table: &TableName) -> Result<usize, AwsError> {
    let store = DynamoDbBackups::new(aws.dynamodb.clone());
    let arns = function_backups(aws, table).await?;
    for arn in &arns {
        match store.delete_backup(arn).await {
            Ok(()) => {}
            Err(e) if e.is("BackupNotFoundException") => {}
            Err(e) => return Err(e),
        }
    }
    Ok(arns.len())
}
