//! What a restore drops that can be read from a table before it is deleted ([`TableSettings`],
//! kept in the journal so that a run after an interruption puts back the same), and putting it
//! back on the restored table ([`apply`]).
//!
//! RestoreTableFromBackup, API reference: "You must manually set up the following on the
//! restored table: Auto scaling policies, IAM policies, Amazon CloudWatch metrics and alarms,
//! Tags, Stream settings, Time to Live (TTL) settings"; point-in-time recovery starts off, and
//! "Tables restored from backups are always created using the DynamoDB Standard table class"
//! (developer guide, "Table classes"). Billing and capacity go into the restore request itself
//! ([`TableSettings::billing`]).

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    BillingMode, ContributorInsightsAction, ContributorInsightsStatus, ProvisionedThroughput,
    SseSpecification, SseType, StreamSpecification, StreamViewType, TableClass, TimeToLiveStatus,
};
use backup_lambda::error::{AwsError, AwsResult};
use backup_lambda::naming::TableName;
use backup_lambda::store::BackupStore;
use backup_lambda::tables::Tables;
use serde::{Deserialize, Serialize};

use crate::recovery;

/// A table's settings a restore does not keep, as read before the table was deleted (a field
/// this version does not know in a journal is its default).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default)]
pub struct TableSettings {
    /// The table's ARN (a resource policy names it; the restored table has the same one).
    pub arn: String,
    /// Which table of the name this is ([`identity`]): tells the original from a table made
    /// later under its name.
    pub identity: String,
    /// Whether the restore request carries the table's billing ([`TableSettings::billing`]):
    /// only for a table without global secondary indexes.
    pub billing_overridden: bool,
    /// Billing: provisioned capacity (read, write), or `None` for on demand.
    pub provisioned: Option<(i64, i64)>,
    /// The KMS key the table is encrypted with, when it is a customer managed or AWS managed
    /// key (`None`: DynamoDB's own key, a restore's default).
    pub kms_key: Option<String>,
    /// The time-to-live attribute, when TTL is on.
    pub ttl_attribute: Option<String>,
    /// Point-in-time recovery's recovery period in days, when it is on.
    pub pitr_days: Option<u32>,
    /// Deletion protection.
    pub deletion_protection: bool,
    /// The table's tags.
    pub tags: Vec<(String, String)>,
    /// The stream's view type, when a stream is on.
    pub stream: Option<String>,
    /// The table class, when it is not the standard one a restore makes.
    pub table_class: Option<String>,
    /// The resource-based policy, when the table has one.
    pub resource_policy: Option<String>,
    /// Where contributor insights are on: `None` for the table, else an index's name.
    pub contributor_insights: Vec<Option<String>>,
    /// The table's secondary indexes (global and local), by name: a restore makes the backup's.
    pub indexes: Vec<String>,
    /// What could not be read (an operation this endpoint does not offer, say) or cannot be
    /// carried over, one line each.
    pub not_carried: Vec<String>,
}

/// Why a table cannot be swapped for its backup.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unswappable {
    /// It is a global table.
    #[error(
        "table {0} is a global table (it has replicas): a restore makes a table in one region only; restore into a new table (`--to`) and move the replicas yourself"
    )]
    Global(String),
}

