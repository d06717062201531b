//! The Lambda entry point (`bootstrap`): builds the AWS ports once, then hands each invocation
//! to [`Handler`].

use std::time::SystemTime;

use backup_lambda::continuer::LambdaContinuer;
use backup_lambda::handler::{Failure, Handler};
use backup_lambda::request::Settings;
use backup_lambda::run::{Invocation, RunError};
use backup_lambda::store::{DynamoDbBackups, S3Records};
use backup_lambda::tables::DynamoDbTables;
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;
use time::OffsetDateTime;

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
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    // Lambda names the function in its environment; the metrics' `Stack` dimension.
    let stack = std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_default();
    let mut records = S3Records::new(aws_sdk_s3::Client::new(&config));
    if let Some(export) = &settings.export
        && let Some(region) = &export.bucket_region
        && config.region().is_none_or(|own| own.as_ref() != region)
    {
        let there = aws_sdk_s3::config::Builder::from(&config)
            .region(aws_config::Region::new(region.clone()))
            .build();
        records = records.with_bucket_in(&export.bucket, aws_sdk_s3::Client::from_conf(there));
    }
    let handler = Handler::new(
        DynamoDbBackups::new(dynamodb.clone()),
        DynamoDbTables::new(dynamodb),
        records,
        settings,
        &stack,
    )
    .continuing_with(LambdaContinuer::new(
        aws_sdk_lambda::Client::new(&config),
        &stack,
    ));
    let handler = &handler;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let remaining = event
            .context
            .deadline()
            .duration_since(SystemTime::now())
            .unwrap_or_default();
        let invocation = Invocation::new(&event.context.request_id, OffsetDateTime::now_utc())
            .with_deadline(tokio::time::Instant::now() + remaining);
        // Boxed: the handler's future nests every step's, deeper than rustc lays out by
        // default inside the runtime's.
        Box::pin(handler.handle(&event.payload, &invocation)).await
    }))
    .await
}
