//! A run over a tag's tables that outlasts its invocation, through the strict layer, which
//! queues the function's asynchronous invocations of itself as Lambda would and leaves it to
//! the test to deliver them (`installer invoke --event`), lose them or deliver them twice. The
//! function's timeout is 6 s and the work is more than one invocation can do (DeleteBackup is
//! ten calls a second per account): the run continues in further parts and backs each table up
//! exactly once; a continuation lost is taken over by the next scheduled run, which again backs
//! each table up once.

use std::collections::BTreeMap;

use backup_lambda::naming::{StackName, TableName};
use serde_json::Value;
use test_support::proxy::Proxy;
use test_support::strict::Windows;
use test_support::{moto_endpoint, unique_name};
use time::macros::datetime;

use crate::support::aws::{Clients, clients, tagged_movies_table};
use crate::support::cli::{built_zip_path, installer_at, invoke_result_at};

/// Tables in the run.
const TABLES: usize = 12;
/// Old backups of the stack's each table holds before a run: with `--keep 1`, 60 deletions
/// at ten a second, 6 s at the least.
const OLD: usize = 5;

/// `installer --output json invoke --stack <stack> [--event <event>]` through `proxy`: the
/// function's result.
fn invoke(proxy: &Proxy, stack: &str, event: Option<&Value>) -> Value {
    let event = event.map(Value::to_string);
    let mut args = vec!["--stack", stack];
    if let Some(event) = &event {
        args.extend(["--event", event.as_str()]);
    }
    invoke_result_at(proxy.endpoint(), &args)
}

/// Runs what the run queued, part after part, until nothing is queued: every part's result,
/// `first` included.
fn follow(proxy: &Proxy, stack: &str, first: Value) -> Vec<Value> {
    let mut parts = vec![first];
    loop {
        let queued = proxy.take_invocations();
        assert!(queued.len() <= 1, "one continuation at a time: {queued:?}");
        let Some(next) = queued.first() else {
            return parts;
        };
        assert_eq!(next.function, stack);
        parts.push(invoke(proxy, stack, Some(&next.payload)));
    }
}

fn ran(part: &Value) -> usize {
    assert_eq!(part["continuation"]["state"], "ran", "{part}");
    usize::try_from(part["continuation"]["ran"].as_u64().unwrap()).unwrap()
}

/// Gives each table [`OLD`] backups of the stack's, named for moments in January.
async fn old_backups(aws: &Clients, stack: &str, tables: &[String], month: u8) {
    let stack = StackName::parse(stack).unwrap();
    for table in tables {
        let name = TableName::parse(table).unwrap();
        for day in 1..=OLD {
            let at = datetime!(2026-01-01 03:00 UTC)
                .replace_month(time::Month::try_from(month).unwrap())
                .unwrap()
                .replace_day(u8::try_from(day).unwrap())
                .unwrap();
            aws.dynamodb
                .create_backup()
                .table_name(table)
                .backup_name(name.backup_name(&stack, at))
                .send()
                .await
                .unwrap();
        }
    }
}

/// How many run records each table has in the stack's bucket.
async fn records(aws: &Clients, stack: &str, tables: &[String]) -> BTreeMap<String, usize> {
    let bucket = format!("{stack}-logs-123456789012-us-east-1");
    let mut counts = BTreeMap::new();
    for table in tables {
        let listed = aws
            .s3
            .list_objects_v2()
            .bucket(&bucket)
            .prefix(format!("runs/{table}/"))
            .send()
            .await
            .unwrap();
        let runs = listed
            .contents()
            .iter()
            .filter_map(|o| o.key())
            .filter(|k| backup_lambda::record::is_run_record_key(k))
            .count();
        counts.insert(table.clone(), runs);
    }
    counts
}

