//! Fingerprints: a sample of the items a backup must hold, read from the table itself, so that a
//! drill or a restore can check the restored data and not only its count.
//!
//! What a backup holds is not exactly the table at the moment it was asked for: "If you submit a
//! backup request on 2018-12-14 at 14:25:00, the backup is guaranteed to contain all data
//! committed to the table up to 14:24:00, and data committed after 14:26:00 will not be. The
//! backup might contain data modifications made between 14:24:00 and 14:26:00" (CreateBackup, API
//! reference). So an item is known to be in a backup as read only if it read the same at least
//! [`MARGIN`] before the request and at least [`MARGIN`] after it. A run reads a sample
//! before it asks for its backup ([`Sample`]: the first items of each of [`SEGMENTS`]
//! parallel-scan segments, strongly consistent); the backup's *before* is the newest earlier
//! sample read a margin before the request, its *after* the first later sample read a margin
//! after it, which is the next run's. The items that read the same in both are the backup's
//! [`Fingerprint`], written by that next run. A backup's fingerprint is so completed by the run
//! after it (runs a minute or more apart), and holds the sampled items that did not change in
//! between; it costs one sample per run: [`SEGMENTS`] Scan calls of [`PER_SEGMENT`] items, a
//! strongly consistent read unit per 4 KB read, and the check [`check`] one BatchGetItem read per
//! sampled item.
//!
//! An export chain's restore point ([`crate::chain`]) is an exact moment, so its fingerprint
//! ([`PointFingerprint`]) needs reads only [`POINT_MARGIN`] either side: the run that starts an
//! export ending at the point records it at once, from an earlier run's sample and its own (the
//! latest restorable moment, where a run's exports end, is minutes behind the run).
//!
//! State lives in the log bucket: `runs/<table>/fingerprints/pending.json` ([`Pending`]), one
//! fingerprint per backup, `runs/<table>/fingerprints/<backup>.json`, and one per restore point,
//! `runs/<table>/fingerprints/points/<moment>.json`.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tracing::{info, warn};

use crate::canonical;
use crate::error::AwsError;
use crate::naming::TableName;
use crate::record;
use crate::retention::Backup;
use crate::store::RecordSink;
use crate::tables::{KEYS_PER_BATCH, Key, Tables, key_item, key_of, key_text};

/// Parallel-scan segments a sample reads from, so that it spans the table's key space.
pub const SEGMENTS: u32 = 4;
/// Items a sample reads from each segment.
pub const PER_SEGMENT: u32 = 25;
/// How far from a backup's request a read must be to say what the backup holds (CreateBackup,
/// API reference: a minute either side).
pub const MARGIN: time::Duration = time::Duration::minutes(1);
/// How far from an export chain's restore point a read must be to say what the point holds. An
/// export's moment is exact to the second (ExportTableToPointInTime, API reference: `ExportTime`
/// "counted in seconds from the start of the Unix epoch. The table export will be a snapshot of
/// the table's state at this point in time"), so the margin stands only for that second and
/// for the clocks of the function and of DynamoDB, which both keep to UTC within milliseconds.
pub const POINT_MARGIN: time::Duration = time::Duration::seconds(5);
/// Samples kept between runs: the newest, and earlier ones a later backup may still need.
const SAMPLES_KEPT: usize = 3;
/// Backups kept waiting for their fingerprint, newest first.
const AWAITING_KEPT: usize = 4;

/// One sampled item: its key and a digest of its values ([`canonical::digest`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sampled {
    /// The item's key.
    pub key: Key,
    /// The digest of the whole item.
    pub digest: String,
}

/// The items one run read, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sample {
    /// When the first read was sent.
    #[serde(with = "time::serde::rfc3339")]
    pub started: OffsetDateTime,
    /// When the last read was answered.
    #[serde(with = "time::serde::rfc3339")]
    pub finished: OffsetDateTime,
    /// The items, in the order read.
    pub items: Vec<Sampled>,
}

