//! The AWS account the stack lives in: one SDK configuration and one client per service,
//! built once, and who we are there (account, region, partition).

use std::collections::HashMap;

use aws_config::Region;
use aws_sdk_sts::config::ProvideCredentials;
use aws_sdk_sts::config::interceptors::InterceptorContext;
use aws_sdk_sts::config::retry::{ClassifyRetry, RetryAction};
use aws_sdk_sts::error::SdkError;
use aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityOutput;
use backup_lambda::drill::{Drill, DrillSettings};
use backup_lambda::ownership::Ownership;
use backup_lambda::store::{DynamoDbBackups, S3Records};
use backup_lambda::tables::DynamoDbTables;
use thiserror::Error;

pub use backup_lambda::error::{AwsError, AwsResult, in_one_line, is_transient};

/// Error codes with which AWS refuses a change because another change to the same resource is
/// under way: nothing was applied, and the same request may be sent again. CloudWatch Logs'
/// `OperationAbortedException` ("Multiple concurrent requests to update the same resource were in
/// conflict"), S3's `OperationAborted` (409, also given while a just-deleted bucket's name is not
/// yet free) and IAM's `ConcurrentModification`.
const CONFLICT_CODES: [&str; 3] = [
    "OperationAbortedException",
    "OperationAborted",
    "ConcurrentModification",
];
/// The first pause before sending a conflicted change again; doubled up to [`CONFLICT_MAX_PAUSE`].
const CONFLICT_PAUSE: std::time::Duration = std::time::Duration::from_millis(500);
/// The longest pause between those tries.
const CONFLICT_MAX_PAUSE: std::time::Duration = std::time::Duration::from_secs(8);
/// How long a change is tried again before its conflict is reported.
const CONFLICT_PATIENCE: std::time::Duration = std::time::Duration::from_secs(180);

/// Runs `change` (an idempotent step: it may be run again from the start), again while AWS
/// answers one of [`CONFLICT_CODES`], for up to [`CONFLICT_PATIENCE`].
pub async fn retry_conflicts<F, Fut>(what: &str, change: F) -> Result<(), AwsError>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<(), AwsError>>,
{
    let started = tokio::time::Instant::now();
    let mut pause = CONFLICT_PAUSE;
    loop {
        match change().await {
            Err(err)
                if CONFLICT_CODES.iter().any(|c| err.is(c))
                    && started.elapsed() + pause < CONFLICT_PATIENCE =>
            {
                tracing::info!(resource = what, error = %err, "another change to it is under way; trying again");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(CONFLICT_MAX_PAUSE);
            }
            result => return result,
        }
    }
}

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
    /// `--endpoint-url` (or `AWS_ENDPOINT_URL`) is not an http(s) URL.
    #[error(
        "invalid --endpoint-url {0:?}: use an http:// or https:// URL with a host, e.g. http://127.0.0.1:5000"
    )]
    BadEndpoint(String),
    /// No region anywhere in the chain.
    #[error("no AWS region is set; pass --region (e.g. --region us-east-1) or set AWS_REGION")]
    NoRegion,
    /// No credentials anywhere in the chain.
    #[error(
        "no AWS credentials found ({0}); configure them with `aws configure` (or `aws sso login` for an SSO profile), AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    )]
    NoCredentials(String),
    /// AWS could not be reached.
    #[error("could not reach AWS in region {region} ({detail}); check the network and --region")]
    Unreachable {
        /// The region tried.
        region: String,
        /// The connection error.
        detail: String,
    },
    /// The endpoint given (`--endpoint-url`, `AWS_ENDPOINT_URL`) could not be reached.
    #[error(
        "could not reach the endpoint {endpoint} ({detail}); start the service that should answer there (e.g. moto) or fix --endpoint-url / AWS_ENDPOINT_URL"
    )]
    EndpointUnreachable {
        /// The endpoint tried.
        endpoint: String,
        /// The connection error.
        detail: String,
    },
    /// Credentials are expired or rejected.
    #[error(
        "AWS did not accept the credentials ({0}); renew or fix them (aws configure, AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY) and check --region"
    )]
    Identity(String),
}

/// Whether `text` is an `http://` or `https://` URL with a host (checked before any request:
/// the SDK would otherwise fail the first call with its request's debug dump).
fn is_http_url(text: &str) -> bool {
    let rest = text
        .strip_prefix("http://")
        .or_else(|| text.strip_prefix("https://"));
    rest.is_some_and(|rest| {
        let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
        !host.is_empty() && !host.starts_with(':') && !host.contains(char::is_whitespace)
    })
}

