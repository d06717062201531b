//! The AWS side of a run, behind two small traits so that the run itself can be tested without
//! AWS: [`BackupStore`] (DynamoDB backups) and [`RecordSink`] (S3 run records).

use std::future::Future;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::create_backup::CreateBackupError;
use aws_sdk_dynamodb::types::{
    BackupStatus, BackupSummary, BackupType, BackupTypeFilter, ExportDescription, ExportFormat,
    ExportStatus as AwsExportStatus, ExportType, ExportViewType, IncrementalExportSpecification,
    PointInTimeRecoveryStatus,
};
use aws_sdk_s3::primitives::ByteStream;
use time::OffsetDateTime;
use tracing::warn;

use crate::chain::RecoveryWindow;
use crate::definition::TableDefinition;
use crate::error::{AwsError, AwsResult, is_transient};
use crate::export::{ExportKind, ExportRequest, ExportState, ExportStatus, ExportView};
use crate::naming::TableName;
use crate::retention::{Backup, BackupKind, BackupState};

/// Makes, lists and deletes the on-demand backups of a table.
pub trait BackupStore: Send + Sync {
    /// Starts an on-demand backup of `table` named `name` and returns it as DynamoDB reports it;
    /// any ListBackups page it reads to check an unconfirmed attempt awaits `before_page` first
    /// (the function's ListBackups pacer).
    fn create_backup<F>(
        &self,
        table: &TableName,
        name: &str,
        before_page: impl Fn() -> F + Send + Sync,
    ) -> impl Future<Output = Result<Backup, AwsError>> + Send
    where
        F: Future<Output = ()> + Send;

    /// One page of `table`'s `USER` backups (ListBackups), from after `start` (the previous
    /// page's last evaluated ARN).
    fn list_backups_page(
        &self,
        table: &TableName,
        start: Option<&str>,
    ) -> impl Future<Output = Result<BackupPage, AwsError>> + Send;

    /// Lists every `USER` backup of `table`, across all pages.
    fn list_backups(
        &self,
        table: &TableName,
    ) -> impl Future<Output = Result<Vec<Backup>, AwsError>> + Send {
        self.list_backups_paced(table, || std::future::ready(()))
    }

    /// Lists every `USER` backup of `table`, across all pages, awaiting `before_page` ahead of
    /// each request (the function's ListBackups pacer: DynamoDB's rate counts pages).
    fn list_backups_paced<F>(
        &self,
        table: &TableName,
        before_page: impl Fn() -> F + Send + Sync,
    ) -> impl Future<Output = Result<Vec<Backup>, AwsError>> + Send
    where
        F: Future<Output = ()> + Send,
    {
        async move {
            let mut backups = Vec::new();
            let mut start: Option<String> = None;
            loop {
                before_page().await;
                let page = self.list_backups_page(table, start.as_deref()).await?;
                backups.extend(page.backups);
                match page.next {
                    None => return Ok(backups),
                    Some(next) if start.as_deref() == Some(next.as_str()) => {
                        return Err(AwsError::malformed(
                            "ListBackups",
                            table.as_str(),
                            &format!("paging did not advance past {next}"),
                        ));
                    }
                    Some(next) => start = Some(next),
                }
            }
        }
    }

    /// One page of the `USER` backups of every table in the account and region (ListBackups
    /// without `TableName`, [`ACCOUNT_PAGE`] at most), from after `start`, each with its table's
    /// name.
    fn list_account_backups_page(
        &self,
        start: Option<&str>,
    ) -> impl Future<Output = Result<AccountBackupPage, AwsError>> + Send;

