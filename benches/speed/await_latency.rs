//! Await latency: how long after a task becomes `Finished` the trial that awaits it notices.
//!
//! The fixture normally finishes tasks after a number of polls, so "when it became Finished" would
//! depend on the polling itself. Here the fixture finishes each task a fixed time `d` after
//! creating it (`Behaviour::task_finishes_after`), like a real server, and `tasks::finishes`
//! trials (a retry, then an await on its task) run against it. For each trial,
//!
//!   latency = trial duration − d − (round trip of the retry) − (round trip of the last poll),
//!
//! an upper bound on the time between the task finishing and the answer that says so arriving
//! (it also holds the trial's own set-up, microseconds). It is bounded by the poll pause at that
//! moment: the suite polls at once, then after 1, 2, 4 … ms up to `poll_max`.

use std::time::Duration;

use emconform::fixture::{Behaviour, Profile};
use emconform::runner::{RunSettings, TrialSpec};

use crate::stats::Samples;
use crate::suite;

/// Latencies of `trials` awaits of tasks that finish after `d`, and the polls per await.
pub async fn measure(
    specs: &[TrialSpec],
    d: Duration,
    settings: RunSettings,
    trials: usize,
    concurrency: usize,
) -> (Samples, Samples) {
    let awaiting: Vec<TrialSpec> = specs
        .iter()
        .filter(|s| s.case.id == "tasks::finishes")
        .cloned()
        .collect();
    assert!(
        !awaiting.is_empty(),
        "the suite has no tasks::finishes case"
    );
    let specs = suite::synthetic(&awaiting, trials);
    let profile = Profile {
        behaviour: Behaviour {
            task_finishes_after: Some(d),
            ..Behaviour::default()
        },
        ..Profile::default()
    };
    let target = suite::fixture(profile).await;
    let run = suite::run(&specs, &target, &std::sync::Arc::new(settings), concurrency).await;
    let problems = run.not_passed();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let mut latency = Samples::default();
    let mut polls = Samples::default();
    for outcome in &run.outcomes {
        let [retry, awaited] = outcome.steps.as_slice() else {
            panic!("tasks::finishes has two steps: {:?}", outcome.steps.len());
        };
        let round_trips: Duration = [retry, awaited]
            .iter()
            .filter_map(|s| s.response.as_ref().map(|r| r.elapsed))
            .sum();
        latency.push_duration(outcome.duration.saturating_sub(d + round_trips));
        polls.push(f64::from(awaited.sends));
    }
    (latency, polls)
}
