//! Items compared and digested as DynamoDB compares them: one form per value (a set has no
//! order; `1.50` is the number `1.5`). Shared by the fingerprints a run records
//! ([`crate::fingerprint`]) and the installer's item restores and rollbacks, so that both call
//! the same items equal.

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::tables::Item;

/// Whether two items (or two absences) hold the same values: sets in any order, numbers however
/// written, as DynamoDB compares them.
pub fn same(a: Option<&Item>, b: Option<&Item>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => form(a) == form(b),
        _ => false,
    }
}

/// A digest of the item's values in their one form: the first 16 bytes of SHA-256, in hex.
/// Equal for items [`same`] calls equal.
pub fn digest(item: &Item) -> String {
    let bytes = Sha256::digest(form(item).to_string().as_bytes());
    hex(&bytes[..16])
}

/// Lower-case hex.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An item as JSON in one form per value: attributes in name order (sorted here: serde_json's
/// map keeps insertion order when a crate in the build asks it to), numbers normalized, sets
/// sorted.
pub fn form(item: &Item) -> Value {
    let mut names: Vec<&String> = item.keys().collect();
    names.sort();
    Value::Object(
        names
            .into_iter()
            .map(|name| (name.clone(), canonical(&item[name])))
            .collect(),
    )
}

fn canonical(value: &AttributeValue) -> Value {
    let binary = |b: &aws_sdk_dynamodb::primitives::Blob| hex(b.as_ref());
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v.dedup();
        v
    };
    match value {
        AttributeValue::S(s) => serde_json::json!({"S": s}),
        AttributeValue::N(n) => serde_json::json!({"N": number(n)}),
        AttributeValue::B(b) => serde_json::json!({"B": binary(b)}),
        AttributeValue::Bool(b) => serde_json::json!({"BOOL": b}),
        AttributeValue::Null(b) => serde_json::json!({"NULL": b}),
        AttributeValue::Ss(set) => serde_json::json!({"SS": sorted(set.clone())}),
        AttributeValue::Ns(set) => {
            serde_json::json!({"NS": sorted(set.iter().map(|n| number(n)).collect())})
        }
        AttributeValue::Bs(set) => {
            serde_json::json!({"BS": sorted(set.iter().map(binary).collect())})
        }
        AttributeValue::L(list) => {
            serde_json::json!({"L": list.iter().map(canonical).collect::<Vec<_>>()})
        }
        AttributeValue::M(map) => serde_json::json!({"M": form(map)}),
        other => serde_json::json!({"?": format!("{other:?}")}),
    }
}

/// A number in one form: `<sign><digits without leading or trailing zeros>e<exponent>`
/// (`1.50` and `15e-1` are both `15e-1`; every zero is `0`). Text that is no number stays as it
/// is.
fn number(text: &str) -> String {
    let text = text.trim();
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((m, e)) => match e.parse::<i64>() {
            Ok(e) => (m, e),
            Err(_) => return text.to_owned(),
        },
        None => (unsigned, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = format!("{whole}{fraction}");
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return text.to_owned();
    }
    let significant = digits.trim_start_matches('0');
    if significant.is_empty() {
        return "0".to_owned();
    }
    let trimmed = significant.trim_end_matches('0');
    let shift = i64::try_from(significant.len() - trimmed.len()).ok();
    let cut = i64::try_from(fraction.len()).ok();
    match shift
        .zip(cut)
        .and_then(|(shift, cut)| exponent.checked_sub(cut)?.checked_add(shift))
    {
        Some(exponent) => format!("{}{trimmed}e{exponent}", if negative { "-" } else { "" }),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn sets_in_any_order_and_numbers_however_written_are_the_same() {
        for (a, b) in [
            ("1.50", "1.5"),
            ("15e-1", "1.5"),
            ("2013", "2013.0"),
            ("0.0", "-0"),
            ("1E3", "1000"),
        ] {
            assert_eq!(number(a), number(b), "{a} {b}");
        }
        assert_ne!(number("1.5"), number("15"));
        assert_ne!(number("-1"), number("1"));
        assert_eq!(number("not a number"), "not a number");
        let huge = "1.5e-9223372036854775808";
        assert_eq!(
            number(huge),
            huge,
            "an exponent past i64: left as it is, no overflow"
        );
        let with = |set: &[&str], n: &str| -> Item {
            HashMap::from([
                (
                    "s".to_owned(),
                    AttributeValue::Ss(set.iter().map(|s| (*s).to_owned()).collect()),
                ),
                ("n".to_owned(), AttributeValue::N(n.to_owned())),
            ])
        };
        assert!(same(
            Some(&with(&["a", "b"], "2")),
            Some(&with(&["b", "a"], "2.0"))
        ));
        assert!(!same(
            Some(&with(&["a"], "2")),
            Some(&with(&["a", "b"], "2"))
        ));
        assert!(!same(Some(&with(&["a"], "2")), None));
        assert!(same(None, None));
    }

    #[test]
    fn a_digest_is_of_the_values_not_how_they_are_written() {
        let item = |set: &[&str], n: &str| -> Item {
            HashMap::from([
                ("b".to_owned(), AttributeValue::B(vec![1, 2].into())),
                (
                    "s".to_owned(),
                    AttributeValue::Ss(set.iter().map(|s| (*s).to_owned()).collect()),
                ),
                ("n".to_owned(), AttributeValue::N(n.to_owned())),
            ])
        };
        let a = digest(&item(&["x", "y"], "1.50"));
        assert_eq!(a.len(), 32);
        assert_eq!(a, digest(&item(&["y", "x"], "15e-1")));
        assert_ne!(a, digest(&item(&["x"], "1.5")));
        assert_ne!(a, digest(&item(&["x", "y"], "1.51")));
    }
}
