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
use crate::data::dynamodb_json::GzipLines;

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
    let id = arn.rsplit('/').next().unwrap_or_default();
    let root = format!("{}/AWSDynamoDB/{id}", prefix.trim_end_matches('/'));
    let root = root.trim_start_matches('/');
    let unreadable = |why: String| RollbackError::ExportUnreadable {
        export: arn.to_owned(),
        why,
    };
    let summary_key = format!("{root}/manifest-summary.json");
    let summary: serde_json::Value =
        serde_json::from_slice(&object(aws, bucket, &summary_key, None).await?)
            .map_err(|e| unreadable(format!("s3://{bucket}/{summary_key}: {e}")))?;
    if summary["exportType"]
        .as_str()
        .is_some_and(|t| t != "INCREMENTAL_EXPORT")
    {
        return Err(unreadable(format!(
            "s3://{bucket}/{summary_key} is not an incremental export's"
        )));
    }
    let files_key = summary["manifestFilesS3Key"]
        .as_str()
        .map_or_else(|| format!("{root}/manifest-files.json"), str::to_owned);
    let files = object(aws, bucket, &files_key, Some(prefix)).await?;
    let mut lines = 0;
    for entry in String::from_utf8_lossy(&files)
        .lines()
        .filter(|l| !l.trim().is_empty())
    {
        let entry: serde_json::Value = serde_json::from_str(entry)
            .map_err(|e| unreadable(format!("s3://{bucket}/{files_key}: {e}")))?;
        let Some(data_key) = entry["dataFileS3Key"].as_str() else {
            return Err(unreadable(format!(
                "s3://{bucket}/{files_key}: an entry has no dataFileS3Key"
            )));
        };
        lines += stream(aws, bucket, data_key, prefix, |line| {
            let change = Change::parse(line)
                .map_err(|e| unreadable(format!("s3://{bucket}/{data_key}: {e}")))?;
            joined.add(change);
            Ok(())
        })
        .await?;
    }
    Ok(lines)
}

/// A small object's bytes (a manifest).
async fn object(
    aws: &Aws,
    bucket: &str,
    key: &str,
    prefix: Option<&str>,
) -> Result<Vec<u8>, AwsError> {
    let out = get(aws, bucket, key, prefix).await?;
    Ok(out
        .body
        .collect()
        .await
        .map_err(|e| AwsError::malformed("GetObject", key, &e.to_string()))?
        .into_bytes()
        .to_vec())
}

/// GetObject of the stack's own bucket. The manifests' keys are full keys (the layout AWS
/// documents writes `<prefix>/AWSDynamoDB/...`, and its example with no prefix starts at
/// `AWSDynamoDB/`); a key not found is tried once more under `prefix`, in case one is relative.
async fn get(
    aws: &Aws,
    bucket: &str,
    key: &str,
    prefix: Option<&str>,
) -> Result<aws_sdk_s3::operation::get_object::GetObjectOutput, AwsError> {
    let ask = |key: String| {
        aws.s3
            .get_object()
            .bucket(bucket)
            .key(key)
            .expected_bucket_owner(&aws.account)
            .send()
    };
    match ask(key.to_owned())
        .await
        .aws("GetObject", format!("s3://{bucket}/{key}"))
    {
        Err(e) if e.is("NoSuchKey") => {
            match prefix.filter(|p| !p.is_empty() && !key.starts_with(*p)) {
                Some(prefix) => {
                    let under = format!("{}/{key}", prefix.trim_end_matches('/'));
                    ask(under.clone())
                        .await
                        .aws("GetObject", format!("s3://{bucket}/{under}"))
                }
                None => Err(e),
            }
        }
        other => other,
    }
}

/// Streams a gzip'd JSON Lines object through `each` line, a piece at a time; how many lines.
async fn stream(
    aws: &Aws,
    bucket: &str,
    key: &str,
    prefix: &str,
    mut each: impl FnMut(&str) -> Result<(), RollbackError>,
) -> Result<usize, RollbackError> {
    let out = get(aws, bucket, key, Some(prefix)).await?;
    let mut body = out.body;
    let mut lines = GzipLines::default();
    let mut count = 0;
    let bad = |e: std::io::Error| RollbackError::ExportUnreadable {
        export: format!("s3://{bucket}/{key}"),
        why: format!("not gzip'd JSON Lines: {e}"),
    };
    while let Some(piece) = body
        .try_next()
        .await
        .map_err(|e| AwsError::malformed("GetObject", key, &e.to_string()))?
    {
        for line in lines.feed(&piece).map_err(bad)? {
            each(&line)?;
            count += 1;
        }
    }
    for line in lines.finish().map_err(bad)? {
        each(&line)?;
        count += 1;
    }
    Ok(count)
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
