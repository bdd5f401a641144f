//! The path syntax that body assertions and captures use to point into a response.
//!
//! One path reads both representations of an Enterprise Manager resource, because EM derives its
//! JSON from its XML (spec §6.2): the root element is dropped, attributes and child elements become
//! keys, and repeated elements become arrays. A path is written in XML terms, relative to the root:
//!
//! | path | XML | JSON |
//! |---|---|---|
//! | `State` | child element `State` (in the EM namespace) | key `State` |
//! | `@Href` | attribute `Href` of the root | key `Href` |
//! | `Result/@Success` | attribute of the `Result` child | `Result.Success` |
//! | `Links/Link[@Rel="Delete"]/@Href` | the Delete link's `Href` | `Links[?Rel=="Delete"].Href` |
//! | `Task[TaskId="{{id}}"]` | a `Task` child whose `TaskId` is the value | an item of the `Tasks` array with that `TaskId` |

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Deserializer};

use crate::case::template::{MissingVar, Template, Vars};

/// What a predicate compares: an attribute or a child element (a key in JSON).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    /// `@Name`
    Attribute(String),
    /// `Name`
    Child(String),
}

impl Field {
    /// The bare name.
    pub fn name(&self) -> &str {
        match self {
            Field::Attribute(n) | Field::Child(n) => n,
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Field::Attribute(n) => write!(f, "@{n}"),
            Field::Child(n) => f.write_str(n),
        }
    }
}

/// `[field="value"]`: keeps the nodes whose field has that value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Predicate<V> {
    pub field: Field,
    pub value: V,
}

/// One `/`-separated step of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment<V> {
    /// A child element (JSON key) with optional predicates.
    Element {
        name: String,
        predicates: Vec<Predicate<V>>,
    },
    /// An attribute (JSON key); only as the last step.
    Attribute(String),
}

/// A path as written in a case file: predicate values may hold placeholders.
#[derive(Clone, PartialEq, Eq)]
pub struct BodyPath {
    source: String,
    segments: Vec<Segment<Template>>,
    /// The path resolved once, when it has no placeholders (most do): resolving it for every
    /// check was a string copy per segment.
    fixed: Option<ResolvedPath>,
}

/// A path with its placeholders filled in, ready to evaluate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedPath {
    /// The path as text, with values filled in (for messages).
    pub text: String,
    pub segments: Vec<Segment<String>>,
}

impl fmt::Debug for BodyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.source)
    }
}

impl fmt::Display for BodyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')
}

/// A small cursor over the path text.
struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn error(&self, what: &str) -> String {
        format!(
            "invalid path {:?}: {what} at character {}",
            self.text,
            self.pos + 1
        )
    }

    fn name(&mut self) -> Result<String, String> {
        let start = self.pos;
        match self.peek() {
            Some(c) if is_name_start(c) => self.pos += 1,
            _ => return Err(self.error("expected a name")),
        }
        while let Some(c) = self.peek() {
            if !is_name_char(c) {
                break;
            }
            self.pos += c.len_utf8();
        }
        Ok(self.text[start..self.pos].to_string())
    }

    fn field(&mut self) -> Result<Field, String> {
        if self.eat('@') {
            Ok(Field::Attribute(self.name()?))
        } else {
            Ok(Field::Child(self.name()?))
        }
    }

    fn quoted(&mut self) -> Result<String, String> {
        let quote = match self.peek() {
            Some(q @ ('"' | '\'')) => q,
            _ => return Err(self.error("expected a quoted value")),
        };
        self.pos += 1;
        let rest = &self.text[self.pos..];
        let end = rest
            .find(quote)
            .ok_or_else(|| self.error("unclosed quote"))?;
        let value = rest[..end].to_string();
        self.pos += end + 1;
        Ok(value)
    }

    fn predicate(&mut self) -> Result<Predicate<Template>, String> {
        let field = self.field()?;
        if !self.eat('=') {
            return Err(self.error("expected `=`"));
        }
        let value = Template::parse(&self.quoted()?)?;
        if !self.eat(']') {
            return Err(self.error("expected `]`"));
        }
        Ok(Predicate { field, value })
    }

    fn segment(&mut self) -> Result<Segment<Template>, String> {
        if self.eat('@') {
            return Ok(Segment::Attribute(self.name()?));
        }
        let name = self.name()?;
        let mut predicates = Vec::new();
        while self.eat('[') {
            predicates.push(self.predicate()?);
        }
        Ok(Segment::Element { name, predicates })
    }
}