/// Asks STS who the credentials belong to: the first call, so a dead endpoint is told apart
/// from rejected credentials here (and, when the connection is refused, at once).
async fn caller_identity(
    sts: &aws_sdk_sts::Client,
    config: &aws_config::SdkConfig,
) -> Result<GetCallerIdentityOutput, ConnectError> {
    sts.get_caller_identity()
        .customize()
        .config_override(aws_sdk_sts::Config::builder().retry_classifier(RefusedIsFinal))
        .send()
        .await
        .map_err(|e| {
            let detail = AwsError::new("GetCallerIdentity", "", &e).detail;
            let unreachable = matches!(e, SdkError::DispatchFailure(_) | SdkError::TimeoutError(_));
            match config.endpoint_url() {
                Some(endpoint) if unreachable => ConnectError::EndpointUnreachable {
                    endpoint: endpoint.to_owned(),
                    detail,
                },
                None if unreachable => ConnectError::Unreachable {
                    region: config.region().map(ToString::to_string).unwrap_or_default(),
                    detail,
                },
                _ => ConnectError::Identity(detail),
            }
        })
}

/// Retry classifier for the first call: a refused connection is an answer, not a hiccup.
///
/// When nothing listens at the endpoint (an emulator that is not running, a wrong port in
/// `--endpoint-url`), the SDK's standard retries would spend ~15 s on backoff before saying so.
/// Nothing has been changed yet at that point, so the installer reports it at once. Every
/// later call keeps the standard retries, where riding out a brief outage is worth the wait.
#[derive(Debug)]
struct RefusedIsFinal;

impl ClassifyRetry for RefusedIsFinal {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        let refused = ctx
            .output_or_error()
            .and_then(Result::err)
            .and_then(|e| e.as_connector_error())
            .is_some_and(|e| is_refused(e));
        if refused {
            RetryAction::RetryForbidden
        } else {
            RetryAction::NoActionIndicated
        }
    }

    fn name(&self) -> &'static str {
        "RefusedIsFinal"
    }
}

/// Whether an I/O "connection refused" is anywhere in the error's chain of causes.
fn is_refused(error: &(dyn std::error::Error + 'static)) -> bool {
    std::iter::successors(Some(error), |e| e.source()).any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused)
    })
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
    /// SNS (the alert topic).
    pub sns: aws_sdk_sns::Client,
    /// EventBridge Scheduler (schedules in a time zone).
    pub scheduler: aws_sdk_scheduler::Client,
    /// CloudWatch (the alarms).
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    /// The configuration the clients were built from (credentials, endpoint).
    pub config: aws_config::SdkConfig,
    /// Calls go over TLS: false only for a plain `http://` endpoint (a local emulator).
    pub tls: bool,
    /// The regions of the buckets [`Aws::s3_for`] has found, by name.
    bucket_regions: std::sync::Arc<std::sync::Mutex<HashMap<String, String>>>,
    /// The S3 clients [`Aws::s3_in`] built for other regions, by region (each keeps its
    /// connections).
    regional_s3: std::sync::Arc<std::sync::Mutex<HashMap<String, aws_sdk_s3::Client>>>,
}

impl Aws {
    /// An S3 client for `region` (the stack's own client where it is `None`): a bucket in
    /// another region answers its configuration requests there only.
    pub fn s3_in(&self, region: Option<&str>) -> aws_sdk_s3::Client {
        match region {
            Some(region) if region != self.region => self
                .regional_s3
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .entry(region.to_owned())
                .or_insert_with(|| {
                    let config = aws_sdk_s3::config::Builder::from(&self.config)
                        .region(aws_config::Region::new(region.to_owned()))
                        .build();
                    aws_sdk_s3::Client::from_conf(config)
                })
                .clone(),
            _ => self.s3.clone(),
        }
    }

    /// An S3 client for `bucket`'s region, found once per bucket with HeadBucket (its
    /// `x-amz-bucket-region` header, which S3 sends on a 301 from another region's endpoint and
    /// on a 403 too): an export bucket may be in another region (`--export-bucket-region`),
    /// and an `s3://` location names none. Where the region cannot be told (no header, or the
    /// call did not reach S3), the stack's client, and the next call asks again.
    ///
    /// S3 API reference, GetBucketLocation: "calls to the HeadBucket operation always return
    /// the bucket's location through an HTTP response header, whether access to the bucket is
    /// authorized or not. Therefore, we recommend using the HeadBucket operation for bucket
    /// Region discovery".
    pub async fn s3_for(&self, bucket: &str) -> aws_sdk_s3::Client {
        let known = self
            .bucket_regions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(bucket)
            .cloned();
        let region = match known {
            Some(region) => region,
            None => {
                let header = match self.s3.head_bucket().bucket(bucket).send().await {
                    Ok(out) => out.bucket_region,
                    Err(SdkError::ServiceError(e)) => e
                        .raw()
                        .headers()
                        .get("x-amz-bucket-region")
                        .map(str::to_owned),
                    Err(_) => None,
                };
                let Some(region) = header else {
                    return self.s3.clone();
                };
                self.bucket_regions
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .insert(bucket.to_owned(), region.clone());
                region
            }
        };
        self.s3_in(Some(&region))
    }

