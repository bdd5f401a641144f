//! Normalised responses: the text that snapshots and recordings hold.
//!
//! Two responses that differ only in what legitimately varies between runs (which port the fixture
//! listens on, which task number or GUID the server handed out, the session token) normalise to
//! the same text. Volatile values become numbered placeholders that keep identity: the first task
//! id a trial sees becomes `<task-1>` everywhere it appears, so a snapshot still shows that the
//! `Href`, the `TaskId` and the `Delete` link agree. Bodies are canonicalised: XML by namespace URI
//! (prefixes dropped, attributes sorted, whitespace folded), JSON with keys sorted.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::ops::Range;

use crate::body::Format;
use crate::body::doc::{Document, LazyDocument, strip_bom};
use crate::body::json::{self, Json};
use crate::http::{OutgoingRequest, Response};
use crate::secret::Redactor;

/// The response headers a snapshot keeps (the rest, such as `Date` or `Server`, vary by server).
const KEPT_HEADERS: [&str; 6] = [
    "content-type",
    "location",
    "www-authenticate",
    "x-restsvcsessionid",
    "set-cookie",
    "allow",
];

/// The volatile values a normalised text replaces: fixture task ids, GUIDs and timestamps, as a
/// pattern. [`next_volatile`] finds exactly what it finds (a property test holds them to it)
/// without a regex search per value, which was a third of what normalising cost. Their shapes
/// exclude one another (a task id starts with `task-`, a GUID with eight hex digits and a dash, a
/// time with four digits and a dash), so each match is of exactly one [`volatile_kind`].
#[cfg(test)]
const VOLATILE: &str = concat!(
    r"\btask-[0-9]+\b",
    r"|\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b",
    r"|\b[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z?",
);

/// The first volatile value (see [`VOLATILE`]) in `text` that starts at or after `from`.
///
/// Every one has a dash at a fixed offset from its start: 4 in a task id or a time, 8 in a GUID.
/// So the dashes are visited in order and, for each, a GUID starting 8 bytes before it, then a
/// task id or a time starting 4 bytes before it. That is leftmost order: a GUID's first 8 bytes
/// hold no dash, so no later dash can give an earlier start.
fn next_volatile(text: &str, from: usize) -> Option<Range<usize>> {
    let bytes = text.as_bytes();
    let mut dash = from;
    while let Some(offset) = memchr::memchr(b'-', bytes.get(dash..)?) {
        let d = dash + offset;
        if d >= from + 8
            && let Some(end) = guid_at(text, d - 8)
        {
            return Some(d - 8..end);
        }
        if d >= from + 4
            && let Some(end) = task_at(text, d - 4).or_else(|| time_at(text, d - 4))
        {
            return Some(d - 4..end);
        }
        dash = d + 1;
    }
    None
}

/// Whether a word (as `\b` sees it) could start at `at`: the character before is no word character.
fn word_starts(text: &str, at: usize) -> bool {
    text.get(..at)
        .and_then(|before| before.chars().next_back())
        .is_none_or(|c| !regex_syntax::is_word_character(c))
}

/// Whether a word ends at `at`: the character after is no word character.
fn word_ends(text: &str, at: usize) -> bool {
    text.get(at..)
        .and_then(|after| after.chars().next())
        .is_none_or(|c| !regex_syntax::is_word_character(c))
}

/// How many bytes from `at` on satisfy `class`.
fn run_of(bytes: &[u8], at: usize, class: fn(&u8) -> bool) -> usize {
    bytes
        .get(at..)
        .map_or(0, |rest| rest.iter().take_while(|b| class(b)).count())
}

