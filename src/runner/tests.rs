//! The harness checked against the embedded fixture, clean and with faults: the suite passes on the
//! clean fixture, a fault fails the right trials with a message that shows both values, and no
//! secret reaches a message or a normalised response.

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
use crate::target::{Target, start_fixture};

fn specs() -> Vec<TrialSpec> {
    let cases =
        load_cases(&Path::new(PROJECT_ROOT).join("cases")).expect("the project's cases load");
    plan(&cases)
}

async fn fixture(fault: Option<Fault>) -> Arc<Target> {
    let options = FixtureOptions {
        fault,
        ..FixtureOptions::default()
    };
    let target = start_fixture(
        options,
        Profile::default(),
        HttpConfig::default(),
        &Redactor::new(),
        "latest",
    )
    .await
    .expect("the fixture starts");
    Arc::new(target)
}

fn settings() -> Arc<RunSettings> {
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

async fn run(target: &Arc<Target>) -> Vec<TrialOutcome> {
    run_all(
        &specs(),
        target.clone(),
        settings(),
        Policy {
            allow_side_effects: false,
        },
        8,
    )
    .await
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
async fn the_clean_fixture_passes_every_trial() {
    let outcomes = run(&fixture(None).await).await;
    assert!(!outcomes.is_empty());
    for o in &outcomes {
        assert_eq!(o.verdict, Verdict::Passed, "{}", o.id);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn retry_answering_200_fails_the_retry_trials_showing_both_statuses() {
    let outcomes = run(&fixture(Some(Fault::RetryStatus200)).await).await;
    for id in [
        "jobs::retry::failed_job::xml",
        "jobs::retry::failed_job::json",
    ] {
        let message = failure(&outcomes, id);
        assert!(message.contains("step 1/3 \"retry\""), "{message}");
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
    let message = failure(&outcomes, "jobs::retry::failed_job::xml");
    assert!(
        message.contains(
            "✗ root element: expected `Task` in namespace http://www.veeam.com/ent/v1.0, got `Task` in no namespace"
        ),
        "{message}"
    );
    // JSON has no namespaces: that trial cannot see this fault.
    assert_eq!(
        outcome(&outcomes, "jobs::retry::failed_job::json").verdict,
        Verdict::Passed
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn no_password_or_session_id_in_messages_or_normalised_responses() {
    let target = fixture(Some(Fault::RetryStatus200)).await;
    let outcomes = run(&target).await;
    let fixture = target.embedded_fixture().expect("a fixture target");
    let password = fixture.credentials().password.expose().to_string();
    let mut secrets = fixture.issued_tokens();
    assert!(!secrets.is_empty());
    // The tokens encode the session GUIDs: those are session ids too.
    for token in secrets.clone() {
        use base64::Engine as _;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(&token)
            .expect("base64");
        secrets.push(String::from_utf8(decoded).expect("text"));
    }
    secrets.push(password);
    let mut texts = Vec::new();
    for o in &outcomes {
        if let Verdict::Failed(m) = &o.verdict {
            texts.push(m.clone());
        }
        texts.extend(o.steps.iter().filter_map(|s| s.normalised.clone()));
    }
    assert!(
        texts
            .iter()
            .any(|t| t.contains("X-RestSvcSessionId: <redacted>")),
        "a curl line shows the header, redacted"
    );
    for text in &texts {
        for secret in &secrets {
            assert!(
                !text.contains(secret.as_str()),
                "a secret leaked into:\n{text}"
            );
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
        assert_eq!(o.verdict, Verdict::Passed, "{}", o.id);
    }
    let fixture = target.embedded_fixture().expect("a fixture target");
    // One logon for the run, one renewal shared by every trial that met the 401.
    assert_eq!(fixture.issued_tokens().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_task_that_never_finishes_fails_at_the_deadline_saying_what_was_awaited() {
    let target = fixture(Some(Fault::TaskNeverFinishes)).await;
    let settings = Arc::new(RunSettings {
        await_deadline: Duration::from_millis(100),
        ..(*settings()).clone()
    });
    let outcomes = run_all(
        &specs(),
        target.clone(),
        settings,
        Policy {
            allow_side_effects: false,
        },
        8,
    )
    .await;
    let message = failure(&outcomes, "jobs::retry::failed_job::xml");
    assert!(
        message.contains("step 2/3 \"task is consistent\""),
        "{message}"
    );
    assert!(message.contains("✗ gave up waiting after"), "{message}");
    assert!(
        message.contains("still not { path = \"State\", equals = \"Finished\" } (cases/jobs/retry/failed_job.toml:"),
        "{message}"
    );
    // The last thing seen: the task, still running.
    assert!(message.contains("<State>Running</State>"), "{message}");
}
