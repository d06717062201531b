//! `installer restore --from-export`: a table's export to S3 brought back into a new table with
//! ImportTable, under the same rules as a restore from a backup (the target must not exist; the
//! result is verified, and kept for inspection when it does not verify).
//!
//! The export is found with ListExports and DescribeExport (COMPLETED ones only): the newest,
//! the one of a period (`2026-11-30`, `2026-W49`: its S3 prefix ends with it), or one by ARN.
//! Its data files are the `.json.gz` objects under `<prefix>/AWSDynamoDB/<export id>/data/`
//! (DynamoDB developer guide, "DynamoDB Table export output format"). The new table takes the
//! source's key schema, attribute definitions, billing mode and global secondary indexes
//! (ImportTable's TableCreationParameters); ImportTable cannot make local secondary indexes, so
//! a source with any is refused: restore it from a backup.

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, ExportDescription, GlobalSecondaryIndex, ImportStatus,
    InputCompressionType, InputFormat, KeySchemaElement, KeyType, Projection, ProjectionType,
    ProvisionedThroughput, S3BucketSource, ScalarAttributeType, SseSpecification, SseType,
    TableCreationParameters,
};
use aws_sdk_s3::types::{GlacierJobParameters, ObjectStorageClass, RestoreRequest, Tier};
use backup_lambda::definition::{Billing, KeyPart, TableDefinition, definition_key};
use backup_lambda::naming::TableName;
use sha2::{Digest, Sha256};

use super::CommandError;
use crate::aws::{Aws, AwsError, AwsResult};
use crate::report::progress::Progress;
use backup_lambda::tables::DynamoDbTables;

/// How long `restore` waits for an import (imports of large tables take hours).
const IMPORT_PATIENCE: Duration = Duration::from_secs(12 * 3600);

/// Which export `--from-export` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportPick {
    /// The newest COMPLETED export.
    Latest,
    /// The stack's incremental export chains, at `--time` (or their latest point).
    Chain,
    /// The incremental export chains copied beside their exports under this S3 location
    /// (`s3://<bucket>/<prefix><table>/chains`), at `--time` (or their latest point): needs
    /// neither the stack nor its bucket.
    ChainAt {
        /// The bucket.
        bucket: String,
        /// The chains' folder.
        prefix: String,
    },
    /// The export with this ARN.
    Arn(String),
    /// The export of this period (its prefix ends with `/<period>`).
    Period(String),
    /// The export written under this S3 location (`s3://<bucket>/<prefix>`), found by its
    /// `manifest-summary.json`: needs neither ListExports nor DescribeExport, so it reaches an
    /// export of any age whose files are kept.
    Location {
        /// The bucket.
        bucket: String,
        /// The prefix the export was written under.
        prefix: String,
    },
}

impl ExportPick {
    /// Whether it names chains (restored at `--time`).
    pub fn is_chain(&self) -> bool {
        matches!(self, Self::Chain | Self::ChainAt { .. })
    }

    /// `latest`, an ARN, an S3 location (`s3://bucket/prefix`), or a period.
    pub fn parse(text: &str) -> Self {
        match text.trim() {
            "latest" => Self::Latest,
            "chain" => Self::Chain,
            t if t.starts_with("arn:") => Self::Arn(t.to_owned()),
            t if t.starts_with("s3://") => {
                let rest = &t["s3://".len()..];
                let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
                let (bucket, prefix) = (bucket.to_owned(), prefix.trim_end_matches('/').to_owned());
                if prefix == "chains" || prefix.ends_with("/chains") {
                    Self::ChainAt { bucket, prefix }
                } else {
                    Self::Location { bucket, prefix }
                }
            }
            t => Self::Period(t.to_owned()),
        }
    }
}

/// The fields of an export's `manifest-summary.json` that a restore needs (developer guide,
/// "DynamoDB table export output format").
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct ManifestSummary {
    export_arn: String,
    table_arn: String,
    s3_bucket: String,
    s3_prefix: Option<String>,
    item_count: Option<i64>,
    output_format: Option<String>,
    export_type: Option<String>,
}

