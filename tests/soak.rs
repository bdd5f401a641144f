//! Soak: the whole suite run again and again in one process, 16 trials at a time, first against
//! the embedded fixture, then against `emconform serve` over loopback HTTPS. Every run must give
//! the same verdicts (no cross-talk between trials), and the process's open file descriptors
//! (`/proc/self/fd`) and resident memory (`VmRSS` in `/proc/self/status`) must not grow from run
//! to run once warmed up.
//!
//! `cargo test` runs a short soak (`SHORT_RUNS` runs each, a few seconds). The full one:
//!
//! ```sh
//! EMCONFORM_SOAK_RUNS=50 cargo test --release --test soak -- --nocapture
//! ```
//!
//! The two soaks are one test, so that nothing else in this process opens files or allocates
//! while they measure.

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use emconform::case::load_cases;
use emconform::fixture::FixtureOptions;
use emconform::http::{HttpClient, HttpConfig, Trust};
use emconform::runner::message::headline;
use emconform::runner::{Policy, RunSettings, TrialOutcome, TrialSpec, Verdict, plan, run_all};
use emconform::secret::{Credentials, Redactor};
use emconform::snapshot::{SnapshotMode, Snapshots};
use emconform::target_server::{Target, connect, start_fixture};

/// The process's allocator, counting the bytes in use: unlike VmRSS, which also holds what the
/// allocator keeps for reuse, this says exactly whether a run leaves memory behind.
struct Counting;

static HEAP_IN_USE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call goes to the system allocator with the same arguments; only a counter is
// updated besides.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            HEAP_IN_USE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            HEAP_IN_USE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        HEAP_IN_USE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            HEAP_IN_USE.fetch_sub(layout.size(), Ordering::Relaxed);
            HEAP_IN_USE.fetch_add(new_size, Ordering::Relaxed);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs per soak under plain `cargo test`.
const SHORT_RUNS: usize = 6;
/// Trials at a time.
const CONCURRENCY: usize = 16;