/// A backup waiting for the sample that completes its fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Awaiting {
    /// The backup's name.
    pub backup_name: String,
    /// Its ARN.
    pub backup_arn: String,
    /// When CreateBackup was sent (the first attempt).
    #[serde(with = "time::serde::rfc3339")]
    pub requested_from: OffsetDateTime,
    /// When it was answered.
    #[serde(with = "time::serde::rfc3339")]
    pub requested_to: OffsetDateTime,
    /// The sample read a margin before the request.
    pub before: Sample,
}

/// A table's samples and the backups awaiting their fingerprint, kept between runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// Recent samples, oldest first.
    pub samples: Vec<Sample>,
    /// Backups awaiting their fingerprint, oldest first.
    pub awaiting: Vec<Awaiting>,
}

/// The items a backup holds as they read, known from reads a margin either side of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// The table backed up.
    pub table: String,
    /// The backup's name.
    pub backup_name: String,
    /// Its ARN.
    pub backup_arn: String,
    /// When the sample before the backup was answered.
    #[serde(with = "time::serde::rfc3339")]
    pub before: OffsetDateTime,
    /// When the sample after it was sent.
    #[serde(with = "time::serde::rfc3339")]
    pub after: OffsetDateTime,
    /// How many items the sample before the backup read.
    pub sampled: usize,
    /// The items that read the same before and after: the backup holds each as its digest says.
    pub items: Vec<Sampled>,
}

/// The items an export chain's restore point holds as they read, known from reads a
/// [`POINT_MARGIN`] either side of it: what a table restored at the point must hold
/// (`runs/<table>/fingerprints/points/<moment>.json`, [`record::point_fingerprint_key`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PointFingerprint {
    /// The table.
    pub table: String,
    /// The chain whose export, started by the run that recorded this, ends at the point (the
    /// first, where an incremental and the next chain's full export both do).
    pub chain: String,
    /// The point.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// When the sample before the point was answered.
    #[serde(with = "time::serde::rfc3339")]
    pub before: OffsetDateTime,
    /// When the sample after it was sent.
    #[serde(with = "time::serde::rfc3339")]
    pub after: OffsetDateTime,
    /// How many items the sample before the point read.
    pub sampled: usize,
    /// The items that read the same before and after: the point holds each as its digest says.
    pub items: Vec<Sampled>,
}

impl Pending {
    /// The fingerprint of `chain`'s restore point `at`, from the newest sample answered a
    /// [`POINT_MARGIN`] before it and the oldest sent a margin after it; `None` when the samples
    /// kept have no such pair (a point older than they reach, or runs closer than the margin).
    pub fn point(&self, table: &str, chain: &str, at: OffsetDateTime) -> Option<PointFingerprint> {
        let before = self
            .samples
            .iter()
            .rev()
            .find(|s| s.finished + POINT_MARGIN <= at)?;
        let after = self
            .samples
            .iter()
            .find(|s| s.started >= at + POINT_MARGIN)?;
        Some(PointFingerprint {
            table: table.to_owned(),
            chain: chain.to_owned(),
            at,
            before: before.finished,
            after: after.started,
            sampled: before.items.len(),
            items: unchanged(before, after),
        })
    }

    /// Completes, with the sample `now` just read, the fingerprints of the backups it is a
    /// margin after; keeps the others waiting, and `now` among the samples.
    pub fn advance(&mut self, table: &str, now: Sample) -> Vec<Fingerprint> {
        let mut done = Vec::new();
        self.awaiting.retain(|backup| {
            if now.started < backup.requested_to + MARGIN {
                return true;
            }
            done.push(fingerprint(table, backup, &now));
            false
        });
        self.samples.push(now);
        let excess = self.samples.len().saturating_sub(SAMPLES_KEPT);
        self.samples.drain(..excess);
        done
    }

