//! `emconform [OPTIONS] [FILTER]`: load the cases, set up the target, run the trials, log out.

use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use url::Url;

use super::gate::{Finished, Gate};
use super::password::read_password;
use super::{EXIT_USAGE, PROJECT_ROOT, RunArgs, interrupted, skips};
use crate::case::{Level, LoadError};
use crate::fixture::{FixtureOptions, Profile};
use crate::http::{HttpClient, HttpConfig, Trust};
use crate::progress::Progress;
use crate::runner::{self, Policy, RunContext, RunSettings, TrialOutcome, TrialSpec};
use crate::secret::{Credentials, Redactor};
use crate::snapshot::{SnapshotMode, Snapshots};
use crate::target_server::{SetupError, Target, TargetKind, connect, start_fixture};

/// How often the progress display says what is running.
const PROGRESS_INTERVAL: Duration = Duration::from_secs(5);

pub(crate) fn usage_error(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("emconform: {message}");
    ExitCode::from(EXIT_USAGE)
}

/// Prints every case file error; nothing was `done` (run, recorded).
pub(crate) fn case_errors(errors: &[LoadError], done: &str) -> ExitCode {
    for e in errors {
        eprintln!("error: {e}");
    }
    usage_error(format!(
        "{} case file error(s); nothing was {done}",
        errors.len()
    ))
}

/// The run's async runtime (trials block on it from libtest's threads).
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    super::runtime().map_err(usage_error)
}

/// The directory an option names, or the project's own.
pub(crate) fn dir_or_default(given: &Option<PathBuf>, name: &str) -> PathBuf {
    given
        .clone()
        .unwrap_or_else(|| Path::new(PROJECT_ROOT).join(name))
}

/// Tells insta where the project is and keeps its own printing out of libtest's output (the diff
/// travels in the failure message instead). Called before any thread starts.
fn configure_insta(snapshots: &Path) {
    let root = snapshots
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    for (key, value) in [
        ("INSTA_OUTPUT", PathBuf::from("none")),
        ("INSTA_WORKSPACE_ROOT", root),
    ] {
        if std::env::var_os(key).is_none() {
            // SAFETY: called from `main`'s thread before any other thread exists.
            unsafe { std::env::set_var(key, value) };
        }
    }
}

/// Normalises a `--target` value to an API base ending in `/api/`.
pub fn api_base(target: &str) -> Result<Url, SetupError> {
    let mut url = Url::parse(target)
        .map_err(|e| SetupError::Config(format!("--target {target:?} is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(SetupError::Config(format!(
            "--target must be an http:// or https:// URL, not {target:?}"
        )));
    }
    let path = url.path().trim_end_matches('/').to_string();
    let path = if path.ends_with("/api") {
        path
    } else {
        format!("{path}/api")
    };
    url.set_path(&format!("{path}/"));
    url.set_query(None);
    Ok(url)
}

/// Trials run at once when `--test-threads` is not given, on the embedded fixture (measured with
/// `cargo bench --bench speed`: see README, Performance) and on a remote server (gentle on it).
pub const DEFAULT_TEST_THREADS_FIXTURE: usize = 8;
pub const DEFAULT_TEST_THREADS_REMOTE: usize = 4;

/// How trials wait when no option says otherwise: quick on the fixture (whose tasks finish after
/// polls, so polling starts at once), patient on real servers. An await polls at once, then after
/// pauses that double: on a remote target from 100 ms (a task that takes a second is noticed half
/// a second late at most, for two requests more than starting at 500 ms) up to 10 s.
pub fn default_run_settings(remote: bool, snapshots: Snapshots) -> RunSettings {
    RunSettings {
        await_deadline: Duration::from_secs(if remote { 600 } else { 10 }),
        poll_initial: if remote {
            Duration::from_millis(100)
        } else {
            Duration::ZERO
        },
        poll_max: if remote {
            Duration::from_secs(10)
        } else {
            Duration::from_millis(50)
        },
        snapshots,
    }
}

/// The run's timing: the defaults, with the options' overrides.
pub(crate) fn settings(
    args: &RunArgs,
    remote: bool,
    snapshots: Snapshots,
) -> (HttpConfig, RunSettings) {
    let trust = match (&args.ca_cert, args.insecure) {
        (Some(path), _) => Trust::CaCert(path.clone()),
        (None, true) => Trust::Insecure,
        (None, false) => Trust::Platform,
    };
    let http = HttpConfig {
        connect_timeout: args.connect_timeout.unwrap_or(Duration::from_secs(10)),
        request_timeout: args
            .request_timeout
            .unwrap_or(Duration::from_secs(if remote { 60 } else { 10 })),
        max_body_bytes: args.max_body_bytes,
        trust,
        // `start_fixture` pools every request; a remote target keeps the default.
        ..HttpConfig::default()
    };
    let mut run = default_run_settings(remote, snapshots);
    if let Some(deadline) = args.await_deadline {
        run.await_deadline = deadline;
    }
    (http, run)
}

