//! `installer rollback`: the writes made to a table in a window, undone in the live table (see
//! [`crate::rollback`]). Shows what it will do and asks first on a terminal; `--dry-run` only
//! shows; `--yes` in CI. Backs the table up before its first write, and writes each item only
//! while it is still as the window left it. Run again after an interruption, it finds the items
//! it did already as they were, and goes on with the rest.

use std::collections::HashMap;
use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::time::Instant;

use backup_lambda::store::BackupStore as _;
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::CommandError;
use super::restore_items::{keys, typed};
use super::summary::{FailedItem, ItemDiff, RolledBack};
use crate::aws::ConnectArgs;
use crate::data::dynamodb_json::plain_item;
use crate::deploy::config::StackRef;
use crate::items::key_id;
use crate::rollback::changes::{Change, Joined, Step, step};
use crate::rollback::window;
use crate::rollback::writes::{self, Pace};
use crate::rollback::{RollbackError, exports, journal};

/// How many changes the plan shows.
const SAMPLE: usize = 5;

/// Writes a second on an on-demand table without a maximum of its own (a new on-demand table
/// takes "up to 4,000 write request units" a second: developer guide, "DynamoDB on-demand
/// capacity mode", initial throughput).
const ON_DEMAND_WRITES: u32 = 1000;

/// Writes under way at once.
const AT_ONCE: usize = 16;

/// `installer rollback`'s flags.
#[derive(Debug, Clone, clap::Args)]
pub struct RollbackArgs {
    /// The deployed stack (its bucket holds the exports).
    #[command(flatten)]
    pub stack: StackRef,
    /// The table to roll back [default: the stack's first table].
    #[arg(long, env = "INSTALLER_TABLE")]
    pub table: Option<String>,
    /// The window's start (RFC 3339): items changed in the window are put back as they were at
    /// this moment.
    #[arg(long)]
    pub from: String,
    /// The window's end (RFC 3339), at least 15 minutes after --from; writes from then on are
    /// never undone [default: the end a rollback from --from resolved before, else the latest
    /// restorable moment, about 5 minutes ago].
    #[arg(long)]
    pub to: Option<String>,
    /// Only these items: a JSON Lines file of keys in plain JSON, one a line
    /// ({"year": 2013, "title": "Rush"}).
    #[arg(long, value_name = "FILE")]
    pub keys: Option<PathBuf>,
    /// Show what would be done (counts and a sample) and write nothing to the table (the
    /// exports it reads are made, and billed, all the same).
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for confirmation (needed without a terminal).
    #[arg(long)]
    pub yes: bool,
    /// Writes started a second, at most [default: half the table's provisioned write capacity
    /// or of its on-demand maximum (the rest is the application's), else 1000].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub writes_per_second: Option<u32>,
}

/// A time from the command line, to the whole second (exports take seconds).
fn second(flag: &'static str, text: &str) -> Result<OffsetDateTime, CommandError> {
    let at = super::report::moment(flag, text)?;
    Ok(at.replace_nanosecond(0).unwrap_or(at))
}

