//! Exports to S3 as the stack deploys them, from `--export`, `--export-bucket`,
//! `--export-bucket-owner`, `--export-cold-days`, `--export-cold-class` and
//! `--export-expire-days`, validated before any request: pure, so the lifecycle's limits are
//! unit-tested against S3's documented rules.
//!
//! The function exports each table once per period into `exports/<table>/<period>/` of the
//! export bucket ([`backup_lambda::export`]). In the stack's own bucket, a lifecycle rule on
//! `exports/` moves them to a colder storage class after `--export-cold-days` and expires them
//! after `--export-expire-days`; another bucket's lifecycle is its owner's to set.
//!
//! S3's rules (Lifecycle `Transition`, API reference): a transition to STANDARD_IA or
//! ONEZONE_IA may happen no sooner than 30 days after creation; to GLACIER_IR, GLACIER or
//! DEEP_ARCHIVE from day 0. Each class bills a minimum storage duration (S3 user guide,
//! "Constraints and considerations for transitions"; pricing): 30 days for STANDARD_IA and
//! ONEZONE_IA, 90 for GLACIER_IR and GLACIER, 180 for DEEP_ARCHIVE. An export expired sooner
//! than that after its transition is billed for the minimum anyway, so such settings are
//! refused, with the least `--export-expire-days` that avoids it.

use backup_lambda::export::{
    ChainSettings, ExportEvery, ExportMode, ExportView, MAX_FULL_EVERY_DAYS,
};
use thiserror::Error;

/// The prefix exports go under, in whichever bucket: `exports/<table>/<period>/`.
pub const EXPORT_PREFIX: &str = backup_lambda::export::DEFAULT_PREFIX;

/// `--export`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum ExportChoice {
    /// No exports.
    Off,
    /// One export per table per UTC day.
    Daily,
    /// One export per table per ISO week.
    Weekly,
}

/// `--export-mode`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum ExportModeChoice {
    /// A full export of each table each period.
    Full,
    /// A chain: a full export every --export-full-every, incremental exports of every moment
    /// in between (one a run).
    Incremental,
}

/// `--export-view`: what an incremental export holds of each changed item.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum ExportViewChoice {
    /// The item before and after the window (restores and rollbacks).
    NewAndOld,
    /// The item after the window only (restores; smaller).
    New,
}

impl ExportViewChoice {
    /// The function's view.
    pub fn view(self) -> ExportView {
        match self {
            Self::NewAndOld => ExportView::NewAndOld,
            Self::New => ExportView::New,
        }
    }

    /// The choice for the function's view.
    pub fn of(view: ExportView) -> Self {
        match view {
            ExportView::NewAndOld => Self::NewAndOld,
            ExportView::New => Self::New,
        }
    }
}

/// `--export-cold-class`: the storage class exports move to after `--export-cold-days`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum ColdClass {
    /// S3 Standard-Infrequent Access (from day 30; 30-day minimum).
    StandardIa,
    /// S3 Glacier Instant Retrieval (millisecond reads; 90-day minimum).
    GlacierIr,
    /// S3 Glacier Flexible Retrieval (restore before reading; 90-day minimum).
    Glacier,
    /// S3 Glacier Deep Archive (restore in hours; 180-day minimum).
    DeepArchive,
}

