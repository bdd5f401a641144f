//! Finding case files, reading them, and checking what the TOML reader cannot: references between
//! steps, placeholders, roles. Every error names the file, line, column and what is wrong.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::model::{
    AcceptChoice, AuthChoice, BodyAssert, CaptureSource, CaseFile, Expect, Predicate, Selector,
    SessionChoice, Step,
};
use super::template::Template;
use crate::roles::{JOB_ROLES, job_role};
use crate::spec::{section_by_id, section_ids};

/// A case file, read and checked.
#[derive(Debug, Clone)]
pub struct Case {
    /// `jobs::retry::answer` for `cases/jobs/retry/answer.toml`.
    pub id: String,
    /// The file, as given (relative to the working directory when it was found under it).
    pub path: PathBuf,
    /// The file's text, for pointing at positions in failure messages.
    pub source: Arc<str>,
    pub def: CaseFile,
}

impl Case {
    /// `file:line:column` of a byte offset in the file.
    pub fn location(&self, span: &Range<usize>) -> String {
        let (line, column) = line_column(&self.source, span.start);
        format!("{}:{line}:{column}", self.path.display())
    }

    /// Whether a step logs on with the target's second, non-administrator account.
    pub fn needs_portal_account(&self) -> bool {
        self.def
            .steps
            .iter()
            .any(|s| s.auth == Some(AuthChoice::PortalUser))
    }

    /// Whether the case is tagged `side-effects` (starts, stops or retries a job).
    pub fn has_side_effects(&self) -> bool {
        self.def.tags.iter().any(|t| t == "side-effects")
    }

    /// The job roles the case needs.
    pub fn job_roles(&self) -> impl Iterator<Item = &str> {
        self.def.jobs.iter().map(|j| j.get_ref().as_str())
    }
}

/// A case file that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct LoadError {
    pub file: PathBuf,
    /// 1-based; 0 when the error is about the file as a whole.
    pub line: usize,
    pub column: usize,
    pub message: String,
    /// The offending line with a caret under the column, when known.
    pub snippet: Option<String>,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file.display(), self.message)?;
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file.display(),
                self.line,
                self.column,
                self.message
            )?;
        }
        if let Some(snippet) = &self.snippet {
            write!(f, "\n{snippet}")?;
        }
        Ok(())
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = text[line_start..offset].chars().count() + 1;
    (line, column)
}

fn snippet(text: &str, offset: usize) -> String {
    let (line, column) = line_column(text, offset);
    let content = text.lines().nth(line - 1).unwrap_or("");
    let gutter = line.to_string().len();
    format!(
        "{:gutter$} |\n{line} | {content}\n{:gutter$} | {}^",
        "",
        "",
        " ".repeat(column.saturating_sub(1))
    )
}

impl LoadError {
    /// An error at a byte span of a file's text (line, column and snippet from the span).
    pub fn at(
        file: &Path,
        text: &str,
        span: &Range<usize>,
        message: impl Into<String>,
    ) -> LoadError {
        let (line, column) = line_column(text, span.start);
        LoadError {
            file: file.to_path_buf(),
            line,
            column,
            message: message.into(),
            snippet: Some(snippet(text, span.start)),
        }
    }

    /// An error about a file as a whole.
    pub fn whole(file: &Path, message: impl Into<String>) -> LoadError {
        LoadError {
            file: file.to_path_buf(),
            line: 0,
            column: 0,
            message: message.into(),
            snippet: None,
        }
    }
}

/// The case id for a file under `root`: path components joined by `::`, without `.toml`.
pub fn case_id(root: &Path, file: &Path) -> Result<String, String> {
    let rel = file
        .strip_prefix(root)
        .map_err(|_| format!("{} is not under {}", file.display(), root.display()))?;
    let rel = rel.with_extension("");
    let mut parts = Vec::new();
    for c in rel.components() {
        let part = c.as_os_str().to_str().ok_or("the path is not UTF-8")?;
        if part.is_empty()
            || !part
                .chars()
                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_')
        {
            return Err(format!(
                "{part:?} cannot be part of a case id: name case files and folders with lowercase letters, digits and `_`"
            ));
        }
        parts.push(part.to_string());
    }
    Ok(parts.join("::"))
}

