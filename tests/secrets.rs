//! No secret reaches any channel: failing trials are run with a known password (and the session
//! ids the server hands out, which the server then lists), and everything emconform writes is
//! searched for them — stdout and stderr of a run (pretty, with progress, and `--format json`),
//! the JUnit, JSON and Markdown reports, an `--update-expect` file, a recording (`record`) and
//! `compare`'s output, and the snapshot files a failing fixture run writes (`.snap.new`, into a
//! copy of `snapshots/`).
//!
//! The runs go through the binary against `emconform serve`-style servers started here, so the
//! secrets are known. Snapshots are only written against the embedded fixture, whose secrets the
//! binary keeps to itself, so that channel runs through `runner::run_all` on a fixture started
//! here, with the snapshot store in the same mode the binary uses on the fixture. This test has a
//! harness of its own (`harness = false`) so that `main` can tell insta to write `.snap.new` files
//! before any thread starts, also where `CI` is set.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;
use std::time::Duration;

use emconform::case::load_cases;
use emconform::fixture::{ADMIN_USER, Fault, FixtureOptions};
use emconform::http::HttpConfig;
use emconform::runner::{Policy, RunSettings, Verdict, plan, run_all};
use emconform::secret::{Credentials, Redactor};
use emconform::serve::{ServeOptions, Server};
use emconform::snapshot::{SnapshotMode, Snapshots};
use emconform::target_server::start_fixture;
use libtest_mimic::{Arguments, Trial};

mod support;
use support::{PASSWORD_VAR, binary, files, fresh_dir, target_args, text};

const PORTAL_PASSWORD_VAR: &str = "EMCONFORM_TEST_PORTAL_PASSWORD";
/// Deviations whose failures print what carries secrets: logon answers (the token header and
/// the LogonSession), and retries with the session header in their curl lines.
const FAULTS: [Fault; 2] = [Fault::LogonWithoutSessionId, Fault::RetryStatus200];

fn main() -> std::process::ExitCode {
    let dir = fresh_dir("channels");
    // SAFETY: the first thing `main` does, before any other thread exists.
    unsafe {
        // Write every differing snapshot as `.snap.new` (whether or not CI is set), print nothing.
        std::env::set_var("INSTA_UPDATE", "new");
        std::env::set_var("INSTA_OUTPUT", "none");
        std::env::set_var("INSTA_WORKSPACE_ROOT", &dir);
    }
    let args = Arguments::from_args();
    let check = Trial::test("no_secret_reaches_any_channel", move || {
        no_secret_reaches_any_channel(&dir);
        Ok(())
    });
    libtest_mimic::run(&args, vec![check]).exit_code()
}

/// The secrets of an account: its password and its `Authorization: Basic` value.
fn account_secrets(account: &Credentials) -> Vec<String> {
    let basic = account.basic_authorization();
    vec![
        account.password.expose().to_string(),
        basic.expose().trim_start_matches("Basic ").to_string(),
    ]
}

/// Fails naming the channel and the secret's kind when one appears anywhere.
fn assert_clean(channels: &[(String, String)], secrets: &[String]) {
    for (channel, content) in channels {
        for (index, secret) in secrets.iter().enumerate() {
            assert!(
                !content.contains(secret.as_str()),
                "secret #{index} (of {}) leaked into {channel}:\n{content}",
                secrets.len()
            );
        }
    }
}

/// The account, password environment and portal account options for `server`.
fn account_args(server: &Server, portal: &Credentials) -> Vec<String> {
    let mut args: Vec<String> = target_args(server.api_base().as_str(), &server.credentials().user)
        .map(str::to_string)
        .to_vec();
    args.extend(
        [
            "--portal-user",
            &portal.user,
            "--portal-password-env",
            PORTAL_PASSWORD_VAR,
        ]
        .map(str::to_string),
    );
    args
}

