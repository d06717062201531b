//! What the run's tests share: the stack `prod`, its backups, the settings, the tutorial's
//! event, the ledger as written.

use std::num::NonZeroU32;

use serde_json::{Value, json};

use crate::fake::{MemoryBucket, NOW};
use crate::naming::TableName;
use crate::request::Settings;
use crate::retention::{Backup, BackupKind, BackupState, RetentionPolicy};

/// The day ledger at `key` in the log bucket.
pub(super) fn ledger(records: &MemoryBucket, key: &str) -> Option<crate::ledger::DayLedger> {
    let json = records.json("logs", key)?;
    Some(serde_json::from_value(json).expect("a ledger"))
}

pub(super) fn prod() -> crate::naming::StackName {
    crate::naming::StackName::parse("prod").unwrap()
}

pub(super) fn ours(hours_ago: i64) -> Backup {
    let created = NOW - time::Duration::hours(hours_ago);
    let name = TableName::parse("Movies")
        .unwrap()
        .backup_name(&prod(), created);
    Backup {
        arn: format!("arn:Movies/backup/{name}"),
        name,
        created,
        state: BackupState::Available,
        kind: BackupKind::User,
    }
}

pub(super) fn manual() -> Backup {
    Backup {
        name: "Movies-manual".to_owned(),
        arn: "arn:Movies/backup/manual".to_owned(),
        ..ours(1000)
    }
}

pub(super) fn settings(bucket: Option<&str>) -> Settings {
    Settings {
        ownership: crate::ownership::Ownership::new(prod()),
        default_policy: RetentionPolicy {
            max_backups: NonZeroU32::new(3).unwrap(),
            max_age_days: None,
            generations: Default::default(),
        },
        zone: crate::zone::Zone::utc(),
        log_bucket: bucket.map(str::to_owned),
        drill: None,
        export: None,
    }
}

pub(super) fn tutorial_event() -> Value {
    json!({"TableName": "Movies"})
}
