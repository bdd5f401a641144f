//! The command line: `emconform [OPTIONS] [FILTER]` runs the suite (libtest's flags work alongside
//! emconform's own); subcommands do the rest.

pub mod compare;
pub mod coverage;
pub mod gate;
mod password;
pub mod record;
pub mod run;
pub mod self_check;
pub mod serve;
pub mod skips;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::case::Level;
use crate::roles::job_role;

/// Exit status when a trial failed (libtest's convention).
pub const EXIT_FAILED: u8 = 101;
/// Exit status for usage, configuration and connection errors.
pub const EXIT_USAGE: u8 = 2;

/// Where the project's own `cases/` and `snapshots/` are when no option says otherwise.
pub const PROJECT_ROOT: &str = env!("CARGO_MANIFEST_DIR");

#[derive(Debug, Parser)]
#[command(
    name = "emconform",
    version,
    about = "Conformance suite for the Veeam Backup Enterprise Manager REST API",
    long_about = "Runs the conformance cases against the embedded Enterprise Manager fixture (the \
                  default) or against --target URL, one trial per case and format. libtest's \
                  options (FILTER, --exact, --list, --ignored, --include-ignored, --skip, \
                  --test-threads, --format) work as with `cargo test`.",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the coverage table (cases and trials per level and per spec section) as Markdown
    Coverage(coverage::CoverageArgs),
    /// Run the embedded Enterprise Manager simulator as a standalone server (HTTP or HTTPS)
    Serve(serve::ServeArgs),
    /// Store the normalised responses of every trial (of a real server, or of the fixture)
    Record(Box<record::RecordArgs>),
    /// Show, per trial and step, where two recordings differ
    Compare(compare::CompareArgs),
    /// Run the suite against the clean fixture, every allowed variant and every fault; print the
    /// kill matrix and the score
    SelfCheck(self_check::SelfCheckArgs),
}

/// A `--job ROLE=ID` option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobArg {
    pub role: String,
    /// The bare GUID.
    pub id: String,
}

fn parse_job_arg(s: &str) -> Result<JobArg, String> {
    let (role, id) = s
        .split_once('=')
        .ok_or("expected ROLE=ID, e.g. failed=78c3919c-54d7-43fe-b047-485d3566f11f")?;
    if job_role(role).is_none() {
        let roles: Vec<&str> = crate::roles::JOB_ROLES.iter().map(|r| r.name).collect();
        return Err(format!(
            "unknown role {role:?}; roles are {}",
            roles.join(", ")
        ));
    }
    let id = id.trim().trim_start_matches("urn:veeam:Job:");
    if uuid::Uuid::parse_str(id).is_err() {
        return Err(format!("{id:?} is not a job GUID"));
    }
    Ok(JobArg {
        role: role.to_string(),
        id: id.to_ascii_lowercase(),
    })
}

fn parse_level(s: &str) -> Result<Level, String> {
    Level::ALL
        .into_iter()
        .find(|l| l.name().eq_ignore_ascii_case(s))
        .ok_or_else(|| format!("{s:?} is not a level; levels are must, should, may"))
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("{e} (write e.g. 30s, 2m, 500ms)"))
}