    /// Loads the configuration, asks STS who we are, and builds the clients.
    pub async fn connect(args: &ConnectArgs) -> Result<Self, ConnectError> {
        if let Some(endpoint) = args.endpoint_url.as_deref().filter(|e| !is_http_url(e)) {
            return Err(ConnectError::BadEndpoint(endpoint.to_owned()));
        }
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
                .map_err(|e| ConnectError::NoCredentials(in_one_line(&e)))?;
        }
        let identity = caller_identity(&aws_sdk_sts::Client::new(&config), &config).await?;
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
            sns: aws_sdk_sns::Client::new(&config),
            scheduler: aws_sdk_scheduler::Client::new(&config),
            cloudwatch: aws_sdk_cloudwatch::Client::new(&config),
            tls: !config
                .endpoint_url()
                .is_some_and(|e| e.starts_with("http://")),
            config,
            bucket_regions: std::sync::Arc::default(),
            regional_s3: std::sync::Arc::default(),
        })
    }

    /// The drills of the stack whose state and records live in `bucket`, over these clients.
    pub fn drills(&self, bucket: &str, settings: DrillSettings, owner: Ownership) -> Drills {
        Drill::new(
            DynamoDbBackups::new(self.dynamodb.clone()),
            DynamoDbTables::new(self.dynamodb.clone()),
            S3Records::new(self.s3.clone()),
            bucket,
            settings,
            owner,
        )
    }
}

/// A stack's drills over AWS.
pub type Drills = Drill<DynamoDbBackups, DynamoDbTables, S3Records>;

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sts::config::interceptors::BeforeTransmitInterceptorContextRef;
    use aws_sdk_sts::config::retry::RetryConfig;
    use aws_sdk_sts::config::{ConfigBag, Credentials, Intercept, RuntimeComponents};
    use aws_sdk_sts::error::BoxError;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[test]
    fn an_endpoint_is_an_http_url_with_a_host() {
        for good in [
            "http://127.0.0.1:5000",
            "https://dynamodb.eu-west-1.amazonaws.com",
            "http://localhost:4566/",
        ] {
            assert!(is_http_url(good), "{good}");
        }
        for bad in [
            "not-a-url",
            "127.0.0.1:5000",
            "http://",
            "http://:5000",
            "ftp://x",
            "http://a b",
        ] {
            assert!(!is_http_url(bad), "{bad}");
        }
    }

    /// Counts the attempts the SDK makes (the first and each retry).
    #[derive(Debug, Clone, Default)]
    struct CountAttempts(Arc<AtomicUsize>);

    impl Intercept for CountAttempts {
        fn name(&self) -> &'static str {
            "CountAttempts"
        }

        fn read_before_attempt(
            &self,
            _context: &BeforeTransmitInterceptorContextRef<'_>,
            _components: &RuntimeComponents,
            _cfg: &mut ConfigBag,
        ) -> Result<(), BoxError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    }

    /// An STS client for `endpoint` that may make 6 attempts with millisecond backoff, and the
    /// count of the attempts it makes.
    async fn sts_at(endpoint: &str) -> (aws_sdk_sts::Client, aws_config::SdkConfig, CountAttempts) {
        let config = backup_lambda::sdk::config_loader()
            .region(Region::new("us-east-1"))
            .endpoint_url(endpoint)
            .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(6)
                    .with_initial_backoff(Duration::from_millis(1))
                    .with_max_backoff(Duration::from_millis(2)),
            )
            .load()
            .await;
        let attempts = CountAttempts::default();
        let sts = aws_sdk_sts::Client::from_conf(
            aws_sdk_sts::config::Builder::from(&config)
                .interceptor(attempts.clone())
                .build(),
        );
        (sts, config, attempts)
    }

    #[tokio::test]
    async fn a_refused_connection_is_reported_after_one_attempt() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let endpoint = format!("http://127.0.0.1:{port}");
        let (sts, config, attempts) = sts_at(&endpoint).await;
        let err = caller_identity(&sts, &config).await.unwrap_err();
        assert!(
            matches!(&err, ConnectError::EndpointUnreachable { endpoint: e, .. } if *e == endpoint),
            "{err}"
        );
        assert!(err.to_string().contains("Connection refused"), "{err}");
        assert_eq!(attempts.0.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_connection_dropped_by_the_server_is_still_retried() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
        let port = listener.local_addr().expect("address").port();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                drop(stream);
            }
        });
        let (sts, config, attempts) = sts_at(&format!("http://127.0.0.1:{port}")).await;
        let err = caller_identity(&sts, &config).await.unwrap_err();
        assert!(
            matches!(err, ConnectError::EndpointUnreachable { .. }),
            "{err}"
        );
        assert_eq!(attempts.0.load(Ordering::SeqCst), 6);
    }

    #[test]
    fn refusal_is_found_anywhere_in_the_causes() {
        #[derive(Debug, thiserror::Error)]
        #[error("client error (Connect)")]
        struct Wrapper(#[source] std::io::Error);
        let refused = Wrapper(std::io::ErrorKind::ConnectionRefused.into());
        let reset = Wrapper(std::io::ErrorKind::ConnectionReset.into());
        assert!(is_refused(&refused));
        assert!(!is_refused(&reset));
    }
}
