//! Normalising any body as XML never panics; the canonical form is a fixed point and independent of prefixes, attribute order and whitespace.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/invariants/mod.rs"]
mod invariants;

fuzz_target!(|data: &[u8]| invariants::xml_body(data));
