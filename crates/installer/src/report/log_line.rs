//! The function's log lines as people read them. The function logs one JSON object per line
//! (what CloudWatch Logs stores and `--raw` or `--output json` keep): `{"timestamp", "level",
//! "message", <fields>..., "span": {...}}`, plus one embedded-metric-format line per run. Here
//! that becomes `INFO  message  field=value ...`, without the span and X-Ray ids, and metrics as
//! `metrics  BackupMade=1 ...`; anything else (Lambda's START/END/REPORT lines) is left as it is.

use serde_json::{Map, Value};

/// Fields every line carries that say nothing to a reader.
const NOISE: [&str; 5] = ["timestamp", "level", "message", "span", "spans"];

fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `line` for people (see the module's documentation).
pub fn render(line: &str) -> String {
    let Ok(Value::Object(object)) = serde_json::from_str::<Value>(line.trim()) else {
        return line.to_owned();
    };
    if object.contains_key("_aws") {
        return metrics(&object);
    }
    let Some(message) = object.get("message").and_then(Value::as_str) else {
        return line.to_owned();
    };
    let level = object.get("level").and_then(Value::as_str).unwrap_or("");
    // Sorted by name: the same order whether or not serde_json keeps the line's own.
    let mut fields: Vec<String> = object
        .iter()
        .filter(|(k, _)| !NOISE.contains(&k.as_str()))
        .map(|(k, v)| format!("{k}={}", scalar(v)))
        .collect();
    fields.sort();
    let mut out = format!("{level:<5} {message}");
    if !fields.is_empty() {
        out.push_str("  ");
        out.push_str(&fields.join(" "));
    }
    out
}

/// An embedded-metric-format line: its metrics and dimensions, `name=value`.
fn metrics(object: &Map<String, Value>) -> String {
    let names: Vec<&str> = object["_aws"]["CloudWatchMetrics"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|m| m["Metrics"].as_array().into_iter().flatten())
        .filter_map(|m| m["Name"].as_str())
        .collect();
    let dimensions: Vec<&str> = object["_aws"]["CloudWatchMetrics"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|m| m["Dimensions"].as_array().into_iter().flatten())
        .flat_map(|d| d.as_array().into_iter().flatten())
        .filter_map(Value::as_str)
        .collect();
    let pairs = |keys: &[&str]| {
        keys.iter()
            .filter_map(|k| object.get(*k).map(|v| format!("{k}={}", scalar(v))))
            .collect::<Vec<_>>()
            .join(" ")
    };
    format!("metrics {}  {}", pairs(&names), pairs(&dimensions))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_read_as_level_message_and_fields() {
        let line = r#"{"timestamp":"2026-11-30T01:27:02.726934Z","level":"INFO","message":"creating backup","table":"Movies","backup":"Movies-20261130012702","span":{"requestId":"ae52","xrayTraceId":"Root=1-0"}}"#;
        assert_eq!(
            render(line),
            "INFO  creating backup  backup=Movies-20261130012702 table=Movies"
        );
    }

    #[test]
    fn metric_lines_read_as_their_values() {
        let line = r#"{"BackupMade":1.0,"BackupsKept":3.0,"Stack":"s","Table":"Movies","_aws":{"CloudWatchMetrics":[{"Dimensions":[["Stack","Table"]],"Metrics":[{"Name":"BackupMade","Unit":"Count"},{"Name":"BackupsKept","Unit":"Count"}],"Namespace":"N"}],"Timestamp":1}}"#;
        assert_eq!(
            render(line),
            "metrics BackupMade=1.0 BackupsKept=3.0  Stack=s Table=Movies"
        );
    }

    #[test]
    fn other_lines_are_left_as_they_are() {
        for line in [
            "START RequestId: x Version: $LATEST",
            "not json {",
            r#"{"no":"message"}"#,
        ] {
            assert_eq!(render(line), line);
        }
    }
}
