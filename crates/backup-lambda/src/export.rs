//! Exports to S3: a copy of each table, once a day or once a week, that can leave the account
//! and the region and costs S3's prices (lifecycle tiers make it cheap to keep for years), where
//! an on-demand backup cannot and costs DynamoDB's.
//!
//! A run that finds its period (the UTC day, or the ISO week) without an export starts one with
//! ExportTableToPointInTime (DynamoDB JSON, full export) into `<prefix><table>/<period>` of the
//! export bucket, and records it in the log bucket at `runs/<table>/exports/<period>.json`.
//! Later runs check it with DescribeExport until it is COMPLETED or FAILED and record the
//! outcome, its size and duration; a period's export is never started twice by this function:
//! the record says it exists, and the ClientToken (derived from table, period, bucket and
//! prefix) makes a retried start within DynamoDB's 8-hour idempotency window return the same
//! export. An export of the previous period still running when the next period begins is checked
//! *and* the new period's export started in the same run: exports take minutes to hours on AWS,
//! and waiting for the previous one first would skip every other day of a daily schedule. At most
//! two exports per table are in flight, far within DynamoDB's quota of concurrent exports.
//!
//! The table needs point-in-time recovery (PITR) on; `installer up` turns it on for the tables
//! it owns and, with `--enable-pitr`, for others.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use tracing::{info, warn};

use crate::definition::definition_key;
use crate::error::AwsError;
use crate::record;
use crate::store::{BackupStore, RecordSink};

/// How often a table is exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum ExportEvery {
    /// Once per UTC day.
    Daily,
    /// Once per ISO week (Monday to Sunday, UTC).
    Weekly,
}

impl ExportEvery {
    /// `daily` or `weekly`.
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim() {
            "daily" => Some(Self::Daily),
            "weekly" => Some(Self::Weekly),
            _ => None,
        }
    }

    /// `daily` or `weekly`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Daily => "daily",
            Self::Weekly => "weekly",
        }
    }

    /// How long a period lasts.
    pub fn length(self) -> std::time::Duration {
        std::time::Duration::from_secs(match self {
            Self::Daily => 86_400,
            Self::Weekly => 7 * 86_400,
        })
    }

    /// The period `at` falls in: the UTC day `2026-11-30`, or the ISO week `2026-W49`.
    pub fn period(self, at: OffsetDateTime) -> String {
        let at = at.to_offset(time::UtcOffset::UTC);
        match self {
            Self::Daily => record::day_name(at.date()),
            Self::Weekly => {
                let (year, week, _) = at.date().to_iso_week_date();
                format!("{year}-W{week:02}")
            }
        }
    }

    /// The period before the one `at` falls in.
    pub fn previous(self, at: OffsetDateTime) -> String {
        let back = match self {
            Self::Daily => time::Duration::days(1),
            Self::Weekly => time::Duration::weeks(1),
        };
        self.period(at - back)
    }

    /// A period's cadence and first moment (midnight UTC of the day, or of the week's Monday),
    /// from its name as [`ExportEvery::period`] gives it; `None` for any other text.
    pub fn period_start(period: &str) -> Option<(Self, OffsetDateTime)> {
        if let Some((year, week)) = period.split_once("-W") {
            let week: u8 = week.parse().ok().filter(|_| week.len() == 2)?;
            let date =
                time::Date::from_iso_week_date(year.parse().ok()?, week, time::Weekday::Monday)
                    .ok()?;
            return Some((Self::Weekly, date.midnight().assume_utc()));
        }
        let format = time::macros::format_description!("[year]-[month]-[day]");
        let date = time::Date::parse(period, format).ok()?;
        Some((Self::Daily, date.midnight().assume_utc()))
    }
}

/// Full exports each period, or chains of a full export and incremental exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportMode {
    /// A full export each period (`EXPORT_MODE=full`, the default).
    Full,
    /// A chain: a full export every so often and incremental exports covering every moment in
    /// between (`EXPORT_MODE=incremental`, see [`crate::chain`]).
    Incremental(ChainSettings),
}

/// How an incremental chain is made (`EXPORT_FULL_EVERY`, `EXPORT_VIEW`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainSettings {
    /// Days between two full exports: a chain's full export starts a new chain once the
    /// current one is this old.
    pub full_every_days: u32,
    /// What each incremental export holds of a changed item.
    pub view: ExportView,
}

/// The images an incremental export writes of each changed item (`ExportViewType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum ExportView {
    /// The item before the window and after it (`NEW_AND_OLD_IMAGES`): a restore and a rollback
    /// can both use it.
    NewAndOld,
    /// Only the item after the window (`NEW_IMAGE`): smaller, enough for a restore.
    New,
}

