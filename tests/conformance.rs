//! The conformance suite against the embedded fixture, as part of `cargo test`: the same command
//! line as `emconform` (filters and libtest flags work: `cargo test --test conformance -- retry`).

fn main() -> std::process::ExitCode {
    emconform::cli::test_harness_main(std::env::args_os())
}
