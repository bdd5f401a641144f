//! The case file format: what a conformance case says (model), and how case files are found and
//! read (load). See `cases/README.md` for the format by example.
//!
//! The model is plain serde types with `deny_unknown_fields`; fields whose text has a syntax of its
//! own (placeholders, paths, patterns, status sets, durations) validate while they deserialize, so
//! every mistake is reported by the TOML reader with the file, line and column of the value.

pub mod load;
pub mod model;
pub mod template;

pub use load::{Case, LoadError, case_id, load_case, load_cases};
pub use model::*;
pub use template::{MissingVar, Template, Vars};
