//! An expectation file loads (and writes back to the same entries), or fails naming its file and position.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/invariants/mod.rs"]
mod invariants;

fuzz_target!(|data: &[u8]| invariants::expectation_file(data));
