//! The one in-memory stand-in for each port, for tests in this crate and (with the `test-util`
//! feature) in others: [`MemoryStore`] is DynamoDB's backups and tables ([`BackupStore`],
//! [`Tables`]), [`MemoryBucket`] is S3 with its conditional writes ([`RecordSink`]). Each
//! behaves as the API references describe what the code relies on, and has switches to make a
//! call fail the ways AWS can.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::sync::Mutex;

use time::OffsetDateTime;
use time::macros::datetime;

use crate::definition::{Attribute, Billing, KeyPart, TableDefinition};
use crate::error::AwsError;
use crate::export::{ExportRequest, ExportState, ExportStatus};
use crate::naming::TableName;
use crate::retention::{Backup, BackupKind, BackupState};
use crate::store::{AccountBackupPage, BackupPage, BackupStore, RecordSink, Stored, WriteIf};
use aws_sdk_dynamodb::types::AttributeValue;

use crate::count::{ScanSize, Segment};
use crate::tables::{
    BackupSource, CountPage, Deletion, Item, Key, KeyValue, TableShape, TableState, Tables, key_of,
};

/// The fakes' clock: every backup [`MemoryStore`] makes is created at this moment.
pub const NOW: OffsetDateTime = datetime!(2026-11-25 07:05:32 UTC);

/// An AWS error answer with this code.
pub fn aws_error(operation: &'static str, target: &str, code: &str) -> AwsError {
    AwsError {
        operation,
        target: target.to_owned(),
        code: Some(code.to_owned()),
        detail: format!("{code}: injected"),
    }
}

/// A table in memory: its status, shape and items.
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryTable {
    /// The key schema and indexes.
    pub shape: TableShape,
    /// Its items, in the order a scan reads them.
    pub rows: Vec<Item>,
    /// DescribeTable answers CREATING this many more times before ACTIVE (a restore under way).
    pub creating_for: u32,
}

impl MemoryTable {
    /// An ACTIVE table keyed like the tutorial's `Movies` (`year` HASH, `title` RANGE), holding
    /// `items` movies.
    pub fn movies(items: i64) -> Self {
        Self {
            shape: TableShape {
                keys: vec![
                    ("year".to_owned(), "HASH".to_owned()),
                    ("title".to_owned(), "RANGE".to_owned()),
                ],
                indexes: Vec::new(),
            },
            rows: (0..items).map(movie).collect(),
            creating_for: 0,
        }
    }

    /// The names of its key attributes.
    fn key_names(&self) -> Vec<String> {
        self.shape
            .keys
            .iter()
            .map(|(name, _)| name.clone())
            .collect()
    }
}

/// The `n`th movie: `year`, `title` and a nested `info` map.
pub fn movie(n: i64) -> Item {
    HashMap::from([
        (
            "year".to_owned(),
            AttributeValue::N((1900 + n % 120).to_string()),
        ),
        ("title".to_owned(), AttributeValue::S(format!("Movie {n}"))),
        (
            "info".to_owned(),
            AttributeValue::M(HashMap::from([
                (
                    "rating".to_owned(),
                    AttributeValue::N(format!("{}.5", n % 10)),
                ),
                (
                    "plot".to_owned(),
                    AttributeValue::S(format!("The plot of movie {n}.")),
                ),
            ])),
        ),
    ])
}

/// An item's size as DynamoDB reckons it, near enough: each attribute's name and value (a
/// number as its digits, a map or list as its members and three bytes).
pub fn item_bytes(item: &Item) -> i64 {
    fn value(v: &AttributeValue) -> i64 {
        let len = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        match v {
            AttributeValue::S(s) | AttributeValue::N(s) => len(s.len()),
            AttributeValue::B(b) => len(b.as_ref().len()),
            AttributeValue::M(m) => 3 + m.iter().map(|(k, v)| len(k.len()) + value(v)).sum::<i64>(),
            AttributeValue::L(l) => 3 + l.iter().map(value).sum::<i64>(),
            AttributeValue::Ss(items) | AttributeValue::Ns(items) => {
                items.iter().map(|s| len(s.len())).sum()
            }
            _ => 1,
        }
    }
    item.iter()
        .map(|(name, v)| i64::try_from(name.len()).unwrap_or(i64::MAX) + value(v))
        .sum()
}

