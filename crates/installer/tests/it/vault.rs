//! Locked copies in another account: `vault init`, run with the vault account's credentials
//! (moto maps an AssumeRole into 111111111111 to that account), makes a bucket whose export
//! versions nobody can delete or unlock early; the source stack's `up --require-lock` checks the
//! lock before any write, and refuses a bucket without one.

use aws_sdk_s3::config::Credentials;
use aws_sdk_s3::types::{
    BucketVersioningStatus, ObjectLockRetention, ObjectLockRetentionMode, VersioningConfiguration,
};

use crate::support::aws::{clients, leftovers};
use crate::support::cli::{built_zip_path, installer, installer_at, installer_ok, remove_all};
use test_support::{aws_endpoint, moto_config, unique_name};

const VAULT_ACCOUNT: &str = "111111111111";

/// The vault account's credentials.
async fn vault_credentials() -> Credentials {
    assume(&format!("arn:aws:iam::{VAULT_ACCOUNT}:role/vault-admin")).await
}

/// Credentials of `role` (moto maps them to the role's account).
async fn assume(role: &str) -> Credentials {
    let sts = aws_sdk_sts::Client::new(&moto_config().await);
    let creds = sts
        .assume_role()
        .role_arn(role)
        .role_session_name("installer-test")
        .send()
        .await
        .expect("assume a role in the vault account")
        .credentials
        .expect("credentials");
    Credentials::new(
        creds.access_key_id(),
        creds.secret_access_key(),
        Some(creds.session_token().to_owned()),
        None,
        "vault-account",
    )
}

/// An S3 client as `creds`, through the strict layer.
async fn s3_as(creds: &Credentials) -> aws_sdk_s3::Client {
    let config = test_support::strict_config().await;
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .credentials_provider(creds.clone())
            .build(),
    )
}

/// `installer <args>` with the vault account's credentials.
fn installer_as(creds: &Credentials, args: &[&str]) -> std::process::Output {
    installer_at(&aws_endpoint())
        .env("AWS_ACCESS_KEY_ID", creds.access_key_id())
        .env("AWS_SECRET_ACCESS_KEY", creds.secret_access_key())
        .env(
            "AWS_SESSION_TOKEN",
            creds.session_token().unwrap_or_default(),
        )
        .args(args)
        .output()
        .expect("run installer")
}

/// `vault init --bucket <vault> --lock <mode> --days <days>` for the stack `stack` of account
/// 123456789012, as the vault account, with `extra` flags.
fn vault_init(
    creds: &Credentials,
    [vault, stack]: [&str; 2],
    [mode, days]: [&str; 2],
    extra: &[&str],
) -> std::process::Output {
    let mut args = vec![
        "vault",
        "init",
        "--bucket",
        vault,
        "--lock",
        mode,
        "--days",
        days,
        "--source-account",
        "123456789012",
        "--source-stack",
        stack,
    ];
    args.extend(extra);
    installer_as(creds, &args)
}

