//! The end-of-run summary, as text or one JSON object.

use scalper_backtest::RecordSummary;
use scalper_live::RunReport;

/// Prints the summary on stdout, with what `--record` recorded (`recording` in JSON).
pub fn print(report: &RunReport, json: bool, recording: Option<&RecordSummary>) {
    if json {
        let mut v = match serde_json::to_value(report) {
            Ok(v) => v,
            Err(e) => return eprintln!("error: cannot encode the summary: {e}"),
        };
        if let (Some(r), Some(o)) = (recording, v.as_object_mut()) {
            o.insert(
                "recording".into(),
                serde_json::to_value(r).unwrap_or_default(),
            );
        }
        outln!("{v}");
        return;
    }
    print_text(report);
    if let Some(r) = recording {
        crate::commands::record::print(r, false);
    }
}

fn print_text(report: &RunReport) {
    let win_rate = if report.trades == 0 {
        "-".to_string()
    } else {
        format!("{:.1}%", report.wins as f64 * 100.0 / report.trades as f64)
    };
    // Amounts are booked in the account's currency (IG converts each instrument's P&L).
    let ccy = report
        .currency
        .as_deref()
        .map(|c| format!(" {c}"))
        .unwrap_or_default();
    outln!("== summary");
    outln!(
        "trades {}  wins {}  losses {}  breakeven {}  win rate {}",
        report.trades,
        report.wins,
        report.losses,
        report.breakeven,
        win_rate
    );
    outln!(
        "P&L {}{ccy}  max drawdown {}{ccy}  open positions {}",
        report.pnl.round_cents(),
        report.max_drawdown.round_cents(),
        report.open_positions
    );
    outln!(
        "logins {}  refreshes {}  token errors recovered {}  stream reconnects {}  unknown outcomes resolved {}",
        report.logins,
        report.refreshes,
        report.token_errors_recovered,
        report.stream_reconnects,
        report.unknown_outcomes_resolved
    );
    if let Some(change) = report.broker_balance_change.filter(|_| !report.paper) {
        let diff = change.round_cents() - report.pnl.round_cents();
        if diff.is_zero() {
            outln!(
                "broker account balance change {}{ccy} (the broker's own realised P&L: it agrees with the engine's)",
                change.round_cents()
            );
        } else {
            outln!(
                "broker account balance change {}{ccy} (the broker's own realised P&L) differs from the engine's P&L by {}{ccy}: this needs a look (`scalper journal list`, the broker's history)",
                change.round_cents(),
                diff
            );
        }
    }
    outln!(
        "quotes {}  risk refusals {}  duration {:.1}s (ended: {}; wind-down {:.1}s)",
        report.quotes,
        report.refusals,
        report.duration_s,
        report.ended,
        report.wind_down_s
    );
    if report.margin_closeouts > 0 {
        outln!(
            "MARGIN CLOSE-OUTS {} (paper): equity fell below 50% of the margin in use and every position was closed",
            report.margin_closeouts
        );
    }
    for (rule, r) in &report.refusals_by_rule {
        outln!(
            "refused {:>8} × {rule}, first at {}: {}",
            r.count,
            r.first_at,
            r.first
        );
    }
    for p in &report.positions_left {
        outln!(
            "LEFT OPEN: trade #{} {} {} {} {} entry {} stop {} limit {}{}",
            p.trade_id,
            p.deal_id.as_deref().unwrap_or("-"),
            p.epic,
            p.direction,
            p.size,
            p.entry_level.as_deref().unwrap_or("-"),
            p.stop_level.as_deref().unwrap_or("none"),
            p.limit_level.as_deref().unwrap_or("none"),
            if p.paper { " (paper)" } else { "" }
        );
    }
    if report.paper_fallback {
        outln!("PAPER FALLBACK: the broker failed and trading continued on paper as configured; later trades are simulated");
    } else if report.paper {
        outln!("mode: PAPER (simulated fills)");
    }
    if let Some(h) = &report.halted {
        outln!("halted: {h}");
    }
    if let Some(s) = &report.shadow {
        print_shadow(s, &ccy);
    }
}

/// The shadow paper section: live against its paper twin.
fn print_shadow(s: &scalper_live::ShadowSummary, ccy: &str) {
    let opt = |v: Option<String>| v.unwrap_or_else(|| "-".into());
    outln!("== shadow paper (live vs paper on the same quotes; + points: live filled worse)");
    outln!(
        "pairs {}  live only (extra) {}  paper only (missed by live) {}  still open at the end {}",
        s.pairs,
        s.live_only,
        s.shadow_only,
        s.unfinished
    );
    outln!(
        "P&L live {}{ccy}  paper {}{ccy}  difference {}{ccy}",
        s.pnl_live.round_cents(),
        s.pnl_shadow.round_cents(),
        s.pnl_difference.round_cents()
    );
    outln!(
        "mean slippage vs paper: entry {} points  exit {} points  live fill {} ms after the decision",
        opt(s.entry_slippage_points_mean.map(|d| d.to_string())),
        opt(s.exit_slippage_points_mean.map(|d| d.to_string())),
        opt(s.entry_delay_ms_mean.map(|d| d.to_string()))
    );
    if s.inputs_dropped > 0 {
        outln!(
            "SHADOW INCOMPLETE: it fell behind the live loop and stopped comparing ({} inputs not taken; live trading was not affected)",
            s.inputs_dropped
        );
    }
}
