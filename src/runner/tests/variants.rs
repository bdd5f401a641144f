//! Allowed variants exercise the alternatives cases accept. That the whole suite passes on every
//! variant is the self-check's business ([`crate::selfcheck`]).

use std::sync::Arc;

use super::{POLICY, fixture_with, settings, specs};
use crate::runner::{Verdict, run_all};

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
