//! The S3 bucket for run records: private (all four public-access blocks, bucket-owner-enforced
//! ownership), encrypted by default, TLS-only by policy, and expiring `runs/` after a set time.

use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::types::{
    BucketLifecycleConfiguration, BucketLocationConstraint, CreateBucketConfiguration, Delete,
    ExpirationStatus, LifecycleExpiration, LifecycleRule, LifecycleRuleFilter, ObjectIdentifier,
    ObjectOwnership, OwnershipControls, OwnershipControlsRule, PublicAccessBlockConfiguration,
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
    ServerSideEncryptionRule, Tag, Tagging,
};
use backup_lambda::record::PREFIX as RECORDS_PREFIX;
use serde_json::Value;

use crate::aws::{Aws, AwsError, AwsResult};
use crate::plan::{Action, compare};
use crate::resources::{Tags, absent_if, is_ours};

/// The lifecycle rule's id.
const LIFECYCLE_RULE: &str = "expire-run-records";
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

/// Reads the bucket and each of its settings.
pub async fn observe(aws: &Aws, desired: &Desired) -> Result<Found, AwsError> {
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
    let (tagging, block, encryption, policy, ownership, lifecycle) = futures::try_join!(
        async {
            let out = s3.get_bucket_tagging().bucket(name).send().await;
            absent_if(out.aws("GetBucketTagging", name), &["NoSuchTagSet"])
        },
        async {
            let out = s3.get_public_access_block().bucket(name).send().await;
            absent_if(
                out.aws("GetPublicAccessBlock", name),
                &["NoSuchPublicAccessBlockConfiguration"],
            )
        },
        async {
            let out = s3.get_bucket_encryption().bucket(name).send().await;
            absent_if(
                out.aws("GetBucketEncryption", name),
                &["ServerSideEncryptionConfigurationNotFoundError"],
            )
        },
        async {
            let out = s3.get_bucket_policy().bucket(name).send().await;
            absent_if(out.aws("GetBucketPolicy", name), &["NoSuchBucketPolicy"])
        },
        async {
            let out = s3.get_bucket_ownership_controls().bucket(name).send().await;
            absent_if(
                out.aws("GetBucketOwnershipControls", name),
                &["OwnershipControlsNotFoundError"],
            )
        },
        async {
            let out = s3
                .get_bucket_lifecycle_configuration()
                .bucket(name)
                .send()
                .await;
            absent_if(
                out.aws("GetBucketLifecycleConfiguration", name),
                &["NoSuchLifecycleConfiguration"],
            )
        },
    )?;
    let tags: Tags = tagging
        .map(|out| {
            out.tag_set()
                .iter()
                .map(|t| (t.key().to_owned(), t.value().to_owned()))
                .collect()
        })
        .unwrap_or_default();
    let private = block
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
        });
    let encrypted = encryption
        .and_then(|out| out.server_side_encryption_configuration)
        .is_some_and(|c| {
            c.rules()
                .iter()
                .any(|r| r.apply_server_side_encryption_by_default().is_some())
        });
    let policy = policy
        .and_then(|out| out.policy)
        .and_then(|p| serde_json::from_str(&p).ok());
    let owner_enforced = ownership
        .and_then(|out| out.ownership_controls)
        .is_some_and(|c| {
            c.rules()
                .iter()
                .any(|r| *r.object_ownership() == ObjectOwnership::BucketOwnerEnforced)
        });
    let expire_days = lifecycle.and_then(|out| {
        out.rules()
            .iter()
            .find(|r| {
                r.id() == Some(LIFECYCLE_RULE)
                    && *r.status() == ExpirationStatus::Enabled
                    && r.filter().and_then(|f| f.prefix()) == Some(RECORDS_PREFIX)
            })
            .and_then(|r| r.expiration()?.days())
    });
    let empty = if tags.is_empty() {
        let listed = s3
            .list_object_versions()
            .bucket(name)
            .max_keys(1)
            .send()
            .await
            .aws("ListObjectVersions", name)?;
        Some(listed.versions().is_empty() && listed.delete_markers().is_empty())
    } else {
        None
    };
    Ok(Found::Here(Observed {
        tags,
        private,
        encrypted,
        policy,
        owner_enforced,
        expire_days,
        empty,
    }))
}

