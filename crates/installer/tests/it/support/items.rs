//! Items the tests write by hand.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

/// An item as the SDK takes it.
pub type Item = HashMap<String, AttributeValue>;

/// A movie of 2099 titled `title`, with `rating` when given (with `None`, its key alone).
pub fn movie(title: &str, rating: Option<&str>) -> Item {
    let mut item = HashMap::from([
        ("year".to_owned(), AttributeValue::N("2099".into())),
        ("title".to_owned(), AttributeValue::S(title.into())),
    ]);
    if let Some(rating) = rating {
        item.insert("rating".to_owned(), AttributeValue::N(rating.into()));
    }
    item
}
