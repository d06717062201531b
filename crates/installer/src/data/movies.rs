//! The sample data: AWS's getting-started movie format (a JSON array of
//! `{"year": int, "title": str, "info": {...}}`), read from `.json` or the `.zip` AWS publishes it
//! in, checked record by record, and turned into DynamoDB items with numbers kept exact (`7.3`
//! arrives as the N value "7.3", never through a float).

use std::collections::HashMap;
use std::fmt;
use std::io::Read;
use std::path::Path;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;
use thiserror::Error;

/// The built-in sample: a few dozen movies written for this project, in the same format.
pub const BUILT_IN: &str = include_str!("../../data/sample-movies.json");

/// A DynamoDB item.
pub type Item = HashMap<String, AttributeValue>;

/// Why the data could not be read at all.
#[derive(Debug, Error)]
pub enum DataError {
    /// The file could not be read.
    #[error("could not read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The zip holds no `.json` file.
    #[error(
        "{path} is not a zip holding a .json file ({reason}); pass the moviedata.json or moviedata.zip AWS publishes"
    )]
    Zip {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The JSON is malformed.
    #[error("{path}:{line}:{column}: malformed JSON: {reason}")]
    Json {
        /// The file.
        path: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the parser said.
        reason: String,
    },
    /// The JSON is not an array of movies.
    #[error(
        "{path}: expected a JSON array of movies like [{{\"year\": 2013, \"title\": \"Rush\", \"info\": {{...}}}}]"
    )]
    NotArray {
        /// The file.
        path: String,
    },
}

/// Why one record was not loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BadRecord {
    /// Not a JSON object.
    NotObject,
    /// No `year`, or not a whole number.
    Year,
    /// No `title`, or not a non-empty string.
    Title,
    /// The same `year` and `title` as an earlier record (DynamoDB would reject the whole batch).
    Duplicate {
        /// The earlier record's index.
        first: usize,
    },
}

impl fmt::Display for BadRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BadRecord::NotObject => f.write_str("not a JSON object"),
            BadRecord::Year => f.write_str("\"year\" is missing or not a whole number"),
            BadRecord::Title => f.write_str("\"title\" is missing or not a non-empty string"),
            BadRecord::Duplicate { first } => {
                write!(f, "same year and title as record {first}")
            }
        }
    }
}

/// The records of a file: the good ones as items, the bad ones with their index and reason.
#[derive(Debug, Clone, Default)]
pub struct Records {
    /// Items to load, in file order.
    pub items: Vec<Item>,
    /// `(index, reason)` of each record left out.
    pub bad: Vec<(usize, BadRecord)>,
}

/// Reads `path` (`.json`, or a `.zip` holding one) into bytes of JSON.
pub fn read(path: &Path) -> Result<Vec<u8>, DataError> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| DataError::Read {
        path: name.clone(),
        source,
    })?;
    if !bytes.starts_with(b"PK") {
        return Ok(bytes);
    }
    let zip_error = |reason: String| DataError::Zip {
        path: name.clone(),
        reason,
    };
    let mut archive =
        zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| zip_error(e.to_string()))?;
    let index = (0..archive.len())
        .find(|&i| {
            archive
                .name_for_index(i)
                .and_then(|n| n.ok())
                .is_some_and(|n| n.ends_with(".json") && !n.starts_with("__MACOSX"))
        })
        .ok_or_else(|| zip_error("no .json entry".to_owned()))?;
    let mut json = Vec::new();
    archive
        .by_index(index)
        .map_err(|e| zip_error(e.to_string()))?
        .read_to_end(&mut json)
        .map_err(|e| zip_error(e.to_string()))?;
    Ok(json)
}

/// Parses and checks the records of `json` (named `path` in errors).
pub fn parse(path: &str, json: &[u8]) -> Result<Records, DataError> {
    let value: Value = serde_json::from_slice(json).map_err(|e| DataError::Json {
        path: path.to_owned(),
        line: e.line(),
        column: e.column(),
        reason: e
            .to_string()
            .split(" at line ")
            .next()
            .unwrap_or_default()
            .to_owned(),
    })?;
    let Value::Array(records) = value else {
        return Err(DataError::NotArray {
            path: path.to_owned(),
        });
    };
    let mut out = Records::default();
    let mut seen: HashMap<(String, String), usize> = HashMap::new();
    for (index, record) in records.into_iter().enumerate() {
        match check(&record) {
            Err(bad) => out.bad.push((index, bad)),
            Ok((year, title)) => match seen.get(&(year.clone(), title.clone())) {
                Some(&first) => out.bad.push((index, BadRecord::Duplicate { first })),
                None => {
                    seen.insert((year, title), index);
                    if let Value::Object(fields) = record {
                        out.items
                            .push(fields.into_iter().map(|(k, v)| (k, attribute(v))).collect());
                    }
                }
            },
        }
    }
    Ok(out)
}

