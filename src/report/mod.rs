//! Reports of a run, for machines and for people: `--report junit=PATH`, `--report json=PATH`,
//! `--report markdown=PATH` (repeatable).
//!
//! Every report is rendered from one [`RunReport`]: one entry per selected trial (id, format,
//! level, spec section, outcome and why, duration, the redacted failure, where it stands against
//! the expectation file), the target (base URL and the API versions its `GET /api/` lists) and the
//! run's verdict. The JSON form *is* that model (with a schema version), so runs against several
//! implementations can be merged and compared; JUnit feeds CI test views; Markdown is the CI
//! summary a person reads.

pub mod junit;
pub mod markdown;
pub mod server;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use server::{TargetInfo, target_info};

use crate::body::Format;
use crate::case::Level;
use crate::expect::{Entry, Judgement, Standing};
use crate::runner::{TrialOutcome, TrialSpec, Verdict};
use crate::secret::Redactor;
use crate::snapshot::SnapshotResult;

/// The version of the JSON report's layout; raised when a field changes meaning or goes away
/// (adding a field does not raise it).
pub const SCHEMA_VERSION: u32 = 1;

/// Which report a `--report` option asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportKind {
    Junit,
    Json,
    Markdown,
}

/// A `--report KIND=PATH` option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportSpec {
    pub kind: ReportKind,
    pub path: PathBuf,
}

/// Parses `junit=PATH`, `json=PATH` or `markdown=PATH`.
pub fn parse_report_spec(s: &str) -> Result<ReportSpec, String> {
    let (kind, path) = s.split_once('=').ok_or(
        "expected KIND=PATH, e.g. junit=target/emconform.xml (kinds: junit, json, markdown)",
    )?;
    let kind = match kind.trim().to_ascii_lowercase().as_str() {
        "junit" => ReportKind::Junit,
        "json" => ReportKind::Json,
        "markdown" | "md" => ReportKind::Markdown,
        other => {
            return Err(format!(
                "unknown report kind {other:?}; kinds are junit, json, markdown"
            ));
        }
    };
    if path.trim().is_empty() {
        return Err("the report needs a path after `=`".into());
    }
    Ok(ReportSpec {
        kind,
        path: PathBuf::from(path),
    })
}

/// A whole run, as every report shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// [`SCHEMA_VERSION`] of the writer.
    pub schema_version: u32,
    pub emconform_version: String,
    /// RFC 3339, UTC.
    pub started_at: String,
    pub duration_seconds: f64,
    pub target: TargetInfo,
    pub result: RunResult,
    /// The expectation file the run was judged by, if any.
    pub expectations: Option<String>,
    /// Per level, strongest first; levels without a selected trial are left out.
    pub totals: Vec<LevelTotals>,
    /// Every selected trial, in trial order.
    pub trials: Vec<TrialEntry>,
    /// Expectation entries naming no trial.
    pub orphans: Vec<ExpectationNote>,
}

/// The run's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunResult {
    pub passed: bool,
    /// The exit status of `emconform`.
    pub exit_status: u8,
    /// Why it did not pass, one line each.
    pub problems: Vec<String>,
}

/// Counts for one level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LevelTotals {
    pub level: Level,
    pub passed: usize,
    /// Every failed trial, expected or not.
    pub failed: usize,
    /// Of the failed ones, those the expectation file expects.
    pub expected_failures: usize,
    pub ignored: usize,
}

/// How a trial ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Passed,
    Failed,
    Ignored,
}

/// One trial.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialEntry {
    /// `jobs::retry::answer::xml`.
    pub id: String,
    /// `jobs::retry::answer`.
    pub case: String,
    pub title: String,
    pub format: Format,
    pub level: Level,
    /// The section of the spec the case checks.
    pub spec: String,
    pub outcome: Outcome,
    /// Why it was ignored.
    pub reason: Option<String>,
    pub duration_seconds: f64,
    /// The failure message (redacted).
    pub failure: Option<String>,
    /// Where it stands against the expectation file, when it failed or has an entry.
    pub expectation: Option<ExpectationNote>,
    /// Snapshots that differ from the fixture's (shown, not judged, on other targets).
    pub snapshot_differences: Vec<SnapshotDifference>,
}

/// A trial's standing against the expectation file, with its entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpectationNote {
    pub trial: String,
    pub standing: Option<Standing>,
    pub reason: Option<String>,
    pub link: Option<String>,
    /// `YYYY-MM-DD`.
    pub expires: Option<String>,
    /// `file:line:column` of the entry.
    pub at: Option<String>,
}

impl ExpectationNote {
    fn new(trial: &str, standing: Option<Standing>, entry: Option<&Entry>) -> ExpectationNote {
        ExpectationNote {
            trial: trial.to_string(),
            standing,
            reason: entry.map(|e| e.reason.clone()),
            link: entry.and_then(|e| e.link.clone()),
            expires: entry.and_then(|e| e.expires).map(|d| d.to_string()),
            at: entry.and_then(|e| e.at.clone()),
        }
    }
}

