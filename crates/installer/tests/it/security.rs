//! Least privilege and secrecy: the rendered IAM documents pass `parliament` (PyPI, pinned in
//! the Makefile) with no finding, grant `Resource: "*"` only to the one action that has no
//! resource-level permissions, and no credential the installer holds ever reaches its output, even
//! with `-v`.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::support::cli::built_zip_path;
use installer::deploy::policy::PolicyVars;
use serde_json::Value;
use test_support::{aws_endpoint, unique_name};

/// Actions that AWS documents as having no resource-level permissions, so `*` is their only
/// possible resource.
const ONLY_STAR: [&str; 2] = ["dynamodb:ListBackups", "dynamodb:ListTables"];

fn vars(partition: &str, region: &str, tables: &[&str]) -> PolicyVars {
    PolicyVars {
        partition: partition.to_owned(),
        region: region.to_owned(),
        account: "123456789012".to_owned(),
        stack: "dynamodb-backup".to_owned(),
        log_group: "/aws/lambda/dynamodb-backup".to_owned(),
        bucket: "dynamodb-backup-logs-123456789012-eu-west-1".to_owned(),
        tables: tables.iter().map(|t| (*t).to_owned()).collect(),
        drill: false,
        export_bucket: None,
        table_tag: None,
        tag_conditions: true,
    }
}

/// Every document the installer renders, for a few shapes of stack.
fn rendered() -> Vec<(String, Value)> {
    let mut docs = Vec::new();
    let with_drills = PolicyVars {
        drill: true,
        ..vars("aws", "eu-west-1", &["Movies", "Orders"])
    };
    let with_exports = PolicyVars {
        drill: true,
        export_bucket: Some("vault-elsewhere".to_owned()),
        ..vars("aws", "eu-west-1", &["Movies", "Orders"])
    };
    let by_tag = PolicyVars {
        drill: true,
        export_bucket: Some("vault-elsewhere".to_owned()),
        table_tag: Some(("backup".to_owned(), "daily".to_owned())),
        ..vars("aws", "eu-west-1", &[])
    };
    let by_tag_unconditioned = PolicyVars {
        drill: true,
        table_tag: Some(("backup".to_owned(), "daily".to_owned())),
        tag_conditions: false,
        ..vars("aws", "eu-west-1", &[])
    };
    for v in [
        by_tag,
        by_tag_unconditioned,
        vars("aws", "us-east-1", &["Movies"]),
        vars("aws", "eu-west-1", &["Movies", "Orders", "audit.log-2026"]),
        vars("aws-cn", "cn-north-1", &["Movies"]),
        with_drills,
        with_exports,
    ] {
        let label = format!(
            "{} {} {:?}{}{}{}",
            v.partition,
            v.region,
            v.tables,
            if v.drill { " with drills" } else { "" },
            if v.export_bucket.is_some() {
                " with exports"
            } else {
                ""
            },
            if v.table_tag.is_some() { " by tag" } else { "" }
        );
        docs.push((
            format!("trust, {label}"),
            v.trust_policy().expect("renders"),
        ));
        docs.push((
            format!("function, {label}"),
            v.function_policy().expect("renders"),
        ));
        docs.push((
            format!("bucket, {label}"),
            v.bucket_policy().expect("renders"),
        ));
        docs.push((
            format!("trust of the schedules' role, {label}"),
            v.scheduler_trust_policy().expect("renders"),
        ));
        docs.push((
            format!("scheduler, {label}"),
            v.scheduler_policy().expect("renders"),
        ));
    }
    docs
}

