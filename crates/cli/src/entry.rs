//! The program's entry point: parses the command line, sets up logging, runs the command and
//! maps its outcome to an exit code (through [`crate::exit`]).

use std::process::ExitCode;
use std::sync::Arc;

use scalper_engine::strategy::{register, StrategyFactory};

use clap::Parser;

use crate::args::Cli;
use crate::exit::{exit_code_for, FAILURE, USAGE};
use crate::{commands, logging, Context};

/// The `scalper` program with more strategies: each factory is [`register`]ed before the
/// command line is read, so `--strategy NAME`, `[engine] strategy = { kind = "NAME", ... }`,
/// `--set`, `sweep` and `run`/`demo` know it as they know the built-ins. A custom binary's
/// `main` is one line (see `examples/ema-cross-rs`):
///
/// ```no_run
/// use scalper_engine::strategy::{factory, EmaCross, EmaCrossConfig};
///
/// fn main() -> std::process::ExitCode {
///     let my_ema = factory("my-ema", |p: EmaCrossConfig, _instrument| EmaCross::new(p));
///     scalper_cli::main_with(vec![my_ema])
/// }
/// ```
///
/// [`register`]: scalper_engine::strategy::register
pub fn main_with(strategies: Vec<Arc<dyn StrategyFactory>>) -> ExitCode {
    for factory in strategies {
        let name = factory.name().to_string();
        if let Err(e) = register(factory) {
            eprintln!("error: strategy {name:?}: {e}");
            return ExitCode::from(USAGE);
        }
    }
    main_entry()
}

/// Parses the command line, sets up logging, runs the command and maps its outcome.
pub fn main_entry() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // clap: 0 for --help/--version, 2 for usage errors.
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(USAGE));
        }
    };
    // The soak's in-process sandbox logs every fault it injects: those go to the log file;
    // the console shows the soak's progress and report unless -v asks for more.
    let mut global = cli.global.clone();
    if matches!(cli.command, crate::args::Command::Soak(_)) && global.verbose == 0 {
        global.quiet = global.quiet.max(2);
    }
    let guard = match logging::init(&global) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(USAGE);
        }
    };
    let ctx = match Context::from_process(cli.global.clone()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(USAGE);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(FAILURE);
        }
    };
    let outcome = runtime.block_on(commands::dispatch(&cli.command, &ctx));
    let code = match outcome {
        Ok(code) => code,
        Err(e) => {
            let code = exit_code_for(&e);
            tracing::error!(target: logging::FILE_ONLY, exit_code = code, "{e:#}");
            eprintln!("error: {e:#}");
            ExitCode::from(code)
        }
    };
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    drop(guard);
    code
}
