//! The settings file: `installer.toml` in the current directory (or `--config FILE`, or
//! `INSTALLER_CONFIG`), one table per stack whose keys are `up`'s long flags:
//!
//! ```toml
//! [stacks.prod]
//! table = ["Orders", "Customers"]
//! schedule = "cron(0 3 * * ? *)"
//! keep = 7
//! alert-email = ["ops@example.com"]
//! ```
//!
//! When `up` or `plan` uses a file, the stack's table is its whole desired state (a key left out
//! is the default), and flags still override it. Unknown keys, wrong types and invalid values
//! are one line naming the file, the line and the key, before any AWS call. `installer init`
//! writes a stack's table, each key with its flag's help as a comment; its JSON Schema is
//! `installer schema --of settings` (schemas/installer-settings.schema.json).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::deploy::config::StackConfig;
use crate::deploy::settings::Settings;

/// The file `up` and `plan` read when it is in the current directory.
pub const DEFAULT_FILE: &str = "installer.toml";

/// A settings file: the settings of one or more stacks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsFile {
    /// One table per stack, `[stacks.<name>]`: its keys are `installer up`'s long flags, and
    /// a key left out is the default.
    #[serde(default)]
    pub stacks: BTreeMap<String, Settings>,
}

/// Why a settings file could not be used. Nothing has been called in AWS.
#[derive(Debug, Error)]
pub enum SettingsFileError {
    /// The file could not be read.
    #[error("could not read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A key is unknown, of the wrong type, or its value is invalid.
    #[error("{path}:{line}: {key}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The line (from 1).
        line: usize,
        /// The key (or the table) at fault.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// The file has no table for the stack asked for.
    #[error(
        "{path} has no [stacks.{stack}] (it has {found}); add one, e.g. with `installer init --stack {stack}`"
    )]
    NoStack {
        /// The file.
        path: PathBuf,
        /// The stack asked for.
        stack: String,
        /// The stacks it has.
        found: String,
    },
    /// The file has several stacks and none was chosen.
    #[error("{path} has the settings of several stacks ({found}): choose one with --stack")]
    WhichStack {
        /// The file.
        path: PathBuf,
        /// The stacks it has.
        found: String,
    },
    /// `init` would replace a stack's table.
    #[error("{path} already has [stacks.{stack}]: edit it there, or pass --force to rewrite it")]
    Exists {
        /// The file.
        path: PathBuf,
        /// The stack.
        stack: String,
    },
    /// `init` could not write the file.
    #[error("could not write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// A file read and parsed.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// Where it was.
    pub path: PathBuf,
    /// Its text (for the lines of later errors).
    text: String,
    /// What it says.
    pub file: SettingsFile,
}

/// The file to use: `config` (`--config` or `INSTALLER_CONFIG`, which must exist), else
/// `installer.toml` here if there is one; `None` when neither.
pub fn locate(config: Option<&Path>) -> Option<PathBuf> {
    match config {
        Some(path) => Some(path.to_owned()),
        None => Some(PathBuf::from(DEFAULT_FILE)).filter(|p| p.is_file()),
    }
}

/// The settings file's table for `stack` (`None`: the file's only stack), if a file is used:
/// `config` (which must have the stack), else `installer.toml` here; one here without the
/// `stack` named is another stack's file, and none is used (with a note).
pub fn for_stack(
    config: Option<&Path>,
    stack: Option<&str>,
) -> Result<Option<(String, Settings)>, SettingsFileError> {
    let Some(path) = locate(config) else {
        return Ok(None);
    };
    let loaded = load(&path)?;
    let elsewhere = config.is_none() && stack.is_some_and(|s| !loaded.file.stacks.contains_key(s));
    if elsewhere {
        report!(
            "note: {} has no [stacks.{}], so it is another stack's file and is not used",
            path.display(),
            stack.unwrap_or_default()
        );
        return Ok(None);
    }
    loaded.stack(stack).map(Some)
}

/// Reads and parses `path`.
pub fn load(path: &Path) -> Result<Loaded, SettingsFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| SettingsFileError::Read {
        path: path.to_owned(),
        source,
    })?;
    let file = toml_edit::de::from_str::<SettingsFile>(&text).map_err(|e| {
        let line = e.span().map_or(1, |span| line_at(&text, span.start));
        SettingsFileError::Invalid {
            path: path.to_owned(),
            line,
            key: key_on_line(&text, line),
            message: e.message().trim().to_owned(),
        }
    })?;
    Ok(Loaded {
        path: path.to_owned(),
        text,
        file,
    })
}

