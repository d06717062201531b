//! A run over a tag's tables that outlasts one invocation: one *logical run* across a chain of
//! invocations (parts). A part that cannot finish before its deadline stops starting tables,
//! writes where it got to in the run's state and hands the rest to a new asynchronous
//! invocation of the function (the [`Continuer`](crate::continuer::Continuer) port), whose event
//! names the run and the part: `{"TableTag": ..., "Continuation": {"Run": "<id>", "Part": 2}}`.
//!
//! The state is one object per tag in the log bucket ([`key`]), written only conditionally
//! (If-Match, If-None-Match), so that
//! - a part runs once: it claims its number before doing anything, and a second delivery of the
//!   same event (Lambda's queue may deliver one twice) finds the part claimed by another request
//!   and does nothing; Lambda's own retry of a failed part (the same request id) runs it again
//!   from where it began, each table's backup found again by its ledger line, not made twice;
//! - a later scheduled run supersedes an unfinished one (a continuation lost, or failed for
//!   good): it runs the tables the old run had not reached first, then the others, each once, and
//!   a late part of the old run then finds the state belongs to another run and does nothing.
//!
//! Everything here is pure; `tagged.rs` reads and writes the state and runs the tables.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::request::RequestError;
use crate::select::TableTag;

/// The state's version; a state of another is left alone (a new run starts over it). Version 2:
/// the run's tables grow as discovery finds them (version 1 fixed them once it was complete).
pub const VERSION: u32 = 2;

/// The log bucket's prefix for logical runs' states, one object per tag.
pub const PREFIX: &str = "continuations/";

/// The longest request id a `Continuation` may carry (Lambda's are 36-character UUIDs).
const MAX_RUN_ID: usize = 128;

/// The state's key for runs over `tag`: its SHA-256, as a tag's key and value may hold
/// characters a key had better not.
pub fn key(tag: &TableTag) -> String {
    let digest = Sha256::digest(format!("{}\u{0}{}", tag.key, tag.value).as_bytes());
    let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    format!("{PREFIX}{hex}.json")
}

/// The event's `Continuation`: which logical run, and which part of it, this invocation is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Continuation {
    /// The logical run: its first invocation's request id.
    #[serde(rename = "Run")]
    pub run: String,
    /// The part: 2 for the first continuation.
    #[serde(rename = "Part")]
    pub part: u32,
}

impl Continuation {
    /// The event's `Continuation`, if it has one.
    pub fn from_event(event: &Value) -> Result<Option<Self>, RequestError> {
        let Some(value) = event.get("Continuation").filter(|c| !c.is_null()) else {
            return Ok(None);
        };
        let bad = || RequestError::BadContinuation(value.to_string());
        let run = value.get("Run").and_then(Value::as_str).ok_or_else(bad)?;
        let part = value
            .get("Part")
            .and_then(Value::as_u64)
            .and_then(|p| u32::try_from(p).ok())
            .filter(|p| *p >= 2)
            .ok_or_else(bad)?;
        if run.is_empty() || run.len() > MAX_RUN_ID {
            return Err(bad());
        }
        Ok(Some(Self {
            run: run.to_owned(),
            part,
        }))
    }

    /// `event` (the schedule's, with its `TableTag` and retention fields) naming this part.
    pub fn event(&self, event: &Value) -> Value {
        let mut next = event.clone();
        if let Some(fields) = next.as_object_mut() {
            fields.insert(
                "Continuation".to_owned(),
                serde_json::to_value(self).unwrap_or(Value::Null),
            );
        }
        next
    }
}

/// A backup a part had no time left to delete: the next part deletes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingDeletion {
    /// Its table.
    pub table: String,
    /// The backup's name.
    pub name: String,
}

/// How a part handed the rest on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum HandOn {
    /// The next part's invocation was queued.
    Invoked,
    /// It could not be: the next scheduled run takes the rest over.
    Failed {
        /// Why.
        error: String,
    },
}

