//! Incremental exports and the point-in-time window, answered from the layer's
//! [`ItemHistory`] (moto records an export's `ExportType` and writes a full dump whatever it is,
//! and its restorable window is the moment recovery was turned on, for ever).

use std::collections::HashMap;
use std::io::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};

use super::items::ItemHistory;
use super::{Call, Reply, Rule, Service, Upstream};

const DDB: Service = Service::DynamoDb;

/// The shortest window an incremental export covers.
pub const INCREMENTAL_MIN: Duration = Duration::from_secs(15 * 60);
/// The longest.
pub const INCREMENTAL_MAX: Duration = Duration::from_secs(24 * 3600);
/// How far behind now the latest restorable moment is.
pub const LATEST_RESTORABLE_LAG: Duration = Duration::from_secs(5 * 60);

/// An epoch-seconds timestamp of a JSON body, as a time.
pub(super) fn at(value: &Value) -> Option<SystemTime> {
    let seconds = value.as_f64()?;
    SystemTime::UNIX_EPOCH.checked_add(Duration::try_from_secs_f64(seconds).ok()?)
}

fn seconds(t: SystemTime) -> f64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

fn rfc3339(t: SystemTime) -> Option<String> {
    let nanos = t.duration_since(SystemTime::UNIX_EPOCH).ok()?.as_nanos();
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::try_from(nanos).ok()?)
        .ok()?
        .format(&time::format_description::well_known::Rfc3339)
        .ok()
}

/// The table's name from its ARN (`arn:aws:dynamodb:<region>:<account>:table/<name>`).
pub(super) fn table_of(arn: &str) -> &str {
    arn.split("table/")
        .nth(1)
        .unwrap_or_default()
        .split('/')
        .next()
        .unwrap_or_default()
}

/// The point-in-time window of a table whose recovery was turned on through the layer runs
/// from that moment (or the recovery period's start, whichever is later) to five minutes ago,
/// by the table's clock (a table set back with [`ItemHistory::rewind`] is restorable only up to
/// five minutes before its own now: what is exported, planned from this window, never reaches
/// past the writes the layer has recorded for it).
///
/// DescribeContinuousBackups (API reference), PointInTimeRecoveryDescription:
/// "EarliestRestorableDateTime: Specifies the earliest point in time you can restore your table
/// to. You can restore your table to any point in time during the last 35 days."
/// "LatestRestorableDateTime: LatestRestorableDateTime is typically 5 minutes before the current
/// time." moto answers both as the moment recovery was turned on, for ever.
pub struct PitrWindow {
    history: Arc<ItemHistory>,
    /// How far behind the table's now the latest restorable moment is.
    lag: Duration,
}

impl PitrWindow {
    /// The window of the tables `history` saw turned on, ending [`LATEST_RESTORABLE_LAG`] ago.
    pub fn new(history: Arc<ItemHistory>) -> Self {
        Self {
            history,
            lag: LATEST_RESTORABLE_LAG,
        }
    }

    /// The same, ending `lag` ago (a test that must see a restore point's moment pass within
    /// seconds; AWS says "typically 5 minutes").
    pub fn lagging(self, lag: Duration) -> Self {
        Self { lag, ..self }
    }
}

impl Rule for PitrWindow {
    fn name(&self) -> &'static str {
        "PitrWindow"
    }

    fn answered(&self, call: &Call, reply: &mut Reply, _: Instant) {
        if !reply.ok() {
            return;
        }
        let Some(table) = call.field("TableName") else {
            return;
        };
        if call.is(DDB, "DeleteTable") || call.is(DDB, "CreateTable") {
            self.history.forget_table(table);
            return;
        }
        if call.is(DDB, "UpdateContinuousBackups") {
            let spec = &call.json["PointInTimeRecoverySpecification"];
            if spec["PointInTimeRecoveryEnabled"] == true
                && self.history.pitr_since(table).is_none()
            {
                self.history.pitr_enabled(table);
            }
            if spec["PointInTimeRecoveryEnabled"] == false {
                self.history.pitr_disabled(table);
            }
            return;
        }
        if !call.is(DDB, "DescribeContinuousBackups") {
            return;
        }
        let Some(since) = self.history.pitr_since(table) else {
            return;
        };
        reply.edit_json(|j| {
            let p = &mut j["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"];
            if p["PointInTimeRecoveryStatus"] != "ENABLED" {
                return;
            }
            let days = p["RecoveryPeriodInDays"].as_u64().unwrap_or(35);
            let now = self.history.now(table);
            let period_start = now - Duration::from_secs(days * 86_400);
            let earliest = since.max(period_start);
            let latest = (now - self.lag).max(earliest);
            p["EarliestRestorableDateTime"] = json!(seconds(earliest));
            p["LatestRestorableDateTime"] = json!(seconds(latest));
        });
    }
}

