//! What a rollback keeps between runs, at `rollbacks/<table>/<from>.json` in the stack's bucket:
//! the window's end it resolved (so the same command run again, without `--to`, undoes the same
//! window and not a longer one that would take in writes it promised to keep) and the backup it
//! made before its first write, named here before it is asked for (so a run that goes on after an
//! interruption finds it and makes no second one, and names the first, from which the whole
//! rollback can be undone).

use backup_lambda::error::{AwsError, AwsResult};
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
    let out = aws
        .s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .expected_bucket_owner(&aws.account)
        .send()
        .await;
    let object = match out.aws("GetObject", format!("s3://{bucket}/{key}")) {
        Ok(object) => object,
        Err(e) if e.is("NoSuchKey") => return Ok(Journal::default()),
        Err(e) => return Err(e),
    };
    let bytes = object
        .body
        .collect()
        .await
        .map_err(|e| AwsError::malformed("GetObject", key, &e.to_string()))?
        .into_bytes();
    Ok(serde_json::from_slice(&bytes).unwrap_or_default())
}

/// Writes the journal.
pub async fn write(aws: &Aws, bucket: &str, key: &str, journal: &Journal) -> Result<(), AwsError> {
    let body = serde_json::to_vec(journal).expect("a journal is optional strings and a flag");
    aws.s3
        .put_object()
        .bucket(bucket)
        .key(key)
        .expected_bucket_owner(&aws.account)
        .content_type("application/json")
        .body(body.into())
        .send()
        .await
        .aws("PutObject", format!("s3://{bucket}/{key}"))
        .map(drop)
}
