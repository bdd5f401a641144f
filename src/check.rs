//! Evaluating a step's expectations against a response: every failed assertion becomes a
//! [`Mismatch`] that says what was expected, what came back, and where the assertion is written.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};

use crate::body::doc::{Document, LazyDocument, Root};
use crate::body::{EM_NAMESPACE, Format};
use crate::case::{BodyAssert, Case, HeaderAssert, Predicate, Selector, Template, Vars};
use crate::http::Response;

/// One failed assertion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// What was checked, e.g. `status`, `header Content-Type`, `body Operation`.
    pub subject: String,
    pub expected: String,
    pub actual: String,
    /// `file:line:column` of the assertion, when it has one.
    pub location: Option<String>,
    /// The case's note on why the spec wants this.
    pub note: Option<String>,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "✗ {}: expected {}, got {}",
            self.subject, self.expected, self.actual
        )?;
        if let Some(loc) = &self.location {
            write!(f, "\n    at {loc}")?;
        }
        if let Some(note) = &self.note {
            write!(f, "\n    note: {note}")?;
        }
        Ok(())
    }
}

/// What an unexpected status means, when the answer says more than its number: a redirect
/// (never followed, so the session header never leaves the target) or a server that asks to be
/// called again later (never retried: the verdict is about the answer the server gave).
pub fn status_note(response: &Response) -> Option<String> {
    match response.status {
        300..=399 => Some(match response.header("location") {
            Some(to) => format!(
                "the server redirects to {}; emconform never follows redirects, so the request \
                 and its session header went nowhere else",
                clip(to, 200)
            ),
            None => "a redirect without a Location; emconform never follows redirects".into(),
        }),
        429 | 503 => {
            let later = response
                .header("retry-after")
                .map(|after| {
                    format!(
                        " and asks to be called again later (Retry-After: {})",
                        clip(after, 60)
                    )
                })
                .unwrap_or_default();
            Some(format!(
                "the server is unavailable{later}; emconform does not retry: run again when it is back"
            ))
        }
        _ => None,
    }
}

/// Shortens a value for a message.
pub fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let cut: String = s.chars().take(max).collect();
        format!("{cut}… ({} bytes in all)", s.len())
    }
}