/// One invocation of a logical run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    /// 1 for the scheduled invocation, then 2, 3, ...
    pub number: u32,
    /// The invocation's request id.
    pub request_id: String,
    /// When it began.
    #[serde(with = "time::serde::rfc3339")]
    pub started: OffsetDateTime,
    /// When it ended, if it did.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub ended: Option<OffsetDateTime>,
    /// The first table it ran (an index into the run's tables).
    pub from: usize,
    /// How many tables it ran.
    #[serde(default)]
    pub tables_run: usize,
    /// How many of the deletions earlier parts left it finished.
    #[serde(default)]
    pub deletions_finished: usize,
    /// How it handed the rest on, if it did.
    #[serde(default)]
    pub handed_on: Option<HandOn>,
}

/// Where the parts got to in finding the tables the tag selects (ListTagsOfResource is ten
/// calls a second per account: 10,000 tables take 1,000 s, past one invocation). Each table
/// found joins the run's tables at once and may run while the others' tags are still read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscoveryProgress {
    /// Whether the account's tables have been listed (`names`, `prefix`).
    pub listed: bool,
    /// The account's tables in the order their tags are read: a run taken over's unreached
    /// tables first, then the others as ListTables gave them.
    pub names: Vec<String>,
    /// The ARN prefix their names complete.
    pub prefix: String,
    /// How many of `names` have had their tags read.
    pub checked: usize,
}

impl DiscoveryProgress {
    /// Whether every table's tags have been read.
    pub fn complete(&self) -> bool {
        self.listed && self.checked >= self.names.len()
    }
}

/// A run that took over an unfinished one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TakeOver {
    /// The unfinished run.
    pub run: String,
    /// How many of the tables it had not reached are still tagged, as found so far (they run
    /// first in this one).
    pub tables_left: usize,
}

/// A logical run's state: its tables in the order they run, how far it got, and its parts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogicalRun {
    /// [`VERSION`].
    pub version: u32,
    /// The run: its first invocation's request id.
    pub run: String,
    /// The tag, `key=value`.
    pub tag: String,
    /// When the first part began.
    #[serde(with = "time::serde::rfc3339")]
    pub started: OffsetDateTime,
    /// Every table of the run found so far, in the order they run (complete once discovery
    /// is).
    pub tables: Vec<String>,
    /// Discovery under way: the tables are not known yet.
    #[serde(default)]
    pub discovery: Option<DiscoveryProgress>,
    /// The tables a run taken over had not reached: their tags are read first, so that those
    /// still tagged run first.
    #[serde(default)]
    pub first: Vec<String>,
    /// Tables before this index have been run.
    pub next: usize,
    /// Deletions a part left for the next.
    #[serde(default)]
    pub pending: Vec<PendingDeletion>,
    /// The tables that failed, in any part.
    #[serde(default)]
    pub failed: Vec<String>,
    /// The parts so far.
    pub parts: Vec<Part>,
    /// The unfinished run this one took over, if any.
    #[serde(default)]
    pub took_over: Option<TakeOver>,
    /// When the last table (and deletion) was done.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub finished: Option<OffsetDateTime>,
}

/// Why a continuation does nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "reason")]
pub enum Skip {
    /// The state belongs to another run (a later scheduled run took this one over), or there
    /// is none.
    Superseded {
        /// The run the state belongs to, if any.
        current: Option<String>,
    },
    /// Another invocation claimed this part (the event was delivered twice).
    Duplicate {
        /// The request that claimed it.
        claimed_by: String,
    },
    /// The run had finished.
    Finished,
    /// Not the part the run waits for.
    OutOfOrder {
        /// The part it waits for, if any.
        expected: Option<u32>,
    },
    /// Another invocation wrote the state at the same moment; it goes on, this one does not.
    Raced,
}