fn parliament(doc: &Value) -> (bool, String) {
    let mut child = Command::new("parliament")
        .args([
            "--json",
            "--include-community-auditors",
            "--minimum_severity",
            "INFO",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("parliament is on PATH: run the tests with `make test` (it is in .venv)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(doc.to_string().as_bytes())
        .expect("write policy");
    let out = child.wait_with_output().expect("parliament runs");
    let findings = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), findings)
}

/// The one finding accepted, for the one action that causes it: exports need
/// `s3:PutObjectAcl` on the export prefix (DynamoDB developer guide, "Requesting a table
/// export": "s3:AbortMultipartUpload, s3:PutObject, and s3:PutObjectAcl"), which parliament
/// files under permissions management; it is scoped to `exports/*` of the export bucket.
fn accepted(finding: &str) -> bool {
    serde_json::from_str::<Value>(finding).is_ok_and(|f| {
        f["issue"] == "PERMISSIONS_MANAGEMENT_ACTIONS"
            && f["location"]["actions"] == serde_json::json!(["s3:putobjectacl"])
    })
}

#[test]
fn parliament_finds_nothing_in_any_rendered_policy() {
    // parliament lints permission policies; a role's trust policy has no Resource by definition,
    // so it is checked by `the_trust_policies_let_only_their_service_in_this_account_assume_the_roles`.
    for (label, doc) in rendered()
        .into_iter()
        .filter(|(l, _)| !l.starts_with("trust"))
    {
        let (ok, findings) = parliament(&doc);
        let unexpected: Vec<&str> = findings
            .lines()
            .filter(|line| !line.trim().is_empty() && !accepted(line))
            .collect();
        // parliament exits non-zero on any finding, an accepted one too.
        let clean = unexpected.is_empty() && (ok || findings.lines().any(accepted));
        assert!(clean, "{label}: {findings}\n{doc}");
    }
}

#[test]
fn the_trust_policies_let_only_their_service_in_this_account_assume_the_roles() {
    for (label, doc) in rendered()
        .into_iter()
        .filter(|(l, _)| l.starts_with("trust"))
    {
        let statements = doc["Statement"].as_array().expect("statements");
        assert_eq!(statements.len(), 1, "{label}: {doc}");
        let statement = &statements[0];
        assert_eq!(statement["Effect"], "Allow", "{label}");
        assert_eq!(statement["Action"], "sts:AssumeRole", "{label}");
        let service = if label.starts_with("trust of the schedules' role") {
            // Scheduler's user guide, "Confused deputy prevention": scoped to the group.
            let source = statement["Condition"]["StringEquals"]["aws:SourceArn"]
                .as_str()
                .unwrap_or_default();
            assert!(
                source.starts_with("arn:aws")
                    && source.ends_with(":123456789012:schedule-group/dynamodb-backup"),
                "{label}: only the stack's own schedules, got {source}"
            );
            "scheduler.amazonaws.com"
        } else {
            "lambda.amazonaws.com"
        };
        assert_eq!(
            statement["Principal"],
            serde_json::json!({ "Service": service }),
            "{label}"
        );
        assert_eq!(
            statement["Condition"]["StringEquals"]["aws:SourceAccount"], "123456789012",
            "{label}: only the stack's own account"
        );
    }
}

#[test]
fn parliament_does_report_a_policy_that_is_too_broad() {
    // The lint above is only worth something if parliament flags what it should here.
    let broad = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "dynamodb:DeleteBackup", "Resource": "*"}]
    });
    let (ok, findings) = parliament(&broad);
    assert!(!ok, "{findings}");
    assert!(findings.contains("RESOURCE_STAR"), "{findings}");
}

#[test]
fn only_actions_without_resource_level_permissions_get_resource_star() {
    for (label, doc) in rendered() {
        for statement in doc["Statement"].as_array().expect("statements") {
            let resources: Vec<&Value> = match &statement["Resource"] {
                Value::Array(list) => list.iter().collect(),
                Value::Null => continue, // the trust policy names a principal, not a resource
                one => vec![one],
            };
            if !resources.iter().any(|r| r.as_str() == Some("*")) {
                continue;
            }
            let actions: Vec<&str> = match &statement["Action"] {
                Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
                one => one.as_str().into_iter().collect(),
            };
            assert_eq!(statement["Effect"], "Allow", "{label}: {statement}");
            assert!(
                actions.iter().all(|a| ONLY_STAR.contains(a)),
                "{label}: {statement}"
            );
        }
    }
}

#[test]
fn no_credential_is_ever_printed_even_verbose() {
    // Distinctive values, so any echo of them is found.
    let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETSCAN1";
    let token = "FwoGZXIvYXdzEXAMPLESESSIONTOKENSECRETSCAN2";
    let key_id = "AKIASECRETSCAN000001";
    let stack = unique_name("sec");
    let table = unique_name("Movies");
    let zip = built_zip_path().display().to_string();
    let stack_flags = ["--stack", &stack, "--table", &table];
    let commands: Vec<Vec<&str>> = vec![
        [
            &["-v", "up", "--create-table", "--zip", zip.as_str()][..],
            &stack_flags,
        ]
        .concat(),
        vec!["-v", "status", "--stack", &stack],
        vec!["-v", "invoke", "--stack", &stack],
        vec!["-v", "logs", "--stack", &stack],
        vec!["-v", "down", "--yes", "--delete-data", "--stack", &stack],
    ];
    for args in commands {
        let out = Command::new(env!("CARGO_BIN_EXE_installer"))
            .args(&args)
            .env("AWS_ENDPOINT_URL", aws_endpoint())
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", key_id)
            .env("AWS_SECRET_ACCESS_KEY", secret)
            .env("AWS_SESSION_TOKEN", token)
            .env_remove("AWS_PROFILE")
            .stdin(Stdio::null())
            .output()
            .expect("run installer");
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{args:?}: {all}");
        assert!(!all.is_empty(), "{args:?} printed nothing to scan");
        for (what, value) in [
            ("secret key", secret),
            ("session token", token),
            ("access key id", key_id),
            ("a request signature", "Signature="),
            ("an Authorization header", "AWS4-HMAC-SHA256 Credential"),
        ] {
            assert!(!all.contains(value), "{args:?} printed {what}:\n{all}");
        }
    }
}

