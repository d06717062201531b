//! `installer restore --in-place`: the table swapped for its backup under its own name (see
//! [`crate::in_place`]): backed up first, its settings read, deleted, restored into its name,
//! given its settings back, verified. Run again after an interruption, it goes on from its
//! journal.

use std::io::{BufRead, IsTerminal, Write};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{BackupStatus, TableStatus};
use backup_lambda::count::Counting;
use backup_lambda::naming::TableName;
use backup_lambda::restore::{self, Verified};
use backup_lambda::store::{BackupStore, DynamoDbBackups};
use backup_lambda::tables::{Deletion, DynamoDbTables, Tables};
use time::OffsetDateTime;

use super::CommandError;
use super::restore::{Request, RestoreArgs, chosen_backup, fingerprint_of};
use super::summary::{RestoredFrom, RestoredInPlace};
use crate::aws::{Aws, AwsError, AwsResult, ConnectArgs};
use crate::bucket_json;
use crate::deploy::deployed;
use crate::in_place::{InPlaceError, Journal, journal_key, settings};
use crate::recovery;

/// How long to wait for the backup made first to become AVAILABLE ("become available for
/// restore within minutes", CreateBackup, API reference): the table cannot be deleted before
/// ("While a backup is in progress, you can't ... Delete the source table", developer guide,
/// "Backing up a DynamoDB table").
const BACKUP_PATIENCE: Duration = Duration::from_secs(2 * 3600);
/// How long a backup made first by an earlier run is reused before the table is backed up
/// again.
const FRESH: time::Duration = time::Duration::minutes(5);
/// How long to wait for the deleted table's name to be free again (no documented time).
const NAME_PATIENCE: Duration = Duration::from_secs(3600);

/// `installer restore --in-place`.
pub async fn restore_in_place(
    args: &RestoreArgs,
    connect: &ConnectArgs,
) -> Result<RestoredInPlace, CommandError> {
    let started = Instant::now();
    let table = TableName::parse(&args.table)?;
    let request = Request::from_backup(args, &table, &table)?;
    if !args.yes && !std::io::stdin().is_terminal() {
        return Err(InPlaceError::NeedsYes.into());
    }
    let aws = Aws::connect(connect).await?;
    let db = &aws.dynamodb;
    let tables = DynamoDbTables::new(db.clone());
    let bucket = deployed::read(&aws, request.stack(), None).await?.bucket;
    let key = journal_key(table.as_str());

    let kept = read_journal(&aws, &bucket, &key).await?;
    let asked = args.backup.as_str();
    let kept = match kept {
        // Finished: the same command (no backup named) while the table is still that restore
        // reports what the swap found and changes nothing (checking a live table again would
        // judge the application's writes since; putting the settings back again would undo
        // changes made since). A backup named, or a table changed since, is a new swap.
        Some(journal) if journal.finished_at.is_some() => {
            let same =
                asked == "latest" && observe(db, &table, &journal).await? == Observed::Restore;
            if let (true, Some(verification)) = (same, &journal.verification) {
                report!(
                    "{table} was restored in place from {} at {}; nothing to do (name a backup with --backup to swap it again)",
                    journal.backup_name,
                    journal.finished_at.as_deref().unwrap_or_default()
                );
                return Ok(outcome(
                    &table,
                    journal.clone(),
                    verification.clone(),
                    true,
                    started,
                ));
            }
            None
        }
        Some(journal) => {
            if asked != "latest" && asked != journal.backup_name && asked != journal.backup_arn {
                return Err(InPlaceError::OtherBackup {
                    table: table.to_string(),
                    backup: journal.backup_name,
                }
                .into());
            }
            report!(
                "continuing the in-place restore of {table} from {} begun at {}",
                journal.backup_name,
                journal.started_at
            );
            Some(journal)
        }
        None => None,
    };
    let resumed = kept.is_some();
    let mut journal = match kept {
        Some(journal) => journal,
        None => begin(&aws, args, &request, &table, &bucket, &key).await?,
    };

    // The table as the journal left it: still the original, going, gone, or the restore.
    let observed = observe(db, &table, &journal).await?;
    match &observed {
        Observed::Original { identity, .. } if *identity != journal.settings.identity => {
            return Err(recreated(&table, &journal, &bucket, &key).into());
        }
        Observed::Original { protected, .. } => {
            let protected = *protected;
            if protected && !args.disable_deletion_protection {
                // Turned on since the swap began: refused as at the start, nothing changed.
                return Err(InPlaceError::Protected(table.to_string()).into());
            }
            if protected && !journal.settings.deletion_protection {
                journal.settings.deletion_protection = true;
                bucket_json::write(&aws, &bucket, &key, &journal).await?;
            }
            back_up_first(&aws, &request, &table, &bucket, &key, &mut journal).await?;
            still_there(db, &journal).await?;
            if protected {
                db.update_table()
                    .table_name(table.as_str())
                    .deletion_protection_enabled(false)
                    .send()
                    .await
                    .aws("UpdateTable", table.as_str())?;
                report!("  turned deletion protection off for the swap");
            }
            delete(&tables, &table).await?;
            if journal.settings.pitr_days.is_some() {
                report!(
                    "  point-in-time recovery was on: DynamoDB keeps the table's last state as the backup {table}$DeletedTableBackup for 35 days (it has the writes made after {} too)",
                    journal
                        .backup_before
                        .as_deref()
                        .unwrap_or("the backup made first")
                );
            }
        }
        Observed::Deleting | Observed::Gone | Observed::Restore => {}
    }
    if observed != Observed::Restore {
        restore_into_name(
            &aws,
            request.stack(),
            &tables,
            &table,
            &journal,
            &bucket,
            &key,
        )
        .await?;
    }
    recovery::wait_active(&tables, &table).await?;
    let restored_indexes = tables.shape(&table).await?.indexes;
    let differences = journal.settings.index_differences(&restored_indexes);
    for line in &differences {
        if !journal.settings.not_carried.contains(line) {
            journal.settings.not_carried.push(line.clone());
        }
    }

    // Checked before its settings are back (TTL would start expiring items), as it came.
    let fingerprint = fingerprint_of(&aws, &request, &journal.backup_name).await?;
    let source = tables.backup_source(&journal.backup_arn).await?;
    let watch = super::restore::count_reporter(&table, source.item_count);
    let count = Counting {
        segments: args.scan_segments,
        watch: Some(&watch),
        ..Counting::default()
    };
    let verification =
        match restore::verify(&tables, &source, &table, count, fingerprint.as_ref()).await? {
            Verified::Done(verification) => verification,
            Verified::Partial(progress) => {
                return Err(AwsError::malformed(
                    "Scan",
                    table.as_str(),
                    &format!("the count stopped after {} items", progress.items),
                )
                .into());
            }
        };
    settings::apply(db, &tables, &table, &journal.settings).await?;
    report!("  put back the table's settings");
    report!(
        "  verified: {}; {}: {}",
        verification.counts(),
        verification.data(),
        if verification.passed() {
            "restore proven"
        } else {
            "NOT proven"
        }
    );
    for line in &journal.settings.not_carried {
        report!("  not carried over: {line}");
    }
    journal.finished_at = Some(backup_lambda::record::rfc3339(OffsetDateTime::now_utc()));
    journal.verification = Some(verification.clone());
    bucket_json::write(&aws, &bucket, &key, &journal).await?;
    Ok(outcome(&table, journal, verification, resumed, started))
}

