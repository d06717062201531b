//! The DynamoDB store against a replayed DynamoDB, for what moto cannot show: ListBackups paging
//! (every page is read, and owned backups found only on later pages are pruned too), and
//! CreateBackup after a failure whose answer may have been lost (never a second backup).

use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::create_backup::CreateBackupOutput;
use aws_sdk_dynamodb::operation::delete_backup::DeleteBackupOutput;
use aws_sdk_dynamodb::operation::list_backups::ListBackupsOutput;
use aws_sdk_dynamodb::primitives::DateTime;
use aws_sdk_dynamodb::types::{
    BackupDetails, BackupStatus, BackupSummary, BackupType, BackupTypeFilter,
};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use backup_lambda::fake::MemoryBucket;
use backup_lambda::naming::{StackName, TableName};
use backup_lambda::ownership::Ownership;
use backup_lambda::request::Settings;
use backup_lambda::retention::RetentionPolicy;
use backup_lambda::run::{BackupFunction, Invocation};
use backup_lambda::store::{BackupStore, DynamoDbBackups};
use backup_lambda::tables::DynamoDbTables;
use serde_json::json;
use time::OffsetDateTime;
use time::macros::datetime;

const NOW: OffsetDateTime = datetime!(2026-11-25 07:00:00 UTC);

fn arn(name: &str) -> String {
    format!("arn:aws:dynamodb:us-east-1:123456789012:table/Movies/backup/{name}")
}

fn summary(name: &str, hours_ago: i64) -> BackupSummary {
    BackupSummary::builder()
        .table_name("Movies")
        .backup_name(name)
        .backup_arn(arn(name))
        .backup_creation_date_time(DateTime::from_secs(NOW.unix_timestamp() - hours_ago * 3600))
        .backup_status(BackupStatus::Available)
        .backup_type(BackupType::User)
        .build()
}

fn stack() -> StackName {
    StackName::parse("prod").unwrap()
}

fn ours(hours_ago: i64) -> String {
    TableName::parse("Movies")
        .unwrap()
        .backup_name(&stack(), NOW - time::Duration::hours(hours_ago))
}

/// Eight backups over three pages, newest first as DynamoDB lists them; the oldest of ours are
/// on the last page, which a single ListBackups call never sees.
fn pages() -> Vec<Vec<BackupSummary>> {
    vec![
        vec![
            summary(&ours(0), 0),
            summary(&ours(1), 1),
            summary("Movies-manual", 2),
        ],
        vec![
            summary(&ours(3), 3),
            summary(&ours(4), 4),
            summary(&ours(5), 5),
        ],
        vec![summary(&ours(6), 6), summary("before-upgrade", 7)],
    ]
}

fn list_rule(pages: Vec<Vec<BackupSummary>>) -> aws_smithy_mocks::Rule {
    mock!(Client::list_backups)
        .match_requests(|req| {
            req.table_name() == Some("Movies") && req.backup_type() == Some(&BackupTypeFilter::User)
        })
        .then_compute_output(move |req| {
            let page = match req.exclusive_start_backup_arn() {
                None => 0,
                Some(start) => {
                    1 + pages
                        .iter()
                        .position(|p| p.last().and_then(|s| s.backup_arn()) == Some(start))
                        .expect("start ARN is the last one of a page")
                }
            };
            let mut out =
                ListBackupsOutput::builder().set_backup_summaries(Some(pages[page].clone()));
            if page + 1 < pages.len() {
                out = out
                    .last_evaluated_backup_arn(pages[page].last().unwrap().backup_arn().unwrap());
            }
            out.build()
        })
}

/// What CreateBackup answers for the run's own backup.
fn created() -> CreateBackupOutput {
    CreateBackupOutput::builder()
        .backup_details(
            BackupDetails::builder()
                .backup_arn(arn(&ours(0)))
                .backup_name(ours(0))
                .backup_status(BackupStatus::Creating)
                .backup_type(BackupType::User)
                .backup_creation_date_time(DateTime::from_secs(NOW.unix_timestamp()))
                .build()
                .unwrap(),
        )
        .build()
}

