//! The installer's integration tests, one binary (as uv's `tests/it`): each module runs the real
//! `installer` (and the function's `bootstrap`) against moto through the strict layer. One
//! binary links the SDK once instead of once per file; `cargo test --test it stack::` runs one
//! module.

mod support;

mod alerts;
mod architectures;
mod artifact;
mod bad_input;
mod chains;
mod ci_recipe;
mod continued;
mod cost;
mod coverage;
mod crashes;
mod credentials;
mod drill;
mod exports;
mod faults;
mod fingerprints;
mod idempotency;
mod in_place;
mod invoke;
mod load;
mod many_tables;
mod operator;
mod quickstart;
mod report;
mod restore;
mod rollback;
mod scheduler;
mod security;
mod settings;
mod stack;
mod standalone;
mod tagged;
mod tutorial_sequence;
mod vault;