/// Options of a suite run.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The server's API base, e.g. https://em.example.com:9398/api (default: the embedded fixture)
    #[arg(long, env = "EMCONFORM_TARGET", value_name = "URL")]
    pub target: Option<String>,
    /// Account to log on with (DOMAIN\user)
    #[arg(long, env = "EMCONFORM_USER", value_name = "NAME")]
    pub user: Option<String>,
    /// Read the password from this environment variable (never from the command line); without
    /// it, the password is asked for on the terminal
    #[arg(long, env = "EMCONFORM_PASSWORD_ENV", value_name = "VAR")]
    pub password_env: Option<String>,
    /// Do not verify the server's TLS certificate
    #[arg(long, env = "EMCONFORM_INSECURE")]
    pub insecure: bool,
    /// Trust the certificate(s) in this PEM file (e.g. the server's self-signed certificate)
    #[arg(
        long,
        env = "EMCONFORM_CA_CERT",
        value_name = "FILE",
        conflicts_with = "insecure"
    )]
    pub ca_cert: Option<PathBuf>,
    /// Which job plays which role on the target (repeatable); roles not given are discovered
    #[arg(long = "job", value_name = "ROLE=ID", value_parser = parse_job_arg)]
    pub jobs: Vec<JobArg>,
    /// A second account that is not a Portal Administrator (a Portal User), for the role checks
    #[arg(
        long,
        env = "EMCONFORM_PORTAL_USER",
        value_name = "NAME",
        requires = "portal_password_env"
    )]
    pub portal_user: Option<String>,
    /// Read the second account's password from this environment variable
    #[arg(
        long,
        env = "EMCONFORM_PORTAL_PASSWORD_ENV",
        value_name = "VAR",
        requires = "portal_user"
    )]
    pub portal_password_env: Option<String>,
    /// Run cases that start, stop or retry jobs on a remote target
    #[arg(long, env = "EMCONFORM_ALLOW_SIDE_EFFECTS")]
    pub allow_side_effects: bool,
    /// The weakest level that runs: must (documented), should (seen on real servers), may
    /// (inferred); weaker trials are ignored unless --include-ignored
    #[arg(
        long,
        env = "EMCONFORM_LEVEL",
        default_value = "should",
        value_parser = parse_level,
        value_name = "LEVEL"
    )]
    pub level: Level,
    /// API version to log on with (`latest`, `v1_7`, ...)
    #[arg(
        long,
        env = "EMCONFORM_API_VERSION",
        default_value = "latest",
        value_name = "VERSION"
    )]
    pub api_version: String,
    /// Start the embedded fixture with this deliberate deviation from the spec
    #[arg(
        long,
        env = "EMCONFORM_FAULT",
        value_name = "NAME",
        conflicts_with = "target"
    )]
    pub fault: Option<String>,
    /// Directory of case files
    #[arg(long, env = "EMCONFORM_CASES", value_name = "DIR")]
    pub cases: Option<PathBuf>,
    /// Directory of snapshots
    #[arg(long, env = "EMCONFORM_SNAPSHOTS", value_name = "DIR")]
    pub snapshots: Option<PathBuf>,
    /// Time allowed to open a connection
    #[arg(long, env = "EMCONFORM_CONNECT_TIMEOUT", value_parser = parse_duration, value_name = "DURATION")]
    pub connect_timeout: Option<Duration>,
    /// Time allowed for one request and its whole answer [default: 10s on the fixture, 60s otherwise]
    #[arg(long, env = "EMCONFORM_REQUEST_TIMEOUT", value_parser = parse_duration, value_name = "DURATION")]
    pub request_timeout: Option<Duration>,
    /// How long an await (a task finishing) may take [default: 10s on the fixture, 10m otherwise]
    #[arg(long, env = "EMCONFORM_AWAIT_DEADLINE", value_parser = parse_duration, value_name = "DURATION")]
    pub await_deadline: Option<Duration>,
    /// Show running trials and their awaits on stderr (default: against a remote target when
    /// stderr is a terminal)
    #[arg(long, env = "EMCONFORM_PROGRESS")]
    pub progress: bool,
    /// Largest response body read
    #[arg(long, env = "EMCONFORM_MAX_BODY_BYTES", default_value_t = 16 * 1024 * 1024, value_name = "BYTES")]
    pub max_body_bytes: usize,
    /// Write a report: junit=PATH, json=PATH or markdown=PATH (repeatable)
    #[arg(long = "report", value_name = "KIND=PATH", value_parser = crate::report::parse_report_spec)]
    pub reports: Vec<crate::report::ReportSpec>,
    /// Trials expected to fail on this target (TOML); the run passes when the failures are exactly these
    #[arg(long, env = "EMCONFORM_EXPECT", value_name = "FILE")]
    pub expect: Option<PathBuf>,
    /// Rewrite this expectation file from the run (keeping reasons), and judge the run by it
    #[arg(long, value_name = "FILE")]
    pub update_expect: Option<PathBuf>,
    /// Exit 0 even when no trial was selected or every selected trial was ignored
    #[arg(long, env = "EMCONFORM_ALLOW_EMPTY")]
    pub allow_empty: bool,
    /// Set by the `cargo test` front end (`tests/conformance.rs`), not on the command line.
    #[arg(skip)]
    pub under_cargo_test: bool,
    #[command(flatten)]
    pub libtest: libtest_mimic::Arguments,
}

/// Parses a command line. libtest-mimic's flattened arguments bring their own help template and
/// turn `--version` off; both are restored here.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Cli, clap::Error> {
    const TEMPLATE: &str =
        "{about-with-newline}\n{usage-heading} {usage}\n\n{all-args}{after-help}";
    let command = Cli::command()
        .help_template(TEMPLATE)
        .mut_subcommand("record", |c| c.help_template(TEMPLATE))
        .disable_version_flag(false)
        .version(env!("CARGO_PKG_VERSION"));
    let matches = command.try_get_matches_from(args)?;
    Cli::from_arg_matches(&matches)
}

/// Entry point of the `emconform` binary.
pub fn main_with(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    main_for(args, false)
}

/// Entry point of the `cargo test` harness (`tests/conformance.rs`): the same command line, with
/// cargo test's conventions for empty selections (see [`gate::empty_run_allowed`]).
pub fn test_harness_main(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    main_for(args, true)
}