#[tokio::test]
async fn every_page_is_read_and_old_backups_on_later_pages_are_deleted() {
    let create = mock!(Client::create_backup)
        .match_requests(|req| {
            req.table_name() == Some("Movies") && req.backup_name() == Some(ours(0).as_str())
        })
        .then_output(created);
    let list = list_rule(pages());
    let deleted = Arc::new(Mutex::new(Vec::new()));
    let seen = deleted.clone();
    let delete = mock!(Client::delete_backup).then_compute_output(move |req| {
        seen.lock()
            .unwrap()
            .push(req.backup_arn().unwrap().to_owned());
        DeleteBackupOutput::builder().build()
    });
    let client = mock_client!(
        aws_sdk_dynamodb,
        RuleMode::MatchAny,
        [&create, &list, &delete]
    );

    let settings = Settings {
        ownership: Ownership::new(stack()),
        default_policy: RetentionPolicy {
            max_backups: NonZeroU32::new(3).unwrap(),
            max_age_days: None,
            generations: Default::default(),
        },
        zone: backup_lambda::zone::Zone::utc(),
        log_bucket: None,
        drill: None,
        export: None,
    };
    let function = BackupFunction::new(
        DynamoDbBackups::new(client.clone()),
        DynamoDbTables::new(client),
        MemoryBucket::default(),
        settings,
    );
    let record = function
        .handle(
            &json!({"TableName": "Movies"}),
            &Invocation::new("req", NOW),
        )
        .await
        .expect("run succeeds");

    assert_eq!(list.num_calls(), 3, "all three pages are read");
    assert_eq!(record.backups_listed, 8);
    assert_eq!(record.kept, vec![ours(0), ours(1), ours(3)]);
    let mut deleted = deleted.lock().unwrap().clone();
    deleted.sort();
    let mut expected = vec![arn(&ours(4)), arn(&ours(5)), arn(&ours(6))];
    expected.sort();
    assert_eq!(deleted, expected, "the oldest, on page 3, is deleted too");
    assert_eq!(record.not_owned, 2);
}

#[tokio::test]
async fn a_listing_that_does_not_advance_is_an_error_not_a_loop() {
    let stuck = mock!(Client::list_backups).then_output(|| {
        ListBackupsOutput::builder()
            .backup_summaries(summary(&ours(1), 1))
            .last_evaluated_backup_arn(arn(&ours(1)))
            .build()
    });
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&stuck]);
    let err = DynamoDbBackups::new(client)
        .list_backups(&TableName::parse("Movies").unwrap())
        .await
        .expect_err("must stop");
    assert_eq!(err.operation, "ListBackups");
    assert!(err.detail.contains("did not advance"), "{err}");
    assert_eq!(stuck.num_calls(), 2);
}

fn movies() -> TableName {
    TableName::parse("Movies").unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_backup_made_by_an_attempt_whose_answer_was_lost_is_not_made_twice() {
    // The first CreateBackup fails with a 500 after DynamoDB made the backup; the listing that
    // follows shows it, so it is the result and CreateBackup is not called again.
    let create = mock!(Client::create_backup)
        .sequence()
        .http_status(500, None)
        .output(created)
        .build();
    let list = list_rule(vec![vec![summary(&ours(0), 0), summary(&ours(1), 1)]]);
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&create, &list]);
    // The check's ListBackups pages take their turns from the caller's pacer.
    let turns = std::sync::atomic::AtomicUsize::new(0);
    let backup = DynamoDbBackups::new(client)
        .create_backup(&movies(), &ours(0), || {
            turns.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            std::future::ready(())
        })
        .await
        .expect("the backup the lost attempt made");
    assert_eq!(backup.name, ours(0));
    assert_eq!(backup.arn, arn(&ours(0)));
    assert_eq!(create.num_calls(), 1, "no second CreateBackup");
    assert_eq!(list.num_calls(), 1);
    assert_eq!(
        turns.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "each page paced"
    );
}

#[tokio::test(start_paused = true)]
async fn a_backup_that_was_not_made_is_tried_again() {
    let create = mock!(Client::create_backup)
        .sequence()
        .http_status(503, None)
        .output(created)
        .build();
    let list = list_rule(vec![vec![summary(&ours(1), 1)]]);
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&create, &list]);
    let backup = DynamoDbBackups::new(client)
        .create_backup(&movies(), &ours(0), || std::future::ready(()))
        .await
        .expect("made on the second attempt");
    assert_eq!(backup.name, ours(0));
    assert_eq!(create.num_calls(), 2);
    assert_eq!(list.num_calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_missing_table_is_not_tried_again() {
    let create = mock!(Client::create_backup).then_error(|| {
        aws_sdk_dynamodb::operation::create_backup::CreateBackupError::TableNotFoundException(
            aws_sdk_dynamodb::types::error::TableNotFoundException::builder()
                .message("Table not found: Movies")
                .build(),
        )
    });
    let list = list_rule(vec![vec![]]);
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&create, &list]);
    let err = DynamoDbBackups::new(client)
        .create_backup(&movies(), &ours(0), || std::future::ready(()))
        .await
        .expect_err("no table");
    assert!(err.detail.contains("TableNotFoundException"), "{err}");
    assert_eq!(create.num_calls(), 1);
    assert_eq!(list.num_calls(), 0);
}

/// DescribeTable of a table of `bytes`, provisioned at `read_units` a second.
fn described(
    bytes: i64,
    read_units: i64,
) -> aws_sdk_dynamodb::operation::describe_table::DescribeTableOutput {
    use aws_sdk_dynamodb::types::{ProvisionedThroughputDescription, TableDescription};
    aws_sdk_dynamodb::operation::describe_table::DescribeTableOutput::builder()
        .table(
            TableDescription::builder()
                .table_name("Movies")
                .table_size_bytes(bytes)
                .item_count(1609)
                .provisioned_throughput(
                    ProvisionedThroughputDescription::builder()
                        .read_capacity_units(read_units)
                        .build(),
                )
                .build(),
        )
        .build()
}

