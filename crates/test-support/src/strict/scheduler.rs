//! EventBridge Scheduler's checks on a schedule and its group, which moto does not make: it
//! takes any time zone and any window, answers a schedule in a missing group with an HTML 500,
//! and lets a second CreateScheduleGroup replace the first, with its schedules.

use std::time::Instant;

use serde_json::Value;

use super::{Call, Reply, Rule, Service, Upstream, decode};

/// Names a Scheduler REST call (`POST /schedules/N` is CreateSchedule, ...) and the schedule or
/// group its path names.
pub fn name_rest_call(method: &str, path: &str) -> (String, Option<String>) {
    let parts: Vec<&str> = path.trim_start_matches('/').splitn(2, '/').collect();
    let name = parts.get(1).map(|n| decode(n));
    let operation = match (method, parts[0], name.is_some()) {
        ("POST", "schedules", true) => "CreateSchedule",
        ("PUT", "schedules", true) => "UpdateSchedule",
        ("GET", "schedules", true) => "GetSchedule",
        ("DELETE", "schedules", true) => "DeleteSchedule",
        ("GET", "schedules", false) => "ListSchedules",
        ("POST", "schedule-groups", true) => "CreateScheduleGroup",
        ("GET", "schedule-groups", true) => "GetScheduleGroup",
        ("DELETE", "schedule-groups", true) => "DeleteScheduleGroup",
        ("GET", "schedule-groups", false) => "ListScheduleGroups",
        ("GET", "tags", true) => "ListTagsForResource",
        ("POST", "tags", true) => "TagResource",
        ("DELETE", "tags", true) => "UntagResource",
        _ => return (format!("{method} {path}"), name),
    };
    (operation.to_owned(), name)
}

fn validation(message: String) -> Reply {
    Reply::rest_json_error(400, "ValidationException", &message)
}

/// Whether `call` writes a schedule (its whole definition is in the body).
fn writes_schedule(call: &Call) -> bool {
    call.is(Service::Scheduler, "CreateSchedule") || call.is(Service::Scheduler, "UpdateSchedule")
}

/// A schedule's time zone must be one of the IANA database's names; moto takes any text.
///
/// CreateSchedule (API reference), `ScheduleExpressionTimezone`: "The timezone in which the
/// scheduling expression is evaluated." User guide, "Schedule types on EventBridge Scheduler",
/// time zones: Scheduler evaluates the expression in "any time zone" of the tz database, and
/// refuses what it does not know with ValidationException (the error all its input checks
/// answer, "The input fails to satisfy the constraints specified by an AWS service").
pub struct ScheduleTimezoneValid;

impl Rule for ScheduleTimezoneValid {
    fn name(&self) -> &'static str {
        "ScheduleTimezoneValid"
    }

    fn refuse(&self, call: &Call, _: Instant, _: &dyn Upstream) -> Option<Reply> {
        if !writes_schedule(call) {
            return None;
        }
        let zone = call.json["ScheduleExpressionTimezone"].as_str()?;
        let named = !zone.starts_with(['+', '-']) && jiff::tz::TimeZone::get(zone).is_ok();
        (!named).then(|| validation(format!("Invalid time zone: {zone}")))
    }
}

/// A schedule's window and retries must be within their documented ranges; moto takes any.
///
/// FlexibleTimeWindow (data type): `Mode` "OFF | FLEXIBLE"; `MaximumWindowInMinutes`: "Valid
/// Range: Minimum value of 1. Maximum value of 1440", and it is what FLEXIBLE windows by (a
/// FLEXIBLE window without it, or an OFF one with it, is refused). RetryPolicy (data type):
/// `MaximumEventAgeInSeconds` "Minimum value of 60. Maximum value of 86400";
/// `MaximumRetryAttempts` "Minimum value of 0. Maximum value of 185".
pub struct ScheduleRanges;

impl Rule for ScheduleRanges {
    fn name(&self) -> &'static str {
        "ScheduleRanges"
    }

    fn refuse(&self, call: &Call, _: Instant, _: &dyn Upstream) -> Option<Reply> {
        if !writes_schedule(call) {
            return None;
        }
        let window = &call.json["FlexibleTimeWindow"];
        let minutes = window["MaximumWindowInMinutes"].as_i64();
        let bad_window = match window["Mode"].as_str() {
            Some("FLEXIBLE") => !minutes.is_some_and(|m| (1..=1440).contains(&m)),
            Some("OFF") => minutes.is_some(),
            _ => true,
        };
        if bad_window {
            return Some(validation(format!(
                "FlexibleTimeWindow {window} is not valid: FLEXIBLE takes MaximumWindowInMinutes from 1 to 1440, OFF takes none"
            )));
        }
        let retry = &call.json["Target"]["RetryPolicy"];
        let out_of = |field: &str, range: std::ops::RangeInclusive<i64>| {
            retry[field].as_i64().is_some_and(|v| !range.contains(&v))
        };
        (out_of("MaximumEventAgeInSeconds", 60..=86_400) || out_of("MaximumRetryAttempts", 0..=185))
            .then(|| validation(format!("RetryPolicy {retry} is out of range")))
    }
}

/// A schedule goes into a group that exists (moto answers an HTML 500), and a group's name is
/// taken while it exists (moto makes a second group of the name, dropping the first's
/// schedules).
///
/// CreateSchedule (API reference), errors: "ResourceNotFoundException: The request references
/// a resource which does not exist." (HTTP 404). CreateScheduleGroup, errors:
/// "ConflictException: Updating or deleting the resource can cause an inconsistent state."
/// (HTTP 409), which it answers for a name in use.
pub struct ScheduleGroupExists;

