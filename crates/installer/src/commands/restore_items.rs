//! `installer restore --items KEYS`: single items as a backup or an export holds them. A backup
//! is restored into a scratch table (DynamoDB restores only whole tables), the items are read
//! from it by key (BatchGetItem), and the scratch table is deleted; an export (`--from-export`)
//! is read by its manifests, its data files streamed. Then the items go to a JSON Lines file
//! (`--to-file`), or back into the table: those deleted since, each put only if it is still
//! absent; those changed since only with `--overwrite`, after a backup of the table.

use std::collections::{HashMap, HashSet};
use std::io::Write as _;

use aws_sdk_dynamodb::types::{AttributeValue, ScalarAttributeType};
use backup_lambda::naming::TableName;
use backup_lambda::tables::{DynamoDbTables, Tables};

use crate::data::dynamodb_json::Item;
use serde_json::Value;

use super::CommandError;
use super::restore::{Request, RestoreArgs, chosen};
use super::summary::{ItemsRestored, RestoredFrom};
use crate::aws::{Aws, AwsResult, ConnectArgs};
use crate::data::dynamodb_json::{self, plain_item};
use crate::export_files::{ExportFilesError, Location};
use crate::items::{by_key, key_id, key_of, same, shape};
use crate::recovery::wait_active;
use crate::report::progress::Progress;

/// The keys asked for, as given in a JSON Lines file (`file`) and `--key` flags (`given`): each
/// a JSON object of attribute names to plain values.
pub(super) fn keys(
    file: Option<&std::path::Path>,
    flags: &[String],
) -> Result<Vec<serde_json::Map<String, Value>>, CommandError> {
    let mut keys = Vec::new();
    if let Some(path) = file {
        let text = std::fs::read_to_string(path).map_err(|source| CommandError::KeysRead {
            path: path.to_owned(),
            source,
        })?;
        for (n, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            match serde_json::from_str::<Value>(line) {
                Ok(Value::Object(key)) => keys.push(key),
                _ => {
                    return Err(CommandError::BadKey {
                        at: format!("{}:{}", path.display(), n + 1),
                        why: "not a JSON object such as {\"year\": 2013, \"title\": \"Rush\"}"
                            .to_owned(),
                    });
                }
            }
        }
    }
    for given in flags {
        let mut key = serde_json::Map::new();
        for pair in given.split(',') {
            let Some((name, value)) = pair.split_once('=') else {
                return Err(CommandError::BadKey {
                    at: format!("--key {given}"),
                    why: "use NAME=VALUE pairs, e.g. --key year=2013,title=Rush".to_owned(),
                });
            };
            key.insert(name.trim().to_owned(), Value::String(value.to_owned()));
        }
        keys.push(key);
    }
    if keys.is_empty() {
        return Err(CommandError::BadKey {
            at: "--items".to_owned(),
            why: "no key given".to_owned(),
        });
    }
    Ok(keys)
}