/// A step whose normalised response differs from the stored snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotDifference {
    pub step: String,
    pub snapshot: String,
    /// The unified diff (stored → actual); `None` when no snapshot is stored.
    pub diff: Option<String>,
}

/// What a report is made from.
pub struct RunFacts<'a> {
    pub started_at: chrono::DateTime<chrono::Utc>,
    pub duration: Duration,
    pub target: TargetInfo,
    /// Every selected trial with its outcome, in trial order.
    pub results: &'a [(TrialSpec, TrialOutcome)],
    pub judgement: &'a Judgement,
    pub result: RunResult,
    pub redactor: &'a Redactor,
}

impl RunReport {
    /// Builds the report; every text that came from the target goes through the redactor again.
    pub fn new(facts: RunFacts) -> RunReport {
        let redact = |s: &str| facts.redactor.redact(s);
        let trials: Vec<TrialEntry> = facts
            .results
            .iter()
            .map(|(spec, outcome)| {
                let (kind, reason, failure) = match &outcome.verdict {
                    Verdict::Passed => (Outcome::Passed, None, None),
                    Verdict::Failed(m) => (Outcome::Failed, None, Some(redact(m))),
                    Verdict::Ignored(r) => (Outcome::Ignored, Some(redact(r)), None),
                };
                let expectation = facts
                    .judgement
                    .standing(&spec.id)
                    .map(|(standing, entry)| ExpectationNote::new(&spec.id, Some(standing), entry));
                TrialEntry {
                    id: spec.id.clone(),
                    case: spec.case.id.clone(),
                    title: spec.case.def.title.clone(),
                    format: spec.format,
                    level: spec.case.def.level,
                    spec: spec.case.def.spec.get_ref().clone(),
                    outcome: kind,
                    reason,
                    duration_seconds: seconds(outcome.duration),
                    failure,
                    expectation,
                    snapshot_differences: snapshot_differences(outcome, &redact),
                }
            })
            .collect();
        let totals = Level::ALL
            .iter()
            .filter_map(|&level| {
                let of_level: Vec<&TrialEntry> =
                    trials.iter().filter(|t| t.level == level).collect();
                let count = |o: Outcome| of_level.iter().filter(|t| t.outcome == o).count();
                (!of_level.is_empty()).then(|| LevelTotals {
                    level,
                    passed: count(Outcome::Passed),
                    failed: count(Outcome::Failed),
                    expected_failures: of_level
                        .iter()
                        .filter(|t| t.standing() == Some(Standing::ExpectedFailure))
                        .count(),
                    ignored: count(Outcome::Ignored),
                })
            })
            .collect();
        RunReport {
            schema_version: SCHEMA_VERSION,
            emconform_version: env!("CARGO_PKG_VERSION").to_string(),
            started_at: facts
                .started_at
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            duration_seconds: seconds(facts.duration),
            target: facts.target,
            result: facts.result,
            expectations: facts
                .judgement
                .file
                .as_ref()
                .map(|f| f.display().to_string()),
            totals,
            trials,
            orphans: facts
                .judgement
                .orphans
                .iter()
                .map(|e| ExpectationNote::new(&e.trial, None, Some(e)))
                .collect(),
        }
    }

    /// Writes the report `spec` asks for, creating its directory.
    pub fn write(&self, spec: &ReportSpec) -> Result<(), String> {
        let text = match spec.kind {
            ReportKind::Junit => junit::render(self)?,
            ReportKind::Json => serde_json::to_string_pretty(self)
                .map(|mut s| {
                    s.push('\n');
                    s
                })
                .map_err(|e| e.to_string())?,
            ReportKind::Markdown => markdown::render(self),
        };
        write_file(&spec.path, &text)
    }
}

impl TrialEntry {
    /// The trial's standing against the expectation file.
    pub fn standing(&self) -> Option<Standing> {
        self.expectation.as_ref().and_then(|e| e.standing)
    }
}

/// Seconds, to the microsecond: few enough digits that the JSON number reads back exactly.
fn seconds(d: Duration) -> f64 {
    d.as_micros() as f64 / 1e6
}

fn snapshot_differences(
    outcome: &TrialOutcome,
    redact: &dyn Fn(&str) -> String,
) -> Vec<SnapshotDifference> {
    outcome
        .steps
        .iter()
        .filter_map(|step| match &step.snapshot {
            SnapshotResult::Differs { name, diff } => Some(SnapshotDifference {
                step: step.name.clone(),
                snapshot: name.clone(),
                diff: Some(redact(diff)),
            }),
            SnapshotResult::Missing { name } => Some(SnapshotDifference {
                step: step.name.clone(),
                snapshot: name.clone(),
                diff: None,
            }),
            _ => None,
        })
        .collect()
}

/// Writes `text` to `path`, creating the directory it is in.
pub fn write_file(path: &Path, text: &str) -> Result<(), String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests;
