//! Every item write that passes through the layer, with its old and new image and when it
//! happened: the history DynamoDB keeps for point-in-time recovery, which incremental exports
//! ([`super::IncrementalExport`]) read and moto does not keep.
//!
//! A write (PutItem, UpdateItem, DeleteItem, BatchWriteItem, TransactWriteItems) is recorded by
//! reading its items before and after moto applies it ([`ItemHistory::begin`] and
//! [`Recording::finish`]); writes to the same key are serialized through the layer so that each
//! record's images are its own. Writes made straight to moto are not seen.
//!
//! Tests cannot wait hours for a rollback window, so a table's clock can be set back
//! ([`ItemHistory::rewind`]): what the layer records for it from then on (its writes, the moment
//! its point-in-time recovery was turned on) happened that long ago.

use std::collections::{HashMap, HashSet};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use super::{Call, Service, Upstream};

/// One recorded write of one item.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemWrite {
    /// The table.
    pub table: String,
    /// The item's key, in DynamoDB JSON.
    pub key: Value,
    /// The item before the write, in DynamoDB JSON (`None`: it did not exist).
    pub old: Option<Value>,
    /// The item after the write (`None`: deleted, or never made).
    pub new: Option<Value>,
    /// When, by the table's clock.
    pub at: SystemTime,
}

/// One key's net change over a window: what an incremental export writes for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// The key, in DynamoDB JSON.
    pub key: Value,
    /// The item at the window's start (`None`: absent).
    pub old: Option<Value>,
    /// The item just before the window's end (`None`: absent).
    pub new: Option<Value>,
    /// The last write's time.
    pub at: SystemTime,
}

impl Change {
    /// The line an incremental export writes for this change (developer guide, "DynamoDB table
    /// export output format", incremental export output): `Metadata.WriteTimestampMicros`,
    /// `Keys`, and `OldImage`/`NewImage` as the view type and the change have them. With
    /// `NEW_IMAGE` a delete has only its keys.
    pub fn line(&self, new_and_old: bool) -> Value {
        let micros = self
            .at
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_micros();
        let mut line = json!({
            "Metadata": {"WriteTimestampMicros": {"N": micros.to_string()}},
            "Keys": self.key,
        });
        if new_and_old && let Some(old) = &self.old {
            line["OldImage"] = old.clone();
        }
        if let Some(new) = &self.new {
            line["NewImage"] = new.clone();
        }
        line
    }
}

/// The layer's record of item writes, shared by the proxy (which records) and the rules that
/// answer from it.
#[derive(Debug, Default)]
pub struct ItemHistory {
    state: Mutex<State>,
    /// Keys whose write is under way.
    busy: Mutex<HashSet<String>>,
    freed: Condvar,
}

#[derive(Debug, Default)]
struct State {
    writes: Vec<ItemWrite>,
    rewound: HashMap<String, Duration>,
    key_names: HashMap<String, Vec<String>>,
    pitr_since: HashMap<String, SystemTime>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The write operations of DynamoDB's API that change items.
const ITEM_WRITES: [&str; 5] = [
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "BatchWriteItem",
    "TransactWriteItems",
];

impl ItemHistory {
    /// A history with nothing in it.
    pub fn new() -> Self {
        Self::default()
    }

    /// From now on, what happens to `table` is recorded as happening `by` before the real
    /// moment (`Duration::ZERO`: at the real moment again). Times must not go backwards for a
    /// table: rewind by less and less.
    pub fn rewind(&self, table: &str, by: Duration) {
        lock(&self.state).rewound.insert(table.to_owned(), by);
    }

    /// Now, by `table`'s clock.
    pub fn now(&self, table: &str) -> SystemTime {
        let by = lock(&self.state)
            .rewound
            .get(table)
            .copied()
            .unwrap_or_default();
        SystemTime::now() - by
    }

