//! `installer invoke`: one backup run now, with the schedule's exact input for a table (the
//! tutorial's "Test" button). Against AWS it calls Lambda's Invoke API. Against a local emulator,
//! which cannot execute functions, it runs the deployed `bootstrap` here under a Lambda Runtime
//! API, with the function's own environment and the same endpoint, so the real artifact makes and
//! deletes real backups; its log lines are then written to the function's log group, as Lambda
//! would, so that `installer logs` reads them the same way.

use aws_sdk_lambda::operation::RequestId;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use aws_sdk_lambda::operation::get_function_configuration::GetFunctionConfigurationOutput;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::LogType;
use aws_sdk_sts::config::ProvideCredentials;
use backup_lambda::naming::TableName;
use base64::Engine as _;
use miette::Diagnostic;
use serde_json::Value;
use thiserror::Error;

use crate::aws::{Aws, AwsError, AwsResult};
use crate::local::deployed_code::{self, Candidate};
use crate::local::emulate;
use crate::local::runtime_api::{Outcome, RuntimeApi};

/// Why the function could not be run.
#[derive(Debug, Error, Diagnostic)]
pub enum InvokeError {
    /// An AWS call failed.
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// The stack's schedule has no target for the table.
    #[error(
        "the schedule {rule} has no target for table {table}; deploy it with `installer up --table {table}`"
    )]
    NoTarget {
        /// The rule.
        rule: String,
        /// The table.
        table: String,
    },
    /// The stack's schedule has no target for tables chosen by tag.
    #[error(
        "the schedule {0} has no target for tables chosen by tag; deploy it with `installer up --table-tag KEY=VALUE`"
    )]
    NoTagTarget(String),
    /// The stack's Scheduler group has no such schedule.
    #[error(
        "EventBridge Scheduler has no schedule {0}; deploy the stack again with `installer up`"
    )]
    NoSchedule(String),
    /// The function is not deployed.
    #[error("function {0} is not deployed; run `installer up` first")]
    NoFunction(String),
    /// The local zip is not what is deployed.
    #[error(
        "{zip} is not the deployed code (CodeSha256 {deployed}); deploy it with `installer up`, or pass the zip that was deployed with --zip"
    )]
    CodeMismatch {
        /// The zip tried.
        zip: String,
        /// The deployed code's digest.
        deployed: String,
    },
    /// No zip here is the deployed code, and the code could not be downloaded.
    #[error(
        "{tried} is the deployed code (CodeSha256 {deployed}), and it could not be fetched from the function: {reason}; pass the deployed zip with --zip"
    )]
    CodeUnavailable {
        /// The zips tried.
        tried: String,
        /// The deployed code's digest.
        deployed: String,
        /// Why the download failed.
        reason: String,
    },
    /// The zip or the local run failed.
    #[error("could not run the function locally: {0}")]
    Local(String),
    /// The function did not answer in time.
    #[error(
        "the function did not answer within its {0} s timeout: Lambda ends such a run (\"Task timed out after {0}.00 seconds\")"
    )]
    Timeout(u64),
}

/// What one invocation returned.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    /// The request id.
    pub request_id: String,
    /// The function's result, or its `(errorType, errorMessage)`.
    pub result: Result<Value, (String, String)>,
    /// The log lines it wrote.
    pub logs: Vec<String>,
    /// Whether it ran here (local emulator) rather than in Lambda.
    pub local: bool,
}

/// The schedule's constant input for `table`: exactly what a scheduled run receives. The
/// target is looked for in `rule` (the rule `--table` places it in) and then in every other rule
/// of the stack (`<stack>-schedule`, `-2`, ...), since the stack may back up more tables than
/// were named.
pub async fn scheduled_input(
    aws: &Aws,
    rule: &str,
    stack: &str,
    table: &TableName,
) -> Result<String, InvokeError> {
    let prefix = crate::deploy::config::rule_name(stack, 1);
    let mut rules = vec![rule.to_owned()];
    let listed = aws
        .events
        .list_rules()
        .name_prefix(&prefix)
        .send()
        .await
        .aws("ListRules", prefix.as_str())?;
    rules.extend(
        listed
            .rules()
            .iter()
            .filter_map(|r| r.name())
            .filter(|name| *name != rule)
            .map(str::to_owned),
    );
    for name in &rules {
        if let Some(input) = target_input(aws, name, table).await? {
            return Ok(input);
        }
    }
    Err(InvokeError::NoTarget {
        rule: rule.to_owned(),
        table: table.to_string(),
    })
}

