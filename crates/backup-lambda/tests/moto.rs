//! The function against moto's DynamoDB and S3 over real HTTP (`MOTO_ENDPOINT`, set by
//! `make test`): five scheduled runs, a missing table and a bad event.

use backup_lambda::request::Settings;
use backup_lambda::run::{BackupFunction, Invocation, RunError, RunStatus};
use backup_lambda::store::{DynamoDbBackups, S3Records};
use serde_json::{Value, json};
use test_support::{backup_names, create_movies_table, moto_config, unique_name};
use time::OffsetDateTime;
use time::macros::datetime;

const START: OffsetDateTime = datetime!(2026-11-25 07:00:00 UTC);

struct Moto {
    dynamodb: aws_sdk_dynamodb::Client,
    s3: aws_sdk_s3::Client,
}

async fn moto() -> Moto {
    let config = moto_config().await;
    Moto {
        dynamodb: aws_sdk_dynamodb::Client::new(&config),
        s3: aws_sdk_s3::Client::new(&config),
    }
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

/// A new Movies-shaped table and log bucket: (table, bucket).
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

fn function(moto: &Moto, bucket: &str) -> BackupFunction<DynamoDbBackups, S3Records> {
    let settings = Settings::from_vars(|name| (name == "LOG_BUCKET").then(|| bucket.to_owned()))
        .expect("valid settings");
    BackupFunction::new(
        DynamoDbBackups::new(moto.dynamodb.clone()),
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

    let function = function(&moto, &bucket);
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

    let keys = record_keys(&moto.s3, &bucket, &format!("runs/{table}/")).await;
    assert_eq!(keys.len(), 5, "{keys:?}");
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
async fn a_missing_table_fails_clearly_and_changes_nothing() {
    let moto = moto().await;
    let (_, bucket) = fresh_table_and_bucket(&moto).await;
    let missing = unique_name("NoSuchTable");

    let err = function(&moto, &bucket)
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
    assert!(record_keys(&moto.s3, &bucket, "runs/").await.is_empty());
}

#[tokio::test]
async fn a_bad_event_fails_clearly_and_changes_nothing() {
    let moto = moto().await;
    let (table, bucket) = fresh_table_and_bucket(&moto).await;

    let function = function(&moto, &bucket);
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
    assert!(record_keys(&moto.s3, &bucket, "runs/").await.is_empty());
}
