//! The IAM documents, rendered from the JSON templates in `policies/` (embedded at build time),
//! and compared with what IAM returns (URL-encoded JSON).

use serde_json::Value;
use thiserror::Error;

use crate::deploy::exports::EXPORT_PREFIX;

/// The role's trust policy: Lambda may assume it, on behalf of this account only.
const TRUST_TEMPLATE: &str = include_str!("../../../../policies/lambda-trust.json");
/// The bucket's policy: every request without TLS is denied.
const BUCKET_TEMPLATE: &str = include_str!("../../../../policies/bucket-tls-only.json");
/// The function's permissions: its own log group, its tables' backups, its bucket's `runs/`.
const FUNCTION_TEMPLATE: &str = include_str!("../../../../policies/backup-function.json");
/// What restore drills add to the function's permissions: restoring its tables' backups into
/// scratch tables named `<table>-drill-<14-character id>`, checking and deleting those, and its drill state.
const DRILL_TEMPLATE: &str = include_str!("../../../../policies/drill.json");

/// What exports add: exporting its tables, checking those exports, writing under the export
/// prefix of the export bucket (the actions DynamoDB's export needs on it: DynamoDB developer
/// guide, "Requesting a table export", S3 permissions), reading its export records, and listing
/// `runs/` so that a record not yet written reads as missing (S3 answers a GET of a missing key
/// 403 to a caller without `s3:ListBucket`, GetObject API reference).
const EXPORT_TEMPLATE: &str = include_str!("../../../../policies/export.json");

/// The schedules' role's trust: EventBridge Scheduler, for the stack's schedule group only
/// (Scheduler user guide, "Confused deputy prevention": `aws:SourceArn` "must be your
/// EventBridge Scheduler schedule group ARN").
const SCHEDULER_TRUST_TEMPLATE: &str = include_str!("../../../../policies/scheduler-trust.json");
/// The schedules' role's permissions: invoking the stack's function, nothing else.
const SCHEDULER_INVOKE_TEMPLATE: &str = include_str!("../../../../policies/scheduler-invoke.json");

/// What a stack of tables chosen by tag adds: a run over many tables hands its rest on to a new
/// invocation of the function itself, keeping the run's state in the log bucket.
const CONTINUE_TEMPLATE: &str = include_str!("../../../../policies/continue.json");

/// A vault's policy (`installer vault init`): TLS only; nobody may bypass governance retention;
/// the source account may check the vault and read its exports, and only the source stacks'
/// roles may write them. The writers are matched by `aws:PrincipalArn` under the account
/// principal, so the policy can be written before the source stack's role exists (a role ARN
/// as principal must name a role that exists).
const VAULT_TEMPLATE: &str = include_str!("../../../../policies/vault-bucket.json");

/// The alert topic's policy: only CloudWatch alarms of this account may publish.
const ALERT_TOPIC_TEMPLATE: &str = include_str!("../../../../policies/alert-topic.json");

/// Why a template did not render.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PolicyError {
    /// The embedded template is not JSON (a build-time mistake).
    #[error("policy template is not JSON: {0}")]
    Template(String),
    /// The template names a placeholder this code does not fill.
    #[error("policy template uses unknown placeholder ${{{0}}}")]
    Placeholder(String),
    /// The function's policy would be over IAM's size limit for a role's inline policies.
    #[error(
        "the role's policy for {tables} tables would be {chars} characters, over IAM's limit of {INLINE_POLICY_LIMIT}; back up fewer tables per stack (split them across stacks with --stack) or use shorter table names"
    )]
    TooLarge {
        /// How many tables it names.
        tables: usize,
        /// Its size, in characters without white space.
        chars: usize,
    },
}

/// IAM's limit on the size of a role's inline policies, in characters, white space not counted
/// (IAM quotas: "Role policy size cannot exceed 10,240 characters").
pub const INLINE_POLICY_LIMIT: usize = 10_240;

