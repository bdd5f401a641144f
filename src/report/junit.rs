//! The JUnit XML report (written by quick-junit, nextest's own writer).
//!
//! CI test views count JUnit failures, so each testcase carries the trial's verdict *as the gate
//! sees it*: a failure the expectation file expects is `skipped` (message: the entry's reason; the
//! failure text is kept in `system-out`), and a listed trial that now passes, or whose entry has
//! expired, is a `failure`. Entries naming no trial are failed testcases of their own, in a
//! second suite `emconform expectations`. The JSON report keeps the raw outcomes.

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use super::{Outcome, RunReport, TrialEntry};
use crate::expect::Standing;
use crate::runner::message::headline;

/// The report as JUnit XML.
pub fn render(report: &RunReport) -> Result<String, String> {
    let mut junit = Report::new("emconform");
    if let Ok(started) = chrono::DateTime::parse_from_rfc3339(&report.started_at) {
        junit.set_timestamp(started);
    }
    junit.set_time(std::time::Duration::from_secs_f64(report.duration_seconds));

    let mut suite = TestSuite::new("emconform");
    suite.add_properties([
        Property::new("target", report.target.base_url.as_str()),
        Property::new("target.kind", report.target.kind.as_str()),
        Property::new(
            "target.supported_versions",
            report.target.supported_versions.join(" "),
        ),
        Property::new("emconform.version", report.emconform_version.as_str()),
    ]);
    if let Some(file) = &report.expectations {
        suite.add_property(Property::new("expectations", file.as_str()));
    }
    suite.add_test_cases(report.trials.iter().map(test_case));
    junit.add_test_suite(suite);

    if !report.orphans.is_empty() {
        let mut orphans = TestSuite::new("emconform expectations");
        orphans.add_test_cases(report.orphans.iter().map(|o| {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            status.set_message(format!(
                "the expectation file lists {}, which is not a trial (listed at {})",
                o.trial,
                o.at.as_deref().unwrap_or("?")
            ));
            let mut case = TestCase::new(format!("expectation {}", o.trial), status);
            case.set_classname("emconform expectations");
            case
        }));
        junit.add_test_suite(orphans);
    }
    junit.to_string().map_err(|e| e.to_string())
}

fn test_case(trial: &TrialEntry) -> TestCase {
    let entry_reason = trial
        .expectation
        .as_ref()
        .and_then(|e| e.reason.clone())
        .unwrap_or_default();
    let status = match (trial.outcome, trial.standing()) {
        (Outcome::Failed, Some(Standing::ExpectedFailure)) => {
            let mut s = TestCaseStatus::skipped();
            s.set_message(format!("expected failure: {entry_reason}"));
            s
        }
        (_, Some(Standing::NowPasses)) => failure(
            format!(
                "passes, but the expectation file expects it to fail ({entry_reason}): remove the entry"
            ),
            None,
        ),
        (_, Some(Standing::Expired)) => failure(
            format!(
                "the expected failure's entry expired on {} ({entry_reason})",
                trial
                    .expectation
                    .as_ref()
                    .and_then(|e| e.expires.as_deref())
                    .unwrap_or("?")
            ),
            trial.failure.as_deref(),
        ),
        (Outcome::Failed, _) => {
            let text = trial.failure.as_deref().unwrap_or("failed");
            failure(headline(text).to_string(), Some(text))
        }
        (Outcome::Ignored, _) => {
            let mut s = TestCaseStatus::skipped();
            s.set_message(trial.reason.clone().unwrap_or_default());
            s
        }
        (Outcome::Passed, _) => TestCaseStatus::success(),
    };
    let mut case = TestCase::new(trial.id.as_str(), status);
    case.set_classname(trial.case.as_str())
        .set_time(std::time::Duration::from_secs_f64(trial.duration_seconds))
        .add_properties([
            Property::new("level", trial.level.name()),
            Property::new("spec", trial.spec.as_str()),
            Property::new("format", trial.format.name()),
        ]);
    if trial.standing() == Some(Standing::ExpectedFailure)
        && let Some(text) = &trial.failure
    {
        case.set_system_out(text.as_str());
    }
    case
}

fn failure(message: String, description: Option<&str>) -> TestCaseStatus {
    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
    s.set_message(message);
    if let Some(d) = description {
        s.set_description(d);
    }
    s
}
