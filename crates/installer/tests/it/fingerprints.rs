//! Fingerprints through the strict layer, in real time: a backup's fingerprint needs a sample
//! read a minute before it and one a minute after (CreateBackup's documented uncertainty), so
//! the function runs three times a minute apart, with backups that hold their table as it was a
//! minute before (the edge of AWS's guarantee). Then a restore and a drill check the data, and a
//! restore that keeps the count but loses values fails, naming an item.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;
use test_support::proxy::Proxy;
use test_support::{config_for, moto_endpoint, unique_name, until_backup_available};

use crate::support::cli::{built_zip_path, installer_at, remove_all};

/// Far enough from a backup's request to say what it holds (a minute, and a little).
const APART: Duration = Duration::from_secs(62);

/// `item` with a new attribute `rated`: a write the fingerprint must see.
fn rated(
    mut item: HashMap<String, AttributeValue>,
    rating: &str,
) -> HashMap<String, AttributeValue> {
    item.insert("rated".to_owned(), AttributeValue::N(rating.to_owned()));
    item
}

/// `installer --output json <args>` through `proxy`: its exit code and JSON document.
fn json(proxy: &Proxy, args: &[&str]) -> (i32, Value) {
    let mut all = vec!["--output", "json"];
    all.extend(args);
    let out = installer_at(proxy.endpoint())
        .args(&all)
        .output()
        .expect("run installer");
    let document = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "installer {args:?}: no JSON document:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), document)
}

#[tokio::test(flavor = "multi_thread")]
async fn restores_and_drills_check_the_data_a_backup_held_and_name_an_item_a_restore_lost() {
    let proxy = Proxy::start(&moto_endpoint(), None);
    proxy.backups_hold_the_minute_before();
    let db = aws_sdk_dynamodb::Client::new(&config_for(proxy.endpoint()).await);
    let (stack, table) = (unique_name("fpr"), unique_name("Movies"));
    let zip = built_zip_path().display().to_string();
    let (code, _) = json(
        &proxy,
        &["up", "--stack", &stack, "--table", &table, "--zip", &zip],
    );
    assert_eq!(code, 0);
    // The sample movies `up` loads, fewer than a sample's hundred.
    let items = db
        .scan()
        .table_name(&table)
        .send()
        .await
        .expect("scan")
        .items
        .unwrap_or_default();
    let n = items.len();
    assert!((3..=60).contains(&n), "{n} sample movies");
    let put = |item: HashMap<String, AttributeValue>| {
        db.put_item().table_name(&table).set_item(Some(item)).send()
    };

    // Three runs a minute apart. Just before the second, one movie is rated: its backup holds
    // the movie unrated (a minute before), though the table read at its request says rated.
    // Just after it, another is rated.
    let invoke = || {
        let (code, run) = json(&proxy, &["invoke", "--stack", &stack]);
        assert_eq!(code, 0, "{run}");
        run["result"].clone()
    };
    let first = invoke();
    assert_eq!(first["fingerprint"]["sampled"], n, "{first}");
    assert_eq!(
        first["fingerprint"]["scheduled"], false,
        "no sample a minute before the first backup"
    );
    tokio::time::sleep(APART).await;
    put(rated(items[0].clone(), "9")).await.expect("put");
    let second = invoke();
    assert_eq!(second["fingerprint"]["scheduled"], true, "{second}");
    let backup = second["backup_created"]["name"]
        .as_str()
        .unwrap()
        .to_owned();
    put(rated(items[1].clone(), "8")).await.expect("put");
    tokio::time::sleep(APART).await;
    let third = invoke();
    assert_eq!(
        third["fingerprint"]["completed"],
        serde_json::json!([backup]),
        "{third}"
    );
    until_backup_available(&db, second["backup_created"]["arn"].as_str().unwrap()).await;

    // The second backup restores with its unchanged sampled items as they were; the two movies
    // rated around it are left out (a fingerprint taken at the request would have the first
    // one rated, and fail here).
    let good = format!("{table}-good");
    let (code, restored) = json(
        &proxy,
        &[
            "restore", "--stack", &stack, "--table", &table, "--backup", &backup, "--to", &good,
        ],
    );
    assert_eq!(code, 0, "{restored}");
    let sample = &restored["verification"]["sample"];
    assert_eq!(sample["checked"], n - 2, "{restored}");
    assert_eq!(sample["matched"], n - 2);

    // A drill picks the newest backup with a fingerprint: the second (the third has none yet).
    let (code, drilled) = json(&proxy, &["drill", "--stack", &stack]);
    assert_eq!(code, 0, "{drilled}");
    assert_eq!(drilled["backup_name"], backup.as_str());
    assert_eq!(
        drilled["verification"]["sample"]["matched"],
        n - 2,
        "{drilled}"
    );

    // A restore that keeps every item but loses their `info`: the count and keys pass, the
    // data does not, and the first fingerprinted item is named.
    proxy.restores_lose("info");
    let bad = format!("{table}-bad");
    let (code, restored) = json(
        &proxy,
        &[
            "restore", "--stack", &stack, "--table", &table, "--backup", &backup, "--to", &bad,
        ],
    );
    assert_eq!(code, 3, "not proven: {restored}");
    let verification = &restored["verification"];
    assert_eq!(verification["restored_items"], n, "the count alone passes");
    assert_eq!(verification["keys_match"], true);
    let difference = &verification["sample"]["first_difference"];
    assert_eq!(difference["kind"], "changed", "{restored}");
    let key: Value = serde_json::from_str(difference["key"].as_str().unwrap()).unwrap();
    assert!(key["title"].is_string() && key["year"].is_number(), "{key}");
    assert!(
        verification["sample"]["matched"].as_u64() < sample["matched"].as_u64(),
        "{restored}"
    );

    let (code, _) = json(&proxy, &remove_all(&stack));
    assert_eq!(code, 0);
    for scratch in [&good, &bad] {
        let _ = db.delete_table().table_name(scratch).send().await;
    }
}
