//! DynamoDB's backups and tables, as its API reference documents them.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

use super::items::ItemHistory;
use super::{Call, Recent, Reply, Rule, Service, Upstream};

const DDB: Service = Service::DynamoDb;

/// A new backup is `CREATING` for a while, and DeleteBackup of it is refused.
///
/// CreateBackup (API reference): "the backup is created asynchronously ... Backup requests are
/// processed instantaneously and become available for restore within minutes." DeleteBackup:
/// "BackupInUseException: There is another ongoing conflicting backup control plane operation on
/// the table. The backup is either being created, deleted or restored to a table."
/// Shown as CREATING in CreateBackup's, ListBackups' and DescribeBackup's answers.
pub struct BackupCreating {
    made: Recent,
}

impl BackupCreating {
    /// Backups are CREATING for `window`.
    pub fn new(window: Duration) -> Self {
        Self {
            made: Recent::new(window),
        }
    }
}

impl Rule for BackupCreating {
    fn name(&self) -> &'static str {
        "BackupCreating"
    }

    fn refuse(&self, call: &Call, now: Instant, _: &dyn Upstream) -> Option<Reply> {
        let arn = call.field("BackupArn")?;
        (call.is(DDB, "DeleteBackup") && self.made.within(arn, now)).then(|| {
            Reply::json_error(
                DDB,
                "BackupInUseException",
                &format!("Backup is being created: {arn}"),
            )
        })
    }

    fn answered(&self, call: &Call, reply: &mut Reply, now: Instant) {
        if !reply.ok() {
            return;
        }
        let creating = |status: &mut Value, arn: &Value| {
            if arn.as_str().is_some_and(|a| self.made.within(a, now)) {
                *status = "CREATING".into();
            }
        };
        match call.operation.as_str() {
            "CreateBackup" if call.service == DDB => reply.edit_json(|j| {
                let details = &mut j["BackupDetails"];
                if let Some(arn) = details["BackupArn"].as_str() {
                    self.made.mark(arn, now);
                }
                let arn = details["BackupArn"].clone();
                creating(&mut details["BackupStatus"], &arn);
            }),
            "ListBackups" if call.service == DDB => reply.edit_json(|j| {
                for summary in j["BackupSummaries"].as_array_mut().into_iter().flatten() {
                    let arn = summary["BackupArn"].clone();
                    creating(&mut summary["BackupStatus"], &arn);
                }
            }),
            "DescribeBackup" if call.service == DDB => reply.edit_json(|j| {
                let details = &mut j["BackupDescription"]["BackupDetails"];
                let arn = details["BackupArn"].clone();
                creating(&mut details["BackupStatus"], &arn);
            }),
            _ => {}
        }
    }
}

/// CreateBackup (and UpdateContinuousBackups) soon after CreateTable is refused with
/// ContinuousBackupsUnavailableException.
///
/// CreateBackup and UpdateContinuousBackups (API reference), errors:
/// "ContinuousBackupsUnavailableException: Backups have not yet been enabled for this table."
/// A table's backups are enabled a while after it is made, and a table made by a restore
/// (RestoreTableFromBackup, RestoreTableToPointInTime) or an import (ImportTable) is no
/// different: the window starts once it is ACTIVE.
pub struct BackupsNotYetEnabled {
    created: Recent,
    /// How long a restored or imported table takes to become ACTIVE.
    activating: Duration,
}

impl BackupsNotYetEnabled {
    /// Backups are enabled `window` after CreateTable.
    pub fn new(window: Duration) -> Self {
        Self {
            created: Recent::new(window),
            activating: Duration::ZERO,
        }
    }

    /// ... and `window` after a restored or imported table, which takes `activating` to become
    /// ACTIVE, is.
    #[must_use]
    pub fn after_restores_taking(mut self, activating: Duration) -> Self {
        self.activating = activating;
        self
    }
}

impl Rule for BackupsNotYetEnabled {
    fn name(&self) -> &'static str {
        "BackupsNotYetEnabled"
    }

    fn refuse(&self, call: &Call, now: Instant, _: &dyn Upstream) -> Option<Reply> {
        let table = call.field("TableName")?;
        let backup_call = call.is(DDB, "CreateBackup") || call.is(DDB, "UpdateContinuousBackups");
        (backup_call && self.created.within(table, now)).then(|| {
            Reply::json_error(
                DDB,
                "ContinuousBackupsUnavailableException",
                &format!("Backups are being enabled for the table: {table}. Please retry later"),
            )
        })
    }

    fn answered(&self, call: &Call, reply: &mut Reply, now: Instant) {
        if !reply.ok() {
            return;
        }
        if call.is(DDB, "CreateTable")
            && let Some(table) = call.field("TableName")
        {
            self.created.mark(table, now);
            return;
        }
        let restored = if call.is(DDB, "RestoreTableFromBackup")
            || call.is(DDB, "RestoreTableToPointInTime")
        {
            call.field("TargetTableName")
        } else if call.is(DDB, "ImportTable") {
            call.json["TableCreationParameters"]["TableName"].as_str()
        } else {
            None
        };
        if let Some(table) = restored {
            self.created.mark(table, now + self.activating);
        }
    }
}

/// A gzip'd data file's text.
fn gunzip(body: &[u8]) -> Option<String> {
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(body), &mut text).ok()?;
    Some(text)
}

/// An imported table holds each item as the import's data files do. moto's ImportTable parses
/// the files with a PartiQL JSON parser that cuts a string at an apostrophe (a plot "A weekend
/// visit to a girlfriend's family" is imported as "A weekend visit to a girlfriend"): the layer
/// writes each item of a `DYNAMODB_JSON` import again, from its files, when moto first describes
/// the import COMPLETED and before the caller hears it. (An item whose key holds an apostrophe
/// would still leave moto's cut copy beside it: no test imports one. DescribeImport's counts
/// are moto's.)
///
/// Developer guide, "DynamoDB data import from Amazon S3": "The data can be compressed in ZSTD
/// or GZIP format ... the source data can be in CSV, DynamoDB JSON or Amazon Ion format";
/// "DynamoDB JSON: a file in DynamoDB JSON format can consist of multiple Item objects. Each
/// individual object is in DynamoDB's standard marshalled JSON format". Nothing there lets an
/// import change a value.
#[derive(Default)]
pub struct ImportHoldsTheFiles {
    /// Each import asked for, by ARN: its table, bucket, key prefix and whether it is gzip'd;
    /// removed once its items are written again.
    imports: Mutex<HashMap<String, (String, String, String, bool)>>,
}

impl Rule for ImportHoldsTheFiles {
    fn name(&self) -> &'static str {
        "ImportHoldsTheFiles"
    }

    fn refuse(&self, call: &Call, _: Instant, upstream: &dyn Upstream) -> Option<Reply> {
        if !call.is(DDB, "DescribeImport") {
            return None;
        }
        let arn = call.field("ImportArn")?;
        let (table, bucket, prefix, gzip) = {
            let imports = self.imports.lock().unwrap_or_else(|p| p.into_inner());
            imports.get(arn)?.clone()
        };
        let described = upstream.ask(
            call,
            "DynamoDB_20120810.DescribeImport",
            &serde_json::json!({"ImportArn": arn}),
        )?;
        if described["ImportTableDescription"]["ImportStatus"] != "COMPLETED" {
            return None;
        }
        for key in upstream.list_keys(call, &bucket, &prefix)? {
            let Some(body) = upstream.get_object(call, &bucket, &key) else {
                continue;
            };
            let text = if gzip {
                gunzip(&body)
            } else {
                String::from_utf8(body).ok()
            };
            let Some(text) = text else {
                continue;
            };
            for line in text.lines() {
                let Ok(line) = serde_json::from_str::<Value>(line) else {
                    continue;
                };
                if let Some(item) = line.get("Item") {
                    let put = serde_json::json!({"TableName": table, "Item": item});
                    upstream.ask(call, "DynamoDB_20120810.PutItem", &put);
                }
            }
        }
        self.imports
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(arn);
        None
    }

    fn answered(&self, call: &Call, reply: &mut Reply, _: Instant) {
        if !call.is(DDB, "ImportTable") || !reply.ok() {
            return;
        }
        if call.field("InputFormat") != Some("DYNAMODB_JSON") {
            return;
        }
        let source = &call.json["S3BucketSource"];
        let (Some(arn), Some(table), Some(bucket)) = (
            reply.json()["ImportTableDescription"]["ImportArn"]
                .as_str()
                .map(str::to_owned),
            call.json["TableCreationParameters"]["TableName"].as_str(),
            source["S3Bucket"].as_str(),
        ) else {
            return;
        };
        let prefix = source["S3KeyPrefix"].as_str().unwrap_or_default();
        let gzip = call.field("InputCompressionType") == Some("GZIP");
        self.imports
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                arn,
                (table.to_owned(), bucket.to_owned(), prefix.to_owned(), gzip),
            );
    }
}

/// A deleted table is `DELETING` for a while: DescribeTable says so and CreateTable of the name
/// is refused.
///
/// DeleteTable (API reference): "After a DeleteTable request, the specified table is in the
/// DELETING state until DynamoDB completes the deletion. ... If table is already in the DELETING
/// state, no error is returned." CreateTable: "ResourceInUseException: The operation conflicts
/// with the resource's availability. For example ... you attempted to recreate an existing
/// table".
pub struct TableDeleting {
    window: Duration,
    deleting: Mutex<HashMap<String, (Instant, Value)>>,
}

impl TableDeleting {
    /// Tables are DELETING for `window`.
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            deleting: Mutex::new(HashMap::new()),
        }
    }

    /// The table's description (as DELETING) while it is being deleted.
    fn described(&self, table: &str, now: Instant) -> Option<Value> {
        let deleting = self.deleting.lock().unwrap_or_else(|p| p.into_inner());
        let (at, description) = deleting.get(table)?;
        (now.saturating_duration_since(*at) < self.window).then(|| description.clone())
    }
}

