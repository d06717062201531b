//! Reads a table's history for a report: the daily ledgers the function keeps in the log
//! bucket, one object per day covered (listed once, read concurrently), never the run records
//! themselves, so the requests grow with the days covered and not with the runs; and the
//! export records of the periods the window covers (one object per day or week exported), and
//! the incremental export chains (one object per chain).

use std::sync::atomic::{AtomicUsize, Ordering};

use backup_lambda::chain::Chain;
use backup_lambda::export::{ExportEvery, ExportRecord};
use backup_lambda::ledger::{DayLedger, VERSION};
use backup_lambda::record;
use futures::{StreamExt, TryStreamExt, stream};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::assess::{Drill, Run, Skipped, Window};
use crate::aws::AwsError;

/// Ledgers read at once.
const CONCURRENCY: usize = 16;

/// A table's runs and drills over a window, what was left out, and the requests it took.
#[derive(Debug, Default)]
pub struct History {
    /// Runs, in ledger order.
    pub runs: Vec<Run>,
    /// Drills, in ledger order.
    pub drills: Vec<Drill>,
    /// Objects and lines left out, and why.
    pub skipped: Vec<Skipped>,
}

/// Counts the requests a report makes, for its summary and the benchmark.
#[derive(Debug, Default)]
pub struct Requests(AtomicUsize);