/// `installer rollback`.
pub async fn rollback(
    args: &RollbackArgs,
    connect: &ConnectArgs,
) -> Result<RolledBack, CommandError> {
    let started = Instant::now();
    args.stack.name()?;
    let from = second("--from", &args.from)?;
    let to = args.to.as_deref().map(|t| second("--to", t)).transpose()?;
    if let Some(to) = to {
        // What the flags alone say is wrong, before any call.
        window::span(from, to).map_err(RollbackError::from)?;
    }
    let asked = match &args.keys {
        Some(file) => keys(Some(file), &[])?,
        None => Vec::new(),
    };
    if !args.yes && !args.dry_run && !std::io::stdin().is_terminal() {
        return Err(RollbackError::NeedsYes.into());
    }
    let (aws, config, deployed) = super::deployed_stack(&args.stack, None, connect).await?;
    let table = super::one_table(&config, args.table.as_deref())?;
    let db = &aws.dynamodb;
    let shape = crate::items::shape(db, &table)
        .await?
        .ok_or_else(|| CommandError::NoSource(table.to_string()))?;
    let file = args
        .keys
        .as_deref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let mut wanted: HashMap<String, Value> = HashMap::new();
    for (n, key) in asked.iter().enumerate() {
        let typed = typed(key, &shape.key, &format!("{file}: key {}", n + 1))?;
        wanted.insert(key_id(&typed), Value::Object(key.clone()));
    }
    let pitr = crate::recovery::pitr_window(db, &table)
        .await?
        .ok_or_else(|| RollbackError::PitrOff(table.to_string()))?;

    // The window: `--to`, else the one a run before resolved, else the latest restorable moment.
    let bucket = deployed.bucket.as_str();
    let journal_key = journal::key(table.as_str(), from);
    let mut kept = journal::read(&aws, bucket, &journal_key).await?;
    let before = kept
        .to
        .as_deref()
        .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok());
    let to = match (to, before) {
        (Some(to), _) => to,
        (None, Some(before)) => {
            report!(
                "continuing the rollback from {} begun before: to {}",
                text(from),
                text(before)
            );
            before
        }
        (None, None) => pitr.1.replace_nanosecond(0).unwrap_or(pitr.1),
    };
    window::check(table.as_str(), from, to, pitr).map_err(RollbackError::from)?;
    if before != Some(to) {
        kept = journal::Journal {
            to: Some(text(to)),
            backup_before: None,
            backup_made: false,
        };
        journal::write(&aws, bucket, &journal_key, &kept).await?;
    }
    let prefix = exports::prefix(table.as_str(), from, to);
    report!(
        "rolling back {table}: the writes from {} to {} (exports to s3://{bucket}/{prefix})",
        text(from),
        text(to),
    );

    // The window's changes: every export started, then each waited for and read in order.
    let mut arns = Vec::new();
    for piece in window::pieces(from, to) {
        let arn = exports::start(&aws, &shape.arn, bucket, &prefix, piece).await?;
        report!("  export {} to {}: {arn}", text(piece.0), text(piece.1));
        arns.push(arn);
    }
    let mut joined = Joined::default();
    for arn in &arns {
        exports::wait(&aws, arn).await?;
        let lines = exports::read(&aws, arn, bucket, &prefix, &mut joined).await?;
        report!("  {lines} changed item(s) in {arn}");
    }
    let changes = if wanted.is_empty() {
        joined.into_changes(|_| true)
    } else {
        joined.into_changes(|c| wanted.contains_key(&c.id()))
    };
    for change in &changes {
        wanted.remove(&change.id());
    }
    let not_in_window: Vec<Value> = wanted.into_values().collect();

    // What each key needs, given the item now.
    let now = writes::now(db, &table, &changes).await?;
    let work: Vec<(Change, Step)> = changes
        .into_iter()
        .map(|c| {
            let s = step(&c, now.get(&c.id()));
            (c, s)
        })
        .collect();
    let count = |f: fn(&Step) -> bool| work.iter().filter(|(_, s)| f(s)).count();
    let mut done = RolledBack {
        table: table.to_string(),
        from: text(from),
        to: text(to),
        exports: arns,
        dry_run: args.dry_run,
        changed: work.len(),
        put_back: count(|s| matches!(s, Step::PutBack(_))),
        deleted: count(|s| matches!(s, Step::Delete)),
        as_it_was: count(|s| matches!(s, Step::AsItWas)),
        skipped: work
            .iter()
            .filter(|(_, s)| matches!(s, Step::ChangedSince))
            .map(|(c, _)| plain_item(&c.key))
            .collect(),
        too_wide: Vec::new(),
        failed: Vec::new(),
        not_in_window,
        sample: work
            .iter()
            .filter(|(_, s)| matches!(s, Step::PutBack(_) | Step::Delete))
            .take(SAMPLE)
            .map(|(c, _)| ItemDiff {
                key: plain_item(&c.key),
                now: now.get(&c.id()).map(plain_item),
                then: c.old.as_ref().map(plain_item),
            })
            .collect(),
        backup_before: kept.backup_before.clone(),
        elapsed_ms: 0,
    };
    show(&done);
    let to_write: Vec<(Change, Step)> = work
        .into_iter()
        .filter(|(_, s)| matches!(s, Step::PutBack(_) | Step::Delete))
        .collect();
    if args.dry_run || to_write.is_empty() {
        done.elapsed_ms = started.elapsed().as_millis();
        return Ok(done);
    }
    if !args.yes
        && !super::down::confirm(&format!(
            "write {} item(s) of {table} back as they were at {}?",
            to_write.len(),
            done.from
        ))
    {
        return Err(RollbackError::Cancelled.into());
    }

    // Undoable: a backup first, named as the stack's own, and once: its name is in the journal
    // before it is asked for, so a run that goes on after an interruption finds it (or, if the
    // interruption came between the two, makes it).
    let store = backup_lambda::store::DynamoDbBackups::new(db.clone());
    let listed = match &kept.backup_before {
        Some(name) => store
            .list_backups(&table)
            .await?
            .iter()
            .any(|b| b.name == *name),
        None => false,
    };
    match backup_step(kept.backup_before.as_deref(), listed, kept.backup_made) {
        BackupStep::Reuse(name) => {
            report!("  backed up {table} before the first run, as {name}");
        }
        BackupStep::Make { gone } => {
            if let Some(gone) = gone {
                report!(
                    "  the backup made before the first run, {gone}, is gone (deleted since): the one made now holds {table} partly rolled back"
                );
            }
            let name = table.backup_name(&config.stack, OffsetDateTime::now_utc());
            kept.backup_before = Some(name.clone());
            kept.backup_made = false;
            journal::write(&aws, bucket, &journal_key, &kept).await?;
            let made = store.create_backup(&table, &name, || async {}).await?;
            kept.backup_made = true;
            journal::write(&aws, bucket, &journal_key, &kept).await?;
            report!(
                "  backed up {table} first, as {} (restore it to undo this rollback)",
                made.name
            );
        }
    }
    done.backup_before.clone_from(&kept.backup_before);

    let per_second = args.writes_per_second.unwrap_or_else(|| {
        let capacity = shape.write_capacity.or(shape.max_writes);
        capacity.map_or(ON_DEMAND_WRITES, |c| {
            u32::try_from(c / 2).unwrap_or(u32::MAX).max(1)
        })
    });
    let pace = Pace {
        per_second,
        at_once: AT_ONCE,
    };
    let written = writes::apply(db, &table, to_write, pace).await?;
    done.put_back = written.put_back;
    done.deleted = written.deleted;
    done.as_it_was += written.as_it_was;
    done.skipped
        .extend(written.changed_since.iter().map(plain_item));
    done.too_wide = written.too_wide.iter().map(plain_item).collect();
    done.failed = written
        .failed
        .iter()
        .map(|(key, error)| FailedItem {
            key: plain_item(key),
            error: error.clone(),
        })
        .collect();
    done.elapsed_ms = started.elapsed().as_millis();
    report!(
        "  put back {} item(s), deleted {}; {} as they were already; {} changed since the window and left; {} too wide to guard; {} failed",
        done.put_back,
        done.deleted,
        done.as_it_was,
        done.skipped.len(),
        done.too_wide.len(),
        done.failed.len()
    );
    Ok(done)
}

