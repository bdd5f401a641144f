//! Property tests: the case and expectation loaders, the XML and JSON normalisers and the
//! assertion evaluators hold their invariants (`tests/invariants/mod.rs`) on generated input —
//! arbitrary bytes, mutations of real files and bodies, and structured documents and assertions
//! generated from their grammars. Case counts are bounded so that `cargo test` stays fast; set
//! `PROPTEST_CASES` for a longer run. The same invariants are the cargo-fuzz targets in `fuzz/`,
//! and every input that once broke one (`fuzz/regressions/TARGET/`, found by these properties or
//! by fuzzing) is replayed here.

use crate::invariants;

use std::path::Path;

use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::sample::select;

/// Cases per property unless `PROPTEST_CASES` says otherwise.
fn config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(cases);
    ProptestConfig {
        cases,
        // Regressions found are kept in the source tree, next to this file.
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::WithSource("regressions"),
        )),
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Mutations of real text

/// One edit of a text: delete a range, insert a fragment, or duplicate a range.
#[derive(Debug, Clone)]
enum Edit {
    Delete(usize, usize),
    Insert(usize, String),
    Duplicate(usize, usize),
}

fn edit(fragments: &'static [&'static str]) -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), 0usize..40).prop_map(|(at, len)| Edit::Delete(at, len)),
        (
            any::<usize>(),
            prop_oneof![select(fragments).prop_map(str::to_string), "\\PC{0,6}"]
        )
            .prop_map(|(at, text)| Edit::Insert(at, text)),
        (any::<usize>(), 0usize..60).prop_map(|(at, len)| Edit::Duplicate(at, len)),
    ]
}

/// `text` with `edits` applied at byte positions (moved to character boundaries).
fn mutate(text: &str, edits: &[Edit]) -> String {
    let mut out = text.to_string();
    let boundary = |s: &str, at: usize| {
        let mut at = at % (s.len() + 1);
        while !s.is_char_boundary(at) {
            at -= 1;
        }
        at
    };
    for e in edits {
        match e {
            Edit::Delete(at, len) => {
                let start = boundary(&out, *at);
                let end = boundary(&out, (start + len).min(out.len()));
                out.replace_range(start..end, "");
            }
            Edit::Insert(at, text) => {
                let at = boundary(&out, *at);
                out.insert_str(at, text);
            }
            Edit::Duplicate(at, len) => {
                let start = boundary(&out, *at);
                let end = boundary(&out, (start + len).min(out.len()));
                let copy = out[start..end].to_string();
                out.insert_str(end, &copy);
            }
        }
    }
    out
}

const TOML_FRAGMENTS: &[&str] = &[
    "\n[[steps]]\n",
    "\n[steps.expect]\n",
    "=",
    "\"",
    "'",
    "{",
    "}",
    "[",
    "]",
    ",",
    "\n",
    "{{",
    "}}",
    "{{job.failed}}",
    "{{nope}}",
    "when = { path = \"State\", equals = \"Running\" }",
    "status = 999",
    "status = \"2xx\"",
    "level = \"maybe\"",
    "é",
    "\u{feff}",
    "\r\n",
    "#",
    "\"\"\"",
    "1979-05-27",
];

const XML_FRAGMENTS: &[&str] = &[
    "<",
    ">",
    "/>",
    "</Task>",
    "<a>",
    "</a>",
    "&amp;",
    "&#13;",
    "&#9;",
    "&bogus;",
    "<![CDATA[x]]>",
    "<!-- c -->",
    "<?pi x?>",
    "xmlns=\"\"",
    " xmlns:p=\"urn:p\" p:a=\"1\"",
    " xml:lang=\"en\"",
    "<!DOCTYPE x [<!ENTITY a \"b\">]>",
    "\u{feff}",
    "\u{a0}",
    "  \n\t",
];

const JSON_FRAGMENTS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "\"",
    "null",
    "1e400",
    "-0",
    "\\u0000",
    "\\ud800",
    "\u{feff}",
    " \n",
    "{\"a\":1,\"a\":2}",
];

// ---------------------------------------------------------------------------------------------
// Generated XML documents

const NAMESPACES: &[&str] = &[
    "http://www.veeam.com/ent/v1.0",
    "http://www.w3.org/2001/XMLSchema-instance",
    "urn:emconform:other",
    "http://www.w3.org/XML/1998/namespace",
];