impl Requests {
    /// One more.
    pub fn add(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    /// How many so far.
    pub fn count(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}

/// Lists the keys under `prefix` (after `start_after`, if given), page by page, handing each to
/// `visit` until it answers `false` or the listing ends.
async fn list_keys(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
    start_after: Option<&str>,
    requests: &Requests,
    mut visit: impl FnMut(&str) -> bool,
) -> Result<(), AwsError> {
    let mut token = None;
    loop {
        requests.add();
        let page = s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .set_start_after(start_after.map(str::to_owned))
            .set_continuation_token(token)
            .send()
            .await
            .map_err(|e| AwsError::new("ListObjectsV2", format!("s3://{bucket}/{prefix}"), &e))?;
        for key in page.contents().iter().filter_map(|o| o.key()) {
            if !visit(key) {
                return Ok(());
            }
        }
        token = page.next_continuation_token;
        if token.is_none() {
            return Ok(());
        }
    }
}

/// The keys of `table`'s ledgers for the days in `window`: one ListObjectsV2 page per 1,000
/// days, starting after the day before the window and stopping past its last day. Keys under
/// the prefix that are not named as a day are returned too (to be reported).
async fn ledger_keys(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    table: &str,
    window: Window,
    requests: &Requests,
) -> Result<Vec<String>, AwsError> {
    let prefix = record::ledger_prefix(table);
    let first = window.from.date();
    let last = window.to.date();
    let start_after = record::ledger_key(table, first.previous_day().unwrap_or(first));
    let past_end = record::ledger_key(table, last);
    let mut keys = Vec::new();
    list_keys(s3, bucket, &prefix, Some(&start_after), requests, |key| {
        match record::ledger_day(key) {
            Some(day) if day > last => return false,
            Some(_) => keys.push(key.to_owned()),
            // A foreign object between the days; one after them sorts past the end.
            None if key <= past_end.as_str() => keys.push(key.to_owned()),
            None => {}
        }
        true
    })
    .await?;
    Ok(keys)
}

/// Reads `table`'s export records whose period overlaps `window` from `bucket`: one
/// ListObjectsV2 page per 1,000 periods ever exported, one GetObject per period in the window.
/// Objects that are not records of `table` are returned as skipped.
pub async fn read_exports(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    table: &str,
    window: Window,
    requests: &Requests,
) -> Result<(Vec<ExportRecord>, Vec<Skipped>), AwsError> {
    let prefix = format!("{}{}", record::table_prefix(table), record::EXPORTS_FOLDER);
    let in_window = |key: &str| {
        let period = key.strip_prefix(prefix.as_str())?.strip_suffix(".json")?;
        let (every, start) = ExportEvery::period_start(period)?;
        let end = start + time::Duration::try_from(every.length()).ok()?;
        Some(start <= window.to && end > window.from)
    };
    let mut keys = Vec::new();
    let mut skipped = Vec::new();
    list_keys(s3, bucket, &prefix, None, requests, |key| {
        match in_window(key) {
            Some(true) => keys.push(key.to_owned()),
            Some(false) => {}
            None => skipped.push(Skipped {
                key: key.to_owned(),
                reason: "not named as an export period (YYYY-MM-DD.json or YYYY-Www.json)"
                    .to_owned(),
            }),
        }
        true
    })
    .await?;
    let read: Vec<Result<ExportRecord, Skipped>> = stream::iter(keys)
        .map(|key| async move {
            let body = get(s3, bucket, &key, requests).await?;
            Ok::<_, AwsError>(match serde_json::from_slice::<ExportRecord>(&body) {
                Ok(r) if r.table == table => Ok(r),
                Ok(r) => Err(Skipped {
                    key,
                    reason: format!("an export record of table {:?}", r.table),
                }),
                Err(e) => Err(Skipped {
                    key,
                    reason: format!("not an export record: {e}"),
                }),
            })
        })
        .buffered(CONCURRENCY)
        .try_collect()
        .await?;
    let mut records = Vec::new();
    for r in read {
        match r {
            Ok(record) => records.push(record),
            Err(s) => skipped.push(s),
        }
    }
    Ok((records, skipped))
}

/// `table`'s incremental export chains (`chains/<table>/<id>.json`, all of them: a restore
/// point's chain may be of any age), read concurrently; objects that are not a chain of `table`
/// are returned as skipped.
pub async fn read_chains(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    table: &str,
    requests: &Requests,
) -> Result<(Vec<Chain>, Vec<Skipped>), AwsError> {
    let head = record::chain_head_key(table);
    let prefix = record::chains_prefix(table);
    read_chains_under(s3, bucket, &prefix, |key| key != head, table, requests).await
}

/// `table`'s chains as copied beside their exports under `prefix` (`<exports>/<table>/chains/`,
/// each `<id>/chain.json`: see [`Chain::copy_key`]), for a restore from the exports' bucket
/// alone.
pub async fn read_chain_copies(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
    table: &str,
    requests: &Requests,
) -> Result<(Vec<Chain>, Vec<Skipped>), AwsError> {
    let copy = format!("/{}", backup_lambda::chain::CHAIN_COPY);
    let prefix = format!("{}/", prefix.trim_end_matches('/'));
    read_chains_under(
        s3,
        bucket,
        &prefix,
        |key| key.ends_with(&copy),
        table,
        requests,
    )
    .await
}

/// The chains of `table` in the objects under `prefix` that `wanted` keeps.
async fn read_chains_under(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
    wanted: impl Fn(&str) -> bool,
    table: &str,
    requests: &Requests,
) -> Result<(Vec<Chain>, Vec<Skipped>), AwsError> {
    let mut keys = Vec::new();
    list_keys(s3, bucket, prefix, None, requests, |key| {
        if wanted(key) {
            keys.push(key.to_owned());
        }
        true
    })
    .await?;
    let read: Vec<Result<Chain, Skipped>> = stream::iter(keys)
        .map(|key| async move {
            let body = get(s3, bucket, &key, requests).await?;
            Ok::<_, AwsError>(match serde_json::from_slice::<Chain>(&body) {
                Ok(c) if c.table == table => Ok(c),
                Ok(c) => Err(Skipped {
                    key,
                    reason: format!("an export chain of table {:?}", c.table),
                }),
                Err(e) => Err(Skipped {
                    key,
                    reason: format!("not an export chain: {e}"),
                }),
            })
        })
        .buffered(CONCURRENCY)
        .try_collect()
        .await?;
    let mut chains = Vec::new();
    let mut skipped = Vec::new();
    for r in read {
        match r {
            Ok(chain) => chains.push(chain),
            Err(s) => skipped.push(s),
        }
    }
    Ok((chains, skipped))
}

/// One object's bytes.
async fn get(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    requests: &Requests,
) -> Result<Vec<u8>, AwsError> {
    requests.add();
    let uri = format!("s3://{bucket}/{key}");
    let out = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| AwsError::new("GetObject", uri.as_str(), &e))?;
    Ok(out
        .body
        .collect()
        .await
        .map_err(|e| AwsError::malformed("GetObject", uri.as_str(), &e.to_string()))?
        .to_vec())
}

/// Reads one object; `Err` with the reason it is not a ledger of `table`.
async fn read_ledger(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    table: &str,
    requests: &Requests,
) -> Result<Result<DayLedger, Skipped>, AwsError> {
    let skip = |reason: String| Skipped {
        key: key.to_owned(),
        reason,
    };
    if record::ledger_day(key).is_none() {
        return Ok(Err(skip(
            "not named as a day's ledger (YYYY-MM-DD.json)".to_owned(),
        )));
    }
    let body = get(s3, bucket, key, requests).await?;
    Ok(match serde_json::from_slice::<DayLedger>(&body) {
        Err(e) => Err(skip(format!("not a ledger: {e}"))),
        Ok(l) if l.version != VERSION => Err(skip(format!(
            "ledger version {} (this installer reads {VERSION})",
            l.version
        ))),
        Ok(l) if l.table != table => Err(skip(format!("a ledger of table {:?}", l.table))),
        Ok(l) => Ok(l),
    })
}

fn parse(at: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(at, &Rfc3339).ok()
}

/// Reads `table`'s ledgers for `window` from `bucket`.
pub async fn read(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    table: &str,
    window: Window,
    requests: &Requests,
) -> Result<History, AwsError> {
    let keys = ledger_keys(s3, bucket, table, window, requests).await?;
    let ledgers: Vec<(String, Result<DayLedger, Skipped>)> = stream::iter(keys)
        .map(|key| async move {
            let ledger = read_ledger(s3, bucket, &key, table, requests).await?;
            Ok::<_, AwsError>((key, ledger))
        })
        .buffered(CONCURRENCY)
        .try_collect()
        .await?;
    let mut history = History::default();
    for (key, ledger) in ledgers {
        let ledger = match ledger {
            Ok(ledger) => ledger,
            Err(skipped) => {
                history.skipped.push(skipped);
                continue;
            }
        };
        let mut bad = 0;
        for entry in ledger.runs {
            match parse(&entry.at) {
                Some(at) => history.runs.push(Run {
                    at,
                    outcome: entry.outcome,
                    made_backup: entry.backup.is_some(),
                    error: entry.error,
                }),
                None => bad += 1,
            }
        }
        for entry in ledger.drills {
            match parse(&entry.at) {
                Some(at) => history.drills.push(Drill { at, entry }),
                None => bad += 1,
            }
        }
        if bad > 0 {
            history.skipped.push(Skipped {
                key,
                reason: format!("{bad} line(s) without an RFC 3339 time"),
            });
        }
    }
    Ok(history)
}
