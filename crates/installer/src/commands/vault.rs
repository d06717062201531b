//! `installer vault init`: a bucket of another account (run with that account's credentials)
//! that keeps a stack's exports where the stack's own account cannot delete them, not even its
//! administrator. The bucket is made with S3 Object Lock and default retention (every export
//! version locked for `--days` from when it is written), versioning (Object Lock turns it on and
//! it cannot be suspended), no public access, SSE-S3, objects owned by the bucket owner, and a
//! policy that lets only the source account's stacks write exports, their account check the
//! lock and read them, and nobody bypass governance retention. Run again, it checks and repairs
//! everything but never weakens the lock.
//!
//! Compliance mode cannot be shortened or removed by anyone, the vault account's root user
//! included, until each version's retention ends: that is the point, and the trade-off
//! (docs/exports.md, "Locked copies").

use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, BucketLocationConstraint,
    BucketVersioningStatus, CreateBucketConfiguration, DefaultRetention, ExpirationStatus,
    LifecycleExpiration, LifecycleRule, LifecycleRuleFilter, NoncurrentVersionExpiration,
    ObjectLockConfiguration, ObjectLockEnabled, ObjectLockRetentionMode, ObjectLockRule,
    ObjectOwnership, OwnershipControls, OwnershipControlsRule, PublicAccessBlockConfiguration,
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
    ServerSideEncryptionRule, Tag, Tagging,
};
use serde::Serialize;
use thiserror::Error;

use super::CommandError;
use crate::aws::{Aws, AwsError, AwsResult, ConnectArgs};
use crate::deploy::exports::EXPORT_PREFIX;
use crate::deploy::policy::{PolicyError, vault_policy};

/// `installer vault`.
#[derive(Debug, Clone, clap::Args)]
pub struct VaultArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: VaultCommand,
}

/// `installer vault`'s commands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum VaultCommand {
    /// Make (or check and repair) a locked bucket for another account's exports, with this
    /// account's credentials.
    #[command(
        after_help = "Examples:\n  installer vault init --bucket acme-backup-vault --lock compliance --days 365 --source-account 123456789012 --source-stack prod\n  installer up --stack prod --export daily --export-bucket acme-backup-vault --export-bucket-owner 210987654321 --require-lock"
    )]
    Init(VaultInitArgs),
}

/// The lock's mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LockMode {
    /// Nobody can delete a version or shorten its retention until it ends, the root user
    /// included.
    Compliance,
    /// Only a principal with s3:BypassGovernanceRetention can, and the vault's policy denies it
    /// to everyone; the vault account's root user can still change the policy.
    Governance,
}

impl LockMode {
    fn api(self) -> ObjectLockRetentionMode {
        match self {
            Self::Compliance => ObjectLockRetentionMode::Compliance,
            Self::Governance => ObjectLockRetentionMode::Governance,
        }
    }

    /// How strong: compliance is stronger than governance.
    fn strength(self) -> u8 {
        match self {
            Self::Compliance => 2,
            Self::Governance => 1,
        }
    }
}

/// `vault init`'s flags.
#[derive(Debug, Clone, clap::Args)]
pub struct VaultInitArgs {
    /// The vault bucket's name (it must not exist, or be a vault this command made).
    #[arg(long, value_name = "NAME")]
    pub bucket: String,
    /// The lock's mode.
    #[arg(long, value_enum)]
    pub lock: LockMode,
    /// Days each export version stays locked from when it is written (1 to 36500).
    #[arg(long, allow_negative_numbers = true)]
    pub days: i64,
    /// The account whose stacks export here (the one `up` runs in).
    #[arg(long, value_name = "ACCOUNT")]
    pub source_account: String,
    /// The stack of the source account that writes exports here (repeat for several): only its
    /// role may write, so that no other role of that account can fill the vault with what
    /// nobody could delete.
    #[arg(long, value_name = "STACK", required = true)]
    pub source_stack: Vec<String>,
    /// Also expire exports this many days after they are written (at least --days: S3 cannot
    /// delete a version still locked) [default: kept until deleted by hand after their lock].
    #[arg(long, allow_negative_numbers = true, value_name = "DAYS")]
    pub expire_days: Option<i64>,
}