impl Rule for ScheduleGroupExists {
    fn name(&self) -> &'static str {
        "ScheduleGroupExists"
    }

    fn refuse(&self, call: &Call, _: Instant, upstream: &dyn Upstream) -> Option<Reply> {
        let (group, creating_group) = if call.is(Service::Scheduler, "CreateScheduleGroup") {
            (call.resource.clone()?, true)
        } else if call.is(Service::Scheduler, "CreateSchedule") {
            let group = call.json["GroupName"].as_str().unwrap_or("default");
            (group.to_owned(), false)
        } else {
            return None;
        };
        if group == "default" {
            return None;
        }
        // Group names are `[0-9a-zA-Z-_.]+`: nothing to encode (moto reads the path as sent).
        if !group
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        {
            return None;
        }
        let (status, _): (u16, Value) =
            upstream.rest_get(call, &format!("/schedule-groups/{group}"))?;
        let exists = (200..300).contains(&status);
        match (creating_group, exists) {
            (true, true) => Some(Reply::rest_json_error(
                409,
                "ConflictException",
                &format!("Schedule group {group} already exists."),
            )),
            (false, false) => Some(Reply::rest_json_error(
                404,
                "ResourceNotFoundException",
                &format!("Schedule group {group} does not exist."),
            )),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn call(method: &str, path: &str, body: Value) -> Call {
        Call::parse(
            method,
            path,
            None,
            Some("AWS4-HMAC-SHA256 Credential=AK/20261205/us-east-1/scheduler/aws4_request"),
            body.to_string().as_bytes(),
        )
    }

    /// moto's view: these groups exist.
    struct Groups(&'static [&'static str]);

    impl Upstream for Groups {
        fn ask(&self, _: &Call, _: &str, _: &Value) -> Option<Value> {
            None
        }

        fn rest_get(&self, _: &Call, path: &str) -> Option<(u16, Value)> {
            let name = path.rsplit('/').next()?;
            Some(if self.0.contains(&name) {
                (200, json!({"Name": name}))
            } else {
                (404, json!({}))
            })
        }
    }

    fn schedule(zone: &str, window: Value) -> Value {
        json!({
            "GroupName": "prod",
            "ScheduleExpression": "cron(30 2 * * ? *)",
            "ScheduleExpressionTimezone": zone,
            "FlexibleTimeWindow": window,
            "Target": {"Arn": "arn:f", "RoleArn": "arn:r", "RetryPolicy": {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 185}},
        })
    }

    #[test]
    fn scheduler_calls_are_told_from_s3_by_their_scope() {
        let c = call("POST", "/schedules/Movies", json!({}));
        assert_eq!(c.service, Service::Scheduler);
        assert_eq!(c.operation, "CreateSchedule");
        assert_eq!(c.resource.as_deref(), Some("Movies"));
        let c = call("DELETE", "/schedule-groups/prod", Value::Null);
        assert_eq!(c.operation, "DeleteScheduleGroup");
    }

    #[test]
    fn a_zone_must_be_a_name_of_the_database() {
        let now = Instant::now();
        let off = json!({"Mode": "OFF"});
        let ok = call(
            "POST",
            "/schedules/M",
            schedule("Europe/Berlin", off.clone()),
        );
        assert!(
            ScheduleTimezoneValid
                .refuse(&ok, now, &Groups(&[]))
                .is_none()
        );
        for bad in ["Europe/Berln", "+02:00", "Mars/Olympus"] {
            let c = call("PUT", "/schedules/M", schedule(bad, off.clone()));
            let refused = ScheduleTimezoneValid
                .refuse(&c, now, &Groups(&[]))
                .expect(bad);
            assert_eq!(refused.status, 400);
        }
    }

    #[test]
    fn a_window_and_retries_stay_in_their_ranges() {
        let now = Instant::now();
        let good = [
            json!({"Mode": "OFF"}),
            json!({"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 15}),
        ];
        for window in good {
            let c = call("POST", "/schedules/M", schedule("UTC", window.clone()));
            assert!(
                ScheduleRanges.refuse(&c, now, &Groups(&[])).is_none(),
                "{window}"
            );
        }
        let bad = [
            json!({"Mode": "FLEXIBLE"}),
            json!({"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 1441}),
            json!({"Mode": "OFF", "MaximumWindowInMinutes": 5}),
        ];
        for window in bad {
            let c = call("POST", "/schedules/M", schedule("UTC", window.clone()));
            assert!(
                ScheduleRanges.refuse(&c, now, &Groups(&[])).is_some(),
                "{window}"
            );
        }
        let mut body = schedule("UTC", json!({"Mode": "OFF"}));
        body["Target"]["RetryPolicy"]["MaximumEventAgeInSeconds"] = json!(30);
        let c = call("POST", "/schedules/M", body);
        assert!(ScheduleRanges.refuse(&c, now, &Groups(&[])).is_some());
    }

    #[test]
    fn a_schedule_needs_its_group_and_a_group_its_own_name() {
        let now = Instant::now();
        let off = json!({"Mode": "OFF"});
        let into = call("POST", "/schedules/M", schedule("UTC", off));
        let missing = ScheduleGroupExists
            .refuse(&into, now, &Groups(&[]))
            .expect("no group");
        assert_eq!(missing.status, 404);
        assert!(
            ScheduleGroupExists
                .refuse(&into, now, &Groups(&["prod"]))
                .is_none()
        );
        let again = call("POST", "/schedule-groups/prod", json!({}));
        let taken = ScheduleGroupExists
            .refuse(&again, now, &Groups(&["prod"]))
            .expect("taken");
        assert_eq!(taken.status, 409);
        assert!(
            ScheduleGroupExists
                .refuse(&again, now, &Groups(&[]))
                .is_none()
        );
    }
}