    /// The account's backups, each with its table's name, across all pages, awaiting
    /// `before_page` ahead of each request (ListBackups' rate counts pages); `None` once
    /// `max_pages` pages were read without reaching the end.
    fn list_account_backups_paced<F>(
        &self,
        before_page: impl Fn() -> F + Send + Sync,
        max_pages: Option<usize>,
    ) -> impl Future<Output = Result<Option<Vec<(String, Backup)>>, AwsError>> + Send
    where
        F: Future<Output = ()> + Send,
    {
        async move {
            let mut backups = Vec::new();
            let mut start: Option<String> = None;
            let mut pages = 0;
            loop {
                if max_pages.is_some_and(|max| pages >= max) {
                    return Ok(None);
                }
                before_page().await;
                pages += 1;
                let page = self.list_account_backups_page(start.as_deref()).await?;
                backups.extend(page.backups);
                match page.next {
                    None => return Ok(Some(backups)),
                    Some(next) if start.as_deref() == Some(next.as_str()) => {
                        return Err(AwsError::malformed(
                            "ListBackups",
                            "the account's backups",
                            &format!("paging did not advance past {next}"),
                        ));
                    }
                    Some(next) => start = Some(next),
                }
            }
        }
    }

    /// Deletes the backup with this ARN.
    fn delete_backup(&self, arn: &str) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// Every table name in the account and region (ListTables, in pages of 100).
    fn list_tables(&self) -> impl Future<Output = Result<Vec<TableName>, AwsError>> + Send;

    /// A table's definition, as an import would make it again (DescribeTable).
    fn table_definition(
        &self,
        table: &str,
    ) -> impl Future<Output = Result<TableDefinition, AwsError>> + Send;

    /// A table's ARN (DescribeTable).
    fn table_arn(&self, table: &TableName)
    -> impl Future<Output = Result<String, AwsError>> + Send;

    /// The tags of the table with this ARN (ListTagsOfResource, every page).
    fn table_tags(
        &self,
        arn: &str,
    ) -> impl Future<Output = Result<Vec<(String, String)>, AwsError>> + Send;

    /// The moments `table` can be exported at (DescribeContinuousBackups); `None` when its
    /// point-in-time recovery is off.
    fn recovery_window(
        &self,
        table: &str,
    ) -> impl Future<Output = Result<Option<RecoveryWindow>, AwsError>> + Send;

    /// Starts an export of a table to S3 (ExportTableToPointInTime, DynamoDB JSON, full or
    /// incremental).
    fn start_export(
        &self,
        request: &ExportRequest,
    ) -> impl Future<Output = Result<ExportStatus, AwsError>> + Send;

    /// Asks how an export is doing (DescribeExport).
    fn describe_export(
        &self,
        arn: &str,
    ) -> impl Future<Output = Result<ExportStatus, AwsError>> + Send;
}

/// One page of ListBackups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupPage {
    /// The backups on it.
    pub backups: Vec<Backup>,
    /// Where the next page starts (`LastEvaluatedBackupArn`), if there is one.
    pub next: Option<String>,
}

/// The most backups one page of an account-wide listing asks for: ListBackups' `Limit` is 1 to
/// 100 (API reference, `BackupsInputLimit`), and a page holds at most 1 MB besides.
pub const ACCOUNT_PAGE: i32 = 100;

/// One page of an account-wide ListBackups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountBackupPage {
    /// The backups on it, each with its table's name (`BackupSummary.TableName`).
    pub backups: Vec<(String, Backup)>,
    /// Where the next page starts (`LastEvaluatedBackupArn`), if there is one.
    pub next: Option<String>,
}

/// An object as read, with the version (ETag) it was read at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// Its content.
    pub body: Vec<u8>,
    /// Its ETag, for a write that must not overwrite a newer version.
    pub etag: String,
}

/// When a conditional write may go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteIf<'a> {
    /// Only if there is no object yet (`If-None-Match: *`).
    Absent,
    /// Only if the object is still the version with this ETag (`If-Match`).
    Unchanged(&'a str),
}

