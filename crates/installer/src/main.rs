//! `installer`: deploys scheduled DynamoDB backups with retention.

mod arch;
mod artifact;
mod compile;
mod elf;
mod package;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::arch::Arch;

/// Deploys scheduled DynamoDB backups with retention.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Show debug logs (the commands run) on stderr.
    #[arg(short, long, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Compile the backup function for Lambda and write its deployment zip.
    ///
    /// The zip holds one entry, `bootstrap` (mode 0755), with fixed timestamps: the same binary
    /// always gives the same zip, so an unchanged function is recognised by its CodeSha256. The
    /// binary is linked against glibc 2.34 with cargo zigbuild and refused if it needs more.
    #[command(
        after_help = "Examples:\n  installer build\n  installer build --arch arm64 --out dist/backup.zip\n  installer build --bootstrap ./bootstrap   # package a binary built elsewhere"
    )]
    Build {
        /// CPU architecture of the Lambda function.
        #[arg(long, value_enum, default_value_t = Arch::X86_64, env = "INSTALLER_ARCH")]
        arch: Arch,
        /// Where to write the zip.
        #[arg(long, default_value = "target/lambda/backup-lambda.zip")]
        out: PathBuf,
        /// Package this prebuilt binary instead of compiling (it is checked all the same).
        #[arg(long, value_name = "PATH")]
        bootstrap: Option<PathBuf>,
    },
}

fn main() -> miette::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_max_level(if cli.verbose {
            tracing::Level::DEBUG
        } else {
            tracing::Level::WARN
        })
        .init();
    // Errors are one line each, whatever the terminal width: each message names the problem and
    // the fix and already includes its cause.
    miette::set_hook(Box::new(|_| {
        Box::new(
            miette::MietteHandlerOpts::new()
                .wrap_lines(false)
                .without_cause_chain()
                .build(),
        )
    }))?;
    run(cli.command)
}

fn run(command: Command) -> miette::Result<()> {
    match command {
        Command::Build {
            arch,
            out,
            bootstrap,
        } => {
            let artifact = artifact::build(arch, bootstrap.as_deref(), &out)?;
            let glibc = artifact
                .glibc_floor
                .map_or_else(|| "static".to_owned(), |v| format!("glibc >= {v}"));
            eprintln!(
                "wrote {} ({} bytes; bootstrap {} bytes, {}, {}; CodeSha256 {})",
                artifact.path.display(),
                artifact.zip_bytes,
                artifact.bootstrap_bytes,
                artifact.arch,
                glibc,
                artifact.code_sha256,
            );
            Ok(())
        }
    }
}
