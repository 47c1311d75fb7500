//! `scalper test <INSTRUMENT> [--json] [--trade] [--live]`: the connectivity check. Logs in,
//! prints the environment, URL, account, session version and a market snapshot; `--trade`
//! opens and closes a minimum-size position (refused on LIVE without `--live`).

use std::process::ExitCode;

use anyhow::Context as _;
use scalper_ig::{CloseRequest, DealOutcome, Environment, IgClient, OpenRequest, SessionStats};
use scalper_model::{Direction, Epic};
use serde_json::{json, Value};

use crate::args::TestArgs;
use crate::config::ConfigError;
use crate::exit::SUCCESS;
use crate::output::print_json;
use crate::Context;

pub async fn run(args: &TestArgs, ctx: &Context) -> anyhow::Result<ExitCode> {
    let epic = ctx.resolve_epic(&args.instrument)?;
    let cfg = ctx.ig_config()?;
    let env = cfg.environment;
    if args.trade && env == Environment::Live && !args.live {
        return Err(ConfigError::Usage(
            "--trade on a LIVE account (IG_DEMO=false) opens a real position: add --live to confirm"
                .into(),
        )
        .into());
    }
    tracing::info!(
        environment = %env,
        api_url = %cfg.api_url,
        session_version = cfg.session_version.number(),
        %epic,
        "connectivity test"
    );
    let api_url = cfg.api_url.clone();
    let client = IgClient::new(cfg)?;
    let outcome = check(args, &client, &epic).await;
    // Counters and state as the check left them (before the logout below).
    let stats = client.stats();
    if stats.state == scalper_ig::SessionState::Active {
        if let Err(e) = client.logout().await {
            tracing::warn!(error = %e, "logout failed");
        }
    }
    let (info, market, trade) = outcome?;
    let account = info
        .account_id
        .map(|a| a.to_string())
        .or_else(|| stats.account_id.clone());
    let rules = &market.instrument.rules;
    let snapshot = json!({
        "environment": env.as_str(),
        "api_url": api_url,
        "account_id": account,
        "session_version": stats.session_version.number(),
        "epic": epic.as_str(),
        "instrument_name": market.instrument.name,
        "currency": market.instrument.currency,
        "bid": market.bid.map(|p| p.to_string()),
        "offer": market.offer.map(|p| p.to_string()),
        "spread_points": market.spread_points().map(|s| s.normalize().to_string()),
        "market_status": market.status.as_ig(),
        "min_deal_size": rules.min_deal_size.to_string(),
        "min_stop_distance": rules.min_stop_distance.to_string(),
        "logins": stats.logins,
        "login_attempts": stats.login_attempts,
        "refreshes": stats.refreshes,
        "token_errors_recovered": stats.token_errors_recovered,
        "trade": trade,
    });
    if args.json {
        print_json(&snapshot);
    } else {
        print_text(&snapshot, &stats);
    }
    Ok(ExitCode::from(SUCCESS))
}

type Checked = (scalper_ig::SessionInfo, scalper_ig::Market, Value);

async fn check(args: &TestArgs, client: &IgClient, epic: &Epic) -> anyhow::Result<Checked> {
    let info = client.login().await.context("logging in to IG")?;
    let market = client
        .market(epic)
        .await
        .with_context(|| format!("reading market {epic}"))?;
    let trade = if args.trade {
        trade(client, &market).await?
    } else {
        Value::Null
    };
    Ok((info, market, trade))
}

