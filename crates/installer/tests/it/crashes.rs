//! Crashes and races: `up` is killed (SIGKILL) right after each of its mutating calls in turn,
//! counted by a proxy in front of moto that stops answering once the Nth write has reached moto;
//! each time the next `up` finishes the stack, and `down` then leaves nothing. The same for `down`
//! itself. And two `up`s started at the same moment end in one correct stack.

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::support::aws::{Clients, clients, leftovers, policy_statements, target_count};
use crate::support::cli::{built_zip_path, installer_at, remove_all};
use test_support::proxy::Proxy;
use test_support::{backup_names, moto_endpoint, unique_name};

/// How long a command may take to reach the hold point (a hang guard).
const REACH: Duration = Duration::from_secs(120);

fn command(proxy: &Proxy, args: &[&str]) -> Command {
    let mut command = installer_at(proxy.endpoint());
    command
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

fn ok(proxy: &Proxy, args: &[&str]) -> Output {
    let out = command(proxy, args).output().expect("run installer");
    assert!(
        out.status.success(),
        "installer {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs `args` and kills it right after its `n`th mutating call reached moto; false if the
/// command finished before making `n` writes.
fn kill_after_writes(proxy: &Proxy, args: &[&str], n: usize) -> bool {
    proxy.hold_after_writes(n);
    let mut child = command(proxy, args).spawn().expect("start installer");
    let started = std::time::Instant::now();
    let held = loop {
        if proxy.wait_until_holding(Duration::from_millis(200)) {
            break true;
        }
        if child.try_wait().expect("child status").is_some() {
            break false;
        }
        assert!(
            started.elapsed() < REACH,
            "{args:?} neither reached write {n} nor finished"
        );
    };
    let _ = child.kill();
    let _ = child.wait();
    proxy.release();
    held
}

async fn stack_is_whole(aws: &Clients, stack: &str, table: &str) {
    let function = aws
        .lambda
        .get_function()
        .function_name(stack)
        .send()
        .await
        .expect("the function exists");
    assert_eq!(
        function
            .concurrency()
            .and_then(|c| c.reserved_concurrent_executions()),
        Some(1)
    );
    assert_eq!(target_count(aws, stack).await, 1, "one target");
    let statements = policy_statements(aws, stack).await;
    assert_eq!(statements.len(), 1, "one invoke permission: {statements:?}");
    aws.dynamodb
        .describe_table()
        .table_name(table)
        .send()
        .await
        .expect("the table exists");
    // The settings, written last: a crash before them is finished by the next `up` too.
    aws.s3
        .head_object()
        .bucket(format!("{stack}-logs-123456789012-us-east-1"))
        .key(format!("settings/{stack}.json"))
        .send()
        .await
        .expect("the settings are recorded");
}

#[tokio::test]
async fn up_killed_after_each_write_is_finished_by_the_next_up() {
    let aws = clients().await;
    let proxy = Proxy::start(&moto_endpoint(), None);
    let zip = built_zip_path().display().to_string();
    let mut crash_points = 0;
    for n in 1.. {
        let stack = unique_name("crash");
        let table = unique_name("Movies");
        let up = ["up", "--stack", &stack, "--table", &table, "--zip", &zip];
        let down = remove_all(&stack);
        if !kill_after_writes(&proxy, &up, n) {
            // `up` needs fewer than n writes: every crash point has been tried.
            ok(&proxy, &down);
            break;
        }
        crash_points += 1;
        ok(&proxy, &up);
        stack_is_whole(&aws, &stack, &table).await;
        ok(&proxy, &down);
        assert_eq!(leftovers(&aws, &stack, &table).await, Vec::<&str>::new());
    }
    eprintln!("up killed after each of its {crash_points} writes in turn");
    assert!(
        crash_points >= 15,
        "a cold up makes ~18 writes, got {crash_points}"
    );
}

#[tokio::test]
async fn down_killed_after_each_write_is_finished_by_the_next_down() {
    let aws = clients().await;
    let proxy = Proxy::start(&moto_endpoint(), None);
    let zip = built_zip_path().display().to_string();
    let mut crash_points = 0;
    for n in 1.. {
        let stack = unique_name("crashdown");
        let table = unique_name("Movies");
        let up = ["up", "--stack", &stack, "--table", &table, "--zip", &zip];
        let down = remove_all(&stack);
        ok(&proxy, &up);
        // A backup the function made, which `down` removes with the table.
        ok(&proxy, &["invoke", "--stack", &stack, "--table", &table]);
        assert_eq!(backup_names(&aws.dynamodb, &table).await.len(), 1);
        let killed = kill_after_writes(&proxy, &down, n);
        ok(&proxy, &down);
        assert_eq!(leftovers(&aws, &stack, &table).await, Vec::<&str>::new());
        if !killed {
            break;
        }
        crash_points += 1;
    }
    eprintln!("down killed after each of its {crash_points} writes in turn");
    assert!(
        crash_points >= 6,
        "down makes ~8 writes, got {crash_points}"
    );
}

#[tokio::test]
async fn two_ups_at_the_same_moment_make_one_stack() {
    let aws = clients().await;
    let proxy = Proxy::start(&moto_endpoint(), None);
    let zip = built_zip_path().display().to_string();
    let stack = unique_name("race");
    let table = unique_name("Movies");
    let up = ["up", "--stack", &stack, "--table", &table, "--zip", &zip];
    let first = command(&proxy, &up).spawn().expect("start the first up");
    let second = command(&proxy, &up).spawn().expect("start the second up");
    for (which, child) in [("first", first), ("second", second)] {
        let out = child.wait_with_output().expect("up ends");
        assert!(
            out.status.success(),
            "the {which} up failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    stack_is_whole(&aws, &stack, &table).await;
    let again = ok(&proxy, &up);
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("no changes"),
        "after the race the stack is as desired"
    );
    ok(&proxy, &remove_all(&stack));
    assert_eq!(leftovers(&aws, &stack, &table).await, Vec::<&str>::new());
}
