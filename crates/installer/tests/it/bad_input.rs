//! Bad input, refused before any write: every case runs the real `installer` (or the real
//! `bootstrap` under a Lambda Runtime API) with a fault-free proxy in front of moto, and must end
//! with one line naming the problem and the fix, a failure, and not one mutating call reaching
//! moto (read from the proxy's log, not from the program's own account).

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use crate::support::cli::installer_at;
use crate::support::lambda::{Bootstrap, built_zip, start_bootstrap, temp_dir, unzip_bootstrap};
use installer::local::runtime_api::{Outcome, RuntimeApi};
use serde_json::{Value, json};
use test_support::proxy::Proxy;
use test_support::{moto_config, moto_endpoint, unique_name};

/// How long the bootstrap may take to answer (a hang guard, not a performance check).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

/// One bad input for the installer: its arguments, where it connects, and words its one-line
/// error must contain (the problem and the fix).
struct Case {
    args: Vec<String>,
    without_credentials: bool,
    endpoint: Option<String>,
    says: Vec<String>,
}

fn case(args: &[&str], says: &[&str]) -> Case {
    Case {
        args: args.iter().map(|a| (*a).to_owned()).collect(),
        without_credentials: false,
        endpoint: None,
        says: says.iter().map(|s| (*s).to_owned()).collect(),
    }
}

fn run(case: &Case, proxy: &Proxy) -> Output {
    let mut command = installer_at(case.endpoint.as_deref().unwrap_or(proxy.endpoint()));
    command.args(&case.args);
    if case.without_credentials {
        command
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env_remove("AWS_SESSION_TOKEN")
            .env("HOME", "/nonexistent")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
            .env("AWS_CONFIG_FILE", "/nonexistent/config")
            .env("AWS_EC2_METADATA_DISABLED", "true");
    }
    command.output().expect("run installer")
}

/// Zips `bytes` as `name` (mode 0755) into `path`.
fn zip_one(path: &Path, name: &str, bytes: &[u8]) {
    use std::io::Write;
    let file = std::fs::File::create(path).expect("create zip");
    let mut zip = zip::ZipWriter::new(file);
    let options = zip::write::SimpleFileOptions::default().unix_permissions(0o755);
    zip.start_file(name, options).expect("zip entry");
    zip.write_all(bytes).expect("zip data");
    zip.finish().expect("finish zip");
}

/// A binary that needs glibc 2.35 (`_dl_find_object`), built with this machine's `cc`.
fn binary_needing_glibc_2_35(dir: &Path) -> Vec<u8> {
    let source = dir.join("newer.c");
    std::fs::write(
        &source,
        "#define _GNU_SOURCE\n#include <dlfcn.h>\nint main(void) { struct dl_find_object r; return _dl_find_object((void *)main, &r); }\n",
    )
    .expect("write C source");
    let binary = dir.join("newer");
    let status = Command::new("cc")
        .arg(&source)
        .arg("-o")
        .arg(&binary)
        .status()
        .expect("run cc");
    assert!(
        status.success(),
        "this machine's glibc has _dl_find_object (2.35+)"
    );
    std::fs::read(binary).expect("read binary")
}

/// A bucket name taken by another account (moto maps credentials from AssumeRole into
/// 111111111111 to that account).
async fn bucket_of_another_account() -> String {
    let config = moto_config().await;
    let sts = aws_sdk_sts::Client::new(&config);
    let creds = sts
        .assume_role()
        .role_arn("arn:aws:iam::111111111111:role/other-team")
        .role_session_name("other-team")
        .send()
        .await
        .expect("assume a role in another account")
        .credentials
        .expect("credentials");
    let other = aws_sdk_s3::config::Builder::from(&config)
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            creds.access_key_id(),
            creds.secret_access_key(),
            Some(creds.session_token().to_owned()),
            None,
            "other-account",
        ))
        .build();
    let bucket = unique_name("other-teams-bucket");
    aws_sdk_s3::Client::from_conf(other)
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("the other account creates its bucket");
    bucket
}

