//! What the integration tests that drive the `emconform` binary share, written once: starting the
//! binary as a user would (optionally pointed at a server), reading what it printed, fresh
//! temporary directories, an `emconform serve` server started in this process, and the checks
//! made on a run's output (verdicts, no secret).
//!
//! `tests/integration/main.rs` and `tests/secrets.rs` include it (`#[path]` / `mod support;`); a
//! module in a subdirectory of `tests/` is not a test binary of its own.

// Every test binary compiles this module on its own and uses only part of it.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use emconform::serve::{ServeOptions, Server};

/// The environment variable the tests hand the password in (`--password-env`), as a user would.
pub const PASSWORD_VAR: &str = "EMCONFORM_TEST_PASSWORD";

/// The binary as a user starts it, whatever runs the tests: no `CI` (insta, which judges snapshots
/// on the fixture, acts differently where it is set), no `NEXTEST_EXECUTION_MODE` (the binary
/// would follow nextest's protocol), no backtrace in what it prints, nothing to read on stdin.
pub fn binary() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_emconform"));
    command
        .env_remove("CI")
        .env_remove("NEXTEST_EXECUTION_MODE")
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null());
    command
}

/// Runs the binary with `args` to its end (against the embedded fixture, unless `args` name a
/// target).
pub fn emconform(args: &[&str]) -> Output {
    emconform_with(args, &[])
}

/// [`emconform`] with extra environment variables.
pub fn emconform_with(args: &[&str], env: &[(&str, &str)]) -> Output {
    binary()
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("the binary runs")
}

/// `--target`, `--user` and `--password-env` as a user types them; the password goes in
/// [`PASSWORD_VAR`]. Separate from [`against`] for a subcommand, which must come before them.
pub fn target_args<'a>(api_base: &'a str, user: &'a str) -> [&'a str; 6] {
    [
        "--target",
        api_base,
        "--user",
        user,
        "--password-env",
        PASSWORD_VAR,
    ]
}

/// The binary pointed at the server at `api_base`, logging on as `user` with `password`.
pub fn against(api_base: &str, user: &str, password: &str) -> Command {
    let mut command = binary();
    command
        .args(target_args(api_base, user))
        .env(PASSWORD_VAR, password);
    command
}

/// What the binary printed, as text (lossily: a test must be able to show any output it checks).
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A fresh, empty directory of this test binary's (emptied if an earlier run left it), named after
/// the test file that asks and its `name`: tests run side by side, so each passes its own.
#[track_caller]
pub fn fresh_dir(name: &str) -> PathBuf {
    let file = Path::new(std::panic::Location::caller().file())
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("test");
    let dir = std::env::temp_dir().join(format!(
        "emconform-{}-{}-{file}-{name}",
        env!("CARGO_CRATE_NAME"),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    dir
}

/// A path as a command-line argument.
pub fn path(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

/// Every file under `dir` with its text, to search what a run wrote.
pub fn files(dir: &Path) -> Vec<(PathBuf, String)> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|entry| entry.expect("a readable directory entry"))
        .filter(|entry| entry.file_type().is_file())
        .map(|entry| {
            let content = text(&std::fs::read(entry.path()).expect("a readable file"));
            (entry.into_path(), content)
        })
        .collect()
}

/// Fails when one of `secrets` appears in `text`: no secret may reach anything emconform writes.
pub fn assert_no_secret(text: &str, secrets: &[String]) {
    for secret in secrets {
        assert!(
            !text.contains(secret.as_str()),
            "a secret leaked into:\n{text}"
        );
    }
}

/// `trial name → outcome` from libtest's pretty output (`test [must] x::xml ... ok`), to compare
/// the verdicts of two runs or look one up.
pub fn verdicts(stdout: &str) -> BTreeMap<String, String> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("test "))
        .filter_map(|l| l.split_once(" ... "))
        .map(|(name, outcome)| {
            // libtest pads the kind (`[must]  ` next to `[should]`): one space between words.
            let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
            (name, outcome.trim().to_string())
        })
        .collect()
}

/// An `emconform serve` server started in this process, so that a test knows its password,
/// tokens and jobs, and the runtime it runs on (fields drop in order: the server first).
pub struct Served {
    pub server: Server,
    pub runtime: tokio::runtime::Runtime,
}

/// Starts a server on a runtime of its own.
pub fn serve(options: ServeOptions) -> Served {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let server = runtime
        .block_on(Server::start(options))
        .expect("the server starts");
    Served { server, runtime }
}

impl Served {
    /// The administrator's password.
    pub fn password(&self) -> String {
        self.server.credentials().password.expose().to_string()
    }

    /// The binary pointed at the server, logging on with `password` (right or wrong).
    pub fn emconform(&self, password: &str) -> Command {
        against(
            self.server.api_base().as_str(),
            &self.server.credentials().user,
            password,
        )
    }

    /// Runs the binary against the server with the right password, to its end.
    pub fn run(&self, args: &[&str]) -> Output {
        self.emconform(&self.password())
            .args(args)
            .output()
            .expect("the binary runs")
    }
}

/// `--job=ROLE=ID` for each of the server's jobs whose role `keep` accepts.
pub fn job_args(server: &Server, keep: impl Fn(&str) -> bool) -> Vec<String> {
    server
        .jobs()
        .iter()
        .filter(|(role, _)| keep(role))
        .map(|(role, job)| format!("--job={role}={}", job.id))
        .collect()
}
