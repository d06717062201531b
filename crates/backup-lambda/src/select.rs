//! Tables chosen by a tag instead of by name: an event such as
//! `{"TableTag": {"Key": "backup", "Value": "daily"}}` backs up every table of the account and
//! region carrying that tag, found on every run (ListTables in pages of 100, then each table's
//! ListTagsOfResource), so that a table tagged after `installer up` is protected from its
//! next run on. DynamoDB applies tags eventually (TagResource, API reference: ListTagsOfResource
//! "will only reflect the changes after a few seconds"), so a table tagged a moment ago is
//! picked up by the run after.

use futures::{StreamExt, stream};
use serde_json::Value;

use crate::error::AwsError;
use crate::naming::TableName;
use crate::request::RequestError;
use crate::store::BackupStore;

/// ListTagsOfResource calls in flight at once while discovering.
const TAG_CONCURRENCY: usize = 4;

/// The tag that selects tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableTag {
    /// Its key.
    pub key: String,
    /// The value it must have.
    pub value: String,
}

impl std::fmt::Display for TableTag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}={}", self.key, self.value)
    }
}

impl TableTag {
    /// The event's `TableTag`, if it has one: `{"Key": "...", "Value": "..."}`, a key of 1 to
    /// 128 characters and a value of at most 256 (TagResource, API reference).
    pub fn from_event(event: &Value) -> Result<Option<Self>, RequestError> {
        let Some(tag) = event.get("TableTag").filter(|t| !t.is_null()) else {
            return Ok(None);
        };
        let bad = || RequestError::BadTableTag(tag.to_string());
        let key = tag.get("Key").and_then(Value::as_str).ok_or_else(bad)?;
        let value = tag.get("Value").and_then(Value::as_str).ok_or_else(bad)?;
        if key.is_empty() || key.chars().count() > 128 || value.chars().count() > 256 {
            return Err(bad());
        }
        Ok(Some(Self {
            key: key.to_owned(),
            value: value.to_owned(),
        }))
    }
}

/// Every table of the account and region that carries `tag`, sorted by name. A table deleted
/// while it is being looked at is left out.
pub async fn tagged_tables<S: BackupStore>(
    store: &S,
    tag: &TableTag,
) -> Result<Vec<TableName>, AwsError> {
    let names = store.list_tables().await?;
    let Some(first) = names.first() else {
        return Ok(Vec::new());
    };
    // Every table's ARN is the first's with the name changed: one DescribeTable, not one each.
    let first_arn = store.table_arn(first).await?;
    let prefix = match first_arn.rfind(":table/") {
        Some(at) => first_arn[..at + ":table/".len()].to_owned(),
        None => {
            return Err(AwsError::malformed(
                "DescribeTable",
                first.as_str(),
                &format!("{first_arn} is not a table ARN"),
            ));
        }
    };
    let checked: Vec<Result<Option<TableName>, AwsError>> = stream::iter(names)
        .map(|name| {
            let arn = format!("{prefix}{name}");
            async move {
                match store.table_tags(&arn).await {
                    Ok(tags) => Ok(tags
                        .iter()
                        .any(|(k, v)| *k == tag.key && *v == tag.value)
                        .then_some(name)),
                    Err(e) if e.is("ResourceNotFoundException") => Ok(None),
                    Err(e) => Err(e),
                }
            }
        })
        .buffered(TAG_CONCURRENCY)
        .collect()
        .await;
    let mut tables = checked
        .into_iter()
        .filter_map(Result::transpose)
        .collect::<Result<Vec<_>, _>>()?;
    tables.sort();
    Ok(tables)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_tag_comes_from_the_event_and_bad_ones_are_refused() {
        assert_eq!(
            TableTag::from_event(&json!({"TableName": "Movies"})),
            Ok(None)
        );
        let tag = TableTag::from_event(&json!({"TableTag": {"Key": "backup", "Value": "daily"}}))
            .unwrap()
            .unwrap();
        assert_eq!(tag.to_string(), "backup=daily");
        for bad in [
            json!({"TableTag": "backup=daily"}),
            json!({"TableTag": {"Key": "", "Value": "x"}}),
            json!({"TableTag": {"Key": "k"}}),
            json!({"TableTag": {"Key": "k", "Value": "v".repeat(257)}}),
        ] {
            assert!(TableTag::from_event(&bad).is_err(), "{bad}");
        }
    }
}
