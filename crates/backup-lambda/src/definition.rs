//! A table's definition as an export keeps it: what ImportTable needs to make the table again
//! (keys, attribute types, billing, global secondary indexes, KMS key), as DescribeTable told it
//! when the export started. The function writes it beside each full export
//! (`<export prefix>/table.json`, [`definition_key`]), so that an export restores from its bucket
//! alone, in a vault in another account, after the table and the stack's own bucket are gone:
//! an export's own files (its manifest, its data) do not hold the key schema.

use aws_sdk_dynamodb::types::{BillingMode, SseType, TableDescription};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::tables::TableShape;

/// The object beside an export that holds its table's definition.
pub const DEFINITION_FILE: &str = "table.json";

/// Where the definition of the table exported under `prefix` lives.
pub fn definition_key(prefix: &str) -> String {
    format!("{}/{DEFINITION_FILE}", prefix.trim_end_matches('/'))
}

/// What ImportTable needs to make a table again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableDefinition {
    /// The table's name.
    pub table: String,
    /// Its ARN: an export's manifest names it, so a restore can tell the export is this table's.
    pub table_arn: String,
    /// The attributes keys and indexes use, with their types (`S`, `N`, `B`).
    pub attributes: Vec<Attribute>,
    /// The key, in schema order.
    pub keys: Vec<KeyPart>,
    /// How the table is billed.
    pub billing: Billing,
    /// The global secondary indexes.
    #[serde(default)]
    pub global_indexes: Vec<GlobalIndex>,
    /// The local secondary indexes' names (ImportTable cannot make them).
    #[serde(default)]
    pub local_indexes: Vec<String>,
    /// The KMS key the table is encrypted with, when not one DynamoDB owns.
    #[serde(default)]
    pub kms_key_arn: Option<String>,
    /// Whether deletion protection is on.
    #[serde(default)]
    pub deletion_protection: bool,
}

/// An attribute of a key and its type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attribute {
    /// Its name.
    pub name: String,
    /// `S`, `N` or `B`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// One part of a key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyPart {
    /// The attribute.
    pub name: String,
    /// `HASH` or `RANGE`.
    pub role: String,
}

/// How a table or index is billed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "mode")]
pub enum Billing {
    /// Per request.
    OnDemand,
    /// Provisioned capacity.
    Provisioned {
        /// Read capacity units.
        read: i64,
        /// Write capacity units.
        write: i64,
    },
}

/// A global secondary index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GlobalIndex {
    /// Its name.
    pub name: String,
    /// Its key.
    pub keys: Vec<KeyPart>,
    /// `ALL`, `KEYS_ONLY` or `INCLUDE`.
    pub projection: String,
    /// The attributes `INCLUDE` projects.
    #[serde(default)]
    pub non_key: Vec<String>,
    /// Its capacity, on a provisioned table.
    #[serde(default)]
    pub throughput: Option<Billing>,
}

/// Why a description could not be kept as a definition.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DefinitionError {
    /// DescribeTable's answer lacks what a definition needs.
    #[error("DescribeTable's answer has no {0}")]
    Missing(&'static str),
}

/// Capacity as a billing, at least 1 each (ImportTable refuses 0).
fn provisioned(read: Option<i64>, write: Option<i64>) -> Billing {
    Billing::Provisioned {
        read: read.unwrap_or(1).max(1),
        write: write.unwrap_or(1).max(1),
    }
}

/// A key schema as parts.
fn key_parts(schema: &[aws_sdk_dynamodb::types::KeySchemaElement]) -> Vec<KeyPart> {
    schema
        .iter()
        .map(|e| KeyPart {
            name: e.attribute_name().to_owned(),
            role: e.key_type().as_str().to_owned(),
        })
        .collect()
}

impl TableDefinition {
    /// The definition DescribeTable's `Table` gives.
    pub fn of(table: &TableDescription) -> Result<Self, DefinitionError> {
        let name = table
            .table_name()
            .ok_or(DefinitionError::Missing("TableName"))?;
        let arn = table
            .table_arn()
            .ok_or(DefinitionError::Missing("TableArn"))?;
        if table.key_schema().is_empty() {
            return Err(DefinitionError::Missing("KeySchema"));
        }
        let on_demand = table.billing_mode_summary().and_then(|b| b.billing_mode())
            == Some(&BillingMode::PayPerRequest);
        let billing = if on_demand {
            Billing::OnDemand
        } else {
            let t = table.provisioned_throughput();
            provisioned(
                t.and_then(|t| t.read_capacity_units()),
                t.and_then(|t| t.write_capacity_units()),
            )
        };
        let global_indexes = table
            .global_secondary_indexes()
            .iter()
            .map(|index| {
                let projection = index.projection();
                GlobalIndex {
                    name: index.index_name().unwrap_or_default().to_owned(),
                    keys: key_parts(index.key_schema()),
                    projection: projection
                        .and_then(|p| p.projection_type())
                        .map_or("ALL", |t| t.as_str())
                        .to_owned(),
                    non_key: projection
                        .map(|p| p.non_key_attributes().to_vec())
                        .unwrap_or_default(),
                    throughput: (!on_demand).then(|| {
                        let t = index.provisioned_throughput();
                        provisioned(
                            t.and_then(|t| t.read_capacity_units()),
                            t.and_then(|t| t.write_capacity_units()),
                        )
                    }),
                }
            })
            .collect();
        Ok(Self {
            table: name.to_owned(),
            table_arn: arn.to_owned(),
            attributes: table
                .attribute_definitions()
                .iter()
                .map(|a| Attribute {
                    name: a.attribute_name().to_owned(),
                    kind: a.attribute_type().as_str().to_owned(),
                })
                .collect(),
            keys: key_parts(table.key_schema()),
            billing,
            global_indexes,
            local_indexes: table
                .local_secondary_indexes()
                .iter()
                .filter_map(|i| i.index_name().map(str::to_owned))
                .collect(),
            kms_key_arn: table
                .sse_description()
                .filter(|d| d.sse_type() == Some(&SseType::Kms))
                .and_then(|d| d.kms_master_key_arn().map(str::to_owned)),
            deletion_protection: table.deletion_protection_enabled() == Some(true),
        })
    }