/// The input of the stack's Scheduler schedule `name` (in the group named after the stack):
/// exactly what a scheduled run receives.
pub async fn schedule_input(aws: &Aws, stack: &str, name: &str) -> Result<String, InvokeError> {
    crate::deploy::resources::schedules::read(aws, stack, name)
        .await
        .map_err(|e| {
            if e.is("ResourceNotFoundException") {
                InvokeError::NoSchedule(format!("{stack}/{name}"))
            } else {
                e.into()
            }
        })?
        .map(|entry| entry.input)
        .ok_or_else(|| InvokeError::NoSchedule(format!("{stack}/{name}")))
}

/// The input of `rule`'s target for tables chosen by tag: exactly what a scheduled run
/// receives.
pub async fn tag_input(aws: &Aws, rule: &str) -> Result<String, InvokeError> {
    let targets = aws
        .events
        .list_targets_by_rule()
        .rule(rule)
        .send()
        .await
        .map_err(|e| {
            let err = AwsError::new("ListTargetsByRule", rule, &e);
            if err.is("ResourceNotFoundException") {
                InvokeError::NoTagTarget(rule.to_owned())
            } else {
                err.into()
            }
        })?;
    targets
        .targets()
        .iter()
        .find(|t| t.id() == crate::deploy::resources::rule::TAG_TARGET_ID)
        .and_then(|t| t.input().map(str::to_owned))
        .ok_or_else(|| InvokeError::NoTagTarget(rule.to_owned()))
}

/// The input of `rule`'s target for `table`, if it has one (none if the rule does not exist).
async fn target_input(
    aws: &Aws,
    rule: &str,
    table: &TableName,
) -> Result<Option<String>, InvokeError> {
    let targets = match aws.events.list_targets_by_rule().rule(rule).send().await {
        Ok(out) => out.targets,
        Err(e) => {
            let err = AwsError::new("ListTargetsByRule", rule, &e);
            return if err.is("ResourceNotFoundException") {
                Ok(None)
            } else {
                Err(err.into())
            };
        }
    };
    Ok(targets
        .unwrap_or_default()
        .into_iter()
        .filter_map(|t| t.input)
        .find(|input| {
            serde_json::from_str::<Value>(input).is_ok_and(|v| v["TableName"] == table.as_str())
        }))
}

/// Tries of Invoke while Lambda throttles it (429: the function did not run).
const INVOKE_ATTEMPTS: u32 = 5;

/// Runs the function in Lambda with `input`, once.
///
/// Invoke is not safe to repeat blindly: a repeat after a connection dropped mid-call would run
/// the function again and make a second backup. So the SDK's retries are off, and only a
/// throttled call (which Lambda did not run) is made again.
pub async fn remote(aws: &Aws, function: &str, input: &str) -> Result<Invocation, InvokeError> {
    let mut pause = std::time::Duration::from_millis(500);
    let mut attempt = 1;
    let out = loop {
        let sent = aws
            .lambda
            .invoke()
            .function_name(function)
            .payload(Blob::new(input.as_bytes()))
            .log_type(LogType::Tail)
            .customize()
            .config_override(
                aws_sdk_lambda::config::Builder::default()
                    .retry_config(aws_config::retry::RetryConfig::disabled()),
            )
            .send()
            .await
            .aws("Invoke", function);
        match sent {
            Err(e) if e.is("TooManyRequestsException") && attempt < INVOKE_ATTEMPTS => {
                tokio::time::sleep(pause).await;
                pause *= 2;
                attempt += 1;
            }
            sent => break sent?,
        }
    };
    let payload: Value = out
        .payload()
        .and_then(|p| serde_json::from_slice(p.as_ref()).ok())
        .unwrap_or(Value::Null);
    let logs = out
        .log_result()
        .and_then(|l| base64::engine::general_purpose::STANDARD.decode(l).ok())
        .map(|l| {
            String::from_utf8_lossy(&l)
                .lines()
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let result = match out.function_error() {
        None => Ok(payload),
        Some(_) => Err(error_parts(&payload)),
    };
    Ok(Invocation {
        request_id: out.request_id().unwrap_or_default().to_owned(),
        result,
        logs,
        local: false,
    })
}

fn error_parts(body: &Value) -> (String, String) {
    (
        body["errorType"].as_str().unwrap_or("Unknown").to_owned(),
        body["errorMessage"].as_str().unwrap_or_default().to_owned(),
    )
}

/// The `bootstrap` inside a deployment zip, written to a fresh directory with mode 0755.
fn unpack(zip: &[u8], dir: &Path) -> Result<PathBuf, InvokeError> {
    use std::os::unix::fs::PermissionsExt;
    let local = |e: &dyn std::fmt::Display| InvokeError::Local(e.to_string());
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).map_err(|e| local(&e))?;
    let mut entry = archive.by_name("bootstrap").map_err(|e| local(&e))?;
    let mut bytes = Vec::new();
    entry.read_to_end(&mut bytes).map_err(|e| local(&e))?;
    std::fs::create_dir_all(dir).map_err(|e| local(&e))?;
    let path = dir.join("bootstrap");
    std::fs::write(&path, bytes).map_err(|e| local(&e))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| local(&e))?;
    Ok(path)
}

