//! `installer restore`: a backup (or a point in time) into a new table, waited for, given back
//! what a restore drops, and verified.

use std::time::Instant;

use backup_lambda::count::{self, CountProgress, Counting};
use backup_lambda::naming::{StackName, TableName};
use backup_lambda::ownership::Whose;
use backup_lambda::restore::{self, Choice};
use backup_lambda::tables::{DynamoDbTables, Tables};

use crate::recovery;
use backup_lambda::fingerprint::{Fingerprint, Fingerprints};
use backup_lambda::record::rfc3339;
use backup_lambda::store::{BackupStore, DynamoDbBackups, S3Records};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::CommandError;
use super::restore_export::{self, ExportPick};
use super::summary::{RestorePhases, Restored, RestoredFrom};
use crate::aws::{Aws, AwsError, ConnectArgs};
use crate::deploy::config::ConfigError;
use crate::deploy::deployed::{self, Origin};
use crate::deploy::resources::function;
use crate::report::progress::Progress;

/// What to restore, from the command line.
#[derive(Debug, Clone)]
pub struct RestoreArgs {
    /// The table whose backup to restore.
    pub table: String,
    /// The new table (none for `--items`/`--key`).
    pub to: Option<String>,
    /// `--items`: a JSON Lines file of keys.
    pub items: Option<std::path::PathBuf>,
    /// `--key`: keys as NAME=VALUE pairs.
    pub keys: Vec<String>,
    /// `--to-file`: where single items go (else back to the table).
    pub to_file: Option<std::path::PathBuf>,
    /// `--overwrite`: put back items changed since the backup too.
    pub overwrite: bool,
    /// `latest`, a backup name or an ARN.
    pub backup: String,
    /// The stack whose backups are considered.
    pub stack: String,
    /// Consider backups this stack did not make.
    pub any: bool,
    /// A point in time (RFC 3339) instead of a backup.
    pub time: Option<String>,
    /// An export to S3 instead of a backup: `latest`, a period, an ARN, a location, or chains.
    pub from_export: Option<String>,
    /// Do not copy the source's tags.
    pub no_tags: bool,
    /// Restore archived export data files first, and wait for them.
    pub thaw: bool,
    /// Restore into the table's own name, in place of the table.
    pub in_place: bool,
    /// With `in_place`: turn deletion protection off for the swap.
    pub disable_deletion_protection: bool,
    /// With `in_place`: do not ask for confirmation.
    pub yes: bool,
    /// `TotalSegments` of the verifying count; `None` chooses from the table's size.
    pub scan_segments: Option<u32>,
}

/// The request, validated: everything that needs no AWS call.
pub(super) struct Request {
    source: TableName,
    stack: StackName,
    target: TableName,
    choice: Choice,
    time: Option<OffsetDateTime>,
    export: Option<ExportPick>,
    thaw: bool,
}

impl Request {
    /// A restore of the backup `args` chooses into `target`: `--items`' scratch table, or
    /// `--in-place`'s own table.
    pub(super) fn from_backup(
        args: &RestoreArgs,
        source: &TableName,
        target: &TableName,
    ) -> Result<Self, CommandError> {
        let stack = StackName::parse(&args.stack)
            .map_err(|_| CommandError::Config(ConfigError::Stack(args.stack.clone())))?;
        Ok(Self {
            source: source.clone(),
            stack,
            target: target.clone(),
            choice: Choice::parse(&args.backup),
            time: None,
            export: None,
            thaw: false,
        })
    }

    /// The stack whose backups are considered.
    pub(super) fn stack(&self) -> &StackName {
        &self.stack
    }

    fn from_args(args: &RestoreArgs) -> Result<Self, CommandError> {
        let source = TableName::parse(&args.table)?;
        let stack = StackName::parse(&args.stack)
            .map_err(|_| CommandError::Config(ConfigError::Stack(args.stack.clone())))?;
        let to = args.to.as_deref().unwrap_or_default();
        // `--to` may be the table's own name when the table is gone (a deleted table restored
        // under its name); a table there is refused below as any other taken target.
        let target = TableName::parse(to).map_err(CommandError::Target)?;
        let time = args
            .time
            .as_deref()
            .map(|t| {
                OffsetDateTime::parse(t, &Rfc3339).map_err(|_| CommandError::Time(t.to_owned()))
            })
            .transpose()?;
        let export = args.from_export.as_deref().map(ExportPick::parse);
        if time.is_some() && export.as_ref().is_some_and(|e| !e.is_chain()) {
            return Err(CommandError::TimeWithExport);
        }
        Ok(Self {
            source,
            stack,
            target,
            choice: Choice::parse(&args.backup),
            time,
            export,
            thaw: args.thaw,
        })
    }
}