#[tokio::test]
async fn bad_installer_input_is_one_line_and_writes_nothing() {
    let proxy = Proxy::start(&moto_endpoint(), None);
    let tmp = temp_dir("bad-input");
    let dir = tmp.path();
    let bootstrap = unzip_bootstrap(&built_zip());

    let no_bootstrap = dir.join("no-bootstrap.zip");
    zip_one(&no_bootstrap, "handler.py", b"def handler(e, c): pass\n");
    // The default is arm64: a zip whose bootstrap says x86_64 needs `--arch x86_64`.
    let mut x86_64 = bootstrap.clone();
    x86_64[18..20].copy_from_slice(&62u16.to_le_bytes()); // e_machine = EM_X86_64
    let x86_64_zip = dir.join("x86_64.zip");
    zip_one(&x86_64_zip, "bootstrap", &x86_64);
    let newer_zip = dir.join("glibc-2.35.zip");
    zip_one(&newer_zip, "bootstrap", &binary_needing_glibc_2_35(dir));
    let not_a_zip = dir.join("notes.zip");
    std::fs::write(&not_a_zip, "not a zip").expect("write");
    let malformed = dir.join("movies.json");
    std::fs::write(&malformed, "[{\"year\": 2013, \"title\": \"Rush\",}]").expect("write");
    let path = |p: &Path| p.display().to_string();
    let other_bucket = bucket_of_another_account().await;
    let stack = unique_name("badin");
    // Cases that pass validation deploy the zip `make test` built, rather than building one.
    let zip = path(&crate::support::cli::built_zip_path());

    let mut cases = vec![
        case(
            &["up", "--schedule", "rate(1 minutes)"],
            &["singular unit", "'rate(1 minute)'"],
        ),
        case(
            &["up", "--schedule", "rate(0 minutes)"],
            &["above 0", "use e.g."],
        ),
        case(
            &["up", "--schedule", "cron(0 12 * * *)"],
            &["6 fields", "got 5"],
        ),
        case(
            &["up", "--schedule", "every day at noon"],
            &["rate(...) or cron(...)"],
        ),
        case(&["up", "--keep", "0"], &["--keep must be from 1 to 1000"]),
        case(
            &["up", "--keep-daily", "0"],
            &["--keep-daily must be from 1 to 1000"],
        ),
        case(
            &["up", "--keep", "-1"],
            &["--keep must be from 1 to 1000, got -1"],
        ),
        case(
            &["up", "--keep", "many"],
            &["invalid value 'many'", "installer up --help"],
        ),
        case(
            &["up", "--max-age-days", "-5"],
            &["--max-age-days must be from 1"],
        ),
        case(
            &["up", "--stack", "Bad_Name"],
            &["invalid --stack", "lowercase"],
        ),
        case(
            &["up", "--stack", "a-stack-name-far-too-long-for-its-bucket"],
            &["invalid --stack", "1 to 28"],
        ),
        case(&["up", "--table", "x"], &["invalid --table", "3 to 255"]),
        case(
            &["up", "--table", "bad name!"],
            &["invalid --table", "use only"],
        ),
        case(
            &["up", "--bucket", "Bad"],
            &["invalid --bucket", "lowercase"],
        ),
        case(
            &["up", "--bucket", "192.168.1.1"],
            &["invalid --bucket", "IP address"],
        ),
        case(
            &["up", "--log-retention-days", "10"],
            &["CloudWatch Logs accepts", "14"],
        ),
        case(&["up", "--zip", &path(&no_bootstrap)], &["no `bootstrap`"]),
        case(
            &["up", "--zip", &path(&x86_64_zip)],
            &["built for x86_64, not arm64", "--arch"],
        ),
        case(
            &["up", "--arch", "x86_64", "--zip", &path(&newer_zip)],
            &["needs glibc 2.35", "installer build"],
        ),
        case(
            &["up", "--zip", "/nonexistent/backup.zip"],
            &["/nonexistent/backup.zip", "installer build"],
        ),
        case(&["up", "--zip", &path(&not_a_zip)], &["notes.zip"]),
        case(
            &["up", "--frobnicate"],
            &["'--frobnicate'", "installer up --help"],
        ),
        case(&["upp"], &["'upp'", "installer --help"]),
        case(
            &[
                "load-data",
                "--table",
                "Movies",
                "--file",
                &path(&malformed),
            ],
            &["movies.json:1:"],
        ),
        case(&["down", "--stack", &stack], &["--yes"]),
        // An in-place restore deletes the table: never without confirmation, never with a
        // target of its own, and a table that is not there has nothing to swap.
        case(
            &[
                "restore",
                "--stack",
                &stack,
                "--table",
                "Movies",
                "--in-place",
            ],
            &["--yes"],
        ),
        case(
            &[
                "restore",
                "--table",
                "Movies",
                "--in-place",
                "--to",
                "Movies-copy",
            ],
            &["--in-place", "--to"],
        ),
        case(
            &[
                "restore",
                "--table",
                "Movies",
                "--disable-deletion-protection",
                "--to",
                "Movies-2",
            ],
            &["--disable-deletion-protection", "--in-place"],
        ),
        case(
            &[
                "restore",
                "--stack",
                &stack,
                "--table",
                "Nowhere",
                "--in-place",
                "--yes",
            ],
            &["Nowhere does not exist", "--to <name>"],
        ),
        case(
            // -q: the plan that `up` prints before refusing is left out, the refusal is not.
            &[
                "-q",
                "up",
                "--stack",
                &stack,
                "--bucket",
                &other_bucket,
                "--bucket-tls-only",
                "false",
                "--zip",
                &zip,
            ],
            &[other_bucket.as_str(), "choose another with --bucket"],
        ),
    ];
    let mut no_credentials = case(
        &["up", "--stack", &stack, "--zip", &zip],
        &["no AWS credentials", "aws configure"],
    );
    no_credentials.without_credentials = true;
    cases.push(no_credentials);
    let mut unreachable = case(
        &["up", "--stack", &stack, "--zip", &zip],
        &["could not reach the endpoint", "--endpoint-url"],
    );
    unreachable.endpoint = Some("http://127.0.0.1:9".to_owned());
    cases.push(unreachable);

    let total = cases.len();
    for case in &cases {
        proxy.clear();
        let out = run(case, &proxy);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let args = &case.args;
        assert!(!out.status.success(), "{args:?} succeeded: {stderr}");
        assert_eq!(
            stderr.trim().lines().count(),
            1,
            "{args:?}, one line: {stderr}"
        );
        for words in &case.says {
            assert!(
                stderr.contains(words),
                "{args:?} should say {words:?}: {stderr}"
            );
        }
        let writes = proxy.writes();
        assert!(writes.is_empty(), "{args:?} wrote {writes:?}");
    }
    assert!(total >= 25, "{total} cases");
}

