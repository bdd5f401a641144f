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
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use emconform::case::load_cases;
use emconform::fixture::FixtureOptions;
use emconform::http::{HttpClient, HttpConfig, Trust};
use emconform::runner::message::headline;
use emconform::runner::{Policy, RunSettings, TrialOutcome, TrialSpec, Verdict, plan, run_all};
use emconform::secret::Redactor;
use emconform::serve::{ServeOptions, Server};
use emconform::snapshot::{SnapshotMode, Snapshots};
use emconform::target::{connect, start_fixture};

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
const SHORT_RUNS: usize = 8;
/// Runs before measuring: pools, caches and the allocator's arenas fill during the first runs.
const WARM_UP: usize = 3;
/// Trials at a time.
const CONCURRENCY: usize = 16;

fn runs() -> usize {
    std::env::var("EMCONFORM_SOAK_RUNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(SHORT_RUNS)
        .max(WARM_UP + 2)
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .count()
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
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

/// What one run left behind.
struct Sample {
    fds: usize,
    rss_kib: u64,
    heap_kib: u64,
    elapsed: Duration,
}

/// Runs `one_run` `runs()` times; checks that every run's verdicts equal the first's and that
/// file descriptors and memory do not grow after the warm-up.
fn soak(
    label: &str,
    runtime: &tokio::runtime::Runtime,
    mut one_run: impl FnMut(usize) -> Vec<TrialOutcome>,
) {
    let runs = runs();
    let mut first: Option<Vec<(String, String)>> = None;
    let mut samples = Vec::new();
    for run in 0..runs {
        let started = Instant::now();
        let outcomes = one_run(run);
        let elapsed = started.elapsed();
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
        runtime.block_on(async { tokio::time::sleep(Duration::from_millis(100)).await });
        // SAFETY: malloc_trim only hands free memory back to the system.
        unsafe { libc::malloc_trim(0) };
        samples.push(Sample {
            fds: open_fds(),
            rss_kib: rss_kib(),
            heap_kib: (HEAP_IN_USE.load(Ordering::Relaxed) / 1024) as u64,
            elapsed,
        });
    }
    if std::env::var_os("EMCONFORM_SOAK_SHOW").is_some() {
        let rss: Vec<String> = samples.iter().map(|s| s.rss_kib.to_string()).collect();
        let fds: Vec<String> = samples.iter().map(|s| s.fds.to_string()).collect();
        let heap: Vec<String> = samples.iter().map(|s| s.heap_kib.to_string()).collect();
        eprintln!("soak {label}: VmRSS KiB per run: {}", rss.join(" "));
        eprintln!("soak {label}: heap in use KiB per run: {}", heap.join(" "));
        eprintln!("soak {label}: fds per run: {}", fds.join(" "));
    }
    let measured = &samples[WARM_UP - 1..];
    let (start, end) = (&measured[0], &measured[measured.len() - 1]);
    let max_fds = measured.iter().map(|s| s.fds).max().unwrap_or(0);
    let passed = first
        .as_ref()
        .map_or(0, |f| f.iter().filter(|(_, v)| v == "passed").count());
    eprintln!(
        "soak {label}: {runs} runs of {} trials ({passed} passed each), {CONCURRENCY} at a time; \
         after warm-up (run {WARM_UP}) → last run: fds {} → {} (max {max_fds}), VmRSS {} → {} KiB; \
         run times {:.2?} … {:.2?}",
        first.as_ref().map_or(0, Vec::len),
        start.fds,
        end.fds,
        start.rss_kib,
        end.rss_kib,
        samples.iter().map(|s| s.elapsed).min().unwrap_or_default(),
        samples.iter().map(|s| s.elapsed).max().unwrap_or_default(),
    );
    // File descriptors: every run closes what it opened (its sockets, the fixture's listener);
    // a few may still be closing when counted (a socket whose task has not been polled yet).
    assert!(
        end.fds <= start.fds + FD_SLACK && max_fds <= start.fds + FD_SLACK,
        "{label}: open file descriptors grew from {} to {} (max {max_fds})",
        start.fds,
        end.fds
    );
    // Memory: the allocator keeps freed memory for reuse and its arenas' high-water marks move a
    // little from run to run, so allow RSS_SLACK_KIB over the whole soak; a leak of 1 KiB per
    // trial would pass that within a few dozen runs of 60+ trials.
    let grown = end.rss_kib.saturating_sub(start.rss_kib);
    assert!(
        grown <= RSS_SLACK_KIB,
        "{label}: VmRSS grew by {grown} KiB after the warm-up ({} → {} KiB)",
        start.rss_kib,
        end.rss_kib
    );
}

/// Descriptors that may still be closing when counted.
const FD_SLACK: usize = 4;
/// Memory growth allowed after the warm-up, in KiB.
const RSS_SLACK_KIB: u64 = 8 * 1024;

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
        // Compare, not Assert: a soak never writes a snapshot.
        let policy = Policy {
            allow_side_effects: true,
        };
        let outcomes = run_all(
            specs,
            target.clone(),
            settings(SnapshotMode::Compare),
            policy,
            CONCURRENCY,
        )
        .await;
        target.logout().await.expect("logout");
        outcomes
    })
}

