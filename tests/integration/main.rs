//! The integration tests, as one test binary: the `emconform` binary as users run it (`cli`,
//! `gating`), against `emconform serve`-style servers (`remote`) and misbehaving ones
//! (`hostile`), and the property tests (`properties`).
//!
//! One binary, not one per file: cargo runs test binaries one after another, so in separate
//! binaries every test that waits out a bound (a request timeout, an await deadline) held up
//! everything after it, and each binary was linked on its own. Here they run side by side with
//! the rest. Run one file's tests with a filter: `cargo test --test integration hostile::`.
//!
//! The soak (`tests/soak.rs`, which counts the process's allocations and file descriptors) and
//! the secrets test (`tests/secrets.rs`, which configures insta before any thread starts) need a
//! process of their own.

#[path = "../support/mod.rs"]
mod support;

#[path = "../invariants/mod.rs"]
mod invariants;

mod cli;
mod gating;
mod hostile;
mod properties;
mod remote;
