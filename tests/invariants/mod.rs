//! The invariants that the property tests (`tests/integration/properties.rs`) and the cargo-fuzz targets
//! (`fuzz/fuzz_targets/`) check, written once. Each takes raw bytes, as a fuzzer hands them, and
//! panics when an invariant breaks:
//!
//! - [`case_file`], [`expectation_file`]: a hand-edited file either loads or fails with its
//!   file, line and column — never a panic; a case that loads can be planned and its assertions
//!   evaluated against any answer;
//! - [`xml_body`], [`json_body`]: normalising any body never panics; a canonical form is a fixed
//!   point (normalising it again changes nothing), and it does not depend on attribute or key
//!   order, namespace prefixes, declarations or whitespace (the body is written again those other
//!   ways by [`rewrite_xml`] and [`rewrite_json`] and must normalise to the same text);
//! - [`assertions`]: body and header assertions, written any way a case file can, evaluate
//!   against any body in either format without panicking.

#![allow(dead_code)] // each fuzz target uses one of these

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use emconform::body::doc::strip_bom;
use emconform::body::{BodyPath, Document, EM_NAMESPACE, Format};
use emconform::case::{Case, load_case};
use emconform::check::{await_settled, check_body, check_headers};
use emconform::expect::Expectations;
use emconform::http::{OutgoingRequest, Response};
use emconform::normalize::{Normalizer, canonical_body, canonical_json, canonical_xml};
use emconform::secret::Redactor;

/// Where the fuzzed case file pretends to be (errors must name it).
const CASE_FILE: &str = "cases/fuzz/case.toml";

/// A case that loads, with every kind of assertion, for the mutating strategies to start from.
pub const SEED_CASE: &str = r#"title = "Retrying a failed job answers 202 with a Task"
spec = "2.2"
covers = ["7"]
level = "must"
tags = ["side-effects"]
jobs = ["failed"]

[[steps]]
name = "retry"
method = "POST"
path = "/jobs/{{job.failed}}"
query = { action = "retry" }
snapshot = "retry"

[steps.expect]
status = 202
headers = [
  { name = "Content-Type", media_type = "{{mime}}" },
  { name = "Content-Length", equals = "{{response.body_length}}" },
]
body = [
  { root = "Task" },
  { path = "@Type", equals = "Task" },
  { path = "@Href", matches = '/tasks/{{task_id}}$' },
  { path = "State", one_of = ["Running", "Finished"] },
  { link = "Delete", equals = "{{task_href}}" },
  { path = "Result", absent = true, when = { path = "State", equals = "Running" } },
  { path = "Links/Link[@Rel=\"Delete\"]/@Href", contains = "/tasks/" },
]
capture = { task_href = { path = "@Href" }, task_id = { path = "TaskId" } }

[[steps]]
name = "task finishes"
method = "GET"
path = "{{task_href}}"
await = { until = [{ path = "State", equals = "Finished" }] }

[steps.expect]
status = 200
body = [{ path = "Result/@Success", equals = "true" }]
"#;

/// A Task in XML, as EM answers it (spec §2.2).
pub const SEED_XML: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<Task xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" Type="Task" Href="http://127.0.0.1:9398/api/tasks/task-7" xmlns="http://www.veeam.com/ent/v1.0">
  <Links>
    <Link Href="http://127.0.0.1:9398/api/tasks/task-7" Rel="Delete" />
  </Links>
  <TaskId>task-7</TaskId>
  <State>Finished</State>
  <Operation>RetryJob</Operation>
  <Result Success="true" xsi:nil="false">
    <Message>Job "A &amp; B" triggered to retry.</Message>
  </Result>
</Task>"#;

/// The same Task in JSON.
pub const SEED_JSON: &str = "\u{feff}{\"Links\":[{\"Rel\":\"Delete\",\"Href\":\"http://127.0.0.1:9398/api/tasks/task-7\",\"Type\":null}],\"TaskId\":\"task-7\",\"State\":\"Finished\",\"Operation\":\"RetryJob\",\"Result\":{\"Message\":\"ok\",\"Success\":true},\"Href\":\"http://127.0.0.1:9398/api/tasks/task-7\",\"Type\":\"Task\"}";

/// Paths evaluated against every parsed body.
const PATHS: [&str; 6] = [
    "State",
    "@Href",
    "Result/@Success",
    r#"Links/Link[@Rel="Delete"]/@Href"#,
    r#"Task[TaskId="task-7"]/State"#,
    "Entities/BackupJobSessions/BackupJobSession/IsRetry",
];

