//! The rollback's writes: each key read as it is now, then written back only on condition that
//! it is still as the window left it, so a write made after the window is never overwritten, and
//! a rollback run again finds the keys it did already as they were and leaves them.
//!
//! BatchWriteItem takes no condition (API reference: "If you perform a BatchWriteItem operation on
//! an existing item, that item's values will be overwritten by the operation"; its PutRequest
//! and DeleteRequest carry no ConditionExpression), so the writes are single PutItem/DeleteItem with a ConditionExpression, a bounded number at once, their starts
//! paced to the rate chosen, and throttling answered by waiting longer (on top of the SDK's own
//! retries). A comparison `a = b` holds for every type: "EQ is supported for all data types,
//! including lists and maps" (API reference, Condition).

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use backup_lambda::error::{AwsError, AwsResult};
use backup_lambda::naming::TableName;
use backup_lambda::pace::Pacer;
use futures::StreamExt as _;

use super::changes::{Change, Step, key_id, step};
use crate::data::dynamodb_json::Item;

/// How fast the writes go.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    /// Writes started a second, at most.
    pub per_second: u32,
    /// Writes under way at once, at most.
    pub at_once: usize,
}

/// Errors that mean "slow down" (DynamoDB's, after the SDK's own retries).
const THROTTLED: [&str; 3] = [
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
];

/// How many times a throttled write is tried again, waiting twice as long each time.
const THROTTLED_TRIES: u32 = 8;

/// What the writes did.
#[derive(Debug, Default)]
pub struct Written {
    /// Items put back as they were.
    pub put_back: usize,
    /// Items deleted (they did not exist at the window's start).
    pub deleted: usize,
    /// Items found as they were already (another run put them back meanwhile).
    pub as_it_was: usize,
    /// Keys changed again after they were read: left.
    pub changed_since: Vec<Item>,
}

/// The items of `changes` as they are now, by key (strongly consistent reads).
pub async fn now(
    db: &Client,
    table: &TableName,
    changes: &[Change],
) -> Result<HashMap<String, Item>, AwsError> {
    let keys: Vec<Item> = changes.iter().map(|c| c.key.clone()).collect();
    let Some(names) = changes
        .first()
        .map(|c| c.key.keys().cloned().collect::<Vec<_>>())
    else {
        return Ok(HashMap::new());
    };
    let found = crate::items::batch_get(db, table, &keys).await?;
    Ok(found
        .into_iter()
        .map(|item| {
            let key: Item = names
                .iter()
                .filter_map(|n| Some((n.clone(), item.get(n)?.clone())))
                .collect();
            (key_id(&key), item)
        })
        .collect())
}

/// A condition that the item is `image` (`None`: that it does not exist): its placeholders'
/// names and values. The key's first attribute names the item's existence.
pub fn is_as(
    image: Option<&Item>,
    key: &Item,
) -> (
    String,
    HashMap<String, String>,
    HashMap<String, AttributeValue>,
) {
    let mut names = HashMap::new();
    let mut values = HashMap::new();
    let Some(image) = image else {
        let mut key_names: Vec<&String> = key.keys().collect();
        key_names.sort();
        names.insert(
            "#k".to_owned(),
            key_names.first().map(|n| (*n).clone()).unwrap_or_default(),
        );
        return ("attribute_not_exists(#k)".to_owned(), names, values);
    };
    let mut attributes: Vec<&String> = image.keys().collect();
    attributes.sort();
    let parts: Vec<String> = attributes
        .into_iter()
        .enumerate()
        .map(|(i, name)| {
            names.insert(format!("#a{i}"), name.clone());
            values.insert(format!(":a{i}"), image[name].clone());
            format!("#a{i} = :a{i}")
        })
        .collect();
    (parts.join(" AND "), names, values)
}

