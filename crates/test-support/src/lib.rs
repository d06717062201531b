//! Helpers for integration tests that run against moto's server (`MOTO_ENDPOINT`, which
//! `make test` sets after starting it on a free 127.0.0.1 port).
//!
//! Code under test talks to AWS through [`aws_endpoint`]: a [strict](strict) proxy in front of
//! moto that answers as AWS documents. Tests inspect what the code left behind with clients
//! straight to moto ([`moto_config`]).

#![warn(missing_docs)]

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

pub mod proxy;
pub mod strict;

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

/// The endpoint code under test should use: this test process's strict proxy in front of moto
/// (started on first use), so that moto behaves as AWS documents.
pub fn aws_endpoint() -> String {
    strict_proxy().endpoint().to_owned()
}

/// This test process's strict proxy (started on first use): its endpoint is [`aws_endpoint`];
/// its [history](proxy::Proxy::history) is where a test sets a table's clock back.
pub fn strict_proxy() -> &'static proxy::Proxy {
    static STRICT: OnceLock<proxy::Proxy> = OnceLock::new();
    STRICT.get_or_init(|| proxy::Proxy::start(&moto_endpoint(), None))
}

/// SDK configuration for code under test: [`aws_endpoint`], us-east-1, dummy credentials.
pub async fn strict_config() -> SdkConfig {
    config_for(&aws_endpoint()).await
}

/// SDK configuration for moto itself: its endpoint, us-east-1, and dummy credentials. For
/// setting up and inspecting; code under test uses [`strict_config`].
pub async fn moto_config() -> SdkConfig {
    config_for(&moto_endpoint()).await
}

/// SDK configuration for `endpoint`: us-east-1, and dummy credentials.
pub async fn config_for(endpoint: &str) -> SdkConfig {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .endpoint_url(endpoint)
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

/// One API call moto's request recorder saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedCall {
    /// The operation (`CreateRole`, `DescribeTable`, ...) or, for REST calls, `METHOD /path`.
    pub operation: String,
    /// Whether it writes: any operation but `Describe*`, `List*`, `Get*`, `Head*` and plain
    /// GET/HEAD requests.
    pub mutating: bool,
}

/// moto's request recorder (`/moto-api/recorder/...`): every request the server receives between
/// [`Recorder::start`] and [`Recorder::stop_mentioning`], seen from the server side, independently
/// of the code under test. It records the whole server, other tests' requests too, so a test
/// keeps the requests that name its own resources. Only one test may record at a time (start
/// clears the recording).
pub struct Recorder {
    endpoint: String,
}

impl Recorder {
    /// Clears any earlier recording and starts recording.
    pub fn start() -> Self {
        let endpoint = moto_endpoint();
        moto_api(&endpoint, "POST", "/moto-api/recorder/reset-recording");
        moto_api(&endpoint, "POST", "/moto-api/recorder/start-recording");
        Self { endpoint }
    }

    /// Stops recording and returns, in order, the calls whose URL, headers or body name one of
    /// `names` (a test's stack and table: every call `up` makes names one of them).
    pub fn stop_mentioning(self, names: &[&str]) -> Vec<RecordedCall> {
        moto_api(&self.endpoint, "POST", "/moto-api/recorder/stop-recording");
        let recording = moto_api(
            &self.endpoint,
            "GET",
            "/moto-api/recorder/download-recording",
        );
        // One JSON object per request; moto does not always put a newline between them.
        serde_json::Deserializer::from_str(&recording)
            .into_iter::<serde_json::Value>()
            .map(|entry| entry.expect("a recorded request is JSON"))
            .filter(|entry| names.iter().any(|name| mentions(entry, name)))
            .map(|entry| classify(&entry))
            .collect()
    }
}

/// A recorded request's body as text (moto base64-encodes some).
fn body_text(entry: &serde_json::Value) -> String {
    use base64::Engine as _;
    match (entry["body"].as_str(), entry["body_encoded"].as_bool()) {
        (Some(b), Some(true)) => base64::engine::general_purpose::STANDARD
            .decode(b)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default(),
        (Some(b), _) => b.to_owned(),
        _ => String::new(),
    }
}

/// Whether a recorded request names `name` anywhere: URL, headers or body (decoded).
fn mentions(entry: &serde_json::Value, name: &str) -> bool {
    let body = body_text(entry);
    let decoded = |text: &str| {
        percent_encoding::percent_decode_str(text)
            .decode_utf8_lossy()
            .into_owned()
    };
    decoded(entry["url"].as_str().unwrap_or_default()).contains(name)
        || entry["headers"].to_string().contains(name)
        || decoded(&body).contains(name)
}

