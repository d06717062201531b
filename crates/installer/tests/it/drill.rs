//! Restore drills through the strict layer, with restored tables CREATING for 8 s and the
//! function's timeout at 10 s, so that a drill outlasts the run that starts it: the function
//! starts a drill, a later run verifies, records it and deletes its scratch table; a drill whose
//! table is not ACTIVE in time is recorded as failed and cleaned up later; `down` ends a drill
//! under way; `installer drill` runs one now with the same code.

use std::process::Output;
use std::time::Duration;

use crate::support::aws::{clients, leftovers};
use crate::support::cli::{built_zip_path, installer_at, remove_all};
use serde_json::Value;
use test_support::proxy::Proxy;
use test_support::strict::{Strict, Windows};
use test_support::{config_for, moto_endpoint, unique_name};

/// A strict proxy whose restores take 8 s.
fn slow_restores() -> Proxy {
    let windows = Windows {
        restore_creating: Duration::from_secs(8),
        ..Windows::default()
    };
    Proxy::with(&moto_endpoint(), None, Some(Strict::aws(windows)))
}

/// One stack on one table, driven through `proxy`.
struct Stack<'a> {
    proxy: &'a Proxy,
    stack: String,
    table: String,
    zip: String,
}

impl<'a> Stack<'a> {
    fn new(proxy: &'a Proxy) -> Self {
        Self {
            proxy,
            stack: unique_name("drl"),
            table: unique_name("Movies"),
            zip: built_zip_path().display().to_string(),
        }
    }

    /// `installer <command>`: `up` with the stack's table and zip, any other command with
    /// `--stack` alone.
    fn run(&self, command: &str, extra: &[&str]) -> Output {
        let mut args = vec![command, "--stack", &self.stack];
        if command == "up" {
            args.extend(["--table", &self.table, "--zip", &self.zip]);
        }
        args.extend(extra);
        installer_at(self.proxy.endpoint())
            .args(&args)
            .output()
            .expect("run installer")
    }

