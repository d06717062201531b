//! The S3 bucket for run records: private (all four public-access blocks, bucket-owner-enforced
//! ownership), encrypted by default, TLS-only by policy, and expiring `runs/` after a set time;
//! with exports into it, moving `exports/` to a colder storage class and expiring it later.

use aws_sdk_s3::error::{BuildError, SdkError};
use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, BucketLocationConstraint,
    CreateBucketConfiguration, Delete, ExpirationStatus, LifecycleExpiration, LifecycleRule,
    LifecycleRuleFilter, ObjectIdentifier, ObjectOwnership, OwnershipControls,
    OwnershipControlsRule, PublicAccessBlockConfiguration, ServerSideEncryption,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    Tag, Tagging, Transition, TransitionStorageClass,
};
use backup_lambda::record::CHAINS_PREFIX;
use backup_lambda::record::PREFIX as RECORDS_PREFIX;
use serde_json::Value;

use crate::aws::{Aws, AwsError, AwsResult};
use crate::deploy::exports::{ColdClass, EXPORT_PREFIX, Tiers};
use crate::deploy::plan::{Change, Kind, compare};
use crate::deploy::resources::{Resource, Tags, absent_if, is_ours};

/// The bucket, as a [`Resource`].
pub struct Bucket;

fields! {
    /// The stack's tags (only on the stack's own half-made bucket).
    Tags => "tags",
    /// All four public-access blocks.
    PublicAccessBlock => "public access block",
    /// Default encryption.
    Encryption => "encryption",
    /// The policy denying requests without TLS.
    TlsOnlyPolicy => "TLS-only policy",
    /// Bucket-owner-enforced object ownership.
    Ownership => "ownership",
    /// The rules expiring run records and tiering exports.
    Lifecycle => "lifecycle",
}

impl Resource for Bucket {
    const KIND: Kind = Kind::Bucket;
    type Desired = Desired;
    type Observed = Found;
    type Field = Field;

    fn name(desired: &Desired) -> &str {
        &desired.name
    }

    /// Reads the bucket and each of its settings.
    async fn observe(aws: &Aws, desired: &Desired) -> Result<Found, AwsError> {
        let name = desired.name.as_str();
        match aws.s3.head_bucket().bucket(name).send().await {
            Ok(_) => {}
            Err(SdkError::ServiceError(e)) if e.raw().status().as_u16() == 404 => {
                return Ok(Found::Absent);
            }
            // 403: another account's (or it denies us); 301: in another region. Neither can be
            // this stack's bucket, whose name (by default) carries the account and region.
            Err(SdkError::ServiceError(e)) if matches!(e.raw().status().as_u16(), 301 | 403) => {
                return Ok(Found::Foreign);
            }
            Err(e) => return Err(AwsError::new("HeadBucket", name, &e)),
        }
        // The six settings are independent reads: make them at once.
        let s3 = &aws.s3;
        let (tags, private, encrypted, policy, owner_enforced, lifecycle) = futures::try_join!(
            read_tags(s3, name),
            read_private(s3, name),
            read_encrypted(s3, name),
            read_policy(s3, name),
            read_owner_enforced(s3, name),
            read_lifecycle(s3, name),
        )?;
        // Whether it is empty matters only for an untagged bucket (see `diff`).
        let empty = if tags.is_empty() {
            Some(read_empty(s3, name).await?)
        } else {
            None
        };
        Ok(Found::Here(Observed {
            tags,
            private,
            encrypted,
            policy,
            owner_enforced,
            expire_days: lifecycle.records,
            exports: lifecycle.exports,
            chain_records_days: lifecycle.chains,
            empty,
        }))
    }

