//! The two CPU architectures AWS Lambda runs, and what each means for the build.

use std::fmt;

/// A Lambda architecture.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
pub enum Arch {
    /// Intel/AMD 64-bit (`x86_64`), Lambda's own default.
    #[value(name = "x86_64")]
    #[serde(rename = "x86_64")]
    X86_64,
    /// Graviton (`arm64`): this tool's default, about 20 % cheaper per GB-second.
    #[value(name = "arm64")]
    #[serde(rename = "arm64")]
    Arm64,
}

impl Arch {
    /// The Rust target triple.
    pub fn rust_target(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64-unknown-linux-gnu",
            Arch::Arm64 => "aarch64-unknown-linux-gnu",
        }
    }

    /// The ELF `e_machine` a binary for this architecture has.
    pub fn elf_machine(self) -> object::elf::Machine {
        match self {
            Arch::X86_64 => object::elf::EM_X86_64,
            Arch::Arm64 => object::elf::EM_AARCH64,
        }
    }

    /// The architecture whose ELF `e_machine` is `machine`, if Lambda runs it.
    pub fn from_elf_machine(machine: object::elf::Machine) -> Option<Self> {
        [Arch::X86_64, Arch::Arm64]
            .into_iter()
            .find(|arch| arch.elf_machine() == machine)
    }

    /// Where `installer build` writes this architecture's zip by default, relative to the
    /// workspace (`make build` writes both).
    pub fn default_zip(self) -> &'static str {
        match self {
            Arch::X86_64 => "target/lambda/backup-lambda-x86_64.zip",
            Arch::Arm64 => "target/lambda/backup-lambda-arm64.zip",
        }
    }

    /// The name Lambda's API uses (`x86_64` or `arm64`).
    pub fn lambda_name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Arm64 => "arm64",
        }
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.lambda_name())
    }
}
