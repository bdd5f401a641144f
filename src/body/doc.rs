//! A parsed response body and the evaluation of a [`ResolvedPath`] against it.
//!
//! XML lookups are namespace-aware: an element matches only in the expected namespace (EM's by
//! default), whatever prefix the server chose. JSON lookups are key-based and follow EM's mapping
//! (spec §6.2): an array stands for repeated elements, and a list wrapper (`{"Tasks":[...]}`,
//! `{"BackupJobSessions":{"BackupJobSessions":[...]}}`) is looked through. When nothing matches, the
//! lookup says why in terms a server author recognises: wrong namespace, wrong key case, or the
//! names that are there.

use std::cell::OnceCell;

use super::Format;
use super::json::{self, Json, Object};
use super::path::{Field, Predicate, ResolvedPath, Segment};

/// A body that could not be read as the expected format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the body is not {format}: {message}")]
pub struct ParseError {
    pub format: &'static str,
    pub message: String,
}

/// A response body parsed on first use, so that a step's captures and checks read it once.
pub struct LazyDocument<'a> {
    body: &'a [u8],
    format: Format,
    parsed: OnceCell<Option<Result<Document<'a>, ParseError>>>,
}

impl<'a> LazyDocument<'a> {
    /// `body`, to be read as `format` when first asked.
    pub fn new(body: &'a [u8], format: Format) -> LazyDocument<'a> {
        LazyDocument {
            body,
            format,
            parsed: OnceCell::new(),
        }
    }

    /// The format it is read as.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The body as text; `None` when it is not UTF-8.
    pub fn text(&self) -> Option<&'a str> {
        std::str::from_utf8(self.body).ok()
    }

    /// The parsed document; `None` when the body is not UTF-8.
    pub fn get(&self) -> Option<&Result<Document<'a>, ParseError>> {
        self.parsed
            .get_or_init(|| self.text().map(|text| Document::parse(text, self.format)))
            .as_ref()
    }
}

/// A parsed body.
pub enum Document<'a> {
    Xml(roxmltree::Document<'a>),
    Json(Json<'a>),
}

/// The result of evaluating a path: the text of each node found, and, when none was, why.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lookup {
    /// One entry per node found: its text (XML) or scalar value (JSON; objects and arrays as JSON).
    pub values: Vec<String>,
    /// When nothing was found, what was there instead.
    pub hint: Option<String>,
}

/// What the document's root is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Root {
    /// An XML root element.
    Element {
        name: String,
        namespace: Option<String>,
    },
    /// A JSON object (EM drops the root element's name in JSON).
    JsonObject,
    /// Any other JSON value.
    JsonOther(&'static str),
}

/// Strips a UTF-8 byte-order mark, which EM puts before JSON bodies (spec §6.1).
pub fn strip_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

impl<'a> Document<'a> {
    /// Parses `text` as `format`.
    pub fn parse(text: &'a str, format: Format) -> Result<Document<'a>, ParseError> {
        let text = strip_bom(text);
        match format {
            Format::Xml => roxmltree::Document::parse(text)
                .map(Document::Xml)
                .map_err(|e| ParseError {
                    format: "XML",
                    message: e.to_string(),
                }),
            Format::Json => json::parse(text)
                .map(Document::Json)
                .map_err(|e| ParseError {
                    format: "JSON",
                    message: e.to_string(),
                }),
        }
    }

    /// The root of the document.
    pub fn root(&self) -> Root {
        match self {
            Document::Xml(doc) => {
                let root = doc.root_element();
                Root::Element {
                    name: root.tag_name().name().to_string(),
                    namespace: root.tag_name().namespace().map(str::to_string),
                }
            }
            Document::Json(Json::Object(_)) => Root::JsonObject,
            Document::Json(other) => Root::JsonOther(other.kind()),
        }
    }

    /// Evaluates `path` from the root; XML elements must be in `namespace`.
    pub fn select(&self, path: &ResolvedPath, namespace: &str) -> Lookup {
        match self {
            Document::Xml(doc) => select_xml(doc.root_element(), path, namespace),
            Document::Json(value) => select_json(value, path),
        }
    }
}

/// Lists names for a hint, at most 8.
fn list_names<'n>(names: impl Iterator<Item = &'n str>) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for n in names {
        if !seen.contains(&n) {
            seen.push(n);
        }
    }
    if seen.is_empty() {
        return "none".to_string();
    }
    let more = seen.len().saturating_sub(8);
    let mut out = seen
        .iter()
        .take(8)
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ");
    if more > 0 {
        out.push_str(&format!(" and {more} more"));
    }
    out
}

// ---------------------------------------------------------------------------------------------
// XML

