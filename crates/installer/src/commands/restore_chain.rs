//! `installer restore --from-export chain [--time T]`: the table as it was at a restore point of
//! the stack's incremental export chains ([`backup_lambda::chain`]), rebuilt from S3 alone.
//!
//! The chains are read from the stack's log bucket (`chains/<table>/<chain>.json`), or, with
//! `--from-export s3://<bucket>/<prefix><table>/chains`, from the copies the function keeps
//! beside each chain's exports (`<chain>/chain.json`), which need neither the stack nor its
//! bucket; once the table is gone, the new table's definition is the one kept beside the
//! chain's full export (`full/table.json`). The latest
//! point at or before `--time` (the latest of all without it) names a chain and how many of its
//! incrementals to apply. The chain's full export is imported into the new table with
//! ImportTable (as `--from-export` does), then each incremental export is applied in order, a
//! data file at a time: an item with a `NewImage` is put as it, one without is deleted
//! (developer guide, "DynamoDB table export output format": an incremental export holds each
//! changed item once, with its final state in the window). The writes go in BatchWriteItem
//! batches of 25 (the target is new, so no condition is needed; each key appears once in an
//! export, as a batch requires), and `UnprocessedItems` are retried with a growing pause.
//!
//! Before each batch the keys are read as the target holds them (BatchGetItem, strongly
//! consistent): whether each existed gives the exact count the table must end with (the full
//! export's items, plus the items made, less those deleted), and with `NEW_AND_OLD_IMAGES` each
//! `OldImage` must be the item as rebuilt so far — a chain with a hole shows there. Once every
//! change is applied, an eighth of the changed keys (1,000 at most, chosen by a hash of the key)
//! are read back: each must be as its last change left it. Independently of the exports, the
//! items the function read a few seconds either side of the restore point
//! ([`fingerprint::PointFingerprint`], in the stack's bucket) must be in the restored table as
//! they read. The restore is proven when the count, the keys and indexes match, no old image
//! differed, every sampled item matched and every fingerprinted item matched.

use std::collections::HashMap;
use std::time::Instant;

use aws_sdk_dynamodb::types::{DeleteRequest, PutRequest, WriteRequest};
use backup_lambda::chain::{self, Chain, RestorePath};
use backup_lambda::fingerprint;
use backup_lambda::naming::TableName;
use backup_lambda::record::{self, rfc3339};
use backup_lambda::restore;
use backup_lambda::store::S3Records;
use backup_lambda::tables::DynamoDbTables;
use sha2::Digest as _;
use time::OffsetDateTime;

use super::CommandError;
use super::restore_export::{self, Export};
use super::summary::{ChainApplied, RestorePhases, Restored, RestoredFrom};
use crate::aws::{Aws, AwsError};
use crate::compliance::history::{Requests, read_chain_copies, read_chains};
use crate::data::dynamodb_json::Item;
use crate::deploy::deployed::{self, Origin};
use crate::export_files::{self, Location};
use crate::items::{by_key, key_id, same};
use crate::rollback::changes::Change;

/// Keys read and written together: BatchGetItem's 100, in four BatchWriteItem calls.
const CHUNK: usize = 100;
/// The most changed items read back at the end.
const SAMPLE_MOST: usize = 1000;

/// Whether a changed key is read back at the end: an eighth of the keys, the same ones on every
/// run (a hash of the key).
fn sampled(id: &str) -> bool {
    sha2::Sha256::digest(id.as_bytes())[0] % 8 == 0
}

/// The sampled keys, each with the item its last change left (`None`: deleted).
#[derive(Default)]
struct Sample {
    order: Vec<String>,
    last: HashMap<String, (Item, Option<Item>)>,
}

impl Sample {
    fn note(&mut self, change: &Change) {
        let id = key_id(&change.key);
        if !sampled(&id) {
            return;
        }
        if let Some(seen) = self.last.get_mut(&id) {
            seen.1.clone_from(&change.new);
        } else if self.order.len() < SAMPLE_MOST {
            self.order.push(id.clone());
            self.last
                .insert(id, (change.key.clone(), change.new.clone()));
        }
    }

    /// Reads the sampled items from `target`: how many, and how many are not as expected.
    async fn check(&self, aws: &Aws, target: &TableName) -> Result<(usize, usize), AwsError> {
        let keys: Vec<Item> = self
            .order
            .iter()
            .map(|id| self.last[id].0.clone())
            .collect();
        let found = by_key(&aws.dynamodb, target, &keys).await?;
        let differing = self
            .order
            .iter()
            .filter(|id| !same(found.get(*id), self.last[*id].1.as_ref()))
            .count();
        Ok((self.order.len(), differing))
    }
}

