//! An HTTP proxy between the code under test and moto: strict, and fault-injecting on demand.
//!
//! Point a client's endpoint at [`Proxy::endpoint`] instead of moto's. By default the proxy
//! applies the [strict layer](crate::strict) to every request, so that moto answers as AWS
//! documents; [`Proxy::bare`] leaves moto as it is. Every request is named
//! (operation, and whether it writes) and logged, so a test can prove that a command made no
//! mutating call at all; with [`Faults`], a seeded share of requests is answered with the error a
//! real service gives under load (throttling in each protocol's own shape, HTTP 500/503), or the
//! connection is dropped before the request reaches moto or after moto has acted on it (the
//! response is lost). [`Proxy::hold_after_writes`] stops the proxy right after the Nth mutating call
//! reached moto, so a test can kill the client at that exact point. `POST /__strict/control/rewind` sets a
//! table's clock back from another process (`make bench`).
//!
//! One request per client connection (the response says `Connection: close`), handled on its own
//! thread; moto is reached over a fresh connection per request.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use crate::strict::{Call, Reply, Service, Strict, Upstream, Windows};
use crate::{RecordedCall, classify_request};

/// What the proxy did instead of (or after) forwarding a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The protocol's throttling error (DynamoDB/Logs/EventBridge `ThrottlingException`, IAM/STS
    /// `Throttling`, Lambda 429 `TooManyRequestsException`, S3 503 `SlowDown`).
    Throttle,
    /// HTTP 500 with an empty body.
    ServerError,
    /// The connection closed before the request was forwarded: moto never saw it.
    DropBeforeForward,
    /// The request reached moto, which acted on it, then the connection closed without the
    /// response: the client cannot know that it worked.
    DropAfterForward,
}

const KINDS: [Fault; 4] = [
    Fault::Throttle,
    Fault::ServerError,
    Fault::DropBeforeForward,
    Fault::DropAfterForward,
];

/// Which requests fail: `percent` of them, chosen by a generator seeded with `seed` and the
/// request's sequence number, so a run with the same requests in the same order fails the same.
#[derive(Debug, Clone, Copy)]
pub struct Faults {
    /// Share of requests that fail, 0 to 100.
    pub percent: u64,
    /// Seed of the choice of requests and of fault kinds.
    pub seed: u64,
}

/// One request that passed through the proxy.
#[derive(Debug, Clone)]
pub struct ProxiedCall {
    /// The operation and whether it writes.
    pub call: RecordedCall,
    /// The fault injected, if any.
    pub fault: Option<Fault>,
    /// Whether moto received the request.
    pub reached_moto: bool,
    /// The strict layer's rule that answered in moto's place, if one did.
    pub refused_by: Option<&'static str>,
    /// What was asked of whom, for checking an IAM policy against the calls.
    pub request: Asked,
}

/// A request as an IAM policy sees it: the service it was signed for, and what it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asked {
    /// The SigV4 credential scope's service (`dynamodb`, `s3`, `monitoring`, ...).
    pub service: String,
    /// The HTTP method.
    pub method: String,
    /// The path and query.
    pub target: String,
    /// The body as text (JSON or a form).
    pub body: String,
}

/// A running proxy; it stops with the test process.
pub struct Proxy {
    endpoint: String,
    shared: Arc<Shared>,
}

struct Shared {
    upstream: String,
    strict: Option<Strict>,
    faults: Mutex<Option<Faults>>,
    sequence: AtomicU64,
    log: Mutex<Vec<ProxiedCall>>,
    hold: Mutex<Hold>,
    changed: Condvar,
    /// Restores lose this attribute of every item (see [`Proxy::restores_lose`]).
    restores_lose: Mutex<Option<String>>,
    /// With [`Proxy::backups_hold_the_minute_before`]: each backup made since, by ARN, with its
    /// table and the moment asked for by the table's clock.
    backups_made: Mutex<Option<HashMap<String, (String, std::time::SystemTime)>>>,
    /// With [`Proxy::incremental_exports_fail`]: how many more incremental exports are to fail,
    /// and the ARNs of those that do.
    failing_exports: Mutex<(usize, std::collections::HashSet<String>)>,
}

