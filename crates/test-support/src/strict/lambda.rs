//! Lambda's function states, and IAM roles that Lambda cannot assume yet.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use base64::Engine as _;

use super::{Call, Recent, Reply, Rule, Service, Upstream, decode};

const LAMBDA: Service = Service::Lambda;

/// Names a Lambda REST request (`CreateFunction`, `GetFunction`, `UpdateFunctionCode`, ...;
/// `METHOD path` for the rest) and the function it is for, by name (an ARN is cut to its name).
pub(super) fn name_rest_call(method: &str, path: &str) -> (String, Option<String>) {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let function = parts.get(2).map(|f| function_name(&decode(f)));
    let operation = match (method, parts.get(1..).unwrap_or_default()) {
        ("POST", ["functions"]) => "CreateFunction",
        ("GET", ["functions", _]) => "GetFunction",
        ("DELETE", ["functions", _]) => "DeleteFunction",
        ("GET", ["functions", _, "configuration"]) => "GetFunctionConfiguration",
        ("PUT", ["functions", _, "configuration"]) => "UpdateFunctionConfiguration",
        ("PUT", ["functions", _, "code"]) => "UpdateFunctionCode",
        ("POST", ["functions", _, "invocations"]) => "Invoke",
        ("POST", ["functions", _, "versions"]) => "PublishVersion",
        _ => return (format!("{method} {path}"), function),
    };
    (operation.to_owned(), function)
}

/// `arn:aws:lambda:region:account:function:name[:qualifier]` → `name`; a name stays as it is.
fn function_name(text: &str) -> String {
    match text.split_once(":function:") {
        Some((_, rest)) => rest.split(':').next().unwrap_or(rest).to_owned(),
        None => text.to_owned(),
    }
}

/// The operations that fail while a function is Pending or being updated.
const BLOCKED: [&str; 4] = [
    "UpdateFunctionCode",
    "UpdateFunctionConfiguration",
    "PublishVersion",
    "Invoke",
];

/// CreateFunction with a role made a moment ago is refused: "The role defined for the function
/// cannot be assumed by Lambda."; so is a Scheduler schedule's: "The execution role you provide
/// must allow AWS EventBridge Scheduler to assume the role."
///
/// IAM user guide, "Troubleshooting IAM" ("Changes that I make are not always immediately
/// visible"): IAM is eventually consistent, and a new role may not be usable at once. Lambda
/// (CreateFunction, errors) answers InvalidParameterValueException with this message while it
/// cannot assume the role; EventBridge Scheduler (CreateSchedule, UpdateSchedule) answers
/// ValidationException with its own (Scheduler user guide, "Troubleshooting").
pub struct RolePropagation {
    created: Recent,
}

impl RolePropagation {
    /// Roles are usable by Lambda `window` after CreateRole.
    pub fn new(window: Duration) -> Self {
        Self {
            created: Recent::new(window),
        }
    }
}

impl Rule for RolePropagation {
    fn name(&self) -> &'static str {
        "RolePropagation"
    }

    fn refuse(&self, call: &Call, now: Instant, _: &dyn Upstream) -> Option<Reply> {
        if call.is(Service::Scheduler, "CreateSchedule")
            || call.is(Service::Scheduler, "UpdateSchedule")
        {
            let role = call.json["Target"]["RoleArn"]
                .as_str()?
                .rsplit('/')
                .next()?;
            return self.created.within(role, now).then(|| {
                Reply::rest_json_error(
                    400,
                    "ValidationException",
                    "The execution role you provide must allow AWS EventBridge Scheduler to assume the role.",
                )
            });
        }
        let role = call.field("Role")?.rsplit('/').next()?;
        (call.is(LAMBDA, "CreateFunction") && self.created.within(role, now)).then(|| {
            Reply::lambda_error(
                400,
                "InvalidParameterValueException",
                "The role defined for the function cannot be assumed by Lambda.",
            )
        })
    }

    fn answered(&self, call: &Call, reply: &mut Reply, now: Instant) {
        if call.is(Service::Iam, "CreateRole")
            && reply.ok()
            && let Some(role) = call.param("RoleName")
        {
            self.created.mark(role, now);
        }
    }
}

