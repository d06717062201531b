//! `installer build`: compile the function and write its deployment zip.

use std::path::Path;

use super::CommandError;
use super::summary::Built;
use crate::build::arch::Arch;
use crate::build::artifact;

/// `installer build`.
pub fn build(arch: Arch, bootstrap: Option<&Path>, out: &Path) -> Result<Built, CommandError> {
    let artifact = artifact::build(arch, bootstrap, out)?;
    let glibc = artifact
        .glibc_floor
        .map_or_else(|| "static".to_owned(), |v| format!("glibc >= {v}"));
    report!(
        "wrote {} ({} bytes; bootstrap {} bytes, {}, {}; CodeSha256 {})",
        artifact.path.display(),
        artifact.zip_bytes,
        artifact.bootstrap_bytes,
        artifact.arch,
        glibc,
        artifact.code_sha256,
    );
    Ok(Built {
        zip: artifact.path,
        zip_bytes: artifact.zip_bytes,
        bootstrap_bytes: artifact.bootstrap_bytes,
        arch: artifact.arch.lambda_name(),
        glibc_floor: artifact.glibc_floor.map(|v| v.to_string()),
        code_sha256: artifact.code_sha256,
    })
}
