//! S3's bucket names, as its error reference documents them.

use std::time::{Duration, Instant};

use super::{Call, Recent, Reply, Rule, Service, Upstream, decode};

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
/// the bucket, the request fails with the HTTP status code 403 Forbidden (access denied)." Every
/// bucket moto holds is its one account's.
pub struct ExpectedBucketOwner {
    account: String,
}

impl ExpectedBucketOwner {
    /// Buckets owned by moto's default account, 123456789012.
    pub fn moto() -> Self {
        Self {
            account: "123456789012".to_owned(),
        }
    }
}

impl Rule for ExpectedBucketOwner {
    fn name(&self) -> &'static str {
        "ExpectedBucketOwner"
    }

    fn refuse(&self, call: &Call, _: Instant, _: &dyn Upstream) -> Option<Reply> {
        let expected = call.expected_bucket_owner.as_deref()?;
        (call.service == Service::S3 && expected != self.account)
            .then(|| Reply::s3_error(403, "AccessDenied", "Access Denied"))
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