    /// What `up` does to the bucket.
    fn diff(desired: &Desired, found: &Found) -> Change<Field> {
        match found {
            Found::Absent => Change::Create,
            Found::Foreign => Change::Conflict(format!(
                "bucket name {} is taken by another account or region; choose another with --bucket",
                desired.name
            )),
            // CreateBucket cannot tag (portably), so an `up` stopped between CreateBucket and
            // PutBucketTagging leaves the stack's own default name untagged and empty: that one is
            // finished, not refused. A named (--bucket) or non-empty untagged bucket is never taken.
            Found::Here(o)
                if o.tags.is_empty() && desired.default_name && o.empty == Some(true) =>
            {
                settings_diff(desired, o, true)
            }
            Found::Here(o) if !is_ours(&o.tags, &desired.tags) => Change::Conflict(format!(
                "bucket {} exists and is not this stack's; choose another with --bucket",
                desired.name
            )),
            Found::Here(o) => settings_diff(desired, o, false),
        }
    }

    /// Creates the bucket and sets what `change` says differs (everything, for a new bucket, but
    /// the tags that CreateBucket's follow-up already set).
    async fn apply(
        aws: &Aws,
        desired: &Desired,
        _: &Found,
        change: &Change<Field>,
    ) -> Result<(), AwsError> {
        let fields: Vec<Field> = match change {
            Change::Create => {
                create(aws, desired).await?;
                let mut all = vec![
                    Field::PublicAccessBlock,
                    Field::Encryption,
                    Field::Ownership,
                    Field::Lifecycle,
                ];
                if desired.policy.is_some() {
                    all.insert(2, Field::TlsOnlyPolicy);
                }
                all
            }
            Change::Update(fields) => fields.clone(),
            Change::Unchanged | Change::UseExisting | Change::Conflict(_) | Change::Delete => {
                Vec::new()
            }
        };
        for field in fields {
            set(aws, desired, field).await?;
        }
        Ok(())
    }

    /// Empties the bucket (every object version and delete marker) and deletes it.
    async fn delete(aws: &Aws, desired: &Desired) -> Result<(), AwsError> {
        let name = desired.name.as_str();
        loop {
            let page = aws.s3.list_object_versions().bucket(name).send().await;
            let Some(page) = absent_if(page.aws("ListObjectVersions", name), &["NoSuchBucket"])?
            else {
                return Ok(());
            };
            let versions = page.versions().iter().map(|v| (v.key(), v.version_id()));
            let markers = page
                .delete_markers()
                .iter()
                .map(|m| (m.key(), m.version_id()));
            let objects = versions
                .chain(markers)
                .filter_map(|(key, version)| {
                    ObjectIdentifier::builder()
                        .key(key?)
                        .set_version_id(version.map(str::to_owned))
                        .build()
                        .ok()
                })
                .collect::<Vec<_>>();
            if objects.is_empty() {
                break;
            }
            delete_objects(aws, name, objects).await?;
        }
        let deleted = aws.s3.delete_bucket().bucket(name).send().await;
        absent_if(deleted.aws("DeleteBucket", name), &["NoSuchBucket"]).map(drop)
    }
}

/// The lifecycle rule's id.
const LIFECYCLE_RULE: &str = "expire-run-records";
/// The id of the lifecycle rule on incremental chains' records.
const CHAINS_RULE: &str = "expire-chain-records";
/// The id of the lifecycle rule on exports.
const EXPORTS_RULE: &str = "tier-exports";
/// Days after which an export's multipart upload that never finished is aborted (its parts
/// are billed until then).
const ABORT_UPLOADS_DAYS: i32 = 7;
/// The bucket as the stack wants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desired {
    /// The bucket's name.
    pub name: String,
    /// Its TLS-only policy; `None` where the endpoint is plain HTTP (a local emulator), since
    /// the policy would deny every request there.
    pub policy: Option<Value>,
    /// Days before a run record expires.
    pub expire_days: i32,
    /// The tiers of exports in this bucket, when the function exports into it.
    pub exports: Option<Tiers>,
    /// Days before an incremental chain's record (`chains/`) expires, when the chains' exports
    /// are in this bucket: as long as their exports are kept, and a chain's length more.
    pub chain_records_days: Option<i32>,
    /// The stack's tags.
    pub tags: Tags,
    /// The name is the stack's own default (`<stack>-logs-<account>-<region>`), not `--bucket`.
    pub default_name: bool,
}

