//! Compiles the backup function for Lambda with `cargo zigbuild`, which links against glibc 2.34
//! (Amazon Linux 2023) whatever glibc this machine has.

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Deserialize;
use thiserror::Error;
use tracing::debug;

use crate::build::arch::Arch;

/// The glibc version the build links against: Lambda's `provided.al2023` has 2.34.
const GLIBC_SUFFIX: &str = ".2.34";
/// The cargo package and binary of the function.
const PACKAGE: &str = "backup-lambda";
const BINARY: &str = "bootstrap";
/// The cargo profile tuned for a small, fast-starting binary (see the workspace Cargo.toml).
const PROFILE: &str = "release-lambda";

/// Why the function could not be compiled.
#[derive(Debug, Error)]
pub enum CompileError {
    /// cargo-zigbuild is not on PATH nor in the workspace's `.venv`.
    #[error(
        "cargo-zigbuild is not installed; run `make setup` (installs cargo-zigbuild and zig into .venv) or `pip install cargo-zigbuild ziglang`"
    )]
    ZigbuildMissing,
    /// The Rust standard library for the target is not installed.
    #[error(
        "the Rust target {target} is not installed; add it with `rustup target add {target}` (`make setup` does), or build for the other architecture with --arch {other}"
    )]
    TargetMissing {
        /// The target triple.
        target: &'static str,
        /// The other architecture's name.
        other: Arch,
    },
    /// cargo-zigbuild could not be started.
    #[error("could not run {program}: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The build failed; cargo has printed why.
    #[error("cargo zigbuild failed ({0}); the compiler's messages are above")]
    Failed(std::process::ExitStatus),
    /// The build succeeded but named no `bootstrap` executable.
    #[error("cargo zigbuild reported no `bootstrap` executable")]
    NoExecutable,
}

/// The workspace this installer was built from: it builds the function from the same sources.
/// Canonical where it exists (so that paths under it read plainly in messages).
pub fn workspace_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

/// Whether this installer runs from a checkout of its source (so it can build the function).
pub fn in_checkout() -> bool {
    workspace_root()
        .join("crates/backup-lambda/Cargo.toml")
        .is_file()
}

/// PATH with the workspace's `.venv/bin` (where `make setup` puts cargo-zigbuild and zig) first.
fn search_path(workspace: &Path) -> OsString {
    let venv = workspace.join(".venv/bin");
    let rest = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::iter::once(venv).chain(std::env::split_paths(&rest));
    std::env::join_paths(dirs).unwrap_or(rest)
}

/// Finds an executable named `program` in `path`.
fn find_program(program: &str, path: &OsString) -> Option<PathBuf> {
    std::env::split_paths(path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// Fails early, with the command that fixes it, if rustup says the target is not installed.
/// Without rustup there is nothing to ask; cargo will report a missing target itself.
fn check_target_installed(arch: Arch) -> Result<(), CompileError> {
    let Ok(out) = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
    else {
        return Ok(());
    };
    let installed = String::from_utf8_lossy(&out.stdout);
    if out.status.success() && !installed.lines().any(|t| t.trim() == arch.rust_target()) {
        return Err(CompileError::TargetMissing {
            target: arch.rust_target(),
            other: match arch {
                Arch::Arm64 => Arch::X86_64,
                Arch::X86_64 => Arch::Arm64,
            },
        });
    }
    Ok(())
}

/// The part of cargo's JSON messages this needs.
#[derive(Deserialize)]
struct Message {
    reason: String,
    target: Option<MessageTarget>,
    executable: Option<PathBuf>,
}

#[derive(Deserialize)]
struct MessageTarget {
    name: String,
}

/// Compiles `bootstrap` for `arch` in the workspace at `workspace` and returns its path.
/// Compiler progress goes to this process's stderr.
pub fn compile(workspace: &Path, arch: Arch) -> Result<PathBuf, CompileError> {
    check_target_installed(arch)?;
    let path = search_path(workspace);
    let zigbuild = find_program("cargo-zigbuild", &path).ok_or(CompileError::ZigbuildMissing)?;
    let target = format!("{}{GLIBC_SUFFIX}", arch.rust_target());
    let mut command = Command::new(&zigbuild);
    command
        .arg("zigbuild")
        .arg("--locked")
        .arg("--manifest-path")
        .arg(workspace.join("Cargo.toml"))
        .args(["--profile", PROFILE, "-p", PACKAGE, "--bin", BINARY])
        .args(["--target", &target])
        .arg("--message-format=json-render-diagnostics")
        .env("PATH", &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    debug!(?command, "compiling the function");
    let spawn_error = |source| CompileError::Spawn {
        program: zigbuild.display().to_string(),
        source,
    };
    let mut child = command.spawn().map_err(spawn_error)?;
    // Cargo's own lines go on to stderr, but for its "Finished" summary: noise in every `up`.
    let forward = child.stderr.take().map(|stderr| {
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if !line.trim_start().starts_with("Finished ") {
                    eprintln!("{line}");
                }
            }
        })
    });
    let mut executable = None;
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let Ok(message) = serde_json::from_str::<Message>(&line) else {
                continue;
            };
            if message.reason == "compiler-artifact"
                && message.target.is_some_and(|t| t.name == BINARY)
            {
                executable = message.executable.or(executable);
            }
        }
    }
    let status = child.wait().map_err(spawn_error)?;
    if let Some(forward) = forward {
        let _ = forward.join();
    }
    if !status.success() {
        return Err(CompileError::Failed(status));
    }
    executable.ok_or(CompileError::NoExecutable)
}
