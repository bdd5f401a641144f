//! No false alarms: the suite passes against every variant of the fixture that differs from the
//! default only in ways the spec allows (prefixes, attribute order, charset, BOM, nulls, extra
//! members, interim task states, slow tasks, refusal through a task).

use std::sync::Arc;

use super::{POLICY, fixture_with, settings, specs};
use crate::fixture::VARIANTS;
use crate::runner::{Verdict, run_all};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_suite_passes_on_every_allowed_variant() {
    let mut runs = tokio::task::JoinSet::new();
    for variant in VARIANTS {
        runs.spawn(async move {
            let target = Arc::new(fixture_with(None, (variant.profile)()).await);
            (
                variant,
                run_all(&specs(), target, settings(), POLICY, 8).await,
            )
        });
    }
    let mut problems = Vec::new();
    while let Some(joined) = runs.join_next().await {
        let (variant, outcomes) = joined.expect("the run completes");
        assert!(!outcomes.is_empty());
        for o in outcomes {
            if o.verdict != Verdict::Passed {
                problems.push(format!(
                    "{} on variant {} ({}): {:?}",
                    o.id, variant.name, variant.description, o.verdict
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

/// The refusal cases really take their `accepted` path on a server that refuses by task, and their
/// `refused` path on the default fixture: both alternatives are exercised.
#[tokio::test(flavor = "multi_thread")]
async fn refusal_cases_take_both_paths() {
    let refusals: Vec<_> = specs()
        .into_iter()
        .filter(|s| s.case.def.tags.iter().any(|t| t == "refusal"))
        .filter(|s| s.case.def.steps[0].expect.0.len() > 1)
        .collect();
    assert!(refusals.len() >= 8, "{}", refusals.len());
    let by_task = crate::fixture::variants::variant("refuse-by-task").expect("variant");
    for (profile, expected) in [
        ((by_task.profile)(), "accepted"),
        (crate::fixture::Profile::default(), "refused"),
    ] {
        let target = Arc::new(fixture_with(None, profile).await);
        for o in run_all(&refusals, target, settings(), POLICY, 8).await {
            assert_eq!(o.verdict, Verdict::Passed, "{}", o.id);
            assert_eq!(o.steps[0].outcome.as_deref(), Some(expected), "{}", o.id);
        }
    }
}
