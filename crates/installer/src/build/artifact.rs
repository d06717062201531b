//! `installer build`: the function's deployment zip, checked to start on Lambda.

use std::fs;
use std::path::{Path, PathBuf};

use miette::Diagnostic;
use thiserror::Error;

use crate::build::arch::Arch;
use crate::build::compile::{self, CompileError};
use crate::build::elf::{ElfError, ElfNeeds, GlibcVersion};
use crate::build::package::{Package, PackageError};

/// Why no deployment zip was written.
#[derive(Debug, Error, Diagnostic)]
pub enum ArtifactError {
    /// Compiling the function failed.
    #[error(transparent)]
    Compile(#[from] CompileError),
    /// The binary could not be read.
    #[error("could not read {path}: {source}; check the path, or build one with `installer build`")]
    Read {
        /// The binary's path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The binary is not an ELF executable.
    #[error("{path} cannot be a Lambda bootstrap: {source}")]
    NotElf {
        /// The binary's path.
        path: PathBuf,
        /// What the ELF reader said.
        source: ElfError,
    },
    /// The binary is for another CPU.
    #[error(
        "{path} is built for {found}, not {want}; build it for {want} or pass `--arch` to match it"
    )]
    WrongArch {
        /// The binary's path.
        path: PathBuf,
        /// The architecture found.
        found: String,
        /// The architecture asked for.
        want: Arch,
    },
    /// The binary needs a newer glibc than Lambda has, so it would fail to start there.
    #[error(
        "{path} needs glibc {needs} but Lambda's provided.al2023 runtime has glibc {max}, so it would not start; build it with `installer build` (cargo zigbuild --target <triple>.2.34) instead of plain `cargo build`"
    )]
    GlibcTooNew {
        /// The binary's path.
        path: PathBuf,
        /// The newest glibc version it needs.
        needs: GlibcVersion,
        /// The newest Lambda has.
        max: GlibcVersion,
    },
    /// A zip given to deploy is not a Lambda deployment package of one `bootstrap`.
    #[error(
        "{path} is not a deployment zip with a `bootstrap` entry ({reason}); build one with `installer build`"
    )]
    BadZip {
        /// The zip's path.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// No zip to deploy: none given, none carried, no source to build one from.
    #[error(
        "this installer carries no function zip for {0} and is not in a checkout of its source; pass --zip <path> (a zip from `installer build`), or use a release installer (`make dist`), which carries one"
    )]
    NoZip(Arch),
    /// Zipping failed.
    #[error(transparent)]
    Package(#[from] PackageError),
    /// The zip could not be written.
    #[error("could not write {path}: {source}")]
    Write {
        /// The zip's path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// A deployment zip written to disk, and what was checked about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    /// Where the zip is.
    pub path: PathBuf,
    /// The zip's size in bytes.
    pub zip_bytes: usize,
    /// The uncompressed `bootstrap`'s size in bytes.
    pub bootstrap_bytes: usize,
    /// The zip's `CodeSha256` (base64 SHA-256), as Lambda will report it.
    pub code_sha256: String,
    /// The binary's architecture.
    pub arch: Arch,
    /// The newest glibc version the binary needs (`None` for a static binary).
    pub glibc_floor: Option<GlibcVersion>,
}

/// Checks that `bytes` (read from `path`) is an executable for `arch` that starts on Lambda's
/// Amazon Linux 2023.
pub fn check_bootstrap(path: &Path, bytes: &[u8], arch: Arch) -> Result<ElfNeeds, ArtifactError> {
    let needs = ElfNeeds::read(bytes).map_err(|source| ArtifactError::NotElf {
        path: path.to_owned(),
        source,
    })?;
    if needs.machine != arch.elf_machine() {
        let found = Arch::from_elf_machine(needs.machine).map_or_else(
            || format!("ELF machine {:?}", needs.machine),
            |a| a.to_string(),
        );
        return Err(ArtifactError::WrongArch {
            path: path.to_owned(),
            found,
            want: arch,
        });
    }
    if let Some(needs_glibc) = needs.glibc_floor()
        && needs_glibc > GlibcVersion::LAMBDA_AL2023
    {
        return Err(ArtifactError::GlibcTooNew {
            path: path.to_owned(),
            needs: needs_glibc,
            max: GlibcVersion::LAMBDA_AL2023,
        });
    }
    Ok(needs)
}

/// Compiles the function for `arch` (or takes the prebuilt `bootstrap`), checks it, and writes
/// the deployment zip to `out`. Nothing is written unless every check passes.
pub fn build(arch: Arch, bootstrap: Option<&Path>, out: &Path) -> Result<Artifact, ArtifactError> {
    let binary = match bootstrap {
        Some(path) => path.to_owned(),
        None => compile::compile(&compile::workspace_root(), arch)?,
    };
    let bytes = fs::read(&binary).map_err(|source| ArtifactError::Read {
        path: binary.clone(),
        source,
    })?;
    let needs = check_bootstrap(&binary, &bytes, arch)?;
    let package = Package::from_bootstrap(&bytes)?;
    write_atomically(out, &package.bytes)?;
    Ok(Artifact {
        path: out.to_owned(),
        zip_bytes: package.bytes.len(),
        bootstrap_bytes: bytes.len(),
        code_sha256: package.code_sha256(),
        arch,
        glibc_floor: needs.glibc_floor(),
    })
}

/// Writes `bytes` to a temporary file beside `path`, then renames it over `path`, so that a
/// reader never sees half a zip.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), ArtifactError> {
    let write_error = |source| ArtifactError::Write {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(write_error)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".partial");
    fs::write(&tmp, bytes).map_err(write_error)?;
    fs::rename(&tmp, path).map_err(write_error)
}

