//! A deployed stack remembers its settings, through the strict layer: flags given once to `up`
//! are recorded with the stack (`settings/<stack>.json` in its bucket), so `plan` with no flags
//! is "no change", `status` shows no drift, and invoke, report, drill and down need only
//! `--stack`; a later `up --keep 5` changes the retention and nothing else, and says so as
//! `keep: 7 → 5`; a stack deployed before settings were recorded is read back from its
//! resources, and its next `up` records them; a document from a newer installer is refused.

use serde_json::Value;

use crate::support::aws::{clients, leftovers};
use crate::support::cli::{built_zip_path, installer, installer_ok, remove_all};
use crate::support::stack::Stack;

/// `args`, with the zip `make` built for `up` and `plan` (which otherwise deploy the code this
/// installer carries, or build it in a checkout).
fn with_zip<'a>(args: &[&'a str], zip: &'a str) -> Vec<&'a str> {
    let mut all = args.to_vec();
    if matches!(args.first(), Some(&"up" | &"plan")) {
        all.extend(["--zip", zip]);
    }
    all
}

/// `installer --output json <args>` (with the built zip for `up` and `plan`): its exit status
/// and document.
fn json(args: &[&str]) -> (Option<i32>, Value, String) {
    let zip = built_zip_path().display().to_string();
    let out = installer(&[&["--output", "json"][..], &with_zip(args, &zip)].concat());
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let document = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {stderr}"));
    crate::support::schema::assert_valid(&document);
    (out.status.code(), document, stderr)
}

/// The recorded settings document of `stack`, if any.
async fn recorded(stack: &str) -> Option<Value> {
    let aws = clients().await;
    let object = aws
        .s3
        .get_object()
        .bucket(format!("{stack}-logs-123456789012-us-east-1"))
        .key(format!("settings/{stack}.json"))
        .send()
        .await
        .ok()?;
    let bytes = object.body.collect().await.ok()?.into_bytes();
    serde_json::from_slice(&bytes).ok()
}