/// The end of `bytes[at..]` if it starts with `shape`, where `9` is a decimal digit, `x` a hex
/// digit, `T` a `T` or a space, and anything else itself.
fn shaped(bytes: &[u8], at: usize, shape: &[u8]) -> Option<usize> {
    let part = bytes.get(at..at + shape.len())?;
    let fits = part.iter().zip(shape).all(|(b, s)| match s {
        b'9' => b.is_ascii_digit(),
        b'x' => b.is_ascii_hexdigit(),
        b'T' => matches!(b, b'T' | b' '),
        s => b == s,
    });
    fits.then_some(at + shape.len())
}

/// `\btask-[0-9]+\b` at `at`: its end.
fn task_at(text: &str, at: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    if !bytes.get(at..)?.starts_with(b"task-") {
        return None;
    }
    let digits = run_of(bytes, at + 5, u8::is_ascii_digit);
    let end = at + 5 + digits;
    (digits > 0 && word_starts(text, at) && word_ends(text, end)).then_some(end)
}

/// A GUID at `at` with word boundaries on both sides: its end.
fn guid_at(text: &str, at: usize) -> Option<usize> {
    let end = shaped(text.as_bytes(), at, b"xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx")?;
    (word_starts(text, at) && word_ends(text, end)).then_some(end)
}

/// A timestamp at `at` (a word starts there), with its fraction and `Z` if any: its end.
fn time_at(text: &str, at: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut end = shaped(bytes, at, b"9999-99-99T99:99:99")?;
    if !word_starts(text, at) {
        return None;
    }
    if bytes.get(end) == Some(&b'.') {
        let digits = run_of(bytes, end + 1, u8::is_ascii_digit);
        if digits > 0 {
            end += 1 + digits;
        }
    }
    if bytes.get(end) == Some(&b'Z') {
        end += 1;
    }
    Some(end)
}

/// The placeholder kind of a volatile value.
fn volatile_kind(value: &str) -> &'static str {
    if value.starts_with("task-") {
        "task"
    } else if value.as_bytes().get(8) == Some(&b'-') {
        "guid"
    } else {
        "time"
    }
}

/// Turns the responses of one trial into stable text. One per trial: placeholders are numbered
/// in the order values are first seen.
#[derive(Debug)]
pub struct Normalizer {
    redactor: Redactor,
    /// Known values and what replaces them (the target's origin, the trial's jobs).
    known: Vec<(String, String)>,
    seen: BTreeMap<String, String>,
    counters: BTreeMap<&'static str, usize>,
}

impl Normalizer {
    /// `origin` is the target's `scheme://host:port`; `known` pairs a value with its placeholder
    /// (e.g. a job's GUID with `<job:failed>`).
    pub fn new(redactor: Redactor, origin: &str, known: Vec<(String, String)>) -> Normalizer {
        let mut all = vec![(
            origin.trim_end_matches('/').to_string(),
            "<origin>".to_string(),
        )];
        all.extend(known.into_iter().filter(|(v, _)| !v.is_empty()));
        // Longest first, so a job name containing another is replaced whole.
        all.sort_by_key(|(v, _)| std::cmp::Reverse(v.len()));
        Normalizer {
            redactor,
            known: all,
            seen: BTreeMap::new(),
            counters: BTreeMap::new(),
        }
    }

    fn placeholder(&mut self, kind: &'static str, value: &str) -> &str {
        if !self.seen.contains_key(value) {
            let n = self.counters.entry(kind).or_insert(0);
            *n += 1;
            self.seen.insert(value.to_string(), format!("<{kind}-{n}>"));
        }
        self.seen.get(value).map_or("", String::as_str)
    }