/// The command's result.
fn outcome(
    table: &TableName,
    journal: Journal,
    verification: restore::Verification,
    resumed: bool,
    started: Instant,
) -> RestoredInPlace {
    RestoredInPlace {
        table: table.to_string(),
        from: RestoredFrom::Backup {
            name: journal.backup_name,
            arn: journal.backup_arn,
        },
        backup_before: journal.backup_before,
        resumed,
        reapplied: journal.settings.clone(),
        not_carried: journal.settings.not_carried,
        verified: verification.passed(),
        verification,
        elapsed_ms: started.elapsed().as_millis(),
    }
}

/// The journal at `key`, if any. One this version cannot read stops the command: starting over
/// could take the restored table for the original.
async fn read_journal(aws: &Aws, bucket: &str, key: &str) -> Result<Option<Journal>, CommandError> {
    let Some(bytes) = bucket_json::read_raw(aws, bucket, key).await? else {
        return Ok(None);
    };
    serde_json::from_slice(&bytes).map(Some).map_err(|e| {
        InPlaceError::UnreadableJournal {
            uri: format!("s3://{bucket}/{key}"),
            error: e.to_string(),
        }
        .into()
    })
}

/// The error for a table of the name that is neither the original nor the restore.
fn recreated(table: &TableName, journal: &Journal, bucket: &str, key: &str) -> InPlaceError {
    InPlaceError::Recreated {
        table: table.to_string(),
        backup: journal.backup_name.clone(),
        bucket: bucket.to_owned(),
        key: key.to_owned(),
    }
}

/// Stops before the delete if the backup to restore is gone (deleted by retention since the
/// swap began, say): the table is still there, and nothing was changed but the backup made
/// first.
async fn still_there(db: &aws_sdk_dynamodb::Client, journal: &Journal) -> Result<(), CommandError> {
    let described = db
        .describe_backup()
        .backup_arn(&journal.backup_arn)
        .send()
        .await
        .aws("DescribeBackup", &journal.backup_arn);
    match described {
        Ok(out)
            if out
                .backup_description()
                .and_then(|d| d.backup_details())
                .is_some_and(|d| *d.backup_status() == BackupStatus::Available) =>
        {
            Ok(())
        }
        Ok(_) => Err(InPlaceError::BackupGone(journal.backup_name.clone()).into()),
        Err(e) if e.is("BackupNotFoundException") => {
            Err(InPlaceError::BackupGone(journal.backup_name.clone()).into())
        }
        Err(e) => Err(e.into()),
    }
}