/// The policy docs/exports.md gives for an export bucket in another account: it lets the stack's role write
/// exactly what the role's own policy writes with, and lets the source account read the exports
/// back (ImportTable reads them with the caller's `s3:GetObject` and `s3:ListBucket`), which an
/// earlier version forgot, so a restore from that bucket would have been denied.
#[test]
fn the_documented_cross_account_bucket_policy_lets_the_exports_be_written_and_read_back() {
    let readme = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/exports.md"
    ))
    .expect("the exports guide");
    let after = readme
        .split_once("A bucket in another account needs a policy")
        .expect("the cross-account section")
        .1;
    let block = after
        .split_once("```json")
        .and_then(|(_, rest)| rest.split_once("```"))
        .expect("its JSON block")
        .0;
    let policy: Value = serde_json::from_str(block).expect("the guide's policy is JSON");
    let granted = |action: &str, resource: &str| {
        policy["Statement"].as_array().unwrap().iter().any(|s| {
            let actions = match &s["Action"] {
                Value::String(a) => vec![a.as_str()],
                Value::Array(all) => all.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            s["Effect"] == "Allow" && actions.contains(&action) && s["Resource"] == resource
        })
    };
    let objects = "arn:aws:s3:::<bucket>/exports/*";
    let role = vars("aws", "eu-west-1", &["Movies"]);
    let role = PolicyVars {
        export_bucket: Some("<bucket>".to_owned()),
        ..role
    }
    .function_policy()
    .expect("renders");
    let writes = role["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Sid"] == "WriteExportsUnderTheirPrefix")
        .expect("the role writes exports")["Action"]
        .as_array()
        .unwrap()
        .clone();
    for action in writes.iter().filter_map(Value::as_str) {
        assert!(granted(action, objects), "{action} for the role: {policy}");
    }
    assert!(granted("s3:GetObject", objects), "reading back: {policy}");
    assert!(
        granted("s3:ListBucket", "arn:aws:s3:::<bucket>"),
        "listing: {policy}"
    );
}

/// The operator's policy (`installer policy`), for each purpose and for a stack with exports
/// to another bucket and alerts, passes parliament; what it finds are the IAM write actions an
/// operator who deploys a role needs (listed and accepted one by one).
#[test]
fn parliament_finds_nothing_unexpected_in_the_operator_policy() {
    // Deploying a function with a role is managing permissions and, to parliament, a way to
    // escalate: that is what the operator's policy is for, scoped to the stack's one role,
    // function and bucket. Each accepted finding is named here; any other fails.
    let operator_accepted = |finding: &str| {
        serde_json::from_str::<Value>(finding).is_ok_and(|f| {
            let escalation = f["issue"] == "PRIVILEGE_ESCALATION"
                && [
                    "PassExistingRoleToNewLambdaThenInvoke",
                    "EditExistingLambdaFunctionWithRole",
                ]
                .contains(&f["location"]["type"].as_str().unwrap_or_default());
            let bucket_policy = f["issue"] == "RESOURCE_POLICY_PRIVILEGE_ESCALATION"
                && f["detail"]
                    .as_str()
                    .is_some_and(|d| d.contains("arn:aws:s3:::prod-logs-123456789012-us-east-1 "));
            escalation
                || bucket_policy
                || f["issue"] == "PERMISSIONS_MANAGEMENT_ACTIONS"
                    && f["location"]["actions"].as_array().is_some_and(|actions| {
                        actions.iter().filter_map(Value::as_str).all(|a| {
                            [
                                "iam:createrole",
                                "iam:deleterole",
                                "iam:putrolepolicy",
                                "iam:deleterolepolicy",
                                "iam:detachrolepolicy",
                                "iam:updateassumerolepolicy",
                                "iam:passrole",
                                "iam:tagrole",
                                "lambda:addpermission",
                                "lambda:removepermission",
                                "s3:putbucketpolicy",
                                // DynamoDB writes a rollback's exports as the caller, and AWS
                                // lists it for exports; only under the bucket's rollbacks/.
                                "s3:putobjectacl",
                                "sns:settopicattributes",
                                "sns:createtopic",
                                "sns:deletetopic",
                                "s3:putbucketpublicaccessblock",
                                "s3:putbucketownershipcontrols",
                            ]
                            .contains(&a)
                        })
                    })
        })
    };
    for purpose in ["up", "down", "restore", "report", "all"] {
        let out = crate::support::cli::installer(&[
            "policy",
            "--stack",
            "prod",
            "--for",
            purpose,
            "--table",
            "Orders",
            "--alert-email",
            "ops@example.com",
            "--export",
            "daily",
            "--export-bucket",
            "vault-elsewhere",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let doc: Value = serde_json::from_slice(&out.stdout).expect("a policy");
        let (_, findings) = parliament(&doc);
        let unexpected: Vec<&str> = findings
            .lines()
            .filter(|line| !line.trim().is_empty() && !operator_accepted(line) && !accepted(line))
            .collect();
        assert!(unexpected.is_empty(), "{purpose}: {findings}\n{doc:#}");
    }
}