/// Reads `table`'s settings. `Err(Unswappable)` inside `Ok` when it cannot be swapped at all.
pub async fn read(
    db: &Client,
    table: &TableName,
) -> Result<Result<TableSettings, Unswappable>, AwsError> {
    let name = table.as_str();
    let described = db
        .describe_table()
        .table_name(name)
        .send()
        .await
        .aws("DescribeTable", name)?;
    let Some(t) = described.table() else {
        return Err(AwsError::malformed(
            "DescribeTable",
            name,
            "no Table in the answer",
        ));
    };
    if !t.replicas().is_empty() || t.global_table_version().is_some() {
        return Ok(Err(Unswappable::Global(name.to_owned())));
    }
    let mut settings = TableSettings {
        arn: t.table_arn().unwrap_or_default().to_owned(),
        identity: identity(t),
        deletion_protection: t.deletion_protection_enabled() == Some(true),
        ..TableSettings::default()
    };
    let on_demand = t
        .billing_mode_summary()
        .and_then(|b| b.billing_mode())
        .is_some_and(|m| *m == BillingMode::PayPerRequest);
    settings.billing_overridden = t.global_secondary_indexes().is_empty();
    if !settings.billing_overridden {
        // A billing override would need each global index's capacity too
        // (GlobalSecondaryIndexOverride, which replaces the indexes): a request that could be
        // refused only after the table is deleted. The backup's billing is kept instead.
        settings.not_carried.push(
            "the billing mode and capacity as they are now (the table has global secondary indexes, so the restored table has the backup's): set them again with UpdateTable".to_owned(),
        );
    } else if !on_demand && let Some(p) = t.provisioned_throughput() {
        settings.provisioned = p
            .read_capacity_units()
            .zip(p.write_capacity_units())
            .filter(|(r, w)| *r > 0 && *w > 0);
    }
    settings.kms_key = t
        .sse_description()
        .filter(|s| s.sse_type() == Some(&SseType::Kms))
        .and_then(|s| s.kms_master_key_arn())
        .map(str::to_owned);
    settings.stream = t
        .stream_specification()
        .filter(|s| s.stream_enabled())
        .and_then(|s| s.stream_view_type())
        .map(|v| v.as_str().to_owned());
    if settings.stream.is_some() {
        settings.not_carried.push(
            "the stream's consumers (Lambda triggers, say): the restored table's stream has a new ARN; point them at it".to_owned(),
        );
    }
    settings.table_class = t
        .table_class_summary()
        .and_then(|c| c.table_class())
        .filter(|c| **c != TableClass::Standard)
        .map(|c| c.as_str().to_owned());
    let indexes: Vec<String> = t
        .global_secondary_indexes()
        .iter()
        .filter_map(|i| i.index_name().map(str::to_owned))
        .collect();
    settings.indexes = indexes.clone();
    settings.indexes.extend(
        t.local_secondary_indexes()
            .iter()
            .filter_map(|i| i.index_name().map(str::to_owned)),
    );
    settings.indexes.sort();
    if t.on_demand_throughput().is_some_and(|o| {
        o.max_read_request_units().is_some() || o.max_write_request_units().is_some()
    }) {
        settings.not_carried.push(
            "the table's on-demand maximum throughput: set it again (UpdateTable OnDemandThroughput)"
                .to_owned(),
        );
    }

    settings.ttl_attribute = match recovery::ttl(db, table).await? {
        Some((TimeToLiveStatus::Enabled, attribute)) => Some(attribute),
        _ => None,
    };
    settings.pitr_days = recovery::pitr_days(db, table).await?;
    if !settings.arn.is_empty() {
        // AWS's own tags (`aws:`) cannot be put: "AWS-assigned tag names ... are automatically
        // assigned the aws: prefix, which you can't assign" (Tagging restrictions).
        settings.tags = backup_lambda::store::DynamoDbBackups::new(db.clone())
            .table_tags(&settings.arn)
            .await?
            .into_iter()
            .filter(|(key, _)| !key.starts_with("aws:"))
            .collect();
        settings.resource_policy = resource_policy(db, &settings.arn).await?;
    }
    for index in std::iter::once(None).chain(indexes.into_iter().map(Some)) {
        match insights(db, table, index.as_deref()).await {
            Ok(true) => settings.contributor_insights.push(index),
            Ok(false) => {}
            Err(e) => settings
                .not_carried
                .push(format!("contributor insights could not be read: {e}")),
        }
    }
    match kinesis(db, table).await {
        Ok(streams) => settings.not_carried.extend(streams.into_iter().map(|s| {
            format!("the Kinesis streaming destination {s}: enable it on the restored table")
        })),
        Err(e) => settings.not_carried.push(format!(
            "Kinesis streaming destinations could not be read: {e}"
        )),
    }
    settings.not_carried.push(
        "auto scaling was not read: DeleteTable leaves a table's scalable targets and policies registered by its name (Application Auto Scaling, \"you do not automatically remove any associated scalable targets\"), so they apply to the restored table".to_owned(),
    );
    Ok(Ok(settings))
}

/// A table's identity: its `TableId`, else (an endpoint that gives none) its creation time.
pub fn identity(t: &aws_sdk_dynamodb::types::TableDescription) -> String {
    match (t.table_id(), t.creation_date_time()) {
        (Some(id), _) => id.to_owned(),
        (None, Some(at)) => format!("created {}", at.as_nanos()),
        (None, None) => String::new(),
    }
}

/// The table's resource-based policy, if it has one (GetResourcePolicy:
/// PolicyNotFoundException when it has none).
async fn resource_policy(db: &Client, arn: &str) -> Result<Option<String>, AwsError> {
    match db
        .get_resource_policy()
        .resource_arn(arn)
        .send()
        .await
        .aws("GetResourcePolicy", arn)
    {
        Ok(out) => Ok(out.policy),
        Err(e) if e.is("PolicyNotFoundException") => Ok(None),
        Err(e) => Err(e),
    }
}