type XmlNode<'a, 'i> = roxmltree::Node<'a, 'i>;

fn xml_text(node: XmlNode) -> String {
    let text: String = node
        .descendants()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .collect();
    text.trim().to_string()
}

fn xml_children<'a, 'i>(
    node: XmlNode<'a, 'i>,
    name: &str,
    namespace: &str,
) -> impl Iterator<Item = XmlNode<'a, 'i>> {
    node.children().filter(move |c| {
        c.is_element() && c.tag_name().name() == name && c.tag_name().namespace() == Some(namespace)
    })
}

fn xml_field(node: XmlNode, field: &Field, namespace: &str) -> Vec<String> {
    match field {
        Field::Attribute(a) => node
            .attribute(a.as_str())
            .map(str::to_string)
            .into_iter()
            .collect(),
        Field::Child(c) => xml_children(node, c, namespace).map(xml_text).collect(),
    }
}

fn xml_matches(node: XmlNode, predicates: &[Predicate<String>], namespace: &str) -> bool {
    predicates.iter().all(|p| {
        xml_field(node, &p.field, namespace)
            .iter()
            .any(|v| v == &p.value)
    })
}

/// Explains why no child `name` of `parents` matched.
fn xml_missing_element(parents: &[XmlNode], name: &str, namespace: &str, filtered: bool) -> String {
    let parent_names = list_names(parents.iter().map(|p| p.tag_name().name()));
    let children: Vec<XmlNode> = parents
        .iter()
        .flat_map(|p| p.children().filter(|c| c.is_element()))
        .collect();
    if filtered {
        return format!("no `{name}` under {parent_names} has the required values");
    }
    if let Some(other) = children.iter().find(|c| c.tag_name().name() == name) {
        return match other.tag_name().namespace() {
            Some(ns) => format!("`{name}` is there but in namespace `{ns}`, not `{namespace}`"),
            None => format!("`{name}` is there but in no namespace, not in `{namespace}`"),
        };
    }
    if let Some(other) = children
        .iter()
        .find(|c| c.tag_name().name().eq_ignore_ascii_case(name))
    {
        return format!(
            "found `{}` instead of `{name}` (element names are case-sensitive)",
            other.tag_name().name()
        );
    }
    format!(
        "no element `{name}` under {parent_names}; its child elements are {}",
        list_names(children.iter().map(|c| c.tag_name().name()))
    )
}

fn select_xml(root: XmlNode, path: &ResolvedPath, namespace: &str) -> Lookup {
    let mut nodes = vec![root];
    for segment in &path.segments {
        match segment {
            Segment::Element { name, predicates } => {
                let mut kept: Vec<XmlNode> = nodes
                    .iter()
                    .flat_map(|n| xml_children(*n, name, namespace))
                    .collect();
                let named = !kept.is_empty();
                kept.retain(|n| xml_matches(*n, predicates, namespace));
                if kept.is_empty() {
                    let hint = xml_missing_element(&nodes, name, namespace, named);
                    return Lookup {
                        values: Vec::new(),
                        hint: Some(hint),
                    };
                }
                nodes = kept;
            }
            Segment::Attribute(name) => {
                let values: Vec<String> = nodes
                    .iter()
                    .filter_map(|n| n.attribute(name.as_str()).map(str::to_string))
                    .collect();
                if values.is_empty() {
                    let attrs = nodes.iter().flat_map(|n| n.attributes().map(|a| a.name()));
                    let attrs: Vec<&str> = attrs.collect();
                    let hint = match attrs.iter().find(|a| a.eq_ignore_ascii_case(name)) {
                        Some(other) => format!(
                            "found attribute `{other}` instead of `{name}` (names are case-sensitive)"
                        ),
                        None => format!(
                            "no attribute `{name}`; attributes are {}",
                            list_names(attrs.into_iter())
                        ),
                    };
                    return Lookup {
                        values,
                        hint: Some(hint),
                    };
                }
                return Lookup { values, hint: None };
            }
        }
    }
    Lookup {
        values: nodes.into_iter().map(xml_text).collect(),
        hint: None,
    }
}

// ---------------------------------------------------------------------------------------------
// JSON

/// A JSON node reached by a path, and whether it is an array item whose element name (dropped by
/// EM's mapping) the next step names.
#[derive(Clone, Copy)]
struct JsonNode<'v> {
    value: &'v Json<'v>,
    unnamed_item: bool,
}

fn scalar_text(v: &Json) -> String {
    match v {
        Json::String(s) => s.to_string(),
        Json::Bool(b) => b.to_string(),
        Json::Number(n) => n.to_string(),
        Json::Null => String::new(),
        other => other.to_string(),
    }
}

