//! The Lambda entry point (`bootstrap`): builds the AWS clients once, then serves invocations.

use backup_lambda::request::Settings;
use std::time::SystemTime;

use backup_lambda::run::{BackupFunction, Invocation, RunError};
use backup_lambda::store::{DynamoDbBackups, S3Records};
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde_json::Value;
use time::OffsetDateTime;

/// Lambda's view of a failed run: `errorType` is the AWS error code or `InvalidEvent`.
#[derive(Debug)]
struct Failure(RunError);

impl From<Failure> for Diagnostic {
    fn from(Failure(err): Failure) -> Self {
        Diagnostic {
            error_type: err.error_type(),
            error_message: err.to_string(),
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    backup_lambda::logging::init();
    match Settings::from_env() {
        Ok(settings) => serve(settings).await,
        // Keep serving, failing every invocation with the reason, so that the misconfiguration
        // shows in each invocation's error and log instead of as a crash loop.
        Err(invalid) => {
            tracing::error!(error = %invalid, "invalid environment");
            lambda_runtime::run(service_fn(move |_: LambdaEvent<Value>| {
                let err = RunError::InvalidEnvironment(invalid.clone());
                async move { Err::<Value, _>(Failure(err)) }
            }))
            .await
        }
    }
}

/// Builds the AWS clients once and serves invocations with them.
async fn serve(settings: Settings) -> Result<(), lambda_runtime::Error> {
    let config = backup_lambda::sdk::config_loader().load().await;
    let function = BackupFunction::new(
        DynamoDbBackups::new(aws_sdk_dynamodb::Client::new(&config)),
        S3Records::new(aws_sdk_s3::Client::new(&config)),
        settings,
    );
    let function = &function;

    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let remaining = event
            .context
            .deadline()
            .duration_since(SystemTime::now())
            .unwrap_or_default();
        let invocation = Invocation::new(&event.context.request_id, OffsetDateTime::now_utc())
            .with_deadline(tokio::time::Instant::now() + remaining);
        function
            .handle(&event.payload, &invocation)
            .await
            .map_err(Failure)
    }))
    .await
}