    /// Replaces every volatile value with its placeholder.
    fn replace_volatile<'t>(&mut self, text: Cow<'t, str>) -> Cow<'t, str> {
        let mut found = next_volatile(&text, 0);
        if found.is_none() {
            return text;
        }
        let mut out = String::with_capacity(text.len());
        let mut last = 0;
        while let Some(m) = found {
            let value = &text[m.clone()];
            out.push_str(&text[last..m.start]);
            out.push_str(self.placeholder(volatile_kind(value), value));
            last = m.end;
            found = next_volatile(&text, m.end);
        }
        out.push_str(&text[last..]);
        Cow::Owned(out)
    }

    /// Replaces secrets, known values and volatile values in any text.
    pub fn text(&mut self, text: &str) -> String {
        self.normalised(text).into_owned()
    }

    /// [`Normalizer::text`], borrowing the text when nothing in it changes (most header values).
    fn normalised<'t>(&mut self, text: &'t str) -> Cow<'t, str> {
        let mut out = self.redactor.redacted(text);
        for (value, placeholder) in &self.known {
            if let Some(first) = find(&out, value, 0) {
                out = Cow::Owned(replace_from(&out, first, value, placeholder));
            }
        }
        self.replace_volatile(out)
    }

    /// The normalised form of one exchange: request line, status, the headers that matter, body.
    pub fn exchange(
        &mut self,
        request: &OutgoingRequest,
        response: &Response,
        format: Format,
    ) -> String {
        self.exchange_parsed(request, response, format, None)
    }

    /// [`Normalizer::exchange`], taking the body from `parsed` (the step's checks already read it)
    /// when it was read in the body's format, instead of parsing it again.
    pub fn exchange_parsed(
        &mut self,
        request: &OutgoingRequest,
        response: &Response,
        format: Format,
        parsed: Option<&LazyDocument>,
    ) -> String {
        // The canonical body is about as long as the body; the lines before it are short.
        let mut out = String::with_capacity(response.body.len() + 256);
        let target = match request.url.query() {
            Some(q) => format!("{}?{q}", request.url.path()),
            None => request.url.path().to_string(),
        };
        let _ = writeln!(
            out,
            "request: {} {}",
            request.method,
            self.normalised(&target)
        );
        let _ = writeln!(out, "status: {}", response.status);
        for name in KEPT_HEADERS {
            for value in response.header_all(name) {
                let _ = writeln!(out, "{name}: {}", self.normalised(value));
            }
        }
        if response.header("content-length").is_some() {
            let _ = writeln!(out, "content-length: <present>");
        }
        if !response.body.is_empty() {
            out.push('\n');
            let format = body_format(response, format);
            let document = parsed
                .filter(|p| p.format() == format)
                .and_then(|p| p.get())
                .and_then(|p| p.as_ref().ok());
            let body = match document {
                Some(document) => canonical_document(document)
                    .unwrap_or_else(|e| with_note(Err(e), &response.text())),
                None => canonical_body(&response.text(), format),
            };
            out.push_str(&self.normalised(&body));
        }
        if !out.ends_with('\n') {
            out.push('\n');
        }
        out
    }
}

/// Where `value` (not empty) next occurs in `text` at or after `from`.
///
/// Most texts are a few hundred bytes searched for a few values each: there `memchr` finds the
/// value's first byte and the rest is compared (building a `str` or `memmem` searcher for each
/// value and trial cost more than the searches). That costs up to the text's length times the
/// value's, so a long text or value (a body, a job name the target chose) gets `memmem`'s search,
/// which is linear whatever the text.
fn find(text: &str, value: &str, from: usize) -> Option<usize> {
    /// The most byte comparisons the first-byte search may make.
    const SCANNED: usize = 64 * 1024;
    let (haystack, needle) = (text.as_bytes(), value.as_bytes());
    let first = *needle.first()?;
    let rest = haystack.get(from..)?;
    if rest.len().saturating_mul(needle.len()) > SCANNED {
        return memchr::memmem::find(rest, needle).map(|at| from + at);
    }
    memchr::memchr_iter(first, rest)
        .map(|at| from + at)
        .find(|&at| haystack[at..].starts_with(needle))
}

