//! DynamoDB JSON, as exports write it (`{"year": {"N": "2013"}, "title": {"S": "Rush"}}`), to
//! the SDK's attribute values; and an export's gzip'd JSON Lines data files, streamed.

use std::collections::HashMap;
use std::io::Write as _;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine as _;
use serde_json::Value;

/// An item, attribute by attribute.
pub type Item = HashMap<String, AttributeValue>;

/// One attribute from DynamoDB JSON (`{"S": "x"}`, `{"N": "1"}`, `{"M": {...}}`, ...); `None`
/// when it is not one.
pub fn attribute(value: &Value) -> Option<AttributeValue> {
    let object = value.as_object()?;
    let (tag, inner) = object.iter().next().filter(|_| object.len() == 1)?;
    let strings = |v: &Value| -> Option<Vec<String>> {
        v.as_array()?
            .iter()
            .map(|s| s.as_str().map(str::to_owned))
            .collect()
    };
    let binary = |v: &Value| -> Option<Blob> {
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str()?)
            .ok()
            .map(Blob::new)
    };
    Some(match tag.as_str() {
        "S" => AttributeValue::S(inner.as_str()?.to_owned()),
        "N" => AttributeValue::N(number(inner)?),
        "B" => AttributeValue::B(binary(inner)?),
        "BOOL" => AttributeValue::Bool(inner.as_bool()?),
        "NULL" => AttributeValue::Null(inner.as_bool()?),
        "SS" => AttributeValue::Ss(strings(inner)?),
        "NS" => AttributeValue::Ns(
            inner
                .as_array()?
                .iter()
                .map(number)
                .collect::<Option<_>>()?,
        ),
        "BS" => AttributeValue::Bs(
            inner
                .as_array()?
                .iter()
                .map(binary)
                .collect::<Option<_>>()?,
        ),
        "L" => AttributeValue::L(
            inner
                .as_array()?
                .iter()
                .map(attribute)
                .collect::<Option<_>>()?,
        ),
        "M" => AttributeValue::M(item(inner)?),
        _ => return None,
    })
}

/// A number as DynamoDB JSON carries it: a string (`"2013"`), or a JSON number.
fn number(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// An item (or key) from DynamoDB JSON: an object of attributes.
pub fn item(value: &Value) -> Option<Item> {
    value
        .as_object()?
        .iter()
        .map(|(name, v)| Some((name.clone(), attribute(v)?)))
        .collect()
}

/// An attribute as plain JSON: numbers as numbers, binary as base64, sets as arrays.
pub fn plain(value: &AttributeValue) -> Value {
    use base64::Engine as _;
    let number = |n: &str| serde_json::from_str(n).unwrap_or_else(|_| Value::String(n.to_owned()));
    let binary = |b: &aws_sdk_dynamodb::primitives::Blob| {
        Value::String(base64::engine::general_purpose::STANDARD.encode(b.as_ref()))
    };
    match value {
        AttributeValue::S(s) => Value::String(s.clone()),
        AttributeValue::N(n) => number(n),
        AttributeValue::B(b) => binary(b),
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::L(items) => Value::Array(items.iter().map(plain).collect()),
        AttributeValue::M(map) => plain_item(map),
        AttributeValue::Ss(set) => set.iter().cloned().map(Value::String).collect(),
        AttributeValue::Ns(set) => set.iter().map(|n| number(n)).collect(),
        AttributeValue::Bs(set) => set.iter().map(binary).collect(),
        _ => Value::Null,
    }
}

/// An item as a plain JSON object, its attributes in name order.
pub fn plain_item(map: &std::collections::HashMap<String, AttributeValue>) -> Value {
    let mut names: Vec<&String> = map.keys().collect();
    names.sort();
    Value::Object(
        names
            .into_iter()
            .map(|n| (n.clone(), plain(&map[n])))
            .collect(),
    )
}

/// Splits a stream of gzip'd bytes, fed a piece at a time, into its lines: only the lines not
/// yet handed out are held, never the whole file.
pub struct GzipLines {
    decoder: flate2::write::GzDecoder<Vec<u8>>,
}

impl Default for GzipLines {
    fn default() -> Self {
        Self {
            decoder: flate2::write::GzDecoder::new(Vec::new()),
        }
    }
}

impl GzipLines {
    /// Feeds the next piece of the file; the lines it completed.
    pub fn feed(&mut self, piece: &[u8]) -> std::io::Result<Vec<String>> {
        self.decoder.write_all(piece)?;
        self.complete_lines()
    }

    /// Ends the file: the last line, if it had no newline.
    pub fn finish(mut self) -> std::io::Result<Vec<String>> {
        self.decoder.try_finish()?;
        let mut lines = self.complete_lines()?;
        let rest = std::mem::take(self.decoder.get_mut());
        if !rest.trim_ascii().is_empty() {
            lines.push(text(rest)?);
        }
        Ok(lines)
    }

    fn complete_lines(&mut self) -> std::io::Result<Vec<String>> {
        let buffer = self.decoder.get_mut();
        let Some(end) = buffer.iter().rposition(|b| *b == b'\n') else {
            return Ok(Vec::new());
        };
        let rest = buffer.split_off(end + 1);
        let done = std::mem::replace(buffer, rest);
        Ok(text(done)?
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_owned)
            .collect())
    }
}

