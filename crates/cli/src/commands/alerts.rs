//! `scalper alerts test` (one test message to each configured channel, each one's outcome),
//! and the alerts of `run` and `demo`: started before the run with the watcher on its
//! telemetry, the start, stop, refused-login and broker-failure alerts sent from here, and the
//! queue given a bounded time to drain at the end.

use std::process::ExitCode;
use std::time::Duration;

use scalper_alerts::{Alerts, ChannelConfig, Dispatcher, Event, Watcher};
use scalper_live::{LiveError, RunOptions, RunReport, TelemetryView};

use crate::args::AlertsTestArgs;
use crate::config::ConfigError;
use crate::exit::{FAILURE, SUCCESS, USAGE};
use crate::output::print_json;
use crate::Context;

/// How long the end of a run waits for queued alerts.
const DRAIN: Duration = Duration::from_secs(10);

pub async fn test(args: &AlertsTestArgs, ctx: &Context) -> anyhow::Result<ExitCode> {
    check(ctx)?;
    let settings = ctx.alerts();
    let Some(cfg) = settings.config.as_ref().filter(|c| !c.channels.is_empty()) else {
        let msg = "no alert channel is configured: add [alerts.webhook], [alerts.slack], [alerts.telegram] or [alerts.email] to scalper.toml (see the README's Alerts section), with the secrets in SCALPER_ALERTS_* variables";
        if args.json {
            print_json(&serde_json::json!({ "ok": false, "channels": [], "error": msg }));
        } else {
            eprintln!("{msg}");
        }
        return Ok(ExitCode::from(USAGE));
    };
    let results = scalper_alerts::test_channels(cfg, &settings.redactor)
        .await
        .map_err(|e| ConfigError::Usage(e.to_string()))?;
    let ok = results.iter().all(|(_, r)| r.is_ok());
    if args.json {
        let channels: Vec<serde_json::Value> = results
            .iter()
            .map(|(name, r)| match r {
                Ok(()) => serde_json::json!({ "channel": name, "ok": true }),
                Err(e) => serde_json::json!({
                    "channel": name, "ok": false, "error": e.message, "retryable": e.retryable,
                }),
            })
            .collect();
        print_json(&serde_json::json!({ "ok": ok, "channels": channels }));
    } else {
        for (name, r) in &results {
            match r {
                Ok(()) => outln!("{name:<9} ok: test message sent"),
                Err(e) => outln!(
                    "{name:<9} FAILED: {}{}",
                    e.message,
                    if e.retryable {
                        " (may be temporary: try again)"
                    } else {
                        ""
                    }
                ),
            }
        }
        let failed = results.iter().filter(|(_, r)| r.is_err()).count();
        if failed > 0 {
            outln!("{failed} of {} channel(s) failed", results.len());
        }
    }
    Ok(ExitCode::from(if ok { SUCCESS } else { FAILURE }))
}

/// Refuses a bad `[alerts]` (every problem listed), before a run starts anything.
pub fn check(ctx: &Context) -> Result<(), ConfigError> {
    // A scalper.toml that does not parse leaves no [alerts] to read: its problems come first.
    let toml_path = ctx.config().toml_path().display().to_string();
    let problems: Vec<&String> = ctx
        .config()
        .problems
        .iter()
        .filter(|p| p.starts_with(&toml_path))
        .chain(&ctx.alerts().problems)
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ConfigError::Invalid(format!(
            "[alerts] (see `scalper config check`):\n  - {}",
            problems
                .iter()
                .map(|p| p.as_str())
                .collect::<Vec<_>>()
                .join("\n  - ")
        )))
    }
}

/// A run's alerts: the sending side, the delivery tasks and the watcher.
#[derive(Debug)]
pub struct RunAlerts {
    alerts: Alerts,
    dispatcher: Dispatcher,
    watcher: Watcher,
    view: TelemetryView,
}

/// Starts the alerts when `[alerts]` configures a channel: the run gets telemetry (shared with
/// `--http`, see [`RunAlerts::view`]) and the watcher reads it. Refuses a bad `[alerts]` before
/// anything starts.
pub fn start(ctx: &Context, opts: &mut RunOptions) -> anyhow::Result<Option<RunAlerts>> {
    check(ctx)?;
    let settings = ctx.alerts();
    let Some(cfg) = settings.config.as_ref().filter(|c| !c.channels.is_empty()) else {
        return Ok(None);
    };
    let (telemetry, view) = scalper_live::telemetry();
    opts.telemetry = Some(telemetry);
    let (alerts, dispatcher) = Alerts::start(cfg, view.alerts(), settings.redactor.clone())
        .map_err(|e| ConfigError::Usage(format!("[alerts]: {e}")))?;
    let watcher = scalper_alerts::watch::spawn(&view, alerts.clone(), cfg.watch);
    let names: Vec<&str> = cfg.channels.iter().map(ChannelConfig::name).collect();
    eprintln!("alerts: {}", names.join(", "));
    Ok(Some(RunAlerts {
        alerts,
        dispatcher,
        watcher,
        view,
    }))
}

