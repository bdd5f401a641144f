//! The `emconform` binary as a user runs it: listing, exit statuses, and what it prints for bad
//! input and unreachable targets.

use std::path::PathBuf;
use std::process::{Command, Output};

fn emconform(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_emconform"))
        .args(args)
        .env_remove("CI")
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A fresh directory for case files.
fn case_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("emconform-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[test]
fn list_shows_every_trial_with_its_level() {
    let out = emconform(&["--list"]);
    assert!(out.status.success());
    let stdout = text(&out.stdout);
    for trial in [
        "[must] jobs::retry::failed_job::xml: test",
        "[must] jobs::retry::failed_job::json: test",
        "[must] jobs::retry::without_session::xml: test",
    ] {
        assert!(stdout.contains(trial), "missing {trial} in:\n{stdout}");
    }
}

#[test]
fn the_suite_passes_on_the_fixture_and_a_fault_exits_101() {
    let out = emconform(&["--exact", "jobs::retry::failed_job::xml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let out = emconform(&[
        "--fault",
        "retry-status-200",
        "--exact",
        "jobs::retry::failed_job::xml",
    ]);
    assert_eq!(out.status.code(), Some(101));
    assert!(text(&out.stdout).contains("✗ status: expected 202, got 200"));
}

#[test]
fn json_format_output_stays_parseable() {
    let out = emconform(&["--format", "json", "-Z", "unstable-options"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for line in text(&out.stdout).lines().filter(|l| !l.trim().is_empty()) {
        assert!(
            line.starts_with('{') && line.ends_with('}'),
            "not a JSON event: {line}"
        );
    }
}

#[test]
fn a_malformed_case_names_file_line_column_and_field_and_exits_2() {
    let dir = case_dir("malformed");
    std::fs::write(
        dir.join("bad.toml"),
        "title = \"x\"\nspec = \"2.2\"\nlevel = \"must\"\n[[steps]]\nname = \"s\"\nmethod = \"GET\"\npath = \"/\"\n[steps.expect]\nstatsu = 200\n",
    )
    .unwrap();
    let out = emconform(&["--cases", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("bad.toml:9:1: unknown field `statsu`"),
        "{stderr}"
    );
    assert!(stderr.contains("9 | statsu = 200"), "{stderr}");
}

#[test]
fn unknown_options_faults_and_unreachable_targets_exit_2() {
    let out = emconform(&["--no-such-option"]);
    assert_eq!(out.status.code(), Some(2));

    let out = emconform(&["--fault", "no-such-fault"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unknown fault \"no-such-fault\"; faults are: "));

    let out = Command::new(env!("CARGO_BIN_EXE_emconform"))
        .args([
            "--target",
            "http://127.0.0.1:1/api",
            "--user",
            "u",
            "--password-env",
            "EMCONFORM_TEST_PW",
        ])
        .env("EMCONFORM_TEST_PW", "pw-never-shown")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("could not connect to 127.0.0.1:1"),
        "{stderr}"
    );
    assert!(!stderr.contains("pw-never-shown"));
}