/// Why `vault init` stopped.
#[derive(Debug, Error)]
pub enum VaultError {
    /// A bad flag, found before any AWS call.
    #[error("{0}")]
    Usage(String),
    /// The bucket is there and not a vault this command made.
    #[error(
        "bucket {0} exists and is not a vault made by `installer vault init`: choose another --bucket"
    )]
    NotAVault(String),
    /// The bucket is another account's.
    #[error(
        "bucket {0} belongs to another account or denies this one: run `vault init` with the credentials of the account that is to own the vault"
    )]
    Foreign(String),
    /// The vault has no Object Lock (it can be turned on only when a bucket is made, here).
    #[error(
        "bucket {0} has no Object Lock, which S3 turns on when a bucket is made: choose another --bucket"
    )]
    NoLock(String),
    /// The run would weaken the vault's lock.
    #[error(
        "vault {bucket} locks exports in {current}; --lock {mode} --days {days} would weaken that for every later export: give at least the same mode and days"
    )]
    Weaker {
        /// The bucket.
        bucket: String,
        /// Its lock now.
        current: String,
        /// The mode asked.
        mode: &'static str,
        /// The days asked.
        days: i64,
    },
    /// The policy did not render.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// An AWS call failed.
    #[error(transparent)]
    Aws(#[from] AwsError),
}

impl VaultError {
    /// Whether it is bad input (exit 2).
    pub fn is_usage(&self) -> bool {
        matches!(self, Self::Usage(_))
    }
}

/// What `vault init` made or found.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct VaultInitialized {
    /// The bucket.
    pub bucket: String,
    /// The account that owns it (this one).
    pub account: String,
    /// Its region.
    pub region: String,
    /// Whether this run made it (false: it was there and was checked).
    pub created: bool,
    /// The lock's mode.
    pub lock: LockMode,
    /// Days each export version stays locked.
    pub days: i64,
    /// Days after which exports expire, if they do.
    pub expire_days: Option<i64>,
    /// The account whose stacks export here.
    pub source_account: String,
    /// The roles that may write exports.
    pub writers: String,
    /// The flags the source stack's `up` takes to export here.
    pub up_flags: String,
}

/// A checked `vault init`.
struct Plan {
    bucket: String,
    mode: LockMode,
    days: i32,
    expire_days: Option<i32>,
    source_account: String,
    source_stack: Vec<String>,
}

/// Checks the flags before any AWS call.
fn check(args: &VaultInitArgs) -> Result<Plan, VaultError> {
    let usage = |m: String| VaultError::Usage(m);
    crate::deploy::config::check_bucket("bucket", &args.bucket)
        .map_err(|e| usage(e.to_string()))?;
    let days = i32::try_from(args.days)
        .ok()
        .filter(|d| (1..=36_500).contains(d))
        .ok_or_else(|| usage(format!("--days must be from 1 to 36500, got {}", args.days)))?;
    let account = args.source_account.trim();
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(usage(format!(
            "invalid --source-account {account:?}: give the 12-digit id of the account whose stacks export here"
        )));
    }
    for stack in &args.source_stack {
        backup_lambda::naming::StackName::parse(stack)
            .map_err(|e| usage(format!("invalid --source-stack: {e}")))?;
    }
    let expire_days = match args.expire_days {
        None => None,
        Some(e) if e < args.days => {
            return Err(usage(format!(
                "--expire-days {e} would expire exports still locked for {days} days, which S3 cannot delete: give --expire-days {days} or more"
            )));
        }
        Some(e) => Some(
            i32::try_from(e)
                .ok()
                .filter(|e| *e <= 36_500)
                .ok_or_else(|| usage(format!("--expire-days must be at most 36500, got {e}")))?,
        ),
    };
    Ok(Plan {
        bucket: args.bucket.clone(),
        mode: args.lock,
        days,
        expire_days,
        source_account: account.to_owned(),
        source_stack: args.source_stack.clone(),
    })
}

/// The tag that marks a vault this command made.
const VAULT_TAG: &str = "installer-vault";

/// `installer vault init`.
pub async fn vault(
    args: &VaultArgs,
    connect: &ConnectArgs,
) -> Result<VaultInitialized, CommandError> {
    let VaultCommand::Init(init) = &args.command;
    let plan = check(init)?;
    let aws = Aws::connect(connect).await?;
    Ok(vault_init(&aws, &plan).await?)
}