impl Rule for TableDeleting {
    fn name(&self) -> &'static str {
        "TableDeleting"
    }

    fn refuse(&self, call: &Call, now: Instant, _: &dyn Upstream) -> Option<Reply> {
        if call.service != DDB {
            return None;
        }
        let restore = ["RestoreTableFromBackup", "RestoreTableToPointInTime"];
        if restore.contains(&call.operation.as_str()) {
            // RestoreTableFromBackup (API reference), Errors: "TableInUseException: A target
            // table with the specified name is either being created or deleted."
            let target = call.field("TargetTableName")?;
            self.described(target, now)?;
            return Some(Reply::json_error(
                DDB,
                "TableInUseException",
                &format!("Table is being deleted: {target}"),
            ));
        }
        let table = call.field("TableName")?;
        let description = self.described(table, now)?;
        match call.operation.as_str() {
            "DescribeTable" => Some(Reply::json_ok(
                DDB,
                &serde_json::json!({"Table": description}),
            )),
            "DeleteTable" => Some(Reply::json_ok(
                DDB,
                &serde_json::json!({"TableDescription": description}),
            )),
            "CreateTable" => Some(Reply::json_error(
                DDB,
                "ResourceInUseException",
                &format!("Table is being deleted: {table}"),
            )),
            _ => None,
        }
    }

    fn answered(&self, call: &Call, reply: &mut Reply, now: Instant) {
        if !call.is(DDB, "DeleteTable") || !reply.ok() {
            return;
        }
        let Some(table) = call.field("TableName") else {
            return;
        };
        reply.edit_json(|j| {
            let description = &mut j["TableDescription"];
            description["TableStatus"] = "DELETING".into();
            self.deleting
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(table.to_owned(), (now, description.clone()));
        });
    }
}

/// Contributor insights and Kinesis streaming destinations, which moto does not offer (it
/// answers them with an HTML 500): DescribeContributorInsights answers the status the layer last
/// set for the table or index (`DISABLED` until UpdateContributorInsights; DeleteTable forgets
/// it, as the table's settings go with it), UpdateContributorInsights sets it, and
/// DescribeKinesisStreamingDestination answers no destination. A table that does not exist is
/// ResourceNotFoundException.
///
/// DescribeContributorInsights (API reference): "ContributorInsightsStatus: Current status of
/// contributor insights"; UpdateContributorInsights: "ContributorInsightsAction: Represents the
/// contributor insights action" (ENABLE, DISABLE); DescribeKinesisStreamingDestination:
/// "KinesisDataStreamDestinations: The list of replica structures for the table being
/// described."
#[derive(Default)]
pub struct ContributorInsights {
    status: Mutex<HashMap<(String, String), &'static str>>,
}

impl ContributorInsights {
    fn status(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), &'static str>> {
        self.status.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Rule for ContributorInsights {
    fn name(&self) -> &'static str {
        "ContributorInsights"
    }

    fn refuse(&self, call: &Call, _: Instant, upstream: &dyn Upstream) -> Option<Reply> {
        let ours = [
            "DescribeContributorInsights",
            "UpdateContributorInsights",
            "DescribeKinesisStreamingDestination",
        ];
        if call.service != DDB || !ours.contains(&call.operation.as_str()) {
            return None;
        }
        let table = call.field("TableName")?.to_owned();
        let exists = upstream.ask(
            call,
            "DynamoDB_20120810.DescribeTable",
            &serde_json::json!({"TableName": table}),
        );
        if exists.is_none() {
            return Some(Reply::json_error(
                DDB,
                "ResourceNotFoundException",
                &format!("Requested resource not found: Table: {table} not found"),
            ));
        }
        let index = call.field("IndexName").map(str::to_owned);
        let at = (table.clone(), index.clone().unwrap_or_default());
        let mut answer = serde_json::json!({"TableName": table});
        if let Some(index) = &index {
            answer["IndexName"] = index.clone().into();
        }
        match call.operation.as_str() {
            "DescribeContributorInsights" => {
                let status = self.status().get(&at).copied().unwrap_or("DISABLED");
                answer["ContributorInsightsStatus"] = status.into();
            }
            "UpdateContributorInsights" => {
                let (now, answered) = match call.field("ContributorInsightsAction") {
                    Some("ENABLE") => ("ENABLED", "ENABLING"),
                    _ => ("DISABLED", "DISABLING"),
                };
                self.status().insert(at, now);
                answer["ContributorInsightsStatus"] = answered.into();
            }
            _ => answer["KinesisDataStreamDestinations"] = serde_json::json!([]),
        }
        Some(Reply::json_ok(DDB, &answer))
    }

    fn answered(&self, call: &Call, reply: &mut Reply, _: Instant) {
        if call.is(DDB, "DeleteTable")
            && reply.ok()
            && let Some(table) = call.field("TableName")
        {
            self.status().retain(|(t, _), _| t != table);
        }
    }
}

/// A table being restored is `CREATING` for a while: DescribeTable says so, and changing or
/// reading it meanwhile is refused with ResourceInUseException.
///
/// RestoreTableFromBackup and RestoreTableToPointInTime (API reference): "You can restore ... to
/// a new table" and the answer's `TableDescription` has `TableStatus: CREATING`; the table is
/// usable only once ACTIVE ("Restoring a DynamoDB table from a backup" in the developer guide:
/// the restore takes time that depends on the table's size).
pub struct RestoreCreating {
    restoring: Recent,
}

impl RestoreCreating {
    /// Restored tables are CREATING for `window`.
    pub fn new(window: Duration) -> Self {
        Self {
            restoring: Recent::new(window),
        }
    }
}

/// Operations a table must be ACTIVE for (DeleteTable, API reference: "If a table is in CREATING
/// or UPDATING states, then DynamoDB returns a ResourceInUseException").
const NEEDS_ACTIVE: [&str; 6] = [
    "DeleteTable",
    "UpdateTable",
    "UpdateTimeToLive",
    "UpdateContinuousBackups",
    "Scan",
    "Query",
];

impl Rule for RestoreCreating {
    fn name(&self) -> &'static str {
        "RestoreCreating"
    }

    fn refuse(&self, call: &Call, now: Instant, _: &dyn Upstream) -> Option<Reply> {
        let table = call.field("TableName")?;
        let busy = call.service == DDB
            && NEEDS_ACTIVE.contains(&call.operation.as_str())
            && self.restoring.within(table, now);
        busy.then(|| {
            Reply::json_error(
                DDB,
                "ResourceInUseException",
                &format!("Table is being restored (CREATING): {table}"),
            )
        })
    }

    fn answered(&self, call: &Call, reply: &mut Reply, now: Instant) {
        let restore = ["RestoreTableFromBackup", "RestoreTableToPointInTime"];
        if call.service != DDB || !reply.ok() {
            return;
        }
        if restore.contains(&call.operation.as_str()) {
            if let Some(table) = call.field("TargetTableName") {
                self.restoring.mark(table, now);
                reply.edit_json(|j| j["TableDescription"]["TableStatus"] = "CREATING".into());
            }
        } else if call.operation == "DescribeTable"
            && call
                .field("TableName")
                .is_some_and(|t| self.restoring.within(t, now))
        {
            reply.edit_json(|j| j["Table"]["TableStatus"] = "CREATING".into());
        }
    }
}

/// A DynamoDB operation limited per account to a number of calls a second; more are refused
/// with LimitExceededException.
pub struct AccountRate {
    name: &'static str,
    operation: &'static str,
    per_second: usize,
    recent: Mutex<VecDeque<Instant>>,
}

impl AccountRate {
    fn new(name: &'static str, operation: &'static str, per_second: usize) -> Self {
        Self {
            name,
            operation,
            per_second,
            recent: Mutex::new(VecDeque::new()),
        }
    }

    /// DeleteBackup (API reference): "You can call DeleteBackup at a maximum rate of 10 times
    /// per second."
    pub fn delete_backup() -> Self {
        Self::new("DeleteBackupRate", "DeleteBackup", 10)
    }

    /// ListTagsOfResource (API reference): "You can call ListTagsOfResource up to 10 times per
    /// second, per account."
    pub fn list_tags_of_resource() -> Self {
        Self::new("ListTagsOfResourceRate", "ListTagsOfResource", 10)
    }

    /// ListBackups (API reference): "You can call ListBackups a maximum of five times per
    /// second."
    pub fn list_backups() -> Self {
        Self::new("ListBackupsRate", "ListBackups", 5)
    }

    /// CreateBackup (API reference): "You can call CreateBackup at a maximum rate of 50 times
    /// per second."
    pub fn create_backup() -> Self {
        Self::new("CreateBackupRate", "CreateBackup", 50)
    }
}

impl Rule for AccountRate {
    fn name(&self) -> &'static str {
        self.name
    }

    fn refuse(&self, call: &Call, now: Instant, _: &dyn Upstream) -> Option<Reply> {
        if !call.is(DDB, self.operation) {
            return None;
        }
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        while recent
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= Duration::from_secs(1))
        {
            recent.pop_front();
        }
        if recent.len() >= self.per_second {
            return Some(Reply::json_error(
                DDB,
                "LimitExceededException",
                &format!(
                    "{} is limited to {} calls per second",
                    self.operation, self.per_second
                ),
            ));
        }
        recent.push_back(now);
        None
    }
}

/// ListBackups answers in pages, honouring `Limit`, `ExclusiveStartBackupArn` and
/// `BackupType`, with `LastEvaluatedBackupArn` while more remain (moto returns everything in one
/// page and ignores all three), and refuses a `Limit` outside 1 to 100.
///
/// ListBackups (API reference): "LastEvaluatedBackupArn: The ARN of the backup last evaluated
/// when the current page of results was returned ... If LastEvaluatedBackupArn is empty, then the
/// last page of results has been processed"; "ListBackups returns a paginated list of results
/// with at most 1 MB worth of items in a page. You can also specify a maximum number of entries
/// to be returned in a page"; `Limit`: "Maximum number of backups to return at once", valid
/// range 1 to 100 (`BackupsInputLimit`); `BackupType`: USER, SYSTEM, AWS_BACKUP or ALL. Without
/// a `Limit` the page size is AWS's own (up to 1 MB): 3 here, so that any caller reading one
/// page only is caught.
pub struct ListBackupsPaging {
    page: usize,
}

impl Default for ListBackupsPaging {
    fn default() -> Self {
        Self { page: 3 }
    }
}