#[derive(Debug, Clone)]
enum XmlNode {
    Element {
        namespace: Option<usize>,
        name: String,
        attributes: Vec<(Option<usize>, String, String)>,
        children: Vec<XmlNode>,
    },
    Text(String),
    Comment,
}

fn xml_name() -> BoxedStrategy<String> {
    prop_oneof![
        select(
            &[
                "Task", "State", "Links", "Link", "Result", "Message", "Href", "Rel"
            ][..]
        )
        .prop_map(str::to_string),
        "[a-zA-Z_][a-zA-Z0-9_.-]{0,5}",
    ]
    .boxed()
}

fn xml_text() -> BoxedStrategy<String> {
    "[a-zA-Z0-9 &<>\"'\t\n\r.é\u{a0}\u{2003}]{0,12}".boxed()
}

fn xml_element() -> impl Strategy<Value = XmlNode> {
    let namespace = prop::option::of(0..NAMESPACES.len() - 1);
    let attribute = (
        prop::option::weighted(0.3, 0..NAMESPACES.len()),
        xml_name(),
        xml_text(),
    );
    let leaf = (namespace.clone(), xml_name(), vec(attribute.clone(), 0..4)).prop_map(
        |(namespace, name, attributes)| XmlNode::Element {
            namespace,
            name,
            attributes,
            children: Vec::new(),
        },
    );
    leaf.prop_recursive(5, 48, 6, move |inner| {
        let child = prop_oneof![
            4 => inner,
            3 => xml_text().prop_map(XmlNode::Text),
            1 => Just(XmlNode::Comment),
        ];
        (
            namespace.clone(),
            xml_name(),
            vec(attribute.clone(), 0..4),
            vec(child, 0..6),
        )
            .prop_map(|(namespace, name, attributes, children)| XmlNode::Element {
                namespace,
                name,
                attributes,
                children,
            })
    })
}

fn escape(text: &str, attribute: bool) -> String {
    let mut out = String::new();
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attribute => out.push_str("&quot;"),
            '\r' => out.push_str("&#13;"),
            '\t' if attribute => out.push_str("&#9;"),
            c => out.push(c),
        }
    }
    out
}

/// The document as text: namespaces under prefixes `n0…` declared on the root.
fn render_xml(node: &XmlNode) -> String {
    let mut out = String::new();
    render_node(&mut out, node, true);
    out
}

fn qualified(namespace: Option<usize>, name: &str) -> String {
    match namespace {
        Some(i) if NAMESPACES[i].ends_with("/XML/1998/namespace") => format!("xml:{name}"),
        Some(i) => format!("n{i}:{name}"),
        None => name.to_string(),
    }
}

