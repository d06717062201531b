//! The price table: `prices/aws-prices.json`, embedded at build time, dated, one entry per
//! region priced.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The embedded file.
const PRICES: &str = include_str!("../../../../prices/aws-prices.json");

/// The region whose prices stand in for a region the table does not have.
pub const FALLBACK_REGION: &str = "us-east-1";

/// The whole price table.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PriceTable {
    /// When the prices were read.
    pub date: String,
    /// Their currency.
    pub currency: String,
    /// Where they come from.
    pub source: String,
    /// Prices by region.
    pub regions: BTreeMap<String, Prices>,
}

/// One region's prices.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Prices {
    /// On-demand backup storage, per GB-month.
    pub dynamodb_backup_gb_month: f64,
    /// Point-in-time recovery, per GB-month of table.
    pub dynamodb_pitr_gb_month: f64,
    /// Restoring, per GB restored.
    pub dynamodb_restore_gb: f64,
    /// Exporting to S3, per GB of table exported.
    pub dynamodb_export_gb: f64,
    /// Incremental exports to S3, per GB of changes processed (each export billed for
    /// [`super::INCREMENTAL_MIN_GB`] at least).
    pub dynamodb_incremental_export_gb: f64,
    /// On-demand read request units, per million.
    pub dynamodb_read_request_units_million: f64,
    /// S3 storage per GB-month, by storage class.
    pub s3_gb_month: BTreeMap<String, f64>,
    /// S3 PUT (and COPY, POST, LIST) requests, per thousand.
    pub s3_put_thousand: f64,
    /// S3 GET requests, per thousand.
    pub s3_get_thousand: f64,
    /// Lambda compute per GB-second, by architecture.
    pub lambda_gb_second: BTreeMap<String, f64>,
    /// Lambda requests, per million.
    pub lambda_requests_million: f64,
    /// CloudWatch Logs ingestion, per GB.
    pub logs_ingest_gb: f64,
    /// CloudWatch Logs storage, per GB-month.
    pub logs_store_gb_month: f64,
    /// A standard-resolution CloudWatch alarm, per month.
    pub cloudwatch_alarm_month: f64,
}

impl Prices {
    /// S3 storage of `class` per GB-month (0 for a class the table lacks: a test checks it
    /// has every class the installer offers).
    pub fn s3_price(&self, class: &str) -> f64 {
        self.s3_gb_month.get(class).copied().unwrap_or(0.0)
    }

    /// Lambda compute per GB-second on `arch`.
    pub fn lambda_price(&self, arch: &str) -> f64 {
        self.lambda_gb_second.get(arch).copied().unwrap_or(0.0)
    }
}

impl PriceTable {
    /// The table built into this installer.
    pub fn embedded() -> Result<Self, serde_json::Error> {
        serde_json::from_str(PRICES)
    }

    /// The prices for `region`, and the region they are: its own, or [`FALLBACK_REGION`]'s.
    pub fn for_region(&self, region: &str) -> (&str, &Prices) {
        match self.regions.get_key_value(region) {
            Some((name, prices)) => (name, prices),
            None => {
                let fallback = self
                    .regions
                    .get_key_value(FALLBACK_REGION)
                    .or_else(|| self.regions.iter().next())
                    .expect("the price table has a region");
                (fallback.0, fallback.1)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::exports::ColdClass;

    #[test]
    fn the_table_prices_every_class_and_architecture_the_installer_offers() {
        let table = PriceTable::embedded().expect("parses");
        assert!(!table.date.is_empty() && table.currency == "USD");
        let (name, us) = table.for_region(FALLBACK_REGION);
        assert_eq!(name, FALLBACK_REGION);
        for class in [
            ColdClass::StandardIa,
            ColdClass::GlacierIr,
            ColdClass::Glacier,
            ColdClass::DeepArchive,
        ] {
            assert!(us.s3_price(class.api_name()) > 0.0, "{class:?}");
        }
        assert!(us.s3_price("STANDARD") > us.s3_price("GLACIER_IR"));
        assert!(us.lambda_price("arm64") < us.lambda_price("x86_64"));
    }
}
