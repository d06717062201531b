//! Restoring a backup and proving it restored: which backup ([`choose`]) and checking the data
//! ([`verify`], [`verify_import`]). Shared by `installer restore` and the restore drill, so that
//! both prove a restore the same way; both reach DynamoDB through the [`Tables`] port.

use serde::Serialize;

use crate::count::{CountProgress, Counted, Counting, count_items_from};
use crate::error::AwsError;
use crate::fingerprint::{self, Fingerprint, SampleCheck};
use crate::naming::TableName;
use crate::ownership::Whose;
use crate::retention::{Backup, BackupState};
use crate::tables::{BackupSource, TableShape, Tables};

/// Which backup to restore.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// The newest AVAILABLE one.
    Latest,
    /// The one with this name (the newest, should several share it).
    Named(String),
    /// The one with this ARN.
    Arn(String),
}

impl Choice {
    /// `latest`, an ARN (`arn:...`), or a name.
    pub fn parse(text: &str) -> Self {
        if text == "latest" {
            Choice::Latest
        } else if text.starts_with("arn:") {
            Choice::Arn(text.to_owned())
        } else {
            Choice::Named(text.to_owned())
        }
    }
}

/// Why no backup could be chosen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChoiceError {
    /// The table has no backup to restore.
    #[error(
        "table {table} has no {which} to restore; make one first (`installer invoke --table {table}`), or pass --any to consider backups this stack did not make"
    )]
    NoBackups {
        /// The table.
        table: String,
        /// "available backup", made by this stack or at all.
        which: &'static str,
    },
    /// No backup has that name or ARN.
    #[error("table {table} has no {which} backup {wanted:?}; list them with `installer status`")]
    NotFound {
        /// The table.
        table: String,
        /// The name or ARN asked for.
        wanted: String,
        /// "available backup", made by this stack or at all.
        which: &'static str,
    },
    /// The ARN is of another table's backup.
    #[error(
        "backup {arn} is not a backup of table {table}; pass a backup of {table}, or --table for the table it belongs to"
    )]
    OtherTable {
        /// The table.
        table: String,
        /// The ARN given.
        arn: String,
    },
}

/// Picks the backup `choice` names among `backups` (the table's, as listed): AVAILABLE ones only
/// (a CREATING backup cannot be restored yet), and only those `whose` includes.
pub fn choose(
    table: &TableName,
    backups: &[Backup],
    choice: &Choice,
    whose: Whose<'_>,
) -> Result<Backup, ChoiceError> {
    let which = match whose {
        Whose::Any => "available backup",
        Whose::Stack(_) => "available backup made by this stack",
    };
    if let Choice::Arn(arn) = choice
        && !arn.contains(&format!(":table/{table}/backup/"))
    {
        return Err(ChoiceError::OtherTable {
            table: table.to_string(),
            arn: arn.clone(),
        });
    }
    let candidates = candidates(table, backups, whose);
    let found = match choice {
        Choice::Latest => candidates.first(),
        Choice::Named(name) => candidates.iter().find(|b| &b.name == name),
        Choice::Arn(arn) => candidates.iter().find(|b| &b.arn == arn),
    };
    match (found, choice) {
        (Some(backup), _) => Ok((*backup).clone()),
        (None, Choice::Latest) => Err(ChoiceError::NoBackups {
            table: table.to_string(),
            which,
        }),
        (None, Choice::Named(wanted) | Choice::Arn(wanted)) => Err(ChoiceError::NotFound {
            table: table.to_string(),
            wanted: wanted.clone(),
            which,
        }),
    }
}

/// The backups a restore may choose among `backups` (the table's, as listed), newest first:
/// AVAILABLE ones only (a CREATING backup cannot be restored yet), and only those `whose`
/// includes.
pub fn candidates<'a>(
    table: &TableName,
    backups: &'a [Backup],
    whose: Whose<'_>,
) -> Vec<&'a Backup> {
    let mut candidates: Vec<&Backup> = backups
        .iter()
        .filter(|b| b.state == BackupState::Available)
        .filter(|b| whose.includes(table, b))
        .collect();
    candidates.sort_by_key(|b| std::cmp::Reverse(b.created));
    candidates
}

