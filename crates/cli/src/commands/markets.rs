//! `scalper markets search <TEXT> [--json]`: logs in with the configured credentials, asks IG
//! for the markets matching the text, and prints each with the product it is (CFD or spread
//! bet: a CFD account deals `...CFD.IP`-style epics, a spread-bet account `DFB`/`TODAY` ones)
//! and the friendly name scalper resolves to it, if any.

use std::process::ExitCode;

use scalper_ig::{IgClient, MarketHit};
use scalper_model::catalogue::{by_epic, by_name};
use scalper_model::ProductKind;
use serde_json::json;

use crate::args::MarketsSearchArgs;
use crate::config::ConfigError;
use crate::exit::SUCCESS;
use crate::output::print_json;
use crate::Context;

/// The product an epic is dealt as, by IG's naming (`DFB`, `TODAY` and dated spread bets).
fn product(hit: &MarketHit) -> &'static str {
    match by_epic(&hit.epic) {
        Some((_, ProductKind::SpreadBet)) => "spread bet",
        None if hit.epic.as_str().contains(".DFB.") || hit.epic.as_str().contains(".TODAY.") => {
            "spread bet"
        }
        Some((_, ProductKind::Cfd)) | None => "CFD",
    }
}

pub async fn search(args: &MarketsSearchArgs, ctx: &Context) -> anyhow::Result<ExitCode> {
    let text = args.text.trim();
    if text.is_empty() || text.len() > 100 {
        return Err(ConfigError::Usage(
            "markets search needs a text of 1 to 100 characters (e.g. \"EUR/USD\", \"Germany 40\")"
                .into(),
        )
        .into());
    }
    let client = IgClient::new(ctx.ig_config()?)?;
    let found = async {
        client.login().await?;
        client.search_markets(text).await
    }
    .await;
    if client.stats().state == scalper_ig::SessionState::Active {
        if let Err(e) = client.logout().await {
            tracing::warn!(error = %e, "logout failed");
        }
    }
    let hits = found?;
    // The friendly name only where it resolves to this very market (a mini's market shares
    // the CFD's name, which resolves to the CFD).
    let friendly = |h: &MarketHit| {
        by_epic(&h.epic)
            .filter(|(m, _)| by_name(m.friendly).is_some_and(|n| std::ptr::eq(n, *m)))
            .map(|(m, _)| m.friendly)
    };
    if args.json {
        let rows: Vec<_> = hits
            .iter()
            .map(|h| {
                json!({
                    "epic": h.epic.as_str(),
                    "name": h.name,
                    "instrument_type": h.instrument_type,
                    "product": product(h),
                    "expiry": h.expiry,
                    "status": h.status.as_ig(),
                    "bid": h.bid.map(|p| p.to_string()),
                    "offer": h.offer.map(|p| p.to_string()),
                    "friendly_name": friendly(h),
                })
            })
            .collect();
        print_json(&serde_json::Value::Array(rows));
        return Ok(ExitCode::from(SUCCESS));
    }
    if hits.is_empty() {
        outln!("no market matches {text:?}");
        return Ok(ExitCode::from(SUCCESS));
    }
    outln!(
        "{:<28} {:<24} {:<12} {:<10} {:<6} {:<10} {:>10} {:>10}  scalper name",
        "epic",
        "name",
        "type",
        "product",
        "expiry",
        "status",
        "bid",
        "offer"
    );
    for h in &hits {
        let price =
            |p: Option<scalper_model::Price>| p.map_or_else(|| "-".into(), |p| p.to_string());
        outln!(
            "{:<28} {:<24} {:<12} {:<10} {:<6} {:<10} {:>10} {:>10}  {}",
            h.epic.as_str(),
            h.name,
            h.instrument_type,
            product(h),
            h.expiry,
            h.status.as_ig(),
            price(h.bid),
            price(h.offer),
            friendly(h).unwrap_or("-")
        );
    }
    outln!("{} market(s); use the epic (or the scalper name) with `test`, `run` and `[engine.instruments]`", hits.len());
    Ok(ExitCode::from(SUCCESS))
}