/// Runs the deployed function here, from its deployed code: whichever of `candidates` that is,
/// else (unless `explicit`: the user named the one zip) the code downloaded from the function.
/// A failed run is run again, with the same request id, as often as Lambda would retry it when
/// the schedule invokes it ([`async_retries`]).
pub async fn local(
    aws: &Aws,
    function: &str,
    log_group: &str,
    candidates: Vec<Candidate>,
    explicit: bool,
    input: &str,
) -> Result<Invocation, InvokeError> {
    let deployed = deployed_configuration(aws, function).await?;
    let deployed_sha = deployed.code_sha256().unwrap_or_default();
    let code = deployed_code::find(aws, function, deployed_sha, candidates, explicit).await?;
    report!("running the deployed code from {}", code.source);
    let zip_bytes = code.bytes;
    let request_id = local_request_id();
    // Removed when dropped: on every way out of here, an error's included.
    let task_root = tempfile::Builder::new()
        .prefix(&format!("installer-invoke-{request_id}-"))
        .tempdir()
        .map_err(|e| InvokeError::Local(e.to_string()))?;
    let bootstrap = unpack(&zip_bytes, task_root.path())?;
    let timeout = u64::try_from(deployed.timeout().unwrap_or(3)).unwrap_or(3);
    let memory = deployed.memory_size().unwrap_or(128);
    let retries = async_retries(aws, function).await?;
    let mut logs = Vec::new();
    let mut attempt = 0;
    let run = loop {
        // A Runtime API of its own for each attempt, as each is a new execution environment: a
        // killed attempt's last `next` request, still waiting on a shared one, would take the
        // following attempt's event, which then never reached its process (a run that "timed
        // out" once under load).
        let api = RuntimeApi::start().map_err(|e| InvokeError::Local(e.to_string()))?;
        let sandbox = Sandbox {
            function,
            log_group,
            task_root: task_root.path(),
            api: &api,
        };
        let mut command = sandbox.command(aws, &deployed, &bootstrap).await?;
        let run = sandbox.run(&mut command, &request_id, input, timeout)?;
        logs.extend(run.log_lines(&request_id, memory, timeout));
        let failed = !matches!(run.outcome, Some(Outcome::Response { .. }));
        if failed && attempt < retries {
            attempt += 1;
            report!(
                "the run failed, and Lambda retries a failed scheduled (asynchronous) invocation with the same request id (MaximumRetryAttempts {retries}): attempt {} of {}",
                attempt + 1,
                retries + 1
            );
            continue;
        }
        break run;
    };
    drop(task_root);
    let result = match &run.outcome {
        Some(Outcome::Response { body, .. }) => Ok(body.clone()),
        Some(Outcome::Error { body, .. }) => Err(error_parts(body)),
        None => return Err(InvokeError::Timeout(timeout)),
    };
    write_logs(aws, log_group, &request_id, &logs).await?;
    Ok(Invocation {
        request_id,
        result,
        logs,
        local: true,
    })
}

