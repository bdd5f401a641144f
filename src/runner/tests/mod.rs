//! The harness checked against the embedded fixture, clean and with faults: a fault fails the
//! right trials with a message that shows both values, and no secret reaches a message or a
//! normalised response. That every case detects a fault and that the suite passes on the clean
//! fixture and every allowed variant is proved by the self-check ([`crate::selfcheck`]).

mod variants;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::{Policy, RunSettings, TrialOutcome, TrialSpec, Verdict, plan, run_all};
use crate::case::load_cases;
use crate::cli::PROJECT_ROOT;
use crate::fixture::{Fault, FixtureOptions, Profile};
use crate::http::HttpConfig;
use crate::secret::Redactor;
use crate::snapshot::{SnapshotMode, Snapshots};
use crate::target_server::{Target, start_fixture};

pub(crate) fn specs() -> Vec<TrialSpec> {
    let cases =
        load_cases(&Path::new(PROJECT_ROOT).join("cases")).expect("the project's cases load");
    plan(&cases)
}

pub(crate) async fn fixture(fault: Option<Fault>) -> Arc<Target> {
    Arc::new(fixture_with(fault, Profile::default()).await)
}

/// A fixture target with a fault and a profile (a variant).
pub(super) async fn fixture_with(fault: Option<Fault>, profile: Profile) -> Target {
    let options = FixtureOptions {
        fault,
        ..FixtureOptions::default()
    };
    start_fixture(
        options,
        profile,
        HttpConfig::default(),
        &Redactor::new(),
        "latest",
    )
    .await
    .expect("the fixture starts")
}

pub(crate) fn settings() -> Arc<RunSettings> {
    Arc::new(RunSettings {
        await_deadline: Duration::from_secs(5),
        poll_initial: Duration::ZERO,
        poll_max: Duration::from_millis(20),
        snapshots: Snapshots::new(
            Path::new(PROJECT_ROOT).join("snapshots"),
            SnapshotMode::Compare,
        ),
    })
}

pub(super) const POLICY: Policy = Policy {
    allow_side_effects: false,
};

pub(crate) async fn run(target: &Arc<Target>) -> Vec<TrialOutcome> {
    run_all(&specs(), target.clone(), settings(), POLICY, 8).await
}

fn outcome<'a>(outcomes: &'a [TrialOutcome], id: &str) -> &'a TrialOutcome {
    outcomes
        .iter()
        .find(|o| o.id == id)
        .unwrap_or_else(|| panic!("no trial {id}"))
}