#[derive(Default)]
struct Hold {
    /// Stop after this many writes have reached moto.
    after: Option<usize>,
    writes: usize,
    holding: bool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Proxy {
    /// Starts a strict proxy ([`Strict::aws`] with the default [`Windows`]) to `upstream`
    /// (`http://127.0.0.1:PORT`) on a free 127.0.0.1 port; with `faults`, those come on top.
    pub fn start(upstream: &str, faults: Option<Faults>) -> Self {
        Self::with(upstream, faults, Some(Strict::aws(Windows::default())))
    }

    /// A proxy that leaves moto's answers as they are (for the few tests that must see moto's
    /// own behaviour).
    pub fn bare(upstream: &str, faults: Option<Faults>) -> Self {
        Self::with(upstream, faults, None)
    }

    /// A proxy with the given strict layer, or none.
    pub fn with(upstream: &str, faults: Option<Faults>, strict: Option<Strict>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port for the proxy");
        let endpoint = format!(
            "http://{}",
            listener.local_addr().expect("the proxy's address")
        );
        let shared = Arc::new(Shared {
            upstream: upstream
                .trim_start_matches("http://")
                .trim_end_matches('/')
                .to_owned(),
            strict,
            faults: Mutex::new(faults),
            sequence: AtomicU64::new(0),
            log: Mutex::new(Vec::new()),
            hold: Mutex::new(Hold::default()),
            changed: Condvar::new(),
            restores_lose: Mutex::new(None),
            backups_made: Mutex::new(None),
            failing_exports: Mutex::new((0, std::collections::HashSet::new())),
        });
        let accepting = Arc::clone(&shared);
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let shared = Arc::clone(&accepting);
                std::thread::spawn(move || shared.serve(client));
            }
        });
        Self { endpoint, shared }
    }

    /// The URL to give clients in place of moto's.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Every request so far, in the order they arrived.
    pub fn calls(&self) -> Vec<ProxiedCall> {
        lock(&self.shared.log).clone()
    }

    /// The names of the strict rules that answered in moto's place so far, in order.
    pub fn refusals(&self) -> Vec<&'static str> {
        self.calls().iter().filter_map(|c| c.refused_by).collect()
    }

    /// The mutating requests that reached moto so far.
    pub fn writes(&self) -> Vec<RecordedCall> {
        self.calls()
            .into_iter()
            .filter(|c| c.reached_moto && c.call.mutating)
            .map(|c| c.call)
            .collect()
    }

    /// The item writes the strict layer has seen, and the tables' clocks (`None` for a bare
    /// proxy).
    pub fn history(&self) -> Option<&crate::strict::ItemHistory> {
        self.shared.strict.as_ref().map(Strict::history)
    }

    /// Takes the asynchronous Lambda invocations queued so far (none for a bare proxy).
    pub fn take_invocations(&self) -> Vec<crate::strict::Queued> {
        self.shared
            .strict
            .as_ref()
            .map(|s| s.invocations().take())
            .unwrap_or_default()
    }

    /// Forgets the log (the fault sequence goes on).
    pub fn clear(&self) {
        lock(&self.shared.log).clear();
    }

    /// Turns fault injection on or off from now on.
    pub fn set_faults(&self, faults: Option<Faults>) {
        *lock(&self.shared.faults) = faults;
    }

    /// From now on, every table restored through this proxy (RestoreTableFromBackup,
    /// RestoreTableToPointInTime) loses `attribute` from each of its items as soon as moto has
    /// made it: a fault, not AWS's behaviour, standing for a restore that keeps the item count
    /// and the keys but not the data, which only a check of the data can catch.
    pub fn restores_lose(&self, attribute: &str) {
        *lock(&self.shared.restores_lose) = Some(attribute.to_owned());
    }

    /// From now on, a backup holds its table as it was a minute before CreateBackup was asked
    /// for: a table restored from it has each item written through the layer in that minute as
    /// it was before. moto's backup is the table at the request; AWS guarantees only the data
    /// committed a minute before it (CreateBackup, API reference: "If you submit a backup request
    /// on 2018-12-14 at 14:25:00, the backup is guaranteed to contain all data committed to the
    /// table up to 14:24:00 ... The backup might contain data modifications made between
    /// 14:24:00 and 14:26:00"). The edge of that guarantee, turned on by the tests of code that
    /// must not rely on more (fingerprints); the others write their data seconds before their
    /// backups and expect it restored, as AWS does in practice.
    pub fn backups_hold_the_minute_before(&self) {
        *lock(&self.shared.backups_made) = Some(HashMap::new());
    }

    /// The next `n` incremental exports started through this proxy fail: DescribeExport answers
    /// each FAILED (with a `FailureCode` and `FailureMessage`, no `ItemCount`) from the first
    /// time it is asked. A fault, not AWS's behaviour, standing for an export that DynamoDB
    /// could not finish (DescribeExport, API reference: `ExportStatus` "IN_PROGRESS | COMPLETED
    /// | FAILED"; `FailureCode`, `FailureMessage`: "Export failure reason description"): a
    /// chain must report it and start it again, never skip it.
    pub fn incremental_exports_fail(&self, n: usize) {
        lock(&self.shared.failing_exports).0 = n;
    }

    /// From now on, the proxy stops answering once `n` more mutating requests have reached moto.
    pub fn hold_after_writes(&self, n: usize) {
        let mut hold = lock(&self.shared.hold);
        hold.after = Some(n);
        hold.writes = 0;
        hold.holding = false;
    }

    /// Waits until the proxy is holding (see [`Proxy::hold_after_writes`]); false on timeout.
    pub fn wait_until_holding(&self, timeout: Duration) -> bool {
        let hold = lock(&self.shared.hold);
        let (hold, _) = self
            .shared
            .changed
            .wait_timeout_while(hold, timeout, |h| !h.holding)
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        hold.holding
    }

    /// Stops holding and answers normally again.
    pub fn release(&self) {
        let mut hold = lock(&self.shared.hold);
        *hold = Hold::default();
        self.shared.changed.notify_all();
    }
}

