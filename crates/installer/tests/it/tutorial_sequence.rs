//! The tutorial's real sequence, run as a new user would run it, with no pause between steps,
//! through the strict layer (moto answering as AWS documents): `up` with the tutorial's
//! `rate(1 minute)`, two runs, `down`, `up` again at once, `down` again. On AWS each step meets a
//! state moto never shows: a role Lambda cannot assume yet, backups still CREATING, a table still
//! DELETING, a bucket name not yet free. Every step must succeed.

use std::process::Output;

use crate::support::aws::{clients, leftovers};
use crate::support::cli::{built_zip_path, installer_at};
use test_support::proxy::Proxy;
use test_support::{moto_endpoint, unique_name};

fn run(proxy: &Proxy, args: &[&str]) -> Output {
    installer_at(proxy.endpoint())
        .args(args)
        .output()
        .expect("run installer")
}

#[tokio::test(flavor = "multi_thread")]
async fn up_invoke_invoke_down_up_down_all_succeed_with_no_pause() {
    let proxy = Proxy::start(&moto_endpoint(), None);
    let stack = unique_name("tut");
    let table = unique_name("Movies");
    let zip = built_zip_path().display().to_string();
    let stack_flags = [
        "--stack",
        stack.as_str(),
        "--table",
        table.as_str(),
        "--zip",
        zip.as_str(),
        "--schedule",
        "rate(1 minute)",
    ];
    let step = |command: &str, extra: &[&str]| {
        let mut args = vec![command];
        if command == "up" {
            args.extend(stack_flags);
        } else {
            args.extend(["--stack", stack.as_str()]);
        }
        args.extend(extra);
        let out = run(&proxy, &args);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            out.status.success(),
            "installer {command} failed:\n{stderr}"
        );
        // The timings, for `--nocapture` readers (an `up` costs about the IAM window it waits).
        for line in stderr
            .lines()
            .filter(|l| l.contains(" in ") && l.ends_with('s'))
        {
            eprintln!("{command}: {line}");
        }
        stderr
    };

    step("up", &[]);
    let mut backups = Vec::new();
    for _ in 0..2 {
        let out = run(
            &proxy,
            &[
                "invoke", "--stack", &stack, "--table", &table, "--zip", &zip,
            ],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let result: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON result");
        assert_eq!(result["status"], "ok", "{result}");
        backups.push(result["backup_created"]["name"].clone());
    }
    let down = step("down", &["--yes", "--delete-data"]);
    assert!(
        down.contains("backup(s) of"),
        "the function's backups were deleted: {down}"
    );
    step("up", &[]);
    step("down", &["--yes", "--delete-data"]);

    let aws = clients().await;
    assert_eq!(leftovers(&aws, &stack, &table).await, Vec::<&str>::new());
    let backups_left = test_support::backup_names(&aws.dynamodb, &table).await;
    assert!(backups_left.is_empty(), "{backups_left:?}");

    // The layer was in the chain and did make moto answer as AWS does.
    let refusals = proxy.refusals();
    for rule in ["RolePropagation", "TableDeleting", "BucketNameReuse"] {
        assert!(
            refusals.contains(&rule),
            "{rule} never answered: {refusals:?}"
        );
    }
}