impl Rule for ListBackupsPaging {
    fn name(&self) -> &'static str {
        "ListBackupsPaging"
    }

    fn refuse(&self, call: &Call, _: Instant, _: &dyn Upstream) -> Option<Reply> {
        if !call.is(DDB, "ListBackups") {
            return None;
        }
        let limit = &call.json["Limit"];
        let valid = limit.is_null() || limit.as_u64().is_some_and(|l| (1..=100).contains(&l));
        (!valid).then(|| {
            Reply::json_error(
                DDB,
                "ValidationException",
                &format!(
                    "1 validation error detected: Value '{limit}' at 'limit' failed to satisfy constraint: Member must have value between 1 and 100"
                ),
            )
        })
    }

    fn answered(&self, call: &Call, reply: &mut Reply, _: Instant) {
        if !call.is(DDB, "ListBackups") || !reply.ok() {
            return;
        }
        // "USER ... (The default setting if no other backup types are specified.)"
        let kind = call.field("BackupType").unwrap_or("USER");
        let limit = call.json["Limit"]
            .as_u64()
            .and_then(|l| usize::try_from(l).ok())
            .unwrap_or(self.page);
        let start = call.field("ExclusiveStartBackupArn");
        reply.edit_json(|j| {
            let all: Vec<Value> = j["BackupSummaries"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter(|s| kind == "ALL" || s["BackupType"] == kind)
                .collect();
            let from = start
                .and_then(|arn| all.iter().position(|s| s["BackupArn"] == arn))
                .map_or(0, |i| i + 1);
            let page: Vec<Value> = all.iter().skip(from).take(limit).cloned().collect();
            let more = from + page.len() < all.len();
            let last = page.last().map(|s| s["BackupArn"].clone());
            j["BackupSummaries"] = Value::Array(page);
            match last {
                Some(arn) if more => j["LastEvaluatedBackupArn"] = arn,
                _ => {
                    if let Some(o) = j.as_object_mut() {
                        o.remove("LastEvaluatedBackupArn");
                    }
                }
            }
        });
    }
}

/// An export is `IN_PROGRESS` for a while (moto finishes it at once), and a repeated
/// ExportTableToPointInTime with the same ClientToken is the same export, not a new one.
///
/// ExportTableToPointInTime (API reference): exports run asynchronously and are described by
/// DescribeExport (`ExportStatus`: IN_PROGRESS, COMPLETED, FAILED; `EndTime`, `ItemCount` and
/// `BilledSizeBytes` once ended). ClientToken: "Providing a ClientToken makes the call to
/// ExportTableToPointInTimeInput idempotent, meaning that multiple identical calls have the
/// same effect as one single call. A client token is valid for 8 hours after the first request
/// that uses it is completed ... If you submit a request with the same client token but a
/// change in other parameters within the 8-hour idempotency window, DynamoDB returns an
/// ImportConflictException." That name is the import's: the errors ExportTableToPointInTime
/// declares are ExportConflictException ("There was a conflict when writing to the specified
/// S3 bucket"), InternalServerError, InvalidExportTimeException, LimitExceededException,
/// PointInTimeRecoveryUnavailableException and TableNotFoundException, so the conflict is
/// answered as ExportConflictException.
pub struct ExportInProgress {
    window: Duration,
    /// Each export started: its ARN and when.
    started: Mutex<HashMap<String, Instant>>,
    /// Each ClientToken seen: the request's parameters, the export's ARN and when.
    tokens: Mutex<HashMap<String, (Value, String, Instant)>>,
}

/// How long a ClientToken makes ExportTableToPointInTime idempotent.
const TOKEN_VALID: Duration = Duration::from_secs(8 * 3600);

impl ExportInProgress {
    /// Exports are IN_PROGRESS for `window`.
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            started: Mutex::new(HashMap::new()),
            tokens: Mutex::new(HashMap::new()),
        }
    }

    /// Shows the export described in `description` as IN_PROGRESS while in its window.
    fn in_progress(&self, description: &mut Value, now: Instant) {
        let Some(arn) = description["ExportArn"].as_str() else {
            return;
        };
        let started = self.started.lock().unwrap_or_else(|p| p.into_inner());
        let running = started
            .get(arn)
            .is_some_and(|at| now.saturating_duration_since(*at) < self.window);
        if running && let Some(fields) = description.as_object_mut() {
            fields.insert("ExportStatus".to_owned(), "IN_PROGRESS".into());
            for ended in ["EndTime", "ItemCount", "BilledSizeBytes", "ExportManifest"] {
                fields.remove(ended);
            }
        }
    }
}

/// The parameters of an ExportTableToPointInTime call that its ClientToken pins.
fn export_parameters(call: &Call) -> Value {
    let mut parameters = call.json.clone();
    if let Some(fields) = parameters.as_object_mut() {
        fields.remove("ClientToken");
    }
    parameters
}

impl Rule for ExportInProgress {
    fn name(&self) -> &'static str {
        "ExportInProgress"
    }

    fn refuse(&self, call: &Call, now: Instant, upstream: &dyn Upstream) -> Option<Reply> {
        if !call.is(DDB, "ExportTableToPointInTime") {
            return None;
        }
        let token = call.field("ClientToken")?;
        let (parameters, arn) = {
            let tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
            let (parameters, arn, at) = tokens.get(token)?;
            if now.saturating_duration_since(*at) >= TOKEN_VALID {
                return None;
            }
            (parameters.clone(), arn.clone())
        };
        if parameters != export_parameters(call) {
            return Some(Reply::json_error(
                DDB,
                "ExportConflictException",
                &format!("ClientToken {token} was used with other parameters within 8 hours"),
            ));
        }
        let mut described = upstream.ask(
            call,
            "DynamoDB_20120810.DescribeExport",
            &serde_json::json!({"ExportArn": arn}),
        )?;
        self.in_progress(&mut described["ExportDescription"], now);
        Some(Reply::json_ok(DDB, &described))
    }

    fn answered(&self, call: &Call, reply: &mut Reply, now: Instant) {
        if !reply.ok() || call.service != DDB {
            return;
        }
        match call.operation.as_str() {
            "ExportTableToPointInTime" => reply.edit_json(|j| {
                let description = &mut j["ExportDescription"];
                if let Some(arn) = description["ExportArn"].as_str() {
                    self.started
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(arn.to_owned(), now);
                    if let Some(token) = call.field("ClientToken") {
                        self.tokens
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .insert(
                                token.to_owned(),
                                (export_parameters(call), arn.to_owned(), now),
                            );
                    }
                }
                self.in_progress(description, now);
            }),
            "DescribeExport" => {
                reply.edit_json(|j| self.in_progress(&mut j["ExportDescription"], now))
            }
            _ => {}
        }
    }
}

/// Tags change eventually: for a while after TagResource or UntagResource, ListTagsOfResource
/// still answers the tags as they were.
///
/// TagResource (API reference): "TagResource is an asynchronous operation. If you issue a
/// ListTagsOfResource request immediately after a TagResource request, DynamoDB might return
/// your previous tag set, if there was one, or an empty tag set ... ListTagsOfResource API will
/// only reflect the changes after a few seconds."
pub struct TagsEventuallyConsistent {
    window: Duration,
    /// Each resource's tags before its last change, and when it changed.
    before: Mutex<HashMap<String, (Value, Instant)>>,
}

impl TagsEventuallyConsistent {
    /// Changes show after `window`.
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            before: Mutex::new(HashMap::new()),
        }
    }
}

impl Rule for TagsEventuallyConsistent {
    fn name(&self) -> &'static str {
        "TagsEventuallyConsistent"
    }

    fn refuse(&self, call: &Call, now: Instant, upstream: &dyn Upstream) -> Option<Reply> {
        let arn = call.field("ResourceArn")?;
        let mut before = self.before.lock().unwrap_or_else(|p| p.into_inner());
        if call.is(DDB, "TagResource") || call.is(DDB, "UntagResource") {
            let still_old = before
                .get(arn)
                .is_some_and(|(_, at)| now.saturating_duration_since(*at) < self.window);
            if !still_old {
                let tags = upstream
                    .ask(
                        call,
                        "DynamoDB_20120810.ListTagsOfResource",
                        &serde_json::json!({"ResourceArn": arn}),
                    )
                    .map_or(Value::Array(Vec::new()), |t| t["Tags"].clone());
                before.insert(arn.to_owned(), (tags, now));
            }
            return None;
        }
        if !call.is(DDB, "ListTagsOfResource") {
            return None;
        }
        let (tags, at) = before.get(arn)?;
        (now.saturating_duration_since(*at) < self.window)
            .then(|| Reply::json_ok(DDB, &serde_json::json!({"Tags": tags})))
    }
}

/// A table's `ItemCount` is DynamoDB's figure as of its last refresh, not the count now: in
/// DescribeTable's answer and in DescribeBackup's `SourceTableDetails` (moto counts the items on
/// every call, so code comparing a restore with it passes here and fails on AWS).
///
/// TableDescription.ItemCount (API reference): "The number of items in the specified table.
/// DynamoDB updates this value approximately every six hours. Recent changes might not be
/// reflected in this value." SourceTableDetails.ItemCount: "Number of items in the table. Note
/// that this is an approximate value." The figure served is the one first seen for the table
/// (0 for a table made through the layer: CreateTable's answer), refreshed every `refresh`.
pub struct ItemCountApproximate {
    refresh: Duration,
    /// Each table's figure and when it was taken.
    figures: Mutex<HashMap<String, (i64, Instant)>>,
}

impl ItemCountApproximate {
    /// Figures refresh every `refresh` (six hours on AWS).
    pub fn new(refresh: Duration) -> Self {
        Self {
            refresh,
            figures: Mutex::new(HashMap::new()),
        }
    }

    /// The figure to serve for `table`, whose items moto counts as `live` at `now`.
    fn figure(&self, table: &str, live: i64, now: Instant) -> i64 {
        let mut figures = self.figures.lock().unwrap_or_else(|p| p.into_inner());
        let entry = figures.entry(table.to_owned()).or_insert((live, now));
        if now.saturating_duration_since(entry.1) >= self.refresh {
            *entry = (live, now);
        }
        entry.0
    }
}

