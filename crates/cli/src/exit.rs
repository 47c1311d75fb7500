//! Exit codes and the program's entry point: 0 success, 1 other failure, 2 configuration or
//! usage error, 3 authentication refused, 4 broker or network unavailable after retries.

use std::process::ExitCode;

use clap::Parser;

use crate::args::Cli;
use crate::config::ConfigError;
use crate::{commands, logging, Context};

pub const SUCCESS: u8 = 0;
pub const FAILURE: u8 = 1;
pub const USAGE: u8 = 2;
pub const AUTH_REFUSED: u8 = 3;
pub const UNAVAILABLE: u8 = 4;

/// The one mapping from errors to exit codes: the first typed error in the chain decides.
pub fn exit_code_for(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if cause.downcast_ref::<ConfigError>().is_some()
            || cause.downcast_ref::<clap::Error>().is_some()
        {
            return USAGE;
        }
        if let Some(bt) = cause.downcast_ref::<scalper_backtest::BacktestError>() {
            return if crate::commands::research::is_usage_error(bt) {
                USAGE
            } else {
                FAILURE
            };
        }
        if let Some(ig) = cause.downcast_ref::<scalper_ig::IgError>() {
            return match ig.exit_code() {
                3 => AUTH_REFUSED,
                4 => UNAVAILABLE,
                _ if ig.is_fatal() => USAGE,
                _ => FAILURE,
            };
        }
    }
    FAILURE
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

#[cfg(test)]
mod tests {
    use super::*;
    use scalper_ig::IgError;

    #[test]
    fn errors_map_to_documented_codes() {
        let cases: Vec<(anyhow::Error, u8)> = vec![
            (anyhow::anyhow!("boom"), FAILURE),
            (ConfigError::Usage("x".into()).into(), USAGE),
            (IgError::InvalidCredentials.into(), AUTH_REFUSED),
            (
                anyhow::Error::from(IgError::TooManyFailedAttempts).context("logging in"),
                AUTH_REFUSED,
            ),
            (
                IgError::Transport {
                    context: "login".into(),
                    detail: "refused".into(),
                }
                .into(),
                UNAVAILABLE,
            ),
            (
                IgError::Config {
                    detail: "bad".into(),
                }
                .into(),
                USAGE,
            ),
            (
                IgError::Api {
                    status: 404,
                    error_code: Some("error.public-api.epic-not-found".into()),
                    request_id: None,
                }
                .into(),
                FAILURE,
            ),
        ];
        for (err, code) in cases {
            assert_eq!(exit_code_for(&err), code, "{err:#}");
        }
    }
}