/// Starts the fixture, or logs on to the remote target (its jobs are found afterwards).
async fn set_up_target(
    args: &RunArgs,
    http_config: HttpConfig,
    redactor: &Redactor,
) -> Result<Target, SetupError> {
    let Some(target) = &args.target else {
        let fault = match &args.fault {
            None => None,
            Some(name) => Some(super::fault_by_name(name).map_err(SetupError::Config)?),
        };
        let options = FixtureOptions {
            fault,
            ..FixtureOptions::default()
        };
        return start_fixture(
            options,
            Profile::default(),
            http_config,
            redactor,
            &args.api_version,
        )
        .await;
    };
    let http = HttpClient::new(http_config)?;
    let base = api_base(target)?;
    let user = args
        .user
        .clone()
        .ok_or_else(|| SetupError::Config("--target needs --user NAME".into()))?;
    let password = read_password(args.password_env.as_deref(), &user, &base)?;
    let credentials = Credentials::new(user, password);
    redactor.add_credentials(&credentials);
    let portal = portal_account(args)?;
    if args.insecure {
        eprintln!("emconform: warning: --insecure: the server's TLS certificate is not verified");
    }
    Ok(
        connect(base, http, credentials, &args.api_version, redactor)
            .await?
            .with_portal_account(portal),
    )
}

/// Sets up the target and, on a remote one, says where it is and finds the jobs for `needed`
/// roles (printing what it found); any failure is one message and exit status 2.
pub(crate) fn prepare_target(
    args: &RunArgs,
    runtime: &tokio::runtime::Runtime,
    http_config: HttpConfig,
    redactor: &Redactor,
    needed: &BTreeSet<String>,
    progress: Progress,
) -> Result<Arc<Target>, ExitCode> {
    let target = runtime
        .block_on(set_up_target(args, http_config, redactor))
        .map_err(|e| usage_error(redactor.redact(&e.to_string())))?
        .with_progress(progress);
    if target.kind == TargetKind::Fixture {
        return Ok(Arc::new(target));
    }
    eprintln!(
        "emconform: target {} (logged on as {})",
        target.api_base, target.credentials.user
    );
    let given: Vec<(String, String)> = args
        .jobs
        .iter()
        .map(|j| (j.role.clone(), j.id.clone()))
        .collect();
    let target = Arc::new(target);
    match runtime.block_on(target.find_jobs(&given, needed)) {
        Ok(report) => eprint!("{report}"),
        Err(e) => {
            log_out(runtime, &target);
            return Err(usage_error(redactor.redact(&e.to_string())));
        }
    }
    Ok(target)
}

/// On Ctrl-C (or SIGTERM), logs the run's session out and ends the process: a session left open
/// on a production server counts against its limits until it times out.
fn log_out_on_interrupt(runtime: &tokio::runtime::Runtime, target: Arc<Target>) {
    runtime.spawn(async move {
        let status = interrupted().await;
        eprintln!("emconform: interrupted; logging out");
        let limit = target.http.config().request_timeout;
        tokio::select! {
            done = tokio::time::timeout(limit, target.logout()) => match done {
                Ok(Ok(())) => {}
                Ok(Err(problem)) => eprintln!("emconform: warning: {}", target.redactor.redact(&problem)),
                Err(_) => eprintln!("emconform: warning: logout did not finish within {limit:?}"),
            },
            _ = interrupted() => eprintln!("emconform: interrupted again; not waiting for the logout"),
        }
        std::process::exit(status);
    });
}

/// Logs out at the end of the run, saying so if it did not work.
fn log_out(runtime: &tokio::runtime::Runtime, target: &Target) {
    if let Err(problem) = runtime.block_on(target.logout()) {
        eprintln!("emconform: warning: {}", target.redactor.redact(&problem));
    }
}

/// Prints, on stderr (stdout belongs to libtest's formats), the results per level.
fn print_level_summary(
    specs: &[TrialSpec],
    outcomes: &[(TrialSpec, TrialOutcome)],
    not_run: &[String],
    weakest: Level,
) {
    let tallies = runner::summary::tally(specs, outcomes, not_run);
    if let Some(line) = runner::summary::level_summary(&tallies, weakest) {
        eprintln!("emconform: {line}");
    }
}

/// The second, non-administrator account of a remote target, if the options give one.
fn portal_account(args: &RunArgs) -> Result<Option<Credentials>, SetupError> {
    let (Some(user), Some(var)) = (&args.portal_user, &args.portal_password_env) else {
        return Ok(None);
    };
    let password = std::env::var(var).map_err(|_| {
        SetupError::Config(format!(
            "--portal-password-env {var}: the environment variable {var} is not set"
        ))
    })?;
    Ok(Some(Credentials::new(user.clone(), password)))
}

