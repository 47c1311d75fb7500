//! `scalper config check`: every source, every variable (redacted) with its provenance, the
//! environment and every problem, including the TOML sections `run` reads (`[engine]`,
//! `[journal]`), checked exactly as `run` checks them. Exit 0 when complete, 2 otherwise.

use std::process::ExitCode;

use crate::args::ConfigCheckArgs;
use crate::exit::{SUCCESS, USAGE};
use crate::output::print_json;
use crate::Context;

pub fn run(args: &ConfigCheckArgs, ctx: &Context) -> anyhow::Result<ExitCode> {
    let report = ctx.config();
    let extra = run_sections(ctx);
    if args.json {
        let mut j = report.to_json();
        if !extra.is_empty() {
            if let Some(list) = j.get_mut("problems").and_then(|p| p.as_array_mut()) {
                list.extend(extra.iter().cloned().map(serde_json::Value::String));
            }
            j["complete"] = serde_json::Value::Bool(false);
        }
        print_json(&j);
    } else {
        out!("{}", report.to_text());
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
    out
}
