//! The strict layer: makes moto answer as the AWS API references document, where moto does not.
//!
//! moto accepts what AWS refuses and shows at once what AWS shows only after a while: a backup is
//! AVAILABLE the moment it is made, a deleted table is gone at once, a rule takes any number of
//! targets, a function is never Pending. Code that passes on moto alone can fail on its first
//! real account. Each [`Rule`] here models one documented behaviour, cites the documentation it
//! follows, and does nothing else; [`Strict::aws`] is every rule, which the test proxy
//! ([`crate::proxy::Proxy`]) applies to each request by default.
//!
//! A rule sees a request before moto does and may answer in moto's place ([`Rule::refuse`]),
//! and sees moto's answer and may rewrite it ([`Rule::answered`]). Time windows ("CREATING for
//! a few seconds") are [`Windows`], short so that the suite stays fast, and scalable.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::Value;

mod cloudwatch;
mod dynamodb;
mod events;
mod incremental;
mod items;
mod lambda;
mod s3;
mod scheduler;
mod sns;

pub use cloudwatch::AlarmEvaluationRange;
pub use dynamodb::{
    AccountRate, BackupCreating, BackupNameValid, BackupsNotYetEnabled, ContributorInsights,
    ExportInProgress, ExportManifest, ExportsListedFor, ImportHoldsTheFiles, ItemCountApproximate,
    ListBackupsPaging, ListTagsPaging, RestoreCreating, TableDeleting, TagsAreAMap,
    TagsEventuallyConsistent,
};
pub use events::TargetsPerRule;
pub use incremental::{INCREMENTAL_MAX, INCREMENTAL_MIN, IncrementalExport, PitrWindow};
pub use items::{Change, ItemHistory, ItemWrite, Recording};
pub use lambda::{
    ArchitectureFollowsCode, AsyncInvocations, CodeLocation, FunctionPending, Queued,
    RolePropagation, TimeoutLimit, UpdateInProgress,
};
pub use s3::{
    AccessDeniedBody, BucketNameReuse, BucketRegion, ComplianceNotShortened, ExpectedBucketOwner,
    GovernanceBypassDenied, LockedVersioningStays, VersioningDocument,
};
pub use scheduler::{ScheduleGroupExists, ScheduleRanges, ScheduleTimezoneValid};
pub use sns::EmailPendingConfirmation;

/// The AWS service a request is for, told from its protocol's marks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// JSON 1.0, `X-Amz-Target: DynamoDB_20120810.*`.
    DynamoDb,
    /// JSON 1.1, `X-Amz-Target: AWSEvents.*`.
    Events,
    /// JSON 1.1, `X-Amz-Target: Logs_20140328.*`.
    Logs,
    /// Query protocol, `Version=2010-05-08`.
    Iam,
    /// Query protocol, `Version=2011-06-15`.
    Sts,
    /// REST, paths under `/2015-03-31/` and other dated prefixes.
    Lambda,
    /// REST, path-style: `/<bucket>/<key>`.
    S3,
    /// Query protocol, `Version=2010-03-31`.
    Sns,
    /// Query protocol, `Version=2010-08-01` (aws-sdk-cloudwatch 1.99 and earlier).
    CloudWatch,
    /// REST-JSON, told from S3's paths by its credential scope (`.../scheduler/aws4_request`).
    Scheduler,
}

/// A request, parsed enough for the rules to reason about it.
#[derive(Debug, Clone)]
pub struct Call {
    /// The service.
    pub service: Service,
    /// The operation: the JSON target's or the form's `Action`, or, for REST calls, the name the
    /// rules give it (`CreateFunction`, `CreateBucket`, ...; `METHOD path` when unnamed).
    pub operation: String,
    /// The JSON body (JSON protocols and Lambda), or `Null`.
    pub json: Value,
    /// The body as text (S3's XML), lossily decoded.
    pub body: String,
    /// The form fields (query protocol), or the URL query (REST).
    pub params: Vec<(String, String)>,
    /// The function (Lambda) or bucket (S3) the path names, decoded.
    pub resource: Option<String>,
    /// The `Authorization` header, so a rule asking moto something acts as the same caller.
    pub authorization: Option<String>,
    /// The `Host` the client addressed (the proxy), for a rule that hands out URLs it serves.
    pub host: Option<String>,
    /// S3's `x-amz-expected-bucket-owner` header, if sent.
    pub expected_bucket_owner: Option<String>,
    /// Lambda's `X-Amz-Invocation-Type` (`Event` for an asynchronous Invoke).
    pub invocation_type: Option<String>,
    /// S3's `x-amz-bypass-governance-retention: true`.
    pub bypass_governance: bool,
}