/// Applies one chunk of lines to `target`: reads the keys as they are, counts what changes and
/// the old images that differ, then writes. Returns (made, deleted, old images differing).
async fn apply_chunk(
    aws: &Aws,
    target: &TableName,
    lines: &[Change],
    old_images: bool,
) -> Result<(i64, i64, usize), CommandError> {
    let keys: Vec<Item> = lines.iter().map(|l| l.key.clone()).collect();
    let now = by_key(&aws.dynamodb, target, &keys).await?;
    let (mut made, mut deleted, mut differing) = (0, 0, 0);
    let mut requests = Vec::with_capacity(lines.len());
    for l in lines {
        let before = now.get(&key_id(&l.key));
        if old_images && !same(before, l.old.as_ref()) {
            differing += 1;
        }
        let malformed = |e: aws_sdk_dynamodb::error::BuildError| {
            AwsError::malformed("BatchWriteItem", target.as_str(), &e.to_string())
        };
        let request = match &l.new {
            Some(item) => {
                made += i64::from(before.is_none());
                WriteRequest::builder()
                    .put_request(
                        PutRequest::builder()
                            .set_item(Some(item.clone()))
                            .build()
                            .map_err(malformed)?,
                    )
                    .build()
            }
            None => {
                deleted += i64::from(before.is_some());
                WriteRequest::builder()
                    .delete_request(
                        DeleteRequest::builder()
                            .set_key(Some(l.key.clone()))
                            .build()
                            .map_err(malformed)?,
                    )
                    .build()
            }
        };
        requests.push(request);
    }
    for batch in requests.chunks(crate::data::loader::BATCH) {
        let left =
            crate::data::loader::write_requests(aws, target.as_str(), batch.to_vec()).await?;
        if left > 0 {
            return Err(AwsError::malformed(
                "BatchWriteItem",
                target.as_str(),
                &format!("{left} write(s) still unprocessed after every retry; the new table is incomplete"),
            )
            .into());
        }
    }
    Ok((made, deleted, differing))
}

/// Applies the first `path.incrementals` incrementals of `chain` to `target` in order.
async fn apply(
    aws: &Aws,
    chain: &Chain,
    path: &RestorePath,
    target: &TableName,
) -> Result<ChainApplied, CommandError> {
    let mut applied = ChainApplied::default();
    let mut sample = Sample::default();
    for link in chain.incrementals.iter().take(path.incrementals) {
        let at = Location {
            bucket: &chain.bucket,
            owner: chain.bucket_owner.as_deref(),
            prefix: &link.export.prefix,
        };
        let manifest = export_files::manifest(aws, &at, &link.export.export_arn).await?;
        // What the export holds, as its own manifest says (not the chain's setting, which a
        // later `up` may have changed).
        let old_images = manifest.summary["outputView"] == "NEW_AND_OLD_IMAGES";
        let expected = manifest.summary["itemCount"].as_u64();
        let mut lines_read = 0;
        for key in &manifest.data_files {
            let mut lines = Vec::new();
            let read = export_files::lines(aws, &at, key, |text| {
                lines.push(Change::parse(text).map_err(|why| {
                    export_files::ExportFilesError::Unreadable {
                        export: format!("s3://{}/{key}", chain.bucket),
                        why: why.to_string(),
                    }
                })?);
                Ok::<(), export_files::ExportFilesError>(())
            })
            .await?;
            applied.lines += read;
            lines_read += read;
            lines.iter().for_each(|l| sample.note(l));
            for chunk in lines.chunks(CHUNK) {
                let (made, deleted, differing) =
                    apply_chunk(aws, target, chunk, old_images).await?;
                applied.made += made;
                applied.deleted += deleted;
                applied.old_images_differing += differing;
            }
        }
        if let Some(expected) = expected.filter(|n| *n != lines_read as u64) {
            return Err(CommandError::ExportData {
                export: link.export.export_arn.clone(),
                why: format!(
                    "its manifest says {expected} changed items and its data files hold {lines_read}; the new table {target} holds the changes applied so far"
                ),
            });
        }
        applied.incrementals += 1;
        report!(
            "  applied {} ({} of {})",
            link.export.period,
            applied.incrementals,
            path.incrementals
        );
    }
    (applied.sampled, applied.sample_differing) = sample.check(aws, target).await?;
    Ok(applied)
}