/// Names a recorded request and decides whether it writes.
fn classify(entry: &serde_json::Value) -> RecordedCall {
    let method = entry["method"].as_str().unwrap_or("GET").to_owned();
    let header = |name: &str| {
        entry["headers"]
            .as_object()
            .and_then(|h| h.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
            .and_then(|(_, v)| v.as_str())
    };
    let body = body_text(entry);
    let url = entry["url"].as_str().unwrap_or_default();
    let path = url.splitn(4, '/').nth(3).unwrap_or_default();
    classify_request(&method, &format!("/{path}"), header("X-Amz-Target"), &body)
}

/// Names a request by its method, path (with query), `X-Amz-Target` header and body, and decides
/// whether it writes: JSON-protocol calls by their target, query-protocol calls by `Action=`, REST
/// calls as `METHOD /path` (writing unless GET or HEAD).
pub fn classify_request(
    method: &str,
    path: &str,
    target: Option<&str>,
    body: &str,
) -> RecordedCall {
    let query_action = body
        .split('&')
        .find_map(|pair| pair.strip_prefix("Action="))
        .map(str::to_owned);
    let named = target
        .and_then(|t| t.rsplit('.').next())
        .map(str::to_owned)
        .or(query_action);
    match named {
        Some(operation) => {
            let reads = [
                "Describe", "List", "Get", "Head", "BatchGet", "Scan", "Query",
            ];
            let mutating = !reads.iter().any(|r| operation.starts_with(r));
            RecordedCall {
                operation,
                mutating,
            }
        }
        None => RecordedCall {
            mutating: !matches!(method, "GET" | "HEAD"),
            operation: format!("{method} {path}"),
        },
    }
}

/// A plain HTTP/1.1 request to moto's own API, returning the body.
fn moto_api(endpoint: &str, method: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let host = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = std::net::TcpStream::connect(host).expect("connect to moto");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .expect("send to moto");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .expect("read from moto");
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    assert!(
        head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200"),
        "moto {path}: {head}"
    );
    body.to_owned()
}

/// The names of every backup of `table` (all pages), sorted.
pub async fn backup_names(db: &aws_sdk_dynamodb::Client, table: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut start = None;
    loop {
        let listed = db
            .list_backups()
            .table_name(table)
            .set_exclusive_start_backup_arn(start)
            .send()
            .await
            .unwrap_or_else(|e| panic!("list backups of {table}: {e:?}"));
        names.extend(
            listed
                .backup_summaries()
                .iter()
                .filter_map(|b| b.backup_name().map(str::to_owned)),
        );
        match listed.last_evaluated_backup_arn {
            Some(next) => start = Some(next),
            None => break,
        }
    }
    names.sort();
    names
}

/// The item of `key` in `table` as `db` reads it (strongly consistent); `None` when absent.
pub async fn item_of(
    db: &aws_sdk_dynamodb::Client,
    table: &str,
    key: std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
) -> Option<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
    db.get_item()
        .table_name(table)
        .set_key(Some(key))
        .consistent_read(true)
        .send()
        .await
        .expect("GetItem")
        .item
}

/// Waits until the backup `arn` is AVAILABLE as `db` (a client through a strict proxy) tells it:
/// the strict layer shows a new backup CREATING for a while. Panics after 20 s.
pub async fn until_backup_available(db: &aws_sdk_dynamodb::Client, arn: &str) {
    for _ in 0..100 {
        let out = db
            .describe_backup()
            .backup_arn(arn)
            .send()
            .await
            .unwrap_or_else(|e| panic!("describe backup {arn}: {e:?}"));
        let status = out
            .backup_description()
            .and_then(|d| d.backup_details())
            .map(|d| d.backup_status().as_str().to_owned());
        if status.as_deref() == Some("AVAILABLE") {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    panic!("backup {arn} never became AVAILABLE");
}

/// How many items `table` holds (a paged `Select: COUNT` scan).
pub async fn count_items(db: &aws_sdk_dynamodb::Client, table: &str) -> i32 {
    let mut total = 0;
    let mut start = None;
    loop {
        let page = db
            .scan()
            .table_name(table)
            .select(aws_sdk_dynamodb::types::Select::Count)
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap_or_else(|e| panic!("scan {table}: {e:?}"));
        total += page.count();
        match page.last_evaluated_key {
            Some(key) if !key.is_empty() => start = Some(key),
            _ => return total,
        }
    }
}
