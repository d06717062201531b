//! A failed AWS call as one line, shared by the function and the installer: [`AwsError`], how
//! an SDK error becomes one ([`AwsResult::aws`]), and which failures are worth another try
//! ([`is_transient`]).

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use thiserror::Error;

/// A failed AWS call, in one line, with the service's error code where there is one.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{operation} {target} failed: {detail}")]
pub struct AwsError {
    /// The API operation, e.g. `CreateBackup`.
    pub operation: &'static str,
    /// What it was called on (a table, an ARN, a resource name).
    pub target: String,
    /// The service's error code, e.g. `TableNotFoundException`.
    pub code: Option<String>,
    /// What went wrong, in one line.
    pub detail: String,
}

impl AwsError {
    /// Describes an SDK error from calling `operation` on `target`: `code: message` for a
    /// service error, the whole cause chain otherwise (timeouts, connection failures, ...).
    pub fn new<E>(operation: &'static str, target: impl Into<String>, err: &E) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error,
    {
        let detail = match (err.code(), err.message()) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            (Some(code), None) => code.to_owned(),
            _ => one_line(&causes(err)),
        };
        Self {
            operation,
            target: target.into(),
            code: err.code().map(str::to_owned),
            detail,
        }
    }

    /// An answer that broke the API's own contract, or a request that could not be built.
    pub fn malformed(operation: &'static str, target: impl Into<String>, detail: &str) -> Self {
        Self {
            operation,
            target: target.into(),
            code: None,
            detail: detail.to_owned(),
        }
    }

    /// Whether the service answered with this error code.
    pub fn is(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }

    /// Whether the service refused the call for its rate ([`THROTTLING_CODES`]), after the
    /// SDK's own retries: worth slowing down and asking again.
    pub fn is_throttling(&self) -> bool {
        self.code
            .as_deref()
            .is_some_and(|code| THROTTLING_CODES.contains(&code))
    }
}

/// Error codes AWS gives for a call past a rate or a table's throughput.
const THROTTLING_CODES: [&str; 6] = [
    "ThrottlingException",
    "Throttling",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "LimitExceededException",
    "ProvisionedThroughputExceededException",
];

/// An error and its sources, each once, joined with ": " (without the Debug dumps that
/// `DisplayErrorContext` adds).
fn causes(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let line = cause.to_string();
        if !text.contains(&line) {
            text.push_str(": ");
            text.push_str(&line);
        }
        source = cause.source();
    }
    text
}

/// An error and its causes, in one line of at most 300 characters.
pub fn in_one_line(err: &dyn std::error::Error) -> String {
    one_line(&causes(err))
}

/// Folds a multi-line error chain into one line of at most 300 characters.
fn one_line(text: &str) -> String {
    let folded = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match folded.char_indices().nth(300) {
        Some((cut, _)) => format!("{}…", &folded[..cut]),
        None => folded,
    }
}

/// Turns an SDK result into one with an [`AwsError`] naming the operation and its target:
/// `client.get_role().role_name(name).send().await.aws("GetRole", name)?`.
pub trait AwsResult<T> {
    /// The result, its error described as [`AwsError::new`] does.
    fn aws(self, operation: &'static str, target: impl Into<String>) -> Result<T, AwsError>;
}

impl<T, E> AwsResult<T> for Result<T, E>
where
    E: ProvideErrorMetadata + std::error::Error,
{
    fn aws(self, operation: &'static str, target: impl Into<String>) -> Result<T, AwsError> {
        self.map_err(|e| AwsError::new(operation, target, &e))
    }
}

/// Error codes AWS gives for passing trouble on its side (with [`THROTTLING_CODES`]).
const SERVER_CODES: [&str; 2] = ["InternalServerError", "ServiceUnavailable"];

/// Whether a failed call may succeed if made again: throttling, a 5xx, a timeout, a failed
/// connection or a response that never arrived whole.
pub fn is_transient<E: ProvideErrorMetadata>(err: &SdkError<E>) -> bool {
    match err {
        SdkError::ServiceError(ctx) => {
            ctx.raw().status().as_u16() >= 500
                || ctx
                    .err()
                    .code()
                    .is_some_and(|c| THROTTLING_CODES.contains(&c) || SERVER_CODES.contains(&c))
        }
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) | SdkError::ResponseError(_) => {
            true
        }
        _ => false,
    }
}