impl LogicalRun {
    /// A new logical run (part 1), by `request_id` at `now`, its tables still to be discovered
    /// ([`LogicalRun::discovered`]). An unfinished `previous` run of another request is taken
    /// over: the tables it had not reached (or left deletions of) will run first. `previous` of
    /// this very request is Lambda retrying part 1: the run starts again as it did, nothing
    /// taken over.
    pub fn begin(
        previous: Option<&LogicalRun>,
        tag: &TableTag,
        request_id: &str,
        now: OffsetDateTime,
    ) -> Self {
        let unfinished = previous
            .filter(|p| p.finished.is_none() && p.run != request_id && p.version == VERSION);
        let mut first: Vec<String> = Vec::new();
        let mut took_over = None;
        if let Some(old) = unfinished {
            // Not yet discovered, the old run's own "first" are what it had not reached.
            let left = old
                .tables
                .iter()
                .skip(old.next)
                .chain(old.pending.iter().map(|d| &d.table))
                .chain(old.discovery.iter().flat_map(|_| old.first.iter()));
            for table in left {
                if !first.contains(table) {
                    first.push(table.clone());
                }
            }
            took_over = Some(TakeOver {
                run: old.run.clone(),
                tables_left: 0,
            });
        }
        Self {
            version: VERSION,
            run: request_id.to_owned(),
            tag: tag.to_string(),
            started: now,
            tables: Vec::new(),
            discovery: Some(DiscoveryProgress::default()),
            first,
            next: 0,
            pending: Vec::new(),
            failed: Vec::new(),
            parts: vec![Part::new(1, request_id, now, 0)],
            took_over,
            finished: None,
        }
    }

    /// The account's tables are listed: `names` (ListTables' order), completing `prefix`. Their
    /// tags are to be read with the tables a run taken over had not reached first.
    pub fn listed(&mut self, names: Vec<String>, prefix: String) {
        let Some(progress) = self.discovery.as_mut() else {
            return;
        };
        let listed: std::collections::HashSet<&String> = names.iter().collect();
        let mut ordered: Vec<String> = Vec::with_capacity(names.len());
        for table in &self.first {
            if listed.contains(table) && !ordered.contains(table) {
                ordered.push(table.clone());
            }
        }
        let early: std::collections::HashSet<String> = ordered.iter().cloned().collect();
        ordered.extend(names.into_iter().filter(|t| !early.contains(t)));
        progress.names = ordered;
        progress.prefix = prefix;
        progress.listed = true;
    }

    /// `checked` more tables' tags were read, in order; `tagged` of them carry the tag and join
    /// the run's tables, in that order. Once every table's are read, discovery is complete.
    pub fn checked(&mut self, checked: usize, tagged: &[String]) {
        let Some(progress) = self.discovery.as_mut() else {
            return;
        };
        progress.checked = (progress.checked + checked).min(progress.names.len());
        let complete = progress.complete();
        if let Some(taken) = self.took_over.as_mut() {
            let first: std::collections::HashSet<&String> = self.first.iter().collect();
            taken.tables_left += tagged.iter().filter(|t| first.contains(t)).count();
        }
        self.tables.extend(tagged.iter().cloned());
        if complete {
            self.first.clear();
            self.discovery = None;
        }
    }

    /// The tables whose tags are still to be read.
    pub fn unchecked(&self) -> &[String] {
        self.discovery
            .as_ref()
            .map_or(&[], |p| p.names.get(p.checked..).unwrap_or(&[]))
    }