    fn ok(&self, command: &str, extra: &[&str]) -> String {
        let out = self.run(command, extra);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            out.status.success(),
            "installer {command} failed:\n{stderr}"
        );
        // What a person reads: the result (stdout), then the report.
        String::from_utf8_lossy(&out.stdout).into_owned() + &stderr
    }

    /// `invoke`: the function's result, with its `drill` step.
    fn invoke(&self) -> Value {
        let out = self.run("invoke", &[]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("the function's JSON result")
    }

    fn strict_dynamodb(&self) -> impl Future<Output = aws_sdk_dynamodb::Client> {
        let endpoint = self.proxy.endpoint().to_owned();
        async move { aws_sdk_dynamodb::Client::new(&config_for(&endpoint).await) }
    }

    /// Waits until the backup `arn` is AVAILABLE, as the layer tells it.
    async fn until_available(&self, arn: &str) {
        test_support::until_backup_available(&self.strict_dynamodb().await, arn).await;
    }

    /// Waits until `table` is ACTIVE, as the layer tells it.
    async fn until_active(&self, table: &str) {
        let db = self.strict_dynamodb().await;
        for _ in 0..200 {
            let out = db.describe_table().table_name(table).send().await.unwrap();
            if out
                .table()
                .and_then(|t| t.table_status())
                .map(|s| s.as_str())
                == Some("ACTIVE")
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("table {table} never became ACTIVE");
    }

    /// A first run (its backup is still CREATING, so no drill yet), then waits for the backup.
    async fn first_backup(&self) {
        let first = self.invoke();
        assert!(
            first["drill"].is_null() || first["drill"]["state"] == "idle",
            "drills off, or no AVAILABLE backup to drill yet: {first}"
        );
        self.until_available(first["backup_created"]["arn"].as_str().unwrap())
            .await;
    }

    async fn table_exists(&self, table: &str) -> bool {
        let aws = clients().await;
        aws.dynamodb
            .describe_table()
            .table_name(table)
            .send()
            .await
            .is_ok()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_drill_interrupted_between_restore_and_verify_is_finished_by_the_next_run() {
    let proxy = slow_restores();
    let s = Stack::new(&proxy);
    s.ok("up", &["--drill-every", "1m", "--timeout", "10"]);
    s.first_backup().await;

    // The run starts the drill; its restore outlasts the run.
    let started = s.invoke();
    assert_eq!(started["drill"]["state"], "waiting", "{started}");
    let scratch = started["drill"]["drill"]["scratch"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        scratch.starts_with(&format!("{}-drill-", s.table)),
        "{scratch}"
    );
    assert!(s.table_exists(&scratch).await);

    // A later run finds it ACTIVE: verifies, records, deletes the scratch table.
    s.until_active(&scratch).await;
    let finished = s.invoke();
    let record = &finished["drill"]["record"];
    assert_eq!(finished["drill"]["state"], "finished", "{finished}");
    assert_eq!(record["verdict"], "passed", "{record}");
    assert_eq!(record["recovery_upper_bound"], true);
    // The backup's ItemCount is stale (the strict layer serves CreateTable's 0, as DynamoDB
    // refreshes it only about every six hours): reported, and the drill passes all the same.
    assert_eq!(record["verification"]["restored_items"], 30, "{record}");
    assert_eq!(record["verification"]["expected_items"], 0, "{record}");
    assert_eq!(record["verification"]["count_source"], "approximate");
    assert!(!s.table_exists(&scratch).await, "the scratch table is gone");

    // Not due again for a minute: the next run leaves drills alone.
    let next = s.invoke();
    assert_eq!(next["drill"]["state"], "idle", "{next}");
    let status = s.ok("status", &[]);
    assert!(
        status.contains(&format!("last drill of {}: passed", s.table)),
        "{status}"
    );
    s.ok("down", &["--yes", "--delete-data"]);
    assert_eq!(
        leftovers(&clients().await, &s.stack, &s.table).await,
        Vec::<&str>::new()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_drill_not_active_in_time_is_recorded_as_failed_and_cleaned_up_later() {
    let proxy = slow_restores();
    let s = Stack::new(&proxy);
    s.ok(
        "up",
        &[
            "--drill-every",
            "1m",
            "--drill-timeout",
            "1s",
            "--timeout",
            "10",
        ],
    );
    s.first_backup().await;
    let failed = s.invoke();
    let record = &failed["drill"]["record"];
    assert_eq!(failed["drill"]["state"], "finished", "{failed}");
    assert_eq!(record["verdict"], "failed", "{record}");
    assert!(
        record["reason"]
            .as_str()
            .unwrap()
            .contains("not ACTIVE within 1 s"),
        "{record}"
    );
    // Its table was still CREATING, which DynamoDB does not delete: a later run does.
    let scratch = record["scratch"].as_str().unwrap().to_owned();
    s.until_active(&scratch).await;
    let cleaned = s.invoke();
    assert_eq!(cleaned["drill"]["state"], "idle", "{cleaned}");
    assert!(!s.table_exists(&scratch).await, "the scratch table is gone");
    s.ok("down", &["--yes", "--delete-data"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn down_ends_a_drill_under_way() {
    let proxy = slow_restores();
    let s = Stack::new(&proxy);
    s.ok("up", &["--drill-every", "1m", "--timeout", "10"]);
    s.first_backup().await;
    let started = s.invoke();
    let scratch = started["drill"]["drill"]["scratch"]
        .as_str()
        .unwrap()
        .to_owned();
    let down = s.ok("down", &["--yes", "--delete-data"]);
    assert!(down.contains(&format!("deleted {scratch}")), "{down}");
    assert!(!s.table_exists(&scratch).await);
    assert_eq!(
        leftovers(&clients().await, &s.stack, &s.table).await,
        Vec::<&str>::new()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn installer_drill_runs_one_now_and_times_the_recovery() {
    let proxy = slow_restores();
    let s = Stack::new(&proxy);
    s.ok("up", &[]);
    s.first_backup().await;
    let out = installer_at(proxy.endpoint())
        .args([
            "--output", "json", "drill", "--stack", &s.stack, "--table", &s.table,
        ])
        .output()
        .expect("run installer");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let record: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    crate::support::schema::assert_valid(&record);
    assert_eq!(record["command"], "drill");
    assert_eq!(record["verdict"], "passed", "{record}");
    assert_eq!(
        record["recovery_upper_bound"], false,
        "watched to ACTIVE: {record}"
    );
    let seconds = record["recovery_seconds"].as_u64().unwrap();
    assert!(
        (7..=30).contains(&seconds),
        "an 8 s restore took {seconds} s"
    );
    assert!(!s.table_exists(record["scratch"].as_str().unwrap()).await);

    // A drill whose restore outlasts its timeout fails, and says so by its exit status (3, as a
    // missed objective): a cron job or CI step that runs `installer drill` sees the failure.
    let out = installer_at(proxy.endpoint())
        .args([
            "--output",
            "json",
            "drill",
            "--stack",
            &s.stack,
            "--table",
            &s.table,
            "--drill-timeout",
            "2s",
        ])
        .output()
        .expect("run installer");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    let record: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    crate::support::schema::assert_valid(&record);
    assert_eq!(record["verdict"], "failed", "{record}");
    assert!(
        stderr.contains(&format!("the drill of {} failed: ", s.table)),
        "{stderr}"
    );
    s.ok("down", &["--yes", "--delete-data"]);
}

/// A table encrypted with a customer managed KMS key: restoring its backups (and exporting it)
/// needs the key, so with drills on the role may use it, through DynamoDB only; a second `up`
/// changes nothing.
#[tokio::test(flavor = "multi_thread")]
async fn drills_of_a_table_with_its_own_kms_key_may_use_the_key() {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
        SseSpecification, SseType,
    };
    let aws = clients().await;
    let stack = unique_name("kms");
    let table = unique_name("Sealed");
    let key = "arn:aws:kms:us-east-1:123456789012:key/0b1c2d3e-cmk";
    aws.dynamodb
        .create_table()
        .table_name(&table)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("id")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("id")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .sse_specification(
            SseSpecification::builder()
                .enabled(true)
                .sse_type(SseType::Kms)
                .kms_master_key_id(key)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let zip = built_zip_path().display().to_string();
    let up = [
        "up",
        "--stack",
        stack.as_str(),
        "--table",
        table.as_str(),
        "--zip",
        zip.as_str(),
        "--drill-every",
        "7d",
    ];
    let run = |args: &[&str]| {
        let out = installer_at(&test_support::aws_endpoint())
            .args(args)
            .output()
            .expect("run installer");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{args:?}: {stderr}");
        stderr
    };
    run(&up);
    let statements = crate::support::aws::role_statements(&aws, &stack).await;
    let statement = statements
        .iter()
        .find(|s| s["Sid"] == "UseTheTablesKmsKeysThroughDynamoDb")
        .unwrap_or_else(|| panic!("a statement for the table's key: {statements:?}"))
        .clone();
    assert_eq!(statement["Resource"], key);
    assert_eq!(
        statement["Condition"]["StringEquals"]["kms:ViaService"],
        "dynamodb.us-east-1.amazonaws.com"
    );
    let again = run(&up);
    assert!(again.contains("no changes"), "{again}");
    run(&remove_all(&stack));
    aws.dynamodb
        .delete_table()
        .table_name(&table)
        .send()
        .await
        .unwrap();
}