impl Call {
    /// Parses a request from its method, target (path and query), `X-Amz-Target` header and body.
    pub fn parse(
        method: &str,
        target: &str,
        amz_target: Option<&str>,
        authorization: Option<&str>,
        body: &[u8],
    ) -> Self {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let text = String::from_utf8_lossy(body);
        let form = decode_form(&text);
        let action = form.iter().find(|(k, _)| k == "Action").map(|(_, v)| v);
        let (service, operation, params, resource) = if let Some(t) = amz_target {
            let (prefix, op) = t.split_once('.').unwrap_or((t, ""));
            let service = match prefix {
                "AWSEvents" => Service::Events,
                "Logs_20140328" => Service::Logs,
                _ => Service::DynamoDb,
            };
            (service, op.to_owned(), Vec::new(), None)
        } else if let Some(action) = action {
            let iam = form
                .iter()
                .any(|(k, v)| k == "Version" && v == "2010-05-08");
            let version = form
                .iter()
                .find(|(k, _)| k == "Version")
                .map(|(_, v)| v.as_str());
            let service = match version {
                _ if iam => Service::Iam,
                Some("2010-03-31") => Service::Sns,
                Some("2010-08-01") => Service::CloudWatch,
                _ => Service::Sts,
            };
            (service, action.clone(), form.clone(), None)
        } else if authorization.is_some_and(|a| a.contains("/scheduler/aws4_request")) {
            let (operation, name) = scheduler::name_rest_call(method, path);
            (Service::Scheduler, operation, decode_form(query), name)
        } else if path.starts_with("/20") {
            let (operation, function) = lambda::name_rest_call(method, path);
            (Service::Lambda, operation, decode_form(query), function)
        } else {
            let (operation, bucket) = s3::name_rest_call(method, path, query);
            (Service::S3, operation, decode_form(query), bucket)
        };
        Self {
            service,
            operation,
            json: serde_json::from_str(&text).unwrap_or(Value::Null),
            body: text.clone().into_owned(),
            params,
            resource,
            authorization: authorization.map(str::to_owned),
            host: None,
            expected_bucket_owner: None,
            invocation_type: None,
            bypass_governance: false,
        }
    }

    /// The call, with S3's `x-amz-expected-bucket-owner` header.
    #[must_use]
    pub fn with_expected_bucket_owner(mut self, owner: Option<&str>) -> Self {
        self.expected_bucket_owner = owner.map(str::to_owned);
        self
    }

    /// The call, with S3's `x-amz-bypass-governance-retention` header.
    #[must_use]
    pub fn with_bypass_governance(mut self, header: Option<&str>) -> Self {
        self.bypass_governance = header.is_some_and(|h| h.trim().eq_ignore_ascii_case("true"));
        self
    }

    /// The call, with Lambda's `X-Amz-Invocation-Type` header.
    #[must_use]
    pub fn with_invocation_type(mut self, kind: Option<&str>) -> Self {
        self.invocation_type = kind.map(str::to_owned);
        self
    }

    /// The call, addressed to `host`.
    #[must_use]
    pub fn with_host(mut self, host: Option<&str>) -> Self {
        self.host = host.map(str::to_owned);
        self
    }

    /// Whether this is `operation` of `service`.
    pub fn is(&self, service: Service, operation: &str) -> bool {
        self.service == service && self.operation == operation
    }

    /// A form or query parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A string field of the JSON body.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.json[name].as_str()
    }
}

