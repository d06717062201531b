//! Scheduled DynamoDB backups with retention, as an AWS Lambda function.
//!
//! Each invocation with an event such as `{"TableName": "Movies"}` makes an on-demand backup of
//! the table named `<table>-<stack>-<YYYYmmddHHMMSS>`, lists all of the table's backups, keeps the
//! newest `MAX_BACKUPS` that its stack owns (see [`ownership`] and [`retention::decide`]), deletes the older ones and
//! writes a JSON record of the run to `LOG_BUCKET`; with `EXPORT_EVERY`, it also exports the table
//! to S3 once a day or week ([`export`]).

#![warn(missing_docs)]

pub mod drill;
pub mod error;
pub mod export;
pub mod ledger;
pub mod logging;
pub mod metrics;
pub mod naming;
pub mod ownership;
pub mod pace;
pub mod record;
pub mod request;
pub mod restore;
pub mod retention;
pub mod run;
pub mod sdk;
pub mod select;
pub mod store;
