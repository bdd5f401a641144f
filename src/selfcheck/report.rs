//! The self-check as text for a terminal: one line per fault (the trials that detect it and the
//! quickest verdict), one per variant, the kill matrix by case, and the score.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use super::{FaultResult, PassingResult, SelfCheck, Undetecting};
use crate::fixture::FaultInfo;
use crate::fixture::faults::NOT_PRODUCED;
use crate::runner::TrialSpec;

/// Width the wrapped lists are wrapped to.
const WIDTH: usize = 100;

/// The whole report.
pub fn render(check: &SelfCheck) -> String {
    let mut out = String::new();
    let cases = check.kills_by_case();
    let title = format!(
        "emconform self-check: {} trials ({} cases) against the clean fixture, {} allowed \
         variants and {} faults",
        check.trials.len(),
        cases.len(),
        check.passing().len().saturating_sub(1),
        check.faults().len()
    );
    let _ = writeln!(out, "{}", textwrap::fill(&title, WIDTH));
    faults_section(&mut out, &check.faults());
    variants_section(&mut out, &check.passing());
    cases_section(&mut out, &cases);
    undetecting_section(&mut out, &check.undetecting());
    closing_section(&mut out, check);
    out
}

/// One line per fault, grouped by category.
fn faults_section(out: &mut String, faults: &[FaultResult]) {
    let heading = "Faults, by category: the quickest verdict that names the deviation, how many \
                   trials give one, and their cases";
    let _ = writeln!(out, "\n{}", textwrap::fill(heading, WIDTH));
    let name_width = faults.iter().map(|f| f.info.name.len()).max().unwrap_or(0);
    let mut categories: Vec<&str> = Vec::new();
    for f in faults {
        if !categories.contains(&f.info.category) {
            categories.push(f.info.category);
        }
    }
    for category in categories {
        let _ = writeln!(out, "  {category}");
        for f in faults.iter().filter(|f| f.info.category == category) {
            let head = format!("    {} {:name_width$}  ", mark(f), f.info.name);
            let room = WIDTH.saturating_sub(head.chars().count());
            let _ = writeln!(out, "{head}{}", fault_detail(f, room));
        }
    }
}

/// One line for the clean fixture and one per variant.
fn variants_section(out: &mut String, passing: &[PassingResult]) {
    let _ = writeln!(out, "\nAllowed variants: every trial must pass");
    let name_width = passing
        .iter()
        .map(|p| p.subject.name().len())
        .max()
        .unwrap_or(0);
    for p in passing {
        let name = p.subject.name();
        let detail = match (&p.run.problem, p.failures.as_slice()) {
            (Some(problem), _) => problem.clone(),
            (None, []) => format!("{} passed ({:.1?})", p.passed, p.run.elapsed),
            (None, failures) => {
                let ids: Vec<&str> = failures.iter().map(|(s, _)| s.id.as_str()).collect();
                format!("{} FAILED: {}", failures.len(), ids.join(", "))
            }
        };
        let mark = if p.clean() { '✓' } else { '✗' };
        let _ = writeln!(out, "  {mark} {name:name_width$}  {detail}");
    }
}

/// The kill matrix by case; a fault only one case detects is starred.
fn cases_section(out: &mut String, cases: &BTreeMap<&str, Vec<&'static FaultInfo>>) {
    let _ = writeln!(
        out,
        "\nCases: the faults each one detects (* when no other case does)"
    );
    let case_width = cases.keys().map(|c| c.len()).max().unwrap_or(0);
    for (case, killed) in cases {
        let head = format!("  {case:case_width$}  {:>2}  ", killed.len());
        let names: Vec<String> = killed
            .iter()
            .map(|f| {
                let only_here = cases
                    .iter()
                    .all(|(other, k)| other == case || !k.iter().any(|g| g.fault == f.fault));
                format!("{}{}", f.name, if only_here { "*" } else { "" })
            })
            .collect();
        let text = if names.is_empty() {
            "none".to_string()
        } else {
            names.join(", ")
        };
        let indent = " ".repeat(head.chars().count());
        let options = textwrap::Options::new(WIDTH)
            .initial_indent(&head)
            .subsequent_indent(&indent)
            .break_words(false)
            .word_splitter(textwrap::WordSplitter::NoHyphenation);
        let _ = writeln!(out, "{}", textwrap::fill(&text, options));
    }
}