/// The table a backup ARN names: `...:table/<table>/backup/<id>`, or the tests' short
/// `arn:<table>/backup/<id>`.
fn table_of(arn: &str) -> Option<&str> {
    let (table, _) = arn.split_once("/backup/")?;
    Some(match table.rsplit_once(":table/") {
        Some((_, name)) => name,
        None => table.rsplit_once(':').map_or(table, |(_, name)| name),
    })
}

/// DynamoDB's backups and tables in one account and region, in memory.
#[derive(Default)]
pub struct MemoryStore {
    /// Every backup, in the order made (ListBackups lists them so).
    pub backups: Mutex<Vec<Backup>>,
    /// What each backup recorded of its table, by ARN (DescribeBackup).
    pub sources: Mutex<HashMap<String, BackupSource>>,
    /// The items each backup holds, by ARN.
    pub snapshots: Mutex<HashMap<String, Vec<Item>>>,
    /// A restore loses this attribute of every item it restores: a restore that keeps the count
    /// but not the data.
    pub restores_lose: Option<String>,
    /// The tables there are, by name, with their contents.
    pub contents: Mutex<BTreeMap<String, MemoryTable>>,
    /// The account's tables and their tags (ListTables, ListTagsOfResource).
    pub tables: Vec<(String, Vec<(String, String)>)>,
    /// Every call, in order: `create <name>`, `list`, `delete <arn>`, `restore <target>`,
    /// `drop <table>`, `scan <table>`.
    pub calls: Mutex<Vec<String>>,
    /// CreateBackup fails (TableNotFoundException).
    pub fail_create: bool,
    /// CreateBackup of these tables fails (TableNotFoundException).
    pub fail_tables: HashSet<String>,
    /// CreateBackup of these tables is denied (AccessDeniedException).
    pub denied_tables: HashSet<String>,
    /// CreateBackup answers ContinuousBackupsUnavailableException this many more times.
    pub not_yet: Mutex<u32>,
    /// A backup made is not listed (ListBackups is eventually consistent).
    pub hide_new_from_list: bool,
    /// ListBackups fails (InternalServerError).
    pub fail_list: bool,
    /// ListBackups pages hold at most this many (all on one page when unset).
    pub page_size: Option<usize>,
    /// DeleteBackup of these fails (LimitExceededException).
    pub fail_delete: HashSet<String>,
    /// Deleted by an earlier attempt whose answer was lost: DeleteBackup says not found.
    pub already_gone: HashSet<String>,
    /// DeleteBackup of these answers BackupInUseException (a restore reads them).
    pub in_use: HashSet<String>,
    /// DeleteBackup of these never answers (a call the SDK keeps retrying).
    pub hang_delete: HashSet<String>,
    /// ListTagsOfResource of these tables fails (InternalServerError).
    pub unreadable_tags: HashSet<String>,
    /// When each ListTagsOfResource was made.
    pub tag_calls: Mutex<Vec<tokio::time::Instant>>,
    /// Every ExportTableToPointInTime asked for.
    pub exports: Mutex<Vec<ExportRequest>>,
    /// What DescribeExport says (in progress when unset).
    pub export_state: Mutex<Option<ExportState>>,
    /// ExportTableToPointInTime answers PointInTimeRecoveryUnavailableException.
    pub fail_export: bool,
    /// What DescribeContinuousBackups says of every table (recovery off when unset).
    pub recovery_window: Mutex<Option<crate::chain::RecoveryWindow>>,
    /// DescribeTable answers CREATING this many times after a restore (2 when unset).
    pub restore_takes: Option<u32>,
    /// A Scan page counts at most this many items (1,000 when unset).
    pub scan_page: Option<i64>,
    /// The read units a second DescribeTable gives every table (on demand, no maximum, when
    /// unset).
    pub read_units: Option<f64>,
    /// Scan answers ProvisionedThroughputExceededException this many more times.
    pub throttle_scans: Mutex<u32>,
    /// DescribeBackup, DescribeTable's shape and Scan of a restored table fail
    /// (AccessDeniedException): a table that cannot be verified.
    pub deny_reads: bool,
}