/// Whether contributor insights are on for the table (`index` `None`) or a global index.
async fn insights(db: &Client, table: &TableName, index: Option<&str>) -> Result<bool, AwsError> {
    let out = db
        .describe_contributor_insights()
        .table_name(table.as_str())
        .set_index_name(index.map(str::to_owned))
        .send()
        .await
        .aws("DescribeContributorInsights", table.as_str())?;
    Ok(matches!(
        out.contributor_insights_status(),
        Some(ContributorInsightsStatus::Enabled | ContributorInsightsStatus::Enabling)
    ))
}

/// The Kinesis data streams the table's changes go to (active or being enabled).
async fn kinesis(db: &Client, table: &TableName) -> Result<Vec<String>, AwsError> {
    let out = db
        .describe_kinesis_streaming_destination()
        .table_name(table.as_str())
        .send()
        .await
        .aws("DescribeKinesisStreamingDestination", table.as_str())?;
    Ok(out
        .kinesis_data_stream_destinations()
        .iter()
        .filter(|d| {
            d.destination_status().is_some_and(|s| {
                matches!(
                    s.as_str(),
                    "ACTIVE" | "ENABLING" | "ENABLE_FAILED" | "UPDATING"
                )
            })
        })
        .filter_map(|d| d.stream_arn().map(str::to_owned))
        .collect())
}

impl TableSettings {
    /// What differs between the table's indexes and the restored table's (`restored`, sorted):
    /// a restore makes the indexes the backup recorded, so one made since is missing and one
    /// deleted since is back.
    pub fn index_differences(&self, restored: &[String]) -> Vec<String> {
        let missing = self
            .indexes
            .iter()
            .filter(|i| !restored.contains(i))
            .map(|i| format!("the index {i}, made after the backup: create it again"));
        let back = restored
            .iter()
            .filter(|i| !self.indexes.contains(i))
            .map(|i| format!("the index {i}, deleted after the backup, is back: delete it again"));
        missing.chain(back).collect()
    }

    /// The restore request's billing: the table's as it is now, not as the backup recorded it;
    /// `None` (the backup's) for a table with global secondary indexes.
    pub fn billing(&self) -> Option<(BillingMode, Option<ProvisionedThroughput>)> {
        if !self.billing_overridden {
            return None;
        }
        Some(match self.provisioned {
            Some((read, write)) => (
                BillingMode::Provisioned,
                ProvisionedThroughput::builder()
                    .read_capacity_units(read)
                    .write_capacity_units(write)
                    .build()
                    .ok(),
            ),
            None => (BillingMode::PayPerRequest, None),
        })
    }

    /// The restore request's encryption: the table's KMS key, if it has one.
    pub fn encryption(&self) -> Option<SseSpecification> {
        self.kms_key.as_ref().map(|key| {
            SseSpecification::builder()
                .enabled(true)
                .sse_type(SseType::Kms)
                .kms_master_key_id(key)
                .build()
        })
    }
}

