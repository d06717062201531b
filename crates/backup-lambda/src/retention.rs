//! The retention rule: which backups a run deletes. Pure, with no AWS types, so that it can be
//! reasoned about and property-tested on its own.

use std::cmp::Ordering;
use std::num::NonZeroU32;

use time::{Duration, OffsetDateTime};

use crate::naming::TableName;
use crate::ownership::Ownership;

/// Who made a backup, as DynamoDB reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackupKind {
    /// An on-demand backup made through the DynamoDB API (ours, or someone's manual one).
    User,
    /// A backup DynamoDB made itself (for example when a table is deleted).
    System,
    /// A backup made by AWS Backup.
    AwsBackup,
    /// A kind this code does not know.
    Unknown,
}

/// Where a backup is in its life, as DynamoDB reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackupState {
    /// Still being made: it cannot be deleted yet.
    Creating,
    /// Complete and usable.
    Available,
    /// Already deleted.
    Deleted,
    /// A state this code does not know.
    Unknown,
}

impl std::fmt::Display for BackupState {
    /// DynamoDB's own word for the state (`BackupStatus`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BackupState::Creating => "CREATING",
            BackupState::Available => "AVAILABLE",
            BackupState::Deleted => "DELETED",
            BackupState::Unknown => "UNKNOWN",
        })
    }
}

/// One backup of a table, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backup {
    /// The backup's ARN, its identity.
    pub arn: String,
    /// The backup's name.
    pub name: String,
    /// When DynamoDB made it.
    pub created: OffsetDateTime,
    /// Its life-cycle state.
    pub state: BackupState,
    /// Who made it.
    pub kind: BackupKind,
}

/// How many of its own backups a table keeps, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// Keep at most this many of the newest owned backups.
    pub max_backups: NonZeroU32,
    /// Also delete owned backups older than this many days (never the newest one).
    pub max_age_days: Option<NonZeroU32>,
}

/// What a run does with the backups of one table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionDecision {
    /// Owned backups that stay, newest first.
    pub keep: Vec<Backup>,
    /// Owned backups to delete, newest first.
    pub delete: Vec<Backup>,
    /// Owned backups that are due for deletion but still being made; a later run deletes them.
    pub still_creating: Vec<Backup>,
    /// How many listed backups are not this function's to touch (manual, SYSTEM, AWS Backup).
    pub not_owned: usize,
}

/// Newest first; ties (same creation time) broken by name, then ARN, so the order is total.
fn newest_first(a: &Backup, b: &Backup) -> Ordering {
    b.created
        .cmp(&a.created)
        .then_with(|| b.name.cmp(&a.name))
        .then_with(|| b.arn.cmp(&a.arn))
}