impl ColdClass {
    /// The class's name in the S3 API.
    pub fn api_name(self) -> &'static str {
        match self {
            Self::StandardIa => "STANDARD_IA",
            Self::GlacierIr => "GLACIER_IR",
            Self::Glacier => "GLACIER",
            Self::DeepArchive => "DEEP_ARCHIVE",
        }
    }

    /// The class named `name` in the S3 API, if it is one of these.
    pub fn from_api_name(name: &str) -> Option<Self> {
        [
            Self::StandardIa,
            Self::GlacierIr,
            Self::Glacier,
            Self::DeepArchive,
        ]
        .into_iter()
        .find(|c| c.api_name() == name)
    }

    /// The flag's spelling.
    pub fn flag_value(self) -> &'static str {
        match self {
            Self::StandardIa => "standard-ia",
            Self::GlacierIr => "glacier-ir",
            Self::Glacier => "glacier",
            Self::DeepArchive => "deep-archive",
        }
    }

    /// The first day after creation a lifecycle rule may move an object into this class.
    pub fn earliest_transition_day(self) -> u32 {
        match self {
            Self::StandardIa => 30,
            Self::GlacierIr | Self::Glacier | Self::DeepArchive => 0,
        }
    }

    /// Days S3 bills an object in this class for at least.
    pub fn minimum_storage_days(self) -> u32 {
        match self {
            Self::StandardIa => 30,
            Self::GlacierIr | Self::Glacier => 90,
            Self::DeepArchive => 180,
        }
    }
}

/// When exports in the stack's bucket get colder and when they go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tiers {
    /// Days after creation they move to `cold_class`.
    pub cold_days: u32,
    /// The colder class.
    pub cold_class: ColdClass,
    /// Days after creation they are deleted.
    pub expire_days: u32,
}

/// Exports as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportConfig {
    /// How often.
    pub every: ExportEvery,
    /// Full exports, or incremental chains.
    pub mode: ExportMode,
    /// Another bucket to export to (`None`: the stack's own).
    pub bucket: Option<String>,
    /// The account owning `bucket`, when another account's.
    pub bucket_owner: Option<String>,
    /// The region of `bucket`, when another region's.
    pub bucket_region: Option<String>,
    /// Whether `bucket` must have Object Lock default retention.
    pub require_lock: bool,
    /// The lifecycle in the stack's bucket.
    pub tiers: Tiers,
}

/// Why the export settings were refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ExportConfigError {
    /// `--export-bucket-owner` is not an account id.
    #[error(
        "invalid --export-bucket-owner {0:?}: give the 12-digit id of the account that owns --export-bucket"
    )]
    Owner(String),
    /// A region without a bucket.
    #[error(
        "--export-bucket-region needs --export-bucket: the stack's own bucket is in the stack's region"
    )]
    RegionWithoutBucket,
    /// A region that is not one.
    #[error("invalid --export-bucket-region {0:?}: give a region such as eu-central-1")]
    Region(String),
    /// A lock required of the stack's own bucket.
    #[error(
        "--require-lock needs --export-bucket: the stack's own bucket has no Object Lock; make a vault with `installer vault init` and export there"
    )]
    LockWithoutBucket,
    /// An owner without a bucket.
    #[error(
        "--export-bucket-owner needs --export-bucket: the stack's own bucket is this account's"
    )]
    OwnerWithoutBucket,
    /// Incremental chains with weekly exports.
    #[error(
        "--export-mode incremental exports at every run: use it with --export daily (a full export every --export-full-every, incremental exports in between)"
    )]
    IncrementalWeekly,
    /// Chains whose full export would expire before their last incremental.
    #[error(
        "--export-expire-days {expire} would delete a chain's full export before its last incremental export (a new chain begins every {full_every} days): use --export-expire-days {least} or more"
    )]
    ChainOutlivesItsFull {
        /// `--export-expire-days`.
        expire: u32,
        /// `--export-full-every`, in days.
        full_every: u32,
        /// The least expiry that keeps a chain whole.
        least: u32,
    },
    /// Chains in an archive class.
    #[error(
        "--export-mode incremental restores read a chain's every export: {class} would need each restored from the archive first; use --export-cold-class glacier-ir or standard-ia"
    )]
    ChainArchived {
        /// The class's flag value.
        class: &'static str,
    },
    /// `--export-full-every` is not a number of days.
    #[error("invalid --export-full-every {0:?}: give days from 1 to 365, such as 7d")]
    FullEvery(String),
    /// A day count out of range.
    #[error("--{flag} must be from {min} to 36500 days, got {got}")]
    Days {
        /// The flag.
        flag: &'static str,
        /// The least value.
        min: u32,
        /// What was given.
        got: i64,
    },
    /// The transition comes sooner than S3 allows for the class.
    #[error(
        "--export-cold-days {days} is too soon for {class}: S3 moves objects there no sooner than day {earliest}; use --export-cold-days {earliest} or more, or --export-cold-class glacier-ir"
    )]
    TooSoon {
        /// Days given.
        days: u32,
        /// The class's flag value.
        class: &'static str,
        /// The first day allowed.
        earliest: u32,
    },
    /// Expiry before the class's minimum storage duration has passed.
    #[error(
        "--export-expire-days {expire} would delete exports {kept} days after they move to {class}, which S3 bills for {minimum} days at least; use --export-expire-days {least} or more, or a later --export-cold-days"
    )]
    ExpiresTooSoon {
        /// Days given.
        expire: u32,
        /// Days they would spend in the cold class.
        kept: i64,
        /// The class's flag value.
        class: &'static str,
        /// Its minimum storage duration.
        minimum: u32,
        /// The least expiry that avoids the charge.
        least: u32,
    },
}