/// The values a policy template's `${...}` placeholders are filled with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyVars {
    /// `aws`, `aws-cn` or `aws-us-gov`.
    pub partition: String,
    /// The region.
    pub region: String,
    /// The 12-digit account id.
    pub account: String,
    /// The stack: its function's and its schedule group's name.
    pub stack: String,
    /// The function's log group name.
    pub log_group: String,
    /// The run-record bucket's name.
    pub bucket: String,
    /// The backed-up tables' names.
    pub tables: Vec<String>,
    /// Whether the function runs restore drills (and needs their permissions).
    pub drill: bool,
    /// The bucket the function exports to, if it does (its prefix is [`EXPORT_PREFIX`]).
    pub export_bucket: Option<String>,
    /// The tag (key, value) that chooses the tables, when they are not named: the table ARNs
    /// become `table/*`, and the actions that accept `aws:ResourceTag` are conditioned on it.
    pub table_tag: Option<(String, String)>,
    /// With a tag, whether the table statements are conditioned on it: DynamoDB evaluates tag
    /// conditions "as if no tags are present" in an account or region where its
    /// attribute-based access control is not enabled (developer guide, "Enabling ABAC in
    /// DynamoDB"), so there they would deny every table; the function filters by tag itself.
    pub tag_conditions: bool,
}

/// The statements on table resources whose actions accept the `aws:ResourceTag/<key>`
/// condition (DynamoDB supports attribute-based access control on tables: developer guide,
/// "Using ABAC with DynamoDB"); with tables chosen by tag they are conditioned on the tag.
/// Backups and exports carry no tags, so DeleteBackup, DescribeExport and the drills' restore
/// actions on them cannot be.
const TAG_CONDITIONED: [&str; 3] = [
    "BackUpTheTables",
    "ExportTheTablesToS3",
    "ReadTheTablesRecoveryWindow",
];

impl PolicyVars {
    fn table_arn(&self, table: &str) -> String {
        format!(
            "arn:{}:dynamodb:{}:{}:table/{table}",
            self.partition, self.region, self.account
        )
    }

    /// A placeholder that stands for a whole list (only as a complete string value).
    fn list(&self, name: &str) -> Option<Vec<String>> {
        let arns = |suffix: &str| {
            if self.table_tag.is_some() {
                return vec![format!("{}{suffix}", self.table_arn("*"))];
            }
            self.tables
                .iter()
                .map(|t| format!("{}{suffix}", self.table_arn(t)))
                .collect()
        };
        match name {
            "table_arns" => Some(arns("")),
            "backup_arns" => Some(arns("/backup/*")),
            "drill_table_arns" => Some(arns(&format!(
                "-drill-{}",
                "?".repeat(backup_lambda::drill::ID_LEN)
            ))),
            "export_arns" => Some(arns("/export/*")),
            _ => None,
        }
    }

    /// A placeholder that stands for one string.
    fn scalar(&self, name: &str) -> Option<&str> {
        match name {
            "partition" => Some(&self.partition),
            "region" => Some(&self.region),
            "account" => Some(&self.account),
            "stack" => Some(&self.stack),
            "log_group" => Some(&self.log_group),
            "bucket" => Some(&self.bucket),
            "records_prefix" => Some(backup_lambda::record::PREFIX),
            "chains_prefix" => Some(backup_lambda::record::CHAINS_PREFIX),
            "continuations_prefix" => Some(backup_lambda::run::continued::PREFIX),
            "ledger_folder" => Some(backup_lambda::record::LEDGER_FOLDER),
            "drills_folder" => Some(backup_lambda::record::DRILLS),
            "exports_folder" => Some(backup_lambda::record::EXPORTS_FOLDER),
            "fingerprints_folder" => Some(backup_lambda::record::FINGERPRINTS_FOLDER),
            "export_bucket" => self.export_bucket.as_deref(),
            "export_prefix" => Some(EXPORT_PREFIX),
            _ => None,
        }
    }

