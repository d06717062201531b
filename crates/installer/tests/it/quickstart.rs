//! The README's quickstart, run as written: the `installer` lines of its one `sh` block, in
//! order, against the emulator through the strict layer (a stack and table of the test's own,
//! given as the environment variables a reader's shell could set, and the zip `make` built).

use crate::support::cli::{built_zip_path, installer_at, installer_ok, remove_all};
use test_support::unique_name;

/// The quickstart's commands: each `installer` line's words, and the file its stdout goes to.
fn quickstart() -> Vec<(Vec<String>, Option<String>)> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("the README");
    let section = readme
        .split_once("## Quickstart")
        .expect("a Quickstart section")
        .1;
    let section = section.split_once("\n## ").map_or(section, |(s, _)| s);
    let block = section
        .split_once("```sh\n")
        .and_then(|(_, rest)| rest.split_once("\n```"))
        .expect("its sh block")
        .0;
    block
        .lines()
        .filter(|l| l.starts_with("installer "))
        .map(|line| {
            let line = line.split_once(" #").map_or(line, |(command, _)| command);
            let (command, out) = match line.split_once('>') {
                Some((command, file)) => (command, Some(file.trim().to_owned())),
                None => (line, None),
            };
            let words = command
                .split_whitespace()
                .skip(1)
                .map(str::to_owned)
                .collect();
            (words, out)
        })
        .collect()
}

#[test]
fn the_readmes_quickstart_runs_as_written() {
    let steps = quickstart();
    let names: Vec<&str> = steps.iter().map(|(w, _)| w[0].as_str()).collect();
    assert_eq!(
        names,
        ["policy", "plan", "up", "invoke", "status", "report"],
        "the quickstart's steps"
    );
    let (stack, table) = (unique_name("qs"), unique_name("Movies"));
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(&stack);
    std::fs::create_dir_all(&dir).unwrap();
    let zip = built_zip_path().display().to_string();
    for (words, out) in &steps {
        let output = installer_at(&test_support::aws_endpoint())
            .current_dir(&dir)
            .env("INSTALLER_STACK", &stack)
            .env("INSTALLER_TABLES", &table)
            .env("INSTALLER_ZIP", &zip)
            .args(words)
            .output()
            .expect("run installer");
        assert!(
            output.status.success(),
            "installer {words:?} failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        if let Some(file) = out {
            std::fs::write(dir.join(file), &output.stdout).unwrap();
        }
    }
    let policy: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.join("operator-policy.json")).expect("the policy file"),
    )
    .expect("a policy document");
    assert_eq!(policy["Version"], "2012-10-17");
    installer_ok(&remove_all(&stack));
    let _ = std::fs::remove_dir_all(&dir);
}
