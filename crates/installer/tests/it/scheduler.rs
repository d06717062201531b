//! Schedules in a time zone: `up --schedule-timezone` runs the stack through EventBridge
//! Scheduler (a group, a schedule per table, a role of its own) instead of rules, moves between
//! the two when told, and `down` removes either; each resource inspected through the AWS API.

use aws_sdk_scheduler::types::FlexibleTimeWindowMode;
use serde_json::{Value, json};

use crate::support::aws::{Clients, clients};
use crate::support::cli::{built_zip_path, installer_ok, remove_all};
use test_support::unique_name;

struct Stack {
    name: String,
    table: String,
    zip: String,
}

impl Stack {
    fn run(&self, command: &str, extra: &[&str]) -> String {
        let mut args = vec![
            command,
            "--stack",
            &self.name,
            "--table",
            &self.table,
            "--zip",
            &self.zip,
        ];
        args.extend_from_slice(extra);
        installer_ok(&args)
    }
}

async fn rule_exists(aws: &Clients, stack: &str) -> bool {
    aws.events
        .describe_rule()
        .name(format!("{stack}-schedule"))
        .send()
        .await
        .is_ok()
}

async fn group_exists(aws: &Clients, stack: &str) -> bool {
    aws.scheduler
        .get_schedule_group()
        .name(stack)
        .send()
        .await
        .is_ok()
}

async fn scheduler_role(aws: &Clients, stack: &str) -> Option<Value> {
    let role = aws
        .iam
        .get_role()
        .role_name(format!("{stack}-scheduler"))
        .send()
        .await
        .ok()?
        .role?;
    let document = role.assume_role_policy_document?;
    let decoded = percent_encoding::percent_decode_str(&document)
        .decode_utf8()
        .expect("utf-8");
    serde_json::from_str(&decoded).ok()
}