    fn fill(&self, value: &mut Value) -> Result<(), PolicyError> {
        match value {
            Value::String(text) => {
                if let Some(list) = text
                    .strip_prefix("${")
                    .and_then(|t| t.strip_suffix('}'))
                    .and_then(|name| self.list(name))
                {
                    *value = match &list[..] {
                        [one] => Value::String(one.clone()),
                        _ => Value::from(list),
                    };
                    return Ok(());
                }
                *text = self.fill_text(text)?;
                Ok(())
            }
            Value::Array(items) => {
                items.iter_mut().try_for_each(|v| self.fill(v))?;
                // A list placeholder inside a list (`["${a}", "${b}"]`) joins it.
                *items = std::mem::take(items)
                    .into_iter()
                    .flat_map(|v| match v {
                        Value::Array(inner) => inner,
                        one => vec![one],
                    })
                    .collect();
                Ok(())
            }
            Value::Object(map) => map.values_mut().try_for_each(|v| self.fill(v)),
            _ => Ok(()),
        }
    }

    fn fill_text(&self, text: &str) -> Result<String, PolicyError> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| PolicyError::Placeholder(after.to_owned()))?;
            let name = &after[..end];
            out.push_str(
                self.scalar(name)
                    .ok_or_else(|| PolicyError::Placeholder(name.to_owned()))?,
            );
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    fn render(&self, template: &str) -> Result<Value, PolicyError> {
        let mut doc: Value =
            serde_json::from_str(template).map_err(|e| PolicyError::Template(e.to_string()))?;
        self.fill(&mut doc)?;
        Ok(doc)
    }

    /// The role's trust policy.
    pub fn trust_policy(&self) -> Result<Value, PolicyError> {
        self.render(TRUST_TEMPLATE)
    }

    /// The schedules' role's trust policy.
    pub fn scheduler_trust_policy(&self) -> Result<Value, PolicyError> {
        self.render(SCHEDULER_TRUST_TEMPLATE)
    }

    /// The schedules' role's permissions.
    pub fn scheduler_policy(&self) -> Result<Value, PolicyError> {
        self.render(SCHEDULER_INVOKE_TEMPLATE)
    }

    /// The function's inline permissions policy; refused when it would be over
    /// [`INLINE_POLICY_LIMIT`] (too many or too long table names), before anything is written.
    pub fn function_policy(&self) -> Result<Value, PolicyError> {
        let mut policy = self.render(FUNCTION_TEMPLATE)?;
        let extras = [
            (self.drill, DRILL_TEMPLATE),
            (self.export_bucket.is_some(), EXPORT_TEMPLATE),
            (self.table_tag.is_some(), CONTINUE_TEMPLATE),
        ];
        for (wanted, template) in extras {
            if !wanted {
                continue;
            }
            let more = self.render(template)?;
            if let (Some(all), Some(more)) = (
                policy["Statement"].as_array_mut(),
                more["Statement"].as_array(),
            ) {
                all.extend(more.iter().cloned());
            }
        }
        if let Some((key, value)) = &self.table_tag {
            self.choose_tables_by_tag(&mut policy, key, value);
        }
        let chars = policy.to_string().chars().count();
        if chars > INLINE_POLICY_LIMIT {
            return Err(PolicyError::TooLarge {
                tables: self.tables.len(),
                chars,
            });
        }
        Ok(policy)
    }

    /// Conditions the table statements on the tag and lets the function find the tagged
    /// tables: ListTables (no resource-level permissions), DescribeTable (once, for the ARN
    /// prefix) and ListTagsOfResource on the account's tables.
    fn choose_tables_by_tag(&self, policy: &mut Value, key: &str, value: &str) {
        let Some(statements) = policy["Statement"].as_array_mut() else {
            return;
        };
        for statement in statements.iter_mut() {
            let conditioned = statement["Sid"]
                .as_str()
                .is_some_and(|sid| TAG_CONDITIONED.contains(&sid));
            if conditioned && self.tag_conditions {
                statement["Condition"] = serde_json::json!({
                    "StringEquals": {format!("aws:ResourceTag/{key}"): value}
                });
            }
        }
        statements.push(serde_json::json!({
            "Sid": "ListTablesHasNoResourceLevelPermissions",
            "Effect": "Allow",
            "Action": "dynamodb:ListTables",
            "Resource": "*"
        }));
        statements.push(serde_json::json!({
            "Sid": "FindTheTaggedTables",
            "Effect": "Allow",
            "Action": ["dynamodb:DescribeTable", "dynamodb:ListTagsOfResource"],
            "Resource": self.table_arn("*")
        }));
    }

    /// The run-record bucket's policy.
    pub fn bucket_policy(&self) -> Result<Value, PolicyError> {
        self.render(BUCKET_TEMPLATE)
    }

    /// The alert topic `topic`'s policy (a topic name is letters, digits, `-` and `_`, so it
    /// goes into the JSON as it is).
    pub fn alert_topic_policy(&self, topic: &str) -> Result<Value, PolicyError> {
        self.render(&ALERT_TOPIC_TEMPLATE.replace("${topic}", topic))
    }
}

