//! The published JSON Schema of `--output json` (schemas/installer-output.schema.json), and a
//! check that a document validates against it.

use serde_json::Value;

/// The published schema.
pub fn published() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../schemas/installer-output.schema.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("the published schema"))
        .expect("the schema is JSON")
}

/// Asserts that `document` (one command's `--output json`) validates against the schema.
pub fn assert_valid(document: &Value) {
    let schema = published();
    let validator = jsonschema::validator_for(&schema).expect("a valid JSON Schema");
    let errors: Vec<String> = validator
        .iter_errors(document)
        .map(|e| e.to_string())
        .collect();
    assert!(
        errors.is_empty(),
        "{} does not match the published schema: {errors:#?}",
        document["command"]
    );
}