impl Rule for ItemCountApproximate {
    fn name(&self) -> &'static str {
        "ItemCountApproximate"
    }

    fn answered(&self, call: &Call, reply: &mut Reply, now: Instant) {
        if !reply.ok() {
            return;
        }
        if call.is(DDB, "DeleteTable")
            && let Some(table) = call.field("TableName")
        {
            self.figures
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(table);
            return;
        }
        let pointer = if call.is(DDB, "CreateTable") {
            "/TableDescription"
        } else if call.is(DDB, "DescribeTable") {
            "/Table"
        } else if call.is(DDB, "DescribeBackup") {
            "/BackupDescription/SourceTableDetails"
        } else {
            return;
        };
        reply.edit_json(|json| {
            let Some(details) = json.pointer_mut(pointer) else {
                return;
            };
            let Some(table) = details["TableName"].as_str().map(str::to_owned) else {
                return;
            };
            let live = details["ItemCount"].as_i64().unwrap_or(0);
            if details.get("ItemCount").is_some() {
                details["ItemCount"] = self.figure(&table, live, now).into();
            }
        });
    }
}

/// ListTagsOfResource answers a table's tags a page at a time, with `NextToken` while more
/// remain (moto answers every tag at once and ignores `NextToken`).
///
/// ListTagsOfResource (API reference): "NextToken: If this value is returned, there are
/// additional results to be displayed. To retrieve them, call ListTagsOfResource again, with
/// NextToken set to this value." The page size is DynamoDB's own: one tag here, so that a
/// caller reading one page only is caught (the stack's tables carry two); the token is moto's
/// own (the last key of the page).
#[derive(Default)]
pub struct ListTagsPaging;

/// A backup's name has 3 to 255 characters of `[a-zA-Z0-9_.-]`: "BackupName ... Length
/// Constraints: Minimum length of 3. Maximum length of 255. Pattern: [a-zA-Z0-9_.-]+"
/// (CreateBackup and BackupSummary, API reference). moto takes any name; DynamoDB answers a
/// ValidationException, so a stack name that made the name too long would fail every backup.
pub struct BackupNameValid;

impl Rule for BackupNameValid {
    fn name(&self) -> &'static str {
        "BackupNameValid"
    }

    fn refuse(&self, call: &Call, _: Instant, _: &dyn Upstream) -> Option<Reply> {
        if !call.is(DDB, "CreateBackup") {
            return None;
        }
        let name = call.field("BackupName").unwrap_or_default();
        let valid = (3..=255).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
        (!valid).then(|| {
            Reply::json_error(
                DDB,
                "ValidationException",
                &format!("1 validation error detected: Value '{name}' at 'backupName' failed to satisfy constraint: Member must have length less than or equal to 255 and satisfy regular expression pattern: [a-zA-Z0-9_.-]+"),
            )
        })
    }
}

/// A table's tags are a map: TagResource with a key the table has replaces its value (developer
/// guide, "Tagging restrictions in DynamoDB": "Each DynamoDB table can have only one tag with the
/// same key. If you try to add an existing tag (same key), the existing tag value is updated to
/// the new value."). moto appends a second tag of the key, which also sends ListTagsOfResource's
/// paging round in a circle; the layer removes the keys from moto's tags first.
pub struct TagsAreAMap;

impl Rule for TagsAreAMap {
    fn name(&self) -> &'static str {
        "TagsAreAMap"
    }

    fn refuse(&self, call: &Call, _: Instant, upstream: &dyn Upstream) -> Option<Reply> {
        if !call.is(DDB, "TagResource") {
            return None;
        }
        let keys: Vec<Value> = call.json["Tags"]
            .as_array()?
            .iter()
            .filter_map(|t| t.get("Key").cloned())
            .collect();
        let untag = serde_json::json!({"ResourceArn": call.field("ResourceArn")?, "TagKeys": keys});
        upstream.ask(call, "DynamoDB_20120810.UntagResource", &untag);
        None
    }
}

/// Tags per ListTagsOfResource page.
const TAGS_PER_PAGE: usize = 1;

impl Rule for ListTagsPaging {
    fn name(&self) -> &'static str {
        "ListTagsPaging"
    }

    fn answered(&self, call: &Call, reply: &mut Reply, _: Instant) {
        if !call.is(DDB, "ListTagsOfResource") {
            return;
        }
        // moto pages too (ten a page, `NextToken` the last key given, which it starts after), so
        // its answer to a follow-up is already the rest: the first tag of it is this page.
        if !reply.ok() {
            return;
        }
        reply.edit_json(|json| {
            let Some(all) = json.get("Tags").and_then(Value::as_array).cloned() else {
                return;
            };
            let more = all.len() > TAGS_PER_PAGE || json.get("NextToken").is_some();
            let page: Vec<Value> = all.into_iter().take(TAGS_PER_PAGE).collect();
            let last = page
                .last()
                .and_then(|t| t["Key"].as_str())
                .map(str::to_owned);
            json["Tags"] = Value::Array(page);
            if let Some(fields) = json.as_object_mut() {
                match last.filter(|_| more) {
                    Some(key) => {
                        fields.insert("NextToken".to_owned(), Value::from(key));
                    }
                    None => {
                        fields.remove("NextToken");
                    }
                }
            }
        });
    }
}

/// ListExports lists an export only for a while: "Lists completed exports within the past 90
/// days" (ListExports, API reference); the developer guide ("Requesting a table export in
/// DynamoDB"): "export task metadata expires after 90 days and jobs older than that are no longer
/// returned by the list-exports command, the objects in your S3 bucket remain". DescribeExport
/// documents no such window. An export is listed for `window` after it was started (or, one
/// started elsewhere, first listed) here.
pub struct ExportsListedFor {
    window: Duration,
    /// When each export was started, or first listed.
    first_listed: Mutex<HashMap<String, Instant>>,
}

impl ExportsListedFor {
    /// Exports drop out of ListExports `window` after their first listing (90 days on AWS).
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            first_listed: Mutex::new(HashMap::new()),
        }
    }
}

impl Rule for ExportsListedFor {
    fn name(&self) -> &'static str {
        "ExportsListedFor"
    }

    fn answered(&self, call: &Call, reply: &mut Reply, now: Instant) {
        if !reply.ok() {
            return;
        }
        let mut first = self.first_listed.lock().unwrap_or_else(|p| p.into_inner());
        if call.is(DDB, "ExportTableToPointInTime") {
            if let Some(arn) = reply.json()["ExportDescription"]["ExportArn"].as_str() {
                first.entry(arn.to_owned()).or_insert(now);
            }
            return;
        }
        if !call.is(DDB, "ListExports") {
            return;
        }
        reply.edit_json(|json| {
            let Some(summaries) = json["ExportSummaries"].as_array_mut() else {
                return;
            };
            summaries.retain(|s| {
                let Some(arn) = s["ExportArn"].as_str() else {
                    return true;
                };
                let at = *first.entry(arn.to_owned()).or_insert(now);
                now.saturating_duration_since(at) < self.window
            });
        });
    }
}

/// An export that has ended has written its `manifest-summary.json` and `manifest-files.json`
/// beside its data (moto writes only the data files, in a folder of another name).
///
/// Developer guide, "DynamoDB table export output format": an export writes
/// `<prefix>/AWSDynamoDB/<ExportId>/manifest-summary.json` and `manifest-files.json`; "The
/// manifest-summary.json file contains summary information about the export job", with fields
/// such as `version`, `exportArn`, `startTime`, `endTime`, `tableArn`, `exportTime`, `s3Bucket`,
/// `s3Prefix`, `billedSizeBytes`, `itemCount` and `outputFormat`, and `manifestFilesS3Key`;
/// "The manifest-files.json file contains information about the files that contain your
/// exported table data. The file is in JSON lines format", each line with `itemCount`,
/// `md5Checksum`, `etag` and `dataFileS3Key`. Written when the export is first described after
/// `window` (the time it is IN_PROGRESS).
///
/// A full export with an `ExportTime` holds the table as it was then: "The table export will be
/// a snapshot of the table's state at this point in time" (API reference,
/// ExportTableToPointInTime). moto exports the table as it is whatever the time, so before the
/// manifests are written its dump is rewritten as of that moment from the item writes the layer
/// recorded ([`ItemHistory::as_of`]), and the export's `ItemCount` is the rewritten count.
pub struct ExportManifest {
    window: Duration,
    history: Arc<ItemHistory>,
    /// The table and moment of each full export asked for at an `ExportTime`, by ARN.
    as_of: Mutex<HashMap<String, (String, SystemTime)>>,
    /// The items of each export rewritten as of its moment, by ARN.
    counts: Mutex<HashMap<String, usize>>,
    /// Each export started, and whether its manifest is written.
    started: Mutex<HashMap<String, (Instant, bool)>>,
    /// The keys under `<prefix>/AWSDynamoDB/` just before an export was asked for, by bucket
    /// and that folder, until its ARN is known; then by ARN.
    before: Mutex<HashMap<String, Vec<String>>>,
    /// Each export's data files, once attributed (full and incremental exports alike: moto
    /// writes a full dump for both).
    claimed: Mutex<HashMap<String, Vec<String>>>,
}

impl ExportManifest {
    /// Exports end `window` after they start; a full export at an `ExportTime` is rewritten
    /// from `history`.
    pub fn new(window: Duration, history: Arc<ItemHistory>) -> Self {
        Self {
            window,
            history,
            as_of: Mutex::new(HashMap::new()),
            counts: Mutex::new(HashMap::new()),
            started: Mutex::new(HashMap::new()),
            before: Mutex::new(HashMap::new()),
            claimed: Mutex::new(HashMap::new()),
        }
    }

    /// The data files of export `arn`, whose data moto wrote under `root`
    /// (`<prefix>/AWSDynamoDB/`): those that appeared after it was asked for and that no other
    /// export has (the same ones when asked again); `None` when the bucket cannot be listed.
    fn data_files(
        &self,
        call: &Call,
        (bucket, root, arn): (&str, &str, &str),
        upstream: &dyn Upstream,
    ) -> Option<Vec<String>> {
        let mut claimed = self.claimed.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(files) = claimed.get(arn) {
            return Some(files.clone());
        }
        let keys = upstream.list_keys(call, bucket, root)?;
        let before = self
            .before
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(arn)
            .unwrap_or_default();
        let files: Vec<String> = keys
            .into_iter()
            .filter(|k| k.contains("/data/") && !before.contains(k))
            .filter(|k| !claimed.values().any(|taken| taken.contains(k)))
            .collect();
        claimed.insert(arn.to_owned(), files.clone());
        Some(files)
    }