fn render_node(out: &mut String, node: &XmlNode, root: bool) {
    match node {
        XmlNode::Text(text) => out.push_str(&escape(text, false)),
        XmlNode::Comment => out.push_str("<!--c-->"),
        XmlNode::Element {
            namespace,
            name,
            attributes,
            children,
        } => {
            let name = qualified(*namespace, name);
            out.push('<');
            out.push_str(&name);
            if root {
                for (i, uri) in NAMESPACES.iter().enumerate().take(NAMESPACES.len() - 1) {
                    out.push_str(&format!(" xmlns:n{i}=\"{uri}\""));
                }
            }
            let mut written: Vec<(String, &str)> = Vec::new();
            for (namespace, local, value) in attributes {
                // An attribute appears once per namespace and name.
                let uri = namespace.map_or("", |i| NAMESPACES[i]);
                if written.iter().any(|(l, u)| l == local && *u == uri) {
                    continue;
                }
                written.push((local.clone(), uri));
                let attribute = qualified(*namespace, local);
                out.push_str(&format!(" {attribute}=\"{}\"", escape(value, true)));
            }
            out.push('>');
            for child in children {
                render_node(out, child, false);
            }
            out.push_str(&format!("</{name}>"));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Generated JSON documents

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON numbers are finite", |f| f.is_finite())
            .prop_map(Value::from),
        "\\PC{0,8}".prop_map(Value::from),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Value::Array),
            btree_map(
                prop_oneof![
                    select(&["State", "TaskId", "Links", "Href", "a", "A", "", "é"][..])
                        .prop_map(str::to_string),
                    "\\PC{0,5}"
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

// ---------------------------------------------------------------------------------------------
// Generated assertions

fn path_segment() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => xml_name(),
        1 => (xml_name(), select(&["@Rel", "@Type", "TaskId", "Name"][..]), "[a-zA-Z0-9 /{}.]{0,6}")
            .prop_map(|(n, field, value)| format!("{n}[{field}=\\\"{value}\\\"]")),
    ]
}

fn body_path() -> impl Strategy<Value = String> {
    (
        vec(path_segment(), 1..4),
        prop::option::of(xml_name().prop_map(|a| format!("@{a}"))),
    )
        .prop_map(|(segments, attribute)| {
            let mut path = segments.join("/");
            if let Some(a) = attribute {
                path.push('/');
                path.push_str(&a);
            }
            path
        })
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        select(
            &[
                "Running",
                "Finished",
                "true",
                "{{mime}}",
                "{{format}}",
                "{{base}}/tasks/",
                "{{response.status}}",
                "(",
                "^Fin.*$",
                "[a-",
                ""
            ][..]
        )
        .prop_map(str::to_string),
        "[a-zA-Z0-9 ]{0,6}",
    ]
}

fn predicate() -> impl Strategy<Value = String> {
    prop_oneof![
        value().prop_map(|v| format!("equals = '{v}'")),
        vec(value(), 0..3).prop_map(|vs| format!(
            "one_of = [{}]",
            vs.iter()
                .map(|v| format!("'{v}'"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        value().prop_map(|v| format!("contains = '{v}'")),
        value().prop_map(|v| format!("matches = '{v}'")),
        Just("present = true".to_string()),
        Just("absent = true".to_string()),
        Just("present = false".to_string()),
        value().prop_map(|v| format!("media_type = '{v}'")),
    ]
}

fn body_assertion() -> impl Strategy<Value = String> {
    let plain = prop_oneof![
        3 => (body_path(), predicate()).prop_map(|(p, pred)| format!("{{ path = \"{p}\", {pred} }}")),
        1 => xml_name().prop_map(|r| format!("{{ root = \"{r}\" }}")),
        1 => (xml_name(), predicate()).prop_map(|(rel, pred)| format!("{{ link = \"{rel}\", {pred} }}")),
        1 => (body_path(), predicate()).prop_map(|(p, pred)| format!("{{ path = \"{p}\", {pred}, note = \"why\" }}")),
    ];
    plain.prop_recursive(3, 8, 1, |inner| {
        (body_path(), predicate(), inner)
            .prop_map(|(p, pred, when)| format!("{{ path = \"{p}\", {pred}, when = {when} }}"))
    })
}

fn header_assertion() -> impl Strategy<Value = String> {
    (
        select(
            &[
                "Content-Type",
                "content-length",
                "X-RestSvcSessionId",
                "Location",
                "Nope",
            ][..],
        ),
        predicate(),
    )
        .prop_map(|(name, pred)| format!("{{ name = \"{name}\", {pred} }}"))
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        xml_element().prop_map(|e| render_xml(&e).into_bytes()),
        json_value().prop_map(|v| v.to_string().into_bytes()),
        Just(invariants::SEED_XML.as_bytes().to_vec()),
        Just(invariants::SEED_JSON.as_bytes().to_vec()),
        vec(any::<u8>(), 0..64),
    ]
}

// ---------------------------------------------------------------------------------------------
// The properties

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn case_files_load_or_say_where_they_are_wrong(
        edits in vec(edit(TOML_FRAGMENTS), 0..6),
    ) {
        invariants::case_file(mutate(invariants::SEED_CASE, &edits).as_bytes());
    }

    #[test]
    fn any_bytes_as_a_case_file(data in vec(any::<u8>(), 0..256)) {
        invariants::case_file(&data);
    }

    #[test]
    fn expectation_files_load_or_say_where_they_are_wrong(
        edits in vec(edit(TOML_FRAGMENTS), 0..6),
    ) {
        let seed = "[[expected]]\ntrial = \"jobs::retry::answer::xml\"\nreason = \"EM-12\"\n\
                    link = \"https://tracker.example/EM-12\"\nexpires = 2027-03-31\n\
                    [[expected]]\ntrial = \"jobs::retry::answer::json\"\nreason = \"EM-12\"\n";
        invariants::expectation_file(mutate(seed, &edits).as_bytes());
    }

    #[test]
    fn generated_xml_normalises_the_same_however_it_is_written(element in xml_element()) {
        let text = render_xml(&element);
        invariants::xml_body(text.as_bytes());
        prop_assert!(
            emconform::normalize::canonical_xml(&text).is_ok(),
            "a generated document is well-formed: {text}"
        );
    }

    #[test]
    fn mutated_xml_bodies_never_break_the_normaliser(
        edits in vec(edit(XML_FRAGMENTS), 0..6),
    ) {
        invariants::xml_body(mutate(invariants::SEED_XML, &edits).as_bytes());
    }

    #[test]
    fn any_bytes_as_an_xml_body(data in vec(any::<u8>(), 0..256)) {
        invariants::xml_body(&data);
    }

    #[test]
    fn generated_json_normalises_the_same_however_it_is_written(value in json_value()) {
        invariants::json_body(value.to_string().as_bytes());
    }

    #[test]
    fn mutated_json_bodies_never_break_the_normaliser(
        edits in vec(edit(JSON_FRAGMENTS), 0..6),
    ) {
        invariants::json_body(mutate(invariants::SEED_JSON, &edits).as_bytes());
    }

    #[test]
    fn any_bytes_as_a_json_body(data in vec(any::<u8>(), 0..256)) {
        invariants::json_body(&data);
    }

    #[test]
    fn generated_assertions_evaluate_against_any_body(
        asserts in prop_oneof![vec(body_assertion(), 1..4), vec(header_assertion(), 1..4)],
        body in body(),
    ) {
        let mut data = asserts.join(", ").into_bytes();
        data.push(0);
        data.extend(body);
        invariants::assertions(&data);
    }

    #[test]
    fn any_bytes_as_assertions(data in vec(any::<u8>(), 0..256)) {
        invariants::assertions(&data);
    }
}

/// A body nested `depth` deep: elements, arrays or objects.
fn nested(depth: usize, kind: u8) -> String {
    match kind % 3 {
        0 => format!("{}{}", "<a>".repeat(depth), "</a>".repeat(depth)),
        1 => format!("{}{}", "[".repeat(depth), "]".repeat(depth)),
        _ => format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth)),
    }
}

proptest! {
    #![proptest_config(config(32))]

    /// A hostile body nested thousands deep is kept as it came (not normalised) on a thread with
    /// the 2 MiB stack of a test or tokio worker thread, instead of overflowing it.
    #[test]
    fn deeply_nested_bodies_never_overflow_the_stack(depth in 0usize..30_000, kind in any::<u8>()) {
        let body = nested(depth, kind);
        invariants::xml_body(body.as_bytes());
        invariants::json_body(body.as_bytes());
        let mut data = b"{ path = \"a/a/a\", present = true }\0".to_vec();
        data.extend(body.as_bytes());
        invariants::assertions(&data);
    }

    /// A case file nested deep (`when` in `when`, arrays in arrays) is refused or loaded, never
    /// a stack overflow.
    #[test]
    fn deeply_nested_case_files_never_overflow_the_stack(depth in 0usize..5_000, arrays in any::<bool>()) {
        let nested = if arrays {
            format!("{}{}", "[".repeat(depth), "]".repeat(depth))
        } else {
            let mut when = "{ path = \"State\", present = true }".to_string();
            for _ in 0..depth {
                when = format!("{{ path = \"State\", present = true, when = {when} }}");
            }
            when
        };
        let case = invariants::SEED_CASE.replace("{ root = \"Task\" },", &format!("{nested},"));
        invariants::case_file(case.as_bytes());
    }
}

/// Every input a fuzzer found, kept under `fuzz/regressions/<target>/`, passes its invariant.
#[test]
fn fuzz_regressions_hold() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    type Invariant = fn(&[u8]);
    let targets: [(&str, Invariant); 5] = [
        ("case_file", invariants::case_file),
        ("expectation_file", invariants::expectation_file),
        ("xml_body", invariants::xml_body),
        ("json_body", invariants::json_body),
        ("assertions", invariants::assertions),
    ];
    let mut replayed = 0;
    for (target, invariant) in targets {
        let Ok(entries) = std::fs::read_dir(root.join(target)) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            let data = std::fs::read(&path).expect("a regression input");
            let result = std::panic::catch_unwind(|| invariant(&data));
            assert!(
                result.is_ok(),
                "{} fails its invariant again",
                path.display()
            );
            replayed += 1;
        }
    }
    eprintln!("replayed {replayed} fuzz regression input(s)");
}
