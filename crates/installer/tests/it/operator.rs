//! The operator's policy (`installer policy`) allows every call the commands make: a whole
//! stack's life (plan, up, status, drill, report, restore, logs, down) goes through a proxy in
//! front of the strict layer that records each request's service, action and resource; each is
//! checked against the printed policy (action patterns and resource ARNs, wildcards as IAM
//! matches them). `iam:PassRole` is checked for the role CreateFunction hands to Lambda.

use percent_encoding::percent_decode_str;
use serde_json::Value;
use test_support::proxy::{Asked, Proxy};
use test_support::{moto_endpoint, unique_name};

use crate::support::cli::{built_zip_path, installer_at};

const PLACE: (&str, &str) = ("us-east-1", "123456789012");

/// IAM's wildcard match: `*` any run of characters, `?` one.
fn matches(pattern: &str, text: &str) -> bool {
    fn go(p: &[char], t: &[char]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some('*'), _) => go(&p[1..], t) || (!t.is_empty() && go(p, &t[1..])),
            (Some('?'), Some(_)) => go(&p[1..], &t[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &t[1..]),
            _ => false,
        }
    }
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    go(&p, &t)
}

/// A statement's `Action` or `Resource` as a list.
fn list(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

/// Whether `policy` allows `action` on `resource` (`None`: any resource the policy names).
fn allows(policy: &Value, action: &str, resource: Option<&str>) -> bool {
    policy["Statement"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|s| {
            s["Effect"] == "Allow"
                && list(&s["Action"])
                    .iter()
                    .any(|a| matches(&a.to_ascii_lowercase(), &action.to_ascii_lowercase()))
                && resource.is_none_or(|r| list(&s["Resource"]).iter().any(|p| matches(p, r)))
        })
}

fn decode(text: &str) -> String {
    percent_decode_str(text).decode_utf8_lossy().into_owned()
}

/// A form body's field (the query protocol).
fn field(body: &str, name: &str) -> Option<String> {
    body.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| decode(&v.replace('+', " ")))
    })
}

/// What one request asks of IAM: its action and resource (`None`: not told by the request).
/// `operation` is the proxy's name for it (JSON protocols: their `X-Amz-Target`'s).
fn access(asked: &Asked, operation: &str) -> Option<(String, Option<String>)> {
    let (region, account) = PLACE;
    let (path, query) = asked
        .target
        .split_once('?')
        .unwrap_or((asked.target.as_str(), ""));
    let json: Value = serde_json::from_str(&asked.body).unwrap_or(Value::Null);
    let str_of = |key: &str| json.get(key).and_then(Value::as_str).map(str::to_owned);
    let form_action = || field(&asked.body, "Action");
    Some(match asked.service.as_str() {
        "sts" => (format!("sts:{}", form_action()?), None),
        "iam" => {
            let role =
                field(&asked.body, "RoleName").map(|r| format!("arn:aws:iam::{account}:role/{r}"));
            (format!("iam:{}", form_action()?), role)
        }
        "sns" => {
            let topic = field(&asked.body, "TopicArn")
                .or_else(|| field(&asked.body, "ResourceArn"))
                .or_else(|| {
                    field(&asked.body, "SubscriptionArn")
                        .and_then(|s| s.rsplit_once(':').map(|(t, _)| t.to_owned()))
                })
                .or_else(|| {
                    field(&asked.body, "Name")
                        .map(|n| format!("arn:aws:sns:{region}:{account}:{n}"))
                });
            (format!("sns:{}", form_action()?), topic)
        }
        "monitoring" => {
            let alarm = field(&asked.body, "AlarmName")
                .or_else(|| field(&asked.body, "AlarmNames.member.1"))
                .map(|n| format!("arn:aws:cloudwatch:{region}:{account}:alarm:{n}"))
                .or_else(|| field(&asked.body, "ResourceARN"))
                .or_else(|| Some(format!("arn:aws:cloudwatch:{region}:{account}:alarm:*")));
            (format!("cloudwatch:{}", form_action()?), alarm)
        }
        "dynamodb" | "logs" | "events" => {
            let operation = operation.to_owned();
            let table = |name: String| format!("arn:aws:dynamodb:{region}:{account}:table/{name}");
            let resource = match asked.service.as_str() {
                "dynamodb" => match operation.as_str() {
                    "ListTables" | "ListBackups" => Some("*".to_owned()),
                    "BatchWriteItem" => json["RequestItems"]
                        .as_object()
                        .and_then(|m| m.keys().next().cloned())
                        .map(table),
                    "RestoreTableFromBackup" | "RestoreTableToPointInTime" => {
                        str_of("TargetTableName").map(table)
                    }
                    "ImportTable" => json["TableCreationParameters"]["TableName"]
                        .as_str()
                        .map(|t| table(t.to_owned())),
                    _ => str_of("TableName")
                        .map(table)
                        .or_else(|| str_of("BackupArn"))
                        .or_else(|| str_of("TableArn"))
                        .or_else(|| str_of("ResourceArn"))
                        .or_else(|| str_of("ExportArn"))
                        .or_else(|| str_of("ImportArn")),
                },
                "logs" => match operation.as_str() {
                    "DescribeLogGroups" => {
                        Some(format!("arn:aws:logs:{region}:{account}:log-group:*"))
                    }
                    _ => str_of("logGroupName")
                        .map(|g| format!("arn:aws:logs:{region}:{account}:log-group:{g}"))
                        .or_else(|| str_of("resourceArn")),
                },
                _ => match operation.as_str() {
                    "ListRules" => Some(format!("arn:aws:events:{region}:{account}:rule/*")),
                    _ => str_of("Name")
                        .or_else(|| str_of("Rule"))
                        .map(|r| format!("arn:aws:events:{region}:{account}:rule/{r}"))
                        .or_else(|| str_of("ResourceARN")),
                },
            };
            let prefix = asked.service.as_str();
            (format!("{prefix}:{operation}"), resource)
        }
        "lambda" => lambda(&asked.method, path, &json)?,
        "s3" => s3(&asked.method, path, query)?,
        "scheduler" => scheduler(&asked.method, path, query, &json)?,
        other => panic!("a call to a service the test does not map: {other} {asked:?}"),
    })
}

