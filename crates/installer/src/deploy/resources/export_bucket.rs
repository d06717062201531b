//! `--export-bucket`: a bucket the function exports to that the stack does not own (another
//! account's or region's, or one the user keeps). It is never created, changed or deleted; `up`
//! only checks, before anything is written, that it exists, is owned by the account the exports
//! will name (`--export-bucket-owner`, else this one) and this account can reach it (HeadBucket
//! with ExpectedBucketOwner: 404 no such bucket, 403 denied or another owner), so that a typo, a
//! missing bucket policy or a missing `--export-bucket-owner` is a one-line refusal instead of
//! a failed export days later. S3 API reference, ExpectedBucketOwner: "If the account ID that
//! you provide does not match the actual owner of the bucket, the request fails with the HTTP
//! status code 403 Forbidden (access denied)."

use aws_sdk_s3::error::SdkError;

use crate::aws::{Aws, AwsError};
use crate::deploy::plan::{Change, Kind};
use crate::deploy::resources::{NoFields, Resource};

/// The export bucket, as a [`Resource`] that is only checked.
pub struct ExportBucket;

/// The bucket the stack exports to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desired {
    /// Its name.
    pub name: String,
    /// The account that must own it: `--export-bucket-owner`, else the stack's.
    pub owner: String,
}

/// What HeadBucket said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observed {
    /// It exists and this account may list it (here or, answered 301, in another region).
    Reachable,
    /// No bucket has this name.
    Missing,
    /// It exists but denies this account.
    Denied,
}

impl Resource for ExportBucket {
    const KIND: Kind = Kind::ExportBucket;
    type Desired = Desired;
    type Observed = Observed;
    type Field = NoFields;

    fn name(desired: &Desired) -> &str {
        &desired.name
    }

    async fn observe(aws: &Aws, desired: &Desired) -> Result<Observed, AwsError> {
        let name = desired.name.as_str();
        let head = aws
            .s3
            .head_bucket()
            .bucket(name)
            .expected_bucket_owner(&desired.owner)
            .send()
            .await;
        match head {
            Ok(_) => Ok(Observed::Reachable),
            Err(SdkError::ServiceError(e)) => match e.raw().status().as_u16() {
                404 => Ok(Observed::Missing),
                403 => Ok(Observed::Denied),
                301 => Ok(Observed::Reachable),
                _ => Err(AwsError::new(
                    "HeadBucket",
                    name,
                    &SdkError::ServiceError(e),
                )),
            },
            Err(e) => Err(AwsError::new("HeadBucket", name, &e)),
        }
    }

    fn diff(desired: &Desired, observed: &Observed) -> Change<NoFields> {
        let name = &desired.name;
        match observed {
            Observed::Reachable => Change::UseExisting,
            Observed::Missing => Change::Conflict(format!(
                "export bucket {name} does not exist; create it first (any account or region) or fix --export-bucket"
            )),
            Observed::Denied => Change::Conflict(format!(
                "export bucket {name} is not owned by account {owner} or denies this account; pass --export-bucket-owner with the account that owns it, add the bucket policy in docs/exports.md (\"Exports to another bucket\"), or fix --export-bucket",
                owner = desired.owner
            )),
        }
    }

    /// Nothing: the bucket is the user's.
    async fn apply(
        _: &Aws,
        _: &Desired,
        _: &Observed,
        _: &Change<NoFields>,
    ) -> Result<(), AwsError> {
        Ok(())
    }

    /// Nothing: the bucket and the exports in it are the user's to keep.
    async fn delete(_: &Aws, _: &Desired) -> Result<(), AwsError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_reachable_bucket_is_used_and_the_refusals_say_what_to_do() {
        let d = Desired {
            name: "vault".to_owned(),
            owner: "123456789012".to_owned(),
        };
        assert_eq!(
            ExportBucket::diff(&d, &Observed::Reachable),
            Change::UseExisting
        );
        let Change::Conflict(missing) = ExportBucket::diff(&d, &Observed::Missing) else {
            panic!("a missing bucket is refused");
        };
        assert!(missing.contains("vault does not exist"), "{missing}");
        let Change::Conflict(denied) = ExportBucket::diff(&d, &Observed::Denied) else {
            panic!("a denying bucket is refused");
        };
        assert!(denied.contains("bucket policy"), "{denied}");
        assert!(
            denied.contains("not owned by account 123456789012")
                && denied.contains("--export-bucket-owner"),
            "{denied}"
        );
    }
}
