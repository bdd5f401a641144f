//! The typed content of a case file.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use toml::Spanned;

use super::template::Template;
use crate::body::{BodyPath, EM_NAMESPACE, Format};

/// How strongly the spec backs what a case checks (design note 6).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, serde::Serialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Documented by Veeam: a server that differs is wrong.
    Must,
    /// Seen on real servers: a server that differs is unusual.
    Should,
    /// Inferred: reported, but only run when asked for.
    May,
}

impl Level {
    /// Every level, strongest first.
    pub const ALL: [Level; 3] = [Level::Must, Level::Should, Level::May];

    /// `must`, `should` or `may`.
    pub fn name(self) -> &'static str {
        match self {
            Level::Must => "must",
            Level::Should => "should",
            Level::May => "may",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The body of a case file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseFile {
    /// One line: what the case checks.
    pub title: String,
    /// The section of the spec (`em-rest-api.md`) it checks, e.g. `2.2`, or `seed`.
    pub spec: Spanned<String>,
    /// Other sections whose facts its assertions also check (for the coverage table).
    #[serde(default)]
    pub covers: Vec<Spanned<String>>,
    /// How strongly the spec backs it.
    pub level: Level,
    /// Why the level: the evidence, or what the documentation leaves open.
    #[serde(default)]
    pub evidence: Option<String>,
    /// Free-form labels; `side-effects` marks cases that start, stop or retry a job.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Job roles the case needs (see `roles.rs`).
    #[serde(default)]
    pub jobs: Vec<Spanned<String>>,
    /// Formats it runs in; one trial each. Default: both.
    #[serde(default = "default_formats")]
    pub formats: Vec<Format>,
    /// The requests, in order.
    pub steps: Vec<Step>,
}

fn default_formats() -> Vec<Format> {
    Format::ALL.to_vec()
}

/// Which session token a request carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionChoice {
    /// The run's shared logon session (the default).
    Run,
    /// No session header at all.
    None,
    /// A well-formed token the server never issued.
    Invalid,
    /// A token captured by an earlier step, e.g. `{{own_session}}`.
    Token(Template),
}

impl<'de> Deserialize<'de> for SessionChoice {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(match s.as_str() {
            "run" => SessionChoice::Run,
            "none" => SessionChoice::None,
            "invalid" => SessionChoice::Invalid,
            other if other.contains("{{") => {
                SessionChoice::Token(Template::parse(other).map_err(de::Error::custom)?)
            }
            other => {
                return Err(de::Error::custom(format!(
                    "unknown session {other:?}: use \"run\", \"none\", \"invalid\" or a captured \
                     token such as \"{{{{my_session}}}}\""
                )));
            }
        })
    }
}

/// Credentials sent as `Authorization: Basic` (for logon requests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthChoice {
    /// The run's account.
    Basic,
    /// The run's user name with a password that is certainly wrong.
    WrongPassword,
    /// A user name that certainly does not exist (refused like a wrong password, but no real
    /// account collects a failed attempt towards a lockout).
    UnknownUser,
    /// The target's second, non-administrator account (a Portal User); a trial that needs it is
    /// ignored when the target has none.
    PortalUser,
}

/// The `Accept` header a request carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcceptChoice {
    /// The trial's format (`application/xml` or `application/json`): the default.
    Format,
    /// No `Accept` header at all.
    Omit,
    /// Exactly this value.
    Value(Template),
}

impl<'de> Deserialize<'de> for AcceptChoice {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(match s.as_str() {
            "none" => AcceptChoice::Omit,
            "format" => AcceptChoice::Format,
            other => AcceptChoice::Value(Template::parse(other).map_err(de::Error::custom)?),
        })
    }
}

/// An HTTP method token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Method(pub String);

impl<'de> Deserialize<'de> for Method {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.is_empty() || !s.chars().all(|c| c.is_ascii_uppercase()) {
            return Err(de::Error::custom(format!(
                "invalid method {s:?}: write it in capitals, e.g. \"POST\""
            )));
        }
        Ok(Method(s))
    }
}

/// Runs a step only if an earlier step ended with a given outcome.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct When {
    /// The earlier step's name.
    pub step: String,
    /// The `outcome` name of one of its `expect` alternatives.
    pub outcome: String,
}

