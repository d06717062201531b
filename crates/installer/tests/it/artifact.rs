//! The real deployment zip that `installer build` wrote (`make test` builds it first): its
//! shape, its glibc floor, its reproducibility, the installer's refusals, and the `bootstrap`
//! inside it answering the tutorial's event under a Lambda Runtime API against moto.

use std::io::Cursor;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::support::lambda::{
    Bootstrap, built_zip, newest_glibc, start_bootstrap, temp_dir, unzip_bootstrap,
    write_executable,
};
use installer::local::runtime_api::{Outcome, RuntimeApi};
use serde_json::json;
use test_support::{aws_endpoint, backup_names, create_movies_table, moto_config, unique_name};

const INSTALLER: &str = env!("CARGO_BIN_EXE_installer");
/// How long the bootstrap may take to answer before the test gives up (a hang guard, not a
/// performance check).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs `installer build --bootstrap <binary> --out <out>` and returns (success, stderr).
fn package(binary: &Path, out: &Path, arch: &str) -> (bool, String) {
    let output = Command::new(INSTALLER)
        .args(["build", "--arch", arch, "--bootstrap"])
        .arg(binary)
        .arg("--out")
        .arg(out)
        .output()
        .expect("run installer");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn the_zip_holds_one_executable_bootstrap() {
    let zip = built_zip();
    let mut archive = zip::ZipArchive::new(Cursor::new(&zip)).expect("a zip archive");
    assert_eq!(archive.len(), 1, "exactly one entry");
    let entry = archive.by_index(0).expect("entry");
    assert_eq!(entry.name().expect("utf-8 name"), "bootstrap");
    assert_eq!(entry.unix_mode().map(|m| m & 0o777), Some(0o755));
    assert!(
        zip.len() <= 3_500_000,
        "zip is {} bytes, over the 3.5 MB budget",
        zip.len()
    );
}

#[test]
fn the_bootstrap_needs_no_glibc_newer_than_2_34() {
    let tmp = temp_dir("objdump");
    let dir = tmp.path();
    let binary = dir.join("bootstrap");
    write_executable(&binary, &unzip_bootstrap(&built_zip()));
    let newest = newest_glibc(&binary);
    assert!(
        newest <= (2, 34),
        "bootstrap needs GLIBC_{}.{}",
        newest.0,
        newest.1
    );
}

#[test]
fn the_same_binary_gives_a_byte_identical_zip() {
    let zip = built_zip();
    let tmp = temp_dir("repro");
    let dir = tmp.path();
    let binary = dir.join("bootstrap");
    write_executable(&binary, &unzip_bootstrap(&zip));
    let again = dir.join("again.zip");
    let (ok, stderr) = package(&binary, &again, "arm64");
    assert!(ok, "{stderr}");
    assert_eq!(std::fs::read(&again).expect("zip written"), zip);
}

#[test]
fn a_binary_needing_newer_glibc_is_refused() {
    let tmp = temp_dir("glibc");
    let dir = tmp.path();
    let source = dir.join("new.c");
    // _dl_find_object first appeared in glibc 2.35.
    std::fs::write(
        &source,
        "#define _GNU_SOURCE\n#include <dlfcn.h>\nint main(void) { struct dl_find_object r; return _dl_find_object((void *)main, &r); }\n",
    )
    .expect("write C source");
    let binary = dir.join("bootstrap");
    let status = Command::new("cc")
        .arg("-o")
        .arg(&binary)
        .arg(&source)
        .status()
        .expect("run cc");
    assert!(
        status.success(),
        "this machine's glibc has _dl_find_object (2.35+)"
    );

    let out = dir.join("refused.zip");
    let (ok, stderr) = package(&binary, &out, "x86_64");
    assert!(!ok, "must be refused");
    assert!(!stderr.contains("not arm64"), "checked as x86_64: {stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains("needs glibc 2.35"), "{stderr}");
    assert!(
        stderr.contains("provided.al2023 runtime has glibc 2.34"),
        "{stderr}"
    );
    assert!(!out.exists(), "nothing written");
}

#[test]
fn a_binary_for_the_other_architecture_is_refused() {
    let bytes = unzip_bootstrap(&built_zip());
    let tmp = temp_dir("arch");
    let dir = tmp.path();
    let binary = dir.join("bootstrap");
    write_executable(&binary, &bytes);
    let (ok, stderr) = package(&binary, &dir.join("x.zip"), "x86_64");
    assert!(!ok);
    assert!(
        stderr.contains("is built for arm64, not x86_64"),
        "{stderr}"
    );

    let script = dir.join("script");
    write_executable(&script, b"#!/bin/sh\necho hello\n");
    let (ok, stderr) = package(&script, &dir.join("y.zip"), "x86_64");
    assert!(!ok);
    assert!(
        stderr.contains("cannot be a Lambda bootstrap: not a 64-bit Linux ELF"),
        "{stderr}"
    );
}

/// Peak resident memory of a running process, in KiB (`VmHWM`).
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[tokio::test]
async fn the_bootstrap_answers_the_tutorial_event_under_the_runtime_api() {
    let endpoint = aws_endpoint();
    let db = aws_sdk_dynamodb::Client::new(&moto_config().await);
    let table = unique_name("Movies");
    create_movies_table(&db, &table).await;

    let api = RuntimeApi::start().expect("runtime API starts");
    let Bootstrap {
        mut child,
        started,
        task_root: _task_root,
    } = start_bootstrap(
        &api,
        &endpoint,
        &[("MAX_BACKUPS", "3"), ("STACK_NAME", "tutorial")],
    );
    assert!(api.invoke("req-tutorial", json!({ "TableName": table })));
    let first = api.next_outcome(ANSWER_TIMEOUT);
    assert!(api.invoke("req-missing", json!({ "TableName": "NoSuchTable" })));
    let second = api.next_outcome(ANSWER_TIMEOUT);
    let peak_rss = peak_rss_kib(child.id());
    let _ = child.kill();
    let output = child.wait_with_output().expect("bootstrap output");

    let Some(Outcome::Response {
        request_id,
        body,
        at,
    }) = first
    else {
        panic!("expected a response, got {first:?}");
    };
    assert_eq!(request_id, "req-tutorial");
    assert_eq!(body["status"], "ok", "{body}");
    assert_eq!(body["table"], table.as_str());
    let name = body["backup_created"]["name"]
        .as_str()
        .expect("backup name")
        .to_owned();
    // `<table>-<stack>-<YYYYmmddHHMMSS>`: the stack's name marks whose it is.
    assert!(
        name.starts_with(&format!("{table}-tutorial-")) && name.len() == table.len() + 24,
        "{name}"
    );
    assert_eq!(body["kept"], json!([name]));

    assert_eq!(
        backup_names(&db, &table).await,
        vec![name.clone()],
        "the backup is really in DynamoDB"
    );

    let Some(Outcome::Error { request_id, body }) = second else {
        panic!("expected an error for a missing table, got {second:?}");
    };
    assert_eq!(request_id, "req-missing");
    assert!(
        body["errorType"]
            .as_str()
            .is_some_and(|t| t.contains("NotFound")),
        "{body}"
    );
    assert!(
        body["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("NoSuchTable")),
        "{body}"
    );

    // Each log line is one JSON object (what CloudWatch Logs shows).
    let logs = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<serde_json::Value> = logs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l["message"] == "backup created" && l["backup"] == name.as_str())
    );
    assert!(lines.iter().any(|l| l["message"] == "run finished"));

    let cold_start = api.first_poll().map(|t| t.duration_since(started));
    assert!(cold_start.is_some_and(|c| c <= at.duration_since(started)));
    eprintln!(
        "bootstrap: first poll {} ms and first response {} ms after start; peak RSS {} KiB",
        cold_start.map_or(0, |c| c.as_millis()),
        at.duration_since(started).as_millis(),
        peak_rss.map_or_else(|| "unknown".to_owned(), |k| k.to_string()),
    );
}

#[test]
fn a_bad_environment_fails_every_invocation_with_the_reason() {
    let api = RuntimeApi::start().expect("runtime API starts");
    let Bootstrap {
        mut child,
        task_root: _task_root,
        ..
    } = start_bootstrap(
        &api,
        &aws_endpoint(),
        &[("MAX_BACKUPS", "0"), ("STACK_NAME", "tutorial")],
    );
    assert!(api.invoke("req-1", json!({ "TableName": "Movies" })));
    let outcome = api.next_outcome(ANSWER_TIMEOUT);
    let _ = child.kill();
    let _ = child.wait();
    let Some(Outcome::Error { request_id, body }) = outcome else {
        panic!("expected an invocation error, got {outcome:?}");
    };
    assert_eq!(request_id, "req-1");
    assert_eq!(body["errorType"], "InvalidEnvironment", "{body}");
    assert!(
        body["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("MAX_BACKUPS must be a whole number from 1 to 1000")),
        "{body}"
    );
}

#[test]
fn arm64_without_its_rust_target_says_how_to_add_it() {
    let tmp = temp_dir("rustup");
    let dir = tmp.path();
    // A rustup that reports only the x86_64 standard library installed.
    write_executable(
        &dir.join("rustup"),
        b"#!/bin/sh\necho x86_64-unknown-linux-gnu\n",
    );
    let zip = dir.join("arm64.zip");
    // arm64 is the default architecture.
    let output = Command::new(INSTALLER)
        .args(["build", "--out"])
        .arg(&zip)
        .env("PATH", dir)
        .output()
        .expect("run installer");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.contains("add it with `rustup target add aarch64-unknown-linux-gnu`"),
        "{stderr}"
    );
    assert!(stderr.contains("--arch x86_64"), "{stderr}");
    assert!(!zip.exists());
}