/// Shows the function's state as `edit` says in GetFunction's and GetFunctionConfiguration's
/// answers (the configuration is nested in the first, the whole body of the second).
fn edit_configuration(call: &Call, reply: &mut Reply, edit: impl FnOnce(&mut serde_json::Value)) {
    match call.operation.as_str() {
        "GetFunction" => reply.edit_json(|j| edit(&mut j["Configuration"])),
        "GetFunctionConfiguration"
        | "CreateFunction"
        | "UpdateFunctionCode"
        | "UpdateFunctionConfiguration" => reply.edit_json(edit),
        _ => {}
    }
}

/// A new function is `Pending` for a while; updates and invocations meanwhile are refused with
/// ResourceConflictException.
///
/// Lambda developer guide, "Lambda function states": "Pending – After Lambda creates the
/// function, it sets the state to pending ... Lambda does not invoke a function during pending
/// state. Any invocations or other API actions that operate on the function will fail." The
/// operations that fail while Pending are listed there: Invoke, UpdateFunctionCode,
/// UpdateFunctionConfiguration, PublishVersion.
pub struct FunctionPending {
    created: Recent,
}

impl FunctionPending {
    /// Functions are Pending for `window`.
    pub fn new(window: Duration) -> Self {
        Self {
            created: Recent::new(window),
        }
    }
}

impl Rule for FunctionPending {
    fn name(&self) -> &'static str {
        "FunctionPending"
    }

    fn refuse(&self, call: &Call, now: Instant, _: &dyn Upstream) -> Option<Reply> {
        let function = call.resource.as_deref()?;
        let blocked = call.service == LAMBDA && BLOCKED.contains(&call.operation.as_str());
        (blocked && self.created.within(function, now)).then(|| {
            Reply::lambda_error(
                409,
                "ResourceConflictException",
                "The operation cannot be performed at this time. The function is currently in the following state: Pending",
            )
        })
    }

    fn answered(&self, call: &Call, reply: &mut Reply, now: Instant) {
        if call.service != LAMBDA || !reply.ok() {
            return;
        }
        if call.operation == "CreateFunction" {
            if let Some(name) = call.field("FunctionName") {
                self.created.mark(&function_name(name), now);
            }
        } else if call.operation == "DeleteFunction" {
            if let Some(name) = &call.resource {
                self.created.forget(name);
            }
            return;
        }
        let name = call
            .resource
            .clone()
            .or_else(|| call.field("FunctionName").map(function_name));
        if name.is_some_and(|n| self.created.within(&n, now)) {
            edit_configuration(call, reply, |c| {
                c["State"] = "Pending".into();
                c["StateReason"] = "The function is being created.".into();
                c["StateReasonCode"] = "Creating".into();
            });
        }
    }
}

/// An updated function's `LastUpdateStatus` is `InProgress` for a while; another update
/// meanwhile is refused with ResourceConflictException.
///
/// Lambda developer guide, "Lambda function states" ("Function states during update"): while
/// `LastUpdateStatus` is `InProgress`, UpdateFunctionCode, UpdateFunctionConfiguration and
/// PublishVersion fail; invocations use the previous code and configuration.
pub struct UpdateInProgress {
    updated: Recent,
}

impl UpdateInProgress {
    /// Updates take `window`.
    pub fn new(window: Duration) -> Self {
        Self {
            updated: Recent::new(window),
        }
    }
}

impl Rule for UpdateInProgress {
    fn name(&self) -> &'static str {
        "UpdateInProgress"
    }

    fn refuse(&self, call: &Call, now: Instant, _: &dyn Upstream) -> Option<Reply> {
        let function = call.resource.as_deref()?;
        let blocked = call.service == LAMBDA
            && BLOCKED[..3].contains(&call.operation.as_str())
            && self.updated.within(function, now);
        blocked.then(|| {
            Reply::lambda_error(
                409,
                "ResourceConflictException",
                &format!(
                    "The operation cannot be performed at this time. An update is in progress for resource: {function}"
                ),
            )
        })
    }

    fn answered(&self, call: &Call, reply: &mut Reply, now: Instant) {
        if call.service != LAMBDA || !reply.ok() {
            return;
        }
        let Some(name) = call.resource.clone() else {
            return;
        };
        match call.operation.as_str() {
            "UpdateFunctionCode" | "UpdateFunctionConfiguration" => self.updated.mark(&name, now),
            "DeleteFunction" => {
                self.updated.forget(&name);
                return;
            }
            _ => {}
        }
        if self.updated.within(&name, now) {
            edit_configuration(call, reply, |c| {
                c["LastUpdateStatus"] = "InProgress".into();
                c["LastUpdateStatusReason"] = "The function is being updated.".into();
                c["LastUpdateStatusReasonCode"] = "InProgress".into();
            });
        }
    }
}