/// How many times Lambda would retry a failed scheduled run of `function`: its
/// MaximumRetryAttempts (GetFunctionEventInvokeConfig), or Lambda's default of two where none
/// was set ("by default Lambda attempts to run it two more times", developer guide, "How Lambda
/// handles errors and retries with asynchronous invocation"). The retries run here at once,
/// not one and two minutes later as in Lambda.
async fn async_retries(aws: &Aws, function: &str) -> Result<i32, InvokeError> {
    match aws
        .lambda
        .get_function_event_invoke_config()
        .function_name(function)
        .send()
        .await
    {
        Ok(config) => Ok(config.maximum_retry_attempts().unwrap_or(2).clamp(0, 2)),
        Err(e) => {
            let err = AwsError::new("GetFunctionEventInvokeConfig", function, &e);
            if err.is("ResourceNotFoundException") {
                Ok(2)
            } else {
                Err(err.into())
            }
        }
    }
}

/// The function's configuration as deployed.
async fn deployed_configuration(
    aws: &Aws,
    function: &str,
) -> Result<GetFunctionConfigurationOutput, InvokeError> {
    aws.lambda
        .get_function_configuration()
        .function_name(function)
        .send()
        .await
        .map_err(|e| {
            let err = AwsError::new("GetFunctionConfiguration", function, &e);
            if err.is("ResourceNotFoundException") {
                InvokeError::NoFunction(function.to_owned())
            } else {
                err.into()
            }
        })
}

/// A request id for a local run, unique enough on this machine and marked `-local`.
fn local_request_id() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!(
        "{:08x}-{:04x}-local",
        (nanos >> 16) as u32,
        std::process::id() & 0xffff
    )
}

/// Where and how a local run happens: Lambda's environment for one function, around a Runtime
/// API of our own.
struct Sandbox<'a> {
    function: &'a str,
    log_group: &'a str,
    task_root: &'a Path,
    api: &'a RuntimeApi,
}

/// What one local run gave: the function's answer (none if it timed out), how long it took, its
/// peak memory and its output lines.
struct LocalRun {
    outcome: Option<Outcome>,
    duration: Duration,
    peak_kib: Option<u64>,
    lines: Vec<String>,
}