/// Decides which of `backups` (all backups listed for `table`) to delete at time `now`.
///
/// Only the stack's backups are considered (see [`Ownership::owns`]). Of those (ignoring ones already deleted), the newest
/// `max_backups` are kept and the rest deleted; with an age limit, kept ones older than it are
/// deleted too. The newest owned backup is never deleted, and neither is one still `CREATING`.
/// Of several owned backups with one name, the newest counts and the others are deleted.
pub fn decide(
    table: &TableName,
    owner: &Ownership,
    backups: &[Backup],
    policy: &RetentionPolicy,
    now: OffsetDateTime,
) -> RetentionDecision {
    let is_owned = |b: &Backup| owner.owns(table, b);
    let mut owned: Vec<&Backup> = backups
        .iter()
        .filter(|b| is_owned(b) && b.state != BackupState::Deleted)
        .collect();
    owned.sort_by(|a, b| newest_first(a, b));

    let cutoff = policy
        .max_age_days
        .map(|days| now - Duration::days(i64::from(days.get())));
    let keep_count = usize::try_from(policy.max_backups.get()).unwrap_or(usize::MAX);

    let mut decision = RetentionDecision {
        not_owned: backups.iter().filter(|b| !is_owned(b)).count(),
        ..RetentionDecision::default()
    };
    let mut names = std::collections::HashSet::new();
    for backup in owned {
        // A second backup of the same name (a retry whose first attempt's answer was lost made
        // both) is a copy: it takes no place among those kept, and goes.
        let duplicate = !names.insert(backup.name.as_str());
        let rank = names.len() - 1;
        let too_many = rank >= keep_count;
        let too_old = cutoff.is_some_and(|cutoff| backup.created < cutoff);
        let target = if !duplicate && (rank == 0 || !(too_many || too_old)) {
            &mut decision.keep
        } else if backup.state == BackupState::Creating {
            &mut decision.still_creating
        } else {
            &mut decision.delete
        };
        target.push(backup.clone());
    }
    decision
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-25 12:00:00 UTC);

    fn movies() -> TableName {
        TableName::parse("Movies").expect("valid")
    }

    fn prod() -> Ownership {
        Ownership::new(crate::naming::StackName::parse("prod").expect("valid"))
    }

    fn owned(minutes_ago: i64) -> Backup {
        let created = NOW - Duration::minutes(minutes_ago);
        Backup {
            arn: format!(
                "arn:aws:dynamodb:us-east-1:123456789012:table/Movies/backup/{minutes_ago:017}"
            ),
            name: movies().backup_name(&prod().stack, created),
            created,
            state: BackupState::Available,
            kind: BackupKind::User,
        }
    }

    fn policy(max_backups: u32, max_age_days: Option<u32>) -> RetentionPolicy {
        RetentionPolicy {
            max_backups: NonZeroU32::new(max_backups).expect("positive"),
            max_age_days: max_age_days.and_then(NonZeroU32::new),
        }
    }

    fn names(backups: &[Backup]) -> Vec<&str> {
        backups.iter().map(|b| b.name.as_str()).collect()
    }

    #[test]
    fn keeps_the_newest_three_of_five() {
        let backups: Vec<Backup> = (0..5).map(|i| owned(i * 60)).collect();
        let decision = decide(&movies(), &prod(), &backups, &policy(3, None), NOW);
        assert_eq!(names(&decision.keep), names(&backups[..3]));
        assert_eq!(names(&decision.delete), names(&backups[3..]));
    }

    #[test]
    fn listing_order_does_not_matter() {
        let mut backups: Vec<Backup> = (0..5).map(|i| owned(i * 60)).collect();
        backups.reverse();
        let decision = decide(&movies(), &prod(), &backups, &policy(2, None), NOW);
        assert_eq!(
            names(&decision.keep),
            vec!["Movies-prod-20261125120000", "Movies-prod-20261125110000"]
        );
        assert_eq!(decision.delete.len(), 3);
    }

    #[test]
    fn manual_system_and_aws_backup_backups_are_never_touched() {
        let mut manual = owned(10_000);
        manual.name = "Movies-before-migration".into();
        let mut system = owned(20_000);
        system.kind = BackupKind::System;
        let mut aws_backup = owned(30_000);
        aws_backup.kind = BackupKind::AwsBackup;
        let mut other_table = owned(40_000);
        other_table.name = "Films-20200101000000".into();
        let backups = vec![owned(0), manual, system, aws_backup, other_table];
        let decision = decide(&movies(), &prod(), &backups, &policy(1, Some(1)), NOW);
        assert!(decision.delete.is_empty());
        assert_eq!(decision.not_owned, 4);
        assert_eq!(decision.keep.len(), 1);
    }

    #[test]
    fn a_backup_still_being_made_is_not_deleted() {
        let mut creating = owned(120);
        creating.state = BackupState::Creating;
        let backups = vec![owned(0), owned(60), creating.clone()];
        let decision = decide(&movies(), &prod(), &backups, &policy(1, None), NOW);
        assert_eq!(names(&decision.delete), vec![owned(60).name.as_str()]);
        assert_eq!(decision.still_creating, vec![creating]);
    }

    #[test]
    fn age_limit_deletes_old_ones_but_never_the_newest() {
        let day = 24 * 60;
        let backups = vec![owned(10 * day), owned(11 * day), owned(2 * day)];
        let decision = decide(&movies(), &prod(), &backups, &policy(3, Some(7)), NOW);
        assert_eq!(names(&decision.keep), vec![owned(2 * day).name.as_str()]);
        assert_eq!(decision.delete.len(), 2);

        let only_old = vec![owned(30 * day)];
        let decision = decide(&movies(), &prod(), &only_old, &policy(3, Some(7)), NOW);
        assert_eq!(decision.keep, only_old);
        assert!(decision.delete.is_empty());
    }

    #[test]
    fn already_deleted_backups_do_not_count() {
        let mut gone = owned(1);
        gone.state = BackupState::Deleted;
        let backups = vec![owned(0), gone, owned(2)];
        let decision = decide(&movies(), &prod(), &backups, &policy(2, None), NOW);
        assert_eq!(decision.keep.len(), 2);
        assert!(decision.delete.is_empty());
    }

    #[test]
    fn a_second_backup_of_one_name_takes_no_place_and_goes() {
        let mut copy = owned(0);
        copy.arn.push_str("-copy");
        copy.created -= Duration::seconds(1);
        let backups = vec![owned(0), copy.clone(), owned(60), owned(120)];
        let decision = decide(&movies(), &prod(), &backups, &policy(3, None), NOW);
        assert_eq!(
            names(&decision.keep),
            names(&[owned(0), owned(60), owned(120)]),
            "three distinct backups kept"
        );
        assert_eq!(decision.delete, vec![copy]);
    }

    fn any_backup() -> impl Strategy<Value = Backup> {
        let kind = prop_oneof![
            6 => Just(BackupKind::User),
            1 => Just(BackupKind::System),
            1 => Just(BackupKind::AwsBackup),
            1 => Just(BackupKind::Unknown),
        ];
        let state = prop_oneof![
            6 => Just(BackupState::Available),
            2 => Just(BackupState::Creating),
            1 => Just(BackupState::Deleted),
            1 => Just(BackupState::Unknown),
        ];
        // Minutes ago, with many collisions so that equal creation times are exercised.
        let age = 0i64..(60 * 24 * 40);
        let naming = prop_oneof![8 => Just(true), 2 => Just(false)];
        (kind, state, age, naming, any::<u32>()).prop_map(|(kind, state, age, ours, id)| {
            let created = NOW - Duration::minutes(age);
            Backup {
                arn: format!("arn:backup/{id}"),
                name: if ours {
                    movies().backup_name(&prod().stack, created)
                } else {
                    format!("manual-{id}")
                },
                created,
                state,
                kind,
            }
        })
    }

    fn owned_live(backups: &[Backup]) -> Vec<Backup> {
        let mut owned: Vec<Backup> = backups
            .iter()
            .filter(|b| prod().owns(&movies(), b) && b.state != BackupState::Deleted)
            .cloned()
            .collect();
        owned.sort_by(newest_first);
        owned
    }

    /// The newest backup of each name, newest first (`owned` is newest first).
    fn first_of_each_name(owned: &[Backup]) -> Vec<Backup> {
        let mut seen = std::collections::HashSet::new();
        owned
            .iter()
            .filter(|b| seen.insert(b.name.clone()))
            .cloned()
            .collect()
    }

    proptest! {
        #[test]
        fn never_deletes_unowned_or_creating(
            backups in prop::collection::vec(any_backup(), 0..40),
            max in 1u32..8,
            age in prop::option::of(1u32..30),
        ) {
            let decision = decide(&movies(), &prod(), &backups, &policy(max, age), NOW);
            for b in &decision.delete {
                prop_assert_eq!(b.kind, BackupKind::User);
                prop_assert!(prod().owns(&movies(), b));
                prop_assert_ne!(b.state, BackupState::Creating);
                prop_assert_ne!(b.state, BackupState::Deleted);
            }
        }

        #[test]
        fn never_deletes_the_newest(
            backups in prop::collection::vec(any_backup(), 0..40),
            max in 1u32..8,
            age in prop::option::of(1u32..30),
        ) {
            let decision = decide(&movies(), &prod(), &backups, &policy(max, age), NOW);
            if let Some(newest) = owned_live(&backups).first() {
                prop_assert!(!decision.delete.contains(newest));
                prop_assert_eq!(decision.keep.first(), Some(newest));
            }
        }

        #[test]
        fn keeps_exactly_the_newest_n_without_age_limit(
            backups in prop::collection::vec(any_backup(), 0..40),
            max in 1u32..8,
        ) {
            let decision = decide(&movies(), &prod(), &backups, &policy(max, None), NOW);
            let owned = owned_live(&backups);
            let distinct = first_of_each_name(&owned);
            let n = distinct.len().min(max as usize);
            prop_assert_eq!(&decision.keep[..], &distinct[..n]);
            // Everything else (older, or a copy of a kept name) is deleted, unless it is still
            // being made.
            let mut rest = decision.delete.clone();
            rest.extend(decision.still_creating.iter().cloned());
            rest.sort_by(newest_first);
            let expected: Vec<Backup> = owned
                .iter()
                .filter(|b| !decision.keep.contains(b))
                .cloned()
                .collect();
            prop_assert_eq!(&rest[..], &expected[..]);
        }

        #[test]
        fn every_owned_backup_lands_in_exactly_one_list(
            backups in prop::collection::vec(any_backup(), 0..40),
            max in 1u32..8,
            age in prop::option::of(1u32..30),
        ) {
            let decision = decide(&movies(), &prod(), &backups, &policy(max, age), NOW);
            let owned = owned_live(&backups);
            prop_assert_eq!(
                decision.keep.len() + decision.delete.len() + decision.still_creating.len(),
                owned.len()
            );
            prop_assert!(decision.keep.len() <= max as usize);
            let cutoff = age.map(|d| NOW - Duration::days(i64::from(d)));
            let distinct = first_of_each_name(&owned);
            for b in &owned {
                // A copy of a newer backup's name is never kept; the rest by their rank.
                let due = match distinct.iter().position(|d| d == b) {
                    None => true,
                    Some(rank) => {
                        rank > 0 && (rank >= max as usize || cutoff.is_some_and(|c| b.created < c))
                    }
                };
                prop_assert_eq!(due, !decision.keep.contains(b));
            }
        }
    }
}
