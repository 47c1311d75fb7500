//! The end-of-run summary, as text or one JSON object.

use scalper_live::RunReport;

/// Prints the summary on stdout.
pub fn print(report: &RunReport, json: bool) {
    if json {
        match serde_json::to_string(report) {
            Ok(s) => outln!("{s}"),
            Err(e) => eprintln!("error: cannot encode the summary: {e}"),
        }
        return;
    }
    let win_rate = if report.trades == 0 {
        "-".to_string()
    } else {
        format!("{:.1}%", report.wins as f64 * 100.0 / report.trades as f64)
    };
    outln!("== summary");
    outln!(
        "trades {}  wins {}  losses {}  win rate {}",
        report.trades,
        report.wins,
        report.losses,
        win_rate
    );
    outln!(
        "P&L {}  max drawdown {}  open positions {}",
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
    if let Some(change) = report.broker_balance_change {
        outln!(
            "broker account balance change {} (the broker's own realised P&L; a difference from the engine's P&L above needs a look)",
            change.round_cents()
        );
    }
    outln!(
        "quotes {}  risk refusals {}  duration {:.1}s",
        report.quotes,
        report.refusals,
        report.duration_s
    );
    if report.paper_fallback {
        outln!("PAPER FALLBACK: the broker failed and trading continued on paper as configured; later trades are simulated");
    } else if report.paper {
        outln!("mode: PAPER (simulated fills)");
    }
    if let Some(h) = &report.halted {
        outln!("halted: {h}");
    }
}