    /// The keys and index names a restore is checked against ([`TableShape`]).
    pub fn shape(&self) -> TableShape {
        let mut indexes: Vec<String> = self
            .global_indexes
            .iter()
            .map(|i| i.name.clone())
            .chain(self.local_indexes.iter().cloned())
            .collect();
        indexes.sort();
        TableShape {
            keys: self
                .keys
                .iter()
                .map(|k| (k.name.clone(), k.role.clone()))
                .collect(),
            indexes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingModeSummary, GlobalSecondaryIndexDescription, KeySchemaElement,
        KeyType, LocalSecondaryIndexDescription, Projection, ProjectionType,
        ProvisionedThroughputDescription, ScalarAttributeType, SseDescription,
    };

    fn key(name: &str, role: KeyType) -> KeySchemaElement {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(role)
            .build()
            .unwrap()
    }

    fn attribute(name: &str, kind: ScalarAttributeType) -> AttributeDefinition {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(kind)
            .build()
            .unwrap()
    }

    /// A provisioned table with a KMS key, an `INCLUDE` index and a local index.
    fn described() -> TableDescription {
        let throughput = |read, write| {
            ProvisionedThroughputDescription::builder()
                .read_capacity_units(read)
                .write_capacity_units(write)
                .build()
        };
        TableDescription::builder()
            .table_name("Movies")
            .table_arn("arn:aws:dynamodb:eu-west-1:1:table/Movies")
            .key_schema(key("year", KeyType::Hash))
            .key_schema(key("title", KeyType::Range))
            .attribute_definitions(attribute("year", ScalarAttributeType::N))
            .attribute_definitions(attribute("title", ScalarAttributeType::S))
            .attribute_definitions(attribute("rating", ScalarAttributeType::N))
            .billing_mode_summary(
                BillingModeSummary::builder()
                    .billing_mode(BillingMode::Provisioned)
                    .build(),
            )
            .provisioned_throughput(throughput(5, 0))
            .global_secondary_indexes(
                GlobalSecondaryIndexDescription::builder()
                    .index_name("by-rating")
                    .key_schema(key("rating", KeyType::Hash))
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::Include)
                            .non_key_attributes("plot")
                            .build(),
                    )
                    .provisioned_throughput(throughput(3, 2))
                    .build(),
            )
            .local_secondary_indexes(
                LocalSecondaryIndexDescription::builder()
                    .index_name("by-release")
                    .build(),
            )
            .sse_description(
                SseDescription::builder()
                    .sse_type(SseType::Kms)
                    .kms_master_key_arn("arn:aws:kms:eu-west-1:1:key/k")
                    .build(),
            )
            .deletion_protection_enabled(true)
            .build()
    }

    #[test]
    fn a_description_is_kept_whole_and_reads_back_the_same() {
        let definition = TableDefinition::of(&described()).unwrap();
        assert_eq!(
            definition.table_arn,
            "arn:aws:dynamodb:eu-west-1:1:table/Movies"
        );
        assert_eq!(definition.attributes.len(), 3);
        assert_eq!(definition.attributes[0].kind, "N");
        // Capacity 0 is kept as 1: ImportTable refuses 0.
        assert_eq!(
            definition.billing,
            Billing::Provisioned { read: 5, write: 1 }
        );
        let index = &definition.global_indexes[0];
        assert_eq!(
            (index.projection.as_str(), index.non_key.as_slice()),
            ("INCLUDE", ["plot".to_owned()].as_slice())
        );
        assert_eq!(
            index.throughput,
            Some(Billing::Provisioned { read: 3, write: 2 })
        );
        assert_eq!(
            definition.kms_key_arn.as_deref(),
            Some("arn:aws:kms:eu-west-1:1:key/k")
        );
        assert!(definition.deletion_protection);
        let shape = definition.shape();
        assert_eq!(
            shape.keys,
            [("year", "HASH"), ("title", "RANGE")].map(|(a, r)| (a.to_owned(), r.to_owned()))
        );
        assert_eq!(shape.indexes, ["by-rating", "by-release"]);
        let json = serde_json::to_string(&definition).unwrap();
        assert_eq!(
            serde_json::from_str::<TableDefinition>(&json).unwrap(),
            definition
        );
    }

    #[test]
    fn an_on_demand_table_has_no_capacity_and_an_answer_without_keys_is_refused() {
        let mut on_demand = described();
        on_demand.billing_mode_summary = Some(
            BillingModeSummary::builder()
                .billing_mode(BillingMode::PayPerRequest)
                .build(),
        );
        let definition = TableDefinition::of(&on_demand).unwrap();
        assert_eq!(definition.billing, Billing::OnDemand);
        assert_eq!(definition.global_indexes[0].throughput, None);
        let keyless = TableDescription::builder()
            .table_name("Movies")
            .table_arn("arn:aws:dynamodb:eu-west-1:1:table/Movies")
            .build();
        assert_eq!(
            TableDefinition::of(&keyless),
            Err(DefinitionError::Missing("KeySchema"))
        );
        assert_eq!(
            definition_key("exports/Movies/2026-12-05/"),
            "exports/Movies/2026-12-05/table.json"
        );
    }
}