impl ExportView {
    /// `new-and-old` or `new`.
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim() {
            "new-and-old" => Some(Self::NewAndOld),
            "new" => Some(Self::New),
            _ => None,
        }
    }

    /// `new-and-old` or `new`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NewAndOld => "new-and-old",
            Self::New => "new",
        }
    }
}

/// Where and how often the function exports (`EXPORT_EVERY`, `EXPORT_BUCKET`,
/// `EXPORT_BUCKET_OWNER`, `EXPORT_BUCKET_REGION`, `EXPORT_PREFIX`, `EXPORT_MODE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportSettings {
    /// How often.
    pub every: ExportEvery,
    /// Full exports each period, or incremental chains.
    pub mode: ExportMode,
    /// The bucket the exports go to.
    pub bucket: String,
    /// The account that owns it, when it is another account's.
    pub bucket_owner: Option<String>,
    /// Its region, when it is in another region than the function: what the function writes
    /// beside the exports (a table's definition, a chain's copy) goes there (S3 answers a
    /// request to another region's bucket 301 PermanentRedirect; DynamoDB's exports need no
    /// region).
    pub bucket_region: Option<String>,
    /// The key prefix, ending in `/`: exports go to `<prefix><table>/<period>/`.
    pub prefix: String,
}

/// Days between two full exports of a chain when `EXPORT_FULL_EVERY` is not set.
pub const DEFAULT_FULL_EVERY_DAYS: u32 = 7;
/// The most days allowed between two full exports: a restore applies every incremental since
/// the last full export, one a run.
pub const MAX_FULL_EVERY_DAYS: u32 = 365;

/// The prefix exports go under when `EXPORT_PREFIX` is not set.
pub const DEFAULT_PREFIX: &str = "exports/";

impl ExportSettings {
    /// The S3 prefix of `table`'s export of `period`: `<prefix><table>/<period>`.
    pub fn s3_prefix(&self, table: &str, period: &str) -> String {
        format!("{}{table}/{period}", self.prefix)
    }

    /// The ClientToken of `table`'s export of `period`: the same for every run of the period,
    /// different for another bucket or prefix (so a changed setting is a new export, not a
    /// conflict: the same token with other parameters within 8 hours is refused, with the
    /// operation's `ExportConflictException`; the ClientToken's own description names
    /// `ImportConflictException`, which ExportTableToPointInTime does not declare).
    pub fn client_token(&self, table: &str, period: &str) -> String {
        let digest = Sha256::digest(
            format!("{table}\n{period}\n{}\n{}", self.bucket, self.prefix).as_bytes(),
        );
        let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
        format!("{period}-{hex}")
    }
}

/// The table's ARN, from the ARN of one of its backups
/// (`arn:<partition>:dynamodb:<region>:<account>:table/<table>/backup/<id>`, service
/// authorization reference for DynamoDB, resource type "backup").
pub fn table_arn_of_backup(backup_arn: &str) -> Option<&str> {
    backup_arn
        .split_once("/backup/")
        .map(|(table, _)| table)
        .filter(|t| t.contains(":table/"))
}

/// Which export ExportTableToPointInTime is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportKind {
    /// The whole table at `at` (`FULL_EXPORT`, `ExportTime`; now when `None`).
    Full {
        /// The moment exported.
        at: Option<OffsetDateTime>,
    },
    /// The items changed in `[from, to)` (`INCREMENTAL_EXPORT`).
    Incremental {
        /// The window's start (inclusive).
        from: OffsetDateTime,
        /// Its end (exclusive).
        to: OffsetDateTime,
        /// The images written.
        view: ExportView,
    },
}

/// What ExportTableToPointInTime is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportRequest {
    /// Full or incremental.
    pub kind: ExportKind,
    /// The table's ARN.
    pub table_arn: String,
    /// The bucket.
    pub bucket: String,
    /// Its owner, if another account.
    pub bucket_owner: Option<String>,
    /// The key prefix.
    pub prefix: String,
    /// The idempotency token.
    pub client_token: String,
}

/// An export's state, as DynamoDB reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum ExportState {
    /// Under way.
    InProgress,
    /// Written to S3.
    Completed,
    /// Failed; `failure` says why.
    Failed,
}

impl std::fmt::Display for ExportState {
    /// DynamoDB's own word for the state (`ExportStatus`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ExportState::InProgress => "IN_PROGRESS",
            ExportState::Completed => "COMPLETED",
            ExportState::Failed => "FAILED",
        })
    }
}

