//! Why a run failed: reported to Lambda as a failed invocation, named by
//! [`RunError::error_type`].

use thiserror::Error;

use crate::error::AwsError;
use crate::request::RequestError;

/// Why a run failed. A failed run is reported to Lambda as a failed invocation.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RunError {
    /// The function's environment is invalid, so no event can be served.
    #[error("the function's environment is invalid: {0}; fix it in the function's configuration")]
    InvalidEnvironment(RequestError),
    /// The event was rejected before any AWS call.
    #[error(transparent)]
    InvalidEvent(#[from] RequestError),
    /// The backup could not be made; nothing was changed.
    #[error("could not back up table {table:?}: {source}")]
    CreateBackup {
        /// The table.
        table: String,
        /// The AWS error.
        source: AwsError,
    },
    /// A table of a run over a tag whose turn came too close to the deadline: left for the
    /// next run, and a failure so that it shows.
    #[error("no time left in this invocation to back up table {table:?}; the next run backs it up")]
    NoTimeLeft {
        /// The table.
        table: String,
    },
    /// The tables a tag selects could not be found.
    #[error("could not find the tables tagged {tag}: {source}")]
    Discover {
        /// The tag, `key=value`.
        tag: String,
        /// The AWS error.
        source: AwsError,
    },
    /// Some of the tables a tag selects could not be backed up (the others were).
    #[error("{failed} of the {selected} tables tagged {tag} could not be backed up: {first}")]
    Tables {
        /// The tag, `key=value`.
        tag: String,
        /// Tables that failed.
        failed: usize,
        /// Tables selected.
        selected: usize,
        /// The first failure, in one line.
        first: String,
    },
    /// The backup was made but the table's backups could not be listed, so none were deleted.
    #[error(
        "backed up table {table:?} as {backup:?} but could not list its backups to prune them: {source}"
    )]
    ListBackups {
        /// The table.
        table: String,
        /// The backup this run made.
        backup: String,
        /// The AWS error.
        source: AwsError,
    },
}

impl RunError {
    /// A short category for Lambda's `errorType`.
    pub fn error_type(&self) -> String {
        match self {
            RunError::InvalidEnvironment(_) => "InvalidEnvironment".to_owned(),
            RunError::InvalidEvent(_) => "InvalidEvent".to_owned(),
            RunError::Discover { source, .. } => source
                .code
                .clone()
                .unwrap_or_else(|| format!("{}Failed", source.operation)),
            RunError::Tables { .. } => "TablesFailed".to_owned(),
            RunError::NoTimeLeft { .. } => "NoTimeLeft".to_owned(),
            RunError::CreateBackup { source, .. } | RunError::ListBackups { source, .. } => source
                .code
                .clone()
                .unwrap_or_else(|| format!("{}Failed", source.operation)),
        }
    }
}