    /// Adds `backup`, asked for between `from` and `to`, to the backups awaiting a fingerprint,
    /// with the newest sample read a margin before `from`; `false` (and nothing added) when
    /// there is none (the table's first run, or runs less than a minute apart).
    pub fn schedule(&mut self, backup: &Backup, from: OffsetDateTime, to: OffsetDateTime) -> bool {
        let Some(before) = self
            .samples
            .iter()
            .rev()
            .find(|s| s.finished + MARGIN <= from)
        else {
            return false;
        };
        self.awaiting.push(Awaiting {
            backup_name: backup.name.clone(),
            backup_arn: backup.arn.clone(),
            requested_from: from,
            requested_to: to,
            before: before.clone(),
        });
        let excess = self.awaiting.len().saturating_sub(AWAITING_KEPT);
        self.awaiting.drain(..excess);
        true
    }
}

/// The fingerprint of `backup`: its before-sample's items that read the same in `after`.
fn fingerprint(table: &str, backup: &Awaiting, after: &Sample) -> Fingerprint {
    Fingerprint {
        table: table.to_owned(),
        backup_name: backup.backup_name.clone(),
        backup_arn: backup.backup_arn.clone(),
        before: backup.before.finished,
        after: after.started,
        sampled: backup.before.items.len(),
        items: unchanged(&backup.before, after),
    }
}

/// The items of `before` that read the same in `after`.
fn unchanged(before: &Sample, after: &Sample) -> Vec<Sampled> {
    let later: HashMap<String, &str> = after
        .items
        .iter()
        .map(|s| (identity(&s.key), s.digest.as_str()))
        .collect();
    before
        .items
        .iter()
        .filter(|s| later.get(&identity(&s.key)) == Some(&s.digest.as_str()))
        .cloned()
        .collect()
}

/// A key's identity, however its numbers are written.
fn identity(key: &Key) -> String {
    canonical::form(&key_item(key)).to_string()
}

/// What a run's fingerprint steps did, as its record says.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FingerprintStep {
    /// Items this run's sample read.
    pub sampled: usize,
    /// Earlier backups whose fingerprint this run completed.
    pub completed: Vec<String>,
    /// Whether this run's backup awaits its fingerprint (from the next run a minute or more
    /// later); not when no sample was read a minute before it (the table's first run, or runs
    /// less than a minute apart).
    pub scheduled: bool,
    /// Why a step could not be taken, if one could not (the backup itself is unaffected).
    pub error: Option<String>,
}

/// What [`Fingerprints::before_backup`] leaves for [`Fingerprints::after_backup`].
#[derive(Debug)]
pub struct Before {
    /// The state as read and advanced; `None` if it could not be read (then it is not
    /// written either, lest a passing failure lose it).
    pending: Option<Pending>,
    step: FingerprintStep,
}

/// A table's fingerprints: the tables they sample and the bucket they are kept in.
#[derive(Debug, Clone, Copy)]
pub struct Fingerprints<'a, T, R> {
    tables: &'a T,
    records: &'a R,
    bucket: &'a str,
}

impl<'a, T: Tables, R: RecordSink> Fingerprints<'a, T, R> {
    /// Fingerprints read through `tables` and kept in `bucket`.
    pub fn new(tables: &'a T, records: &'a R, bucket: &'a str) -> Self {
        Self {
            tables,
            records,
            bucket,
        }
    }

