//! Scheduled DynamoDB backups with retention, as an AWS Lambda function.
//!
//! Each invocation with an event such as `{"TableName": "Movies"}` makes an on-demand backup of
//! the table named `<table>-<stack>-<YYYYmmddHHMMSS>`, lists all of the table's backups, keeps the
//! newest `MAX_BACKUPS` that its stack owns and with generations each period's newest (see
//! [`ownership`] and [`retention::decide`]),
//! deletes the older ones and writes a JSON record of the run to `LOG_BUCKET`; with `EXPORT_EVERY`, it also exports the table
//! to S3 once a day or week ([`export`]), or keeps a chain of a full export and incremental
//! exports ([`chain`]).
//!
//! Code map:
//!
//! | where | what |
//! | --- | --- |
//! | `main.rs` | the `bootstrap`: builds the AWS ports once and hands each event to [`handler`] |
//! | [`handler`] | one invocation end to end, generic over the ports: the run, its metrics, a drill step |
//! | [`run`] | one table's run (`run/mod.rs`), a tag's fan-out (`tagged`), the account's backups listed once for it (`listing`), a tag's run continued across invocations (`continued`), the run record (`record`), why a run failed (`error`) |
//! | [`drill`] | restore drills, a state machine kept in the log bucket |
//! | [`restore`] | which backup to restore and how a restore is proven (shared with `installer restore`) |
//! | [`count`] | counting a restored table: parallel scan segments paced in read units, resumable across invocations, with a progress line |
//! | [`fingerprint`], [`canonical`] | a sample of the items each backup holds, read a minute either side of it, and each export chain restore point, read five seconds either side; the check of a restored table against it; items compared as DynamoDB compares them |
//! | [`store`], [`tables`], [`continuer`] | the ports: backups and exports (`BackupStore`), the log bucket (`RecordSink`), restored tables (`Tables`), the function invoking itself to continue a run (`Continuer`), each with its AWS implementation |
//! | `fake` | the in-memory ports, for tests (`test-util` feature for other crates) |
//! | [`retention`], [`ownership`], [`naming`] | which backups a run keeps (newest N, generations), whose a backup is, how tables and backups are named |
//! | [`zone`] | the stack's time zone (the IANA database compiled in): generations' periods, and the installer's schedules |
//! | [`request`], [`select`] | the environment and the event, validated; which tables a tag selects |
//! | [`export`], [`chain`], [`ledger`], [`record`], [`metrics`] | exports to S3 (full each period, or incremental chains planned from the recovery window), the daily ledgers, where records go, the metrics a run emits |
//! | [`definition`] | a table's definition as ImportTable needs it, kept beside each full export so that it restores without the table (shared with `installer restore`) |
//! | [`pace`], [`sdk`], [`error`], [`logging`] | DynamoDB's rates, the SDK's configuration, `AwsError`, JSON logs |
//!
//! Only `store.rs` and `tables.rs` call the SDK's DynamoDB and S3 operations, and `continuer.rs`
//! Lambda's: everything else reaches AWS through the ports.

#![warn(missing_docs)]

pub mod canonical;
pub mod chain;
pub mod continuer;
pub mod count;
pub mod definition;
pub mod drill;
pub mod error;
pub mod export;
#[cfg(any(test, feature = "test-util"))]
pub mod fake;
pub mod fingerprint;
pub mod handler;
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
pub mod tables;
pub mod zone;
