//! The deployment zip and its `bootstrap`, run as Lambda would run it.

use std::io::{Cursor, Read};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use installer::local::runtime_api::RuntimeApi;

/// The default (arm64) zip `make build` wrote before the tests.
pub fn built_zip() -> Vec<u8> {
    let path = super::cli::built_zip_path();
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run `make test`, which runs `installer build` first",
            path.display()
        )
    })
}

/// The `bootstrap` entry's bytes.
pub fn unzip_bootstrap(zip: &[u8]) -> Vec<u8> {
    let mut archive = zip::ZipArchive::new(Cursor::new(zip)).expect("a zip archive");
    let mut entry = archive.by_name("bootstrap").expect("a bootstrap entry");
    let mut bytes = Vec::new();
    entry.read_to_end(&mut bytes).expect("readable entry");
    bytes
}

/// An empty directory of its own, removed when dropped.
pub fn temp_dir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("installer-test-{name}-"))
        .tempdir()
        .expect("temp dir")
}

/// Writes `bytes` to `path` with mode 0755.
pub fn write_executable(path: &Path, bytes: &[u8]) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, bytes).expect("write binary");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

/// A started `bootstrap`: the process, the moment it started, and its task root (removed when
/// dropped, so bind it for as long as the process runs).
pub struct Bootstrap {
    pub child: std::process::Child,
    pub started: Instant,
    pub task_root: tempfile::TempDir,
}

/// Starts the zip's `bootstrap` with exactly the environment Lambda gives a provided.al2023
/// function, plus the emulator's endpoint and the function's own variables (`MAX_BACKUPS`, ...).
/// An arm64 `bootstrap` on another machine runs under Debian's `qemu-aarch64` with the
/// `libc6-arm64-cross` root (as `installer invoke` runs it). Returns the process and the moment
/// it was started.
pub fn start_bootstrap(
    api: &RuntimeApi,
    endpoint: &str,
    function_env: &[(&str, &str)],
) -> Bootstrap {
    let task_dir = temp_dir("task");
    let task_root = task_dir.path();
    let bootstrap = task_root.join("bootstrap");
    let binary = unzip_bootstrap(&built_zip());
    write_executable(&bootstrap, &binary);
    // e_machine, at offset 18 of the ELF header (little-endian): 183 is EM_AARCH64.
    let aarch64 = binary.get(18..20) == Some(&183u16.to_le_bytes()[..]);
    let mut command = if aarch64 && std::env::consts::ARCH != "aarch64" {
        let mut qemu = Command::new("/usr/bin/qemu-aarch64");
        qemu.arg("-L").arg("/usr/aarch64-linux-gnu").arg(&bootstrap);
        qemu
    } else {
        Command::new(&bootstrap)
    };
    command
        .env_clear()
        .current_dir(task_root)
        .env("AWS_LAMBDA_RUNTIME_API", api.addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "dynamodb-backup")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/dynamodb-backup")
        .env(
            "AWS_LAMBDA_LOG_STREAM_NAME",
            "2026/11/25/[$LATEST]0123456789abcdef",
        )
        .env("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
        .env("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_SESSION_TOKEN", "testing")
        .env("LAMBDA_TASK_ROOT", task_root)
        .env("LAMBDA_RUNTIME_DIR", "/var/runtime")
        .env("_HANDLER", "bootstrap")
        .env("TZ", ":UTC")
        .env("LANG", "en_US.UTF-8")
        .env("PATH", "/usr/local/bin:/usr/bin/:/bin:/opt/bin")
        .env("AWS_ENDPOINT_URL", endpoint)
        .envs(function_env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let started = Instant::now();
    Bootstrap {
        child: spawn(&mut command),
        started,
        task_root: task_dir,
    }
}

/// Starts `command`, trying again while Linux says "text file busy": a binary written a moment
/// ago can still be open for writing in a child that another test thread forked meanwhile.
fn spawn(command: &mut Command) -> std::process::Child {
    for _ in 0..100 {
        match command.spawn() {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            started => return started.expect("start bootstrap"),
        }
    }
    panic!("the bootstrap stayed busy (ETXTBSY)")
}

/// The newest `GLIBC_x.y` symbol version `binary` needs, read by `objdump -T` (not by the code
/// under test's own ELF reader, so that the check is independent of it).
pub fn newest_glibc(binary: &Path) -> (u32, u32) {
    let out = Command::new("objdump")
        .arg("-T")
        .arg(binary)
        .output()
        .expect("run objdump");
    assert!(
        out.status.success(),
        "objdump failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = String::from_utf8_lossy(&out.stdout);
    table
        .split(|c: char| c.is_whitespace() || c == '(' || c == ')')
        .filter_map(|word| word.strip_prefix("GLIBC_"))
        .filter_map(|v| {
            let mut parts = v.split('.');
            Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
        })
        .max()
        .expect("a dynamically linked glibc binary")
}