    /// Before a run asks for its backup: reads the sample, and writes the fingerprints of the
    /// earlier backups it completes. Never fails: what went wrong is in the step.
    pub async fn before_backup(
        &self,
        table: &TableName,
        clock: impl Fn() -> OffsetDateTime,
    ) -> Before {
        let mut step = FingerprintStep::default();
        let pending = match self.load_pending(table).await {
            Ok(pending) => pending,
            Err(e) => {
                warn!(table = %table, error = %e, "could not read the fingerprint samples; none this run");
                step.error = Some(e.to_string());
                return Before {
                    pending: None,
                    step,
                };
            }
        };
        let mut pending = pending;
        match sample(self.tables, table, &clock).await {
            Ok(now) => {
                step.sampled = now.items.len();
                for done in pending.advance(table.as_str(), now) {
                    match self.save(&done).await {
                        Ok(()) => {
                            info!(table = %table, backup = %done.backup_name, items = done.items.len(), sampled = done.sampled, "fingerprint recorded");
                            step.completed.push(done.backup_name);
                        }
                        Err(e) => {
                            warn!(table = %table, backup = %done.backup_name, error = %e, "could not record a fingerprint");
                            step.error = Some(e.to_string());
                        }
                    }
                }
            }
            Err(e) => {
                warn!(table = %table, error = %e, "could not sample the table for fingerprints");
                step.error = Some(e.to_string());
            }
        }
        Before {
            pending: Some(pending),
            step,
        }
    }

    /// After the backup was asked for between `from` and `to`: schedules its fingerprint and
    /// keeps the state for the next run; returns the step, and the samples kept (for the
    /// fingerprints of the run's export chain points, [`Fingerprints::record_points`]).
    pub async fn after_backup(
        &self,
        table: &TableName,
        before: Before,
        backup: &Backup,
        (from, to): (OffsetDateTime, OffsetDateTime),
    ) -> (FingerprintStep, Option<Pending>) {
        let Before { pending, mut step } = before;
        let Some(mut pending) = pending else {
            return (step, None);
        };
        step.scheduled = pending.schedule(backup, from, to);
        if !step.scheduled {
            info!(table = %table, backup = %backup.name, "no sample a minute before this backup: it gets no fingerprint");
        }
        let body = serde_json::to_vec(&pending)
            .expect("samples are strings, numbers and maps with string keys");
        let key = record::fingerprint_pending_key(table.as_str());
        if let Err(e) = self.records.put_record(self.bucket, &key, body).await {
            warn!(table = %table, error = %e, "could not keep the fingerprint samples");
            step.scheduled = false;
            step.error = Some(e.to_string());
        }
        (step, Some(pending))
    }

    /// Records the fingerprint of each restore point `(chain, at)` the samples kept in
    /// `pending` reach either side of; returns the points recorded. A point that cannot be
    /// fingerprinted or recorded is logged and left without (its restore is checked without).
    pub async fn record_points(
        &self,
        table: &TableName,
        pending: &Pending,
        points: impl IntoIterator<Item = (String, OffsetDateTime)>,
    ) -> Vec<OffsetDateTime> {
        let mut recorded = Vec::new();
        for (chain, at) in points {
            let Some(print) = pending.point(table.as_str(), &chain, at) else {
                info!(table = %table, chain = %chain, point = %record::rfc3339(at), "no samples either side of this restore point: it gets no fingerprint");
                continue;
            };
            let key = record::point_fingerprint_key(table.as_str(), at);
            let body = serde_json::to_vec(&print)
                .expect("a fingerprint is strings, numbers and maps with string keys");
            match self.records.put_record(self.bucket, &key, body).await {
                Ok(()) => {
                    info!(table = %table, chain = %chain, point = %record::rfc3339(at), items = print.items.len(), "restore point fingerprinted");
                    recorded.push(at);
                }
                Err(e) => {
                    warn!(table = %table, point = %record::rfc3339(at), error = %e, "could not record a restore point's fingerprint");
                }
            }
        }
        recorded
    }

    /// The fingerprint of `table`'s export chain restore point `at`, if one was recorded.
    pub async fn load_point(
        &self,
        table: &TableName,
        at: OffsetDateTime,
    ) -> Result<Option<PointFingerprint>, AwsError> {
        let key = record::point_fingerprint_key(table.as_str(), at);
        let stored = self.records.read_record(self.bucket, &key).await?;
        Ok(stored.and_then(|s| serde_json::from_slice(&s.body).ok()))
    }

