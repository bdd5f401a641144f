//! The `emconform` binary as a user runs it: listing, exit statuses, and what it prints for bad
//! input and unreachable targets.

use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::Stdio;

use crate::support::{against, binary, emconform, fresh_dir, path, text};

#[test]
fn list_shows_every_trial_with_its_level() {
    let out = emconform(&["--list"]);
    assert!(out.status.success());
    let stdout = text(&out.stdout);
    for trial in [
        "[must] jobs::retry::answer::xml: test",
        "[must] jobs::retry::answer::json: test",
        "[must] jobs::retry::without_session::xml: test",
        "[should] negotiation::accept_any::xml: test",
        "[may] tasks::gone_after_delete::json: test",
    ] {
        assert!(stdout.contains(trial), "missing {trial} in:\n{stdout}");
    }
}

#[test]
fn the_suite_passes_on_the_fixture_and_a_fault_exits_101() {
    let out = emconform(&["--exact", "jobs::retry::answer::xml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let out = emconform(&[
        "--fault",
        "retry-status-200",
        "--exact",
        "jobs::retry::answer::xml",
    ]);
    assert_eq!(out.status.code(), Some(101));
    assert!(text(&out.stdout).contains("✗ status: expected 202, got 200"));
}

/// `emconform | head` ends the way command-line tools end on a closed pipe: status 141 (what a
/// shell reports for SIGPIPE), nothing on stderr, no panic.
#[test]
fn a_closed_standard_output_ends_the_run_quietly() {
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    let out = binary()
        .args(["--level", "may"])
        .stdout(writer)
        .output()
        .expect("the binary runs");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(141), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// SIGPIPE stays ignored, so that a peer closing a socket mid-write is an error the server or
/// the run handles, not the end of the process (`serve` died of it in the soak, with SIGPIPE's
/// default action restored).
#[cfg(target_os = "linux")]
#[test]
fn serve_ignores_sigpipe() {
    let mut child = binary()
        .args(["serve", "--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("emconform serve starts");
    let stdout = BufReader::new(child.stdout.take().expect("piped"));
    let started = stdout
        .lines()
        .map_while(Result::ok)
        .any(|line| line == "Stop with Ctrl-C.");
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id()));
    let _ = child.kill();
    let _ = child.wait();
    assert!(started, "serve printed its address");
    let ignored = status
        .expect("the server's /proc status")
        .lines()
        .find_map(|l| l.strip_prefix("SigIgn:"))
        .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        .expect("a SigIgn mask");
    assert_ne!(
        ignored & (1 << (libc::SIGPIPE - 1)),
        0,
        "SigIgn {ignored:x}"
    );
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
    let dir = fresh_dir("malformed");
    std::fs::write(
        dir.join("bad.toml"),
        "title = \"x\"\nspec = \"2.2\"\nlevel = \"must\"\n[[steps]]\nname = \"s\"\nmethod = \"GET\"\npath = \"/\"\n[steps.expect]\nstatsu = 200\n",
    )
    .expect("write a case file");
    let out = emconform(&["--cases", path(&dir)]);
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

    let unreachable = || against("http://127.0.0.1:1/api", "u", "pw-never-shown");
    let out = unreachable().output().expect("the binary runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("could not connect to 127.0.0.1:1"),
        "{stderr}"
    );
    assert!(!stderr.contains("pw-never-shown"));

    // The second account's password variable is checked before anything is sent.
    let out = unreachable()
        .args([
            "--portal-user",
            "DOMAIN\\portal",
            "--portal-password-env",
            "EMCONFORM_TEST_NOT_SET",
        ])
        .env_remove("EMCONFORM_TEST_NOT_SET")
        .output()
        .expect("the binary runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("the environment variable EMCONFORM_TEST_NOT_SET is not set"),
        "{stderr}"
    );
}

#[test]
fn may_trials_are_ignored_unless_asked_for_and_the_summary_counts_levels() {
    let out = emconform(&["tasks::"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let stdout = text(&out.stdout);
    assert!(
        stdout.lines().any(|l| l.contains("[may]")
            && l.contains("tasks::gone_after_delete::xml")
            && l.ends_with("ignored")),
        "{stdout}"
    );
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("emconform: must: 8 passed, 0 failed, 0 ignored; may: 0 passed, 0 failed, 2 ignored (weaker than --level should: run them with --level may or --include-ignored)"),
        "{stderr}"
    );

    for args in [
        &["--level", "may", "tasks::"][..],
        &["--include-ignored", "tasks::"],
    ] {
        let out = emconform(args);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains(
                "must: 8 passed, 0 failed, 0 ignored; may: 2 passed, 0 failed, 0 ignored"
            ),
            "{stderr}"
        );
    }

    // --level must: `should` trials are ignored too.
    let out = emconform(&["--level", "must", "negotiation::"]);
    assert_eq!(out.status.code(), Some(0));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("should: 0 passed, 0 failed, 2 ignored"),
        "{stderr}"
    );
}

#[test]
fn coverage_prints_the_committed_table() {
    let out = emconform(&["coverage"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let committed = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("cases/COVERAGE.md"),
    )
    .expect("cases/COVERAGE.md");
    assert_eq!(text(&out.stdout), committed);
}

#[test]
fn self_check_prints_the_kill_matrix_and_exits_101_when_faults_go_undetected() {
    // One case detects few of the faults: the check is not perfect, and says which and why.
    let dir = fresh_dir("self-check");
    let logout = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("cases/session/logout.toml");
    std::fs::create_dir_all(dir.join("session")).expect("a case directory");
    std::fs::copy(logout, dir.join("session/logout.toml")).expect("copy a case");
    let out = emconform(&["self-check", "--cases", path(&dir)]);
    assert_eq!(out.status.code(), Some(101), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for expected in [
        "2 trials (1 cases) against the clean fixture",
        "✓ logout-status-200",
        "✗ retry-status-200",
        "NOT DETECTED: no failure shows \"expected 202, got 200\"",
        "✓ clean",
        "session::logout",
        "logout-status-200*",
        "Trials that detect no fault: none",
        "(NOT PERFECT)",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