/// An incremental export holds each item changed in its window, once, with its images before
/// and after the window (and is refused for a window under 15 minutes or over 24 hours).
///
/// Developer guide, "Exporting DynamoDB table data to Amazon S3" (incremental export): a period
/// "from 15 minutes up to 24 hours"; IncrementalExportSpecification (API reference):
/// "ExportFromTime: Time in the past which provides the inclusive start range ... ExportToTime:
/// Time in the past which provides the exclusive end range ... If this is not provided, the
/// latest time with data available will be used"; "ExportViewType: ... NEW_AND_OLD_IMAGES
/// exports both the new and old images of each changed item, while NEW_IMAGES exports only the
/// new (latest) image". Developer guide, "DynamoDB table export output format": an incremental
/// export writes `manifest-summary.json`, `manifest-files.json` and gzip'd data files under
/// `<prefix>/AWSDynamoDB/<ExportId>/`, one line per changed item with `Metadata`
/// (`WriteTimestampMicros`), `Keys` and `OldImage`/`NewImage`. ExportTableToPointInTime's
/// InvalidExportTimeException: "The specified ExportTime is outside of the point in time
/// recovery window." The data is written when the export is first described after `window`
/// (its time IN_PROGRESS), from the writes the layer saw. No AWS page names the error of a
/// window under 15 minutes or over 24 hours: it is answered as ValidationException (users report
/// InvalidExportTimeException with "Difference between export period from time and export period
/// to time is less than 15 minutes"; callers should check the window before asking).
pub struct IncrementalExport {
    window: Duration,
    history: Arc<ItemHistory>,
    exports: Mutex<HashMap<String, Incremental>>,
}

#[derive(Debug, Clone)]
struct Incremental {
    table: String,
    table_arn: String,
    from: SystemTime,
    to: SystemTime,
    new_and_old: bool,
    bucket: String,
    prefix: String,
    started: Instant,
    /// The number of items written, once they are.
    written: Option<usize>,
}

impl IncrementalExport {
    /// Exports whose data appears `window` after they start, from `history`.
    pub fn new(window: Duration, history: Arc<ItemHistory>) -> Self {
        Self {
            window,
            history,
            exports: Mutex::new(HashMap::new()),
        }
    }

    /// The window an incremental ExportTableToPointInTime asks for, or the error AWS gives.
    fn window_of(&self, call: &Call, table: &str) -> Result<(SystemTime, SystemTime), Reply> {
        let spec = &call.json["IncrementalExportSpecification"];
        let invalid = |m: &str| Reply::json_error(DDB, "ValidationException", m);
        let Some(from) = at(&spec["ExportFromTime"]) else {
            return Err(invalid(
                "IncrementalExportSpecification.ExportFromTime is required for an incremental export",
            ));
        };
        let now = SystemTime::now();
        let latest = now - LATEST_RESTORABLE_LAG;
        let to = match &spec["ExportToTime"] {
            Value::Null => latest,
            t => at(t).ok_or_else(|| invalid("ExportToTime is not a time"))?,
        };
        let span = to.duration_since(from).unwrap_or_default();
        if span < INCREMENTAL_MIN || span > INCREMENTAL_MAX {
            return Err(invalid(
                "The incremental export period must be between 15 minutes and 24 hours",
            ));
        }
        let before_pitr = self.history.pitr_since(table).is_some_and(|s| from < s);
        if before_pitr || to > now {
            return Err(Reply::json_error(
                DDB,
                "InvalidExportTimeException",
                "The specified ExportTime is outside of the point in time recovery window.",
            ));
        }
        Ok((from, to))
    }