/// An export as DescribeExport (or ExportTableToPointInTime) reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportStatus {
    /// Its ARN.
    pub arn: String,
    /// Its state.
    pub state: ExportState,
    /// When it ended, if it has.
    pub ended: Option<OffsetDateTime>,
    /// Items exported, once known.
    pub item_count: Option<i64>,
    /// Bytes billed, once known.
    pub billed_size_bytes: Option<i64>,
    /// `FailureCode: FailureMessage`, if it failed.
    pub failure: Option<String>,
}

/// One period's export, as recorded at `runs/<table>/exports/<period>.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ExportRecord {
    /// The table exported.
    pub table: String,
    /// The period: `2026-11-30` or `2026-W49`.
    pub period: String,
    /// The export's ARN.
    pub export_arn: String,
    /// The bucket written to.
    pub bucket: String,
    /// The key prefix written under.
    pub prefix: String,
    /// When the export was asked for (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub started_at: OffsetDateTime,
    /// Its state when last seen.
    pub status: ExportState,
    /// When it ended (RFC 3339), once it has.
    #[serde(with = "time::serde::rfc3339::option")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub finished_at: Option<OffsetDateTime>,
    /// Seconds from asking to its end, once it has ended.
    pub duration_seconds: Option<u64>,
    /// Items exported, once known.
    pub item_count: Option<i64>,
    /// Bytes billed, once known.
    pub billed_size_bytes: Option<i64>,
    /// Why it failed, if it did.
    pub failure: Option<String>,
}

impl ExportRecord {
    /// Takes in what DynamoDB now says; `true` if the export ended with this.
    pub(crate) fn update(&mut self, status: &ExportStatus, now: OffsetDateTime) -> bool {
        let ended = self.status == ExportState::InProgress && status.state != self.status;
        self.status = status.state;
        self.item_count = status.item_count.or(self.item_count);
        self.billed_size_bytes = status.billed_size_bytes.or(self.billed_size_bytes);
        self.failure.clone_from(&status.failure);
        if ended || (status.state != ExportState::InProgress && self.finished_at.is_none()) {
            let end = status.ended.unwrap_or(now);
            self.finished_at = Some(end);
            self.duration_seconds =
                Some(u64::try_from((end - self.started_at).whole_seconds()).unwrap_or(0));
        }
        ended
    }
}

/// What one run did about exports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum ExportStep {
    /// An export of this period was started.
    Started {
        /// Its record.
        export: ExportRecord,
    },
    /// An export is still under way.
    Waiting {
        /// Its record.
        export: ExportRecord,
    },
    /// An export ended (COMPLETED or FAILED) and its outcome was recorded.
    Finished {
        /// Its record.
        export: ExportRecord,
    },
    /// This period's export ended before this run; nothing to do.
    Done {
        /// The period.
        period: String,
        /// Its state.
        status: ExportState,
    },
    /// The export could not be started or checked.
    Error {
        /// Why, in one line.
        error: String,
    },
}

impl ExportStep {
    /// Whether this step is a failure to report and alarm on: an export seen to fail, or one
    /// that could not be started or checked.
    pub fn failed(&self) -> bool {
        match self {
            Self::Finished { export } => export.status == ExportState::Failed,
            Self::Error { .. } => true,
            Self::Started { .. } | Self::Waiting { .. } | Self::Done { .. } => false,
        }
    }

    /// Whether this step saw an export complete.
    pub fn completed(&self) -> bool {
        matches!(self, Self::Finished { export } if export.status == ExportState::Completed)
    }
}

/// Why a step could not go on.
fn error_step(e: &AwsError) -> ExportStep {
    ExportStep::Error {
        error: e.to_string(),
    }
}

/// What one run did about a table's exports: the previous period's export, when it was still
/// under way at the run's start, and this period's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportSteps {
    /// The previous period's export, checked because it was still under way (`None` when it
    /// had ended, or never was).
    pub previous: Option<ExportStep>,
    /// This period's export: started, checked, or already done.
    pub current: ExportStep,
}