/// A first run: the table checked, its settings read, the backup chosen, the swap confirmed, and
/// the journal written (the first write).
async fn begin(
    aws: &Aws,
    args: &RestoreArgs,
    request: &Request,
    table: &TableName,
    bucket: &str,
    key: &str,
) -> Result<Journal, CommandError> {
    let db = &aws.dynamodb;
    if DynamoDbTables::new(db.clone())
        .state(table)
        .await?
        .is_none()
    {
        return Err(InPlaceError::Missing(table.to_string()).into());
    }
    let settings = settings::read(db, table)
        .await?
        .map_err(InPlaceError::from)?;
    if settings.deletion_protection && !args.disable_deletion_protection {
        return Err(InPlaceError::Protected(table.to_string()).into());
    }
    let (name, arn) = chosen_backup(aws, request, args.any, true).await?;
    report!(
        "{table} will be backed up, deleted, and restored from {name} under its own name, with its settings put back"
    );
    if !args.yes && !confirm_name(table) {
        return Err(InPlaceError::Cancelled.into());
    }
    let journal = Journal {
        backup_name: name,
        backup_arn: arn,
        settings,
        backup_before: None,
        started_at: backup_lambda::record::rfc3339(OffsetDateTime::now_utc()),
        finished_at: None,
        verification: None,
    };
    match bucket_json::write(aws, bucket, key, &journal).await {
        Err(e) if e.is("NoSuchBucket") => Err(InPlaceError::NoBucket {
            bucket: bucket.to_owned(),
            stack: request.stack().to_string(),
        }
        .into()),
        written => Ok(written.map(|()| journal)?),
    }
}

/// Asks for the table's name on the terminal; `true` only when it is typed.
fn confirm_name(table: &TableName) -> bool {
    eprint!("type the table's name ({table}) to replace it: ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer).is_ok() && answer.trim() == table.as_str()
}

/// What the table is, to an in-place restore under way.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Observed {
    /// A table that is not the restore: the original, or (another identity) one made since.
    Original {
        /// Its deletion protection is on.
        protected: bool,
        /// Which table of the name it is.
        identity: String,
    },
    /// Being deleted.
    Deleting,
    /// No such table.
    Gone,
    /// The restore of the journal's backup (its `RestoreSummary` names it), in any state.
    Restore,
}

/// What `table` is now, to `journal`'s swap.
async fn observe(
    db: &aws_sdk_dynamodb::Client,
    table: &TableName,
    journal: &Journal,
) -> Result<Observed, AwsError> {
    let out = db
        .describe_table()
        .table_name(table.as_str())
        .send()
        .await
        .aws("DescribeTable", table.as_str());
    let out = match out {
        Ok(out) => out,
        Err(e) if e.is("ResourceNotFoundException") => return Ok(Observed::Gone),
        Err(e) => return Err(e),
    };
    let Some(t) = out.table() else {
        return Ok(Observed::Gone);
    };
    // The restore: made from the backup, and not the original (which may itself have been
    // restored from it once).
    let identity = settings::identity(t);
    if t.restore_summary().and_then(|r| r.source_backup_arn()) == Some(journal.backup_arn.as_str())
        && identity != journal.settings.identity
    {
        return Ok(Observed::Restore);
    }
    if t.table_status() == Some(&TableStatus::Deleting) {
        return Ok(Observed::Deleting);
    }
    Ok(Observed::Original {
        protected: t.deletion_protection_enabled() == Some(true),
        identity,
    })
}

/// Waits until the deleted table is gone, then restores the journal's backup into its name.
async fn restore_into_name(
    aws: &Aws,
    stack: &backup_lambda::naming::StackName,
    tables: &DynamoDbTables,
    table: &TableName,
    journal: &Journal,
    bucket: &str,
    key: &str,
) -> Result<(), CommandError> {
    gone(tables, table).await?;
    if !start_restore(aws, stack, table, journal).await?
        && observe(&aws.dynamodb, table, journal).await? != Observed::Restore
    {
        // Someone else made a table of the name after the delete: never ours to change.
        return Err(recreated(table, journal, bucket, key).into());
    }
    Ok(())
}