/// What to do about the backup made before the first write.
#[derive(Debug, PartialEq, Eq)]
enum BackupStep<'a> {
    /// It exists: this run writes under it too.
    Reuse(&'a str),
    /// Make one: none was asked for, or one was named but never made (an interruption between
    /// the journal and CreateBackup), or the one made is gone (`gone`, said so).
    Make {
        /// The backup made before and deleted since.
        gone: Option<&'a str>,
    },
}

/// The step, from the journal's backup (`named`, whether CreateBackup answered: `made`) and
/// whether the table's backups list it (`listed`).
fn backup_step(named: Option<&str>, listed: bool, made: bool) -> BackupStep<'_> {
    match named {
        Some(name) if listed => BackupStep::Reuse(name),
        Some(name) if made => BackupStep::Make { gone: Some(name) },
        _ => BackupStep::Make { gone: None },
    }
}

fn text(at: OffsetDateTime) -> String {
    backup_lambda::record::rfc3339(at)
}

/// The plan: counts, and a few items as they are and as they will be.
fn show(done: &RolledBack) {
    let verb = if done.dry_run { "would" } else { "will" };
    result!(
        "{} key(s) changed in the window: {verb} put back {}, {verb} delete {}; {} as they were already; {} changed since the window (left as they are)",
        done.changed,
        done.put_back,
        done.deleted,
        done.as_it_was,
        done.skipped.len()
    );
    for diff in &done.sample {
        result!("  {}", diff.key);
        result!(
            "    now:  {}",
            diff.now
                .as_ref()
                .map_or("(absent)".to_owned(), Value::to_string)
        );
        result!(
            "    then: {}",
            diff.then
                .as_ref()
                .map_or("(absent: deleted)".to_owned(), Value::to_string)
        );
    }
    for key in done.skipped.iter().take(SAMPLE) {
        result!("  left (written after the window): {key}");
    }
    if !done.not_in_window.is_empty() {
        result!(
            "  {} key(s) of --keys did not change in the window",
            done.not_in_window.len()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backup_is_made_once_and_a_lost_one_is_said_so() {
        assert_eq!(
            backup_step(None, false, false),
            BackupStep::Make { gone: None }
        );
        assert_eq!(backup_step(Some("b1"), true, true), BackupStep::Reuse("b1"));
        // Listed before CreateBackup's answer was recorded: it was made.
        assert_eq!(
            backup_step(Some("b1"), true, false),
            BackupStep::Reuse("b1")
        );
        // Named, never made: made now, nothing lost.
        assert_eq!(
            backup_step(Some("b1"), false, false),
            BackupStep::Make { gone: None }
        );
        // Made, then deleted: made again, and said so.
        assert_eq!(
            backup_step(Some("b1"), false, true),
            BackupStep::Make { gone: Some("b1") }
        );
    }
}