impl Upstream for Shared {
    fn ask(
        &self,
        call: &Call,
        target: &str,
        body: &serde_json::Value,
    ) -> Option<serde_json::Value> {
        let body = body.to_string().into_bytes();
        let mut head = vec![
            format!("Host: {}", self.upstream),
            format!("X-Amz-Target: {target}"),
            "Content-Type: application/x-amz-json-1.1".to_owned(),
            format!("Content-Length: {}", body.len()),
        ];
        if let Some(auth) = &call.authorization {
            head.push(format!("Authorization: {auth}"));
        }
        let request = Request {
            method: "POST".to_owned(),
            target: "/".to_owned(),
            head,
            body,
        };
        let reply = Reply::parse(&self.forward(&request)?)?;
        reply.ok().then(|| reply.json())
    }

    fn put_object(&self, call: &Call, bucket: &str, key: &str, body: &[u8]) -> bool {
        self.s3(
            call,
            "PUT",
            &format!("/{bucket}/{}", object_path(key)),
            body,
        )
        .is_some_and(|reply| reply.ok())
    }

    fn list_keys(&self, call: &Call, bucket: &str, prefix: &str) -> Option<Vec<String>> {
        let prefix =
            percent_encoding::utf8_percent_encode(prefix, percent_encoding::NON_ALPHANUMERIC);
        let reply = self.s3(
            call,
            "GET",
            &format!("/{bucket}?list-type=2&prefix={prefix}"),
            b"",
        )?;
        if !reply.ok() {
            return None;
        }
        let text = String::from_utf8_lossy(&reply.body);
        Some(
            text.split("<Key>")
                .skip(1)
                .filter_map(|rest| rest.split_once("</Key>").map(|(key, _)| key.to_owned()))
                .collect(),
        )
    }

    fn get_object(&self, call: &Call, bucket: &str, key: &str) -> Option<Vec<u8>> {
        let reply = self.s3(call, "GET", &format!("/{bucket}/{}", object_path(key)), b"")?;
        reply.ok().then_some(reply.body)
    }

