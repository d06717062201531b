//! The installer's library: everything behind the `installer` command, from flags to a
//! deployed stack. The binary (`main.rs`) only parses the command line and reports.

/// Prints a line of the human report on stderr, unless `-q` silenced it.
#[macro_export]
macro_rules! report {
    ($($arg:tt)*) => {
        if !$crate::quiet::is_quiet() {
            eprintln!($($arg)*);
        }
    };
}

pub mod arch;
pub mod artifact;
pub mod aws;
pub mod commands;
pub mod compile;
pub mod config;
pub mod elf;
pub mod invoke;
pub mod loader;
pub mod movies;
pub mod package;
pub mod plan;
pub mod policy;
pub mod progress;
pub mod quiet;
pub mod resources;
pub mod runtime_api;
pub mod schedule;
pub mod stack;