/// A key in DynamoDB's types, by the table's key schema: each key attribute present, of its
/// type (a number may be given as a string, as `--key` gives it), and nothing else.
pub(super) fn typed(
    key: &serde_json::Map<String, Value>,
    schema: &[(String, ScalarAttributeType)],
    at: &str,
) -> Result<std::collections::HashMap<String, AttributeValue>, CommandError> {
    let expected = || {
        schema
            .iter()
            .map(|(n, t)| format!("{n} ({})", t.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let bad = |why: String| CommandError::BadKey {
        at: at.to_owned(),
        why,
    };
    if key.len() != schema.len() || schema.iter().any(|(n, _)| !key.contains_key(n)) {
        return Err(bad(format!("the table's key is {}", expected())));
    }
    let mut typed = std::collections::HashMap::new();
    for (name, kind) in schema {
        let value = &key[name];
        let attribute = match (kind, value) {
            (ScalarAttributeType::S, Value::String(s)) => AttributeValue::S(s.clone()),
            (ScalarAttributeType::N, Value::Number(n)) => AttributeValue::N(n.to_string()),
            (ScalarAttributeType::N, Value::String(s))
                if s.parse::<f64>().is_ok_and(f64::is_finite) =>
            {
                AttributeValue::N(s.clone())
            }
            (ScalarAttributeType::B, Value::String(s)) => {
                use base64::Engine as _;
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(s)
                    .map_err(|_| bad(format!("{name} is binary: give it in base64")))?;
                AttributeValue::B(bytes.into())
            }
            _ => {
                return Err(bad(format!(
                    "{name} must be of type {} (the table's key is {})",
                    kind.as_str(),
                    expected()
                )));
            }
        };
        typed.insert(name.clone(), attribute);
    }
    Ok(typed)
}

/// `restore --items`: the items `args` names, as the chosen backup or export holds them, into
/// `--to-file` or back into the table.
pub(super) async fn restore_items(
    args: &RestoreArgs,
    connect: &ConnectArgs,
) -> Result<ItemsRestored, CommandError> {
    let asked = keys(args.items.as_deref(), &args.keys)?;
    if let Some(out) = &args.to_file
        && let Some(dir) = out.parent().filter(|p| !p.as_os_str().is_empty())
        && !dir.is_dir()
    {
        return Err(CommandError::KeysWrite {
            path: out.clone(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "its folder does not exist"),
        });
    }
    let source = TableName::parse(args.table.trim())?;
    let stamp = time::OffsetDateTime::now_utc().unix_timestamp();
    let scratch =
        TableName::parse(&scratch_name(source.as_str(), stamp)).map_err(CommandError::Target)?;
    let request = Request::from_backup(args, &source, &scratch)?;
    let aws = Aws::connect(connect).await?;
    let shape = shape(&aws.dynamodb, &source)
        .await?
        .ok_or_else(|| CommandError::NoSource(source.to_string()))?;
    let typed_keys = asked
        .iter()
        .enumerate()
        .map(|(n, key)| typed(key, &shape.key, &format!("key {}", n + 1)))
        .collect::<Result<Vec<_>, _>>()?;
    // A key given twice (however its numbers are written) is asked for once: BatchGetItem
    // refuses a request with repeated keys, after the scratch table's restore.
    let mut seen = HashSet::new();
    let (asked, typed_keys): (Vec<_>, Vec<_>) = asked
        .into_iter()
        .zip(typed_keys)
        .filter(|(_, typed)| seen.insert(key_id(typed)))
        .unzip();
    let mut done = ItemsRestored {
        table: source.to_string(),
        backup: None,
        export: None,
        scratch: None,
        file: args.to_file.clone(),
        written: 0,
        missing: Vec::new(),
        unchanged: Vec::new(),
        skipped: Vec::new(),
        backup_before: None,
    };
    let found = match &args.from_export {
        Some(pick) => {
            let export = super::restore_export::choose(
                &aws,
                &shape.arn,
                source.as_str(),
                &super::restore_export::ExportPick::parse(pick),
            )
            .await?;
            report!(
                "reading {} item(s) of {source} from export {} (s3://{}/{})",
                asked.len(),
                export.arn,
                export.bucket,
                export.prefix
            );
            done.export = Some(export.arn.clone());
            from_export(&aws, &export, &typed_keys).await?
        }
        None => {
            let from = chosen(&aws, &request, args.any, true).await?;
            let RestoredFrom::Backup { name, arn } = &from else {
                return Err(CommandError::ItemsFromBackupOnly);
            };
            done.backup = Some(name.clone());
            done.scratch = Some(scratch.to_string());
            from_backup(&aws, (name, arn), &scratch, &typed_keys).await?
        }
    };
    let mut items = Vec::new();
    for (key, typed_key) in asked.iter().zip(&typed_keys) {
        match found.get(&key_id(typed_key)) {
            Some(hit) => items.push((Value::Object(key.clone()), typed_key, hit)),
            None => done.missing.push(Value::Object(key.clone())),
        }
    }
    if !done.missing.is_empty() {
        report!("  {} key(s) are not in it", done.missing.len());
    }
    match &args.to_file {
        Some(out) => {
            let write = |file: &mut std::fs::File, line: String| {
                writeln!(file, "{line}").map_err(|source| CommandError::KeysWrite {
                    path: out.clone(),
                    source,
                })
            };
            let mut file =
                std::fs::File::create(out).map_err(|source| CommandError::KeysWrite {
                    path: out.clone(),
                    source,
                })?;
            for (_, _, hit) in &items {
                write(&mut file, plain_item(hit).to_string())?;
                done.written += 1;
            }
            report!("  wrote {} item(s) to {}", done.written, out.display());
        }
        None => put_back(&aws, &request, &source, &items, args.overwrite, &mut done).await?,
    }
    Ok(done)
}

/// The items of `keys` a backup holds, by key: the backup restored into `scratch`, read by key,
/// and the scratch table deleted whatever happens after its restore.
async fn from_backup(
    aws: &Aws,
    (name, arn): (&str, &str),
    scratch: &TableName,
    keys: &[Item],
) -> Result<HashMap<String, Item>, CommandError> {
    report!(
        "reading {} item(s) from backup {name}, through the scratch table {scratch}",
        keys.len()
    );
    let tables = DynamoDbTables::new(aws.dynamodb.clone());
    let progress = Progress::new();
    progress
        .step(
            "restore",
            "table",
            scratch.as_str(),
            tables.restore_backup(arn, scratch, true),
        )
        .await?;
    // From here the scratch table exists: it is deleted whatever happens next.
    let read = async {
        progress
            .step(
                "wait",
                "table",
                scratch.as_str(),
                wait_active(&tables, scratch),
            )
            .await?;
        by_key(&aws.dynamodb, scratch, keys).await
    }
    .await;
    let deleted = tables.delete_table(scratch).await;
    let found = read?;
    if let Err(e) = deleted {
        report!("  could not delete the scratch table {scratch} ({e}); delete it by hand");
    }
    Ok(found)
}

/// The items of `keys` a full export holds, by key: its data files streamed by its manifests,
/// only the items asked for kept.
async fn from_export(
    aws: &Aws,
    export: &super::restore_export::Export,
    keys: &[Item],
) -> Result<HashMap<String, Item>, CommandError> {
    let at = Location {
        bucket: &export.bucket,
        owner: export.bucket_owner.as_deref(),
        prefix: &export.prefix,
    };
    let manifest = crate::export_files::manifest(aws, &at, &export.arn).await?;
    let wanted: HashSet<String> = keys.iter().map(key_id).collect();
    let names: Vec<String> = keys
        .first()
        .map(|k| k.keys().cloned().collect())
        .unwrap_or_default();
    let mut found = HashMap::new();
    let unreadable = |key: &str, why: &str| ExportFilesError::Unreadable {
        export: format!("s3://{}/{key}", export.bucket),
        why: why.to_owned(),
    };
    for file in &manifest.data_files {
        if found.len() == wanted.len() {
            break;
        }
        crate::export_files::lines(aws, &at, file, |line| {
            let record: Value =
                serde_json::from_str(line).map_err(|_| unreadable(file, "a line is not JSON"))?;
            let item = dynamodb_json::item(&record["Item"])
                .ok_or_else(|| unreadable(file, "a line has no Item in DynamoDB JSON"))?;
            let id = key_id(&key_of(&item, &names));
            if wanted.contains(&id) {
                found.insert(id, item);
            }
            Ok::<(), ExportFilesError>(())
        })
        .await?;
    }
    Ok(found)
}

/// Puts the backup's (or export's) `items` back into `table`: one deleted since is put if still absent (a
/// conditional write: never over one written meanwhile); one changed since only with
/// `overwrite`, after an on-demand backup of the table named as the stack's own.
async fn put_back(
    aws: &Aws,
    request: &Request,
    table: &TableName,
    items: &[(Value, &Item, &Item)],
    overwrite: bool,
    done: &mut ItemsRestored,
) -> Result<(), CommandError> {
    let name = table.as_str();
    let mut changed = Vec::new();
    for (key, typed_key, backed_up) in items {
        let live = aws
            .dynamodb
            .get_item()
            .table_name(name)
            .set_key(Some((*typed_key).clone()))
            .consistent_read(true)
            .send()
            .await
            .aws("GetItem", name)?;
        match live.item() {
            Some(now) if same(Some(now), Some(backed_up)) => done.unchanged.push(key.clone()),
            Some(_) if !overwrite => done.skipped.push(key.clone()),
            Some(_) => changed.push((key, backed_up)),
            None => {
                // Absent now: put only while it still is.
                let first = typed_key.keys().next().cloned().unwrap_or_default();
                let put = aws
                    .dynamodb
                    .put_item()
                    .table_name(name)
                    .set_item(Some((*backed_up).clone()))
                    .condition_expression("attribute_not_exists(#k)")
                    .expression_attribute_names("#k", first)
                    .send()
                    .await
                    .aws("PutItem", name);
                match put {
                    Ok(_) => done.written += 1,
                    Err(e) if e.is("ConditionalCheckFailedException") => {
                        done.skipped.push(key.clone());
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }
    if !changed.is_empty() {
        // Writing over the table's current items: first a backup it can be undone from.
        let backup = table.backup_name(request.stack(), time::OffsetDateTime::now_utc());
        let store = backup_lambda::store::DynamoDbBackups::new(aws.dynamodb.clone());
        let made =
            backup_lambda::store::BackupStore::create_backup(&store, table, &backup, || async {})
                .await?;
        report!("  backed up {table} first, as {}", made.name);
        done.backup_before = Some(made.name);
        for (_, backed_up) in changed {
            aws.dynamodb
                .put_item()
                .table_name(name)
                .set_item(Some((*backed_up).clone()))
                .send()
                .await
                .aws("PutItem", name)?;
            done.written += 1;
        }
    }
    report!(
        "  put back {} item(s) in {table}; {} as they were already, {} changed since and left{}",
        done.written,
        done.unchanged.len(),
        done.skipped.len(),
        if overwrite || done.skipped.is_empty() {
            ""
        } else {
            " (--overwrite puts them back too)"
        }
    );
    Ok(())
}

/// `<table>-items-<unix time>`, within DynamoDB's 255 characters.
fn scratch_name(table: &str, stamp: i64) -> String {
    let suffix = format!("-items-{stamp}");
    let keep = 255usize.saturating_sub(suffix.len());
    format!("{}{suffix}", &table[..table.len().min(keep)])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(v: Value) -> serde_json::Map<String, Value> {
        v.as_object().expect("an object").clone()
    }

    #[test]
    fn keys_are_typed_by_the_tables_key_schema() {
        let schema = vec![
            ("year".to_owned(), ScalarAttributeType::N),
            ("title".to_owned(), ScalarAttributeType::S),
        ];
        let key = typed(
            &object(serde_json::json!({"year": 2013, "title": "Rush"})),
            &schema,
            "key 1",
        )
        .expect("valid");
        assert_eq!(key["year"], AttributeValue::N("2013".into()));
        let from_flag = typed(
            &object(serde_json::json!({"year": "2013", "title": "Rush"})),
            &schema,
            "--key",
        )
        .expect("a number given as text");
        assert_eq!(from_flag, key);
        for bad in [
            serde_json::json!({"year": 2013}),
            serde_json::json!({"year": 2013, "title": "Rush", "x": 1}),
            serde_json::json!({"year": "soon", "title": "Rush"}),
            serde_json::json!({"year": 2013, "title": 5}),
        ] {
            let err = typed(&object(bad.clone()), &schema, "key 2").expect_err("refused");
            assert!(err.to_string().contains("key 2"), "{bad}: {err}");
        }
    }

    #[test]
    fn items_are_written_as_plain_json() {
        let map: std::collections::HashMap<String, AttributeValue> = [
            ("year".to_owned(), AttributeValue::N("2013".into())),
            ("title".to_owned(), AttributeValue::S("Rush".into())),
            (
                "info".to_owned(),
                AttributeValue::M(
                    [("rating".to_owned(), AttributeValue::N("8.3".into()))]
                        .into_iter()
                        .collect(),
                ),
            ),
            ("tags".to_owned(), AttributeValue::Ss(vec!["a".into()])),
        ]
        .into_iter()
        .collect();
        assert_eq!(
            plain_item(&map).to_string(),
            r#"{"info":{"rating":8.3},"tags":["a"],"title":"Rush","year":2013}"#
        );
        assert_eq!(scratch_name("Movies", 1).as_str(), "Movies-items-1");
        assert_eq!(scratch_name(&"T".repeat(255), 1).len(), 255);
    }
}