    fn caller_account(&self, call: &Call) -> Option<String> {
        let auth = call.authorization.as_deref()?;
        let scope = auth.split("/aws4_request").next().unwrap_or_default();
        let service = scope.rsplit('/').next().unwrap_or_default();
        let auth = auth.replacen(&format!("/{service}/aws4_request"), "/sts/aws4_request", 1);
        let body = b"Action=GetCallerIdentity&Version=2011-06-15".to_vec();
        let request = Request {
            method: "POST".to_owned(),
            target: "/".to_owned(),
            head: vec![
                format!("Host: {}", self.upstream),
                "Content-Type: application/x-www-form-urlencoded".to_owned(),
                format!("Content-Length: {}", body.len()),
                format!("Authorization: {auth}"),
            ],
            body,
        };
        let reply = Reply::parse(&self.forward(&request)?)?;
        let text = String::from_utf8_lossy(&reply.body);
        let start = text.find("<Account>")? + "<Account>".len();
        let end = text[start..].find("</Account>")? + start;
        Some(text[start..end].to_owned())
    }

    fn s3_get(&self, call: &Call, target: &str) -> Option<(u16, String)> {
        let reply = self.s3(call, "GET", target, b"")?;
        Some((
            reply.status,
            String::from_utf8_lossy(&reply.body).into_owned(),
        ))
    }

    fn rest_get(&self, call: &Call, path: &str) -> Option<(u16, serde_json::Value)> {
        let mut head = vec![
            format!("Host: {}", self.upstream),
            "Content-Length: 0".to_owned(),
        ];
        if let Some(auth) = &call.authorization {
            head.push(format!("Authorization: {auth}"));
        }
        let request = Request {
            method: "GET".to_owned(),
            target: path.to_owned(),
            head,
            body: Vec::new(),
        };
        let reply = Reply::parse(&self.forward(&request)?)?;
        Some((reply.status, reply.json()))
    }
}

/// A key as a URL path, each segment percent-encoded.
fn object_path(key: &str) -> String {
    key.split('/')
        .map(|part| {
            percent_encoding::utf8_percent_encode(part, percent_encoding::NON_ALPHANUMERIC)
                .to_string()
        })
        .collect::<Vec<_>>()
        .join("/")
}

impl Shared {
    /// A request to moto's S3 (path style) as `call`'s caller: moto routes a request by the
    /// service its credential scope names, so the caller's (`.../<region>/dynamodb/aws4_request`)
    /// is turned into S3's.
    fn s3(&self, call: &Call, method: &str, target: &str, body: &[u8]) -> Option<Reply> {
        let mut head = vec![
            format!("Host: {}", self.upstream),
            "Content-Type: application/octet-stream".to_owned(),
            format!("Content-Length: {}", body.len()),
        ];
        if let Some(auth) = &call.authorization {
            let scope = auth.split("/aws4_request").next().unwrap_or_default();
            let service = scope.rsplit('/').next().unwrap_or_default();
            let auth = auth.replacen(&format!("/{service}/aws4_request"), "/s3/aws4_request", 1);
            head.push(format!("Authorization: {auth}"));
        }
        let request = Request {
            method: method.to_owned(),
            target: target.to_owned(),
            head,
            body: body.to_vec(),
        };
        Reply::parse(&self.forward(&request)?)
    }
}

/// splitmix64: a small, good mixing function for seeded choices without a dependency.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A request as read from the client.
struct Request {
    method: String,
    target: String,
    head: Vec<String>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.iter().find_map(|line| {
            let (k, v) = line.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let target = parts.next()?.to_owned();
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end_matches(['\r', '\n']).to_owned();
        if line.is_empty() {
            break;
        }
        head.push(line);
    }
    let mut request = Request {
        method,
        target,
        head,
        body: Vec::new(),
    };
    if let Some(length) = request.header("Content-Length") {
        let mut body = vec![0; length.parse().ok()?];
        reader.read_exact(&mut body).ok()?;
        request.body = body;
    } else if request
        .header("Transfer-Encoding")
        .is_some_and(|t| t.eq_ignore_ascii_case("chunked"))
    {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).ok()?;
            let size = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).ok()?;
            if size == 0 {
                break;
            }
            request.body.extend_from_slice(&chunk[..size]);
        }
        request
            .head
            .retain(|h| !h.to_ascii_lowercase().starts_with("transfer-encoding"));
        request
            .head
            .push(format!("Content-Length: {}", request.body.len()));
    }
    Some(request)
}

