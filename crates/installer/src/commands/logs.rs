//! `installer logs`: the function's log events.

use aws_sdk_cloudwatchlogs::types::FilteredLogEvent;
use serde_json::json;

use super::CommandError;
use crate::aws::{Aws, AwsResult, ConnectArgs};
use crate::deploy::config::StackRef;

/// How far behind the newest event `logs --follow` keeps reading, for events delivered late.
const LATE_EVENTS_MS: i64 = 120_000;

/// `installer logs`.
pub async fn logs(
    stack: &StackRef,
    connect: &ConnectArgs,
    since: &str,
    follow: bool,
    json_lines: bool,
    raw: bool,
) -> Result<(), CommandError> {
    let name = stack.name()?;
    let window = backup_lambda::drill::parse_period(since)
        .ok_or_else(|| CommandError::Since(since.to_owned()))?;
    let aws = Aws::connect(connect).await?;
    // The log group is named for the function alone: no settings needed.
    let group = format!("/aws/lambda/{name}");
    let mut start = now_ms() - i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
    let mut seen = std::collections::HashSet::new();
    let mut newest = start;
    loop {
        for event in read_events(&aws, &group, start).await? {
            let id = event.event_id.clone().unwrap_or_default();
            if seen.insert(id) {
                if !print_event(&event, json_lines, raw) {
                    // The reader has gone (`logs --follow | head`): nothing more to show.
                    return Ok(());
                }
                newest = newest.max(event.timestamp.unwrap_or(newest));
            }
        }
        // CloudWatch Logs may deliver an event after later ones: read again from a while before
        // the newest seen (what was printed is skipped by its id), so a late one still shows.
        start = start.max(newest - LATE_EVENTS_MS);
        if !follow {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    }
}

/// Milliseconds since the Unix epoch, now.
fn now_ms() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis(),
    )
    .unwrap_or(i64::MAX)
}

/// Every event of `group` from `start` (all pages), oldest first.
async fn read_events(
    aws: &Aws,
    group: &str,
    start: i64,
) -> Result<Vec<FilteredLogEvent>, CommandError> {
    let mut events = Vec::new();
    let mut token = None;
    loop {
        let page = aws
            .logs
            .filter_log_events()
            .log_group_name(group)
            .start_time(start)
            .set_next_token(token)
            .send()
            .await
            .aws("FilterLogEvents", group)?;
        events.extend(page.events.unwrap_or_default());
        token = page.next_token;
        if token.is_none() {
            break;
        }
    }
    events.sort_by_key(|e| e.timestamp);
    Ok(events)
}

/// Prints one event on stdout: `<RFC 3339 time> <message>` (rendered for reading unless `raw`),
/// or a JSON line.
/// `false` once stdout's reader has gone.
fn print_event(event: &FilteredLogEvent, json_lines: bool, raw: bool) -> bool {
    let when = event
        .timestamp
        .and_then(|ms| {
            time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()
        })
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default();
    let message = event.message.as_deref().unwrap_or_default().trim_end();
    let line = if json_lines {
        json!({"timestamp": when, "message": message}).to_string()
    } else if raw {
        format!("{when} {message}")
    } else {
        format!("{when} {}", crate::report::log_line::render(message))
    };
    crate::report::stdout::line(&line)
}
