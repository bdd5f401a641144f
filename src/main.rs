//! The `emconform` command: see `emconform --help`.

fn main() -> std::process::ExitCode {
    emconform::cli::main_with(std::env::args_os())
}
