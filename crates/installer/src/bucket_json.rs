//! A JSON object the installer keeps in the stack's bucket between runs (a rollback's or an
//! in-place restore's journal), read and written with `ExpectedBucketOwner`; and the raw read of
//! an object in any account's bucket (a table's definition beside its export in a vault).

use backup_lambda::error::{AwsError, AwsResult};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::aws::Aws;

/// The object at `key`, or `None` when there is none, or no bucket (or it does not parse as a
/// `T`: it is written anew).
pub async fn read<T: DeserializeOwned>(
    aws: &Aws,
    bucket: &str,
    key: &str,
) -> Result<Option<T>, AwsError> {
    Ok(read_raw(aws, bucket, key)
        .await?
        .and_then(|bytes| serde_json::from_slice(&bytes).ok()))
}

/// The bytes of the object at `key`, or `None` when there is none, or no bucket.
pub async fn read_raw(aws: &Aws, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, AwsError> {
    read_raw_owned_by(&aws.s3, bucket, key, Some(&aws.account)).await
}

/// The bytes of the object at `key` in an export bucket, which may be another account's and in
/// another region ([`Aws::s3_for`]), or `None` when there is none, or no bucket.
pub async fn read_raw_anywhere(
    aws: &Aws,
    bucket: &str,
    key: &str,
) -> Result<Option<Vec<u8>>, AwsError> {
    read_raw_owned_by(&aws.s3_for(bucket).await, bucket, key, None).await
}

/// The bytes of the object at `key` in a bucket `owner` owns (any owner when `None`), read
/// with `s3`, or `None` when there is none, or no bucket.
async fn read_raw_owned_by(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    owner: Option<&str>,
) -> Result<Option<Vec<u8>>, AwsError> {
    let out = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .set_expected_bucket_owner(owner.map(str::to_owned))
        .send()
        .await;
    let object = match out.aws("GetObject", format!("s3://{bucket}/{key}")) {
        Ok(object) => object,
        Err(e) if e.is("NoSuchKey") || e.is("NoSuchBucket") => return Ok(None),
        Err(e) => return Err(e),
    };
    let bytes = object
        .body
        .collect()
        .await
        .map_err(|e| AwsError::malformed("GetObject", key, &e.to_string()))?
        .into_bytes();
    Ok(Some(bytes.to_vec()))
}

/// Writes `value` at `key`.
pub async fn write<T: Serialize>(
    aws: &Aws,
    bucket: &str,
    key: &str,
    value: &T,
) -> Result<(), AwsError> {
    let body = serde_json::to_vec(value).expect("a journal is strings, numbers and maps");
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
