//! Writes items to a table fast: BatchWriteItem in batches of 25 (its limit), several batches in
//! flight, and `UnprocessedItems` retried with exponential backoff.

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
use futures::{StreamExt, stream};
use indicatif::{ProgressBar, ProgressStyle};

use crate::aws::{Aws, AwsError, AwsResult};
use crate::data::movies::Item;

/// BatchWriteItem takes at most 25 items.
pub const BATCH: usize = 25;
/// Tries for one batch's unprocessed items before they count as failed.
const ATTEMPTS: u32 = 8;
/// First backoff; doubled each try, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
/// Longest single backoff.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// What a load did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoadReport {
    /// Items written.
    pub loaded: usize,
    /// Items DynamoDB still had not processed after every retry.
    pub failed: usize,
    /// Wall time.
    pub elapsed: Duration,
}

impl LoadReport {
    /// Items written per second.
    pub fn rate(&self) -> f64 {
        self.loaded as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// A progress bar with items/s on a terminal, hidden otherwise.
pub fn progress(total: usize) -> ProgressBar {
    let bar = ProgressBar::new(total as u64);
    if let Ok(style) =
        ProgressStyle::with_template("  loading {bar:30} {pos}/{len} items ({per_sec}, {eta} left)")
    {
        bar.set_style(style);
    }
    bar
}

/// Writes one batch of puts, retrying what DynamoDB leaves unprocessed; returns how many were
/// left.
async fn write_batch(aws: &Aws, table: &str, items: Vec<Item>) -> Result<usize, AwsError> {
    let requests = items
        .into_iter()
        .map(|item| {
            PutRequest::builder()
                .set_item(Some(item))
                .build()
                .map(|put| WriteRequest::builder().put_request(put).build())
                .map_err(|e| AwsError::malformed("BatchWriteItem", table, &e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    write_requests(aws, table, requests).await
}

/// Writes one batch of at most [`BATCH`] puts and deletes (no two of one key), retrying what
/// DynamoDB leaves unprocessed; returns how many were left.
pub async fn write_requests(
    aws: &Aws,
    table: &str,
    mut requests: Vec<WriteRequest>,
) -> Result<usize, AwsError> {
    let mut backoff = FIRST_BACKOFF;
    for attempt in 1..=ATTEMPTS {
        let out = aws
            .dynamodb
            .batch_write_item()
            .request_items(table, requests)
            .send()
            .await
            .aws("BatchWriteItem", table)?;
        requests = out
            .unprocessed_items
            .and_then(|mut left| left.remove(table))
            .unwrap_or_default();
        if requests.is_empty() || attempt == ATTEMPTS {
            break;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
    Ok(requests.len())
}

/// Writes `items` to `table`, `concurrency` batches at a time, advancing `bar`.
pub async fn load(
    aws: &Aws,
    table: &str,
    items: Vec<Item>,
    concurrency: usize,
    bar: &ProgressBar,
) -> Result<LoadReport, AwsError> {
    let started = Instant::now();
    let total = items.len();
    let mut batches = Vec::with_capacity(total.div_ceil(BATCH));
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        batches.push(items.by_ref().take(BATCH).collect::<Vec<_>>());
    }
    let mut results = stream::iter(batches)
        .map(|batch| {
            let size = batch.len();
            async move { (size, write_batch(aws, table, batch).await) }
        })
        .buffer_unordered(concurrency.max(1));
    let mut failed = 0;
    while let Some((size, result)) = results.next().await {
        let left = result?;
        failed += left;
        bar.inc((size - left) as u64);
    }
    bar.finish_and_clear();
    Ok(LoadReport {
        loaded: total - failed,
        failed,
        elapsed: started.elapsed(),
    })
}
