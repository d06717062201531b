//! Table and stack names, and the names a stack gives its backups.
//!
//! A stack's backup of a table is named `<table>-<stack>-<YYYYmmddHHMMSS>`: DynamoDB keeps no tag
//! on an on-demand backup, so its name is the durable mark of which stack made it, and two
//! stacks on one table never take each other's. Names in the tutorial's format,
//! `<table>-<YYYYmmddHHMMSS>`, are *unmarked*: no stack owns them unless it adopts them
//! ([`crate::ownership`]). DynamoDB backup names allow 3–255 characters of `[a-zA-Z0-9_.-]`, so
//! the table part is cut to fit.

use std::fmt;

use thiserror::Error;
use time::OffsetDateTime;
use time::macros::format_description;

/// Longest backup name DynamoDB accepts.
const MAX_BACKUP_NAME_LEN: usize = 255;
/// Length of the `YYYYmmddHHMMSS` stamp.
const STAMP_LEN: usize = 14;
/// Longest table part of an unmarked name: room for `-` and the stamp.
const MAX_PREFIX_LEN: usize = MAX_BACKUP_NAME_LEN - STAMP_LEN - 1;
/// The longest stack name: it prefixes the default bucket name
/// `<stack>-logs-<12-digit account>-<region>`, which must fit in S3's 63 characters.
pub const MAX_STACK_LEN: usize = 28;

/// A valid stack name: 1 to [`MAX_STACK_LEN`] lowercase letters, digits and single hyphens,
/// starting with a letter and not ending with a hyphen. It names the function, role, rule, log
/// group and default bucket, and marks every backup the stack makes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StackName(String);

/// Why a string is not a stack name.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error(
    "stack name {0:?} is not valid: use 1 to {MAX_STACK_LEN} lowercase letters, digits and hyphens, starting with a letter"
)]
pub struct StackNameError(pub String);

