//! How the function talks to AWS: one shared SDK configuration, with rustls on ring for TLS
//! (no aws-lc, which keeps the binary small and the build free of C toolchains).

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, ConfigLoader};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};

/// Attempts per call (the first and its retries) when `AWS_MAX_ATTEMPTS` does not say.
///
/// The SDK's standard mode retries throttling, 5xx, timeouts and lost connections with
/// jittered exponential backoff (1 s base, 20 s cap) and a retry budget per client. Its default
/// of 3 attempts fails a call when a busy service throttles it three times running; 6 makes that
/// far less likely (a call fails only if all 6 do) while bounding how long a dead endpoint takes
/// to report. Calls that are not safe to repeat blindly (CreateBackup, AddPermission) turn the
/// SDK's retries off and check before trying again.
pub const MAX_ATTEMPTS: u32 = 6;

/// The SDK configuration loader, with the standard credential chain, region and
/// `AWS_ENDPOINT_URL` handling, standard-mode retries ([`MAX_ATTEMPTS`], unless the standard
/// `AWS_MAX_ATTEMPTS` / `AWS_RETRY_MODE` variables choose), and this crate's HTTP client.
pub fn config_loader() -> ConfigLoader {
    let https = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let loader = aws_config::defaults(BehaviorVersion::latest()).http_client(https);
    let chosen = ["AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE"]
        .iter()
        .any(|v| std::env::var_os(v).is_some());
    if chosen {
        loader
    } else {
        loader.retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
    }
}