    /// Notes that `table`'s point-in-time recovery was turned on now, by its clock.
    pub fn pitr_enabled(&self, table: &str) {
        let at = self.now(table);
        lock(&self.state).pitr_since.insert(table.to_owned(), at);
    }

    /// Notes that `table`'s point-in-time recovery was turned off.
    pub fn pitr_disabled(&self, table: &str) {
        lock(&self.state).pitr_since.remove(table);
    }

    /// When `table`'s point-in-time recovery was last turned on through the layer.
    pub fn pitr_since(&self, table: &str) -> Option<SystemTime> {
        lock(&self.state).pitr_since.get(table).copied()
    }

    /// Every write recorded for `table`, oldest first.
    pub fn writes(&self, table: &str) -> Vec<ItemWrite> {
        lock(&self.state)
            .writes
            .iter()
            .filter(|w| w.table == table)
            .cloned()
            .collect()
    }

    /// Each key's net change in `[from, to)`: the item before the window's first write of it and
    /// after its last, in the order of the keys' first writes. A key written only outside the
    /// window is not there.
    pub fn changes(&self, table: &str, from: SystemTime, to: SystemTime) -> Vec<Change> {
        let mut order: Vec<String> = Vec::new();
        let mut net: HashMap<String, Change> = HashMap::new();
        for write in self.writes(table) {
            if write.at < from || write.at >= to {
                continue;
            }
            let id = write.key.to_string();
            match net.get_mut(&id) {
                Some(change) => {
                    change.new.clone_from(&write.new);
                    change.at = write.at;
                }
                None => {
                    order.push(id.clone());
                    net.insert(
                        id,
                        Change {
                            key: write.key,
                            old: write.old,
                            new: write.new,
                            at: write.at,
                        },
                    );
                }
            }
        }
        // Compacted: "The item will only appear once in the export even if it has multiple
        // updates within the same export period" (developer guide, "Requesting a table export
        // in DynamoDB"); one made and deleted within the window has no state to show.
        order
            .into_iter()
            .filter_map(|id| net.remove(&id))
            .filter(|c| c.old.is_some() || c.new.is_some())
            .collect()
    }

    /// Before `call` goes to moto: when it writes items, reads them as they are (holding their
    /// keys until [`Recording::finish`]); `None` for any other call, or if the items cannot be
    /// read.
    pub fn begin<'a>(&'a self, call: &Call, upstream: &dyn Upstream) -> Option<Recording<'a>> {
        if call.service != Service::DynamoDb || !ITEM_WRITES.contains(&call.operation.as_str()) {
            return None;
        }
        let mut touched = Vec::new();
        for (table, item_or_key) in targets(call) {
            let names = self.key_names(call, &table, upstream)?;
            let key = key_of(&item_or_key, &names)?;
            touched.push((table, key));
        }
        let ids: Vec<String> = touched
            .iter()
            .map(|(t, k)| format!("{t}\u{0}{k}"))
            .collect();
        {
            // A write whose recording never ended (it cannot, but a hang is worse than a wrong
            // record) is waited for a minute at most.
            let mut busy = lock(&self.busy);
            let deadline = std::time::Instant::now() + Duration::from_secs(60);
            while ids.iter().any(|id| busy.contains(id)) {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                if left.is_zero() {
                    break;
                }
                busy = self
                    .freed
                    .wait_timeout(busy, left)
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
            }
            busy.extend(ids.iter().cloned());
        }
        let before = read_items(call, &touched, upstream);
        Some(Recording {
            history: self,
            touched,
            ids,
            before,
        })
    }

    /// The names of `table`'s key attributes (DescribeTable, asked once).
    fn key_names(&self, call: &Call, table: &str, upstream: &dyn Upstream) -> Option<Vec<String>> {
        if let Some(names) = lock(&self.state).key_names.get(table) {
            return Some(names.clone());
        }
        let described = upstream.ask(
            call,
            "DynamoDB_20120810.DescribeTable",
            &json!({"TableName": table}),
        )?;
        let names: Vec<String> = described["Table"]["KeySchema"]
            .as_array()?
            .iter()
            .filter_map(|k| k["AttributeName"].as_str().map(str::to_owned))
            .collect();
        lock(&self.state)
            .key_names
            .insert(table.to_owned(), names.clone());
        Some(names)
    }

    /// `table`'s items as they were at `at`, from `items` (as moto holds them) and the writes
    /// recorded: a key written at or after `at` is as its first such write found it (absent
    /// when it did not exist), every other as it is. `None` when the key names cannot be read.
    pub fn as_of(
        &self,
        call: &Call,
        table: &str,
        at: SystemTime,
        items: Vec<Value>,
        upstream: &dyn Upstream,
    ) -> Option<Vec<Value>> {
        let names = self.key_names(call, table, upstream)?;
        let mut then: Vec<(Value, Option<Value>)> = Vec::new();
        for write in self.writes(table).into_iter().filter(|w| w.at >= at) {
            if !then.iter().any(|(key, _)| *key == write.key) {
                then.push((write.key, write.old));
            }
        }
        let mut out: Vec<Value> = items
            .into_iter()
            .filter(|item| {
                key_of(item, &names).is_none_or(|key| !then.iter().any(|(k, _)| *k == key))
            })
            .collect();
        out.extend(then.into_iter().filter_map(|(_, old)| old));
        Some(out)
    }

    /// Forgets what the layer knows of `table`'s shape and recovery (it was deleted: a new one
    /// of the name may have another key); its writes stay, as PITR keeps a deleted table's.
    pub fn forget_table(&self, table: &str) {
        let mut state = lock(&self.state);
        state.key_names.remove(table);
        state.pitr_since.remove(table);
    }
}

