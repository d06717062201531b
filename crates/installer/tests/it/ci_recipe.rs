//! The CI recipe works as written: `examples/github-actions.yml` parses as YAML, assumes a role
//! through GitHub's OIDC, and every `installer` command in it exists with every flag it passes
//! (checked against the real binary's `--help`), as do the `INSTALLER_*` settings it sets; and
//! shell completions generate for bash, zsh and fish; the published JSON Schema of
//! `--output json` is the one the output types give.

use std::process::Command;

use test_support::unique_name;

use yaml_rust2::{Yaml, YamlLoader};

fn workflow() -> Yaml {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/github-actions.yml"
    );
    let text = std::fs::read_to_string(path).expect("examples/github-actions.yml");
    YamlLoader::load_from_str(&text)
        .expect("the workflow is YAML")
        .remove(0)
}

fn help(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_installer"))
        .args(args)
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success(), "installer {args:?} --help");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn every_installer_command_and_setting_in_the_workflow_exists() {
    let workflow = workflow();
    let jobs = workflow["jobs"].as_hash().expect("jobs");
    assert_eq!(
        workflow["permissions"]["id-token"].as_str(),
        Some("write"),
        "OIDC"
    );
    // A read-only role plans and reports; another deploys; deploys never overlap; the report
    // gates on a schedule, not right after a first deploy (when no backup exists yet).
    let job = |name: &str| &workflow["jobs"][name];
    let role = |name: &str| {
        job(name)["steps"]
            .as_vec()
            .and_then(|steps| {
                steps.iter().find_map(|s| {
                    s["uses"]
                        .as_str()
                        .filter(|u| u.starts_with("aws-actions/configure-aws-credentials@"))
                        .and(s["with"]["role-to-assume"].as_str())
                })
            })
            .unwrap_or_else(|| panic!("{name} assumes a role through OIDC"))
            .to_owned()
    };
    assert_ne!(
        role("plan"),
        role("deploy"),
        "separate plan and deploy roles"
    );
    assert_eq!(
        role("plan"),
        role("gate"),
        "the report reads with the plan's role"
    );
    assert!(
        !job("deploy")["concurrency"]["group"].is_badvalue(),
        "deploys never overlap"
    );
    assert_eq!(
        job("gate")["if"].as_str(),
        Some("github.event_name == 'schedule'")
    );
    let steps: Vec<&Yaml> = jobs
        .values()
        .filter_map(|j| j["steps"].as_vec())
        .flatten()
        .collect();

    let mut checked = 0;
    for script in steps.iter().filter_map(|s| s["run"].as_str()) {
        for line in script.lines().filter(|l| l.contains("bin/installer ")) {
            let words: Vec<&str> = line
                .split_whitespace()
                .skip_while(|w| *w != "bin/installer")
                .skip(1)
                .take_while(|w| *w != ">" && *w != "|")
                .collect();
            // Global flags first (`--output json`), then the subcommand and its flags.
            let mut rest = words.as_slice();
            while let [flag, value, tail @ ..] = rest
                && *flag == "--output"
            {
                assert!(["json", "text"].contains(value), "{line}");
                rest = tail;
            }
            let (command, flags) = rest.split_first().expect("a subcommand");
            let text = help(&[command]);
            for flag in flags.iter().filter(|w| w.starts_with("--")) {
                assert!(
                    text.contains(flag),
                    "`installer {command}` has no {flag}: {line}"
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 3, "plan, up and report are in the workflow");

    let up = help(&["up"]);
    let env = workflow["env"].as_hash().expect("env");
    for key in env
        .keys()
        .filter_map(Yaml::as_str)
        .filter(|k| k.starts_with("INSTALLER_"))
    {
        if ["INSTALLER_VERSION", "INSTALLER_SHA256", "INSTALLER_URL"].contains(&key) {
            continue;
        }
        assert!(
            up.contains(&format!("env: {key}=")),
            "`installer up` reads no {key}"
        );
    }
}

#[test]
fn completions_generate_for_each_shell() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef installer"),
        ("fish", "complete -c installer"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_installer"))
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success(), "{shell}");
        let script = String::from_utf8(out.stdout).unwrap();
        assert!(
            script.contains(marker),
            "{shell}: {}",
            &script[..script.len().min(200)]
        );
        for subcommand in ["up", "report", "bundle", "down"] {
            assert!(
                script.contains(subcommand),
                "{shell} completes {subcommand}"
            );
        }
    }
}

#[test]
fn completions_piped_into_a_reader_that_stops_early_do_not_panic() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_installer"))
        .args(["completions", "zsh"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The reader goes away before the script is written (as `| head -0` would): the write
    // meets a closed pipe.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// docs/reference (the Markdown command reference and the man pages) is what `installer
/// reference` writes now, so it cannot disagree with `--help`.
#[test]
fn the_committed_reference_is_the_one_the_command_line_gives() {
    let out = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(unique_name("reference"));
    let status = Command::new(env!("CARGO_BIN_EXE_installer"))
        .args(["-q", "reference", "--out", out.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success());
    let committed = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/reference");
    let list = |dir: &std::path::Path| -> Vec<String> {
        let mut names: Vec<String> = ["", "man"]
            .iter()
            .flat_map(|sub| std::fs::read_dir(dir.join(sub)).unwrap())
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file())
            .map(|p| p.strip_prefix(dir).unwrap().display().to_string())
            .collect();
        names.sort();
        names
    };
    assert_eq!(
        list(&out),
        list(&committed),
        "regenerate with `make reference`"
    );
    for name in list(&out) {
        assert!(
            std::fs::read(out.join(&name)).unwrap()
                == std::fs::read(committed.join(&name)).unwrap(),
            "docs/reference/{name} is stale: regenerate it with `make reference`"
        );
    }
    // `--help` and the reference agree: each flag `up --help` lists is in up's section.
    let help = Command::new(env!("CARGO_BIN_EXE_installer"))
        .args(["up", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    let markdown = std::fs::read_to_string(out.join("installer.md")).unwrap();
    let up = &markdown[markdown.find("## installer up\n").unwrap()..];
    let up = &up[..up[3..].find("\n## ").map_or(up.len(), |i| i + 3)];
    // The flags are the words that open help's option lines (`  -y, --yes`, `      --keep <KEEP>`).
    let listed: Vec<&str> = help
        .lines()
        .filter(|l| l.len() - l.trim_start().len() <= 6)
        .map(str::trim_start)
        .filter(|l| l.starts_with('-'))
        .flat_map(|l| l.split_whitespace().take_while(|w| w.starts_with('-')))
        .map(|w| w.trim_end_matches(','))
        .filter(|w| {
            w.starts_with("--")
                && w[2..]
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        .collect();
    assert!(listed.len() > 30, "{listed:?}");
    let every = &markdown[markdown.find("## Options of every command").unwrap()..];
    let every = &every[..every.find("\n## installer ").unwrap()];
    for flag in listed {
        let flag = format!("`{flag}`");
        assert!(
            up.contains(&flag) || every.contains(&flag),
            "{flag} of `up --help`"
        );
    }
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn the_published_settings_schema_is_the_one_the_settings_types_give() {
    let out = Command::new(env!("CARGO_BIN_EXE_installer"))
        .args(["schema", "--of", "settings"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let generated: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let published: serde_json::Value = serde_json::from_str(include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../schemas/installer-settings.schema.json"
    )))
    .unwrap();
    assert_eq!(
        generated, published,
        "schemas/installer-settings.schema.json is stale: regenerate it with `installer schema --of settings > schemas/installer-settings.schema.json`"
    );
    // It tells a right file (as JSON) from a wrong one.
    let validator = jsonschema::validator_for(&generated).unwrap();
    let good = serde_json::json!({"stacks": {"prod": {"table": ["Orders"], "keep": 7, "max-age-days": "off"}}});
    assert!(validator.is_valid(&good));
    for bad in [
        serde_json::json!({"stacks": {"prod": {"kep": 7}}}),
        serde_json::json!({"stacks": {"prod": {"keep": "seven"}}}),
        serde_json::json!({"stacks": {"prod": {"arch": "sparc"}}}),
    ] {
        assert!(!validator.is_valid(&bad), "{bad}");
    }
}

#[test]
fn the_published_schema_is_the_one_the_output_types_give() {
    let out = Command::new(env!("CARGO_BIN_EXE_installer"))
        .arg("schema")
        .output()
        .unwrap();
    assert!(out.status.success());
    let generated: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        generated,
        crate::support::schema::published(),
        "schemas/installer-output.schema.json is stale: regenerate it with `installer schema > schemas/installer-output.schema.json`"
    );
    // It is a schema a validator accepts, and it tells a wrong document from a right one.
    crate::support::schema::assert_valid(&serde_json::json!({"command": "printed"}));
    let validator = jsonschema::validator_for(&generated).unwrap();
    assert!(!validator.is_valid(&serde_json::json!({"command": "bundle", "bytes": "many"})));
}

/// A reader that takes one byte and goes (`installer schema | head -c1`), forty times for each
/// command that prints without AWS: never a panic (`println!` on a closed pipe panicked with
/// "Broken pipe", exit 101, in 13 of 40 runs of `schema | head -n1`), never exit 101.
#[test]
fn a_reader_that_stops_after_one_byte_never_makes_a_command_panic() {
    use std::io::Read;
    for args in [
        &["schema"][..],
        &["completions", "bash"][..],
        &["--help"][..],
        &["up", "--help"][..],
    ] {
        for _ in 0..40 {
            let mut child = Command::new(env!("CARGO_BIN_EXE_installer"))
                .args(args)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            let mut stdout = child.stdout.take().unwrap();
            let mut one = [0u8; 1];
            let _ = stdout.read(&mut one);
            drop(stdout);
            let out = child.wait_with_output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
            assert_ne!(out.status.code(), Some(101), "{args:?}: {stderr}");
        }
    }
}

/// Every error found before the first AWS call is a usage error: one line, `error: ...; see
/// ... --help`, exit 2, whether clap found it (`--keep many`) or the checks after it did
/// (`--keep 0` exited 1 in another format), and one whose value came from an environment
/// variable names the variable, not only the flag (`INSTALLER_KEEP=abc` blamed `--keep`).
#[test]
fn errors_before_any_request_are_usage_errors_that_name_their_source() {
    let closed = "http://127.0.0.1:9";
    for (args, env, expected) in [
        (
            &["up", "--keep", "0"][..],
            None,
            "--keep must be from 1 to 1000",
        ),
        (&["up", "--keep", "many"][..], None, "invalid value 'many'"),
        (
            &["plan"][..],
            Some(("INSTALLER_KEEP", "abc")),
            "environment variable INSTALLER_KEEP",
        ),
        (
            &["up"][..],
            Some(("INSTALLER_KEEP", "0")),
            "environment variable INSTALLER_KEEP",
        ),
        (
            &["report", "--rpo", "soon"][..],
            None,
            "--rpo \"soon\" is not a duration",
        ),
        (
            &["status", "--endpoint-url", "not-a-url"][..],
            None,
            "invalid --endpoint-url \"not-a-url\"",
        ),
    ] {
        let mut command = Command::new(env!("CARGO_BIN_EXE_installer"));
        command
            .args(args)
            .env("AWS_ENDPOINT_URL", closed)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env_remove("INSTALLER_KEEP");
        if let Some((name, value)) = env {
            command.env(name, value);
        }
        let out = command.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(stderr.trim_end().ends_with("--help`"), "{args:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    }
}

/// With `--output json` a failure is a JSON document on stdout too (it printed nothing, so a
/// script reading stdout with `jq` learnt nothing), in the published schema: the command, and
/// the error's kind (usage, exit 2; failure, exit 1) and message.
#[test]
fn with_output_json_a_failure_is_a_document_on_stdout() {
    let closed = "http://127.0.0.1:9";
    for (args, code, kind) in [
        (&["--output", "json", "up", "--keep", "0"][..], 2, "usage"),
        (&["--output", "json", "restore"][..], 2, "usage"),
        (&["--output", "json", "status"][..], 1, "failure"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_installer"))
            .args(args)
            .env("AWS_ENDPOINT_URL", closed)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(code), "{args:?}");
        let document: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: one JSON document on stdout: {e}"));
        crate::support::schema::assert_valid(&document);
        assert_eq!(document["command"], args[2], "{document}");
        assert_eq!(document["error"]["kind"], kind, "{document}");
        assert!(
            !document["error"]["message"].as_str().unwrap().is_empty(),
            "{document}"
        );
    }
}