impl BodyPath {
    /// Parses a path such as `Links/Link[@Rel="Delete"]/@Href`.
    pub fn parse(text: &str) -> Result<BodyPath, String> {
        let mut p = Parser { text, pos: 0 };
        let mut segments = Vec::new();
        loop {
            let segment = p.segment()?;
            let is_attribute = matches!(segment, Segment::Attribute(_));
            segments.push(segment);
            if p.peek().is_none() {
                break;
            }
            if is_attribute {
                return Err(p.error("an attribute (`@Name`) must be the last step"));
            }
            if !p.eat('/') {
                return Err(p.error("expected `/`, `[` or the end"));
            }
        }
        let mut path = BodyPath {
            source: text.to_string(),
            segments,
            fixed: None,
        };
        if path.vars().next().is_none() {
            path.fixed = path.resolve_each(&std::collections::BTreeMap::new()).ok();
        }
        Ok(path)
    }

    /// The path as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Placeholders used in predicate values.
    pub fn vars(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().flat_map(|s| match s {
            Segment::Element { predicates, .. } => predicates
                .iter()
                .flat_map(|p| p.value.vars())
                .collect::<Vec<_>>(),
            Segment::Attribute(_) => Vec::new(),
        })
    }

    /// Fills the placeholders in predicate values.
    pub fn resolve(&self, vars: &dyn Vars) -> Result<Cow<'_, ResolvedPath>, MissingVar> {
        match &self.fixed {
            Some(fixed) => Ok(Cow::Borrowed(fixed)),
            None => self.resolve_each(vars).map(Cow::Owned),
        }
    }

    fn resolve_each(&self, vars: &dyn Vars) -> Result<ResolvedPath, MissingVar> {
        let mut segments = Vec::with_capacity(self.segments.len());
        let mut text = Vec::new();
        for segment in &self.segments {
            match segment {
                Segment::Attribute(name) => {
                    text.push(format!("@{name}"));
                    segments.push(Segment::Attribute(name.clone()));
                }
                Segment::Element { name, predicates } => {
                    let mut resolved = Vec::new();
                    let mut seg_text = name.clone();
                    for p in predicates {
                        let value = p.value.render(vars)?;
                        seg_text.push_str(&format!("[{}={value:?}]", p.field));
                        resolved.push(Predicate {
                            field: p.field.clone(),
                            value,
                        });
                    }
                    text.push(seg_text);
                    segments.push(Segment::Element {
                        name: name.clone(),
                        predicates: resolved,
                    });
                }
            }
        }
        Ok(ResolvedPath {
            text: text.join("/"),
            segments,
        })
    }

    /// The path that `link = "Rel"` stands for.
    pub fn link_href(rel: &str) -> Result<BodyPath, String> {
        if rel.contains(['"', '\'']) {
            return Err(format!("invalid link relation {rel:?}"));
        }
        BodyPath::parse(&format!("Links/Link[@Rel=\"{rel}\"]/@Href"))
    }
}

impl<'de> Deserialize<'de> for BodyPath {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        BodyPath::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn parses_elements_predicates_and_attributes() {
        let p = BodyPath::parse(r#"Links/Link[@Rel="Delete"]/@Href"#).unwrap();
        let r = p.resolve(&BTreeMap::new()).unwrap();
        assert_eq!(r.text, r#"Links/Link[@Rel="Delete"]/@Href"#);
        assert_eq!(r.segments.len(), 3);
        assert_eq!(r.segments[2], Segment::Attribute("Href".into()));
    }

    #[test]
    fn fills_predicate_placeholders() {
        let p = BodyPath::parse("Task[TaskId='{{id}}']/State").unwrap();
        assert_eq!(p.vars().collect::<Vec<_>>(), ["id"]);
        let mut vars = BTreeMap::new();
        vars.insert("id".to_string(), "task-3".to_string());
        let r = p.resolve(&vars).unwrap();
        assert_eq!(r.text, r#"Task[TaskId="task-3"]/State"#);
    }

    #[test]
    fn rejects_malformed_paths() {
        for bad in [
            "",
            "@Href/State",
            "Links/",
            "Link[@Rel=Delete]",
            "Link[@Rel='x'",
            "1abc",
            "a b",
        ] {
            assert!(BodyPath::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