fn main_for(args: impl IntoIterator<Item = OsString>, under_cargo_test: bool) -> ExitCode {
    end_quietly_on_closed_stdout();
    let mut cli = match parse(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_USAGE } else { 0 });
        }
    };
    cli.run.under_cargo_test = under_cargo_test;
    match cli.command {
        None => run::run_suite(cli.run),
        Some(Command::Coverage(args)) => coverage::print_coverage(&args),
        Some(Command::Serve(args)) => serve::serve(args),
        Some(Command::Record(args)) => record::record(*args),
        Some(Command::Compare(args)) => compare::compare(args),
        Some(Command::SelfCheck(args)) => self_check::self_check(&args),
    }
}

/// The runtime a command's async work runs on.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

/// A fixture fault by its `--fault` name; an unknown name lists the known ones.
pub(crate) fn fault_by_name(name: &str) -> Result<crate::fixture::Fault, String> {
    crate::fixture::Fault::by_name(name).ok_or_else(|| {
        let names: Vec<&str> = crate::fixture::FAULTS.iter().map(|f| f.name).collect();
        format!("unknown fault {name:?}; faults are: {}", names.join(", "))
    })
}

/// Waits for Ctrl-C or SIGTERM; returns the exit status a shell expects for it (128 + signal).
pub(crate) async fn interrupted() -> i32 {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            return tokio::select! {
                _ = tokio::signal::ctrl_c() => 130,
                _ = term.recv() => 143,
            };
        }
    }
    let _ = tokio::signal::ctrl_c().await;
    130
}

/// Lets `emconform --list | head` end quietly, as command-line tools do, instead of panicking on
/// a closed pipe (libtest-mimic unwraps its writes): such a panic exits with 141, the status of a
/// process ended by SIGPIPE, and prints nothing.
///
/// SIGPIPE itself stays ignored (Rust's default). With its default action restored, a write to
/// a socket whose peer has gone (hyper writes with `writev`, which does not suppress the signal)
/// killed the process: `emconform serve` when a client closed early, and a run when a server did.
fn end_quietly_on_closed_stdout() {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if is_broken_stdout(info) {
                std::process::exit(EXIT_BROKEN_PIPE);
            }
            default(info);
        }));
    });
}

/// The exit status of a process ended by SIGPIPE (128 + 13), as shells report it.
const EXIT_BROKEN_PIPE: i32 = 141;

/// Whether a panic comes from printing to a closed standard output or error: `print!` and
/// friends (std's "failed printing to stdout"), or libtest-mimic unwrapping a write. A broken
/// pipe anywhere else is a bug, and panics as usual.
fn is_broken_stdout(info: &std::panic::PanicHookInfo) -> bool {
    let message = info
        .payload()
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| info.payload().downcast_ref::<&str>().copied())
        .unwrap_or_default();
    let broken = message.contains("Broken pipe") || message.contains("BrokenPipe");
    let printing = message.starts_with("failed printing to")
        || info
            .location()
            .is_some_and(|l| l.file().contains("libtest-mimic"));
    broken && printing
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_args_are_checked() {
        let j = parse_job_arg("failed=urn:veeam:Job:78C3919C-54D7-43FE-B047-485D3566F11F").unwrap();
        assert_eq!(j.id, "78c3919c-54d7-43fe-b047-485d3566f11f");
        assert!(
            parse_job_arg("faild=78c3919c-54d7-43fe-b047-485d3566f11f")
                .unwrap_err()
                .contains("unknown role")
        );
        assert!(parse_job_arg("failed").is_err());
        assert!(parse_job_arg("failed=42").is_err());
    }

    #[test]
    fn own_options_and_libtest_options_share_a_command_line() {
        let cli = parse(
            [
                "emconform",
                "--target",
                "https://em:9398/api",
                "--exact",
                "retry",
                "--test-threads",
                "1",
            ]
            .map(OsString::from),
        )
        .unwrap();
        assert_eq!(cli.run.target.as_deref(), Some("https://em:9398/api"));
        assert!(cli.run.libtest.exact);
        assert_eq!(cli.run.libtest.filter.as_deref(), Some("retry"));
        assert_eq!(cli.run.libtest.test_threads, Some(1));
        assert_eq!(cli.run.level, Level::Should);
    }

    #[test]
    fn levels_and_the_second_account_are_options() {
        let cli = parse(["emconform", "--level", "MAY"].map(OsString::from)).unwrap();
        assert_eq!(cli.run.level, Level::May);
        assert!(parse(["emconform", "--level", "maybe"].map(OsString::from)).is_err());
        // The account needs its password variable, and the other way round.
        assert!(parse(["emconform", "--portal-user", "D\\u"].map(OsString::from)).is_err());
        let cli = parse(
            [
                "emconform",
                "--portal-user",
                "D\\u",
                "--portal-password-env",
                "PW",
            ]
            .map(OsString::from),
        )
        .unwrap();
        assert_eq!(cli.run.portal_user.as_deref(), Some("D\\u"));
        assert!(matches!(
            parse(["emconform", "coverage"].map(OsString::from))
                .unwrap()
                .command,
            Some(Command::Coverage(_))
        ));
    }
}
