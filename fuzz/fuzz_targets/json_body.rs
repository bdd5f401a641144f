//! Normalising any body as JSON never panics; the canonical form is a fixed point and independent of key order and whitespace.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/invariants/mod.rs"]
mod invariants;

fuzz_target!(|data: &[u8]| invariants::json_body(data));
