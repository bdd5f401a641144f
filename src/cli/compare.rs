//! `emconform compare DIR_A DIR_B`: where two recordings differ, per trial and step.
//!
//! Exit status as `diff`'s: 0 when they agree, 1 when they differ, 2 when a recording cannot be
//! read.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::EXIT_USAGE;
use crate::recording::{
    Comparison, Recording, Side, StepDifference, TrialDifference, compare as compare_dirs,
};

/// Options of `emconform compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The first recording (shown as A, e.g. a real Enterprise Manager)
    pub a: PathBuf,
    /// The second recording (shown as B, e.g. the embedded fixture)
    pub b: PathBuf,
}

/// Compares two recordings and prints the differences on stdout.
pub fn compare(args: CompareArgs) -> ExitCode {
    match compare_dirs(&args.a, &args.b) {
        Ok(comparison) => {
            print!("{}", render(&comparison, &args));
            ExitCode::from(u8::from(!comparison.differences.is_empty()))
        }
        Err(e) => {
            eprintln!("emconform: {e}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

fn header(label: &str, dir: &std::path::Path, r: &Recording) -> String {
    format!(
        "{label} = {}: {} {} (API versions {}), recorded {} by emconform {}\n",
        dir.display(),
        r.target.kind,
        r.target.base_url,
        if r.target.supported_versions.is_empty() {
            "unknown".to_string()
        } else {
            r.target.supported_versions.join(", ")
        },
        r.recorded_at,
        r.emconform_version
    )
}

fn side(s: Side) -> &'static str {
    match s {
        Side::A => "A",
        Side::B => "B",
    }
}

/// The comparison as text: both recordings, then each differing trial, then the counts.
pub fn render(c: &Comparison, args: &CompareArgs) -> String {
    let mut out = header("A", &args.a, &c.a);
    out.push_str(&header("B", &args.b, &c.b));
    if c.a.target.supported_versions != c.b.target.supported_versions {
        out.push_str("(the servers list different API versions)\n");
    }
    let (mut differ, mut only_a, mut only_b) = (0, 0, 0);
    for (id, difference) in &c.differences {
        match difference {
            TrialDifference::OnlyIn(s) => {
                if *s == Side::A {
                    only_a += 1;
                } else {
                    only_b += 1;
                }
                out.push_str(&format!("\nonly in {}: {id}\n", side(*s)));
            }
            TrialDifference::Differs { outcome, steps } => {
                differ += 1;
                out.push_str(&format!("\n≠ {id}\n"));
                if let Some((a, b)) = outcome {
                    out.push_str(&format!("  outcome: A {a}; B {b}\n"));
                }
                for (step, d) in steps {
                    match d {
                        StepDifference::OnlyIn(s) => {
                            out.push_str(&format!("  step {step:?}: only in {}\n", side(*s)))
                        }
                        StepDifference::Missing { side: s, note } => out.push_str(&format!(
                            "  step {step:?}: no exchange in {} ({note})\n",
                            side(*s)
                        )),
                        StepDifference::Text(diff) => {
                            out.push_str(&format!("  step {step:?}:\n"));
                            for line in diff.lines() {
                                out.push_str(&format!("    {line}\n"));
                            }
                        }
                    }
                }
            }
        }
    }
    out.push_str(&format!(
        "\n{} trial(s) the same, {differ} differ, {only_a} only in A, {only_b} only in B\n",
        c.same
    ));
    out
}
