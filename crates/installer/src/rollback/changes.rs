//! What an incremental export says changed, key by key, and what a rollback does about each
//! key given the item as it is now. Pure: no AWS here.
//!
//! Developer guide, "Requesting a table export in DynamoDB": an incremental export's "output is
//! compacted so it only contains the final state of the item from the export period. The item
//! will only appear once in the export even if it has multiple updates within the same export
//! period"; with "New and old images", "Old image provides the state of the item right before
//! the specified start date and time". A line carries `Keys`, and `OldImage` (absent: the item
//! did not exist at the start) and `NewImage` (absent: it did not exist at the end).

use std::collections::HashMap;

use serde_json::Value;

use crate::data::dynamodb_json::{self, Item};
use crate::items::{key_id, same};

/// One key's change over the window.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// The key.
    pub key: Item,
    /// The item at the window's start (`None`: absent).
    pub old: Option<Item>,
    /// The item at its end (`None`: absent).
    pub new: Option<Item>,
}

/// A data-file line that is not an incremental export's record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NotARecord(&'static str);

impl Change {
    /// A line of an incremental export (NEW_AND_OLD_IMAGES).
    pub fn parse(line: &str) -> Result<Self, NotARecord> {
        let record: Value =
            serde_json::from_str(line).map_err(|_| NotARecord("a line is not JSON"))?;
        let key = dynamodb_json::item(&record["Keys"])
            .filter(|k| !k.is_empty())
            .ok_or(NotARecord("a line has no Keys in DynamoDB JSON"))?;
        let image = |name: &str| match &record[name] {
            Value::Null => Ok(None),
            v => dynamodb_json::item(v)
                .map(Some)
                .ok_or(NotARecord("an image is not DynamoDB JSON")),
        };
        Ok(Self {
            key,
            old: image("OldImage")?,
            new: image("NewImage")?,
        })
    }

    /// The key's identity: its attributes in name order.
    pub fn id(&self) -> String {
        key_id(&self.key)
    }
}

/// The changes of back-to-back exports, in order, joined: per key the image before the first
/// export that has it and after the last.
#[derive(Debug, Default)]
pub struct Joined {
    order: Vec<String>,
    by_key: HashMap<String, Change>,
}

impl Joined {
    /// Adds a change from the next export (or the same one).
    pub fn add(&mut self, change: Change) {
        let id = change.id();
        match self.by_key.get_mut(&id) {
            Some(seen) => seen.new = change.new,
            None => {
                self.order.push(id.clone());
                self.by_key.insert(id, change);
            }
        }
    }

    /// The changes, in the order their keys were first seen, with those `keep` accepts.
    pub fn into_changes(mut self, keep: impl Fn(&Change) -> bool) -> Vec<Change> {
        self.order
            .iter()
            .filter_map(|id| self.by_key.remove(id))
            .filter(|c| keep(c))
            .collect()
    }
}

/// What a rollback does with one key, given the item as it is now.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// It is as it was at the window's start already: nothing to do.
    AsItWas,
    /// It is as the window left it: put the old image back.
    PutBack(Item),
    /// It is as the window left it, and did not exist at the start: delete it.
    Delete,
    /// It changed after the window: left alone.
    ChangedSince,
}

/// The step for `change`, the item being `now`.
pub fn step(change: &Change, now: Option<&Item>) -> Step {
    if same(now, change.old.as_ref()) {
        return Step::AsItWas;
    }
    if !same(now, change.new.as_ref()) {
        return Step::ChangedSince;
    }
    match &change.old {
        Some(old) => Step::PutBack(old.clone()),
        None => Step::Delete,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::types::AttributeValue;

    fn item(id: &str, v: Option<&str>) -> Item {
        let mut item = HashMap::from([("id".to_owned(), AttributeValue::S(id.to_owned()))]);
        if let Some(v) = v {
            item.insert("v".to_owned(), AttributeValue::N(v.to_owned()));
        }
        item
    }

    fn change(id: &str, old: Option<&str>, new: Option<&str>) -> Change {
        Change {
            key: item(id, None),
            old: old.map(|v| item(id, Some(v))),
            new: new.map(|v| item(id, Some(v))),
        }
    }

    #[test]
    fn export_lines_are_read_as_changes() {
        let updated = Change::parse(
            r#"{"Metadata":{"WriteTimestampMicros":{"N":"1"}},"Keys":{"id":{"S":"a"}},"OldImage":{"id":{"S":"a"},"v":{"N":"1"}},"NewImage":{"id":{"S":"a"},"v":{"N":"2"}}}"#,
        )
        .unwrap();
        assert_eq!(updated, change("a", Some("1"), Some("2")));
        let made =
            Change::parse(r#"{"Keys":{"id":{"S":"b"}},"NewImage":{"id":{"S":"b"},"v":{"N":"5"}}}"#)
                .unwrap();
        assert_eq!(made, change("b", None, Some("5")));
        let deleted =
            Change::parse(r#"{"Keys":{"id":{"S":"c"}},"OldImage":{"id":{"S":"c"},"v":{"N":"7"}}}"#)
                .unwrap();
        assert_eq!(deleted, change("c", Some("7"), None));
        assert!(Change::parse("{}").is_err());
        assert!(Change::parse("not json").is_err());
        assert!(Change::parse(r#"{"Keys":{"id":{"S":"a"}},"NewImage":{"id":"plain"}}"#).is_err());
    }

    #[test]
    fn exports_joined_keep_the_first_old_and_the_last_new_image() {
        let mut joined = Joined::default();
        joined.add(change("a", Some("1"), Some("2")));
        joined.add(change("b", None, Some("5")));
        joined.add(change("a", Some("2"), None));
        let all = joined.into_changes(|_| true);
        assert_eq!(
            all,
            vec![change("a", Some("1"), None), change("b", None, Some("5"))]
        );
        let mut joined = Joined::default();
        joined.add(change("a", Some("1"), Some("2")));
        joined.add(change("b", None, Some("5")));
        let only_b = joined.into_changes(|c| c.key == item("b", None));
        assert_eq!(only_b, vec![change("b", None, Some("5"))]);
    }

    #[test]
    fn a_key_is_put_back_deleted_left_or_skipped_by_what_it_is_now() {
        let updated = change("a", Some("1"), Some("2"));
        assert_eq!(
            step(&updated, Some(&item("a", Some("2")))),
            Step::PutBack(item("a", Some("1")))
        );
        assert_eq!(step(&updated, Some(&item("a", Some("1")))), Step::AsItWas);
        assert_eq!(
            step(&updated, Some(&item("a", Some("3")))),
            Step::ChangedSince
        );
        assert_eq!(step(&updated, None), Step::ChangedSince);
        let made = change("b", None, Some("5"));
        assert_eq!(step(&made, Some(&item("b", Some("5")))), Step::Delete);
        assert_eq!(step(&made, None), Step::AsItWas);
        let deleted = change("c", Some("7"), None);
        assert_eq!(step(&deleted, None), Step::PutBack(item("c", Some("7"))));
        assert_eq!(
            step(&deleted, Some(&item("c", Some("8")))),
            Step::ChangedSince
        );
    }
}