/// The bucket as it exists, when it is in this account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// Its tags.
    pub tags: Tags,
    /// All four public-access blocks are on.
    pub private: bool,
    /// Default encryption is set.
    pub encrypted: bool,
    /// Its policy, if any.
    pub policy: Option<Value>,
    /// Object ownership is `BucketOwnerEnforced`.
    pub owner_enforced: bool,
    /// Days after which `runs/` expires, if our lifecycle rule is there and enabled.
    pub expire_days: Option<i32>,
    /// The tiers of `exports/`, if our rule for them is there and enabled.
    pub exports: Option<Tiers>,
    /// Days after which `chains/` expires, if our rule for it is there and enabled.
    pub chain_records_days: Option<i32>,
    /// Whether it holds no object version at all (read only for an untagged bucket).
    pub empty: Option<bool>,
}

/// Whether the bucket name is free, ours to read, or someone else's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// No bucket has this name.
    Absent,
    /// Another account owns it, it denies us, or it is in another region: it cannot be used.
    Foreign,
    /// It is in this account.
    Here(Observed),
}

/// The bucket's tags (none set reads as none).
async fn read_tags(s3: &aws_sdk_s3::Client, name: &str) -> Result<Tags, AwsError> {
    let out = s3.get_bucket_tagging().bucket(name).send().await;
    let tagging = absent_if(out.aws("GetBucketTagging", name), &["NoSuchTagSet"])?;
    Ok(tagging
        .map(|out| {
            out.tag_set()
                .iter()
                .map(|t| (t.key().to_owned(), t.value().to_owned()))
                .collect()
        })
        .unwrap_or_default())
}

/// Whether all four public-access blocks are on.
async fn read_private(s3: &aws_sdk_s3::Client, name: &str) -> Result<bool, AwsError> {
    let out = s3.get_public_access_block().bucket(name).send().await;
    let block = absent_if(
        out.aws("GetPublicAccessBlock", name),
        &["NoSuchPublicAccessBlockConfiguration"],
    )?;
    Ok(block
        .and_then(|out| out.public_access_block_configuration)
        .is_some_and(|c| {
            [
                c.block_public_acls,
                c.ignore_public_acls,
                c.block_public_policy,
                c.restrict_public_buckets,
            ]
            .iter()
            .all(|b| *b == Some(true))
        }))
}

/// Whether default encryption is set.
async fn read_encrypted(s3: &aws_sdk_s3::Client, name: &str) -> Result<bool, AwsError> {
    let out = s3.get_bucket_encryption().bucket(name).send().await;
    let encryption = absent_if(
        out.aws("GetBucketEncryption", name),
        &["ServerSideEncryptionConfigurationNotFoundError"],
    )?;
    Ok(encryption
        .and_then(|out| out.server_side_encryption_configuration)
        .is_some_and(|c| {
            c.rules()
                .iter()
                .any(|r| r.apply_server_side_encryption_by_default().is_some())
        }))
}

/// The bucket's policy, decoded, if it has one.
async fn read_policy(s3: &aws_sdk_s3::Client, name: &str) -> Result<Option<Value>, AwsError> {
    let out = s3.get_bucket_policy().bucket(name).send().await;
    let policy = absent_if(out.aws("GetBucketPolicy", name), &["NoSuchBucketPolicy"])?;
    Ok(policy
        .and_then(|out| out.policy)
        .and_then(|p| serde_json::from_str(&p).ok()))
}