/// The proxy's own paths (never AWS's: no bucket name starts with an underscore), for a process
/// that drives the layer from outside (`make bench`).
const CONTROL: &str = "/__strict/control/";

impl Shared {
    /// `POST /__strict/control/rewind` with `{"table": "T", "seconds": 3600}`: sets the table's clock
    /// back ([`crate::strict::ItemHistory::rewind`]). `POST /__strict/control/invocations`: the
    /// asynchronous Lambda invocations queued since last asked, `[{"function", "payload"}]`
    /// ([`crate::strict::AsyncInvocations`]), for a process that delivers them.
    fn control(&self, request: &Request) -> Reply {
        let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap_or_default();
        let answer = |status: u16, text: &str| Reply {
            status,
            headers: vec![("Content-Type".to_owned(), "text/plain".to_owned())],
            body: text.as_bytes().to_vec(),
        };
        let target = &request.target[CONTROL.len()..];
        if let (Some(strict), "POST", "invocations") =
            (self.strict.as_ref(), request.method.as_str(), target)
        {
            let queued: Vec<serde_json::Value> = strict
                .invocations()
                .take()
                .into_iter()
                .map(|q| serde_json::json!({"function": q.function, "payload": q.payload}))
                .collect();
            return Reply {
                status: 200,
                headers: vec![("Content-Type".to_owned(), "application/json".to_owned())],
                body: serde_json::Value::Array(queued).to_string().into_bytes(),
            };
        }
        match (
            request.method.as_str(),
            &request.target[CONTROL.len()..],
            self.strict.as_ref(),
            body["table"].as_str(),
            body["seconds"].as_u64(),
        ) {
            // Never a signed (AWS) request, and at most 400 days back.
            ("POST", "rewind", Some(strict), Some(table), Some(seconds))
                if request.header("Authorization").is_none() && seconds <= 400 * 86_400 =>
            {
                strict.history().rewind(table, Duration::from_secs(seconds));
                answer(200, "rewound")
            }
            _ => answer(
                400,
                "POST /__strict/control/rewind {\"table\": ..., \"seconds\": ...} on a strict proxy",
            ),
        }
    }

    fn serve(&self, client: TcpStream) {
        let _ = client.set_read_timeout(Some(Duration::from_secs(120)));
        let Ok(writer) = client.try_clone() else {
            return;
        };
        let mut reader = BufReader::new(client);
        let Some(request) = read_request(&mut reader) else {
            return;
        };
        if request.target.starts_with(CONTROL) && request.header("Authorization").is_none() {
            let reply = self.control(&request);
            let mut writer = writer;
            let _ = writer.write_all(&reply.to_bytes());
            return;
        }
        let call = classify_request(
            &request.method,
            &request.target,
            request.header("X-Amz-Target"),
            &String::from_utf8_lossy(&request.body),
        );
        let n = self.sequence.fetch_add(1, Ordering::SeqCst);
        let fault = lock(&self.faults).and_then(|f| {
            let roll = mix(f.seed ^ mix(n));
            (roll % 100 < f.percent).then(|| KINDS[(mix(roll) % 4) as usize])
        });
        let forward = !matches!(
            fault,
            Some(Fault::Throttle | Fault::ServerError | Fault::DropBeforeForward)
        );
        let (response, refused_by) = if forward {
            self.strict_forward(&request)
        } else {
            (None, None)
        };
        let reached_moto = response.is_some() && refused_by.is_none();
        let service = request
            .header("Authorization")
            .and_then(|a| a.split("Credential=").nth(1))
            .and_then(|c| c.split('/').nth(3))
            .unwrap_or_default()
            .to_owned();
        let body = String::from_utf8_lossy(&request.body);
        let asked = Asked {
            service,
            method: request.method.clone(),
            target: request.target.clone(),
            body: body.into_owned(),
        };
        lock(&self.log).push(ProxiedCall {
            call: call.clone(),
            fault,
            reached_moto,
            refused_by,
            request: asked,
        });
        if reached_moto && call.mutating {
            self.count_write();
        }
        let mut writer = writer;
        let reply = match fault {
            Some(Fault::Throttle) => Some(throttle(&request)),
            Some(Fault::ServerError) => Some(
                b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .to_vec(),
            ),
            Some(Fault::DropBeforeForward | Fault::DropAfterForward) => None,
            None => response,
        };
        if let Some(reply) = reply {
            let _ = writer.write_all(&reply);
        }
        let _ = writer.shutdown(std::net::Shutdown::Both);
    }

