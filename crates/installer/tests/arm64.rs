//! The function for Graviton: the arm64 zip `make build` writes holds one `bootstrap`, mode
//! 0755, built for AArch64 and needing no glibc newer than Lambda's 2.34 (checked with objdump,
//! not the code under test); deployed with `--arch arm64`, `invoke` on this x86_64 machine runs
//! it under qemu-user (Debian's `qemu-user` and `libc6-arm64-cross`, which `.ci/run` installs)
//! and it makes a real backup through the strict layer.

mod support;

use std::io::Cursor;

use support::aws::{clients, leftovers};
use support::cli::{built_arm64_zip_path, installer_ok};
use support::lambda::{newest_glibc, temp_dir, unzip_bootstrap, write_executable};
use test_support::unique_name;

#[test]
fn the_arm64_zip_holds_an_aarch64_bootstrap_for_glibc_2_34() {
    let zip = std::fs::read(built_arm64_zip_path()).expect("make build wrote the arm64 zip");
    let mut archive = zip::ZipArchive::new(Cursor::new(&zip)).expect("a zip archive");
    assert_eq!(archive.len(), 1);
    let entry = archive.by_index(0).unwrap();
    assert_eq!(entry.name().unwrap(), "bootstrap");
    assert_eq!(entry.unix_mode().map(|m| m & 0o777), Some(0o755));
    drop(entry);
    let bootstrap = unzip_bootstrap(&zip);
    // ELF header: 64-bit, little-endian, e_machine EM_AARCH64 (183).
    assert_eq!(&bootstrap[..4], b"\x7fELF");
    assert_eq!(u16::from_le_bytes([bootstrap[18], bootstrap[19]]), 183);
    let dir = temp_dir("arm64-glibc");
    let binary = dir.join("bootstrap");
    write_executable(&binary, &bootstrap);
    let newest = newest_glibc(&binary);
    assert!(newest <= (2, 34), "needs GLIBC_{}.{}", newest.0, newest.1);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_arm64_function_deploys_and_runs_here_under_qemu() {
    let aws = clients().await;
    let stack = unique_name("a64");
    let table = unique_name("Movies");
    let zip = built_arm64_zip_path().display().to_string();
    let base = ["--stack", stack.as_str(), "--table", table.as_str()];
    let with = |command: &str, extra: &[&str]| -> Vec<String> {
        std::iter::once(command)
            .chain(base)
            .chain(extra.iter().copied())
            .map(str::to_owned)
            .collect()
    };
    let run =
        |args: Vec<String>| installer_ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    run(with("up", &["--arch", "arm64", "--zip", &zip]));
    let deployed = aws
        .lambda
        .get_function_configuration()
        .function_name(&stack)
        .send()
        .await
        .unwrap();
    assert_eq!(
        deployed
            .architectures()
            .iter()
            .map(|a| a.as_str())
            .collect::<Vec<_>>(),
        ["arm64"]
    );
    let stderr = run(with("invoke", &["--arch", "arm64", "--zip", &zip]));
    assert!(
        stderr.contains("built for aarch64: running it under"),
        "{stderr}"
    );
    assert!(stderr.contains("run finished"), "{stderr}");
    let backups = aws
        .dynamodb
        .list_backups()
        .table_name(&table)
        .send()
        .await
        .unwrap();
    assert_eq!(
        backups.backup_summaries().len(),
        1,
        "the arm64 code made the backup"
    );
    run(with("down", &["--yes"]));
    assert_eq!(leftovers(&aws, &stack, &table).await, Vec::<&str>::new());
}