fn failure(outcomes: &[TrialOutcome], id: &str) -> String {
    match &outcome(outcomes, id).verdict {
        Verdict::Failed(message) => message.clone(),
        other => panic!("{id} should have failed, but: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn retry_answering_200_fails_the_retry_trials_showing_both_statuses() {
    let outcomes = run(&fixture(Some(Fault::RetryStatus200)).await).await;
    for id in ["jobs::retry::answer::xml", "jobs::retry::answer::json"] {
        let message = failure(&outcomes, id);
        assert!(message.contains("step 1/1 \"retry\""), "{message}");
        assert!(
            message.contains("✗ status: expected 202, got 200"),
            "{message}"
        );
        assert!(message.contains("curl -sS -i -X POST"), "{message}");
    }
    assert_eq!(
        outcome(&outcomes, "jobs::retry::without_session::xml").verdict,
        Verdict::Passed
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_task_without_namespace_fails_the_xml_trial_showing_both_namespaces() {
    let outcomes = run(&fixture(Some(Fault::TaskWithoutNamespace)).await).await;
    let message = failure(&outcomes, "jobs::retry::answer::xml");
    assert!(
        message.contains(
            "✗ root element: expected `Task` in namespace http://www.veeam.com/ent/v1.0, got `Task` in no namespace"
        ),
        "{message}"
    );
    // JSON has no namespaces: that trial cannot see this fault.
    assert_eq!(
        outcome(&outcomes, "jobs::retry::answer::json").verdict,
        Verdict::Passed
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn after_a_failure_only_cleanup_steps_run_and_the_first_failure_stays_the_verdict() {
    let outcomes = run(&fixture(Fault::by_name("logon-without-session-id")).await).await;
    let logon = outcome(&outcomes, "session::logon::xml");
    let Verdict::Failed(message) = &logon.verdict else {
        panic!("{:?}", logon.verdict)
    };
    assert!(message.contains("step 1/2 \"logon\""), "{message}");
    let logout = &logon.steps[1];
    assert_eq!(logout.name, "logout");
    assert_eq!(logout.response.as_ref().map(|r| r.status), Some(204));
    // A step that is not a cleanup is skipped after a failure.
    let outcomes = run(&fixture(Fault::by_name("retry-status-200")).await).await;
    let finishes = outcome(&outcomes, "tasks::finishes::json");
    assert!(matches!(finishes.verdict, Verdict::Failed(_)));
    assert_eq!(
        finishes.steps[1].skipped.as_deref(),
        Some("an earlier step failed")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_second_account_the_portal_user_trials_are_ignored_with_the_reason() {
    let mut target = fixture_with(None, Profile::default()).await;
    target.portal_account = None;
    let outcomes = run(&Arc::new(target)).await;
    for format in ["xml", "json"] {
        match &outcome(&outcomes, &format!("jobs::retry::portal_user::{format}")).verdict {
            Verdict::Ignored(reason) => assert!(reason.contains("--portal-user"), "{reason}"),
            other => panic!("should be ignored, but: {other:?}"),
        }
    }
    assert_eq!(
        outcome(&outcomes, "jobs::retry::answer::xml").verdict,
        Verdict::Passed
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn no_password_or_session_id_in_messages_or_normalised_responses() {
    // Faults whose failure messages print retry answers, logon answers (token header, cookie,
    // Location, the LogonSession body) and logout answers.
    for fault in [
        Fault::RetryStatus200,
        Fault::LogonWithoutSessionId,
        Fault::LogoutStatus200,
        Fault::PortalUserAllowed,
    ] {
        let target = fixture(Some(fault)).await;
        let outcomes = run(&target).await;
        let fixture = target.embedded_fixture().expect("a fixture target");
        assert!(
            fixture.issued_tokens().len() > 1,
            "the cases opened sessions of their own"
        );
        let secrets = fixture.secrets();
        let mut texts = Vec::new();
        for o in &outcomes {
            if let Verdict::Failed(m) = &o.verdict {
                texts.push(m.clone());
            }
            texts.extend(o.steps.iter().filter_map(|s| s.normalised.clone()));
        }
        assert!(
            texts.iter().any(|t| t.contains(": <redacted>")),
            "a curl line or a header shows a secret, redacted ({fault:?})"
        );
        for text in &texts {
            for secret in &secrets {
                assert!(
                    !text.contains(secret.as_str()),
                    "a secret leaked under {fault:?} into:\n{text}"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_run_session_is_renewed_and_the_trials_still_pass() {
    let target = fixture(None).await;
    // The server forgets the run's session, as after its idle timeout.
    target.logout().await.expect("logout");
    let outcomes = run(&target).await;
    for o in &outcomes {
        assert!(
            !matches!(o.verdict, Verdict::Failed(_)),
            "{}: {:?}",
            o.id,
            o.verdict
        );
    }
    let fixture = target.embedded_fixture().expect("a fixture target");
    let own_sessions = fixture.issued_tokens().len();
    // The renewal is shared by every trial that met the 401: one logon for the run, one renewal,
    // plus the sessions the authentication cases open for themselves (with their own steps).
    let run_without_renewal = {
        let fresh = self::fixture(None).await;
        run(&fresh).await;
        fresh
            .embedded_fixture()
            .expect("a fixture target")
            .issued_tokens()
            .len()
    };
    assert_eq!(own_sessions, run_without_renewal + 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_task_that_never_finishes_fails_at_the_deadline_saying_what_was_awaited() {
    let target = fixture(Some(Fault::TaskNeverFinishes)).await;
    let settings = Arc::new(RunSettings {
        await_deadline: Duration::from_millis(100),
        ..(*settings()).clone()
    });
    let outcomes = run_all(&specs(), target.clone(), settings, POLICY, 8).await;
    let message = failure(&outcomes, "tasks::finishes::xml");
    assert!(message.contains("step 2/"), "{message}");
    assert!(message.contains("\"task finishes\""), "{message}");
    assert!(message.contains("✗ gave up waiting after"), "{message}");
    assert!(message.contains("equals = \"Finished\""), "{message}");
    // The last thing seen: the task, still running.
    assert!(message.contains("<State>Running</State>"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outcomes_come_in_trial_order_whatever_the_concurrency() {
    let target = fixture(None).await;
    let specs: Vec<TrialSpec> = specs().into_iter().take(12).collect();
    // The same trial twice keeps both places.
    let twice: Vec<TrialSpec> = specs.iter().chain(&specs[..1]).cloned().collect();
    for concurrency in [1, 3, 64] {
        let outcomes = run_all(&twice, target.clone(), settings(), POLICY, concurrency).await;
        let ids: Vec<&str> = outcomes.iter().map(|o| o.id.as_str()).collect();
        let expected: Vec<&str> = twice.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, expected, "at {concurrency} at a time");
        for o in &outcomes {
            assert_ne!(
                o.verdict,
                Verdict::Failed("the trial did not complete".into()),
                "{}",
                o.id
            );
        }
    }
    assert!(run_all(&[], target, settings(), POLICY, 8).await.is_empty());
}

#[tokio::test]
async fn a_panicking_future_is_caught_and_a_finished_one_passes_through() {
    let fine = super::CatchUnwind(Box::pin(async { 7 })).await;
    assert_eq!(fine.ok(), Some(7));
    let panicking = super::CatchUnwind(Box::pin(async {
        if Path::new("/").exists() {
            panic!("a bug");
        }
        7
    }))
    .await;
    let Err(panic) = panicking else {
        panic!("the panic was not caught");
    };
    assert_eq!(super::panic_text(panic.as_ref()), "a bug");
}