impl Loaded {
    /// The stack `name` asks for (`None`: the file's only one), with its settings, checked as
    /// `up` would check its flags.
    pub fn stack(&self, name: Option<&str>) -> Result<(String, Settings), SettingsFileError> {
        let found = || {
            let names: Vec<&str> = self.file.stacks.keys().map(String::as_str).collect();
            if names.is_empty() {
                "no [stacks.<name>] table".to_owned()
            } else {
                names.join(", ")
            }
        };
        let (stack, settings) =
            match name {
                Some(name) => self.file.stacks.get_key_value(name).ok_or_else(|| {
                    SettingsFileError::NoStack {
                        path: self.path.clone(),
                        stack: name.to_owned(),
                        found: found(),
                    }
                })?,
                None => match self.file.stacks.len() {
                    1 => self
                        .file
                        .stacks
                        .iter()
                        .next()
                        .ok_or_else(|| unreachable_empty(self))?,
                    0 => {
                        return Err(SettingsFileError::NoStack {
                            path: self.path.clone(),
                            stack: crate::deploy::settings::DEFAULT_STACK.to_owned(),
                            found: found(),
                        });
                    }
                    _ => {
                        return Err(SettingsFileError::WhichStack {
                            path: self.path.clone(),
                            found: found(),
                        });
                    }
                },
            };
        if let Err(e) = StackConfig::from_settings(stack, settings) {
            let message = e.to_string();
            let key = match e {
                crate::deploy::config::ConfigError::TablesAndTag => Some("table-tag".to_owned()),
                _ => flag_in(&message),
            }
            .unwrap_or_else(|| format!("stacks.{stack}"));
            return Err(SettingsFileError::Invalid {
                path: self.path.clone(),
                line: self.line_of(stack, &key),
                key,
                message,
            });
        }
        Ok((stack.clone(), settings.clone()))
    }

    /// The line of `key` in `[stacks.<stack>]`, else of the table's header, else 1.
    fn line_of(&self, stack: &str, key: &str) -> usize {
        let header = format!("[stacks.{stack}]");
        let mut in_table = false;
        let mut header_line = 1;
        for (n, line) in self.text.lines().enumerate() {
            let line = line.trim();
            if line.starts_with('[') {
                in_table = line == header;
                if in_table {
                    header_line = n + 1;
                }
            } else if in_table
                && line
                    .split('=')
                    .next()
                    .is_some_and(|k| k.trim().trim_matches('"') == key)
            {
                return n + 1;
            }
        }
        header_line
    }
}

/// A one-stack file whose map is empty cannot happen; said as the file having no stack.
fn unreachable_empty(loaded: &Loaded) -> SettingsFileError {
    SettingsFileError::NoStack {
        path: loaded.path.clone(),
        stack: crate::deploy::settings::DEFAULT_STACK.to_owned(),
        found: "no [stacks.<name>] table".to_owned(),
    }
}

/// The line (from 1) of byte `at` of `text`.
fn line_at(text: &str, at: usize) -> usize {
    text.get(..at).map_or(1, |before| {
        before.bytes().filter(|b| *b == b'\n').count() + 1
    })
}

/// The key a line sets (`keep = 0` → `keep`), or the table it opens.
fn key_on_line(text: &str, line: usize) -> String {
    let Some(content) = text.lines().nth(line.saturating_sub(1)) else {
        return String::new();
    };
    let content = content.trim();
    match content.split_once('=') {
        Some((key, _)) => key.trim().trim_matches('"').to_owned(),
        None => content.to_owned(),
    }
}

