//! Snapshots of normalised responses, stored by insta under `snapshots/`.
//!
//! Against the embedded fixture a snapshot is a golden file: a mismatch fails the trial, and insta's
//! usual workflow applies (`.snap.new` files, `INSTA_UPDATE`, `cargo insta review`; nothing is
//! written when `CI` is set). Against any other target the same comparison only reports how that
//! server's rendering differs (design note 2), and never writes a file: the committed snapshots are
//! the fixture's.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Once, OnceLock};

use crate::body::Format;

/// How snapshots take part in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotMode {
    /// Golden files: a mismatch fails the trial (the fixture).
    Assert,
    /// Compare and report; never write (other targets, faulted fixtures).
    Compare,
    /// Not looked at.
    Off,
    /// Not looked at, but every step's exchange is normalised, snapshot name or not: what
    /// `emconform record` stores.
    Record,
}

/// The result of one snapshot comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotResult {
    Matched,
    /// The stored snapshot differs; the unified diff (stored → actual).
    Differs {
        name: String,
        diff: String,
    },
    /// No stored snapshot yet.
    Missing {
        name: String,
    },
    NotChecked,
}

/// The snapshot store of a run.
#[derive(Debug, Clone)]
pub struct Snapshots {
    dir: PathBuf,
    mode: SnapshotMode,
    /// Each stored snapshot, read once per run: every trial of a case compares with the same file,
    /// and reading and parsing it was most of what a passing comparison cost. Shared by clones.
    stored: Arc<Mutex<HashMap<String, Arc<Stored>>>>,
    /// The snapshots with a pending `.snap.new` in the directory, listed once (`None` when it could
    /// not be listed).
    pending: Arc<OnceLock<Option<HashSet<String>>>>,
    /// [`insta_sees_every_assertion`], as the environment said when the run started.
    insta_sees_every_assertion: bool,
}

/// What a run knows of one stored snapshot.
#[derive(Debug)]
struct Stored {
    /// Its contents as insta compares them ([`comparable`]); `None` when there is no file.
    contents: Option<String>,
    /// A `.snap.new` of it was lying around when the run started (insta removes it on a pass).
    pending: bool,
}

/// Text as insta compares snapshots: trailing whitespace dropped, CRLF as LF.
fn comparable(text: &str) -> Cow<'_, str> {
    let text = text.trim_end();
    if text.contains('\r') {
        Cow::Owned(text.replace("\r\n", "\n"))
    } else {
        Cow::Borrowed(text)
    }
}

/// The contents of a snapshot file as insta reads them (the lines after the `---` fenced
/// metadata, joined with LF), or `None` when only insta can tell: a legacy file without the fence,
/// a binary snapshot, metadata that is not plain `key: value` lines (insta might not read it), a
/// metadata block that never ends. Parsing the metadata was most of what reading a snapshot cost,
/// and only insta needs it.
fn snapshot_text(file: &str) -> Option<Cow<'_, str>> {
    let mut lines = file.lines();
    if lines.next()?.trim_end() != "---" {
        return None;
    }
    for (metadata, line) in lines.by_ref().enumerate() {
        if line.trim_end() == "---" {
            if metadata == 0 {
                return None;
            }
            // The rest of the file after the fence's line break is the lines joined with LF,
            // give or take a final LF (trimmed when compared), unless it has a CR in it.
            let fence_end = line.as_ptr() as usize - file.as_ptr() as usize + line.len();
            let rest = &file[fence_end..];
            let rest = (rest.strip_prefix("\r\n"))
                .or_else(|| rest.strip_prefix('\n'))
                .unwrap_or(rest);
            return Some(if rest.contains('\r') {
                Cow::Owned(lines.collect::<Vec<_>>().join("\n"))
            } else {
                Cow::Borrowed(rest)
            });
        }
        // `split_once(": ")`, without building a substring searcher for each line.
        let (key, value) = line.split_once(':')?;
        let value = value.strip_prefix(' ')?;
        let plain_key = !key.is_empty() && key.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
        if !plain_key || !plain_value(value) || (key == "snapshot_kind" && value != "text") {
            return None;
        }
    }
    None
}

/// A YAML value that reads as the text it shows: a double-quoted string whose inner quotes are
/// escaped, or a plain word run that nothing in YAML gives another meaning.
fn plain_value(value: &str) -> bool {
    if let Some(inner) = value.strip_prefix('"') {
        let Some(inner) = inner.strip_suffix('"') else {
            return false;
        };
        let mut escaped = false;
        for c in inner.chars() {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => return false,
                _ => {}
            }
        }
        return !escaped;
    }
    let first = value.chars().next();
    first.is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '_'))
        && !has_pair(value, b": ")
        && !has_pair(value, b" #")
        && value.trim_end() == value
}

