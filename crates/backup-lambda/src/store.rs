//! The AWS side of a run, behind two small traits so that the run itself can be tested without
//! AWS: [`BackupStore`] (DynamoDB backups) and [`RecordSink`] (S3 run records).

use std::future::Future;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::create_backup::CreateBackupError;
use aws_sdk_dynamodb::types::{BackupStatus, BackupSummary, BackupType, BackupTypeFilter};
use aws_sdk_s3::primitives::ByteStream;
use thiserror::Error;
use time::OffsetDateTime;
use tracing::warn;

use crate::naming::TableName;
use crate::retention::{Backup, BackupKind, BackupState};

/// A failed AWS call, in one line, with the service's error code where there is one.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{operation} {target} failed: {detail}")]
pub struct AwsError {
    /// The API operation, e.g. `CreateBackup`.
    pub operation: &'static str,
    /// What it was called on (a table, an ARN, a resource name).
    pub target: String,
    /// The service's error code, e.g. `TableNotFoundException`.
    pub code: Option<String>,
    /// What went wrong, in one line.
    pub detail: String,
}

impl AwsError {
    /// Describes an SDK error from calling `operation` on `target`: `code: message` for a
    /// service error, the whole cause chain otherwise (timeouts, connection failures, ...).
    pub fn new<E>(operation: &'static str, target: impl Into<String>, err: &E) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error,
    {
        let detail = match (err.code(), err.message()) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            (Some(code), None) => code.to_owned(),
            _ => one_line(&causes(err)),
        };
        Self {
            operation,
            target: target.into(),
            code: err.code().map(str::to_owned),
            detail,
        }
    }

    /// An answer that broke the API's own contract, or a request that could not be built.
    pub fn malformed(operation: &'static str, target: impl Into<String>, detail: &str) -> Self {
        Self {
            operation,
            target: target.into(),
            code: None,
            detail: detail.to_owned(),
        }
    }

    /// Whether the service answered with this error code.
    pub fn is(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }
}

/// An error and its sources, each once, joined with ": " (without the Debug dumps that
/// `DisplayErrorContext` adds).
fn causes(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let line = cause.to_string();
        if !text.contains(&line) {
            text.push_str(": ");
            text.push_str(&line);
        }
        source = cause.source();
    }
    text
}

/// An error and its causes, in one line of at most 300 characters.
pub fn in_one_line(err: &dyn std::error::Error) -> String {
    one_line(&causes(err))
}

/// Folds a multi-line error chain into one line of at most 300 characters.
fn one_line(text: &str) -> String {
    let folded = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match folded.char_indices().nth(300) {
        Some((cut, _)) => format!("{}…", &folded[..cut]),
        None => folded,
    }
}

/// Makes, lists and deletes the on-demand backups of a table.
pub trait BackupStore: Send + Sync {
    /// Starts an on-demand backup of `table` named `name` and returns it as DynamoDB reports it.
    fn create_backup(
        &self,
        table: &TableName,
        name: &str,
    ) -> impl Future<Output = Result<Backup, AwsError>> + Send;

    /// Lists every `USER` backup of `table`, across all pages.
    fn list_backups(
        &self,
        table: &TableName,
    ) -> impl Future<Output = Result<Vec<Backup>, AwsError>> + Send;