/// Each table's backups now, by name.
async fn backups(aws: &Clients, table: &str) -> Vec<String> {
    aws.dynamodb
        .list_backups()
        .table_name(table)
        .send()
        .await
        .unwrap()
        .backup_summaries()
        .iter()
        .filter_map(|b| b.backup_name().map(str::to_owned))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_past_its_deadline_continues_and_a_lost_continuation_is_taken_over() {
    let aws = clients().await;
    let proxy = Proxy::start(&moto_endpoint(), None);
    let stack = unique_name("cont");
    let value = unique_name("daily");
    let tables: Vec<String> = (0..TABLES).map(|_| unique_name("Cont")).collect();
    for table in &tables {
        tagged_movies_table(&aws, table, "backup", &value).await;
    }
    old_backups(&aws, &stack, &tables, 1).await;

    let zip = built_zip_path().display().to_string();
    let selector = format!("backup={value}");
    let up = installer_at(proxy.endpoint())
        .args([
            "up",
            "--zip",
            &zip,
            "--stack",
            &stack,
            "--table-tag",
            &selector,
        ])
        .args(["--keep", "1", "--timeout", "6"])
        .output()
        .unwrap();
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );

    // The scheduled run, then its continuations as they are queued.
    let first = invoke(&proxy, &stack, None);
    assert_eq!(
        first["continuation"]["handed_on"]["outcome"], "invoked",
        "{first}"
    );
    let parts = follow(&proxy, &stack, first);
    assert!(parts.len() >= 2, "{} part(s)", parts.len());
    assert_eq!(parts.iter().map(ran).sum::<usize>(), TABLES, "{parts:?}");
    let last = &parts[parts.len() - 1]["continuation"];
    assert_eq!(last["finished"], true, "{last}");
    assert_eq!(last["part"], parts.len(), "{last}");
    assert!(last["handed_on"].is_null(), "{last}");
    let once = records(&aws, &stack, &tables).await;
    assert!(
        once.values().all(|n| *n == 1),
        "one run per table: {once:?}"
    );
    for table in &tables {
        let left = backups(&aws, table).await;
        assert!(
            left.iter().all(|name| !name.contains("202601")),
            "{table}: the old backups are deleted: {left:?}"
        );
        assert_eq!(left.len(), 1, "{table}: one backup made and kept: {left:?}");
    }

    // The next run hands on and its continuation is lost; the run after takes the rest over.
    old_backups(&aws, &stack, &tables, 2).await;
    let cut = invoke(&proxy, &stack, None);
    // Backups are quick to start and deletions slow: the part may have started every table
    // and left deletions, or not reached some tables; either way it handed on.
    let reached = ran(&cut);
    assert_eq!(
        cut["continuation"]["handed_on"]["outcome"], "invoked",
        "{cut}"
    );
    let lost = proxy.take_invocations();
    assert_eq!(lost.len(), 1, "{lost:?}");
    // The next scheduled run comes a period later; by then the cut run's last backups are
    // AVAILABLE. Run at once, it would find them CREATING, which retention rightly never
    // deletes (DeleteBackup refuses a backup being created), and leave one table two backups.
    tokio::time::sleep(Windows::default().backup_creating).await;
    let next = invoke(&proxy, &stack, None);
    let cut_run = cut["continuation"]["run"].clone();
    assert_eq!(next["continuation"]["took_over"]["run"], cut_run, "{next}");
    // What the cut run had found and not reached, and the tables it left deletions of, have
    // their tags read first and run first, counted as they are found (in an emulator shared
    // with other tests' tables, the cut run may not have found all of its own).
    let left = next["continuation"]["took_over"]["tables_left"]
        .as_u64()
        .unwrap();
    let found = cut["continuation"]["tables"].as_u64().unwrap();
    let undone = found - u64::try_from(reached).unwrap();
    let least = if found == u64::try_from(TABLES).unwrap() {
        // Every table started: it handed on for deletions left.
        undone.max(1)
    } else {
        undone
    };
    assert!(left >= least, "{left} < {least}: {next}");
    let parts = follow(&proxy, &stack, next);
    assert_eq!(parts.iter().map(ran).sum::<usize>(), TABLES);
    let after = records(&aws, &stack, &tables).await;
    let twice = after.values().filter(|n| **n == 3).count();
    let once_more = after.values().filter(|n| **n == 2).count();
    assert_eq!(
        (twice, once_more),
        (reached, TABLES - reached),
        "the tables the cut run reached were run by it and the next; the others by the next alone: {after:?}"
    );
    // The lost part, delivered late after all, does nothing.
    let late = invoke(&proxy, &stack, Some(&lost[0].payload));
    assert_eq!(late["continuation"]["state"], "skipped", "{late}");
    assert_eq!(
        late["continuation"]["why"]["reason"], "superseded",
        "{late}"
    );
    // What the cut run left undeleted, the next run's retention deleted: one backup each.
    for table in &tables {
        let left = backups(&aws, table).await;
        assert!(
            left.iter().all(|name| !name.contains("202602")),
            "{table}: {left:?}"
        );
        assert_eq!(left.len(), 1, "{table}: {left:?}");
    }

    let down = installer_at(proxy.endpoint())
        .args(["down", "--yes", "--delete-backups", "--stack", &stack])
        .output()
        .unwrap();
    assert!(
        down.status.success(),
        "{}",
        String::from_utf8_lossy(&down.stderr)
    );
}