impl Sandbox<'_> {
    /// The `bootstrap` command with exactly the environment Lambda gives a `provided.al2023`
    /// function, the deployed variables, this caller's credentials and endpoint.
    async fn command(
        &self,
        aws: &Aws,
        deployed: &GetFunctionConfigurationOutput,
        bootstrap: &Path,
    ) -> Result<Command, InvokeError> {
        let memory = deployed.memory_size().unwrap_or(128);
        let head = std::fs::read(bootstrap)
            .map(|b| b.into_iter().take(64).collect::<Vec<u8>>())
            .unwrap_or_default();
        let arch = emulate::elf_arch(&head).unwrap_or(std::env::consts::ARCH);
        let launcher = emulate::launcher(
            arch,
            std::env::consts::ARCH,
            std::env::var("PATH").ok().as_deref(),
            std::env::var("QEMU_LD_PREFIX").ok().as_deref(),
        )
        .map_err(InvokeError::Local)?;
        let mut command = match &launcher {
            emulate::Launcher::Native => Command::new(bootstrap),
            emulate::Launcher::Qemu { qemu, sysroot } => {
                report!(
                    "  the code is built for {arch}: running it under {}",
                    qemu.display()
                );
                let mut command = Command::new(qemu);
                command.arg("-L").arg(sysroot).arg(bootstrap);
                command
            }
        };
        command
            .env_clear()
            .current_dir(self.task_root)
            .envs(
                deployed
                    .environment()
                    .and_then(|e| e.variables())
                    .cloned()
                    .unwrap_or_default(),
            )
            .env("AWS_LAMBDA_RUNTIME_API", self.api.addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", self.function)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", memory.to_string())
            .env("AWS_LAMBDA_LOG_GROUP_NAME", self.log_group)
            .env("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
            .env("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023")
            .env("AWS_REGION", &aws.region)
            .env("AWS_DEFAULT_REGION", &aws.region)
            .env("LAMBDA_TASK_ROOT", self.task_root)
            .env("_HANDLER", "bootstrap")
            .env("TZ", ":UTC")
            .env("PATH", "/usr/local/bin:/usr/bin/:/bin:/opt/bin")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(provider) = aws.config.credentials_provider() {
            let creds = provider
                .provide_credentials()
                .await
                .map_err(|e| InvokeError::Local(format!("no credentials to pass on: {e}")))?;
            command
                .env("AWS_ACCESS_KEY_ID", creds.access_key_id())
                .env("AWS_SECRET_ACCESS_KEY", creds.secret_access_key());
            if let Some(token) = creds.session_token() {
                command.env("AWS_SESSION_TOKEN", token);
            }
        }
        if let Some(endpoint) = aws.config.endpoint_url() {
            command.env("AWS_ENDPOINT_URL", endpoint);
        }
        Ok(command)
    }

    /// Starts `command`, hands it the event, waits up to the function's timeout (and 5 s) for
    /// its answer, then stops it and collects what it printed.
    fn run(
        &self,
        command: &mut Command,
        request_id: &str,
        input: &str,
        timeout: u64,
    ) -> Result<LocalRun, InvokeError> {
        let started = Instant::now();
        let program = Path::new(command.get_program()).display().to_string();
        let mut child = command
            .spawn()
            .map_err(|e| InvokeError::Local(format!("{program}: {e}")))?;
        // Drained while it runs: a run that logs more than a pipe holds (64 KiB) would otherwise
        // block on its next write until the timeout.
        let drain = |pipe: Option<Box<dyn Read + Send>>| {
            std::thread::spawn(move || {
                pipe.map(|p| BufReader::new(p).lines().map_while(Result::ok).collect())
                    .unwrap_or_default()
            })
        };
        let stdout = drain(
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        );
        let stderr = drain(
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        );
        let event: Value = serde_json::from_str(input).unwrap_or(Value::Null);
        let answered = self
            .api
            .invoke_for(request_id, event, Duration::from_secs(timeout));
        let wait = Duration::from_secs(timeout + 5);
        let outcome = if answered {
            tokio::task::block_in_place(|| self.api.next_outcome(wait))
        } else {
            None
        };
        let duration = started.elapsed();
        let peak_kib = peak_rss_kib(child.id());
        let _ = child.kill();
        let _ = child.wait();
        let mut lines: Vec<String> = stdout.join().unwrap_or_default();
        lines.extend(stderr.join().unwrap_or_default());
        Ok(LocalRun {
            outcome,
            duration,
            peak_kib,
            lines,
        })
    }
}

impl LocalRun {
    /// The run's log lines framed as Lambda frames them: START, the function's own, END, REPORT.
    /// The run's log lines as Lambda writes them: START, the code's own, END and REPORT; a run
    /// stopped at its `timeout` (seconds) as Lambda stops one: "Task timed out after N seconds"
    /// before END, and `Status: timeout` in REPORT.
    fn log_lines(&self, request_id: &str, memory: i32, timeout: u64) -> Vec<String> {
        let mut logs = vec![format!("START RequestId: {request_id} Version: $LATEST")];
        logs.extend(self.lines.iter().cloned());
        let timed_out = self.outcome.is_none();
        if timed_out {
            logs.push(format!(
                "{request_id} Task timed out after {timeout}.00 seconds"
            ));
        }
        logs.push(format!("END RequestId: {request_id}"));
        logs.push(format!(
            "REPORT RequestId: {request_id}\tDuration: {:.2} ms\tMemory Size: {memory} MB\tMax Memory Used: {} MB{}",
            self.duration.as_secs_f64() * 1000.0,
            self.peak_kib.map_or(0, |k| k.div_ceil(1024)),
            if timed_out { "\tStatus: timeout" } else { "" },
        ));
        logs
    }
}

