//! Helpers for integration tests that run against moto's server (`MOTO_ENDPOINT`, which
//! `make test` sets after starting it on a free 127.0.0.1 port).

use std::sync::atomic::{AtomicU32, Ordering};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};

/// moto's endpoint; panics with the way to get one when it is not set.
pub fn moto_endpoint() -> String {
    std::env::var("MOTO_ENDPOINT")
        .expect("MOTO_ENDPOINT is not set: run the tests with `make test`, which starts moto")
}

/// SDK configuration for moto: its endpoint, us-east-1, and dummy credentials.
pub async fn moto_config() -> SdkConfig {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .endpoint_url(moto_endpoint())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
        .load()
        .await
}

/// A name that no other test sharing this moto server uses: `<prefix>-<pid>-<n>`.
pub fn unique_name(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{}-{n}", std::process::id())
}

/// Creates a table shaped like the tutorial's `Movies`: `year` (N) hash key, `title` (S) range
/// key, on-demand billing.
pub async fn create_movies_table(db: &aws_sdk_dynamodb::Client, name: &str) {
    let attribute = |name: &str, kind| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(kind)
            .build()
            .expect("attribute name and type are set")
    };
    let key = |name: &str, kind| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .expect("key name and type are set")
    };
    db.create_table()
        .table_name(name)
        .attribute_definitions(attribute("year", ScalarAttributeType::N))
        .attribute_definitions(attribute("title", ScalarAttributeType::S))
        .key_schema(key("year", KeyType::Hash))
        .key_schema(key("title", KeyType::Range))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create table {name} in moto: {e:?}"));
}
