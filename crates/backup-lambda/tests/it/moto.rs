//! The function against DynamoDB and S3 as the strict layer in front of moto answers them, over
//! real HTTP (`MOTO_ENDPOINT`, set by `make test`): scheduled runs, a table made a moment ago, a
//! missing table and a bad event. Tables and buckets are set up, and results read, straight
//! from moto; the function's own calls go through the strict proxy.

use backup_lambda::request::Settings;
use backup_lambda::run::{BackupFunction, Invocation, RunError, RunStatus};
use backup_lambda::store::{DynamoDbBackups, S3Records};
use backup_lambda::tables::DynamoDbTables;
use serde_json::{Value, json};
use std::sync::OnceLock;
use std::time::Duration;

use test_support::proxy::Proxy;
use test_support::strict::{Strict, Windows};
use test_support::{
    backup_names, config_for, create_movies_table, moto_config, moto_endpoint, unique_name,
};
use time::OffsetDateTime;
use time::macros::datetime;

const START: OffsetDateTime = datetime!(2026-11-25 07:00:00 UTC);

struct Moto {
    dynamodb: aws_sdk_dynamodb::Client,
    s3: aws_sdk_s3::Client,
}

/// Clients straight to moto, for setting up and reading results.
async fn moto() -> Moto {
    clients(&moto_config().await)
}

/// Clients through this binary's strict proxy, for the function. Its windows are a fifth of the
/// default (a backup is CREATING for 0.5 s), so that the runs below can wait them out quickly.
async fn strict() -> Moto {
    static PROXY: OnceLock<Proxy> = OnceLock::new();
    let proxy = PROXY.get_or_init(|| {
        let windows = Windows::default().scaled(0.2);
        Proxy::with(&moto_endpoint(), None, Some(Strict::aws(windows)))
    });
    clients(&config_for(proxy.endpoint()).await)
}

fn clients(config: &aws_config::SdkConfig) -> Moto {
    Moto {
        dynamodb: aws_sdk_dynamodb::Client::new(config),
        s3: aws_sdk_s3::Client::new(config),
    }
}

