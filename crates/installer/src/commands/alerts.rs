//! The stack's alerting as `plan`, `up` and `status` show it: where the alarms go, who is
//! subscribed (pending confirmation or confirmed), each alarm's state, and why a schedule gets
//! no missing-backup alarm when it gets none.

use super::summary;
use crate::deploy::alerts::NoWindow;
use crate::deploy::desired::Desired;
use crate::deploy::stack;

/// The stack's alerting as it is now, printed: the topic's subscriptions and each alarm's
/// state, and why there is no missing-backup alarm if there is none.
pub(crate) fn alerts(desired: &Desired, observed: &stack::Observed) -> summary::Alerts {
    let other_topics: Vec<String> = desired
        .alarms
        .first()
        .map(|a| {
            a.actions
                .iter()
                .filter(|t| **t != desired.topic.arn)
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let subscriptions: Vec<summary::AlertSubscription> = observed
        .topic
        .iter()
        .flat_map(|t| &t.subscriptions)
        .map(|s| summary::AlertSubscription {
            protocol: s.protocol.clone(),
            endpoint: s.endpoint.clone(),
            state: s.state(),
        })
        .collect();
    // The alarms asked for, then those of the stack that exist but were not asked for.
    let alarms: Vec<summary::AlarmState> = desired
        .alarms
        .iter()
        .zip(&observed.alarms)
        .map(|(d, o)| (d, o.as_ref()))
        .chain(observed.stale_alarms.iter().map(|(d, o)| (d, Some(o))))
        .map(|(d, o)| summary::AlarmState {
            name: d.name.clone(),
            state: o.map_or("missing".to_owned(), |o| o.state.clone()),
            reason: o.map(|o| o.reason.clone()).unwrap_or_default(),
        })
        .collect();
    let note = desired.no_missing_alarm.as_ref().map(|why| match why {
        NoWindow::NoInterval => "the schedule has no fixed longest gap between runs (L, W or # in cron), so no alarm can tell a missing backup; run `installer report --rpo <max gap>` from cron instead".to_owned(),
        NoWindow::ByTag => "the tables are chosen by tag and found at run time, so they get no per-table alarms; the function-errors alarm fires when any of them fails, and `installer report` checks their recovery points".to_owned(),
        NoWindow::TooLong(span) => format!(
            "the schedule's longest gap plus margin ({} h) is beyond the 7 days a CloudWatch alarm can look back, so no alarm can tell a missing backup; run `installer report --rpo <max gap>` from cron instead",
            span.as_secs() / 3600
        ),
    });
    let export_note = desired.no_export_missing_alarm.as_ref().and_then(|why| match why {
        NoWindow::NoInterval => Some("the schedule has no fixed longest gap between runs, so no alarm can tell a missing export; `installer status` shows each table's newest export".to_owned()),
        // Said once, by the note on backups.
        NoWindow::ByTag => None,
        NoWindow::TooLong(span) => Some(format!(
            "an export period plus the schedule's longest gap and margin ({} h) is beyond the 7 days a CloudWatch alarm can look back, so no alarm can tell a missing export (the export-failed alarm still fires on a failed one); `installer status` shows each table's newest export",
            span.as_secs() / 3600
        )),
    });
    if alarms.is_empty() {
        report!("alerts: off (turn on with --alert-email you@example.com or --alert-topic ARN)");
    } else {
        let topic =
            (desired.topic_wanted || observed.topic.is_some()).then(|| desired.topic.arn.clone());
        let to: Vec<&String> = topic.iter().chain(&other_topics).collect();
        report!(
            "alerts: {} alarm(s) notify {} on ALARM and on OK",
            alarms.len(),
            to.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(", ")
        );
        for s in &subscriptions {
            report!("  subscription {} {}: {}", s.protocol, s.endpoint, s.state);
        }
        for a in &alarms {
            report!("  alarm {:<52} {}", a.name, a.state);
        }
        for note in note.iter().chain(&export_note) {
            report!("  note: {note}");
        }
    }
    summary::Alerts {
        topic: (desired.topic_wanted || observed.topic.is_some())
            .then(|| desired.topic.arn.clone()),
        other_topics,
        subscriptions,
        alarms,
        note,
        export_note,
    }
}