/// Opens and closes a minimum-size BUY, reporting both confirmations.
async fn trade(client: &IgClient, market: &scalper_ig::Market) -> anyhow::Result<Value> {
    if !market.status.is_tradeable() {
        anyhow::bail!(
            "market {} is {}: --trade needs a TRADEABLE market",
            market.instrument.epic,
            market.status
        );
    }
    let inst = &market.instrument;
    let size = inst.rules.min_deal_size;
    let mut open = OpenRequest::market(
        inst.epic.clone(),
        Direction::Buy,
        size,
        inst.currency.clone(),
    );
    open.expiry.clone_from(&inst.expiry);
    tracing::info!(epic = %inst.epic, %size, "test trade: opening a minimum-size BUY");
    let opened = client
        .open_position(&open)
        .await
        .context("opening the test position")?;
    let open_json = outcome_json(&opened);
    let deal_id = match &opened {
        DealOutcome::Accepted {
            deal_id: Some(id), ..
        } => id.clone(),
        DealOutcome::Accepted { deal_reference, .. } => anyhow::bail!(
            "the test position {deal_reference} was accepted without a deal id: close it on IG's platform"
        ),
        DealOutcome::Rejected { reason, .. } => {
            anyhow::bail!("IG rejected the test position: {reason}")
        }
        DealOutcome::NotFound {
            deal_reference,
            detail,
        }
        | DealOutcome::Unknown {
            deal_reference,
            detail,
        } => anyhow::bail!(
            "the outcome of test position {deal_reference} is unknown ({detail}): check IG's platform for an open position"
        ),
    };
    let close = CloseRequest {
        deal_id: deal_id.clone(),
        position_direction: Direction::Buy,
        size,
        time_in_force: None,
        deal_reference: None,
    };
    let closed = client
        .close_position(&close)
        .await
        .with_context(|| format!("closing test position {deal_id} (check IG's platform)"))?;
    if !closed.is_accepted() {
        anyhow::bail!(
            "closing test position {deal_id} did not succeed ({}): close it on IG's platform",
            outcome_json(&closed)
        );
    }
    Ok(json!({ "open": open_json, "close": outcome_json(&closed) }))
}

fn outcome_json(o: &DealOutcome) -> Value {
    match o {
        DealOutcome::Accepted {
            deal_reference,
            deal_id,
            level,
            size,
            ..
        } => json!({
            "status": "ACCEPTED",
            "deal_reference": deal_reference.as_str(),
            "deal_id": deal_id.as_ref().map(scalper_model::DealId::as_str),
            "level": level.map(|l| l.to_string()),
            "size": size.map(|s| s.to_string()),
        }),
        DealOutcome::Rejected {
            deal_reference,
            reason,
            ..
        } => {
            json!({"status": "REJECTED", "deal_reference": deal_reference.as_str(), "reason": reason.to_string()})
        }
        DealOutcome::NotFound {
            deal_reference,
            detail,
        } => {
            json!({"status": "NOT_FOUND", "deal_reference": deal_reference.as_str(), "detail": detail})
        }
        DealOutcome::Unknown {
            deal_reference,
            detail,
        } => {
            json!({"status": "UNKNOWN", "deal_reference": deal_reference.as_str(), "detail": detail})
        }
    }
}

fn print_text(s: &Value, stats: &SessionStats) {
    let f = |k: &str| match &s[k] {
        Value::String(v) => v.clone(),
        Value::Null => "-".to_string(),
        v => v.to_string(),
    };
    outln!("Environment:       {}", f("environment"));
    outln!("API URL:           {}", f("api_url"));
    outln!("Account:           {}", f("account_id"));
    outln!("Session version:   v{}", f("session_version"));
    outln!(
        "Session:           {} (logins {}, refreshes {})",
        stats.state.as_str(),
        stats.logins,
        stats.refreshes
    );
    outln!(
        "Market:            {} ({})",
        f("epic"),
        f("instrument_name")
    );
    outln!("  status:          {}", f("market_status"));
    outln!("  bid / offer:     {} / {}", f("bid"), f("offer"));
    outln!("  spread:          {} points", f("spread_points"));
    outln!("  min deal size:   {}", f("min_deal_size"));
    outln!("  min stop dist.:  {} points", f("min_stop_distance"));
    if let Value::Object(t) = &s["trade"] {
        for leg in ["open", "close"] {
            let o = &t[leg];
            outln!(
                "Trade {leg:<5}        {} ref {} deal {} level {}",
                o["status"].as_str().unwrap_or("-"),
                o["deal_reference"].as_str().unwrap_or("-"),
                o["deal_id"].as_str().unwrap_or("-"),
                o["level"].as_str().unwrap_or("-"),
            );
        }
    }
}