    /// Writes the export's data file and manifests into its bucket; the number of items.
    fn write(
        &self,
        call: &Call,
        arn: &str,
        e: &Incremental,
        upstream: &dyn Upstream,
    ) -> Option<usize> {
        let changes = self.history.changes(&e.table, e.from, e.to);
        let id = arn.rsplit('/').next().unwrap_or_default();
        let root = format!("{}{id}", super::dynamodb::export_root(&e.prefix));
        let mut data = String::new();
        for change in &changes {
            data.push_str(&change.line(e.new_and_old).to_string());
            data.push('\n');
        }
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(data.as_bytes()).ok()?;
        let gz = gz.finish().ok()?;
        let data_key = format!("{root}/data/{id}-0000.json.gz");
        use base64::Engine as _;
        use md5::Digest as _;
        let digest = md5::Md5::digest(&gz);
        let md5 = base64::engine::general_purpose::STANDARD.encode(digest);
        let etag: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        let files = json!({
            "itemCount": changes.len(),
            "md5Checksum": md5,
            "etag": etag,
            "dataFileS3Key": data_key,
        });
        let summary = json!({
            "version": "2023-08-01",
            "exportArn": arn,
            "startTime": rfc3339(SystemTime::now() - self.window),
            "endTime": rfc3339(SystemTime::now()),
            "tableArn": e.table_arn,
            "exportFromTime": rfc3339(e.from),
            "exportToTime": rfc3339(e.to),
            "s3Bucket": e.bucket,
            "s3Prefix": e.prefix,
            "s3SseAlgorithm": "AES256",
            "manifestFilesS3Key": format!("{root}/manifest-files.json"),
            "billedSizeBytes": data.len(),
            "itemCount": changes.len(),
            "outputFormat": "DYNAMODB_JSON",
            "outputView": if e.new_and_old { "NEW_AND_OLD_IMAGES" } else { "NEW_IMAGE" },
            "exportType": "INCREMENTAL_EXPORT",
        });
        let wrote = upstream.put_object(call, &e.bucket, &data_key, &gz)
            && upstream.put_object(
                call,
                &e.bucket,
                &format!("{root}/manifest-files.json"),
                format!("{files}\n").as_bytes(),
            )
            && upstream.put_object(
                call,
                &e.bucket,
                &format!("{root}/manifest-summary.json"),
                summary.to_string().as_bytes(),
            );
        wrote.then_some(changes.len())
    }
}