/// Runs the binary with both accounts' passwords in their variables.
fn emconform(args: &[String], password: &str, portal: &Credentials) -> Output {
    binary()
        .args(args)
        .env(PASSWORD_VAR, password)
        .env(PORTAL_PASSWORD_VAR, portal.password.expose())
        .output()
        .expect("the binary runs")
}

/// What one server's runs wrote, the secrets it knows, and its recording.
type Channels = (Vec<(String, String)>, Vec<String>, PathBuf);

/// Runs the binary against a server with `fault` and the known `account`: a suite run with every
/// report, an `--update-expect` file and progress; a `--format json` run; a recording.
fn binary_channels(
    runtime: &tokio::runtime::Runtime,
    dir: &Path,
    account: &Credentials,
    fault: Fault,
) -> Channels {
    let password = account.password.expose().to_string();
    let mut channels = Vec::new();
    let mut secrets = Vec::new();
    let name = format!("{fault:?}");
    let server = runtime
        .block_on(Server::start(ServeOptions {
            fault: Some(fault),
            jobs_per_role: 16,
            credentials: Some(account.clone()),
            ..ServeOptions::default()
        }))
        .expect("the server starts");
    let portal = server.fixture().portal_credentials();
    let mut target = account_args(&server, &portal);
    // 16 trials at a time, not a remote target's 4: the runs mostly wait between polls.
    target.extend(["--allow-side-effects", "--test-threads", "16"].map(str::to_string));
    for (role, job) in server.jobs() {
        target.extend(["--job".to_string(), format!("{role}={}", job.id)]);
    }
    let out = dir.join(&name);
    let mut run = target.clone();
    run.extend(
        [
            format!("junit={}", out.join("report.xml").display()),
            format!("json={}", out.join("report.json").display()),
            format!("markdown={}", out.join("report.md").display()),
        ]
        .into_iter()
        .flat_map(|r| ["--report".to_string(), r]),
    );
    run.extend([
        "--update-expect".into(),
        out.join("expect.toml").display().to_string(),
    ]);
    run.push("--progress".into());
    let pretty = emconform(&run, &password, &portal);
    assert!(
        text(&pretty.stdout).contains("... FAILED"),
        "{name}: trials failed:\n{}",
        text(&pretty.stdout)
    );
    let mut json = target.clone();
    json.extend(["--format", "json", "--await-deadline", "2s"].map(str::to_string));
    let json = emconform(&json, &password, &portal);
    let recording = out.join("recording");
    let mut record = vec![
        "record".to_string(),
        "--out".into(),
        recording.display().to_string(),
    ];
    record.extend(target);
    let record = emconform(&record, &password, &portal);
    assert_eq!(record.status.code(), Some(0), "{}", text(&record.stderr));
    for (what, output) in [
        ("run", &pretty),
        ("--format json run", &json),
        ("record", &record),
    ] {
        channels.push((
            format!("{name}: stdout of the {what}"),
            text(&output.stdout),
        ));
        channels.push((
            format!("{name}: stderr of the {what}"),
            text(&output.stderr),
        ));
    }
    // The server knows every token it issued (and the session id each encodes).
    secrets.extend(server.fixture().secrets());
    secrets.extend(account_secrets(&portal));
    (channels, secrets, recording)
}

