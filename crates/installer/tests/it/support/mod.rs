//! Helpers shared by the installer's integration tests.

pub mod aws;
pub mod cli;
pub mod items;
pub mod lambda;
pub mod schema;
pub mod stack;