    /// This run with part `continuation.part` claimed by `request_id` at `now`, or why this
    /// invocation does nothing. Lambda's retry of a part (the same request id) runs it again
    /// from where it began.
    pub fn resume(
        &self,
        continuation: &Continuation,
        request_id: &str,
        now: OffsetDateTime,
    ) -> Result<Self, Skip> {
        if self.run != continuation.run || self.version != VERSION {
            return Err(Skip::Superseded {
                current: Some(self.run.clone()),
            });
        }
        let mut state = self.clone();
        if let Some(at) = state
            .parts
            .iter()
            .position(|p| p.number == continuation.part)
        {
            let part = &state.parts[at];
            if part.request_id != request_id {
                return Err(Skip::Duplicate {
                    claimed_by: part.request_id.clone(),
                });
            }
            // Lambda's retry of this part: again from where it began.
            let from = part.from;
            state.parts.truncate(at);
            state.next = from;
            state.finished = None;
            state
                .parts
                .push(Part::new(continuation.part, request_id, now, from));
            return Ok(state);
        }
        if state.finished.is_some() {
            return Err(Skip::Finished);
        }
        let last = state.parts.last();
        let expected = last
            .filter(|p| p.handed_on == Some(HandOn::Invoked))
            .map(|p| p.number + 1);
        if expected != Some(continuation.part) {
            return Err(Skip::OutOfOrder { expected });
        }
        let from = state.next;
        state
            .parts
            .push(Part::new(continuation.part, request_id, now, from));
        Ok(state)
    }

    /// The part under way (the last).
    pub fn part(&self) -> Option<&Part> {
        self.parts.last()
    }

    /// Ends the part under way at `now`: `ran` more tables run (from `next` on), `finished`
    /// pending deletions done, `pending` left for the next part, `failed` tables. Whether the
    /// run has more to do (and the part should hand on).
    pub fn end_part(
        &mut self,
        ran: usize,
        deletions_finished: usize,
        pending: Vec<PendingDeletion>,
        failed: Vec<String>,
        now: OffsetDateTime,
    ) -> bool {
        self.next = (self.next + ran).min(self.tables.len());
        self.pending = pending;
        for table in failed {
            if !self.failed.contains(&table) {
                self.failed.push(table);
            }
        }
        if let Some(part) = self.parts.last_mut() {
            part.ended = Some(now);
            part.tables_run = ran;
            part.deletions_finished = deletions_finished;
        }
        let more =
            self.discovery.is_some() || self.next < self.tables.len() || !self.pending.is_empty();
        if !more {
            self.finished = Some(now);
        }
        more
    }

    /// Records how the part under way handed on.
    pub fn handed_on(&mut self, how: HandOn) {
        if let Some(part) = self.parts.last_mut() {
            part.handed_on = Some(how);
        }
    }

    /// The next part's continuation.
    pub fn next_continuation(&self) -> Continuation {
        Continuation {
            run: self.run.clone(),
            part: self.part().map_or(2, |p| p.number + 1),
        }
    }
}

