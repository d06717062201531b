//! The installer as one file, as `make dist` ships it for this machine (`INSTALLER_DIST`: in
//! `make test`, the test build's installer, built for that target, bundled by `make standalone`;
//! or the release binary; else this build, bundled here), carrying the zips
//! `installer build` wrote for arm64 and x86_64. Copied to a directory outside the repository
//! with no cargo, zig or `.venv` on `PATH`, it deploys (`up`, no `--zip`: arm64, then x86_64 with
//! `--arch`), runs (`invoke`: the code it carries, then, once other code is deployed, the code
//! downloaded from the function), reads (`status`) and removes (`down`) the stack through the
//! strict layer.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::aws::{clients, leftovers};
use crate::support::cli::{built_x86_64_zip_path, built_zip_path};
use crate::support::lambda::newest_glibc;
use base64::Engine;
use sha2::{Digest, Sha256};
use test_support::unique_name;

/// Lambda's `CodeSha256`: base64 of the zip's SHA-256.
fn code_sha256(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(bytes))
}

/// `binary <args>` run in `dir`, pointed at the strict layer, with only the system's
/// directories on PATH.
fn run_in(dir: &Path, binary: &Path, args: &[&str]) -> Output {
    Command::new(binary)
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", dir)
        .env("AWS_ENDPOINT_URL", test_support::aws_endpoint())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run the bundled installer")
}

/// The glibc `make dist` links the release installers against at most (DIST_GLIBC).
const DIST_GLIBC: (u32, u32) = (2, 28);

/// The installer under test, at `dir/installer`: the shipped form (built for glibc 2.28 with
/// zig, bundled) when `INSTALLER_DIST` names it (always so in CI), else this build bundled with
/// `zips`.
fn installer_in(dir: &Path, zips: [&Path; 2]) -> PathBuf {
    let installer = dir.join("installer");
    match std::env::var_os("INSTALLER_DIST") {
        Some(dist) => {
            std::fs::copy(&dist, &installer).expect("copy the shipped installer");
            let newest = newest_glibc(&installer);
            assert!(
                newest <= DIST_GLIBC,
                "the shipped installer needs GLIBC_{}.{}",
                newest.0,
                newest.1
            );
        }
        None => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI tests the installer as shipped: run `make test`, which sets INSTALLER_DIST"
            );
            let out = Command::new(env!("CARGO_BIN_EXE_installer"))
                .arg("bundle")
                .args(zips.iter().flat_map(|zip| [Path::new("--zip"), zip]))
                .arg("--out")
                .arg(&installer)
                .output()
                .unwrap();
            ok(&out, "bundle");
        }
    }
    installer
}

/// The same zip with a different digest: a comment added to its end-of-central-directory record
/// (the last 22 bytes of a zip without one; the comment's length is its last two).
fn with_comment(zip: &[u8], comment: &[u8]) -> Vec<u8> {
    let mut out = zip.to_vec();
    let at = out.len() - 2;
    assert_eq!(&out[at..], [0, 0], "the zip has no comment yet");
    out[at..].copy_from_slice(&u16::try_from(comment.len()).unwrap().to_le_bytes());
    out.extend_from_slice(comment);
    out
}

/// The result (stdout) then the report (stderr) of a run asserted to have succeeded.
fn ok(out: &Output, what: &str) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{what} failed:\n{stderr}");
    String::from_utf8_lossy(&out.stdout).into_owned() + &stderr
}

