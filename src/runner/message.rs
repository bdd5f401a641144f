//! The text of a failed trial: which step and assertion failed, expected against actual, the
//! response, and a curl line that reproduces the request. The caller redacts it.

use std::fmt::Write as _;

use crate::case::{Case, Step};
use crate::check::clip;
use crate::http::curl::curl_line;
use crate::runner::exec::StepRecord;
use crate::snapshot::{SnapshotMode, SnapshotResult};
use crate::target_server::Target;

/// How much of a body a failure message shows.
const BODY_EXCERPT: usize = 2000;

/// The step a failure message is about.
pub struct FailedStep<'a> {
    pub case: &'a Case,
    /// 0-based.
    pub index: usize,
    pub total: usize,
    pub step: &'a Step,
    pub record: &'a StepRecord,
    /// Why the step could not be checked at all (no response, a timeout), if so.
    pub problem: Option<&'a str>,
}

/// Builds the failure message of a step.
pub fn failure_message(failed: &FailedStep, target: &Target, mode: SnapshotMode) -> String {
    let FailedStep {
        case,
        index,
        total,
        step,
        record,
        problem,
    } = *failed;
    let mut out = String::new();
    let failed = record.mismatches.len();
    let what = match (problem, failed) {
        (Some(_), _) => "could not be checked".to_string(),
        (None, 0) => "snapshot differs".to_string(),
        (None, 1) => "1 assertion failed".to_string(),
        (None, n) => format!("{n} assertions failed"),
    };
    let _ = writeln!(
        out,
        "{} [{}, spec §{}]\nstep {}/{} {:?} ({}): {what}",
        case.def.title,
        case.def.level,
        case.def.spec.get_ref(),
        index + 1,
        total,
        step.name.get_ref(),
        case.location(&step.name.span()),
    );
    if let Some(problem) = problem {
        let _ = writeln!(out, "  ✗ {problem}");
    }
    for m in &record.mismatches {
        for (i, line) in m.to_string().lines().enumerate() {
            let _ = writeln!(out, "  {}{line}", if i == 0 { "" } else { "  " });
        }
    }
    match (&record.snapshot, mode) {
        (SnapshotResult::Differs { name, diff }, _) => {
            let _ = match mode {
                SnapshotMode::Assert => {
                    writeln!(out, "  ✗ snapshot {name} differs (stored → actual):")
                }
                _ => writeln!(
                    out,
                    "  (for information: the response differs from the fixture's snapshot {name})"
                ),
            };
            for line in diff.lines() {
                let _ = writeln!(out, "      {line}");
            }
            if mode == SnapshotMode::Assert {
                let _ = writeln!(
                    out,
                    "    review with `cargo insta review`, or accept with INSTA_UPDATE=always after reading the diff"
                );
            }
        }
        (SnapshotResult::Missing { name }, SnapshotMode::Assert) => {
            let _ = writeln!(
                out,
                "  ✗ snapshot {name} does not exist yet: review the new one with `cargo insta review`"
            );
        }
        _ => {}
    }
    if let Some(request) = &record.request {
        let _ = writeln!(
            out,
            "request:\n  {}",
            curl_line(request, &target.http.config().trust)
        );
    }
    match &record.response {
        Some(response) => {
            let polls = if record.sends > 1 {
                format!(", after {} requests", record.sends)
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "response: {} ({:.1?}{polls})",
                response.status, response.elapsed
            );
            for (name, value) in &response.headers {
                let _ = writeln!(out, "  {name}: {value}");
            }
            if !response.body.is_empty() {
                let note = if response.is_utf8() {
                    ""
                } else {
                    " (not valid UTF-8; shown lossily)"
                };
                let _ = writeln!(out, "  body{note}:");
                for line in clip(&response.text(), BODY_EXCERPT).lines() {
                    let _ = writeln!(out, "    {line}");
                }
            }
        }
        None => {
            let _ = writeln!(out, "response: none");
        }
    }
    out
}

/// One line that says what failed, for summaries and report titles: the first `✗` line of a
/// failure message (without the mark), else its first line.
pub fn headline(message: &str) -> &str {
    let mut lines = message.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.clone().next().unwrap_or("failed");
    lines
        .find_map(|l| l.strip_prefix('✗'))
        .map(str::trim)
        .unwrap_or(first)
}