/// Where a verification's expected item count comes from, and so what a difference means.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum CountSource {
    /// DescribeBackup's `SourceTableDetails.ItemCount`, the source table's figure as of its last
    /// refresh (DynamoDB API reference, SourceTableDetails: "Number of items in the table. Note
    /// that this is an approximate value."; TableDescription.ItemCount: "DynamoDB updates this
    /// value approximately every six hours."). A table written in the hours before its backup
    /// restores to another count: a difference is reported, never a failure.
    #[default]
    Approximate,
    /// An export's `ItemCount`, the items the export wrote: a difference is a failure.
    Exact,
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Verification {
    /// Items the source recorded: the backup's (approximate) or the export's (exact) count.
    pub expected_items: Option<i64>,
    /// Whether `expected_items` is approximate or exact (records written before this field
    /// existed compared with a backup's, approximate, figure).
    #[serde(default)]
    pub count_source: CountSource,
    /// Items the restored table holds (a paged `Select=COUNT` scan).
    pub restored_items: i64,
    /// The key schema is the source's.
    pub keys_match: bool,
    /// The secondary indexes (by name) are the source's.
    pub indexes_match: bool,
    /// The restored table checked against the fingerprint of what it was restored from: a
    /// backup's (the sampled items that read the same a minute either side of it) or an export
    /// chain's restore point's (five seconds either side). Absent when there is none to check
    /// against (a period's export; a backup without a sample a minute before it, or whose next
    /// run has not come yet; a point with no sample before it).
    #[serde(default)]
    pub sample: Option<SampleCheck>,
}

impl Verification {
    /// Whether the restore is proven: the keys and indexes are the source's, and the count is
    /// the export's exactly; against a backup's approximate count, a difference is only reported
    /// ([`Verification::counts`]), as it cannot tell a bad restore from a stale figure.
    pub fn passed(&self) -> bool {
        let counts = match self.count_source {
            CountSource::Exact => self.expected_items == Some(self.restored_items),
            CountSource::Approximate => true,
        };
        let data = self
            .sample
            .as_ref()
            .is_none_or(|s| s.first_difference.is_none());
        counts && self.keys_match && self.indexes_match && data
    }

    /// The data check, for a person: `the 97 fingerprinted items all match`, or why not.
    pub fn data(&self) -> String {
        match &self.sample {
            None => "data not checked: no fingerprint (a backup's is recorded by the run after it, a minute or more later; an export chain's restore point's by the run that exports up to it, from the samples either side)".to_owned(),
            Some(SampleCheck { checked: 0, .. }) => "data not checked: no sampled item read the same either side of the backup or restore point".to_owned(),
            Some(SampleCheck {
                checked,
                first_difference: None,
                ..
            }) => format!("the {checked} fingerprinted items all match"),
            Some(SampleCheck {
                checked,
                matched,
                first_difference: Some(difference),
            }) => format!(
                "{difference} in the restored table ({matched} of the backup's {checked} fingerprinted items match)"
            ),
        }
    }

    /// Whether the restored count differs from the recorded one (or there is none).
    pub fn counts_differ(&self) -> bool {
        self.expected_items != Some(self.restored_items)
    }

    /// The counts, for a person: `restored 30 items; the backup's recorded count is 27
    /// (approximate ...)`.
    pub fn counts(&self) -> String {
        let restored = self.restored_items;
        match (self.count_source, self.expected_items) {
            (_, None) => format!("restored {restored} items; the source recorded no count"),
            (CountSource::Exact, Some(n)) if n == restored => {
                format!("restored {restored} items, as the export holds")
            }
            (CountSource::Exact, Some(n)) => {
                format!("restored {restored} items; the export holds {n}")
            }
            (CountSource::Approximate, Some(n)) if n == restored => {
                format!("restored {restored} items, as the backup recorded")
            }
            (CountSource::Approximate, Some(n)) => format!(
                "restored {restored} items; the backup's recorded count is {n} (approximate: DynamoDB refreshes it about every six hours, so the difference is reported, not failed)"
            ),
        }
    }