/// Whether object ownership is `BucketOwnerEnforced`.
async fn read_owner_enforced(s3: &aws_sdk_s3::Client, name: &str) -> Result<bool, AwsError> {
    let out = s3.get_bucket_ownership_controls().bucket(name).send().await;
    let ownership = absent_if(
        out.aws("GetBucketOwnershipControls", name),
        &["OwnershipControlsNotFoundError"],
    )?;
    Ok(ownership
        .and_then(|out| out.ownership_controls)
        .is_some_and(|c| {
            c.rules()
                .iter()
                .any(|r| *r.object_ownership() == ObjectOwnership::BucketOwnerEnforced)
        }))
}

/// The stack's lifecycle rules, as found (each where there and enabled).
#[derive(Debug, Default)]
struct Lifecycle {
    /// Days after which run records expire.
    records: Option<i32>,
    /// The tiers of exports.
    exports: Option<Tiers>,
    /// Days after which chain records expire.
    chains: Option<i32>,
}

/// The stack's lifecycle rules, where there and enabled.
async fn read_lifecycle(s3: &aws_sdk_s3::Client, name: &str) -> Result<Lifecycle, AwsError> {
    let out = s3
        .get_bucket_lifecycle_configuration()
        .bucket(name)
        .send()
        .await;
    let lifecycle = absent_if(
        out.aws("GetBucketLifecycleConfiguration", name),
        &["NoSuchLifecycleConfiguration"],
    )?;
    let Some(lifecycle) = lifecycle else {
        return Ok(Lifecycle::default());
    };
    let rule = |id: &str, prefix: &str| {
        lifecycle.rules().iter().find(|r| {
            r.id() == Some(id)
                && *r.status() == ExpirationStatus::Enabled
                && r.filter().and_then(|f| f.prefix()) == Some(prefix)
        })
    };
    let records = rule(LIFECYCLE_RULE, RECORDS_PREFIX).and_then(|r| r.expiration()?.days());
    let chains = rule(CHAINS_RULE, CHAINS_PREFIX).and_then(|r| r.expiration()?.days());
    let exports = rule(EXPORTS_RULE, EXPORT_PREFIX).and_then(|r| {
        let [transition] = r.transitions() else {
            return None;
        };
        let aborts = r
            .abort_incomplete_multipart_upload()
            .and_then(|a| a.days_after_initiation())
            == Some(ABORT_UPLOADS_DAYS);
        aborts.then_some(())?;
        Some(Tiers {
            cold_days: u32::try_from(transition.days()?).ok()?,
            cold_class: ColdClass::from_api_name(transition.storage_class()?.as_str())?,
            expire_days: u32::try_from(r.expiration()?.days()?).ok()?,
        })
    });
    Ok(Lifecycle {
        records,
        exports,
        chains,
    })
}

/// Whether the bucket holds no object version and no delete marker.
async fn read_empty(s3: &aws_sdk_s3::Client, name: &str) -> Result<bool, AwsError> {
    let listed = s3
        .list_object_versions()
        .bucket(name)
        .max_keys(1)
        .send()
        .await
        .aws("ListObjectVersions", name)?;
    Ok(listed.versions().is_empty() && listed.delete_markers().is_empty())
}

/// What differs between the bucket as found and as wanted (`untagged`: it also needs the tags).
fn settings_diff(desired: &Desired, o: &Observed, untagged: bool) -> Change<Field> {
    compare(&[
        (Field::Tags, untagged),
        (Field::PublicAccessBlock, !o.private),
        (Field::Encryption, !o.encrypted),
        (
            Field::TlsOnlyPolicy,
            desired.policy.is_some() && o.policy != desired.policy,
        ),
        (Field::Ownership, !o.owner_enforced),
        (
            Field::Lifecycle,
            o.expire_days != Some(desired.expire_days)
                || o.exports != desired.exports
                || o.chain_records_days != desired.chain_records_days,
        ),
    ])
}