    /// Deletes the backup with this ARN.
    fn delete_backup(&self, arn: &str) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// Stores the JSON record of a run.
pub trait RecordSink: Send + Sync {
    /// Writes `body` (JSON) to `key` in `bucket`.
    fn put_record(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// [`BackupStore`] over the DynamoDB API.
#[derive(Debug, Clone)]
pub struct DynamoDbBackups {
    client: aws_sdk_dynamodb::Client,
}

impl DynamoDbBackups {
    /// Wraps a DynamoDB client (build it once, at cold start).
    pub fn new(client: aws_sdk_dynamodb::Client) -> Self {
        Self { client }
    }
}

fn to_time(dt: &aws_sdk_dynamodb::primitives::DateTime) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(dt.as_nanos()).ok()
}

fn to_state(status: &BackupStatus) -> BackupState {
    match status {
        BackupStatus::Available => BackupState::Available,
        BackupStatus::Creating => BackupState::Creating,
        BackupStatus::Deleted => BackupState::Deleted,
        _ => BackupState::Unknown,
    }
}

fn to_kind(kind: &BackupType) -> BackupKind {
    match kind {
        BackupType::User => BackupKind::User,
        BackupType::System => BackupKind::System,
        BackupType::AwsBackup => BackupKind::AwsBackup,
        _ => BackupKind::Unknown,
    }
}

/// Converts a listed summary; one without an ARN, name or creation time cannot be reasoned
/// about, so it is skipped (and therefore never deleted).
fn from_summary(summary: &BackupSummary) -> Option<Backup> {
    Some(Backup {
        arn: summary.backup_arn()?.to_owned(),
        name: summary.backup_name()?.to_owned(),
        created: to_time(summary.backup_creation_date_time()?)?,
        state: summary
            .backup_status()
            .map_or(BackupState::Unknown, to_state),
        kind: summary.backup_type().map_or(BackupKind::Unknown, to_kind),
    })
}

/// Tries of one CreateBackup when the service is busy or the network fails.
const CREATE_ATTEMPTS: u32 = 5;
/// First wait between them; doubled each time, up to [`CREATE_MAX_BACKOFF`].
const CREATE_BACKOFF: Duration = Duration::from_millis(250);
/// Longest wait between them.
const CREATE_MAX_BACKOFF: Duration = Duration::from_secs(4);

/// Error codes AWS gives for throttling and for passing trouble on its side.
const TRANSIENT_CODES: [&str; 8] = [
    "ThrottlingException",
    "Throttling",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "LimitExceededException",
    "ProvisionedThroughputExceededException",
    "InternalServerError",
    "ServiceUnavailable",
];

/// Whether a failed call may succeed if made again: throttling, a 5xx, a timeout, a failed
/// connection or a response that never arrived whole.
pub fn is_transient<E: ProvideErrorMetadata>(err: &SdkError<E>) -> bool {
    match err {
        SdkError::ServiceError(ctx) => {
            ctx.raw().status().as_u16() >= 500
                || ctx
                    .err()
                    .code()
                    .is_some_and(|c| TRANSIENT_CODES.contains(&c))
        }
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) | SdkError::ResponseError(_) => {
            true
        }
        _ => false,
    }
}

impl DynamoDbBackups {
    /// Makes one CreateBackup call, without the SDK's own retries.
    async fn create_once(
        &self,
        table: &TableName,
        name: &str,
    ) -> Result<Backup, SdkError<CreateBackupError>> {
        let out = self
            .client
            .create_backup()
            .table_name(table.as_str())
            .backup_name(name)
            .customize()
            .config_override(
                aws_sdk_dynamodb::config::Builder::default().retry_config(RetryConfig::disabled()),
            )
            .send()
            .await?;
        let details = out.backup_details();
        Ok(Backup {
            arn: details
                .map(|d| d.backup_arn().to_owned())
                .unwrap_or_default(),
            name: details.map_or_else(|| name.to_owned(), |d| d.backup_name().to_owned()),
            created: details
                .and_then(|d| to_time(d.backup_creation_date_time()))
                .unwrap_or_else(OffsetDateTime::now_utc),
            state: details.map_or(BackupState::Unknown, |d| to_state(d.backup_status())),
            kind: details.map_or(BackupKind::Unknown, |d| to_kind(d.backup_type())),
        })
    }
}

impl BackupStore for DynamoDbBackups {
    /// CreateBackup has no idempotency token, so a blind retry after a lost response would make
    /// a second backup. Each attempt is therefore made once, and after a transient failure the
    /// table's backups are listed: if the failed attempt did make ours, that one is the result.
    async fn create_backup(&self, table: &TableName, name: &str) -> Result<Backup, AwsError> {
        const OP: &str = "CreateBackup";
        let mut backoff = CREATE_BACKOFF;
        let mut attempt = 1;
        loop {
            match self.create_once(table, name).await {
                Ok(backup) if backup.arn.is_empty() => {
                    return Err(AwsError::malformed(
                        OP,
                        table.as_str(),
                        "the response has no BackupDetails",
                    ));
                }
                Ok(backup) => return Ok(backup),
                Err(e) if attempt < CREATE_ATTEMPTS && is_transient(&e) => {
                    warn!(table = %table, attempt, error = %AwsError::new(OP, table.as_str(), &e), "backup not confirmed; checking before trying again");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(CREATE_MAX_BACKOFF);
                    if let Some(made) = self
                        .list_backups(table)
                        .await?
                        .into_iter()
                        .find(|b| b.name == name)
                    {
                        return Ok(made);
                    }
                    attempt += 1;
                }
                Err(e) => return Err(AwsError::new(OP, table.as_str(), &e)),
            }
        }
    }

    async fn list_backups(&self, table: &TableName) -> Result<Vec<Backup>, AwsError> {
        const OP: &str = "ListBackups";
        let mut backups = Vec::new();
        let mut start: Option<String> = None;
        loop {
            let page = self
                .client
                .list_backups()
                .table_name(table.as_str())
                .backup_type(BackupTypeFilter::User)
                .set_exclusive_start_backup_arn(start.clone())
                .send()
                .await
                .map_err(|e| AwsError::new(OP, table.as_str(), &e))?;
            backups.extend(page.backup_summaries().iter().filter_map(from_summary));
            match page.last_evaluated_backup_arn() {
                None => return Ok(backups),
                Some(next) if start.as_deref() == Some(next) => {
                    return Err(AwsError::malformed(
                        OP,
                        table.as_str(),
                        &format!("paging did not advance past {next}"),
                    ));
                }
                Some(next) => start = Some(next.to_owned()),
            }
        }
    }

    async fn delete_backup(&self, arn: &str) -> Result<(), AwsError> {
        self.client
            .delete_backup()
            .backup_arn(arn)
            .send()
            .await
            .map(drop)
            .map_err(|e| AwsError::new("DeleteBackup", arn, &e))
    }
}

/// [`RecordSink`] over the S3 API.
#[derive(Debug, Clone)]
pub struct S3Records {
    client: aws_sdk_s3::Client,
}

impl S3Records {
    /// Wraps an S3 client (build it once, at cold start).
    pub fn new(client: aws_sdk_s3::Client) -> Self {
        Self { client }
    }
}

impl RecordSink for S3Records {
    async fn put_record(&self, bucket: &str, key: &str, body: Vec<u8>) -> Result<(), AwsError> {
        self.client
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type("application/json")
            .body(ByteStream::from(body))
            .send()
            .await
            .map(drop)
            .map_err(|e| AwsError::new("PutObject", format!("s3://{bucket}/{key}"), &e))
    }
}