impl Rule for IncrementalExport {
    fn name(&self) -> &'static str {
        "IncrementalExport"
    }

    fn refuse(&self, call: &Call, now: Instant, upstream: &dyn Upstream) -> Option<Reply> {
        if call.is(DDB, "ExportTableToPointInTime") {
            if call.field("ExportType") != Some("INCREMENTAL_EXPORT") {
                return None;
            }
            let table = table_of(call.field("TableArn")?);
            return self.window_of(call, table).err();
        }
        if !call.is(DDB, "DescribeExport") {
            return None;
        }
        let arn = call.field("ExportArn")?;
        let due = {
            let exports = self.exports.lock().unwrap_or_else(|p| p.into_inner());
            let e = exports.get(arn)?;
            (e.written.is_none() && now.saturating_duration_since(e.started) >= self.window)
                .then(|| e.clone())
        }?;
        if let Some(count) = self.write(call, arn, &due, upstream) {
            let mut exports = self.exports.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(e) = exports.get_mut(arn) {
                e.written = Some(count);
            }
        }
        None
    }

    fn answered(&self, call: &Call, reply: &mut Reply, now: Instant) {
        if !reply.ok() {
            return;
        }
        if call.is(DDB, "ExportTableToPointInTime")
            && call.field("ExportType") == Some("INCREMENTAL_EXPORT")
        {
            let table = table_of(call.field("TableArn").unwrap_or_default()).to_owned();
            let Ok((from, to)) = self.window_of(call, &table) else {
                return;
            };
            let spec = &call.json["IncrementalExportSpecification"];
            let new_and_old = spec["ExportViewType"].as_str() != Some("NEW_IMAGE");
            reply.edit_json(|j| {
                let d = &mut j["ExportDescription"];
                let Some(arn) = d["ExportArn"].as_str() else {
                    return;
                };
                let mut exports = self.exports.lock().unwrap_or_else(|p| p.into_inner());
                exports.entry(arn.to_owned()).or_insert(Incremental {
                    table,
                    table_arn: call.field("TableArn").unwrap_or_default().to_owned(),
                    from,
                    to,
                    new_and_old,
                    bucket: call.field("S3Bucket").unwrap_or_default().to_owned(),
                    prefix: call.field("S3Prefix").unwrap_or_default().to_owned(),
                    started: now,
                    written: None,
                });
                describe(d, exports.get(arn));
            });
            return;
        }
        if call.is(DDB, "DescribeExport") {
            let exports = self.exports.lock().unwrap_or_else(|p| p.into_inner());
            let Some(e) = call.field("ExportArn").and_then(|a| exports.get(a)) else {
                return;
            };
            let e = e.clone();
            drop(exports);
            reply.edit_json(|j| describe(&mut j["ExportDescription"], Some(&e)));
        }
    }
}

