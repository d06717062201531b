//! Reading items by key, shared by `restore --items` and `rollback`: a table's shape, items by
//! their keys in batches, and items compared as DynamoDB compares them.

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, ScalarAttributeType};
use backup_lambda::error::{AwsError, AwsResult};
use backup_lambda::naming::TableName;
use serde_json::Value;

use crate::data::dynamodb_json::Item;

/// Keys BatchGetItem takes in one request (API reference, BatchGetItem: "up to 100 items").
const KEYS_PER_BATCH: usize = 100;

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
    canonical_item(key).to_string()
}

/// Whether two items (or two absences) hold the same values: sets in any order, numbers however
/// written, as DynamoDB compares them (a set has no order; `1.50` is the number `1.5`).
pub fn same(a: Option<&Item>, b: Option<&Item>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => canonical_item(a) == canonical_item(b),
        _ => false,
    }
}

/// An item as JSON in one form per value: attributes in name order (sorted here: serde_json's
/// map keeps insertion order when a crate in the build asks it to), numbers normalized, sets
/// sorted.
fn canonical_item(item: &Item) -> Value {
    let mut names: Vec<&String> = item.keys().collect();
    names.sort();
    Value::Object(
        names
            .into_iter()
            .map(|name| (name.clone(), canonical(&item[name])))
            .collect(),
    )
}

fn canonical(value: &AttributeValue) -> Value {
    use base64::Engine as _;
    let binary = |b: &aws_sdk_dynamodb::primitives::Blob| {
        base64::engine::general_purpose::STANDARD.encode(b.as_ref())
    };
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v.dedup();
        v
    };
    match value {
        AttributeValue::S(s) => serde_json::json!({"S": s}),
        AttributeValue::N(n) => serde_json::json!({"N": number(n)}),
        AttributeValue::B(b) => serde_json::json!({"B": binary(b)}),
        AttributeValue::Bool(b) => serde_json::json!({"BOOL": b}),
        AttributeValue::Null(b) => serde_json::json!({"NULL": b}),
        AttributeValue::Ss(set) => serde_json::json!({"SS": sorted(set.clone())}),
        AttributeValue::Ns(set) => {
            serde_json::json!({"NS": sorted(set.iter().map(|n| number(n)).collect())})
        }
        AttributeValue::Bs(set) => {
            serde_json::json!({"BS": sorted(set.iter().map(binary).collect())})
        }
        AttributeValue::L(list) => {
            serde_json::json!({"L": list.iter().map(canonical).collect::<Vec<_>>()})
        }
        AttributeValue::M(map) => serde_json::json!({"M": canonical_item(map)}),
        other => serde_json::json!({"?": format!("{other:?}")}),
    }
}

/// A number in one form: `<sign><digits without leading or trailing zeros>e<exponent>`
/// (`1.50` and `15e-1` are both `15e-1`; every zero is `0`). Text that is no number stays as it
/// is.
fn number(text: &str) -> String {
    let text = text.trim();
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((m, e)) => match e.parse::<i64>() {
            Ok(e) => (m, e),
            Err(_) => return text.to_owned(),
        },
        None => (unsigned, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = format!("{whole}{fraction}");
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return text.to_owned();
    }
    let significant = digits.trim_start_matches('0');
    if significant.is_empty() {
        return "0".to_owned();
    }
    let trimmed = significant.trim_end_matches('0');
    let shift = i64::try_from(significant.len() - trimmed.len()).ok();
    let cut = i64::try_from(fraction.len()).ok();
    match shift
        .zip(cut)
        .and_then(|(shift, cut)| exponent.checked_sub(cut)?.checked_add(shift))
    {
        Some(exponent) => format!("{}{trimmed}e{exponent}", if negative { "-" } else { "" }),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn item(id: &str) -> Item {
        HashMap::from([("id".to_owned(), AttributeValue::S(id.to_owned()))])
    }

    #[test]
    fn sets_in_any_order_and_numbers_however_written_are_the_same() {
        for (a, b) in [
            ("1.50", "1.5"),
            ("15e-1", "1.5"),
            ("2013", "2013.0"),
            ("0.0", "-0"),
            ("1E3", "1000"),
        ] {
            assert_eq!(number(a), number(b), "{a} {b}");
        }
        assert_ne!(number("1.5"), number("15"));
        assert_ne!(number("-1"), number("1"));
        assert_eq!(number("not a number"), "not a number");
        let huge = "1.5e-9223372036854775808";
        assert_eq!(
            number(huge),
            huge,
            "an exponent past i64: left as it is, no overflow"
        );
        let with = |set: &[&str], n: &str| -> Item {
            HashMap::from([
                (
                    "s".to_owned(),
                    AttributeValue::Ss(set.iter().map(|s| (*s).to_owned()).collect()),
                ),
                ("n".to_owned(), AttributeValue::N(n.to_owned())),
            ])
        };
        assert!(same(
            Some(&with(&["a", "b"], "2")),
            Some(&with(&["b", "a"], "2.0"))
        ));
        assert!(!same(
            Some(&with(&["a"], "2")),
            Some(&with(&["a", "b"], "2"))
        ));
        assert!(!same(Some(&with(&["a"], "2")), None));
        assert!(same(None, None));
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
