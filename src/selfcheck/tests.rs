//! The meta-test: the project's suite against the clean fixture, every allowed variant and every
//! fault, on every `cargo test`; and the rules that turn its results into problems.

use std::path::Path;
use std::time::Duration;

use super::*;
use crate::case::load_cases;
use crate::cli::PROJECT_ROOT;
use crate::fixture::Fault;
use crate::runner::plan;

fn project_trials() -> Vec<TrialSpec> {
    let cases =
        load_cases(&Path::new(PROJECT_ROOT).join("cases")).expect("the project's cases load");
    plan(&cases)
}

/// No false alarm, no undetected fault, no case that cannot fail; hangs end at their bounds.
#[tokio::test(flavor = "multi_thread")]
async fn the_suite_detects_every_fault_and_passes_every_allowed_variant() {
    // Shorter bounds than the command's for the availability faults, whose runs are the
    // meta-test's tail (a no-answer trial whose cleanup step hangs too waits twice): what is
    // checked is that the verdicts come at the bounds, whatever they are. The request timeout
    // keeps room for the requests the no-answer fault does answer (logon, logout) on a busy
    // machine.
    let options = Options {
        hanging: Bounds {
            request_timeout: Duration::from_millis(750),
            await_deadline: Duration::from_millis(500),
        },
        ..Options::default()
    };
    let check = run(project_trials(), options.clone()).await;
    let problems = check.problems();
    assert!(
        problems.is_empty(),
        "{}\n\n{}",
        problems.join("\n\n"),
        report::render(&check)
    );
    assert!(check.score().perfect());
    assert_eq!(check.runs.len(), 1 + VARIANTS.len() + FAULTS.len());

    // A request that is never answered, and a task that never finishes, are verdicts given at
    // the configured bounds (the messages say which), not stuck runs.
    let bounds = options.hanging;
    for (fault, bound) in [
        (
            Fault::NoAnswer,
            format!(
                "no complete answer within {:?} (--request-timeout)",
                bounds.request_timeout
            ),
        ),
        (
            Fault::TaskNeverFinishes,
            format!("(deadline {:?}, --await-deadline)", bounds.await_deadline),
        ),
    ] {
        let result = check
            .faults()
            .into_iter()
            .find(|f| f.info.fault == fault)
            .expect("the fault ran");
        let run = result.run;
        for (spec, _) in &result.detected_by {
            let index = check.trials.iter().position(|t| t.id == spec.id);
            let outcome = index.and_then(|i| run.outcomes.get(i)).expect("an outcome");
            let Verdict::Failed(message) = &outcome.verdict else {
                panic!("{} detected {} without failing", spec.id, result.info.name)
            };
            assert!(message.contains(&bound), "{}:\n{message}", spec.id);
        }
        eprintln!(
            "{}: {} trials failed at the bound, the first after {:.1?}; the run took {:.1?}",
            result.info.name,
            result.detected_by.len(),
            result.time_to_verdict().unwrap_or_default(),
            run.elapsed
        );
    }
}

/// A made-up check over two trials: the clean fixture passes both, the first variant fails one,
/// the first fault is detected by the first trial, every other fault fails for another reason.
fn made_up_check() -> SelfCheck {
    let trials: Vec<TrialSpec> = project_trials().into_iter().take(2).collect();
    let outcome = |id: &str, verdict: Verdict| TrialOutcome {
        id: id.to_string(),
        verdict,
        duration: Duration::from_millis(3),
        steps: Vec::new(),
    };
    let runs = Subject::all()
        .into_iter()
        .enumerate()
        .map(|(index, subject)| {
            let verdicts = match subject {
                Subject::Clean => [Verdict::Passed, Verdict::Passed],
                Subject::Variant(_) if index == 1 => {
                    [Verdict::Passed, Verdict::Failed("✗ a false alarm".into())]
                }
                Subject::Variant(_) => [Verdict::Passed, Verdict::Passed],
                Subject::Fault(info) if info.fault == FAULTS[0].fault => [
                    Verdict::Failed(format!("✗ {}", info.shows)),
                    Verdict::Passed,
                ],
                Subject::Fault(_) => [Verdict::Failed("✗ something else".into()), Verdict::Passed],
            };
            SubjectRun {
                subject,
                outcomes: trials
                    .iter()
                    .zip(verdicts)
                    .map(|(t, v)| outcome(&t.id, v))
                    .collect(),
                elapsed: Duration::from_millis(5),
                problem: None,
            }
        })
        .collect();
    SelfCheck {
        trials,
        options: Options::default(),
        reasons: Vec::new(),
        runs,
    }
}

