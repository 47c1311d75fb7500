//! `--http` for `run` and `demo`: starts the observability server (crates/observe) before the
//! run, with control endpoints when `SCALPER_CONTROL_TOKEN` is set, and the systemd
//! notifications when started by systemd.

use scalper_live::{RunOptions, Telemetry, TelemetryView};
use scalper_observe::{HttpConfig, ObserveError, Server};

use crate::args::HttpArgs;
use crate::config::ConfigError;

/// The environment variable holding the control endpoints' bearer token.
pub const CONTROL_TOKEN_VAR: &str = "SCALPER_CONTROL_TOKEN";

/// Refuses a non-loopback `--http` without `--http-allow-remote`, before anything starts.
pub fn check(http: &HttpArgs) -> Result<(), ConfigError> {
    match http.http {
        Some(addr) if !addr.ip().is_loopback() && !http.http_allow_remote => Err(
            ConfigError::Usage(ObserveError::NonLoopback { addr }.to_string()),
        ),
        _ => Ok(()),
    }
}

/// Starts the HTTP server when `--http` is given and wires its telemetry and the service
/// notifications into `opts`. The server stops when the returned handle is shut down. `shared`:
/// the view of telemetry the caller already put into `opts` (the alerts'), served as is.
pub async fn attach(
    http: &HttpArgs,
    opts: &mut RunOptions,
    shared: Option<TelemetryView>,
) -> anyhow::Result<Option<Server>> {
    #[cfg(unix)]
    if let Some(systemd) = scalper_observe::service::Systemd::from_env() {
        opts.service = Some(std::sync::Arc::new(systemd));
    }
    let Some(addr) = http.http else {
        return Ok(None);
    };
    let control_token = std::env::var(CONTROL_TOKEN_VAR)
        .ok()
        .map(secrecy::SecretString::from);
    let control = control_token.is_some();
    let (telemetry, view): (Option<Telemetry>, _) = match shared {
        Some(view) if opts.telemetry.is_some() => (None, view),
        _ => {
            let (t, v) = scalper_live::telemetry();
            (Some(t), v)
        }
    };
    let view = match crate::logging::log_tail() {
        Some(tail) => view.with_log(tail),
        None => view,
    };
    let server = Server::start(
        HttpConfig {
            addr,
            allow_remote: http.http_allow_remote,
            control_token,
        },
        view,
    )
    .await
    .map_err(|e| match e {
        e @ (ObserveError::NonLoopback { .. } | ObserveError::EmptyToken) => {
            anyhow::Error::from(ConfigError::Usage(e.to_string()))
        }
        e @ ObserveError::Bind { .. } => anyhow::Error::from(e),
    })?;
    let bound = server.local_addr();
    eprintln!(
        "http: listening on http://{bound} (the status page at /; /metrics, /health, /health/ready, /api/status; control {})",
        if control {
            "on: POST /api/halt, /api/flatten, /api/resume with the bearer token"
        } else {
            "off: SCALPER_CONTROL_TOKEN is not set"
        }
    );
    if let Some(t) = telemetry {
        opts.telemetry = Some(t);
    }
    Ok(Some(server))
}
