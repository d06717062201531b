//! How the function talks to AWS: one shared SDK configuration, with rustls on ring for TLS
//! (no aws-lc, which keeps the binary small and the build free of C toolchains).

use aws_config::{BehaviorVersion, ConfigLoader};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};

/// The SDK configuration loader, with the standard credential chain, region and
/// `AWS_ENDPOINT_URL` handling, and this crate's HTTP client.
pub fn config_loader() -> ConfigLoader {
    let https = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    aws_config::defaults(BehaviorVersion::latest()).http_client(https)
}