/// `a=b&c=d`, percent-decoded (`+` as space).
fn decode_form(text: &str) -> Vec<(String, String)> {
    text.split('&')
        .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
        .filter(|(k, _)| !k.is_empty())
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

/// Percent-decodes a URL component (`+` as space).
pub fn decode(text: &str) -> String {
    let text = text.replace('+', " ");
    percent_encoding::percent_decode_str(&text)
        .decode_utf8_lossy()
        .into_owned()
}

/// An HTTP response: moto's, to be rewritten, or a rule's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The headers (without `Content-Length`, `Connection` and `Transfer-Encoding`, which
    /// [`Reply::to_bytes`] writes).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Reply {
    /// Parses a whole HTTP/1.1 response.
    pub fn parse(raw: &[u8]) -> Option<Self> {
        let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
        let head = String::from_utf8_lossy(&raw[..split]);
        let mut lines = head.split("\r\n");
        let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
        let mut headers = Vec::new();
        let mut chunked = false;
        for line in lines {
            let (k, v) = line.split_once(':')?;
            let (k, v) = (k.trim(), v.trim());
            if k.eq_ignore_ascii_case("transfer-encoding") {
                chunked = v.eq_ignore_ascii_case("chunked");
            } else if !k.eq_ignore_ascii_case("content-length")
                && !k.eq_ignore_ascii_case("connection")
            {
                headers.push((k.to_owned(), v.to_owned()));
            }
        }
        let rest = &raw[split + 4..];
        let body = if chunked {
            unchunk(rest)?
        } else {
            rest.to_vec()
        };
        Some(Self {
            status,
            headers,
            body,
        })
    }

    /// The response as bytes, with `Content-Length` and `Connection: close`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("HTTP/1.1 {} {}\r\n", self.status, reason(self.status));
        for (k, v) in &self.headers {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        out.push_str(&format!(
            "Content-Length: {}\r\nConnection: close\r\n\r\n",
            self.body.len()
        ));
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }

    /// The body as JSON (`Null` when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// Whether moto said yes.
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// Replaces the body with `json`, keeping DynamoDB's `x-amz-crc32` checksum true (the SDK
    /// checks it and would reject a rewritten body with the old one).
    pub fn set_json(&mut self, json: &Value) {
        self.body = json.to_string().into_bytes();
        let crc = crc32fast::hash(&self.body).to_string();
        for (k, v) in &mut self.headers {
            if k.eq_ignore_ascii_case("x-amz-crc32") {
                v.clone_from(&crc);
            }
        }
    }

    /// Rewrites the JSON body in place with `edit`, when the body is JSON.
    pub fn edit_json(&mut self, edit: impl FnOnce(&mut Value)) {
        let mut json = self.json();
        if json.is_null() {
            return;
        }
        edit(&mut json);
        self.set_json(&json);
    }

    /// An error in a JSON protocol's shape (DynamoDB, EventBridge, Logs): HTTP 400 and `__type`.
    pub fn json_error(service: Service, code: &str, message: &str) -> Self {
        let content_type = if service == Service::DynamoDb {
            "application/x-amz-json-1.0"
        } else {
            "application/x-amz-json-1.1"
        };
        let body = serde_json::json!({"__type": code, "message": message});
        let mut reply = Self {
            status: 400,
            headers: vec![
                ("Content-Type".to_owned(), content_type.to_owned()),
                ("x-amzn-RequestId".to_owned(), "strict-layer".to_owned()),
            ],
            body: Vec::new(),
        };
        if service == Service::DynamoDb {
            reply
                .headers
                .push(("x-amz-crc32".to_owned(), String::new()));
        }
        reply.set_json(&body);
        reply
    }

    /// An error in Lambda's REST shape: the status, `x-amzn-ErrorType`, `{"Type", "message"}`.
    pub fn lambda_error(status: u16, code: &str, message: &str) -> Self {
        Self {
            status,
            headers: vec![
                ("Content-Type".to_owned(), "application/json".to_owned()),
                ("x-amzn-ErrorType".to_owned(), code.to_owned()),
                ("x-amzn-RequestId".to_owned(), "strict-layer".to_owned()),
            ],
            body: serde_json::json!({"Type": "User", "message": message})
                .to_string()
                .into_bytes(),
        }
    }

    /// An error in a REST-JSON service's shape (Scheduler): the status, `x-amzn-ErrorType`,
    /// `{"Message"}`.
    pub fn rest_json_error(status: u16, code: &str, message: &str) -> Self {
        Self {
            status,
            headers: vec![
                ("Content-Type".to_owned(), "application/json".to_owned()),
                ("x-amzn-ErrorType".to_owned(), code.to_owned()),
                ("x-amzn-RequestId".to_owned(), "strict-layer".to_owned()),
            ],
            body: serde_json::json!({"Message": message})
                .to_string()
                .into_bytes(),
        }
    }

    /// An error in S3's REST-XML shape.
    pub fn s3_error(status: u16, code: &str, message: &str) -> Self {
        Self {
            status,
            headers: vec![("Content-Type".to_owned(), "application/xml".to_owned())],
            body: format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><RequestId>strict-layer</RequestId></Error>"
            )
            .into_bytes(),
        }
    }

    /// An error in the query protocol's XML (IAM, STS, SNS, CloudWatch).
    pub fn query_error(status: u16, code: &str, message: &str) -> Self {
        Self {
            status,
            headers: vec![("Content-Type".to_owned(), "text/xml".to_owned())],
            body: format!(
                "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>strict-layer</RequestId></ErrorResponse>"
            )
            .into_bytes(),
        }
    }

    /// A 200 with a JSON body, for a rule that answers in moto's place.
    pub fn json_ok(service: Service, json: &Value) -> Self {
        let mut reply = Self::json_error(service, "", "");
        reply.status = 200;
        reply.set_json(json);
        reply
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        301 => "Moved Permanently",
        400 => "Bad Request",
        404 => "Not Found",
        409 => "Conflict",
        429 => "Too Many Requests",
        _ => "Status",
    }
}

