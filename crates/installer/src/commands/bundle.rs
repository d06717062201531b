//! `installer bundle`: a copy of this installer that carries the function's zips (one per
//! architecture), so that the one file deploys from anywhere (`make dist` uses it).

use std::path::{Path, PathBuf};

use super::CommandError;
use super::summary::{Bundled, CarriedZip};
use crate::build::arch::Arch;
use crate::build::{artifact, bundle};

/// `installer bundle`: checks each of `zips` as `up --zip` would (its architecture is read from
/// its `bootstrap`; two for one architecture are refused), then writes `installer` (this
/// executable by default) with them to `out`. No zips given means the ones `make build` writes:
/// arm64's, and x86_64's if it was built.
pub fn bundle(
    zips: &[PathBuf],
    installer: Option<&Path>,
    out: &Path,
) -> Result<Bundled, CommandError> {
    let zips = if zips.is_empty() {
        let root = crate::build::compile::workspace_root();
        let x86_64 = root.join(Arch::X86_64.default_zip());
        std::iter::once(root.join(Arch::Arm64.default_zip()))
            .chain(x86_64.is_file().then_some(x86_64))
            .collect()
    } else {
        zips.to_vec()
    };
    let mut packages: Vec<(Arch, PathBuf, crate::build::package::Package)> = Vec::new();
    for zip in zips {
        let (arch, package) = artifact::load_any_arch(&zip)?;
        if let Some((_, first, _)) = packages.iter().find(|(a, _, _)| *a == arch) {
            return Err(CommandError::BundleSameArch {
                first: first.clone(),
                second: zip,
                arch,
            });
        }
        packages.push((arch, zip, package));
    }
    let write_error = |source: std::io::Error| CommandError::BundleWrite {
        path: out.to_owned(),
        source,
    };
    let me = match installer {
        Some(path) => path.to_owned(),
        None => std::env::current_exe().map_err(write_error)?,
    };
    let bytes: Vec<&[u8]> = packages
        .iter()
        .map(|(_, _, p)| p.bytes.as_slice())
        .collect();
    bundle::write(&me, &bytes, out).map_err(write_error)?;
    let size = std::fs::metadata(out).map_err(write_error)?.len();
    let carried: Vec<CarriedZip> = packages
        .into_iter()
        .map(|(arch, zip, package)| CarriedZip {
            arch: arch.lambda_name(),
            zip,
            code_sha256: package.code_sha256(),
        })
        .collect();
    for zip in &carried {
        report!(
            "{} carries {} for {} (CodeSha256 {})",
            out.display(),
            zip.zip.display(),
            zip.arch,
            zip.code_sha256
        );
    }
    report!("wrote {} ({size} bytes)", out.display());
    Ok(Bundled {
        installer: out.to_owned(),
        bytes: size,
        carried,
    })
}
