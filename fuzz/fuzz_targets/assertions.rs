//! Body and header assertions (the bytes before the first NUL) evaluate against any body (the bytes after it) without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/invariants/mod.rs"]
mod invariants;

fuzz_target!(|data: &[u8]| invariants::assertions(data));