/// EventBridge Scheduler's REST paths, as its API reference lists them; a schedule's group is in
/// its query (GET, DELETE) or body (POST, PUT).
fn scheduler(
    method: &str,
    path: &str,
    query: &str,
    json: &Value,
) -> Option<(String, Option<String>)> {
    let (region, account) = PLACE;
    let parts: Vec<String> = path
        .trim_start_matches('/')
        .splitn(2, '/')
        .map(decode)
        .collect();
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    let group_in_query = query
        .split('&')
        .find_map(|p| p.strip_prefix("groupName="))
        .map(decode);
    let group = json["GroupName"]
        .as_str()
        .map(str::to_owned)
        .or(group_in_query)
        .unwrap_or_else(|| "default".to_owned());
    let group_arn = |g: &str| {
        Some(format!(
            "arn:aws:scheduler:{region}:{account}:schedule-group/{g}"
        ))
    };
    let schedule_arn = |n: &str| {
        Some(format!(
            "arn:aws:scheduler:{region}:{account}:schedule/{group}/{n}"
        ))
    };
    let (action, resource) = match (method, parts.as_slice()) {
        ("GET", ["schedule-groups", g]) => ("GetScheduleGroup", group_arn(g)),
        ("POST", ["schedule-groups", g]) => ("CreateScheduleGroup", group_arn(g)),
        ("DELETE", ["schedule-groups", g]) => ("DeleteScheduleGroup", group_arn(g)),
        ("GET", ["schedules"]) => ("ListSchedules", Some("*".to_owned())),
        ("GET", ["schedules", n]) => ("GetSchedule", schedule_arn(n)),
        ("POST", ["schedules", n]) => ("CreateSchedule", schedule_arn(n)),
        ("PUT", ["schedules", n]) => ("UpdateSchedule", schedule_arn(n)),
        ("DELETE", ["schedules", n]) => ("DeleteSchedule", schedule_arn(n)),
        ("GET", ["tags", arn]) => ("ListTagsForResource", Some((*arn).to_owned())),
        _ => panic!("a Scheduler request the test does not map: {method} {path}"),
    };
    Some((format!("scheduler:{action}"), resource))
}

