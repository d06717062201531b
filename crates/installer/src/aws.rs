//! The AWS account the stack lives in: one SDK configuration and one client per service,
//! built once, and who we are there (account, region, partition).

use aws_config::Region;
use aws_sdk_sts::config::ProvideCredentials;
use aws_sdk_sts::error::SdkError;
use thiserror::Error;

pub use backup_lambda::store::{AwsError, is_transient};

/// Where to connect: the standard chain, with these overrides.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ConnectArgs {
    /// AWS region [default: from the environment or profile].
    #[arg(long, global = true, env = "AWS_REGION")]
    pub region: Option<String>,
    /// Named profile from ~/.aws/config.
    #[arg(long, global = true, env = "AWS_PROFILE")]
    pub profile: Option<String>,
    /// Send every AWS call to this endpoint (a local emulator such as moto).
    #[arg(long, global = true, env = "AWS_ENDPOINT_URL")]
    pub endpoint_url: Option<String>,
}

/// Why the account could not be reached.
#[derive(Debug, Error)]
pub enum ConnectError {
    /// No region anywhere in the chain.
    #[error("no AWS region is set; pass --region (e.g. --region us-east-1) or set AWS_REGION")]
    NoRegion,
    /// No credentials anywhere in the chain.
    #[error(
        "no AWS credentials found ({0}); configure them with `aws configure`, AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    )]
    NoCredentials(String),
    /// AWS (or the endpoint given) could not be reached.
    #[error(
        "could not reach AWS in region {region} ({detail}); check the network, --region and --endpoint-url"
    )]
    Unreachable {
        /// The region tried.
        region: String,
        /// The connection error.
        detail: String,
    },
    /// Credentials are expired or rejected.
    #[error(
        "AWS did not accept the credentials ({0}); renew or fix them (aws configure, AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY) and check --region"
    )]
    Identity(String),
}

/// Clients for every service the stack uses, and the identity they act as.
#[derive(Debug, Clone)]
pub struct Aws {
    /// The 12-digit account id.
    pub account: String,
    /// The region.
    pub region: String,
    /// The partition (`aws`, `aws-cn`, `aws-us-gov`).
    pub partition: String,
    /// CloudWatch Logs.
    pub logs: aws_sdk_cloudwatchlogs::Client,
    /// DynamoDB.
    pub dynamodb: aws_sdk_dynamodb::Client,
    /// EventBridge.
    pub events: aws_sdk_eventbridge::Client,
    /// IAM.
    pub iam: aws_sdk_iam::Client,
    /// Lambda.
    pub lambda: aws_sdk_lambda::Client,
    /// S3.
    pub s3: aws_sdk_s3::Client,
    /// The configuration the clients were built from (credentials, endpoint).
    pub config: aws_config::SdkConfig,
    /// Calls go over TLS: false only for a plain `http://` endpoint (a local emulator).
    pub tls: bool,
}

impl Aws {
    /// Loads the configuration, asks STS who we are, and builds the clients.
    pub async fn connect(args: &ConnectArgs) -> Result<Self, ConnectError> {
        let mut loader = backup_lambda::sdk::config_loader();
        if let Some(region) = &args.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(profile) = &args.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(endpoint) = &args.endpoint_url {
            loader = loader.endpoint_url(endpoint);
        }
        let config = loader.load().await;
        let region = config
            .region()
            .map(ToString::to_string)
            .ok_or(ConnectError::NoRegion)?;
        if let Some(provider) = config.credentials_provider() {
            provider
                .provide_credentials()
                .await
                .map_err(|e| ConnectError::NoCredentials(e.to_string()))?;
        }
        let identity = aws_sdk_sts::Client::new(&config)
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| {
                let detail = AwsError::new("GetCallerIdentity", "", &e).detail;
                match e {
                    SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => {
                        ConnectError::Unreachable {
                            region: region.clone(),
                            detail,
                        }
                    }
                    _ => ConnectError::Identity(detail),
                }
            })?;
        let account = identity
            .account()
            .ok_or_else(|| ConnectError::Identity("STS returned no account".to_owned()))?
            .to_owned();
        let partition = identity
            .arn()
            .and_then(|arn| arn.split(':').nth(1))
            .unwrap_or("aws")
            .to_owned();
        Ok(Self {
            account,
            region,
            partition,
            logs: aws_sdk_cloudwatchlogs::Client::new(&config),
            dynamodb: aws_sdk_dynamodb::Client::new(&config),
            events: aws_sdk_eventbridge::Client::new(&config),
            iam: aws_sdk_iam::Client::new(&config),
            lambda: aws_sdk_lambda::Client::new(&config),
            s3: aws_sdk_s3::Client::new(&config),
            tls: !config
                .endpoint_url()
                .is_some_and(|e| e.starts_with("http://")),
            config,
        })
    }
}