/// Finds and loads every `*.toml` under `root`, sorted by id. Returns every error, not just the first.
pub fn load_cases(root: &Path) -> Result<Vec<Case>, Vec<LoadError>> {
    if !root.is_dir() {
        return Err(vec![LoadError::whole(
            root,
            "the cases directory does not exist (give another with --cases DIR)",
        )]);
    }
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for entry in walkdir::WalkDir::new(root).sort_by_file_name() {
        match entry {
            Ok(e)
                if e.file_type().is_file() && e.path().extension().is_some_and(|x| x == "toml") =>
            {
                files.push(e.into_path())
            }
            Ok(_) => {}
            Err(e) => errors.push(LoadError::whole(
                root,
                format!("cannot read the cases directory: {e}"),
            )),
        }
    }
    if files.is_empty() && errors.is_empty() {
        errors.push(LoadError::whole(root, "no case files (*.toml) here"));
    }
    let mut cases = Vec::new();
    for loaded in load_files(root, &files, loading_threads(files.len())) {
        match loaded {
            Ok(case) => cases.push(case),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        cases.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(cases)
    } else {
        Err(errors)
    }
}

/// How many case files make it worth parsing on more than one thread.
const FILES_PER_THREAD: usize = 32;

/// How many threads to parse `files` case files on: one per core, each with a share of at least
/// [`FILES_PER_THREAD`].
fn loading_threads(files: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores.min(files / FILES_PER_THREAD).max(1)
}

/// Reads and parses `files` on `threads` threads, each a contiguous share, results in file order.
/// Parsing TOML is almost all of loading, so a large suite loads about as many times faster as
/// there are cores. A share whose thread cannot start is parsed here; a panic (a bug) ends the
/// process, as it does on one thread.
fn load_files(root: &Path, files: &[PathBuf], threads: usize) -> Vec<Result<Case, LoadError>> {
    let load_share = |share: &[PathBuf]| -> Vec<Result<Case, LoadError>> {
        share.iter().map(|file| load_file(root, file)).collect()
    };
    if threads <= 1 || files.len() < 2 {
        return load_share(files);
    }
    let share = files.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let started: Vec<_> = files
            .chunks(share)
            .map(|chunk| {
                let thread =
                    std::thread::Builder::new().spawn_scoped(scope, move || load_share(chunk));
                (chunk, thread.ok())
            })
            .collect();
        let mut loaded = Vec::with_capacity(files.len());
        for (chunk, thread) in started {
            match thread.map(|t| t.join()) {
                None => loaded.extend(load_share(chunk)),
                Some(Ok(results)) => loaded.extend(results),
                Some(Err(panic)) => std::panic::resume_unwind(panic),
            }
        }
        loaded
    })
}

/// Reads and parses one case file.
fn load_file(root: &Path, file: &Path) -> Result<Case, LoadError> {
    let shown = display_path(file);
    let id = case_id(root, file).map_err(|e| LoadError::whole(&shown, e))?;
    let text = std::fs::read_to_string(file)
        .map_err(|e| LoadError::whole(&shown, format!("cannot read: {e}")))?;
    load_case(id, &shown, &text)
}

/// `file` relative to the working directory when it is under it.
pub fn display_path(file: &Path) -> PathBuf {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| file.strip_prefix(cwd).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| file.to_path_buf())
}

/// Parses and checks one case file's text.
pub fn load_case(id: String, file: &Path, text: &str) -> Result<Case, LoadError> {
    let def: CaseFile = toml::from_str(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        LoadError::at(file, text, &span, e.message().trim_end().to_string())
    })?;
    let case = Case {
        id,
        path: file.to_path_buf(),
        source: Arc::from(text),
        def,
    };
    validate(&case).map_err(|(span, message)| LoadError::at(file, text, &span, message))?;
    Ok(case)
}