/// `installer restore`.
pub async fn restore(args: &RestoreArgs, connect: &ConnectArgs) -> Result<Restored, CommandError> {
    let request = Request::from_args(args)?;
    let aws = Aws::connect(connect).await?;
    let db = &aws.dynamodb;
    let tables = DynamoDbTables::new(db.clone());
    let (source, target) = (&request.source, &request.target);
    // A deleted table is the main disaster to recover from: its backups outlive it (and one
    // deleted with point-in-time recovery on leaves `<table>$DeletedTableBackup`, a SYSTEM backup
    // kept 35 days: developer guide, "Delete a table with PITR enabled").
    let source_exists = tables.state(source).await?.is_some();
    if !source_exists {
        if request.time.is_some() && request.export.is_none() {
            return Err(CommandError::DeletedSourcePointInTime(source.to_string()));
        }
        // Only an export named by where it was written leads to the definition kept beside it.
        if request.export.as_ref().is_some_and(|pick| {
            !matches!(
                pick,
                ExportPick::Location { .. } | ExportPick::ChainAt { .. }
            )
        }) {
            return Err(CommandError::SourceGone(source.to_string()));
        }
    }
    if tables.state(target).await?.is_some() {
        return Err(CommandError::TargetTaken(target.to_string()));
    }
    if let Some(pick) = request.export.as_ref().filter(|p| p.is_chain()) {
        let at = match pick {
            ExportPick::ChainAt { bucket, prefix } => Some((bucket.as_str(), prefix.as_str())),
            _ => None,
        };
        let tags = !args.no_tags;
        return super::restore_chain::restore(
            &aws,
            &request.stack,
            at,
            source,
            target,
            request.time,
            tags,
        )
        .await;
    }
    if let Some(pick) = &request.export {
        return from_export(&aws, &request, pick, !args.no_tags).await;
    }
    let from = chosen(&aws, &request, args.any, source_exists).await?;
    if !source_exists {
        report!(
            "table {source} no longer exists: restoring it from its backup, with the settings the backup recorded"
        );
    }
    report!("restoring {source} into {target} from {from}");
    let progress = Progress::new();
    let started = Instant::now();
    let start = async {
        match &from {
            // The source's billing mode, as a restore keeps it.
            RestoredFrom::Backup { arn, .. } => tables.restore_backup(arn, target, false).await,
            RestoredFrom::PointInTime { at } => {
                let at = OffsetDateTime::parse(at, &Rfc3339).unwrap_or(OffsetDateTime::now_utc());
                recovery::start_at(db, source, at, target).await
            }
            RestoredFrom::Export { .. } | RestoredFrom::Chain { .. } => Ok(()),
        }
    };
    progress
        .step("restore", "table", target.as_str(), start)
        .await?;
    let start_ms = started.elapsed().as_millis();
    let waited = Instant::now();
    let wait = recovery::wait_active(&tables, target);
    progress
        .step("wait", "table", target.as_str(), wait)
        .await?;
    let wait_ms = waited.elapsed().as_millis();
    let reapplying = Instant::now();
    let reapplied = match &from {
        RestoredFrom::Backup { arn, .. } if !source_exists => {
            recovery::reapply_from_backup(db, arn, target).await?
        }
        _ => recovery::reapply(db, source, target, !args.no_tags).await?,
    };
    let reapply_ms = reapplying.elapsed().as_millis();
    let verifying = Instant::now();
    let verification = match &from {
        RestoredFrom::Backup { arn, name } => {
            let fingerprint = fingerprint_of(&aws, &request, name).await?;
            let source = tables.backup_source(arn).await?;
            let watch = count_reporter(target, source.item_count);
            let count = Counting {
                segments: args.scan_segments,
                watch: Some(&watch),
                ..Counting::default()
            };
            match restore::verify(&tables, &source, target, count, fingerprint.as_ref()).await? {
                restore::Verified::Done(verification) => Some(verification),
                // Without a deadline the count reaches its end; were it ever to stop short,
                // the restore is not proven.
                restore::Verified::Partial(progress) => {
                    return Err(AwsError::malformed(
                        "Scan",
                        target.as_str(),
                        &format!("the count stopped after {} items", progress.items),
                    )
                    .into());
                }
            }
        }
        RestoredFrom::PointInTime { .. }
        | RestoredFrom::Export { .. }
        | RestoredFrom::Chain { .. } => None,
    };
    let verify_ms = verifying.elapsed().as_millis();
    report_result(&reapplied, verification.as_ref(), started);
    let verified = verification
        .as_ref()
        .is_none_or(restore::Verification::passed);
    Ok(Restored {
        table: source.to_string(),
        target: target.to_string(),
        from,
        reapplied,
        verification,
        verified,
        phases_ms: RestorePhases {
            start_ms,
            wait_ms,
            reapply_ms,
            verify_ms,
        },
    })
}

