//! Recordings: the normalised responses of every trial against one server, kept so that two
//! servers can be compared (`emconform record`, `emconform compare`) — typically a real
//! Enterprise Manager against the embedded fixture, to correct the fixture from reality.
//!
//! A recording is a directory of plain files, so `diff -r A B` works as well:
//!
//! ```text
//! DIR/recording.json                        when, which server (its API versions), and per
//!                                           trial the verdict and the steps
//! DIR/trials/<trial>/<NN>-<step>.txt        one normalised exchange per step (a snapshot's text)
//! ```
//!
//! The texts are the [`crate::normalize`] form, so volatile values (ports, task ids, GUIDs, times)
//! are placeholders and secrets are redacted.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::case::Level;
use crate::report::{Outcome, TargetInfo, write_file};
use crate::runner::message::headline;
use crate::runner::{TrialOutcome, TrialSpec, Verdict};
use crate::secret::Redactor;

/// The version of the recording layout.
pub const SCHEMA_VERSION: u32 = 1;
/// The manifest's file name inside a recording directory.
pub const MANIFEST: &str = "recording.json";
/// The folder of the step texts.
const TRIALS_DIR: &str = "trials";

/// What a recording directory holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recording {
    pub schema_version: u32,
    pub emconform_version: String,
    /// RFC 3339, UTC.
    pub recorded_at: String,
    pub target: TargetInfo,
    pub trials: Vec<RecordedTrial>,
}

/// One trial of a recording.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedTrial {
    pub id: String,
    pub level: Level,
    pub spec: String,
    pub title: String,
    pub outcome: Outcome,
    /// Why it was ignored, or what failed first.
    pub detail: Option<String>,
    pub steps: Vec<RecordedStep>,
}

/// One step of a recorded trial.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedStep {
    pub name: String,
    /// The file with the normalised exchange, relative to the recording directory.
    pub file: Option<String>,
    /// Why there is no exchange (the step was skipped, or got no answer).
    pub note: Option<String>,
}

/// A name safe in any file system: lowercase letters, digits and `-`.
fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_matches('-').to_string();
    if out.is_empty() { "step".into() } else { out }
}

impl Recording {
    /// Writes the recording of `results` into `dir` (created; an earlier recording there is
    /// replaced, but a directory holding anything else is refused). Every text goes through the
    /// redactor once more on its way out.
    pub fn write(
        dir: &Path,
        target: TargetInfo,
        results: &[(TrialSpec, TrialOutcome)],
        redactor: &Redactor,
    ) -> Result<Recording, String> {
        prepare_dir(dir)?;
        let mut trials = Vec::new();
        for (spec, outcome) in results {
            let folder = spec.id.replace("::", "__");
            let mut steps = Vec::new();
            for (index, step) in outcome.steps.iter().enumerate() {
                let (file, note) = match (&step.normalised, &step.skipped) {
                    (Some(text), _) => {
                        let rel = format!(
                            "{TRIALS_DIR}/{folder}/{:02}-{}.txt",
                            index + 1,
                            slug(&step.name)
                        );
                        write_file(&dir.join(&rel), &redactor.redact(text))?;
                        (Some(rel), None)
                    }
                    (None, Some(reason)) => (None, Some(format!("skipped: {reason}"))),
                    (None, None) => (None, Some("no answer".to_string())),
                };
                steps.push(RecordedStep {
                    name: step.name.clone(),
                    file,
                    note,
                });
            }
            let (kind, detail) = match &outcome.verdict {
                Verdict::Passed => (Outcome::Passed, None),
                Verdict::Failed(m) => (Outcome::Failed, Some(redactor.redact(headline(m)))),
                Verdict::Ignored(r) => (Outcome::Ignored, Some(redactor.redact(r))),
            };
            trials.push(RecordedTrial {
                id: spec.id.clone(),
                level: spec.case.def.level,
                spec: spec.case.def.spec.get_ref().clone(),
                title: spec.case.def.title.clone(),
                outcome: kind,
                detail,
                steps,
            });
        }
        let recording = Recording {
            schema_version: SCHEMA_VERSION,
            emconform_version: env!("CARGO_PKG_VERSION").to_string(),
            recorded_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            target,
            trials,
        };
        let manifest = serde_json::to_string_pretty(&recording).map_err(|e| e.to_string())?;
        write_file(&dir.join(MANIFEST), &format!("{manifest}\n"))?;
        Ok(recording)
    }

