//! A local AWS Lambda Runtime API (the `2018-06-01` interface a custom runtime's
//! `bootstrap` polls), so the real artifact can be run here as Lambda would run it.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

/// What the function sent back.
#[derive(Debug)]
pub enum Outcome {
    /// `POST /runtime/invocation/{id}/response`.
    Response {
        /// The request id it answers.
        request_id: String,
        /// The function's result.
        body: Value,
        /// When it arrived.
        at: Instant,
    },
    /// `POST /runtime/invocation/{id}/error`, or `POST /runtime/init/error` (request id `init`).
    Error {
        /// The request id it answers.
        request_id: String,
        /// `{"errorType": ..., "errorMessage": ...}`.
        body: Value,
    },
}

/// A running Runtime API on 127.0.0.1.
pub struct RuntimeApi {
    /// Its address, for `AWS_LAMBDA_RUNTIME_API`.
    pub addr: SocketAddr,
    events: Sender<(String, Value, Duration)>,
    outcomes: Receiver<Outcome>,
    first_poll: Arc<Mutex<Option<Instant>>>,
}

/// The time an invocation has when none is given: Lambda's longest, 15 minutes.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(900);

struct Request {
    method: String,
    path: String,
    body: Vec<u8>,
}

impl RuntimeApi {
    /// Starts serving on a free 127.0.0.1 port.
    pub fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let (events, pending) = channel::<(String, Value, Duration)>();
        let (report, outcomes) = channel();
        let pending = Arc::new(Mutex::new(pending));
        let first_poll = Arc::new(Mutex::new(None));
        let polled = Arc::clone(&first_poll);
        thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                let pending = Arc::clone(&pending);
                let report = report.clone();
                let polled = Arc::clone(&polled);
                thread::spawn(move || serve(stream, &pending, &report, &polled));
            }
        });
        Ok(Self {
            addr,
            events,
            outcomes,
            first_poll,
        })
    }

    /// When the function first asked for an invocation: the end of its cold start.
    pub fn first_poll(&self) -> Option<Instant> {
        *lock(&self.first_poll)
    }

    /// Queues one invocation with this request id and event; `false` if the server has stopped.
    pub fn invoke(&self, request_id: &str, event: Value) -> bool {
        self.invoke_for(request_id, event, DEFAULT_TIMEOUT)
    }

    /// Queues an invocation whose deadline (`Lambda-Runtime-Deadline-Ms`) is `timeout` after the
    /// function picks it up, as Lambda gives a function its configured timeout.
    pub fn invoke_for(&self, request_id: &str, event: Value, timeout: Duration) -> bool {
        self.events
            .send((request_id.to_owned(), event, timeout))
            .is_ok()
    }

    /// Waits for the function's next answer (response, error or init error).
    pub fn next_outcome(&self, timeout: Duration) -> Option<Outcome> {
        self.outcomes.recv_timeout(timeout).ok()
    }
}

fn serve(
    stream: TcpStream,
    pending: &Mutex<Receiver<(String, Value, Duration)>>,
    report: &Sender<Outcome>,
    first_poll: &Mutex<Option<Instant>>,
) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    while let Some(request) = read_request(&mut reader) {
        let json = || serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let segments: Vec<&str> = request.path.trim_start_matches('/').split('/').collect();
        let reply = match (request.method.as_str(), segments.as_slice()) {
            ("GET", ["2018-06-01", "runtime", "invocation", "next"]) => {
                lock(first_poll).get_or_insert_with(Instant::now);
                let next = lock(pending).recv();
                let Ok((request_id, event, timeout)) = next else {
                    return; // no more invocations: leave the function waiting
                };
                let deadline = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| (d + timeout).as_millis());
                let headers = [
                    ("Lambda-Runtime-Aws-Request-Id", request_id),
                    ("Lambda-Runtime-Deadline-Ms", deadline.to_string()),
                    (
                        "Lambda-Runtime-Invoked-Function-Arn",
                        "arn:aws:lambda:us-east-1:123456789012:function:dynamodb-backup".to_owned(),
                    ),
                    (
                        "Lambda-Runtime-Trace-Id",
                        "Root=1-00000000-000000000000000000000000;Sampled=0".to_owned(),
                    ),
                ];
                respond(200, &headers, &event.to_string())
            }
            ("POST", ["2018-06-01", "runtime", "invocation", id, "response"]) => {
                let _ = report.send(Outcome::Response {
                    request_id: (*id).to_owned(),
                    body: json(),
                    at: Instant::now(),
                });
                respond(202, &[], r#"{"status":"OK"}"#)
            }
            ("POST", ["2018-06-01", "runtime", "invocation", id, "error"]) => {
                let _ = report.send(Outcome::Error {
                    request_id: (*id).to_owned(),
                    body: json(),
                });
                respond(202, &[], r#"{"status":"OK"}"#)
            }
            ("POST", ["2018-06-01", "runtime", "init", "error"]) => {
                let _ = report.send(Outcome::Error {
                    request_id: "init".to_owned(),
                    body: json(),
                });
                respond(202, &[], r#"{"status":"OK"}"#)
            }
            _ => respond(404, &[], r#"{"errorMessage":"not found"}"#),
        };
        if writer.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}

/// Locks a mutex, carrying on past a poisoned one (its data stays valid here).
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn respond(status: u16, headers: &[(&str, String)], body: &str) -> String {
    let reason = match status {
        200 => "OK",
        202 => "Accepted",
        _ => "Not Found",
    };
    let mut out = format!("HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n");
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    out
}

/// Reads one HTTP/1.1 request (Content-Length or chunked body); `None` at end of stream.
fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let path = parts.next()?.to_owned();
    let mut headers = HashMap::new();
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
        }
    }
    let mut body = Vec::new();
    if headers
        .get("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
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
            body.extend_from_slice(&chunk[..size]);
        }
    } else if let Some(len) = headers.get("content-length").and_then(|v| v.parse().ok()) {
        body.resize(len, 0);
        reader.read_exact(&mut body).ok()?;
    }
    Some(Request { method, path, body })
}