type Invalid = (Range<usize>, String);

/// Placeholders every step can use.
const BUILTINS: [&str; 5] = ["base", "format", "mime", "api_version", "user"];
/// Placeholders only expectations can use.
const RESPONSE_VARS: [&str; 2] = ["response.status", "response.body_length"];

/// What placeholders are defined at a point in a case.
struct Scope<'c> {
    roles: BTreeSet<&'c str>,
    captures: BTreeSet<String>,
}

impl Scope<'_> {
    fn check(&self, template: &Template, in_expect: bool) -> Result<(), String> {
        for var in template.vars() {
            let known = BUILTINS.contains(&var)
                || (in_expect && RESPONSE_VARS.contains(&var))
                || self.captures.contains(var)
                || self.job_var(var)?;
            if !known {
                return Err(format!(
                    "`{{{{{var}}}}}` is not defined here: it is not a built-in ({}), a `job.ROLE` of this case, or a value captured by an earlier step (or, in `expect`, by this one){}",
                    BUILTINS.join(", "),
                    if RESPONSE_VARS.contains(&var) {
                        " (`response.*` is only available in `expect`)"
                    } else {
                        ""
                    }
                ));
            }
        }
        Ok(())
    }

    fn job_var(&self, var: &str) -> Result<bool, String> {
        let Some(rest) = var.strip_prefix("job.") else {
            return Ok(false);
        };
        let role = rest
            .strip_suffix(".name")
            .or_else(|| rest.strip_suffix(".uid"))
            .unwrap_or(rest);
        if job_role(role).is_none() {
            return Err(format!("`{{{{{var}}}}}`: there is no job role `{role}`"));
        }
        if !self.roles.contains(role) {
            return Err(format!(
                "`{{{{{var}}}}}`: add \"{role}\" to the case's `jobs`"
            ));
        }
        Ok(true)
    }
}

fn check_body_assert(scope: &Scope, a: &BodyAssert, in_expect: bool) -> Result<(), String> {
    if let Selector::Path(p) = &a.selector {
        for var in p.vars() {
            scope.check(
                &Template::literal(&format!("{{{{{var}}}}}")).clone_with_var(var),
                in_expect,
            )?;
        }
    }
    if !matches!(a.selector, Selector::Root { .. }) {
        for t in a.predicate.templates() {
            scope.check(t, in_expect)?;
        }
    }
    if let Some(w) = &a.when {
        check_body_assert(scope, w, in_expect)?;
    }
    Ok(())
}

impl Template {
    /// A template that is just one placeholder (for checking path variables).
    fn clone_with_var(&self, var: &str) -> Template {
        Template::parse(&format!("{{{{{var}}}}}")).unwrap_or_else(|_| self.clone())
    }
}

fn validate(case: &Case) -> Result<(), Invalid> {
    let def = &case.def;
    for (field, cited) in
        std::iter::once(("spec", &def.spec)).chain(def.covers.iter().map(|c| ("covers", c)))
    {
        let id = cited.get_ref();
        if section_by_id(id).is_none() {
            return Err((
                cited.span(),
                format!(
                    "`{field}` must name a section of em-rest-api.md such as \"2.2\" (or \"seed\"), not {id:?}; the sections are {}",
                    section_ids()
                ),
            ));
        }
    }
    let mut roles = BTreeSet::new();
    for job in &def.jobs {
        let name = job.get_ref().as_str();
        if job_role(name).is_none() {
            let known: Vec<&str> = JOB_ROLES.iter().map(|r| r.name).collect();
            return Err((
                job.span(),
                format!("unknown job role {name:?}; roles are {}", known.join(", ")),
            ));
        }
        roles.insert(name);
    }
    if def.formats.is_empty() {
        return Err((
            0..0,
            "`formats` is empty: list \"xml\", \"json\" or both".to_string(),
        ));
    }
    if def.steps.is_empty() {
        return Err((0..0, "a case needs at least one `[[steps]]`".to_string()));
    }
    let mut scope = Scope {
        roles,
        captures: BTreeSet::new(),
    };
    let mut outcomes: BTreeMap<&str, Vec<Option<&str>>> = BTreeMap::new();
    let mut snapshots = BTreeSet::new();
    for step in &def.steps {
        validate_step(step, &mut scope, &outcomes, &mut snapshots)?;
        outcomes.insert(
            step.name.get_ref().as_str(),
            step.expect.0.iter().map(|e| e.outcome.as_deref()).collect(),
        );
    }
    Ok(())
}

