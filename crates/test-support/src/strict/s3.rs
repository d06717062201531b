//! S3's bucket names, as its error reference documents them.

use std::time::{Duration, Instant};

use std::collections::HashMap;
use std::sync::Mutex;

use super::{Call, Recent, Reply, Rule, Service, Upstream, decode, lock};

/// Names a path-style S3 request: `CreateBucket` (PUT /bucket), `DeleteBucket`, `HeadBucket`,
/// else `METHOD /path`; and the bucket it is for.
pub(super) fn name_rest_call(method: &str, path: &str, query: &str) -> (String, Option<String>) {
    let trimmed = path.trim_start_matches('/');
    let (bucket, key) = trimmed.split_once('/').unwrap_or((trimmed, ""));
    let bucket = (!bucket.is_empty()).then(|| decode(bucket));
    let on_bucket = key.is_empty() && query.is_empty();
    let operation = match method {
        "PUT" if on_bucket => "CreateBucket".to_owned(),
        "DELETE" if on_bucket => "DeleteBucket".to_owned(),
        "HEAD" if on_bucket => "HeadBucket".to_owned(),
        _ => format!("{method} {path}"),
    };
    (operation, bucket)
}

/// A bucket name deleted a moment ago cannot be created again yet: 409 OperationAborted.
///
/// S3 error responses (API reference, "List of error codes"): "OperationAborted: A conflicting
/// conditional operation is currently in progress against this resource. Try again. 409
/// Conflict". Deleting a bucket frees its name only after a while ("it might take some time
/// before the name can be reused", S3 user guide, "Deleting a bucket").
pub struct BucketNameReuse {
    deleted: Recent,
}

impl BucketNameReuse {
    /// Names are reusable `window` after DeleteBucket.
    pub fn new(window: Duration) -> Self {
        Self {
            deleted: Recent::new(window),
        }
    }
}

impl Rule for BucketNameReuse {
    fn name(&self) -> &'static str {
        "BucketNameReuse"
    }

    fn refuse(&self, call: &Call, now: Instant, _: &dyn Upstream) -> Option<Reply> {
        let bucket = call.resource.as_deref()?;
        (call.is(Service::S3, "CreateBucket") && self.deleted.within(bucket, now)).then(|| {
            Reply::s3_error(
                409,
                "OperationAborted",
                "A conflicting conditional operation is currently in progress against this resource. Please try again.",
            )
        })
    }

    fn answered(&self, call: &Call, reply: &mut Reply, now: Instant) {
        if call.is(Service::S3, "DeleteBucket")
            && reply.ok()
            && let Some(bucket) = &call.resource
        {
            self.deleted.mark(bucket, now);
        }
    }
}

/// A request naming an `ExpectedBucketOwner` other than the bucket's owner is 403 AccessDenied
/// (moto ignores the header).
///
/// S3 API reference (every bucket operation), ExpectedBucketOwner: "The account ID of the
/// expected bucket owner. If the account ID that you provide does not match the actual owner of
/// the bucket, the request fails with the HTTP status code 403 Forbidden (access denied)." A
/// bucket made through the layer is its creator's account's (moto serves other accounts' buckets
/// to credentials from AssumeRole into them); any other bucket moto holds is its default
/// account's; a bucket that does not exist is moto's to answer (404).
pub struct ExpectedBucketOwner {
    account: String,
    /// Buckets made through the layer, and their creators' accounts.
    owners: Mutex<HashMap<String, String>>,
    /// The account of each CreateBucket under way, until it is answered.
    creating: Mutex<HashMap<String, String>>,
}

impl ExpectedBucketOwner {
    /// Buckets owned by moto's default account, 123456789012, unless made through the layer.
    pub fn moto() -> Self {
        Self {
            account: "123456789012".to_owned(),
            owners: Mutex::default(),
            creating: Mutex::default(),
        }
    }
}

