//! One module per AWS resource of the stack. Each holds the resource's desired state, how to
//! read what exists, how to diff the two into an [`Action`](crate::plan::Action), and how to
//! create, update and delete it.

use std::collections::HashMap;

use crate::plan::Removal;

pub mod bucket;
pub mod function;
pub mod log_group;
pub mod role;
pub mod rule;
pub mod table;

/// A resource's tags.
pub type Tags = HashMap<String, String>;

/// Whether `tags` carry every one of the stack's `ours` tags: the mark of a resource this
/// installer made for this stack.
pub fn is_ours(tags: &Tags, ours: &Tags) -> bool {
    ours.iter().all(|(k, v)| tags.get(k) == Some(v))
}

/// What `down` does to a resource that exists with `tags` (or does not, for `None`).
pub fn removal(tags: Option<&Tags>, ours: &Tags) -> Removal {
    match tags {
        None => Removal::Absent,
        Some(tags) if is_ours(tags, ours) => Removal::Delete,
        Some(_) => Removal::NotOurs,
    }
}

/// Turns "not found" into `Ok(None)`: for reads of resources that may not exist.
pub fn absent_if<T>(
    result: Result<T, crate::aws::AwsError>,
    codes: &[&str],
) -> Result<Option<T>, crate::aws::AwsError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(err) if codes.iter().any(|c| err.is(c)) => Ok(None),
        Err(err) => Err(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> Tags {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn ownership_needs_every_stack_tag() {
        let ours = tags(&[("managed-by", "installer"), ("stack", "a")]);
        assert!(is_ours(
            &tags(&[("managed-by", "installer"), ("stack", "a"), ("x", "y")]),
            &ours
        ));
        assert!(!is_ours(
            &tags(&[("managed-by", "installer"), ("stack", "b")]),
            &ours
        ));
        assert!(!is_ours(&tags(&[]), &ours));
        assert_eq!(removal(None, &ours), Removal::Absent);
        assert_eq!(removal(Some(&ours), &ours), Removal::Delete);
        assert_eq!(removal(Some(&tags(&[])), &ours), Removal::NotOurs);
    }
}