/// Lambda's REST paths, as its API reference lists them.
fn lambda(method: &str, path: &str, json: &Value) -> Option<(String, Option<String>)> {
    let (region, account) = PLACE;
    let parts: Vec<String> = path
        .trim_start_matches('/')
        .split('/')
        .map(decode)
        .collect();
    let function = |name: &str| {
        let name = name.rsplit(':').next().unwrap_or(name);
        Some(format!("arn:aws:lambda:{region}:{account}:function:{name}"))
    };
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    let (action, resource) = match (method, parts.as_slice()) {
        ("GET", [_, "account-settings"]) => ("GetAccountSettings", Some("*".to_owned())),
        ("POST", [_, "functions"]) => (
            "CreateFunction",
            function(json["FunctionName"].as_str().unwrap_or_default()),
        ),
        ("GET", [_, "functions", f]) => ("GetFunction", function(f)),
        ("DELETE", [_, "functions", f]) => ("DeleteFunction", function(f)),
        ("GET", [_, "functions", f, "configuration"]) => ("GetFunctionConfiguration", function(f)),
        ("PUT", [_, "functions", f, "configuration"]) => {
            ("UpdateFunctionConfiguration", function(f))
        }
        ("PUT", [_, "functions", f, "code"]) => ("UpdateFunctionCode", function(f)),
        ("GET", [_, "functions", f, "policy"]) => ("GetPolicy", function(f)),
        ("POST", [_, "functions", f, "policy"]) => ("AddPermission", function(f)),
        ("DELETE", [_, "functions", f, "policy", _]) => ("RemovePermission", function(f)),
        ("POST", [_, "functions", f, "invocations"]) => ("InvokeFunction", function(f)),
        ("PUT", [_, "functions", f, "concurrency"]) => ("PutFunctionConcurrency", function(f)),
        ("DELETE", [_, "functions", f, "concurrency"]) => {
            ("DeleteFunctionConcurrency", function(f))
        }
        ("GET", [_, "functions", f, "concurrency"]) => ("GetFunctionConcurrency", function(f)),
        ("GET", [_, "functions", f, "event-invoke-config"]) => {
            ("GetFunctionEventInvokeConfig", function(f))
        }
        ("PUT", [_, "functions", f, "event-invoke-config"]) => {
            ("PutFunctionEventInvokeConfig", function(f))
        }
        ("POST", [_, "functions", f, "event-invoke-config"]) => {
            ("UpdateFunctionEventInvokeConfig", function(f))
        }
        ("GET", [_, "tags", arn]) => ("ListTags", Some((*arn).to_owned())),
        ("POST", [_, "tags", arn]) => ("TagResource", Some((*arn).to_owned())),
        _ => panic!("a Lambda request the test does not map: {method} {path}"),
    };
    Some((format!("lambda:{action}"), resource))
}