/// The raw export flags.
#[derive(Debug, Clone, Copy)]
pub struct ExportFlags<'a> {
    /// `--export`.
    pub choice: ExportChoice,
    /// `--export-bucket`.
    pub bucket: Option<&'a str>,
    /// `--export-bucket-owner`.
    pub owner: Option<&'a str>,
    /// `--export-cold-days`.
    pub cold_days: i64,
    /// `--export-cold-class`.
    pub cold_class: ColdClass,
    /// `--export-expire-days`.
    pub expire_days: i64,
    /// `--export-bucket-region`.
    pub region: Option<&'a str>,
    /// `--require-lock`.
    pub require_lock: bool,
    /// `--export-mode`.
    pub mode: ExportModeChoice,
    /// `--export-full-every`.
    pub full_every: &'a str,
    /// `--export-view`.
    pub view: ExportViewChoice,
}

/// `--export-full-every`: `7d` or `7`, 1 to 365 days.
pub fn full_every_days(text: &str) -> Option<u32> {
    text.trim()
        .strip_suffix('d')
        .unwrap_or(text.trim())
        .parse()
        .ok()
        .filter(|d| (1..=MAX_FULL_EVERY_DAYS).contains(d))
}

/// Validates the export flags (the bucket name itself is checked with the other bucket names),
/// every value given even while exports are off (they are recorded for when they are on);
/// `None` when exports are off.
pub fn validate(flags: ExportFlags<'_>) -> Result<Option<ExportConfig>, ExportConfigError> {
    let every = match flags.choice {
        ExportChoice::Off => None,
        ExportChoice::Daily => Some(ExportEvery::Daily),
        ExportChoice::Weekly => Some(ExportEvery::Weekly),
    };
    if let Some(owner) = flags.owner {
        if owner.len() != 12 || !owner.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ExportConfigError::Owner(owner.to_owned()));
        }
        if flags.bucket.is_none() {
            return Err(ExportConfigError::OwnerWithoutBucket);
        }
    }
    if let Some(region) = flags.region {
        let shaped = region.split('-').count() >= 3
            && region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !shaped {
            return Err(ExportConfigError::Region(region.to_owned()));
        }
        if flags.bucket.is_none() {
            return Err(ExportConfigError::RegionWithoutBucket);
        }
    }
    if flags.require_lock && flags.bucket.is_none() && flags.choice != ExportChoice::Off {
        return Err(ExportConfigError::LockWithoutBucket);
    }
    let days = |flag: &'static str, got: i64, min: u32| {
        u32::try_from(got)
            .ok()
            .filter(|d| (min..=36_500).contains(d))
            .ok_or(ExportConfigError::Days { flag, min, got })
    };
    let cold_days = days("export-cold-days", flags.cold_days, 0)?;
    let expire_days = days("export-expire-days", flags.expire_days, 1)?;
    let class = flags.cold_class;
    if cold_days < class.earliest_transition_day() {
        return Err(ExportConfigError::TooSoon {
            days: cold_days,
            class: class.flag_value(),
            earliest: class.earliest_transition_day(),
        });
    }
    let least = cold_days + class.minimum_storage_days();
    if expire_days < least {
        return Err(ExportConfigError::ExpiresTooSoon {
            expire: expire_days,
            kept: i64::from(expire_days) - i64::from(cold_days),
            class: class.flag_value(),
            minimum: class.minimum_storage_days(),
            least,
        });
    }
    let full_every_days = full_every_days(flags.full_every)
        .ok_or_else(|| ExportConfigError::FullEvery(flags.full_every.to_owned()))?;
    let mode = match flags.mode {
        ExportModeChoice::Full => ExportMode::Full,
        ExportModeChoice::Incremental => {
            if flags.choice == ExportChoice::Weekly {
                return Err(ExportConfigError::IncrementalWeekly);
            }
            // S3's lifecycle expires objects by age, not by chain: a chain's points restore
            // only while its full export is kept, so it must outlive the chain's last export.
            if expire_days <= full_every_days {
                return Err(ExportConfigError::ChainOutlivesItsFull {
                    expire: expire_days,
                    full_every: full_every_days,
                    least: full_every_days + 1,
                });
            }
            if matches!(class, ColdClass::Glacier | ColdClass::DeepArchive) {
                return Err(ExportConfigError::ChainArchived {
                    class: class.flag_value(),
                });
            }
            ExportMode::Incremental(ChainSettings {
                full_every_days,
                view: flags.view.view(),
            })
        }
    };
    let Some(every) = every else {
        return Ok(None);
    };
    Ok(Some(ExportConfig {
        every,
        mode,
        bucket: flags.bucket.map(str::to_owned),
        bucket_owner: flags.owner.map(str::to_owned),
        bucket_region: flags.region.map(str::to_owned),
        require_lock: flags.require_lock,
        tiers: Tiers {
            cold_days,
            cold_class: class,
            expire_days,
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(cold_days: i64, cold_class: ColdClass, expire_days: i64) -> ExportFlags<'static> {
        ExportFlags {
            choice: ExportChoice::Daily,
            bucket: None,
            owner: None,
            cold_days,
            cold_class,
            expire_days,
            region: None,
            require_lock: false,
            mode: ExportModeChoice::Full,
            full_every: "7d",
            view: ExportViewChoice::NewAndOld,
        }
    }

    #[test]
    fn the_defaults_are_valid_and_off_is_none_with_its_values_checked() {
        let config = validate(flags(30, ColdClass::GlacierIr, 365))
            .expect("valid")
            .expect("on");
        assert_eq!(config.every, ExportEvery::Daily);
        assert_eq!(
            config.tiers,
            Tiers {
                cold_days: 30,
                cold_class: ColdClass::GlacierIr,
                expire_days: 365
            }
        );
        let off = ExportFlags {
            choice: ExportChoice::Off,
            ..flags(30, ColdClass::GlacierIr, 365)
        };
        assert_eq!(validate(off), Ok(None));
        // Off, its values are still checked: they are recorded for when exports are on.
        let bad_while_off = ExportFlags {
            choice: ExportChoice::Off,
            ..flags(-5, ColdClass::GlacierIr, 0)
        };
        assert!(matches!(
            validate(bad_while_off),
            Err(ExportConfigError::Days { .. })
        ));
    }

    #[test]
    fn incremental_chains_are_daily_with_a_full_export_every_1_to_365_days() {
        let incremental = |choice, full_every| ExportFlags {
            choice,
            mode: ExportModeChoice::Incremental,
            full_every,
            view: ExportViewChoice::New,
            ..flags(30, ColdClass::GlacierIr, 365)
        };
        let config = validate(incremental(ExportChoice::Daily, "14d"))
            .expect("valid")
            .expect("on");
        assert_eq!(
            config.mode,
            ExportMode::Incremental(ChainSettings {
                full_every_days: 14,
                view: ExportView::New
            })
        );
        assert_eq!(
            validate(incremental(ExportChoice::Weekly, "7d")),
            Err(ExportConfigError::IncrementalWeekly)
        );
        for bad in ["0d", "366", "week", "-1d", ""] {
            assert_eq!(
                validate(incremental(ExportChoice::Daily, bad)),
                Err(ExportConfigError::FullEvery(bad.to_owned())),
                "{bad}"
            );
        }
        assert_eq!(full_every_days("7"), Some(7));
        // A chain's full export must outlive its incrementals, and stay readable.
        let short = ExportFlags {
            expire_days: 150,
            ..incremental(ExportChoice::Daily, "200d")
        };
        assert_eq!(
            validate(short),
            Err(ExportConfigError::ChainOutlivesItsFull {
                expire: 150,
                full_every: 200,
                least: 201
            })
        );
        let archived = ExportFlags {
            cold_class: ColdClass::DeepArchive,
            expire_days: 400,
            ..incremental(ExportChoice::Daily, "7d")
        };
        assert_eq!(
            validate(archived),
            Err(ExportConfigError::ChainArchived {
                class: "deep-archive"
            })
        );
        assert_eq!(full_every_days(" 365d "), Some(365));
    }

    #[test]
    fn transitions_follow_s3s_earliest_days() {
        // Standard-IA: day 30 at the soonest; the Glacier classes from day 0.
        assert!(matches!(
            validate(flags(29, ColdClass::StandardIa, 365)),
            Err(ExportConfigError::TooSoon { earliest: 30, .. })
        ));
        assert!(validate(flags(30, ColdClass::StandardIa, 365)).is_ok());
        assert!(validate(flags(0, ColdClass::GlacierIr, 90)).is_ok());
        assert!(validate(flags(0, ColdClass::DeepArchive, 180)).is_ok());
    }

    #[test]
    fn expiry_waits_out_each_classs_minimum_storage_duration() {
        for (class, minimum) in [
            (ColdClass::StandardIa, 30),
            (ColdClass::GlacierIr, 90),
            (ColdClass::Glacier, 90),
            (ColdClass::DeepArchive, 180),
        ] {
            let cold = 30;
            assert!(
                validate(flags(cold, class, cold + minimum)).is_ok(),
                "{class:?}"
            );
            let err = validate(flags(cold, class, cold + minimum - 1)).expect_err("too soon");
            let least = u32::try_from(cold + minimum).unwrap();
            assert!(
                matches!(err, ExportConfigError::ExpiresTooSoon { least: l, .. } if l == least),
                "{class:?}: {err}"
            );
            assert!(
                err.to_string()
                    .contains(&format!("--export-expire-days {least}"))
            );
        }
        // Expiring before the transition: refused the same way.
        assert!(validate(flags(100, ColdClass::GlacierIr, 50)).is_err());
    }

    #[test]
    fn bad_numbers_and_owners_are_refused() {
        assert!(matches!(
            validate(flags(-1, ColdClass::GlacierIr, 365)),
            Err(ExportConfigError::Days {
                flag: "export-cold-days",
                ..
            })
        ));
        assert!(matches!(
            validate(flags(30, ColdClass::GlacierIr, 0)),
            Err(ExportConfigError::Days {
                flag: "export-expire-days",
                ..
            })
        ));
        let owner = |owner, bucket| ExportFlags {
            owner: Some(owner),
            bucket,
            ..flags(30, ColdClass::GlacierIr, 365)
        };
        assert!(matches!(
            validate(owner("1234", Some("vault"))),
            Err(ExportConfigError::Owner(_))
        ));
        assert_eq!(
            validate(owner("210987654321", None)),
            Err(ExportConfigError::OwnerWithoutBucket)
        );
        let other = validate(owner("210987654321", Some("vault")))
            .expect("valid")
            .expect("on");
        assert_eq!(other.bucket.as_deref(), Some("vault"));
        assert_eq!(
            ColdClass::from_api_name("GLACIER_IR"),
            Some(ColdClass::GlacierIr)
        );
        assert_eq!(ColdClass::from_api_name("STANDARD"), None);
    }
}