/// Snapshots: a failing run per fault against a fixture, writing into `store`, a copy of the
/// committed store. The failure messages are channels too.
fn fixture_channels(
    runtime: &tokio::runtime::Runtime,
    store: &Path,
    account: &Credentials,
) -> (Vec<(String, String)>, Vec<String>) {
    let (mut channels, mut secrets) = (Vec::new(), Vec::new());
    std::fs::create_dir_all(store).expect("snapshot store");
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("snapshots");
    for (file, content) in files(&committed) {
        let name = file.file_name().expect("a file name");
        std::fs::write(store.join(name), content).expect("a copy");
    }
    let specs =
        plan(&load_cases(&Path::new(env!("CARGO_MANIFEST_DIR")).join("cases")).expect("cases"));
    for fault in FAULTS {
        let target = runtime
            .block_on(start_fixture(
                FixtureOptions {
                    fault: Some(fault),
                    credentials: Some(account.clone()),
                    ..FixtureOptions::default()
                },
                Default::default(),
                HttpConfig::default(),
                &Redactor::new(),
                "latest",
            ))
            .expect("the fixture starts");
        let target = Arc::new(target);
        let settings = Arc::new(RunSettings {
            await_deadline: Duration::from_secs(2),
            poll_initial: Duration::ZERO,
            poll_max: Duration::from_millis(20),
            // What `emconform` uses on the embedded fixture: golden files, `.snap.new` on a
            // difference.
            snapshots: Snapshots::new(store, SnapshotMode::Assert),
        });
        let policy = Policy {
            allow_side_effects: true,
        };
        let outcomes = runtime.block_on(run_all(&specs, target.clone(), settings, policy, 8));
        assert!(
            outcomes
                .iter()
                .any(|o| matches!(o.verdict, Verdict::Failed(_)))
        );
        for o in &outcomes {
            if let Verdict::Failed(message) = &o.verdict {
                channels.push((format!("{fault:?}: failure of {}", o.id), message.clone()));
            }
        }
        let fixture = target.embedded_fixture().expect("a fixture target");
        secrets.extend(fixture.secrets());
        secrets.extend(account_secrets(&fixture.portal_credentials()));
    }
    (channels, secrets)
}

fn no_secret_reaches_any_channel(dir: &Path) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let password = format!("known-password-{}", uuid::Uuid::new_v4().simple());
    let account = Credentials::new(ADMIN_USER, password.clone());
    let mut channels: Vec<(String, String)> = Vec::new();
    let mut secrets: Vec<String> = account_secrets(&account);
    let mut recordings = Vec::new();

    // One server per fault, and the snapshot runs, side by side.
    let store = dir.join("snapshots");
    let (per_fault, (snapshot_channels, snapshot_secrets)) = std::thread::scope(|scope| {
        let runs: Vec<_> = FAULTS
            .into_iter()
            .map(|fault| {
                let (runtime, account) = (&runtime, &account);
                scope.spawn(move || binary_channels(runtime, dir, account, fault))
            })
            .collect();
        let snapshots = fixture_channels(&runtime, &store, &account);
        let per_fault: Vec<Channels> = runs
            .into_iter()
            .map(|r| r.join().expect("a fault's runs"))
            .collect();
        (per_fault, snapshots)
    });
    channels.extend(snapshot_channels);
    secrets.extend(snapshot_secrets);
    for (fault_channels, fault_secrets, recording) in per_fault {
        channels.extend(fault_channels);
        secrets.extend(fault_secrets);
        recordings.push(recording);
    }
    let compare = binary()
        .arg("compare")
        .args(&recordings)
        .output()
        .expect("compare runs");
    assert_eq!(compare.status.code(), Some(1), "the recordings differ");
    channels.push(("stdout of compare".into(), text(&compare.stdout)));

    let new_snapshots = files(&store)
        .into_iter()
        .filter(|(path, _)| path.extension().is_some_and(|e| e == "new"))
        .count();
    assert!(new_snapshots > 0, "the failing runs wrote .snap.new files");

    for (path, content) in files(dir) {
        channels.push((path.display().to_string(), content));
    }
    secrets.sort();
    secrets.dedup();
    assert!(
        secrets.len() > 10,
        "sessions were opened: {}",
        secrets.len()
    );
    assert!(
        channels.len() > 20,
        "every channel was read: {}",
        channels.len()
    );
    assert_clean(&channels, &secrets);
    eprintln!(
        "secrets: {} secrets (passwords, Basic values, session tokens and ids) absent from {} \
         channels, among them {new_snapshots} .snap.new files",
        secrets.len(),
        channels.len()
    );
    let _ = std::fs::remove_dir_all(dir);
}