/// Sets one field of the bucket as desired.
async fn set(aws: &Aws, desired: &Desired, field: Field) -> Result<(), AwsError> {
    match field {
        Field::Tags => tag(aws, desired).await,
        Field::PublicAccessBlock => block_public_access(aws, &desired.name).await,
        Field::Encryption => encrypt(aws, &desired.name).await,
        Field::TlsOnlyPolicy => put_policy(aws, desired).await,
        Field::Ownership => enforce_ownership(aws, &desired.name).await,
        Field::Lifecycle => put_lifecycle(aws, desired).await,
    }
}

/// A request that could not be built, as an error of `operation` on `bucket`.
fn malformed(operation: &'static str, bucket: &str) -> impl Fn(BuildError) -> AwsError {
    move |e| AwsError::malformed(operation, bucket, &e.to_string())
}

/// Turns on all four public-access blocks.
async fn block_public_access(aws: &Aws, name: &str) -> Result<(), AwsError> {
    aws.s3
        .put_public_access_block()
        .bucket(name)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(true)
                .block_public_policy(true)
                .restrict_public_buckets(true)
                .build(),
        )
        .send()
        .await
        .map(drop)
        .aws("PutPublicAccessBlock", name)
}

/// Sets default encryption (SSE-S3).
async fn encrypt(aws: &Aws, name: &str) -> Result<(), AwsError> {
    const OP: &str = "PutBucketEncryption";
    let by_default = ServerSideEncryptionByDefault::builder()
        .sse_algorithm(ServerSideEncryption::Aes256)
        .build()
        .map_err(malformed(OP, name))?;
    let config = ServerSideEncryptionConfiguration::builder()
        .rules(
            ServerSideEncryptionRule::builder()
                .apply_server_side_encryption_by_default(by_default)
                .build(),
        )
        .build()
        .map_err(malformed(OP, name))?;
    aws.s3
        .put_bucket_encryption()
        .bucket(name)
        .server_side_encryption_configuration(config)
        .send()
        .await
        .map(drop)
        .aws(OP, name)
}

/// Puts the TLS-only policy.
async fn put_policy(aws: &Aws, desired: &Desired) -> Result<(), AwsError> {
    let name = desired.name.as_str();
    let policy = desired
        .policy
        .as_ref()
        .map(Value::to_string)
        .unwrap_or_default();
    aws.s3
        .put_bucket_policy()
        .bucket(name)
        .policy(policy)
        .send()
        .await
        .map(drop)
        .aws("PutBucketPolicy", name)
}

/// Enforces bucket-owner object ownership (no ACLs).
async fn enforce_ownership(aws: &Aws, name: &str) -> Result<(), AwsError> {
    const OP: &str = "PutBucketOwnershipControls";
    let rule = OwnershipControlsRule::builder()
        .object_ownership(ObjectOwnership::BucketOwnerEnforced)
        .build()
        .map_err(malformed(OP, name))?;
    let controls = OwnershipControls::builder()
        .rules(rule)
        .build()
        .map_err(malformed(OP, name))?;
    aws.s3
        .put_bucket_ownership_controls()
        .bucket(name)
        .ownership_controls(controls)
        .send()
        .await
        .map(drop)
        .aws(OP, name)
}