/// The export under `s3://bucket/prefix`, from its `manifest-summary.json`
/// (`<prefix>/AWSDynamoDB/<export id>/manifest-summary.json`; the newest where several exports
/// wrote under one prefix). It must be `table_arn`'s, in DynamoDB JSON.
async fn located(
    aws: &Aws,
    table_arn: &str,
    table: &str,
    bucket: &str,
    prefix: &str,
) -> Result<Export, CommandError> {
    let location = format!("s3://{bucket}/{prefix}");
    let missing = |why: String| CommandError::ExportData {
        export: location.clone(),
        why,
    };
    let root = crate::export_files::root(prefix);
    let mut summaries = Vec::new();
    let mut token = None;
    loop {
        let page = aws
            .s3_for(bucket)
            .await
            .list_objects_v2()
            .bucket(bucket)
            .prefix(&root)
            .set_continuation_token(token)
            .send()
            .await
            .aws("ListObjectsV2", bucket)?;
        for object in page.contents() {
            if let Some(key) = object
                .key()
                .filter(|k| k.ends_with("/manifest-summary.json"))
            {
                let at = object.last_modified().map(|t| t.as_secs_f64());
                summaries.push((at, key.to_owned()));
            }
        }
        token = page.next_continuation_token;
        if token.is_none() {
            break;
        }
    }
    summaries.sort_by(|a, b| a.0.unwrap_or(0.0).total_cmp(&b.0.unwrap_or(0.0)));
    let Some((at, key)) = summaries.pop() else {
        return Err(missing(format!(
            "no manifest-summary.json under s3://{bucket}/{root}"
        )));
    };
    let object = aws
        .s3_for(bucket)
        .await
        .get_object()
        .bucket(bucket)
        .key(&key)
        .send()
        .await
        .aws("GetObject", &key)?;
    let bytes = object
        .body
        .collect()
        .await
        .map_err(|e| AwsError::malformed("GetObject", &key, &e.to_string()))?
        .into_bytes();
    let summary: ManifestSummary = serde_json::from_slice(&bytes).map_err(|e| {
        missing(format!(
            "s3://{bucket}/{key} is not an export's manifest summary: {e}"
        ))
    })?;
    if summary.table_arn != table_arn {
        return Err(CommandError::NoSuchExport {
            table: table.to_owned(),
            export: summary.export_arn,
        });
    }
    if summary.export_type.as_deref() == Some("INCREMENTAL_EXPORT") {
        return Err(CommandError::IncrementalExport(summary.export_arn));
    }
    if summary
        .output_format
        .as_deref()
        .is_some_and(|f| f != "DYNAMODB_JSON")
    {
        return Err(missing(format!(
            "it is in {}, and only DynamoDB JSON exports are imported",
            summary.output_format.unwrap_or_default()
        )));
    }
    Ok(Export {
        arn: summary.export_arn,
        bucket: summary.s3_bucket,
        bucket_owner: None,
        prefix: summary.s3_prefix.unwrap_or_else(|| prefix.to_owned()),
        item_count: summary.item_count,
        at,
    })
}

/// A COMPLETED export, as DescribeExport tells it.
#[derive(Debug, Clone, PartialEq)]
pub struct Export {
    /// Its ARN.
    pub arn: String,
    /// The bucket it wrote to.
    pub bucket: String,
    /// That bucket's owner, if DynamoDB says.
    pub bucket_owner: Option<String>,
    /// The prefix it wrote under.
    pub prefix: String,
    /// Items it exported.
    pub item_count: Option<i64>,
    /// When it ended (or was asked for), Unix seconds, to order exports by.
    pub at: Option<f64>,
}

/// An export as DescribeExport describes it.
fn export_of(arn: &str, d: &ExportDescription) -> Export {
    let seconds = |t: &aws_sdk_dynamodb::primitives::DateTime| t.as_secs_f64();
    Export {
        arn: arn.to_owned(),
        bucket: d.s3_bucket().unwrap_or_default().to_owned(),
        bucket_owner: d.s3_bucket_owner().map(str::to_owned),
        prefix: d.s3_prefix().unwrap_or_default().to_owned(),
        item_count: d.item_count(),
        at: d
            .end_time()
            .or(d.export_time())
            .or(d.start_time())
            .map(seconds),
    }
}

