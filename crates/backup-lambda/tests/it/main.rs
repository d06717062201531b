//! The function's integration tests, one binary: its store and handler against moto through the
//! strict layer (`moto`), and against a replayed DynamoDB for what moto cannot show (`paging`).

mod moto;
mod paging;
