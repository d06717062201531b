//! `--export-bucket`: a bucket the function exports to that the stack does not own (another
//! account's or region's, or one the user keeps). It is never created, changed or deleted; `up`
//! only checks, before anything is written, that it exists, is owned by the account the exports
//! will name (`--export-bucket-owner`, else this one) and this account can reach it (HeadBucket
//! with ExpectedBucketOwner: 404 no such bucket, 403 denied or another owner), so that a typo, a
//! missing bucket policy or a missing `--export-bucket-owner` is a one-line refusal instead of
//! a failed export days later. S3 API reference, ExpectedBucketOwner: "If the account ID that
//! you provide does not match the actual owner of the bucket, the request fails with the HTTP
//! status code 403 Forbidden (access denied)."
//!
//! It also reads the bucket's Object Lock configuration (GetObjectLockConfiguration, in the
//! bucket's region), which plans and `status` show; with `--require-lock` a bucket without
//! default retention, or one that does not let this account read it, stops `up`.

use aws_sdk_s3::error::SdkError;

use crate::aws::{Aws, AwsError};
use crate::deploy::exports::ExportConfig;
use crate::deploy::plan::{Change, Kind};
use crate::deploy::resources::{NoFields, Resource};
use backup_lambda::export::ExportMode;

/// The export bucket, as a [`Resource`] that is only checked.
pub struct ExportBucket;

/// The bucket's Object Lock, read in its region with the owner expected. It never fails the
/// command: whatever stops the read (a denial, another region, an S3-compatible store without
/// Object Lock) is an unreadable lock, which only `--require-lock` refuses.
pub async fn lock(aws: &Aws, desired: &Desired) -> Lock {
    let name = desired.name.as_str();
    let read = aws
        .s3_in(desired.region.as_deref())
        .get_object_lock_configuration()
        .bucket(name)
        .expected_bucket_owner(&desired.owner)
        .send()
        .await;
    let out = match read {
        Ok(out) => out,
        Err(e) => {
            let status = match &e {
                SdkError::ServiceError(s) => Some(s.raw().status().as_u16()),
                _ => None,
            };
            let err = AwsError::new("GetObjectLockConfiguration", name, &e);
            return match status {
                _ if err.is("ObjectLockConfigurationNotFoundError") => Lock::Off,
                Some(403) => Lock::Unreadable(
                    "denied: this account needs s3:GetBucketObjectLockConfiguration on it (installer policy grants it) and the bucket's policy must allow it (installer vault init does)".to_owned(),
                ),
                Some(301 | 400) => Lock::Unreadable(
                    "the bucket is in another region: pass --export-bucket-region".to_owned(),
                ),
                _ => Lock::Unreadable(err.to_string()),
            };
        }
    };
    let Some(config) = out.object_lock_configuration else {
        return Lock::Off;
    };
    let enabled = config
        .object_lock_enabled()
        .is_some_and(|e| e.as_str() == "Enabled");
    let retention = config.rule().and_then(|r| r.default_retention());
    match retention {
        Some(r) if enabled => {
            let days = i64::from(r.days().unwrap_or(0)) + 365 * i64::from(r.years().unwrap_or(0));
            Lock::Retains {
                mode: r.mode().map_or("GOVERNANCE", |m| m.as_str()).to_owned(),
                days,
            }
        }
        _ if enabled => Lock::NoDefault,
        _ => Lock::Off,
    }
}

/// The bucket the stack exports to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desired {
    /// Its name.
    pub name: String,
    /// The account that must own it: `--export-bucket-owner`, else the stack's.
    pub owner: String,
    /// Its region, when not the stack's (`--export-bucket-region`).
    pub region: Option<String>,
    /// Whether it must have Object Lock default retention (`--require-lock`).
    pub require_lock: bool,
    /// The days a chain's exports count on its full export (`--export-full-every`), when the
    /// stack exports incremental chains: a required lock must hold exports longer.
    pub chain_days: Option<u32>,
}

impl Desired {
    /// The export bucket `exports` name, when it is not the stack's own; owned by its
    /// `--export-bucket-owner`, else by `account`.
    pub fn of(exports: Option<&ExportConfig>, account: &str) -> Option<Self> {
        let e = exports?;
        Some(Self {
            name: e.bucket.clone()?,
            owner: e.bucket_owner.clone().unwrap_or_else(|| account.to_owned()),
            region: e.bucket_region.clone(),
            require_lock: e.require_lock,
            chain_days: match &e.mode {
                ExportMode::Incremental(chain) => Some(chain.full_every_days),
                ExportMode::Full => None,
            },
        })
    }
}