/// Reads a deployment zip from `path` and checks the `bootstrap` inside it as [`build`] does.
pub fn load(path: &Path, arch: Arch) -> Result<Package, ArtifactError> {
    let bytes = fs::read(path).map_err(|source| ArtifactError::Read {
        path: path.to_owned(),
        source,
    })?;
    load_bytes(bytes, path, arch)
}

/// Reads a deployment zip from `path`, checks it as [`load`] does, and says which architecture
/// its `bootstrap` is built for.
pub fn load_any_arch(path: &Path) -> Result<(Arch, Package), ArtifactError> {
    let bytes = fs::read(path).map_err(|source| ArtifactError::Read {
        path: path.to_owned(),
        source,
    })?;
    match load_bytes(bytes.clone(), path, Arch::Arm64) {
        Ok(package) => Ok((Arch::Arm64, package)),
        Err(ArtifactError::WrongArch { .. }) => {
            load_bytes(bytes, path, Arch::X86_64).map(|package| (Arch::X86_64, package))
        }
        Err(other) => Err(other),
    }
}

/// Checks a deployment zip's `bootstrap` as [`build`] does; `origin` names it in errors.
pub fn load_bytes(bytes: Vec<u8>, origin: &Path, arch: Arch) -> Result<Package, ArtifactError> {
    let bad = |reason: String| ArtifactError::BadZip {
        path: origin.to_owned(),
        reason,
    };
    let mut archive =
        zip::ZipArchive::new(std::io::Cursor::new(&bytes)).map_err(|e| bad(e.to_string()))?;
    let mut entry = archive
        .by_name(crate::build::package::ENTRY)
        .map_err(|_| bad("no `bootstrap` entry".to_owned()))?;
    if entry.unix_mode().is_some_and(|m| m & 0o111 == 0) {
        return Err(bad("`bootstrap` is not executable".to_owned()));
    }
    let mut bootstrap = Vec::new();
    std::io::Read::read_to_end(&mut entry, &mut bootstrap).map_err(|e| bad(e.to_string()))?;
    drop(entry);
    drop(archive);
    check_bootstrap(&origin.join(crate::build::package::ENTRY), &bootstrap, arch)?;
    Ok(Package { bytes })
}