impl MemoryStore {
    /// A store holding these backups.
    pub fn with(backups: Vec<Backup>) -> Self {
        Self {
            backups: Mutex::new(backups),
            ..Self::default()
        }
    }

    /// Adds a table with these contents.
    #[must_use]
    pub fn with_table(self, name: &str, table: MemoryTable) -> Self {
        self.lock_contents().insert(name.to_owned(), table);
        self
    }

    /// The backups' names, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = lock(&self.backups).iter().map(|b| b.name.clone()).collect();
        names.sort();
        names
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<String> {
        lock(&self.calls).clone()
    }

    /// The tables there are, by name.
    pub fn table_names(&self) -> Vec<String> {
        self.lock_contents().keys().cloned().collect()
    }

    /// Writes `item` into `table` (PutItem): replaces the item with its key, or adds it.
    pub fn put_item(&self, table: &str, item: Item) {
        let mut contents = self.lock_contents();
        let Some(found) = contents.get_mut(table) else {
            return;
        };
        let names = found.key_names();
        let key = key_of(&item, &names);
        match found.rows.iter_mut().find(|row| key_of(row, &names) == key) {
            Some(row) => *row = item,
            None => found.rows.push(item),
        }
    }

    /// Marks every backup AVAILABLE, as DynamoDB does once it has made them.
    pub fn finish_backups(&self) {
        for backup in lock(&self.backups).iter_mut() {
            backup.state = BackupState::Available;
        }
    }

    fn lock_contents(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, MemoryTable>> {
        lock(&self.contents)
    }

    fn call(&self, call: String) {
        lock(&self.calls).push(call);
    }

    /// Reads `table` for `operation` as DynamoDB answers a read of a table: AccessDeniedException
    /// with [`MemoryStore::deny_reads`], ResourceNotFoundException when there is no such table.
    fn read<R>(
        &self,
        operation: &'static str,
        table: &TableName,
        read: impl FnOnce(&MemoryTable) -> R,
    ) -> Result<R, AwsError> {
        if self.deny_reads {
            return Err(aws_error(
                operation,
                table.as_str(),
                "AccessDeniedException",
            ));
        }
        self.lock_contents()
            .get(table.as_str())
            .map(read)
            .ok_or_else(|| aws_error(operation, table.as_str(), "ResourceNotFoundException"))
    }
}

/// A fake's lock: a test that panicked while holding one has failed already.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl BackupStore for MemoryStore {
    async fn create_backup<F>(
        &self,
        table: &TableName,
        name: &str,
        _: impl Fn() -> F + Send + Sync,
    ) -> Result<Backup, AwsError>
    where
        F: Future<Output = ()> + Send,
    {
        self.call(format!("create {name}"));
        let target = table.as_str();
        if self.fail_create || self.fail_tables.contains(target) {
            return Err(aws_error("CreateBackup", target, "TableNotFoundException"));
        }
        if self.denied_tables.contains(target) {
            return Err(aws_error("CreateBackup", target, "AccessDeniedException"));
        }
        {
            let mut not_yet = lock(&self.not_yet);
            if *not_yet > 0 {
                *not_yet -= 1;
                return Err(aws_error(
                    "CreateBackup",
                    target,
                    "ContinuousBackupsUnavailableException",
                ));
            }
        }
        let backup = Backup {
            arn: format!("arn:aws:dynamodb:us-east-1:1:table/{table}/backup/{name}"),
            name: name.to_owned(),
            created: NOW,
            state: BackupState::Creating,
            kind: BackupKind::User,
        };
        if let Some(contents) = self.lock_contents().get(target) {
            lock(&self.sources).insert(
                backup.arn.clone(),
                BackupSource {
                    keys: Some(contents.shape.keys.clone()),
                    indexes: contents.shape.indexes.clone(),
                    item_count: i64::try_from(contents.rows.len()).ok(),
                    size_bytes: Some(contents.rows.iter().map(item_bytes).sum()),
                },
            );
            lock(&self.snapshots).insert(backup.arn.clone(), contents.rows.clone());
        }
        if !self.hide_new_from_list {
            lock(&self.backups).push(backup.clone());
        }
        Ok(backup)
    }

