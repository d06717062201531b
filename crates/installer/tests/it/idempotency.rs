//! Idempotency, proven from moto's side with its request recorder: a second `up` makes no
//! mutating call, and a changed setting or zip changes only what it must. moto serves the other
//! tests at the same time, so the recording keeps only the calls that name this test's stack or
//! table (every call `up` and `down` make names one of them).

use std::io::Read;
use std::time::Instant;

use crate::support::cli::{built_zip_path, installer_ok};
use test_support::{RecordedCall, Recorder, unique_name};

/// Runs `installer <args>` while recording; returns the calls moto saw that name one of `ours`
/// (moto serves the other tests of this binary at the same time).
fn recorded(args: &[&str], ours: &[&str]) -> (Vec<RecordedCall>, String) {
    let recorder = Recorder::start();
    let started = Instant::now();
    let report = installer_ok(args);
    let elapsed = started.elapsed();
    let calls = recorder.stop_mentioning(ours);
    let writes = calls.iter().filter(|c| c.mutating).count();
    eprintln!(
        "installer {}: {} calls ({writes} mutating) in {} ms",
        args[0],
        calls.len(),
        elapsed.as_millis()
    );
    (calls, report)
}

fn mutating(calls: &[RecordedCall]) -> Vec<&str> {
    calls
        .iter()
        .filter(|c| c.mutating)
        .map(|c| c.operation.as_str())
        .collect()
}

#[test]
fn up_is_idempotent_and_changes_only_what_differs() {
    // Names no other test's contains: the recording is told apart by them.
    let stack = unique_name("idem");
    let table = unique_name("IdemMovies");
    let zip = built_zip_path().display().to_string();
    let base = ["--stack", stack.as_str(), "--table", table.as_str()];
    let with = |extra: &[&str]| -> Vec<String> {
        base.iter().chain(extra).map(|s| (*s).to_owned()).collect()
    };
    let args = |command: &str, extra: &[&str]| -> Vec<String> {
        std::iter::once(command.to_owned())
            .chain(with(extra))
            .collect()
    };
    let ours = [stack.as_str(), table.as_str()];
    let run =
        |args: &[String]| recorded(&args.iter().map(String::as_str).collect::<Vec<_>>(), &ours);

    let (cold, _) = run(&args("up", &["--zip", &zip]));
    let cold_writes = mutating(&cold);
    for expected in [
        "CreateRole",
        "PutRolePolicy",
        "CreateTable",
        "CreateLogGroup",
        "PutRule",
        "PutTargets",
    ] {
        assert!(
            cold_writes.contains(&expected),
            "{expected} missing from {cold_writes:?}"
        );
    }

    let (again, report) = run(&args("up", &["--zip", &zip]));
    assert_eq!(
        mutating(&again),
        Vec::<&str>::new(),
        "a second up writes nothing"
    );
    assert!(report.contains("no changes"), "{report}");

    // One setting: the function's configuration, then the recorded settings, and nothing else.
    let (keep, _) = run(&args("up", &["--zip", &zip, "--keep", "4"]));
    let writes = mutating(&keep);
    assert_eq!(writes.len(), 2, "{writes:?}");
    assert!(
        writes[0].starts_with("PUT ") && writes[0].ends_with("/configuration"),
        "{writes:?}"
    );
    let settings = format!("/settings/{stack}.json");
    assert!(
        writes[1].starts_with("PUT ") && writes[1].contains(&settings),
        "{writes:?}"
    );

    // The same binary with one byte more: a different zip, so only the code is updated.
    let mut bootstrap = Vec::new();
    zip::ZipArchive::new(std::fs::File::open(built_zip_path()).unwrap())
        .unwrap()
        .by_name("bootstrap")
        .unwrap()
        .read_to_end(&mut bootstrap)
        .unwrap();
    bootstrap.push(0);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let binary = dir.join("bootstrap");
    std::fs::write(&binary, &bootstrap).unwrap();
    let new_zip = dir.join("new.zip");
    installer_ok(&[
        "build",
        "--bootstrap",
        binary.to_str().unwrap(),
        "--out",
        new_zip.to_str().unwrap(),
    ]);
    let (code, _) = run(&args("up", &["--zip", new_zip.to_str().unwrap()]));
    let writes = mutating(&code);
    assert_eq!(writes.len(), 1, "{writes:?}");
    assert!(
        writes[0].starts_with("PUT ") && writes[0].ends_with("/code"),
        "{writes:?}"
    );

    let down_args =
        ["down", "--yes", "--delete-data", "--stack", stack.as_str()].map(str::to_owned);
    let (down, _) = run(&down_args);
    assert!(mutating(&down).contains(&"DeleteRole"));
}