/// The function a successful Lambda call was about: from its path, or CreateFunction's body.
fn answered_function(call: &Call, reply: &Reply) -> Option<String> {
    if call.service != LAMBDA || !reply.ok() {
        return None;
    }
    call.resource
        .clone()
        .or_else(|| call.field("FunctionName").map(function_name))
}

/// UpdateFunctionCode's `Architectures` changes the function's architecture; moto ignores it
/// and keeps the one CreateFunction set.
///
/// Lambda API reference, UpdateFunctionCode, request body: "Architectures: The instruction set
/// architecture that the function supports. Enter a string array with one of the valid values
/// (arm64 or x86_64)"; and "The code in the deployment package must be compatible with the
/// target instruction set architecture of the function". Here the architectures an
/// UpdateFunctionCode set are shown in every configuration Lambda answers with afterwards, until
/// the function is deleted or created anew.
#[derive(Default)]
pub struct ArchitectureFollowsCode {
    /// Each function's architectures, from its last UpdateFunctionCode that named them.
    set: Mutex<HashMap<String, serde_json::Value>>,
}

impl Rule for ArchitectureFollowsCode {
    fn name(&self) -> &'static str {
        "ArchitectureFollowsCode"
    }

    fn answered(&self, call: &Call, reply: &mut Reply, _: Instant) {
        let Some(name) = answered_function(call, reply) else {
            return;
        };
        let mut set = lock(&self.set);
        match call.operation.as_str() {
            "CreateFunction" | "DeleteFunction" => {
                set.remove(&name);
            }
            "UpdateFunctionCode" => {
                if let Some(architectures) = call.json.get("Architectures") {
                    set.insert(name.clone(), architectures.clone());
                }
            }
            _ => {}
        }
        if let Some(architectures) = set.get(&name) {
            edit_configuration(call, reply, |c| c["Architectures"] = architectures.clone());
        }
    }
}

/// The path under which [`CodeLocation`] serves the code it hands out.
const CODE_PATH: &str = "/__strict/code/";

/// GetFunction's `Code.Location` is a presigned URL that downloads the deployed zip, for ten
/// minutes; moto names an S3 host it does not serve.
///
/// Lambda API reference, FunctionCodeLocation: "Location: A presigned URL that you can use to
/// download the deployment package"; the earlier wording adds "The URL is valid for up to 10
/// minutes." Here the URL points at the proxy itself (the `Host` the client used), which answers
/// with the zip as it was when GetFunction answered, and 403 `AccessDenied` "Request has
/// expired" after ten minutes, as an expired presigned S3 URL does.
#[derive(Default)]
pub struct CodeLocation {
    /// Each function's zip, from its last CreateFunction or UpdateFunctionCode with `ZipFile`.
    code: Mutex<HashMap<String, Arc<Vec<u8>>>>,
    /// Each location handed out: the zip and when.
    handed_out: Mutex<Vec<(Arc<Vec<u8>>, Instant)>>,
}

