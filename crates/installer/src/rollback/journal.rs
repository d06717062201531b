//! What a rollback keeps between runs, at `rollbacks/<table>/<from>.json` in the stack's bucket:
//! the window's end it resolved (so the same command run again, without `--to`, undoes the same
//! window and not a longer one that would take in writes it promised to keep) and the backup it
//! made before its first write, named here before it is asked for (so a run that goes on after an
//! interruption finds it and makes no second one, and names the first, from which the whole
//! rollback can be undone).

use backup_lambda::error::AwsError;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::aws::Aws;

/// A rollback's journal.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journal {
    /// The window's end (RFC 3339).
    pub to: Option<String>,
    /// The backup made before the first write.
    pub backup_before: Option<String>,
    /// Whether CreateBackup of `backup_before` answered (its name is written first).
    #[serde(default)]
    pub backup_made: bool,
}

/// Where the journal of a rollback from `from` is kept.
pub fn key(table: &str, from: OffsetDateTime) -> String {
    format!("rollbacks/{table}/{}.json", super::exports::compact(from))
}

/// The journal, or an empty one when there is none (or it is not one: it is written anew).
pub async fn read(aws: &Aws, bucket: &str, key: &str) -> Result<Journal, AwsError> {
    Ok(crate::bucket_json::read(aws, bucket, key)
        .await?
        .unwrap_or_default())
}

/// Writes the journal.
pub async fn write(aws: &Aws, bucket: &str, key: &str, journal: &Journal) -> Result<(), AwsError> {
    crate::bucket_json::write(aws, bucket, key, journal).await
}