#[test]
fn false_alarms_undetected_faults_and_trials_without_a_fault_are_problems() {
    let check = made_up_check();
    let score = check.score();
    assert_eq!(score.faults_detected, 1);
    assert_eq!(score.faults, FAULTS.len());
    assert_eq!(score.false_alarms, 1);
    assert_eq!(score.variants, VARIANTS.len());
    assert_eq!(score.clean_failures, 0);
    assert!(!score.perfect());

    let problems = check.problems().join("\n");
    let variant = VARIANTS[0].name;
    let second = &check.trials[1].id;
    assert!(
        problems.contains(&format!("false alarm on {variant}: {second} failed")),
        "{problems}"
    );
    let undetected = FAULTS[1];
    assert!(
        problems.contains(&format!(
            "fault {} ({}) is not detected: no failure message shows {:?}; 1 trial(s) failed \
             without showing it",
            undetected.name, undetected.description, undetected.shows
        )),
        "{problems}"
    );
    assert!(
        !problems.contains(&format!("fault {} ", FAULTS[0].name)),
        "{problems}"
    );
    assert!(
        problems.contains(&format!("{second} detects no fault")),
        "{problems}"
    );

    let kills = check.kills_by_trial();
    assert_eq!(kills[0].1.len(), 1);
    assert_eq!(kills[0].1[0].name, FAULTS[0].name);
    assert!(kills[1].1.is_empty());
    let text = report::render(&check);
    assert!(text.contains("NOT DETECTED"), "{text}");
    assert!(text.contains("(NOT PERFECT)"), "{text}");
}

#[test]
fn a_run_that_did_not_happen_is_a_problem() {
    let mut check = made_up_check();
    let stuck = check
        .runs
        .iter_mut()
        .find(|r| matches!(r.subject, Subject::Fault(f) if f.fault == FAULTS[0].fault))
        .expect("the first fault");
    stuck.outcomes.clear();
    stuck.problem = Some("stuck: no verdict for every trial within 60s".into());
    let problems = check.problems().join("\n");
    assert!(
        problems.contains(&format!(
            "fault {}: stuck: no verdict for every trial within 60s",
            FAULTS[0].name
        )),
        "{problems}"
    );
    assert_eq!(check.score().faults_detected, 0);
}

#[test]
fn a_reason_excuses_a_trial_without_a_fault_and_a_stale_reason_is_a_problem() {
    let mut check = made_up_check();
    let (first, second) = (check.trials[0].id.clone(), check.trials[1].id.clone());
    check.reasons = vec![
        (second.clone(), "the fixture cannot produce it".into()),
        (first.clone(), "a stale reason".into()),
        ("no::such::case".into(), "a reason for nothing".into()),
    ];
    let undetecting = check.undetecting();
    assert_eq!(undetecting.len(), 1);
    assert_eq!(undetecting[0].reason, Some("the fixture cannot produce it"));
    let problems = check.problems().join("\n");
    assert!(!problems.contains("detects no fault"), "{problems}");
    assert!(
        problems.contains(&format!(
            "WITHOUT_FAULT gives a reason for {first:?}, which detects a fault now"
        )),
        "{problems}"
    );
    assert!(
        problems.contains("WITHOUT_FAULT names \"no::such::case\", which is no case or trial"),
        "{problems}"
    );
    assert!(report::render(&check).contains("the fixture cannot produce it"));
}