/// A bucket's Object Lock, as GetObjectLockConfiguration tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lock {
    /// Every new object version is locked for this long in this mode.
    Retains {
        /// `COMPLIANCE` or `GOVERNANCE`.
        mode: String,
        /// The default retention in days (years counted as 365 days).
        days: i64,
    },
    /// Object Lock is on but with no default retention: objects are locked only when asked.
    NoDefault,
    /// No Object Lock.
    Off,
    /// It could not be read (denied, or another region without `--export-bucket-region`).
    Unreadable(String),
}

impl std::fmt::Display for Lock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Lock::Retains { mode, days } => {
                write!(f, "Object Lock {} for {days} days", mode.to_lowercase())
            }
            Lock::NoDefault => f.write_str("Object Lock on, without default retention"),
            Lock::Off => f.write_str("no Object Lock"),
            Lock::Unreadable(why) => write!(f, "Object Lock unknown ({why})"),
        }
    }
}

/// What HeadBucket said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observed {
    /// It exists and this account may list it (here or, answered 301, in another region), with
    /// its lock.
    Reachable(Lock),
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
            Ok(_) => Ok(Observed::Reachable(lock(aws, desired).await)),
            Err(SdkError::ServiceError(e)) => match e.raw().status().as_u16() {
                404 => Ok(Observed::Missing),
                403 => Ok(Observed::Denied),
                301 => Ok(Observed::Reachable(lock(aws, desired).await)),
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
            Observed::Reachable(lock)
                if desired.require_lock && !matches!(lock, Lock::Retains { .. }) =>
            {
                Change::Conflict(format!(
                    "export bucket {name} has {lock}, and --require-lock asks for default retention; make the bucket with `installer vault init` (run with the bucket account's credentials), or drop --require-lock"
                ))
            }
            Observed::Reachable(Lock::Retains { days, .. })
                if desired.require_lock
                    && desired
                        .chain_days
                        .is_some_and(|chain| *days <= i64::from(chain)) =>
            {
                let chain = desired.chain_days.unwrap_or_default();
                Change::Conflict(format!(
                    "export bucket {name} locks exports for {days} days, and a chain counts on its full export for {chain} days (--export-full-every {chain}d): its full export could be deleted while its incrementals are still the newest restore points; lock for more days (`installer vault init --days`, which never shortens a lock) or export full every fewer days"
                ))
            }
            Observed::Reachable(_) => Change::UseExisting,
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
        let mut d = Desired {
            name: "vault".to_owned(),
            owner: "123456789012".to_owned(),
            region: None,
            require_lock: false,
            chain_days: None,
        };
        assert_eq!(
            ExportBucket::diff(&d, &Observed::Reachable(Lock::Off)),
            Change::UseExisting
        );
        d.require_lock = true;
        let locked = Lock::Retains {
            mode: "COMPLIANCE".to_owned(),
            days: 365,
        };
        assert_eq!(
            ExportBucket::diff(&d, &Observed::Reachable(locked)),
            Change::UseExisting
        );
        for lock in [
            Lock::Off,
            Lock::NoDefault,
            Lock::Unreadable("denied".to_owned()),
        ] {
            let Change::Conflict(why) = ExportBucket::diff(&d, &Observed::Reachable(lock)) else {
                panic!("refused without default retention");
            };
            assert!(why.contains("installer vault init"), "{why}");
        }
        d.require_lock = false;
        let Change::Conflict(missing) = ExportBucket::diff(&d, &Observed::Missing) else {
            panic!("a missing bucket is refused");
        };
        assert!(missing.contains("vault does not exist"), "{missing}");
        let Change::Conflict(denied) = ExportBucket::diff(&d, &Observed::Denied) else {
            panic!("a denying bucket is refused");
        };
        assert!(denied.contains("bucket policy"), "{denied}");
        // A chain of 7 days under a lock of 7 days: its full export unlocked too soon.
        d.require_lock = true;
        d.chain_days = Some(7);
        let week = |days| {
            Observed::Reachable(Lock::Retains {
                mode: "GOVERNANCE".to_owned(),
                days,
            })
        };
        let Change::Conflict(short) = ExportBucket::diff(&d, &week(7)) else {
            panic!("a lock no longer than a chain is refused");
        };
        assert!(
            short.contains("locks exports for 7 days") && short.contains("--export-full-every 7d"),
            "{short}"
        );
        assert_eq!(ExportBucket::diff(&d, &week(8)), Change::UseExisting);
        // Without --require-lock the lock is only shown.
        d.require_lock = false;
        assert_eq!(ExportBucket::diff(&d, &week(7)), Change::UseExisting);
        assert!(
            denied.contains("not owned by account 123456789012")
                && denied.contains("--export-bucket-owner"),
            "{denied}"
        );
    }
}