/// Decodes a chunked body.
fn unchunk(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let end = rest.windows(2).position(|w| w == b"\r\n")?;
        let size_text = String::from_utf8_lossy(&rest[..end]);
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        rest = &rest[end + 2..];
        if size == 0 {
            return Some(body);
        }
        body.extend_from_slice(rest.get(..size)?);
        rest = rest.get(size + 2..)?;
    }
}

/// How the rules may ask moto something themselves (e.g. a rule's current targets).
pub trait Upstream: Sync {
    /// Sends a JSON-protocol request (`X-Amz-Target: target`) to moto as `call`'s caller; the
    /// response's JSON, or `None` if moto could not be asked.
    fn ask(&self, call: &Call, target: &str, body: &Value) -> Option<Value>;

    /// Writes an object to moto's S3 (path style) as `call`'s caller; whether it was written.
    fn put_object(&self, _call: &Call, _bucket: &str, _key: &str, _body: &[u8]) -> bool {
        false
    }

    /// The keys of moto's S3 objects under `prefix` (the first thousand), as `call`'s caller.
    fn list_keys(&self, _call: &Call, _bucket: &str, _prefix: &str) -> Option<Vec<String>> {
        None
    }

    /// An object of moto's S3, as `call`'s caller.
    fn get_object(&self, _call: &Call, _bucket: &str, _key: &str) -> Option<Vec<u8>> {
        None
    }

    /// A GET of `path` from `call`'s REST service (Scheduler), as `call`'s caller: the status
    /// and the JSON answered, or `None` if moto could not be asked.
    fn rest_get(&self, _call: &Call, _path: &str) -> Option<(u16, Value)> {
        None
    }

    /// The account of `call`'s caller, as moto's STS GetCallerIdentity tells it.
    fn caller_account(&self, _call: &Call) -> Option<String> {
        None
    }