/// Waits until the backup is no longer CREATING as the strict layer reports it: what the minute
/// between two scheduled runs gives a backup on AWS.
async fn until_available(strict: &Moto, arn: &str) {
    for _ in 0..100 {
        let described = strict
            .dynamodb
            .describe_backup()
            .backup_arn(arn)
            .send()
            .await
            .expect("describe backup");
        let status = described
            .backup_description()
            .and_then(|d| d.backup_details())
            .map(|d| d.backup_status().clone());
        if status != Some(aws_sdk_dynamodb::types::BackupStatus::Creating) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("backup {arn} stayed CREATING");
}

async fn record_keys(s3: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Vec<String> {
    let out = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .send()
        .await
        .expect("list objects");
    out.contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect()
}

/// The ledger at `key`.
async fn ledger(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> backup_lambda::ledger::DayLedger {
    let out = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .expect("ledger");
    let body = out.body.collect().await.expect("ledger body").into_bytes();
    serde_json::from_slice(&body).expect("a ledger")
}

/// A new Movies-shaped table and log bucket, made with `moto`'s clients: (table, bucket).
async fn fresh_table_and_bucket(moto: &Moto) -> (String, String) {
    let table = unique_name("Movies");
    let bucket = unique_name("logs");
    create_movies_table(&moto.dynamodb, &table).await;
    moto.s3
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("create bucket");
    (table, bucket)
}

fn function(
    moto: &Moto,
    bucket: &str,
) -> BackupFunction<DynamoDbBackups, DynamoDbTables, S3Records> {
    let settings = Settings::from_vars(|name| match name {
        "LOG_BUCKET" => Some(bucket.to_owned()),
        "STACK_NAME" => Some("prod".to_owned()),
        _ => None,
    })
    .expect("valid settings");
    BackupFunction::new(
        DynamoDbBackups::new(moto.dynamodb.clone()),
        DynamoDbTables::new(moto.dynamodb.clone()),
        S3Records::new(moto.s3.clone()),
        settings,
    )
}

#[tokio::test]
async fn five_runs_keep_three_of_ours_and_the_manual_backup() {
    let moto = moto().await;
    let (table, bucket) = fresh_table_and_bucket(&moto).await;
    moto.dynamodb
        .create_backup()
        .table_name(&table)
        .backup_name("before-migration")
        .send()
        .await
        .expect("manual backup");

    let strict = strict().await;
    let function = function(&strict, &bucket);
    let event = json!({ "TableName": table });
    let mut names = Vec::new();
    for run in 0..5 {
        let now = START + time::Duration::minutes(run);
        let record = function
            .handle(&event, &Invocation::new(&format!("req-{run}"), now))
            .await
            .expect("run succeeds");
        assert_eq!(record.status, RunStatus::Ok);
        names.push(record.backup_created.name.clone());
        until_available(&strict, &record.backup_created.arn).await;
        assert_eq!(
            record.deleted.len(),
            usize::from(run >= 3),
            "one deleted per run once three exist"
        );
        assert_eq!(
            record.not_owned, 1,
            "the manual backup is listed but not ours"
        );
    }

    let mut expected = vec!["before-migration".to_owned()];
    expected.extend(names[2..].iter().cloned());
    expected.sort();
    assert_eq!(backup_names(&moto.dynamodb, &table).await, expected);

    let (fingerprints, mut keys): (Vec<String>, Vec<String>) =
        record_keys(&moto.s3, &bucket, &format!("runs/{table}/"))
            .await
            .into_iter()
            .partition(|k| k.contains("/fingerprints/"));
    assert!(
        fingerprints.contains(&format!("runs/{table}/fingerprints/pending.json")),
        "each run samples the table: {fingerprints:?}"
    );
    let ledger_key = format!("runs/{table}/daily/2026-11-25.json");
    assert_eq!(keys.pop().as_ref(), Some(&ledger_key), "the day's ledger");
    let ledger = ledger(&moto.s3, &bucket, &ledger_key).await;
    let outcomes: Vec<_> = ledger
        .runs
        .iter()
        .map(|r| (r.request_id.as_str(), r.outcome))
        .collect();
    let ok = backup_lambda::ledger::Outcome::Ok;
    assert_eq!(
        outcomes,
        [
            ("req-0", ok),
            ("req-1", ok),
            ("req-2", ok),
            ("req-3", ok),
            ("req-4", ok)
        ],
        "one line per run, appended through the strict layer's S3"
    );
    assert_eq!(keys.len(), 5, "one record per run: {keys:?}");
    let last = format!("runs/{table}/2026/11/25/070400-req-4.json");
    assert!(keys.contains(&last), "{keys:?}");
    let body = moto
        .s3
        .get_object()
        .bucket(&bucket)
        .key(&last)
        .send()
        .await
        .expect("get record");
    let record: Value = serde_json::from_slice(&body.body.collect().await.unwrap().into_bytes())
        .expect("JSON record");
    assert_eq!(record["table"], table);
    assert_eq!(record["backup_created"]["name"], names[4]);
    assert_eq!(record["kept"], json!([names[4], names[3], names[2]]));
    assert_eq!(record["deleted"][0]["name"], names[1]);
    assert_eq!(record["request_id"], "req-4");
}

#[tokio::test]
async fn runs_in_quick_succession_leave_backups_still_being_made_for_later() {
    let moto = moto().await;
    let (table, bucket) = fresh_table_and_bucket(&moto).await;
    let function = function(&strict().await, &bucket);
    let event = json!({ "TableName": table, "MaxBackups": 1 });
    let first = function
        .handle(&event, &Invocation::new("req-0", START))
        .await
        .expect("first run");
    let second = function
        .handle(
            &event,
            &Invocation::new("req-1", START + time::Duration::minutes(1)),
        )
        .await
        .expect("second run, while the first backup is still CREATING");
    assert_eq!(second.status, RunStatus::Ok);
    assert!(second.deleted.is_empty(), "{:?}", second.deleted);
    assert_eq!(second.still_creating, vec![first.backup_created.name]);
    assert_eq!(backup_names(&moto.dynamodb, &table).await.len(), 2);
}

#[tokio::test]
async fn a_table_made_a_moment_ago_is_backed_up_once_backups_are_enabled() {
    let moto = moto().await;
    let strict = strict().await;
    // Made through the layer, so that it knows the table is new.
    let (table, bucket) = fresh_table_and_bucket(&strict).await;
    let record = function(&strict, &bucket)
        .handle(
            &json!({ "TableName": table }),
            &Invocation::new("req", START),
        )
        .await
        .expect("the run waits until DynamoDB takes backups of the new table");
    assert_eq!(record.status, RunStatus::Ok);
    assert_eq!(
        backup_names(&moto.dynamodb, &table).await,
        vec![record.backup_created.name]
    );
}

#[tokio::test]
async fn a_missing_table_fails_clearly_and_changes_nothing() {
    let moto = moto().await;
    let (_, bucket) = fresh_table_and_bucket(&moto).await;
    let missing = unique_name("NoSuchTable");

    let err = function(&strict().await, &bucket)
        .handle(
            &json!({ "TableName": missing }),
            &Invocation::new("req", START),
        )
        .await
        .expect_err("must fail");
    assert!(matches!(err, RunError::CreateBackup { .. }), "{err}");
    assert!(
        err.to_string()
            .contains(&format!("could not back up table \"{missing}\"")),
        "{err}"
    );
    assert!(err.to_string().contains("TableNotFound"), "{err}");
    assert!(backup_names(&moto.dynamodb, &missing).await.is_empty());
    // No run record (nothing was done), but the failed run is in the day's ledger.
    let keys = record_keys(&moto.s3, &bucket, "runs/").await;
    let ledger_key = format!("runs/{missing}/daily/2026-11-25.json");
    assert_eq!(keys, std::slice::from_ref(&ledger_key));
    let ledger = ledger(&moto.s3, &bucket, &ledger_key).await;
    assert_eq!(
        ledger.runs[0].outcome,
        backup_lambda::ledger::Outcome::Failed
    );
    assert_eq!(ledger.runs[0].backup, None);
}

#[tokio::test]
async fn a_bad_event_fails_clearly_and_changes_nothing() {
    let moto = moto().await;
    let (table, bucket) = fresh_table_and_bucket(&moto).await;

    let function = function(&strict().await, &bucket);
    for event in [
        json!({"Table": table}),
        json!({"TableName": table, "MaxBackups": -1}),
    ] {
        let err = function
            .handle(&event, &Invocation::new("req", START))
            .await
            .expect_err("must fail");
        assert!(matches!(err, RunError::InvalidEvent(_)), "{err}");
    }
    assert!(backup_names(&moto.dynamodb, &table).await.is_empty());
    assert!(
        record_keys(&moto.s3, &bucket, "runs/").await.is_empty(),
        "an invalid event is not a run: no record, no ledger line"
    );
}