/// Stores the JSON records of runs, and the ledgers that list them by day.
pub trait RecordSink: Send + Sync {
    /// Writes `body` (JSON) to `key` in `bucket`.
    fn put_record(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// Reads `key` from `bucket`; `None` if there is no such object.
    fn read_record(
        &self,
        bucket: &str,
        key: &str,
    ) -> impl Future<Output = Result<Option<Stored>, AwsError>> + Send;

    /// Writes `body` to `key` only `when` the condition holds: `Ok(false)` if it did not
    /// (another writer came first), so the caller can read again and retry.
    fn put_record_if(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        when: WriteIf<'_>,
    ) -> impl Future<Output = Result<bool, AwsError>> + Send;

    /// Deletes `key` from `bucket`; one already gone is fine.
    fn delete_record(
        &self,
        bucket: &str,
        key: &str,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// [`BackupStore`] over the DynamoDB API.
#[derive(Debug, Clone)]
pub struct DynamoDbBackups {
    client: aws_sdk_dynamodb::Client,
    /// The kinds of backup ListBackups asks for: `USER` unless [`DynamoDbBackups::every_kind`].
    kinds: BackupTypeFilter,
}

impl DynamoDbBackups {
    /// Wraps a DynamoDB client (build it once, at cold start); listings hold `USER` backups.
    pub fn new(client: aws_sdk_dynamodb::Client) -> Self {
        Self {
            client,
            kinds: BackupTypeFilter::User,
        }
    }

    /// The same, listing every kind of backup (`ALL`: also `SYSTEM` ones, such as the
    /// `<table>$DeletedTableBackup` DynamoDB keeps for 35 days of a table deleted with
    /// point-in-time recovery on, and AWS Backup's), for a restore that may use any.
    #[must_use]
    pub fn every_kind(mut self) -> Self {
        self.kinds = BackupTypeFilter::All;
        self
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

/// The most tags a table can have ("The maximum number of tags per resource is 50"), plus the
/// ones AWS assigns (`aws:`), which do not count: a listing longer than this has gone wrong.
const MAX_TAGS: usize = 100;

impl BackupStore for DynamoDbBackups {
    /// CreateBackup has no idempotency token, so a blind retry after a lost response would make
    /// a second backup. Each attempt is therefore made once, and after a transient failure the
    /// table's backups are listed: if the failed attempt did make ours, that one is the result.
    async fn create_backup<F>(
        &self,
        table: &TableName,
        name: &str,
        before_page: impl Fn() -> F + Send + Sync,
    ) -> Result<Backup, AwsError>
    where
        F: Future<Output = ()> + Send,
    {
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
                        .list_backups_paced(table, &before_page)
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

    async fn list_backups_page(
        &self,
        table: &TableName,
        start: Option<&str>,
    ) -> Result<BackupPage, AwsError> {
        let page = self
            .client
            .list_backups()
            .table_name(table.as_str())
            .backup_type(self.kinds.clone())
            .set_exclusive_start_backup_arn(start.map(str::to_owned))
            .send()
            .await
            .aws("ListBackups", table.as_str())?;
        Ok(BackupPage {
            backups: page
                .backup_summaries()
                .iter()
                .filter_map(from_summary)
                .collect(),
            next: page.last_evaluated_backup_arn,
        })
    }

    async fn list_account_backups_page(
        &self,
        start: Option<&str>,
    ) -> Result<AccountBackupPage, AwsError> {
        let page = self
            .client
            .list_backups()
            .limit(ACCOUNT_PAGE)
            .backup_type(self.kinds.clone())
            .set_exclusive_start_backup_arn(start.map(str::to_owned))
            .send()
            .await
            .aws("ListBackups", "the account's backups")?;
        Ok(AccountBackupPage {
            backups: page
                .backup_summaries()
                .iter()
                .filter_map(|s| Some((s.table_name()?.to_owned(), from_summary(s)?)))
                .collect(),
            next: page.last_evaluated_backup_arn,
        })
    }

    async fn delete_backup(&self, arn: &str) -> Result<(), AwsError> {
        self.client
            .delete_backup()
            .backup_arn(arn)
            .send()
            .await
            .map(drop)
            .aws("DeleteBackup", arn)
    }

    async fn list_tables(&self) -> Result<Vec<TableName>, AwsError> {
        let mut tables = Vec::new();
        let mut start: Option<String> = None;
        loop {
            let page = self
                .client
                .list_tables()
                .limit(100)
                .set_exclusive_start_table_name(start.clone())
                .send()
                .await
                .aws("ListTables", "the account's tables")?;
            tables.extend(
                page.table_names()
                    .iter()
                    .filter_map(|n| TableName::parse(n).ok()),
            );
            match page.last_evaluated_table_name() {
                Some(next) if start.as_deref() != Some(next) => start = Some(next.to_owned()),
                _ => return Ok(tables),
            }
        }
    }

    async fn table_definition(&self, table: &str) -> Result<TableDefinition, AwsError> {
        let out = self
            .client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .aws("DescribeTable", table)?;
        let described = out
            .table()
            .ok_or_else(|| AwsError::malformed("DescribeTable", table, "no Table"))?;
        TableDefinition::of(described)
            .map_err(|e| AwsError::malformed("DescribeTable", table, &e.to_string()))
    }

    async fn table_arn(&self, table: &TableName) -> Result<String, AwsError> {
        let out = self
            .client
            .describe_table()
            .table_name(table.as_str())
            .send()
            .await
            .aws("DescribeTable", table.as_str())?;
        out.table()
            .and_then(|t| t.table_arn())
            .map(str::to_owned)
            .ok_or_else(|| AwsError::malformed("DescribeTable", table.as_str(), "no TableArn"))
    }

    async fn table_tags(&self, arn: &str) -> Result<Vec<(String, String)>, AwsError> {
        let mut tags = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .client
                .list_tags_of_resource()
                .resource_arn(arn)
                .set_next_token(token)
                .send()
                .await
                .aws("ListTagsOfResource", arn)?;
            tags.extend(
                page.tags()
                    .iter()
                    .map(|t| (t.key().to_owned(), t.value().to_owned())),
            );
            token = page.next_token;
            if token.is_none() {
                return Ok(tags);
            }
            // A table has at most 50 tags (developer guide, "Tagging restrictions in
            // DynamoDB"), so more pages than that is a listing going round in circles.
            if tags.len() > MAX_TAGS {
                return Err(AwsError::malformed(
                    "ListTagsOfResource",
                    arn,
                    &format!("more than {MAX_TAGS} tags listed: the pages do not end"),
                ));
            }
        }
    }

    /// DescribeContinuousBackups: the window while recovery is ENABLED (a table whose recovery
    /// is off, or still being turned on, has none to export from).
    async fn recovery_window(&self, table: &str) -> Result<Option<RecoveryWindow>, AwsError> {
        const OP: &str = "DescribeContinuousBackups";
        let out = self
            .client
            .describe_continuous_backups()
            .table_name(table)
            .send()
            .await
            .aws(OP, table)?;
        let Some(pitr) = out
            .continuous_backups_description()
            .and_then(|d| d.point_in_time_recovery_description())
        else {
            return Ok(None);
        };
        if pitr.point_in_time_recovery_status() != Some(&PointInTimeRecoveryStatus::Enabled) {
            return Ok(None);
        }
        let earliest = pitr.earliest_restorable_date_time().and_then(to_time);
        let latest = pitr.latest_restorable_date_time().and_then(to_time);
        match (earliest, latest) {
            (Some(earliest), Some(latest)) => Ok(Some(RecoveryWindow { earliest, latest })),
            _ => Err(AwsError::malformed(
                OP,
                table,
                "recovery is ENABLED without its earliest and latest restorable times",
            )),
        }
    }

    /// The ClientToken makes the SDK's own retries (and a later run's repeat) safe.
    async fn start_export(&self, request: &ExportRequest) -> Result<ExportStatus, AwsError> {
        const OP: &str = "ExportTableToPointInTime";
        let seconds = |t: OffsetDateTime| {
            aws_sdk_dynamodb::primitives::DateTime::from_secs(t.unix_timestamp())
        };
        let call = self
            .client
            .export_table_to_point_in_time()
            .table_arn(&request.table_arn)
            .s3_bucket(&request.bucket)
            .set_s3_bucket_owner(request.bucket_owner.clone())
            .s3_prefix(&request.prefix)
            .export_format(ExportFormat::DynamodbJson)
            .client_token(&request.client_token);
        let call = match request.kind {
            ExportKind::Full { at } => call
                .export_type(ExportType::FullExport)
                .set_export_time(at.map(seconds)),
            ExportKind::Incremental { from, to, view } => call
                .export_type(ExportType::IncrementalExport)
                .incremental_export_specification(
                    IncrementalExportSpecification::builder()
                        .export_from_time(seconds(from))
                        .export_to_time(seconds(to))
                        .export_view_type(match view {
                            ExportView::NewAndOld => ExportViewType::NewAndOldImages,
                            ExportView::New => ExportViewType::NewImage,
                        })
                        .build(),
                ),
        };
        let out = call.send().await.aws(OP, &request.table_arn)?;
        out.export_description()
            .and_then(export_status)
            .ok_or_else(|| {
                AwsError::malformed(OP, &request.table_arn, "the response has no ExportArn")
            })
    }

    async fn describe_export(&self, arn: &str) -> Result<ExportStatus, AwsError> {
        const OP: &str = "DescribeExport";
        let out = self
            .client
            .describe_export()
            .export_arn(arn)
            .send()
            .await
            .aws(OP, arn)?;
        out.export_description()
            .and_then(export_status)
            .ok_or_else(|| AwsError::malformed(OP, arn, "the response has no ExportArn"))
    }
}

/// An export description as this crate sees it; `None` without an ARN. A state this crate does
/// not know is taken as still in progress (asked again next run), never as an outcome.
fn export_status(description: &ExportDescription) -> Option<ExportStatus> {
    let failure = match (description.failure_code(), description.failure_message()) {
        (None, None) => None,
        (code, message) => Some(format!(
            "{}: {}",
            code.unwrap_or("ExportFailed"),
            message.unwrap_or("no message")
        )),
    };
    Some(ExportStatus {
        arn: description.export_arn()?.to_owned(),
        state: match description.export_status() {
            Some(AwsExportStatus::Completed) => ExportState::Completed,
            Some(AwsExportStatus::Failed) => ExportState::Failed,
            _ => ExportState::InProgress,
        },
        ended: description.end_time().and_then(to_time),
        item_count: description.item_count(),
        billed_size_bytes: description.billed_size_bytes(),
        failure,
    })
}

/// [`RecordSink`] over the S3 API.
#[derive(Debug, Clone)]
pub struct S3Records {
    client: aws_sdk_s3::Client,
    /// A bucket in another region, and a client for that region.
    elsewhere: Option<(String, aws_sdk_s3::Client)>,
}

impl S3Records {
    /// Wraps an S3 client (build it once, at cold start).
    pub fn new(client: aws_sdk_s3::Client) -> Self {
        Self {
            client,
            elsewhere: None,
        }
    }

    /// The same, reaching `bucket` through `client` (one for the bucket's region: S3 answers a
    /// request sent to another region's endpoint 301 PermanentRedirect, which the SDK does not
    /// follow).
    pub fn with_bucket_in(self, bucket: &str, client: aws_sdk_s3::Client) -> Self {
        Self {
            elsewhere: Some((bucket.to_owned(), client)),
            ..self
        }
    }

    /// The client that reaches `bucket`.
    fn client(&self, bucket: &str) -> &aws_sdk_s3::Client {
        match &self.elsewhere {
            Some((there, client)) if there == bucket => client,
            _ => &self.client,
        }
    }
}

impl RecordSink for S3Records {
    async fn put_record(&self, bucket: &str, key: &str, body: Vec<u8>) -> Result<(), AwsError> {
        self.client(bucket)
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type("application/json")
            .body(ByteStream::from(body))
            .send()
            .await
            .map(drop)
            .aws("PutObject", format!("s3://{bucket}/{key}"))
    }

    async fn read_record(&self, bucket: &str, key: &str) -> Result<Option<Stored>, AwsError> {
        const OP: &str = "GetObject";
        let uri = format!("s3://{bucket}/{key}");
        let out = match self
            .client(bucket)
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) => {
                let err = AwsError::new(OP, uri.as_str(), &e);
                return if err.is("NoSuchKey") {
                    Ok(None)
                } else {
                    Err(err)
                };
            }
        };
        let etag = out.e_tag().unwrap_or_default().to_owned();
        let body = out
            .body
            .collect()
            .await
            .map_err(|e| AwsError::malformed(OP, uri.as_str(), &e.to_string()))?
            .to_vec();
        Ok(Some(Stored { body, etag }))
    }

    /// S3 answers a failed condition with 412 PreconditionFailed, a concurrent conditional
    /// write with 409 ConditionalRequestConflict, and `If-Match` on a deleted object with 404
    /// NoSuchKey (PutObject, API reference: "Conditional writes").
    async fn put_record_if(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        when: WriteIf<'_>,
    ) -> Result<bool, AwsError> {
        let put = self
            .client(bucket)
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type("application/json")
            .body(ByteStream::from(body));
        let put = match when {
            WriteIf::Absent => put.if_none_match("*"),
            WriteIf::Unchanged(etag) => put.if_match(etag),
        };
        match put
            .send()
            .await
            .aws("PutObject", format!("s3://{bucket}/{key}"))
        {
            Ok(_) => Ok(true),
            Err(e)
                if [
                    "PreconditionFailed",
                    "ConditionalRequestConflict",
                    "NoSuchKey",
                ]
                .iter()
                .any(|code| e.is(code)) =>
            {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// S3 answers DeleteObject of a missing key with success (204).
    async fn delete_record(&self, bucket: &str, key: &str) -> Result<(), AwsError> {
        self.client(bucket)
            .delete_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map(drop)
            .aws("DeleteObject", format!("s3://{bucket}/{key}"))
    }
}

/// A shared store: the handler's run and drill use one, and a test keeps it to look inside.
impl<T: BackupStore> BackupStore for &T {
    fn create_backup<F>(
        &self,
        table: &TableName,
        name: &str,
        before_page: impl Fn() -> F + Send + Sync,
    ) -> impl Future<Output = Result<Backup, AwsError>> + Send
    where
        F: Future<Output = ()> + Send,
    {
        (**self).create_backup(table, name, before_page)
    }

    fn list_backups_page(
        &self,
        table: &TableName,
        start: Option<&str>,
    ) -> impl Future<Output = Result<BackupPage, AwsError>> + Send {
        (**self).list_backups_page(table, start)
    }

    fn list_account_backups_page(
        &self,
        start: Option<&str>,
    ) -> impl Future<Output = Result<AccountBackupPage, AwsError>> + Send {
        (**self).list_account_backups_page(start)
    }

    fn delete_backup(&self, arn: &str) -> impl Future<Output = Result<(), AwsError>> + Send {
        (**self).delete_backup(arn)
    }

    fn list_tables(&self) -> impl Future<Output = Result<Vec<TableName>, AwsError>> + Send {
        (**self).list_tables()
    }

    fn table_definition(
        &self,
        table: &str,
    ) -> impl Future<Output = Result<TableDefinition, AwsError>> + Send {
        (**self).table_definition(table)
    }

    fn table_arn(
        &self,
        table: &TableName,
    ) -> impl Future<Output = Result<String, AwsError>> + Send {
        (**self).table_arn(table)
    }

    fn table_tags(
        &self,
        arn: &str,
    ) -> impl Future<Output = Result<Vec<(String, String)>, AwsError>> + Send {
        (**self).table_tags(arn)
    }

    fn recovery_window(
        &self,
        table: &str,
    ) -> impl Future<Output = Result<Option<RecoveryWindow>, AwsError>> + Send {
        (**self).recovery_window(table)
    }

    fn start_export(
        &self,
        request: &ExportRequest,
    ) -> impl Future<Output = Result<ExportStatus, AwsError>> + Send {
        (**self).start_export(request)
    }

    fn describe_export(
        &self,
        arn: &str,
    ) -> impl Future<Output = Result<ExportStatus, AwsError>> + Send {
        (**self).describe_export(arn)
    }
}

/// A shared sink, as [`BackupStore`] for `&T`.
impl<T: RecordSink> RecordSink for &T {
    fn put_record(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
    ) -> impl Future<Output = Result<(), AwsError>> + Send {
        (**self).put_record(bucket, key, body)
    }

    fn read_record(
        &self,
        bucket: &str,
        key: &str,
    ) -> impl Future<Output = Result<Option<Stored>, AwsError>> + Send {
        (**self).read_record(bucket, key)
    }

    fn put_record_if(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        when: WriteIf<'_>,
    ) -> impl Future<Output = Result<bool, AwsError>> + Send {
        (**self).put_record_if(bucket, key, body, when)
    }

    fn delete_record(
        &self,
        bucket: &str,
        key: &str,
    ) -> impl Future<Output = Result<(), AwsError>> + Send {
        (**self).delete_record(bucket, key)
    }
}