/// Bytes as UTF-8 text, or an error: a value is never written back altered.
fn text(bytes: Vec<u8>) -> std::io::Result<String> {
    String::from_utf8(bytes)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.utf8_error()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_type_of_dynamodb_json_is_read() {
        let read = item(&json!({
            "s": {"S": "x"}, "n": {"N": "1.5"}, "b": {"B": "AQI="}, "t": {"BOOL": true},
            "z": {"NULL": true}, "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1", 2]},
            "bs": {"BS": ["AQ=="]}, "l": {"L": [{"S": "y"}]}, "m": {"M": {"k": {"N": "3"}}}
        }))
        .expect("an item");
        assert_eq!(read["s"], AttributeValue::S("x".into()));
        assert_eq!(read["n"], AttributeValue::N("1.5".into()));
        assert_eq!(read["b"], AttributeValue::B(Blob::new(vec![1, 2])));
        assert_eq!(read["ns"], AttributeValue::Ns(vec!["1".into(), "2".into()]));
        assert_eq!(
            read["m"],
            AttributeValue::M(HashMap::from([("k".into(), AttributeValue::N("3".into()))]))
        );
        assert_eq!(read.len(), 10);
        assert!(item(&json!({"x": {"Q": "?"}})).is_none());
        assert!(item(&json!({"x": {"S": "a", "N": "1"}})).is_none());
        assert!(item(&json!({"x": "plain"})).is_none());
    }

    #[test]
    fn gzip_lines_come_out_whole_whatever_the_pieces() {
        let text = "{\"a\":1}\n{\"b\":2}\n\n{\"c\":3}";
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(text.as_bytes()).unwrap();
        let bytes = gz.finish().unwrap();
        for size in [1, 3, 7, bytes.len()] {
            let mut lines = GzipLines::default();
            let mut out = Vec::new();
            for piece in bytes.chunks(size) {
                out.extend(lines.feed(piece).unwrap());
            }
            out.extend(lines.finish().unwrap());
            assert_eq!(
                out,
                ["{\"a\":1}", "{\"b\":2}", "{\"c\":3}"],
                "pieces of {size}"
            );
        }
        let mut broken = GzipLines::default();
        assert!(broken.feed(b"not gzip at all").is_err());
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(b"{\"a\":\"\xff\"}\n").unwrap();
        let mut invalid = GzipLines::default();
        let fed = invalid.feed(&gz.finish().unwrap());
        assert!(
            fed.is_err() || invalid.finish().is_err(),
            "not UTF-8: an error, not a guess"
        );
    }
}
