//! `scalper config check`: every source, every variable (redacted) with its provenance, the
//! environment and every problem, including the TOML sections `run` reads (`[engine]`,
//! `[journal]`, `[alerts]` with each value's source), checked exactly as `run` checks them.
//! Exit 0 when complete, 2 otherwise.

use std::fmt::Write as _;
use std::process::ExitCode;

use scalper_alerts::ChannelConfig;

use crate::args::ConfigCheckArgs;
use crate::config::alerts::AlertsSettings;
use crate::config::Source;
use crate::exit::{SUCCESS, USAGE};
use crate::output::print_json;
use crate::Context;

pub fn run(args: &ConfigCheckArgs, ctx: &Context) -> anyhow::Result<ExitCode> {
    let report = ctx.config();
    let extra = run_sections(ctx);
    let alerts = ctx.alerts();
    if args.json {
        let mut j = report.to_json();
        j["alerts"] = alerts_json(alerts);
        if let Some(list) = j.get_mut("warnings").and_then(|p| p.as_array_mut()) {
            list.extend(
                alerts
                    .warnings
                    .iter()
                    .cloned()
                    .map(serde_json::Value::String),
            );
        }
        if !extra.is_empty() {
            if let Some(list) = j.get_mut("problems").and_then(|p| p.as_array_mut()) {
                list.extend(extra.iter().cloned().map(serde_json::Value::String));
            }
            j["complete"] = serde_json::Value::Bool(false);
        }
        print_json(&j);
    } else {
        out!("{}", report.to_text());
        if alerts.present || !alerts.warnings.is_empty() {
            out!("{}", alerts_text(alerts));
        }
        if !extra.is_empty() {
            outln!("Problems in the sections `run` reads:");
            for p in &extra {
                outln!("  - {p}");
            }
            outln!("Result: incomplete ({} problem(s) above)", extra.len());
        }
    }
    for w in &report.warnings {
        tracing::debug!(warning = %w, "config check");
    }
    Ok(ExitCode::from(
        if report.is_complete() && extra.is_empty() {
            SUCCESS
        } else {
            USAGE
        },
    ))
}

/// The problems `run` would find in `[engine]` and `[journal]`.
fn run_sections(ctx: &Context) -> Vec<String> {
    let mut out = Vec::new();
    if let Err(e) = crate::commands::run::engine_config(ctx) {
        out.push(format!("{e:#}"));
    }
    if let Err(e) = crate::commands::journal::journal_path(None, ctx) {
        out.push(e.to_string());
    }
    out.extend(ctx.alerts().problems.iter().cloned());
    out
}

/// `[alerts]`: each setting with its source (secrets redacted), and its warnings.
fn alerts_text(a: &AlertsSettings) -> String {
    let mut out = String::from("\nAlerts ([alerts]):\n");
    if !a.present {
        out.push_str("  not configured\n");
    }
    let channels: Vec<&str> = a
        .config
        .iter()
        .flat_map(|c| c.channels.iter().map(ChannelConfig::name))
        .collect();
    if a.present {
        let _ = writeln!(
            out,
            "  channels:           {}",
            if channels.is_empty() {
                "none usable (see the problems and warnings)".to_string()
            } else {
                channels.join(", ")
            }
        );
    }
    for s in &a.settings {
        let from = if s.source == Source::Default {
            "default".to_string()
        } else {
            format!("from {}", s.source)
        };
        let _ = writeln!(out, "  {:<32}{:<44} {from}", s.key, s.shown);
    }
    for w in &a.warnings {
        let _ = writeln!(out, "  warning: {w}");
    }
    out
}

fn alerts_json(a: &AlertsSettings) -> serde_json::Value {
    let settings: serde_json::Map<String, serde_json::Value> = a
        .settings
        .iter()
        .map(|s| {
            (
                s.key.clone(),
                serde_json::json!({
                    "value": s.shown,
                    "source": s.source.to_string(),
                    "source_kind": s.source.kind(),
                    "secret": s.secret,
                }),
            )
        })
        .collect();
    serde_json::json!({
        "configured": a.present,
        "channels": a.config.iter().flat_map(|c| c.channels.iter().map(ChannelConfig::name)).collect::<Vec<_>>(),
        "settings": settings,
        "problems": a.problems,
        "warnings": a.warnings,
    })
}