    /// The fingerprint of `table`'s backup `backup_name`, if one was recorded.
    pub async fn load(
        &self,
        table: &TableName,
        backup_name: &str,
    ) -> Result<Option<Fingerprint>, AwsError> {
        let key = record::fingerprint_key(table.as_str(), backup_name);
        let stored = self.records.read_record(self.bucket, &key).await?;
        Ok(stored.and_then(|s| serde_json::from_slice(&s.body).ok()))
    }

    async fn load_pending(&self, table: &TableName) -> Result<Pending, AwsError> {
        let key = record::fingerprint_pending_key(table.as_str());
        let stored = self.records.read_record(self.bucket, &key).await?;
        // A state this version cannot read is started over.
        Ok(stored
            .and_then(|s| serde_json::from_slice(&s.body).ok())
            .unwrap_or_default())
    }

    async fn save(&self, fingerprint: &Fingerprint) -> Result<(), AwsError> {
        let key = record::fingerprint_key(&fingerprint.table, &fingerprint.backup_name);
        let body = serde_json::to_vec(fingerprint)
            .expect("a fingerprint is strings, numbers and maps with string keys");
        self.records.put_record(self.bucket, &key, body).await
    }
}

/// Reads `table`'s sample: the first [`PER_SEGMENT`] items of each of [`SEGMENTS`] segments,
/// timed by `clock`.
pub async fn sample(
    tables: &impl Tables,
    table: &TableName,
    clock: impl Fn() -> OffsetDateTime,
) -> Result<Sample, AwsError> {
    let started = clock();
    let shape = tables.shape(table).await?;
    let names: Vec<String> = shape.keys.into_iter().map(|(name, _)| name).collect();
    let mut items = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for segment in 0..SEGMENTS {
        for item in tables
            .sample_segment(table, segment, SEGMENTS, PER_SEGMENT)
            .await?
        {
            let Some(key) = key_of(&item, &names) else {
                continue;
            };
            if seen.insert(identity(&key)) {
                items.push(Sampled {
                    key,
                    digest: canonical::digest(&item),
                });
            }
        }
    }
    Ok(Sample {
        started,
        finished: clock(),
        items,
    })
}

/// What checking a restored table against a fingerprint found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SampleCheck {
    /// The backup's fingerprinted items checked.
    pub checked: usize,
    /// How many the restored table holds as fingerprinted.
    pub matched: usize,
    /// The first item (in the fingerprint's order) that is missing or differs.
    pub first_difference: Option<Difference>,
}

/// An item a restored table does not hold as its backup's fingerprint says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Difference {
    /// The item's key as plain JSON.
    pub key: String,
    /// What is wrong with it.
    pub kind: DifferenceKind,
}

/// How a restored item differs from its fingerprint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum DifferenceKind {
    /// The restored table has no item with the key.
    Missing,
    /// It has one, with other values.
    Changed,
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kind {
            DifferenceKind::Missing => write!(f, "item {} is missing", self.key),
            DifferenceKind::Changed => write!(f, "item {} holds other values", self.key),
        }
    }
}

/// Reads the fingerprint's items from the restored `target` (BatchGetItem, strongly
/// consistent) and compares them.
pub async fn check(
    tables: &impl Tables,
    target: &TableName,
    fingerprint: &Fingerprint,
) -> Result<SampleCheck, AwsError> {
    check_items(tables, target, &fingerprint.items).await
}