fn runs() -> usize {
    std::env::var("EMCONFORM_SOAK_RUNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(SHORT_RUNS)
        .max(SHORT_RUNS)
}

/// Open file descriptors of a process (`self` or a PID).
fn open_fds(process: &str) -> usize {
    std::fs::read_dir(format!("/proc/{process}/fd"))
        .expect("/proc/PID/fd")
        .count()
}

/// Resident memory of a process, in KiB.
fn rss_kib(process: &str) -> u64 {
    let status =
        std::fs::read_to_string(format!("/proc/{process}/status")).expect("/proc/PID/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in kB")
}

/// A run's verdicts, comparable between runs: id, outcome and what failed or why ignored.
fn verdicts(outcomes: &[TrialOutcome]) -> Vec<(String, String)> {
    outcomes
        .iter()
        .map(|o| {
            let v = match &o.verdict {
                Verdict::Passed => "passed".to_string(),
                Verdict::Failed(m) => format!("failed: {}", headline(m)),
                Verdict::Ignored(reason) => format!("ignored: {reason}"),
            };
            (o.id.clone(), v)
        })
        .collect()
}

/// What a process held after one run.
#[derive(Debug, Clone, Copy)]
struct Sample {
    fds: usize,
    rss_kib: u64,
    /// Bytes the allocator has handed out and not got back (this process only).
    heap_kib: u64,
}

impl Sample {
    fn of_self() -> Sample {
        Sample {
            fds: open_fds("self"),
            rss_kib: rss_kib("self"),
            heap_kib: (HEAP_IN_USE.load(Ordering::Relaxed) / 1024) as u64,
        }
    }

    fn of(pid: u32) -> Sample {
        let pid = pid.to_string();
        Sample {
            fds: open_fds(&pid),
            rss_kib: rss_kib(&pid),
            heap_kib: 0,
        }
    }
}

/// Runs measured from: the first runs fill pools, per-thread caches and the allocator's arenas.
fn warm_up(runs: usize) -> usize {
    (runs / 5).max(3)
}

/// Descriptors that may still be closing when counted (a socket whose task was not yet polled).
const FD_SLACK: usize = 2;
/// Heap growth allowed after the warm-up, in KiB: caches made once per worker thread (a regex
/// cache, tokio's per-worker buffers) appear when a thread first runs that kind of work, a few KiB
/// each for 16 threads. A leak of 100 bytes per trial exceeds it within 50 runs of 64 trials.
const HEAP_SLACK_KIB: u64 = 256;
/// VmRSS growth allowed after the warm-up, in KiB. VmRSS also counts what the allocator keeps
/// for reuse: glibc gives each busy thread an arena (16 here), and each holds partly used pages
/// up to its high-water mark, which creeps up over the first runs even after `malloc_trim`
/// (measured: +5 MiB from run 3 to 27, then flat). The heap count above is the exact check.
const RSS_SLACK_KIB: u64 = 8 * 1024;

/// Runs `one_run` `runs()` times; checks that every run's verdicts equal the first's and that
/// this process's file descriptors, heap and memory do not grow after the warm-up. The server
/// process, if any, is sampled and reported too.
fn soak(
    label: &str,
    runtime: &tokio::runtime::Runtime,
    server: Option<u32>,
    mut one_run: impl FnMut(usize) -> Vec<TrialOutcome>,
) {
    let runs = runs();
    let mut first: Option<Vec<(String, String)>> = None;
    let mut samples: Vec<Sample> = Vec::new();
    let mut server_samples: Vec<Sample> = Vec::new();
    let mut times = Vec::new();
    for run in 0..runs {
        let started = Instant::now();
        let outcomes = one_run(run);
        times.push(started.elapsed());
        let verdicts = verdicts(&outcomes);
        match &first {
            None => {
                assert!(
                    verdicts.iter().any(|(_, v)| v == "passed"),
                    "{label}: nothing passed: {verdicts:#?}"
                );
                first = Some(verdicts);
            }
            Some(first) => assert_eq!(&verdicts, first, "{label}: run {run} differs from run 0"),
        }
        // Connections close and server tasks end asynchronously: let them.
        runtime.block_on(async { tokio::time::sleep(Duration::from_millis(25)).await });
        // Hand freed memory back, so that VmRSS shows what is held rather than what is cached.
        // SAFETY: malloc_trim only returns free memory to the system.
        unsafe { libc::malloc_trim(0) };
        samples.push(Sample::of_self());
        server_samples.extend(server.map(Sample::of));
    }
    let from = warm_up(runs) - 1;
    let (start, end) = (samples[from], samples[runs - 1]);
    let max_fds = samples[from..].iter().map(|s| s.fds).max().unwrap_or(0);
    let trials = first.as_ref().map_or(0, Vec::len);
    let passed = first
        .as_ref()
        .map_or(0, |f| f.iter().filter(|(_, v)| v == "passed").count());
    eprintln!(
        "soak {label}: {runs} runs of {trials} trials ({passed} passed, the same verdicts every run), \
         {CONCURRENCY} at a time, {:.2?} to {:.2?} a run",
        times.iter().min().copied().unwrap_or_default(),
        times.iter().max().copied().unwrap_or_default(),
    );
    eprintln!(
        "soak {label}: harness after run {} → run {runs}: fds {} → {} (max {max_fds}), heap in use \
         {} → {} KiB, VmRSS {} → {} KiB",
        from + 1,
        start.fds,
        end.fds,
        start.heap_kib,
        end.heap_kib,
        start.rss_kib,
        end.rss_kib
    );
    if let (Some(a), Some(b)) = (server_samples.get(from), server_samples.last()) {
        eprintln!(
            "soak {label}: server after run {} → run {runs}: fds {} → {}, VmRSS {} → {} KiB",
            from + 1,
            a.fds,
            b.fds,
            a.rss_kib,
            b.rss_kib
        );
        assert!(
            server_samples[from..]
                .iter()
                .all(|s| s.fds <= a.fds + FD_SLACK),
            "{label}: the server's open file descriptors grew: {server_samples:?}"
        );
    }
    if std::env::var_os("EMCONFORM_SOAK_SHOW").is_some() {
        for (run, s) in samples.iter().enumerate() {
            eprintln!(
                "soak {label}: run {}: {s:?} server {:?}",
                run + 1,
                server_samples.get(run)
            );
        }
    }
    assert!(
        max_fds <= start.fds + FD_SLACK,
        "{label}: open file descriptors grew from {} to {max_fds}",
        start.fds,
    );
    // A leak stays in every later sample; memory still held by connections that close a moment
    // late (on a loaded machine) is gone by the next one. So the end is the smaller of the last
    // two samples.
    let end_heap = samples[runs.saturating_sub(2)..]
        .iter()
        .map(|s| s.heap_kib)
        .min()
        .unwrap_or(end.heap_kib);
    let heap_grown = end_heap.saturating_sub(start.heap_kib);
    assert!(
        heap_grown <= HEAP_SLACK_KIB,
        "{label}: the heap in use grew by {heap_grown} KiB after the warm-up"
    );
    let rss_grown = end.rss_kib.saturating_sub(start.rss_kib);
    assert!(
        rss_grown <= RSS_SLACK_KIB,
        "{label}: VmRSS grew by {rss_grown} KiB after the warm-up"
    );
}

fn specs() -> Vec<TrialSpec> {
    let cases = load_cases(&Path::new(env!("CARGO_MANIFEST_DIR")).join("cases"))
        .expect("the project's cases load");
    plan(&cases)
}

fn settings(mode: SnapshotMode) -> Arc<RunSettings> {
    Arc::new(RunSettings {
        await_deadline: Duration::from_secs(10),
        poll_initial: Duration::ZERO,
        poll_max: Duration::from_millis(50),
        snapshots: Snapshots::new(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("snapshots"),
            mode,
        ),
    })
}

/// A run against a fresh fixture: started, logged on, the suite, logged out, dropped.
fn fixture_run(runtime: &tokio::runtime::Runtime, specs: &[TrialSpec]) -> Vec<TrialOutcome> {
    runtime.block_on(async {
        let target = Arc::new(
            start_fixture(
                FixtureOptions::default(),
                Default::default(),
                HttpConfig::default(),
                &Redactor::new(),
                "latest",
            )
            .await
            .expect("the fixture starts"),
        );
        let outcomes = run_suite(specs, &target).await;
        target.logout().await.expect("logout");
        outcomes
    })
}

/// Every trial, side effects allowed, `CONCURRENCY` at a time.
async fn run_suite(specs: &[TrialSpec], target: &Arc<Target>) -> Vec<TrialOutcome> {
    let policy = Policy {
        allow_side_effects: true,
    };
    // Compare, not Assert: a soak never writes a snapshot.
    let settings = settings(SnapshotMode::Compare);
    run_all(specs, target.clone(), settings, policy, CONCURRENCY).await
}

/// The jobs a run of `specs` needs on a remote target: one per side-effecting trial and role,
/// and one to share per role.
fn needed_jobs(specs: &[TrialSpec]) -> Vec<String> {
    let mut roles: Vec<String> = Vec::new();
    let mut shared = BTreeSet::new();
    for spec in specs {
        for role in spec.case.job_roles() {
            if spec.case.has_side_effects() || shared.insert(role.to_string()) {
                roles.push(role.to_string());
            }
        }
    }
    roles
}

/// `emconform serve --tls` in a process of its own, so that this process measures only the
/// harness; what the server holds is sampled from its own `/proc/PID`.
struct Serve {
    child: std::process::Child,
    api_base: url::Url,
    certificate: PathBuf,
    user: String,
    /// Jobs per role, not yet handed to a run.
    jobs: BTreeMap<String, Vec<String>>,
}

const SERVE_PASSWORD_VAR: &str = "EMCONFORM_SOAK_PASSWORD";
const SERVE_PASSWORD: &str = "soak-password-not-secret";

impl Serve {
    fn start(jobs_per_role: usize) -> Serve {
        let certificate =
            std::env::temp_dir().join(format!("emconform-soak-{}.pem", std::process::id()));
        let mut child = Command::new(env!("CARGO_BIN_EXE_emconform"))
            .args(["serve", "--port", "0", "--tls"])
            .arg(&certificate)
            .args(["--password-env", SERVE_PASSWORD_VAR])
            .args(["--jobs-per-role", &jobs_per_role.to_string()])
            .env(SERVE_PASSWORD_VAR, SERVE_PASSWORD)
            .stdout(Stdio::piped())
            .stderr(
                std::fs::File::create(certificate.with_extension("stderr"))
                    .map(Stdio::from)
                    .unwrap_or_else(|_| Stdio::null()),
            )
            .stdin(Stdio::null())
            .spawn()
            .expect("emconform serve starts");
        let stdout = BufReader::new(child.stdout.take().expect("piped"));
        let (mut api_base, mut user) = (None, None);
        let mut jobs: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for line in stdout.lines() {
            let line = line.expect("serve's output");
            if line == "Stop with Ctrl-C." {
                break;
            }
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["API", "base:", base] => api_base = Some(base.parse().expect("a URL")),
                ["user:", name] => user = Some(name.to_string()),
                [role, id, ..] if uuid_like(id) => jobs
                    .entry(role.to_string())
                    .or_default()
                    .push(id.to_string()),
                _ => {}
            }
        }
        Serve {
            child,
            api_base: api_base.expect("serve prints its API base"),
            certificate,
            user: user.expect("serve prints its user"),
            jobs,
        }
    }

    /// Jobs for one run of `specs`, taken from those not used yet.
    fn take_jobs(&mut self, specs: &[TrialSpec]) -> Vec<(String, String)> {
        needed_jobs(specs)
            .into_iter()
            .map(|role| {
                let id = self
                    .jobs
                    .get_mut(&role)
                    .and_then(Vec::pop)
                    .expect("enough jobs for every run");
                (role, id)
            })
            .collect()
    }

    /// Whether the server still runs, and what it said on stderr, for a failure message.
    fn health(&mut self) -> String {
        let said =
            std::fs::read_to_string(self.certificate.with_extension("stderr")).unwrap_or_default();
        match self.child.try_wait() {
            Ok(Some(status)) => format!("the server exited ({status}); its stderr:\n{said}"),
            _ => format!("the server still runs; its stderr:\n{said}"),
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        // SAFETY: signalling the child this test started and has not reaped.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.certificate);
        let _ = std::fs::remove_file(self.certificate.with_extension("stderr"));
    }
}

fn uuid_like(word: &str) -> bool {
    word.len() == 36 && word.chars().filter(|c| *c == '-').count() == 4
}

/// A run against `emconform serve` over HTTPS: a client trusting its certificate, a logon, jobs
/// given as `--job` would, the suite, a logout.
fn serve_run(
    runtime: &tokio::runtime::Runtime,
    serve: &mut Serve,
    specs: &[TrialSpec],
) -> Vec<TrialOutcome> {
    let given = serve.take_jobs(specs);
    let needed: BTreeSet<String> = given.iter().map(|(role, _)| role.clone()).collect();
    let credentials = Credentials::new(serve.user.clone(), SERVE_PASSWORD);
    runtime.block_on(async {
        let http = HttpClient::new(HttpConfig {
            trust: Trust::CaCert(serve.certificate.clone()),
            ..HttpConfig::default()
        })
        .expect("client");
        let target = Arc::new(
            connect(
                serve.api_base.clone(),
                http,
                credentials,
                "latest",
                &Redactor::new(),
            )
            .await
            .unwrap_or_else(|e| panic!("logon over HTTPS: {e}; {}", serve.health())),
        );
        if let Err(e) = target.find_jobs(&given, &needed).await {
            panic!("the jobs: {e}; {}", serve.health());
        }
        let outcomes = run_suite(specs, &target).await;
        if let Err(problem) = target.logout().await {
            panic!("logout: {problem}; {}", serve.health());
        }
        outcomes
    })
}

#[test]
fn the_suite_again_and_again_gives_the_same_verdicts_and_leaks_nothing() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(CONCURRENCY)
        .enable_all()
        .build()
        .expect("runtime");
    let specs = specs();
    soak("fixture", &runtime, None, |_| fixture_run(&runtime, &specs));

    let per_run = needed_jobs(&specs).len();
    let mut serve = Serve::start(runs() * per_run);
    let pid = serve.pid();
    soak("serve over HTTPS", &runtime, Some(pid), |_| {
        serve_run(&runtime, &mut serve, &specs)
    });
}
