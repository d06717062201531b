//! Helpers shared by the installer's integration tests.

#![allow(dead_code)] // each test binary uses only some of them

pub mod aws;
pub mod cli;
pub mod lambda;
pub mod schema;