/// One request and what must come back.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Unique within the case; used in messages and snapshot names.
    pub name: Spanned<String>,
    /// Skip this step unless an earlier one ended a given way.
    #[serde(default)]
    pub when: Option<Spanned<When>>,
    pub method: Method,
    /// Relative to the target's `/api/` base (`/jobs/{{job.failed}}`), or a captured absolute URL.
    pub path: Spanned<Template>,
    /// Query parameters appended to the path.
    #[serde(default)]
    pub query: BTreeMap<String, Template>,
    /// Extra request headers.
    #[serde(default)]
    pub headers: BTreeMap<String, Template>,
    /// The `Accept` header: the trial's format (default), `"none"`, or a literal value.
    #[serde(default)]
    pub accept: Option<AcceptChoice>,
    /// A request body, sent as is.
    #[serde(default)]
    pub body: Option<Template>,
    /// Which session to send.
    #[serde(default = "default_session")]
    pub session: SessionChoice,
    /// Send `Authorization: Basic` (logon requests).
    #[serde(default)]
    pub auth: Option<AuthChoice>,
    /// What must come back: one table, or several alternatives (`[[steps.expect]]`), of which the
    /// one whose status matches applies.
    pub expect: OneOrMany<Expect>,
    /// Re-send the request until the body says something (a task finishing).
    #[serde(default, rename = "await")]
    pub await_: Option<Await>,
    /// Name of the snapshot of this step's normalised response.
    #[serde(default)]
    pub snapshot: Option<Spanned<String>>,
    /// Run this step even after an earlier step failed (logging out a session the case opened,
    /// stopping a job it started); after a failure its own result does not count.
    #[serde(default)]
    pub cleanup: bool,
}

fn default_session() -> SessionChoice {
    SessionChoice::Run
}

/// A table or an array of tables. Deserialized by hand (not `untagged`) so that errors inside
/// either form keep their precise message and position.
#[derive(Debug, Clone)]
pub struct OneOrMany<T>(pub Vec<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = OneOrMany<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a table or an array of tables")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|t| OneOrMany(vec![t]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                if items.is_empty() {
                    return Err(de::Error::custom("expected at least one table"));
                }
                Ok(OneOrMany(items))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// Accepted status codes: `202`, `"4xx"`, or a list of those.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusSet(pub Vec<StatusPattern>);

/// One accepted status: an exact code or a class such as `4xx`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusPattern {
    Code(u16),
    Class(u16),
}

impl StatusPattern {
    fn parse_str(s: &str) -> Result<StatusPattern, String> {
        let bytes = s.as_bytes();
        if bytes.len() == 3
            && bytes[1..].eq_ignore_ascii_case(b"xx")
            && (b'1'..=b'5').contains(&bytes[0])
        {
            return Ok(StatusPattern::Class(u16::from(bytes[0] - b'0')));
        }
        match s.parse::<u16>() {
            Ok(code) => StatusPattern::code(i64::from(code)),
            Err(_) => Err(format!(
                "invalid status {s:?}: use a code such as 202 or a class such as \"4xx\""
            )),
        }
    }

    fn code(code: i64) -> Result<StatusPattern, String> {
        if (100..=599).contains(&code) {
            Ok(StatusPattern::Code(code as u16))
        } else {
            Err(format!(
                "invalid status {code}: must be between 100 and 599"
            ))
        }
    }

    /// Whether `status` is accepted.
    pub fn matches(self, status: u16) -> bool {
        match self {
            StatusPattern::Code(c) => c == status,
            StatusPattern::Class(c) => status / 100 == c,
        }
    }
}

impl fmt::Display for StatusPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StatusPattern::Code(c) => write!(f, "{c}"),
            StatusPattern::Class(c) => write!(f, "{c}xx"),
        }
    }
}

impl StatusSet {
    /// Whether `status` is accepted.
    pub fn matches(&self, status: u16) -> bool {
        self.0.iter().any(|p| p.matches(status))
    }
}

impl fmt::Display for StatusSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|p| p.to_string()).collect();
        f.write_str(&parts.join(" or "))
    }
}