    /// Why the restore is not proven, in one line; `None` when it is.
    pub fn failure(&self) -> Option<String> {
        if self.passed() {
            return None;
        }
        let mut why = Vec::new();
        if self.count_source == CountSource::Exact && self.counts_differ() {
            why.push(self.counts());
        }
        if !self.keys_match {
            why.push("the key schema differs from the source's".to_owned());
        }
        if !self.indexes_match {
            why.push("the secondary indexes differ from the source's".to_owned());
        }
        if self
            .sample
            .as_ref()
            .is_some_and(|s| s.first_difference.is_some())
        {
            why.push(self.data());
        }
        Some(why.join("; "))
    }
}

/// What a bounded [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verified {
    /// The whole check.
    Done(Verification),
    /// The count ran out of time: where it got to.
    Partial(CountProgress),
}

/// Checks the restored `target` against what its backup recorded of its source (`source`,
/// DescribeBackup), counting as `count` says (from where an earlier count stopped, until a
/// deadline), and its data against the backup's `fingerprint`, if it has one.
pub async fn verify(
    tables: &impl Tables,
    source: &BackupSource,
    target: &TableName,
    count: Counting<'_>,
    fingerprint: Option<&Fingerprint>,
) -> Result<Verified, AwsError> {
    let restored = tables.shape(target).await?;
    let count = Counting {
        known_bytes: count.known_bytes.or(source.size_bytes),
        ..count
    };
    let restored_items = match count_items_from(tables, target, count).await? {
        Counted::Done(items) => items,
        Counted::Partial(progress) => return Ok(Verified::Partial(progress)),
    };
    let sample = match fingerprint {
        Some(fingerprint) => Some(fingerprint::check(tables, target, fingerprint).await?),
        None => None,
    };
    Ok(Verified::Done(Verification {
        expected_items: source.item_count,
        count_source: CountSource::Approximate,
        restored_items,
        keys_match: source.keys.as_ref() == Some(&restored.keys),
        indexes_match: source.indexes == restored.indexes,
        sample,
    }))
}

