//! Every case can fail: for each one, a fault of the fixture (a single deviation from the spec)
//! makes its trials fail, with a message that names the deviation (the fault's `shows` text).
//!
//! A case added without an entry here fails `every_case_has_a_fault`; a fault whose trials pass,
//! or fail for another reason, fails `each_fault_fails_its_cases_and_says_why`.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::{POLICY, fixture_with, settings, specs};
use crate::body::Format;
use crate::fixture::{Fault, Profile};
use crate::runner::{TrialSpec, Verdict, run_all};

/// A case, a fault that must fail it, and the one format it shows in (`None`: every format the
/// case runs in). JSON has no namespaces and XML no key case, so some faults show in one format.
const KILLS: &[(&str, &str, Option<Format>)] = &[
    ("session::entry_point", "entry-point-requires-session", None),
    (
        "session::entry_point_links",
        "entry-point-without-create-link",
        None,
    ),
    ("session::logon", "logon-without-session-id", None),
    (
        "session::bad_credentials",
        "logon-401-without-www-authenticate",
        None,
    ),
    ("session::header_accepted", "session-header-ignored", None),
    ("session::logout", "logout-status-200", None),
    ("session::after_logout", "logout-keeps-session", None),
    ("jobs::retry::answer", "retry-status-200", None),
    (
        "jobs::retry::answer",
        "task-without-namespace",
        Some(Format::Xml),
    ),
    ("jobs::retry::answer", "task-href-relative", None),
    ("jobs::retry::answer", "task-without-delete-link", None),
    ("jobs::retry::answer", "task-result-while-running", None),
    (
        "jobs::retry::answer",
        "xml-labelled-text-xml",
        Some(Format::Xml),
    ),
    ("jobs::retry::answer", "json-camel-case", Some(Format::Json)),
    ("jobs::retry::without_session", "session-not-required", None),
    (
        "jobs::retry::unknown_session",
        "unknown-session-accepted",
        None,
    ),
    ("jobs::retry::unknown_job", "unknown-job-500", None),
    (
        "jobs::retry::unknown_job",
        "error-status-code-mismatch",
        None,
    ),
    ("jobs::retry::malformed_id", "malformed-job-id-500", None),
    (
        "jobs::retry::last_run_succeeded",
        "retry-not-only-failed",
        None,
    ),
    (
        "jobs::retry::last_run_warning",
        "retry-not-only-failed",
        None,
    ),
    ("jobs::retry::job_running", "retry-while-running", None),
    ("jobs::retry::backup_copy", "retry-backup-copy", None),
    (
        "jobs::retry::unknown_action",
        "unknown-action-starts-job",
        None,
    ),
    ("jobs::retry::wrong_method", "action-url-get-allowed", None),
    ("jobs::retry::portal_user", "portal-user-allowed", None),
    ("jobs::retry::hyperv", "hyperv-retry-refused", None),
    (
        "jobs::retry::new_session_is_retry",
        "retry-session-not-flagged",
        None,
    ),
    ("jobs::actions::start", "every-action-is-retryjob", None),
    ("jobs::actions::stop", "every-action-is-retryjob", None),
    (
        "jobs::actions::toggle_schedule",
        "every-action-is-retryjob",
        None,
    ),
    ("tasks::finishes", "task-finishes-unsuccessfully", None),
    ("tasks::listed", "tasks-list-empty", None),
    ("tasks::delete", "task-delete-status-200", None),
    ("tasks::gone_after_delete", "task-delete-keeps-task", None),
    ("tasks::wrong_method", "task-put-allowed", None),
    ("negotiation::no_accept", "no-accept-gives-json", None),
    ("negotiation::accept_xml", "xml-labelled-text-xml", None),
    ("negotiation::accept_json", "json-not-supported", None),
    (
        "negotiation::accept_any",
        "wildcard-accept-gives-json",
        None,
    ),
    (
        "negotiation::accept_list_with_json",
        "json-only-when-sole-accept",
        None,
    ),
    ("negotiation::pascal_case_keys", "json-camel-case", None),
];

#[test]
fn every_case_has_a_fault() {
    let listed: BTreeSet<&str> = KILLS.iter().map(|(case, _, _)| *case).collect();
    let cases: BTreeSet<String> = specs().into_iter().map(|s| s.case.id.clone()).collect();
    let missing: Vec<&String> = cases
        .iter()
        .filter(|c| !listed.contains(c.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "cases with no fault that proves they can fail (add one to KILLS): {missing:?}"
    );
    let unknown: Vec<&&str> = listed.iter().filter(|c| !cases.contains(**c)).collect();
    assert!(
        unknown.is_empty(),
        "KILLS names cases that do not exist: {unknown:?}"
    );
    for (_, fault, _) in KILLS {
        assert!(Fault::by_name(fault).is_some(), "no fault {fault:?}");
    }
}

/// Runs `case`'s trials (in `format`, or all) against a fixture started with `fault`.
async fn run_case(case: &str, fault: Fault, format: Option<Format>) -> Vec<(TrialSpec, Verdict)> {
    let trials: Vec<TrialSpec> = specs()
        .into_iter()
        .filter(|s| s.case.id == case && format.is_none_or(|f| s.format == f))
        .collect();
    let target = Arc::new(fixture_with(Some(fault), Profile::default()).await);
    let outcomes = run_all(&trials, target, settings(), POLICY, 4).await;
    trials
        .into_iter()
        .zip(outcomes)
        .map(|(spec, outcome)| (spec, outcome.verdict))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_fault_fails_its_cases_and_says_why() {
    let mut runs = tokio::task::JoinSet::new();
    for &(case, name, format) in KILLS {
        let fault = Fault::by_name(name).unwrap_or_else(|| panic!("no fault {name:?}"));
        runs.spawn(async move { (case, fault, run_case(case, fault, format).await) });
    }
    let mut problems = Vec::new();
    while let Some(joined) = runs.join_next().await {
        let (case, fault, verdicts) = joined.expect("the run completes");
        let info = fault.info();
        if verdicts.is_empty() {
            problems.push(format!("{case}: no trial to run"));
        }
        for (spec, verdict) in verdicts {
            match verdict {
                Verdict::Failed(message) if message.contains(info.shows) => {}
                Verdict::Failed(message) => problems.push(format!(
                    "{} under fault {}: failed, but the message does not show {:?}:\n{message}",
                    spec.id, info.name, info.shows
                )),
                other => problems.push(format!(
                    "{} under fault {} ({}): not detected, {other:?}",
                    spec.id, info.name, info.description
                )),
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}