/// Peak resident memory of a running process in KiB (`VmHWM`), where /proc has it.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Writes a local run's lines to the function's log group, in a stream named as Lambda names
/// them (`YYYY/MM/DD/[$LATEST]<id>`).
async fn write_logs(
    aws: &Aws,
    log_group: &str,
    request_id: &str,
    lines: &[String],
) -> Result<(), AwsError> {
    let now = time::OffsetDateTime::now_utc();
    let stream = format!(
        "{:04}/{:02}/{:02}/[$LATEST]{}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        request_id.replace('-', "")
    );
    let created = aws
        .logs
        .create_log_stream()
        .log_group_name(log_group)
        .log_stream_name(&stream)
        .send()
        .await
        .aws("CreateLogStream", log_group);
    match created {
        // The stream is this request's own: one that exists was made by an attempt whose
        // answer was lost.
        Err(e) if !e.is("ResourceAlreadyExistsException") => return Err(e),
        _ => {}
    }
    let millis = i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX);
    let events = lines
        .iter()
        .filter(|l| !l.is_empty())
        .map(|l| {
            InputLogEvent::builder()
                .timestamp(millis)
                .message(l)
                .build()
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| AwsError::malformed("PutLogEvents", log_group, &e.to_string()))?;
    let sizes: Vec<usize> = events.iter().map(|e| e.message().len()).collect();
    let mut rest = events;
    for count in batches(&sizes) {
        let batch: Vec<InputLogEvent> = rest.drain(..count).collect();
        aws.logs
            .put_log_events()
            .log_group_name(log_group)
            .log_stream_name(&stream)
            .set_log_events(Some(batch))
            .send()
            .await
            .aws("PutLogEvents", log_group)?;
    }
    Ok(())
}

/// How many of the events (given by their messages' sizes in bytes) go in each PutLogEvents
/// call: at most 10,000 events and 1,048,576 bytes, counting 26 bytes per event on top of its
/// message (PutLogEvents, API reference).
fn batches(sizes: &[usize]) -> Vec<usize> {
    const MAX_EVENTS: usize = 10_000;
    const MAX_BYTES: usize = 1_048_576;
    const OVERHEAD: usize = 26;
    let mut counts = Vec::new();
    let (mut count, mut bytes) = (0, 0);
    for size in sizes {
        let cost = size + OVERHEAD;
        if count > 0 && (count == MAX_EVENTS || bytes + cost > MAX_BYTES) {
            counts.push(count);
            (count, bytes) = (0, 0);
        }
        count += 1;
        bytes += cost;
    }
    if count > 0 {
        counts.push(count);
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_stopped_at_its_timeout_is_logged_as_lambda_logs_one() {
        let run = LocalRun {
            outcome: None,
            duration: Duration::from_secs(6),
            peak_kib: Some(20_480),
            lines: vec!["working".to_owned()],
        };
        let logs = run.log_lines("r-1", 128, 6);
        assert_eq!(logs[2], "r-1 Task timed out after 6.00 seconds");
        assert_eq!(logs[3], "END RequestId: r-1");
        assert!(logs[4].ends_with("\tStatus: timeout"), "{}", logs[4]);
        let answered = LocalRun {
            outcome: Some(Outcome::Error {
                request_id: "r-2".to_owned(),
                body: serde_json::json!({}),
            }),
            ..run
        };
        let logs = answered.log_lines("r-2", 128, 6);
        assert!(!logs.iter().any(|l| l.contains("timed out")), "{logs:?}");
        assert!(!logs[3].contains("Status"), "{}", logs[3]);
    }

    #[test]
    fn log_events_are_sent_in_batches_within_putlogevents_limits() {
        assert_eq!(batches(&[]), Vec::<usize>::new());
        assert_eq!(batches(&[100; 3]), [3]);
        // 10,001 small events: 10,000, then 1.
        assert_eq!(batches(&[10; 10_001]), [10_000, 1]);
        // 2,000 events of 1,000 bytes (1,026 each with overhead): 1,022 fit in 1,048,576.
        assert_eq!(batches(&[1_000; 2_000]), [1_022, 978]);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn output_beyond_a_pipes_capacity_is_drained_while_the_code_runs() {
        let api = RuntimeApi::start().expect("a runtime API");
        let task_root = std::env::temp_dir();
        let sandbox = Sandbox {
            function: "f",
            log_group: "/aws/lambda/f",
            task_root: &task_root,
            api: &api,
        };
        // 4,000 lines of 50 characters: 204,000 bytes, three times what a pipe holds. Code
        // that only reads after the run blocks this writer and keeps a pipe's worth.
        let mut command = Command::new("sh");
        command
            .args(["-c", "i=0; while [ $i -lt 4000 ]; do echo 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'; i=$((i+1)); done"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let run = sandbox
            .run(&mut command, "r", "{}", 1)
            .expect("the process runs");
        assert_eq!(run.lines.len(), 4000, "every line, none lost");
        assert!(run.outcome.is_none(), "it never answered");
    }
}