/// The policy of the vault `bucket` for stacks of `source_account`: the stack `stack`'s role,
/// The roles of `stacks` only (bucket names, account ids and stack names hold no character
/// JSON would escape). Without `tls` (a plain `http://` endpoint, a local emulator) it has no
/// TLS-only statement, which would deny every request there.
pub fn vault_policy(
    partition: &str,
    bucket: &str,
    source_account: &str,
    stacks: &[String],
    tls: bool,
) -> Result<Value, PolicyError> {
    let writer = stacks.first().map_or("", String::as_str);
    let writer = format!("{writer}-role");
    let text = [
        ("${partition}", partition),
        ("${bucket}", bucket),
        ("${source_account}", source_account),
        ("${writer}", writer.as_str()),
        ("${prefix}", EXPORT_PREFIX),
    ]
    .into_iter()
    .fold(VAULT_TEMPLATE.to_owned(), |text, (name, value)| {
        text.replace(name, value)
    });
    if let Some(start) = text.find("${") {
        return Err(PolicyError::Placeholder(
            text[start..].chars().take(20).collect(),
        ));
    }
    let mut policy: Value =
        serde_json::from_str(&text).map_err(|e| PolicyError::Template(e.to_string()))?;
    if let Some(statements) = policy["Statement"].as_array_mut() {
        if !tls {
            statements.retain(|s| s["Sid"] != "DenyRequestsWithoutTls");
        }
        // Every stack's role, when there are several.
        let roles: Vec<String> = stacks
            .iter()
            .map(|s| format!("arn:{partition}:iam::{source_account}:role/{s}-role"))
            .collect();
        // (A pointer, not indexing: `value["key"]` on a mutable Value inserts a null where the
        // key is missing, which gave every statement a `"aws:PrincipalArn": null` condition.)
        for statement in statements.iter_mut() {
            if let Some(condition) = statement.pointer_mut("/Condition/ArnLike/aws:PrincipalArn")
                && condition.is_string()
                && roles.len() > 1
            {
                *condition = Value::from(roles.clone());
            }
        }
    }
    Ok(policy)
}

/// The statement that lets the role use the KMS keys its tables are encrypted with, through
/// DynamoDB only: restoring a drill's backup and exporting a table encrypted with a customer
/// managed key need the key (developer guide, "Requesting a table export in DynamoDB": "If the
/// table ... is encrypted with customer managed keys, that KMS key's policies must give DynamoDB
/// permission to use it. This permission is given through the IAM User/Role that triggers the
/// export job"; the KMS developer guide, "How Amazon DynamoDB uses AWS KMS", lists the actions and
/// the `kms:ViaService` condition).
pub fn kms_through_dynamodb(region: &str, keys: &[String]) -> Value {
    serde_json::json!({
        "Sid": "UseTheTablesKmsKeysThroughDynamoDb",
        "Effect": "Allow",
        "Action": [
            "kms:CreateGrant",
            "kms:Decrypt",
            "kms:DescribeKey",
            "kms:Encrypt",
            "kms:GenerateDataKey*",
            "kms:ReEncrypt*"
        ],
        "Resource": if keys.len() == 1 { Value::from(keys[0].clone()) } else { Value::from(keys.to_vec()) },
        "Condition": {"StringEquals": {"kms:ViaService": format!("dynamodb.{region}.amazonaws.com")}}
    })
}

