//! The stack's recorded settings: one JSON document in the stack's bucket,
//! `settings/<stack>.json`, holding the complete settings `up` applied. `up` writes it after
//! every other resource, so it never claims what was not made (a crash before it leaves the old
//! document, and the next `up` writes it); every later command reads it to know the stack from
//! `--stack` alone; `down` keeps it with the bucket (it says what the kept run records, exports
//! and backups belonged to) and deletes it with the bucket.

use serde::{Deserialize, Serialize};

use crate::aws::{Aws, AwsError};
use crate::deploy::plan::{Change, Kind};
use crate::deploy::resources::Resource;
use crate::deploy::settings::Settings;

/// The document format this installer writes; one with a higher number is refused, not guessed.
pub const FORMAT: u32 = 1;

/// Where a stack's settings are kept in its bucket.
pub fn key(stack: &str) -> String {
    format!("settings/{stack}.json")
}

/// What is recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Document {
    /// [`FORMAT`] when written.
    pub format: u32,
    /// The stack it belongs to: a document under another stack's key is not this stack's.
    pub stack: String,
    /// The installer that wrote it (`installer 0.1.0`).
    pub written_by: String,
    /// The settings `up` applied, complete.
    pub settings: Settings,
}

impl Document {
    /// The document for `stack`'s complete `settings`, written by this installer.
    pub fn new(stack: &str, settings: Settings) -> Self {
        Self {
            format: FORMAT,
            stack: stack.to_owned(),
            written_by: format!("installer {}", env!("CARGO_PKG_VERSION")),
            settings,
        }
    }
}

/// The document as the stack wants it.
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    /// The stack's bucket.
    pub bucket: String,
    /// `settings/<stack>.json`.
    pub key: String,
    /// What to record.
    pub document: Document,
}

/// What the bucket holds under the key.
#[derive(Debug, Clone, PartialEq)]
pub enum Stored {
    /// Nothing (or no bucket): a stack not yet deployed, or deployed by a release that kept no
    /// settings.
    Absent,
    /// A document this installer reads.
    Found(Box<Document>),
    /// A document written by a newer installer (its format).
    Newer(u32),
    /// Something that is not a settings document (why).
    Unreadable(String),
}

/// The unit type behind the [`Resource`] contract.
pub struct SettingsObject;

fields! {
    /// The recorded settings differ from the wanted ones (or could not be read).
    Values => "settings",
}

/// Reads `bucket`/`key`: absent when the bucket or the object is not there.
pub async fn read(aws: &Aws, bucket: &str, key: &str) -> Result<Stored, AwsError> {
    let location = format!("s3://{bucket}/{key}");
    let out = aws.s3.get_object().bucket(bucket).key(key).send().await;
    let object = match out {
        Ok(object) => object,
        Err(e) => {
            let err = AwsError::new("GetObject", &location, &e);
            // S3 answers 403 rather than 404 for a missing key to a caller without
            // s3:ListBucket, and a TLS-only bucket denies plain HTTP: the stack is then read
            // from its resources.
            // Any other answer of S3's (a bucket in another region, another account's) leaves
            // the bucket's own step to say what is wrong; only a failure to reach S3 stops.
            return if err.is("NoSuchKey") || err.is("NoSuchBucket") {
                Ok(Stored::Absent)
            } else if err.code.is_some() {
                Ok(Stored::Unreadable(err.to_string()))
            } else {
                Err(err)
            };
        }
    };
    let bytes = object
        .body
        .collect()
        .await
        .map_err(|e| AwsError::malformed("GetObject", &location, &e.to_string()))?
        .into_bytes();
    Ok(parse(&bytes))
}

/// A stored document, judged: its format first, so that a newer one is named as such rather
/// than as unreadable.
pub fn parse(bytes: &[u8]) -> Stored {
    let format = serde_json::from_slice::<serde_json::Value>(bytes)
        .ok()
        .and_then(|v| v.get("format").and_then(serde_json::Value::as_u64));
    match format {
        Some(n) if n > u64::from(FORMAT) => Stored::Newer(u32::try_from(n).unwrap_or(u32::MAX)),
        _ => match serde_json::from_slice::<Document>(bytes) {
            Ok(document) => Stored::Found(Box::new(document)),
            // A setting this installer does not know was written by a newer one.
            Err(e) if e.to_string().contains("unknown field") => Stored::Newer(FORMAT),
            Err(e) => Stored::Unreadable(e.to_string()),
        },
    }
}

