//! The retention rule: which backups a run deletes. Pure, with no AWS types, so that it can be
//! reasoned about and property-tested on its own.

use std::cmp::Ordering;
use std::collections::HashSet;
use std::num::NonZeroU32;

use time::{Duration, OffsetDateTime};

use crate::naming::TableName;
use crate::ownership::Ownership;
use crate::zone::Zone;

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
    /// Also delete owned backups older than this many days (never the newest one), whatever
    /// rule would keep them.
    pub max_age_days: Option<NonZeroU32>,
    /// Grandfather–father–son rules, kept alongside `max_backups`.
    pub generations: Generations,
}

/// Grandfather–father–son retention: the newest backup of each of the newest N days, ISO weeks
/// (Monday to Sunday), months and years that have a backup, by the backups' creation times in
/// the stack's [`Zone`]. A period without a backup is not counted, so a stopped schedule never
/// makes a rule keep fewer backups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Generations {
    /// Days kept (`--keep-daily`).
    pub daily: Option<NonZeroU32>,
    /// ISO weeks kept (`--keep-weekly`).
    pub weekly: Option<NonZeroU32>,
    /// Months kept (`--keep-monthly`).
    pub monthly: Option<NonZeroU32>,
    /// Years kept (`--keep-yearly`).
    pub yearly: Option<NonZeroU32>,
}

impl Generations {
    /// Whether no generation rule is set.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// The four counts: daily, weekly, monthly, yearly.
    pub fn counts(&self) -> [Option<NonZeroU32>; 4] {
        [self.daily, self.weekly, self.monthly, self.yearly]
    }

    /// Each rule that is set, with its count.
    fn rules(&self) -> impl Iterator<Item = (Rule, NonZeroU32)> {
        [Rule::Daily, Rule::Weekly, Rule::Monthly, Rule::Yearly]
            .into_iter()
            .zip(self.counts())
            .filter_map(|(rule, count)| count.map(|n| (rule, n)))
    }

    /// The longest rule and the days its oldest backup may be old when a backup is made in
    /// every period (daily N: N days, weekly N: 7N, monthly N: 31N, yearly N: 366N).
    pub fn reach_days(&self) -> Option<(Rule, u64)> {
        self.rules()
            .map(|(rule, n)| {
                let per = match rule {
                    Rule::Weekly => 7,
                    Rule::Monthly => 31,
                    Rule::Yearly => 366,
                    _ => 1,
                };
                (rule, per * u64::from(n.get()))
            })
            .max_by_key(|(_, days)| *days)
    }
}

/// Why a policy cannot be applied as written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "an age limit of {max_age_days} days would delete backups keep-{rule} {count} keeps (up to {reach} days old): raise the age limit to {reach} or more, or turn it off"
)]
pub struct AgeLimitTooShort {
    /// The age limit given.
    pub max_age_days: u32,
    /// The rule it cuts short.
    pub rule: Rule,
    /// The rule's count.
    pub count: u32,
    /// The days the rule reaches back.
    pub reach: u64,
}

impl RetentionPolicy {
    /// Refuses an age limit shorter than a generation rule reaches: every one of the rule's
    /// backups past it would go, so the rule would keep fewer than it says.
    pub fn check(&self) -> Result<(), AgeLimitTooShort> {
        match (self.max_age_days, self.generations.reach_days()) {
            (Some(days), Some((rule, reach))) if u64::from(days.get()) < reach => {
                Err(AgeLimitTooShort {
                    max_age_days: days.get(),
                    rule,
                    count: self
                        .generations
                        .rules()
                        .find(|(r, _)| *r == rule)
                        .map_or(0, |(_, n)| n.get()),
                    reach,
                })
            }
            _ => Ok(()),
        }
    }
}

/// A rule that keeps a backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Rule {
    /// The newest owned backup, always kept.
    Newest,
    /// Among the newest `max_backups` (`--keep`).
    Last,
    /// The newest of its day.
    Daily,
    /// The newest of its ISO week.
    Weekly,
    /// The newest of its month.
    Monthly,
    /// The newest of its year.
    Yearly,
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Rule::Newest => "newest",
            Rule::Last => "last",
            Rule::Daily => "daily",
            Rule::Weekly => "weekly",
            Rule::Monthly => "monthly",
            Rule::Yearly => "yearly",
        })
    }
}