    /// Forwards the request through the strict layer: a rule's answer in moto's place (with the
    /// rule's name), or moto's answer as the rules rewrite it. Without a strict layer, moto's
    /// answer as it is.
    fn strict_forward(&self, request: &Request) -> (Option<Vec<u8>>, Option<&'static str>) {
        let Some(strict) = &self.strict else {
            return (self.forward(request), None);
        };
        let call = Call::parse(
            &request.method,
            &request.target,
            request.header("X-Amz-Target"),
            request.header("Authorization"),
            &request.body,
        )
        .with_host(request.header("Host"))
        .with_expected_bucket_owner(request.header("x-amz-expected-bucket-owner"))
        .with_invocation_type(request.header("X-Amz-Invocation-Type"))
        .with_bypass_governance(request.header("x-amz-bypass-governance-retention"));
        let now = std::time::Instant::now();
        if let Some((rule, reply)) = strict.refuse(&call, now, self) {
            return (Some(reply.to_bytes()), Some(rule));
        }
        let recording = strict.history().begin(&call, self);
        let raw = self.forward(request);
        let parsed = raw.as_deref().and_then(Reply::parse);
        if let Some(recording) = recording {
            recording.finish(&call, parsed.as_ref().is_some_and(Reply::ok), self);
        }
        if let Some(reply) = parsed.as_ref().filter(|r| r.ok()) {
            self.backup_made(&call, reply);
            self.restore_a_minute_back(&call);
            self.damage_restore(&call);
        }
        let Some(raw) = raw else {
            return (None, None);
        };
        match parsed {
            Some(mut reply) => {
                strict.answered(&call, &mut reply, now);
                self.fail_export(&call, &mut reply);
                (Some(reply.to_bytes()), None)
            }
            None => (Some(raw), None),
        }
    }

    /// With [`Proxy::incremental_exports_fail`]: notes an incremental export `call` started
    /// while failures are due, and answers DescribeExport of a noted one as FAILED.
    fn fail_export(&self, call: &Call, reply: &mut Reply) {
        let export_call = call.is(Service::DynamoDb, "ExportTableToPointInTime")
            || call.is(Service::DynamoDb, "DescribeExport");
        if !export_call || !reply.ok() {
            return;
        }
        let arn = reply.json()["ExportDescription"]["ExportArn"]
            .as_str()
            .map(str::to_owned);
        let Some(arn) = arn else {
            return;
        };
        let mut failing = lock(&self.failing_exports);
        if call.is(Service::DynamoDb, "ExportTableToPointInTime")
            && call.field("ExportType") == Some("INCREMENTAL_EXPORT")
            && failing.0 > 0
        {
            failing.0 -= 1;
            failing.1.insert(arn);
            return;
        }
        if call.is(Service::DynamoDb, "DescribeExport") && failing.1.contains(&arn) {
            reply.edit_json(|j| {
                let description = &mut j["ExportDescription"];
                if let Some(fields) = description.as_object_mut() {
                    fields.insert("ExportStatus".to_owned(), "FAILED".into());
                    fields.insert("FailureCode".to_owned(), "UNKNOWN".into());
                    fields.insert(
                        "FailureMessage".to_owned(),
                        "The export could not be completed (a fault the test proxy injected)"
                            .into(),
                    );
                    for unset in ["ItemCount", "BilledSizeBytes", "ExportManifest"] {
                        fields.remove(unset);
                    }
                }
            });
        }
    }