impl Resource for SettingsObject {
    const KIND: Kind = Kind::Settings;
    type Desired = Desired;
    type Observed = Stored;
    type Field = Field;

    fn name(desired: &Desired) -> &str {
        &desired.document.stack
    }

    async fn observe(aws: &Aws, desired: &Desired) -> Result<Stored, AwsError> {
        read(aws, &desired.bucket, &desired.key).await
    }

    fn diff(desired: &Desired, observed: &Stored) -> Change<Field> {
        match observed {
            Stored::Absent => Change::Create,
            // Compared complete: a key left out is its default.
            Stored::Found(found)
                if found.stack == desired.document.stack
                    && found.settings.complete() == desired.document.settings =>
            {
                Change::Unchanged
            }
            Stored::Found(_) | Stored::Unreadable(_) => Change::Update(vec![Field::Values]),
            Stored::Newer(format) => Change::Conflict(format!(
                "s3://{}/{} was written by a newer installer (settings format {format}, or a setting this one does not know; this one reads format {FORMAT}); use that installer",
                desired.bucket, desired.key
            )),
        }
    }

    async fn apply(
        aws: &Aws,
        desired: &Desired,
        _: &Stored,
        change: &Change<Field>,
    ) -> Result<(), AwsError> {
        if !matches!(change, Change::Create | Change::Update(_)) {
            return Ok(());
        }
        let location = format!("s3://{}/{}", desired.bucket, desired.key);
        let body = serde_json::to_vec_pretty(&desired.document)
            .expect("a settings document is strings, numbers, booleans and lists");
        let written = aws
            .s3
            .put_object()
            .bucket(&desired.bucket)
            .key(&desired.key)
            .content_type("application/json")
            .body(body.into())
            .send()
            .await
            .map(|_| ())
            .map_err(|e| AwsError::new("PutObject", &location, &e));
        match written {
            // Only over plain HTTP, to a bucket made TLS-only on purpose (an emulator): AWS is
            // always TLS. Commands by name then read the stack from its resources.
            Err(e) if e.is("AccessDenied") && !aws.tls => {
                tracing::warn!(
                    "could not record the settings in {location}: its TLS-only policy denies plain HTTP; commands by --stack alone read them back from the resources"
                );
                Ok(())
            }
            other => other,
        }
    }

    async fn delete(aws: &Aws, desired: &Desired) -> Result<(), AwsError> {
        let location = format!("s3://{}/{}", desired.bucket, desired.key);
        match aws
            .s3
            .delete_object()
            .bucket(&desired.bucket)
            .key(&desired.key)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => {
                let err = AwsError::new("DeleteObject", &location, &e);
                if err.is("NoSuchBucket") {
                    Ok(())
                } else {
                    Err(err)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_is_read_back_and_a_newer_one_is_named() {
        let document = Document::new("s2", Settings::defaults().complete());
        let bytes = serde_json::to_vec(&document).expect("serializes");
        assert_eq!(parse(&bytes), Stored::Found(Box::new(document)));
        assert_eq!(
            parse(br#"{"format": 2, "stack": "s2", "whatever": true}"#),
            Stored::Newer(2)
        );
        assert!(matches!(parse(b"not json"), Stored::Unreadable(_)));
        let mut unknown = serde_json::to_value(Document::new("s2", Settings::defaults())).unwrap();
        unknown["settings"]["keep-hourly"] = serde_json::json!(4);
        assert_eq!(
            parse(unknown.to_string().as_bytes()),
            Stored::Newer(FORMAT),
            "a setting from a newer installer"
        );
        let desired = Desired {
            bucket: "b".into(),
            key: key("s2"),
            document: Document::new("s2", Settings::defaults().complete()),
        };
        assert!(matches!(
            SettingsObject::diff(&desired, &Stored::Newer(2)),
            Change::Conflict(_)
        ));
        assert_eq!(
            SettingsObject::diff(&desired, &Stored::Absent),
            Change::Create
        );
    }
}