    /// Reads the manifest of a recording directory.
    pub fn read(dir: &Path) -> Result<Recording, String> {
        let file = dir.join(MANIFEST);
        let text = std::fs::read_to_string(&file).map_err(|e| {
            format!(
                "{} is not a recording (cannot read {}: {e}); make one with `emconform record --out DIR`",
                dir.display(),
                file.display()
            )
        })?;
        let recording: Recording = serde_json::from_str(&text)
            .map_err(|e| format!("{}: not a recording manifest: {e}", file.display()))?;
        if recording.schema_version != SCHEMA_VERSION {
            return Err(format!(
                "{}: recording schema version {} (this emconform reads {SCHEMA_VERSION})",
                file.display(),
                recording.schema_version
            ));
        }
        Ok(recording)
    }
}

/// Makes `dir` ready for a new recording: creates it, or clears the recording already in it.
fn prepare_dir(dir: &Path) -> Result<(), String> {
    let shown = dir.display();
    if dir.join(MANIFEST).is_file() {
        let old = dir.join(TRIALS_DIR);
        if old.exists() {
            std::fs::remove_dir_all(&old)
                .map_err(|e| format!("cannot clear {}: {e}", old.display()))?;
        }
        return std::fs::remove_file(dir.join(MANIFEST))
            .map_err(|e| format!("cannot replace the recording in {shown}: {e}"));
    }
    if dir.exists() {
        let mut entries =
            std::fs::read_dir(dir).map_err(|e| format!("cannot read {shown}: {e}"))?;
        if entries.next().is_some() {
            return Err(format!(
                "{shown} is not empty and holds no recording: give a new or empty directory"
            ));
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {shown}: {e}"))
}

/// Which side of a comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    A,
    B,
}

/// How one step differs between two recordings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepDifference {
    /// The step is in one recording only.
    OnlyIn(Side),
    /// One side has an exchange, the other a note (skipped, no answer).
    Missing { side: Side, note: String },
    /// Both have an exchange, and they differ: the unified diff A → B.
    Text(String),
}

/// How one trial differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrialDifference {
    OnlyIn(Side),
    Differs {
        /// The outcomes, when they differ: (A, B), each with its detail.
        outcome: Option<(String, String)>,
        steps: Vec<(String, StepDifference)>,
    },
}

/// Two recordings, trial by trial.
#[derive(Debug, Clone)]
pub struct Comparison {
    pub a: Recording,
    pub b: Recording,
    /// Trials in both recordings whose outcome and steps are the same.
    pub same: usize,
    /// Trials that differ, by id.
    pub differences: BTreeMap<String, TrialDifference>,
}

/// Compares the recordings in two directories.
pub fn compare(dir_a: &Path, dir_b: &Path) -> Result<Comparison, String> {
    let a = Recording::read(dir_a)?;
    let b = Recording::read(dir_b)?;
    let trials_b: BTreeMap<&str, &RecordedTrial> =
        b.trials.iter().map(|t| (t.id.as_str(), t)).collect();
    let mut differences = BTreeMap::new();
    let mut same = 0;
    for ta in &a.trials {
        let Some(tb) = trials_b.get(ta.id.as_str()) else {
            differences.insert(ta.id.clone(), TrialDifference::OnlyIn(Side::A));
            continue;
        };
        let outcome = (ta.outcome != tb.outcome).then(|| (describe(ta), describe(tb)));
        let steps = compare_steps((dir_a, ta), (dir_b, tb))?;
        if outcome.is_none() && steps.is_empty() {
            same += 1;
        } else {
            differences.insert(ta.id.clone(), TrialDifference::Differs { outcome, steps });
        }
    }
    let ids_a: Vec<&str> = a.trials.iter().map(|t| t.id.as_str()).collect();
    for tb in &b.trials {
        if !ids_a.contains(&tb.id.as_str()) {
            differences.insert(tb.id.clone(), TrialDifference::OnlyIn(Side::B));
        }
    }
    Ok(Comparison {
        a,
        b,
        same,
        differences,
    })
}

