//! A JSON body as checks and snapshots read it: strings borrowed from the body where they hold no
//! escape, objects as a list of members.
//!
//! `serde_json::Value` (with the `preserve_order` the fixture needs for EM's key order) copies
//! every key and string and hashes every key into an index map; for the small objects EM answers
//! with, that was about half of what reading a JSON body cost a trial. Lookups scan a handful of
//! members instead. The meaning is `Value`'s: a key given twice keeps its first place and its last
//! value, numbers are `serde_json::Number`s, nesting stops at serde_json's 128 levels.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap as _, SerializeSeq as _, Serializer};

/// A parsed JSON value borrowing from the text it was read from.
#[derive(Debug, Clone, PartialEq)]
pub enum Json<'a> {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(Cow<'a, str>),
    Array(Vec<Json<'a>>),
    Object(Object<'a>),
}

/// A JSON object: its members in the order their keys first appear, each key once.
#[derive(Debug, Clone, Default)]
pub struct Object<'a> {
    members: Vec<(Cow<'a, str>, Json<'a>)>,
}

/// Above this many members, a duplicate key is found through a hash map instead of a scan, so that
/// a hostile object of a million keys does not take a million squared comparisons.
const SCANNED_MEMBERS: usize = 16;

/// Parses `text` (which must not start with a byte-order mark).
pub fn parse(text: &str) -> Result<Json<'_>, serde_json::Error> {
    serde_json::from_str(text)
}

impl<'a> Json<'a> {
    pub fn is_null(&self) -> bool {
        matches!(self, Json::Null)
    }

    pub fn as_object(&self) -> Option<&Object<'a>> {
        match self {
            Json::Object(object) => Some(object),
            _ => None,
        }
    }

    /// What kind of value it is, as a hint says it ("a string").
    pub fn kind(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "a boolean",
            Json::Number(_) => "a number",
            Json::String(_) => "a string",
            Json::Array(_) => "an array",
            Json::Object(_) => "an object",
        }
    }
}

/// Compact JSON, members in their order (what `Value`'s `to_string` gives).
impl fmt::Display for Json<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = serde_json::to_string(self).map_err(|_| fmt::Error)?;
        f.write_str(&text)
    }
}

impl<'a> Object<'a> {
    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&Json<'a>> {
        self.members
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, value)| value)
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.members.iter().map(|(k, _)| k.as_ref())
    }

    pub fn values(&self) -> impl Iterator<Item = &Json<'a>> {
        self.members.iter().map(|(_, value)| value)
    }

    /// The members in the order their keys first appear.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Json<'a>)> {
        self.members.iter().map(|(k, v)| (k.as_ref(), v))
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }
}

/// Equal members, in any order (as `Value`'s maps compare).
impl PartialEq for Object<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|(k, v)| other.get(k) == Some(v))
    }
}