/// Moves `table`'s exports one step at `now`: checks the previous period's export if it is
/// still under way and records its end, and starts this period's if it has none (or checks it
/// if it is under way). State is read from and written to `log_bucket`; `table_arn` is the
/// table's ARN.
pub async fn advance<S: BackupStore, R: RecordSink>(
    store: &S,
    records: &R,
    log_bucket: &str,
    settings: &ExportSettings,
    table: &str,
    table_arn: &str,
    now: OffsetDateTime,
) -> ExportSteps {
    let read = |period: String| async move {
        let key = record::export_key(table, &period);
        let stored = records.read_record(log_bucket, &key).await?;
        Ok::<_, AwsError>(stored.and_then(|s| serde_json::from_slice::<ExportRecord>(&s.body).ok()))
    };
    let previous = match read(settings.every.previous(now)).await {
        Ok(Some(export)) if export.status == ExportState::InProgress => {
            Some(check(store, records, log_bucket, export, now).await)
        }
        Ok(_) => None,
        Err(e) => Some(error_step(&e)),
    };
    let period = settings.every.period(now);
    let current = match read(period.clone()).await {
        Err(e) => error_step(&e),
        Ok(Some(export)) if export.status == ExportState::InProgress => {
            check(store, records, log_bucket, export, now).await
        }
        Ok(Some(export)) => ExportStep::Done {
            period,
            status: export.status,
        },
        Ok(None) => {
            start(
                store, records, log_bucket, settings, table, table_arn, &period, now,
            )
            .await
        }
    };
    ExportSteps { previous, current }
}

/// Asks DynamoDB about an export under way and records its end.
async fn check<S: BackupStore, R: RecordSink>(
    store: &S,
    records: &R,
    log_bucket: &str,
    mut export: ExportRecord,
    now: OffsetDateTime,
) -> ExportStep {
    let status = match store.describe_export(&export.export_arn).await {
        Ok(status) => status,
        Err(e) => return error_step(&e),
    };
    if !export.update(&status, now) {
        info!(table = %export.table, period = %export.period, export = %export.export_arn, "export still in progress");
        return ExportStep::Waiting { export };
    }
    if let Err(e) = save(records, log_bucket, &export).await {
        return error_step(&e);
    }
    match export.status {
        ExportState::Failed => {
            warn!(table = %export.table, period = %export.period, export = %export.export_arn, failure = export.failure.as_deref().unwrap_or(""), "export failed");
        }
        _ => {
            info!(table = %export.table, period = %export.period, export = %export.export_arn, items = export.item_count, bytes = export.billed_size_bytes, seconds = export.duration_seconds, "export completed");
        }
    }
    ExportStep::Finished { export }
}

/// Starts this period's export and records it.
#[allow(clippy::too_many_arguments)]
async fn start<S: BackupStore, R: RecordSink>(
    store: &S,
    records: &R,
    log_bucket: &str,
    settings: &ExportSettings,
    table: &str,
    table_arn: &str,
    period: &str,
    now: OffsetDateTime,
) -> ExportStep {
    let request = ExportRequest {
        kind: ExportKind::Full { at: None },
        table_arn: table_arn.to_owned(),
        bucket: settings.bucket.clone(),
        bucket_owner: settings.bucket_owner.clone(),
        prefix: settings.s3_prefix(table, period),
        client_token: settings.client_token(table, period),
    };
    info!(table = %table, period = %period, bucket = %request.bucket, prefix = %request.prefix, "starting export");
    let status = match store.start_export(&request).await {
        Ok(status) => status,
        Err(e) => {
            warn!(table = %table, error = %e, "could not start the export");
            return error_step(&e);
        }
    };
    let mut export = ExportRecord {
        table: table.to_owned(),
        period: period.to_owned(),
        export_arn: status.arn.clone(),
        bucket: request.bucket,
        prefix: request.prefix,
        started_at: now,
        status: ExportState::InProgress,
        finished_at: None,
        duration_seconds: None,
        item_count: None,
        billed_size_bytes: None,
        failure: None,
    };
    let ended = export.update(&status, now);
    if let Err(e) = save(records, log_bucket, &export).await {
        // The export runs; a later run of this period starts it again with the same
        // ClientToken, which DynamoDB answers with this same export.
        warn!(table = %table, export = %export.export_arn, error = %e, "started the export but could not record it");
        return error_step(&e);
    }
    info!(table = %table, period = %period, export = %export.export_arn, "export started");
    keep_definition(store, records, &export.bucket, table, &export.prefix).await;
    if ended {
        ExportStep::Finished { export }
    } else {
        ExportStep::Started { export }
    }
}