impl<'de> Deserialize<'de> for StatusSet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StatusSet;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a status code (202), a class (\"4xx\") or a list of them")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<StatusSet, E> {
                StatusPattern::code(v)
                    .map(|p| StatusSet(vec![p]))
                    .map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<StatusSet, E> {
                self.visit_i64(i64::try_from(v).unwrap_or(i64::MAX))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<StatusSet, E> {
                StatusPattern::parse_str(v)
                    .map(|p| StatusSet(vec![p]))
                    .map_err(E::custom)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StatusSet, A::Error> {
                let mut out = Vec::new();
                while let Some(one) = seq.next_element::<StatusSet>()? {
                    out.extend(one.0);
                }
                if out.is_empty() {
                    return Err(de::Error::custom("the status list is empty"));
                }
                Ok(StatusSet(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// One acceptable response.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// Names this alternative, for `when` in later steps.
    #[serde(default)]
    pub outcome: Option<String>,
    pub status: Spanned<StatusSet>,
    #[serde(default)]
    pub headers: Vec<Spanned<HeaderAssert>>,
    /// Read the body as this format instead of the trial's (content negotiation cases).
    #[serde(default)]
    pub format: Option<Format>,
    /// The body must be empty (e.g. 204).
    #[serde(default)]
    pub empty: bool,
    #[serde(default)]
    pub body: Vec<Spanned<BodyAssert>>,
    /// Values to keep for later steps, by name.
    #[serde(default)]
    pub capture: BTreeMap<String, Spanned<Capture>>,
}

/// Re-send a request until its body satisfies every condition, within a deadline.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Await {
    pub until: Vec<Spanned<BodyAssert>>,
    /// Overrides the run's await deadline, e.g. `"2m"`.
    #[serde(default, deserialize_with = "de_duration")]
    pub deadline: Option<Duration>,
}

fn de_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    let s = String::deserialize(d)?;
    humantime::parse_duration(&s).map(Some).map_err(|e| {
        de::Error::custom(format!(
            "invalid duration {s:?}: {e} (write e.g. \"30s\", \"2m\")"
        ))
    })
}

/// What is expected of the value(s) a selector found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Predicate {
    /// Found (true) or not found (false).
    Present(bool),
    Equals(Template),
    OneOf(Vec<Template>),
    /// A regular expression; placeholder values inside it are matched literally.
    Matches(Template),
    Contains(Template),
    /// The media type, ignoring parameters such as `; charset=utf-8` (headers only).
    MediaType(Template),
}

impl Predicate {
    /// The templates the predicate uses.
    pub fn templates(&self) -> Vec<&Template> {
        match self {
            Predicate::Present(_) => Vec::new(),
            Predicate::Equals(t)
            | Predicate::Matches(t)
            | Predicate::Contains(t)
            | Predicate::MediaType(t) => vec![t],
            Predicate::OneOf(ts) => ts.iter().collect(),
        }
    }
}

/// The predicate fields shared by header and body assertions.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPredicate {
    equals: Option<Template>,
    one_of: Option<Vec<Template>>,
    matches: Option<Template>,
    contains: Option<Template>,
    media_type: Option<Template>,
    present: Option<bool>,
    absent: Option<bool>,
}

impl RawPredicate {
    fn into_predicate(self, allow_media_type: bool) -> Result<Predicate, String> {
        let mut found = Vec::new();
        if let Some(t) = self.equals {
            found.push(Predicate::Equals(t));
        }
        if let Some(ts) = self.one_of {
            if ts.is_empty() {
                return Err("`one_of` is empty".into());
            }
            found.push(Predicate::OneOf(ts));
        }
        if let Some(t) = self.matches {
            // Check the pattern now, with placeholders standing in as plain text.
            let probe = t
                .render_with(&AnyVars, |_| "x".to_string())
                .unwrap_or_default();
            regex::Regex::new(&probe).map_err(|e| format!("invalid pattern in `matches`: {e}"))?;
            found.push(Predicate::Matches(t));
        }
        if let Some(t) = self.contains {
            found.push(Predicate::Contains(t));
        }
        if let Some(t) = self.media_type {
            if !allow_media_type {
                return Err("`media_type` applies to headers only".into());
            }
            found.push(Predicate::MediaType(t));
        }
        if let Some(p) = self.present {
            found.push(Predicate::Present(p));
        }
        if let Some(a) = self.absent {
            found.push(Predicate::Present(!a));
        }
        match found.len() {
            1 => Ok(found.remove(0)),
            0 => Err("say what is expected: one of `equals`, `one_of`, `matches`, `contains`, `present`, `absent`".into()),
            _ => Err("give only one of `equals`, `one_of`, `matches`, `contains`, `media_type`, `present`, `absent`".into()),
        }
    }
}

/// Gives every placeholder a value; used to check patterns when a case is loaded.
struct AnyVars;

impl super::template::Vars for AnyVars {
    fn get(&self, _: &str) -> Option<String> {
        Some(String::new())
    }
}

/// A check on a response header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderAssert {
    /// Header name (case-insensitive).
    pub name: String,
    pub predicate: Predicate,
    /// Shown with a failure: why the spec wants this.
    pub note: Option<String>,
}

impl<'de> Deserialize<'de> for HeaderAssert {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // `flatten` and `deny_unknown_fields` do not combine in serde, so split the keys by hand.
        let table = toml::Table::deserialize(d)?;
        let name = match table.get("name") {
            Some(toml::Value::String(s)) => s.clone(),
            _ => {
                return Err(de::Error::custom(
                    "a header check needs `name = \"Header-Name\"`",
                ));
            }
        };
        let mut rest = table.clone();
        rest.remove("name");
        let note = take_string(&mut rest, "note").map_err(de::Error::custom)?;
        let predicate = RawPredicate::deserialize(toml::Value::Table(rest))
            .map_err(|e| de::Error::custom(e.message().to_string()))?
            .into_predicate(true)
            .map_err(de::Error::custom)?;
        Ok(HeaderAssert {
            name,
            predicate,
            note,
        })
    }
}