/// How long a location stays valid.
const LOCATION_VALID: Duration = Duration::from_secs(600);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Rule for CodeLocation {
    fn name(&self) -> &'static str {
        "CodeLocation"
    }

    fn refuse(&self, call: &Call, now: Instant, _: &dyn Upstream) -> Option<Reply> {
        let token = call
            .operation
            .strip_prefix("GET ")?
            .strip_prefix(CODE_PATH)?;
        let handed_out = lock(&self.handed_out);
        let found = token.parse::<usize>().ok().and_then(|i| handed_out.get(i));
        Some(match found {
            Some((zip, at)) if now.saturating_duration_since(*at) < LOCATION_VALID => Reply {
                status: 200,
                headers: vec![("Content-Type".to_owned(), "application/zip".to_owned())],
                body: zip.to_vec(),
            },
            Some(_) => Reply::s3_error(403, "AccessDenied", "Request has expired"),
            None => Reply::s3_error(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
            ),
        })
    }

    fn answered(&self, call: &Call, reply: &mut Reply, now: Instant) {
        let Some(name) = answered_function(call, reply) else {
            return;
        };
        match call.operation.as_str() {
            "CreateFunction" | "UpdateFunctionCode" => {
                let zip = call
                    .json
                    .get("Code")
                    .unwrap_or(&call.json)
                    .get("ZipFile")
                    .and_then(|z| z.as_str())
                    .and_then(|z| base64::engine::general_purpose::STANDARD.decode(z).ok());
                let mut code = lock(&self.code);
                match zip {
                    Some(zip) => code.insert(name, Arc::new(zip)),
                    None => code.remove(&name),
                };
            }
            "DeleteFunction" => {
                lock(&self.code).remove(&name);
            }
            "GetFunction" => {
                let (Some(zip), Some(host)) = (lock(&self.code).get(&name).cloned(), &call.host)
                else {
                    return;
                };
                let mut handed_out = lock(&self.handed_out);
                let location = format!(
                    "http://{host}{CODE_PATH}{}?X-Amz-Expires={}",
                    handed_out.len(),
                    LOCATION_VALID.as_secs()
                );
                handed_out.push((zip, now));
                reply.edit_json(|j| j["Code"]["Location"] = location.into());
            }
            _ => {}
        }
    }
}

/// A function's timeout is 1 to 900 seconds: CreateFunction or UpdateFunctionConfiguration
/// with another is `ValidationException` (moto takes any), so no test runs a function longer
/// than Lambda would.
///
/// CreateFunction (API reference), `Timeout`: "The amount of time (in seconds) that Lambda
/// allows a function to run before stopping it. The default is 3 seconds. The maximum allowed
/// value is 900 seconds"; valid range: minimum 1.
pub struct TimeoutLimit;

impl Rule for TimeoutLimit {
    fn name(&self) -> &'static str {
        "TimeoutLimit"
    }

    fn refuse(&self, call: &Call, _: Instant, _: &dyn Upstream) -> Option<Reply> {
        let configures =
            call.is(LAMBDA, "CreateFunction") || call.is(LAMBDA, "UpdateFunctionConfiguration");
        let timeout = &call.json["Timeout"];
        if !configures || timeout.is_null() {
            return None;
        }
        if timeout.as_u64().is_some_and(|t| (1..=900).contains(&t)) {
            return None;
        }
        Some(Reply::lambda_error(
            400,
            "ValidationException",
            &format!(
                "1 validation error detected: Value '{timeout}' at 'timeout' failed to satisfy constraint: Member must have value less than or equal to 900"
            ),
        ))
    }
}

/// An asynchronous invocation (`X-Amz-Invocation-Type: Event`) of a function created through
/// the layer is queued and answered 202 with no body, as Lambda answers it, for the test to
/// deliver (moto would try to run the function in a container, which no machine here has).
/// Other functions' invocations go on to moto, which knows whether they exist.
///
/// Invoke (API reference): "For asynchronous invocation, Lambda adds events to a queue before
/// sending them to your function. If your function does not have enough capacity to keep up
/// with the queue, events may be lost"; `InvocationType` `Event`: "Send the event to the
/// function asynchronously"; StatusCode: "for the Event invocation type, the status code is
/// 202". Developer guide, "How Lambda handles errors and retries with asynchronous invocation":
/// an event may be delivered more than once, and a failed one is retried (twice by default).
/// Delivering, losing or repeating the queued events is the test's to choose.
#[derive(Default)]
pub struct AsyncInvocations {
    /// The functions created through the layer, by name.
    functions: Mutex<std::collections::HashSet<String>>,
    queue: Mutex<Vec<Queued>>,
}

/// One queued asynchronous invocation.
#[derive(Debug, Clone, PartialEq)]
pub struct Queued {
    /// The function, by name.
    pub function: String,
    /// The event.
    pub payload: serde_json::Value,
}

impl AsyncInvocations {
    /// Takes the invocations queued so far, oldest first.
    pub fn take(&self) -> Vec<Queued> {
        std::mem::take(&mut *super::lock(&self.queue))
    }
}