/// Pushes `value` (expanding arrays into unnamed items) unless it is null, which EM uses for
/// absent members since v10 (spec §6.2).
fn push_member<'v>(out: &mut Vec<JsonNode<'v>>, value: &'v Json<'v>) {
    match value {
        Json::Null => {}
        Json::Array(items) => out.extend(items.iter().filter(|i| !i.is_null()).map(|i| JsonNode {
            value: i,
            unnamed_item: true,
        })),
        other => out.push(JsonNode {
            value: other,
            unnamed_item: false,
        }),
    }
}

/// The items of a list wrapper: an object whose only non-null member is an array.
fn wrapper_items<'v>(map: &'v Object<'v>) -> Option<&'v [Json<'v>]> {
    let mut members = map.values().filter(|v| !v.is_null());
    match (members.next(), members.next()) {
        (Some(Json::Array(items)), None) => Some(items),
        _ => None,
    }
}

/// Steps from `node` to the members called `name`.
fn json_step<'v>(node: JsonNode<'v>, name: &str, element: bool, out: &mut Vec<JsonNode<'v>>) {
    let Json::Object(map) = node.value else {
        return;
    };
    if let Some(v) = map.get(name) {
        push_member(out, v);
        return;
    }
    if !element {
        return;
    }
    if node.unnamed_item {
        // `Links/Link`: the array item *is* the `Link` element.
        out.push(JsonNode {
            value: node.value,
            unnamed_item: false,
        });
    } else if let Some(items) = wrapper_items(map) {
        // `{"Tasks":[...]}` read with the path `Task`: look through the wrapper.
        out.extend(items.iter().filter(|i| !i.is_null()).map(|i| JsonNode {
            value: i,
            unnamed_item: false,
        }));
    }
}

fn json_field(node: JsonNode, field: &Field) -> Option<String> {
    match node.value {
        Json::Object(map) => map
            .get(field.name())
            .filter(|v| !v.is_null())
            .map(scalar_text),
        _ => None,
    }
}

fn json_missing(nodes: &[JsonNode], name: &str, filtered: bool) -> String {
    if filtered {
        return format!("no `{name}` has the required values");
    }
    let nulls = nodes
        .iter()
        .filter_map(|n| n.value.as_object())
        .any(|m| m.get(name).is_some_and(Json::is_null));
    if nulls {
        return format!("`{name}` is null");
    }
    let keys: Vec<&str> = nodes
        .iter()
        .filter_map(|n| n.value.as_object())
        .flat_map(|m| m.keys())
        .collect();
    if let Some(other) = keys.iter().find(|k| k.eq_ignore_ascii_case(name)) {
        let first_lower = other.chars().next().is_some_and(|c| c.is_ascii_lowercase());
        if first_lower && name.chars().next().is_some_and(|c| c.is_ascii_uppercase()) {
            return format!(
                "found key `{other}` but not `{name}`: the JSON keys are camelCase, the documented \
                 keys are PascalCase (spec §6.2)"
            );
        }
        return format!("found key `{other}` but not `{name}` (keys are case-sensitive)");
    }
    let kinds: Vec<&str> = nodes
        .iter()
        .filter(|n| n.value.as_object().is_none())
        .map(|n| n.value.kind())
        .collect();
    if !kinds.is_empty() && keys.is_empty() {
        return format!("no key `{name}`: the value there is {}", kinds[0]);
    }
    format!(
        "no key `{name}`; the keys are {}",
        list_names(keys.into_iter())
    )
}

