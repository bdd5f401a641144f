//! Reports of a real run (the suite against the fixture with `retry-status-200`, judged by an
//! expectation file), read back the way their consumers read them.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use super::*;
use crate::expect::Expectations;
use crate::fixture::Fault;
use crate::runner::tests::{fixture, run, specs};
use crate::target_server::Target;

const EXPECT: &str = r#"
[[expected]]
trial = "jobs::retry::answer::xml"
reason = "answers 200 to a retry"
link = "https://tracker.example/EM-12"

[[expected]]
trial = "jobs::retry::without_session::json"
reason = "was refused with 200 once"

[[expected]]
trial = "jobs::retry::gone::xml"
reason = "a case that was renamed"
"#;

struct Run {
    target: Arc<Target>,
    report: RunReport,
    /// How many trials failed, and how many were ignored, counted from the outcomes.
    failed: usize,
    ignored: usize,
}

/// The faulted run, judged: `answer::xml` fails as expected, `answer::json` is a new failure (as
/// are the task trials), `without_session::json` passes although listed, `gone::xml` names no
/// trial.
async fn faulted_report() -> Run {
    let target = fixture(Some(Fault::RetryStatus200)).await;
    let results: Vec<(TrialSpec, TrialOutcome)> =
        specs().into_iter().zip(run(&target).await).collect();
    let verdicts: Vec<(&str, &Verdict)> = results
        .iter()
        .map(|(s, o)| (s.id.as_str(), &o.verdict))
        .collect();
    let suite: BTreeSet<String> = results.iter().map(|(s, _)| s.id.clone()).collect();
    let expectations = Expectations::parse(&PathBuf::from("expect.toml"), EXPECT).unwrap();
    let judgement = expectations.judge(&verdicts, Some(&suite), crate::expect::today());
    let info = target_info(&target, Some("retry-status-200")).await;
    let report = RunReport::new(RunFacts {
        started_at: chrono::Utc::now(),
        duration: Duration::from_millis(1234),
        target: info,
        results: &results,
        judgement: &judgement,
        result: RunResult {
            passed: false,
            exit_status: 101,
            problems: judgement.problems(),
        },
        redactor: &target.redactor,
    });
    let count = |f: fn(&Verdict) -> bool| results.iter().filter(|(_, o)| f(&o.verdict)).count();
    Run {
        failed: count(|v| matches!(v, Verdict::Failed(_))),
        ignored: count(|v| matches!(v, Verdict::Ignored(_))),
        target,
        report,
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("emconform-report-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn count(doc: &roxmltree::Document, tag: &str) -> usize {
    doc.descendants().filter(|n| n.has_tag_name(tag)).count()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_junit_parser_reads_back_the_gate_s_counts() {
    let run = faulted_report().await;
    let dir = temp_dir("junit");
    let spec = parse_report_spec(&format!("junit={}", dir.join("r/junit.xml").display())).unwrap();
    run.report.write(&spec).unwrap();
    let text = std::fs::read_to_string(&spec.path).unwrap();
    let doc = roxmltree::Document::parse(&text).expect("well-formed JUnit XML");

    // Every trial and the orphan entry. Failures: the unexpected ones, the listed trial that
    // passed, the orphan. Skipped: the ignored trials and the expected failure.
    assert!(
        run.failed > 2,
        "the fault fails the retry and the task trials"
    );
    let tests = run.report.trials.len() + 1;
    let failures = (run.failed - 1) + 1 + 1;
    let skipped = run.ignored + 1;
    assert_eq!(count(&doc, "testcase"), tests, "{text}");
    assert_eq!(count(&doc, "failure"), failures, "{text}");
    assert_eq!(count(&doc, "skipped"), skipped, "{text}");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let attribute = |name: &str| root.attribute(name).map(str::to_string);
    assert_eq!(attribute("tests"), Some(tests.to_string()));
    assert_eq!(attribute("failures"), Some(failures.to_string()));
    assert_eq!(attribute("skipped"), Some(skipped.to_string()));

    let case = |name: &str| {
        doc.descendants()
            .find(|n| n.has_tag_name("testcase") && n.attribute("name") == Some(name))
            .unwrap_or_else(|| panic!("no testcase {name}"))
    };
    let child = |node: roxmltree::Node<'_, '_>, tag: &str| {
        node.children().find(|c| c.has_tag_name(tag)).map(|c| {
            (
                c.attribute("message").unwrap_or("").to_string(),
                c.text().unwrap_or("").to_string(),
            )
        })
    };
    let expected = case("jobs::retry::answer::xml");
    assert_eq!(expected.attribute("classname"), Some("jobs::retry::answer"));
    let (message, _) = child(expected, "skipped").expect("skipped");
    assert_eq!(message, "expected failure: answers 200 to a retry");
    let (_, out) = child(expected, "system-out").expect("the failure is kept");
    assert!(out.contains("✗ status: expected 202, got 200"), "{out}");

    let (message, detail) = child(case("jobs::retry::answer::json"), "failure").expect("failure");
    assert_eq!(message, "status: expected 202, got 200");
    assert!(detail.contains("curl -sS -i -X POST"), "{detail}");

    let (message, _) =
        child(case("jobs::retry::without_session::json"), "failure").expect("failure");
    assert!(
        message.starts_with("passes, but the expectation file expects it to fail"),
        "{message}"
    );
    assert!(child(case("jobs::retry::without_session::xml"), "failure").is_none());
    let (message, _) =
        child(case("expectation jobs::retry::gone::xml"), "failure").expect("orphan");
    assert!(message.contains("expect.toml:12:9"), "{message}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_json_report_round_trips_and_describes_the_target() {
    let run = faulted_report().await;
    let dir = temp_dir("json");
    let spec = parse_report_spec(&format!("json={}", dir.join("report.json").display())).unwrap();
    run.report.write(&spec).unwrap();
    let text = std::fs::read_to_string(&spec.path).unwrap();
    let back: RunReport = serde_json::from_str(&text).expect("the report reads back");
    assert_eq!(back, run.report);

    assert_eq!(back.schema_version, SCHEMA_VERSION);
    assert_eq!(back.emconform_version, env!("CARGO_PKG_VERSION"));
    assert_eq!(back.target.kind, "fixture");
    assert_eq!(back.target.base_url, run.target.api_base.as_str());
    assert_eq!(back.target.supported_versions, ["v1_5", "v1_6", "v1_7"]);
    assert_eq!(back.target.fault.as_deref(), Some("retry-status-200"));
    assert_eq!(back.trials.len(), specs().len());
    let failed = back
        .trials
        .iter()
        .find(|t| t.id == "jobs::retry::answer::json")
        .unwrap();
    assert_eq!(
        (failed.outcome, failed.level, failed.format),
        (Outcome::Failed, Level::Must, Format::Json)
    );
    assert_eq!(failed.spec, "seed");
    assert_eq!(failed.standing(), Some(Standing::NewFailure));
    let failure = failed.failure.as_deref().unwrap();
    assert!(failure.contains("expected 202, got 200"), "{failure}");
    assert_eq!(failed.snapshot_differences.len(), 1, "the retry step");
    let sum = |f: fn(&LevelTotals) -> usize| back.totals.iter().map(f).sum::<usize>();
    assert_eq!(sum(|t| t.passed + t.failed + t.ignored), back.trials.len());
    assert_eq!(sum(|t| t.failed), run.failed);
    assert_eq!(sum(|t| t.expected_failures), 1);
    assert_eq!(back.orphans.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_markdown_report_gives_totals_per_level_then_failures() {
    let run = faulted_report().await;
    let md = markdown::render(&run.report);
    assert!(md.starts_with("## emconform: FAILED\n"), "{md}");
    let must = &run.report.totals[0];
    assert_eq!(must.level, Level::Must);
    let row = format!(
        "| must | {} | {} | 1 | {} |",
        must.passed, must.failed, must.ignored
    );
    assert!(md.contains(&row), "{row} in {md}");
    let totals = md.find("| level |").unwrap();
    let why = md.find("### Why the run failed").unwrap();
    let failures = md.find("### Failures").unwrap();
    let expected = md.find("### Expected failures").unwrap();
    assert!(
        totals < why && why < failures && failures < expected,
        "{md}"
    );
    assert!(md.contains("#### `jobs::retry::answer::json` [must, spec §seed] — new failure"));
    assert!(md.contains(
        "- `jobs::retry::answer::xml` [must]: answers 200 to a retry ([link](https://tracker.example/EM-12))"
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn no_password_or_session_token_reaches_a_report() {
    let run = faulted_report().await;
    let dir = temp_dir("secrets");
    for kind in ["junit", "json", "markdown"] {
        let spec = parse_report_spec(&format!("{kind}={}", dir.join(kind).display())).unwrap();
        run.report.write(&spec).unwrap();
    }
    let secrets = run.target.embedded_fixture().unwrap().secrets();
    for kind in ["junit", "json", "markdown"] {
        let text = std::fs::read_to_string(dir.join(kind)).unwrap();
        let shown = if kind == "junit" {
            "X-RestSvcSessionId: &lt;redacted&gt;"
        } else {
            "X-RestSvcSessionId: <redacted>"
        };
        assert!(
            text.contains(shown),
            "{kind}: the curl line is there, redacted"
        );
        for secret in &secrets {
            assert!(
                !text.contains(secret.as_str()),
                "a secret leaked into the {kind} report"
            );
        }
    }
}