    /// A GET of `target` (path and query) from moto's S3, as `call`'s caller: the status and
    /// the body, or `None` if moto could not be asked.
    fn s3_get(&self, _call: &Call, _target: &str) -> Option<(u16, String)> {
        None
    }
}

/// One documented AWS behaviour that moto lacks.
pub trait Rule: Send + Sync {
    /// A short name, shown in the proxy's log when the rule answers.
    fn name(&self) -> &'static str;

    /// Answers `call` in moto's place (moto never sees it), or `None` to let it through.
    fn refuse(&self, _call: &Call, _now: Instant, _upstream: &dyn Upstream) -> Option<Reply> {
        None
    }

    /// Sees moto's answer to `call` (even one the client never receives) and may rewrite it.
    fn answered(&self, _call: &Call, _reply: &mut Reply, _now: Instant) {}
}

/// How long each eventually-consistent state lasts. On AWS these are seconds to minutes; here
/// they are short so that the suite stays fast, yet long enough that code which does not wait
/// for them fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Windows {
    /// A new backup is CREATING.
    pub backup_creating: Duration,
    /// CreateBackup of a new table answers ContinuousBackupsUnavailableException.
    pub backups_not_yet_enabled: Duration,
    /// A deleted table is DELETING.
    pub table_deleting: Duration,
    /// A table being restored is CREATING.
    pub restore_creating: Duration,
    /// A deleted bucket's name cannot be created again.
    pub bucket_name_reuse: Duration,
    /// A new role cannot yet be assumed by Lambda.
    pub role_propagation: Duration,
    /// A new function is Pending.
    pub function_pending: Duration,
    /// An updated function's LastUpdateStatus is InProgress.
    pub update_in_progress: Duration,
    /// An export to S3 is IN_PROGRESS.
    pub export_in_progress: Duration,
    /// A table's new tags are not yet listed.
    pub tags_propagation: Duration,
    /// A table's ItemCount is refreshed (about every six hours on AWS; never within a test).
    pub item_count_refresh: Duration,
    /// An export is listed by ListExports (90 days on AWS).
    pub exports_listed: Duration,
    /// How far behind now a table's latest restorable moment is (typically 5 minutes on AWS).
    pub latest_restorable_lag: Duration,
}

impl Default for Windows {
    fn default() -> Self {
        Self {
            backup_creating: Duration::from_millis(2500),
            backups_not_yet_enabled: Duration::from_millis(2000),
            table_deleting: Duration::from_millis(2000),
            restore_creating: Duration::from_millis(2000),
            bucket_name_reuse: Duration::from_millis(2000),
            role_propagation: Duration::from_millis(3000),
            function_pending: Duration::from_millis(1000),
            update_in_progress: Duration::from_millis(1000),
            export_in_progress: Duration::from_millis(3000),
            tags_propagation: Duration::from_millis(2000),
            item_count_refresh: Duration::from_secs(6 * 3600),
            exports_listed: Duration::from_secs(90 * 86_400),
            latest_restorable_lag: incremental::LATEST_RESTORABLE_LAG,
        }
    }
}

impl Windows {
    /// Every window multiplied by `factor` (the latest restorable moment's lag kept).
    pub fn scaled(self, factor: f64) -> Self {
        let s = |d: Duration| d.mul_f64(factor);
        Self {
            backup_creating: s(self.backup_creating),
            backups_not_yet_enabled: s(self.backups_not_yet_enabled),
            table_deleting: s(self.table_deleting),
            restore_creating: s(self.restore_creating),
            bucket_name_reuse: s(self.bucket_name_reuse),
            role_propagation: s(self.role_propagation),
            function_pending: s(self.function_pending),
            update_in_progress: s(self.update_in_progress),
            export_in_progress: s(self.export_in_progress),
            tags_propagation: s(self.tags_propagation),
            item_count_refresh: s(self.item_count_refresh),
            exports_listed: s(self.exports_listed),
            // Not a wait but where restore points may fall: kept.
            latest_restorable_lag: self.latest_restorable_lag,
        }
    }
}