fn select_json<'v>(root: &'v Json<'v>, path: &ResolvedPath) -> Lookup {
    let mut nodes = vec![JsonNode {
        value: root,
        unnamed_item: false,
    }];
    for segment in &path.segments {
        let (name, predicates, element) = match segment {
            Segment::Element { name, predicates } => (name, predicates.as_slice(), true),
            Segment::Attribute(name) => (name, &[][..], false),
        };
        let mut kept = Vec::new();
        for n in &nodes {
            json_step(*n, name, element, &mut kept);
        }
        let named = !kept.is_empty();
        kept.retain(|n| {
            predicates
                .iter()
                .all(|p| json_field(*n, &p.field).as_deref() == Some(p.value.as_str()))
        });
        if kept.is_empty() {
            return Lookup {
                values: Vec::new(),
                hint: Some(json_missing(&nodes, name, named)),
            };
        }
        nodes = kept;
    }
    Lookup {
        values: nodes.iter().map(|n| scalar_text(n.value)).collect(),
        hint: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::EM_NAMESPACE;
    use crate::body::path::BodyPath;
    use std::collections::BTreeMap;

    fn select(text: &str, format: Format, path: &str) -> Lookup {
        let doc = Document::parse(text, format).expect("parses");
        let path = BodyPath::parse(path)
            .unwrap()
            .resolve(&BTreeMap::new())
            .unwrap()
            .into_owned();
        doc.select(&path, EM_NAMESPACE)
    }

    const TASK_XML: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<Task xmlns="http://www.veeam.com/ent/v1.0" Href="https://em/api/tasks/task-7" Type="Task">
  <Links><Link Href="https://em/api/tasks/task-7" Rel="Delete"/><Link Href="x" Rel="Related"/></Links>
  <TaskId>task-7</TaskId><State>Finished</State>
  <Result Success="true"><Message>Job "A &amp; B" triggered to retry.</Message></Result>
</Task>"#;

    const TASK_JSON: &str = "\u{feff}{\"TaskId\":\"task-7\",\"State\":\"Finished\",\"Result\":{\"Message\":\"ok\",\"Success\":true},\"Links\":[{\"Rel\":\"Delete\",\"Href\":\"https://em/api/tasks/task-7\"},{\"Rel\":\"Related\",\"Href\":\"x\",\"Type\":null}],\"Href\":\"https://em/api/tasks/task-7\",\"Type\":\"Task\"}";

    #[test]
    fn same_path_reads_xml_and_json() {
        for (text, format) in [(TASK_XML, Format::Xml), (TASK_JSON, Format::Json)] {
            assert_eq!(select(text, format, "State").values, ["Finished"]);
            assert_eq!(select(text, format, "@Type").values, ["Task"]);
            assert_eq!(select(text, format, "Result/@Success").values, ["true"]);
            assert_eq!(
                select(text, format, r#"Links/Link[@Rel="Delete"]/@Href"#).values,
                ["https://em/api/tasks/task-7"]
            );
            assert!(
                select(text, format, "Links/Link[@Rel=\"Up\"]")
                    .values
                    .is_empty()
            );
        }
        assert_eq!(
            select(TASK_XML, Format::Xml, "Result/Message").values,
            ["Job \"A & B\" triggered to retry."]
        );
    }

    #[test]
    fn xml_is_namespace_aware_whatever_the_prefix() {
        let prefixed = r#"<v:Task xmlns:v="http://www.veeam.com/ent/v1.0"><v:State>Running</v:State></v:Task>"#;
        assert_eq!(select(prefixed, Format::Xml, "State").values, ["Running"]);
        let none = "<Task><State>Running</State></Task>";
        let l = select(none, Format::Xml, "State");
        assert!(l.values.is_empty());
        assert!(l.hint.unwrap().contains("in no namespace"));
    }

    #[test]
    fn json_looks_through_list_wrappers() {
        let list = r#"{"Tasks":[{"TaskId":"task-1"},{"TaskId":"task-2","State":"Running"}]}"#;
        assert_eq!(
            select(list, Format::Json, r#"Task[TaskId="task-2"]/State"#).values,
            ["Running"]
        );
        let wrapped = r#"{"Entities":{"Jobs":null,"BackupJobSessions":{"BackupJobSessions":[{"IsRetry":true}]}}}"#;
        assert_eq!(
            select(
                wrapped,
                Format::Json,
                "Entities/BackupJobSessions/BackupJobSession/IsRetry"
            )
            .values,
            ["true"]
        );
    }

    #[test]
    fn camel_case_keys_are_explained() {
        let camel = r#"{"taskId":"task-1","state":"Running"}"#;
        let l = select(camel, Format::Json, "TaskId");
        assert!(l.values.is_empty());
        let hint = l.hint.unwrap();
        assert!(
            hint.contains("camelCase") && hint.contains("PascalCase"),
            "{hint}"
        );
    }

    #[test]
    fn nulls_are_absent() {
        let l = select(r#"{"Result":null}"#, Format::Json, "Result");
        assert!(l.values.is_empty());
        assert_eq!(l.hint.unwrap(), "`Result` is null");
    }

    #[test]
    fn missing_names_list_what_is_there() {
        let l = select(TASK_XML, Format::Xml, "Status");
        assert!(l.hint.unwrap().contains("`TaskId`"));
        let l = select(TASK_JSON, Format::Json, "@Id");
        assert!(l.hint.unwrap().contains("`TaskId`"));
    }

    #[test]
    fn parse_errors_name_the_format() {
        let err = Document::parse("<Task>", Format::Xml).err().unwrap();
        assert!(err.to_string().starts_with("the body is not XML"));
        assert!(Document::parse("{", Format::Json).is_err());
    }
}