/// Backs the table up (once: named in the journal before it is asked for, as the stack's own
/// backup) and waits until the backup is AVAILABLE.
async fn back_up_first(
    aws: &Aws,
    request: &Request,
    table: &TableName,
    bucket: &str,
    key: &str,
    journal: &mut Journal,
) -> Result<(), CommandError> {
    let db = &aws.dynamodb;
    let store = DynamoDbBackups::new(db.clone());
    let listed = store.list_backups(table).await?;
    let made = journal
        .backup_before
        .as_ref()
        .and_then(|name| listed.iter().find(|b| b.name == *name));
    // Reused only while it is recent: a run going on hours later backs the table up again, so
    // that the writes made since are in a backup too (the earlier one is kept).
    let fresh = made.filter(|b| OffsetDateTime::now_utc() - b.created < FRESH);
    if let (Some(old), None) = (made, fresh) {
        report!(
            "  {} was made by an earlier run more than {} minutes ago: backing {table} up again",
            old.name,
            FRESH.whole_minutes()
        );
    }
    let arn = match fresh {
        Some(backup) => backup.arn.clone(),
        None => {
            let name = table.backup_name(request.stack(), OffsetDateTime::now_utc());
            journal.backup_before = Some(name.clone());
            bucket_json::write(aws, bucket, key, journal).await?;
            let backup = store.create_backup(table, &name, || async {}).await?;
            report!("  backed up {table} first, as {name} (this command never deletes it)");
            backup.arn
        }
    };
    let waited = Instant::now();
    loop {
        let described = db
            .describe_backup()
            .backup_arn(&arn)
            .send()
            .await
            .aws("DescribeBackup", &arn)?;
        let status = described
            .backup_description()
            .and_then(|d| d.backup_details())
            .map(|d| d.backup_status().clone());
        if status == Some(BackupStatus::Available) {
            return Ok(());
        }
        if waited.elapsed() > BACKUP_PATIENCE {
            return Err(AwsError::malformed(
                "DescribeBackup (waiting for AVAILABLE)",
                &arn,
                "the backup made first is still not AVAILABLE, and the table is not deleted before it is: run the same command again later",
            )
            .into());
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// Deletes the table, waiting while DynamoDB says it cannot yet (UPDATING).
async fn delete(tables: &DynamoDbTables, table: &TableName) -> Result<(), AwsError> {
    let waited = Instant::now();
    loop {
        match tables.delete_table(table).await? {
            Deletion::Deleted | Deletion::Missing => {
                report!("  deleted {table}");
                return Ok(());
            }
            Deletion::InUse if waited.elapsed() < NAME_PATIENCE => {
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            Deletion::InUse => {
                return Err(AwsError::malformed(
                    "DeleteTable",
                    table.as_str(),
                    "the table stayed in use (UPDATING) for an hour: run the same command again later",
                ));
            }
        }
    }
}

/// Waits until the table is gone (DELETING takes a while).
async fn gone(tables: &DynamoDbTables, table: &TableName) -> Result<(), AwsError> {
    let waited = Instant::now();
    while tables.state(table).await?.is_some() {
        if waited.elapsed() > NAME_PATIENCE {
            return Err(AwsError::malformed(
                "DescribeTable (waiting for the table to go)",
                table.as_str(),
                "the deleted table is still listed after an hour: run the same command again later",
            ));
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    Ok(())
}

/// Starts restoring the journal's backup into the table's name, with the table's billing and
/// encryption as they were before the swap; asks again while the deleted table's name is not
/// free yet (TableInUseException). `false` when a table of the name exists already.
async fn start_restore(
    aws: &Aws,
    stack: &backup_lambda::naming::StackName,
    table: &TableName,
    journal: &Journal,
) -> Result<bool, CommandError> {
    let (billing, throughput) = journal.settings.billing().unzip();
    let waited = Instant::now();
    loop {
        let answer = aws
            .dynamodb
            .restore_table_from_backup()
            .backup_arn(&journal.backup_arn)
            .target_table_name(table.as_str())
            .set_billing_mode_override(billing.clone())
            .set_provisioned_throughput_override(throughput.clone().flatten())
            .set_sse_specification_override(journal.settings.encryption())
            .send()
            .await
            .aws("RestoreTableFromBackup", table.as_str());
        match answer {
            Ok(_) => {
                report!("  restoring {table} from {}", journal.backup_name);
                return Ok(true);
            }
            Err(e) if e.is("TableAlreadyExistsException") => return Ok(false),
            Err(e) if e.is("TableInUseException") && waited.elapsed() < NAME_PATIENCE => {
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            Err(e) if e.is("TableInUseException") => return Err(e.into()),
            Err(e) => {
                // The table is gone and this restore will not be made: say how to get it back.
                return Err(InPlaceError::RestoreFailed {
                    table: table.to_string(),
                    stack: stack.to_string(),
                    backup: journal.backup_name.clone(),
                    before: journal.backup_before.clone().unwrap_or_default(),
                    error: e.to_string(),
                }
                .into());
            }
        }
    }
}