/// Reads fingerprinted `items` from the restored `target` (BatchGetItem, strongly consistent)
/// and compares them.
pub async fn check_items(
    tables: &impl Tables,
    target: &TableName,
    items: &[Sampled],
) -> Result<SampleCheck, AwsError> {
    let names: Vec<String> = items
        .first()
        .map(|s| s.key.keys().cloned().collect())
        .unwrap_or_default();
    let mut restored: HashMap<String, String> = HashMap::new();
    for chunk in items.chunks(KEYS_PER_BATCH) {
        let keys: Vec<Key> = chunk.iter().map(|s| s.key.clone()).collect();
        for item in tables.get_items(target, &keys).await? {
            if let Some(key) = key_of(&item, &names) {
                restored.insert(identity(&key), canonical::digest(&item));
            }
        }
    }
    Ok(compare(items, &restored))
}

/// Compares the fingerprinted items with the restored digests by key identity.
fn compare(items: &[Sampled], restored: &HashMap<String, String>) -> SampleCheck {
    let mut check = SampleCheck {
        checked: items.len(),
        matched: 0,
        first_difference: None,
    };
    for sampled in items {
        let kind = match restored.get(&identity(&sampled.key)) {
            Some(digest) if *digest == sampled.digest => {
                check.matched += 1;
                continue;
            }
            Some(_) => DifferenceKind::Changed,
            None => DifferenceKind::Missing,
        };
        check.first_difference.get_or_insert_with(|| Difference {
            key: key_text(&sampled.key),
            kind,
        });
    }
    check
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retention::{BackupKind, BackupState};
    use crate::tables::KeyValue;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2026-12-01 02:00 UTC);

    fn sampled(title: &str, digest: &str) -> Sampled {
        Sampled {
            key: Key::from([
                ("year".to_owned(), KeyValue::N("2013".to_owned())),
                ("title".to_owned(), KeyValue::S(title.to_owned())),
            ]),
            digest: digest.to_owned(),
        }
    }

    fn sample_at(at: OffsetDateTime, items: Vec<Sampled>) -> Sample {
        Sample {
            started: at,
            finished: at + time::Duration::seconds(1),
            items,
        }
    }

    fn backup(name: &str) -> Backup {
        Backup {
            arn: format!("arn:aws:dynamodb:us-east-1:1:table/Movies/backup/{name}"),
            name: name.to_owned(),
            created: T0,
            state: BackupState::Creating,
            kind: BackupKind::User,
        }
    }

    fn minutes(n: i64) -> time::Duration {
        time::Duration::minutes(n)
    }

    #[test]
    fn a_restore_point_is_fingerprinted_from_the_samples_five_seconds_either_side() {
        let mut pending = Pending::default();
        let seconds = time::Duration::seconds;
        pending.advance(
            "Movies",
            sample_at(T0, vec![sampled("Rush", "a"), sampled("Up", "u")]),
        );
        pending.advance(
            "Movies",
            sample_at(
                T0 + minutes(60),
                vec![sampled("Up", "u2"), sampled("Rush", "a")],
            ),
        );
        // A point between the two samples, each well clear of it.
        let at = T0 + minutes(30);
        let print = pending
            .point("Movies", "c1", at)
            .expect("samples either side");
        assert_eq!(
            print.items,
            vec![sampled("Rush", "a")],
            "Up changed in between"
        );
        assert_eq!(
            (print.before, print.after),
            (T0 + seconds(1), T0 + minutes(60))
        );
        assert_eq!((print.sampled, print.chain.as_str()), (2, "c1"));
        // The first sample answered at T0 + 1 s: a point less than five seconds after that has
        // no sample before it, and one less than five seconds before the second none after.
        assert!(pending.point("Movies", "c1", T0 + seconds(5)).is_none());
        assert!(pending.point("Movies", "c1", T0 + seconds(6)).is_some());
        assert!(
            pending
                .point("Movies", "c1", T0 + minutes(60) - seconds(4))
                .is_none()
        );
        assert!(
            pending
                .point("Movies", "c1", T0 + minutes(60) - seconds(5))
                .is_some()
        );
    }

    #[test]
    fn a_fingerprint_holds_the_items_that_read_the_same_a_minute_either_side() {
        let mut pending = Pending::default();
        // Run 1: the table's first sample; its backup has none a minute before it.
        assert!(
            pending
                .advance("Movies", sample_at(T0, vec![sampled("Rush", "a")]))
                .is_empty()
        );
        let (from, to) = (
            T0 + minutes(0),
            T0 + minutes(0) + time::Duration::seconds(2),
        );
        assert!(!pending.schedule(&backup("b1"), from, to));

        // Run 2, an hour later: its backup's before is run 1's sample.
        let run2 = T0 + minutes(60);
        let before = vec![
            sampled("Rush", "a"),
            sampled("Up", "u"),
            sampled("Her", "h"),
        ];
        assert!(
            pending
                .advance("Movies", sample_at(run2, before))
                .is_empty()
        );
        let asked = (
            run2 + time::Duration::seconds(3),
            run2 + time::Duration::seconds(4),
        );
        assert!(pending.schedule(&backup("b2"), asked.0, asked.1));
        assert_eq!(
            pending.awaiting[0].before.started, T0,
            "run 1's sample, not run 2's"
        );

        // A run 30 s after the request is too soon to say what the backup holds.
        let soon = sample_at(asked.1 + time::Duration::seconds(30), vec![]);
        assert!(pending.advance("Movies", soon).is_empty());
        assert_eq!(pending.awaiting.len(), 1);

        // Run 3, an hour later: Rush read the same, Her changed, Up is gone.
        let after = vec![
            sampled("Her", "h2"),
            sampled("Rush", "a"),
            sampled("Ran", "r"),
        ];
        let done = pending.advance("Movies", sample_at(run2 + minutes(60), after));
        assert_eq!(done.len(), 1);
        let print = &done[0];
        assert_eq!(print.backup_name, "b2");
        assert_eq!(print.sampled, 1, "run 1's sample held one item");
        assert_eq!(print.items, vec![sampled("Rush", "a")]);
        assert!(pending.awaiting.is_empty());
        assert_eq!(pending.samples.len(), SAMPLES_KEPT);
    }

    #[test]
    fn the_before_sample_is_the_newest_a_minute_before_the_request() {
        let mut pending = Pending::default();
        for (at, title) in [
            (T0, "old"),
            (T0 + minutes(5), "newer"),
            (T0 + minutes(9), "now"),
        ] {
            pending.advance("Movies", sample_at(at, vec![sampled(title, "x")]));
        }
        let request = T0 + minutes(9) + time::Duration::seconds(5);
        assert!(pending.schedule(&backup("b"), request, request));
        assert_eq!(
            pending.awaiting[0].before.items,
            vec![sampled("newer", "x")]
        );
    }

    #[test]
    fn a_check_names_the_first_item_missing_or_changed() {
        let items = vec![
            sampled("Rush", "a"),
            sampled("Up", "u"),
            sampled("Her", "h"),
        ];
        let digests = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
            pairs
                .iter()
                .map(|(title, digest)| (identity(&sampled(title, "").key), (*digest).to_owned()))
                .collect()
        };
        let all = compare(
            &items,
            &digests(&[("Rush", "a"), ("Up", "u"), ("Her", "h")]),
        );
        assert_eq!(
            (all.checked, all.matched, all.first_difference),
            (3, 3, None)
        );

        let bad = compare(&items, &digests(&[("Rush", "a"), ("Her", "other")]));
        assert_eq!(bad.matched, 1);
        let first = bad.first_difference.unwrap();
        assert_eq!(first.kind, DifferenceKind::Missing);
        assert_eq!(
            first.to_string(),
            r#"item {"title":"Up","year":2013} is missing"#
        );

        // The same key with its number written otherwise is the same item.
        let mut written = sampled("Rush", "a");
        written
            .key
            .insert("year".to_owned(), KeyValue::N("2013.0".to_owned()));
        let again = compare(&[written], &digests(&[("Rush", "a")]));
        assert_eq!(again.matched, 1);
    }
}