/// The jobs a run of `specs` needs on a remote target: one per side-effecting trial and role,
/// and one to share per role.
fn needed_jobs(specs: &[TrialSpec]) -> Vec<String> {
    let mut roles: Vec<String> = Vec::new();
    let mut shared = BTreeSet::new();
    for spec in specs {
        for role in spec.case.job_roles() {
            if spec.case.has_side_effects() {
                roles.push(role.to_string());
            } else if shared.insert(role.to_string()) {
                roles.push(role.to_string());
            }
        }
    }
    roles
}

/// A run against `emconform serve` over HTTPS: a client trusting its certificate, a logon, jobs
/// made for this run and given as `--job` would, the suite, a logout.
fn serve_run(
    runtime: &tokio::runtime::Runtime,
    server: &Server,
    specs: &[TrialSpec],
) -> Vec<TrialOutcome> {
    let certificate = server.certificate().expect("HTTPS").to_path_buf();
    let given: Vec<(String, String)> = needed_jobs(specs)
        .into_iter()
        .map(|role| {
            let job = server.fixture().provision_job(&role).expect("a job role");
            (role, job.id)
        })
        .collect();
    let needed: BTreeSet<String> = given.iter().map(|(role, _)| role.clone()).collect();
    runtime.block_on(async {
        let http = HttpClient::new(HttpConfig {
            trust: Trust::CaCert(certificate),
            ..HttpConfig::default()
        })
        .expect("client");
        let target = Arc::new(
            connect(
                server.api_base().clone(),
                http,
                server.credentials(),
                "latest",
                &Redactor::new(),
            )
            .await
            .expect("logon over HTTPS"),
        );
        target.find_jobs(&given, &needed).await.expect("the jobs");
        let policy = Policy {
            allow_side_effects: true,
        };
        let outcomes = run_all(
            specs,
            target.clone(),
            settings(SnapshotMode::Compare),
            policy,
            CONCURRENCY,
        )
        .await;
        target.logout().await.expect("logout");
        drop(target);
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
    if std::env::var_os("SKIPFIX").is_none() { soak("fixture", &runtime, |_| fixture_run(&runtime, &specs)); }

    let certificate =
        std::env::temp_dir().join(format!("emconform-soak-{}.pem", std::process::id()));
    let server = runtime
        .block_on(Server::start(ServeOptions {
            tls_certificate: Some(certificate.clone()),
            ..ServeOptions::default()
        }))
        .expect("emconform serve starts");
    if std::env::var_os("FRESH").is_some() {
        soak("serve fresh", &runtime, |_| {
            let server = runtime
                .block_on(Server::start(ServeOptions {
                    tls_certificate: Some(certificate.clone()),
                    ..ServeOptions::default()
                }))
                .expect("emconform serve starts");
            serve_run(&runtime, &server, &specs)
        });
    }
    if std::env::var_os("PROBE").is_some() {
        let h0 = HEAP_IN_USE.load(Ordering::Relaxed);
        for _ in 0..320 { server.fixture().provision_job("failed"); }
        let h1 = HEAP_IN_USE.load(Ordering::Relaxed);
        eprintln!("320 jobs: {} KiB", (h1 - h0) / 1024);
        let given: Vec<(String, String)> = needed_jobs(&specs).into_iter().map(|role| { let job = server.fixture().provision_job(&role).unwrap(); (role, job.id) }).collect();
        let h2 = HEAP_IN_USE.load(Ordering::Relaxed);
        eprintln!("{} needed jobs: {} KiB", given.len(), (h2 - h1) / 1024);
        return;
    }
    if std::env::var_os("NOJOBS").is_some() {
        let mut n = 0;
        soak("serve nojobs", &runtime, |_| { n+=1; if n > 1 { for _ in 0..32 { server.fixture().provision_job("failed"); } Vec::new() } else { serve_run(&runtime, &server, &specs) } });
    }
    soak("serve over HTTPS", &runtime, |_| {
        serve_run(&runtime, &server, &specs)
    });
    drop(server);
    let _ = std::fs::remove_file(certificate);
}
