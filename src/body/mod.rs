//! Reading response bodies: the two representations (XML, JSON), the path syntax that points into
//! them, and the namespace-aware / key-based lookup that evaluates a path.

pub mod doc;
pub mod json;
pub mod path;

use std::fmt;

use serde::Deserialize;

pub use doc::{Document, Lookup, ParseError};
pub use path::{BodyPath, ResolvedPath};

/// The namespace of every Enterprise Manager resource (spec §2.1).
pub const EM_NAMESPACE: &str = "http://www.veeam.com/ent/v1.0";

/// A representation of a resource; a case runs once per format it lists.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, serde::Serialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Xml,
    Json,
}

impl Format {
    /// Both formats, in trial order.
    pub const ALL: [Format; 2] = [Format::Xml, Format::Json];

    /// The media type a client asks for and a server answers with.
    pub fn mime(self) -> &'static str {
        match self {
            Format::Xml => "application/xml",
            Format::Json => "application/json",
        }
    }

    /// `xml` or `json`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Xml => "xml",
            Format::Json => "json",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
