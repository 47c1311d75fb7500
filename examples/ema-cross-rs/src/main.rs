//! The full `scalper` CLI with one more strategy: `ema-cross-rs --strategy ema-cross-rs ...`.

fn main() -> std::process::ExitCode {
    scalper_cli::main_with(vec![scalper_example_ema_cross_rs::ema_cross_rs()])
}
