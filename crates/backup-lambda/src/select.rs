//! Tables chosen by a tag instead of by name: an event such as
//! `{"TableTag": {"Key": "backup", "Value": "daily"}}` backs up every table of the account and
//! region carrying that tag, found on every run (ListTables in pages of 100, then each table's
//! ListTagsOfResource), so that a table tagged after `installer up` is protected from its
//! next run on. DynamoDB applies tags eventually (TagResource, API reference: ListTagsOfResource
//! "will only reflect the changes after a few seconds"), so a table tagged a moment ago is
//! picked up by the run after. ListTagsOfResource is limited to "10 times per second, per
//! account" (API reference): every call takes its turn from a [`Pacer`], a refused one gets two
//! more turns, and a table whose tags still cannot be read is reported, not fatal to the others.

use futures::{StreamExt, stream};
use serde_json::Value;

use crate::error::AwsError;
use crate::naming::TableName;
use crate::pace::Pacer;
use crate::request::RequestError;
use crate::store::BackupStore;

/// ListTagsOfResource calls in flight at once while discovering.
const TAG_CONCURRENCY: usize = 4;
/// How many more turns a ListTagsOfResource refused with LimitExceededException gets.
const TAG_RETRIES: u32 = 2;

/// The tables a tag selects, and those whose tags could not be read.
#[derive(Debug, Default)]
pub struct Discovery {
    /// The tables carrying the tag, sorted by name.
    pub tables: Vec<TableName>,
    /// Tables whose tags could not be read (after the SDK's retries and [`TAG_RETRIES`] more
    /// turns), sorted by name: whether they carry the tag is unknown.
    pub unreadable: Vec<(TableName, AwsError)>,
}

impl Discovery {
    /// The tables, or the first table's error when any could not be read: for callers that must
    /// know every table (`down`, which deletes what the function made).
    pub fn complete(self) -> Result<Vec<TableName>, AwsError> {
        match self.unreadable.into_iter().next() {
            Some((_, e)) => Err(e),
            None => Ok(self.tables),
        }
    }
}

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

/// The account's tables to look at, and the ARN prefix their names complete
/// (`arn:...:table/`): ListTables in pages of 100, and one DescribeTable (of the first) for the
/// prefix, not one each. `None` when there are no tables.
pub async fn candidates<S: BackupStore>(
    store: &S,
) -> Result<Option<(Vec<TableName>, String)>, AwsError> {
    let names = store.list_tables().await?;
    let Some(first) = names.first() else {
        return Ok(None);
    };
    let first_arn = store.table_arn(first).await?;
    match first_arn.rfind(":table/") {
        Some(at) => Ok(Some((names, first_arn[..at + ":table/".len()].to_owned()))),
        None => Err(AwsError::malformed(
            "DescribeTable",
            first.as_str(),
            &format!("{first_arn} is not a table ARN"),
        )),
    }
}

/// Reads the tags of `names` in order, each ListTagsOfResource started at `pacer`'s next free
/// turn, starting no table after `stop` (when given): the tables checked are always the first
/// ones. A table deleted while it is being looked at does not carry the tag; one whose tags
/// cannot be read is in [`Checked::unreadable`]. Each table found carrying the tag is also sent
/// to `found` at once, in order, so that it can be backed up while the others are read.
pub async fn check_tags<S: BackupStore>(
    store: &S,
    tag: &TableTag,
    pacer: &Pacer,
    prefix: &str,
    names: &[TableName],
    stop: Option<tokio::time::Instant>,
    found: Option<&tokio::sync::mpsc::UnboundedSender<TableName>>,
) -> Checked {
    let checked: Vec<(TableName, Result<bool, AwsError>)> = stream::iter(names)
        .take_while(|_| std::future::ready(stop.is_none_or(|at| tokio::time::Instant::now() <= at)))
        .map(|name| {
            let arn = format!("{prefix}{name}");
            async move {
                let mut refused = 0;
                loop {
                    pacer.wait().await;
                    let found = match store.table_tags(&arn).await {
                        Ok(tags) => Ok(tags.iter().any(|(k, v)| *k == tag.key && *v == tag.value)),
                        Err(e) if e.is("ResourceNotFoundException") => Ok(false),
                        Err(e) if e.is("LimitExceededException") && refused < TAG_RETRIES => {
                            refused += 1;
                            continue;
                        }
                        Err(e) => Err(e),
                    };
                    return (name.clone(), found);
                }
            }
        })
        .buffered(TAG_CONCURRENCY)
        .inspect(|(name, tagged)| {
            if let (Some(found), Ok(true)) = (found, tagged) {
                // A runner that has stopped taking tables leaves them to the next part.
                let _ = found.send(name.clone());
            }
        })
        .collect()
        .await;
    let mut result = Checked {
        checked: checked.len(),
        ..Checked::default()
    };
    for (name, found) in checked {
        match found {
            Ok(true) => result.tagged.push(name),
            Ok(false) => {}
            Err(e) => result.unreadable.push((name, e)),
        }
    }
    result
}

/// What [`check_tags`] found.
#[derive(Debug, Default)]
pub struct Checked {
    /// How many of the names it looked at (the first ones).
    pub checked: usize,
    /// Those carrying the tag, in the order given.
    pub tagged: Vec<TableName>,
    /// Those whose tags could not be read.
    pub unreadable: Vec<(TableName, AwsError)>,
}

/// Every table of the account and region that carries `tag`, sorted by name, each table's
/// ListTagsOfResource started at `pacer`'s next free turn. Only listing the tables, or the one
/// DescribeTable, failing is an error.
pub async fn tagged_tables<S: BackupStore>(
    store: &S,
    tag: &TableTag,
    pacer: &Pacer,
) -> Result<Discovery, AwsError> {
    let Some((names, prefix)) = candidates(store).await? else {
        return Ok(Discovery::default());
    };
    let checked = check_tags(store, tag, pacer, &prefix, &names, None, None).await;
    let mut found = Discovery {
        tables: checked.tagged,
        unreadable: checked.unreadable,
    };
    found.tables.sort();
    found.unreadable.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(found)
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