async fn vault_init(aws: &Aws, plan: &Plan) -> Result<VaultInitialized, VaultError> {
    let bucket = plan.bucket.as_str();
    let head = aws
        .s3
        .head_bucket()
        .bucket(bucket)
        .expected_bucket_owner(&aws.account)
        .send()
        .await;
    let created = match head {
        Ok(_) => false,
        Err(aws_sdk_s3::error::SdkError::ServiceError(e)) if e.raw().status().as_u16() == 404 => {
            create(aws, bucket).await?;
            true
        }
        Err(aws_sdk_s3::error::SdkError::ServiceError(e)) if e.raw().status().as_u16() == 403 => {
            return Err(VaultError::Foreign(bucket.to_owned()));
        }
        Err(e) => return Err(AwsError::new("HeadBucket", bucket, &e).into()),
    };
    if !created {
        check_existing(aws, plan).await?;
    }
    report!(
        "vault {bucket}: {}",
        if created {
            "made"
        } else {
            "found; checking it"
        }
    );
    let s3 = &aws.s3;
    s3.put_bucket_tagging()
        .bucket(bucket)
        .tagging(
            Tagging::builder()
                .tag_set(
                    Tag::builder()
                        .key(VAULT_TAG)
                        .value(&plan.source_account)
                        .build()
                        .map_err(|e| {
                            AwsError::malformed("PutBucketTagging", bucket, &e.to_string())
                        })?,
                )
                .tag_set(
                    Tag::builder()
                        .key("managed-by")
                        .value("installer")
                        .build()
                        .map_err(|e| {
                            AwsError::malformed("PutBucketTagging", bucket, &e.to_string())
                        })?,
                )
                .build()
                .map_err(|e| AwsError::malformed("PutBucketTagging", bucket, &e.to_string()))?,
        )
        .send()
        .await
        .aws("PutBucketTagging", bucket)?;
    s3.put_public_access_block()
        .bucket(bucket)
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
        .aws("PutPublicAccessBlock", bucket)?;
    s3.put_bucket_ownership_controls()
        .bucket(bucket)
        .ownership_controls(
            OwnershipControls::builder()
                .rules(
                    OwnershipControlsRule::builder()
                        .object_ownership(ObjectOwnership::BucketOwnerEnforced)
                        .build()
                        .map_err(|e| {
                            AwsError::malformed(
                                "PutBucketOwnershipControls",
                                bucket,
                                &e.to_string(),
                            )
                        })?,
                )
                .build()
                .map_err(|e| {
                    AwsError::malformed("PutBucketOwnershipControls", bucket, &e.to_string())
                })?,
        )
        .send()
        .await
        .aws("PutBucketOwnershipControls", bucket)?;
    s3.put_bucket_encryption()
        .bucket(bucket)
        .server_side_encryption_configuration(
            ServerSideEncryptionConfiguration::builder()
                .rules(
                    ServerSideEncryptionRule::builder()
                        .apply_server_side_encryption_by_default(
                            ServerSideEncryptionByDefault::builder()
                                .sse_algorithm(ServerSideEncryption::Aes256)
                                .build()
                                .map_err(|e| {
                                    AwsError::malformed(
                                        "PutBucketEncryption",
                                        bucket,
                                        &e.to_string(),
                                    )
                                })?,
                        )
                        .build(),
                )
                .build()
                .map_err(|e| AwsError::malformed("PutBucketEncryption", bucket, &e.to_string()))?,
        )
        .send()
        .await
        .aws("PutBucketEncryption", bucket)?;
    // PutObjectLockConfiguration, API reference: "The DefaultRetention settings require both a
    // mode and a period"; it needs Content-MD5 or a checksum, which the SDK sends.
    s3.put_object_lock_configuration()
        .bucket(bucket)
        .object_lock_configuration(
            ObjectLockConfiguration::builder()
                .object_lock_enabled(ObjectLockEnabled::Enabled)
                .rule(
                    ObjectLockRule::builder()
                        .default_retention(
                            DefaultRetention::builder()
                                .mode(plan.mode.api())
                                .days(plan.days)
                                .build(),
                        )
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .aws("PutObjectLockConfiguration", bucket)?;
    let policy = vault_policy(
        &aws.partition,
        bucket,
        &plan.source_account,
        &plan.source_stack,
        aws.tls,
    )?;
    if !aws.tls {
        report!(
            "note: the endpoint is plain HTTP, so the vault's policy has no TLS-only statement (it would deny every request there); AWS endpoints always get it"
        );
    }
    s3.put_bucket_policy()
        .bucket(bucket)
        .policy(policy.to_string())
        .send()
        .await
        .aws("PutBucketPolicy", bucket)?;
    match plan.expire_days {
        Some(expire) => lifecycle(aws, bucket, expire).await?,
        // An expiry an earlier run set goes: left behind, it would put delete markers on
        // exports a longer --days still locks.
        None => match s3
            .delete_bucket_lifecycle()
            .bucket(bucket)
            .send()
            .await
            .aws("DeleteBucketLifecycle", bucket)
        {
            Err(e) if !e.is("NoSuchLifecycleConfiguration") => return Err(e.into()),
            _ => {}
        },
    }
    let writers = plan
        .source_stack
        .iter()
        .map(|s| {
            format!(
                "arn:{}:iam::{}:role/{s}-role",
                aws.partition, plan.source_account
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    // The region always: the source stack may be in another one, and then asks the vault's
    // configuration there.
    let up_flags = format!(
        "--export daily --export-bucket {bucket} --export-bucket-owner {} --export-bucket-region {} --require-lock",
        aws.account, aws.region
    );
    report!(
        "vault {bucket} locks every export version in {} mode for {} days; in account {}, export to it with: installer up {up_flags}",
        match plan.mode {
            LockMode::Compliance => "compliance",
            LockMode::Governance => "governance",
        },
        plan.days,
        plan.source_account
    );
    Ok(VaultInitialized {
        bucket: bucket.to_owned(),
        account: aws.account.clone(),
        region: aws.region.clone(),
        created,
        lock: plan.mode,
        days: i64::from(plan.days),
        expire_days: plan.expire_days.map(i64::from),
        source_account: plan.source_account.clone(),
        writers,
        up_flags,
    })
}

/// Makes the bucket with Object Lock (which turns versioning on).
async fn create(aws: &Aws, bucket: &str) -> Result<(), VaultError> {
    let mut request = aws
        .s3
        .create_bucket()
        .bucket(bucket)
        .object_lock_enabled_for_bucket(true);
    // CreateBucket, API reference: us-east-1 takes no LocationConstraint.
    if aws.region != "us-east-1" {
        request = request.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(aws.region.as_str()))
                .build(),
        );
    }
    request.send().await.aws("CreateBucket", bucket)?;
    Ok(())
}

/// Checks a bucket that is there: a vault this command made, with a lock no weaker than asked.
async fn check_existing(aws: &Aws, plan: &Plan) -> Result<(), VaultError> {
    let bucket = plan.bucket.as_str();
    let tags = aws.s3.get_bucket_tagging().bucket(bucket).send().await;
    let ours = tags
        .ok()
        .is_some_and(|t| t.tag_set().iter().any(|t| t.key() == VAULT_TAG));
    if !ours {
        return Err(VaultError::NotAVault(bucket.to_owned()));
    }
    let desired = crate::deploy::resources::export_bucket::Desired {
        name: bucket.to_owned(),
        owner: aws.account.clone(),
        region: None,
        require_lock: true,
        chain_days: None,
    };
    use crate::deploy::resources::export_bucket::{Lock, lock};
    match lock(aws, &desired).await {
        Lock::Retains { mode, days } => {
            let current = if mode == "COMPLIANCE" {
                LockMode::Compliance
            } else {
                LockMode::Governance
            };
            if current.strength() > plan.mode.strength() || days > i64::from(plan.days) {
                return Err(VaultError::Weaker {
                    bucket: bucket.to_owned(),
                    current: format!("{} mode for {days} days", mode.to_lowercase()),
                    mode: match plan.mode {
                        LockMode::Compliance => "compliance",
                        LockMode::Governance => "governance",
                    },
                    days: i64::from(plan.days),
                });
            }
        }
        Lock::NoDefault => {}
        Lock::Off | Lock::Unreadable(_) => return Err(VaultError::NoLock(bucket.to_owned())),
    }
    let versioning = aws
        .s3
        .get_bucket_versioning()
        .bucket(bucket)
        .send()
        .await
        .aws("GetBucketVersioning", bucket)?;
    if versioning.status() != Some(&BucketVersioningStatus::Enabled) {
        return Err(VaultError::NoLock(bucket.to_owned()));
    }
    Ok(())
}

/// Expires exports `days` after they are written, and the versions that expiry leaves behind
/// a day later (S3 deletes a version only once its lock has ended).
async fn lifecycle(aws: &Aws, bucket: &str, days: i32) -> Result<(), VaultError> {
    let malformed = |e: aws_sdk_s3::error::BuildError| {
        AwsError::malformed("PutBucketLifecycleConfiguration", bucket, &e.to_string())
    };
    let rule = LifecycleRule::builder()
        .id("expire-exports")
        .status(ExpirationStatus::Enabled)
        .filter(LifecycleRuleFilter::builder().prefix(EXPORT_PREFIX).build())
        .expiration(LifecycleExpiration::builder().days(days).build())
        .noncurrent_version_expiration(
            NoncurrentVersionExpiration::builder()
                .noncurrent_days(1)
                .build(),
        )
        .abort_incomplete_multipart_upload(
            AbortIncompleteMultipartUpload::builder()
                .days_after_initiation(7)
                .build(),
        )
        .build()
        .map_err(malformed)?;
    aws.s3
        .put_bucket_lifecycle_configuration()
        .bucket(bucket)
        .lifecycle_configuration(
            BucketLifecycleConfiguration::builder()
                .rules(rule)
                .build()
                .map_err(malformed)?,
        )
        .send()
        .await
        .aws("PutBucketLifecycleConfiguration", bucket)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(days: i64, expire: Option<i64>, account: &str) -> VaultInitArgs {
        VaultInitArgs {
            bucket: "acme-vault".to_owned(),
            lock: LockMode::Compliance,
            days,
            source_account: account.to_owned(),
            source_stack: vec!["prod".to_owned()],
            expire_days: expire,
        }
    }

    #[test]
    fn bad_flags_are_one_line_before_any_call() {
        for (a, expected) in [
            (
                args(0, None, "123456789012"),
                "--days must be from 1 to 36500",
            ),
            (
                args(365, Some(30), "123456789012"),
                "--expire-days 30 would expire exports still locked for 365 days",
            ),
            (args(30, None, "1234"), "invalid --source-account \"1234\""),
        ] {
            let Err(e) = check(&a) else {
                panic!("{expected}");
            };
            assert!(e.is_usage());
            assert!(e.to_string().starts_with(expected), "{e}");
        }
        assert!(check(&args(365, Some(400), "123456789012")).is_ok());
    }

    #[test]
    fn the_policy_lets_only_the_source_stack_write_and_nobody_bypass() {
        let prod = ["prod".to_owned()];
        let policy =
            vault_policy("aws", "acme-vault", "123456789012", &prod, true).expect("renders");
        let text = policy.to_string();
        assert!(
            text.contains("arn:aws:iam::123456789012:role/prod-role"),
            "{text}"
        );
        assert!(text.contains("s3:BypassGovernanceRetention"), "{text}");
        assert!(!text.contains("${"), "{text}");
        assert!(text.contains("aws:SecureTransport"), "{text}");
        let two = ["prod".to_owned(), "staging".to_owned()];
        let both = vault_policy("aws", "acme-vault", "123456789012", &two, false).expect("renders");
        assert!(!both.to_string().contains("aws:SecureTransport"));
        let writers = &both["Statement"]
            .as_array()
            .and_then(|s| {
                s.iter()
                    .find(|s| s["Sid"] == "TheSourceStacksWriteTheExports")
            })
            .expect("the writers' statement")["Condition"]["ArnLike"]["aws:PrincipalArn"];
        assert_eq!(
            *writers,
            serde_json::json!([
                "arn:aws:iam::123456789012:role/prod-role",
                "arn:aws:iam::123456789012:role/staging-role"
            ])
        );
        // Only the writers' statement is conditioned on the principal, and nothing is null (a
        // null condition value made every statement match nobody, the deny of bypasses too).
        for policy in [&policy, &both] {
            let text = policy.to_string();
            assert!(!text.contains("null"), "{text}");
            let conditioned: Vec<&serde_json::Value> = policy["Statement"]
                .as_array()
                .expect("statements")
                .iter()
                .filter(|s| s.pointer("/Condition/ArnLike").is_some())
                .map(|s| &s["Sid"])
                .collect();
            assert_eq!(conditioned, ["TheSourceStacksWriteTheExports"], "{text}");
        }
    }
}
