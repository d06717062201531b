//! Reads what a Linux binary needs to start: its architecture and the newest glibc symbol
//! version it links against. AWS Lambda's `provided.al2023` runtime (Amazon Linux 2023) has
//! glibc 2.34; a binary that needs a newer symbol fails there at start-up, before any log line.

use std::collections::BTreeSet;
use std::fmt;

use object::Endianness;
use object::read::elf::{ElfFile64, FileHeader, SectionHeader};
use thiserror::Error;

/// A glibc symbol version such as `GLIBC_2.34`, compared numerically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GlibcVersion {
    /// The major number (2).
    pub major: u32,
    /// The minor number (34).
    pub minor: u32,
    /// The patch number, for versions such as `GLIBC_2.2.5`.
    pub patch: u32,
}

impl GlibcVersion {
    /// The newest glibc on AWS Lambda's `provided.al2023` runtime.
    pub const LAMBDA_AL2023: GlibcVersion = GlibcVersion {
        major: 2,
        minor: 34,
        patch: 0,
    };

    /// Parses a version-needed name such as `GLIBC_2.2.5`; other names (`GLIBC_PRIVATE`,
    /// `GCC_3.0`) give `None`.
    pub fn parse(name: &str) -> Option<Self> {
        let mut parts = name.strip_prefix("GLIBC_")?.split('.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        let patch = parts.next().map_or(Some(0), |p| p.parse().ok())?;
        parts.next().is_none().then_some(Self {
            major,
            minor,
            patch,
        })
    }
}

impl fmt::Display for GlibcVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)?;
        if self.patch != 0 {
            write!(f, ".{}", self.patch)?;
        }
        Ok(())
    }
}

/// Why a file could not be read as a 64-bit ELF executable.
#[derive(Debug, Error)]
#[error("not a 64-bit Linux ELF executable: {0}")]
pub struct ElfError(#[from] object::read::Error);

/// What a binary needs from the machine it runs on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElfNeeds {
    /// The ELF `e_machine` (e.g. `EM_X86_64`).
    pub machine: object::elf::Machine,
    /// Every glibc symbol version the binary requires (empty for a static binary).
    pub glibc: BTreeSet<GlibcVersion>,
}

impl ElfNeeds {
    /// Reads the ELF header and the `SHT_GNU_VERNEED` section of `data`.
    pub fn read(data: &[u8]) -> Result<Self, ElfError> {
        let file = ElfFile64::<Endianness>::parse(data)?;
        let endian = file.endian();
        let machine = file.elf_header().e_machine(endian);
        let sections = file.elf_section_table();
        let mut glibc = BTreeSet::new();
        for section in sections.iter() {
            let Some((mut needs, link)) = section.gnu_verneed(endian, data)? else {
                continue;
            };
            let strings = sections.strings(endian, data, link)?;
            while let Some((_, mut aux)) = needs.next()? {
                while let Some(entry) = aux.next()? {
                    let name = entry.name(endian, strings)?;
                    if let Some(v) = std::str::from_utf8(name).ok().and_then(GlibcVersion::parse) {
                        glibc.insert(v);
                    }
                }
            }
        }
        Ok(Self { machine, glibc })
    }

    /// The newest glibc version required, if any.
    pub fn glibc_floor(&self) -> Option<GlibcVersion> {
        self.glibc.last().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_glibc_version_names() {
        let v = |major, minor, patch| GlibcVersion {
            major,
            minor,
            patch,
        };
        assert_eq!(GlibcVersion::parse("GLIBC_2.34"), Some(v(2, 34, 0)));
        assert_eq!(GlibcVersion::parse("GLIBC_2.2.5"), Some(v(2, 2, 5)));
        assert_eq!(GlibcVersion::parse("GLIBC_PRIVATE"), None);
        assert_eq!(GlibcVersion::parse("GCC_3.0"), None);
        assert_eq!(GlibcVersion::parse("GLIBC_2.3.4.5"), None);
        assert!(v(2, 35, 0) > GlibcVersion::LAMBDA_AL2023);
        assert!(v(2, 9, 0) < GlibcVersion::LAMBDA_AL2023);
        assert!(v(2, 2, 5) < v(2, 3, 0));
        assert_eq!(v(2, 2, 5).to_string(), "2.2.5");
    }

    #[test]
    fn reads_this_test_binary() {
        // This test runs on Linux x86_64 or aarch64, dynamically linked against glibc.
        let me = std::fs::read(std::env::current_exe().expect("own path")).expect("readable");
        let needs = ElfNeeds::read(&me).expect("an ELF file");
        assert!(crate::build::arch::Arch::from_elf_machine(needs.machine).is_some());
        assert!(
            needs
                .glibc_floor()
                .is_some_and(|v| v.major == 2 && v.minor >= 17)
        );
    }

    #[test]
    fn rejects_what_is_not_elf() {
        assert!(ElfNeeds::read(b"#!/bin/sh\necho hi\n").is_err());
        assert!(ElfNeeds::read(&[]).is_err());
    }
}