    async fn list_backups_page(
        &self,
        table: &TableName,
        start: Option<&str>,
    ) -> Result<BackupPage, AwsError> {
        self.call("list".to_owned());
        if self.fail_list {
            return Err(aws_error(
                "ListBackups",
                table.as_str(),
                "InternalServerError",
            ));
        }
        let all: Vec<Backup> = lock(&self.backups)
            .iter()
            .filter(|b| table_of(&b.arn) == Some(table.as_str()))
            .cloned()
            .collect();
        let from = start.map_or(0, |arn| {
            all.iter()
                .position(|b| b.arn == arn)
                .map_or(all.len(), |i| i + 1)
        });
        let size = self.page_size.unwrap_or(usize::MAX);
        let backups: Vec<Backup> = all.iter().skip(from).take(size).cloned().collect();
        let next = (from + backups.len() < all.len())
            .then(|| backups.last().map(|b| b.arn.clone()))
            .flatten();
        Ok(BackupPage { backups, next })
    }

    async fn list_account_backups_page(
        &self,
        start: Option<&str>,
    ) -> Result<AccountBackupPage, AwsError> {
        self.call("list account".to_owned());
        if self.fail_list {
            return Err(aws_error(
                "ListBackups",
                "the account's backups",
                "InternalServerError",
            ));
        }
        let all: Vec<(String, Backup)> = lock(&self.backups)
            .iter()
            .filter_map(|b| Some((table_of(&b.arn)?.to_owned(), b.clone())))
            .collect();
        let from = start.map_or(0, |arn| {
            all.iter()
                .position(|(_, b)| b.arn == arn)
                .map_or(all.len(), |i| i + 1)
        });
        let size = self
            .page_size
            .unwrap_or(usize::MAX)
            .min(crate::store::ACCOUNT_PAGE.unsigned_abs() as usize);
        let backups: Vec<(String, Backup)> = all.iter().skip(from).take(size).cloned().collect();
        let next = (from + backups.len() < all.len())
            .then(|| backups.last().map(|(_, b)| b.arn.clone()))
            .flatten();
        Ok(AccountBackupPage { backups, next })
    }

    async fn delete_backup(&self, arn: &str) -> Result<(), AwsError> {
        self.call(format!("delete {arn}"));
        if self.hang_delete.contains(arn) {
            std::future::pending::<()>().await;
        }
        if self.in_use.contains(arn) {
            return Err(aws_error("DeleteBackup", arn, "BackupInUseException"));
        }
        if self.fail_delete.contains(arn) {
            return Err(aws_error("DeleteBackup", arn, "LimitExceededException"));
        }
        let gone = self.already_gone.contains(arn);
        lock(&self.backups).retain(|b| b.arn != arn);
        if gone {
            return Err(aws_error("DeleteBackup", arn, "BackupNotFoundException"));
        }
        Ok(())
    }

    async fn list_tables(&self) -> Result<Vec<TableName>, AwsError> {
        Ok(self
            .tables
            .iter()
            .filter_map(|(n, _)| TableName::parse(n).ok())
            .collect())
    }

    /// Every table here is the tutorial's: `year` (N) and `title` (S), billed per request.
    async fn table_definition(&self, table: &str) -> Result<TableDefinition, AwsError> {
        let part = |name: &str, role: &str| KeyPart {
            name: name.to_owned(),
            role: role.to_owned(),
        };
        let attribute = |name: &str, kind: &str| Attribute {
            name: name.to_owned(),
            kind: kind.to_owned(),
        };
        Ok(TableDefinition {
            table: table.to_owned(),
            table_arn: format!("arn:aws:dynamodb:us-east-1:1:table/{table}"),
            attributes: vec![attribute("year", "N"), attribute("title", "S")],
            keys: vec![part("year", "HASH"), part("title", "RANGE")],
            billing: Billing::OnDemand,
            global_indexes: Vec::new(),
            local_indexes: Vec::new(),
            kms_key_arn: None,
            deletion_protection: false,
        })
    }

    async fn table_arn(&self, table: &TableName) -> Result<String, AwsError> {
        Ok(format!("arn:aws:dynamodb:us-east-1:1:table/{table}"))
    }