/// The export with this ARN, described directly: ListExports lists only "completed exports
/// within the past 90 days" (API reference), while an export's files outlive that (the stack
/// keeps them a year) and DescribeExport documents no such window. It must be `table_arn`'s
/// and COMPLETED.
async fn described(
    aws: &Aws,
    table_arn: &str,
    table: &str,
    arn: &str,
) -> Result<Export, CommandError> {
    let not_ours = || CommandError::NoSuchExport {
        table: table.to_owned(),
        export: arn.to_owned(),
    };
    let answer = aws
        .dynamodb
        .describe_export()
        .export_arn(arn)
        .send()
        .await
        .aws("DescribeExport", arn);
    let d = match answer {
        Ok(out) => out.export_description.ok_or_else(not_ours)?,
        Err(e) if e.is("ExportNotFoundException") => return Err(not_ours()),
        Err(e) => return Err(e.into()),
    };
    if d.table_arn() != Some(table_arn) {
        return Err(not_ours());
    }
    if d.export_type()
        .is_some_and(|t| t.as_str() == "INCREMENTAL_EXPORT")
    {
        return Err(CommandError::IncrementalExport(arn.to_owned()));
    }
    if d.export_format()
        .is_some_and(|f| f.as_str() != "DYNAMODB_JSON")
    {
        return Err(CommandError::ExportData {
            export: arn.to_owned(),
            why: "it is in ION, and only DynamoDB JSON exports are read".to_owned(),
        });
    }
    let status = d.export_status().map_or("unknown", |s| s.as_str());
    if status != "COMPLETED" {
        return Err(CommandError::ExportNotCompleted {
            export: arn.to_owned(),
            status: status.to_owned(),
        });
    }
    Ok(export_of(arn, &d))
}

/// The export of `table` that `pick` names, among its COMPLETED ones.
pub async fn choose(
    aws: &Aws,
    table_arn: &str,
    table: &str,
    pick: &ExportPick,
) -> Result<Export, CommandError> {
    match pick {
        ExportPick::Arn(arn) => return described(aws, table_arn, table, arn).await,
        ExportPick::Location { bucket, prefix } => {
            return located(aws, table_arn, table, bucket, prefix).await;
        }
        ExportPick::Latest
        | ExportPick::Period(_)
        | ExportPick::Chain
        | ExportPick::ChainAt { .. } => {}
    }
    let db = &aws.dynamodb;
    let mut arns = Vec::new();
    let mut token = None;
    loop {
        let page = db
            .list_exports()
            .table_arn(table_arn)
            .set_next_token(token)
            .send()
            .await
            .aws("ListExports", table)?;
        arns.extend(
            page.export_summaries()
                .iter()
                .filter_map(|s| s.export_arn().map(str::to_owned)),
        );
        token = page.next_token;
        if token.is_none() {
            break;
        }
    }
    let mut completed = Vec::new();
    for arn in &arns {
        let described = db
            .describe_export()
            .export_arn(arn)
            .send()
            .await
            .aws("DescribeExport", arn)?;
        let Some(d) = described.export_description() else {
            continue;
        };
        // An incremental export (a rollback's) holds changes, not the table: never imported.
        let full = d
            .export_type()
            .is_none_or(|t| t.as_str() != "INCREMENTAL_EXPORT");
        if full && d.export_status().map(|s| s.as_str()) == Some("COMPLETED") {
            completed.push(export_of(arn, d));
        }
    }
    let newest = |exports: Vec<Export>| {
        // Newest by time where DynamoDB gives one; else the last listed.
        exports
            .into_iter()
            .enumerate()
            .max_by(|(i, a), (j, b)| {
                a.at.unwrap_or(f64::MIN)
                    .total_cmp(&b.at.unwrap_or(f64::MIN))
                    .then(i.cmp(j))
            })
            .map(|(_, e)| e)
    };
    let (chosen, what) = match pick {
        ExportPick::Period(period) => (
            completed.into_iter().rfind(|e| {
                e.prefix
                    .trim_end_matches('/')
                    .ends_with(&format!("/{period}"))
            }),
            format!("completed export of {period}"),
        ),
        ExportPick::Latest
        | ExportPick::Arn(_)
        | ExportPick::Location { .. }
        | ExportPick::Chain
        | ExportPick::ChainAt { .. } => (newest(completed), "completed export".to_owned()),
    };
    chosen.ok_or_else(|| CommandError::NoExport {
        table: table.to_owned(),
        pick: what,
    })
}