/// The first `--flag` a message names, as a file's key (`keep`).
fn flag_in(message: &str) -> Option<String> {
    let at = message.find("--")?;
    let flag: String = message[at + 2..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    (!flag.is_empty()).then_some(flag)
}

/// Writes `stack`'s complete `settings` into the file at `path` as `[stacks.<stack>]`, each key
/// with its flag's help as a comment: a new file, or another table in an existing one (whose
/// other tables and comments are kept). An existing table of the stack is replaced only with
/// `force`.
pub fn write(
    path: &Path,
    stack: &str,
    settings: &Settings,
    force: bool,
) -> Result<(), SettingsFileError> {
    let invalid = |message: String| SettingsFileError::Invalid {
        path: path.to_owned(),
        line: 1,
        key: String::new(),
        message,
    };
    let existing = match std::fs::read_to_string(path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(source) => {
            return Err(SettingsFileError::Read {
                path: path.to_owned(),
                source,
            });
        }
    };
    let mut document: toml_edit::DocumentMut = match &existing {
        Some(text) => text
            .parse()
            .map_err(|e: toml_edit::TomlError| invalid(e.message().trim().to_owned()))?,
        None => {
            let mut fresh = toml_edit::DocumentMut::new();
            fresh.decor_mut().set_prefix(HEADER);
            fresh
        }
    };
    let stacks = document
        .entry("stacks")
        .or_insert_with(|| {
            let mut table = toml_edit::Table::new();
            table.set_implicit(true);
            toml_edit::Item::Table(table)
        })
        .as_table_mut()
        .ok_or_else(|| invalid("`stacks` is not a table".to_owned()))?;
    if stacks.contains_key(stack) && !force {
        return Err(SettingsFileError::Exists {
            path: path.to_owned(),
            stack: stack.to_owned(),
        });
    }
    let rendered = toml_edit::ser::to_document(settings).map_err(|e| invalid(e.to_string()))?;
    let mut table = rendered.as_table().clone();
    table.set_implicit(false);
    for (key, help) in helps() {
        if let Some(mut key_mut) = table.key_mut(&key) {
            key_mut.leaf_decor_mut().set_prefix(format!("# {help}\n"));
        }
    }
    table
        .decor_mut()
        .set_prefix(format!("\n# The settings of stack {stack}.\n"));
    stacks.insert(stack, toml_edit::Item::Table(table));
    std::fs::write(path, document.to_string()).map_err(|source| SettingsFileError::Write {
        path: path.to_owned(),
        source,
    })
}

/// The comment at the top of a new file.
const HEADER: &str = "# The settings of each stack `installer up` and `installer plan` deploy: one [stacks.<name>]\n# table per stack, whose keys are `installer up`'s long flags (`installer up --help`). A key\n# left out is the default; a flag given to `up` or `plan` overrides the file.\n# JSON Schema: schemas/installer-settings.schema.json (`installer schema --of settings`).\n";

/// Each setting's key and the first sentence of its flag's help.
fn helps() -> Vec<(String, String)> {
    crate::deploy::settings::flags()
        .get_arguments()
        .filter_map(|arg| {
            let key = arg.get_long()?.to_owned();
            let help = arg.get_help()?.to_string();
            let first = help
                .split_once(". ")
                .map_or(help.as_str(), |(first, _)| first)
                .trim_end_matches('.')
                .to_owned();
            Some((key, first))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loaded(text: &str) -> Result<Loaded, SettingsFileError> {
        let path = std::env::temp_dir().join(format!(
            "installer-settings-{}-{}.toml",
            std::process::id(),
            text.len()
        ));
        std::fs::write(&path, text).expect("write");
        let result = load(&path);
        let _ = std::fs::remove_file(&path);
        result
    }

    #[test]
    fn a_stacks_table_is_its_settings_by_the_flags_names() {
        let file = loaded(
            "[stacks.prod]\ntable = [\"Orders\", \"Customers\"]\nkeep = 7\nalert-email = [\"ops@example.com\"]\nmax-age-days = \"off\"\n",
        )
        .expect("valid");
        let (stack, settings) = file.stack(None).expect("the only stack");
        assert_eq!(stack, "prod");
        assert_eq!(settings.keep, Some(7));
        assert_eq!(
            settings.tables,
            Some(vec!["Orders".to_owned(), "Customers".to_owned()])
        );
        assert_eq!(
            settings.alert_emails,
            Some(vec!["ops@example.com".to_owned()])
        );
    }

    #[test]
    fn unknown_keys_wrong_types_and_bad_values_name_the_line_and_key() {
        for (text, expected) in [
            ("[stacks.prod]\nkep = 7\n", ":2: kep: unknown field `kep`"),
            (
                "[stacks.prod]\nkeep = \"seven\"\n",
                ":2: keep: invalid type",
            ),
            (
                "[stacks.prod]\n\nkeep = 0\n",
                ":3: keep: --keep must be from 1 to 1000",
            ),
            (
                "[stacks.prod]\ntable = [\"A1\"]\ntable-tag = \"k=v\"\n",
                ":3: table-tag: table and table-tag are both set",
            ),
            (
                "[stack.prod]\nkeep = 1\n",
                ":1: [stack.prod]: unknown field `stack`",
            ),
        ] {
            let error = loaded(text)
                .and_then(|f| f.stack(Some("prod")).map(|_| ()))
                .expect_err(text);
            let line = error.to_string();
            assert!(line.contains(expected), "{text:?}: {line}");
            assert_eq!(line.lines().count(), 1, "{line}");
        }
        let two = loaded("[stacks.a]\nkeep = 1\n[stacks.b]\nkeep = 2\n").expect("valid");
        assert!(matches!(
            two.stack(None),
            Err(SettingsFileError::WhichStack { .. })
        ));
        assert!(matches!(
            two.stack(Some("c")),
            Err(SettingsFileError::NoStack { .. })
        ));
    }

    #[test]
    fn init_writes_a_commented_table_that_reads_back_and_keeps_the_others() {
        let path = std::env::temp_dir().join(format!("installer-init-{}.toml", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let prod = Settings {
            keep: Some(7),
            ..Settings::default()
        }
        .complete();
        write(&path, "prod", &prod, false).expect("a new file");
        let staging = Settings::defaults().complete();
        write(&path, "staging", &staging, false).expect("a second table");
        assert!(matches!(
            write(&path, "prod", &prod, false),
            Err(SettingsFileError::Exists { .. })
        ));
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(text.contains("# Newest backups kept per table"), "{text}");
        let file = load(&path).expect("reads back");
        assert_eq!(file.stack(Some("prod")).expect("prod").1, prod);
        assert_eq!(file.stack(Some("staging")).expect("staging").1, staging);
        let _ = std::fs::remove_file(&path);
    }
}