/// Runs the suite.
pub fn run_suite(mut args: RunArgs) -> ExitCode {
    let cases_dir = dir_or_default(&args.cases, "cases");
    let snapshots_dir = dir_or_default(&args.snapshots, "snapshots");
    configure_insta(&snapshots_dir);
    let gate = match Gate::prepare(&args) {
        Ok(gate) => gate,
        Err(e) => return usage_error(e),
    };
    let loaded = match runner::select::load_for(&cases_dir, &args.libtest) {
        Ok(loaded) => loaded,
        Err(errors) => return case_errors(&errors, "run"),
    };
    let specs = runner::plan(&loaded.cases);
    let selection = runner::select::selection(&specs, &args.libtest, args.level);
    let remote = args.target.is_some();
    let mode = match (remote, &args.fault) {
        (false, None) => SnapshotMode::Assert,
        _ => SnapshotMode::Compare,
    };
    let (http_config, run_settings) = settings(&args, remote, Snapshots::new(&snapshots_dir, mode));
    if args.libtest.test_threads.is_none() {
        args.libtest.test_threads = Some(if remote {
            DEFAULT_TEST_THREADS_REMOTE
        } else {
            DEFAULT_TEST_THREADS_FIXTURE
        });
    }
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(status) => return status,
    };
    let policy = Policy {
        allow_side_effects: args.allow_side_effects,
    };
    let context = Arc::new(RunContext::new(
        runtime.handle().clone(),
        run_settings,
        policy,
    ));
    let trials = runner::libtest_trials(&specs, &context, args.level);
    let given_roles: BTreeSet<String> = args.jobs.iter().map(|j| j.role.clone()).collect();
    if args.libtest.list {
        let annotation = skips::annotates_list(&args.libtest).then(|| {
            skips::list_annotation(
                &specs,
                &trials,
                &args.libtest,
                args.target.as_deref(),
                policy,
                &given_roles,
            )
        });
        let _ = libtest_mimic::run(&args.libtest, trials);
        if let Some(annotation) = annotation {
            print!("{annotation}");
        }
        return ExitCode::SUCCESS;
    }
    // The trials libtest will start (the ignored ones it reports without calling them).
    let selected: Vec<&TrialSpec> = selection
        .iter()
        .filter(|s| !s.ignored)
        .map(|s| &s.spec)
        .collect();
    let kind = if remote {
        TargetKind::Remote
    } else {
        TargetKind::Fixture
    };
    let needed = skips::needed_roles(&selected, kind, policy);
    // Read while the target starts and the session opens.
    let _prefetch = runner::prefetch_snapshots(
        selected.iter().copied(),
        &context.settings,
        kind,
        policy,
        runtime.handle(),
    );
    let redactor = Redactor::new();
    let progress = if args.progress || (remote && std::io::stderr().is_terminal()) {
        Progress::to_stderr(PROGRESS_INTERVAL)
    } else {
        Progress::disabled()
    };
    progress.set_total(selected.len());
    let target = match prepare_target(&args, &runtime, http_config, &redactor, &needed, progress) {
        Ok(target) => target,
        Err(status) => return status,
    };
    log_out_on_interrupt(&runtime, target.clone());
    let _ = context.target.set(target.clone());
    // Trials libtest ignores without calling them (weaker than --level), for the summary.
    let not_run: Vec<String> = selection
        .iter()
        .filter(|s| s.ignored)
        .map(|s| s.spec.id.clone())
        .collect();
    // The exit status comes from the gate (expectations, empty runs), not from libtest's verdict.
    let _ = libtest_mimic::run(&args.libtest, trials);
    log_out(&runtime, &target);
    let outcomes = std::mem::take(&mut *context.outcomes.lock().unwrap_or_else(|e| e.into_inner()));
    print_level_summary(&specs, &outcomes, &not_run, args.level);
    if let Some(left_out) = skips::left_out_summary(&outcomes) {
        eprintln!("{}", redactor.redact(&left_out));
    }
    gate.conclude(Finished {
        specs: &specs,
        whole_suite: loaded.whole,
        selection,
        outcomes,
        target: &target,
        runtime: &runtime,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_urls_become_api_bases() {
        for (given, base) in [
            ("https://em:9398/api", "https://em:9398/api/"),
            ("https://em:9398/api/", "https://em:9398/api/"),
            ("https://em:9398", "https://em:9398/api/"),
            (
                "http://127.0.0.1:8080/proxy/api?x=1",
                "http://127.0.0.1:8080/proxy/api/",
            ),
        ] {
            assert_eq!(api_base(given).unwrap().as_str(), base);
        }
        assert!(api_base("em:9398").is_err());
        assert!(api_base("ftp://em/api").is_err());
    }
}
