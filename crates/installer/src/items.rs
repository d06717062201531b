//! Reading items by key, shared by `restore --items` and `rollback`: a table's shape, items by
//! their keys in batches, and items compared as DynamoDB compares them.

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{KeysAndAttributes, ScalarAttributeType};
use backup_lambda::canonical;
use backup_lambda::error::{AwsError, AwsResult};
use backup_lambda::naming::TableName;
use backup_lambda::tables::KEYS_PER_BATCH;

use crate::data::dynamodb_json::Item;

/// What item reads and writes need of a table (DescribeTable).
#[derive(Debug, Clone)]
pub struct Shape {
    /// Its ARN.
    pub arn: String,
    /// Its key attributes and their types.
    pub key: Vec<(String, ScalarAttributeType)>,
    /// Its provisioned write capacity units (`None`: on-demand).
    pub write_capacity: Option<i64>,
    /// Its on-demand maximum write request units a second, if set.
    pub max_writes: Option<i64>,
}

/// The table's shape; `None` when there is no such table.
pub async fn shape(db: &Client, table: &TableName) -> Result<Option<Shape>, AwsError> {
    let name = table.as_str();
    let described = db.describe_table().table_name(name).send().await;
    let described = match described.aws("DescribeTable", name) {
        Ok(d) => d,
        Err(e) if e.is("ResourceNotFoundException") => return Ok(None),
        Err(e) => return Err(e),
    };
    let table = described
        .table()
        .ok_or_else(|| AwsError::malformed("DescribeTable", name, "no table"))?;
    let types = table.attribute_definitions();
    let key = table
        .key_schema()
        .iter()
        .filter_map(|k| {
            let kind = types
                .iter()
                .find(|d| d.attribute_name() == k.attribute_name())?
                .attribute_type()
                .clone();
            Some((k.attribute_name().to_owned(), kind))
        })
        .collect();
    let on_demand = table
        .billing_mode_summary()
        .and_then(|b| b.billing_mode())
        .is_some_and(|m| m.as_str() == "PAY_PER_REQUEST");
    Ok(Some(Shape {
        arn: table.table_arn().unwrap_or_default().to_owned(),
        key,
        write_capacity: table
            .provisioned_throughput()
            .and_then(|p| p.write_capacity_units())
            .filter(|w| !on_demand && *w > 0),
        max_writes: table
            .on_demand_throughput()
            .and_then(|t| t.max_write_request_units())
            .filter(|w| *w > 0),
    }))
}

/// Every item of `keys` the table holds (BatchGetItem, 100 keys a request, unprocessed keys
/// asked again with a growing pause).
pub async fn batch_get(
    db: &Client,
    table: &TableName,
    keys: &[Item],
) -> Result<Vec<Item>, AwsError> {
    let name = table.as_str();
    let mut found = Vec::new();
    for chunk in keys.chunks(KEYS_PER_BATCH) {
        let mut pending = chunk.to_vec();
        let mut pause = Duration::from_millis(100);
        for _ in 0..10 {
            if pending.is_empty() {
                break;
            }
            let request = KeysAndAttributes::builder()
                .set_keys(Some(pending.clone()))
                .consistent_read(true)
                .build()
                .map_err(|e| AwsError::malformed("BatchGetItem", name, &e.to_string()))?;
            let out = db
                .batch_get_item()
                .request_items(name, request)
                .send()
                .await
                .aws("BatchGetItem", name)?;
            if let Some(items) = out.responses().and_then(|r| r.get(name)) {
                found.extend(items.iter().cloned());
            }
            pending = out
                .unprocessed_keys()
                .and_then(|u| u.get(name))
                .map(|k| k.keys().to_vec())
                .unwrap_or_default();
            if !pending.is_empty() {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(5));
            }
        }
        if !pending.is_empty() {
            return Err(AwsError::malformed(
                "BatchGetItem",
                name,
                &format!("{} key(s) still unprocessed after 10 tries", pending.len()),
            ));
        }
    }
    Ok(found)
}

/// The items of `keys` the table holds, by their key's identity ([`key_id`]): BatchGetItem,
/// strongly consistent.
pub async fn by_key(
    db: &Client,
    table: &TableName,
    keys: &[Item],
) -> Result<std::collections::HashMap<String, Item>, AwsError> {
    let names: Vec<String> = keys
        .first()
        .map(|k| k.keys().cloned().collect())
        .unwrap_or_default();
    Ok(batch_get(db, table, keys)
        .await?
        .into_iter()
        .map(|item| (key_id(&key_of(&item, &names)), item))
        .collect())
}

/// The attributes `names` of `item`: its key.
pub fn key_of(item: &Item, names: &[String]) -> Item {
    names
        .iter()
        .filter_map(|n| Some((n.clone(), item.get(n)?.clone())))
        .collect()
}

/// A key's identity, whatever order its attributes come in and however its numbers are
/// written (`2013`, `2013.0`).
pub fn key_id(key: &Item) -> String {
    canonical::form(key).to_string()
}

pub use backup_lambda::canonical::same;

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::types::AttributeValue;
    use std::collections::HashMap;

    fn item(id: &str) -> Item {
        HashMap::from([("id".to_owned(), AttributeValue::S(id.to_owned()))])
    }

    #[test]
    fn a_keys_identity_ignores_attribute_order() {
        let mut a = item("x");
        a.insert("sk".to_owned(), AttributeValue::N("1".to_owned()));
        let mut pairs: Vec<_> = a.clone().into_iter().collect();
        pairs.reverse();
        let b: Item = pairs.into_iter().collect();
        assert_eq!(key_id(&a), key_id(&b));
        assert_ne!(key_id(&a), key_id(&item("y")));
        let mut c = item("x");
        c.insert("sk".to_owned(), AttributeValue::N("1.0".to_owned()));
        assert_eq!(key_id(&a), key_id(&c), "the same number, written otherwise");
    }
}