/// S3's REST requests (path style), by method and sub-resource, as IAM names their actions.
fn s3(method: &str, path: &str, query: &str) -> Option<(String, Option<String>)> {
    let trimmed = path.trim_start_matches('/');
    let (bucket, key) = trimmed.split_once('/').unwrap_or((trimmed, ""));
    let keys: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split('=').next().unwrap_or(p))
        .collect();
    let has = |k: &str| keys.contains(&k);
    let bucket_arn = format!("arn:aws:s3:::{bucket}");
    let object_arn = format!("arn:aws:s3:::{bucket}/{}", decode(key));
    let get_put = |get: &'static str, put: &'static str| if method == "GET" { get } else { put };
    let (action, resource) = if key.is_empty() {
        let action = if has("policy") {
            get_put("GetBucketPolicy", "PutBucketPolicy")
        } else if has("encryption") {
            get_put("GetEncryptionConfiguration", "PutEncryptionConfiguration")
        } else if has("ownershipControls") {
            get_put("GetBucketOwnershipControls", "PutBucketOwnershipControls")
        } else if has("publicAccessBlock") {
            get_put("GetBucketPublicAccessBlock", "PutBucketPublicAccessBlock")
        } else if has("lifecycle") {
            get_put("GetLifecycleConfiguration", "PutLifecycleConfiguration")
        } else if has("tagging") {
            get_put("GetBucketTagging", "PutBucketTagging")
        } else if has("versions") {
            "ListBucketVersions"
        } else if has("location") {
            "GetBucketLocation"
        } else if has("delete") {
            return Some((
                "s3:DeleteObject".to_owned(),
                Some(format!("{bucket_arn}/*")),
            ));
        } else {
            match method {
                "PUT" => "CreateBucket",
                "DELETE" => "DeleteBucket",
                _ => "ListBucket",
            }
        };
        (action, bucket_arn)
    } else {
        let action = match method {
            "GET" | "HEAD" => "GetObject",
            "PUT" => "PutObject",
            "DELETE" => "DeleteObject",
            "POST" if has("restore") => "RestoreObject",
            _ => panic!("an S3 object request the test does not map: {method} {path}?{query}"),
        };
        (action, object_arn)
    };
    Some((format!("s3:{action}"), Some(resource)))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_operator_policy_allows_every_call_of_a_stacks_whole_life() {
    let proxy = Proxy::start(&moto_endpoint(), None);
    let (stack, table) = (unique_name("opr"), unique_name("Movies"));
    let zip = built_zip_path().display().to_string();
    let settings = [
        "--table",
        table.as_str(),
        "--alert-email",
        "ops@example.com",
        "--drill-every",
        "7d",
        "--export",
        "daily",
    ];
    let run = |endpoint: &str, args: &[&str]| {
        let out = installer_at(endpoint)
            .args(args)
            .output()
            .expect("installer");
        assert!(
            out.status.success() || out.status.code() == Some(3),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    };
    let by_name = ["--stack", stack.as_str()];
    // Not recorded (another proxy's strict layer, not this one): the policy command, and the
    // function's run, which is its role's, not the operator's.
    let unrecorded = test_support::aws_endpoint();
    let policy_out = run(
        &unrecorded,
        &[&["policy", "--for", "all"][..], &by_name, &settings].concat(),
    );
    let policy: Value = serde_json::from_slice(&policy_out.stdout).expect("a policy document");

    let at = proxy.endpoint().to_owned();
    run(
        &at,
        &[&["plan", "--zip", &zip][..], &by_name, &settings].concat(),
    );
    run(
        &at,
        &[&["up", "--zip", &zip][..], &by_name, &settings].concat(),
    );
    // Moved to EventBridge Scheduler: its group, schedules and role are the operator's to make.
    run(
        &at,
        &[
            &["up", "--zip", &zip, "--schedule-timezone", "Europe/Berlin"][..],
            &by_name,
            &settings,
        ]
        .concat(),
    );
    run(&at, &[&["status"][..], &by_name].concat());
    run(&unrecorded, &[&["invoke"][..], &by_name].concat());
    let strict = aws_sdk_dynamodb::Client::new(&test_support::strict_config().await);
    let backups = strict
        .list_backups()
        .table_name(&table)
        .send()
        .await
        .unwrap();
    let arn = backups.backup_summaries()[0]
        .backup_arn()
        .unwrap()
        .to_owned();
    test_support::until_backup_available(&strict, &arn).await;
    run(&at, &[&["drill"][..], &by_name].concat());
    run(&at, &[&["report", "--since", "1h"][..], &by_name].concat());
    let restored = format!("{table}-r");
    run(
        &at,
        &[
            "restore", "--stack", &stack, "--table", &table, "--to", &restored,
        ],
    );
    // The table swapped for its newest backup under its own name (its journal in the bucket).
    run(
        &at,
        &[
            "restore",
            "--stack",
            &stack,
            "--table",
            &table,
            "--in-place",
            "--yes",
        ],
    );
    run(&at, &[&["logs", "--since", "5m"][..], &by_name].concat());
    run(
        &at,
        &[&["down", "--yes", "--delete-data"][..], &by_name].concat(),
    );

    let mut checked = std::collections::BTreeSet::new();
    let mut denied = Vec::new();
    for call in proxy.calls() {
        let Some((action, resource)) = access(&call.request, &call.call.operation) else {
            continue;
        };
        if !allows(&policy, &action, resource.as_deref()) {
            denied.push(format!("{action} on {resource:?}"));
        }
        if action == "scheduler:CreateSchedule" || action == "scheduler:UpdateSchedule" {
            let body: Value = serde_json::from_str(&call.request.body).unwrap_or(Value::Null);
            if let Some(role) = body["Target"]["RoleArn"].as_str()
                && !allows(&policy, "iam:PassRole", Some(role))
            {
                denied.push(format!("iam:PassRole on {role}"));
            }
        }
        if action == "lambda:CreateFunction" {
            let body: Value = serde_json::from_str(&call.request.body).unwrap_or(Value::Null);
            if let Some(role) = body["Role"].as_str()
                && !allows(&policy, "iam:PassRole", Some(role))
            {
                denied.push(format!("iam:PassRole on {role}"));
            }
        }
        checked.insert(action);
    }
    denied.sort();
    denied.dedup();
    eprintln!("{} distinct actions checked: {checked:?}", checked.len());
    assert!(denied.is_empty(), "the operator policy lacks: {denied:#?}");
    assert!(checked.len() > 60, "{checked:?}");
    aws_sdk_dynamodb::Client::new(&test_support::moto_config().await)
        .delete_table()
        .table_name(&restored)
        .send()
        .await
        .unwrap();
}

#[test]
fn iam_wildcards_match_as_iam_does() {
    assert!(matches(
        "arn:aws:s3:::b/*",
        "arn:aws:s3:::b/settings/s.json"
    ));
    assert!(matches("dynamodb:describe*", "dynamodb:describetable"));
    assert!(!matches("arn:aws:s3:::b", "arn:aws:s3:::b/x"));
    assert!(matches(
        "arn:aws:events:r:a:rule/s-schedule*",
        "arn:aws:events:r:a:rule/s-schedule-2"
    ));
    assert!(!matches("a?c", "ac"));
}