impl Rule for std::sync::Arc<AsyncInvocations> {
    fn name(&self) -> &'static str {
        "AsyncInvocations"
    }

    fn refuse(&self, call: &Call, _: Instant, _: &dyn Upstream) -> Option<Reply> {
        let Some(function) = &call.resource else {
            return None;
        };
        let queued = call.is(LAMBDA, "Invoke")
            && call.invocation_type.as_deref() == Some("Event")
            && super::lock(&self.functions).contains(function);
        if !queued {
            return None;
        }
        super::lock(&self.queue).push(Queued {
            function: function.clone(),
            payload: call.json.clone(),
        });
        Some(Reply {
            status: 202,
            headers: vec![(
                "x-amzn-RequestId".to_owned(),
                format!("queued-{}", super::lock(&self.queue).len()),
            )],
            body: Vec::new(),
        })
    }

    fn answered(&self, call: &Call, reply: &mut Reply, _: Instant) {
        if !reply.ok() {
            return;
        }
        if call.is(LAMBDA, "CreateFunction") {
            if let Some(name) = reply.json()["FunctionName"].as_str() {
                super::lock(&self.functions).insert(name.to_owned());
            }
        } else if let (true, Some(function)) = (call.is(LAMBDA, "DeleteFunction"), &call.resource) {
            super::lock(&self.functions).remove(function);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::Nothing;
    use super::*;
    use serde_json::json;

    const MS: Duration = Duration::from_millis(1);

    fn lambda(method: &str, path: &str, body: serde_json::Value) -> Call {
        Call::parse(method, path, None, None, body.to_string().as_bytes())
    }

    fn reply(status: u16, body: serde_json::Value) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: body.to_string().into_bytes(),
        }
    }

    #[test]
    fn a_timeout_past_fifteen_minutes_is_refused() {
        let create = |timeout: serde_json::Value| {
            lambda(
                "POST",
                "/2015-03-31/functions",
                json!({"FunctionName": "f", "Timeout": timeout}),
            )
        };
        let refused = TimeoutLimit
            .refuse(&create(json!(901)), Instant::now(), &Nothing)
            .expect("refused");
        assert_eq!(refused.status, 400);
        assert!(
            TimeoutLimit
                .refuse(&create(json!(0)), Instant::now(), &Nothing)
                .is_some()
        );
        assert!(
            TimeoutLimit
                .refuse(&create(json!(900)), Instant::now(), &Nothing)
                .is_none()
        );
        let update = lambda(
            "PUT",
            "/2015-03-31/functions/f/configuration",
            json!({"Timeout": 1000}),
        );
        assert!(
            TimeoutLimit
                .refuse(&update, Instant::now(), &Nothing)
                .is_some()
        );
        let no_timeout = lambda(
            "POST",
            "/2015-03-31/functions",
            json!({"FunctionName": "f"}),
        );
        assert!(
            TimeoutLimit
                .refuse(&no_timeout, Instant::now(), &Nothing)
                .is_none()
        );
    }

    #[test]
    fn asynchronous_invocations_of_a_created_function_are_queued() {
        let rule = std::sync::Arc::new(AsyncInvocations::default());
        let created = lambda(
            "POST",
            "/2015-03-31/functions",
            json!({"FunctionName": "f"}),
        );
        rule.answered(
            &created,
            &mut reply(201, json!({"FunctionName": "f"})),
            Instant::now(),
        );
        let invoke = |function: &str, kind: Option<&str>| {
            lambda(
                "POST",
                &format!("/2015-03-31/functions/{function}/invocations"),
                json!({"TableTag": {"Key": "k", "Value": "v"}}),
            )
            .with_invocation_type(kind)
        };
        let answer = rule
            .refuse(&invoke("f", Some("Event")), Instant::now(), &Nothing)
            .expect("queued");
        assert_eq!(answer.status, 202);
        assert!(answer.body.is_empty());
        // A synchronous invocation, and another function's, go on to moto.
        assert!(
            rule.refuse(&invoke("f", None), Instant::now(), &Nothing)
                .is_none()
        );
        assert!(
            rule.refuse(&invoke("other", Some("Event")), Instant::now(), &Nothing)
                .is_none()
        );
        let queued = rule.take();
        assert_eq!(queued.len(), 1);
        assert_eq!(queued[0].function, "f");
        assert_eq!(queued[0].payload["TableTag"]["Key"], "k");
        assert!(rule.take().is_empty(), "taken once");
        let deleted = lambda("DELETE", "/2015-03-31/functions/f", json!({}));
        rule.answered(&deleted, &mut reply(204, json!({})), Instant::now());
        assert!(
            rule.refuse(&invoke("f", Some("Event")), Instant::now(), &Nothing)
                .is_none()
        );
    }

    #[test]
    fn an_update_of_the_code_changes_the_architecture_until_the_function_is_made_anew() {
        let rule = ArchitectureFollowsCode::default();
        let t0 = Instant::now();
        let moto = || reply(200, json!({"Architectures": ["x86_64"]}));
        let seen = |call: Call| {
            let mut got = moto();
            rule.answered(&call, &mut got, t0);
            got.json()["Architectures"].clone()
        };
        let get = || lambda("GET", "/2015-03-31/functions/f/configuration", json!(null));
        assert_eq!(seen(get()), json!(["x86_64"]), "nothing set: moto's answer");
        let update = |body| lambda("PUT", "/2015-03-31/functions/f/code", body);
        assert_eq!(
            seen(update(json!({"Architectures": ["arm64"]}))),
            json!(["arm64"])
        );
        assert_eq!(seen(get()), json!(["arm64"]));
        assert_eq!(
            seen(update(json!({"ZipFile": "AA=="}))),
            json!(["arm64"]),
            "kept"
        );
        let mut whole = reply(200, json!({"Configuration": {"Architectures": ["x86_64"]}}));
        rule.answered(
            &lambda("GET", "/2015-03-31/functions/f", json!(null)),
            &mut whole,
            t0,
        );
        assert_eq!(
            whole.json()["Configuration"]["Architectures"],
            json!(["arm64"])
        );
        let other = lambda("GET", "/2015-03-31/functions/g/configuration", json!(null));
        assert_eq!(seen(other), json!(["x86_64"]), "another function");
        seen(lambda("DELETE", "/2015-03-31/functions/f", json!(null)));
        assert_eq!(
            seen(get()),
            json!(["x86_64"]),
            "forgotten with the function"
        );
    }

    #[test]
    fn the_code_location_serves_the_deployed_zip_for_ten_minutes() {
        let rule = CodeLocation::default();
        let t0 = Instant::now();
        let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
        let create = lambda(
            "POST",
            "/2015-03-31/functions",
            json!({"FunctionName": "f", "Code": {"ZipFile": b64(b"first zip")}}),
        );
        rule.answered(&create, &mut reply(201, json!({})), t0);
        let get = |host: Option<&str>| {
            let mut got = reply(200, json!({"Code": {"Location": "https://moto/unserved"}}));
            rule.answered(
                &lambda("GET", "/2015-03-31/functions/f", json!(null)).with_host(host),
                &mut got,
                t0,
            );
            got.json()["Code"]["Location"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_default()
        };
        let first = get(Some("127.0.0.1:9"));
        let path = first
            .strip_prefix("http://127.0.0.1:9")
            .and_then(|p| p.split('?').next())
            .expect("a location on the proxy");
        let download = |path: &str, at: Instant| {
            rule.refuse(&Call::parse("GET", path, None, None, b""), at, &Nothing)
        };
        let served = download(path, t0 + Duration::from_secs(599)).expect("served");
        assert_eq!(
            (served.status, served.body.as_slice()),
            (200, &b"first zip"[..])
        );

        let update = lambda(
            "PUT",
            "/2015-03-31/functions/f/code",
            json!({"ZipFile": b64(b"second zip")}),
        );
        rule.answered(&update, &mut reply(200, json!({})), t0);
        let second = get(Some("127.0.0.1:9"));
        let second_path = second
            .strip_prefix("http://127.0.0.1:9")
            .and_then(|p| p.split('?').next())
            .expect("a location on the proxy");
        assert_eq!(
            download(second_path, t0).map(|r| r.body),
            Some(b"second zip".to_vec())
        );
        assert_eq!(
            download(path, t0).map(|r| r.body),
            Some(b"first zip".to_vec()),
            "a location keeps the zip it was handed out for"
        );

        let expired = download(path, t0 + LOCATION_VALID).expect("answered");
        assert_eq!(expired.status, 403);
        assert!(String::from_utf8_lossy(&expired.body).contains("Request has expired"));
        assert_eq!(
            download("/__strict/code/99", t0).map(|r| r.status),
            Some(403)
        );
        assert!(download("/bucket/key", t0).is_none(), "other requests pass");
        assert_eq!(
            get(None),
            "https://moto/unserved",
            "left alone without a host"
        );
    }

    #[test]
    fn a_new_role_cannot_be_assumed_until_it_propagates() {
        let rule = RolePropagation::new(100 * MS);
        let t0 = Instant::now();
        let role = Call::parse(
            "POST",
            "/",
            None,
            None,
            b"Action=CreateRole&RoleName=r&Version=2010-05-08",
        );
        rule.answered(&role, &mut reply(200, json!(null)), t0);
        let create = lambda(
            "POST",
            "/2015-03-31/functions",
            json!({"FunctionName": "f", "Role": "arn:aws:iam::1:role/r"}),
        );
        let refused = rule
            .refuse(&create, t0 + 50 * MS, &Nothing)
            .expect("refused");
        assert_eq!(refused.status, 400);
        assert!(String::from_utf8_lossy(&refused.body).contains("cannot be assumed by Lambda"));
        assert!(
            rule.refuse(&create, t0 + 100 * MS, &Nothing).is_none(),
            "clears"
        );
    }

    #[test]
    fn a_new_function_is_pending_and_refuses_updates_until_active() {
        let rule = FunctionPending::new(100 * MS);
        let t0 = Instant::now();
        let create = lambda(
            "POST",
            "/2015-03-31/functions",
            json!({"FunctionName": "f"}),
        );
        let mut created = reply(201, json!({"FunctionName": "f", "State": "Active"}));
        rule.answered(&create, &mut created, t0);
        assert_eq!(created.json()["State"], "Pending");

        let get = lambda("GET", "/2015-03-31/functions/f", json!(null));
        let mut got = reply(200, json!({"Configuration": {"State": "Active"}}));
        rule.answered(&get, &mut got, t0 + 50 * MS);
        assert_eq!(got.json()["Configuration"]["State"], "Pending");

        let update = lambda("PUT", "/2015-03-31/functions/f/code", json!({}));
        let refused = rule
            .refuse(&update, t0 + 50 * MS, &Nothing)
            .expect("refused");
        assert_eq!(refused.status, 409);
        let concurrency = lambda("PUT", "/2017-10-31/functions/f/concurrency", json!({}));
        assert!(
            rule.refuse(&concurrency, t0, &Nothing).is_none(),
            "not in the documented list"
        );

        assert!(
            rule.refuse(&update, t0 + 100 * MS, &Nothing).is_none(),
            "clears"
        );
        let mut later = reply(200, json!({"Configuration": {"State": "Active"}}));
        rule.answered(&get, &mut later, t0 + 100 * MS);
        assert_eq!(later.json()["Configuration"]["State"], "Active");
    }

    #[test]
    fn an_update_is_in_progress_and_refuses_another_until_done() {
        let rule = UpdateInProgress::new(100 * MS);
        let t0 = Instant::now();
        let update = lambda("PUT", "/2015-03-31/functions/f/configuration", json!({}));
        rule.answered(
            &update,
            &mut reply(200, json!({"LastUpdateStatus": "Successful"})),
            t0,
        );
        let get = lambda("GET", "/2015-03-31/functions/f", json!(null));
        let mut got = reply(
            200,
            json!({"Configuration": {"LastUpdateStatus": "Successful"}}),
        );
        rule.answered(&get, &mut got, t0 + 50 * MS);
        assert_eq!(
            got.json()["Configuration"]["LastUpdateStatus"],
            "InProgress"
        );

        let code = lambda("PUT", "/2015-03-31/functions/f/code", json!({}));
        assert_eq!(
            rule.refuse(&code, t0 + 50 * MS, &Nothing).map(|r| r.status),
            Some(409)
        );
        let invoke = lambda("POST", "/2015-03-31/functions/f/invocations", json!({}));
        assert!(
            rule.refuse(&invoke, t0 + 50 * MS, &Nothing).is_none(),
            "invocations go on"
        );
        assert!(
            rule.refuse(&code, t0 + 100 * MS, &Nothing).is_none(),
            "clears"
        );
    }
}