    async fn table_tags(&self, arn: &str) -> Result<Vec<(String, String)>, AwsError> {
        lock(&self.tag_calls).push(tokio::time::Instant::now());
        let name = arn.rsplit('/').next().unwrap_or_default();
        if self.unreadable_tags.contains(name) {
            return Err(aws_error("ListTagsOfResource", arn, "InternalServerError"));
        }
        Ok(self
            .tables
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, tags)| tags.clone())
            .unwrap_or_default())
    }

    async fn recovery_window(
        &self,
        _table: &str,
    ) -> Result<Option<crate::chain::RecoveryWindow>, AwsError> {
        Ok(*lock(&self.recovery_window))
    }

    async fn start_export(&self, request: &ExportRequest) -> Result<ExportStatus, AwsError> {
        if self.fail_export {
            return Err(aws_error(
                "ExportTableToPointInTime",
                &request.table_arn,
                "PointInTimeRecoveryUnavailableException",
            ));
        }
        let mut exports = lock(&self.exports);
        exports.push(request.clone());
        Ok(ExportStatus {
            arn: format!("{}/export/{}", request.table_arn, exports.len()),
            state: ExportState::InProgress,
            ended: None,
            item_count: None,
            billed_size_bytes: None,
            failure: None,
        })
    }

    async fn describe_export(&self, arn: &str) -> Result<ExportStatus, AwsError> {
        let state = lock(&self.export_state).unwrap_or(ExportState::InProgress);
        let ended = state != ExportState::InProgress;
        Ok(ExportStatus {
            arn: arn.to_owned(),
            state,
            ended: ended.then_some(NOW + time::Duration::minutes(20)),
            item_count: ended.then_some(4609),
            billed_size_bytes: ended.then_some(1_234_567),
            failure: (state == ExportState::Failed)
                .then(|| "S3NoSuchBucket: The specified bucket does not exist".to_owned()),
        })
    }
}

impl Tables for MemoryStore {
    /// A restore makes a table at once, CREATING for [`MemoryStore::restore_takes`]
    /// DescribeTables, holding what the backup recorded; an existing target is TableAlreadyExistsException (RestoreTableFromBackup, API
    /// reference, Errors).
    async fn restore_backup(
        &self,
        backup_arn: &str,
        target: &TableName,
        _on_demand: bool,
    ) -> Result<(), AwsError> {
        self.call(format!("restore {target}"));
        const OP: &str = "RestoreTableFromBackup";
        let source = lock(&self.sources)
            .get(backup_arn)
            .cloned()
            .ok_or_else(|| aws_error(OP, backup_arn, "BackupNotFoundException"))?;
        let mut contents = self.lock_contents();
        if contents.contains_key(target.as_str()) {
            return Err(aws_error(
                OP,
                target.as_str(),
                "TableAlreadyExistsException",
            ));
        }
        let mut rows = lock(&self.snapshots)
            .get(backup_arn)
            .cloned()
            .unwrap_or_default();
        if let Some(lost) = &self.restores_lose {
            for row in &mut rows {
                row.remove(lost);
            }
        }
        contents.insert(
            target.to_string(),
            MemoryTable {
                shape: TableShape {
                    keys: source.keys.unwrap_or_default(),
                    indexes: source.indexes,
                },
                rows,
                creating_for: self.restore_takes.unwrap_or(2),
            },
        );
        Ok(())
    }

    async fn state(&self, table: &TableName) -> Result<Option<TableState>, AwsError> {
        let mut contents = self.lock_contents();
        let Some(found) = contents.get_mut(table.as_str()) else {
            return Ok(None);
        };
        if found.creating_for > 0 {
            found.creating_for -= 1;
            return Ok(Some(TableState::NotActive("CREATING".to_owned())));
        }
        Ok(Some(TableState::Active))
    }

    async fn shape(&self, table: &TableName) -> Result<TableShape, AwsError> {
        self.read("DescribeTable", table, |t| t.shape.clone())
    }

