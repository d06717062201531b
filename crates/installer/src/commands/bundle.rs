//! `installer bundle`: a copy of this installer that carries a function zip, so that the one
//! file deploys from anywhere (`make dist` uses it).

use std::path::Path;

use super::CommandError;
use super::summary::Bundled;
use crate::build::arch::Arch;
use crate::build::{artifact, bundle};

/// `installer bundle`: checks `zip` as `up --zip` would, then writes `installer` (this
/// executable by default) with it to `out`.
pub fn bundle(
    zip: &Path,
    arch: Arch,
    installer: Option<&Path>,
    out: &Path,
) -> Result<Bundled, CommandError> {
    let package = artifact::load(zip, arch)?;
    let write_error =
        |e: std::io::Error| CommandError::Bundle(format!("could not write {}: {e}", out.display()));
    let me = match installer {
        Some(path) => path.to_owned(),
        None => std::env::current_exe().map_err(write_error)?,
    };
    bundle::write(&me, &package.bytes, out).map_err(write_error)?;
    let bytes = std::fs::metadata(out).map_err(write_error)?.len();
    report!(
        "wrote {} ({bytes} bytes), carrying {} (CodeSha256 {})",
        out.display(),
        zip.display(),
        package.code_sha256()
    );
    Ok(Bundled {
        installer: out.to_owned(),
        bytes,
        zip: zip.to_owned(),
        code_sha256: package.code_sha256(),
    })
}