#[tokio::test(flavor = "multi_thread")]
async fn the_release_installer_deploys_runs_and_removes_the_stack_from_anywhere() {
    let tmp = tempfile::Builder::new()
        .prefix("installer-standalone-")
        .tempdir()
        .unwrap();
    let dir = tmp.path();
    let (zip, x86_64_zip) = (built_zip_path(), built_x86_64_zip_path());
    let zip_bytes = std::fs::read(&zip).expect("make build wrote the arm64 zip");
    let x86_64_bytes = std::fs::read(&x86_64_zip).expect("make build wrote the x86_64 zip");
    let bundled = installer_in(dir, [&zip, &x86_64_zip]);
    // The file ends with the zips `installer build` wrote, byte for byte, each with its trailer:
    // arm64's, then x86_64's.
    let file = std::fs::read(&bundled).unwrap();
    let end = file.len() - 16;
    assert_eq!(&file[end + 8..], b"BKLZIP01");
    assert_eq!(file[end - x86_64_bytes.len()..end], x86_64_bytes[..]);
    let end = end - x86_64_bytes.len() - 16;
    assert_eq!(&file[end + 8..end + 16], b"BKLZIP01");
    assert_eq!(file[end - zip_bytes.len()..end], zip_bytes[..]);

    let stack = unique_name("sta");
    let table = unique_name("Movies");
    let base = [
        "--stack",
        stack.as_str(),
        "--table",
        table.as_str(),
        "--create-table",
    ];
    let with = |command: &str, extra: &[&str]| -> Vec<String> {
        let flags: &[&str] = if command == "up" { &base } else { &base[..2] };
        let mut args = vec![command.to_owned()];
        args.extend(flags.iter().chain(extra).map(|s| (*s).to_owned()));
        args
    };
    let run = |args: Vec<String>| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_in(dir, &bundled, &args)
    };
    let stderr = ok(&run(with("up", &[])), "up from an empty directory");
    assert!(
        stderr.contains("deploying the function zip this installer carries"),
        "{stderr}"
    );
    let aws = clients().await;
    let deployed = aws
        .lambda
        .get_function_configuration()
        .function_name(&stack)
        .send()
        .await
        .unwrap();
    assert_eq!(
        deployed.code_sha256(),
        Some(code_sha256(&zip_bytes).as_str()),
        "the carried arm64 zip is what was deployed by default"
    );
    let stderr = ok(&run(with("invoke", &[])), "invoke with the carried code");
    assert!(stderr.contains("run finished"), "{stderr}");
    assert!(
        stderr.contains("running the deployed code from the zip this installer carries"),
        "{stderr}"
    );
    assert!(stderr.contains("built for aarch64"), "{stderr}");

    // x86_64 is one flag away, from the same file.
    ok(&run(with("up", &["--arch", "x86_64"])), "up --arch x86_64");
    // Through the strict layer, which shows the architecture UpdateFunctionCode set (moto does
    // not).
    let deployed = aws_sdk_lambda::Client::new(&test_support::strict_config().await)
        .get_function_configuration()
        .function_name(&stack)
        .send()
        .await
        .unwrap();
    assert_eq!(
        deployed.code_sha256(),
        Some(code_sha256(&x86_64_bytes).as_str())
    );
    assert_eq!(deployed.architectures()[0].as_str(), "x86_64");
    let stderr = ok(&run(with("invoke", &[])), "invoke the carried x86_64 code");
    assert!(stderr.contains("run finished"), "{stderr}");
    assert!(!stderr.contains("built for aarch64"), "{stderr}");

    // Other code deployed: no zip here matches, so invoke runs the code GetFunction points at.
    let variant = dir.join("variant.zip");
    let variant_bytes = with_comment(&zip_bytes, b"variant");
    std::fs::write(&variant, &variant_bytes).unwrap();
    ok(
        // The stack remembers x86_64: the arm64 variant goes back with --arch.
        &run(with(
            "up",
            &["--arch", "arm64", "--zip", variant.to_str().unwrap()],
        )),
        "up with another zip",
    );
    std::fs::remove_file(&variant).unwrap();
    let stderr = ok(&run(with("invoke", &[])), "invoke with downloaded code");
    assert!(
        stderr.contains("running the deployed code from the function's code location"),
        "{stderr}"
    );
    assert!(stderr.contains("run finished"), "{stderr}");

    // A zip that is not the deployed code is refused, naming what to pass.
    let other = dir.join("other.zip");
    std::fs::write(&other, b"not the deployed code").unwrap();
    let out = run(with("invoke", &["--zip", other.to_str().unwrap()]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("is not the deployed code"), "{stderr}");

    let status = run(with("status", &[]));
    let stderr = ok(&status, "status");
    assert!(
        stderr.contains(&format!("backups of {table}: 3")),
        "{stderr}"
    );
    ok(&run(with("down", &["--yes", "--delete-data"])), "down");
    assert_eq!(leftovers(&aws, &stack, &table).await, Vec::<&str>::new());
    let _ = std::fs::remove_dir_all(dir);
}