    async fn backup_source(&self, backup_arn: &str) -> Result<BackupSource, AwsError> {
        if self.deny_reads {
            return Err(aws_error(
                "DescribeBackup",
                backup_arn,
                "AccessDeniedException",
            ));
        }
        lock(&self.sources)
            .get(backup_arn)
            .cloned()
            .ok_or_else(|| aws_error("DescribeBackup", backup_arn, "BackupNotFoundException"))
    }

    /// A table still CREATING cannot be deleted: ResourceInUseException (DeleteTable, API
    /// reference: "the table is in the CREATING or UPDATING state").
    async fn delete_table(&self, table: &TableName) -> Result<Deletion, AwsError> {
        self.call(format!("drop {table}"));
        let mut contents = self.lock_contents();
        match contents.get(table.as_str()) {
            None => Ok(Deletion::Missing),
            Some(t) if t.creating_for > 0 => Ok(Deletion::InUse),
            Some(_) => {
                contents.remove(table.as_str());
                Ok(Deletion::Deleted)
            }
        }
    }

    /// A table's bytes are its items' ([`item_bytes`]).
    async fn scan_size(&self, table: &TableName) -> Result<ScanSize, AwsError> {
        self.read("DescribeTable", table, |found| ScanSize {
            bytes: found.rows.iter().map(item_bytes).sum(),
            items: i64::try_from(found.rows.len()).unwrap_or(i64::MAX),
            read_units: self.read_units,
        })
    }

    /// A page of [`segment_rows`]; its read units are its items' bytes in 4 KB units, rounded
    /// up, halved when eventually consistent (developer guide, read consumption).
    async fn count_page(
        &self,
        table: &TableName,
        consistent: bool,
        segment: Segment,
        after: Option<&Key>,
    ) -> Result<CountPage, AwsError> {
        self.call(format!("scan {table}"));
        let page = usize::try_from(self.scan_page.unwrap_or(1000)).unwrap_or(usize::MAX);
        let (read, more, bytes) = self.read("Scan", table, |found| {
            let rows = &found.rows;
            let from = match after.and_then(|k| k.get("position")) {
                Some(KeyValue::N(n)) => n.parse::<usize>().map_or(rows.len(), |n| n + 1),
                _ => 0,
            };
            let mut positions = segment_rows(rows, segment.index, segment.total, from);
            let read: Vec<usize> = positions.by_ref().take(page).map(|(p, _)| p).collect();
            let bytes: i64 = read.iter().map(|&p| item_bytes(&rows[p])).sum();
            (read, positions.next().is_some(), bytes)
        })?;
        {
            let mut throttled = lock(&self.throttle_scans);
            if *throttled > 0 {
                *throttled -= 1;
                return Err(aws_error(
                    "Scan",
                    table.as_str(),
                    "ProvisionedThroughputExceededException",
                ));
            }
        }
        #[allow(clippy::cast_precision_loss)]
        let units = (bytes as f64 / 4096.0).ceil() * if consistent { 1.0 } else { 0.5 };
        Ok(CountPage {
            items: i64::try_from(read.len()).unwrap_or(i64::MAX),
            last: read
                .last()
                .filter(|_| more)
                .map(|p| Key::from([("position".to_owned(), KeyValue::N(p.to_string()))])),
            read_units: Some(units),
        })
    }

    /// The first `limit` rows of [`segment_rows`].
    async fn sample_segment(
        &self,
        table: &TableName,
        segment: u32,
        total: u32,
        limit: u32,
    ) -> Result<Vec<Item>, AwsError> {
        self.call(format!("sample {table} {segment}/{total}"));
        self.read("Scan", table, |found| {
            segment_rows(&found.rows, segment, total, 0)
                .take(limit as usize)
                .map(|(_, row)| row.clone())
                .collect()
        })
    }

    async fn get_items(&self, table: &TableName, keys: &[Key]) -> Result<Vec<Item>, AwsError> {
        self.call(format!("get {table} {}", keys.len()));
        self.read("BatchGetItem", table, |found| {
            let names = found.key_names();
            found
                .rows
                .iter()
                .filter(|row| key_of(row, &names).is_some_and(|k| keys.contains(&k)))
                .cloned()
                .collect()
        })
    }
}