fn validate_step<'c>(
    step: &'c Step,
    scope: &mut Scope,
    outcomes: &BTreeMap<&str, Vec<Option<&str>>>,
    snapshots: &mut BTreeSet<&'c str>,
) -> Result<(), Invalid> {
    let name = step.name.get_ref();
    let name_span = step.name.span();
    if name.trim().is_empty() {
        return Err((name_span, "a step needs a `name`".into()));
    }
    if outcomes.contains_key(name.as_str()) {
        return Err((name_span, format!("two steps are called {name:?}")));
    }
    if let Some(when) = &step.when {
        let w = when.get_ref();
        match outcomes.get(w.step.as_str()) {
            None => {
                return Err((
                    when.span(),
                    format!(
                        "`when` names step {:?}, which does not come before this one",
                        w.step
                    ),
                ));
            }
            Some(named) if !named.contains(&Some(w.outcome.as_str())) => {
                let names: Vec<&str> = named.iter().flatten().copied().collect();
                return Err((
                    when.span(),
                    format!(
                        "step {:?} has no outcome {:?} (its outcomes: {})",
                        w.step,
                        w.outcome,
                        if names.is_empty() {
                            "none named".to_string()
                        } else {
                            names.join(", ")
                        }
                    ),
                ));
            }
            Some(_) => {}
        }
    }
    let request_templates = std::iter::once(step.path.get_ref())
        .chain(step.query.values())
        .chain(step.headers.values())
        .chain(step.body.iter())
        .chain(match &step.accept {
            Some(AcceptChoice::Value(t)) => Some(t),
            _ => None,
        })
        .chain(match &step.session {
            SessionChoice::Token(t) => Some(t),
            _ => None,
        });
    for t in request_templates {
        scope
            .check(t, false)
            .map_err(|e| (step.path.span(), format!("in step {name:?}: {e}")))?;
    }
    if let Some(aw) = &step.await_ {
        if aw.until.is_empty() {
            return Err((name_span, format!("step {name:?}: `await.until` is empty")));
        }
        for a in &aw.until {
            check_body_assert(scope, a.get_ref(), false).map_err(|e| (a.span(), e))?;
        }
    }
    if step.expect.0.len() > 1 {
        for e in &step.expect.0 {
            if e.outcome.is_none() {
                return Err((
                    e.status.span(),
                    format!(
                        "step {name:?} has several `expect` alternatives: give each an `outcome` name"
                    ),
                ));
            }
        }
    }
    let mut new_captures = Vec::new();
    for e in &step.expect.0 {
        // An alternative's checks may use what it captures itself (captures are taken first).
        let before = scope.captures.clone();
        scope.captures.extend(e.capture.keys().cloned());
        let checked = validate_expect(e, scope);
        scope.captures = before;
        checked?;
        for (cname, c) in &e.capture {
            if BUILTINS.contains(&cname.as_str())
                || cname.starts_with("job.")
                || cname.starts_with("response.")
            {
                return Err((
                    c.span(),
                    format!("a capture cannot be called {cname:?}: that name is built in"),
                ));
            }
            if let CaptureSource::Body(p) = &c.get_ref().source {
                for var in p.vars() {
                    if !scope.captures.contains(var)
                        && !BUILTINS.contains(&var)
                        && !scope.job_var(var).unwrap_or(false)
                    {
                        return Err((c.span(), format!("`{{{{{var}}}}}` is not defined here")));
                    }
                }
            }
            new_captures.push(cname.clone());
        }
    }
    scope.captures.extend(new_captures);
    if let Some(snap) = &step.snapshot {
        let s = snap.get_ref().as_str();
        if s.is_empty()
            || !s
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err((
                snap.span(),
                format!("snapshot name {s:?}: use letters, digits, `_` and `-`"),
            ));
        }
        if !snapshots.insert(s) {
            return Err((
                snap.span(),
                format!("two steps use the snapshot name {s:?}"),
            ));
        }
    }
    Ok(())
}

