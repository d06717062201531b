//! Helpers shared by the installer's integration tests.

pub mod runtime_api;