/// Parses a policy document as IAM returns it (URL-encoded JSON); `None` if it is not JSON.
pub fn decode_document(document: &str) -> Option<Value> {
    let decoded = percent_encoding::percent_decode_str(document)
        .decode_utf8()
        .ok()?;
    serde_json::from_str(&decoded).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars(tables: &[&str]) -> PolicyVars {
        PolicyVars {
            partition: "aws".into(),
            region: "eu-west-1".into(),
            account: "123456789012".into(),
            stack: "dynamodb-backup".into(),
            log_group: "/aws/lambda/dynamodb-backup".into(),
            bucket: "dynamodb-backup-logs".into(),
            tables: tables.iter().map(|t| (*t).to_owned()).collect(),
            drill: false,
            export_bucket: None,
            table_tag: None,
            tag_conditions: true,
        }
    }

    fn statement<'a>(policy: &'a Value, sid: &str) -> &'a Value {
        policy["Statement"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["Sid"] == sid))
            .unwrap_or_else(|| panic!("statement {sid}"))
    }

    /// RestoreTableFromBackup's required resources are `backup*` and `table*` (Service
    /// Authorization Reference for DynamoDB): both the backups and the scratch tables; the
    /// scratch tables are `<table>-drill-` and a 14-character stamp, so that no table of the
    /// user's named like one (`Movies-drill-archive`) is the role's to restore over or delete;
    /// the drill's S3 rights cover its own state only.
    #[test]
    fn drills_restore_into_their_scratch_tables_only() {
        let policy = PolicyVars {
            drill: true,
            ..vars(&["Movies"])
        }
        .function_policy()
        .expect("renders");
        let table = "arn:aws:dynamodb:eu-west-1:123456789012:table/Movies";
        let scratch = format!("{table}-drill-??????????????");
        assert_eq!(
            statement(&policy, "RestoreOwnTablesBackupsIntoDrillScratchTables")["Resource"],
            json!([format!("{table}/backup/*"), scratch])
        );
        assert_eq!(
            statement(&policy, "CheckOwnTablesBackups")["Resource"],
            format!("{table}/backup/*")
        );
        assert_eq!(
            statement(&policy, "RestoreIntoAndCheckDrillScratchTables")["Resource"],
            scratch
        );
        assert_eq!(
            statement(&policy, "KeepDrillStateBesideRunRecords")["Resource"],
            "arn:aws:s3:::dynamodb-backup-logs/runs/*/drills/*"
        );
        let stamp = "-drill-".len() + backup_lambda::drill::ID_LEN;
        assert_eq!(stamp, "-drill-20261129120000".len());

        // Two tables: each list placeholder in a list is joined into one flat list.
        let two = PolicyVars {
            drill: true,
            ..vars(&["Movies", "Music"])
        }
        .function_policy()
        .expect("renders");
        let resources =
            statement(&two, "RestoreOwnTablesBackupsIntoDrillScratchTables")["Resource"]
                .as_array()
                .expect("a flat list")
                .len();
        assert_eq!(resources, 4);
    }

    #[test]
    fn kms_keys_are_usable_through_dynamodb_only() {
        let key = "arn:aws:kms:eu-west-1:123456789012:key/0b1c".to_owned();
        let one = kms_through_dynamodb("eu-west-1", std::slice::from_ref(&key));
        assert_eq!(one["Resource"], key.as_str());
        assert_eq!(
            one["Condition"]["StringEquals"]["kms:ViaService"],
            "dynamodb.eu-west-1.amazonaws.com"
        );
        assert!(
            one["Action"]
                .as_array()
                .unwrap()
                .contains(&json!("kms:CreateGrant"))
        );
        let two = kms_through_dynamodb("eu-west-1", &[key.clone(), format!("{key}2")]);
        assert_eq!(two["Resource"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn function_policy_is_scoped_to_the_stack() {
        let policy = vars(&["Movies"]).function_policy().expect("renders");
        assert_eq!(
            statement(&policy, "BackUpTheTables")["Resource"],
            "arn:aws:dynamodb:eu-west-1:123456789012:table/Movies"
        );
        assert_eq!(
            statement(&policy, "PruneTheTablesBackups")["Resource"],
            "arn:aws:dynamodb:eu-west-1:123456789012:table/Movies/backup/*"
        );
        assert_eq!(
            statement(&policy, "WriteOwnLogs")["Resource"],
            "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/dynamodb-backup:*"
        );
        assert_eq!(
            statement(&policy, "WriteRunRecords")["Resource"],
            "arn:aws:s3:::dynamodb-backup-logs/runs/*"
        );
        assert!(!policy.to_string().contains("${"), "{policy}");
    }

    #[test]
    fn only_list_backups_has_a_wildcard_resource() {
        let policy = vars(&["Movies", "Music"])
            .function_policy()
            .expect("renders");
        for s in policy["Statement"].as_array().expect("statements") {
            let wildcard = s["Resource"] == "*";
            assert_eq!(wildcard, s["Action"] == "dynamodb:ListBackups", "{s}");
        }
        assert_eq!(
            statement(&policy, "BackUpTheTables")["Resource"],
            json!([
                "arn:aws:dynamodb:eu-west-1:123456789012:table/Movies",
                "arn:aws:dynamodb:eu-west-1:123456789012:table/Music"
            ])
        );
    }

    #[test]
    fn exports_add_their_actions_scoped_to_the_tables_and_the_export_prefix() {
        let plain = vars(&["Movies"]).function_policy().expect("renders");
        assert!(!plain.to_string().contains("Export"), "{plain}");
        let policy = PolicyVars {
            export_bucket: Some("vault".into()),
            ..vars(&["Movies"])
        }
        .function_policy()
        .expect("renders");
        assert_eq!(
            statement(&policy, "ExportTheTablesToS3")["Resource"],
            "arn:aws:dynamodb:eu-west-1:123456789012:table/Movies"
        );
        assert_eq!(
            statement(&policy, "CheckTheTablesExports")["Resource"],
            "arn:aws:dynamodb:eu-west-1:123456789012:table/Movies/export/*"
        );
        let write = statement(&policy, "WriteExportsUnderTheirPrefix");
        assert_eq!(write["Resource"], "arn:aws:s3:::vault/exports/*");
        assert_eq!(
            write["Action"],
            json!(["s3:AbortMultipartUpload", "s3:PutObject", "s3:PutObjectAcl"])
        );
        assert_eq!(
            statement(&policy, "ReadExportRecords")["Resource"],
            "arn:aws:s3:::dynamodb-backup-logs/runs/*/exports/*"
        );
        // Without s3:ListBucket, S3 answers a GET of a missing key 403, not 404: the first run
        // of a period could not tell "no export yet" from "denied".
        let list = statement(&policy, "TellMissingExportRecordsFromDenied");
        assert_eq!(list["Action"], "s3:ListBucket");
        assert_eq!(list["Resource"], "arn:aws:s3:::dynamodb-backup-logs");
        assert_eq!(
            list["Condition"]["StringLike"]["s3:prefix"],
            json!(["runs/*", "chains/*"])
        );
        // Incremental chains are recorded outside runs/ (whose records expire first): read and
        // written there, and the recovery window read on the tables.
        let chains = statement(&policy, "KeepTheExportChains");
        assert_eq!(
            chains["Resource"],
            "arn:aws:s3:::dynamodb-backup-logs/chains/*"
        );
        assert_eq!(chains["Action"], json!(["s3:GetObject", "s3:PutObject"]));
        assert_eq!(
            statement(&policy, "ReadTheTablesRecoveryWindow")["Action"],
            "dynamodb:DescribeContinuousBackups"
        );
    }

    #[test]
    fn tables_chosen_by_tag_are_conditioned_on_it_where_iam_can() {
        let policy = PolicyVars {
            table_tag: Some(("backup".into(), "daily".into())),
            export_bucket: Some("vault".into()),
            ..vars(&[])
        }
        .function_policy()
        .expect("renders");
        let all = "arn:aws:dynamodb:eu-west-1:123456789012:table/*";
        for sid in TAG_CONDITIONED {
            let s = statement(&policy, sid);
            assert_eq!(s["Resource"], all, "{sid}");
            assert_eq!(
                s["Condition"],
                json!({"StringEquals": {"aws:ResourceTag/backup": "daily"}}),
                "{sid}"
            );
        }
        assert_eq!(
            statement(&policy, "PruneTheTablesBackups")["Resource"],
            format!("{all}/backup/*")
        );
        assert!(statement(&policy, "PruneTheTablesBackups")["Condition"].is_null());
        assert_eq!(
            statement(&policy, "ListTablesHasNoResourceLevelPermissions")["Resource"],
            "*"
        );
        assert_eq!(statement(&policy, "FindTheTaggedTables")["Resource"], all);
        // A run over many tables continues in a new invocation of this function only, keeping
        // its state beside the run records.
        assert_eq!(
            statement(&policy, "ContinueItsOwnLongRuns")["Resource"],
            "arn:aws:lambda:eu-west-1:123456789012:function:dynamodb-backup"
        );
        assert_eq!(
            statement(&policy, "KeepTheLongRunsState")["Resource"],
            "arn:aws:s3:::dynamodb-backup-logs/continuations/*"
        );
        let named = vars(&["Movies"]).function_policy().expect("renders");
        assert!(
            named["Statement"]
                .as_array()
                .unwrap()
                .iter()
                .all(|s| s["Sid"] != "ContinueItsOwnLongRuns"),
            "named tables never continue: one event, one table"
        );

        // Where ABAC is not enabled, tag conditions match no table: --no-tag-conditions grants
        // the same actions on the account's tables without them.
        let plain = PolicyVars {
            table_tag: Some(("backup".into(), "daily".into())),
            export_bucket: Some("vault".into()),
            tag_conditions: false,
            ..vars(&[])
        }
        .function_policy()
        .expect("renders");
        for sid in TAG_CONDITIONED {
            let s = statement(&plain, sid);
            assert_eq!(s["Resource"], all, "{sid}");
            assert!(s["Condition"].is_null(), "{sid}: {s}");
        }
    }

    #[test]
    fn trust_policy_names_lambda_and_the_account() {
        let trust = vars(&["Movies"]).trust_policy().expect("renders");
        let s = &trust["Statement"][0];
        assert_eq!(s["Principal"]["Service"], "lambda.amazonaws.com");
        assert_eq!(
            s["Condition"]["StringEquals"]["aws:SourceAccount"],
            "123456789012"
        );
    }

    #[test]
    fn bucket_policy_denies_requests_without_tls() {
        let policy = vars(&["Movies"]).bucket_policy().expect("renders");
        let s = statement(&policy, "DenyRequestsWithoutTls");
        assert_eq!(s["Effect"], "Deny");
        assert_eq!(s["Condition"]["Bool"]["aws:SecureTransport"], "false");
        assert_eq!(
            s["Resource"],
            json!([
                "arn:aws:s3:::dynamodb-backup-logs",
                "arn:aws:s3:::dynamodb-backup-logs/*"
            ])
        );
    }

    #[test]
    fn documents_from_iam_are_url_decoded() {
        let encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D";
        assert_eq!(
            decode_document(encoded),
            Some(json!({"Version": "2012-10-17", "Statement": []}))
        );
        assert_eq!(decode_document(r#"{"a": 1}"#), Some(json!({"a": 1})));
        assert_eq!(decode_document("%7Bnot json"), None);
    }

    #[test]
    fn the_policy_fits_iams_limit_up_to_a_boundary_and_is_refused_past_it() {
        let names: Vec<String> = (0..200).map(|i| format!("Table-{i:04}")).collect();
        let policy_for = |n: usize| {
            let tables: Vec<&str> = names[..n].iter().map(String::as_str).collect();
            vars(&tables).function_policy()
        };
        let most = (1..200)
            .take_while(|n| policy_for(*n).is_ok())
            .last()
            .expect("one table fits");
        let size = policy_for(most).expect("fits").to_string().len();
        assert!(size <= INLINE_POLICY_LIMIT, "{size}");
        match policy_for(most + 1) {
            Err(PolicyError::TooLarge { tables, chars }) => {
                assert_eq!(tables, most + 1);
                assert!(chars > INLINE_POLICY_LIMIT);
            }
            other => panic!("{} tables: {other:?}", most + 1),
        }
        assert!(most >= 60, "ten-character names: {most} tables fit");
    }

    #[test]
    fn unknown_placeholders_are_errors() {
        assert_eq!(
            vars(&["Movies"]).render(r#"{"R": "arn:${nope}"}"#),
            Err(PolicyError::Placeholder("nope".into()))
        );
    }
}