/// What `up` does to the bucket.
pub fn diff(desired: &Desired, found: &Found) -> Action {
    match found {
        Found::Absent => Action::Create,
        Found::Foreign => Action::Conflict(format!(
            "bucket name {} is taken by another account or region; choose another with --bucket",
            desired.name
        )),
        // CreateBucket cannot tag (portably), so an `up` stopped between CreateBucket and
        // PutBucketTagging leaves the stack's own default name untagged and empty: that one is
        // finished, not refused. A named (--bucket) or non-empty untagged bucket is never taken.
        Found::Here(o) if o.tags.is_empty() && desired.default_name && o.empty == Some(true) => {
            settings_diff(desired, o, true)
        }
        Found::Here(o) if !is_ours(&o.tags, &desired.tags) => Action::Conflict(format!(
            "bucket {} exists and is not this stack's; choose another with --bucket",
            desired.name
        )),
        Found::Here(o) => settings_diff(desired, o, false),
    }
}

/// What differs between the bucket as found and as wanted (`untagged`: it also needs the tags).
fn settings_diff(desired: &Desired, o: &Observed, untagged: bool) -> Action {
    compare(&[
        ("tags", untagged),
        ("public access block", !o.private),
        ("encryption", !o.encrypted),
        (
            "TLS-only policy",
            desired.policy.is_some() && o.policy != desired.policy,
        ),
        ("ownership", !o.owner_enforced),
        ("lifecycle", o.expire_days != Some(desired.expire_days)),
    ])
}

