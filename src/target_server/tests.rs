//! A remote target, played by the embedded fixture reached over the network: session renewal,
//! job discovery, `--job` checks, and leases that re-check a job before handing it out.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::*;
use crate::http::OutgoingRequest;

async fn remote(fixture: &Fixture) -> Arc<Target> {
    remote_with(fixture, HttpConfig::default()).await
}

async fn remote_with(fixture: &Fixture, config: HttpConfig) -> Arc<Target> {
    let http = HttpClient::new(config).expect("client");
    let target = connect(
        fixture.api_base(),
        http,
        fixture.credentials(),
        "latest",
        &Redactor::new(),
    )
    .await
    .expect("logon");
    Arc::new(target)
}

fn roles(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// Retries `job` and waits for its task, so the job's newest session ends Success.
async fn retry_to_success(target: &Target, job: &JobInfo) {
    let request = OutgoingRequest {
        method: "POST".into(),
        url: target
            .api_base
            .join(&format!("jobs/{}?action=retry", job.id))
            .unwrap(),
        headers: vec![
            ("Accept".into(), "application/xml".into()),
            (
                SESSION_HEADER.into(),
                target.session_token().expose().into(),
            ),
            ("Content-Length".into(), "0".into()),
        ],
        body: None,
    };
    assert_eq!(target.http.send(&request).await.unwrap().status, 202);
    // The fixture finishes a task on its second poll.
    let tasks = target.api_get("tasks").await.unwrap().text().into_owned();
    let id = tasks
        .split("<TaskId>")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap();
    for _ in 0..2 {
        target.api_get(&format!("tasks/{id}")).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_session_is_renewed_once_and_the_request_sent_again() {
    let fixture = Fixture::start(FixtureOptions::default()).await.unwrap();
    let target = remote(&fixture).await;
    let first = target.session_token();
    // The server forgets the session (as after its 15-minute idle timeout).
    target.logout().await.unwrap();
    let response = target.api_get("jobs").await.unwrap();
    assert_eq!(response.status, 200);
    let second = target.session_token();
    assert_ne!(first, second);
    assert_eq!(fixture.issued_tokens().len(), 2);
    // A caller still holding the stale token gets the new one, without another logon.
    assert_eq!(target.renew_session(&first).await.unwrap(), second);
    assert_eq!(fixture.issued_tokens().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn renewals_are_bounded() {
    let fixture = Fixture::start(FixtureOptions::default()).await.unwrap();
    let target = remote(&fixture).await;
    for _ in 0..MAX_SESSION_RENEWALS {
        let stale = target.session_token();
        target.renew_session(&stale).await.unwrap();
    }
    let stale = target.session_token();
    let err = target.renew_session(&stale).await.unwrap_err();
    assert!(err.contains("renewed 3 times already"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn discovery_finds_one_job_per_role_and_reports_it() {
    let fixture = Fixture::start(FixtureOptions::default()).await.unwrap();
    let target = remote(&fixture).await;
    let all: Vec<&str> = crate::roles::JOB_ROLES.iter().map(|r| r.name).collect();
    let report = target.find_jobs(&[], &roles(&all)).await.unwrap();
    assert!(
        report.starts_with("emconform: jobs for the trials (6 jobs on the target):"),
        "{report}"
    );
    for (role, job) in fixture.seeded_jobs() {
        assert!(
            report.contains(&format!("\"{}\" {} (found)", job.name, job.id)),
            "{role} missing from:\n{report}"
        );
        assert_eq!(target.lease_job(role, false).await, Ok(job));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn given_jobs_are_checked_and_an_unknown_one_is_an_error() {
    let fixture = Fixture::start(FixtureOptions::default()).await.unwrap();
    let target = remote(&fixture).await;
    let seeded = fixture.seeded_jobs();
    let job = |role: &str| seeded.iter().find(|(r, _)| *r == role).unwrap().1.clone();
    // A succeeded job given as `failed`: used as given, with a warning.
    let given = vec![("failed".to_string(), job("succeeded").id)];
    let report = target.find_jobs(&given, &roles(&["failed"])).await.unwrap();
    assert!(report.contains("(given)"), "{report}");
    assert!(
        report.contains(
            "its newest session ended Success; its trials will be ignored unless that changes"
        ),
        "{report}"
    );
    // ... and the lease's re-check ignores it.
    match target.lease_job("failed", true).await {
        Err(NoJob::Ignored(why)) => {
            assert!(
                why.contains("no longer plays `failed`: its newest session ended Success"),
                "{why}"
            );
            assert!(
                why.ends_with("give one with --job failed=ID (repeatable)"),
                "{why}"
            );
        }
        other => panic!("{other:?}"),
    }
    let unknown = vec![(
        "failed".to_string(),
        "00000000-0000-4000-8000-000000000000".to_string(),
    )];
    let err = target
        .find_jobs(&unknown, &roles(&["failed"]))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("the target has no such job"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_job_is_leased_once_and_not_again_after_its_retry() {
    let fixture = Fixture::start(FixtureOptions::default()).await.unwrap();
    let target = remote(&fixture).await;
    let failed = fixture.provision_job("failed").unwrap();
    // Given twice, it is still one job.
    let given = vec![("failed".to_string(), failed.id.clone()); 2];
    target.find_jobs(&given, &roles(&["failed"])).await.unwrap();
    // A reading trial shares it; a retrying trial takes it.
    assert_eq!(target.lease_job("failed", false).await, Ok(failed.clone()));
    assert_eq!(target.lease_job("failed", true).await, Ok(failed.clone()));
    match target.lease_job("failed", true).await {
        Err(NoJob::Ignored(why)) => assert!(why.contains("taken by an earlier trial"), "{why}"),
        other => panic!("{other:?}"),
    }
    // Given again (say, by the next run) after the retry succeeded: no longer failed.
    retry_to_success(&target, &failed).await;
    target.find_jobs(&given, &roles(&["failed"])).await.unwrap();
    match target.lease_job("failed", false).await {
        Err(NoJob::Ignored(why)) => assert!(why.contains("no longer plays `failed`"), "{why}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_check_that_gets_no_answer_fails_the_lease() {
    let fixture = Fixture::start(FixtureOptions {
        fault: Some(crate::fixture::Fault::NoAnswer),
        ..FixtureOptions::default()
    })
    .await
    .unwrap();
    let target = remote_with(
        &fixture,
        HttpConfig {
            request_timeout: std::time::Duration::from_millis(200),
            ..HttpConfig::default()
        },
    )
    .await;
    let mut jobs = BTreeMap::new();
    jobs.insert(
        "failed".to_string(),
        vec![fixture.seeded_jobs()[0].1.clone()],
    );
    let target = Target::remote(
        target.api_base.clone(),
        target.http.clone(),
        target.credentials.clone(),
        target.session(),
        target.redactor.clone(),
        "latest",
        jobs,
    );
    match target.lease_job("failed", true).await {
        Err(NoJob::Failed(why)) => {
            assert!(why.starts_with("cannot check that job"), "{why}");
            assert!(why.contains("no complete answer within 200ms"), "{why}");
        }
        other => panic!("{other:?}"),
    }
}
