//! `installer rollback`: undoing the writes of a window in the live table, as AWS's developer
//! guide describes ("In-place rollback", bp-pitr-recovery-inplace-rollback): an incremental export
//! of the window with old and new images, then each changed item written back as it was at the
//! window's start.
//!
//! | where | what |
//! | --- | --- |
//! | `window` | the window checked (forward, at least 15 minutes, inside point-in-time recovery) and cut into exports of at most 24 hours |
//! | `exports` | the incremental exports started (once, by ClientToken), waited for, and streamed by their manifests |
//! | `journal` | what a rollback keeps between runs: the window's end it resolved, the backup it made first |
//! | `changes` | each key's change, joined across exports, and what to do given the item now (pure) |
//! | `writes` | the conditional, paced writes that never overwrite a later write |

pub mod changes;
pub mod exports;
pub mod journal;
pub mod window;
pub mod writes;

use backup_lambda::error::AwsError;

/// Why a rollback could not be done (before any write, unless it says otherwise).
#[derive(Debug, thiserror::Error)]
pub enum RollbackError {
    /// The window cannot be exported.
    #[error(transparent)]
    Window(#[from] window::WindowError),
    /// The table keeps no point-in-time history.
    #[error(
        "table {0} has point-in-time recovery off, and a rollback reads its history: turn it on (`installer up --pitr-days 35`); it covers writes from then on"
    )]
    PitrOff(String),
    /// An export ended in failure.
    #[error("the incremental export {export} failed ({why}); nothing was written")]
    ExportFailed {
        /// The export.
        export: String,
        /// DynamoDB's failure code and message.
        why: String,
    },
    /// An export did not end in time.
    #[error(
        "the incremental export {0} has not ended after 6 hours; nothing was written: run the same command again later to pick it up"
    )]
    ExportSlow(String),
    /// An export's files could not be read.
    #[error("{0}; nothing was written")]
    Export(#[from] crate::export_files::ExportFilesError),
    /// No terminal to confirm on, and no `--yes`.
    #[error(
        "rollback writes to the live table and needs confirmation: pass --yes to confirm without a terminal, or --dry-run to only look"
    )]
    NeedsYes,
    /// The user said no.
    #[error("rollback cancelled; nothing was written")]
    Cancelled,
    /// A call to AWS failed.
    #[error(transparent)]
    Aws(#[from] AwsError),
}

impl RollbackError {
    /// Whether this is a usage error (found before any AWS call).
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            RollbackError::NeedsYes
                | RollbackError::Window(
                    window::WindowError::Reversed { .. } | window::WindowError::TooShort { .. }
                )
        )
    }
}