/// A write under way: its items as they were before it.
pub struct Recording<'a> {
    history: &'a ItemHistory,
    touched: Vec<(String, Value)>,
    ids: Vec<String>,
    before: Option<Vec<Option<Value>>>,
}

impl Drop for Recording<'_> {
    /// Frees the keys, however the write ended.
    fn drop(&mut self) {
        let mut busy = lock(&self.history.busy);
        for id in &self.ids {
            busy.remove(id);
        }
        self.history.freed.notify_all();
    }
}

impl Recording<'_> {
    /// After moto answered: when it wrote (`succeeded`), reads the items again and records each
    /// one's change. The keys are freed when the recording is dropped, here.
    pub fn finish(self, call: &Call, succeeded: bool, upstream: &dyn Upstream) {
        if succeeded
            && let Some(before) = &self.before
            && let Some(after) = read_items(call, &self.touched, upstream)
        {
            let mut writes = Vec::new();
            for (((table, key), old), new) in self.touched.iter().zip(before).zip(after) {
                let at = self.history.now(table);
                writes.push(ItemWrite {
                    table: table.clone(),
                    key: key.clone(),
                    old: old.clone(),
                    new,
                    at,
                });
            }
            lock(&self.history.state).writes.extend(writes);
        }
    }
}

/// The (table, item or key) pairs a write names.
fn targets(call: &Call) -> Vec<(String, Value)> {
    let table = || call.field("TableName").unwrap_or_default().to_owned();
    match call.operation.as_str() {
        "PutItem" => vec![(table(), call.json["Item"].clone())],
        "UpdateItem" | "DeleteItem" => vec![(table(), call.json["Key"].clone())],
        "BatchWriteItem" => call.json["RequestItems"]
            .as_object()
            .into_iter()
            .flatten()
            .flat_map(|(table, requests)| {
                requests.as_array().into_iter().flatten().filter_map(|r| {
                    let target = r["PutRequest"]["Item"]
                        .as_object()
                        .or_else(|| r["DeleteRequest"]["Key"].as_object())?;
                    Some((table.clone(), Value::Object(target.clone())))
                })
            })
            .collect(),
        "TransactWriteItems" => call.json["TransactItems"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| {
                let (op, field) = [("Put", "Item"), ("Update", "Key"), ("Delete", "Key")]
                    .into_iter()
                    .find(|(op, _)| t[op].is_object())?;
                let table = t[op]["TableName"].as_str()?.to_owned();
                Some((table, t[op][field].clone()))
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The key attributes of an item (or of a key), as a JSON object in name order.
fn key_of(item: &Value, names: &[String]) -> Option<Value> {
    let mut names = names.to_vec();
    names.sort();
    let mut key = serde_json::Map::new();
    for name in names {
        key.insert(name.clone(), item.get(&name)?.clone());
    }
    Some(Value::Object(key))
}

/// The items of `keys` as moto holds them now (BatchGetItem, strongly consistent), in the keys'
/// order; `None` if moto could not be asked.
fn read_items(
    call: &Call,
    keys: &[(String, Value)],
    upstream: &dyn Upstream,
) -> Option<Vec<Option<Value>>> {
    let mut by_table: HashMap<&str, Vec<&Value>> = HashMap::new();
    for (table, key) in keys {
        let wanted = by_table.entry(table).or_default();
        if !wanted.contains(&key) {
            wanted.push(key);
        }
    }
    let mut found: HashMap<(String, String), Value> = HashMap::new();
    for (table, wanted) in by_table {
        for chunk in wanted.chunks(100) {
            let answer = upstream.ask(
                call,
                "DynamoDB_20120810.BatchGetItem",
                &json!({"RequestItems": {table: {"Keys": chunk, "ConsistentRead": true}}}),
            )?;
            for item in answer["Responses"][table].as_array().into_iter().flatten() {
                let Some(key) = chunk.iter().find(|k| {
                    k.as_object()
                        .is_some_and(|k| k.iter().all(|(n, v)| item.get(n) == Some(v)))
                }) else {
                    continue;
                };
                found.insert((table.to_owned(), key.to_string()), item.clone());
            }
        }
    }
    Some(
        keys.iter()
            .map(|(t, k)| found.get(&(t.clone(), k.to_string())).cloned())
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(key: u32, old: Option<u32>, new: Option<u32>, at: u64) -> ItemWrite {
        let item = |v: u32| json!({"id": {"N": key.to_string()}, "v": {"N": v.to_string()}});
        ItemWrite {
            table: "T".to_owned(),
            key: json!({"id": {"N": key.to_string()}}),
            old: old.map(item),
            new: new.map(item),
            at: SystemTime::UNIX_EPOCH + Duration::from_secs(at),
        }
    }

    fn history(writes: Vec<ItemWrite>) -> ItemHistory {
        let history = ItemHistory::new();
        lock(&history.state).writes = writes;
        history
    }

    fn secs(s: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(s)
    }

    #[test]
    fn the_table_as_of_a_moment_undoes_every_later_write() {
        let h = history(vec![
            write(1, None, Some(1), 10),    // before the moment: stays
            write(1, Some(1), Some(2), 20), // after it: key 1 was v1
            write(2, None, Some(5), 25),    // made after it: was absent
            write(3, Some(7), None, 30),    // deleted after it: was v7
            write(1, Some(2), Some(3), 35),
        ]);
        lock(&h.state)
            .key_names
            .insert("T".to_owned(), vec!["id".to_owned()]);
        let item = |k: u32, v: u32| json!({"id": {"N": k.to_string()}, "v": {"N": v.to_string()}});
        let now = vec![item(1, 3), item(2, 5), item(4, 9)];
        let call = super::super::testing::json_call(Service::DynamoDb, "Scan", json!({}));
        let then = h
            .as_of(&call, "T", secs(15), now, &super::super::testing::Nothing)
            .expect("the key names are known");
        assert_eq!(then, vec![item(4, 9), item(1, 1), item(3, 7)]);
    }

    #[test]
    fn a_window_keeps_each_keys_first_old_and_last_new_image() {
        let h = history(vec![
            write(1, None, Some(1), 10),    // before the window
            write(1, Some(1), Some(2), 20), // in it
            write(2, None, Some(5), 25),    // made in it
            write(1, Some(2), Some(3), 30), // in it again
            write(3, Some(7), None, 35),    // deleted in it
            write(1, Some(3), Some(4), 40), // at the end: excluded
            write(4, None, Some(1), 21),    // made and deleted in it: nothing to show
            write(4, Some(1), None, 22),
        ]);
        let changes = h.changes("T", secs(20), secs(40));
        let net: Vec<(u32, Option<Value>, Option<Value>)> = changes
            .iter()
            .map(|c| {
                (
                    c.key["id"]["N"].as_str().unwrap().parse().unwrap(),
                    c.old.as_ref().map(|i| i["v"]["N"].clone()),
                    c.new.as_ref().map(|i| i["v"]["N"].clone()),
                )
            })
            .collect();
        assert_eq!(
            net,
            vec![
                (1, Some(json!("1")), Some(json!("3"))),
                (2, None, Some(json!("5"))),
                (3, Some(json!("7")), None),
            ]
        );
        assert_eq!(changes[0].at, secs(30));
        assert!(h.changes("T", secs(41), secs(50)).is_empty());
        assert!(h.changes("Other", secs(0), secs(50)).is_empty());
    }

    #[test]
    fn export_lines_have_the_images_the_view_type_and_change_call_for() {
        let h = history(vec![
            write(3, Some(7), None, 35),
            write(2, None, Some(5), 36),
        ]);
        let changes = h.changes("T", secs(0), secs(50));
        let deleted = changes[0].line(true);
        assert_eq!(deleted["Metadata"]["WriteTimestampMicros"]["N"], "35000000");
        assert_eq!(deleted["Keys"], json!({"id": {"N": "3"}}));
        assert_eq!(deleted["OldImage"]["v"]["N"], "7");
        assert!(deleted.get("NewImage").is_none());
        let deleted_new_only = changes[0].line(false);
        assert!(
            deleted_new_only.get("OldImage").is_none()
                && deleted_new_only.get("NewImage").is_none()
        );
        let made = changes[1].line(true);
        assert!(made.get("OldImage").is_none());
        assert_eq!(made["NewImage"]["v"]["N"], "5");
    }

    #[test]
    fn writes_name_their_tables_and_items() {
        let call = super::super::testing::json_call(
            Service::DynamoDb,
            "BatchWriteItem",
            json!({"RequestItems": {"A": [
                {"PutRequest": {"Item": {"id": {"N": "1"}, "x": {"S": "y"}}}},
                {"DeleteRequest": {"Key": {"id": {"N": "2"}}}}
            ]}}),
        );
        let named = targets(&call);
        assert_eq!(named.len(), 2);
        assert_eq!(
            key_of(&named[0].1, &["id".to_owned()]),
            Some(json!({"id": {"N": "1"}}))
        );
        let transact = super::super::testing::json_call(
            Service::DynamoDb,
            "TransactWriteItems",
            json!({"TransactItems": [
                {"ConditionCheck": {"TableName": "A", "Key": {"id": {"N": "9"}}}},
                {"Update": {"TableName": "B", "Key": {"id": {"N": "3"}}}}
            ]}),
        );
        assert_eq!(
            targets(&transact),
            vec![("B".to_owned(), json!({"id": {"N": "3"}}))]
        );
    }

    #[test]
    fn a_rewound_table_records_in_the_past() {
        let h = ItemHistory::new();
        h.rewind("T", Duration::from_secs(3600));
        let then = h.now("T");
        let ago = SystemTime::now().duration_since(then).unwrap();
        assert!(ago >= Duration::from_secs(3599) && ago < Duration::from_secs(3700));
        h.pitr_enabled("T");
        assert!(h.pitr_since("T").unwrap() < SystemTime::now() - Duration::from_secs(3599));
        h.rewind("T", Duration::ZERO);
        assert!(h.now("T") > SystemTime::now() - Duration::from_secs(60));
    }
}