#[tokio::test]
async fn a_schedule_in_a_time_zone_runs_through_scheduler_and_moves_back_and_forth() {
    let aws = clients().await;
    let stack = Stack {
        name: unique_name("tz"),
        table: unique_name("Movies"),
        zip: built_zip_path().display().to_string(),
    };
    let berlin = [
        "--schedule",
        "cron(30 2 * * ? *)",
        "--schedule-timezone",
        "Europe/Berlin",
        "--schedule-window",
        "15m",
        "--keep-daily",
        "7",
    ];
    let mut json_up = vec!["--output", "json"];
    json_up.extend([
        "up",
        "--stack",
        &stack.name,
        "--table",
        &stack.table,
        "--zip",
        &stack.zip,
    ]);
    json_up.extend(berlin);
    let applied: Value =
        serde_json::from_str(installer_ok(&json_up).lines().next().unwrap_or_default())
            .expect("up's document first");
    crate::support::schema::assert_valid(&applied);
    assert_eq!(applied["rule_arns"], json!([]));
    assert!(
        applied["schedule_group_arn"]
            .as_str()
            .is_some_and(|a| a.ends_with(&format!(":schedule-group/{}", stack.name))),
        "{applied}"
    );

    // The group, tagged as the stack's, with the table's schedule as the rule would have sent it.
    assert!(!rule_exists(&aws, &stack.name).await, "no rule");
    let group = aws
        .scheduler
        .get_schedule_group()
        .name(&stack.name)
        .send()
        .await
        .expect("the stack's group");
    let tags = aws
        .scheduler
        .list_tags_for_resource()
        .resource_arn(group.arn().expect("an ARN"))
        .send()
        .await
        .expect("tags");
    assert!(
        tags.tags()
            .iter()
            .any(|t| t.key() == "stack" && t.value() == stack.name),
        "{tags:?}"
    );
    let schedule = aws
        .scheduler
        .get_schedule()
        .group_name(&stack.name)
        .name(&stack.table)
        .send()
        .await
        .expect("the table's schedule");
    assert_eq!(schedule.schedule_expression(), Some("cron(30 2 * * ? *)"));
    assert_eq!(
        schedule.schedule_expression_timezone(),
        Some("Europe/Berlin")
    );
    let window = schedule.flexible_time_window().expect("a window");
    assert_eq!(*window.mode(), FlexibleTimeWindowMode::Flexible);
    assert_eq!(window.maximum_window_in_minutes(), Some(15));
    let target = schedule.target().expect("a target");
    assert!(target.arn().ends_with(&format!(":function:{}", stack.name)));
    assert!(
        target
            .role_arn()
            .ends_with(&format!(":role/{}-scheduler", stack.name))
    );
    let input: Value = serde_json::from_str(target.input().expect("input")).expect("JSON");
    assert_eq!(input, json!({"TableName": stack.table}));
    let retry = target.retry_policy().expect("a retry policy");
    // cron(30 2 ...) in Berlin: 47 hours at most between runs (the night the clocks skip 02:30);
    // a delivery waits no longer than Scheduler's day.
    assert_eq!(retry.maximum_event_age_in_seconds(), Some(86_400));

    // Its role: Scheduler may assume it, for this stack's group only.
    let trust = scheduler_role(&aws, &stack.name).await.expect("the role");
    let statement = &trust["Statement"][0];
    assert_eq!(statement["Principal"]["Service"], "scheduler.amazonaws.com");
    let source = statement["Condition"]["StringEquals"]["aws:SourceArn"]
        .as_str()
        .expect("scoped to the group");
    assert!(source.ends_with(&format!(":schedule-group/{}", stack.name)));

    // The function reads its generations in the same zone.
    let config = aws
        .lambda
        .get_function_configuration()
        .function_name(&stack.name)
        .send()
        .await
        .expect("the function");
    let env = config
        .environment()
        .and_then(|e| e.variables())
        .expect("env");
    assert_eq!(
        env.get("SCHEDULE_TIMEZONE").map(String::as_str),
        Some("Europe/Berlin")
    );

    // The deployed stack plans no change, and shows its next runs in Berlin and in UTC.
    let plan = stack.run("plan", &[]);
    assert!(plan.contains("no changes"), "{plan}");
    assert!(
        plan.contains("next runs of cron(30 2 * * ? *) in Europe/Berlin:"),
        "{plan}"
    );
    let runs: Vec<&str> = plan
        .lines()
        .filter(|l| l.contains(" Europe/Berlin ("))
        .collect();
    assert_eq!(runs.len(), 5, "{plan}");
    assert!(
        runs.iter()
            .all(|l| l.trim_start().contains(" 02:30:00 Europe/Berlin (")),
        "{plan}"
    );

    // `invoke` sends what the schedule sends.
    let invoked = stack.run("invoke", &[]);
    assert!(
        invoked.contains(&format!("{{\"TableName\":\"{}\"}}", stack.table)),
        "{invoked}"
    );
    assert!(invoked.contains("run finished"), "{invoked}");

    // The report's default RPO is twice the longest gap Scheduler leaves: 47 hours the night
    // 02:30 is skipped in Berlin, and 15 minutes of window.
    let report: Value = serde_json::from_str(
        installer_ok(&[
            "--output",
            "json",
            "report",
            "--stack",
            &stack.name,
            "--since",
            "1h",
        ])
        .lines()
        .next()
        .unwrap_or_default(),
    )
    .expect("report's document first");
    assert_eq!(
        report["rpo_seconds"],
        json!(2 * (47 * 3600 + 15 * 60)),
        "{report}"
    );
    assert_eq!(report["rpo_basis"], "twice the schedule cron(30 2 * * ? *)");

    // Back to rules, on request: the rule is made before the group goes.
    let back = [
        "--schedule-via",
        "rules",
        "--schedule-timezone",
        "UTC",
        "--schedule-window",
        "off",
    ];
    stack.run("up", &back);
    assert!(rule_exists(&aws, &stack.name).await, "the rule is back");
    assert!(!group_exists(&aws, &stack.name).await, "the group is gone");
    assert!(
        scheduler_role(&aws, &stack.name).await.is_none(),
        "its role too"
    );

    // A zone alone moves it over again; `down` removes it all.
    stack.run("up", &["--schedule-timezone", "America/New_York"]);
    assert!(!rule_exists(&aws, &stack.name).await);
    assert!(group_exists(&aws, &stack.name).await);
    // A rate updated in place keeps its phase: it starts at its next period, not at once.
    stack.run("up", &["--schedule", "rate(1 day)"]);
    stack.run("up", &["--schedule", "rate(12 hours)"]);
    let updated = aws
        .scheduler
        .get_schedule()
        .group_name(&stack.name)
        .name(&stack.table)
        .send()
        .await
        .expect("the schedule");
    assert_eq!(updated.schedule_expression(), Some("rate(12 hours)"));
    let start = updated
        .start_date()
        .expect("a start date kept the phase")
        .secs();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    assert!(
        start > now && start <= now + 12 * 3600 + 60,
        "{start} vs {now}"
    );
    installer_ok(&remove_all(&stack.name));
    assert!(
        !group_exists(&aws, &stack.name).await,
        "down removes the group"
    );
    assert!(
        scheduler_role(&aws, &stack.name).await.is_none(),
        "and its role"
    );
}

#[test]
fn a_zone_or_window_scheduler_cannot_take_is_one_line_before_any_call() {
    let stack = unique_name("tzbad");
    for (flags, expected) in [
        (
            &["--schedule-timezone", "Europe/Berln"][..],
            "invalid --schedule-timezone: \"Europe/Berln\" is not a time zone",
        ),
        (
            &[
                "--schedule-via",
                "rules",
                "--schedule-timezone",
                "Europe/Berlin",
            ][..],
            "--schedule-via rules runs in UTC on the minute: it cannot take --schedule-timezone Europe/Berlin",
        ),
        (
            &["--schedule-window", "25h"][..],
            "invalid --schedule-window \"25h\"",
        ),
        (
            &["--schedule-window", "90s"][..],
            "invalid --schedule-window \"90s\"",
        ),
    ] {
        let mut args = vec!["up", "--stack", &stack];
        args.extend_from_slice(flags);
        // A closed port: nothing is asked of AWS.
        let out = crate::support::cli::installer_with_endpoint(&args, "http://127.0.0.1:9");
        assert!(!out.status.success(), "{flags:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expected), "{flags:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    }
}