    /// With [`Proxy::backups_hold_the_minute_before`], notes the backup `call` made.
    fn backup_made(&self, call: &Call, reply: &Reply) {
        let Some(history) = self.strict.as_ref().map(Strict::history) else {
            return;
        };
        if !call.is(Service::DynamoDb, "CreateBackup") {
            return;
        }
        let (Some(table), Some(arn)) = (
            call.field("TableName"),
            reply.json()["BackupDetails"]["BackupArn"]
                .as_str()
                .map(str::to_owned),
        ) else {
            return;
        };
        if let Some(made) = lock(&self.backups_made).as_mut() {
            made.insert(arn, (table.to_owned(), history.now(table)));
        }
    }

    /// With [`Proxy::backups_hold_the_minute_before`] and `call` a restore moto made from a
    /// backup noted since: puts back, in the restored table, each item written in the minute
    /// before the backup as it was before that minute (deleting one that did not exist).
    fn restore_a_minute_back(&self, call: &Call) {
        let Some(history) = self.strict.as_ref().map(Strict::history) else {
            return;
        };
        if !call.is(Service::DynamoDb, "RestoreTableFromBackup") {
            return;
        }
        let (Some(arn), Some(target)) = (call.field("BackupArn"), call.field("TargetTableName"))
        else {
            return;
        };
        let made = lock(&self.backups_made)
            .as_ref()
            .and_then(|m| m.get(arn).cloned());
        let Some((table, at)) = made else {
            return;
        };
        let minute = at - Duration::from_secs(60);
        for change in history.changes(&table, minute, at) {
            match change.old {
                Some(item) => {
                    let put = serde_json::json!({ "TableName": target, "Item": item });
                    self.ask(call, "DynamoDB_20120810.PutItem", &put);
                }
                None => {
                    let delete = serde_json::json!({ "TableName": target, "Key": change.key });
                    self.ask(call, "DynamoDB_20120810.DeleteItem", &delete);
                }
            }
        }
    }

    /// With [`Proxy::restores_lose`] set and `call` a restore moto made: removes the attribute
    /// from every item of the restored table, in moto.
    fn damage_restore(&self, call: &Call) {
        let restores = ["RestoreTableFromBackup", "RestoreTableToPointInTime"];
        if !restores.iter().any(|op| call.is(Service::DynamoDb, op)) {
            return;
        }
        let Some(lost) = lock(&self.restores_lose).clone() else {
            return;
        };
        let Some(table) = call.field("TargetTableName").map(str::to_owned) else {
            return;
        };
        let mut start: Option<serde_json::Value> = None;
        loop {
            let mut scan = serde_json::json!({ "TableName": table });
            if let Some(key) = start.take() {
                scan["ExclusiveStartKey"] = key;
            }
            let Some(page) = self.ask(call, "DynamoDB_20120810.Scan", &scan) else {
                return;
            };
            for item in page["Items"].as_array().into_iter().flatten() {
                let mut item = item.clone();
                if item.as_object_mut().and_then(|i| i.remove(&lost)).is_some() {
                    let put = serde_json::json!({ "TableName": table, "Item": item });
                    self.ask(call, "DynamoDB_20120810.PutItem", &put);
                }
            }
            match page.get("LastEvaluatedKey") {
                Some(key) if !key.is_null() => start = Some(key.clone()),
                _ => return,
            }
        }
    }

    /// Counts a write that reached moto and, at the hold point, waits until released.
    fn count_write(&self) {
        let mut hold = lock(&self.hold);
        hold.writes += 1;
        if hold.after.is_some_and(|after| hold.writes >= after) {
            hold.holding = true;
            self.changed.notify_all();
            while hold.holding {
                hold = self
                    .changed
                    .wait(hold)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
            }
        }
    }