/// Checks one record's keys: `(year, title)` as they will be stored.
fn check(record: &Value) -> Result<(String, String), BadRecord> {
    let fields = record.as_object().ok_or(BadRecord::NotObject)?;
    let year = fields
        .get("year")
        .and_then(Value::as_number)
        .filter(|n| n.is_i64() || n.is_u64())
        .ok_or(BadRecord::Year)?;
    let title = fields
        .get("title")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or(BadRecord::Title)?;
    Ok((year.to_string(), title.to_owned()))
}

/// A JSON value as a DynamoDB attribute; numbers keep their exact text.
fn attribute(value: Value) -> AttributeValue {
    match value {
        Value::Null => AttributeValue::Null(true),
        Value::Bool(b) => AttributeValue::Bool(b),
        Value::Number(n) => AttributeValue::N(n.to_string()),
        Value::String(s) => AttributeValue::S(s),
        Value::Array(items) => AttributeValue::L(items.into_iter().map(attribute).collect()),
        Value::Object(fields) => {
            AttributeValue::M(fields.into_iter().map(|(k, v)| (k, attribute(v))).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_stay_exact_and_nesting_is_kept() {
        let json = br#"[{"year": 2013, "title": "Rush", "info": {"rating": 7.3, "rank": 2,
            "big": 12345678901234567890.123456789, "genres": ["Drama", "Sport"], "plot": "",
            "ok": true, "none": null}}]"#;
        let records = parse("t.json", json).expect("valid");
        assert!(records.bad.is_empty());
        let item = &records.items[0];
        assert_eq!(item["year"], AttributeValue::N("2013".into()));
        assert_eq!(item["title"], AttributeValue::S("Rush".into()));
        let AttributeValue::M(info) = &item["info"] else {
            panic!("info is a map")
        };
        assert_eq!(info["rating"], AttributeValue::N("7.3".into()));
        assert_eq!(
            info["big"],
            AttributeValue::N("12345678901234567890.123456789".into())
        );
        assert_eq!(
            info["genres"],
            AttributeValue::L(vec![
                AttributeValue::S("Drama".into()),
                AttributeValue::S("Sport".into())
            ])
        );
        assert_eq!(info["ok"], AttributeValue::Bool(true));
        assert_eq!(info["none"], AttributeValue::Null(true));
    }

    #[test]
    fn each_kind_of_bad_record_is_reported_with_its_index() {
        let json = br#"[
            {"year": 2013, "title": "Rush"},
            "not a movie",
            {"title": "No Year"},
            {"year": "2013", "title": "Year As Text"},
            {"year": 2013.5, "title": "Fractional Year"},
            {"year": 2014},
            {"year": 2014, "title": ""},
            {"year": 2014, "title": 7},
            {"year": 2013, "title": "Rush"},
            {"year": 2015, "title": "Fine"}
        ]"#;
        let records = parse("t.json", json).expect("valid JSON");
        assert_eq!(records.items.len(), 2);
        assert_eq!(
            records.bad,
            vec![
                (1, BadRecord::NotObject),
                (2, BadRecord::Year),
                (3, BadRecord::Year),
                (4, BadRecord::Year),
                (5, BadRecord::Title),
                (6, BadRecord::Title),
                (7, BadRecord::Title),
                (8, BadRecord::Duplicate { first: 0 }),
            ]
        );
    }

    #[test]
    fn malformed_json_names_line_and_column() {
        let err = parse(
            "movies.json",
            b"[\n  {\"year\": 2013,\n   \"title\" \"Rush\"}\n]",
        )
        .expect_err("malformed");
        let text = err.to_string();
        assert!(
            text.starts_with("movies.json:3:12: malformed JSON"),
            "{text}"
        );
        assert!(matches!(
            parse("m.json", br#"{"year": 1}"#),
            Err(DataError::NotArray { .. })
        ));
    }

    #[test]
    fn the_built_in_sample_is_valid() {
        let records = parse("built-in", BUILT_IN.as_bytes()).expect("valid");
        assert!(records.bad.is_empty(), "{:?}", records.bad);
        assert!(records.items.len() >= 24, "a few dozen movies");
    }
}