/// One of the function's environment variables.
type FunctionEnv = (&'static str, &'static str);

/// Runs the real bootstrap once with `function_env` and `event`, through the proxy, and returns
/// its invocation error.
fn lambda_error(proxy: &Proxy, function_env: &[(&str, &str)], event: Value) -> Value {
    let api = RuntimeApi::start().expect("runtime API starts");
    let Bootstrap {
        mut child,
        task_root: _task_root,
        ..
    } = start_bootstrap(&api, proxy.endpoint(), function_env);
    assert!(api.invoke("bad-event", event.clone()));
    let outcome = api.next_outcome(ANSWER_TIMEOUT);
    let _ = child.kill();
    let _ = child.wait();
    match outcome {
        Some(Outcome::Error { body, .. }) => body,
        other => panic!("{event} should fail, got {other:?}"),
    }
}

#[test]
fn bad_events_and_environments_fail_the_invocation_and_write_nothing() {
    let proxy = Proxy::start(&moto_endpoint(), None);
    let keep = [("MAX_BACKUPS", "3"), ("STACK_NAME", "badin")];
    // (the function's environment, the event, the errorType, a word the message must contain)
    let cases: Vec<(&[FunctionEnv], Value, &str, &str)> = vec![
        (&keep, json!({}), "InvalidEvent", "TableName"),
        (
            &keep,
            json!({ "TableName": "" }),
            "InvalidEvent",
            "3 to 255",
        ),
        (
            &keep,
            json!({ "TableName": "bad name!" }),
            "InvalidEvent",
            "TableName",
        ),
        (
            &keep,
            json!({ "TableName": 42 }),
            "InvalidEvent",
            "TableName",
        ),
        (&keep, json!("Movies"), "InvalidEvent", "TableName"),
        (
            &keep,
            json!({ "TableName": "Movies", "MaxBackups": 0 }),
            "InvalidEvent",
            "MaxBackups",
        ),
        (
            &keep,
            json!({ "TableName": "Movies", "MaxBackups": -3 }),
            "InvalidEvent",
            "MaxBackups",
        ),
        (
            &keep,
            json!({ "TableName": "Movies", "MaxAgeDays": 0 }),
            "InvalidEvent",
            "MaxAgeDays",
        ),
        (
            &keep,
            json!({ "TableName": "Movies", "KeepDaily": 0 }),
            "InvalidEvent",
            "KeepDaily must be a whole number from 1",
        ),
        (
            &keep,
            json!({ "TableName": "Movies", "KeepMonthly": 12, "MaxAgeDays": 30 }),
            "InvalidEvent",
            "would delete backups keep-monthly 12 keeps",
        ),
        (
            &[
                ("SCHEDULE_TIMEZONE", "Europe/Berln"),
                ("STACK_NAME", "badin"),
            ],
            json!({ "TableName": "Movies" }),
            "InvalidEnvironment",
            "is not a time zone",
        ),
        (
            &[("MAX_BACKUPS", "none"), ("STACK_NAME", "badin")],
            json!({ "TableName": "Movies" }),
            "InvalidEnvironment",
            "MAX_BACKUPS",
        ),
        (
            &[
                ("MAX_BACKUPS", "3"),
                ("MAX_AGE_DAYS", "-1"),
                ("STACK_NAME", "badin"),
            ],
            json!({ "TableName": "Movies" }),
            "InvalidEnvironment",
            "MAX_AGE_DAYS",
        ),
        (
            &[("MAX_BACKUPS", "3")],
            json!({ "TableName": "Movies" }),
            "InvalidEnvironment",
            "STACK_NAME is not set",
        ),
    ];
    for (function_env, event, kind, names) in cases {
        proxy.clear();
        let error = lambda_error(&proxy, function_env, event.clone());
        assert_eq!(error["errorType"], kind, "{event}: {error}");
        let message = error["errorMessage"].as_str().unwrap_or_default();
        assert!(message.contains(names), "{event}: {error}");
        assert_eq!(message.lines().count(), 1, "{event}: {error}");
        let writes = proxy.writes();
        assert!(writes.is_empty(), "{event} wrote {writes:?}");
    }
}

#[test]
fn the_proxy_sees_what_the_bootstrap_writes() {
    // The guard above is only worth something if the proxy does see writes: a good event through
    // the same path makes CreateBackup reach moto.
    let proxy = Proxy::start(&moto_endpoint(), None);
    let api = RuntimeApi::start().expect("runtime API starts");
    let Bootstrap {
        mut child,
        task_root: _task_root,
        ..
    } = start_bootstrap(
        &api,
        proxy.endpoint(),
        &[("MAX_BACKUPS", "3"), ("STACK_NAME", "badin")],
    );
    assert!(api.invoke(
        "missing-table",
        json!({ "TableName": unique_name("NoSuchTable") })
    ));
    let outcome = api.next_outcome(ANSWER_TIMEOUT);
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        matches!(outcome, Some(Outcome::Error { .. })),
        "{outcome:?}"
    );
    let writes = proxy.writes();
    assert_eq!(
        writes
            .iter()
            .map(|w| w.operation.as_str())
            .collect::<Vec<_>>(),
        ["CreateBackup"],
        "{writes:?}"
    );
}