/// Puts the lifecycle rules: run records expire after the desired days; exports, if any, move
/// to the cold class and expire as their tiers say, and their unfinished uploads are aborted.
async fn put_lifecycle(aws: &Aws, desired: &Desired) -> Result<(), AwsError> {
    const OP: &str = "PutBucketLifecycleConfiguration";
    let name = desired.name.as_str();
    let rule = LifecycleRule::builder()
        .id(LIFECYCLE_RULE)
        .status(ExpirationStatus::Enabled)
        .filter(
            LifecycleRuleFilter::builder()
                .prefix(RECORDS_PREFIX)
                .build(),
        )
        .expiration(
            LifecycleExpiration::builder()
                .days(desired.expire_days)
                .build(),
        )
        .build()
        .map_err(malformed(OP, name))?;
    let mut config = BucketLifecycleConfiguration::builder().rules(rule);
    if let Some(days) = desired.chain_records_days {
        let chains = LifecycleRule::builder()
            .id(CHAINS_RULE)
            .status(ExpirationStatus::Enabled)
            .filter(LifecycleRuleFilter::builder().prefix(CHAINS_PREFIX).build())
            .expiration(LifecycleExpiration::builder().days(days).build())
            .build()
            .map_err(malformed(OP, name))?;
        config = config.rules(chains);
    }
    if let Some(tiers) = desired.exports {
        let days = |d: u32| i32::try_from(d).unwrap_or(i32::MAX);
        let exports = LifecycleRule::builder()
            .id(EXPORTS_RULE)
            .status(ExpirationStatus::Enabled)
            .filter(LifecycleRuleFilter::builder().prefix(EXPORT_PREFIX).build())
            .transitions(
                Transition::builder()
                    .days(days(tiers.cold_days))
                    .storage_class(TransitionStorageClass::from(tiers.cold_class.api_name()))
                    .build(),
            )
            .expiration(
                LifecycleExpiration::builder()
                    .days(days(tiers.expire_days))
                    .build(),
            )
            .abort_incomplete_multipart_upload(
                AbortIncompleteMultipartUpload::builder()
                    .days_after_initiation(ABORT_UPLOADS_DAYS)
                    .build(),
            )
            .build()
            .map_err(malformed(OP, name))?;
        config = config.rules(exports);
    }
    let config = config.build().map_err(malformed(OP, name))?;
    aws.s3
        .put_bucket_lifecycle_configuration()
        .bucket(name)
        .lifecycle_configuration(config)
        .send()
        .await
        .map(drop)
        .aws(OP, name)
}

/// Creates the bucket in this region, tagged, with owner-enforced ownership.
async fn create(aws: &Aws, desired: &Desired) -> Result<(), AwsError> {
    let name = desired.name.as_str();
    let mut request = aws
        .s3
        .create_bucket()
        .bucket(name)
        .object_ownership(ObjectOwnership::BucketOwnerEnforced);
    // us-east-1 is the default location and must not be named; every other region must be.
    if aws.region != "us-east-1" {
        request = request.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(aws.region.as_str()))
                .build(),
        );
    }
    match request.send().await {
        Ok(_) => {}
        // Made by an earlier, interrupted run: carry on configuring it.
        Err(e) if AwsError::new("CreateBucket", name, &e).is("BucketAlreadyOwnedByYou") => {}
        Err(e) => return Err(AwsError::new("CreateBucket", name, &e)),
    }
    tag(aws, desired).await
}

/// Puts the stack's tags on the bucket.
async fn tag(aws: &Aws, desired: &Desired) -> Result<(), AwsError> {
    let name = desired.name.as_str();
    let tags = desired
        .tags
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| AwsError::malformed("PutBucketTagging", name, &e.to_string()))?;
    let tagging = Tagging::builder()
        .set_tag_set(Some(tags))
        .build()
        .map_err(|e| AwsError::malformed("PutBucketTagging", name, &e.to_string()))?;
    aws.s3
        .put_bucket_tagging()
        .bucket(name)
        .tagging(tagging)
        .send()
        .await
        .map(drop)
        .aws("PutBucketTagging", name)
}

