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
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use backup_lambda::error::{AwsError, AwsResult};
use backup_lambda::naming::TableName;
use backup_lambda::pace::Pacer;
use futures::StreamExt as _;

use super::changes::{Change, Step, step};
use crate::data::dynamodb_json::Item;
use crate::items::same;

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
    /// Keys of items with too many attributes to guard a write with a condition: left.
    pub too_wide: Vec<Item>,
    /// Keys whose write failed, and why: left as they are.
    pub failed: Vec<(Item, String)>,
}

/// The items of `changes` as they are now, by key (strongly consistent reads).
pub async fn now(
    db: &Client,
    table: &TableName,
    changes: &[Change],
) -> Result<HashMap<String, Item>, AwsError> {
    let keys: Vec<Item> = changes.iter().map(|c| c.key.clone()).collect();
    crate::items::by_key(db, table, &keys).await
}

/// A condition of DynamoDB's: its text, placeholders' names and values.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// The expression.
    pub text: String,
    /// `#name` placeholders.
    pub names: HashMap<String, String>,
    /// `:value` placeholders.
    pub values: HashMap<String, AttributeValue>,
}

/// An expression's limits (developer guide, "Expression" quotas in "Quotas in Amazon
/// DynamoDB": "The maximum length of any expression string is 4 KB"; "The maximum number of
/// operators or functions allowed in any expression string is 300").
const EXPRESSION_BYTES: usize = 4096;
const EXPRESSION_OPERATORS: usize = 300;

/// A condition that the item is `image` (`None`: that it does not exist); `None` when an item
/// has so many attributes that the condition would pass DynamoDB's limits. The key's first
/// attribute names the item's existence.
pub fn is_as(image: Option<&Item>, key: &Item) -> Option<Condition> {
    let mut names = HashMap::new();
    let mut values = HashMap::new();
    let Some(image) = image else {
        let mut key_names: Vec<&String> = key.keys().collect();
        key_names.sort();
        names.insert("#k".to_owned(), (*key_names.first()?).clone());
        return Some(Condition {
            text: "attribute_not_exists(#k)".to_owned(),
            names,
            values,
        });
    };
    let mut attributes: Vec<&String> = image.keys().collect();
    attributes.sort();
    if attributes.len() * 2 > EXPRESSION_OPERATORS + 1 {
        return None;
    }
    let parts: Vec<String> = attributes
        .into_iter()
        .enumerate()
        .map(|(i, name)| {
            names.insert(format!("#a{i}"), name.clone());
            values.insert(format!(":a{i}"), image[name].clone());
            format!("#a{i} = :a{i}")
        })
        .collect();
    let text = parts.join(" AND ");
    (text.len() <= EXPRESSION_BYTES).then_some(Condition {
        text,
        names,
        values,
    })
}

/// Errors after which no other item can be written either: the run stops.
const FATAL: [&str; 3] = [
    "AccessDeniedException",
    "ResourceNotFoundException",
    "UnrecognizedClientException",
];

/// Writes each change's step (put back or delete), on condition that the item is still as the
/// window left it. An item whose write fails is listed (`failed`) and the others go on; an
/// error that every write would meet stops the run.
pub async fn apply(
    db: &Client,
    table: &TableName,
    work: Vec<(Change, Step)>,
    pace: Pace,
) -> Result<Written, AwsError> {
    let pacer = Pacer::new(Duration::from_secs(1) / pace.per_second.max(1));
    let results: Vec<(Item, Result<Outcome, AwsError>)> = futures::stream::iter(work)
        .map(|(change, step)| {
            let pacer = &pacer;
            async move {
                let outcome = write(db, table, &change, &step, pacer).await;
                (change.key, outcome)
            }
        })
        .buffer_unordered(pace.at_once.max(1))
        .collect()
        .await;
    let mut written = Written::default();
    for (key, result) in results {
        match result {
            Ok(Outcome::PutBack) => written.put_back += 1,
            Ok(Outcome::Deleted) => written.deleted += 1,
            Ok(Outcome::AsItWas) => written.as_it_was += 1,
            Ok(Outcome::ChangedSince) => written.changed_since.push(key),
            Ok(Outcome::TooWide) => written.too_wide.push(key),
            Err(e) if FATAL.iter().any(|c| e.is(c)) => return Err(e),
            Err(e) => written.failed.push((key, e.to_string())),
        }
    }
    Ok(written)
}