/// Whether `text` holds the two bytes `pair` in a row (what `contains` with a two-character
/// pattern says, without the substring searcher it builds).
fn has_pair(text: &str, pair: &[u8; 2]) -> bool {
    text.as_bytes().windows(2).any(|w| w == pair)
}

/// The text of `file`, as `std::fs::read_to_string` reads it but without asking the file's size
/// first: a snapshot is a few hundred bytes, and a run reads dozens of them, where each system
/// call costs more than the reading.
fn read_small_file(file: &Path) -> std::io::Result<String> {
    use std::io::Read as _;
    let mut text = String::with_capacity(4096);
    // `Take` reads to the end without `File`'s size hint (a `statx` and an `lseek`).
    std::fs::File::open(file)?
        .take(u64::MAX)
        .read_to_string(&mut text)?;
    Ok(text)
}

/// Whether insta must see every assertion, passing or not: it rewrites passing snapshots
/// (`INSTA_FORCE_UPDATE`), compares their metadata too (`INSTA_REQUIRE_FULL_MATCH`), or records
/// which snapshots were used so that `cargo insta test --unreferenced` keeps them.
fn insta_sees_every_assertion() -> bool {
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty() && v != "0");
    set("INSTA_FORCE_UPDATE")
        || set("INSTA_REQUIRE_FULL_MATCH")
        || set("INSTA_SNAPSHOT_REFERENCES_FILE")
}

/// The file name (without `.snap`) of a step's snapshot.
pub fn snapshot_name(case_id: &str, snapshot: &str, format: Format) -> String {
    let format = format.name();
    let mut name = String::with_capacity(case_id.len() + snapshot.len() + format.len() + 4);
    // `case_id.replace("::", "__")`, without the substring searcher it builds (a run names two
    // snapshots per step).
    let mut rest = case_id;
    while let Some(at) = memchr::memchr(b':', rest.as_bytes()) {
        let (before, after) = rest.split_at(at);
        name.push_str(before);
        match after.strip_prefix("::") {
            Some(after) => {
                name.push_str("__");
                rest = after;
            }
            None => {
                name.push(':');
                rest = &after[1..];
            }
        }
    }
    for part in [rest, "__", snapshot, "__", format] {
        name.push_str(part);
    }
    name
}

fn unified_diff(old: &str, new: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header("snapshot", "actual")
        .to_string()
}

/// Keeps insta's own panic (which we turn into a trial failure) off stderr.
fn quiet_insta_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let payload = info
                .payload()
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| info.payload().downcast_ref::<&str>().copied())
                .unwrap_or("");
            if !payload.starts_with("snapshot assertion for") {
                previous(info);
            }
        }));
    });
}

/// Records the diff insta computes, so it can travel in the failure message.
#[derive(Clone)]
struct DiffCapture(Arc<Mutex<Option<String>>>);

impl insta::Comparator for DiffCapture {
    fn matches(&self, reference: &insta::Snapshot, test: &insta::Snapshot) -> bool {
        let ok = insta::DefaultComparator.matches(reference, test);
        if !ok {
            let old = reference
                .as_text()
                .map(|t| t.to_string())
                .unwrap_or_default();
            let new = test.as_text().map(|t| t.to_string()).unwrap_or_default();
            *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(unified_diff(&old, &new));
        }
        ok
    }

    fn dyn_clone(&self) -> Box<dyn insta::Comparator> {
        Box::new(self.clone())
    }
}

impl Snapshots {
    /// Snapshots in `dir`, used as `mode` says.
    pub fn new(dir: impl Into<PathBuf>, mode: SnapshotMode) -> Snapshots {
        Snapshots {
            dir: dir.into(),
            mode,
            stored: Arc::default(),
            pending: Arc::default(),
            insta_sees_every_assertion: insta_sees_every_assertion(),
        }
    }

    /// Reads the stored snapshots `names` now, one after the other (a run does it on a thread of
    /// its own as it starts). Read one by one as trials reach them, between their requests, they
    /// cost several times more (measured: `cargo bench --bench speed`, README, Performance).
    pub fn prefetch(&self, names: impl IntoIterator<Item = String>) {
        if !matches!(self.mode, SnapshotMode::Assert | SnapshotMode::Compare) {
            return;
        }
        for name in names {
            self.stored(&name);
        }
    }

