//! Exit codes and the one mapping from errors to them: 0 success, 1 other failure, 2
//! configuration or usage error, 3 authentication refused, 4 broker or network unavailable
//! after retries. It knows the error types, not the commands that return them.

use crate::config::ConfigError;

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
            return if bt.is_usage_error() { USAGE } else { FAILURE };
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

#[cfg(test)]
mod tests {
    use super::*;
    use scalper_ig::IgError;

    #[test]
    fn errors_map_to_documented_codes() {
        let cases: Vec<(anyhow::Error, u8)> = vec![
            (anyhow::anyhow!("boom"), FAILURE),
            (ConfigError::Usage("x".into()).into(), USAGE),
            (scalper_backtest::BacktestError::NoData.into(), USAGE),
            (
                anyhow::Error::from(scalper_backtest::BacktestError::EmptyRange)
                    .context("backtesting"),
                FAILURE,
            ),
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
