//! Gating another implementation through the binary: expectation files (the ratchet, orphans,
//! expiry), the empty-run guard (also as nextest drives the harness), reports and recordings
//! against a server reached over the network, and no secret in any of them.

use std::path::{Path, PathBuf};
use std::process::Output;

use emconform::fixture::{Fixture, FixtureOptions};

use crate::support::{
    PASSWORD_VAR, against, assert_no_secret, binary, emconform, emconform_with, files, fresh_dir,
    path, target_args, text,
};

/// A deviating server: the retry answers 200 instead of 202 (the retry and task trials fail).
const FAULT: [&str; 2] = ["--fault", "retry-status-200"];
/// The two trials of the retry's answer.
const ANSWER: &str = "jobs::retry::answer";

/// An expectation file with `content`, in a fresh directory of its own.
fn expectation_file(name: &str, content: &str) -> PathBuf {
    let file = fresh_dir(name).join("expect.toml");
    std::fs::write(&file, content).expect("write the expectation file");
    file
}

#[test]
fn an_expectation_file_turns_a_known_failure_green_then_fails_when_it_is_fixed() {
    let file = fresh_dir("ratchet").join("expect.toml");

    // Learn the failures of the deviating server.
    let out = emconform(&[FAULT[0], FAULT[1], "--update-expect", path(&file)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let written = std::fs::read_to_string(&file).expect("the written expectation file");
    assert!(
        written.contains("trial = \"jobs::retry::answer::xml\""),
        "{written}"
    );
    assert!(
        written.contains("trial = \"jobs::retry::answer::json\""),
        "{written}"
    );
    assert!(!written.contains("without_session"), "{written}");

    // A person writes the reason; the ratchet keeps it.
    let edited = written.replacen(
        "reason = \"status: expected 202, got 200 (added by --update-expect",
        "reason = \"EM-12: retry answers 200 (added by --update-expect",
        1,
    );
    std::fs::write(&file, &edited).expect("write the expectation file");

    // The same server now passes its gate, although libtest reports the failures.
    let out = emconform(&[FAULT[0], FAULT[1], "--expect", path(&file)]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(text(&out.stdout).contains("test result: FAILED."));
    assert!(
        stderr.contains("expectations ") && stderr.contains(" expected failure(s)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("failure(s) above are all expected"),
        "{stderr}"
    );

    // The fixed server fails it until the entries go.
    let out = emconform(&["--expect", path(&file)]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(101), "{stderr}");
    assert!(
        stderr.contains("now passes: jobs::retry::answer::json (listed at "),
        "{stderr}"
    );
    assert!(
        stderr.contains("now passes: jobs::retry::answer::xml"),
        "{stderr}"
    );

    // --update-expect on the fixed server empties the list, keeping nothing stale.
    let out = emconform(&["--update-expect", path(&file)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        !std::fs::read_to_string(&file)
            .expect("the updated expectation file")
            .contains("[[expected]]")
    );

    // And a reason survives an update while its trial still fails.
    std::fs::write(&file, &edited).expect("write the expectation file");
    let out = emconform(&[FAULT[0], FAULT[1], "--update-expect", path(&file)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        std::fs::read_to_string(&file)
            .expect("the updated expectation file")
            .contains("EM-12: retry answers 200")
    );
}

#[test]
fn a_new_failure_fails_the_gate_and_says_which() {
    let file = expectation_file(
        "new",
        "[[expected]]\ntrial = \"jobs::retry::answer::xml\"\nreason = \"EM-12\"\n",
    );
    let out = emconform(&[FAULT[0], FAULT[1], ANSWER, "--expect", path(&file)]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(101), "{stderr}");
    assert!(
        stderr.contains("1 expected failure(s), 1 new failure(s)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("new failure: jobs::retry::answer::json"),
        "{stderr}"
    );
}

#[test]
fn an_entry_naming_no_trial_fails_the_run() {
    let file = expectation_file(
        "orphan",
        "[[expected]]\ntrial = \"jobs::retry::renamed::xml\"\nreason = \"old name\"\n",
    );
    let out = emconform(&["--expect", path(&file)]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(101), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "names no trial: jobs::retry::renamed::xml (listed at {}:2:9",
            file.display()
        )),
        "{stderr}"
    );
    // One trial run alone (nextest's way) reads one case file, so it cannot know.
    let out = emconform(&[
        "--expect",
        path(&file),
        "--exact",
        "jobs::retry::without_session::xml",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn an_expired_entry_fails_the_run() {
    let file = expectation_file(
        "expired",
        "[[expected]]\ntrial = \"jobs::retry::answer::xml\"\nreason = \"EM-12\"\nexpires = 2020-01-31\n\
         [[expected]]\ntrial = \"jobs::retry::answer::json\"\nreason = \"EM-12\"\nexpires = 2999-12-31\n",
    );
    let out = emconform(&[FAULT[0], FAULT[1], ANSWER, "--expect", path(&file)]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(101), "{stderr}");
    assert!(
        stderr.contains("expired: jobs::retry::answer::xml (listed at ")
            && stderr.contains("until 2020-01-31"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("expired: jobs::retry::answer::json"),
        "{stderr}"
    );
}

#[test]
fn a_broken_expectation_file_is_a_usage_error_with_its_line() {
    let file = expectation_file("broken", "[[expected]]\ntrial = \"a::xml\"\n");
    let out = emconform(&["--expect", path(&file)]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("expect.toml:1:1: missing field `reason`"),
        "{stderr}"
    );
}

#[test]
fn an_empty_selection_exits_2_unless_allowed() {
    let out = emconform(&["--exact", "jobs::retry::no_such_case::xml"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("no trial was selected, so nothing was checked"),
        "{stderr}"
    );

    let out = emconform(&["no-such-filter", "--allow-empty"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = emconform_with(&["no-such-filter"], &[("EMCONFORM_ALLOW_EMPTY", "true")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

/// A case directory with one `must` and one `may` case (the project has no `may` case yet).
fn cases_with_a_may_case() -> PathBuf {
    let dir = fresh_dir("may-cases");
    let source = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("cases/jobs/retry/without_session.toml"),
    )
    .expect("the case file")
    .replace("snapshot = \"refused\"\n", "");
    assert!(
        !source.contains("snapshot"),
        "the copies have no snapshots of their own"
    );
    std::fs::write(dir.join("refused.toml"), &source).expect("write a case file");
    std::fs::write(
        dir.join("inferred.toml"),
        source.replace("level = \"must\"", "level = \"may\""),
    )
    .expect("write a case file");
    dir
}

#[test]
fn nextest_s_protocol_never_trips_the_empty_run_guard() {
    let cases = cases_with_a_may_case();
    let nextest = [
        ("NEXTEST_EXECUTION_MODE", "process-per-test"),
        ("NEXTEST", "1"),
    ];
    let common = ["--cases", path(&cases), "--snapshots", path(&cases)];

    // Listing: all trials, then the ignored ones.
    let out = emconform_with(
        &[&common[..], &["--list", "--format", "terse"]].concat(),
        &nextest,
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("[may] inferred::xml: test"));
    let out = emconform_with(
        &[&common[..], &["--list", "--format", "terse", "--ignored"]].concat(),
        &nextest,
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out.stdout)
            .lines()
            .filter(|l| l.ends_with(": test"))
            .count(),
        2
    );

    // `cargo nextest run --run-ignored all` runs an ignored trial alone with --ignored.
    let out = emconform_with(
        &[
            &common[..],
            &["--ignored", "--exact", "[may] inferred::xml", "--nocapture"],
        ]
        .concat(),
        &nextest,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("1 passed"),
        "{}",
        text(&out.stdout)
    );

    // The same trial asked for by hand, without --ignored, checks nothing: the guard says so.
    let out = emconform(&[&common[..], &["--exact", "[may] inferred::xml"]].concat());
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("every selected trial was ignored")
            && stderr.contains("weaker than --level should: run it with --level may"),
        "{stderr}"
    );

    // Under nextest, a name that matches no trial is an error, not an empty pass.
    let out = emconform_with(
        &[&common[..], &["--exact", "[must] gone::xml"]].concat(),
        &nextest,
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));

    // A program a test starts inherits nextest's variables; without --exact it is a whole run.
    let out = emconform_with(&common, &nextest);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("2 passed; 0 failed; 2 ignored"));

    // Whole-run outputs make no sense per process.
    let out = emconform_with(
        &[
            &common[..],
            &["--exact", "refused::xml", "--report", "json=x.json"],
        ]
        .concat(),
        &nextest,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("nextest's JUnit output"));
}

/// The fixture as a remote server, reached over the network as a real EM would be.
struct Remote {
    _runtime: tokio::runtime::Runtime,
    fixture: Fixture,
}

impl Remote {
    fn start() -> Remote {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let fixture = runtime
            .block_on(Fixture::start(FixtureOptions::default()))
            .expect("fixture");
        Remote {
            _runtime: runtime,
            fixture,
        }
    }

    /// The account's password, which the binary reads from [`PASSWORD_VAR`].
    fn password(&self) -> String {
        self.fixture.credentials().password.expose().to_string()
    }

    /// Runs the binary against it with `extra` arguments and environment variables.
    fn run(&self, extra: &[&str], env: &[(&str, &str)]) -> Output {
        against(
            self.fixture.api_base().as_str(),
            &self.fixture.credentials().user,
            &self.password(),
        )
        .args(extra)
        .envs(env.iter().copied())
        .output()
        .expect("the binary runs")
    }
}

#[test]
fn a_run_whose_every_trial_is_ignored_exits_2_but_one_nextest_process_passes() {
    let remote = Remote::start();
    // Safe mode: the retry trials start jobs, so on a remote target they are ignored.
    let out = remote.run(&[ANSWER], &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("every selected trial was ignored") && stderr.contains("2 × safe mode"),
        "{stderr}"
    );
    let out = remote.run(&[ANSWER, "--allow-empty"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    // nextest has no "skipped at run time": its process passes and shows the reason.
    let out = remote.run(
        &["--exact", "[must] jobs::retry::answer::xml", "--nocapture"],
        &[("NEXTEST_EXECUTION_MODE", "process-per-test")],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("ignored (safe mode"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn reports_and_recordings_of_a_remote_run_hold_no_secret() {
    let remote = Remote::start();
    let dir = fresh_dir("remote-reports");
    let jobs: Vec<String> = remote
        .fixture
        .seeded_jobs()
        .into_iter()
        .map(|(role, job)| format!("{role}={}", job.id))
        .chain(
            // Each retry takes a failed job for itself: a second one for the second format.
            remote
                .fixture
                .provision_job("failed")
                .map(|job| format!("failed={}", job.id)),
        )
        .collect();
    let mut side_effects: Vec<String> = vec!["--allow-side-effects".into()];
    for job in &jobs {
        side_effects.extend(["--job".to_string(), job.clone()]);
    }
    let mut args = side_effects.clone();
    for kind in ["junit", "json", "markdown"] {
        args.extend([
            "--report".to_string(),
            format!("{kind}={}", dir.join(format!("report.{kind}")).display()),
        ]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = remote.run(&args, &[]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));

    // `record` is a subcommand: it comes first, then the same target options.
    let recording = dir.join("recording");
    let api_base = remote.fixture.api_base().to_string();
    let user = remote.fixture.credentials().user;
    let record = binary()
        .args(["record", "--out", path(&recording)])
        .args(target_args(&api_base, &user))
        .args(&side_effects)
        .env(PASSWORD_VAR, remote.password())
        .output()
        .expect("the binary runs");
    assert_eq!(record.status.code(), Some(0), "{}", text(&record.stderr));
    assert!(
        text(&record.stderr).contains("recorded "),
        "{}",
        text(&record.stderr)
    );

    let report = std::fs::read_to_string(dir.join("report.json")).expect("the JSON report");
    let json: serde_json::Value = serde_json::from_str(&report).expect("the report is JSON");
    assert_eq!(json["target"]["kind"], "remote");
    assert_eq!(
        json["target"]["base_url"],
        remote.fixture.api_base().as_str()
    );
    assert_eq!(json["result"]["exit_status"], 0);

    let mut texts = vec![
        text(&run.stdout),
        text(&run.stderr),
        text(&record.stdout),
        text(&record.stderr),
    ];
    texts.extend(files(&dir).into_iter().map(|(_, content)| content));
    assert!(texts.len() > 10, "reports and recording files were written");
    let secrets = remote.fixture.secrets();
    assert!(secrets.len() > 1, "the runs logged on");
    for t in &texts {
        assert_no_secret(t, &secrets);
    }
}

#[test]
fn record_and_compare_show_where_a_server_differs_from_the_fixture() {
    let dir = fresh_dir("compare");
    let (fixture, faulted) = (dir.join("fixture"), dir.join("faulted"));
    let out = emconform(&["record", "--out", path(&fixture)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = emconform(&["record", FAULT[0], FAULT[1], "--out", path(&faulted)]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "a recording judges nothing: {}",
        text(&out.stderr)
    );

    let out = emconform(&["compare", path(&fixture), path(&faulted)]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("≠ jobs::retry::answer::xml"), "{stdout}");
    assert!(
        stdout.contains("outcome: A passed; B failed (status: expected 202, got 200)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("-status: 202") && stdout.contains("+status: 200"),
        "{stdout}"
    );
    assert!(
        stdout.contains(" differ, 0 only in A, 0 only in B"),
        "{stdout}"
    );

    let out = emconform(&["compare", path(&fixture), path(&fixture)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let out = emconform(&["compare", path(&fixture), path(&dir.join("nothing"))]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("is not a recording"));

    // Re-recording replaces a recording, but never a directory of other files.
    let out = emconform(&["record", "--out", path(&fixture), "without_session"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("recorded 2 trial(s)"));
    let out = emconform(&["record", "--out", path(&dir)]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn bad_report_options_are_usage_errors() {
    let out = emconform(&["--report", "html=x.html"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unknown report kind \"html\""));
    let out = emconform(&["--report", "junit"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("expected KIND=PATH"));
}
