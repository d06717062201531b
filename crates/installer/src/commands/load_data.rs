//! `installer load-data`: movies into a table.

use super::CommandError;
use super::summary::{Loaded, Skipped};
use crate::aws::{Aws, ConnectArgs};
use crate::data::movies;

/// What `load-data` does with a bad record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnBadRecord {
    /// Report it and load the rest.
    Skip,
    /// Load nothing.
    Reject,
}

/// The records of `file` (or the built-in sample), with the bad ones reported; with
/// `--on-bad-record reject`, any bad one refuses the whole before anything is called.
fn read_records(
    file: Option<&std::path::Path>,
    on_bad: OnBadRecord,
) -> Result<movies::Records, CommandError> {
    let records = match file {
        Some(path) => movies::parse(&path.display().to_string(), &movies::read(path)?)?,
        None => movies::parse("built-in sample", movies::BUILT_IN.as_bytes())?,
    };
    for (index, reason) in records.bad.iter().take(20) {
        report!("  record {index}: {reason}");
    }
    if records.bad.len() > 20 {
        report!("  ... and {} more bad records", records.bad.len() - 20);
    }
    if on_bad == OnBadRecord::Reject
        && let Some((index, reason)) = records.bad.first()
    {
        return Err(CommandError::Rejected {
            count: records.bad.len(),
            index: *index,
            reason: reason.to_string(),
        });
    }
    Ok(records)
}

/// `installer load-data`.
pub async fn load_data(
    table: &str,
    file: Option<&std::path::Path>,
    on_bad: OnBadRecord,
    concurrency: usize,
    connect: &ConnectArgs,
) -> Result<Loaded, CommandError> {
    let table = backup_lambda::naming::TableName::parse(table)?;
    let records = read_records(file, on_bad)?;
    let aws = Aws::connect(connect).await?;
    if crate::deploy::resources::table::observe(&aws, &table)
        .await?
        .is_none()
    {
        return Err(CommandError::NoTable(table.to_string()));
    }
    let total = records.items.len();
    let bar = crate::data::loader::progress(total);
    let report =
        crate::data::loader::load(&aws, table.as_str(), records.items, concurrency, &bar).await?;
    report!(
        "loaded {} item(s) into {table}, skipped {} bad record(s), {} failed, in {:.2}s ({:.0} items/s)",
        report.loaded,
        records.bad.len(),
        report.failed,
        report.elapsed.as_secs_f64(),
        report.rate()
    );
    if report.failed > 0 {
        return Err(CommandError::Incomplete {
            failed: report.failed,
            total,
        });
    }
    let skipped = records
        .bad
        .iter()
        .map(|(index, reason)| Skipped {
            index: *index,
            reason: reason.to_string(),
        })
        .collect();
    Ok(Loaded {
        table: table.to_string(),
        loaded: report.loaded,
        skipped,
        failed: report.failed,
        elapsed_ms: report.elapsed.as_millis(),
        items_per_second: report.rate(),
    })
}