impl Serialize for Json<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Json::Null => serializer.serialize_unit(),
            Json::Bool(b) => serializer.serialize_bool(*b),
            Json::Number(n) => n.serialize(serializer),
            Json::String(s) => serializer.serialize_str(s),
            Json::Array(items) => {
                let mut out = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    out.serialize_element(item)?;
                }
                out.end()
            }
            Json::Object(object) => {
                let mut out = serializer.serialize_map(Some(object.len()))?;
                for (key, value) in object.iter() {
                    out.serialize_entry(key, value)?;
                }
                out.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Json<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

/// A key, borrowed when it has no escape.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_str(JsonVisitor)
            .and_then(|v| match v {
                Json::String(s) => Ok(Key(s)),
                other => Err(de::Error::custom(format!(
                    "a key must be a string, not {}",
                    other.kind()
                ))),
            })
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Json<'de>, E> {
        Ok(Json::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Json<'de>, E> {
        Ok(Json::Number(n.into()))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Json<'de>, E> {
        Ok(Json::Number(n.into()))
    }

    fn visit_f64<E>(self, n: f64) -> Result<Json<'de>, E> {
        // As `Value` does: JSON has no NaN or infinity, so this is only ever a number.
        Ok(serde_json::Number::from_f64(n).map_or(Json::Null, Json::Number))
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Borrowed(s)))
    }

    fn visit_str<E>(self, s: &str) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Owned(s.to_string())))
    }

    fn visit_string<E>(self, s: String) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Owned(s)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json<'de>, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json<'de>, A::Error> {
        let mut members: Vec<(Cow<'de, str>, Json<'de>)> = Vec::new();
        // Built only for objects too large to scan.
        let mut index: Option<HashMap<Cow<'de, str>, usize>> = None;
        while let Some(Key(key)) = map.next_key()? {
            let value: Json<'de> = map.next_value()?;
            let seen = match &mut index {
                Some(index) => index.get(&key).copied(),
                None => members.iter().position(|(k, _)| *k == key),
            };
            match seen {
                Some(at) => members[at].1 = value,
                None => {
                    if let Some(index) = &mut index {
                        index.insert(key.clone(), members.len());
                    }
                    members.push((key, value));
                    if index.is_none() && members.len() > SCANNED_MEMBERS {
                        index = Some(
                            (members.iter().enumerate())
                                .map(|(at, (k, _))| (k.clone(), at))
                                .collect(),
                        );
                    }
                }
            }
        }
        Ok(Json::Object(Object { members }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `serde_json::Value` (with `preserve_order`) makes of `text`, written compactly.
    fn as_value_writes(text: &str) -> String {
        serde_json::from_str::<serde_json::Value>(text)
            .expect("valid JSON")
            .to_string()
    }

    #[test]
    fn reads_and_writes_as_serde_json_values_do() {
        for text in [
            r#"{"b":1,"a":[true,null,"x\"y",-2,1.5e300,0.1],"c":{"d":{}},"e":[]}"#,
            r#"{"k":1,"k":2,"j":3,"k":4}"#,
            r#""\u00e9t\u00e9""#,
            "18446744073709551615",
            "-9223372036854775808",
            "123456789012345678901234567890",
            "[1e-7, 2.0, 3]",
        ] {
            let parsed = parse(text).expect("valid JSON");
            assert_eq!(parsed.to_string(), as_value_writes(text), "{text}");
        }
    }

    #[test]
    fn a_repeated_key_keeps_its_place_and_its_last_value() {
        // Past the scanned size, where duplicates are found through the index.
        let mut text = String::from("{");
        for n in 0..40 {
            text.push_str(&format!("\"k{n}\":{n},"));
        }
        text.push_str("\"k3\":\"again\",\"k39\":null}");
        let parsed = parse(&text).expect("valid JSON");
        assert_eq!(parsed.to_string(), as_value_writes(&text));
        let object = parsed.as_object().expect("an object");
        assert_eq!(object.len(), 40);
        assert_eq!(object.get("k3"), Some(&Json::String("again".into())));
        assert!(object.get("k39").is_some_and(Json::is_null));
    }

    #[test]
    fn numbers_are_numbers_and_objects_compare_in_any_order() {
        // With serde_json's `arbitrary_precision` (which no crate here turns on), numbers would
        // reach the visitor as maps: this says so.
        assert!(matches!(parse("1"), Ok(Json::Number(_))));
        assert!(matches!(parse("1.5"), Ok(Json::Number(_))));
        assert_eq!(
            parse(r#"{"a":1,"b":[2]}"#).ok(),
            parse(r#"{"b":[2],"a":1}"#).ok()
        );
        assert_ne!(parse(r#"{"a":1}"#).ok(), parse(r#"{"a":1,"b":2}"#).ok());
    }

    #[test]
    fn strings_without_escapes_are_borrowed() {
        let parsed = parse(r#"{"Name":"plain","Escaped":"a\nb"}"#).expect("valid JSON");
        let object = parsed.as_object().expect("an object");
        assert!(matches!(
            object.get("Name"),
            Some(Json::String(Cow::Borrowed("plain")))
        ));
        assert!(matches!(object.get("Escaped"), Some(Json::String(Cow::Owned(s))) if s == "a\nb"));
    }

    #[test]
    fn errors_are_serde_jsons() {
        for text in ["{", "[1,]", "{\"a\" 1}", "nul", "{\"a\":1} x"] {
            let ours = parse(text).expect_err("invalid").to_string();
            let theirs = serde_json::from_str::<serde_json::Value>(text)
                .expect_err("invalid")
                .to_string();
            assert_eq!(ours, theirs, "{text}");
        }
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert!(parse(&deep).is_err(), "nesting stops at 128 levels");
    }
}