/// Deletes one page of object versions; any the bucket refuses fail the whole.
async fn delete_objects(
    aws: &Aws,
    name: &str,
    objects: Vec<ObjectIdentifier>,
) -> Result<(), AwsError> {
    let batch = Delete::builder()
        .set_objects(Some(objects))
        .quiet(true)
        .build()
        .map_err(malformed("DeleteObjects", name))?;
    let out = aws
        .s3
        .delete_objects()
        .bucket(name)
        .delete(batch)
        .send()
        .await
        .aws("DeleteObjects", name)?;
    match out.errors().first() {
        Some(failed) => {
            let detail = format!(
                "{} object(s) not deleted, e.g. {}: {}",
                out.errors().len(),
                failed.key().unwrap_or("?"),
                failed.message().unwrap_or("no reason given")
            );
            Err(AwsError::malformed("DeleteObjects", name, &detail))
        }
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn desired() -> Desired {
        Desired {
            name: "logs".into(),
            policy: Some(json!({"Statement": []})),
            expire_days: 90,
            exports: None,
            chain_records_days: None,
            tags: Tags::from([("stack".into(), "s".into())]),
            default_name: false,
        }
    }

    fn configured(d: &Desired) -> Observed {
        Observed {
            tags: d.tags.clone(),
            private: true,
            encrypted: true,
            policy: d.policy.clone(),
            owner_enforced: true,
            expire_days: Some(d.expire_days),
            exports: d.exports,
            chain_records_days: d.chain_records_days,
            empty: None,
        }
    }

    #[test]
    fn a_configured_bucket_needs_nothing_and_each_gap_is_named() {
        let d = desired();
        assert_eq!(
            Bucket::diff(&d, &Found::Here(configured(&d))),
            Change::Unchanged
        );
        let gaps = Observed {
            private: false,
            expire_days: Some(30),
            ..configured(&d)
        };
        assert_eq!(
            Bucket::diff(&d, &Found::Here(gaps)),
            Change::Update(vec![Field::PublicAccessBlock, Field::Lifecycle])
        );
    }

    #[test]
    fn export_tiers_are_part_of_the_lifecycle() {
        let tiers = Tiers {
            cold_days: 30,
            cold_class: ColdClass::GlacierIr,
            expire_days: 365,
        };
        let d = Desired {
            exports: Some(tiers),
            ..desired()
        };
        let before = configured(&desired());
        assert_eq!(
            Bucket::diff(&d, &Found::Here(before)),
            Change::Update(vec![Field::Lifecycle])
        );
        assert_eq!(
            Bucket::diff(&d, &Found::Here(configured(&d))),
            Change::Unchanged
        );
        let colder = Observed {
            exports: Some(Tiers {
                cold_class: ColdClass::DeepArchive,
                ..tiers
            }),
            ..configured(&d)
        };
        assert_eq!(
            Bucket::diff(&d, &Found::Here(colder)),
            Change::Update(vec![Field::Lifecycle])
        );
    }

    #[test]
    fn a_name_owned_elsewhere_or_untagged_is_a_conflict() {
        let d = desired();
        assert_eq!(Bucket::diff(&d, &Found::Absent), Change::Create);
        assert!(
            matches!(Bucket::diff(&d, &Found::Foreign), Change::Conflict(why) if why.contains("another account"))
        );
        let untagged = Observed {
            tags: Tags::new(),
            empty: Some(true),
            ..configured(&d)
        };
        assert!(matches!(
            Bucket::diff(&d, &Found::Here(untagged)),
            Change::Conflict(_)
        ));
    }

    #[test]
    fn only_an_empty_untagged_bucket_of_the_default_name_is_finished_instead_of_refused() {
        let d = Desired {
            default_name: true,
            ..desired()
        };
        // What an `up` killed right after CreateBucket leaves.
        let half_made = Observed {
            tags: Tags::new(),
            private: false,
            encrypted: false,
            policy: None,
            owner_enforced: true,
            expire_days: None,
            exports: None,
            chain_records_days: None,
            empty: Some(true),
        };
        assert_eq!(
            Bucket::diff(&d, &Found::Here(half_made.clone())),
            Change::Update(vec![
                Field::Tags,
                Field::PublicAccessBlock,
                Field::Encryption,
                Field::TlsOnlyPolicy,
                Field::Lifecycle
            ])
        );
        let with_data = Observed {
            empty: Some(false),
            ..half_made.clone()
        };
        assert!(matches!(
            Bucket::diff(&d, &Found::Here(with_data)),
            Change::Conflict(_)
        ));
        let named = desired();
        assert!(matches!(
            Bucket::diff(&named, &Found::Here(half_made)),
            Change::Conflict(_)
        ));
    }
}