    /// The stored snapshot `name`, read on first use.
    fn stored(&self, name: &str) -> Arc<Stored> {
        let known = self.stored.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(known) = known.get(name) {
            return known.clone();
        }
        // Read without the lock, so that trials comparing other snapshots do not wait for the
        // disk; two trials reading the same file at once read the same thing.
        drop(known);
        let mut file = self.dir.join(name);
        file.as_mut_os_string().push(".snap");
        // As insta reads it; a file that is there but unreadable compares as empty.
        let by_insta = || {
            insta::Snapshot::from_file(&file)
                .ok()
                .and_then(|s| s.as_text().map(|t| comparable(&t.to_string()).into_owned()))
                .unwrap_or_default()
        };
        let contents = match read_small_file(&file) {
            Ok(text) => Some(
                snapshot_text(&text)
                    .map(|t| comparable(&t).into_owned())
                    .unwrap_or_else(by_insta),
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(_) => file.exists().then(by_insta),
        };
        let read = Arc::new(Stored {
            contents,
            pending: self.pending(name, &file),
        });
        self.stored
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(name.to_string())
            .or_insert(read)
            .clone()
    }

    /// Whether snapshot `name` (stored in `file`) has a pending `.snap.new` next to it, as the
    /// directory was listed when the run first needed it: one listing instead of a `stat` per
    /// snapshot, for the files insta leaves (a run writes one only after reading that snapshot).
    fn pending(&self, name: &str, file: &Path) -> bool {
        let listing = self.pending.get_or_init(|| {
            let mut pending = HashSet::new();
            for entry in std::fs::read_dir(&self.dir).ok()? {
                let file_name = entry.ok()?.file_name();
                if let Some(stem) = file_name.to_str().and_then(|n| n.strip_suffix(".snap.new")) {
                    pending.insert(stem.to_string());
                }
            }
            Some(pending)
        });
        match listing {
            Some(pending) => pending.contains(name),
            None => {
                let mut new = file.to_path_buf();
                new.as_mut_os_string().push(".new");
                new.exists()
            }
        }
    }

    /// The mode in force.
    pub fn mode(&self) -> SnapshotMode {
        self.mode
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Compares `content` with the stored snapshot `name`.
    pub fn check(
        &self,
        name: &str,
        content: &str,
        case_file: &Path,
        description: &dyn Fn() -> String,
    ) -> SnapshotResult {
        match self.mode {
            SnapshotMode::Off | SnapshotMode::Record => SnapshotResult::NotChecked,
            SnapshotMode::Compare => self.compare(name, content),
            SnapshotMode::Assert => self.assert(name, content, case_file, description),
        }
    }

    fn compare(&self, name: &str, content: &str) -> SnapshotResult {
        let stored = self.stored(name);
        let Some(stored) = &stored.contents else {
            return SnapshotResult::Missing {
                name: name.to_string(),
            };
        };
        let content = comparable(content);
        if stored.as_str() == content.as_ref() {
            SnapshotResult::Matched
        } else {
            SnapshotResult::Differs {
                name: name.to_string(),
                diff: unified_diff(&format!("{stored}\n"), &format!("{content}\n")),
            }
        }
    }

    fn assert(
        &self,
        name: &str,
        content: &str,
        case_file: &Path,
        description: &dyn Fn() -> String,
    ) -> SnapshotResult {
        // A snapshot that matches what is stored passes without insta, which would read and parse
        // the file again and look for pending files; insta still decides everything else.
        let stored = self.stored(name);
        if !stored.pending
            && stored.contents.as_deref() == Some(comparable(content).as_ref())
            && !self.insta_sees_every_assertion
        {
            return SnapshotResult::Matched;
        }
        quiet_insta_panics();
        let existed = stored.contents.is_some();
        let slot = Arc::new(Mutex::new(None));
        let mut settings = insta::Settings::clone_current();
        settings.set_snapshot_path(&self.dir);
        settings.set_prepend_module_to_snapshot(false);
        settings.set_input_file(case_file);
        settings.set_omit_expression(true);
        settings.set_description(description());
        settings.set_comparator(Box::new(DiffCapture(slot.clone())));
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            settings.bind(|| insta::assert_snapshot!(name, content));
        }));
        match outcome {
            Ok(()) => SnapshotResult::Matched,
            Err(_) if !existed => SnapshotResult::Missing {
                name: name.to_string(),
            },
            Err(_) => SnapshotResult::Differs {
                name: name.to_string(),
                diff: slot
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .take()
                    .unwrap_or_else(|| "(insta reported a mismatch without a diff)".into()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_names_replace_every_double_colon() {
        for (id, format) in [
            ("jobs::retry::answer", Format::Xml),
            ("a:b::c:::d::::e", Format::Json),
            ("::lead::", Format::Xml),
            ("plain", Format::Json),
            ("é::ü:", Format::Xml),
        ] {
            let expected = format!("{}__step__{format}", id.replace("::", "__"));
            assert_eq!(snapshot_name(id, "step", format), expected, "{id}");
        }
    }

    #[test]
    fn compare_mode_reports_differences_without_writing() {
        let dir = std::env::temp_dir().join(format!("emconform-snap-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("a.snap"), "---\nsource: x\n---\nstatus: 202\n").unwrap();
        let s = Snapshots::new(&dir, SnapshotMode::Compare);
        assert_eq!(
            s.check("a", "status: 202\n", Path::new("c.toml"), &String::new),
            SnapshotResult::Matched
        );
        match s.check("a", "status: 200\n", Path::new("c.toml"), &String::new) {
            SnapshotResult::Differs { diff, .. } => {
                assert!(diff.contains("-status: 202\n+status: 200"), "{diff}")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            s.check("b", "x", Path::new("c.toml"), &String::new),
            SnapshotResult::Missing { name: "b".into() }
        );
        assert!(!dir.join("b.snap").exists() && !dir.join("b.snap.new").exists());
        // A link to nothing is no snapshot.
        let _ = std::fs::remove_file(dir.join("gone.snap"));
        std::os::unix::fs::symlink(dir.join("nowhere"), dir.join("gone.snap")).unwrap();
        assert_eq!(
            s.check("gone", "x", Path::new("c.toml"), &String::new),
            SnapshotResult::Missing {
                name: "gone".into()
            }
        );
    }

    /// What insta reads from a snapshot file, as compared.
    fn as_insta_reads(file: &Path) -> String {
        let snapshot = insta::Snapshot::from_file(file).expect("insta reads it");
        let text = snapshot.as_text().expect("a text snapshot").to_string();
        comparable(&text).into_owned()
    }

    #[test]
    fn prefetched_snapshots_are_read_before_the_trials_compare() {
        let dir = std::env::temp_dir().join(format!("emconform-prefetch-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let write = |status: u16| {
            let text = format!("---\nsource: x\n---\nstatus: {status}\n");
            std::fs::write(dir.join("a.snap"), text).unwrap();
        };
        write(202);
        let compared = Snapshots::new(&dir, SnapshotMode::Compare);
        let recording = Snapshots::new(&dir, SnapshotMode::Record);
        compared.prefetch(["a".to_string(), "missing".to_string()]);
        recording.prefetch(["a".to_string()]);
        // A change after the prefetch is not seen: what is compared was read by the prefetch
        // (as a run reads each file once, whenever it first needs it).
        write(500);
        let check = |s: &Snapshots, name: &str| {
            s.check(name, "status: 202", Path::new("c.toml"), &String::new)
        };
        assert_eq!(check(&compared, "a"), SnapshotResult::Matched);
        assert_eq!(
            check(&compared, "missing"),
            SnapshotResult::Missing {
                name: "missing".into()
            }
        );
        // Recording reads nothing.
        assert!(recording.stored.lock().unwrap().is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn snapshot_files_read_as_insta_reads_them() {
        let dir = std::env::temp_dir().join(format!("emconform-snap-read-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut files: Vec<PathBuf> = std::fs::read_dir("snapshots")
            .expect("the project's snapshots")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|x| x == "snap"))
            .collect();
        assert!(files.len() > 50, "{}", files.len());
        let made = [
            "---\r\nsource: x\r\n---\r\nstatus: 202\r\n\r\nbody\r\n\r\n",
            "---\nsource: x\nsnapshot_kind: text\n---\n\n  indented\ntrailing   \n\n",
            "---\nsource: x\n---\n",
            "---\nsource: x\n---\n---\nmore\n",
            "---\nsource: x\n---   \nstatus: 202\n\n\n",
            "---\r\nsource: x\r\n---\nstatus: 202\nno CR after the fence\n",
            "---\nsource: x\n---\nstatus: 202\nlone\rCR\n",
            "---\nsource: x\n---",
            "---\nsource: x\n---\nno final line break",
        ];
        for (i, text) in made.iter().enumerate() {
            let file = dir.join(format!("made{i}.snap"));
            std::fs::write(&file, text).unwrap();
            files.push(file);
        }
        for file in &files {
            let text = std::fs::read_to_string(file).unwrap();
            let ours = snapshot_text(&text).map(|t| comparable(&t).into_owned());
            assert_eq!(
                ours.as_deref(),
                Some(as_insta_reads(file).as_str()),
                "{}",
                file.display()
            );
        }
        // Only insta reads these: no fence, or not text.
        assert_eq!(snapshot_text("Created: today\n\nstatus: 202\n"), None);
        assert_eq!(snapshot_text("---\nsnapshot_kind: binary\n---\n"), None);
        assert_eq!(snapshot_text("---\nsource: x\n"), None);
        // Metadata insta might not read, or reads otherwise: insta decides.
        for text in [
            "---\nsource: [\n---\nstatus: 202\n",
            "---\n---\nstatus: 202\n",
            "---\njust text\n---\nstatus: 202\n",
            "---\n\tsource: x\n---\nstatus: 202\n",
            "---\n\"snapshot_kind\": binary\n---\n",
            "---\ndescription: \"a\"b\"\n---\nstatus: 202\n",
        ] {
            assert_eq!(snapshot_text(text), None, "{text:?}");
        }
    }
}
