//! `scalper config check`: every source, every variable (redacted) with its provenance, the
//! environment and every problem. Exit 0 when complete, 2 otherwise.

use std::process::ExitCode;

use crate::args::ConfigCheckArgs;
use crate::exit::{SUCCESS, USAGE};
use crate::output::print_json;
use crate::Context;

pub fn run(args: &ConfigCheckArgs, ctx: &Context) -> anyhow::Result<ExitCode> {
    let report = ctx.config();
    if args.json {
        print_json(&report.to_json());
    } else {
        out!("{}", report.to_text());
    }
    for w in &report.warnings {
        tracing::debug!(warning = %w, "config check");
    }
    Ok(ExitCode::from(if report.is_complete() {
        SUCCESS
    } else {
        USAGE
    }))
}