enum Outcome {
    PutBack,
    Deleted,
    AsItWas,
    ChangedSince,
    TooWide,
}

/// One conditional write, tried again while throttled. Its condition names the new image's
/// attributes, not their absence elsewhere, so the item it replaced (`ReturnValues=ALL_OLD`)
/// is checked too: one that had gained an attribute since it was read is put back as it was
/// (the later write kept) and counted as changed since. When the condition fails, the item is
/// read again to tell "put back already" from "changed since".
async fn write(
    db: &Client,
    table: &TableName,
    change: &Change,
    planned: &Step,
    pacer: &Pacer,
) -> Result<Outcome, AwsError> {
    let name = table.as_str();
    let Some(condition) = is_as(change.new.as_ref(), &change.key) else {
        return Ok(Outcome::TooWide);
    };
    let values = (!condition.values.is_empty()).then(|| condition.values.clone());
    let mut pause = Duration::from_millis(200);
    let mut attempt = 0;
    loop {
        pacer.wait().await;
        let sent = match planned {
            Step::PutBack(old) => db
                .put_item()
                .table_name(name)
                .set_item(Some(old.clone()))
                .condition_expression(&condition.text)
                .set_expression_attribute_names(Some(condition.names.clone()))
                .set_expression_attribute_values(values.clone())
                .return_values(ReturnValue::AllOld)
                .send()
                .await
                .aws("PutItem", name)
                .map(|out| (Outcome::PutBack, out.attributes)),
            Step::Delete => db
                .delete_item()
                .table_name(name)
                .set_key(Some(change.key.clone()))
                .condition_expression(&condition.text)
                .set_expression_attribute_names(Some(condition.names.clone()))
                .set_expression_attribute_values(values.clone())
                .return_values(ReturnValue::AllOld)
                .send()
                .await
                .aws("DeleteItem", name)
                .map(|out| (Outcome::Deleted, out.attributes)),
            Step::AsItWas => return Ok(Outcome::AsItWas),
            Step::ChangedSince => return Ok(Outcome::ChangedSince),
        };
        match sent {
            Ok((outcome, replaced)) => {
                if same(replaced.as_ref(), change.new.as_ref()) {
                    return Ok(outcome);
                }
                let Some(replaced) = replaced else {
                    return Ok(outcome);
                };
                // It had changed after all (an attribute added since it was read): the later
                // write goes back, on condition that the item is still what was just written.
                let written = match planned {
                    Step::PutBack(old) => Some(old),
                    _ => None,
                };
                let undo = is_as(written, &change.key).ok_or_else(|| {
                    AwsError::malformed("PutItem", name, "cannot guard the undo of a write")
                })?;
                db.put_item()
                    .table_name(name)
                    .set_item(Some(replaced))
                    .condition_expression(&undo.text)
                    .set_expression_attribute_names(Some(undo.names))
                    .set_expression_attribute_values(
                        (!undo.values.is_empty()).then_some(undo.values),
                    )
                    .send()
                    .await
                    .aws("PutItem", name)?;
                return Ok(Outcome::ChangedSince);
            }
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
                    _ => Outcome::ChangedSince,
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
    use aws_sdk_dynamodb::error::ErrorMetadata;
    use aws_sdk_dynamodb::operation::delete_item::DeleteItemOutput;
    use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
    use aws_sdk_dynamodb::operation::put_item::{PutItemError, PutItemOutput};
    use aws_sdk_dynamodb::types::error::{
        ConditionalCheckFailedException, ProvisionedThroughputExceededException,
    };
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    fn item(id: &str, v: Option<&str>) -> Item {
        let mut item = HashMap::from([("id".to_owned(), AttributeValue::S(id.to_owned()))]);
        if let Some(v) = v {
            item.insert("v".to_owned(), AttributeValue::N(v.to_owned()));
        }
        item
    }

    /// Item `id` changed from v=1 to v=2 in the window: it is put back to v=1.
    fn updated(id: &str) -> (Change, Step) {
        let change = Change {
            key: item(id, None),
            old: Some(item(id, Some("1"))),
            new: Some(item(id, Some("2"))),
        };
        (change, Step::PutBack(item(id, Some("1"))))
    }

    /// The SDK's own retries off, so that what is tried again is this module's doing.
    fn own_retries_only(
        config: aws_sdk_dynamodb::config::Builder,
    ) -> aws_sdk_dynamodb::config::Builder {
        config.retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled())
    }

    fn table() -> TableName {
        TableName::parse("Movies").expect("a name")
    }

    const PACE: Pace = Pace {
        per_second: 1000,
        at_once: 4,
    };

    fn throttled() -> PutItemError {
        PutItemError::ProvisionedThroughputExceededException(
            ProvisionedThroughputExceededException::builder()
                .message("slow down")
                .meta(
                    ErrorMetadata::builder()
                        .code("ProvisionedThroughputExceededException")
                        .build(),
                )
                .build(),
        )
    }

    fn condition_failed() -> PutItemError {
        PutItemError::ConditionalCheckFailedException(
            ConditionalCheckFailedException::builder()
                .message("no")
                .meta(
                    ErrorMetadata::builder()
                        .code("ConditionalCheckFailedException")
                        .build(),
                )
                .build(),
        )
    }

    #[tokio::test(start_paused = true)]
    async fn a_throttled_write_waits_and_is_tried_again() {
        let put = mock!(aws_sdk_dynamodb::Client::put_item)
            .sequence()
            .error(throttled)
            .error(throttled)
            .output(|| {
                PutItemOutput::builder()
                    .set_attributes(Some(item("a", Some("2"))))
                    .build()
            })
            .build();
        let db = mock_client!(
            aws_sdk_dynamodb,
            RuleMode::MatchAny,
            [&put],
            own_retries_only
        );
        let started = tokio::time::Instant::now();
        let written = apply(&db, &table(), vec![updated("a")], PACE)
            .await
            .expect("written");
        assert_eq!(written.put_back, 1);
        assert!(written.failed.is_empty());
        assert_eq!(put.num_calls(), 3, "two throttled, then written");
        assert!(
            started.elapsed() >= Duration::from_millis(600),
            "waited 200 ms, then 400 ms: {:?}",
            started.elapsed()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_write_throttled_past_its_tries_is_listed_as_failed_and_the_others_go_on() {
        let put = mock!(aws_sdk_dynamodb::Client::put_item)
            .match_requests(|r| {
                r.item().and_then(|i| i.get("id")) == Some(&AttributeValue::S("a".into()))
            })
            .sequence()
            .error(throttled)
            .times(THROTTLED_TRIES as usize + 1)
            .build();
        let other = mock!(aws_sdk_dynamodb::Client::put_item).then_output(|| {
            PutItemOutput::builder()
                .set_attributes(Some(item("b", Some("2"))))
                .build()
        });
        let db = mock_client!(
            aws_sdk_dynamodb,
            RuleMode::MatchAny,
            [&put, &other],
            own_retries_only
        );
        let written = apply(&db, &table(), vec![updated("a"), updated("b")], PACE)
            .await
            .expect("a run, not an error");
        assert_eq!(written.put_back, 1, "b");
        assert_eq!(written.failed.len(), 1, "a");
        assert_eq!(written.failed[0].0, item("a", None));
        assert_eq!(put.num_calls(), THROTTLED_TRIES as usize + 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_condition_tells_done_already_from_changed_since() {
        let put = mock!(aws_sdk_dynamodb::Client::put_item).then_error(condition_failed);
        let get = mock!(aws_sdk_dynamodb::Client::get_item)
            .sequence()
            .output(|| {
                GetItemOutput::builder()
                    .set_item(Some(item("a", Some("1"))))
                    .build()
            })
            .output(|| {
                GetItemOutput::builder()
                    .set_item(Some(item("b", Some("3"))))
                    .build()
            })
            .build();
        let db = mock_client!(
            aws_sdk_dynamodb,
            RuleMode::MatchAny,
            [&put, &get],
            own_retries_only
        );
        let pace = Pace {
            per_second: 1000,
            at_once: 1,
        };
        let written = apply(&db, &table(), vec![updated("a"), updated("b")], pace)
            .await
            .expect("written");
        assert_eq!(written.as_it_was, 1, "a is as it was already");
        assert_eq!(written.changed_since, vec![item("b", None)]);
        assert_eq!(written.put_back, 0);
    }

    #[tokio::test(start_paused = true)]
    async fn an_item_that_gained_an_attribute_meanwhile_is_put_back_as_it_was() {
        // The condition (every attribute of the new image) held, but the item replaced had one
        // more attribute: it is written back, and the key counted as changed since.
        let mut grown = item("a", Some("2"));
        grown.insert("extra".to_owned(), AttributeValue::S("later".into()));
        let replaced = grown.clone();
        let put = mock!(aws_sdk_dynamodb::Client::put_item)
            .sequence()
            .output(move || {
                PutItemOutput::builder()
                    .set_attributes(Some(replaced.clone()))
                    .build()
            })
            .output(|| PutItemOutput::builder().build())
            .build();
        let delete = mock!(aws_sdk_dynamodb::Client::delete_item)
            .then_output(|| DeleteItemOutput::builder().build());
        let db = mock_client!(
            aws_sdk_dynamodb,
            RuleMode::MatchAny,
            [&put, &delete],
            own_retries_only
        );
        let written = apply(&db, &table(), vec![updated("a")], PACE)
            .await
            .expect("written");
        assert_eq!(written.changed_since, vec![item("a", None)]);
        assert_eq!(written.put_back, 0);
        assert_eq!(
            put.num_calls(),
            2,
            "the rollback's write, then the later one put back"
        );
        assert_eq!(delete.num_calls(), 0);
    }

    #[test]
    fn the_condition_names_every_attribute_of_the_image_or_the_items_absence() {
        let key: Item = HashMap::from([("id".to_owned(), AttributeValue::S("a".into()))]);
        let mut image = key.clone();
        image.insert("v".to_owned(), AttributeValue::N("2".into()));
        let c = is_as(Some(&image), &key).expect("a condition");
        assert_eq!(c.text, "#a0 = :a0 AND #a1 = :a1");
        assert_eq!(c.names["#a0"], "id");
        assert_eq!(c.names["#a1"], "v");
        assert_eq!(c.values[":a1"], AttributeValue::N("2".into()));
        let c = is_as(None, &key).expect("a condition");
        assert_eq!(c.text, "attribute_not_exists(#k)");
        assert_eq!(c.names["#k"], "id");
        assert!(c.values.is_empty());
        // 150 attributes: 150 comparisons and 149 ANDs, within 300 operators; 151 is not.
        let wide = |n: usize| -> Item {
            (0..n)
                .map(|i| (format!("a{i}"), AttributeValue::N(i.to_string())))
                .collect()
        };
        assert!(is_as(Some(&wide(150)), &key).is_some());
        assert!(is_as(Some(&wide(151)), &key).is_none());
    }
}