fn describe(t: &RecordedTrial) -> String {
    let outcome = match t.outcome {
        Outcome::Passed => "passed",
        Outcome::Failed => "failed",
        Outcome::Ignored => "ignored",
    };
    match &t.detail {
        Some(d) => format!("{outcome} ({d})"),
        None => outcome.to_string(),
    }
}

fn step_text(dir: &Path, step: &RecordedStep) -> Result<Result<String, String>, String> {
    match &step.file {
        Some(rel) => {
            let file: PathBuf = dir.join(rel);
            std::fs::read_to_string(&file)
                .map(Ok)
                .map_err(|e| format!("cannot read {}: {e}", file.display()))
        }
        None => Ok(Err(step.note.clone().unwrap_or_default())),
    }
}

fn compare_steps(
    (dir_a, a): (&Path, &RecordedTrial),
    (dir_b, b): (&Path, &RecordedTrial),
) -> Result<Vec<(String, StepDifference)>, String> {
    let steps_b: BTreeMap<&str, &RecordedStep> =
        b.steps.iter().map(|s| (s.name.as_str(), s)).collect();
    let mut out = Vec::new();
    for sa in &a.steps {
        let Some(sb) = steps_b.get(sa.name.as_str()) else {
            out.push((sa.name.clone(), StepDifference::OnlyIn(Side::A)));
            continue;
        };
        let difference = match (step_text(dir_a, sa)?, step_text(dir_b, sb)?) {
            (Ok(x), Ok(y)) if x == y => None,
            (Ok(x), Ok(y)) => Some(StepDifference::Text(
                similar::TextDiff::from_lines(&x, &y)
                    .unified_diff()
                    .context_radius(3)
                    .header("A", "B")
                    .to_string(),
            )),
            (Ok(_), Err(note)) => Some(StepDifference::Missing {
                side: Side::B,
                note,
            }),
            (Err(note), Ok(_)) => Some(StepDifference::Missing {
                side: Side::A,
                note,
            }),
            (Err(_), Err(_)) => None,
        };
        if let Some(d) = difference {
            out.push((sa.name.clone(), d));
        }
    }
    for sb in &b.steps {
        if !a.steps.iter().any(|sa| sa.name == sb.name) {
            out.push((sb.name.clone(), StepDifference::OnlyIn(Side::B)));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::fixture::Fault;
    use crate::report::target_info;
    use crate::runner::tests::{fixture, settings, specs};
    use crate::runner::{Policy, run_all};
    use crate::snapshot::{SnapshotMode, Snapshots};
    use crate::target_server::Target;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("emconform-rec-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    /// Records the suite against the fixture (with `fault`) into `dir`.
    async fn record(fault: Option<Fault>, dir: &Path) -> (Arc<Target>, Recording) {
        let target = fixture(fault).await;
        let mut recording = (*settings()).clone();
        recording.snapshots = Snapshots::new("unused", SnapshotMode::Record);
        let specs = specs();
        let policy = Policy {
            allow_side_effects: false,
        };
        let outcomes = run_all(&specs, target.clone(), Arc::new(recording), policy, 8).await;
        let results: Vec<_> = specs.into_iter().zip(outcomes).collect();
        let info = target_info(&target, fault.map(|f| f.info().name)).await;
        let written = Recording::write(dir, info, &results, &target.redactor).unwrap();
        (target, written)
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn every_step_is_recorded_and_two_fixtures_agree() {
        let (a, b) = (temp_dir("a"), temp_dir("b"));
        let (_, recording) = record(None, &a).await;
        record(None, &b).await;
        assert_eq!(Recording::read(&a).unwrap(), recording);
        assert!(!recording.target.supported_versions.is_empty());
        let finishes = recording
            .trials
            .iter()
            .find(|t| t.id == "tasks::finishes::xml")
            .unwrap();
        // Only the second step has a snapshot name; a recording keeps both.
        assert_eq!(finishes.steps.len(), 2);
        for step in &finishes.steps {
            let file = step.file.as_ref().unwrap_or_else(|| panic!("{step:?}"));
            let text = std::fs::read_to_string(a.join(file)).unwrap();
            assert!(text.starts_with("request: "), "{text}");
        }
        // Two fixtures on different ports with different ids normalise to the same texts.
        let same = compare(&a, &b).unwrap();
        assert!(same.differences.is_empty(), "{:?}", same.differences);
        assert_eq!(same.same, recording.trials.len());
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn compare_shows_where_a_deviating_server_differs() {
        let (clean, faulted) = (temp_dir("clean"), temp_dir("faulted"));
        record(None, &clean).await;
        record(Some(Fault::RetryStatus200), &faulted).await;
        let c = compare(&clean, &faulted).unwrap();
        assert!(c.same > 2, "the trials the fault does not touch agree");
        assert!(
            !c.differences
                .contains_key("jobs::retry::without_session::xml")
        );
        let Some(TrialDifference::Differs { outcome, steps }) =
            c.differences.get("jobs::retry::answer::xml")
        else {
            panic!("{:?}", c.differences)
        };
        let (a, b) = outcome.as_ref().expect("the outcomes differ");
        assert_eq!(a, "passed");
        assert_eq!(b, "failed (status: expected 202, got 200)");
        let (name, difference) = &steps[0];
        assert_eq!(name, "retry");
        let StepDifference::Text(diff) = difference else {
            panic!("{difference:?}")
        };
        assert!(diff.contains("-status: 202\n+status: 200"), "{diff}");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn no_password_or_session_token_reaches_a_recording() {
        let dir = temp_dir("secrets");
        let (target, _) = record(Some(Fault::RetryStatus200), &dir).await;
        let secrets = target.embedded_fixture().unwrap().secrets();
        let mut files = 0;
        for entry in walkdir::WalkDir::new(&dir) {
            let entry = entry.unwrap();
            if entry.file_type().is_file() {
                files += 1;
                let text = std::fs::read_to_string(entry.path()).unwrap();
                for secret in &secrets {
                    assert!(
                        !text.contains(secret.as_str()),
                        "a secret leaked into {}",
                        entry.path().display()
                    );
                }
            }
        }
        assert!(files > 4, "the recording has its files");
    }

    #[test]
    fn a_recording_directory_is_checked() {
        let err = Recording::read(Path::new("/nonexistent/emconform")).unwrap_err();
        assert!(err.contains("is not a recording"), "{err}");
    }

    #[test]
    fn step_names_become_safe_file_names() {
        assert_eq!(slug("task finishes"), "task-finishes");
        assert_eq!(slug("retry (again) / 2"), "retry-again-2");
        assert_eq!(slug("ÄÖ"), "step");
    }

    #[test]
    fn a_directory_with_other_files_is_not_overwritten() {
        let dir = std::env::temp_dir().join(format!("emconform-rec-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("notes.txt"), "mine").unwrap();
        let err = prepare_dir(&dir).unwrap_err();
        assert!(err.contains("is not empty and holds no recording"), "{err}");
        assert!(dir.join("notes.txt").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
