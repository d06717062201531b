//! Building the deployment zip: compile `bootstrap` for Lambda ([`compile`]), check the ELF's
//! architecture and glibc floor ([`elf`]), zip it reproducibly ([`package`]); [`artifact`] runs
//! that pipeline and loads a zip made earlier; [`bundle`] carries a zip inside the installer.

pub mod arch;
pub mod artifact;
pub mod bundle;
pub mod compile;
pub mod elf;
pub mod package;
