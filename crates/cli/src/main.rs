//! The `scalper` binary.

fn main() -> std::process::ExitCode {
    scalper_cli::main_entry()
}
