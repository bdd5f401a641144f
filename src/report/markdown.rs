//! The Markdown report: what a person reads in a CI summary (e.g. `$GITHUB_STEP_SUMMARY`).
//! The verdict and the target first, then totals per level, then what needs attention (why the
//! run failed, each unexpected failure with its details folded), then expected failures, ignored
//! trials by reason, and snapshot differences.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{Outcome, RunReport, TrialEntry};
use crate::check::clip;
use crate::expect::Standing;
use crate::runner::message::headline;

/// How much of one failure message the summary shows.
const DETAIL_LIMIT: usize = 6000;

/// The report as Markdown.
pub fn render(report: &RunReport) -> String {
    let mut out = String::new();
    let verdict = if report.result.passed {
        "passed"
    } else {
        "FAILED"
    };
    let _ = writeln!(out, "## emconform: {verdict}\n");
    let t = &report.target;
    let versions = if t.supported_versions.is_empty() {
        t.entry_point_problem
            .as_deref()
            .map(|p| format!("API versions unknown: {}", text(p)))
            .unwrap_or_else(|| "no API versions listed".into())
    } else {
        format!("API versions {}", t.supported_versions.join(", "))
    };
    let fault = t
        .fault
        .as_deref()
        .map(|f| format!(", fault `{f}`"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "Target `{}` ({}{fault}; {versions}) · emconform {} · started {} · {:.2} s",
        t.base_url, t.kind, report.emconform_version, report.started_at, report.duration_seconds
    );
    if let Some(file) = &report.expectations {
        let _ = writeln!(out, "\nJudged by the expectation file `{file}`.");
    }

    let _ = writeln!(
        out,
        "\n| level | passed | failed | of which expected | ignored |\n|---|---:|---:|---:|---:|"
    );
    for l in &report.totals {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            l.level, l.passed, l.failed, l.expected_failures, l.ignored
        );
    }

    if !report.result.problems.is_empty() {
        let _ = writeln!(out, "\n### Why the run failed\n");
        for p in &report.result.problems {
            let _ = writeln!(out, "- {}", text(p));
        }
    }

    let attention: Vec<&TrialEntry> = report
        .trials
        .iter()
        .filter(|t| t.outcome == Outcome::Failed && t.standing() != Some(Standing::ExpectedFailure))
        .collect();
    if !attention.is_empty() {
        let _ = writeln!(out, "\n### Failures\n");
        for t in attention {
            let standing = t
                .standing()
                .map(|s| format!(" — {}", s.describe()))
                .unwrap_or_default();
            let failure = t.failure.as_deref().unwrap_or("");
            let _ = writeln!(
                out,
                "#### `{}` [{}, spec §{}]{standing}\n\n{}: {}\n",
                t.id,
                t.level,
                text(&t.spec),
                text(&t.title),
                text(headline(failure))
            );
            let _ = writeln!(
                out,
                "<details><summary>details</summary>\n\n{}\n\n</details>\n",
                fenced(&clip(failure, DETAIL_LIMIT))
            );
        }
    }

    let expected: Vec<&TrialEntry> = report
        .trials
        .iter()
        .filter(|t| t.standing() == Some(Standing::ExpectedFailure))
        .collect();
    if !expected.is_empty() {
        let _ = writeln!(out, "\n### Expected failures\n");
        for t in expected {
            let note = t.expectation.as_ref();
            let reason = note.and_then(|n| n.reason.as_deref()).unwrap_or("");
            let link = note
                .and_then(|n| n.link.as_deref())
                .map(|l| format!(" ([link]({l}))"))
                .unwrap_or_default();
            let expires = note
                .and_then(|n| n.expires.as_deref())
                .map(|d| format!(", until {d}"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "- `{}` [{}]: {}{link}{expires}",
                t.id,
                t.level,
                text(reason)
            );
        }
    }

    let mut ignored: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for t in report
        .trials
        .iter()
        .filter(|t| t.outcome == Outcome::Ignored)
    {
        ignored
            .entry(t.reason.as_deref().unwrap_or("no reason given"))
            .or_default()
            .push(&t.id);
    }
    if !ignored.is_empty() {
        let _ = writeln!(out, "\n### Ignored\n");
        for (reason, ids) in ignored {
            let shown: Vec<String> = ids.iter().map(|id| format!("`{id}`")).collect();
            let _ = writeln!(
                out,
                "- {} ({}): {}",
                text(reason),
                ids.len(),
                shown.join(", ")
            );
        }
    }

    let differing: Vec<&TrialEntry> = report
        .trials
        .iter()
        .filter(|t| !t.snapshot_differences.is_empty())
        .collect();
    if !differing.is_empty() {
        let _ = writeln!(
            out,
            "\n### Snapshot differences\n\nResponses that differ from the fixture's snapshots \
             (shown, not judged, on other targets):\n"
        );
        for t in differing {
            for d in &t.snapshot_differences {
                let what = if d.diff.is_some() {
                    "differs"
                } else {
                    "no stored snapshot"
                };
                let _ = writeln!(
                    out,
                    "- `{}` step {}: `{}` {what}",
                    t.id,
                    text(&d.step),
                    d.snapshot
                );
            }
        }
    }
    out
}

/// Free text made safe for Markdown: no HTML (EM placeholders such as `<task-1>` would vanish),
/// no table breaks, one line.
fn text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('|', "\\|")
        .replace(['\n', '\r'], " ")
}

/// A fenced block whose fence is longer than any run of backticks inside it.
fn fenced(body: &str) -> String {
    let longest = body.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    format!("{fence}text\n{}\n{fence}", body.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_text_cannot_become_html_or_break_a_table() {
        assert_eq!(
            text("<task-1> | a & b\nnext"),
            "&lt;task-1&gt; \\| a &amp; b next"
        );
    }

    #[test]
    fn fences_outgrow_the_backticks_inside() {
        assert_eq!(fenced("plain"), "```text\nplain\n```");
        assert_eq!(fenced("a ```` b"), "`````text\na ```` b\n`````");
    }
}
