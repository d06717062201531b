//! `installer load-data` against moto: a generated file in AWS's published movie format with
//! thousands of items, its zip form, exact decimals, and each kind of bad record.

use std::io::Write;
use std::path::Path;

use crate::support::cli::{installer, installer_ok};
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Value, json};
use test_support::{count_items, create_movies_table, moto_config, unique_name};

/// `count` movies in the published format: nested info with lists, decimals and whole numbers,
/// and optional fields left out now and then.
fn movies(count: usize) -> Value {
    let movies: Vec<Value> = (0..count)
        .map(|i| {
            let mut info = json!({
                "directors": [format!("Director {}", i % 97)],
                "release_date": format!("{}-01-01T00:00:00Z", 1920 + i % 100),
                "genres": ["Drama", "Comedy"],
                "rank": i + 1,
                "running_time_secs": 5400 + i,
                "actors": [format!("Actor {i}"), format!("Actor {}", i + 1)],
            });
            if i % 4 != 0 {
                // 7.3-style decimals, and every tenth one a whole number.
                let rating: Value = if i % 10 == 0 {
                    json!(i % 10)
                } else {
                    serde_json::from_str(&format!("{}.{}", i % 9 + 1, i % 10)).unwrap()
                };
                info["rating"] = rating;
            }
            if i % 3 != 0 {
                info["plot"] = json!(format!("Plot number {i}."));
            }
            json!({"year": 1920 + i % 100, "title": format!("Movie {i}"), "info": info})
        })
        .collect();
    Value::Array(movies)
}

/// A file holding `bytes` whose name ends in `name`, removed when dropped.
fn temp_file(name: &str, bytes: &[u8]) -> tempfile::TempPath {
    let mut file = tempfile::Builder::new()
        .suffix(&format!("-{name}"))
        .tempfile()
        .unwrap();
    file.write_all(bytes).unwrap();
    file.into_temp_path()
}

async fn get(
    db: &aws_sdk_dynamodb::Client,
    table: &str,
    year: i64,
    title: &str,
) -> std::collections::HashMap<String, AttributeValue> {
    db.get_item()
        .table_name(table)
        .key("year", AttributeValue::N(year.to_string()))
        .key("title", AttributeValue::S(title.to_owned()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap_or_else(|| panic!("{year} {title} was loaded"))
}

fn load(table: &str, file: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "load-data",
        "--table",
        table,
        "--file",
        file.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    installer(&args)
}

#[tokio::test]
async fn thousands_of_movies_load_with_exact_numbers_from_json_and_zip() {
    let db = aws_sdk_dynamodb::Client::new(&moto_config().await);
    let table = unique_name("Movies");
    create_movies_table(&db, &table).await;
    let data = serde_json::to_vec(&movies(4321)).unwrap();
    let file = temp_file("movies.json", &data);

    let report = installer_ok(&[
        "load-data",
        "--table",
        &table,
        "--file",
        file.to_str().unwrap(),
    ]);
    assert!(report.contains("loaded 4321 item(s)"), "{report}");
    assert_eq!(count_items(&db, &table).await, 4321);

    let item = get(&db, &table, 1921, "Movie 1").await;
    let AttributeValue::M(info) = &item["info"] else {
        panic!("info is a map")
    };
    assert_eq!(info["rating"], AttributeValue::N("2.1".into()));
    assert_eq!(info["rank"], AttributeValue::N("2".into()));
    assert_eq!(info["plot"], AttributeValue::S("Plot number 1.".into()));
    assert_eq!(
        info["actors"],
        AttributeValue::L(vec![
            AttributeValue::S("Actor 1".into()),
            AttributeValue::S("Actor 2".into())
        ])
    );
    let item = get(&db, &table, 1927, "Movie 7").await;
    let AttributeValue::M(info) = &item["info"] else {
        panic!("info is a map")
    };
    assert_eq!(info["rating"], AttributeValue::N("8.7".into()));
    let item = get(&db, &table, 1930, "Movie 10").await;
    let AttributeValue::M(info) = &item["info"] else {
        panic!("info is a map")
    };
    assert_eq!(
        info["rating"],
        AttributeValue::N("0".into()),
        "whole numbers stay whole"
    );
    let item = get(&db, &table, 1920, "Movie 0").await;
    let AttributeValue::M(info) = &item["info"] else {
        panic!("info is a map")
    };
    assert!(
        !info.contains_key("rating") && !info.contains_key("plot"),
        "missing fields stay missing"
    );

    // The zip AWS publishes, into a second table.
    let zipped = unique_name("Movies");
    create_movies_table(&db, &zipped).await;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zip.start_file("moviedata.json", zip::write::SimpleFileOptions::default())
        .unwrap();
    zip.write_all(&data).unwrap();
    let zip_file = temp_file("moviedata.zip", &zip.finish().unwrap().into_inner());
    installer_ok(&[
        "load-data",
        "--table",
        &zipped,
        "--file",
        zip_file.to_str().unwrap(),
    ]);
    assert_eq!(count_items(&db, &zipped).await, 4321);
}

#[tokio::test]
async fn bad_records_are_named_and_skipped_or_rejected_as_a_whole() {
    let db = aws_sdk_dynamodb::Client::new(&moto_config().await);
    let table = unique_name("Movies");
    create_movies_table(&db, &table).await;
    let data = json!([
        {"year": 2013, "title": "Rush", "info": {"rating": 8.3}},
        {"title": "No Year"},
        {"year": 2013, "title": 42},
        {"year": 2013, "title": "Rush"},
        "not a movie",
        {"year": 2014, "title": "Whiplash"}
    ]);
    let file = temp_file("bad.json", data.to_string().as_bytes());

    let rejected = load(&table, &file, &["--on-bad-record", "reject"]);
    let stderr = String::from_utf8_lossy(&rejected.stderr);
    assert!(!rejected.status.success());
    assert!(
        stderr.contains("4 bad record(s), the first: record 1"),
        "{stderr}"
    );
    assert_eq!(count_items(&db, &table).await, 0, "nothing loaded");

    let skipped = load(&table, &file, &[]);
    let stderr = String::from_utf8_lossy(&skipped.stderr);
    assert!(skipped.status.success(), "{stderr}");
    for line in [
        "record 1: \"year\" is missing",
        "record 2: \"title\" is missing or not a non-empty string",
        "record 3: same year and title as record 0",
        "record 4: not a JSON object",
        "loaded 2 item(s)",
        "skipped 4 bad record(s)",
    ] {
        assert!(stderr.contains(line), "{line:?} not in {stderr}");
    }
    assert_eq!(count_items(&db, &table).await, 2);
}

#[tokio::test]
async fn malformed_json_names_the_place_and_loads_nothing() {
    let db = aws_sdk_dynamodb::Client::new(&moto_config().await);
    let table = unique_name("Movies");
    create_movies_table(&db, &table).await;
    let file = temp_file(
        "broken.json",
        b"[\n {\"year\": 2013, \"title\": \"Rush\"},\n {\"year\": 2014 \"title\": \"x\"}\n]",
    );
    let out = load(&table, &file, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("broken.json:3:16: malformed JSON"),
        "{stderr}"
    );
    assert_eq!(count_items(&db, &table).await, 0);
}
