//! The function for both of Lambda's architectures. The zips `make build` writes each hold one
//! `bootstrap`, mode 0755, built for its machine (AArch64, x86-64) and needing no glibc newer
//! than Lambda's 2.34 (checked with objdump, not the code under test). `up` deploys arm64 by
//! default, and `invoke` on this x86_64 machine runs it under qemu-user (Debian's `qemu-user`
//! and `libc6-arm64-cross`, which `.ci/run` installs); `--arch x86_64` switches the same stack
//! to x86_64, run natively. Each makes a real backup through the strict layer.

use std::io::Cursor;
use std::path::Path;

use crate::support::aws::{clients, leftovers};
use crate::support::cli::{built_x86_64_zip_path, built_zip_path, installer_ok, remove_all};
use crate::support::lambda::{newest_glibc, temp_dir, unzip_bootstrap, write_executable};
use test_support::unique_name;

/// Checks the zip at `path` as Lambda needs it and returns its bootstrap's ELF `e_machine`.
fn zipped_machine(path: &Path, name: &str) -> u16 {
    let zip = std::fs::read(path).expect("make build wrote the zip");
    let mut archive = zip::ZipArchive::new(Cursor::new(&zip)).expect("a zip archive");
    assert_eq!(archive.len(), 1);
    let entry = archive.by_index(0).unwrap();
    assert_eq!(entry.name().unwrap(), "bootstrap");
    assert_eq!(entry.unix_mode().map(|m| m & 0o777), Some(0o755));
    drop(entry);
    let bootstrap = unzip_bootstrap(&zip);
    assert_eq!(&bootstrap[..4], b"\x7fELF");
    let tmp = temp_dir(name);
    let dir = tmp.path();
    let binary = dir.join("bootstrap");
    write_executable(&binary, &bootstrap);
    let newest = newest_glibc(&binary);
    assert!(newest <= (2, 34), "needs GLIBC_{}.{}", newest.0, newest.1);
    // e_machine, at offset 18 of the ELF header (little-endian).
    u16::from_le_bytes([bootstrap[18], bootstrap[19]])
}

#[test]
fn each_zip_holds_a_bootstrap_for_its_architecture_and_glibc_2_34() {
    assert_eq!(
        zipped_machine(&built_zip_path(), "arm64-glibc"),
        183,
        "EM_AARCH64"
    );
    assert_eq!(
        zipped_machine(&built_x86_64_zip_path(), "x86-glibc"),
        62,
        "EM_X86_64"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn arm64_deploys_by_default_and_x86_64_is_one_flag_away() {
    let aws = clients().await;
    let stack = unique_name("arch");
    let table = unique_name("Movies");
    let (arm64, x86_64) = (
        built_zip_path().display().to_string(),
        built_x86_64_zip_path().display().to_string(),
    );
    let base = ["--stack", stack.as_str(), "--table", table.as_str()];
    let run = |command: &str, extra: &[&str]| {
        let args: Vec<&str> = [command]
            .iter()
            .chain(&base)
            .chain(extra)
            .copied()
            .collect();
        installer_ok(&args)
    };
    // moto keeps the architecture CreateFunction set; the strict layer shows the one
    // UpdateFunctionCode set, as Lambda does.
    let lambda = aws_sdk_lambda::Client::new(&test_support::strict_config().await);
    let deployed_arch = || async {
        let config = lambda
            .get_function_configuration()
            .function_name(&stack)
            .send()
            .await
            .unwrap();
        config
            .architectures()
            .iter()
            .map(|a| a.as_str().to_owned())
            .collect::<Vec<_>>()
    };
    let backups = || async {
        aws.dynamodb
            .list_backups()
            .table_name(&table)
            .send()
            .await
            .unwrap()
            .backup_summaries()
            .len()
    };

    run("up", &["--zip", &arm64]);
    assert_eq!(deployed_arch().await, ["arm64"]);
    let stderr = run("invoke", &["--zip", &arm64]);
    assert!(
        stderr.contains("built for aarch64: running it under"),
        "{stderr}"
    );
    assert!(stderr.contains("run finished"), "{stderr}");
    assert_eq!(backups().await, 1, "the arm64 code made the backup");

    let plan = run("plan", &["--arch", "x86_64", "--zip", &x86_64]);
    assert!(
        plan.lines()
            .any(|l| l.contains("function") && l.ends_with("update (code, architecture)")),
        "{plan}"
    );
    run("up", &["--arch", "x86_64", "--zip", &x86_64]);
    assert_eq!(deployed_arch().await, ["x86_64"]);
    let again = run("plan", &["--arch", "x86_64", "--zip", &x86_64]);
    assert!(
        again
            .lines()
            .any(|l| l.contains("function") && l.ends_with("no change")),
        "{again}"
    );
    let stderr = run("invoke", &["--zip", &x86_64]);
    assert!(!stderr.contains("running it under"), "natively: {stderr}");
    assert!(stderr.contains("run finished"), "{stderr}");
    assert_eq!(backups().await, 2, "the x86_64 code made the second");

    installer_ok(&remove_all(&stack));
    assert_eq!(leftovers(&aws, &stack, &table).await, Vec::<&str>::new());
}
