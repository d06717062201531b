//! Runs the real `installer` binary against moto.

use std::path::PathBuf;
use std::process::{Command, Output};

/// The zip for the default architecture, arm64, that `make build` wrote before the tests
/// (`make test` sets `BACKUP_LAMBDA_ZIP_ARM64`). Deployed without `--arch`; run under qemu-user.
pub fn built_zip_path() -> PathBuf {
    std::env::var_os("BACKUP_LAMBDA_ZIP_ARM64").map_or_else(
        || {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../target/lambda/backup-lambda-arm64.zip")
        },
        PathBuf::from,
    )
}

/// The x86_64 zip `make build` wrote (`make test` sets `BACKUP_LAMBDA_ZIP_X86_64`); deployed
/// with `--arch x86_64`.
pub fn built_x86_64_zip_path() -> PathBuf {
    std::env::var_os("BACKUP_LAMBDA_ZIP_X86_64").map_or_else(
        || {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../target/lambda/backup-lambda-x86_64.zip")
        },
        PathBuf::from,
    )
}

/// `installer <args>` with moto's endpoint, dummy credentials and us-east-1; stdin is empty
/// (not a terminal).
pub fn installer(args: &[&str]) -> Output {
    installer_with_endpoint(args, &test_support::aws_endpoint())
}

/// Runs `installer <args>`, asserts it succeeded, and returns what a person at a terminal
/// reads: its stdout (the result, as `plan` and `status` print it) then its stderr (the report).
pub fn installer_ok(args: &[&str]) -> String {
    let out = installer(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "installer {args:?} failed:\n{stderr}");
    String::from_utf8_lossy(&out.stdout).into_owned() + &stderr
}

/// `installer --output json invoke <args>` at `endpoint`, asserted to succeed: the function's
/// result.
pub fn invoke_result_at(endpoint: &str, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--output", "json", "invoke"];
    all.extend(args);
    let out = installer_with_endpoint(&all, endpoint);
    assert!(
        out.status.success(),
        "invoke failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let document: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a JSON document");
    document["result"].clone()
}

/// `installer <args>` pointed at `endpoint` (a closed port proves no AWS call is needed).
pub fn installer_with_endpoint(args: &[&str], endpoint: &str) -> Output {
    installer_at(endpoint)
        .args(args)
        .output()
        .expect("run installer")
}

/// The `installer` command, not yet run, pointed at `endpoint` with dummy credentials and
/// us-east-1, no profile, and stdin empty (not a terminal). `INSTALLER_CREATE_TABLE` is set, as
/// a CI job that deploys a fresh table sets it: each test's table has a name of its own, which
/// `up` creates only when told to (`stack.rs::a_missing_table_stops_up_before_any_write`
/// removes it to test the refusal).
pub fn installer_at(endpoint: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_installer"));
    command
        .env("INSTALLER_CREATE_TABLE", "true")
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env_remove("AWS_PROFILE")
        .stdin(std::process::Stdio::null());
    command
}

/// The arguments of `down` that remove everything of the stack, its data too (the backups,
/// the tables it made, the bucket): how a test cleans up after itself. The stack knows its
/// tables.
pub fn remove_all(stack: &str) -> [&str; 5] {
    ["down", "--yes", "--delete-data", "--stack", stack]
}