impl Rule for ExpectedBucketOwner {
    fn name(&self) -> &'static str {
        "ExpectedBucketOwner"
    }

    fn refuse(&self, call: &Call, _: Instant, upstream: &dyn Upstream) -> Option<Reply> {
        if call.service != Service::S3 {
            return None;
        }
        let bucket = call.resource.as_deref()?;
        if call.operation == "CreateBucket"
            && let Some(account) = upstream.caller_account(call)
        {
            lock(&self.creating).insert(bucket.to_owned(), account);
        }
        let expected = call.expected_bucket_owner.as_deref()?;
        let owner = lock(&self.owners).get(bucket).cloned();
        let owner = match owner {
            Some(owner) => owner,
            None => {
                if upstream
                    .s3_get(call, &format!("/{bucket}?location"))
                    .is_some_and(|(status, _)| status == 404)
                {
                    return None;
                }
                self.account.clone()
            }
        };
        (expected != owner).then(|| Reply::s3_error(403, "AccessDenied", "Access Denied"))
    }

    fn answered(&self, call: &Call, reply: &mut Reply, _: Instant) {
        let Some(bucket) = call.resource.as_deref() else {
            return;
        };
        if call.service == Service::S3 && call.operation == "CreateBucket" {
            let account = lock(&self.creating).remove(bucket);
            if let Some(account) = account.filter(|_| reply.ok()) {
                lock(&self.owners).insert(bucket.to_owned(), account);
            }
        }
        // A deleted bucket's name may be another account's next.
        if call.service == Service::S3 && call.operation == "DeleteBucket" && reply.ok() {
            lock(&self.owners).remove(bucket);
        }
    }
}

/// A request for a bucket made through the layer in one region, signed for another, is 301
/// PermanentRedirect with the bucket's region in `x-amz-bucket-region` (a HEAD with no body);
/// moto serves every bucket from every region. Buckets made elsewhere are left to moto.
///
/// S3 API reference, "List of error codes": "PermanentRedirect: The bucket you are attempting to
/// access must be addressed using the specified endpoint. Send all future requests to this
/// endpoint. 301 Moved Permanently"; GetBucketLocation: "calls to the HeadBucket operation
/// always return the bucket's location through an HTTP response header, whether access to the
/// bucket is authorized or not". A CreateBucket without a `LocationConstraint` makes the bucket
/// in us-east-1 (CreateBucket: "If you don't specify a Region, the bucket is created in the US
/// East (N. Virginia) Region (us-east-1) by default").
#[derive(Default)]
pub struct BucketRegion {
    /// Buckets made through the layer, and their regions.
    regions: Mutex<HashMap<String, String>>,
}

/// The region a request is signed for (SigV4 `Credential=<key>/<date>/<region>/<service>/...`).
fn signed_region(call: &Call) -> Option<&str> {
    call.authorization
        .as_deref()?
        .split("Credential=")
        .nth(1)?
        .split('/')
        .nth(2)
}

impl Rule for BucketRegion {
    fn name(&self) -> &'static str {
        "BucketRegion"
    }

    fn refuse(&self, call: &Call, _: Instant, _: &dyn Upstream) -> Option<Reply> {
        if call.service != Service::S3 || call.operation == "CreateBucket" {
            return None;
        }
        let bucket = call.resource.as_deref()?;
        let region = lock(&self.regions).get(bucket).cloned()?;
        if signed_region(call)? == region {
            return None;
        }
        let mut reply = if call.operation == "HeadBucket" {
            Reply {
                status: 301,
                headers: Vec::new(),
                body: Vec::new(),
            }
        } else {
            Reply::s3_error(
                301,
                "PermanentRedirect",
                "The bucket you are attempting to access must be addressed using the specified endpoint. Please send all future requests to this endpoint.",
            )
        };
        reply
            .headers
            .push(("x-amz-bucket-region".to_owned(), region));
        Some(reply)
    }

    fn answered(&self, call: &Call, reply: &mut Reply, _: Instant) {
        let Some(bucket) = call.resource.as_deref() else {
            return;
        };
        if call.service != Service::S3 || !reply.ok() {
            return;
        }
        if call.operation == "CreateBucket" {
            let region = call
                .body
                .split("<LocationConstraint>")
                .nth(1)
                .and_then(|rest| rest.split('<').next())
                .filter(|r| !r.is_empty())
                .unwrap_or("us-east-1");
            lock(&self.regions).insert(bucket.to_owned(), region.to_owned());
        }
        if call.operation == "DeleteBucket" {
            lock(&self.regions).remove(bucket);
        }
    }
}