/// The map behind `mutex`, even if a thread panicked while holding it (a rule's state is a
/// cache of what was seen: a panicked test's entry does no harm to the others).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Every rule, in the order they are asked, and the item history some of them answer from.
pub struct Strict {
    rules: Vec<Box<dyn Rule>>,
    history: Arc<ItemHistory>,
    invocations: Arc<AsyncInvocations>,
}

impl Strict {
    /// All the rules, with `windows`.
    pub fn aws(windows: Windows) -> Self {
        let history = Arc::new(ItemHistory::new());
        let invocations = Arc::new(AsyncInvocations::default());
        Self {
            history: Arc::clone(&history),
            invocations: Arc::clone(&invocations),
            rules: vec![
                Box::new(TargetsPerRule),
                Box::new(ScheduleTimezoneValid),
                Box::new(ScheduleRanges),
                Box::new(ScheduleGroupExists),
                Box::new(AlarmEvaluationRange),
                Box::new(EmailPendingConfirmation),
                Box::new(
                    BackupsNotYetEnabled::new(windows.backups_not_yet_enabled)
                        .after_restores_taking(windows.restore_creating),
                ),
                Box::new(BackupCreating::new(windows.backup_creating)),
                Box::new(AccountRate::delete_backup()),
                Box::new(AccountRate::list_tags_of_resource()),
                Box::new(AccountRate::list_backups()),
                Box::new(AccountRate::create_backup()),
                Box::new(ListBackupsPaging::default()),
                Box::new(ListTagsPaging),
                Box::new(TagsAreAMap),
                Box::new(BackupNameValid),
                Box::new(TableDeleting::new(windows.table_deleting)),
                Box::new(RestoreCreating::new(windows.restore_creating)),
                Box::new(ImportHoldsTheFiles::default()),
                Box::new(ContributorInsights::default()),
                Box::new(ExportInProgress::new(windows.export_in_progress)),
                Box::new(ExportsListedFor::new(windows.exports_listed)),
                Box::new(ExportManifest::new(
                    windows.export_in_progress,
                    Arc::clone(&history),
                )),
                Box::new(IncrementalExport::new(
                    windows.export_in_progress,
                    Arc::clone(&history),
                )),
                Box::new(PitrWindow::new(history).lagging(windows.latest_restorable_lag)),
                Box::new(TagsEventuallyConsistent::new(windows.tags_propagation)),
                Box::new(ItemCountApproximate::new(windows.item_count_refresh)),
                Box::new(BucketNameReuse::new(windows.bucket_name_reuse)),
                // The region first (another region's endpoint never sees the request), then
                // the owner: AWS refuses a request to another owner's bucket before it
                // looks at what the request asks.
                Box::new(BucketRegion::default()),
                Box::new(ExpectedBucketOwner::moto()),
                Box::new(LockedVersioningStays),
                Box::new(ComplianceNotShortened::default()),
                Box::new(GovernanceBypassDenied::default()),
                Box::new(VersioningDocument),
                Box::new(AccessDeniedBody),
                Box::new(RolePropagation::new(windows.role_propagation)),
                Box::new(FunctionPending::new(windows.function_pending)),
                Box::new(UpdateInProgress::new(windows.update_in_progress)),
                Box::new(CodeLocation::default()),
                Box::new(ArchitectureFollowsCode::default()),
                Box::new(TimeoutLimit),
                Box::new(invocations),
            ],
        }
    }

    /// The item writes the layer has seen (see [`ItemHistory`]).
    pub fn history(&self) -> &ItemHistory {
        &self.history
    }

    /// Lambda's asynchronous invocations queued so far (see [`AsyncInvocations`]).
    pub fn invocations(&self) -> &AsyncInvocations {
        &self.invocations
    }

    /// The first rule's answer in moto's place, with the rule's name.
    pub fn refuse(
        &self,
        call: &Call,
        now: Instant,
        upstream: &dyn Upstream,
    ) -> Option<(&'static str, Reply)> {
        self.rules
            .iter()
            .find_map(|r| r.refuse(call, now, upstream).map(|reply| (r.name(), reply)))
    }