/// An incremental export's description as AWS gives it: its type and window, and its item
/// count once its data is written (moto's is the whole table's).
fn describe(d: &mut Value, e: Option<&Incremental>) {
    let Some(e) = e else {
        return;
    };
    d["ExportType"] = json!("INCREMENTAL_EXPORT");
    d["IncrementalExportSpecification"] = json!({
        "ExportFromTime": seconds(e.from),
        "ExportToTime": seconds(e.to),
        "ExportViewType": if e.new_and_old { "NEW_AND_OLD_IMAGES" } else { "NEW_IMAGE" },
    });
    match e.written {
        Some(n) => d["ItemCount"] = json!(n),
        None => {
            if let Some(fields) = d.as_object_mut() {
                fields.remove("ItemCount");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{Nothing, json_call, ok};
    use super::*;

    fn export(from: SystemTime, to: SystemTime) -> Call {
        json_call(
            DDB,
            "ExportTableToPointInTime",
            json!({
                "TableArn": "arn:aws:dynamodb:us-east-1:123456789012:table/T",
                "S3Bucket": "b",
                "S3Prefix": "p",
                "ExportType": "INCREMENTAL_EXPORT",
                "IncrementalExportSpecification": {
                    "ExportFromTime": seconds(from),
                    "ExportToTime": seconds(to),
                    "ExportViewType": "NEW_AND_OLD_IMAGES"
                }
            }),
        )
    }

    fn refused(reply: Option<Reply>) -> Option<String> {
        reply.map(|r| r.json()["__type"].as_str().unwrap_or_default().to_owned())
    }

    #[test]
    fn a_window_outside_15_minutes_to_24_hours_is_refused() {
        let history = Arc::new(ItemHistory::new());
        let rule = IncrementalExport::new(Duration::ZERO, history);
        let now = SystemTime::now() - Duration::from_secs(3600);
        let t0 = Instant::now();
        let minutes = |m: u64| Duration::from_secs(m * 60);
        let short = export(now - minutes(14), now);
        assert_eq!(
            refused(rule.refuse(&short, t0, &Nothing)).as_deref(),
            Some("ValidationException")
        );
        let long = export(now - minutes(24 * 60 + 1), now);
        assert_eq!(
            refused(rule.refuse(&long, t0, &Nothing)).as_deref(),
            Some("ValidationException")
        );
        assert_eq!(
            refused(rule.refuse(&export(now - minutes(15), now), t0, &Nothing)),
            None
        );
        assert_eq!(
            refused(rule.refuse(&export(now - minutes(24 * 60), now), t0, &Nothing)),
            None
        );
        let future = export(SystemTime::now(), SystemTime::now() + minutes(20));
        assert_eq!(
            refused(rule.refuse(&future, t0, &Nothing)).as_deref(),
            Some("InvalidExportTimeException")
        );
    }

    #[test]
    fn a_window_before_recovery_was_on_is_refused() {
        let history = Arc::new(ItemHistory::new());
        history.rewind("T", Duration::from_secs(3600));
        history.pitr_enabled("T");
        let rule = IncrementalExport::new(Duration::ZERO, history);
        let now = SystemTime::now();
        let t0 = Instant::now();
        let hours = |h: u64| Duration::from_secs(h * 3600);
        let early = export(now - hours(2), now - hours(1) + Duration::from_secs(60));
        assert_eq!(
            refused(rule.refuse(&early, t0, &Nothing)).as_deref(),
            Some("InvalidExportTimeException")
        );
        let inside = export(
            now - Duration::from_secs(50 * 60),
            now - Duration::from_secs(10 * 60),
        );
        assert_eq!(refused(rule.refuse(&inside, t0, &Nothing)), None);
    }

    #[test]
    fn the_description_has_the_window_and_no_count_until_the_data_is_written() {
        let history = Arc::new(ItemHistory::new());
        let rule = IncrementalExport::new(Duration::from_secs(60), history);
        let now = SystemTime::now() - Duration::from_secs(600);
        let call = export(now - Duration::from_secs(1800), now);
        let mut reply = ok(json!({"ExportDescription": {
            "ExportArn": "arn:x/export/e1", "ExportStatus": "IN_PROGRESS", "ItemCount": 4609
        }}));
        rule.answered(&call, &mut reply, Instant::now());
        let d = &reply.json()["ExportDescription"];
        assert_eq!(d["ExportType"], "INCREMENTAL_EXPORT");
        assert_eq!(
            d["IncrementalExportSpecification"]["ExportViewType"],
            "NEW_AND_OLD_IMAGES"
        );
        assert!(d.get("ItemCount").is_none(), "{d}");
    }

    #[test]
    fn the_restorable_window_runs_from_when_recovery_was_turned_on_to_five_minutes_ago() {
        let history = Arc::new(ItemHistory::new());
        history.rewind("T", Duration::from_secs(7200));
        let rule = PitrWindow::new(Arc::clone(&history));
        let on = json_call(
            DDB,
            "UpdateContinuousBackups",
            json!({"TableName": "T", "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": true}}),
        );
        rule.answered(&on, &mut ok(json!({})), Instant::now());
        let describe = json_call(DDB, "DescribeContinuousBackups", json!({"TableName": "T"}));
        let moto_now = seconds(SystemTime::now());
        let window = || {
            let mut reply = ok(json!({"ContinuousBackupsDescription": {
                "PointInTimeRecoveryDescription": {
                    "PointInTimeRecoveryStatus": "ENABLED",
                    "EarliestRestorableDateTime": moto_now,
                    "LatestRestorableDateTime": moto_now
                }
            }}));
            rule.answered(&describe, &mut reply, Instant::now());
            let p = &reply.json()["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"];
            (
                p["EarliestRestorableDateTime"].as_f64().unwrap(),
                p["LatestRestorableDateTime"].as_f64().unwrap(),
            )
        };
        // By the table's clock, an hour after recovery went on: restorable to 5 minutes before.
        history.rewind("T", Duration::from_secs(3600));
        let (earliest, latest) = window();
        assert!((moto_now - earliest - 7200.0).abs() < 5.0, "{earliest}");
        assert!((moto_now - latest - 3900.0).abs() < 5.0, "{latest}");
        history.rewind("T", Duration::ZERO);
        let (earliest, latest) = window();
        assert!((moto_now - earliest - 7200.0).abs() < 5.0, "{earliest}");
        assert!((moto_now - latest - 300.0).abs() < 5.0, "{latest}");
    }
}
