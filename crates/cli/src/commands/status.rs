//! `scalper status`: what a running engine is doing, from its `--http` server's `/api/status`;
//! when no run answers, the open and latest trades from the journal.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use scalper_journal::{Journal, OpenOptions, TradeFilter};
use scalper_model::DealState;
use serde_json::Value;

use crate::args::StatusArgs;
use crate::exit::SUCCESS;
use crate::output::print_json;
use crate::Context;

pub async fn run(args: &StatusArgs, ctx: &Context) -> anyhow::Result<ExitCode> {
    let url = format!("{}/api/status", args.url.trim_end_matches('/'));
    match fetch(&url).await {
        Ok(status) => {
            if args.json {
                print_json(&status);
            } else {
                print_status(&status);
            }
            Ok(ExitCode::from(SUCCESS))
        }
        Err(e) => {
            eprintln!("no run answers at {url} ({e:#}); reading the journal");
            from_journal(args, ctx)
        }
    }
}

async fn fetch(url: &str) -> anyhow::Result<Value> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .context("building the HTTP client")?;
    let r = client.get(url).send().await.context("connecting")?;
    anyhow::ensure!(r.status().is_success(), "HTTP {}", r.status());
    r.json().await.context("reading the status")
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn print_status(s: &Value) {
    let cur = s["pnl"]["currency"].as_str().unwrap_or("");
    outln!(
        "phase {}  session {}  stream {}  {}",
        text(&s["phase"]),
        text(&s["session"]["state"]),
        text(&s["stream"]["state"]),
        match s["halted"].as_str() {
            Some(h) => format!("HALTED: {h}"),
            None => "entries on".into(),
        }
    );
    outln!(
        "P&L realised {} {cur}, unrealised {} {cur}, day {} {cur}; trades {} ({} won, {} lost); quotes {}",
        text(&s["pnl"]["realised"]),
        text(&s["pnl"]["unrealised"]),
        text(&s["pnl"]["day_realised"]),
        text(&s["pnl"]["trades"]),
        text(&s["pnl"]["wins"]),
        text(&s["pnl"]["losses"]),
        text(&s["stream"]["quotes"]),
    );
    let positions = s["positions"].as_array().map_or(&[][..], Vec::as_slice);
    outln!("open positions: {}", positions.len());
    for p in positions {
        outln!(
            "  #{} {} {} {} entry {} stop {} limit {} unrealised {} ({})",
            text(&p["trade_id"]),
            text(&p["epic"]),
            text(&p["direction"]),
            text(&p["size"]),
            text(&p["entry_level"]),
            text(&p["stop_level"]),
            text(&p["limit_level"]),
            text(&p["unrealised_pnl"]),
            text(&p["state"]),
        );
    }
    if let Some(reasons) = s["ready_reasons"].as_array().filter(|r| !r.is_empty()) {
        let r: Vec<String> = reasons.iter().map(text).collect();
        outln!("not ready: {}", r.join(", "));
    }
    for e in s["last_errors"].as_array().map_or(&[][..], Vec::as_slice) {
        outln!("  ! {}", text(&e["message"]));
    }
}

fn from_journal(args: &StatusArgs, ctx: &Context) -> anyhow::Result<ExitCode> {
    let path = crate::commands::journal::journal_path(args.journal.as_ref(), ctx)?;
    let j = Journal::open(&path, &OpenOptions::read_only())
        .with_context(|| format!("opening the journal {}", path.display()))?;
    let open = j.trades(&TradeFilter {
        state: Some(DealState::Open),
        ..TradeFilter::default()
    })?;
    let recent = j.trades(&TradeFilter {
        limit: Some(10),
        ..TradeFilter::default()
    })?;
    if args.json {
        print_json(&serde_json::json!({
            "running": false,
            "journal": path.display().to_string(),
            "open": open,
            "recent": recent,
        }));
    } else {
        outln!("journal {}: {} open trade(s)", path.display(), open.len());
        for t in &open {
            outln!("  {t}");
        }
        outln!("latest trades:");
        for t in &recent {
            outln!("  {t}");
        }
    }
    Ok(ExitCode::from(SUCCESS))
}