/// The trials that detect no fault, with their reasons.
fn undetecting_section(out: &mut String, undetecting: &[Undetecting]) {
    let _ = write!(out, "\nTrials that detect no fault:");
    if undetecting.is_empty() {
        let _ = writeln!(out, " none");
    }
    for u in undetecting {
        let reason = u
            .reason
            .unwrap_or("NO REASON GIVEN: add a fault, or a reason to WITHOUT_FAULT");
        let _ = write!(out, "\n  {}: {reason}", u.trial.id);
    }
    if !undetecting.is_empty() {
        let _ = writeln!(out);
    }
}

/// What the fixture cannot produce, the slowest verdicts, the problems and the score.
fn closing_section(out: &mut String, check: &SelfCheck) {
    if !NOT_PRODUCED.is_empty() {
        let _ = writeln!(out, "\nDeviations the fixture cannot produce:");
        for (what, why) in NOT_PRODUCED {
            let options = textwrap::Options::new(WIDTH)
                .initial_indent("  ")
                .subsequent_indent("    ");
            let _ = writeln!(
                out,
                "{}",
                textwrap::fill(&format!("{what}: {why}"), options)
            );
        }
    }

    let mut slowest: Vec<(&str, Duration)> = check
        .faults()
        .iter()
        .filter_map(|f| f.time_to_verdict().map(|t| (f.info.name, t)))
        .collect();
    slowest.sort_by_key(|(_, t)| std::cmp::Reverse(*t));
    let shown: Vec<String> = slowest
        .iter()
        .take(3)
        .map(|(name, t)| format!("{name} {t:.1?}"))
        .collect();
    let (hanging, faulted) = (check.options.hanging, check.options.faulted);
    let slowest = format!(
        "Slowest verdicts: {} (availability faults run with a request timeout of {:?} and an \
         await deadline of {:?}; the other faults with {:?} and {:?})",
        if shown.is_empty() {
            "none".to_string()
        } else {
            shown.join(", ")
        },
        hanging.request_timeout,
        hanging.await_deadline,
        faulted.request_timeout,
        faulted.await_deadline,
    );
    let _ = writeln!(out, "\n{}", textwrap::fill(&slowest, WIDTH));

    let problems = check.problems();
    if !problems.is_empty() {
        let _ = writeln!(out, "\nProblems:");
        for problem in &problems {
            let _ = writeln!(out, "  - {}", problem.replace('\n', "\n    "));
        }
    }
    let score = check.score();
    let _ = writeln!(
        out,
        "\nScore: {}/{} faults detected, {}/{} allowed variants with false alarms, {} failed \
         trials on the clean fixture{}",
        score.faults_detected,
        score.faults,
        score.false_alarms,
        score.variants,
        score.clean_failures,
        if score.perfect() && problems.is_empty() {
            ""
        } else {
            " (NOT PERFECT)"
        }
    );
}

/// `✓` for a detected fault, `✗` otherwise.
fn mark(f: &FaultResult) -> char {
    if f.detected() && f.run.problem.is_none() {
        '✓'
    } else {
        '✗'
    }
}

/// The rest of a fault's line, in about `room` characters.
fn fault_detail(f: &FaultResult, room: usize) -> String {
    if let Some(problem) = &f.run.problem {
        return problem.clone();
    }
    let Some(time) = f.time_to_verdict() else {
        return format!(
            "NOT DETECTED: no failure shows {:?} ({} trial(s) failed otherwise)",
            f.info.shows,
            f.other_failures.len()
        );
    };
    let head = format!("{:>7}  {:>2}  ", format!("{time:.1?}"), f.detected_by.len());
    let trials: Vec<&TrialSpec> = f.detected_by.iter().map(|(s, _)| *s).collect();
    let cases = case_list(&trials, room.saturating_sub(head.chars().count()));
    format!("{head}{cases}")
}

/// The cases of `trials`, in order, as many as fit in `room` characters, then `+N`.
fn case_list(trials: &[&TrialSpec], room: usize) -> String {
    let mut cases: Vec<&str> = Vec::new();
    for t in trials {
        if !cases.contains(&t.case.id.as_str()) {
            cases.push(&t.case.id);
        }
    }
    let mut shown = String::new();
    for (index, case) in cases.iter().enumerate() {
        let rest = cases.len() - index - 1;
        let more = if rest > 0 {
            format!(" +{rest}")
        } else {
            String::new()
        };
        let separator = if shown.is_empty() { "" } else { ", " };
        if index > 0 && shown.len() + separator.len() + case.len() + more.len() > room {
            shown.push_str(&format!(" +{}", cases.len() - index));
            break;
        }
        shown.push_str(separator);
        shown.push_str(case);
    }
    shown
}