/// A drill's verifying count of a table too large to scan in one invocation: a call whose time
/// is up reads one page and hands back where it got to (the key to go on after), and a later call
/// goes on from there to the end. Nothing is counted twice or skipped. A table of one page is
/// one sequential scan (no `Segment`), and every page asks for its read units.
#[tokio::test]
async fn a_count_stopped_by_its_deadline_goes_on_from_where_it_got_to() {
    use aws_sdk_dynamodb::operation::scan::ScanOutput;
    use aws_sdk_dynamodb::types::{AttributeValue, ConsumedCapacity, ReturnConsumedCapacity};
    use backup_lambda::count::{CountProgress, Counted, Counting, count_items_from};
    use backup_lambda::tables::{DynamoDbTables, KeyValue};
    let key = |year: &str| {
        std::collections::HashMap::from([
            ("year".to_owned(), AttributeValue::N(year.to_owned())),
            ("title".to_owned(), AttributeValue::S(format!("T{year}"))),
        ])
    };
    let sequential = |r: &aws_sdk_dynamodb::operation::scan::ScanInput| {
        r.segment().is_none()
            && r.total_segments().is_none()
            && r.return_consumed_capacity() == Some(&ReturnConsumedCapacity::Total)
    };
    let describe = mock!(Client::describe_table).then_output(|| described(900_000, 100));
    let scan = mock!(Client::scan)
        .match_requests(move |r| sequential(r) && r.exclusive_start_key().is_none())
        .then_output(move || {
            ScanOutput::builder()
                .count(1000)
                .consumed_capacity(ConsumedCapacity::builder().capacity_units(64.0).build())
                .set_last_evaluated_key(Some(key("1990")))
                .build()
        });
    let rest = mock!(Client::scan)
        .match_requests(move |r| {
            sequential(r)
                && r.exclusive_start_key()
                    .and_then(|k| k.get("year"))
                    .is_some_and(|y| y == &AttributeValue::N("1990".to_owned()))
        })
        .then_output(|| ScanOutput::builder().count(609).build());
    let client = mock_client!(
        aws_sdk_dynamodb,
        RuleMode::MatchAny,
        [&describe, &scan, &rest]
    );
    let client = DynamoDbTables::new(client);
    let table = movies();

    let past = Counting {
        until: Some(tokio::time::Instant::now()),
        ..Counting::default()
    };
    let first = count_items_from(&client, &table, past).await.unwrap();
    let Counted::Partial(progress) = first else {
        panic!("time was up after the first page: {first:?}");
    };
    assert_eq!(progress.items, 1000);
    assert_eq!(progress.segments.len(), 1, "one page's table: one scan");
    let after = progress.segments[0].after.clone().expect("where to go on");
    assert_eq!(after.get("year"), Some(&KeyValue::N("1990".to_owned())));
    // The position survives the drill state's JSON.
    let kept: CountProgress =
        serde_json::from_str(&serde_json::to_string(&progress).unwrap()).unwrap();
    assert_eq!(kept, progress);

    let on = Counting {
        from: kept,
        ..Counting::default()
    };
    let done = count_items_from(&client, &table, on).await.unwrap();
    assert_eq!(done, Counted::Done(1609));
    assert_eq!((scan.num_calls(), rest.num_calls()), (1, 1));
}

/// A table of 600 MiB is counted in three segments' parallel scans: each request names its
/// `Segment` of `TotalSegments`, and the segments' counts add up.
#[tokio::test]
async fn a_large_table_is_counted_in_parallel_segments() {
    use aws_sdk_dynamodb::operation::scan::ScanOutput;
    use backup_lambda::count::{Counted, Counting, count_items_from};
    use backup_lambda::tables::DynamoDbTables;
    let describe = mock!(Client::describe_table).then_output(|| described(600 << 20, 40_000));
    let segment = |n: i32| {
        mock!(Client::scan)
            .match_requests(move |r| r.segment() == Some(n) && r.total_segments() == Some(4))
            .then_output(move || ScanOutput::builder().count(100 + n).build())
    };
    let segments: Vec<_> = (0..4).map(segment).collect();
    let client = mock_client!(
        aws_sdk_dynamodb,
        RuleMode::MatchAny,
        [
            &describe,
            &segments[0],
            &segments[1],
            &segments[2],
            &segments[3]
        ]
    );
    let counted = count_items_from(&DynamoDbTables::new(client), &movies(), Counting::default())
        .await
        .unwrap();
    // 600 MiB is three segments of 256 MiB, and a table past one page reads at least four.
    assert_eq!(counted, Counted::Done(100 + 101 + 102 + 103));
    for (n, rule) in segments.iter().enumerate() {
        assert_eq!(rule.num_calls(), 1, "segment {n} read once");
    }
}