/// Writes each change's step (put back or delete), on condition that the item is still as the
/// window left it.
pub async fn apply(
    db: &Client,
    table: &TableName,
    work: Vec<(Change, Step)>,
    pace: Pace,
    on_each: impl Fn() + Sync,
) -> Result<Written, AwsError> {
    let pacer = Pacer::new(Duration::from_secs(1) / pace.per_second.max(1));
    let results: Vec<Result<Outcome, AwsError>> = futures::stream::iter(work)
        .map(|(change, step)| {
            let pacer = &pacer;
            let on_each = &on_each;
            async move {
                let outcome = write(db, table, &change, &step, pacer).await;
                on_each();
                outcome
            }
        })
        .buffer_unordered(pace.at_once.max(1))
        .collect()
        .await;
    let mut written = Written::default();
    for result in results {
        match result? {
            Outcome::PutBack => written.put_back += 1,
            Outcome::Deleted => written.deleted += 1,
            Outcome::AsItWas => written.as_it_was += 1,
            Outcome::ChangedSince(key) => written.changed_since.push(key),
        }
    }
    Ok(written)
}

enum Outcome {
    PutBack,
    Deleted,
    AsItWas,
    ChangedSince(Item),
}

/// One conditional write, tried again while throttled; when its condition fails, the item is
/// read again to tell "put back already" from "changed since".
async fn write(
    db: &Client,
    table: &TableName,
    change: &Change,
    planned: &Step,
    pacer: &Pacer,
) -> Result<Outcome, AwsError> {
    let name = table.as_str();
    let (condition, names, values) = is_as(change.new.as_ref(), &change.key);
    let values = (!values.is_empty()).then_some(values);
    let mut pause = Duration::from_millis(200);
    let mut attempt = 0;
    loop {
        pacer.wait().await;
        let sent = match planned {
            Step::PutBack(old) => db
                .put_item()
                .table_name(name)
                .set_item(Some(old.clone()))
                .condition_expression(&condition)
                .set_expression_attribute_names(Some(names.clone()))
                .set_expression_attribute_values(values.clone())
                .send()
                .await
                .aws("PutItem", name)
                .map(|_| Outcome::PutBack),
            Step::Delete => db
                .delete_item()
                .table_name(name)
                .set_key(Some(change.key.clone()))
                .condition_expression(&condition)
                .set_expression_attribute_names(Some(names.clone()))
                .set_expression_attribute_values(values.clone())
                .send()
                .await
                .aws("DeleteItem", name)
                .map(|_| Outcome::Deleted),
            Step::AsItWas => return Ok(Outcome::AsItWas),
            Step::ChangedSince => return Ok(Outcome::ChangedSince(change.key.clone())),
        };
        match sent {
            Ok(outcome) => return Ok(outcome),
            Err(e) if e.is("ConditionalCheckFailedException") => {
                let now = db
                    .get_item()
                    .table_name(name)
                    .set_key(Some(change.key.clone()))
                    .consistent_read(true)
                    .send()
                    .await
                    .aws("GetItem", name)?;
                return Ok(match step(change, now.item()) {
                    Step::AsItWas => Outcome::AsItWas,
                    _ => Outcome::ChangedSince(change.key.clone()),
                });
            }
            Err(e) if THROTTLED.iter().any(|c| e.is(c)) && attempt < THROTTLED_TRIES => {
                attempt += 1;
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(20));
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_condition_names_every_attribute_of_the_image_or_the_items_absence() {
        let key: Item = HashMap::from([("id".to_owned(), AttributeValue::S("a".into()))]);
        let mut image = key.clone();
        image.insert("v".to_owned(), AttributeValue::N("2".into()));
        let (condition, names, values) = is_as(Some(&image), &key);
        assert_eq!(condition, "#a0 = :a0 AND #a1 = :a1");
        assert_eq!(names["#a0"], "id");
        assert_eq!(names["#a1"], "v");
        assert_eq!(values[":a1"], AttributeValue::N("2".into()));
        let (condition, names, values) = is_as(None, &key);
        assert_eq!(condition, "attribute_not_exists(#k)");
        assert_eq!(names["#k"], "id");
        assert!(values.is_empty());
    }
}
