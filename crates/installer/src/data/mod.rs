//! Sample data: AWS's getting-started movies format and the built-in sample ([`movies`]), and
//! loading items into a table with BatchWriteItem ([`loader`]).

pub mod loader;
pub mod movies;