/// An export's data files, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataFiles {
    /// Their key prefix: `<prefix>/AWSDynamoDB/<export id>/data/`.
    pub prefix: String,
    /// The keys of those in an archive class (S3 Glacier Flexible Retrieval or Deep Archive),
    /// which cannot be read until restored (S3 API reference, GetObject: "If the object you are
    /// retrieving is stored in the S3 Glacier Flexible Retrieval storage class, the S3 Glacier
    /// Deep Archive storage class ... before you can retrieve the object you must first restore
    /// a copy using RestoreObject. Otherwise, this operation returns an InvalidObjectState
    /// error."). Glacier Instant Retrieval reads as it is.
    pub archived: Vec<String>,
}

/// Whether objects of this storage class must be restored before they can be read.
fn archived(class: &ObjectStorageClass) -> bool {
    matches!(
        class,
        ObjectStorageClass::Glacier | ObjectStorageClass::DeepArchive
    )
}

/// Whether an archived object has a restored copy to read (HeadObject's `Restore`:
/// `ongoing-request="false"`; a listing shows a restored object in its archive class all the
/// same).
async fn restored(aws: &Aws, export: &Export, key: &str) -> Result<bool, AwsError> {
    let head = aws
        .s3_for(&export.bucket)
        .await
        .head_object()
        .bucket(&export.bucket)
        .key(key)
        .set_expected_bucket_owner(export.bucket_owner.clone())
        .send()
        .await
        .aws("HeadObject", key)?;
    Ok(head
        .restore()
        .is_some_and(|r| r.contains("ongoing-request=\"false\"")))
}

/// The export's data files: their prefix (the folder named by the export's id where there is
/// one, else the only one) and those archived without a restored copy.
pub async fn data_files(aws: &Aws, export: &Export) -> Result<DataFiles, CommandError> {
    let root = crate::export_files::root(&export.prefix);
    let mut folders: Vec<String> = Vec::new();
    let mut cold: Vec<(String, String)> = Vec::new();
    let mut token = None;
    loop {
        let page = aws
            .s3_for(&export.bucket)
            .await
            .list_objects_v2()
            .bucket(&export.bucket)
            .prefix(&root)
            .set_expected_bucket_owner(export.bucket_owner.clone())
            .set_continuation_token(token)
            .send()
            .await
            .aws("ListObjectsV2", &export.bucket)?;
        for object in page.contents() {
            let Some(key) = object.key() else {
                continue;
            };
            if let Some(at) = key.find("/data/") {
                let folder = key[..at + "/data/".len()].to_owned();
                if object.storage_class().is_some_and(archived) {
                    cold.push((folder.clone(), key.to_owned()));
                }
                if !folders.contains(&folder) {
                    folders.push(folder);
                }
            }
        }
        token = page.next_continuation_token;
        if token.is_none() {
            break;
        }
    }
    let id = export.arn.rsplit('/').next().unwrap_or_default();
    let by_id = folders
        .iter()
        .find(|f| f.contains(&format!("/AWSDynamoDB/{id}/")));
    match (by_id, folders.as_slice()) {
        (Some(folder), _) | (None, [folder]) => {
            let mut archived = Vec::new();
            for (_, key) in cold.into_iter().filter(|(f, _)| f == folder) {
                if !restored(aws, export, &key).await? {
                    archived.push(key);
                }
            }
            Ok(DataFiles {
                prefix: folder.clone(),
                archived,
            })
        }
        (None, []) => Err(CommandError::ExportData {
            export: export.arn.clone(),
            why: format!("no data files under s3://{}/{root}", export.bucket),
        }),
        (None, _) => Err(CommandError::ExportData {
            export: export.arn.clone(),
            why: format!(
                "{} exports' data under s3://{}/{root} and none named by its id",
                folders.len(),
                export.bucket
            ),
        }),
    }
}