/// The fingerprint the function recorded of `source`'s restore point `at` in the stack's
/// `bucket` ([`fingerprint::PointFingerprint`]): the sampled items as they read a few seconds
/// either side of it, which the restored table must hold; `None` (said) when there is none to
/// read.
async fn point_fingerprint(
    aws: &Aws,
    bucket: Option<&str>,
    source: &TableName,
    at: OffsetDateTime,
) -> Option<fingerprint::PointFingerprint> {
    let Some(bucket) = bucket else {
        report!(
            "  no fingerprint of {}: the stack's bucket, which keeps them, is not there",
            rfc3339(at)
        );
        return None;
    };
    let tables = DynamoDbTables::new(aws.dynamodb.clone());
    let records = S3Records::new(aws.s3.clone());
    match fingerprint::Fingerprints::new(&tables, &records, bucket)
        .load_point(source, at)
        .await
    {
        Ok(Some(print)) => Some(print),
        Ok(None) => None,
        Err(e) => {
            report!("  could not read the fingerprint of {}: {e}", rfc3339(at));
            None
        }
    }
}

/// `restore --from-export chain`: see the module's documentation.
pub async fn restore(
    aws: &Aws,
    stack: &backup_lambda::naming::StackName,
    at: Option<(&str, &str)>,
    source: &TableName,
    target: &TableName,
    time: Option<OffsetDateTime>,
    tags: bool,
) -> Result<Restored, CommandError> {
    let requests = Requests::default();
    // The stack's bucket, where the restore points' fingerprints are (when it is deployed).
    let mut log_bucket = None;
    let (bucket, folder, (chains, skipped)) = match at {
        Some((bucket, prefix)) => (
            bucket.to_owned(),
            prefix.to_owned(),
            read_chain_copies(
                &aws.s3_for(bucket).await,
                bucket,
                prefix,
                source.as_str(),
                &requests,
            )
            .await?,
        ),
        None => {
            let deployed = deployed::read(aws, stack, None).await?;
            if matches!(deployed.origin, Origin::NotDeployed) {
                return Err(CommandError::NoChain {
                    table: source.to_string(),
                    why: format!(
                        "stack {stack} is not deployed, and its chains are recorded in its bucket (copies beside the exports: --from-export s3://<bucket>/exports/{source}/chains)"
                    ),
                });
            }
            let read = read_chains(&aws.s3, &deployed.bucket, source.as_str(), &requests).await?;
            let folder = record::chains_prefix(source.as_str());
            log_bucket = Some(deployed.bucket.clone());
            (deployed.bucket, folder, read)
        }
    };
    for s in &skipped {
        report!("  left out s3://{bucket}/{}: {}", s.key, s.reason);
    }
    let wanted = time.unwrap_or(OffsetDateTime::now_utc());
    let Some(path) = chain::restore_path(&chains, wanted) else {
        let first = chain::coverage(&chains).first().map(|s| rfc3339(s.from));
        return Err(CommandError::NoChain {
            table: source.to_string(),
            why: match first {
                Some(first) => format!(
                    "its first restore point is {first}, after {}",
                    rfc3339(wanted)
                ),
                None => format!(
                    "no chain under s3://{bucket}/{folder} has a completed full export (`installer up --export daily --export-mode incremental` starts one)"
                ),
            },
        });
    };
    let chain = &chains[path.chain];
    let db = &aws.dynamodb;
    let tables = DynamoDbTables::new(db.clone());
    let beside = (chain.bucket.as_str(), chain.full.export.prefix.as_str());
    let (definition, source_exists) =
        restore_export::source_definition(aws, source, Some(beside)).await?;
    let parameters = restore_export::creation_parameters(&definition, target)?;
    let full = Export {
        arn: chain.full.export.export_arn.clone(),
        bucket: chain.bucket.clone(),
        bucket_owner: chain.bucket_owner.clone(),
        prefix: chain.full.export.prefix.clone(),
        item_count: chain.full.export.item_count,
        at: None,
    };
    let files = restore_export::data_files(aws, &full).await?;
    if let Some(first) = files.archived.first() {
        return Err(CommandError::ExportArchived {
            export: full.arn.clone(),
            count: files.archived.len(),
            bucket: full.bucket.clone(),
            first: first.clone(),
        });
    }
    report!(
        "restoring {source} into {target} as it was at {} (chain {}: its full export, then {} incremental export(s))",
        rfc3339(path.at),
        chain.id,
        path.incrementals
    );
    let started = Instant::now();
    let (import_arn, imported, start_ms) =
        restore_export::import(aws, &full, &files.prefix, parameters).await?;
    let applied = apply(aws, chain, &path, target).await?;
    let wait_ms = started.elapsed().as_millis() - start_ms;
    let reapplying = Instant::now();
    let reapplied =
        super::restore::reapply(db, source, source_exists, &definition, target, tags).await?;
    let reapply_ms = reapplying.elapsed().as_millis();
    let verifying = Instant::now();
    let expected = imported.items + applied.made - applied.deleted;
    let watch = super::restore::count_reporter(target, Some(expected));
    let count = backup_lambda::count::Counting {
        watch: Some(&watch),
        ..backup_lambda::count::Counting::default()
    };
    let mut verification =
        restore::verify_import(&tables, &definition.shape(), Some(expected), target, count).await?;
    if log_bucket.is_none() {
        log_bucket = deployed::read(aws, stack, None)
            .await
            .ok()
            .filter(|d| !matches!(d.origin, Origin::NotDeployed))
            .map(|d| d.bucket);
    }
    if let Some(print) = point_fingerprint(aws, log_bucket.as_deref(), source, path.at).await {
        verification.sample = Some(fingerprint::check_items(&tables, target, &print.items).await?);
    }
    let verify_ms = verifying.elapsed().as_millis();
    let full_matches = chain
        .full
        .export
        .item_count
        .is_none_or(|n| n == imported.items);
    report!(
        "  applied {} change(s): {} item(s) made, {} deleted; old images differing: {}; {} changed item(s) read back, {} not as the last change left them",
        applied.lines,
        applied.made,
        applied.deleted,
        applied.old_images_differing,
        applied.sampled,
        applied.sample_differing
    );
    super::restore::report_result(&reapplied, Some(&verification), started);
    let verified = verification.passed()
        && imported.errors == 0
        && full_matches
        && applied.old_images_differing == 0
        && applied.sample_differing == 0;
    Ok(Restored {
        table: source.to_string(),
        target: target.to_string(),
        from: RestoredFrom::Chain {
            chain: chain.id.clone(),
            at: rfc3339(path.at),
            full_export: full.arn,
            import_arn,
            import_errors: imported.errors,
            applied,
        },
        reapplied,
        verification: Some(verification),
        verified,
        phases_ms: RestorePhases {
            start_ms,
            wait_ms,
            reapply_ms,
            verify_ms,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::types::AttributeValue;

    fn change(id: &str, v: Option<&str>) -> Change {
        let key = Item::from([("id".to_owned(), AttributeValue::S(id.to_owned()))]);
        let new = v.map(|v| {
            let mut item = key.clone();
            item.insert("v".to_owned(), AttributeValue::N(v.to_owned()));
            item
        });
        Change {
            key,
            old: None,
            new,
        }
    }

    #[test]
    fn the_sample_holds_each_sampled_keys_last_change_an_eighth_of_them() {
        let ids: Vec<String> = (0..800).map(|i| format!("k{i}")).collect();
        let mut sample = Sample::default();
        for id in &ids {
            sample.note(&change(id, Some("1")));
        }
        // The same keys every time, about an eighth.
        let picked = sample.order.len();
        assert!((60..=140).contains(&picked), "{picked} of 800");
        let first = sample.order[0].clone();
        let first_key = sample.last[&first].0.clone();
        let AttributeValue::S(raw) = &first_key["id"] else {
            panic!("a string key");
        };
        // A later change wins; a delete leaves nothing to find.
        sample.note(&change(raw, Some("2")));
        assert_eq!(
            sample.last[&first].1.as_ref().map(|i| i["v"].clone()),
            Some(AttributeValue::N("2".to_owned()))
        );
        sample.note(&change(raw, None));
        assert_eq!(sample.last[&first].1, None);
        assert_eq!(sample.order.len(), picked, "noted once");
        // Never more than SAMPLE_MOST.
        let mut big = Sample::default();
        for i in 0..20_000 {
            big.note(&change(&format!("b{i}"), Some("1")));
        }
        assert_eq!(big.order.len(), SAMPLE_MOST);
    }
}