/// Writes `table`'s definition beside the full export started under `prefix` in `bucket`
/// ([`crate::definition`]), so that the export restores without the table. A definition that
/// cannot be read or written is logged and costs the export nothing: a restore from it then
/// takes the definition from the table, as before.
pub(crate) async fn keep_definition<S: BackupStore, R: RecordSink>(
    store: &S,
    records: &R,
    bucket: &str,
    table: &str,
    prefix: &str,
) {
    let key = definition_key(prefix);
    let written = match store.table_definition(table).await {
        Ok(definition) => {
            let body = serde_json::to_vec_pretty(&definition)
                .expect("a definition is strings and numbers");
            records.put_record(bucket, &key, body).await
        }
        Err(e) => Err(e),
    };
    match written {
        Ok(()) => {
            info!(table = %table, bucket = %bucket, key = %key, "kept the table's definition beside its export");
        }
        Err(e) => {
            warn!(table = %table, bucket = %bucket, key = %key, error = %e, "could not keep the table's definition beside its export; a restore from it will need the table");
        }
    }
}

/// Writes an export's record.
async fn save<R: RecordSink>(
    records: &R,
    log_bucket: &str,
    export: &ExportRecord,
) -> Result<(), AwsError> {
    let key = record::export_key(&export.table, &export.period);
    let body = serde_json::to_vec_pretty(export).expect("an export record is strings and numbers");
    records.put_record(log_bucket, &key, body).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn periods_are_utc_days_or_iso_weeks() {
        let at = datetime!(2026-11-30 00:30 +02:00); // 2026-11-29 22:30 UTC, a Sunday
        assert_eq!(ExportEvery::Daily.period(at), "2026-11-29");
        assert_eq!(ExportEvery::Daily.previous(at), "2026-11-28");
        assert_eq!(ExportEvery::Weekly.period(at), "2026-W48");
        assert_eq!(ExportEvery::Weekly.previous(at), "2026-W47");
        // ISO week 1 of 2027 starts on Monday 2027-01-04; the days before are 2026-W53.
        assert_eq!(
            ExportEvery::Weekly.period(datetime!(2027-01-03 12:00 UTC)),
            "2026-W53"
        );
        assert_eq!(ExportEvery::parse("weekly"), Some(ExportEvery::Weekly));
        assert_eq!(ExportEvery::parse("hourly"), None);
    }

    #[test]
    fn a_period_name_gives_back_its_cadence_and_start() {
        for at in [
            datetime!(2026-11-29 22:30 UTC),
            datetime!(2027-01-03 12:00 UTC),
        ] {
            for every in [ExportEvery::Daily, ExportEvery::Weekly] {
                let (cadence, start) = ExportEvery::period_start(&every.period(at)).unwrap();
                assert_eq!(cadence, every);
                assert!(
                    start <= at && at < start + time::Duration::try_from(every.length()).unwrap()
                );
                assert_eq!(every.period(start), every.period(at));
            }
        }
        assert_eq!(
            ExportEvery::period_start("2026-W53"),
            Some((ExportEvery::Weekly, datetime!(2026-12-28 00:00 UTC)))
        );
        for bad in ["2026-W54", "2026-W5", "2026-13-01", "latest", ""] {
            assert_eq!(ExportEvery::period_start(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_client_token_is_stable_per_period_and_destination() {
        let settings = ExportSettings {
            every: ExportEvery::Daily,
            mode: ExportMode::Full,
            bucket: "b".to_owned(),
            bucket_owner: None,
            bucket_region: None,
            prefix: DEFAULT_PREFIX.to_owned(),
        };
        let token = settings.client_token("Movies", "2026-11-30");
        assert_eq!(token, settings.client_token("Movies", "2026-11-30"));
        assert!(
            token.starts_with("2026-11-30-") && token.len() == 35,
            "{token}"
        );
        assert_ne!(token, settings.client_token("Movies", "2026-12-01"));
        assert_ne!(token, settings.client_token("Other", "2026-11-30"));
        let elsewhere = ExportSettings {
            bucket: "c".to_owned(),
            ..settings.clone()
        };
        assert_ne!(token, elsewhere.client_token("Movies", "2026-11-30"));
        assert_eq!(
            settings.s3_prefix("Movies", "2026-11-30"),
            "exports/Movies/2026-11-30"
        );
    }

    #[test]
    fn the_table_arn_comes_from_a_backup_arn() {
        assert_eq!(
            table_arn_of_backup(
                "arn:aws:dynamodb:us-east-1:123456789012:table/Movies/backup/01700000000000-abcdef"
            ),
            Some("arn:aws:dynamodb:us-east-1:123456789012:table/Movies")
        );
        assert_eq!(table_arn_of_backup("arn:aws:dynamodb:r:a:backup/x"), None);
        assert_eq!(table_arn_of_backup(""), None);
    }
}