/// `text` with every occurrence of `value` from `first` (its first one) on replaced by `with`,
/// left to right and not overlapping, as `str::replace` does.
fn replace_from(text: &str, first: usize, value: &str, with: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    let mut found = Some(first);
    while let Some(at) = found {
        // `value` is a `str`, so a match starts and ends on character boundaries.
        out.push_str(&text[last..at]);
        out.push_str(with);
        last = at + value.len();
        found = find(text, value, last);
    }
    out.push_str(&text[last..]);
    out
}

/// The format a body is in: what its Content-Type says, else what the trial asked for.
fn body_format(response: &Response, asked: Format) -> Format {
    match response.header("content-type") {
        Some(ct) if ct.to_ascii_lowercase().contains("json") => Format::Json,
        Some(ct) if ct.to_ascii_lowercase().contains("xml") => Format::Xml,
        _ => asked,
    }
}

/// The canonical text of a body; a body that does not parse (or is nested too deep) is kept as
/// is, with a note.
pub fn canonical_body(text: &str, format: Format) -> String {
    let result = match format {
        Format::Xml => canonical_xml(text),
        Format::Json => canonical_json(text),
    };
    with_note(result, text)
}

/// The canonical text, or the body as it came with why it has none.
fn with_note(canonical: Result<String, String>, text: &str) -> String {
    match canonical {
        Ok(canonical) => canonical,
        Err(e) => format!("({e})\n{text}\n"),
    }
}

/// The canonical text of a parsed body (what [`canonical_body`] gives for its text).
fn canonical_document(document: &Document) -> Result<String, String> {
    match document {
        Document::Xml(doc) => canonical_xml_document(doc),
        Document::Json(value) => canonical_json_value(value),
    }
}

/// How deep canonical XML goes. A deeper document is kept as it came, with a note, as JSON is
/// (serde_json stops at 128 levels): a hostile body of a few kilobytes nested thousands deep
/// would otherwise overflow the stack and grow quadratically with the indentation.
pub const MAX_XML_DEPTH: usize = 128;

/// The namespace of `xml:lang` and `xml:space`, whose prefix is fixed.
const XML_NAMESPACE: &str = "http://www.w3.org/XML/1998/namespace";

/// XML by namespace URI: prefixes and unused declarations dropped, attributes sorted, text
/// trimmed with inner whitespace folded, two-space indentation. The result is itself well-formed
/// XML whose canonical form is itself.
pub fn canonical_xml(text: &str) -> Result<String, String> {
    let doc = roxmltree::Document::parse(strip_bom(text))
        .map_err(|e| format!("not well-formed XML: {e}"))?;
    canonical_xml_document(&doc)
}

fn canonical_xml_document(doc: &roxmltree::Document) -> Result<String, String> {
    let mut out = String::with_capacity(doc.input_text().len());
    write_element(&mut out, doc.root_element(), None, 0)?;
    Ok(out)
}

/// Text with its whitespace folded (trimmed, inner runs made one space) and `<`, `>`, `&` escaped;
/// quotes stay readable.
fn push_text(out: &mut String, s: &str) {
    for (index, word) in s.split_whitespace().enumerate() {
        if index > 0 {
            out.push(' ');
        }
        out.push_str(&quick_xml::escape::partial_escape(word));
    }
}

/// An attribute value: quotes and markup escaped, and the whitespace characters a parser would
/// turn into spaces (tab, line feed, carriage return) as character references, so they survive.
fn push_attribute_value(out: &mut String, s: &str) {
    let escaped = quick_xml::escape::escape(s);
    if memchr::memchr3(b'\t', b'\n', b'\r', escaped.as_bytes()).is_some() {
        out.push_str(
            &escaped
                .replace('\t', "&#9;")
                .replace('\n', "&#10;")
                .replace('\r', "&#13;"),
        );
    } else {
        out.push_str(&escaped);
    }
}

fn push_indent(out: &mut String, depth: usize) {
    for _ in 0..depth {
        out.push_str("  ");
    }
}