/// Checks one `expect` alternative's header and body assertions against `scope`.
fn validate_expect(e: &Expect, scope: &Scope) -> Result<(), Invalid> {
    for h in &e.headers {
        for t in h.get_ref().predicate.templates() {
            scope.check(t, true).map_err(|msg| (h.span(), msg))?;
        }
        if matches!(h.get_ref().predicate, Predicate::MediaType(_))
            && !h.get_ref().name.eq_ignore_ascii_case("content-type")
        {
            return Err((
                h.span(),
                "`media_type` applies to the Content-Type header".into(),
            ));
        }
    }
    for b in &e.body {
        check_body_assert(scope, b.get_ref(), true).map_err(|msg| (b.span(), msg))?;
    }
    if e.empty && !e.body.is_empty() {
        return Err((
            e.status.span(),
            "`empty = true` and body checks contradict each other".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
title = "Retry a failed job"
spec = "2.2"
level = "must"
tags = ["side-effects"]
jobs = ["failed"]

[[steps]]
name = "retry"
method = "POST"
path = "/jobs/{{job.failed}}"
query = { action = "retry" }

[steps.expect]
status = 202
headers = [{ name = "Content-Type", media_type = "{{mime}}" }]
body = [
  { root = "Task" },
  { path = "Operation", equals = "RetryJob" },
  { path = "Result", absent = true, when = { path = "State", equals = "Running" } },
]
capture = { task = { path = "@Href" } }

[[steps]]
name = "poll"
method = "GET"
path = "{{task}}"
await = { until = [{ path = "State", equals = "Finished" }] }
expect = { status = 200 }
"#;

    fn load(text: &str) -> Result<Case, LoadError> {
        load_case("t::case".into(), Path::new("cases/t/case.toml"), text)
    }

    #[test]
    fn loads_a_valid_case() {
        let case = load(GOOD).unwrap();
        assert_eq!(case.def.steps.len(), 2);
        assert!(case.has_side_effects());
        assert_eq!(case.def.formats.len(), 2);
    }

    #[test]
    fn unknown_field_names_file_line_column_and_field() {
        let bad = GOOD.replace("status = 202", "statsu = 202");
        let err = load(&bad).unwrap_err();
        let shown = err.to_string();
        assert!(
            shown.starts_with("cases/t/case.toml:15:1: unknown field `statsu`"),
            "{shown}"
        );
        assert_eq!((err.line, err.column), (15, 1));
    }

    #[test]
    fn bad_values_point_at_the_value() {
        let cases = [
            (
                GOOD.replace("status = 202", "status = 999"),
                "invalid status 999",
            ),
            (
                GOOD.replace("\"RetryJob\"", "\"{{nope}}\""),
                "`{{nope}}` is not defined here",
            ),
            (
                GOOD.replace("path = \"Operation\"", "path = \"@Op/x\""),
                "must be the last step",
            ),
            (
                GOOD.replace("[\"failed\"]", "[\"faild\"]"),
                "unknown job role \"faild\"",
            ),
            (
                GOOD.replace(
                    "equals = \"RetryJob\"",
                    "equals = \"RetryJob\", matches = \"x\"",
                ),
                "give only one of",
            ),
            (
                GOOD.replace("path = \"{{task}}\"", "path = \"{{later}}\""),
                "`{{later}}` is not defined here",
            ),
            (
                GOOD.replace("method = \"GET\"", "method = \"get\""),
                "invalid method",
            ),
            (
                GOOD.replace("spec = \"2.2\"", "spec = \"two\""),
                "`spec` must name a section",
            ),
            (
                GOOD.replace("spec = \"2.2\"", "spec = \"9.9\""),
                "not \"9.9\"; the sections are seed, 1.1",
            ),
            (
                GOOD.replace(
                    "level = \"must\"",
                    "level = \"must\"\ncovers = [\"7\", \"77\"]",
                ),
                "`covers` must name a section",
            ),
            (
                GOOD.replace("\"RetryJob\" }", "\"{{task2}}\" }"),
                "`{{task2}}` is not defined here",
            ),
            (
                GOOD.replace("{ root = \"Task\" },", "{ root = \"Task\", path = \"x\" },"),
                "exactly one of `root`, `path`, `link`",
            ),
        ];
        for (text, expected) in cases {
            let err = load(&text).unwrap_err();
            assert!(err.line > 0, "{err}");
            assert!(
                err.to_string().contains(expected),
                "expected {expected:?} in:\n{err}"
            );
        }
    }

    #[test]
    fn an_expect_may_use_its_own_captures_and_steps_may_clean_up() {
        let text = GOOD
            .replace(
                "{ path = \"Operation\", equals = \"RetryJob\" },",
                "{ path = \"@Href\", matches = 'tasks/{{id}}$' },",
            )
            .replace(
                "capture = { task = { path = \"@Href\" } }",
                "capture = { task = { path = \"@Href\" }, id = { path = \"TaskId\" } }",
            )
            .replace(
                "path = \"{{task}}\"",
                "path = \"{{task}}\"\ncleanup = true\nauth = \"portal-user\"",
            );
        let case = load(&text).unwrap();
        assert!(case.def.steps[1].cleanup);
        assert!(case.needs_portal_account());
        assert!(!load(GOOD).unwrap().needs_portal_account());
    }

    #[test]
    fn ids_come_from_paths() {
        let root = Path::new("cases");
        assert_eq!(
            case_id(root, Path::new("cases/jobs/retry/failed_job.toml")).unwrap(),
            "jobs::retry::failed_job"
        );
        assert!(case_id(root, Path::new("cases/Jobs/x.toml")).is_err());
    }

    /// Parsed on several threads, a suite comes back exactly as on one: every case and every
    /// error in file order.
    #[test]
    fn a_suite_loads_the_same_on_several_threads() {
        let root = std::env::temp_dir().join(format!("emconform-load-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let bad = GOOD.replace("status = 202", "statsu = 202");
        let count = 101;
        let mut files = Vec::new();
        for n in 0..count {
            let folder = root.join(format!("g{}", n / 50));
            std::fs::create_dir_all(&folder).unwrap();
            let file = folder.join(format!("c{n:03}.toml"));
            let text = if [1, 50, 99].contains(&n) { &bad } else { GOOD };
            std::fs::write(&file, text).unwrap();
            files.push(file);
        }
        let shown = |loaded: Vec<Result<Case, LoadError>>| -> Vec<String> {
            (loaded.into_iter())
                .map(|r| match r {
                    Ok(case) => case.id,
                    Err(e) => format!("error in {}", e.file.display()),
                })
                .collect()
        };
        let one = shown(load_files(&root, &files, 1));
        assert_eq!(one[0], "g0::c000");
        assert!(
            one[1].starts_with("error in ") && one[1].ends_with("c001.toml"),
            "{one:?}"
        );
        assert_eq!(one.len(), count);
        for threads in [2, 3, 7] {
            assert_eq!(
                shown(load_files(&root, &files, threads)),
                one,
                "{threads} threads"
            );
        }
        let errors = load_cases(&root).unwrap_err();
        assert_eq!(errors.len(), 3);
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn line_column_counts_from_one() {
        assert_eq!(line_column("ab\ncd", 0), (1, 1));
        assert_eq!(line_column("ab\ncd", 4), (2, 2));
    }
}
