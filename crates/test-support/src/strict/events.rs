//! EventBridge's limits on a rule's targets.

use std::collections::BTreeSet;
use std::time::Instant;

use serde_json::{Value, json};

use super::{Call, Reply, Rule, Service, Upstream};

/// Targets a rule may have at once.
const TARGETS_PER_RULE: usize = 5;
/// Entries one PutTargets call may carry.
const ENTRIES_PER_CALL: usize = 10;

/// A rule holds at most 5 targets, and one PutTargets call carries at most 10 entries; beyond
/// either, PutTargets is refused with LimitExceededException (moto takes any number).
///
/// PutTargets (API reference): "The maximum number of entries per request is 10. Each rule can
/// have up to five (5) targets associated with it at one time." Errors: "LimitExceededException:
/// The request failed because it attempted to create resource beyond allowed service quota."
pub struct TargetsPerRule;

impl Rule for TargetsPerRule {
    fn name(&self) -> &'static str {
        "TargetsPerRule"
    }

    fn refuse(&self, call: &Call, _: Instant, upstream: &dyn Upstream) -> Option<Reply> {
        if !call.is(Service::Events, "PutTargets") {
            return None;
        }
        let entries = call.json["Targets"].as_array()?;
        let refuse = |why: String| {
            Some(Reply::json_error(
                Service::Events,
                "LimitExceededException",
                &why,
            ))
        };
        if entries.len() > ENTRIES_PER_CALL {
            return refuse(format!(
                "PutTargets takes at most {ENTRIES_PER_CALL} entries per request; got {}",
                entries.len()
            ));
        }
        let rule = call.field("Rule")?;
        let mut request = json!({"Rule": rule});
        if let Some(bus) = call.field("EventBusName") {
            request["EventBusName"] = bus.into();
        }
        let existing = upstream
            .ask(call, "AWSEvents.ListTargetsByRule", &request)
            .unwrap_or(Value::Null);
        let ids: BTreeSet<&str> = existing["Targets"]
            .as_array()
            .into_iter()
            .flatten()
            .chain(entries)
            .filter_map(|t| t["Id"].as_str())
            .collect();
        (ids.len() > TARGETS_PER_RULE).then_some(())?;
        refuse(format!(
            "The requested resource exceeds the maximum number allowed: rule {rule} would have {} targets, and a rule may have {TARGETS_PER_RULE}",
            ids.len()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::json_call;
    use super::*;

    /// moto's view: the rule already has `n` targets `t0..`.
    struct Has(usize);

    impl Upstream for Has {
        fn ask(&self, _: &Call, target: &str, _: &Value) -> Option<Value> {
            assert_eq!(target, "AWSEvents.ListTargetsByRule");
            let targets: Vec<Value> = (0..self.0)
                .map(|i| json!({"Id": format!("t{i}")}))
                .collect();
            Some(json!({"Targets": targets}))
        }
    }

    fn put(ids: &[&str]) -> Call {
        let targets: Vec<Value> = ids
            .iter()
            .map(|id| json!({"Id": id, "Arn": "arn:f"}))
            .collect();
        json_call(
            Service::Events,
            "PutTargets",
            json!({"Rule": "r", "Targets": targets}),
        )
    }

    #[test]
    fn a_sixth_target_is_refused() {
        let now = Instant::now();
        assert!(
            TargetsPerRule.refuse(&put(&["t4"]), now, &Has(4)).is_none(),
            "5 is fine"
        );
        assert!(
            TargetsPerRule.refuse(&put(&["t0"]), now, &Has(5)).is_none(),
            "replacing one is fine"
        );
        let refused = TargetsPerRule
            .refuse(&put(&["new"]), now, &Has(5))
            .expect("refused");
        assert_eq!(refused.json()["__type"], "LimitExceededException");
        let six: Vec<String> = (0..6).map(|i| format!("n{i}")).collect();
        let six: Vec<&str> = six.iter().map(String::as_str).collect();
        assert!(TargetsPerRule.refuse(&put(&six), now, &Has(0)).is_some());
    }

    #[test]
    fn more_than_ten_entries_in_one_call_is_refused() {
        let ids: Vec<String> = (0..11).map(|i| format!("n{i}")).collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let refused = TargetsPerRule
            .refuse(&put(&ids), Instant::now(), &Has(0))
            .expect("refused");
        assert!(
            refused.json()["message"]
                .as_str()
                .unwrap()
                .contains("at most 10")
        );
    }
}