#[tokio::test(flavor = "multi_thread")]
async fn exports_go_to_a_vault_the_source_account_cannot_empty() {
    let creds = vault_credentials().await;
    let vault = unique_name("vault");
    let stack = unique_name("vs");
    let table = unique_name("Movies");
    let init = |days: &str| {
        vault_init(
            &creds,
            [&vault, &stack],
            ["compliance", days],
            &["--expire-days", "400"],
        )
    };
    let out = init("2");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(
            "--export-bucket-owner 111111111111 --export-bucket-region us-east-1 --require-lock"
        ),
        "{stderr}"
    );

    // The vault as its own account sees it.
    let owner = s3_as(&creds).await;
    let lock = owner
        .get_object_lock_configuration()
        .bucket(&vault)
        .send()
        .await
        .expect("a lock")
        .object_lock_configuration
        .expect("configured");
    let retention = lock
        .rule()
        .and_then(|r| r.default_retention())
        .expect("default retention");
    assert_eq!(retention.mode(), Some(&ObjectLockRetentionMode::Compliance));
    assert_eq!(retention.days(), Some(2));
    let versioning = owner
        .get_bucket_versioning()
        .bucket(&vault)
        .send()
        .await
        .unwrap();
    assert_eq!(versioning.status(), Some(&BucketVersioningStatus::Enabled));
    let policy = owner
        .get_bucket_policy()
        .bucket(&vault)
        .send()
        .await
        .unwrap()
        .policy
        .unwrap_or_default();
    assert!(policy.contains(&format!("role/{stack}-role")), "{policy}");
    assert!(policy.contains("s3:BypassGovernanceRetention"), "{policy}");
    let block = owner
        .get_public_access_block()
        .bucket(&vault)
        .send()
        .await
        .unwrap()
        .public_access_block_configuration
        .unwrap();
    assert_eq!(block.block_public_policy(), Some(true));

    // Run again: it checks and changes nothing; it never weakens the lock.
    let again = init("2");
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let weaker = init("1");
    let stderr = String::from_utf8_lossy(&weaker.stderr);
    assert!(!weaker.status.success());
    assert!(
        stderr.contains("would weaken that for every later export"),
        "{stderr}"
    );

    // The source stack exports there, and says what the lock is.
    let zip = built_zip_path().display().to_string();
    let to_vault = [
        "--stack",
        stack.as_str(),
        "--table",
        table.as_str(),
        "--zip",
        zip.as_str(),
        "--export",
        "daily",
        "--export-bucket",
        vault.as_str(),
        "--export-bucket-owner",
        VAULT_ACCOUNT,
        "--require-lock",
    ];
    let up = installer_ok(&[&["up"][..], &to_vault].concat());
    assert!(
        up.contains(&format!(
            "export bucket {vault}: Object Lock compliance for 2 days"
        )),
        "{up}"
    );

    let status = installer_ok(&["status", "--stack", &stack]);
    assert!(
        status.contains(&format!(
            "export bucket {vault}: Object Lock compliance for 2 days"
        )),
        "{status}"
    );

    // The compliance report says whether the copies can be deleted early.
    let report = installer(&["report", "--stack", &stack, "--since", "1h"]);
    let text = String::from_utf8_lossy(&report.stdout);
    assert!(
        text.contains("Export copies: Object Lock compliance for 2 days"),
        "{text}"
    );

    // What the stack writes there cannot be deleted or unlocked early by its account (the one
    // an attacker with the source account's keys holds), nor versioning suspended by the vault's.
    // As the stack's role, which the vault's policy lets write under `exports/`.
    let role = assume(&format!("arn:aws:iam::123456789012:role/{stack}-role")).await;
    let source = s3_as(&role).await;
    let key = format!("exports/{table}/2026-12-05/data.json.gz");
    let written = source
        .put_object()
        .bucket(&vault)
        .key(&key)
        .body(b"an export".to_vec().into())
        .send()
        .await
        .expect("the source account writes an export");
    let version = written.version_id().expect("a version").to_owned();
    let delete = source
        .delete_object()
        .bucket(&vault)
        .key(&key)
        .version_id(&version)
        .send()
        .await;
    assert!(delete.is_err(), "a locked version cannot be deleted");
    let shorten = owner
        .put_object_retention()
        .bucket(&vault)
        .key(&key)
        .version_id(&version)
        .retention(
            ObjectLockRetention::builder()
                .mode(ObjectLockRetentionMode::Compliance)
                .retain_until_date(aws_sdk_s3::primitives::DateTime::from_secs(0))
                .build(),
        )
        .send()
        .await;
    assert!(shorten.is_err(), "not even the vault's account shortens it");
    let suspend = owner
        .put_bucket_versioning()
        .bucket(&vault)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Suspended)
                .build(),
        )
        .send()
        .await;
    assert!(suspend.is_err(), "versioning stays on");
    installer_ok(&remove_all(&stack));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_governance_vault_lets_nobody_bypass_its_lock() {
    let creds = vault_credentials().await;
    let vault = unique_name("gvault");
    let stack = unique_name("gs");
    let out = vault_init(&creds, [&vault, &stack], ["governance", "2"], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let role = assume(&format!("arn:aws:iam::123456789012:role/{stack}-role")).await;
    let source = s3_as(&role).await;
    let key = "exports/Movies/2026-12-05/data.json.gz";
    let written = source
        .put_object()
        .bucket(&vault)
        .key(key)
        .body(b"an export".to_vec().into())
        .send()
        .await
        .expect("the source stack's role writes an export");
    let version = written.version_id().expect("a version").to_owned();
    // Governance mode yields to `x-amz-bypass-governance-retention` with the permission, and the
    // vault's policy denies that permission to everyone: not even the vault's account may. (The
    // header is sent only to bypass: moto reads any value of it, `false` too, as a bypass.)
    let owner = s3_as(&creds).await;
    for bypass in [false, true] {
        let delete = owner
            .delete_object()
            .bucket(&vault)
            .key(key)
            .version_id(&version)
            .set_bypass_governance_retention(bypass.then_some(true))
            .send()
            .await;
        assert!(delete.is_err(), "bypass {bypass}: deleted");
    }
    let denied = owner
        .delete_object()
        .bucket(&vault)
        .key(key)
        .version_id(&version)
        .bypass_governance_retention(true)
        .send()
        .await
        .expect_err("denied");
    assert_eq!(
        denied.as_service_error().and_then(|e| e.meta().code()),
        Some("AccessDenied"),
        "{denied:?}"
    );
    let still = owner
        .head_object()
        .bucket(&vault)
        .key(key)
        .version_id(&version)
        .send()
        .await;
    assert!(still.is_ok(), "the version is kept: {still:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bucket_without_a_lock_is_refused_with_require_lock_before_any_write() {
    let aws = clients().await;
    let stack = unique_name("vn");
    let table = unique_name("Movies");
    let plain = unique_name("plain");
    aws.s3.create_bucket().bucket(&plain).send().await.unwrap();
    let zip = built_zip_path().display().to_string();
    let out = installer(&[
        "up",
        "--stack",
        &stack,
        "--table",
        &table,
        "--zip",
        &zip,
        "--export",
        "daily",
        "--export-bucket",
        &plain,
        "--require-lock",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "export bucket {plain} has no Object Lock, and --require-lock asks for default retention"
        )),
        "{stderr}"
    );
    assert_eq!(leftovers(&aws, &stack, &table).await, Vec::<&str>::new());

    // Bad flags: one line, before any call (a closed port is never reached).
    let closed = "http://127.0.0.1:9";
    for (args, expected) in [
        (
            vec![
                "vault",
                "init",
                "--bucket",
                "acme-vault",
                "--lock",
                "compliance",
                "--days",
                "365",
                "--source-account",
                "123456789012",
                "--source-stack",
                "prod",
                "--expire-days",
                "30",
            ],
            "--expire-days 30 would expire exports still locked for 365 days",
        ),
        (
            vec![
                "vault",
                "init",
                "--bucket",
                "acme-vault",
                "--lock",
                "governance",
                "--days",
                "0",
                "--source-account",
                "123456789012",
                "--source-stack",
                "prod",
            ],
            "--days must be from 1 to 36500",
        ),
        (
            vec!["up", "--export", "daily", "--require-lock"],
            "--require-lock needs --export-bucket",
        ),
    ] {
        let out = crate::support::cli::installer_with_endpoint(&args, closed);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}