/// The plan's resources other than unchanged ones, as `kind name action`.
fn changed(plan: &Value) -> Vec<String> {
    plan["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .filter(|r| r["action"] != "none")
        .map(|r| format!("{} {} {}", r["kind"], r["name"], r["action"]).replace('"', ""))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn flags_given_once_are_the_stacks_and_every_command_needs_only_its_name() {
    let aws = clients().await;
    let s = Stack::new("set").with(&[
        "--keep",
        "7",
        "--schedule",
        "rate(12 hours)",
        "--memory",
        "256",
        "--log-retention-days",
        "30",
        "--max-age-days",
        "30",
    ]);
    s.ok("up", &[]);
    let document = recorded(&s.name).await.expect("up recorded the settings");
    assert_eq!(document["settings"]["keep"], 7, "{document}");
    assert_eq!(document["settings"]["schedule"], "rate(12 hours)");
    assert_eq!(
        document["settings"]["table"],
        serde_json::json!([s.table.as_str()])
    );

    // `plan` and `status` by name: nothing to change, nothing drifted.
    let name = ["--stack", s.name.as_str()];
    let (code, plan, stderr) = json(&[&["plan", "--detailed-exitcode"][..], &name].concat());
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(plan["changes"], false, "{plan}");
    assert_eq!(plan["settings"], serde_json::json!([]), "{plan}");
    let (code, status, stderr) = json(&[&["status"][..], &name].concat());
    assert_eq!(code, Some(0), "no drift: {stderr}");
    assert!(changed(&status).is_empty(), "{status}");

    // invoke, report and drill by name, with the deployed settings.
    let (code, invoked, stderr) = json(&[&["invoke"][..], &name].concat());
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(invoked["result"]["table"], s.table.as_str(), "{invoked}");
    let strict = aws_sdk_dynamodb::Client::new(&test_support::strict_config().await);
    let backup = invoked["result"]["backup_created"]["arn"].as_str().unwrap();
    test_support::until_backup_available(&strict, backup).await;
    let (code, report, stderr) = json(&[&["report", "--since", "1h"][..], &name].concat());
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        report["rpo_seconds"], 86_400,
        "twice the deployed 12 hours: {report}"
    );
    let (code, drill, stderr) = json(&[&["drill"][..], &name].concat());
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(drill["verdict"], "passed", "{drill}");

    // One setting changed: the plan says so first, then the one resource it touches.
    let (code, plan, stderr) = json(&[&["plan", "--keep", "5"][..], &name].concat());
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        plan["settings"],
        serde_json::json!([{"setting": "keep", "from": 7, "to": 5}]),
        "{plan}"
    );
    assert_eq!(
        changed(&plan),
        [
            format!("function {} update", s.name),
            format!("settings {} update", s.name)
        ]
    );
    let zip = built_zip_path().display().to_string();
    let text = installer_ok(&with_zip(
        &[&["plan", "--keep", "5"][..], &name].concat(),
        &zip,
    ));
    assert!(text.contains("keep: 7 → 5"), "{text}");
    installer_ok(&with_zip(
        &[&["up", "--keep", "5"][..], &name].concat(),
        &zip,
    ));
    let function = aws
        .lambda
        .get_function_configuration()
        .function_name(&s.name)
        .send()
        .await
        .unwrap();
    let env = function.environment().and_then(|e| e.variables()).unwrap();
    assert_eq!(env["MAX_BACKUPS"], "5");
    assert_eq!(env["MAX_AGE_DAYS"], "30", "the rest stands");
    assert_eq!(function.memory_size(), Some(256));
    let rule = aws
        .events
        .describe_rule()
        .name(format!("{}-schedule", s.name))
        .send()
        .await
        .unwrap();
    assert_eq!(rule.schedule_expression(), Some("rate(12 hours)"));

    // Turning something off is explicit; --reset starts from the defaults on purpose.
    let (_, plan, _) = json(&[&["plan", "--max-age-days", "off"][..], &name].concat());
    assert_eq!(
        plan["settings"],
        serde_json::json!([{"setting": "max-age-days", "from": 30, "to": "off"}])
    );
    let (_, plan, _) = json(&[&["plan", "--reset", "--table", &s.table][..], &name].concat());
    let reset: Vec<&str> = plan["settings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["setting"].as_str())
        .collect();
    assert_eq!(
        reset,
        [
            "schedule",
            "keep",
            "max-age-days",
            "log-retention-days",
            "memory"
        ]
    );

    // A flag only `up` means is refused by the others.
    let out = installer(&["status", "--stack", &s.name, "--memory", "512"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unexpected argument '--memory'"));

    installer_ok(&remove_all(&s.name));
    assert!(
        recorded(&s.name).await.is_none(),
        "down removed the settings"
    );
    assert_eq!(leftovers(&aws, &s.name, &s.table).await, Vec::<&str>::new());
}

/// A stack deployed by a release that recorded no settings: read back from what exists (the
/// rules' targets, the function's environment and configuration, the log group), operated by
/// name, and recorded by its next `up`. A document written by a newer installer is not guessed
/// at: `up` refuses, the others read the resources.
#[tokio::test(flavor = "multi_thread")]
async fn a_stack_with_no_recorded_settings_is_read_from_its_resources() {
    let aws = clients().await;
    let s = Stack::new("leg").with(&["--keep", "4", "--schedule", "rate(6 hours)"]);
    s.ok("up", &[]);
    let bucket = format!("{}-logs-123456789012-us-east-1", s.name);
    let key = format!("settings/{}.json", s.name);
    aws.s3
        .delete_object()
        .bucket(&bucket)
        .key(&key)
        .send()
        .await
        .unwrap();

    let name = ["--stack", s.name.as_str()];
    let (code, status, stderr) = json(&[&["status"][..], &name].concat());
    assert_eq!(code, Some(0), "no drift: {stderr}");
    assert!(changed(&status).is_empty(), "{status}");
    assert!(stderr.contains("no settings document"), "{stderr}");
    let (code, invoked, stderr) = json(&[&["invoke"][..], &name].concat());
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(invoked["result"]["table"], s.table.as_str());

    // The only change `up` would make is recording what is there.
    let (_, plan, _) = json(&[&["plan"][..], &name].concat());
    assert_eq!(plan["settings"], serde_json::json!([]), "{plan}");
    assert_eq!(changed(&plan), [format!("settings {} create", s.name)]);
    let zip = built_zip_path().display().to_string();
    installer_ok(&with_zip(&[&["up"][..], &name].concat(), &zip));
    let document = recorded(&s.name).await.expect("recorded now");
    assert_eq!(document["settings"]["keep"], 4);
    assert_eq!(document["settings"]["schedule"], "rate(6 hours)");

    // From a newer installer: `up` stops before any write, `status` still reads the stack.
    let newer = serde_json::json!({"format": 99, "stack": s.name, "settings": {}});
    aws.s3
        .put_object()
        .bucket(&bucket)
        .key(&key)
        .body(newer.to_string().into_bytes().into())
        .send()
        .await
        .unwrap();
    let out = installer(&with_zip(
        &[&["up", "--keep", "9"][..], &name].concat(),
        &zip,
    ));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("written by a newer installer"), "{stderr}");
    let (code, _, stderr) = json(&[&["status"][..], &name].concat());
    assert_eq!(code, Some(0), "{stderr}");
    let function = aws
        .lambda
        .get_function_configuration()
        .function_name(&s.name)
        .send()
        .await
        .unwrap();
    let env = function.environment().and_then(|e| e.variables()).unwrap();
    assert_eq!(env["MAX_BACKUPS"], "4", "nothing changed");

    installer_ok(&remove_all(&s.name));
    assert_eq!(leftovers(&aws, &s.name, &s.table).await, Vec::<&str>::new());
}

/// `installer <args>` in `dir` (where `installer.toml` is found), asserted to exit `code`:
/// its stdout then its stderr.
fn in_dir(dir: &std::path::Path, args: &[&str], code: i32) -> String {
    let out = crate::support::cli::installer_at(&test_support::aws_endpoint())
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run installer");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{args:?}: {text}");
    text
}

/// The settings file: `up` with no flags but `--zip` deploys its one stack; with the file gone
/// the stack is still operated by name; `init --from-stack` writes a file whose `plan` is "no
/// changes"; a bad value is one line naming the file, line and key, before any AWS call.
#[tokio::test(flavor = "multi_thread")]
async fn a_settings_file_is_the_desired_state_and_init_writes_one_from_a_deployed_stack() {
    let aws = clients().await;
    let (stack, table) = (
        test_support::unique_name("file"),
        test_support::unique_name("Movies"),
    );
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(&stack);
    std::fs::create_dir_all(&dir).unwrap();
    let zip = built_zip_path().display().to_string();
    std::fs::write(
        dir.join("installer.toml"),
        format!(
            "# ours\n[stacks.{stack}]\ntable = [\"{table}\"]\nkeep = 6\nschedule = \"rate(8 hours)\"\n"
        ),
    )
    .unwrap();
    in_dir(&dir, &["up", "--zip", &zip], 0);
    let function = aws
        .lambda
        .get_function_configuration()
        .function_name(&stack)
        .send()
        .await
        .unwrap();
    let env = function.environment().and_then(|e| e.variables()).unwrap();
    assert_eq!(env["MAX_BACKUPS"], "6");
    let plan = in_dir(&dir, &["plan", "--zip", &zip], 0);
    assert!(plan.contains("no changes"), "{plan}");
    // A flag overrides the file, and -v says where each value came from.
    let plan = in_dir(&dir, &["-v", "plan", "--zip", &zip, "--keep", "2"], 0);
    assert!(plan.contains("keep: 6 → 2"), "{plan}");
    assert!(
        plan.contains("setting schedule = \"rate(8 hours)\" (from the settings file)"),
        "{plan}"
    );
    assert!(
        plan.contains("setting keep = 2 (from a flag or its environment variable)"),
        "{plan}"
    );

    // The file gone: the stack is its deployed settings, by name.
    std::fs::remove_file(dir.join("installer.toml")).unwrap();
    let status = in_dir(&dir, &["status", "--stack", &stack], 0);
    assert!(!status.contains("differs"), "{status}");
    let plan = in_dir(&dir, &["plan", "--stack", &stack, "--zip", &zip], 0);
    assert!(plan.contains("no changes"), "{plan}");

    // init --from-stack: a file that plans "no changes", kept beside another stack's table.
    let other = dir.join("backups.toml");
    std::fs::write(&other, "# the team's\n[stacks.elsewhere]\nkeep = 9\n").unwrap();
    let config = other.display().to_string();
    in_dir(
        &dir,
        &["init", "--from-stack", &stack, "--config", &config],
        0,
    );
    let written = std::fs::read_to_string(&other).unwrap();
    assert!(
        written.contains("[stacks.elsewhere]\nkeep = 9"),
        "{written}"
    );
    assert!(
        written.contains("# Newest backups kept per table"),
        "{written}"
    );
    let plan = in_dir(
        &dir,
        &[
            "plan", "--stack", &stack, "--config", &config, "--zip", &zip,
        ],
        0,
    );
    assert!(plan.contains("no changes"), "{plan}");
    let again = in_dir(
        &dir,
        &["init", "--from-stack", &stack, "--config", &config],
        2,
    );
    assert!(again.contains("--force"), "{again}");

    // A bad value: one line, file, line and key, exit 2, before any call.
    std::fs::write(
        dir.join("installer.toml"),
        format!("[stacks.{stack}]\n\nkeep = 0\n"),
    )
    .unwrap();
    let out = crate::support::cli::installer_at("http://127.0.0.1:9")
        .current_dir(&dir)
        .args(["plan"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("installer.toml:3: keep: --keep must be from 1 to 1000, got 0"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");

    installer_ok(&remove_all(&stack));
    assert_eq!(leftovers(&aws, &stack, &table).await, Vec::<&str>::new());
    let _ = std::fs::remove_dir_all(&dir);
}

/// The table's point-in-time recovery period, as DynamoDB tells it.
async fn recovery_days(table: &str) -> Option<i32> {
    clients()
        .await
        .dynamodb
        .describe_continuous_backups()
        .table_name(table)
        .send()
        .await
        .ok()?
        .continuous_backups_description()?
        .point_in_time_recovery_description()?
        .recovery_period_in_days()
}

/// `--pitr-days`: point-in-time recovery on the stack's tables with that recovery period; a
/// change is a setting change and the table's update; `status` shows it; out of 1 to 35 is one
/// line before any call.
#[tokio::test(flavor = "multi_thread")]
async fn pitr_days_sets_the_recovery_period_and_plans_say_so() {
    let s = Stack::new("pit").with(&["--pitr-days", "7"]);
    s.ok("up", &[]);
    assert_eq!(recovery_days(&s.table).await, Some(7));
    let name = ["--stack", s.name.as_str()];
    let (code, plan, stderr) = json(&[&["plan", "--pitr-days", "10"][..], &name].concat());
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        plan["settings"],
        serde_json::json!([{"setting": "pitr-days", "from": 7, "to": 10}])
    );
    assert_eq!(
        changed(&plan),
        [
            format!("table {} update", s.table),
            format!("settings {} update", s.name)
        ]
    );
    let (code, _, stderr) = json(&[&["up", "--pitr-days", "10"][..], &name].concat());
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(recovery_days(&s.table).await, Some(10));
    let (code, status, stderr) = json(&[&["status"][..], &name].concat());
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(status["tables"][0]["pitr_days"], 10, "{status}");
    let out = crate::support::cli::installer_with_endpoint(
        &["up", "--pitr-days", "36"],
        "http://127.0.0.1:9",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--pitr-days must be from 1 to 35, got 36"),
        "{stderr}"
    );
    installer_ok(&remove_all(&s.name));
}
