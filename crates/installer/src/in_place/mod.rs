//! `installer restore --in-place`: a table swapped for its backup under its own name. Every
//! restore makes a new table, so the table is backed up first, its settings read, deleted,
//! restored into its name, given its settings back and verified.
//!
//! | where | what |
//! | --- | --- |
//! | `settings` | what a restore drops, read before the delete and put back after |
//! | here | the journal a run keeps in the stack's bucket, and why a swap is refused |
//!
//! The journal, `restores/<table>/in-place.json`, is written before the first change (with the
//! backup chosen and the settings read), again with the name of the backup made first, before
//! it is asked for, and once more when the swap is done; the same command run again after an
//! interruption anywhere reads it and goes on from where the table is (DescribeTable: the
//! original, told by its identity; going or gone; or the restore of the journal's backup, told
//! by its `RestoreSummary`). After a finished swap, the same command only checks the table
//! again; naming a backup (`--backup`) starts a new swap.

pub mod settings;

use backup_lambda::error::AwsError;
use backup_lambda::restore::ChoiceError;
use serde::{Deserialize, Serialize};

pub use settings::{TableSettings, Unswappable};

/// Where the journal of `table`'s in-place restore is kept.
pub fn journal_key(table: &str) -> String {
    format!("restores/{table}/in-place.json")
}

/// What an in-place restore keeps between runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journal {
    /// The backup put in the table's place.
    pub backup_name: String,
    /// Its ARN.
    pub backup_arn: String,
    /// The table's settings, read before it was deleted.
    pub settings: TableSettings,
    /// The backup of the table made first, named before it is asked for (a run that goes on
    /// finds it listed, or makes it; one going on more than five minutes later makes another).
    #[serde(default)]
    pub backup_before: Option<String>,
    /// When the first run began (RFC 3339).
    pub started_at: String,
    /// When it finished (RFC 3339): the journal stays, so that the same command run again (its
    /// answer lost, say) finds the table already swapped and reports it, instead of swapping it
    /// for the newest backup, which is the one it made first.
    #[serde(default)]
    pub finished_at: Option<String>,
    /// What the check of the restored table found, once finished.
    #[serde(default)]
    pub verification: Option<backup_lambda::restore::Verification>,
}

/// Why an in-place restore was refused or stopped.
#[derive(Debug, thiserror::Error)]
pub enum InPlaceError {
    /// There is no table to swap.
    #[error(
        "table {0} does not exist, so there is nothing to restore in place: restore its backup into a new table (`installer restore --table {0} --to <name>`)"
    )]
    Missing(String),
    /// The table cannot be swapped.
    #[error(transparent)]
    Unswappable(#[from] Unswappable),
    /// Deletion protection is on.
    #[error(
        "table {0} has deletion protection on: pass --disable-deletion-protection to turn it off for the swap (it is turned on again on the restored table); nothing was changed"
    )]
    Protected(String),
    /// No backup to restore.
    #[error(transparent)]
    Choice(#[from] ChoiceError),
    /// A run under way restores another backup.
    #[error(
        "an in-place restore of {table} from {backup} is under way: run the command again with --backup {backup} (or without --backup) to finish it"
    )]
    OtherBackup {
        /// The table.
        table: String,
        /// The journal's backup.
        backup: String,
    },
    /// A table of the name that is neither the one this restore began with nor its restore.
    #[error(
        "table {table} is not the table the in-place restore from {backup} began with, nor its restore (it was made since): nothing was changed; delete the journal s3://{bucket}/{key} once you have sorted it out"
    )]
    Recreated {
        /// The table.
        table: String,
        /// The journal's backup.
        backup: String,
        /// The stack's bucket.
        bucket: String,
        /// The journal's key.
        key: String,
    },
    /// The journal cannot be read.
    #[error(
        "the in-place restore's journal {uri} cannot be read ({error}): nothing was changed; look at the table and the journal, and delete the journal to start over"
    )]
    UnreadableJournal {
        /// Where it is.
        uri: String,
        /// Why it does not parse.
        error: String,
    },
    /// The backup to restore is gone.
    #[error(
        "the backup {0} is gone (deleted since the swap began?): nothing was deleted; run the command again with another --backup, or delete the journal to start over"
    )]
    BackupGone(String),
    /// The restore into the table's name was refused, after the table was deleted.
    #[error(
        "restoring {backup} into {table} was refused after {table} was deleted ({error}): {before} holds the table as it was; restore it under the name with `installer restore --stack {stack} --table {table} --to {table} --backup {before}`"
    )]
    RestoreFailed {
        /// The table.
        table: String,
        /// The stack.
        stack: String,
        /// The backup that could not be restored.
        backup: String,
        /// The backup made first.
        before: String,
        /// DynamoDB's answer.
        error: String,
    },
    /// A flag of `--in-place` without it (clap counts a flag's default as given to `requires`).
    #[error("{0} is for --in-place only: add --in-place, or leave {0} out")]
    OnlyInPlace(&'static str),
    /// The stack's bucket, where the journal is kept, does not exist.
    #[error(
        "an in-place restore keeps its journal in the stack's bucket, and s3://{bucket} does not exist: deploy the stack first (`installer up --stack {stack}`), or name the stack that backs the table up with --stack; nothing was changed"
    )]
    NoBucket {
        /// The bucket.
        bucket: String,
        /// The stack.
        stack: String,
    },
    /// No terminal to confirm on, and no `--yes`.
    #[error(
        "restore --in-place deletes the table and needs confirmation: pass --yes to confirm without a terminal"
    )]
    NeedsYes,
    /// The user did not type the table's name.
    #[error("in-place restore cancelled; nothing was changed")]
    Cancelled,
    /// A call to AWS failed.
    #[error(transparent)]
    Aws(#[from] AwsError),
}

impl InPlaceError {
    /// Whether this is a usage error (found before any AWS call).
    pub fn is_usage(&self) -> bool {
        matches!(self, InPlaceError::NeedsYes | InPlaceError::OnlyInPlace(_))
    }
}
