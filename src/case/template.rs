//! `{{name}}` placeholders in case files.
//!
//! Paths, header values, bodies and expected values may refer to values known only at run time:
//! the job playing a role (`{{job.failed}}`), something captured by an earlier step
//! (`{{task_href}}`), the trial's format (`{{mime}}`) or the response being checked
//! (`{{response.status}}`). A template is parsed when the case is loaded, so a malformed placeholder
//! is a load error, and rendered when the step runs.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer};

/// A piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Var(String),
}

/// A string with `{{name}}` placeholders.
#[derive(Clone, PartialEq, Eq)]
pub struct Template {
    source: String,
    parts: Vec<Part>,
}

impl fmt::Debug for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.source)
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// A placeholder that has no value where it is used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{{{{{name}}}}}` has no value here{hint}")]
pub struct MissingVar {
    /// The placeholder's name.
    pub name: String,
    /// Why, when known (starts with "; ").
    pub hint: String,
}

/// Values for placeholders, looked up by name.
pub trait Vars {
    /// The value of `name`, if it has one.
    fn get(&self, name: &str) -> Option<String>;
}

impl Vars for BTreeMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        BTreeMap::get(self, name).cloned()
    }
}

/// Characters allowed in a placeholder name.
fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')
}

impl Template {
    /// Parses `source`; fails on an unclosed or empty placeholder.
    pub fn parse(source: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut rest = source;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                parts.push(Part::Text(rest[..start].to_string()));
            }
            let after = &rest[start + 2..];
            let end = after
                .find("}}")
                .ok_or_else(|| format!("unclosed `{{{{` in {source:?}"))?;
            let name = after[..end].trim();
            if name.is_empty() || !name.chars().all(is_name_char) {
                return Err(format!(
                    "`{{{{{}}}}}` is not a valid placeholder (names use letters, digits, `_`, `-`, `.`)",
                    &after[..end]
                ));
            }
            parts.push(Part::Var(name.to_string()));
            rest = &after[end + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Ok(Template {
            source: source.to_string(),
            parts,
        })
    }

    /// A template without placeholders.
    pub fn literal(text: &str) -> Template {
        Template {
            source: text.to_string(),
            parts: vec![Part::Text(text.to_string())],
        }
    }

    /// The text as written in the case file.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The placeholder names, in order.
    pub fn vars(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Var(v) => Some(v.as_str()),
            Part::Text(_) => None,
        })
    }

    /// The text with the `i`-th placeholder (named `name`) written as `fill(i, name)`, whatever
    /// values there are: a shape of the template, such as a pattern with a group per placeholder.
    pub fn fill_each(&self, mut fill: impl FnMut(usize, &str) -> String) -> String {
        let mut out = String::new();
        let mut index = 0;
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Var(name) => {
                    out.push_str(&fill(index, name));
                    index += 1;
                }
            }
        }
        out
    }

    /// Fills the placeholders.
    pub fn render(&self, vars: &dyn Vars) -> Result<String, MissingVar> {
        self.fill(vars, |out, value| out.push_str(value))
    }

    /// Fills the placeholders, passing each value through `escape` (e.g. `regex::escape`) so a
    /// captured value is matched literally inside a pattern.
    pub fn render_with(
        &self,
        vars: &dyn Vars,
        escape: impl Fn(&str) -> String,
    ) -> Result<String, MissingVar> {
        self.fill(vars, |out, value| out.push_str(&escape(value)))
    }

    /// The text with each placeholder's value put in by `put`.
    fn fill(&self, vars: &dyn Vars, put: impl Fn(&mut String, &str)) -> Result<String, MissingVar> {
        // Sized for the usual values (ids and GUIDs about as long as their placeholders), so the
        // text is rarely copied as it grows.
        let mut out = String::with_capacity(self.source.len() + 32);
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Var(name) => match vars.get(name) {
                    Some(value) => put(&mut out, &value),
                    None => {
                        return Err(MissingVar {
                            name: name.clone(),
                            hint: String::new(),
                        });
                    }
                },
            }
        }
        Ok(out)
    }
}

impl<'de> Deserialize<'de> for Template {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Template::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn renders_placeholders() {
        let t = Template::parse("/jobs/{{job.failed}}?x={{ a }}").unwrap();
        assert_eq!(t.vars().collect::<Vec<_>>(), ["job.failed", "a"]);
        let out = t.render(&vars(&[("job.failed", "G"), ("a", "1")])).unwrap();
        assert_eq!(out, "/jobs/G?x=1");
    }

    #[test]
    fn missing_value_names_the_placeholder() {
        let t = Template::parse("{{nope}}").unwrap();
        let err = t.render(&vars(&[])).unwrap_err();
        assert_eq!(err.to_string(), "`{{nope}}` has no value here");
    }

    #[test]
    fn escapes_values_for_patterns() {
        let t = Template::parse("^{{base}}/tasks/$").unwrap();
        let out = t
            .render_with(&vars(&[("base", "http://h:1/api")]), regex::escape)
            .unwrap();
        assert_eq!(out, r"^http://h:1/api/tasks/$");
    }

    #[test]
    fn rejects_malformed_placeholders() {
        assert!(Template::parse("{{open").is_err());
        assert!(Template::parse("{{}}").is_err());
        assert!(Template::parse("{{a b}}").is_err());
        assert!(Template::parse("plain } and { text").is_ok());
    }
}