impl RunAlerts {
    /// The telemetry the watcher reads, for `--http` to serve too.
    pub fn view(&self) -> TelemetryView {
        self.view.clone()
    }

    pub fn notify(&self, event: &Event) {
        self.alerts.notify(event);
    }

    /// After the run: what ended it, the stop alert, then at most [`DRAIN`] for delivery.
    pub async fn finish(self, result: &Result<RunReport, LiveError>) {
        self.watcher.finish().await;
        for ev in end_events(result) {
            self.alerts.notify(&ev);
        }
        drop(self.alerts);
        self.dispatcher.finish(DRAIN).await;
    }
}

/// The alerts for how a run ended: a refused login or broker failure first, then the stop.
fn end_events(result: &Result<RunReport, LiveError>) -> Vec<Event> {
    let mut out = Vec::new();
    match result {
        Ok(r) => {
            if r.exit_code != 0 {
                out.push(Event::BrokerFailure {
                    detail: format!("the run ended: {}", r.ended),
                });
            }
            out.push(Event::Stopped {
                ended: r.ended.clone(),
                trades: r.trades,
                pnl: r.pnl,
                currency: r.currency.clone(),
                open_positions: r.open_positions,
                paper_fallback: r.paper_fallback,
            });
        }
        Err(e) => {
            let detail = scalper_alerts::channel::error_chain(e);
            match e {
                LiveError::Broker { source, .. } if source.exit_code() == 3 => {
                    out.push(Event::LoginRefused {
                        detail: detail.clone(),
                    });
                }
                LiveError::Broker { .. } => out.push(Event::BrokerFailure {
                    detail: detail.clone(),
                }),
                LiveError::NeedsOperator => out.push(Event::Reconciliation {
                    detail: detail.clone(),
                }),
                LiveError::Journal { .. } => out.push(Event::JournalFailure {
                    detail: detail.clone(),
                }),
                _ => {}
            }
            out.push(Event::Stopped {
                ended: format!("error: {detail}"),
                trades: 0,
                pnl: scalper_model::Money::ZERO,
                currency: None,
                open_positions: 0,
                paper_fallback: false,
            });
        }
    }
    out
}

/// Runs `scalper_live::run` with the run's observers: `[alerts]` (the start alert first, the
/// end alerts after) and the `--http` server, both stopped when the run ends. The outer error
/// is a bad `[alerts]` or `--http`; the inner one the run's own.
#[allow(clippy::too_many_arguments)]
pub async fn run_observed(
    ctx: &Context,
    http: &crate::args::HttpArgs,
    mut opts: RunOptions,
    mode: &str,
    environment: &str,
    client: scalper_ig::IgClient,
    engine_cfg: scalper_engine::EngineConfig,
    epics: Vec<scalper_model::Epic>,
) -> anyhow::Result<Result<RunReport, LiveError>> {
    let alerts = start(ctx, &mut opts)?;
    let server =
        crate::commands::observe::attach(http, &mut opts, alerts.as_ref().map(RunAlerts::view))
            .await?;
    if let Some(a) = &alerts {
        a.notify(&started(mode, environment, &epics));
    }
    // Boxed: the run's future is large, and this one holds it across the observers' awaits.
    let result = Box::pin(scalper_live::run(client, engine_cfg, epics, opts)).await;
    if let Some(s) = server {
        s.shutdown().await;
    }
    if let Some(a) = alerts {
        a.finish(&result).await;
    }
    Ok(result)
}

/// The start alert.
pub fn started(mode: &str, environment: &str, instruments: &[scalper_model::Epic]) -> Event {
    Event::Started {
        mode: mode.into(),
        environment: environment.into(),
        instruments: instruments.iter().map(ToString::to_string).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_login_is_told_as_such_then_the_stop() {
        let e = LiveError::Broker {
            context: "logging in".into(),
            source: scalper_ig::IgError::InvalidCredentials,
        };
        let evs = end_events(&Err(e));
        assert_eq!(evs.len(), 2);
        assert_eq!(evs[0].kind(), "login_refused");
        assert_eq!(evs[1].kind(), "stop");
    }
}