/// Creates the bucket and sets what `action` says differs (everything, for a new bucket).
pub async fn apply(aws: &Aws, desired: &Desired, action: &Action) -> Result<(), AwsError> {
    let name = desired.name.as_str();
    let all = [
        "public access block",
        "encryption",
        "TLS-only policy",
        "ownership",
        "lifecycle",
    ];
    let fields: Vec<&str> = match action {
        Action::Create => {
            create(aws, desired).await?;
            all.iter()
                .copied()
                .filter(|f| *f != "TLS-only policy" || desired.policy.is_some())
                .collect()
        }
        Action::Update(fields) => fields.clone(),
        _ => Vec::new(),
    };
    let s3 = &aws.s3;
    for field in fields {
        match field {
            "tags" => tag(aws, desired).await?,
            "public access block" => s3
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
                .aws("PutPublicAccessBlock", name)?,
            "encryption" => {
                let by_default = ServerSideEncryptionByDefault::builder()
                    .sse_algorithm(ServerSideEncryption::Aes256)
                    .build()
                    .map_err(|e| {
                        AwsError::malformed("PutBucketEncryption", name, &e.to_string())
                    })?;
                let config = ServerSideEncryptionConfiguration::builder()
                    .rules(
                        ServerSideEncryptionRule::builder()
                            .apply_server_side_encryption_by_default(by_default)
                            .build(),
                    )
                    .build()
                    .map_err(|e| {
                        AwsError::malformed("PutBucketEncryption", name, &e.to_string())
                    })?;
                s3.put_bucket_encryption()
                    .bucket(name)
                    .server_side_encryption_configuration(config)
                    .send()
                    .await
                    .map(drop)
                    .aws("PutBucketEncryption", name)?
            }
            "TLS-only policy" => s3
                .put_bucket_policy()
                .bucket(name)
                .policy(
                    desired
                        .policy
                        .as_ref()
                        .map(Value::to_string)
                        .unwrap_or_default(),
                )
                .send()
                .await
                .map(drop)
                .aws("PutBucketPolicy", name)?,
            "ownership" => {
                let rule = OwnershipControlsRule::builder()
                    .object_ownership(ObjectOwnership::BucketOwnerEnforced)
                    .build()
                    .map_err(|e| {
                        AwsError::malformed("PutBucketOwnershipControls", name, &e.to_string())
                    })?;
                let controls = OwnershipControls::builder()
                    .rules(rule)
                    .build()
                    .map_err(|e| {
                        AwsError::malformed("PutBucketOwnershipControls", name, &e.to_string())
                    })?;
                s3.put_bucket_ownership_controls()
                    .bucket(name)
                    .ownership_controls(controls)
                    .send()
                    .await
                    .map(drop)
                    .aws("PutBucketOwnershipControls", name)?
            }
            "lifecycle" => {
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
                    .map_err(|e| {
                        AwsError::malformed("PutBucketLifecycleConfiguration", name, &e.to_string())
                    })?;
                let config = BucketLifecycleConfiguration::builder()
                    .rules(rule)
                    .build()
                    .map_err(|e| {
                        AwsError::malformed("PutBucketLifecycleConfiguration", name, &e.to_string())
                    })?;
                s3.put_bucket_lifecycle_configuration()
                    .bucket(name)
                    .lifecycle_configuration(config)
                    .send()
                    .await
                    .map(drop)
                    .aws("PutBucketLifecycleConfiguration", name)?
            }
            _ => {}
        }
    }
    Ok(())
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

/// Empties the bucket (every object version and delete marker) and deletes it.
pub async fn delete(aws: &Aws, name: &str) -> Result<(), AwsError> {
    loop {
        let page = match aws.s3.list_object_versions().bucket(name).send().await {
            Ok(page) => page,
            Err(e) => {
                let err = AwsError::new("ListObjectVersions", name, &e);
                return if err.is("NoSuchBucket") {
                    Ok(())
                } else {
                    Err(err)
                };
            }
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
        let batch = Delete::builder()
            .set_objects(Some(objects))
            .quiet(true)
            .build()
            .map_err(|e| AwsError::malformed("DeleteObjects", name, &e.to_string()))?;
        let out = aws
            .s3
            .delete_objects()
            .bucket(name)
            .delete(batch)
            .send()
            .await
            .aws("DeleteObjects", name)?;
        if let Some(failed) = out.errors().first() {
            let detail = format!(
                "{} object(s) not deleted, e.g. {}: {}",
                out.errors().len(),
                failed.key().unwrap_or("?"),
                failed.message().unwrap_or("no reason given")
            );
            return Err(AwsError::malformed("DeleteObjects", name, &detail));
        }
    }
    match aws.s3.delete_bucket().bucket(name).send().await {
        Ok(_) => Ok(()),
        Err(e) => {
            let err = AwsError::new("DeleteBucket", name, &e);
            if err.is("NoSuchBucket") {
                Ok(())
            } else {
                Err(err)
            }
        }
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
            empty: None,
        }
    }

    #[test]
    fn a_configured_bucket_needs_nothing_and_each_gap_is_named() {
        let d = desired();
        assert_eq!(diff(&d, &Found::Here(configured(&d))), Action::NoChange);
        let gaps = Observed {
            private: false,
            expire_days: Some(30),
            ..configured(&d)
        };
        assert_eq!(
            diff(&d, &Found::Here(gaps)),
            Action::Update(vec!["public access block", "lifecycle"])
        );
    }

    #[test]
    fn a_name_owned_elsewhere_or_untagged_is_a_conflict() {
        let d = desired();
        assert_eq!(diff(&d, &Found::Absent), Action::Create);
        assert!(
            matches!(diff(&d, &Found::Foreign), Action::Conflict(why) if why.contains("another account"))
        );
        let untagged = Observed {
            tags: Tags::new(),
            empty: Some(true),
            ..configured(&d)
        };
        assert!(matches!(
            diff(&d, &Found::Here(untagged)),
            Action::Conflict(_)
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
            empty: Some(true),
        };
        assert_eq!(
            diff(&d, &Found::Here(half_made.clone())),
            Action::Update(vec![
                "tags",
                "public access block",
                "encryption",
                "TLS-only policy",
                "lifecycle"
            ])
        );
        let with_data = Observed {
            empty: Some(false),
            ..half_made.clone()
        };
        assert!(matches!(
            diff(&d, &Found::Here(with_data)),
            Action::Conflict(_)
        ));
        let named = desired();
        assert!(matches!(
            diff(&named, &Found::Here(half_made)),
            Action::Conflict(_)
        ));
    }
}
