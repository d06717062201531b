//! Reading an export to S3 by its manifests, as DynamoDB writes them (developer guide, "DynamoDB
//! table export output format"): `<prefix>/AWSDynamoDB/<ExportId>/manifest-summary.json`, whose
//! `manifestFilesS3Key` names `manifest-files.json` (JSON Lines, a `dataFileS3Key` each), whose
//! data files are gzip'd JSON Lines (`{"Item": ...}` for a full export; `Keys`, `OldImage`,
//! `NewImage` for an incremental one). Each data file is streamed a piece at a time: an export
//! is never held whole. Shared by `rollback` (incremental exports) and `restore --items
//! --from-export` (full ones).

use aws_sdk_s3::operation::get_object::GetObjectOutput;
use backup_lambda::error::{AwsError, AwsResult};
use serde_json::Value;

use crate::aws::Aws;
use crate::data::dynamodb_json::GzipLines;

/// Why an export's files could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ExportFilesError {
    /// They are not what DynamoDB writes.
    #[error("cannot read export {export}: {why}")]
    Unreadable {
        /// The export (or its file).
        export: String,
        /// What is wrong.
        why: String,
    },
    /// S3 could not be read.
    #[error(transparent)]
    Aws(#[from] AwsError),
}

/// Where an export's files are: its bucket, the bucket's owner (sent as ExpectedBucketOwner when
/// known), and the prefix it was written under.
#[derive(Debug, Clone)]
pub struct Location<'a> {
    /// The bucket.
    pub bucket: &'a str,
    /// Its owner's account.
    pub owner: Option<&'a str>,
    /// The export's prefix (may be empty).
    pub prefix: &'a str,
}

/// An export's manifests, read.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// `manifest-summary.json`.
    pub summary: Value,
    /// Its data files' keys, from `manifest-files.json`.
    pub data_files: Vec<String>,
}

/// Where every export under `prefix` writes: `<prefix>/AWSDynamoDB/`, or `AWSDynamoDB/` when the
/// prefix is empty.
pub fn root(prefix: &str) -> String {
    let root = format!("{}/AWSDynamoDB/", prefix.trim_end_matches('/'));
    root.trim_start_matches('/').to_owned()
}

/// The manifests of the export `arn` at `at`.
pub async fn manifest(
    aws: &Aws,
    at: &Location<'_>,
    arn: &str,
) -> Result<Manifest, ExportFilesError> {
    let id = arn.rsplit('/').next().unwrap_or_default();
    let root = format!("{}{id}", root(at.prefix));
    let unreadable = |why: String| ExportFilesError::Unreadable {
        export: arn.to_owned(),
        why,
    };
    let summary_key = format!("{root}/manifest-summary.json");
    let summary: Value = serde_json::from_slice(&object(aws, at, &summary_key).await?)
        .map_err(|e| unreadable(format!("s3://{}/{summary_key}: {e}", at.bucket)))?;
    let files_key = summary["manifestFilesS3Key"]
        .as_str()
        .map_or_else(|| format!("{root}/manifest-files.json"), str::to_owned);
    let files = object(aws, at, &files_key).await?;
    let files = String::from_utf8(files)
        .map_err(|_| unreadable(format!("s3://{}/{files_key} is not UTF-8", at.bucket)))?;
    let mut data_files = Vec::new();
    for entry in files.lines().filter(|l| !l.trim().is_empty()) {
        let entry: Value = serde_json::from_str(entry)
            .map_err(|e| unreadable(format!("s3://{}/{files_key}: {e}", at.bucket)))?;
        let key = entry["dataFileS3Key"].as_str().ok_or_else(|| {
            unreadable(format!(
                "s3://{}/{files_key}: an entry has no dataFileS3Key",
                at.bucket
            ))
        })?;
        data_files.push(key.to_owned());
    }
    Ok(Manifest {
        summary,
        data_files,
    })
}

/// Streams the data file `key` through `each` line, a piece at a time; how many lines.
pub async fn lines<E: From<ExportFilesError>>(
    aws: &Aws,
    at: &Location<'_>,
    key: &str,
    mut each: impl FnMut(&str) -> Result<(), E>,
) -> Result<usize, E> {
    let out = match get(aws, at, key).await {
        Ok(out) => out,
        Err(e) if e.is("InvalidObjectState") => {
            return Err(E::from(ExportFilesError::Unreadable {
                export: format!("s3://{}/{key}", at.bucket),
                why: "it is in an archive storage class (S3 Glacier Flexible Retrieval or Deep Archive): restore the whole table with --to ... --thaw, or restore the objects first".to_owned(),
            }));
        }
        Err(e) => return Err(E::from(ExportFilesError::from(e))),
    };
    let mut body = out.body;
    let mut lines = GzipLines::default();
    let mut count = 0;
    let bad = |e: std::io::Error| {
        E::from(ExportFilesError::Unreadable {
            export: format!("s3://{}/{key}", at.bucket),
            why: format!("not gzip'd JSON Lines in UTF-8: {e}"),
        })
    };
    while let Some(piece) = body.try_next().await.map_err(|e| {
        ExportFilesError::from(AwsError::malformed("GetObject", key, &e.to_string()))
    })? {
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

/// A small object's bytes (a manifest).
async fn object(aws: &Aws, at: &Location<'_>, key: &str) -> Result<Vec<u8>, AwsError> {
    let out = get(aws, at, key).await?;
    Ok(out
        .body
        .collect()
        .await
        .map_err(|e| AwsError::malformed("GetObject", key, &e.to_string()))?
        .into_bytes()
        .to_vec())
}

/// GetObject of an export's file. The manifests' keys are full keys (the layout AWS documents
/// writes `<prefix>/AWSDynamoDB/...`, and its example with no prefix starts at `AWSDynamoDB/`);
/// a key not found is tried once more under the prefix, in case one is relative.
async fn get(aws: &Aws, at: &Location<'_>, key: &str) -> Result<GetObjectOutput, AwsError> {
    let s3 = aws.s3_for(at.bucket).await;
    let ask = |key: String| {
        s3.get_object()
            .bucket(at.bucket)
            .key(key)
            .set_expected_bucket_owner(at.owner.map(str::to_owned))
            .send()
    };
    let location = |key: &str| format!("s3://{}/{key}", at.bucket);
    match ask(key.to_owned()).await.aws("GetObject", location(key)) {
        Err(e) if e.is("NoSuchKey") && !at.prefix.is_empty() && !key.starts_with(at.prefix) => {
            let under = format!("{}/{key}", at.prefix.trim_end_matches('/'));
            ask(under.clone()).await.aws("GetObject", location(&under))
        }
        other => other,
    }
}
