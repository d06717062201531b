//! The ways real users log in: a `credential_process` profile (what CI and password managers
//! use) works end to end, and an SSO profile is understood (it asks for `aws sso login`, rather
//! than failing as if no credentials were configured).

use std::path::Path;
use std::process::{Command, Output};

use crate::support::lambda::temp_dir;

/// `installer --profile <profile> status` with only `config` as the AWS config file: no
/// credentials in the environment, no credentials file, HOME in an empty folder.
fn status_with_profile(home: &Path, config: &str, profile: &str) -> Output {
    let config_file = home.join("config");
    std::fs::write(&config_file, config).expect("write the AWS config file");
    Command::new(env!("CARGO_BIN_EXE_installer"))
        .args(["--profile", profile, "status", "--stack", "creds"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("AWS_CONFIG_FILE", &config_file)
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("no-credentials"))
        .env("AWS_ENDPOINT_URL", test_support::aws_endpoint())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run installer")
}

#[test]
fn a_credential_process_profile_is_used() {
    let tmp = temp_dir("credential-process");
    let home = tmp.path();
    let helper = home.join("credentials.sh");
    std::fs::write(
        &helper,
        "#!/bin/sh\necho '{\"Version\": 1, \"AccessKeyId\": \"AKIDPROCESS\", \"SecretAccessKey\": \"process-secret\"}'\n",
    )
    .expect("write the helper");
    crate::support::lambda::write_executable(
        &helper,
        &std::fs::read(&helper).expect("read helper"),
    );
    let config = format!(
        "[profile ci]\nregion = us-east-1\ncredential_process = {}\n",
        helper.display()
    );
    let out = status_with_profile(home, &config, "ci");
    // Nothing is deployed as `creds`: every resource is missing, so `status` exits 3 (its
    // verdict), having read the account with the profile's credentials.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("stack creds in account"), "{stdout}");
}

#[test]
fn an_sso_profile_asks_for_a_login_instead_of_missing_support() {
    let tmp = temp_dir("sso");
    let home = tmp.path();
    let config = "[profile work]\nregion = us-east-1\nsso_start_url = https://example.awsapps.com/start\nsso_region = us-east-1\nsso_account_id = 123456789012\nsso_role_name = Admin\n";
    let out = status_with_profile(home, config, "work");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "no SSO login was made: {stderr}");
    assert!(
        !stderr.contains("feature"),
        "SSO support is built in: {stderr}"
    );
    assert!(stderr.to_lowercase().contains("sso"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
}