fn quote_values(values: &[String]) -> String {
    match values {
        [] => "nothing".to_string(),
        [one] => format!("{:?}", clip(one, 200)),
        many => format!(
            "[{}]",
            many.iter()
                .map(|v| format!("{:?}", clip(v, 80)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Compiled `matches` patterns, by pattern text, once per process: compiling one cost a tenth of
/// what a passing trial cost. Shared with their search caches through an `Arc` (a cloned `Regex`
/// would start with cold caches). A pattern that does not compile is kept as its error.
fn compiled(pattern: &str) -> Result<Arc<regex::Regex>, String> {
    type Cache = Mutex<HashMap<String, Result<Arc<regex::Regex>, String>>>;
    static COMPILED: OnceLock<Cache> = OnceLock::new();
    let cache = COMPILED.get_or_init(Mutex::default);
    let known = cache
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(pattern)
        .cloned();
    if let Some(known) = known {
        return known;
    }
    let made = compiled_once(pattern);
    cache
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(pattern.to_string())
        .or_insert(made)
        .clone()
}

/// The group name that stands for the `i`-th placeholder in a pattern's [`placeholder_shape`].
fn placeholder_group(i: usize) -> String {
    format!("emconform_placeholder_{i}")
}

/// A pattern with placeholders, compiled once with a group in place of each placeholder (any
/// text at all), so that a trial need not compile its own: a value that this shape does not match
/// cannot match the pattern with the trial's values in it either, and one it matches with exactly
/// the trial's values in the groups matches that pattern too. `None` when that does not hold or
/// cannot be told: a placeholder that does not become a group (inside a character class, after a
/// backslash ...), or one inside a repetition (a group keeps only its last round), or a shape that
/// does not compile. Worked out once per pattern.
fn placeholder_shape(template: &Template) -> Option<Arc<regex::Regex>> {
    type Cache = Mutex<HashMap<String, Option<Arc<regex::Regex>>>>;
    static SHAPES: OnceLock<Cache> = OnceLock::new();
    let shape = template.fill_each(|i, _| format!("(?P<{}>(?s:.*?))", placeholder_group(i)));
    let cache = SHAPES.get_or_init(Mutex::default);
    if let Some(known) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&shape) {
        return known.clone();
    }
    let usable = |re: &regex::Regex| {
        let names: Vec<&str> = re.capture_names().flatten().collect();
        let groups = template.vars().count();
        (0..groups).all(|i| names.contains(&placeholder_group(i).as_str()))
            && regex_syntax::parse(&shape).is_ok_and(|hir| !placeholder_repeats(&hir, false))
    };
    let made = compiled(&shape).ok().filter(|re| usable(re));
    cache
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(shape)
        .or_insert(made)
        .clone()
}

/// Whether a placeholder's group in `hir` may match more than once (`repeated`: inside a
/// repetition already).
fn placeholder_repeats(hir: &regex_syntax::hir::Hir, repeated: bool) -> bool {
    use regex_syntax::hir::HirKind;
    match hir.kind() {
        HirKind::Capture(group) => {
            let placeholder = group
                .name
                .as_deref()
                .is_some_and(|n| n.starts_with("emconform_placeholder_"));
            (repeated && placeholder) || placeholder_repeats(&group.sub, repeated)
        }
        HirKind::Repetition(r) => placeholder_repeats(&r.sub, repeated || r.max != Some(1)),
        HirKind::Concat(all) | HirKind::Alternation(all) => {
            all.iter().any(|h| placeholder_repeats(h, repeated))
        }
        _ => false,
    }
}

/// Whether one of `values` matches the `matches` pattern `template` with the trial's values in
/// its placeholders (each matched literally). `Ok(Err(pattern))` gives the rendered pattern when
/// none does; `Err` says why the pattern is unusable.
fn pattern_test(
    template: &Template,
    vars: &dyn Vars,
    values: &[String],
) -> Result<Result<(), String>, String> {
    let pattern = template
        .render_with(vars, regex::escape)
        .map_err(|e| e.to_string())?;
    let literals: Vec<String> = template.vars().filter_map(|name| vars.get(name)).collect();
    // Values the shape cannot stand in for go the long way: whitespace, which an escaped value
    // does not match as itself under the `x` flag, and an empty value, which leaves a quantifier
    // after the placeholder to what comes before it (or makes the pattern invalid).
    let shape = placeholder_shape(template).filter(|_| {
        !literals
            .iter()
            .any(|v| v.is_empty() || v.contains(char::is_whitespace))
    });
    // Compiled up front when there is no shape, so that an unusable pattern says so even when
    // there is no value to test.
    let mut exact = match shape {
        Some(_) => None,
        None => Some(compiled_once(&pattern)?),
    };
    for value in values {
        if let Some(shape) = shape.as_ref().filter(|_| literals.is_empty()) {
            if shape.is_match(value) {
                return Ok(Ok(()));
            }
            continue;
        }
        if let Some(shape) = &shape {
            let Some(found) = shape.captures(value) else {
                continue;
            };
            let same = literals.iter().enumerate().all(|(i, literal)| {
                found
                    .name(&placeholder_group(i))
                    .is_some_and(|m| m.as_str() == literal)
            });
            if same {
                return Ok(Ok(()));
            }
        }
        let re = match &exact {
            Some(re) => re.clone(),
            None => exact.insert(compiled_once(&pattern)?).clone(),
        };
        if re.is_match(value) {
            return Ok(Ok(()));
        }
    }
    Ok(Err(pattern))
}

/// A pattern compiled and not kept (one only used in one trial, or the first use of one that
/// [`compiled`] keeps).
fn compiled_once(pattern: &str) -> Result<Arc<regex::Regex>, String> {
    regex::Regex::new(pattern)
        .map(Arc::new)
        .map_err(|e| format!("invalid pattern {pattern:?}: {e}"))
}

/// The outcome of checking values against a predicate: `Ok` or what to say instead.
fn test_predicate(
    predicate: &Predicate,
    values: &[String],
    vars: &dyn Vars,
) -> Result<Result<(), (String, String)>, String> {
    let render = |t: &Template| t.render(vars).map_err(|e| e.to_string());
    let outcome = match predicate {
        Predicate::Present(true) => {
            if values.is_empty() {
                Err(("present".into(), "nothing".into()))
            } else {
                Ok(())
            }
        }
        Predicate::Present(false) => {
            if values.is_empty() {
                Ok(())
            } else {
                Err(("absent".into(), quote_values(values)))
            }
        }
        Predicate::Equals(t) => {
            let want = render(t)?;
            if values.contains(&want) {
                Ok(())
            } else {
                Err((format!("{want:?}"), quote_values(values)))
            }
        }
        Predicate::OneOf(ts) => {
            let wants: Vec<String> = ts.iter().map(render).collect::<Result<_, _>>()?;
            if values.iter().any(|v| wants.contains(v)) {
                Ok(())
            } else {
                Err((
                    format!("one of {}", quote_values(&wants)),
                    quote_values(values),
                ))
            }
        }
        Predicate::Contains(t) => {
            let want = render(t)?;
            if values.iter().any(|v| v.contains(&want)) {
                Ok(())
            } else {
                Err((format!("a value containing {want:?}"), quote_values(values)))
            }
        }
        Predicate::Matches(t) => match pattern_test(t, vars, values)? {
            Ok(()) => Ok(()),
            Err(pattern) => Err((
                format!("a value matching /{pattern}/"),
                quote_values(values),
            )),
        },
        Predicate::MediaType(t) => {
            let want = render(t)?;
            fn media(v: &str) -> &str {
                v.split(';').next().unwrap_or("").trim()
            }
            if values.iter().any(|v| media(v).eq_ignore_ascii_case(&want)) {
                Ok(())
            } else {
                Err((
                    format!("media type {want:?} (parameters such as charset allowed)"),
                    quote_values(values),
                ))
            }
        }
    };
    Ok(outcome)
}

/// Checks header assertions.
pub fn check_headers(
    case: &Case,
    asserts: &[toml::Spanned<HeaderAssert>],
    response: &Response,
    vars: &dyn Vars,
) -> Vec<Mismatch> {
    let mut out = Vec::new();
    for a in asserts {
        let h = a.get_ref();
        let values: Vec<String> = response
            .header_all(&h.name)
            .into_iter()
            .map(str::to_string)
            .collect();
        // Where and what, said only when the check fails.
        let location = || Some(case.location(&a.span()));
        let subject = || format!("header {}", h.name);
        match test_predicate(&h.predicate, &values, vars) {
            Ok(Ok(())) => {}
            Ok(Err((expected, actual))) => out.push(Mismatch {
                subject: subject(),
                expected,
                actual,
                location: location(),
                note: h.note.clone(),
            }),
            Err(problem) => out.push(Mismatch {
                subject: subject(),
                expected: "a usable assertion".into(),
                actual: problem,
                location: location(),
                note: None,
            }),
        }
    }
    out
}

/// Evaluates one body assertion; `Ok(())` when it holds or its `when` does not.
pub fn eval_body_assert(
    doc: &Document,
    a: &BodyAssert,
    vars: &dyn Vars,
) -> Result<(), (String, String, String)> {
    if let Some(cond) = &a.when
        && eval_body_assert(doc, cond, vars).is_err()
    {
        return Ok(());
    }
    match &a.selector {
        Selector::Root { name, namespace } => match (doc.root(), doc) {
            (
                Root::Element {
                    name: got,
                    namespace: ns,
                },
                _,
            ) => {
                if got == *name && ns.as_deref() == Some(namespace.as_str()) {
                    Ok(())
                } else {
                    let shown_ns =
                        ns.map_or("no namespace".to_string(), |n| format!("namespace {n}"));
                    Err((
                        "root element".into(),
                        format!("`{name}` in namespace {namespace}"),
                        format!("`{got}` in {shown_ns}"),
                    ))
                }
            }
            (Root::JsonObject, _) => Ok(()),
            (Root::JsonOther(kind), _) => Err((
                "body".into(),
                format!("a JSON object (the `{name}` resource without its root name, spec §6.2)"),
                kind.to_string(),
            )),
        },
        Selector::Path(path) => {
            // Only a failure needs the subject's text.
            let subject = || format!("body {path}");
            let resolved = path
                .resolve(vars)
                .map_err(|e| (subject(), "a usable path".into(), e.to_string()))?;
            let lookup = doc.select(&resolved, EM_NAMESPACE);
            match test_predicate(&a.predicate, &lookup.values, vars) {
                Ok(Ok(())) => Ok(()),
                Ok(Err((expected, mut actual))) => {
                    if let (true, Some(hint)) = (lookup.values.is_empty(), &lookup.hint) {
                        actual = format!("nothing ({hint})");
                    }
                    Err((subject(), expected, actual))
                }
                Err(problem) => Err((subject(), "a usable assertion".into(), problem)),
            }
        }
    }
}

/// Checks body assertions against a body read as `format`.
pub fn check_body(
    case: &Case,
    asserts: &[toml::Spanned<BodyAssert>],
    response: &Response,
    format: Format,
    vars: &dyn Vars,
) -> Vec<Mismatch> {
    check_lazy_body(
        case,
        asserts,
        response,
        &LazyDocument::new(&response.body, format),
        vars,
    )
}

/// [`check_body`] on a body that may have been parsed already (for the step's captures).
pub fn check_lazy_body(
    case: &Case,
    asserts: &[toml::Spanned<BodyAssert>],
    response: &Response,
    body: &LazyDocument,
    vars: &dyn Vars,
) -> Vec<Mismatch> {
    if asserts.is_empty() {
        return Vec::new();
    }
    let format = body.format();
    let whole = |expected: String, actual: String| {
        vec![Mismatch {
            subject: "body".into(),
            expected,
            actual,
            location: asserts.first().map(|a| case.location(&a.span())),
            note: None,
        }]
    };
    let Some(text) = body.text() else {
        return whole(
            format!("{format} text in UTF-8"),
            "bytes that are not valid UTF-8".into(),
        );
    };
    if text.trim().is_empty() {
        return whole(format!("a {format} body"), "an empty body".into());
    }
    let doc = match body.get() {
        Some(Ok(doc)) => doc,
        Some(Err(e)) => {
            let ct = response.header("content-type").unwrap_or("none");
            return whole(
                format!("a {format} body"),
                format!("{} (Content-Type: {ct})", e.message),
            );
        }
        None => {
            return whole(
                format!("{format} text in UTF-8"),
                "bytes that are not valid UTF-8".into(),
            );
        }
    };
    let mut out = Vec::new();
    for a in asserts {
        if let Err((subject, expected, actual)) = eval_body_assert(doc, a.get_ref(), vars) {
            out.push(Mismatch {
                subject,
                expected,
                actual,
                location: Some(case.location(&a.span())),
                note: a.get_ref().note.clone(),
            });
        }
    }
    out
}

/// Whether an `await` can stop re-sending: every condition holds, or one that expects a value
/// finds nothing at all (a `State` in another namespace, a camelCase `state`): waiting will not make
/// it appear, and the step's own checks then say what is wrong. `Err` when the body cannot be
/// read at all (which waiting will not mend either).
pub fn await_settled(
    asserts: &[toml::Spanned<BodyAssert>],
    response: &Response,
    format: Format,
    vars: &dyn Vars,
) -> Result<bool, String> {
    await_settled_on(asserts, &LazyDocument::new(&response.body, format), vars)
}

/// [`await_settled`] on a body that the step then goes on reading (parsed once).
pub fn await_settled_on(
    asserts: &[toml::Spanned<BodyAssert>],
    body: &LazyDocument,
    vars: &dyn Vars,
) -> Result<bool, String> {
    let doc = match body.get() {
        None => return Err("the body is not valid UTF-8".to_string()),
        Some(Err(e)) => return Err(e.to_string()),
        Some(Ok(doc)) => doc,
    };
    let holds = |a: &BodyAssert| eval_body_assert(doc, a, vars).is_ok();
    let missing = |a: &BodyAssert| match (&a.selector, &a.predicate) {
        (_, Predicate::Present(_)) | (Selector::Root { .. }, _) => false,
        (Selector::Path(path), _) => path
            .resolve(vars)
            .is_ok_and(|p| doc.select(&p, EM_NAMESPACE).values.is_empty()),
    };
    Ok(asserts.iter().all(|a| holds(a.get_ref())) || asserts.iter().any(|a| missing(a.get_ref())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::load_case;
    use std::collections::BTreeMap;
    use std::path::Path;

    fn case_with_body(body: &str) -> Case {
        let text = format!(
            "title = \"t\"\nspec = \"2.2\"\nlevel = \"must\"\n[[steps]]\nname = \"s\"\nmethod = \"GET\"\npath = \"/\"\n[steps.expect]\nstatus = 200\nbody = [\n{body}\n]\n"
        );
        load_case("t".into(), Path::new("cases/t.toml"), &text).expect("valid case")
    }

    fn response(body: &str, content_type: &str) -> Response {
        Response {
            status: 200,
            headers: vec![("content-type".into(), content_type.into())],
            body: bytes::Bytes::from(body.to_string()),
            elapsed: std::time::Duration::ZERO,
        }
    }

    fn mismatches(asserts: &str, body: &str, format: Format) -> Vec<Mismatch> {
        let case = case_with_body(asserts);
        let expect = &case.def.steps[0].expect.0[0];
        check_body(
            &case,
            &expect.body,
            &response(body, format.mime()),
            format,
            &BTreeMap::new(),
        )
    }

    #[test]
    fn root_without_namespace_shows_both_values() {
        let m = mismatches(
            "{ root = \"Task\" }",
            "<Task><State>Running</State></Task>",
            Format::Xml,
        );
        assert_eq!(m.len(), 1);
        let shown = m[0].to_string();
        assert!(shown.contains("expected `Task` in namespace http://www.veeam.com/ent/v1.0, got `Task` in no namespace"), "{shown}");
        assert!(shown.contains("cases/t.toml:11:1"), "{shown}");
    }

    #[test]
    fn when_skips_conditional_assertions() {
        let asserts = "{ path = \"Result\", absent = true, when = { path = \"State\", equals = \"Running\" } }";
        let ns = "xmlns=\"http://www.veeam.com/ent/v1.0\"";
        assert!(
            mismatches(
                asserts,
                &format!("<Task {ns}><State>Finished</State><Result/></Task>"),
                Format::Xml
            )
            .is_empty()
        );
        assert_eq!(
            mismatches(
                asserts,
                &format!("<Task {ns}><State>Running</State><Result/></Task>"),
                Format::Xml
            )
            .len(),
            1
        );
    }

    #[test]
    fn every_predicate_can_fail() {
        let body = r#"{"State":"Running","Op":"RetryJob"}"#;
        for (a, ok) in [
            ("{ path = \"State\", equals = \"Running\" }", true),
            ("{ path = \"State\", equals = \"Finished\" }", false),
            (
                "{ path = \"State\", one_of = [\"Finished\", \"Running\"] }",
                true,
            ),
            ("{ path = \"State\", one_of = [\"Finished\"] }", false),
            ("{ path = \"State\", matches = \"^Run\" }", true),
            ("{ path = \"State\", matches = \"^Fin\" }", false),
            ("{ path = \"Op\", contains = \"Retry\" }", true),
            ("{ path = \"Op\", contains = \"Start\" }", false),
            ("{ path = \"State\", present = true }", true),
            ("{ path = \"Result\", present = true }", false),
            ("{ path = \"Result\", absent = true }", true),
            ("{ path = \"State\", absent = true }", false),
        ] {
            assert_eq!(mismatches(a, body, Format::Json).is_empty(), ok, "{a}");
        }
    }

    #[test]
    fn awaiting_stops_when_done_or_when_waiting_cannot_help() {
        let case = case_with_body("{ path = \"State\", equals = \"Finished\" }");
        let until = &case.def.steps[0].expect.0[0].body;
        let settled = |body: &str| {
            await_settled(
                until,
                &response(body, "application/json"),
                Format::Json,
                &BTreeMap::new(),
            )
        };
        assert_eq!(settled(r#"{"State":"Finished"}"#), Ok(true));
        assert_eq!(settled(r#"{"State":"Running"}"#), Ok(false));
        assert_eq!(settled(r#"{"state":"Running"}"#), Ok(true), "camelCase");
        assert!(settled("{").is_err());
        // `absent` conditions are met by finding nothing; that is what they wait for.
        let case = case_with_body("{ path = \"Result\", absent = true }");
        let until = &case.def.steps[0].expect.0[0].body;
        let r = response(r#"{"Result":{}}"#, "application/json");
        assert_eq!(
            await_settled(until, &r, Format::Json, &BTreeMap::new()),
            Ok(false)
        );
    }

    #[test]
    fn redirects_and_unavailable_servers_are_explained() {
        let mut r = response("", "text/html");
        r.status = 302;
        r.headers
            .push(("location".into(), "http://elsewhere:9398/api/".into()));
        let note = status_note(&r).unwrap();
        assert!(
            note.contains("redirects to http://elsewhere:9398/api/"),
            "{note}"
        );
        assert!(note.contains("never follows redirects"), "{note}");
        r.status = 503;
        r.headers.push(("retry-after".into(), "120".into()));
        let note = status_note(&r).unwrap();
        assert!(
            note.contains("(Retry-After: 120)") && note.contains("does not retry"),
            "{note}"
        );
        r.status = 404;
        assert_eq!(status_note(&r), None);
    }

    #[test]
    fn unreadable_bodies_fail_once_with_the_content_type() {
        let m = mismatches("{ root = \"Task\" }", "<html>oops", Format::Xml);
        assert_eq!(m.len(), 1);
        assert!(
            m[0].actual.contains("Content-Type: application/xml"),
            "{}",
            m[0]
        );
        let m = mismatches("{ root = \"Task\" }", "", Format::Xml);
        assert_eq!(m[0].actual, "an empty body");
    }

    /// `pattern_test` with `x` as the placeholder's value, against each of `values` alone.
    fn matching(pattern: &str, x: &str, values: &[&str]) -> Vec<bool> {
        let template = Template::parse(pattern).expect("valid template");
        let vars = BTreeMap::from([("x".to_string(), x.to_string())]);
        values
            .iter()
            .map(|v| {
                pattern_test(&template, &vars, &[v.to_string()])
                    .expect("usable pattern")
                    .is_ok()
            })
            .collect()
    }

    #[test]
    fn placeholders_in_patterns_match_their_values_literally() {
        let tail = "^https?://[^/]+/(.+/)?tasks/{{x}}$";
        assert_eq!(
            matching(
                tail,
                "task-1.2",
                &[
                    "http://h/api/tasks/task-1.2",
                    "http://h/api/tasks/task-1x2",
                    "http://h/api/tasks/task-1.23",
                    "http://h/api/tasks/",
                ]
            ),
            [true, false, false, false]
        );
        // A value the one-off shape captures differently still matches the pattern as written.
        assert_eq!(
            matching("^(?:{{x}})?b$", "ab", &["b", "abb", "ab"]),
            [true, true, false]
        );
        // In a character class a placeholder is no group: the pattern is compiled as written.
        assert_eq!(
            matching("^[{{x}}]$", "ab", &["a", "b", "c"]),
            [true, true, false]
        );
        // With `x`, whitespace in a pattern is ignored, the escaped value's too.
        assert_eq!(
            matching("(?x)^{{x}}$", "a b", &["ab", "a b"]),
            [true, false]
        );
        assert_eq!(
            matching("^{{x}}-{{x}}$", "a", &["a-a", "a-b"]),
            [true, false]
        );
        // In a repetition, a group keeps only its last round: every round must be the value.
        let repeated = matching("^(?:id={{x}};)+$", "7", &["id=1;id=7;", "id=7;id=7;"]);
        assert_eq!(repeated, [false, true]);
        assert_eq!(
            matching("^(?:{{x}},)*{{x}}$", "7", &["1,7,7", "7,7"]),
            [false, true]
        );
        // An empty value leaves a quantifier after it to what comes before.
        assert_eq!(matching("^abc{{x}}?$", "", &["ab", "abc"]), [true, true]);
        assert_eq!(matching("^ab{{x}}{2}$", "", &["ab", "abb"]), [false, true]);
        assert_eq!(
            matching("^no placeholder$", "", &["no placeholder", "no"]),
            [true, false]
        );
    }

    #[test]
    fn unusable_patterns_say_so_without_values() {
        let vars = BTreeMap::from([("x".to_string(), "1".to_string())]);
        for pattern in ["(unclosed {{x}}", "(unclosed"] {
            let template = Template::parse(pattern).expect("valid template");
            let problem = pattern_test(&template, &vars, &[]).expect_err("unusable");
            assert!(problem.contains("invalid pattern"), "{problem}");
        }
        // Invalid only with the value in it.
        let empty = BTreeMap::from([("x".to_string(), String::new())]);
        let template = Template::parse("^({{x}}*)$").expect("valid template");
        let problem = pattern_test(&template, &empty, &[String::new()]).expect_err("unusable");
        assert!(problem.contains("invalid pattern"), "{problem}");
        let template = Template::parse("^{{missing}}$").expect("valid template");
        assert!(pattern_test(&template, &vars, &["1".into()]).is_err());
    }
}