/// What a body assertion looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// The root element (XML: local name in a namespace; JSON: the body is an object).
    Root { name: String, namespace: String },
    /// The nodes a path finds.
    Path(BodyPath),
}

/// A check on the response body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyAssert {
    pub selector: Selector,
    /// Ignored for [`Selector::Root`].
    pub predicate: Predicate,
    /// Only check when this holds (e.g. "no `Result` while `State` is `Running`").
    pub when: Option<Box<BodyAssert>>,
    /// Shown with a failure: why the spec wants this.
    pub note: Option<String>,
}

impl<'de> Deserialize<'de> for BodyAssert {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let table = toml::Table::deserialize(d)?;
        body_assert_from_table(table).map_err(de::Error::custom)
    }
}

const SELECTOR_KEYS: [&str; 3] = ["root", "path", "link"];

fn take_string(table: &mut toml::Table, key: &str) -> Result<Option<String>, String> {
    match table.remove(key) {
        None => Ok(None),
        Some(toml::Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(format!(
            "`{key}` must be a string, not {}",
            other.type_str()
        )),
    }
}

fn body_assert_from_table(mut table: toml::Table) -> Result<BodyAssert, String> {
    let given: Vec<&str> = SELECTOR_KEYS
        .iter()
        .copied()
        .filter(|k| table.contains_key(*k))
        .collect();
    if given.len() != 1 {
        return Err(format!(
            "a body check needs exactly one of `root`, `path`, `link` (found {})",
            if given.is_empty() {
                "none".to_string()
            } else {
                given.join(", ")
            }
        ));
    }
    let note = take_string(&mut table, "note")?;
    let when = match table.remove("when") {
        None => None,
        Some(toml::Value::Table(t)) => Some(Box::new(
            body_assert_from_table(t).map_err(|e| format!("in `when`: {e}"))?,
        )),
        Some(other) => return Err(format!("`when` must be a table, not {}", other.type_str())),
    };
    if let Some(root) = take_string(&mut table, "root")? {
        let namespace =
            take_string(&mut table, "namespace")?.unwrap_or_else(|| EM_NAMESPACE.to_string());
        if let Some(key) = table.keys().next() {
            return Err(format!(
                "unknown field `{key}` in a `root` check, expected `namespace`, `note` or `when`"
            ));
        }
        return Ok(BodyAssert {
            selector: Selector::Root {
                name: root,
                namespace,
            },
            predicate: Predicate::Present(true),
            when,
            note,
        });
    }
    let path = if let Some(link) = take_string(&mut table, "link")? {
        BodyPath::link_href(&link)?
    } else {
        let p = take_string(&mut table, "path")?.unwrap_or_default();
        BodyPath::parse(&p)?
    };
    let predicate = RawPredicate::deserialize(toml::Value::Table(table))
        .map_err(|e| e.message().to_string())?
        .into_predicate(false)?;
    Ok(BodyAssert {
        selector: Selector::Path(path),
        predicate,
        when,
        note,
    })
}

/// Where a captured value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaptureSource {
    Header(String),
    Body(BodyPath),
}

/// A value kept for later steps.
#[derive(Debug, Clone)]
pub struct Capture {
    pub source: CaptureSource,
    /// A regular expression whose first group is kept instead of the whole value.
    pub pattern: Option<regex::Regex>,
    /// Treat the value as a secret (redacted everywhere). Session tokens always are.
    pub secret: bool,
}

impl<'de> Deserialize<'de> for Capture {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Raw {
            header: Option<String>,
            path: Option<BodyPath>,
            pattern: Option<String>,
            #[serde(default)]
            secret: bool,
        }
        let raw = Raw::deserialize(d)?;
        let source = match (raw.header, raw.path) {
            (Some(h), None) => CaptureSource::Header(h),
            (None, Some(p)) => CaptureSource::Body(p),
            _ => {
                return Err(de::Error::custom(
                    "a capture needs exactly one of `header` or `path`",
                ));
            }
        };
        let pattern = match raw.pattern {
            None => None,
            Some(p) => {
                let re = regex::Regex::new(&p)
                    .map_err(|e| de::Error::custom(format!("invalid `pattern`: {e}")))?;
                if re.captures_len() < 2 {
                    return Err(de::Error::custom(
                        "`pattern` needs a group `( )` around the part to keep",
                    ));
                }
                Some(re)
            }
        };
        let secret = raw.secret
            || matches!(&source, CaptureSource::Header(h) if h.eq_ignore_ascii_case("X-RestSvcSessionId"));
        Ok(Capture {
            source,
            pattern,
            secret,
        })
    }
}
