//! The incremental exports a rollback reads: started once (a ClientToken made of the window, so
//! a rollback run again within DynamoDB's 8 hours gets the same export, not a new one), waited
//! for, and read by their manifests, a data file at a time and a piece of it at a time.
//!
//! ExportTableToPointInTime (API reference): `ExportType` INCREMENTAL_EXPORT with an
//! `IncrementalExportSpecification` (ExportFromTime inclusive, ExportToTime exclusive,
//! ExportViewType NEW_AND_OLD_IMAGES); "ClientToken: Providing a ClientToken makes the call to
//! ExportTableToPointInTimeInput idempotent ... valid for 8 hours". Developer guide, "DynamoDB
//! table export output format": `<prefix>/AWSDynamoDB/<ExportId>/manifest-summary.json`
//! (`manifestFilesS3Key`), `manifest-files.json` (JSON Lines, `dataFileS3Key` each), data files
//! gzip'd.

use std::time::Duration;

use aws_sdk_dynamodb::types::{
    ExportFormat, ExportStatus, ExportType, ExportViewType, IncrementalExportSpecification,
};
use backup_lambda::error::{AwsError, AwsResult};
use sha2::Digest as _;
use time::OffsetDateTime;

use super::RollbackError;
use super::changes::{Change, Joined};
use crate::aws::Aws;
use crate::export_files::{self, ExportFilesError, Location};

/// How long an export may take before the rollback gives up waiting (it goes on in DynamoDB;
/// the same command run again picks it up by its ClientToken).
const EXPORT_PATIENCE: Duration = Duration::from_secs(6 * 3600);

/// Where an export of the window is written: `rollbacks/<table>/<from>-<to>` in the bucket.
pub fn prefix(table: &str, from: OffsetDateTime, to: OffsetDateTime) -> String {
    format!("rollbacks/{table}/{}-{}", compact(from), compact(to))
}

/// `20261205T013000Z` (times are whole seconds).
pub fn compact(at: OffsetDateTime) -> String {
    backup_lambda::record::rfc3339(at).replace(['-', ':'], "")
}

/// Starts the incremental export of `[from, to)` (or finds the one a run before started) and
/// returns its ARN.
pub async fn start(
    aws: &Aws,
    table_arn: &str,
    bucket: &str,
    prefix: &str,
    (from, to): (OffsetDateTime, OffsetDateTime),
) -> Result<String, AwsError> {
    let seconds =
        |t: OffsetDateTime| aws_sdk_dynamodb::primitives::DateTime::from_secs(t.unix_timestamp());
    let spec = IncrementalExportSpecification::builder()
        .export_from_time(seconds(from))
        .export_to_time(seconds(to))
        .export_view_type(ExportViewType::NewAndOldImages)
        .build();
    let digest = sha2::Sha256::digest(format!("{table_arn} {bucket} {prefix} {from} {to}"));
    let token: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    let out = aws
        .dynamodb
        .export_table_to_point_in_time()
        .table_arn(table_arn)
        .s3_bucket(bucket)
        .s3_bucket_owner(&aws.account)
        .s3_prefix(prefix)
        .export_format(ExportFormat::DynamodbJson)
        .export_type(ExportType::IncrementalExport)
        .incremental_export_specification(spec)
        .client_token(token)
        .send()
        .await
        .aws("ExportTableToPointInTime", table_arn)?;
    out.export_description()
        .and_then(|d| d.export_arn())
        .map(str::to_owned)
        .ok_or_else(|| AwsError::malformed("ExportTableToPointInTime", table_arn, "no ExportArn"))
}

/// Waits until the export has ended: every 2 s at first, then up to every 30 s.
pub async fn wait(aws: &Aws, arn: &str) -> Result<(), RollbackError> {
    let started = tokio::time::Instant::now();
    let mut pause = Duration::from_secs(2);
    loop {
        let out = aws
            .dynamodb
            .describe_export()
            .export_arn(arn)
            .send()
            .await
            .aws("DescribeExport", arn)?;
        let d = out
            .export_description()
            .ok_or_else(|| AwsError::malformed("DescribeExport", arn, "no ExportDescription"))?;
        match d.export_status() {
            Some(ExportStatus::Completed) => return Ok(()),
            Some(ExportStatus::Failed) => {
                return Err(RollbackError::ExportFailed {
                    export: arn.to_owned(),
                    why: format!(
                        "{}: {}",
                        d.failure_code().unwrap_or("unknown"),
                        d.failure_message().unwrap_or("no message")
                    ),
                });
            }
            _ if started.elapsed() > EXPORT_PATIENCE => {
                return Err(RollbackError::ExportSlow(arn.to_owned()));
            }
            _ => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(30));
            }
        }
    }
}

/// Reads the ended export's changes into `joined`, a data file at a time; how many lines it had.
pub async fn read(
    aws: &Aws,
    arn: &str,
    bucket: &str,
    prefix: &str,
    joined: &mut Joined,
) -> Result<usize, RollbackError> {
    let at = Location {
        bucket,
        owner: Some(&aws.account),
        prefix,
    };
    let manifest = export_files::manifest(aws, &at, arn).await?;
    let unreadable = |why: String| {
        RollbackError::Export(ExportFilesError::Unreadable {
            export: arn.to_owned(),
            why,
        })
    };
    let summary = &manifest.summary;
    if summary["exportType"]
        .as_str()
        .is_some_and(|t| t != "INCREMENTAL_EXPORT")
    {
        return Err(unreadable(
            "its manifest is not an incremental export's".to_owned(),
        ));
    }
    // Without old images every change would read as an item made in the window.
    if summary["outputView"]
        .as_str()
        .is_some_and(|v| v != "NEW_AND_OLD_IMAGES")
    {
        return Err(unreadable(format!(
            "it has no old images (outputView {})",
            summary["outputView"]
        )));
    }
    let mut lines = 0;
    for key in &manifest.data_files {
        lines += export_files::lines(aws, &at, key, |line| {
            let change =
                Change::parse(line).map_err(|e| unreadable(format!("s3://{bucket}/{key}: {e}")))?;
            joined.add(change);
            Ok::<(), RollbackError>(())
        })
        .await?;
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_windows_exports_go_under_its_own_prefix() {
        assert_eq!(
            prefix(
                "Movies",
                datetime!(2026-12-05 01:30 UTC),
                datetime!(2026-12-05 02:00:15 UTC)
            ),
            "rollbacks/Movies/20261205T013000Z-20261205T020015Z"
        );
    }
}
