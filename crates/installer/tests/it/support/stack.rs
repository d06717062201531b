//! A test's stack: a stack and a table with names of their own, deployed with the arm64 zip
//! `make build` wrote, and the `installer` commands that name them.

use std::process::Output;

use test_support::unique_name;

use super::cli::{built_zip_path, installer, installer_ok};

/// A stack under test and the flags every command of it takes.
pub struct Stack {
    /// The stack's name: `<prefix>-<unique>`.
    pub name: String,
    /// Its table's name: `Movies-<unique>`, unless [`Stack::named`].
    pub table: String,
    /// `--stack` (first), then `--table`, `--zip` and any [`Stack::with`] added: the flags of
    /// `up` and `plan`.
    flags: Vec<String>,
}

impl Stack {
    /// A stack named `<prefix>-<unique>` backing up a table `Movies-<unique>` with the built zip.
    pub fn new(prefix: &str) -> Self {
        Self::named(unique_name(prefix), unique_name("Movies"))
    }

    /// A stack and table with exactly these names, with the built zip.
    pub fn named(name: String, table: String) -> Self {
        let flags = vec![
            "--stack".to_owned(),
            name.clone(),
            "--table".to_owned(),
            table.clone(),
            "--zip".to_owned(),
            built_zip_path().display().to_string(),
        ];
        Self { name, table, flags }
    }

    /// The same stack with `flags` added to its `up` and `plan` (`--export daily`, say).
    #[must_use]
    pub fn with(mut self, flags: &[&str]) -> Self {
        self.flags.extend(flags.iter().map(|f| (*f).to_owned()));
        self
    }

    /// `command`, then this stack's flags for `up` and `plan` (the settings) or `--stack` alone
    /// for every other command (a deployed stack knows its settings), then `extra`.
    pub fn args(&self, command: &str, extra: &[&str]) -> Vec<String> {
        let flags: &[String] = if matches!(command, "up" | "plan") {
            &self.flags
        } else {
            &self.flags[..2]
        };
        std::iter::once(command.to_owned())
            .chain(flags.iter().cloned())
            .chain(extra.iter().map(|e| (*e).to_owned()))
            .collect()
    }

    /// Runs `installer <command> <flags> <extra>`.
    pub fn run(&self, command: &str, extra: &[&str]) -> Output {
        installer(&as_strs(&self.args(command, extra)))
    }

    /// Runs `installer <command> <flags> <extra>`, asserts it succeeded, and returns its stdout
    /// then its stderr.
    pub fn ok(&self, command: &str, extra: &[&str]) -> String {
        installer_ok(&as_strs(&self.args(command, extra)))
    }
}

/// Arguments as the `installer` helpers take them.
pub fn as_strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}
