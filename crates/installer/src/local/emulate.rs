//! Running a `bootstrap` built for another architecture than this machine's (an arm64 function
//! on an x86_64 machine, or the reverse) under qemu-user: Debian's `qemu-user` package gives
//! `qemu-aarch64`/`qemu-x86_64`, and `libc6-arm64-cross`/`libc6-amd64-cross` the target's glibc,
//! which qemu is pointed at with `-L` (or `QEMU_LD_PREFIX`).

use std::path::{Path, PathBuf};

/// How to start a bootstrap: directly, or through qemu with a sysroot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Launcher {
    /// This machine runs it natively.
    Native,
    /// Through qemu-user.
    Qemu {
        /// The qemu binary.
        qemu: PathBuf,
        /// The target's root for its dynamic loader and glibc.
        sysroot: PathBuf,
    },
}

/// The architecture an ELF executable is built for (`x86_64`, `aarch64`), from its header's
/// `e_machine`; `None` for anything else.
pub fn elf_arch(bytes: &[u8]) -> Option<&'static str> {
    if bytes.get(..4) != Some(b"\x7fELF".as_slice()) {
        return None;
    }
    match u16::from_le_bytes([*bytes.get(18)?, *bytes.get(19)?]) {
        62 => Some("x86_64"),
        183 => Some("aarch64"),
        _ => None,
    }
}

/// How to launch a bootstrap built for `arch` on this machine (`host`), looking for qemu on
/// `path` (the `PATH` value) and the sysroot in `ld_prefix` (`QEMU_LD_PREFIX`) or Debian's
/// cross-libc directory; a one-line reason, naming the packages, when it cannot.
pub fn launcher(
    arch: &str,
    host: &str,
    path: Option<&str>,
    ld_prefix: Option<&str>,
) -> Result<Launcher, String> {
    if arch == host {
        return Ok(Launcher::Native);
    }
    let (package, cross) = match arch {
        "aarch64" => ("libc6-arm64-cross", "/usr/aarch64-linux-gnu"),
        _ => ("libc6-amd64-cross", "/usr/x86_64-linux-gnu"),
    };
    let flag = if arch == "aarch64" { "arm64" } else { "x86_64" };
    let names = [format!("qemu-{arch}"), format!("qemu-{arch}-static")];
    let qemu = path
        .unwrap_or_default()
        .split(':')
        .filter(|dir| !dir.is_empty())
        .flat_map(|dir| names.iter().map(move |n| Path::new(dir).join(n)))
        .find(|candidate| candidate.is_file());
    let Some(qemu) = qemu else {
        return Err(format!(
            "the deployed code is built for {arch} and this machine is {host}: install qemu-user and {package} (Debian, Ubuntu) to run it here, or deploy with --arch {}",
            if flag == "arm64" { "x86_64" } else { "arm64" }
        ));
    };
    let sysroot = PathBuf::from(ld_prefix.unwrap_or(cross));
    if !sysroot.join("lib").is_dir() {
        return Err(format!(
            "qemu is here but {arch}'s glibc is not ({} has no lib/): install {package}, or set QEMU_LD_PREFIX to a {arch} root",
            sysroot.display()
        ));
    }
    Ok(Launcher::Qemu { qemu, sysroot })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_arch_comes_from_the_elf_header() {
        let mut header = b"\x7fELF".to_vec();
        header.resize(20, 0);
        header[18..20].copy_from_slice(&183u16.to_le_bytes());
        assert_eq!(elf_arch(&header), Some("aarch64"));
        header[18..20].copy_from_slice(&62u16.to_le_bytes());
        assert_eq!(elf_arch(&header), Some("x86_64"));
        assert_eq!(elf_arch(b"#!/bin/sh"), None);
    }

    #[test]
    fn a_foreign_bootstrap_runs_under_qemu_or_says_what_to_install() {
        assert_eq!(
            launcher("x86_64", "x86_64", None, None),
            Ok(Launcher::Native)
        );
        let dir = std::env::temp_dir().join(format!("emulate-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("bin")).unwrap();
        std::fs::create_dir_all(dir.join("root/lib")).unwrap();
        let bin = dir.join("bin").display().to_string();
        let root = dir.join("root").display().to_string();
        let missing = launcher("aarch64", "x86_64", Some(&bin), Some(&root)).unwrap_err();
        assert!(
            missing.contains("install qemu-user and libc6-arm64-cross")
                && missing.contains("--arch x86_64"),
            "{missing}"
        );
        std::fs::write(dir.join("bin/qemu-aarch64"), b"").unwrap();
        assert_eq!(
            launcher("aarch64", "x86_64", Some(&bin), Some(&root)),
            Ok(Launcher::Qemu {
                qemu: dir.join("bin/qemu-aarch64"),
                sysroot: dir.join("root"),
            })
        );
        let no_libc = launcher("aarch64", "x86_64", Some(&bin), Some("/nonexistent")).unwrap_err();
        assert!(no_libc.contains("QEMU_LD_PREFIX"), "{no_libc}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
