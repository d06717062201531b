//! Direct SDK clients for inspecting what a command left in moto.

use test_support::moto_config;

/// One client per service the stack uses, straight to moto (not through any proxy).
pub struct Clients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub events: aws_sdk_eventbridge::Client,
    pub iam: aws_sdk_iam::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub s3: aws_sdk_s3::Client,
}

/// Clients for moto.
pub async fn clients() -> Clients {
    let config = moto_config().await;
    Clients {
        dynamodb: aws_sdk_dynamodb::Client::new(&config),
        events: aws_sdk_eventbridge::Client::new(&config),
        iam: aws_sdk_iam::Client::new(&config),
        lambda: aws_sdk_lambda::Client::new(&config),
        logs: aws_sdk_cloudwatchlogs::Client::new(&config),
        s3: aws_sdk_s3::Client::new(&config),
    }
}
