//! Which backups a stack owns: those whose name carries it (`<table>-<stack>-<stamp>`, see
//! [`crate::naming`]) and the unmarked ones (`<table>-<stamp>`) it adopted. Retention, drills,
//! restore's own backups, `down`, `status` and the report all ask [`Ownership::owns`], so two
//! stacks on one table each keep their own N and neither touches a backup it did not make.
//!
//! Adoption is explicit (`installer up --adopt-backups`) and bounded in time: it covers the
//! unmarked backups made up to the moment it was asked for (`ADOPTED_UNTIL`), never ones another
//! tool (the tutorial's function, say) makes afterwards.

use time::OffsetDateTime;

use crate::naming::{StackName, TableName};
use crate::retention::{Backup, BackupKind};

/// The environment variable that carries [`Ownership::adopted_until`] (RFC 3339).
pub const ADOPTED_UNTIL_VAR: &str = "ADOPTED_UNTIL";
/// The environment variable that carries the stack's name.
pub const STACK_NAME_VAR: &str = "STACK_NAME";

/// The stack whose backups these are, and how far back it adopted unmarked ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ownership {
    /// The stack.
    pub stack: StackName,
    /// Unmarked backups made at or before this instant are the stack's too (`None`: none).
    pub adopted_until: Option<OffsetDateTime>,
}

/// Whose backups a listing considers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Whose<'a> {
    /// Only this stack's.
    Stack(&'a Ownership),
    /// Every user backup, whoever made it (`restore --any`).
    Any,
}

impl Ownership {
    /// A stack that adopted nothing.
    pub fn new(stack: StackName) -> Self {
        Self {
            stack,
            adopted_until: None,
        }
    }

    /// Whether `backup` (of `table`) is this stack's.
    pub fn owns(&self, table: &TableName, backup: &Backup) -> bool {
        backup.kind == BackupKind::User
            && (table.is_stack_backup_name(&self.stack, &backup.name)
                || self.adopted(table, backup))
    }

    /// Whether `backup` is unmarked and made in time to be adopted.
    fn adopted(&self, table: &TableName, backup: &Backup) -> bool {
        self.adopted_until
            .is_some_and(|until| backup.created <= until)
            && table.is_unmarked_backup_name(&backup.name)
    }

    /// Whether `backup` is an unmarked user backup this stack has not adopted: what
    /// `--adopt-backups` would take.
    pub fn could_adopt(&self, table: &TableName, backup: &Backup) -> bool {
        backup.kind == BackupKind::User
            && table.is_unmarked_backup_name(&backup.name)
            && !self.adopted(table, backup)
    }
}

impl Whose<'_> {
    /// Whether `backup` of `table` is one of these.
    pub fn includes(self, table: &TableName, backup: &Backup) -> bool {
        match self {
            Whose::Stack(ownership) => ownership.owns(table, backup),
            Whose::Any => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retention::BackupState;
    use time::macros::datetime;

    fn backup(name: &str, created: OffsetDateTime, kind: BackupKind) -> Backup {
        Backup {
            arn: format!("arn:aws:dynamodb:us-east-1:123456789012:table/Orders/backup/{name}"),
            name: name.to_owned(),
            created,
            state: BackupState::Available,
            kind,
        }
    }

    #[test]
    fn a_stack_owns_its_marked_backups_and_the_unmarked_ones_it_adopted_in_time() {
        let orders = TableName::parse("Orders").unwrap();
        let at = datetime!(2026-12-01 00:00 UTC);
        let prod = Ownership::new(StackName::parse("prod").unwrap());
        let ours = backup("Orders-prod-20261201000000", at, BackupKind::User);
        let theirs = backup("Orders-trial-20261201000000", at, BackupKind::User);
        let unmarked = backup("Orders-20261201000000", at, BackupKind::User);
        let later = backup(
            "Orders-20261202000000",
            at + time::Duration::days(1),
            BackupKind::User,
        );
        let system = backup("Orders-prod-20261201000000", at, BackupKind::System);
        assert!(prod.owns(&orders, &ours));
        assert!(!prod.owns(&orders, &theirs));
        assert!(!prod.owns(&orders, &unmarked), "never implicitly");
        assert!(!prod.owns(&orders, &system));
        assert!(prod.could_adopt(&orders, &unmarked));
        assert!(!prod.could_adopt(&orders, &theirs));

        let adopted = Ownership {
            adopted_until: Some(at),
            ..prod
        };
        assert!(adopted.owns(&orders, &unmarked));
        assert!(!adopted.could_adopt(&orders, &unmarked));
        assert!(!adopted.owns(&orders, &later), "made after the adoption");
        assert!(adopted.could_adopt(&orders, &later));
        assert!(!adopted.owns(&orders, &theirs));
        assert!(Whose::Any.includes(&orders, &theirs));
        assert!(!Whose::Stack(&adopted).includes(&orders, &theirs));
    }
}
