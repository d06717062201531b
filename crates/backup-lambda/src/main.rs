//! The Lambda entry point (`bootstrap`): builds the AWS clients once, then serves invocations.

use backup_lambda::request::Settings;
use backup_lambda::run::{BackupFunction, RunError};
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
    let settings = Settings::from_env()?;

    let config = backup_lambda::sdk::config_loader().load().await;
    let function = BackupFunction::new(
        DynamoDbBackups::new(aws_sdk_dynamodb::Client::new(&config)),
        S3Records::new(aws_sdk_s3::Client::new(&config)),
        settings,
    );
    let function = &function;

    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        function
            .handle(
                &event.payload,
                &event.context.request_id,
                OffsetDateTime::now_utc(),
            )
            .await
            .map_err(Failure)
    }))
    .await
}