/// Checks `target`, imported from an export that held `expected_items` of a table shaped `from`
/// (the source as it is now, or as its definition beside the export kept it): the item count
/// against the export's (counted as `count` says, always strongly consistent), and the key
/// schema and index names against `from`'s.
pub async fn verify_import(
    tables: &impl Tables,
    from: &TableShape,
    expected_items: Option<i64>,
    target: &TableName,
    count: Counting<'_>,
) -> Result<Verification, AwsError> {
    let to = tables.shape(target).await?;
    // Compared exactly, so read consistently (Scan, API reference: "ConsistentRead ... The
    // default setting for ConsistentRead is false"): an import's last writes count.
    let count = Counting {
        consistent: true,
        from: CountProgress::default(),
        until: None,
        ..count
    };
    let restored_items = match count_items_from(tables, target, count).await? {
        Counted::Done(items) => items,
        Counted::Partial(progress) => progress.items,
    };
    Ok(Verification {
        expected_items,
        count_source: CountSource::Exact,
        restored_items,
        keys_match: from.keys == to.keys,
        indexes_match: from.indexes == to.indexes,
        sample: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::naming::StackName;
    use crate::ownership::Ownership;
    use crate::retention::BackupKind;
    use time::macros::datetime;

    fn prod() -> Ownership {
        Ownership::new(StackName::parse("prod").unwrap())
    }

    fn table() -> TableName {
        TableName::parse("Movies").unwrap()
    }

    fn backup(name: &str, minutes: i64, state: BackupState) -> Backup {
        Backup {
            arn: format!("arn:aws:dynamodb:us-east-1:1:table/Movies/backup/{name}"),
            name: name.to_owned(),
            created: datetime!(2026-11-29 00:00 UTC) + time::Duration::minutes(minutes),
            state,
            kind: BackupKind::User,
        }
    }

    #[test]
    fn latest_is_the_newest_available_backup_of_this_stack() {
        let backups = vec![
            backup("Movies-prod-20261129000100", 1, BackupState::Available),
            backup("Movies-prod-20261129000300", 3, BackupState::Creating),
            backup("Movies-prod-20261129000200", 2, BackupState::Available),
            backup("Movies-trial-20261129000400", 4, BackupState::Available),
            backup("manual", 5, BackupState::Available),
        ];
        let chosen = choose(&table(), &backups, &Choice::Latest, Whose::Stack(&prod())).unwrap();
        assert_eq!(
            chosen.name, "Movies-prod-20261129000200",
            "not another stack's"
        );
        let any = choose(&table(), &backups, &Choice::Latest, Whose::Any).unwrap();
        assert_eq!(any.name, "manual", "--any considers every backup");
    }

    #[test]
    fn names_and_arns_resolve_and_bad_ones_are_named() {
        let backups = vec![backup(
            "Movies-prod-20261129000100",
            1,
            BackupState::Available,
        )];
        let named = Choice::parse("Movies-prod-20261129000100");
        assert_eq!(
            choose(&table(), &backups, &named, Whose::Stack(&prod()))
                .unwrap()
                .name,
            "Movies-prod-20261129000100"
        );
        let by_arn = Choice::parse(&backups[0].arn);
        assert_eq!(
            choose(&table(), &backups, &by_arn, Whose::Stack(&prod())).unwrap(),
            backups[0]
        );
        let other = Choice::parse("arn:aws:dynamodb:us-east-1:1:table/Films/backup/x");
        assert!(matches!(
            choose(&table(), &backups, &other, Whose::Stack(&prod())),
            Err(ChoiceError::OtherTable { .. })
        ));
        let missing = choose(
            &table(),
            &backups,
            &Choice::parse("nope"),
            Whose::Stack(&prod()),
        )
        .unwrap_err();
        assert!(missing.to_string().contains("\"nope\""), "{missing}");
        let none = choose(&table(), &[], &Choice::Latest, Whose::Stack(&prod())).unwrap_err();
        assert!(none.to_string().contains("installer invoke"), "{none}");
    }

    #[test]
    fn an_exact_count_must_agree_and_an_approximate_one_is_only_reported() {
        let exact = Verification {
            expected_items: Some(4609),
            count_source: CountSource::Exact,
            restored_items: 4609,
            keys_match: true,
            indexes_match: true,
            sample: None,
        };
        assert!(exact.passed());
        assert_eq!(exact.failure(), None);
        let short = Verification {
            restored_items: 4608,
            ..exact.clone()
        };
        assert!(!short.passed());
        assert_eq!(
            short.failure().as_deref(),
            Some("restored 4608 items; the export holds 4609")
        );
        assert!(
            !Verification {
                expected_items: None,
                ..exact.clone()
            }
            .passed()
        );

        // A backup's ItemCount may be hours old: 30 restored against 27 recorded passes, and
        // says so in words, not as `Some(27)`.
        let stale = Verification {
            expected_items: Some(27),
            count_source: CountSource::Approximate,
            restored_items: 30,
            ..exact.clone()
        };
        assert!(stale.passed());
        assert!(stale.counts_differ());
        let text = stale.counts();
        assert!(
            text.starts_with("restored 30 items; the backup's recorded count is 27 (approximate"),
            "{text}"
        );
        assert!(!text.contains("Some("), "{text}");
        assert!(
            Verification {
                expected_items: None,
                ..stale.clone()
            }
            .passed()
        );

        // Keys and indexes are exact whatever the count.
        let keys = Verification {
            keys_match: false,
            ..stale.clone()
        };
        assert!(!keys.passed());
        assert_eq!(
            keys.failure().as_deref(),
            Some("the key schema differs from the source's")
        );
        assert!(
            !Verification {
                indexes_match: false,
                ..stale
            }
            .passed()
        );
    }

    #[test]
    fn records_written_before_the_count_source_read_as_approximate() {
        let old: Verification = serde_json::from_str(
            r#"{"expected_items": 27, "restored_items": 30, "keys_match": true, "indexes_match": true}"#,
        )
        .unwrap();
        assert_eq!(old.count_source, CountSource::Approximate);
        assert!(old.passed());
    }
}
