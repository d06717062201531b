//! Sample data: AWS's getting-started movies format and the built-in sample ([`movies`]), and
//! loading items into a table with BatchWriteItem ([`loader`]); DynamoDB JSON and exports' data
//! files ([`dynamodb_json`]).

pub mod dynamodb_json;
pub mod loader;
pub mod movies;
