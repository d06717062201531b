//! Injected faults: with a fifth of all calls failing (throttled in each protocol's own way,
//! HTTP 500, the connection dropped before the request reached moto, or dropped after moto acted
//! on it so that the answer is lost), `up`, a second `up`, `invoke` and `down` all still succeed,
//! and what they leave is exactly what a fault-free run leaves: no duplicate resource, invoke
//! permission, target or backup. The function's own calls (CreateBackup, ListBackups,
//! DeleteBackup, PutObject) go through the same proxy during `invoke`.

use std::process::Output;

use crate::support::aws::{Clients, clients, leftovers, policy_statements, target_count};
use crate::support::cli::installer_at;
use crate::support::stack::{Stack, as_strs};
use test_support::proxy::{Fault, Faults, Proxy};
use test_support::{backup_names, count_items, moto_endpoint};

fn run(proxy: &Proxy, args: &[&str]) -> Output {
    installer_at(proxy.endpoint())
        .args(args)
        .env_remove("AWS_MAX_ATTEMPTS")
        .env_remove("AWS_RETRY_MODE")
        .output()
        .expect("run installer")
}

fn ok(proxy: &Proxy, args: &[&str]) -> String {
    let out = run(proxy, args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "installer {args:?} failed:\n{stderr}");
    String::from_utf8_lossy(&out.stdout).into_owned() + &stderr
}

/// Asserts what one `up` and one `invoke` leave, fault-free or not.
async fn assert_one_clean_stack(aws: &Clients, stack: &str, table: &str) {
    let statements = policy_statements(aws, stack).await;
    assert_eq!(statements.len(), 1, "one invoke permission: {statements:?}");
    assert_eq!(target_count(aws, stack).await, 1, "one target");
    let inline = aws
        .iam
        .list_role_policies()
        .role_name(format!("{stack}-role"))
        .send()
        .await
        .expect("the role exists");
    assert_eq!(inline.policy_names(), [format!("{stack}-policy")]);
    let groups = aws
        .logs
        .describe_log_groups()
        .log_group_name_prefix(format!("/aws/lambda/{stack}"))
        .send()
        .await
        .expect("log groups");
    assert_eq!(groups.log_groups().len(), 1);
    assert_eq!(groups.log_groups()[0].retention_in_days(), Some(14));
    assert_eq!(
        count_items(&aws.dynamodb, table).await,
        30,
        "the sample, once"
    );
    let backups = backup_names(&aws.dynamodb, table).await;
    assert_eq!(
        backups.len(),
        1,
        "exactly one backup from one invoke: {backups:?}"
    );
    let functions = aws.lambda.list_functions().send().await.expect("functions");
    let ours = functions
        .functions()
        .iter()
        .filter(|f| f.function_name() == Some(stack))
        .count();
    assert_eq!(ours, 1);
}

async fn converges_with_faults(seed: u64) {
    let aws = clients().await;
    let proxy = Proxy::start(&moto_endpoint(), Some(Faults { percent: 20, seed }));
    let deployed = Stack::new("flt");
    let (stack, table) = (deployed.name.clone(), deployed.table.clone());
    let run = |command: &str, extra: &[&str]| ok(&proxy, &as_strs(&deployed.args(command, extra)));

    run("up", &[]);
    let mark = proxy.calls().len();
    let again = run("up", &[]);
    assert!(again.contains("no changes"), "{again}");
    let writes: Vec<_> = proxy.calls()[mark..]
        .iter()
        .filter(|c| c.reached_moto && c.call.mutating)
        .map(|c| c.call.operation.clone())
        .collect();
    assert!(writes.is_empty(), "the second up wrote {writes:?}");
    run("invoke", &["--output", "json"]);
    assert_one_clean_stack(&aws, &stack, &table).await;
    run("down", &["--yes", "--delete-data"]);
    assert_eq!(leftovers(&aws, &stack, &table).await, Vec::<&str>::new());

    let calls = proxy.calls();
    let faults: Vec<Fault> = calls.iter().filter_map(|c| c.fault).collect();
    let count = |kind| faults.iter().filter(|f| **f == kind).count();
    eprintln!(
        "seed {seed}: {} calls, {} faults injected ({} throttled, {} HTTP 500, {} dropped before moto, {} answers lost)",
        calls.len(),
        faults.len(),
        count(Fault::Throttle),
        count(Fault::ServerError),
        count(Fault::DropBeforeForward),
        count(Fault::DropAfterForward),
    );
    assert!(
        count(Fault::DropAfterForward) > 0 && count(Fault::Throttle) > 0,
        "the run did meet faults of each kind that matters"
    );
}

#[tokio::test]
async fn up_again_invoke_and_down_converge_with_a_fifth_of_calls_failing() {
    converges_with_faults(7).await;
}

#[tokio::test]
async fn the_same_holds_for_another_fault_sequence() {
    converges_with_faults(2026).await;
}
