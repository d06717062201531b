//! `installer report`'s substance: the history read from the daily ledgers and export records
//! (`history`), the figures and verdicts computed from it without I/O (`assess`, `exports` for
//! the exports to S3, `chains` for incremental export chains; `coverage` judges every table of the
//! account for `installer coverage` and `report --coverage`), and the two renderings, a
//! text table (`text`) and a self-contained HTML page (`html`). The command itself, flags to
//! report, is `commands/report.rs`.

pub mod assess;
pub mod chains;
pub mod coverage;
pub mod exports;
pub mod history;
pub mod html;
pub mod text;

use serde::Serialize;
use time::OffsetDateTime;

use assess::TableReport;

/// A compliance report: the period, the objectives, and each table's figures and verdicts.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Report {
    /// The stack.
    pub stack: String,
    /// The account.
    pub account: String,
    /// The region.
    pub region: String,
    /// The start of the period.
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String")]
    pub from: OffsetDateTime,
    /// The end of the period.
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String")]
    pub to: OffsetDateTime,
    /// The recovery point objective, in seconds.
    pub rpo_seconds: u64,
    /// Where it comes from (`--rpo`, or twice the schedule's interval).
    pub rpo_basis: String,
    /// The recovery time objective, in seconds (`--rto`).
    pub rto_seconds: Option<u64>,
    /// Whether every table met every objective.
    pub met: bool,
    /// One report per table.
    pub tables: Vec<TableReport>,
    /// The AWS requests the report made.
    pub requests: usize,
    /// Where the HTML page was written, with `--html`.
    pub html: Option<String>,
    /// The Object Lock of the bucket exports go to, when it is another bucket (`Object Lock
    /// compliance for 365 days`): whether the copies can be deleted early.
    pub export_bucket_lock: Option<String>,
    /// Every table of the account judged against the RPO, with `--coverage` (`met` is false
    /// when a table the stack selects is not covered).
    pub coverage: Option<coverage::Coverage>,
}