/// The rows of parallel-scan segment `index` of `total` from position `from` on, with their
/// positions: every `total`th row from the `index`th, in scan order (a real segment is the
/// items whose partition keys hash into its range: as fixed, and as disjoint).
fn segment_rows(
    rows: &[Item],
    index: u32,
    total: u32,
    from: usize,
) -> impl Iterator<Item = (usize, &Item)> {
    let (index, total) = (index as usize, total.max(1) as usize);
    rows.iter()
        .enumerate()
        .skip(from)
        .filter(move |(p, _)| p % total == index)
}

/// An object in a [`MemoryBucket`]: its body and version.
#[derive(Debug, Clone)]
struct Object {
    body: Vec<u8>,
    version: u64,
}

/// A write another writer makes just before the next conditional write to a key: from the
/// object's body as it is then (`None`: no object), the body it writes.
pub type Interloper = Box<dyn FnMut(Option<&[u8]>) -> Vec<u8> + Send>;

/// The in-memory [`crate::continuer::Continuer`]: keeps each event the function is invoked
/// with, for the test to deliver (or lose, or deliver twice); with `fail`, Invoke is refused
/// (TooManyRequestsException).
#[derive(Debug, Default)]
pub struct MemoryContinuer {
    /// The events queued, oldest first.
    pub events: Mutex<Vec<serde_json::Value>>,
    /// Invoke fails.
    pub fail: bool,
}

impl MemoryContinuer {
    /// Takes the events queued so far.
    pub fn take(&self) -> Vec<serde_json::Value> {
        std::mem::take(&mut *lock(&self.events))
    }
}

impl crate::continuer::Continuer for MemoryContinuer {
    async fn invoke_async(&self, event: &serde_json::Value) -> Result<(), AwsError> {
        if self.fail {
            return Err(aws_error(
                "Invoke",
                "backups-prod",
                "TooManyRequestsException",
            ));
        }
        lock(&self.events).push(event.clone());
        Ok(())
    }
}

/// S3 buckets in memory, with S3's conditional writes: `If-None-Match: *` fails when the object
/// exists, `If-Match` when its ETag is not the one given (PutObject, API reference,
/// "Conditional writes").
#[derive(Default)]
pub struct MemoryBucket {
    objects: Mutex<BTreeMap<(String, String), Object>>,
    /// Every write that landed, in order: bucket, key and body.
    writes: Mutex<Vec<(String, String, Vec<u8>)>>,
    next_version: Mutex<u64>,
    /// Another writer, and before how many more conditional writes it comes first.
    interloper: Mutex<Option<(usize, Interloper)>>,
    /// A read of a missing key is AccessDenied ([`MemoryBucket::without_list_bucket`]).
    deny_missing: bool,
}

impl MemoryBucket {
    /// A bucket read by a role without `s3:ListBucket`: S3 answers a read of a missing key with
    /// 403 AccessDenied, not 404 (GetObject, API reference, Permissions).
    pub fn without_list_bucket() -> Self {
        Self {
            deny_missing: true,
            ..Self::default()
        }
    }

    /// Lets `interloper` write first before each of the next `times` conditional writes.
    pub fn race(
        &self,
        times: usize,
        interloper: impl FnMut(Option<&[u8]>) -> Vec<u8> + Send + 'static,
    ) {
        *lock(&self.interloper) = Some((times, Box::new(interloper)));
    }

    /// The object at `key` in `bucket`, as JSON.
    pub fn json(&self, bucket: &str, key: &str) -> Option<serde_json::Value> {
        let objects = lock(&self.objects);
        let object = objects.get(&(bucket.to_owned(), key.to_owned()))?;
        serde_json::from_slice(&object.body).ok()
    }

    /// Every key in `bucket`, sorted.
    pub fn keys(&self, bucket: &str) -> Vec<String> {
        lock(&self.objects)
            .keys()
            .filter(|(b, _)| b == bucket)
            .map(|(_, k)| k.clone())
            .collect()
    }

    /// The run records written, in order: bucket, key and JSON (not ledgers, drills or exports:
    /// [`crate::record::is_run_record_key`]).
    pub fn run_records(&self) -> Vec<(String, String, serde_json::Value)> {
        lock(&self.writes)
            .iter()
            .filter(|(_, key, _)| crate::record::is_run_record_key(key))
            .map(|(bucket, key, body)| {
                let json = serde_json::from_slice(body).unwrap_or(serde_json::Value::Null);
                (bucket.clone(), key.clone(), json)
            })
            .collect()
    }