    /// Lets every rule see (and rewrite) moto's answer.
    pub fn answered(&self, call: &Call, reply: &mut Reply, now: Instant) {
        for rule in &self.rules {
            rule.answered(call, reply, now);
        }
    }
}

/// Names (tables, ARNs, buckets, functions) with the moment something happened to them; each
/// counts for `window` after it.
#[derive(Debug)]
struct Recent {
    window: Duration,
    at: Mutex<HashMap<String, Instant>>,
}

impl Recent {
    fn new(window: Duration) -> Self {
        Self {
            window,
            at: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Instant>> {
        self.at.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn mark(&self, name: &str, now: Instant) {
        self.lock().insert(name.to_owned(), now);
    }

    fn forget(&self, name: &str) {
        self.lock().remove(name);
    }

    /// Whether `name` was marked less than the window before `now`.
    fn within(&self, name: &str, now: Instant) -> bool {
        self.lock()
            .get(name)
            .is_some_and(|at| now.saturating_duration_since(*at) < self.window)
    }
}

#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    /// An upstream that knows nothing.
    pub struct Nothing;

    impl Upstream for Nothing {
        fn ask(&self, _: &Call, _: &str, _: &Value) -> Option<Value> {
            None
        }
    }

    /// A JSON-protocol call.
    pub fn json_call(service: Service, operation: &str, body: Value) -> Call {
        let prefix = match service {
            Service::DynamoDb => "DynamoDB_20120810",
            Service::Events => "AWSEvents",
            _ => "Logs_20140328",
        };
        Call::parse(
            "POST",
            "/",
            Some(&format!("{prefix}.{operation}")),
            None,
            body.to_string().as_bytes(),
        )
    }

    /// moto's 200 with `body`.
    pub fn ok(body: Value) -> Reply {
        let mut reply = Reply {
            status: 200,
            headers: vec![("x-amz-crc32".to_owned(), String::new())],
            body: Vec::new(),
        };
        reply.set_json(&body);
        reply
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_told_apart_by_protocol() {
        let ddb = Call::parse(
            "POST",
            "/",
            Some("DynamoDB_20120810.CreateBackup"),
            None,
            br#"{"TableName":"Movies"}"#,
        );
        assert!(ddb.is(Service::DynamoDb, "CreateBackup"));
        assert_eq!(ddb.field("TableName"), Some("Movies"));

        let iam = Call::parse(
            "POST",
            "/",
            None,
            None,
            b"Action=CreateRole&RoleName=r%2Dx&Version=2010-05-08",
        );
        assert!(iam.is(Service::Iam, "CreateRole"));
        assert_eq!(iam.param("RoleName"), Some("r-x"));

        let lambda = Call::parse(
            "GET",
            "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A1%3Afunction%3Afn/configuration",
            None,
            None,
            b"",
        );
        assert!(lambda.is(Service::Lambda, "GetFunctionConfiguration"));
        assert_eq!(lambda.resource.as_deref(), Some("fn"));

        let s3 = Call::parse("PUT", "/my-bucket", None, None, b"");
        assert!(s3.is(Service::S3, "CreateBucket"));
        assert_eq!(s3.resource.as_deref(), Some("my-bucket"));
        let tagging = Call::parse("PUT", "/my-bucket?tagging", None, None, b"");
        assert!(!tagging.is(Service::S3, "CreateBucket"));
    }

    #[test]
    fn a_rewritten_dynamodb_body_carries_a_true_checksum() {
        let mut reply = testing::ok(serde_json::json!({"a": 1}));
        reply.edit_json(|j| j["a"] = 2.into());
        let crc = &reply.headers[0].1;
        assert_eq!(crc, &crc32fast::hash(br#"{"a":2}"#).to_string());
        let raw = reply.to_bytes();
        assert_eq!(Reply::parse(&raw).as_ref(), Some(&reply));
    }

    #[test]
    fn chunked_bodies_are_joined() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        assert_eq!(Reply::parse(raw).map(|r| r.body), Some(b"abcde".to_vec()));
    }
}
