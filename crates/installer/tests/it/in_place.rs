//! `restore --in-place` through the strict layer: a table with every setting a restore drops is
//! swapped for its backup under its own name, the installer killed after every second write and
//! run again until it finishes; the data is the backup's, the settings are the table's, the
//! backup made first exists once, and the same command run once more swaps nothing. A protected table is refused without
//! --disable-deletion-protection, before any write.

use std::collections::HashMap;
use std::process::Stdio;
use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeValue, ContributorInsightsAction, StreamSpecification, StreamViewType, Tag,
    TimeToLiveSpecification,
};
use serde_json::Value;
use test_support::proxy::Proxy;
use test_support::{config_for, moto_endpoint, unique_name, until_backup_available};

use crate::support::cli::{built_zip_path, installer_at, remove_all};

type Item = HashMap<String, AttributeValue>;

/// `installer --output json <args>` through `proxy`, run to its end: exit code, stdout, stderr.
fn run(proxy: &Proxy, args: &[&str]) -> (i32, String, String) {
    let out = installer_at(proxy.endpoint())
        .args(["--output", "json"])
        .args(args)
        .output()
        .expect("run installer");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The key attributes of `item`.
fn key(item: &Item) -> Item {
    item.iter()
        .filter(|(name, _)| *name == "year" || *name == "title")
        .map(|(n, v)| (n.clone(), v.clone()))
        .collect()
}

/// Whether `arn` is listed with the tag `team=catalog` within 30 s (tags are listed a while
/// after TagResource: the strict layer's eventual consistency).
async fn tagged(db: &aws_sdk_dynamodb::Client, arn: &str) -> bool {
    for _ in 0..60 {
        // Every page (the strict layer answers one tag a page).
        let mut next: Option<String> = None;
        loop {
            let page = db
                .list_tags_of_resource()
                .resource_arn(arn)
                .set_next_token(next.take())
                .send()
                .await
                .unwrap();
            if page
                .tags()
                .iter()
                .any(|t| t.key() == "team" && t.value() == "catalog")
            {
                return true;
            }
            match page.next_token {
                Some(token) => next = Some(token),
                None => break,
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread")]
async fn a_table_swapped_for_its_backup_keeps_its_name_and_settings_through_kills() {
    let proxy = Proxy::start(&moto_endpoint(), None);
    let db = aws_sdk_dynamodb::Client::new(&config_for(proxy.endpoint()).await);
    let s3 = aws_sdk_s3::Client::new(&config_for(proxy.endpoint()).await);
    let (stack, table) = (unique_name("inp"), unique_name("Movies"));
    let zip = built_zip_path().display().to_string();
    let up = [
        "up",
        "--stack",
        &stack,
        "--table",
        &table,
        "--zip",
        &zip,
        "--pitr-days",
        "7",
    ];
    let (code, _, stderr) = run(&proxy, &up);
    assert_eq!(code, 0, "{stderr}");
    let items = db
        .scan()
        .table_name(&table)
        .send()
        .await
        .expect("scan")
        .items
        .unwrap_or_default();
    let n = items.len();
    assert!(n >= 2, "{n} sample movies");

    // Everything a restore drops, set on the table.
    let arn = format!("arn:aws:dynamodb:us-east-1:123456789012:table/{table}");
    db.update_time_to_live()
        .table_name(&table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name("expires")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("TTL");
    db.tag_resource()
        .resource_arn(&arn)
        .tags(Tag::builder().key("team").value("catalog").build().unwrap())
        .send()
        .await
        .expect("tag");
    assert!(tagged(&db, &arn).await, "listed before the swap reads them");
    db.update_table()
        .table_name(&table)
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewAndOldImages)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("stream");
    db.update_table()
        .table_name(&table)
        .deletion_protection_enabled(true)
        .send()
        .await
        .expect("deletion protection");
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
            "Action": "dynamodb:GetItem",
            "Resource": arn,
        }]
    })
    .to_string();
    db.put_resource_policy()
        .resource_arn(&arn)
        .policy(&policy)
        .send()
        .await
        .expect("policy");
    db.update_contributor_insights()
        .table_name(&table)
        .contributor_insights_action(ContributorInsightsAction::Enable)
        .send()
        .await
        .expect("contributor insights");

    // The backup, then the bad writes: a movie deleted and another changed.
    let (code, invoked, stderr) = run(&proxy, &["invoke", "--stack", &stack]);
    assert_eq!(code, 0, "{stderr}");
    let invoked: Value = serde_json::from_str(&invoked).unwrap();
    let backup = invoked["result"]["backup_created"]["name"]
        .as_str()
        .unwrap()
        .to_owned();
    until_backup_available(
        &db,
        invoked["result"]["backup_created"]["arn"].as_str().unwrap(),
    )
    .await;
    db.delete_item()
        .table_name(&table)
        .set_key(Some(key(&items[0])))
        .send()
        .await
        .expect("delete");
    let mut changed = items[1].clone();
    changed.insert("rating".to_owned(), AttributeValue::N("1".to_owned()));
    db.put_item()
        .table_name(&table)
        .set_item(Some(changed))
        .send()
        .await
        .expect("put");

    let swap = [
        "restore",
        "--stack",
        &stack,
        "--table",
        &table,
        "--in-place",
        "--yes",
    ];
    // Protected: refused in one line, nothing written.
    let writes = proxy.calls().len();
    let (code, _, stderr) = run(&proxy, &swap);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("--disable-deletion-protection"), "{stderr}");
    assert!(
        proxy.calls()[writes..].iter().all(|c| !c.call.mutating),
        "no write before the refusal"
    );

    // Killed after every second write, and run again until it finishes.
    let mut swap = swap.to_vec();
    swap.push("--disable-deletion-protection");
    let mut runs = 0;
    let done: Value = loop {
        runs += 1;
        assert!(runs < 30, "the swap never finished");
        proxy.hold_after_writes(2);
        let mut child = installer_at(proxy.endpoint())
            .args(["--output", "json"])
            .args(&swap)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start installer");
        let finished = loop {
            if proxy.wait_until_holding(Duration::from_millis(200)) {
                break None;
            }
            if let Some(status) = child.try_wait().expect("status") {
                break Some(status);
            }
        };
        if let Some(status) = finished {
            proxy.release();
            let mut stdout = String::new();
            let mut stderr = String::new();
            std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut stdout).unwrap();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
            assert!(status.success(), "run {runs}: {stderr}");
            break serde_json::from_str(&stdout).expect("JSON");
        }
        let _ = child.kill();
        let _ = child.wait();
        proxy.release();
    };
    assert!(
        runs > 4,
        "the swap was interrupted at several steps ({runs} runs)"
    );
    assert_eq!(done["command"], "restore-in-place");
    assert_eq!(done["verified"], true, "{done}");
    assert_eq!(done["resumed"], true);
    assert_eq!(done["from"]["backup"]["name"], backup.as_str());
    let before = done["backup_before"]
        .as_str()
        .expect("a backup first")
        .to_owned();

    // The data is the backup's.
    let count = db.scan().table_name(&table).send().await.unwrap().count();
    assert_eq!(usize::try_from(count).unwrap(), n);
    for item in &items[..2] {
        let now = db
            .get_item()
            .table_name(&table)
            .set_key(Some(key(item)))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
            .expect("the item is back");
        assert_eq!(&now, item, "as the backup holds it");
    }

    // The settings are the table's.
    let described = db.describe_table().table_name(&table).send().await.unwrap();
    let t = described.table().unwrap();
    assert_eq!(t.deletion_protection_enabled(), Some(true));
    let stream = t.stream_specification().expect("a stream");
    assert!(stream.stream_enabled());
    assert_eq!(
        stream.stream_view_type(),
        Some(&StreamViewType::NewAndOldImages)
    );
    let ttl = db
        .describe_time_to_live()
        .table_name(&table)
        .send()
        .await
        .unwrap();
    assert_eq!(
        ttl.time_to_live_description()
            .and_then(|d| d.attribute_name()),
        Some("expires")
    );
    let pitr = db
        .describe_continuous_backups()
        .table_name(&table)
        .send()
        .await
        .unwrap();
    let pitr = pitr
        .continuous_backups_description()
        .and_then(|d| d.point_in_time_recovery_description())
        .expect("point-in-time recovery");
    assert_eq!(pitr.recovery_period_in_days(), Some(7));
    assert!(tagged(&db, &arn).await, "the table's tags are put back");
    let kept = db
        .get_resource_policy()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(kept.policy(), Some(policy.as_str()));
    let insights = db
        .describe_contributor_insights()
        .table_name(&table)
        .send()
        .await
        .unwrap();
    assert_eq!(
        insights.contributor_insights_status().map(|s| s.as_str()),
        Some("ENABLED"),
        "re-enabled after the delete dropped it"
    );
    assert!(
        done["not_carried"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l.as_str().unwrap().contains("stream's consumers")),
        "{done}"
    );

    // The backup made first exists, once, and the journal is gone.
    let names = test_support::backup_names(&db, &table).await;
    assert_eq!(
        names.len(),
        2,
        "the backup restored and one made first: {names:?}"
    );
    assert!(
        names.contains(&before) && names.contains(&backup),
        "{names:?}"
    );
    let bucket = format!("{stack}-logs-123456789012-us-east-1");
    let journal = s3
        .get_object()
        .bucket(&bucket)
        .key(format!("restores/{table}/in-place.json"))
        .send()
        .await
        .expect("the journal stays");
    let journal: Value =
        serde_json::from_slice(&journal.body.collect().await.unwrap().into_bytes()).unwrap();
    assert!(journal["finished_at"].is_string(), "{journal}");

    // The same command again (its answer lost, say) only checks the table: no second swap,
    // which would restore the newest backup, the one made first.
    let calls = proxy.calls().len();
    let (code, again, stderr) = run(&proxy, &swap);
    assert_eq!(code, 0, "{stderr}");
    let again: Value = serde_json::from_str(&again).unwrap();
    assert_eq!(again["verified"], true);
    assert_eq!(again["from"]["backup"]["name"], backup.as_str());
    let destructive = ["DeleteTable", "RestoreTableFromBackup", "CreateBackup"];
    assert!(
        proxy.calls()[calls..]
            .iter()
            .all(|c| !destructive.contains(&c.call.operation.as_str())),
        "nothing deleted, restored or backed up again"
    );

    db.update_table()
        .table_name(&table)
        .deletion_protection_enabled(false)
        .send()
        .await
        .expect("unprotect");
    let (code, _, stderr) = run(&proxy, &remove_all(&stack));
    assert_eq!(code, 0, "{stderr}");
}
