//! The deployment package: a zip holding one executable entry, `bootstrap`, byte-for-byte the
//! same for the same binary, so that an unchanged function is recognised by its `CodeSha256`.

use std::io::{Cursor, Write};

use base64::prelude::{BASE64_STANDARD, Engine as _};
use sha2::{Digest, Sha256};
use thiserror::Error;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

/// The one entry Lambda's OS-only runtimes start.
pub const ENTRY: &str = "bootstrap";

/// Why the zip could not be written.
#[derive(Debug, Error)]
#[error("could not write the deployment zip: {0}")]
pub struct PackageError(#[from] zip::result::ZipError);

/// A deployment package in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    /// The zip file's bytes.
    pub bytes: Vec<u8>,
}

impl Package {
    /// Zips `bootstrap` as the single entry `bootstrap`, mode 0755, dated 1980-01-01 00:00 (the
    /// zip epoch), deflated at the highest level.
    pub fn from_bootstrap(bootstrap: &[u8]) -> Result<Self, PackageError> {
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .compression_level(Some(9))
            .last_modified_time(DateTime::default())
            .unix_permissions(0o755);
        let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
        zip.start_file(ENTRY, options)?;
        zip.write_all(bootstrap)
            .map_err(zip::result::ZipError::Io)?;
        let bytes = zip.finish()?.into_inner();
        Ok(Self { bytes })
    }

    /// The SHA-256 of the zip, base64-encoded: what Lambda reports as the function's
    /// `CodeSha256`.
    pub fn code_sha256(&self) -> String {
        code_sha256(&self.bytes)
    }
}

/// The SHA-256 of a zip's `bytes`, base64-encoded, as Lambda reports it (`CodeSha256`).
pub fn code_sha256(bytes: &[u8]) -> String {
    BASE64_STANDARD.encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn holds_one_executable_bootstrap() {
        let package = Package::from_bootstrap(b"\x7fELF pretend").expect("zipped");
        let mut zip = zip::ZipArchive::new(Cursor::new(&package.bytes)).expect("a zip");
        assert_eq!(zip.len(), 1);
        let mut entry = zip.by_index(0).expect("entry");
        assert_eq!(entry.name().expect("utf-8 name"), "bootstrap");
        assert_eq!(entry.unix_mode().map(|m| m & 0o777), Some(0o755));
        let mut body = Vec::new();
        entry.read_to_end(&mut body).expect("readable");
        assert_eq!(body, b"\x7fELF pretend");
    }

    #[test]
    fn same_binary_same_bytes() {
        let a = Package::from_bootstrap(&[7; 10_000]).expect("zipped");
        let b = Package::from_bootstrap(&[7; 10_000]).expect("zipped");
        let c = Package::from_bootstrap(&[8; 10_000]).expect("zipped");
        assert_eq!(a, b);
        assert_eq!(a.code_sha256(), b.code_sha256());
        assert_ne!(a.code_sha256(), c.code_sha256());
    }

    #[test]
    fn code_sha256_is_base64_of_the_zip_digest() {
        assert_eq!(
            Package { bytes: Vec::new() }.code_sha256(),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
    }
}