impl Part {
    fn new(number: u32, request_id: &str, started: OffsetDateTime, from: usize) -> Self {
        Self {
            number,
            request_id: request_id.to_owned(),
            started,
            ended: None,
            from,
            tables_run: 0,
            deletions_finished: 0,
            handed_on: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2026-12-05 02:00 UTC);

    fn tag() -> TableTag {
        TableTag::from_event(&json!({"TableTag": {"Key": "backup", "Value": "daily"}}))
            .unwrap()
            .unwrap()
    }

    /// A run begun by `request` over `selected`, discovered at once.
    fn begun(previous: Option<&LogicalRun>, selected: &[String], request: &str) -> LogicalRun {
        let mut run = LogicalRun::begin(previous, &tag(), request, T0);
        discover(&mut run, selected);
        run
    }

    /// Every table listed is tagged and read at once.
    fn discover(run: &mut LogicalRun, selected: &[String]) {
        run.listed(selected.to_vec(), "arn:t/".to_owned());
        let order = run.unchecked().to_vec();
        run.checked(order.len(), &order);
    }

    #[test]
    fn a_run_is_not_finished_while_its_tables_are_being_discovered() {
        let mut run = LogicalRun::begin(None, &tag(), "r1", T0);
        assert!(run.tables.is_empty());
        assert!(run.end_part(0, 0, vec![], vec![], T0), "discovery goes on");
        assert_eq!(run.finished, None);
        discover(&mut run, &names(0..2));
        assert_eq!(run.discovery, None);
        assert!(!run.end_part(2, 0, vec![], vec![], T0));
        assert_eq!(run.finished, Some(T0));
    }

    #[test]
    fn found_tables_join_the_run_as_their_tags_are_read_the_unreached_first() {
        let mut old = begun(None, &names(0..6), "r1");
        assert!(
            old.end_part(2, 0, vec![], vec![], T0),
            "T02 to T05 not reached"
        );
        let mut run = LogicalRun::begin(Some(&old), &tag(), "r2", T0);
        // ListTables' order, with a new table T07 and T03 and T05 still to come.
        run.listed(names(0..8), "arn:t/".to_owned());
        assert_eq!(
            run.unchecked()[..5],
            ["T02", "T03", "T04", "T05", "T00"].map(String::from),
            "the unreached tables' tags are read first"
        );
        // Three read: T02 and T04 tagged (T03 no longer), and they may run already.
        run.checked(3, &["T02".to_owned(), "T04".to_owned()]);
        assert_eq!(run.tables, ["T02", "T04"].map(String::from));
        assert!(run.discovery.is_some());
        assert!(run.end_part(1, 0, vec![], vec![], T0), "discovery goes on");
        assert_eq!(run.next, 1);
        run.checked(5, &["T05".to_owned(), "T00".to_owned(), "T07".to_owned()]);
        assert_eq!(run.discovery, None, "every table's tags read");
        assert_eq!(
            run.tables,
            ["T02", "T04", "T05", "T00", "T07"].map(String::from)
        );
        assert_eq!(run.took_over.as_ref().map(|t| t.tables_left), Some(3));
        assert!(run.first.is_empty());
        assert!(
            run.end_part(1, 0, vec![], vec![], T0),
            "three tables to run"
        );
        assert!(!run.end_part(3, 0, vec![], vec![], T0));
    }

    fn names(range: std::ops::Range<usize>) -> Vec<String> {
        range.map(|i| format!("T{i:02}")).collect()
    }

    #[test]
    fn a_continuation_is_read_from_the_event_and_checked() {
        let event = json!({"TableTag": {"Key": "k", "Value": "v"}, "Continuation": {"Run": "r-1", "Part": 3}});
        let c = Continuation::from_event(&event).unwrap().unwrap();
        assert_eq!(
            c,
            Continuation {
                run: "r-1".into(),
                part: 3
            }
        );
        assert_eq!(c.event(&json!({"TableTag": 1}))["Continuation"]["Part"], 3);
        assert_eq!(Continuation::from_event(&json!({})).unwrap(), None);
        for bad in [
            json!({"Continuation": {"Run": "r", "Part": 1}}),
            json!({"Continuation": {"Run": "", "Part": 2}}),
            json!({"Continuation": {"Part": 2}}),
            json!({"Continuation": {"Run": "r", "Part": "2"}}),
            json!({"Continuation": "r"}),
        ] {
            assert!(Continuation::from_event(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_state_key_is_one_per_tag_and_safe() {
        let other =
            TableTag::from_event(&json!({"TableTag": {"Key": "backup", "Value": "weekly/ü"}}))
                .unwrap()
                .unwrap();
        assert_ne!(key(&tag()), key(&other));
        let k = key(&other);
        assert!(k.starts_with(PREFIX) && k.ends_with(".json"), "{k}");
        assert!(
            k[PREFIX.len()..]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.')
        );
    }

    #[test]
    fn parts_follow_each_other_once_each() {
        let mut run = begun(None, &names(0..10), "r1");
        assert_eq!(run.tables, names(0..10));
        assert!(run.end_part(4, 0, vec![], vec![], T0));
        run.handed_on(HandOn::Invoked);
        let next = run.next_continuation();
        assert_eq!(next.part, 2);
        let two = run.resume(&next, "r2", T0).unwrap();
        assert_eq!(two.part().unwrap().from, 4);
        // The same event delivered again, to another request: nothing.
        assert_eq!(
            two.resume(&next, "r2-again", T0).unwrap_err(),
            Skip::Duplicate {
                claimed_by: "r2".into()
            }
        );
        // Part 3 before part 2 handed on: out of order.
        let three = Continuation {
            run: "r1".into(),
            part: 3,
        };
        assert_eq!(
            two.resume(&three, "r3", T0).unwrap_err(),
            Skip::OutOfOrder { expected: None }
        );
        let mut two = two;
        assert!(!two.end_part(6, 0, vec![], vec!["T05".into()], T0));
        assert_eq!(two.finished, Some(T0));
        assert_eq!(two.failed, ["T05"]);
        assert_eq!(two.resume(&three, "r3", T0).unwrap_err(), Skip::Finished);
    }

    #[test]
    fn lambdas_retry_of_a_part_runs_it_again_from_where_it_began() {
        let mut run = begun(None, &names(0..10), "r1");
        run.end_part(4, 0, vec![], vec![], T0);
        run.handed_on(HandOn::Invoked);
        let next = run.next_continuation();
        let mut two = run.resume(&next, "r2", T0).unwrap();
        // Part 2 ran 3 tables and failed without handing on; Lambda retries it.
        two.end_part(3, 0, vec![], vec![], T0);
        let again = two.resume(&next, "r2", T0).unwrap();
        assert_eq!(again.next, 4);
        assert_eq!(again.parts.len(), 2);
        assert_eq!(again.part().unwrap().from, 4);
        assert_eq!(again.finished, None);
    }

    #[test]
    fn a_later_run_takes_over_the_tables_an_unfinished_one_had_not_reached() {
        let mut old = begun(None, &names(0..10), "r1");
        old.end_part(
            6,
            0,
            vec![PendingDeletion {
                table: "T02".into(),
                name: "b".into(),
            }],
            vec![],
            T0,
        );
        old.handed_on(HandOn::Invoked);
        // The continuation was lost. The next run: T09 untagged since, T10 and T11 new.
        let mut selected = names(0..9);
        selected.extend(names(10..12));
        let new = begun(Some(&old), &selected, "s1");
        assert_eq!(
            new.tables,
            [
                "T06", "T07", "T08", "T02", "T00", "T01", "T03", "T04", "T05", "T10", "T11"
            ]
        );
        assert_eq!(
            new.took_over,
            Some(TakeOver {
                run: "r1".into(),
                tables_left: 4
            })
        );
        // Every selected table once.
        let mut sorted = new.tables.clone();
        sorted.sort();
        assert_eq!(sorted, selected);
        // A late part of the old run finds the state another run's.
        assert_eq!(
            new.resume(&old.next_continuation(), "r2", T0).unwrap_err(),
            Skip::Superseded {
                current: Some("s1".into())
            }
        );
        // Lambda retrying the new run's part 1 starts it again, taking nothing over.
        let retried = begun(Some(&new), &selected, "s1");
        assert_eq!(retried.took_over, None);
        // A finished run is not taken over.
        let mut done = new.clone();
        done.end_part(11, 0, vec![], vec![], T0);
        assert_eq!(begun(Some(&done), &selected, "u1").took_over, None);
    }

    #[test]
    fn the_state_reads_back_as_written() {
        let mut run = begun(None, &names(0..3), "r1");
        run.end_part(1, 0, vec![], vec![], T0);
        run.handed_on(HandOn::Failed {
            error: "TooManyRequestsException".into(),
        });
        let json = serde_json::to_string(&run).unwrap();
        assert_eq!(serde_json::from_str::<LogicalRun>(&json).unwrap(), run);
    }
}
