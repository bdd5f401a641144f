//! Running the project's suite (or a synthetic one made of its trials) against a fresh embedded
//! fixture with the engine the CLI's `record` and the harness tests use (`runner::run_all`), with
//! the settings and thread count a run against the fixture has by default.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use emconform::case::load_cases;
use emconform::cli::PROJECT_ROOT;
use emconform::cli::run::default_run_settings;
use emconform::fixture::{FixtureOptions, Profile};
use emconform::http::HttpConfig;
use emconform::runner::{Policy, RunSettings, TrialOutcome, TrialSpec, Verdict, plan, run_all};
use emconform::secret::Redactor;
use emconform::snapshot::{SnapshotMode, Snapshots};
use emconform::target_server::{Target, start_fixture};

/// Every trial of the project's cases, `may` ones included (the CLI ignores those by default;
/// here they are work like any other).
pub fn project_specs() -> Vec<TrialSpec> {
    let cases =
        load_cases(&Path::new(PROJECT_ROOT).join("cases")).expect("the project's cases load");
    plan(&cases)
}

/// `count` trials cycling through `specs`, each with its own id (`…#7`); snapshots still match,
/// since they are named after the case.
pub fn synthetic(specs: &[TrialSpec], count: usize) -> Vec<TrialSpec> {
    specs
        .iter()
        .cycle()
        .take(count)
        .enumerate()
        .map(|(n, spec)| TrialSpec {
            id: format!("{}#{n}", spec.id),
            ..spec.clone()
        })
        .collect()
}

/// The settings of a run against the fixture: its polling, and its snapshots as golden files.
/// Mismatching snapshots would fail trials (and are never written: `INSTA_UPDATE=no`).
pub fn fixture_settings() -> Arc<RunSettings> {
    Arc::new(default_run_settings(
        false,
        Snapshots::new(
            Path::new(PROJECT_ROOT).join("snapshots"),
            SnapshotMode::Assert,
        ),
    ))
}

/// The HTTP limits of a run against the fixture.
pub fn fixture_http() -> HttpConfig {
    HttpConfig {
        request_timeout: Duration::from_secs(10),
        ..HttpConfig::default()
    }
}

/// A fresh fixture with `profile`, logged on.
pub async fn fixture(profile: Profile) -> Arc<Target> {
    let target = start_fixture(
        FixtureOptions::default(),
        profile,
        fixture_http(),
        &Redactor::new(),
        "latest",
    )
    .await
    .expect("the fixture starts");
    Arc::new(target)
}

/// One timed run of `specs`.
pub struct Run {
    pub elapsed: Duration,
    /// CPU time of the whole process meanwhile (harness and fixture).
    pub cpu: crate::stats::CpuTime,
    pub outcomes: Vec<TrialOutcome>,
}

impl Run {
    /// Requests sent, each await poll counted.
    pub fn requests(&self) -> u64 {
        self.outcomes
            .iter()
            .flat_map(|o| &o.steps)
            .map(|s| u64::from(s.sends))
            .sum()
    }

    /// The ids of trials that did not pass, with why (the figures of a failing suite mean little).
    pub fn not_passed(&self) -> Vec<String> {
        self.outcomes
            .iter()
            .filter(|o| o.verdict != Verdict::Passed)
            .map(|o| match &o.verdict {
                Verdict::Failed(m) => format!("{} failed:\n{m}", o.id),
                Verdict::Ignored(r) => format!("{} ignored: {r}", o.id),
                Verdict::Passed => o.id.clone(),
            })
            .collect()
    }
}

/// Runs `specs` against `target` with `concurrency` trials at a time; times `run_all` alone.
pub async fn run(
    specs: &[TrialSpec],
    target: &Arc<Target>,
    settings: &Arc<RunSettings>,
    concurrency: usize,
) -> Run {
    let policy = Policy {
        allow_side_effects: false,
    };
    let (started, cpu) = (Instant::now(), crate::stats::CpuTime::now());
    let outcomes = run_all(specs, target.clone(), settings.clone(), policy, concurrency).await;
    Run {
        elapsed: started.elapsed(),
        cpu: crate::stats::CpuTime::since(cpu),
        outcomes,
    }
}
