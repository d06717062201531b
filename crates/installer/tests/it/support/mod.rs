//! Helpers shared by the installer's integration tests.

pub mod aws;
pub mod cli;
pub mod lambda;
pub mod schema;
pub mod stack;