/// What an element contains, as canonical XML writes it.
enum Content<'a, 'input> {
    Element(roxmltree::Node<'a, 'input>),
    /// Adjacent text, joined across the comments and processing instructions between.
    Text(Cow<'a, str>),
}

fn contents<'a, 'input>(node: roxmltree::Node<'a, 'input>) -> Vec<Content<'a, 'input>> {
    let mut out: Vec<Content> = Vec::new();
    for child in node.children() {
        if child.is_element() {
            out.push(Content::Element(child));
        } else if let Some(text) = child.text().filter(|_| child.is_text()) {
            match out.last_mut() {
                Some(Content::Text(joined)) => joined.to_mut().push_str(text),
                _ => out.push(Content::Text(Cow::Borrowed(text))),
            }
        }
    }
    out.retain(|c| !matches!(c, Content::Text(t) if t.trim().is_empty()));
    out
}

/// Writes the attributes in canonical order (by namespace URI, then name), after the declarations
/// of the prefixes their namespaces get: `a1`, `a2`, ... on this element, in that order (`xml` for
/// `xml:lang`).
fn push_attributes(out: &mut String, node: roxmltree::Node) {
    let mut attrs: Vec<(&str, &str, &str)> = node
        .attributes()
        .map(|a| (a.namespace().unwrap_or(""), a.name(), a.value()))
        .collect();
    attrs.sort_unstable();
    let mut prefixes: Vec<&str> = Vec::new();
    for (ns, _, _) in &attrs {
        if !matches!(*ns, "" | XML_NAMESPACE) && !prefixes.contains(ns) {
            prefixes.push(ns);
            let _ = write!(out, " xmlns:a{}=\"", prefixes.len());
            push_attribute_value(out, ns);
            out.push('"');
        }
    }
    for (ns, name, value) in attrs {
        out.push(' ');
        match ns {
            "" => {}
            XML_NAMESPACE => out.push_str("xml:"),
            ns => {
                let index = prefixes.iter().position(|p| *p == ns).unwrap_or(0);
                let _ = write!(out, "a{}:", index + 1);
            }
        }
        out.push_str(name);
        out.push_str("=\"");
        push_attribute_value(out, value);
        out.push('"');
    }
}

fn write_element(
    out: &mut String,
    node: roxmltree::Node,
    parent_ns: Option<&str>,
    depth: usize,
) -> Result<(), String> {
    if depth >= MAX_XML_DEPTH {
        return Err(format!(
            "XML nested deeper than {MAX_XML_DEPTH} elements: not normalised"
        ));
    }
    let name = node.tag_name().name();
    let ns = node.tag_name().namespace();
    push_indent(out, depth);
    out.push('<');
    out.push_str(name);
    if ns != parent_ns {
        out.push_str(" xmlns=\"");
        push_attribute_value(out, ns.unwrap_or(""));
        out.push('"');
    }
    push_attributes(out, node);
    let children = contents(node);
    if children.is_empty() {
        out.push_str("/>\n");
        return Ok(());
    }
    if let [Content::Text(only)] = children.as_slice() {
        out.push('>');
        push_text(out, only);
        let _ = writeln!(out, "</{name}>");
        return Ok(());
    }
    out.push_str(">\n");
    for child in children {
        match child {
            Content::Element(element) => write_element(out, element, ns, depth + 1)?,
            Content::Text(text) => {
                push_indent(out, depth + 1);
                push_text(out, &text);
                out.push('\n');
            }
        }
    }
    push_indent(out, depth);
    let _ = writeln!(out, "</{name}>");
    Ok(())
}

/// JSON with object keys sorted and two-space indentation.
pub fn canonical_json(text: &str) -> Result<String, String> {
    // serde_json refuses documents nested deeper than 128 levels, which bounds the recursion.
    let value = json::parse(strip_bom(text)).map_err(|e| format!("not well-formed JSON: {e}"))?;
    canonical_json_value(&value)
}

fn canonical_json_value(value: &Json) -> Result<String, String> {
    let mut out = serde_json::to_string_pretty(&SortedKeys(value)).map_err(|e| e.to_string())?;
    out.push('\n');
    Ok(out)
}

/// A JSON value that serialises with its object keys sorted, without a sorted copy.
struct SortedKeys<'v, 'a>(&'v Json<'a>);

impl serde::Serialize for SortedKeys<'_, '_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap as _, SerializeSeq as _};
        match self.0 {
            Json::Object(object) => {
                let mut entries: Vec<(&str, &Json)> = object.iter().collect();
                entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
                let mut out = serializer.serialize_map(Some(entries.len()))?;
                for (key, value) in entries {
                    out.serialize_entry(key, &SortedKeys(value))?;
                }
                out.end()
            }
            Json::Array(items) => {
                let mut out = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    out.serialize_element(&SortedKeys(item))?;
                }
                out.end()
            }
            other => other.serialize(serializer),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_canonical_form_ignores_prefix_order_and_whitespace() {
        let a = r#"<?xml version="1.0" encoding="utf-8"?>
<Task xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns="http://www.veeam.com/ent/v1.0" Type="Task" Href="h">
  <TaskId>task-1</TaskId>
  <Result Success="true"><Message>a  &amp;
   b</Message></Result>
</Task>"#;
        let b = r#"<v:Task xmlns:v="http://www.veeam.com/ent/v1.0" Href="h" Type="Task"><v:TaskId>task-1</v:TaskId><v:Result Success="true"><v:Message>a &amp; b</v:Message></v:Result></v:Task>"#;
        let ca = canonical_xml(a).unwrap();
        assert_eq!(ca, canonical_xml(b).unwrap());
        assert_eq!(
            ca,
            "<Task xmlns=\"http://www.veeam.com/ent/v1.0\" Href=\"h\" Type=\"Task\">\n  <TaskId>task-1</TaskId>\n  <Result Success=\"true\">\n    <Message>a &amp; b</Message>\n  </Result>\n</Task>\n"
        );
        assert_eq!(canonical_xml(&ca).unwrap(), ca, "idempotent");
    }

    #[test]
    fn json_canonical_form_sorts_keys_and_strips_bom() {
        let a = "\u{feff}{\"b\":1,\"a\":{\"d\":null,\"c\":[2,1]}}";
        let b = "{\"a\":{\"c\":[2,1],\"d\":null},\"b\":1}";
        assert_eq!(canonical_json(a).unwrap(), canonical_json(b).unwrap());
    }

    /// Reusing the body the checks parsed gives what parsing it again gives; a body read in
    /// another format than it has, or not at all, is parsed again.
    #[test]
    fn an_exchange_reads_the_same_from_a_parsed_body() {
        let request = OutgoingRequest {
            method: "GET".into(),
            url: url::Url::parse("http://h:1/api/tasks/task-3").unwrap(),
            headers: Vec::new(),
            body: None,
        };
        let bodies = [
            (
                "application/xml",
                r#"<v:Task xmlns:v="http://www.veeam.com/ent/v1.0" xmlns:i="urn:i" Href="http://h:1/api/tasks/task-3" i:b="x&#10;y"><v:State> Finished
  </v:State><!-- c --><v:Links/></v:Task>"#,
            ),
            (
                "application/json",
                "\u{feff}{\"b\":[{\"z\":1,\"y\":2.50}],\"a\":\"task-3\"}",
            ),
            ("application/xml", "<Task><Unclosed></Task>"),
        ];
        for (content_type, body) in bodies {
            let response = Response {
                status: 200,
                headers: vec![("content-type".into(), content_type.into())],
                body: bytes::Bytes::from(body),
                elapsed: std::time::Duration::ZERO,
            };
            let fresh = || Normalizer::new(Redactor::new(), "http://h:1", Vec::new());
            let expected = fresh().exchange(&request, &response, Format::Xml);
            for read_as in [Format::Xml, Format::Json] {
                let parsed = LazyDocument::new(&response.body, read_as);
                let got = fresh().exchange_parsed(&request, &response, Format::Xml, Some(&parsed));
                assert_eq!(got, expected, "{content_type} read as {read_as}");
            }
        }
    }

    #[test]
    fn known_values_are_replaced_as_str_replace_does() {
        for (text, value) in [
            ("aaaaa", "aa"),
            ("http://h:1/api and http://h:1", "http://h:1"),
            ("héllo wörld héllo", "héllo"),
            ("nothing", "x"),
            ("abab", "b"),
            ("", "a"),
        ]
        .into_iter()
        .map(|(t, v)| (t.to_string(), v.to_string()))
        // Long enough for the linear search, with a value that nearly matches everywhere.
        .chain([(
            "a".repeat(70_000) + "ab" + &"a".repeat(10) + "ab",
            "a".repeat(9) + "b",
        )]) {
            let (text, value) = (text.as_str(), value.as_str());
            let expected = text.replace(value, "<v>");
            let got = match find(text, value, 0) {
                Some(first) => replace_from(text, first, value, "<v>"),
                None => text.to_string(),
            };
            assert!(got == expected, "{value} in {text:.80}…");
        }
    }

    #[test]
    fn placeholders_keep_identity() {
        let mut n = Normalizer::new(
            Redactor::new(),
            "http://127.0.0.1:4000",
            vec![("G1".into(), "<job:failed>".into())],
        );
        let out = n.text("http://127.0.0.1:4000/api/tasks/task-17 task-17 task-3 job G1 at 2026-11-01T02:00:00.25Z");
        assert_eq!(
            out,
            "<origin>/api/tasks/<task-1> <task-1> <task-2> job <job:failed> at <time-1>"
        );
        assert_eq!(n.text("task-3 again"), "<task-2> again");
    }

    #[test]
    fn secrets_are_redacted_before_anything_else() {
        let r = Redactor::new();
        r.add("c2VjcmV0LXRva2Vu");
        let mut n = Normalizer::new(r, "http://h:1", Vec::new());
        assert_eq!(n.text("X: c2VjcmV0LXRva2Vu"), "X: <redacted>");
    }

    #[test]
    fn malformed_bodies_are_kept_with_a_note() {
        let out = canonical_body("<Task>", Format::Xml);
        assert!(out.starts_with("(not well-formed XML:"), "{out}");
        let out = canonical_body("{", Format::Json);
        assert!(out.starts_with("(not well-formed JSON:"), "{out}");
    }

    #[test]
    fn namespaced_attributes_are_written_as_well_formed_xml() {
        let a = r#"<Task xmlns="http://www.veeam.com/ent/v1.0" xmlns:i="http://www.w3.org/2001/XMLSchema-instance" xml:lang="en"><Result i:nil="true" Success="false"/></Task>"#;
        let b = r#"<v:Task xmlns:v="http://www.veeam.com/ent/v1.0" xml:lang="en"><v:Result Success="false" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:nil="true"/></v:Task>"#;
        let ca = canonical_xml(a).unwrap();
        assert_eq!(
            ca,
            "<Task xmlns=\"http://www.veeam.com/ent/v1.0\" xml:lang=\"en\">\n  <Result \
             xmlns:a1=\"http://www.w3.org/2001/XMLSchema-instance\" Success=\"false\" a1:nil=\"true\"/>\n</Task>\n"
        );
        assert_eq!(canonical_xml(b).unwrap(), ca, "prefixes do not matter");
        assert_eq!(canonical_xml(&ca).unwrap(), ca, "idempotent");
    }

    #[test]
    fn whitespace_in_attribute_values_survives_normalising_twice() {
        let ca = canonical_xml("<a v=\"&#9;x&#10;y&#13;\" w=\"  \"/>").unwrap();
        assert_eq!(ca, "<a v=\"&#9;x&#10;y&#13;\" w=\"  \"/>\n");
        assert_eq!(canonical_xml(&ca).unwrap(), ca);
        assert_ne!(ca, canonical_xml("<a v=\" x y \" w=\"  \"/>").unwrap());
    }

    #[test]
    fn text_split_by_comments_is_one_text() {
        let ca = canonical_xml("<a>x<!-- c -->y<?pi?> z</a>").unwrap();
        assert_eq!(ca, "<a>xy z</a>\n");
        assert_eq!(canonical_xml("<a>xy z</a>").unwrap(), ca);
    }

    #[test]
    fn documents_nested_too_deep_are_kept_as_they_came() {
        let deep = |n: usize| format!("{}{}", "<a>".repeat(n), "</a>".repeat(n));
        assert!(canonical_xml(&deep(MAX_XML_DEPTH)).is_ok());
        let text = deep(50_000);
        let e = canonical_xml(&text).unwrap_err();
        assert_eq!(e, "XML nested deeper than 128 elements: not normalised");
        let kept = canonical_body(&text, Format::Xml);
        assert!(
            kept.starts_with("(XML nested deeper than 128 elements"),
            "{kept:.80}"
        );
        assert!(kept.contains(&text));
    }

    #[test]
    fn json_numbers_survive_normalising_twice() {
        let ca = canonical_json("[5.500205286421061e-278, 0.1, 1e21, -0]").unwrap();
        assert_eq!(canonical_json(&ca).unwrap(), ca);
        assert!(ca.contains("5.500205286421061e-278"), "{ca}");
    }

    /// Every volatile value in `text`, as [`next_volatile`] finds them.
    fn scanned(text: &str) -> Vec<Range<usize>> {
        let mut out = Vec::new();
        let mut from = 0;
        while let Some(m) = next_volatile(text, from) {
            from = m.end;
            out.push(m);
        }
        out
    }

    fn by_pattern(text: &str) -> Vec<Range<usize>> {
        static PATTERN: std::sync::LazyLock<regex::Regex> =
            std::sync::LazyLock::new(|| regex::Regex::new(VOLATILE).expect("valid"));
        PATTERN.find_iter(text).map(|m| m.range()).collect()
    }

    #[test]
    fn the_scanner_finds_what_the_pattern_finds() {
        let guid = "5b6c0f44-1a2b-4c3d-8e9f-001122334455";
        for text in [
            "task-1 task-22x task-3_ xtask-4 task- task-5é task-6٣ étask-7 task-8.",
            &format!("{guid} a{guid} {guid}b {guid}- _{guid} {guid}é-{guid}"),
            "2026-11-29T01:02:03 2026-11-29 01:02:03.123Z 2026-11-29T01:02:03.Z x2026-11-29T01:02:03",
            "2026-11-29T01:02:03Zabc 12345-11-29T01:02:03 1234-56-78T90:12:34.5678 --------",
            &format!("task-task-1 {}", &guid[..30]),
        ] {
            assert_eq!(scanned(text), by_pattern(text), "{text}");
        }
        assert_eq!(scanned("task-1 and ").len(), 1);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 2000,
            failure_persistence: None,
            ..Default::default()
        })]
        #[test]
        fn the_scanner_agrees_with_the_pattern(
            parts in proptest::collection::vec(proptest::sample::select(vec![
                "task-", "task", "-", "1", "2026", "11", "0a", "ab", "F", "T", " ", ":", ".", "Z",
                "x", "_", "é", "٣", "\u{300}", "5b6c0f44", "1a2b", "001122334455", "\n", "task-7",
                "5b6c0f44-1a2b-4c3d-8e9f-001122334455", "2026-11-29T01:02:03", "2026-11-29 01:02",
            ]), 0..40)
        ) {
            let text: String = parts.concat();
            proptest::prop_assert_eq!(scanned(&text), by_pattern(&text));
        }
    }
}