/// A request a bucket policy denies is 403 with S3's error document, code `AccessDenied`, where
/// moto answers an empty 403 (which the SDK cannot tell from any other failure).
///
/// S3 API reference, "List of error codes": "AccessDenied: Access Denied. 403 Forbidden"; and
/// "Error responses": "When an error occurs, the header information contains: Content-Type:
/// application/xml ... The response body also contains information about the error". A HEAD
/// response has no body, on S3 as on moto.
pub struct AccessDeniedBody;

impl Rule for AccessDeniedBody {
    fn name(&self) -> &'static str {
        "AccessDeniedBody"
    }

    fn answered(&self, call: &Call, reply: &mut Reply, _: Instant) {
        let head = call.operation == "HeadBucket" || call.operation.starts_with("HEAD ");
        if call.service == Service::S3 && reply.status == 403 && reply.body.is_empty() && !head {
            *reply = Reply::s3_error(403, "AccessDenied", "Access Denied");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::Nothing;
    use super::*;

    /// moto's S3 as a rule sees it: these answers to these GETs.
    struct Answers(&'static [(&'static str, &'static str)]);

    impl Upstream for Answers {
        fn ask(&self, _: &Call, _: &str, _: &serde_json::Value) -> Option<serde_json::Value> {
            None
        }

        fn s3_get(&self, _: &Call, target: &str) -> Option<(u16, String)> {
            self.0
                .iter()
                .find(|(t, _)| *t == target)
                .map_or(Some((404, String::new())), |(_, body)| {
                    Some((200, (*body).to_owned()))
                })
        }
    }

    #[test]
    fn a_bucket_answers_only_requests_signed_for_its_region() {
        let now = Instant::now();
        let rule = BucketRegion::default();
        let signed = |region: &str| {
            format!(
                "AWS4-HMAC-SHA256 Credential=AKID/20261205/{region}/s3/aws4_request, SignedHeaders=host, Signature=0"
            )
        };
        let call = |method: &str, target: &str, region: &str, body: &str| {
            Call::parse(method, target, None, Some(&signed(region)), body.as_bytes())
        };
        let ok = || super::super::testing::ok(serde_json::Value::Null);
        rule.answered(
            &call(
                "PUT",
                "/vault",
                "eu-west-1",
                "<CreateBucketConfiguration><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>",
            ),
            &mut ok(),
            now,
        );
        rule.answered(&call("PUT", "/logs", "us-east-1", ""), &mut ok(), now);

        let moved = rule
            .refuse(
                &call("GET", "/vault/exports/Movies/table.json", "us-east-1", ""),
                now,
                &Nothing,
            )
            .expect("another region's endpoint");
        assert_eq!(moved.status, 301);
        assert!(String::from_utf8_lossy(&moved.body).contains("PermanentRedirect"));
        assert!(
            moved
                .headers
                .contains(&("x-amz-bucket-region".to_owned(), "eu-west-1".to_owned()))
        );
        let head = rule
            .refuse(&call("HEAD", "/vault", "us-east-1", ""), now, &Nothing)
            .expect("HeadBucket tells the region");
        assert_eq!((head.status, head.body.len()), (301, 0));
        assert!(
            rule.refuse(&call("GET", "/vault/k", "eu-west-1", ""), now, &Nothing)
                .is_none()
        );
        assert!(
            rule.refuse(&call("GET", "/logs/k", "us-east-1", ""), now, &Nothing)
                .is_none(),
            "no LocationConstraint: us-east-1"
        );
        assert!(
            rule.refuse(&call("GET", "/elsewhere/k", "us-east-1", ""), now, &Nothing)
                .is_none(),
            "a bucket not made through the layer is moto's"
        );
    }

    const LOCKED: (&str, &str) = (
        "/vault?object-lock",
        "<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled></ObjectLockConfiguration>",
    );

    #[test]
    fn bypassing_governance_is_denied_where_the_bucket_policy_denies_it_to_all() {
        let now = Instant::now();
        let rule = GovernanceBypassDenied::default();
        let put_policy = |bucket: &str, policy: &str| {
            let call = Call::parse(
                "PUT",
                &format!("/{bucket}?policy"),
                None,
                None,
                policy.as_bytes(),
            );
            rule.answered(
                &call,
                &mut super::super::testing::ok(serde_json::Value::Null),
                now,
            );
        };
        put_policy(
            "vault",
            r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::1:root"},"Action":"s3:GetObject"},{"Effect":"Deny","Principal":"*","Action":["s3:BypassGovernanceRetention"],"Resource":"arn:aws:s3:::vault/*"}]}"#,
        );
        // As the Rust SDK sends it: aws-chunked, with a checksum trailer.
        put_policy(
            "chunked",
            "9f\r\n{\"Statement\":[{\"Effect\":\"Deny\",\"Principal\":\"*\",\"Action\":\"s3:BypassGovernanceRetention\",\"Resource\":\"arn:aws:s3:::chunked/*\"}]}\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n",
        );
        put_policy(
            "other",
            r#"{"Statement":{"Effect":"Deny","Principal":{"AWS":"*"},"Action":"s3:*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}}"#,
        );
        let delete = |bucket: &str, bypass: Option<&str>| {
            Call::parse(
                "DELETE",
                &format!("/{bucket}/exports/a.json.gz?versionId=v1"),
                None,
                None,
                b"",
            )
            .with_bypass_governance(bypass)
        };
        for bucket in ["vault", "chunked"] {
            let refused = rule
                .refuse(&delete(bucket, Some("true")), now, &Nothing)
                .expect("refused");
            assert_eq!(refused.status, 403);
        }
        // Without the header, the lock itself answers (moto refuses a locked version).
        for (bucket, bypass) in [
            ("vault", None),
            ("vault", Some("false")),
            ("other", Some("true")),
            ("plain", Some("true")),
        ] {
            assert!(
                rule.refuse(&delete(bucket, bypass), now, &Nothing)
                    .is_none(),
                "{bucket} {bypass:?}"
            );
        }
        // The policy deleted, the bypass is the caller's to have.
        let removed = Call::parse("DELETE", "/vault?policy", None, None, b"");
        rule.answered(
            &removed,
            &mut super::super::testing::ok(serde_json::Value::Null),
            now,
        );
        assert!(
            rule.refuse(&delete("vault", Some("true")), now, &Nothing)
                .is_none()
        );
    }

    #[test]
    fn a_locked_buckets_versioning_cannot_be_suspended() {
        let now = Instant::now();
        let suspend = |bucket: &str| {
            Call::parse(
                "PUT",
                &format!("/{bucket}?versioning"),
                None,
                None,
                b"<VersioningConfiguration><Status>Suspended</Status></VersioningConfiguration>",
            )
        };
        let refused = LockedVersioningStays
            .refuse(&suspend("vault"), now, &Answers(&[LOCKED]))
            .expect("refused");
        assert_eq!(refused.status, 409);
        assert!(
            LockedVersioningStays
                .refuse(&suspend("plain"), now, &Answers(&[LOCKED]))
                .is_none(),
            "a bucket without a lock may suspend"
        );
    }

    #[test]
    fn a_compliance_retention_is_never_shortened_nor_made_governance() {
        let now = Instant::now();
        const DEFAULT: [(&str, &str); 1] = [(
            "/vault?object-lock",
            "<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>COMPLIANCE</Mode><Days>2</Days></DefaultRetention></Rule></ObjectLockConfiguration>",
        )];
        let rule = ComplianceNotShortened::default();
        let write = Call::parse("PUT", "/vault/exports/a", None, None, b"data");
        assert!(rule.refuse(&write, now, &Answers(&DEFAULT)).is_none());
        let mut written = Reply {
            status: 200,
            headers: vec![("x-amz-version-id".to_owned(), "v1".to_owned())],
            body: Vec::new(),
        };
        rule.answered(&write, &mut written, now);
        let put = |mode: &str, until: &str| {
            let body = format!(
                "<Retention><Mode>{mode}</Mode><RetainUntilDate>{until}</RetainUntilDate></Retention>"
            );
            Call::parse(
                "PUT",
                "/vault/exports/a?retention&versionId=v1",
                None,
                None,
                body.as_bytes(),
            )
        };
        let asks = |call: &Call| rule.refuse(call, now, &Answers(&DEFAULT));
        assert!(
            asks(&put("COMPLIANCE", "2020-01-01T00:00:00Z")).is_some(),
            "shorter"
        );
        assert!(
            asks(&put("GOVERNANCE", "2999-01-01T00:00:00Z")).is_some(),
            "another mode"
        );
        assert!(
            asks(&put("COMPLIANCE", "2999-01-01T00:00:00Z")).is_none(),
            "longer is fine"
        );
        let other = Call::parse(
            "PUT",
            "/vault/exports/b?retention&versionId=v9",
            None,
            None,
            b"<Retention><Mode>GOVERNANCE</Mode></Retention>",
        );
        assert!(
            asks(&other).is_none(),
            "a version the layer did not see is moto's"
        );
    }

    #[test]
    fn an_empty_denial_gets_the_access_denied_document_but_not_on_head() {
        let mut denied = Reply {
            status: 403,
            headers: Vec::new(),
            body: Vec::new(),
        };
        let put = Call::parse("PUT", "/logs/settings/s.json", None, None, b"x");
        AccessDeniedBody.answered(&put, &mut denied, Instant::now());
        assert!(String::from_utf8_lossy(&denied.body).contains("<Code>AccessDenied</Code>"));
        let mut head_reply = Reply {
            status: 403,
            headers: Vec::new(),
            body: Vec::new(),
        };
        let head = Call::parse("HEAD", "/logs", None, None, b"");
        AccessDeniedBody.answered(&head, &mut head_reply, Instant::now());
        assert!(head_reply.body.is_empty());
    }

    #[test]
    fn another_expected_owner_is_denied() {
        let rule = ExpectedBucketOwner::moto();
        let head = |owner: Option<&str>| {
            Call::parse("HEAD", "/vault", None, None, b"").with_expected_bucket_owner(owner)
        };
        let denied = rule
            .refuse(&head(Some("999999999999")), Instant::now(), &Nothing)
            .expect("denied");
        assert_eq!(denied.status, 403);
        assert!(
            rule.refuse(&head(Some("123456789012")), Instant::now(), &Nothing)
                .is_none()
        );
        assert!(rule.refuse(&head(None), Instant::now(), &Nothing).is_none());
    }

    #[test]
    fn a_deleted_name_is_refused_then_free() {
        let rule = BucketNameReuse::new(Duration::from_millis(100));
        let t0 = Instant::now();
        let delete = Call::parse("DELETE", "/logs", None, None, b"");
        let mut gone = Reply {
            status: 204,
            headers: Vec::new(),
            body: Vec::new(),
        };
        rule.answered(&delete, &mut gone, t0);
        let create = Call::parse("PUT", "/logs", None, None, b"");
        let refused = rule
            .refuse(&create, t0 + Duration::from_millis(50), &Nothing)
            .expect("refused");
        assert_eq!(refused.status, 409);
        assert!(String::from_utf8_lossy(&refused.body).contains("<Code>OperationAborted</Code>"));
        assert!(
            rule.refuse(&create, t0 + Duration::from_millis(100), &Nothing)
                .is_none(),
            "clears"
        );
        let other = Call::parse("PUT", "/other", None, None, b"");
        assert!(rule.refuse(&other, t0, &Nothing).is_none());
    }
}

/// The text of the first `<name>...</name>` element of an XML body.
fn element<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{name}>"))? + start;
    Some(xml[start..end].trim())
}

/// Whether `call` carries the query parameter `name` (`?versioning`, `?retention`).
fn has_param(call: &Call, name: &str) -> bool {
    call.params.iter().any(|(k, _)| k == name)
}

/// A bucket with Object Lock keeps its versioning on: PutBucketVersioning `Suspended` is 409
/// `InvalidBucketState` (moto suspends it).
///
/// S3 user guide, "Locking objects with Object Lock": "After you enable Object Lock on a
/// bucket, you can't disable Object Lock or suspend versioning for that bucket." Error codes
/// (API reference): "InvalidBucketState: The request is not valid with the current state of the
/// bucket. 409 Conflict".
pub struct LockedVersioningStays;

impl Rule for LockedVersioningStays {
    fn name(&self) -> &'static str {
        "LockedVersioningStays"
    }

    fn refuse(&self, call: &Call, _: Instant, upstream: &dyn Upstream) -> Option<Reply> {
        if call.service != Service::S3
            || !call.operation.starts_with("PUT ")
            || !has_param(call, "versioning")
            || element(&call.body, "Status") != Some("Suspended")
        {
            return None;
        }
        let bucket = call.resource.as_deref()?;
        let (status, body) = upstream.s3_get(call, &format!("/{bucket}?object-lock"))?;
        let locked = status == 200 && element(&body, "ObjectLockEnabled") == Some("Enabled");
        locked.then(|| {
            Reply::s3_error(
                409,
                "InvalidBucketState",
                "An Object Lock configuration is present on this bucket, so the versioning state cannot be changed.",
            )
        })
    }
}

/// A version locked in compliance mode keeps its mode and at least its retention:
/// PutObjectRetention that shortens it or changes its mode is 403 `AccessDenied` (moto applies
/// it, and cannot answer GetObjectRetention, so the layer keeps each version's retention as the
/// bucket's default retention gave it when it was written through the layer).
///
/// S3 user guide, "Locking objects with Object Lock", retention modes: "In compliance mode, a
/// protected object version can't be overwritten or deleted by any user, including the root
/// user in your AWS account. When an object is locked in compliance mode, its retention mode
/// can't be changed, and its retention period can't be shortened."; default retention: "When
/// you place an object version in the bucket, the retention period is calculated from the
/// object version's creation timestamp."
#[derive(Default)]
pub struct ComplianceNotShortened {
    /// Each bucket's default retention (mode, days), as read once (`None`: no default).
    defaults: Mutex<HashMap<String, Option<(String, i64)>>>,
    /// Each version written through the layer into a bucket with default retention:
    /// `/bucket/key?versionId=v` → (mode, retained until).
    held: Mutex<HashMap<String, (String, time::OffsetDateTime)>>,
}

impl ComplianceNotShortened {
    /// The default retention of `bucket`, read from moto once.
    fn default_of(
        &self,
        call: &Call,
        bucket: &str,
        upstream: &dyn Upstream,
    ) -> Option<(String, i64)> {
        if let Some(known) = lock(&self.defaults).get(bucket) {
            return known.clone();
        }
        let (status, body) = upstream.s3_get(call, &format!("/{bucket}?object-lock"))?;
        let number = |name: &str| element(&body, name).and_then(|n| n.parse::<i64>().ok());
        let found = (status == 200)
            .then(|| {
                let mode = element(&body, "Mode")?.to_owned();
                let days = number("Days").unwrap_or(0) + 365 * number("Years").unwrap_or(0);
                (days > 0).then_some((mode, days))
            })
            .flatten();
        lock(&self.defaults).insert(bucket.to_owned(), found.clone());
        found
    }
}

/// `PUT /bucket/key` with no sub-resource: PutObject.
fn is_put_object(call: &Call) -> bool {
    call.service == Service::S3
        && call.operation.starts_with("PUT ")
        && call.operation.trim_start_matches("PUT /").contains('/')
        && call.params.iter().all(|(k, _)| k == "x-id")
}

impl Rule for ComplianceNotShortened {
    fn name(&self) -> &'static str {
        "ComplianceNotShortened"
    }

    fn refuse(&self, call: &Call, _: Instant, upstream: &dyn Upstream) -> Option<Reply> {
        if is_put_object(call) {
            // Read (once) before moto answers, so that `answered` knows the bucket's default.
            self.default_of(call, call.resource.as_deref()?, upstream);
            return None;
        }
        if call.service != Service::S3
            || !call.operation.starts_with("PUT ")
            || !has_param(call, "retention")
        {
            return None;
        }
        let path = call.operation.strip_prefix("PUT ")?;
        let version = call
            .params
            .iter()
            .find(|(k, _)| k == "versionId")?
            .1
            .clone();
        let (mode, until) = lock(&self.held)
            .get(&format!("{path}?versionId={version}"))
            .cloned()?;
        if mode != "COMPLIANCE" {
            return None;
        }
        let asked = element(&call.body, "RetainUntilDate").and_then(|d| {
            time::OffsetDateTime::parse(d, &time::format_description::well_known::Rfc3339).ok()
        });
        let weaker = element(&call.body, "Mode") != Some("COMPLIANCE")
            || asked.is_none_or(|asked| asked < until);
        weaker.then(|| Reply::s3_error(403, "AccessDenied", "Access Denied"))
    }

    fn answered(&self, call: &Call, reply: &mut Reply, _: Instant) {
        if call.service == Service::S3
            && (call.operation == "DeleteBucket"
                || call.operation.starts_with("PUT ") && has_param(call, "object-lock"))
            && let Some(bucket) = call.resource.as_deref()
        {
            // A new default: read again on the next write.
            lock(&self.defaults).remove(bucket);
            return;
        }
        if !is_put_object(call) || !reply.ok() {
            return;
        }
        let Some(bucket) = call.resource.as_deref() else {
            return;
        };
        let Some(Some((mode, days))) = lock(&self.defaults).get(bucket).cloned() else {
            return;
        };
        let Some(version) = reply
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("x-amz-version-id"))
            .map(|(_, v)| v.clone())
        else {
            return;
        };
        let path = call.operation.trim_start_matches("PUT ");
        let until = time::OffsetDateTime::now_utc() + time::Duration::days(days);
        lock(&self.held).insert(format!("{path}?versionId={version}"), (mode, until));
    }
}

/// A request asking to bypass governance-mode retention (`x-amz-bypass-governance-retention:
/// true`: DeleteObject of a version, PutObjectRetention) is 403 `AccessDenied` where the bucket's
/// policy denies `s3:BypassGovernanceRetention` to everyone, as `installer vault init`'s does
/// (moto honours the header whoever sends it, and evaluates no bucket policy). The layer keeps
/// each bucket's policy as PutBucketPolicy sent it through the layer.
///
/// S3 API reference, DeleteObject, `x-amz-bypass-governance-retention`: "Indicates whether S3
/// Object Lock should bypass Governance-mode restrictions to process this operation. To use
/// this header, you must have the s3:BypassGovernanceRetention permission."; IAM user guide,
/// policy evaluation logic: an explicit deny in any policy overrides any allow.
#[derive(Default)]
pub struct GovernanceBypassDenied {
    /// Each bucket's policy, as put through the layer.
    policies: Mutex<HashMap<String, String>>,
}

/// Whether a bucket policy (JSON, as PutBucketPolicy's body carried it: plain, or in
/// `aws-chunked` framing with a checksum trailer, as the Rust SDK sends it) denies
/// `s3:BypassGovernanceRetention` to every principal, with no condition.
fn denies_bypass_to_all(body: &str) -> bool {
    let document = body
        .find('{')
        .zip(body.rfind('}'))
        .and_then(|(start, end)| body.get(start..=end));
    let Some(Ok(policy)) = document.map(serde_json::from_str::<serde_json::Value>) else {
        return false;
    };
    let statements = match &policy["Statement"] {
        serde_json::Value::Array(all) => all.clone(),
        one => vec![one.clone()],
    };
    let names = |v: &serde_json::Value| match v {
        serde_json::Value::String(one) => vec![one.clone()],
        serde_json::Value::Array(all) => all
            .iter()
            .filter_map(|a| a.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    statements.iter().any(|s| {
        let everyone = s["Principal"] == "*" || names(&s["Principal"]["AWS"]) == ["*"];
        let action = names(&s["Action"]).iter().any(|a| {
            ["s3:bypassgovernanceretention", "s3:*", "*"].contains(&a.to_lowercase().as_str())
        });
        s["Effect"] == "Deny" && everyone && action && s.get("Condition").is_none()
    })
}

impl Rule for GovernanceBypassDenied {
    fn name(&self) -> &'static str {
        "GovernanceBypassDenied"
    }

    fn refuse(&self, call: &Call, _: Instant, _: &dyn Upstream) -> Option<Reply> {
        if call.service != Service::S3 || !call.bypass_governance {
            return None;
        }
        let bucket = call.resource.as_deref()?;
        let denied = lock(&self.policies)
            .get(bucket)
            .is_some_and(|policy| denies_bypass_to_all(policy));
        denied.then(|| Reply::s3_error(403, "AccessDenied", "Access Denied"))
    }

    fn answered(&self, call: &Call, reply: &mut Reply, _: Instant) {
        if call.service != Service::S3 || !reply.ok() {
            return;
        }
        let Some(bucket) = call.resource.as_deref() else {
            return;
        };
        if call.operation == "DeleteBucket"
            || call.operation.starts_with("DELETE ") && has_param(call, "policy")
        {
            lock(&self.policies).remove(bucket);
        } else if call.operation.starts_with("PUT ") && has_param(call, "policy") {
            lock(&self.policies).insert(bucket.to_owned(), call.body.clone());
        }
    }
}

/// GetBucketVersioning answers a `VersioningConfiguration` document (moto names its root
/// `GetBucketVersioningResponse`, which the SDK refuses to read).
///
/// S3 API reference, GetBucketVersioning, response syntax: `<VersioningConfiguration>
/// <Status>string</Status> <MfaDelete>string</MfaDelete> </VersioningConfiguration>`.
pub struct VersioningDocument;

impl Rule for VersioningDocument {
    fn name(&self) -> &'static str {
        "VersioningDocument"
    }

    fn answered(&self, call: &Call, reply: &mut Reply, _: Instant) {
        if call.service == Service::S3
            && call.operation.starts_with("GET ")
            && has_param(call, "versioning")
            && reply.ok()
        {
            let text = String::from_utf8_lossy(&reply.body)
                .replace("GetBucketVersioningResponse", "VersioningConfiguration");
            // The length is written from the body when the reply is sent.
            reply.body = text.into_bytes();
        }
    }
}
