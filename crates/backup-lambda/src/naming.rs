//! Table names and the names this function gives its backups.
//!
//! A backup is *ours* exactly when its name is `<table>-<YYYYmmddHHMMSS>` for the table it belongs
//! to: the tutorial's format. DynamoDB backup names allow 3–255 characters of `[a-zA-Z0-9_.-]`, so
//! for table names longer than 240 characters the table part is cut to fit.

use std::fmt;

use thiserror::Error;
use time::OffsetDateTime;
use time::macros::format_description;

/// Longest backup name DynamoDB accepts.
const MAX_BACKUP_NAME_LEN: usize = 255;
/// Length of the `YYYYmmddHHMMSS` stamp.
const STAMP_LEN: usize = 14;
/// Longest table part that still leaves room for `-` and the stamp.
const MAX_PREFIX_LEN: usize = MAX_BACKUP_NAME_LEN - STAMP_LEN - 1;

/// Why a string is not a DynamoDB table name.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TableNameError {
    /// Shorter than 3 or longer than 255 characters.
    #[error("table name {name:?} is {len} characters long; DynamoDB table names have 3 to 255")]
    Length {
        /// The rejected name.
        name: String,
        /// Its length in characters.
        len: usize,
    },
    /// Holds a character outside `[a-zA-Z0-9_.-]`.
    #[error(
        "table name {name:?} contains {bad:?}; DynamoDB table names use only letters, digits, '_', '-' and '.'"
    )]
    Character {
        /// The rejected name.
        name: String,
        /// The first character that is not allowed.
        bad: char,
    },
}

/// A validated DynamoDB table name (3–255 characters of `[a-zA-Z0-9_.-]`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TableName(String);

impl TableName {
    /// Validates `name` against DynamoDB's table-name rule.
    pub fn parse(name: &str) -> Result<Self, TableNameError> {
        if let Some(bad) = name
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
        {
            return Err(TableNameError::Character {
                name: name.to_owned(),
                bad,
            });
        }
        if !(3..=255).contains(&name.len()) {
            return Err(TableNameError::Length {
                name: name.to_owned(),
                len: name.len(),
            });
        }
        Ok(Self(name.to_owned()))
    }

    /// The name as DynamoDB knows it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The table part of this table's backup names (cut so that the whole name fits in 255).
    fn backup_prefix(&self) -> &str {
        // Table names are ASCII, so any byte index is a character boundary.
        &self.0[..self.0.len().min(MAX_PREFIX_LEN)]
    }

    /// The name of a backup of this table taken at `at` (UTC): `<table>-<YYYYmmddHHMMSS>`.
    pub fn backup_name(&self, at: OffsetDateTime) -> String {
        let stamp = at
            .to_offset(time::UtcOffset::UTC)
            .format(format_description!(
                "[year][month][day][hour][minute][second]"
            ))
            .unwrap_or_else(|_| "0".repeat(STAMP_LEN));
        format!("{}-{stamp}", self.backup_prefix())
    }

    /// Whether `backup_name` is a name this function gives backups of this table.
    pub fn owns_backup_name(&self, backup_name: &str) -> bool {
        backup_name
            .strip_prefix(self.backup_prefix())
            .and_then(|rest| rest.strip_prefix('-'))
            .is_some_and(|stamp| {
                stamp.len() == STAMP_LEN && stamp.bytes().all(|b| b.is_ascii_digit())
            })
    }
}

impl fmt::Display for TableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn table(name: &str) -> TableName {
        TableName::parse(name).expect("valid table name")
    }

    #[test]
    fn backup_name_uses_the_tutorial_format_in_utc() {
        let at = datetime!(2026-11-25 07:05:32 +02:00);
        assert_eq!(table("Movies").backup_name(at), "Movies-20261125050532");
    }

    #[test]
    fn long_table_names_still_give_valid_backup_names() {
        let long = "t".repeat(255);
        let name = table(&long).backup_name(datetime!(2026-01-02 03:04:05 UTC));
        assert_eq!(name.len(), 255);
        assert!(name.ends_with("-20260102030405"));
        assert!(table(&long).owns_backup_name(&name));
    }

    #[test]
    fn ownership_requires_this_table_and_a_full_stamp() {
        let movies = table("Movies");
        assert!(movies.owns_backup_name("Movies-20261125050532"));
        assert!(!movies.owns_backup_name("Movies-manual"));
        assert!(!movies.owns_backup_name("Movies-2026112505053"));
        assert!(!movies.owns_backup_name("Movies-202611250505321"));
        assert!(!movies.owns_backup_name("Movies-2026112505053x"));
        assert!(!movies.owns_backup_name("MoviesX-20261125050532"));
        assert!(!movies.owns_backup_name("Movies20261125050532"));
        assert!(!table("Movie").owns_backup_name("Movies-20261125050532"));
    }

    #[test]
    fn table_names_follow_dynamodb_rules() {
        assert!(TableName::parse("Movies").is_ok());
        assert!(TableName::parse("a.b-c_9").is_ok());
        assert!(matches!(
            TableName::parse("ab"),
            Err(TableNameError::Length { len: 2, .. })
        ));
        assert!(matches!(
            TableName::parse(&"x".repeat(256)),
            Err(TableNameError::Length { len: 256, .. })
        ));
        assert!(matches!(
            TableName::parse("Mov ies"),
            Err(TableNameError::Character { bad: ' ', .. })
        ));
        assert!(matches!(
            TableName::parse("Movies/1"),
            Err(TableNameError::Character { bad: '/', .. })
        ));
        assert!(matches!(
            TableName::parse(""),
            Err(TableNameError::Length { len: 0, .. })
        ));
    }
}
