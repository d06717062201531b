//! A plan: per resource, what `up` would do (or `down` would remove), printed before anything is
//! written.

use std::fmt;

/// What `up` does to one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// It does not exist: create it.
    Create,
    /// It exists but these fields differ: update them.
    Update(Vec<&'static str>),
    /// It exists as desired.
    NoChange,
    /// It exists and is not this stack's: use it as it is, never modify or delete it.
    UseExisting,
    /// It exists, is not this stack's, and the stack cannot do without owning it.
    Conflict(String),
    /// It is this stack's and no longer needed (a schedule rule for tables since dropped).
    Delete,
}

/// What `down` does to one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removal {
    /// It is this stack's: delete it.
    Delete,
    /// It is not there.
    Absent,
    /// It is there but not this stack's: leave it.
    NotOurs,
    /// It is this stack's but `--keep-data` keeps it.
    Kept,
}

/// One line of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step<A> {
    /// The kind of resource (`log group`, `role`, ...).
    pub kind: &'static str,
    /// Its name.
    pub name: String,
    /// What happens to it.
    pub action: A,
}

/// Everything `up` would do, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// One step per resource.
    pub steps: Vec<Step<Action>>,
}

impl Plan {
    /// Whether applying it would change nothing.
    pub fn is_noop(&self) -> bool {
        self.steps
            .iter()
            .all(|s| matches!(s.action, Action::NoChange | Action::UseExisting))
    }

    /// The steps that cannot be applied.
    pub fn conflicts(&self) -> impl Iterator<Item = (&Step<Action>, &str)> {
        self.steps.iter().filter_map(|s| match &s.action {
            Action::Conflict(why) => Some((s, why.as_str())),
            _ => None,
        })
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Create => f.write_str("create"),
            Action::Update(fields) => write!(f, "update ({})", fields.join(", ")),
            Action::NoChange => f.write_str("no change"),
            Action::UseExisting => f.write_str("use existing (not this stack's; left as it is)"),
            Action::Conflict(why) => write!(f, "conflict: {why}"),
            Action::Delete => f.write_str("delete (no longer needed)"),
        }
    }
}

impl fmt::Display for Removal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Removal::Delete => "delete",
            Removal::Absent => "absent",
            Removal::NotOurs => "not this stack's; left as it is",
            Removal::Kept => "kept (--keep-data)",
        })
    }
}

impl<A: fmt::Display> fmt::Display for Step<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:<10} {:<44} {}", self.kind, self.name, self.action)
    }
}

/// Which fields differ between desired and observed values: `(field, differs)` pairs in, an
/// [`Action::Update`] or [`Action::NoChange`] out.
pub fn compare(fields: &[(&'static str, bool)]) -> Action {
    let changed: Vec<&'static str> = fields
        .iter()
        .filter(|(_, differs)| *differs)
        .map(|(name, _)| *name)
        .collect();
    if changed.is_empty() {
        Action::NoChange
    } else {
        Action::Update(changed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compare_names_only_the_fields_that_differ() {
        assert_eq!(
            compare(&[("memory", false), ("timeout", false)]),
            Action::NoChange
        );
        assert_eq!(
            compare(&[("memory", true), ("timeout", false), ("environment", true)]),
            Action::Update(vec!["memory", "environment"])
        );
    }

    #[test]
    fn a_plan_is_a_noop_only_without_creates_updates_or_conflicts() {
        let step = |action| Step {
            kind: "table",
            name: "Movies".into(),
            action,
        };
        let plan = |actions: Vec<Action>| Plan {
            steps: actions.into_iter().map(step).collect(),
        };
        assert!(plan(vec![Action::NoChange, Action::UseExisting]).is_noop());
        assert!(!plan(vec![Action::NoChange, Action::Create]).is_noop());
        assert!(!plan(vec![Action::Update(vec!["tags"])]).is_noop());
        let conflicted = plan(vec![Action::Conflict("not ours".into())]);
        assert!(!conflicted.is_noop());
        assert_eq!(conflicted.conflicts().count(), 1);
    }
}