/// `source`'s definition from DescribeTable; `None` when there is no such table.
async fn described_definition(
    aws: &Aws,
    source: &TableName,
) -> Result<Option<TableDefinition>, CommandError> {
    let answer = aws
        .dynamodb
        .describe_table()
        .table_name(source.as_str())
        .send()
        .await
        .aws("DescribeTable", source.as_str());
    let described = match answer {
        Ok(out) => out.table,
        Err(e) if e.is("ResourceNotFoundException") => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let table = described.ok_or_else(|| CommandError::NoSource(source.to_string()))?;
    TableDefinition::of(&table)
        .map(Some)
        .map_err(|e| AwsError::malformed("DescribeTable", source.as_str(), &e.to_string()).into())
}

/// The definition of the table an export restores, and whether that table still exists: from
/// DescribeTable while it does; once it is gone, from the `table.json` the function kept beside
/// the full export written under `beside` (bucket, prefix; [`backup_lambda::definition`]), which
/// only an export named by its location leads to.
pub async fn source_definition(
    aws: &Aws,
    source: &TableName,
    beside: Option<(&str, &str)>,
) -> Result<(TableDefinition, bool), CommandError> {
    if let Some(definition) = described_definition(aws, source).await? {
        return Ok((definition, true));
    }
    let Some((bucket, prefix)) = beside else {
        return Err(CommandError::SourceGone(source.to_string()));
    };
    let key = definition_key(prefix);
    let Some(bytes) = crate::bucket_json::read_raw_anywhere(aws, bucket, &key).await? else {
        return Err(CommandError::NoDefinition {
            table: source.to_string(),
            location: format!("s3://{bucket}/{prefix}"),
        });
    };
    let definition: TableDefinition =
        serde_json::from_slice(&bytes).map_err(|e| CommandError::ExportData {
            export: format!("s3://{bucket}/{prefix}"),
            why: format!("s3://{bucket}/{key} is not a table definition: {e}"),
        })?;
    Ok((definition, false))
}

/// The new table's creation parameters: the source's keys, attributes, billing, global
/// secondary indexes and KMS key. A source with local secondary indexes cannot be imported.
pub fn creation_parameters(
    source: &TableDefinition,
    target: &TableName,
) -> Result<TableCreationParameters, CommandError> {
    let malformed = |e: aws_sdk_dynamodb::error::BuildError| {
        CommandError::from(AwsError::malformed(
            "ImportTable",
            target.as_str(),
            &e.to_string(),
        ))
    };
    if !source.local_indexes.is_empty() {
        return Err(CommandError::ImportCannotMakeLsi(source.table.clone()));
    }
    let throughput = |billing: Billing| match billing {
        Billing::OnDemand => Ok(None),
        Billing::Provisioned { read, write } => ProvisionedThroughput::builder()
            .read_capacity_units(read)
            .write_capacity_units(write)
            .build()
            .map(Some)
            .map_err(malformed),
    };
    let keys = |parts: &[KeyPart]| {
        parts
            .iter()
            .map(|k| {
                KeySchemaElement::builder()
                    .attribute_name(&k.name)
                    .key_type(KeyType::from(k.role.as_str()))
                    .build()
                    .map_err(malformed)
            })
            .collect::<Result<Vec<_>, _>>()
    };
    let attributes = source
        .attributes
        .iter()
        .map(|a| {
            AttributeDefinition::builder()
                .attribute_name(&a.name)
                .attribute_type(ScalarAttributeType::from(a.kind.as_str()))
                .build()
                .map_err(malformed)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut indexes = Vec::new();
    for index in &source.global_indexes {
        let projection = Projection::builder()
            .projection_type(ProjectionType::from(index.projection.as_str()))
            .set_non_key_attributes((!index.non_key.is_empty()).then(|| index.non_key.clone()))
            .build();
        let throughput = match index.throughput {
            Some(billing) => throughput(billing)?,
            None => None,
        };
        indexes.push(
            GlobalSecondaryIndex::builder()
                .index_name(&index.name)
                .set_key_schema(Some(keys(&index.keys)?))
                .projection(projection)
                .set_provisioned_throughput(throughput)
                .build()
                .map_err(malformed)?,
        );
    }
    // A table encrypted with a KMS key (SSEType KMS: a customer managed key, or the AWS managed
    // `aws/dynamodb`) keeps it: ImportTable's TableCreationParameters.SSESpecification is
    // otherwise unset, and the new table would be encrypted with a key DynamoDB owns.
    let sse = source.kms_key_arn.as_ref().map(|key| {
        SseSpecification::builder()
            .enabled(true)
            .sse_type(SseType::Kms)
            .kms_master_key_id(key)
            .build()
    });
    let billing_mode = match source.billing {
        Billing::OnDemand => BillingMode::PayPerRequest,
        Billing::Provisioned { .. } => BillingMode::Provisioned,
    };
    TableCreationParameters::builder()
        .table_name(target.as_str())
        .set_sse_specification(sse)
        .set_attribute_definitions(Some(attributes))
        .set_key_schema(Some(keys(&source.keys)?))
        .set_global_secondary_indexes((!indexes.is_empty()).then_some(indexes))
        .billing_mode(billing_mode)
        .set_provisioned_throughput(throughput(source.billing)?)
        .build()
        .map_err(malformed)
}

/// How long `--thaw` waits for archived data files to be restored (Deep Archive's standard
/// retrieval takes up to 12 hours, Glacier Flexible Retrieval's 3 to 5).
const THAW_PATIENCE: Duration = Duration::from_secs(48 * 3600);
/// How many days a thawed copy stays readable.
const THAW_DAYS: i32 = 7;

/// Asks S3 to restore each archived data file of `export` for [`THAW_DAYS`] (a restore already
/// under way is fine), then waits until every copy is readable (HeadObject's `Restore`:
/// `ongoing-request="false"`), asking less and less often.
pub async fn thaw(aws: &Aws, export: &Export, keys: &[String]) -> Result<(), AwsError> {
    let bucket = export.bucket.as_str();
    for key in keys {
        let request = RestoreRequest::builder()
            .days(THAW_DAYS)
            .glacier_job_parameters(
                GlacierJobParameters::builder()
                    .tier(Tier::Standard)
                    .build()
                    .map_err(|e| AwsError::malformed("RestoreObject", key, &e.to_string()))?,
            )
            .build();
        let asked = aws
            .s3_for(bucket)
            .await
            .restore_object()
            .bucket(bucket)
            .key(key)
            .restore_request(request)
            .set_expected_bucket_owner(export.bucket_owner.clone())
            .send()
            .await
            .aws("RestoreObject", key);
        match asked {
            Err(e) if !e.is("RestoreAlreadyInProgress") => return Err(e),
            _ => {}
        }
    }
    report!(
        "  asked S3 to restore {} archived data file(s) for {THAW_DAYS} days; waiting (hours for Glacier, up to 12 h for Deep Archive)",
        keys.len()
    );
    let started = Instant::now();
    let mut pause = Duration::from_secs(30);
    let mut waiting: Vec<&String> = keys.iter().collect();
    loop {
        let mut still = Vec::new();
        for key in waiting {
            if !restored(aws, export, key).await? {
                still.push(key);
            }
        }
        if still.is_empty() {
            return Ok(());
        }
        if started.elapsed() > THAW_PATIENCE {
            return Err(AwsError::malformed(
                "HeadObject",
                still[0],
                "the archived data files are still being restored; run the restore again later",
            ));
        }
        waiting = still;
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(300));
    }
}

/// Starts importing `export`'s data (`data_prefix`) into a new table; returns the import's ARN.
/// The ClientToken (from the export and the target) makes a retried start the same import.
pub async fn start(
    aws: &Aws,
    export: &Export,
    data_prefix: &str,
    parameters: TableCreationParameters,
) -> Result<String, AwsError> {
    let target = parameters.table_name().to_owned();
    let source = S3BucketSource::builder()
        .s3_bucket(&export.bucket)
        .set_s3_bucket_owner(export.bucket_owner.clone())
        .s3_key_prefix(data_prefix)
        .build()
        .map_err(|e| AwsError::malformed("ImportTable", &target, &e.to_string()))?;
    let digest = Sha256::digest(format!("{}\n{target}", export.arn).as_bytes());
    let token: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    let out = aws
        .dynamodb
        .import_table()
        .client_token(token)
        .s3_bucket_source(source)
        .input_format(InputFormat::DynamodbJson)
        .input_compression_type(InputCompressionType::Gzip)
        .table_creation_parameters(parameters)
        .send()
        .await
        .aws("ImportTable", &target)?;
    out.import_table_description()
        .and_then(|d| d.import_arn())
        .map(str::to_owned)
        .ok_or_else(|| AwsError::malformed("ImportTable", &target, "the response has no ImportArn"))
}

/// Imports `export`'s data (`data_prefix`) into the new table `parameters` names and waits for
/// the import and the table, each a step of the progress report: the import's ARN, how it
/// ended, and the milliseconds its start took.
pub async fn import(
    aws: &Aws,
    export: &Export,
    data_prefix: &str,
    parameters: TableCreationParameters,
) -> Result<(String, Imported, u128), AwsError> {
    let target = parameters.table_name().to_owned();
    let tables = DynamoDbTables::new(aws.dynamodb.clone());
    let progress = Progress::new();
    let started = Instant::now();
    let start = start(aws, export, data_prefix, parameters);
    let import_arn = progress.step("import", "table", &target, start).await?;
    let start_ms = started.elapsed().as_millis();
    let wait = async {
        let imported = wait(aws, &import_arn).await?;
        let name = TableName::parse(&target)
            .map_err(|e| AwsError::malformed("ImportTable", &target, &e.to_string()))?;
        crate::recovery::wait_active(&tables, &name).await?;
        Ok::<_, AwsError>(imported)
    };
    let imported = progress.step("wait", "table", &target, wait).await?;
    Ok((import_arn, imported, start_ms))
}

/// How an import ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    /// Items imported.
    pub items: i64,
    /// Items that could not be (malformed, or not matching the keys).
    pub errors: i64,
}

/// The first pause between two DescribeImport calls; each is twice the one before, up to
/// [`MAX_POLL_PAUSE`]: an import takes minutes to hours, and a call a second for the
/// [`IMPORT_PATIENCE`] would be 43,200 calls.
const FIRST_POLL_PAUSE: Duration = Duration::from_secs(1);
/// The longest pause between two DescribeImport calls.
const MAX_POLL_PAUSE: Duration = Duration::from_secs(30);

/// The pause after `pause`.
fn next_pause(pause: Duration) -> Duration {
    (pause * 2).min(MAX_POLL_PAUSE)
}

/// Waits until the import is COMPLETED, asking less and less often; a FAILED or CANCELLED one
/// is an error with its reason.
pub async fn wait(aws: &Aws, import_arn: &str) -> Result<Imported, AwsError> {
    let started = Instant::now();
    let mut pause = FIRST_POLL_PAUSE;
    loop {
        let described = aws
            .dynamodb
            .describe_import()
            .import_arn(import_arn)
            .send()
            .await
            .aws("DescribeImport", import_arn)?;
        let d = described.import_table_description();
        match d.and_then(|d| d.import_status()) {
            Some(ImportStatus::Completed) => {
                return Ok(Imported {
                    items: d.map_or(0, |d| d.imported_item_count()),
                    errors: d.map_or(0, |d| d.error_count()),
                });
            }
            Some(status @ (ImportStatus::Failed | ImportStatus::Cancelled)) => {
                let why = format!(
                    "the import is {}: {}",
                    status.as_str(),
                    d.and_then(|d| d.failure_message())
                        .or(d.and_then(|d| d.failure_code()))
                        .unwrap_or("no reason given")
                );
                return Err(AwsError::malformed("DescribeImport", import_arn, &why));
            }
            _ if started.elapsed() > IMPORT_PATIENCE => {
                return Err(AwsError::malformed(
                    "DescribeImport",
                    import_arn,
                    "the import is still running; check the table later with `installer status`",
                ));
            }
            _ => {
                tokio::time::sleep(pause).await;
                pause = next_pause(pause);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_import_is_asked_about_less_and_less_often() {
        let mut pause = FIRST_POLL_PAUSE;
        let (mut waited, mut calls) = (Duration::ZERO, 1u32);
        while waited < IMPORT_PATIENCE {
            waited += pause;
            calls += 1;
            pause = next_pause(pause);
        }
        assert_eq!(pause, MAX_POLL_PAUSE);
        assert!(calls < 1_500, "{calls} DescribeImport calls over 12 h");
        // A small import is still seen within seconds of its end.
        assert_eq!(next_pause(FIRST_POLL_PAUSE), Duration::from_secs(2));
    }
    use aws_sdk_dynamodb::types::{
        BillingModeSummary, LocalSecondaryIndexDescription, TableDescription,
    };

    #[test]
    fn the_pick_is_latest_an_arn_or_a_period() {
        assert_eq!(ExportPick::parse("latest"), ExportPick::Latest);
        assert_eq!(
            ExportPick::parse("arn:aws:dynamodb:r:1:table/T/export/01"),
            ExportPick::Arn("arn:aws:dynamodb:r:1:table/T/export/01".to_owned())
        );
        assert_eq!(
            ExportPick::parse("2026-W49"),
            ExportPick::Period("2026-W49".to_owned())
        );
        assert_eq!(
            ExportPick::parse("s3://vault/exports/Movies/2026-12-05/"),
            ExportPick::Location {
                bucket: "vault".to_owned(),
                prefix: "exports/Movies/2026-12-05".to_owned()
            }
        );
        // A chains folder names the chains copied beside their exports.
        let chains = ExportPick::parse("s3://vault/exports/Movies/chains/");
        assert_eq!(
            chains,
            ExportPick::ChainAt {
                bucket: "vault".to_owned(),
                prefix: "exports/Movies/chains".to_owned()
            }
        );
        assert!(chains.is_chain() && ExportPick::Chain.is_chain());
        assert!(!ExportPick::Latest.is_chain());
    }

    fn defined(table: &TableDescription) -> TableDefinition {
        TableDefinition::of(table).expect("a whole description")
    }

    fn source(on_demand: bool) -> TableDescription {
        source_with(on_demand, Vec::new())
    }

    fn source_with(on_demand: bool, lsis: Vec<LocalSecondaryIndexDescription>) -> TableDescription {
        let key = KeySchemaElement::builder()
            .attribute_name("year")
            .key_type(KeyType::Hash)
            .build()
            .unwrap();
        let attribute = AttributeDefinition::builder()
            .attribute_name("year")
            .attribute_type(ScalarAttributeType::N)
            .build()
            .unwrap();
        let mode = if on_demand {
            BillingMode::PayPerRequest
        } else {
            BillingMode::Provisioned
        };
        TableDescription::builder()
            .table_name("Movies")
            .table_arn("arn:aws:dynamodb:us-east-1:123456789012:table/Movies")
            .key_schema(key)
            .attribute_definitions(attribute)
            .billing_mode_summary(BillingModeSummary::builder().billing_mode(mode).build())
            .set_local_secondary_indexes((!lsis.is_empty()).then_some(lsis))
            .build()
    }

    #[test]
    fn the_new_table_takes_the_sources_keys_and_billing() {
        let target = TableName::parse("Movies-from-export").unwrap();
        let p = creation_parameters(&defined(&source(true)), &target).expect("valid");
        assert_eq!(p.table_name(), "Movies-from-export");
        assert_eq!(p.key_schema()[0].attribute_name(), "year");
        assert_eq!(p.billing_mode(), Some(&BillingMode::PayPerRequest));
        assert!(p.provisioned_throughput().is_none());
        let provisioned = creation_parameters(&defined(&source(false)), &target).expect("valid");
        assert_eq!(provisioned.billing_mode(), Some(&BillingMode::Provisioned));
        assert_eq!(
            provisioned
                .provisioned_throughput()
                .map(|t| t.read_capacity_units()),
            Some(1)
        );
        let with_lsi = source_with(
            true,
            vec![
                LocalSecondaryIndexDescription::builder()
                    .index_name("by-title")
                    .build(),
            ],
        );
        assert!(matches!(
            creation_parameters(&defined(&with_lsi), &target),
            Err(CommandError::ImportCannotMakeLsi(t)) if t == "Movies"
        ));
        assert!(
            p.sse_specification().is_none(),
            "a table with DynamoDB's own key"
        );
    }

    #[test]
    fn the_new_table_keeps_the_sources_kms_key() {
        let target = TableName::parse("Movies-from-export").unwrap();
        let key = "arn:aws:kms:us-east-1:123456789012:key/0b1c";
        let mut encrypted = source(true);
        encrypted.sse_description = Some(
            aws_sdk_dynamodb::types::SseDescription::builder()
                .status(aws_sdk_dynamodb::types::SseStatus::Enabled)
                .sse_type(SseType::Kms)
                .kms_master_key_arn(key)
                .build(),
        );
        let p = creation_parameters(&defined(&encrypted), &target).expect("valid");
        let sse = p.sse_specification().expect("the source's key");
        assert_eq!(sse.sse_type(), Some(&SseType::Kms));
        assert_eq!(sse.kms_master_key_id(), Some(key));
        assert_eq!(sse.enabled(), Some(true));
    }
}