/// Puts back on `target` what the source has (TTL, PITR, deletion protection, tags), or, once
/// the source is gone, what its definition kept beside the export says.
pub(super) async fn reapply(
    db: &aws_sdk_dynamodb::Client,
    source: &TableName,
    source_exists: bool,
    definition: &backup_lambda::definition::TableDefinition,
    target: &TableName,
    tags: bool,
) -> Result<recovery::Reapplied, CommandError> {
    if source_exists {
        return Ok(recovery::reapply(db, source, target, tags).await?);
    }
    report!(
        "  {source} is gone: its definition came from beside the export; its TTL and tags are not known, so set them on {target} yourself"
    );
    Ok(recovery::reapply_from_definition(db, definition, target).await?)
}

/// `restore --from-export`: the export `pick` names imported into the target with ImportTable,
/// waited for, given back what the source has (as a restore from a backup), and verified against
/// the export's item count and the source's keys and indexes.
async fn from_export(
    aws: &Aws,
    request: &Request,
    pick: &ExportPick,
    tags: bool,
) -> Result<Restored, CommandError> {
    let db = &aws.dynamodb;
    let tables = DynamoDbTables::new(db.clone());
    let (source, target) = (&request.source, &request.target);
    let beside = match pick {
        ExportPick::Location { bucket, prefix } => Some((bucket.as_str(), prefix.as_str())),
        _ => None,
    };
    let (definition, source_exists) =
        restore_export::source_definition(aws, source, beside).await?;
    let parameters = restore_export::creation_parameters(&definition, target)?;
    let export = restore_export::choose(aws, &definition.table_arn, source.as_str(), pick).await?;
    let files = restore_export::data_files(aws, &export).await?;
    if let Some(first) = files.archived.first() {
        if !request.thaw {
            return Err(CommandError::ExportArchived {
                export: export.arn.clone(),
                count: files.archived.len(),
                bucket: export.bucket.clone(),
                first: first.clone(),
            });
        }
        restore_export::thaw(aws, &export, &files.archived).await?;
    }
    let data_prefix = files.prefix;
    let data = format!("s3://{}/{data_prefix}", export.bucket);
    report!(
        "restoring {source} into {target} from export {} ({data})",
        export.arn
    );
    let started = Instant::now();
    let (import_arn, imported, start_ms) =
        restore_export::import(aws, &export, &data_prefix, parameters).await?;
    let wait_ms = started.elapsed().as_millis() - start_ms;
    let reapplying = Instant::now();
    let reapplied = reapply(db, source, source_exists, &definition, target, tags).await?;
    let reapply_ms = reapplying.elapsed().as_millis();
    let verifying = Instant::now();
    let watch = count_reporter(target, export.item_count);
    let count = Counting {
        watch: Some(&watch),
        ..Counting::default()
    };
    let verification = restore::verify_import(
        &tables,
        &definition.shape(),
        export.item_count,
        target,
        count,
    )
    .await?;
    let verify_ms = verifying.elapsed().as_millis();
    if imported.errors > 0 {
        report!(
            "  the import could not write {} item(s); see the import {import_arn}",
            imported.errors
        );
    }
    report_result(&reapplied, Some(&verification), started);
    let verified = verification.passed() && imported.errors == 0;
    Ok(Restored {
        table: source.to_string(),
        target: target.to_string(),
        from: RestoredFrom::Export {
            arn: export.arn,
            data,
            import_arn,
            import_errors: imported.errors,
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

/// What to restore from: the backup the request names (refused when there is none), or the
/// point in time (refused outside the table's point-in-time window). With `any`, backups of every
/// kind are listed (SYSTEM ones too); a source that no longer exists and has no backup is
/// refused as missing.
pub(super) async fn chosen(
    aws: &Aws,
    request: &Request,
    any: bool,
    source_exists: bool,
) -> Result<RestoredFrom, CommandError> {
    let source = &request.source;
    if let Some(at) = request.time {
        let window = recovery::pitr_window(&aws.dynamodb, source).await?;
        return match window {
            None => Err(CommandError::NoPitr(source.to_string())),
            Some((earliest, latest)) if at < earliest || at > latest => {
                Err(CommandError::OutsidePitr {
                    time: rfc3339(at),
                    earliest: rfc3339(earliest),
                    latest: rfc3339(latest),
                })
            }
            Some(_) => Ok(RestoredFrom::PointInTime { at: rfc3339(at) }),
        };
    }
    let (name, arn) = chosen_backup(aws, request, any, source_exists).await?;
    Ok(RestoredFrom::Backup { name, arn })
}

/// The backup `request` chooses (its name and ARN): `latest` or the one named, of the stack's
/// own unless `any`.
pub(super) async fn chosen_backup(
    aws: &Aws,
    request: &Request,
    any: bool,
    source_exists: bool,
) -> Result<(String, String), CommandError> {
    let source = &request.source;
    let store = DynamoDbBackups::new(aws.dynamodb.clone());
    let store = if any { store.every_kind() } else { store };
    let backups = store.list_backups(source).await?;
    if !source_exists && backups.is_empty() {
        return Err(CommandError::NoSourceNorBackup(source.to_string()));
    }
    let owner = function::read_ownership(aws, &request.stack).await?;
    let whose = if any {
        Whose::Any
    } else {
        Whose::Stack(&owner)
    };
    let backup = restore::choose(source, &backups, &request.choice, whose)?;
    Ok((backup.name, backup.arn))
}

/// The fingerprint the stack's function recorded of `source`'s backup `name`, if any: none for
/// a stack no longer deployed (its bucket may be gone with it).
pub(super) async fn fingerprint_of(
    aws: &Aws,
    request: &Request,
    name: &str,
) -> Result<Option<Fingerprint>, CommandError> {
    let deployed = deployed::read(aws, &request.stack, None).await?;
    if matches!(deployed.origin, Origin::NotDeployed) {
        return Ok(None);
    }
    let tables = DynamoDbTables::new(aws.dynamodb.clone());
    let records = S3Records::new(aws.s3.clone());
    Ok(Fingerprints::new(&tables, &records, &deployed.bucket)
        .load(&request.source, name)
        .await?)
}

/// Prints what was put back and what the verification found.
pub(super) fn report_result(
    reapplied: &recovery::Reapplied,
    verification: Option<&restore::Verification>,
    started: Instant,
) {
    report!(
        "  re-applied: TTL {}, point-in-time recovery {}, deletion protection {}, {} tag(s)",
        reapplied.ttl_attribute.as_deref().unwrap_or("off"),
        if reapplied.point_in_time_recovery {
            "on"
        } else {
            "off"
        },
        if reapplied.deletion_protection {
            "on"
        } else {
            "off"
        },
        reapplied.tags
    );
    if let Some(v) = verification {
        report!(
            "  verified: {}; keys {}, indexes {}: {}",
            v.counts(),
            if v.keys_match { "match" } else { "differ" },
            if v.indexes_match { "match" } else { "differ" },
            if v.passed() {
                "restore proven"
            } else {
                "NOT proven"
            }
        );
        report!("  data: {}", v.data());
    }
    report!("restored in {:.1}s", started.elapsed().as_secs_f64());
}

/// How often a count's progress is reported.
const COUNT_REPORT_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// A count's watcher reporting on `target` every [`COUNT_REPORT_EVERY`] and at its end: items,
/// segments, rate and, from the backup's approximate `expected` count, the time left.
pub(super) fn count_reporter(
    target: &TableName,
    expected: Option<i64>,
) -> impl Fn(&CountProgress) + Sync + use<> {
    let started = Instant::now();
    let last = std::sync::Mutex::new(started);
    let target = target.clone();
    move |progress: &CountProgress| {
        let mut last = last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if progress.finished() || last.elapsed() >= COUNT_REPORT_EVERY {
            *last = Instant::now();
            report!(
                "  verifying {target}: {}",
                count::progress_line(progress, expected, started.elapsed())
            );
        }
    }
}
