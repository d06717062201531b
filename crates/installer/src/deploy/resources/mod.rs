//! One module per AWS resource of the stack, each behind the one contract [`Resource`]: its
//! desired state, how to read what exists, how to diff the two into a
//! [`Change`] of its own fields, and how to apply that change or delete it.
//!
//! Adding a resource, as it is today:
//! 1. a module here: its `Desired` and `Observed`, its `fields!`, and `impl Resource` (`KIND`,
//!    `name`, `observe`, `diff`, `apply`, `delete`);
//! 2. [`crate::deploy::plan::Kind`]: a variant, its `as_str`, and its place in `Kind::ALL` (the
//!    schema's and the plans' order);
//! 3. [`crate::deploy::desired::Desired`]: the field, built from the `StackConfig`;
//! 4. [`crate::deploy::stack`]: the `Observed` field and its read in `observe`, the `StackPlan`
//!    field and its line in `lines`, its step in `plan`, and its place in `apply`'s order;
//!    (`stack::tests::the_plan_has_a_line_for_every_kind_in_its_order` fails until steps 2 and
//!    4 agree);
//! 5. [`crate::deploy::removal`]: its step in `removal_plan` and its arm in `delete`;
//! 6. outside the code: the role's permissions (`policies/`, `deploy/policy.rs`) if the function
//!    uses it, the resource tables (README and docs/deploying.md), a row per new AWS operation in
//!    `docs/aws-contract.md`, and a strict-layer rule for what moto does not model.

use std::collections::HashMap;
use std::fmt;

use crate::aws::{Aws, AwsError};
use crate::deploy::plan::{Change, Kind, Removal};

/// Declares a resource's `Field` enum (the settings `up` can change in place) and its
/// `Display`, the text plans show: `fields! { /// doc  Variant => "text", ... }`.
macro_rules! fields {
    ($($(#[doc = $doc:literal])* $variant:ident => $text:literal,)+) => {
        /// The settings `up` can change on an existing resource of this kind.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Field {
            $($(#[doc = $doc])* $variant,)+
        }

        impl std::fmt::Display for Field {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(match self {
                    $(Field::$variant => $text,)+
                })
            }
        }
    };
}

pub mod alarm;
pub mod bucket;
pub mod export_bucket;
pub mod function;
pub mod log_group;
pub mod role;
pub mod rule;
pub mod schedules;
pub mod settings_object;
pub mod table;
pub mod topic;

/// A resource's tags.
pub type Tags = HashMap<String, String>;

/// What every resource of the stack provides. `up` observes, diffs and applies; `down` deletes.
/// Implemented by a unit type per resource (`bucket::Bucket`, ...), so that the stack can be
/// written once over all of them.
pub trait Resource {
    /// The kind plans name it by.
    const KIND: Kind;
    /// The resource as the stack wants it.
    type Desired;
    /// The resource as it exists (`None`-like when it does not).
    type Observed;
    /// The settings `up` can change in place; `Display` is the text plans show.
    type Field: Copy + PartialEq + fmt::Display;

    /// Its name, as plans show it.
    fn name(desired: &Self::Desired) -> &str;

    /// Reads what exists (reads only).
    fn observe(
        aws: &Aws,
        desired: &Self::Desired,
    ) -> impl Future<Output = Result<Self::Observed, AwsError>> + Send;

    /// What `up` must do to turn `observed` into `desired`.
    fn diff(desired: &Self::Desired, observed: &Self::Observed) -> Change<Self::Field>;

    /// Makes `change` (a `Create` or `Update`; anything else does nothing). May be run again
    /// from the start after a conflict or a crash: every step is idempotent.
    fn apply(
        aws: &Aws,
        desired: &Self::Desired,
        observed: &Self::Observed,
        change: &Change<Self::Field>,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// Deletes it (already gone is fine).
    fn delete(
        aws: &Aws,
        desired: &Self::Desired,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// No fields to update: for resources the stack only checks (`--export-bucket`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoFields {}

impl fmt::Display for NoFields {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {}
    }
}

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