/// Puts `settings` back on the restored, ACTIVE `table`: each a call DynamoDB accepts again (the
/// ones already done by an interrupted run are done again, to the same effect), table updates
/// one at a time, waiting for ACTIVE between them (UpdateTable, API reference: "While it's
/// UPDATING, you can't issue another UpdateTable request"), deletion protection last.
pub async fn apply(
    db: &Client,
    tables: &impl Tables,
    table: &TableName,
    settings: &TableSettings,
) -> Result<(), AwsError> {
    let name = table.as_str();
    if let Some(attribute) = &settings.ttl_attribute
        && !ttl_on(db, table, attribute).await?
    {
        recovery::put_ttl(db, table, attribute).await?;
    }
    // Each step only when not done yet, so that a run going on after an interruption makes
    // progress instead of repeating the steps before it.
    if let Some(days) = settings.pitr_days
        && recovery::pitr_days(db, table).await? != Some(days)
    {
        recovery::enable_pitr(db, table, Some(days)).await?;
    }
    if !settings.tags.is_empty() {
        let now = backup_lambda::store::DynamoDbBackups::new(db.clone())
            .table_tags(&settings.arn)
            .await?;
        if !settings.tags.iter().all(|tag| now.contains(tag)) {
            recovery::put_tags(db, table, &settings.tags).await?;
        }
    }
    // Put only when it differs: PutResourcePolicy is refused for a while after a change.
    if let Some(policy) = &settings.resource_policy
        && resource_policy(db, &settings.arn).await?.as_ref() != Some(policy)
    {
        db.put_resource_policy()
            .resource_arn(&settings.arn)
            .policy(policy)
            .send()
            .await
            .aws("PutResourcePolicy", name)?;
    }
    for index in &settings.contributor_insights {
        if insights(db, table, index.as_deref()).await? {
            continue;
        }
        db.update_contributor_insights()
            .table_name(name)
            .set_index_name(index.clone())
            .contributor_insights_action(ContributorInsightsAction::Enable)
            .send()
            .await
            .aws("UpdateContributorInsights", name)?;
    }
    let described = db
        .describe_table()
        .table_name(name)
        .send()
        .await
        .aws("DescribeTable", name)?;
    let now = described.table();
    if let Some(view) = &settings.stream
        && !now
            .and_then(|t| t.stream_specification())
            .is_some_and(StreamSpecification::stream_enabled)
    {
        let spec = StreamSpecification::builder()
            .stream_enabled(true)
            .stream_view_type(StreamViewType::from(view.as_str()))
            .build()
            .map_err(|e| AwsError::malformed("UpdateTable", name, &e.to_string()))?;
        db.update_table()
            .table_name(name)
            .stream_specification(spec)
            .send()
            .await
            .aws("UpdateTable", name)?;
        recovery::wait_active(tables, table).await?;
    }
    if let Some(class) = &settings.table_class {
        let current = now
            .and_then(|t| t.table_class_summary())
            .and_then(|c| c.table_class())
            .map(TableClass::as_str);
        if current != Some(class.as_str()) {
            db.update_table()
                .table_name(name)
                .table_class(TableClass::from(class.as_str()))
                .send()
                .await
                .aws("UpdateTable", name)?;
            recovery::wait_active(tables, table).await?;
        }
    }
    if settings.deletion_protection
        && now.and_then(|t| t.deletion_protection_enabled()) != Some(true)
    {
        db.update_table()
            .table_name(name)
            .deletion_protection_enabled(true)
            .send()
            .await
            .aws("UpdateTable", name)?;
    }
    Ok(())
}

/// Whether TTL is on with `attribute` already (UpdateTimeToLive refuses a second change within
/// an hour, so a run going on after an interruption must not ask twice).
async fn ttl_on(db: &Client, table: &TableName, attribute: &str) -> Result<bool, AwsError> {
    Ok(matches!(
        recovery::ttl(db, table).await?,
        Some((TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling, a)) if a == attribute
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_made_or_deleted_after_the_backup_are_named() {
        let settings = TableSettings {
            indexes: vec!["byGenre".to_owned(), "byYear".to_owned()],
            ..TableSettings::default()
        };
        assert!(
            settings
                .index_differences(&["byGenre".to_owned(), "byYear".to_owned()])
                .is_empty()
        );
        assert_eq!(
            settings.index_differences(&["byRating".to_owned(), "byYear".to_owned()]),
            [
                "the index byGenre, made after the backup: create it again",
                "the index byRating, deleted after the backup, is back: delete it again",
            ]
        );
    }

    #[test]
    fn billing_and_encryption_go_into_the_restore_request_as_the_table_had_them() {
        let on_demand = TableSettings {
            billing_overridden: true,
            ..TableSettings::default()
        };
        assert_eq!(
            on_demand.billing(),
            Some((BillingMode::PayPerRequest, None))
        );
        assert_eq!(on_demand.encryption(), None);
        let with_indexes = TableSettings {
            provisioned: Some((5, 7)),
            ..TableSettings::default()
        };
        assert_eq!(with_indexes.billing(), None, "the backup's billing");
        let provisioned = TableSettings {
            billing_overridden: true,
            provisioned: Some((5, 7)),
            kms_key: Some("arn:aws:kms:us-east-1:1:key/k".to_owned()),
            ..TableSettings::default()
        };
        let (mode, throughput) = provisioned.billing().expect("overridden");
        assert_eq!(mode, BillingMode::Provisioned);
        let throughput = throughput.expect("capacity");
        assert_eq!(
            (
                throughput.read_capacity_units(),
                throughput.write_capacity_units()
            ),
            (5, 7)
        );
        let sse = provisioned.encryption().expect("the key");
        assert_eq!(
            sse.kms_master_key_id(),
            Some("arn:aws:kms:us-east-1:1:key/k")
        );
        assert_eq!(sse.sse_type(), Some(&SseType::Kms));
    }
}