    /// Sends the request to moto over a new connection; returns moto's whole response, with
    /// `Connection: close`.
    fn forward(&self, request: &Request) -> Option<Vec<u8>> {
        let mut upstream = TcpStream::connect(&self.upstream).ok()?;
        let mut out = format!("{} {} HTTP/1.1\r\n", request.method, request.target);
        for line in &request.head {
            if !line.to_ascii_lowercase().starts_with("connection:") {
                out.push_str(line);
                out.push_str("\r\n");
            }
        }
        out.push_str("Connection: close\r\n\r\n");
        upstream.write_all(out.as_bytes()).ok()?;
        upstream.write_all(&request.body).ok()?;
        let mut response = Vec::new();
        upstream.read_to_end(&mut response).ok()?;
        let split = response.windows(4).position(|w| w == b"\r\n\r\n")?;
        let head = String::from_utf8_lossy(&response[..split]);
        let mut rebuilt = String::new();
        for line in head.split("\r\n") {
            if !line.to_ascii_lowercase().starts_with("connection:") {
                rebuilt.push_str(line);
                rebuilt.push_str("\r\n");
            }
        }
        rebuilt.push_str("Connection: close\r\n\r\n");
        let mut reply = rebuilt.into_bytes();
        reply.extend_from_slice(&response[split + 4..]);
        Some(reply)
    }
}

/// The throttling error each protocol's clients recognise as retryable.
fn throttle(request: &Request) -> Vec<u8> {
    let body_text = String::from_utf8_lossy(&request.body);
    let (status, content_type, extra, body) = if request.header("X-Amz-Target").is_some() {
        (
            "400 Bad Request",
            "application/x-amz-json-1.1",
            String::new(),
            r#"{"__type":"ThrottlingException","message":"Rate exceeded (injected by the test proxy)"}"#
                .to_owned(),
        )
    } else if body_text.contains("Action=") {
        (
            "400 Bad Request",
            "text/xml",
            String::new(),
            "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded (injected by the test proxy)</Message></Error><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>".to_owned(),
        )
    } else if request.target.starts_with("/20") {
        (
            "429 Too Many Requests",
            "application/json",
            "x-amzn-ErrorType: TooManyRequestsException\r\n".to_owned(),
            r#"{"Type":"User","message":"Rate exceeded (injected by the test proxy)","Reason":"CallerRateLimitExceeded"}"#.to_owned(),
        )
    } else {
        (
            "503 Slow Down",
            "application/xml",
            String::new(),
            "<Error><Code>SlowDown</Code><Message>Please reduce your request rate (injected by the test proxy)</Message><RequestId>0</RequestId></Error>".to_owned(),
        )
    };
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn another_process_can_set_a_tables_clock_back() {
        let proxy = Proxy::start("http://127.0.0.1:9", None);
        let post = |body: &str| {
            let mut stream = TcpStream::connect(proxy.endpoint().trim_start_matches("http://"))
                .expect("connect");
            write!(
                stream,
                "POST /__strict/control/rewind HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .expect("send");
            let mut answer = String::new();
            stream.read_to_string(&mut answer).expect("read");
            answer
        };
        assert!(post(r#"{"table": "T", "seconds": 3600}"#).starts_with("HTTP/1.1 200"));
        let history = proxy.history().expect("strict");
        let behind = std::time::SystemTime::now()
            .duration_since(history.now("T"))
            .expect("in the past");
        assert!(behind >= Duration::from_secs(3599), "{behind:?}");
        assert!(post(r#"{"table": "T"}"#).starts_with("HTTP/1.1 400"));
        assert!(
            proxy.calls().is_empty(),
            "control requests are not AWS calls"
        );
    }

    #[test]
    fn another_process_takes_the_queued_invocations() {
        let proxy = Proxy::start("http://127.0.0.1:9", None);
        let take = || {
            let mut stream = TcpStream::connect(proxy.endpoint().trim_start_matches("http://"))
                .expect("connect");
            write!(
                stream,
                "POST /__strict/control/invocations HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{{}}"
            )
            .expect("send");
            let mut answer = String::new();
            stream.read_to_string(&mut answer).expect("read");
            let (head, body) = answer.split_once("\r\n\r\n").expect("a response");
            assert!(head.starts_with("HTTP/1.1 200"), "{head}");
            serde_json::from_str::<serde_json::Value>(body).expect("JSON")
        };
        assert_eq!(take(), serde_json::json!([]), "none queued");
    }
}