impl Rule {
    /// The calendar period of a generation rule that holds the local date `date`, as a key
    /// equal for every date of the period (`None` for the rules that are not periods).
    fn period(self, date: jiff::civil::Date) -> Option<(i16, i16)> {
        match self {
            Rule::Daily => Some((date.year(), date.day_of_year())),
            Rule::Weekly => {
                let week = date.iso_week_date();
                Some((week.year(), i16::from(week.week())))
            }
            Rule::Monthly => Some((date.year(), i16::from(date.month()))),
            Rule::Yearly => Some((date.year(), 0)),
            Rule::Newest | Rule::Last => None,
        }
    }
}

/// An owned backup that stays, and the rules that keep it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kept {
    /// The backup.
    pub backup: Backup,
    /// Every rule that keeps it, in [`Rule`] order (never empty).
    pub rules: Vec<Rule>,
}

/// What a run does with the backups of one table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionDecision {
    /// Owned backups that stay, newest first.
    pub keep: Vec<Kept>,
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

/// Decides which of `backups` (all backups listed for `table`) to delete at time `now`, with
/// generations' periods read in `zone`.
///
/// Only the stack's backups are considered (see [`Ownership::owns`]). Of those (ignoring ones
/// already deleted), one is kept when any rule keeps it: it is the newest; it is among the newest
/// `max_backups`; or it is the newest of one of the newest N days, weeks, months or years that
/// have a backup (see [`Generations`]). With an age limit, those older than it go whatever rule
/// keeps them, except the newest. One still `CREATING` is never deleted. Of several owned backups
/// with one name, the newest counts and the others are deleted.
pub fn decide(
    table: &TableName,
    owner: &Ownership,
    backups: &[Backup],
    policy: &RetentionPolicy,
    zone: &Zone,
    now: OffsetDateTime,
) -> RetentionDecision {
    let is_owned = |b: &Backup| owner.owns(table, b);
    let mut owned: Vec<&Backup> = backups
        .iter()
        .filter(|b| is_owned(b) && b.state != BackupState::Deleted)
        .collect();
    owned.sort_by(|a, b| newest_first(a, b));

    // A second backup of the same name (a retry whose first attempt's answer was lost made
    // both) is a copy: it takes no place under any rule, and goes.
    let mut names = HashSet::new();
    let distinct: Vec<bool> = owned
        .iter()
        .map(|b| names.insert(b.name.as_str()))
        .collect();

    let cutoff = policy
        .max_age_days
        .map(|days| now - Duration::days(i64::from(days.get())));
    let keep_count = usize::try_from(policy.max_backups.get()).unwrap_or(usize::MAX);
    let mut rules: Vec<Vec<Rule>> = vec![Vec::new(); owned.len()];
    let ranked = (0..owned.len()).filter(|i| distinct[*i]);
    for (rank, i) in ranked.enumerate() {
        if rank == 0 {
            rules[i].push(Rule::Newest);
        }
        if rank < keep_count {
            rules[i].push(Rule::Last);
        }
    }
    for (rule, count) in policy.generations.rules() {
        let count = usize::try_from(count.get()).unwrap_or(usize::MAX);
        // Newest first, so the first backup seen of a period is its newest. A set, not the
        // last period seen: where clocks went back over midnight (St. John's until 2011, at
        // 00:01), a day came back after the next had begun.
        let mut periods = HashSet::new();
        for (i, backup) in owned.iter().enumerate().filter(|(i, _)| distinct[*i]) {
            if periods.len() == count {
                break;
            }
            let date = zone.local(backup.created).date();
            if rule.period(date).is_some_and(|p| periods.insert(p)) {
                rules[i].push(rule);
            }
        }
    }

    let mut decision = RetentionDecision {
        not_owned: backups.iter().filter(|b| !is_owned(b)).count(),
        ..RetentionDecision::default()
    };
    for (backup, rules) in owned.into_iter().zip(rules) {
        let newest = rules.first() == Some(&Rule::Newest);
        let too_old = cutoff.is_some_and(|cutoff| backup.created < cutoff);
        if newest || (!rules.is_empty() && !too_old) {
            decision.keep.push(Kept {
                backup: backup.clone(),
                rules,
            });
        } else if backup.state == BackupState::Creating {
            decision.still_creating.push(backup.clone());
        } else {
            decision.delete.push(backup.clone());
        }
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
            generations: Generations::default(),
        }
    }

    fn kept(decision: &RetentionDecision) -> Vec<Backup> {
        decision.keep.iter().map(|k| k.backup.clone()).collect()
    }

    fn names(backups: &[Backup]) -> Vec<&str> {
        backups.iter().map(|b| b.name.as_str()).collect()
    }

    #[test]
    fn keeps_the_newest_three_of_five() {
        let backups: Vec<Backup> = (0..5).map(|i| owned(i * 60)).collect();
        let decision = decide(
            &movies(),
            &prod(),
            &backups,
            &policy(3, None),
            &Zone::utc(),
            NOW,
        );
        assert_eq!(names(&kept(&decision)), names(&backups[..3]));
        assert_eq!(names(&decision.delete), names(&backups[3..]));
    }

    #[test]
    fn listing_order_does_not_matter() {
        let mut backups: Vec<Backup> = (0..5).map(|i| owned(i * 60)).collect();
        backups.reverse();
        let decision = decide(
            &movies(),
            &prod(),
            &backups,
            &policy(2, None),
            &Zone::utc(),
            NOW,
        );
        assert_eq!(
            names(&kept(&decision)),
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
        let decision = decide(
            &movies(),
            &prod(),
            &backups,
            &policy(1, Some(1)),
            &Zone::utc(),
            NOW,
        );
        assert!(decision.delete.is_empty());
        assert_eq!(decision.not_owned, 4);
        assert_eq!(decision.keep.len(), 1);
    }

    #[test]
    fn a_backup_still_being_made_is_not_deleted() {
        let mut creating = owned(120);
        creating.state = BackupState::Creating;
        let backups = vec![owned(0), owned(60), creating.clone()];
        let decision = decide(
            &movies(),
            &prod(),
            &backups,
            &policy(1, None),
            &Zone::utc(),
            NOW,
        );
        assert_eq!(names(&decision.delete), vec![owned(60).name.as_str()]);
        assert_eq!(decision.still_creating, vec![creating]);
    }

    #[test]
    fn age_limit_deletes_old_ones_but_never_the_newest() {
        let day = 24 * 60;
        let backups = vec![owned(10 * day), owned(11 * day), owned(2 * day)];
        let decision = decide(
            &movies(),
            &prod(),
            &backups,
            &policy(3, Some(7)),
            &Zone::utc(),
            NOW,
        );
        assert_eq!(names(&kept(&decision)), vec![owned(2 * day).name.as_str()]);
        assert_eq!(decision.delete.len(), 2);

        let only_old = vec![owned(30 * day)];
        let decision = decide(
            &movies(),
            &prod(),
            &only_old,
            &policy(3, Some(7)),
            &Zone::utc(),
            NOW,
        );
        assert_eq!(kept(&decision), only_old);
        assert!(decision.delete.is_empty());
    }

    #[test]
    fn already_deleted_backups_do_not_count() {
        let mut gone = owned(1);
        gone.state = BackupState::Deleted;
        let backups = vec![owned(0), gone, owned(2)];
        let decision = decide(
            &movies(),
            &prod(),
            &backups,
            &policy(2, None),
            &Zone::utc(),
            NOW,
        );
        assert_eq!(decision.keep.len(), 2);
        assert!(decision.delete.is_empty());
    }

    #[test]
    fn a_second_backup_of_one_name_takes_no_place_and_goes() {
        let mut copy = owned(0);
        copy.arn.push_str("-copy");
        copy.created -= Duration::seconds(1);
        let backups = vec![owned(0), copy.clone(), owned(60), owned(120)];
        let decision = decide(
            &movies(),
            &prod(),
            &backups,
            &policy(3, None),
            &Zone::utc(),
            NOW,
        );
        assert_eq!(
            names(&kept(&decision)),
            names(&[owned(0), owned(60), owned(120)]),
            "three distinct backups kept"
        );
        assert_eq!(decision.delete, vec![copy]);
    }

    fn generations(daily: u32, weekly: u32, monthly: u32, yearly: u32) -> Generations {
        Generations {
            daily: NonZeroU32::new(daily),
            weekly: NonZeroU32::new(weekly),
            monthly: NonZeroU32::new(monthly),
            yearly: NonZeroU32::new(yearly),
        }
    }

    fn at(created: OffsetDateTime) -> Backup {
        Backup {
            arn: format!("arn:backup/{}", created.unix_timestamp()),
            name: movies().backup_name(&prod().stack, created),
            created,
            state: BackupState::Available,
            kind: BackupKind::User,
        }
    }

    fn with_generations(g: Generations) -> RetentionPolicy {
        RetentionPolicy {
            generations: g,
            ..policy(1, None)
        }
    }

    fn days(decision: &RetentionDecision) -> Vec<String> {
        decision
            .keep
            .iter()
            .map(|k| k.backup.created.date().to_string())
            .collect()
    }

    #[test]
    fn grandfather_father_son_over_four_hundred_daily_backups() {
        let backups: Vec<Backup> = (0..400)
            .map(|d| at(datetime!(2026-11-25 00:30 UTC) - Duration::days(d)))
            .collect();
        let policy = with_generations(generations(7, 4, 12, 2));
        let decision = decide(&movies(), &prod(), &backups, &policy, &Zone::utc(), NOW);
        // 7 days (Nov 19 to 25); ISO weeks from Monday: the 25th (a Wednesday), the 22nd, 15th
        // and 8th; the last day of each month back to December 2025; that December for 2025.
        assert_eq!(
            days(&decision),
            [
                "2026-11-25",
                "2026-11-24",
                "2026-11-23",
                "2026-11-22",
                "2026-11-21",
                "2026-11-20",
                "2026-11-19",
                "2026-11-15",
                "2026-11-08",
                "2026-10-31",
                "2026-09-30",
                "2026-08-31",
                "2026-07-31",
                "2026-06-30",
                "2026-05-31",
                "2026-04-30",
                "2026-03-31",
                "2026-02-28",
                "2026-01-31",
                "2025-12-31",
            ]
        );
        assert_eq!(decision.delete.len(), 380);
        let rules = |day: &str| {
            decision
                .keep
                .iter()
                .find(|k| k.backup.created.date().to_string() == day)
                .map(|k| k.rules.clone())
        };
        use Rule::*;
        assert_eq!(
            rules("2026-11-25"),
            Some(vec![Newest, Last, Daily, Weekly, Monthly, Yearly])
        );
        assert_eq!(rules("2026-11-22"), Some(vec![Daily, Weekly]));
        assert_eq!(rules("2025-12-31"), Some(vec![Monthly, Yearly]));
    }

    #[test]
    fn periods_are_read_in_the_zone_across_a_change_of_clocks() {
        // Berlin's clocks went back on 2026-10-25 at 03:00 CEST: 00:30Z and 01:30Z are both
        // 02:30 there, and 23:30Z on the 24th is already the 25th.
        let backups = [
            at(datetime!(2026-10-25 01:30 UTC)),
            at(datetime!(2026-10-25 00:30 UTC)),
            at(datetime!(2026-10-24 23:30 UTC)),
            at(datetime!(2026-10-24 12:00 UTC)),
        ];
        let policy = with_generations(generations(2, 0, 0, 0));
        let berlin = Zone::parse("Europe/Berlin").expect("a zone");
        let kept_at = |zone: &Zone| -> Vec<OffsetDateTime> {
            decide(&movies(), &prod(), &backups, &policy, zone, NOW)
                .keep
                .iter()
                .map(|k| k.backup.created)
                .collect()
        };
        assert_eq!(kept_at(&berlin), [backups[0].created, backups[3].created]);
        assert_eq!(
            kept_at(&Zone::utc()),
            [backups[0].created, backups[2].created]
        );
    }

    #[test]
    fn a_day_that_comes_back_is_one_day() {
        // St. John's put its clocks back at 00:01 until 2011: on 2010-11-07, 02:30Z was
        // 00:00 on the 7th and 03:00Z was 23:30 on the 6th again.
        let backups = [
            at(datetime!(2010-11-07 03:00 UTC)),
            at(datetime!(2010-11-07 02:30 UTC)),
            at(datetime!(2010-11-07 02:00 UTC)),
            at(datetime!(2010-11-05 12:00 UTC)),
        ];
        let zone = Zone::parse("America/St_Johns").expect("a zone");
        assert_eq!(
            zone.local(backups[1].created).to_string(),
            "2010-11-07T00:00:00"
        );
        assert_eq!(
            zone.local(backups[0].created).to_string(),
            "2010-11-06T23:30:00"
        );
        let policy = with_generations(generations(3, 0, 0, 0));
        let decision = decide(&movies(), &prod(), &backups, &policy, &zone, NOW);
        // The 6th, the 7th and the 5th: 02:00Z is the 6th's second backup.
        assert_eq!(
            kept(&decision),
            [backups[0].clone(), backups[1].clone(), backups[3].clone()]
        );
    }

    #[test]
    fn a_month_begins_at_local_midnight() {
        // 23:30Z on October 31st is November 1st, 00:30 in Berlin.
        let backups = [
            at(datetime!(2026-10-31 23:30 UTC)),
            at(datetime!(2026-10-31 12:00 UTC)),
            at(datetime!(2026-09-30 12:00 UTC)),
        ];
        let policy = with_generations(generations(0, 0, 2, 0));
        let berlin = Zone::parse("Europe/Berlin").expect("a zone");
        let decision = decide(&movies(), &prod(), &backups, &policy, &berlin, NOW);
        assert_eq!(kept(&decision), [backups[0].clone(), backups[1].clone()]);
        let decision = decide(&movies(), &prod(), &backups, &policy, &Zone::utc(), NOW);
        assert_eq!(kept(&decision), [backups[0].clone(), backups[2].clone()]);
    }

    #[test]
    fn an_age_limit_may_not_cut_a_generation_short() {
        let mut gfs = with_generations(generations(7, 4, 12, 0));
        gfs.max_age_days = NonZeroU32::new(372);
        assert_eq!(gfs.check(), Ok(()));
        gfs.max_age_days = NonZeroU32::new(371);
        let error = gfs.check().expect_err("too short").to_string();
        assert_eq!(
            error,
            "an age limit of 371 days would delete backups keep-monthly 12 keeps (up to 372 days old): raise the age limit to 372 or more, or turn it off"
        );
        assert_eq!(gfs.generations.reach_days(), Some((Rule::Monthly, 372)));
        assert_eq!(policy(3, Some(1)).check(), Ok(()));
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
            let decision = decide(&movies(), &prod(), &backups, &policy(max, age), &Zone::utc(), NOW);
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
            let decision = decide(&movies(), &prod(), &backups, &policy(max, age), &Zone::utc(), NOW);
            if let Some(newest) = owned_live(&backups).first() {
                prop_assert!(!decision.delete.contains(newest));
                prop_assert_eq!(decision.keep.first().map(|k| &k.backup), Some(newest));
            }
        }

        #[test]
        fn keeps_exactly_the_newest_n_without_age_limit(
            backups in prop::collection::vec(any_backup(), 0..40),
            max in 1u32..8,
        ) {
            let decision = decide(&movies(), &prod(), &backups, &policy(max, None), &Zone::utc(), NOW);
            let owned = owned_live(&backups);
            let distinct = first_of_each_name(&owned);
            let n = distinct.len().min(max as usize);
            prop_assert_eq!(&kept(&decision)[..], &distinct[..n]);
            // Everything else (older, or a copy of a kept name) is deleted, unless it is still
            // being made.
            let mut rest = decision.delete.clone();
            rest.extend(decision.still_creating.iter().cloned());
            rest.sort_by(newest_first);
            let expected: Vec<Backup> = owned
                .iter()
                .filter(|b| !kept(&decision).contains(b))
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
            let decision = decide(&movies(), &prod(), &backups, &policy(max, age), &Zone::utc(), NOW);
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
                prop_assert_eq!(due, !kept(&decision).contains(b));
            }
        }
    }

    /// Instants where some zone below changes its clocks, or a year turns: backups near them
    /// land on both sides of a local midnight that moves.
    const EDGES: [OffsetDateTime; 8] = [
        datetime!(2026-10-25 01:00 UTC), // Europe/Berlin, back an hour
        datetime!(2026-03-29 01:00 UTC), // Europe/Berlin, forward
        datetime!(2026-04-05 03:00 UTC), // America/Santiago, back over midnight
        datetime!(2026-09-06 04:00 UTC), // America/Santiago, forward over midnight
        datetime!(2026-04-04 15:00 UTC), // Australia/Lord_Howe, back half an hour
        datetime!(2026-11-01 06:00 UTC), // America/New_York, back
        datetime!(2025-12-31 23:00 UTC), // a new year, UTC+1 and UTC
        datetime!(2024-12-31 04:00 UTC), // a new year, UTC-4 and -3
    ];

    const ZONES: [&str; 6] = [
        "UTC",
        "Europe/Berlin",
        "America/Santiago",
        "Australia/Lord_Howe",
        "America/New_York",
        "Pacific/Apia",
    ];

    /// Owned backups (with copies, CREATING and DELETED ones) over three years, half of them
    /// within three hours of an edge.
    fn gfs_backup() -> impl Strategy<Value = Backup> {
        let near = (0..EDGES.len(), -180i64..180)
            .prop_map(|(edge, minutes)| EDGES[edge] + Duration::minutes(minutes));
        let anywhere = (0i64..(60 * 24 * 366 * 3)).prop_map(|m| NOW - Duration::minutes(m));
        let state = prop_oneof![
            8 => Just(BackupState::Available),
            1 => Just(BackupState::Creating),
            1 => Just(BackupState::Deleted),
        ];
        (prop_oneof![near, anywhere], state, any::<u16>()).prop_map(|(created, state, id)| Backup {
            arn: format!("arn:backup/{id}"),
            name: movies().backup_name(&prod().stack, created),
            created,
            state,
            kind: BackupKind::User,
        })
    }

    fn any_generations() -> impl Strategy<Value = Generations> {
        let count = || prop::option::of(1u32..6).prop_map(|n| n.and_then(NonZeroU32::new));
        (count(), count(), count(), count()).prop_map(|(daily, weekly, monthly, yearly)| {
            Generations {
                daily,
                weekly,
                monthly,
                yearly,
            }
        })
    }

    /// The backups a rule keeps, found another way: each period's newest backup, the periods
    /// ordered by it, the first `count`.
    fn oracle(distinct: &[Backup], rule: Rule, count: u32, zone: &Zone) -> Vec<Backup> {
        let mut newest: std::collections::HashMap<(i16, i16), Backup> = Default::default();
        for b in distinct {
            let period = rule.period(zone.local(b.created).date()).expect("a period");
            let entry = newest.entry(period).or_insert_with(|| b.clone());
            if newest_first(b, entry) == Ordering::Less {
                *entry = b.clone();
            }
        }
        let mut chosen: Vec<Backup> = newest.into_values().collect();
        chosen.sort_by(newest_first);
        chosen.truncate(count as usize);
        chosen
    }

    proptest! {
        #[test]
        fn each_generation_keeps_exactly_the_newest_of_its_newest_periods(
            backups in prop::collection::vec(gfs_backup(), 0..60),
            generations in any_generations(),
            max in 1u32..4,
            zone in 0..ZONES.len(),
        ) {
            let zone = Zone::parse(ZONES[zone]).expect("a zone");
            let policy = RetentionPolicy { generations, ..policy(max, None) };
            let decision = decide(&movies(), &prod(), &backups, &policy, &zone, NOW);
            let distinct = first_of_each_name(&owned_live(&backups));
            for (rule, count) in generations.rules() {
                let by_rule: Vec<Backup> = decision
                    .keep
                    .iter()
                    .filter(|k| k.rules.contains(&rule))
                    .map(|k| k.backup.clone())
                    .collect();
                prop_assert_eq!(by_rule, oracle(&distinct, rule, count.get(), &zone), "{}", rule);
            }
        }

        #[test]
        fn a_backup_is_deleted_only_when_no_rule_keeps_it(
            backups in prop::collection::vec(gfs_backup(), 0..60),
            generations in any_generations(),
            max in 1u32..4,
            age in prop::option::of(1u32..3000),
            zone in 0..ZONES.len(),
        ) {
            let zone = Zone::parse(ZONES[zone]).expect("a zone");
            let policy = RetentionPolicy {
                generations,
                ..policy(max, age)
            };
            prop_assume!(policy.check().is_ok());
            let decision = decide(&movies(), &prod(), &backups, &policy, &zone, NOW);
            let owned = owned_live(&backups);
            let distinct = first_of_each_name(&owned);
            let cutoff = age.map(|d| NOW - Duration::days(i64::from(d)));
            let mut wanted: Vec<Backup> = distinct.iter().take(max as usize).cloned().collect();
            for (rule, count) in generations.rules() {
                wanted.extend(oracle(&distinct, rule, count.get(), &zone));
            }
            let kept = kept(&decision);
            for b in &owned {
                let keeps = wanted.contains(b) && cutoff.is_none_or(|c| b.created >= c);
                let newest = distinct.first() == Some(b);
                prop_assert_eq!(kept.contains(b), keeps || newest);
                prop_assert_eq!(
                    decision.delete.contains(b),
                    !(keeps || newest) && b.state != BackupState::Creating
                );
            }
            prop_assert_eq!(
                kept.len() + decision.delete.len() + decision.still_creating.len(),
                owned.len()
            );
        }
    }
}