    fn store(&self, bucket: &str, key: &str, body: Vec<u8>) {
        let version = {
            let mut next = lock(&self.next_version);
            *next += 1;
            *next
        };
        lock(&self.writes).push((bucket.to_owned(), key.to_owned(), body.clone()));
        lock(&self.objects).insert(
            (bucket.to_owned(), key.to_owned()),
            Object { body, version },
        );
    }
}

impl RecordSink for MemoryBucket {
    async fn put_record(&self, bucket: &str, key: &str, body: Vec<u8>) -> Result<(), AwsError> {
        self.store(bucket, key, body);
        Ok(())
    }

    async fn read_record(&self, bucket: &str, key: &str) -> Result<Option<Stored>, AwsError> {
        let objects = lock(&self.objects);
        match objects.get(&(bucket.to_owned(), key.to_owned())) {
            Some(object) => Ok(Some(Stored {
                body: object.body.clone(),
                etag: format!("\"{}\"", object.version),
            })),
            None if self.deny_missing => Err(aws_error("GetObject", key, "AccessDenied")),
            None => Ok(None),
        }
    }

    async fn put_record_if(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        when: WriteIf<'_>,
    ) -> Result<bool, AwsError> {
        let id = (bucket.to_owned(), key.to_owned());
        if let Some((times, interloper)) = &mut *lock(&self.interloper)
            && *times > 0
        {
            *times -= 1;
            let current = lock(&self.objects).get(&id).map(|o| o.body.clone());
            let theirs = interloper(current.as_deref());
            self.store(bucket, key, theirs);
        }
        let current = lock(&self.objects)
            .get(&id)
            .map(|o| format!("\"{}\"", o.version));
        let holds = match (when, current) {
            (WriteIf::Absent, None) => true,
            (WriteIf::Unchanged(etag), Some(current)) => etag == current,
            _ => false,
        };
        if holds {
            self.store(bucket, key, body);
        }
        Ok(holds)
    }

    async fn delete_record(&self, bucket: &str, key: &str) -> Result<(), AwsError> {
        lock(&self.objects).remove(&(bucket.to_owned(), key.to_owned()));
        Ok(())
    }
}

/// One export of a chain of table `Movies` in bucket `b`: from `from` (`None`: the chain's full
/// export, of the moment `to`) to `to`, in `status`.
pub fn chain_link(
    from: Option<OffsetDateTime>,
    to: OffsetDateTime,
    status: ExportState,
) -> crate::chain::Link {
    crate::chain::Link {
        kind: if from.is_some() {
            crate::chain::LinkKind::Incremental
        } else {
            crate::chain::LinkKind::Full
        },
        from,
        to,
        attempt: 1,
        lost: false,
        export: crate::export::ExportRecord {
            table: "Movies".to_owned(),
            period: String::new(),
            export_arn: format!("arn:export/{}", crate::chain::compact(to)),
            bucket: "b".to_owned(),
            prefix: String::new(),
            started_at: to,
            status,
            finished_at: None,
            duration_seconds: None,
            item_count: None,
            billed_size_bytes: None,
            failure: None,
        },
    }
}

/// A chain of table `Movies` in bucket `b` from `t0` (its full export completed), with
/// incremental exports back to back ending at each of `windows`' times, in their states.
pub fn chain_of(
    t0: OffsetDateTime,
    windows: &[(OffsetDateTime, ExportState)],
) -> crate::chain::Chain {
    let mut from = t0;
    let incrementals = windows
        .iter()
        .map(|&(to, status)| {
            let link = chain_link(Some(from), to, status);
            from = to;
            link
        })
        .collect();
    crate::chain::Chain {
        table: "Movies".to_owned(),
        id: crate::chain::compact(t0),
        bucket: "b".to_owned(),
        view: crate::export::ExportView::NewAndOld,
        full: chain_link(None, t0, ExportState::Completed),
        incrementals,
        gaps: Vec::new(),
        closed_at: None,
        bucket_owner: None,
    }
}