    /// Rewrites the data `files` of the full export `arn` as of its moment, if it was asked
    /// for at one (once): every item into the first file, the others emptied. The count.
    fn rewrite(
        &self,
        call: &Call,
        (bucket, arn): (&str, &str),
        files: &[String],
        upstream: &dyn Upstream,
    ) -> Option<usize> {
        if let Some(count) = self
            .counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(arn)
        {
            return Some(*count);
        }
        let (table, at) = self
            .as_of
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(arn)
            .cloned()?;
        let mut items = Vec::new();
        for key in files {
            let body = upstream.get_object(call, bucket, key)?;
            let text = gunzip(&body)?;
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                let record: Value = serde_json::from_str(line).ok()?;
                items.push(record["Item"].clone());
            }
        }
        let then = self.history.as_of(call, &table, at, items, upstream)?;
        let gzip = |lines: &str| {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            std::io::Write::write_all(&mut gz, lines.as_bytes()).ok()?;
            gz.finish().ok()
        };
        let all: String = then
            .iter()
            .map(|item| format!("{}\n", serde_json::json!({"Item": item})))
            .collect();
        for (i, key) in files.iter().enumerate() {
            let body = gzip(if i == 0 { &all } else { "" })?;
            if !upstream.put_object(call, bucket, key, &body) {
                return None;
            }
        }
        self.counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(arn.to_owned(), then.len());
        Some(then.len())
    }

    /// `manifest-files.json` for `files`: each one's item count, MD5 and key, a line each.
    fn manifest_files(
        call: &Call,
        bucket: &str,
        files: &[String],
        upstream: &dyn Upstream,
    ) -> Option<String> {
        let mut lines = String::new();
        for key in files {
            let body = upstream.get_object(call, bucket, key)?;
            let count = gunzip(&body)?
                .lines()
                .filter(|l| !l.trim().is_empty())
                .count();
            use base64::Engine as _;
            use md5::Digest as _;
            let digest = md5::Md5::digest(&body);
            let line = serde_json::json!({
                "itemCount": count,
                "md5Checksum": base64::engine::general_purpose::STANDARD.encode(digest),
                "etag": digest.iter().map(|b| format!("{b:02x}")).collect::<String>(),
                "dataFileS3Key": key,
            });
            lines.push_str(&format!("{line}\n"));
        }
        Some(lines)
    }
}

/// Whether moto's description `d` is of an incremental export.
fn call_is_incremental(d: &Value) -> bool {
    d["ExportType"] == "INCREMENTAL_EXPORT"
}

/// The manifest summary of the export moto describes in `d`, with its time as RFC 3339.
fn manifest_summary(d: &Value) -> Value {
    let time = |v: &Value| {
        v.as_f64()
            .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s as i64).ok())
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
    };
    serde_json::json!({
        "version": "2020-06-30",
        "exportArn": d["ExportArn"],
        "startTime": time(&d["StartTime"]),
        "endTime": time(&d["EndTime"]),
        "tableArn": d["TableArn"],
        "exportTime": time(&d["ExportTime"]),
        "s3Bucket": d["S3Bucket"],
        "s3Prefix": d["S3Prefix"],
        "billedSizeBytes": d["BilledSizeBytes"],
        "itemCount": d["ItemCount"],
        "outputFormat": d["ExportFormat"],
    })
}

impl Rule for ExportManifest {
    fn name(&self) -> &'static str {
        "ExportManifest"
    }

    fn refuse(&self, call: &Call, now: Instant, upstream: &dyn Upstream) -> Option<Reply> {
        if call.is(DDB, "ExportTableToPointInTime") {
            // What is there before moto writes this export's dump.
            let (Some(bucket), Some(prefix)) = (call.field("S3Bucket"), call.field("S3Prefix"))
            else {
                return None;
            };
            let root = export_root(prefix);
            if let Some(keys) = upstream.list_keys(call, bucket, &root) {
                self.before
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(format!("{bucket}/{root}"), keys);
            }
            return None;
        }
        if !call.is(DDB, "DescribeExport") {
            return None;
        }
        let arn = call.field("ExportArn")?;
        let due = {
            let started = self.started.lock().unwrap_or_else(|p| p.into_inner());
            started.get(arn).is_some_and(|(at, written)| {
                !written && now.saturating_duration_since(*at) >= self.window
            })
        };
        if !due {
            return None;
        }
        let described = upstream.ask(
            call,
            "DynamoDB_20120810.DescribeExport",
            &serde_json::json!({"ExportArn": arn}),
        )?;
        let d = &described["ExportDescription"];
        let (Some(bucket), Some(prefix)) = (d["S3Bucket"].as_str(), d["S3Prefix"].as_str()) else {
            return None;
        };
        if d["ExportStatus"] != "COMPLETED" {
            return None;
        }
        let root = export_root(prefix);
        let files = self.data_files(call, (bucket, &root, arn), upstream)?;
        // An incremental export's manifests are IncrementalExport's (its moto dump is claimed
        // all the same, so that no full export takes it).
        if call_is_incremental(d) {
            return None;
        }
        let rewritten = self.rewrite(call, (bucket, arn), &files, upstream);
        let id = arn.rsplit('/').next().unwrap_or_default();
        let files_key = format!("{root}{id}/manifest-files.json");
        let listed = Self::manifest_files(call, bucket, &files, upstream)?;
        let mut summary = manifest_summary(d);
        if let Some(count) = rewritten {
            summary["itemCount"] = Value::from(count);
        }
        summary["manifestFilesS3Key"] = Value::from(files_key.clone());
        let wrote = upstream.put_object(call, bucket, &files_key, listed.as_bytes())
            && upstream.put_object(
                call,
                bucket,
                &format!("{root}{id}/manifest-summary.json"),
                summary.to_string().as_bytes(),
            );
        if wrote {
            let mut started = self.started.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(entry) = started.get_mut(arn) {
                entry.1 = true;
            }
        }
        None
    }

    fn answered(&self, call: &Call, reply: &mut Reply, now: Instant) {
        if call.is(DDB, "DescribeExport")
            && let Some(arn) = call.field("ExportArn")
            && let Some(count) = self
                .counts
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(arn)
                .copied()
        {
            reply.edit_json(|j| j["ExportDescription"]["ItemCount"] = Value::from(count));
        }
        if call.is(DDB, "ExportTableToPointInTime")
            && reply.ok()
            && let Some(arn) = reply.json()["ExportDescription"]["ExportArn"].as_str()
        {
            let full = call.field("ExportType").is_none_or(|t| t == "FULL_EXPORT");
            if full && let Some(at) = super::incremental::at(&call.json["ExportTime"]) {
                let table =
                    super::incremental::table_of(call.field("TableArn").unwrap_or_default());
                self.as_of
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(arn.to_owned(), (table.to_owned(), at));
            }
            self.started
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .entry(arn.to_owned())
                .or_insert((now, false));
            if let (Some(bucket), Some(prefix)) = (call.field("S3Bucket"), call.field("S3Prefix")) {
                let mut before = self.before.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(keys) = before.remove(&format!("{bucket}/{}", export_root(prefix))) {
                    before.insert(arn.to_owned(), keys);
                }
            }
        }
    }
}

/// `<prefix>/AWSDynamoDB/`, or `AWSDynamoDB/` without a prefix.
pub(super) fn export_root(prefix: &str) -> String {
    let root = format!("{}/AWSDynamoDB/", prefix.trim_end_matches('/'));
    root.trim_start_matches('/').to_owned()
}

#[cfg(test)]
mod tests {
    use super::super::testing::{Nothing, json_call, ok};
    use super::*;
    use serde_json::json;

    /// moto as the import rule sees it: one gzip'd data file, the import COMPLETED, and the
    /// PutItem calls made.
    struct Imported {
        file: Vec<u8>,
        puts: Mutex<Vec<Value>>,
    }

    impl Upstream for Imported {
        fn ask(&self, _: &Call, target: &str, body: &Value) -> Option<Value> {
            match target {
                "DynamoDB_20120810.DescribeImport" => {
                    Some(json!({"ImportTableDescription": {"ImportStatus": "COMPLETED"}}))
                }
                "DynamoDB_20120810.PutItem" => {
                    self.puts.lock().unwrap().push(body.clone());
                    Some(json!({}))
                }
                _ => None,
            }
        }

        fn list_keys(&self, _: &Call, bucket: &str, prefix: &str) -> Option<Vec<String>> {
            (bucket == "b").then(|| vec![format!("{prefix}data/1.json.gz")])
        }

        fn get_object(&self, _: &Call, _: &str, key: &str) -> Option<Vec<u8>> {
            key.ends_with(".gz").then(|| self.file.clone())
        }
    }