impl StackName {
    /// Validates `name` against the stack-name rule.
    pub fn parse(name: &str) -> Result<Self, StackNameError> {
        let ok = (1..=MAX_STACK_LEN).contains(&name.len())
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && !name.ends_with('-')
            && !name.contains("--")
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if ok {
            Ok(Self(name.to_owned()))
        } else {
            Err(StackNameError(name.to_owned()))
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StackName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

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

    /// The table part of this table's backup names, cut to leave `room` characters.
    fn backup_prefix(&self, room: usize) -> &str {
        // Table names are ASCII, so any byte index is a character boundary.
        &self.0[..self.0.len().min(MAX_PREFIX_LEN - room)]
    }

    /// The name `stack` gives its backup of this table taken at `at` (UTC):
    /// `<table>-<stack>-<YYYYmmddHHMMSS>`.
    pub fn backup_name(&self, stack: &StackName, at: OffsetDateTime) -> String {
        let stamp = at
            .to_offset(time::UtcOffset::UTC)
            .format(format_description!(
                "[year][month][day][hour][minute][second]"
            ))
            .unwrap_or_else(|_| "0".repeat(STAMP_LEN));
        let room = stack.0.len() + 1;
        format!("{}-{stack}-{stamp}", self.backup_prefix(room))
    }

    /// Whether `backup_name` is a name `stack` gives backups of this table.
    pub fn is_stack_backup_name(&self, stack: &StackName, backup_name: &str) -> bool {
        backup_name
            .strip_prefix(self.backup_prefix(stack.0.len() + 1))
            .and_then(|rest| rest.strip_prefix('-'))
            .and_then(|rest| rest.strip_prefix(stack.as_str()))
            .and_then(|rest| rest.strip_prefix('-'))
            .is_some_and(is_stamp)
    }

    /// Whether `backup_name` is in the tutorial's unmarked format, `<table>-<YYYYmmddHHMMSS>`
    /// (this tool's format before backups carried their stack, and the tutorial function's).
    pub fn is_unmarked_backup_name(&self, backup_name: &str) -> bool {
        backup_name
            .strip_prefix(self.backup_prefix(0))
            .and_then(|rest| rest.strip_prefix('-'))
            .is_some_and(is_stamp)
    }
}

/// Whether `text` is a `YYYYmmddHHMMSS` stamp (14 digits).
fn is_stamp(text: &str) -> bool {
    text.len() == STAMP_LEN && text.bytes().all(|b| b.is_ascii_digit())
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

    fn stack(name: &str) -> StackName {
        StackName::parse(name).expect("valid stack name")
    }

    #[test]
    fn backup_names_carry_the_stack_in_utc() {
        let at = datetime!(2026-11-25 07:05:32 +02:00);
        assert_eq!(
            table("Movies").backup_name(&stack("prod"), at),
            "Movies-prod-20261125050532"
        );
    }

    #[test]
    fn long_table_names_still_give_valid_backup_names() {
        let long = "t".repeat(255);
        let prod = stack(&"p".repeat(MAX_STACK_LEN));
        let name = table(&long).backup_name(&prod, datetime!(2026-01-02 03:04:05 UTC));
        assert_eq!(name.len(), 255);
        assert!(name.ends_with("-20260102030405"));
        assert!(table(&long).is_stack_backup_name(&prod, &name));
        assert!(!table(&long).is_unmarked_backup_name(&name));
        assert!(table(&long).is_unmarked_backup_name(&format!("{}-20260102030405", &long[..240])));
    }

    #[test]
    fn a_stack_owns_only_its_own_names_of_this_table() {
        let movies = table("Movies");
        let (prod, trial, a) = (stack("prod"), stack("trial"), stack("a"));
        assert!(movies.is_stack_backup_name(&prod, "Movies-prod-20261125050532"));
        assert!(!movies.is_stack_backup_name(&trial, "Movies-prod-20261125050532"));
        assert!(
            !movies.is_stack_backup_name(&prod, "Movies-20261125050532"),
            "unmarked"
        );
        assert!(
            !movies.is_stack_backup_name(&a, "Movies-a-b-20261125050532"),
            "stack a-b's"
        );
        assert!(movies.is_stack_backup_name(&stack("a-b"), "Movies-a-b-20261125050532"));
        assert!(!movies.is_stack_backup_name(&prod, "Movies-prod-2026112505053"));
        assert!(!movies.is_stack_backup_name(&prod, "Movies-prod-manual"));
        assert!(!table("Movie").is_stack_backup_name(&prod, "Movies-prod-20261125050532"));
    }

    #[test]
    fn unmarked_names_are_the_tutorials_format_only() {
        let movies = table("Movies");
        assert!(movies.is_unmarked_backup_name("Movies-20261125050532"));
        assert!(!movies.is_unmarked_backup_name("Movies-prod-20261125050532"));
        assert!(!movies.is_unmarked_backup_name("Movies-manual"));
        assert!(!movies.is_unmarked_backup_name("Movies-2026112505053"));
        assert!(!movies.is_unmarked_backup_name("Movies-202611250505321"));
        assert!(!movies.is_unmarked_backup_name("Movies-2026112505053x"));
        assert!(!movies.is_unmarked_backup_name("MoviesX-20261125050532"));
        assert!(!movies.is_unmarked_backup_name("Movies20261125050532"));
        assert!(!table("Movie").is_unmarked_backup_name("Movies-20261125050532"));
    }

    #[test]
    fn stack_names_follow_the_rule_every_resource_name_needs() {
        assert!(StackName::parse("dynamodb-backup").is_ok());
        assert!(StackName::parse("a").is_ok());
        for bad in [
            "",
            "Prod",
            "1st",
            "a--b",
            "a-",
            "a_b",
            &"a".repeat(MAX_STACK_LEN + 1),
        ] {
            assert!(StackName::parse(bad).is_err(), "{bad:?}");
        }
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