fn response(status: u16, content_type: &str, body: &[u8]) -> Response {
    Response {
        status,
        headers: vec![
            ("content-type".into(), content_type.into()),
            ("content-length".into(), body.len().to_string()),
            ("x-restsvcsessionid".into(), "c2Vzc2lvbg==".into()),
        ],
        body: bytes::Bytes::copy_from_slice(body),
        elapsed: std::time::Duration::ZERO,
    }
}

/// Values for the placeholders the seed case uses.
fn vars() -> BTreeMap<String, String> {
    [
        ("base", "http://127.0.0.1:9398/api"),
        ("format", "xml"),
        ("mime", "application/xml"),
        ("api_version", "latest"),
        ("user", "EMCONFORM\\admin"),
        ("task_id", "task-7"),
        ("task_href", "http://127.0.0.1:9398/api/tasks/task-7"),
        ("job.failed", "0badc0de-0000-4000-8000-000000000404"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// Evaluates every assertion of every step of `case` against `body` read as each format.
fn evaluate(case: &Case, body: &[u8]) {
    let vars = vars();
    for format in Format::ALL {
        let answer = response(200, format.mime(), body);
        for step in &case.def.steps {
            for expect in &step.expect.0 {
                let _ = check_headers(case, &expect.headers, &answer, &vars);
                let _ = check_body(case, &expect.body, &answer, format, &vars);
            }
            if let Some(until) = &step.await_ {
                let _ = await_settled(&until.until, &answer, format, &vars);
            }
        }
    }
}

/// A case file loads, or fails naming the file, a line and column inside it, and what is wrong.
pub fn case_file(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    match load_case("fuzz::case".into(), Path::new(CASE_FILE), &text) {
        Ok(case) => {
            let specs = emconform::runner::plan(std::slice::from_ref(&case));
            assert!((1..=2).contains(&specs.len()), "one trial per format");
            evaluate(&case, SEED_XML.as_bytes());
            evaluate(&case, SEED_JSON.as_bytes());
        }
        Err(e) => {
            let shown = e.to_string();
            assert!(
                shown.starts_with(&format!("{CASE_FILE}:{}:{}: ", e.line, e.column)),
                "{shown}"
            );
            let lines = text.split('\n').count();
            assert!(e.line >= 1 && e.line <= lines, "line {} of {lines}", e.line);
            assert!(e.column >= 1);
            assert!(!e.message.trim().is_empty(), "an error that says nothing");
        }
    }
}

/// An expectation file loads, or every error names the file and a position in it.
pub fn expectation_file(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let file = Path::new("emconform-expect.toml");
    match Expectations::parse(file, &text) {
        Ok(expectations) => {
            // What loads can be written back and loads again to the same entries.
            let written = expectations.to_toml().expect("entries serialise");
            let again = Expectations::parse(file, &written).expect("written files load");
            let trials = |e: &Expectations| {
                e.entries
                    .iter()
                    .map(|x| (x.trial.clone(), x.reason.clone(), x.expires))
                    .collect::<Vec<_>>()
            };
            let mut before = trials(&expectations);
            before.sort();
            assert_eq!(trials(&again), before);
        }
        Err(errors) => {
            assert!(!errors.is_empty());
            for e in errors {
                assert!(e.to_string().starts_with("emconform-expect.toml"), "{e}");
                assert!(!e.message.trim().is_empty());
            }
        }
    }
}

/// Normalising any body as XML never panics; a canonical form is a fixed point and does not
/// depend on how the document was written.
pub fn xml_body(data: &[u8]) {
    body_never_panics(data, Format::Xml);
    let text = String::from_utf8_lossy(data);
    let Ok(canonical) = canonical_xml(&text) else {
        return;
    };
    assert_eq!(
        canonical_xml(&canonical).as_ref(),
        Ok(&canonical),
        "normalising the canonical form changed it:\n{canonical}"
    );
    let doc = roxmltree::Document::parse(strip_bom(&text)).expect("canonical_xml parsed it");
    for style in 0..XML_STYLES {
        let rewritten = rewrite_xml(&doc, style);
        assert_eq!(
            canonical_xml(&rewritten).as_ref(),
            Ok(&canonical),
            "written in style {style} the document normalises differently:\n{rewritten}"
        );
    }
}

/// Normalising any body as JSON never panics; a canonical form is a fixed point and does not
/// depend on key order, whitespace or a byte-order mark.
pub fn json_body(data: &[u8]) {
    body_never_panics(data, Format::Json);
    let text = String::from_utf8_lossy(data);
    let Ok(canonical) = canonical_json(&text) else {
        return;
    };
    assert_eq!(canonical_json(&canonical).as_ref(), Ok(&canonical));
    let value: serde_json::Value =
        serde_json::from_str(strip_bom(&text)).expect("canonical_json parsed it");
    for style in 0..JSON_STYLES {
        let rewritten = rewrite_json(&value, style);
        assert_eq!(
            canonical_json(&rewritten).as_ref(),
            Ok(&canonical),
            "written in style {style}:\n{rewritten}"
        );
    }
}

/// Everything that reads a body: the normaliser, the document and its lookups.
fn body_never_panics(data: &[u8], format: Format) {
    let text = String::from_utf8_lossy(data);
    let _ = canonical_body(&text, format);
    let redactor = Redactor::new();
    redactor.add("c2Vzc2lvbg==");
    let mut normalizer = Normalizer::new(
        redactor,
        "http://127.0.0.1:9398",
        vec![("task-7".into(), "<job:failed>".into())],
    );
    let request = OutgoingRequest {
        method: "GET".into(),
        url: "http://127.0.0.1:9398/api/tasks/task-7"
            .parse()
            .expect("a URL"),
        headers: Vec::new(),
        body: None,
    };
    let _ = normalizer.exchange(&request, &response(200, format.mime(), data), format);
    if let Ok(doc) = Document::parse(&text, format) {
        let _ = doc.root();
        for path in PATHS {
            let path = BodyPath::parse(path)
                .and_then(|p| {
                    p.resolve(&vars())
                        .map(std::borrow::Cow::into_owned)
                        .map_err(|e| e.to_string())
                })
                .expect("the sample paths are valid");
            let _ = doc.select(&path, EM_NAMESPACE);
        }
    }
}

/// Body assertions written any way a case can (the text up to the first NUL byte, as the
/// elements of a `body = [...]` list) evaluate against any body (the bytes after it) in both
/// formats, and any path either parses or is refused with a message.
pub fn assertions(data: &[u8]) {
    let split = data.iter().position(|b| *b == 0).unwrap_or(data.len());
    let (asserts, body) = (&data[..split], data.get(split + 1..).unwrap_or_default());
    let asserts = String::from_utf8_lossy(asserts);
    if let Err(message) = BodyPath::parse(&asserts) {
        assert!(message.starts_with("invalid path"), "{message}");
    }
    // The same text as body checks, as the conditions of an await, and as header checks.
    for lists in [
        format!("[steps.expect]\nstatus = 200\nbody = [{asserts}]\n"),
        format!("await = {{ until = [{asserts}] }}\n[steps.expect]\nstatus = 200\n"),
        format!("[steps.expect]\nstatus = 200\nheaders = [{asserts}]\n"),
    ] {
        let case = format!(
            "title = \"t\"\nspec = \"2.2\"\nlevel = \"must\"\n[[steps]]\nname = \"s\"\n\
             method = \"GET\"\npath = \"/\"\n{lists}"
        );
        match load_case("fuzz::a".into(), Path::new(CASE_FILE), &case) {
            Ok(case) => evaluate(&case, body),
            Err(e) => assert!(e.line >= 1 && !e.message.trim().is_empty(), "{e}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Writing a document again, another way that means the same

/// How many ways [`rewrite_xml`] knows.
pub const XML_STYLES: usize = 3;

const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

/// Every namespace URI used by an element or attribute, in document order.
fn namespaces(doc: &roxmltree::Document) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    for node in doc.descendants().filter(|n| n.is_element()) {
        let used = node
            .tag_name()
            .namespace()
            .into_iter()
            .chain(node.attributes().filter_map(|a| a.namespace()));
        for ns in used {
            if ns != XML_NS && !seen.iter().any(|s| s == ns) {
                seen.push(ns.to_string());
            }
        }
    }
    seen
}

fn escape_attribute(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
    out
}

fn escape_text(value: &str) -> String {
    value
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Writes `doc` again, meaning the same but written another way:
/// - style 0: every namespace under a prefix of its own (`p0:`), declared once on the root, no
///   default namespace; attributes in reverse order; no whitespace between elements; an XML
///   declaration;
/// - style 1: default namespaces (`xmlns="…"`, and `xmlns=""` to leave one) declared where they
///   change, other prefixes on each element that uses them plus one unused declaration;
///   attributes rotated; elements indented, text runs of whitespace widened, a byte-order mark;
/// - style 2: prefixes named the other way round (`q9:` …) and declared on every element;
///   comments between elements, whitespace inside tags.
pub fn rewrite_xml(doc: &roxmltree::Document, style: usize) -> String {
    let uris = namespaces(doc);
    let prefix = |uri: &str| -> String {
        if uri == XML_NS {
            return "xml".to_string();
        }
        let i = uris.iter().position(|u| u == uri).unwrap_or(0);
        match style {
            2 => format!("q{}", uris.len() - i),
            _ => format!("p{i}"),
        }
    };
    let mut out = String::new();
    match style {
        0 => out.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>"),
        1 => out.push('\u{feff}'),
        _ => {}
    }
    write_node(&mut out, doc.root_element(), None, 0, style, &uris, &prefix);
    out
}

#[allow(clippy::too_many_arguments)]
fn write_node(
    out: &mut String,
    node: roxmltree::Node,
    default_ns: Option<&str>,
    depth: usize,
    style: usize,
    uris: &[String],
    prefix: &dyn Fn(&str) -> String,
) {
    let ns = node.tag_name().namespace();
    let local = node.tag_name().name();
    // Style 1 writes elements with default namespaces; the others with prefixes.
    let (name, new_default) = match (style, ns) {
        (1, _) => (local.to_string(), ns),
        (_, Some(uri)) => (format!("{}:{local}", prefix(uri)), default_ns),
        (_, None) => (local.to_string(), default_ns),
    };
    let _ = write!(out, "<{name}");
    if style == 2 {
        out.push_str("  ");
    }
    if style == 1 && new_default != default_ns {
        let _ = write!(
            out,
            " xmlns=\"{}\"",
            escape_attribute(new_default.unwrap_or(""))
        );
    }
    let declare = |out: &mut String, uri: &str| {
        if uri != XML_NS {
            let _ = write!(out, " xmlns:{}=\"{}\"", prefix(uri), escape_attribute(uri));
        }
    };
    match style {
        0 if depth == 0 => uris.iter().for_each(|u| declare(out, u)),
        1 => {
            let mut used: Vec<&str> = node.attributes().filter_map(|a| a.namespace()).collect();
            used.sort_unstable();
            used.dedup();
            used.into_iter().for_each(|u| declare(out, u));
            out.push_str(" xmlns:unused=\"urn:emconform:unused\"");
        }
        2 => uris.iter().for_each(|u| declare(out, u)),
        _ => {}
    }
    let mut attributes: Vec<roxmltree::Attribute> = node.attributes().collect();
    match style {
        0 => attributes.reverse(),
        1 if !attributes.is_empty() => {
            let shift = depth % attributes.len();
            attributes.rotate_left(shift)
        }
        _ => {}
    }
    for a in attributes {
        let name = match a.namespace() {
            Some(uri) => format!("{}:{}", prefix(uri), a.name()),
            None => a.name().to_string(),
        };
        let _ = write!(out, " {name}=\"{}\"", escape_attribute(a.value()));
    }
    if style == 2 {
        out.push_str("\n ");
    }
    out.push('>');
    let indent = |out: &mut String, depth: usize| {
        if style == 1 {
            out.push('\n');
            out.push_str(&"\t".repeat(depth));
        }
    };
    for child in node.children() {
        if child.is_element() {
            indent(out, depth + 1);
            if style == 2 {
                out.push_str("<!-- a comment -->");
            }
            write_node(out, child, new_default, depth + 1, style, uris, prefix);
        } else if let Some(text) = child.text().filter(|_| child.is_text()) {
            let text = escape_text(text);
            if style == 1 {
                out.push_str(&text.replace(' ', " \n  "));
            } else {
                out.push_str(&text);
            }
        }
    }
    indent(out, depth);
    let _ = write!(out, "</{name}{}>", if style == 2 { "  " } else { "" });
}

/// How many ways [`rewrite_json`] knows.
pub const JSON_STYLES: usize = 3;

/// Writes `value` again: style 0 compact with keys reversed, 1 pretty with a byte-order mark and
/// keys rotated, 2 with spaces and newlines around every token and keys sorted descending.
pub fn rewrite_json(value: &serde_json::Value, style: usize) -> String {
    let mut out = String::new();
    if style == 1 {
        out.push('\u{feff}');
    }
    write_json(&mut out, value, style, 0);
    out
}

fn write_json(out: &mut String, value: &serde_json::Value, style: usize, depth: usize) {
    use serde_json::Value;
    let gap = match style {
        0 => "",
        1 => "\n  ",
        _ => " \r\n\t ",
    };
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            match style {
                0 => entries.reverse(),
                1 if !entries.is_empty() => {
                    let shift = (depth + 1) % entries.len();
                    entries.rotate_left(shift)
                }
                _ => entries.sort_by(|a, b| b.0.cmp(a.0)),
            }
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(gap);
                out.push_str(&serde_json::Value::String(key.clone()).to_string());
                out.push_str(gap);
                out.push(':');
                out.push_str(gap);
                write_json(out, item, style, depth + 1);
            }
            out.push_str(gap);
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(gap);
                write_json(out, item, style, depth + 1);
            }
            out.push_str(gap);
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}