    #[test]
    fn an_import_holds_each_item_as_its_files_do() {
        let item = json!({"title": {"S": "Get Out"}, "plot": {"S": "a girlfriend's family"}});
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, format!("{}\n", json!({"Item": item})).as_bytes())
            .unwrap();
        let moto = Imported {
            file: gz.finish().unwrap(),
            puts: Mutex::new(Vec::new()),
        };
        let now = Instant::now();
        let rule = ImportHoldsTheFiles::default();
        let import = json_call(
            DDB,
            "ImportTable",
            json!({
                "InputFormat": "DYNAMODB_JSON",
                "InputCompressionType": "GZIP",
                "S3BucketSource": {"S3Bucket": "b", "S3KeyPrefix": "exports/x/"},
                "TableCreationParameters": {"TableName": "Back"},
            }),
        );
        rule.answered(
            &import,
            &mut ok(json!({"ImportTableDescription": {"ImportArn": "arn:import/1"}})),
            now,
        );
        let describe = json_call(DDB, "DescribeImport", json!({"ImportArn": "arn:import/1"}));
        assert!(rule.refuse(&describe, now, &moto).is_none(), "moto answers");
        assert_eq!(
            *moto.puts.lock().unwrap(),
            vec![json!({"TableName": "Back", "Item": item})]
        );
        // Once only.
        rule.refuse(&describe, now, &moto);
        assert_eq!(moto.puts.lock().unwrap().len(), 1);
    }

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn a_new_backup_is_creating_and_cannot_be_deleted_until_the_window_ends() {
        let rule = BackupCreating::new(100 * MS);
        let t0 = Instant::now();
        let mut made =
            ok(json!({"BackupDetails": {"BackupArn": "arn:b1", "BackupStatus": "AVAILABLE"}}));
        rule.answered(
            &json_call(DDB, "CreateBackup", json!({"TableName": "T"})),
            &mut made,
            t0,
        );
        assert_eq!(made.json()["BackupDetails"]["BackupStatus"], "CREATING");

        let mut listed = ok(json!({"BackupSummaries": [
            {"BackupArn": "arn:b1", "BackupStatus": "AVAILABLE"},
            {"BackupArn": "arn:old", "BackupStatus": "AVAILABLE"}]}));
        rule.answered(
            &json_call(DDB, "ListBackups", json!({})),
            &mut listed,
            t0 + 50 * MS,
        );
        assert_eq!(
            listed.json()["BackupSummaries"][0]["BackupStatus"],
            "CREATING"
        );
        assert_eq!(
            listed.json()["BackupSummaries"][1]["BackupStatus"],
            "AVAILABLE"
        );

        let delete = json_call(DDB, "DeleteBackup", json!({"BackupArn": "arn:b1"}));
        let refused = rule
            .refuse(&delete, t0 + 50 * MS, &Nothing)
            .expect("refused");
        assert_eq!(refused.json()["__type"], "BackupInUseException");
        assert!(
            rule.refuse(&delete, t0 + 100 * MS, &Nothing).is_none(),
            "clears"
        );

        let mut described = ok(
            json!({"BackupDescription": {"BackupDetails": {"BackupArn": "arn:b1", "BackupStatus": "AVAILABLE"}}}),
        );
        rule.answered(
            &json_call(DDB, "DescribeBackup", json!({})),
            &mut described,
            t0 + 100 * MS,
        );
        assert_eq!(
            described.json()["BackupDescription"]["BackupDetails"]["BackupStatus"],
            "AVAILABLE"
        );
    }

    #[test]
    fn backups_of_a_new_table_are_refused_until_enabled() {
        let rule = BackupsNotYetEnabled::new(100 * MS);
        let t0 = Instant::now();
        rule.answered(
            &json_call(DDB, "CreateTable", json!({"TableName": "T"})),
            &mut ok(json!({})),
            t0,
        );
        let backup = json_call(
            DDB,
            "CreateBackup",
            json!({"TableName": "T", "BackupName": "b"}),
        );
        let refused = rule
            .refuse(&backup, t0 + 99 * MS, &Nothing)
            .expect("refused");
        assert_eq!(
            refused.json()["__type"],
            "ContinuousBackupsUnavailableException"
        );
        assert!(
            rule.refuse(&backup, t0 + 100 * MS, &Nothing).is_none(),
            "clears"
        );
        let other = json_call(DDB, "CreateBackup", json!({"TableName": "U"}));
        assert!(
            rule.refuse(&other, t0, &Nothing).is_none(),
            "other tables unaffected"
        );
    }

    /// moto's ListTagsOfResource: one tag, `team=a`.
    struct OneTag;

    impl Upstream for OneTag {
        fn ask(&self, _: &Call, target: &str, _: &Value) -> Option<Value> {
            assert_eq!(target, "DynamoDB_20120810.ListTagsOfResource");
            Some(json!({"Tags": [{"Key": "team", "Value": "a"}]}))
        }
    }

    #[test]
    fn new_tags_show_only_after_a_while() {
        let rule = TagsEventuallyConsistent::new(100 * MS);
        let t0 = Instant::now();
        let list = json_call(DDB, "ListTagsOfResource", json!({"ResourceArn": "arn:t"}));
        assert!(
            rule.refuse(&list, t0, &OneTag).is_none(),
            "nothing changed: moto answers"
        );
        let tag = json_call(
            DDB,
            "TagResource",
            json!({"ResourceArn": "arn:t", "Tags": [{"Key": "backup", "Value": "daily"}]}),
        );
        assert!(
            rule.refuse(&tag, t0, &OneTag).is_none(),
            "the change reaches moto"
        );
        let old = rule
            .refuse(&list, t0 + 99 * MS, &OneTag)
            .expect("the old tags");
        assert_eq!(old.json()["Tags"], json!([{"Key": "team", "Value": "a"}]));
        assert!(
            rule.refuse(&list, t0 + 100 * MS, &OneTag).is_none(),
            "then moto's"
        );
    }

    #[test]
    fn point_in_time_recovery_of_a_new_table_waits_like_its_backups() {
        let rule = BackupsNotYetEnabled::new(100 * MS);
        let t0 = Instant::now();
        rule.answered(
            &json_call(DDB, "CreateTable", json!({"TableName": "T"})),
            &mut ok(json!({})),
            t0,
        );
        let pitr = json_call(DDB, "UpdateContinuousBackups", json!({"TableName": "T"}));
        assert!(rule.refuse(&pitr, t0 + 50 * MS, &Nothing).is_some());
        assert!(rule.refuse(&pitr, t0 + 100 * MS, &Nothing).is_none());
    }

    #[test]
    fn a_restored_or_imported_table_waits_too_once_active() {
        let rule = BackupsNotYetEnabled::new(100 * MS).after_restores_taking(200 * MS);
        let t0 = Instant::now();
        rule.answered(
            &json_call(
                DDB,
                "RestoreTableFromBackup",
                json!({"TargetTableName": "R", "BackupArn": "arn:b"}),
            ),
            &mut ok(json!({})),
            t0,
        );
        rule.answered(
            &json_call(
                DDB,
                "ImportTable",
                json!({"TableCreationParameters": {"TableName": "I"}}),
            ),
            &mut ok(json!({})),
            t0,
        );
        for table in ["R", "I"] {
            let pitr = json_call(DDB, "UpdateContinuousBackups", json!({"TableName": table}));
            assert!(
                rule.refuse(&pitr, t0 + 250 * MS, &Nothing).is_some(),
                "{table}: ACTIVE at 200 ms, backups enabled at 300 ms"
            );
            assert!(rule.refuse(&pitr, t0 + 300 * MS, &Nothing).is_none());
        }
    }

    /// moto's DescribeExport of any export: COMPLETED, with its figures.
    struct Completed;

    impl Upstream for Completed {
        fn ask(&self, _: &Call, target: &str, body: &Value) -> Option<Value> {
            assert_eq!(target, "DynamoDB_20120810.DescribeExport");
            Some(json!({"ExportDescription": {
                "ExportArn": body["ExportArn"],
                "ExportStatus": "COMPLETED",
                "EndTime": 1.0,
                "ItemCount": 30,
                "BilledSizeBytes": 4000
            }}))
        }
    }

    #[test]
    fn an_export_is_in_progress_for_a_while_and_its_token_makes_it_once() {
        let rule = ExportInProgress::new(100 * MS);
        let t0 = Instant::now();
        let params = json!({"TableArn": "arn:t", "S3Bucket": "b", "S3Prefix": "exports/T/d", "ClientToken": "tok"});
        let start = json_call(DDB, "ExportTableToPointInTime", params.clone());
        assert!(
            rule.refuse(&start, t0, &Completed).is_none(),
            "a new token reaches moto"
        );
        let mut started = ok(json!({"ExportDescription": {
            "ExportArn": "arn:t/export/1", "ExportStatus": "COMPLETED", "ItemCount": 30
        }}));
        rule.answered(&start, &mut started, t0);
        let description = &started.json()["ExportDescription"];
        assert_eq!(description["ExportStatus"], "IN_PROGRESS");
        assert!(
            description.get("ItemCount").is_none(),
            "no figures until it ends"
        );

        let describe = json_call(
            DDB,
            "DescribeExport",
            json!({"ExportArn": "arn:t/export/1"}),
        );
        let mut seen = ok(json!({"ExportDescription": {
            "ExportArn": "arn:t/export/1", "ExportStatus": "COMPLETED", "ItemCount": 30
        }}));
        rule.answered(&describe, &mut seen, t0 + 99 * MS);
        assert_eq!(
            seen.json()["ExportDescription"]["ExportStatus"],
            "IN_PROGRESS"
        );
        let mut later = ok(json!({"ExportDescription": {
            "ExportArn": "arn:t/export/1", "ExportStatus": "COMPLETED", "ItemCount": 30
        }}));
        rule.answered(&describe, &mut later, t0 + 100 * MS);
        assert_eq!(
            later.json()["ExportDescription"]["ExportStatus"],
            "COMPLETED"
        );
        assert_eq!(later.json()["ExportDescription"]["ItemCount"], 30);

        // The same token again: the same export, never a second one.
        let again = rule
            .refuse(&start, t0 + 200 * MS, &Completed)
            .expect("answered in moto's place");
        assert_eq!(
            again.json()["ExportDescription"]["ExportArn"],
            "arn:t/export/1"
        );
        let mut changed = params;
        changed["S3Bucket"] = "other".into();
        let conflict = rule
            .refuse(
                &json_call(DDB, "ExportTableToPointInTime", changed),
                t0 + 200 * MS,
                &Completed,
            )
            .expect("refused");
        assert_eq!(conflict.json()["__type"], "ExportConflictException");
        assert!(
            rule.refuse(&start, t0 + TOKEN_VALID, &Completed).is_none(),
            "after 8 hours the token is a new request"
        );
    }

    #[test]
    fn a_deleted_table_is_deleting_then_gone() {
        let rule = TableDeleting::new(100 * MS);
        let t0 = Instant::now();
        let mut deleted =
            ok(json!({"TableDescription": {"TableName": "T", "TableStatus": "ACTIVE"}}));
        rule.answered(
            &json_call(DDB, "DeleteTable", json!({"TableName": "T"})),
            &mut deleted,
            t0,
        );
        assert_eq!(
            deleted.json()["TableDescription"]["TableStatus"],
            "DELETING"
        );

        let describe = json_call(DDB, "DescribeTable", json!({"TableName": "T"}));
        let seen = rule
            .refuse(&describe, t0 + 50 * MS, &Nothing)
            .expect("answered");
        assert_eq!(seen.json()["Table"]["TableStatus"], "DELETING");
        let create = json_call(DDB, "CreateTable", json!({"TableName": "T"}));
        let refused = rule
            .refuse(&create, t0 + 50 * MS, &Nothing)
            .expect("refused");
        assert_eq!(refused.json()["__type"], "ResourceInUseException");
        let again = json_call(DDB, "DeleteTable", json!({"TableName": "T"}));
        assert_eq!(
            rule.refuse(&again, t0 + 50 * MS, &Nothing)
                .map(|r| r.status),
            Some(200)
        );

        let restore = json_call(
            DDB,
            "RestoreTableFromBackup",
            json!({"TargetTableName": "T", "BackupArn": "b"}),
        );
        let refused = rule
            .refuse(&restore, t0 + 50 * MS, &Nothing)
            .expect("refused");
        assert_eq!(refused.json()["__type"], "TableInUseException");

        assert!(
            rule.refuse(&describe, t0 + 100 * MS, &Nothing).is_none(),
            "clears"
        );
        assert!(rule.refuse(&create, t0 + 100 * MS, &Nothing).is_none());
        assert!(rule.refuse(&restore, t0 + 100 * MS, &Nothing).is_none());
    }

    /// An upstream where every table exists.
    struct Tables;

    impl Upstream for Tables {
        fn ask(&self, _: &Call, _: &str, _: &Value) -> Option<Value> {
            Some(json!({"Table": {}}))
        }
    }

    /// An upstream that records what it is asked.
    #[derive(Default)]
    struct Recording(Mutex<Vec<(String, Value)>>);

    impl Upstream for Recording {
        fn ask(&self, _: &Call, target: &str, body: &Value) -> Option<Value> {
            self.0
                .lock()
                .unwrap()
                .push((target.to_owned(), body.clone()));
            Some(json!({}))
        }
    }

    #[test]
    fn tagging_a_key_again_replaces_it() {
        let upstream = Recording::default();
        let tag = json_call(
            DDB,
            "TagResource",
            json!({"ResourceArn": "arn:t", "Tags": [{"Key": "team", "Value": "b"}]}),
        );
        assert!(
            TagsAreAMap
                .refuse(&tag, Instant::now(), &upstream)
                .is_none(),
            "goes on to moto"
        );
        assert_eq!(
            upstream.0.lock().unwrap().as_slice(),
            [(
                "DynamoDB_20120810.UntagResource".to_owned(),
                json!({"ResourceArn": "arn:t", "TagKeys": ["team"]})
            )]
        );
    }

    #[test]
    fn contributor_insights_are_as_last_set_until_the_table_is_deleted() {
        let rule = ContributorInsights::default();
        let t0 = Instant::now();
        let describe = json_call(
            DDB,
            "DescribeContributorInsights",
            json!({"TableName": "T"}),
        );
        let status = |rule: &ContributorInsights| {
            rule.refuse(&describe, t0, &Tables)
                .expect("answered")
                .json()["ContributorInsightsStatus"]
                .clone()
        };
        assert_eq!(status(&rule), "DISABLED");
        let enable = json_call(
            DDB,
            "UpdateContributorInsights",
            json!({"TableName": "T", "ContributorInsightsAction": "ENABLE"}),
        );
        let answer = rule.refuse(&enable, t0, &Tables).expect("answered");
        assert_eq!(answer.json()["ContributorInsightsStatus"], "ENABLING");
        assert_eq!(status(&rule), "ENABLED");
        let index = json_call(
            DDB,
            "DescribeContributorInsights",
            json!({"TableName": "T", "IndexName": "byYear"}),
        );
        assert_eq!(
            rule.refuse(&index, t0, &Tables).unwrap().json()["ContributorInsightsStatus"],
            "DISABLED",
            "an index has its own"
        );
        let mut deleted = ok(json!({"TableDescription": {"TableName": "T"}}));
        rule.answered(
            &json_call(DDB, "DeleteTable", json!({"TableName": "T"})),
            &mut deleted,
            t0,
        );
        assert_eq!(status(&rule), "DISABLED", "gone with the table");

        let kinesis = json_call(
            DDB,
            "DescribeKinesisStreamingDestination",
            json!({"TableName": "T"}),
        );
        let answer = rule.refuse(&kinesis, t0, &Tables).expect("answered");
        assert_eq!(answer.json()["KinesisDataStreamDestinations"], json!([]));
        let missing = rule.refuse(&describe, t0, &Nothing).expect("answered");
        assert_eq!(missing.json()["__type"], "ResourceNotFoundException");
    }

    #[test]
    fn a_restored_table_is_creating_until_the_window_ends() {
        let rule = RestoreCreating::new(100 * MS);
        let t0 = Instant::now();
        let restore = json_call(
            DDB,
            "RestoreTableFromBackup",
            json!({"TargetTableName": "R", "BackupArn": "arn:b"}),
        );
        let mut started =
            ok(json!({"TableDescription": {"TableName": "R", "TableStatus": "ACTIVE"}}));
        rule.answered(&restore, &mut started, t0);
        assert_eq!(
            started.json()["TableDescription"]["TableStatus"],
            "CREATING"
        );
        let describe = json_call(DDB, "DescribeTable", json!({"TableName": "R"}));
        let mut seen = ok(json!({"Table": {"TableStatus": "ACTIVE"}}));
        rule.answered(&describe, &mut seen, t0 + 50 * MS);
        assert_eq!(seen.json()["Table"]["TableStatus"], "CREATING");
        let scan = json_call(DDB, "Scan", json!({"TableName": "R"}));
        let refused = rule.refuse(&scan, t0 + 50 * MS, &Nothing).expect("refused");
        assert_eq!(refused.json()["__type"], "ResourceInUseException");
        assert!(
            rule.refuse(&scan, t0 + 100 * MS, &Nothing).is_none(),
            "clears"
        );
        let mut later = ok(json!({"Table": {"TableStatus": "ACTIVE"}}));
        rule.answered(&describe, &mut later, t0 + 100 * MS);
        assert_eq!(later.json()["Table"]["TableStatus"], "ACTIVE");
    }

    #[test]
    fn a_call_past_its_rate_within_a_second_is_refused() {
        for (rule, operation, rate) in [
            (AccountRate::delete_backup(), "DeleteBackup", 10),
            (
                AccountRate::list_tags_of_resource(),
                "ListTagsOfResource",
                10,
            ),
            (AccountRate::list_backups(), "ListBackups", 5),
            (AccountRate::create_backup(), "CreateBackup", 50),
        ] {
            let t0 = Instant::now();
            let call = json_call(DDB, operation, json!({"BackupArn": "arn:b"}));
            for i in 0..rate {
                assert!(
                    rule.refuse(&call, t0 + i * 10 * MS, &Nothing).is_none(),
                    "{operation} call {i}"
                );
            }
            let refused = rule
                .refuse(&call, t0 + 999 * MS, &Nothing)
                .expect("refused");
            assert_eq!(refused.json()["__type"], "LimitExceededException");
            assert!(
                rule.refuse(&call, t0 + 1000 * MS, &Nothing).is_none(),
                "clears"
            );
            let other = json_call(DDB, "DescribeTable", json!({"TableName": "T"}));
            assert!(rule.refuse(&other, t0 + 999 * MS, &Nothing).is_none());
        }
    }

    #[test]
    fn listings_come_in_pages_that_honour_the_request() {
        let rule = ListBackupsPaging::default();
        let summaries: Vec<Value> = (0..7)
            .map(|i| json!({"BackupArn": format!("arn:{i}"), "BackupType": if i == 6 {"SYSTEM"} else {"USER"}}))
            .collect();
        let page = |request: Value| {
            let mut reply = ok(json!({"BackupSummaries": summaries}));
            rule.answered(
                &json_call(DDB, "ListBackups", request),
                &mut reply,
                Instant::now(),
            );
            let json = reply.json();
            let arns: Vec<String> = json["BackupSummaries"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["BackupArn"].as_str().unwrap().to_owned())
                .collect();
            (
                arns,
                json["LastEvaluatedBackupArn"].as_str().map(str::to_owned),
            )
        };
        assert_eq!(
            page(json!({"BackupType": "USER"})),
            (
                vec!["arn:0".into(), "arn:1".into(), "arn:2".into()],
                Some("arn:2".into())
            )
        );
        assert_eq!(
            page(json!({"BackupType": "USER", "ExclusiveStartBackupArn": "arn:2"})),
            (vec!["arn:3".into(), "arn:4".into(), "arn:5".into()], None),
            "the SYSTEM backup is filtered out, so nothing follows arn:5"
        );
        assert_eq!(
            page(json!({"Limit": 1})),
            (vec!["arn:0".into()], Some("arn:0".into()))
        );
        assert_eq!(
            page(json!({"Limit": 100, "BackupType": "ALL"})).0.len(),
            7,
            "a Limit is a page's size"
        );
        for bad in [json!({"Limit": 0}), json!({"Limit": 101})] {
            let call = json_call(DDB, "ListBackups", bad.clone());
            let refused = rule
                .refuse(&call, Instant::now(), &Nothing)
                .expect("refused");
            assert_eq!(refused.json()["__type"], "ValidationException", "{bad}");
        }
        assert!(
            rule.refuse(
                &json_call(DDB, "ListBackups", json!({"Limit": 100})),
                Instant::now(),
                &Nothing
            )
            .is_none()
        );
        assert_eq!(
            page(json!({"ExclusiveStartBackupArn": "arn:5", "BackupType": "ALL"})).0,
            vec!["arn:6".to_owned()]
        );
        assert!(
            page(json!({"ExclusiveStartBackupArn": "arn:5"}))
                .0
                .is_empty(),
            "USER unless asked otherwise"
        );
    }

    /// moto's DescribeExport of a COMPLETED export, and the objects written.
    #[derive(Default)]
    struct Bucket(Mutex<Vec<(String, String, String)>>);

    impl Upstream for Bucket {
        fn ask(&self, _: &Call, _: &str, body: &Value) -> Option<Value> {
            Some(json!({"ExportDescription": {
                "ExportArn": body["ExportArn"],
                "ExportStatus": "COMPLETED",
                "TableArn": "arn:aws:dynamodb:us-east-1:1:table/T",
                "S3Bucket": "vault",
                "S3Prefix": "exports/T/2026-12-04",
                "ItemCount": 30,
                "ExportFormat": "DYNAMODB_JSON",
                "EndTime": 1_796_394_745.0
            }}))
        }

        fn put_object(&self, _: &Call, bucket: &str, key: &str, body: &[u8]) -> bool {
            let body = String::from_utf8_lossy(body).into_owned();
            self.0
                .lock()
                .unwrap()
                .push((bucket.to_owned(), key.to_owned(), body));
            true
        }

        /// moto's data file (in a folder named otherwise), and those already written.
        fn list_keys(&self, _: &Call, _: &str, prefix: &str) -> Option<Vec<String>> {
            let mut keys = vec![format!("{prefix}9f3e/data/77aa.gz")];
            keys.extend(self.0.lock().unwrap().iter().map(|(_, k, _)| k.clone()));
            Some(keys)
        }

        fn get_object(&self, _: &Call, _: &str, _: &str) -> Option<Vec<u8>> {
            use std::io::Write as _;
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(b"{\"Item\":{\"id\":{\"N\":\"1\"}}}\n{\"Item\":{\"id\":{\"N\":\"2\"}}}\n")
                .ok()?;
            gz.finish().ok()
        }
    }

    #[test]
    fn an_ended_export_has_its_manifests() {
        let rule = ExportManifest::new(100 * MS, Arc::new(ItemHistory::new()));
        let t0 = Instant::now();
        let arn = "arn:aws:dynamodb:us-east-1:1:table/T/export/01abc";
        let mut started = ok(json!({"ExportDescription": {"ExportArn": arn}}));
        rule.answered(
            &json_call(DDB, "ExportTableToPointInTime", json!({})),
            &mut started,
            t0,
        );
        let describe = json_call(DDB, "DescribeExport", json!({"ExportArn": arn}));
        let bucket = Bucket::default();
        assert!(rule.refuse(&describe, t0 + 50 * MS, &bucket).is_none());
        assert!(bucket.0.lock().unwrap().is_empty(), "not ended yet");
        assert!(rule.refuse(&describe, t0 + 100 * MS, &bucket).is_none());
        assert!(rule.refuse(&describe, t0 + 200 * MS, &bucket).is_none());
        let written = bucket.0.lock().unwrap().clone();
        assert_eq!(
            written.len(),
            2,
            "written once: the files, then the summary"
        );
        let (name, key, body) = &written[0];
        assert_eq!(name, "vault");
        assert_eq!(
            key,
            "exports/T/2026-12-04/AWSDynamoDB/01abc/manifest-files.json"
        );
        let files: Value = serde_json::from_str(body.trim()).unwrap();
        assert_eq!(
            files["dataFileS3Key"],
            "exports/T/2026-12-04/AWSDynamoDB/9f3e/data/77aa.gz"
        );
        assert_eq!(files["itemCount"], 2);
        assert_eq!(files["md5Checksum"].as_str().map(str::len), Some(24));
        let (_, key, body) = &written[1];
        assert_eq!(
            key,
            "exports/T/2026-12-04/AWSDynamoDB/01abc/manifest-summary.json"
        );
        let summary: Value = serde_json::from_str(body).unwrap();
        assert_eq!(
            summary["manifestFilesS3Key"],
            "exports/T/2026-12-04/AWSDynamoDB/01abc/manifest-files.json"
        );
        assert_eq!(summary["itemCount"], 30);
        assert_eq!(summary["exportArn"], arn);
        assert_eq!(summary["tableArn"], "arn:aws:dynamodb:us-east-1:1:table/T");
        assert!(
            summary["endTime"]
                .as_str()
                .unwrap()
                .starts_with("2026-12-04")
        );
    }

    /// A bucket whose data folders appear as a test says, and that records what is written.
    #[derive(Default)]
    struct Folders {
        data: Mutex<Vec<String>>,
        written: Mutex<Vec<(String, String)>>,
    }

    impl Upstream for Folders {
        fn ask(&self, _: &Call, _: &str, body: &Value) -> Option<Value> {
            Some(json!({"ExportDescription": {
                "ExportArn": body["ExportArn"], "ExportStatus": "COMPLETED",
                "S3Bucket": "b", "S3Prefix": "p", "ExportFormat": "DYNAMODB_JSON"
            }}))
        }

        fn put_object(&self, _: &Call, _: &str, key: &str, body: &[u8]) -> bool {
            let body = String::from_utf8_lossy(body).into_owned();
            self.written.lock().unwrap().push((key.to_owned(), body));
            true
        }

        fn list_keys(&self, _: &Call, _: &str, _: &str) -> Option<Vec<String>> {
            Some(self.data.lock().unwrap().clone())
        }

        fn get_object(&self, _: &Call, _: &str, _: &str) -> Option<Vec<u8>> {
            use std::io::Write as _;
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(b"{\"Item\":{\"id\":{\"N\":\"1\"}}}\n").ok()?;
            gz.finish().ok()
        }
    }

    #[test]
    fn two_exports_under_one_prefix_each_list_their_own_data() {
        let rule = ExportManifest::new(MS, Arc::new(ItemHistory::new()));
        let bucket = Folders::default();
        let t0 = Instant::now();
        let ask = json_call(
            DDB,
            "ExportTableToPointInTime",
            json!({"S3Bucket": "b", "S3Prefix": "p"}),
        );
        for (arn, folder) in [("arn:x/export/e1", "f1"), ("arn:x/export/e2", "f2")] {
            assert!(rule.refuse(&ask, t0, &bucket).is_none());
            rule.answered(
                &ask,
                &mut ok(json!({"ExportDescription": {"ExportArn": arn}})),
                t0,
            );
            // moto writes the dump after answering, in a folder of its own.
            bucket
                .data
                .lock()
                .unwrap()
                .push(format!("p/AWSDynamoDB/{folder}/data/x.gz"));
        }
        for arn in ["arn:x/export/e2", "arn:x/export/e1"] {
            let describe = json_call(DDB, "DescribeExport", json!({"ExportArn": arn}));
            assert!(rule.refuse(&describe, t0 + 10 * MS, &bucket).is_none());
        }
        let written = bucket.written.lock().unwrap().clone();
        let files = |id: &str| {
            written
                .iter()
                .find(|(k, _)| *k == format!("p/AWSDynamoDB/{id}/manifest-files.json"))
                .map(|(_, body)| body.clone())
                .unwrap_or_default()
        };
        assert!(
            files("e1").contains("/f1/data/") && !files("e1").contains("/f2/"),
            "{written:?}"
        );
        assert!(
            files("e2").contains("/f2/data/") && !files("e2").contains("/f1/"),
            "{written:?}"
        );
    }

    #[test]
    fn exports_drop_out_of_the_listing_after_the_window() {
        let rule = ExportsListedFor::new(100 * MS);
        let t0 = Instant::now();
        let list = json_call(DDB, "ListExports", json!({"TableArn": "arn:t"}));
        let answer = || ok(json!({"ExportSummaries": [{"ExportArn": "arn:e1"}]}));
        let mut first = answer();
        rule.answered(&list, &mut first, t0);
        assert_eq!(first.json()["ExportSummaries"].as_array().unwrap().len(), 1);
        let mut later = answer();
        rule.answered(&list, &mut later, t0 + 100 * MS);
        assert_eq!(
            later.json()["ExportSummaries"],
            json!([]),
            "gone from the list"
        );
    }

    #[test]
    fn a_backup_name_too_long_or_with_other_characters_is_refused() {
        let call = |name: &str| {
            json_call(
                DDB,
                "CreateBackup",
                json!({"TableName": "T", "BackupName": name}),
            )
        };
        let refused = |name: &str| {
            BackupNameValid
                .refuse(&call(name), Instant::now(), &Nothing)
                .is_some()
        };
        assert!(!refused("Movies-prod-20261204000000"));
        assert!(!refused(&"a".repeat(255)));
        assert!(refused(&"a".repeat(256)));
        assert!(refused("ab"));
        assert!(refused("Movies prod"));
        assert!(refused("Movies/prod"));
    }

    #[test]
    fn tags_come_a_page_at_a_time() {
        let rule = ListTagsPaging;
        let first = json_call(DDB, "ListTagsOfResource", json!({"ResourceArn": "arn:t"}));
        let mut page =
            ok(json!({"Tags": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]}));
        rule.answered(&first, &mut page, Instant::now());
        assert_eq!(page.json()["Tags"], json!([{"Key": "a", "Value": "1"}]));
        assert_eq!(page.json()["NextToken"], "a");
        // moto answers the follow-up (NextToken "a") with the tags after "a".
        let second = json_call(
            DDB,
            "ListTagsOfResource",
            json!({"ResourceArn": "arn:t", "NextToken": "a"}),
        );
        let mut last = ok(json!({"Tags": [{"Key": "b", "Value": "2"}]}));
        rule.answered(&second, &mut last, Instant::now());
        assert_eq!(last.json()["Tags"], json!([{"Key": "b", "Value": "2"}]));
        assert!(last.json().get("NextToken").is_none());
    }

    #[test]
    fn item_counts_are_as_of_the_last_refresh() {
        let rule = ItemCountApproximate::new(100 * MS);
        let t0 = Instant::now();
        let mut created = ok(json!({"TableDescription": {"TableName": "T", "ItemCount": 0}}));
        rule.answered(
            &json_call(DDB, "CreateTable", json!({"TableName": "T"})),
            &mut created,
            t0,
        );
        let describe = json_call(DDB, "DescribeTable", json!({"TableName": "T"}));
        let mut described = ok(json!({"Table": {"TableName": "T", "ItemCount": 30}}));
        rule.answered(&describe, &mut described, t0 + 10 * MS);
        assert_eq!(
            described.json()["Table"]["ItemCount"],
            0,
            "not refreshed yet"
        );

        let backup = json_call(DDB, "DescribeBackup", json!({"BackupArn": "arn:b"}));
        let mut of_backup = ok(
            json!({"BackupDescription": {"SourceTableDetails": {"TableName": "T", "ItemCount": 30}}}),
        );
        rule.answered(&backup, &mut of_backup, t0 + 50 * MS);
        assert_eq!(
            of_backup.json()["BackupDescription"]["SourceTableDetails"]["ItemCount"],
            0
        );

        let mut later = ok(json!({"Table": {"TableName": "T", "ItemCount": 30}}));
        rule.answered(&describe, &mut later, t0 + 100 * MS);
        assert_eq!(later.json()["Table"]["ItemCount"], 30, "refreshed");

        let mut other = ok(json!({"Table": {"TableName": "U", "ItemCount": 7}}));
        rule.answered(
            &json_call(DDB, "DescribeTable", json!({"TableName": "U"})),
            &mut other,
            t0,
        );
        assert_eq!(
            other.json()["Table"]["ItemCount"],
            7,
            "a table first seen is served as moto counts it"
        );
    }
}
