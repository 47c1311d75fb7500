//! Human-readable summaries for the CLI: `Display` for [`BacktestReport`] (headline metrics
//! and the trade-list hash) and for [`SweepReport`] (a ranked table and walk-forward folds).
//! Both end with a newline (print them with `print!`).

use std::fmt;

use scalper_model::Money;

use crate::metrics::Metrics;
use crate::runner::BacktestReport;
use crate::sweep::SweepReport;

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "-".to_string(), |x| format!("{x:.digits$}"))
}

/// An amount without its currency (sweep table cells; the header names the currency).
fn money(m: Money) -> String {
    scalper_model::Amount::new(m, "").to_string()
}

impl BacktestReport {
    /// An amount in the report's currency, with its decimals: `-1,100 JPY`, `9,760.00 GBP`.
    fn amount(&self, m: Money) -> String {
        scalper_model::Amount::new(m, &self.currency).to_string()
    }
}

fn hours(ms: Option<f64>) -> String {
    match ms {
        None => "-".to_string(),
        Some(ms) if ms < 60_000.0 => format!("{:.1} s", ms / 1000.0),
        Some(ms) if ms < 3_600_000.0 => format!("{:.1} min", ms / 60_000.0),
        Some(ms) => format!("{:.1} h", ms / 3_600_000.0),
    }
}

impl fmt::Display for BacktestReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = &self.metrics;
        let span = match (self.first_ts, self.last_ts) {
            (Some(a), Some(b)) => format!("{a} .. {b}"),
            _ => "-".to_string(),
        };
        writeln!(
            f,
            "{} ({}) · {} · {} {} ({}{})",
            self.instrument,
            self.epic,
            self.strategy,
            self.records,
            self.data_kind.as_str(),
            span,
            if self.from_cache { ", cached" } else { "" }
        )?;
        writeln!(
            f,
            "trades {:>8}   win rate {:>7}   profit factor {:>6}   expectancy {}",
            m.trades,
            m.win_rate
                .map_or_else(|| "-".to_string(), |w| format!("{:.1}%", w * 100.0)),
            opt(m.profit_factor, 2),
            m.expectancy
                .map_or_else(|| "-".to_string(), |e| self.amount(e)),
        )?;
        writeln!(
            f,
            "net P&L {} ({:+.2}%)   equity {} -> {}   max drawdown {} ({:.2}%)",
            self.amount(m.net_pnl),
            m.total_return_pct,
            self.amount(self.initial_equity),
            self.amount(self.final_equity),
            self.amount(m.max_drawdown),
            m.max_drawdown_pct
        )?;
        writeln!(
            f,
            "sharpe {}   sortino {}   exposure {:.1}%   avg hold {}   commission {}   funding {}   refusals {}",
            opt(m.sharpe, 2),
            opt(m.sortino, 2),
            m.exposure_pct,
            hours(m.avg_holding_ms),
            self.amount(m.commission),
            self.amount(m.funding),
            self.refusals
        )?;
        // Why entries were refused, most frequent first, with the first of each.
        let mut refused: Vec<_> = self.refusals_by_rule.iter().collect();
        refused.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(b.0)));
        for (rule, stat) in refused {
            writeln!(
                f,
                "refused {:>8} × {rule}, first at {}: {}",
                stat.count, stat.first_at, stat.first
            )?;
        }
        if self.margin_closeouts > 0 {
            writeln!(
                f,
                "margin close-outs {} (equity below 50% of the margin of open positions)",
                self.margin_closeouts
            )?;
        }
        if self.final_equity.value() < rust_decimal::Decimal::ZERO {
            writeln!(
                f,
                "equity below zero: prices gapped past the stops and the margin close-out"
            )?;
        }
        writeln!(f, "trade list sha256 {}", self.trades_hash)
    }
}

fn metric_cells(m: &Metrics) -> String {
    format!(
        "{:>7} {:>7} {:>7} {:>13} {:>7} {:>12}",
        m.trades,
        m.win_rate
            .map_or_else(|| "-".to_string(), |w| format!("{:.1}%", w * 100.0)),
        opt(m.profit_factor, 2),
        money(m.net_pnl),
        opt(m.sharpe, 2),
        money(m.max_drawdown)
    )
}

const HEAD: &str = "  trades     win      pf       net P&L  sharpe     drawdown";

impl fmt::Display for SweepReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "ranked by {}", self.metric)?;
        writeln!(f, "{:>4}  {:<28}{HEAD}", "rank", "parameters")?;
        for (i, row) in self.rows.iter().enumerate() {
            let params = row
                .params
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ");
            match (&row.metrics, &row.error) {
                (Some(m), _) => writeln!(f, "{:>4}  {params:<28}{}", i + 1, metric_cells(m))?,
                (None, e) => writeln!(
                    f,
                    "{:>4}  {params:<28}  error: {}",
                    i + 1,
                    e.as_deref().unwrap_or("unknown")
                )?,
            }
        }
        if !self.folds.is_empty() {
            writeln!(
                f,
                "\nwalk-forward (best in-sample parameters, out of sample):"
            )?;
            writeln!(f, "{:>4}  {:<28}{HEAD}", "fold", "parameters")?;
            for fold in &self.folds {
                let params = fold
                    .best_params
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(" ");
                let oos = fold
                    .out_of_sample
                    .as_ref()
                    .map_or_else(|| "  no data in the test window".to_string(), metric_cells);
                writeln!(f, "{:>4}  {params:<28}{oos}", fold.fold)?;
                writeln!(
                    f,
                    "      train {} .. {}   test {} .. {}",
                    fold.train_from, fold.train_to, fold.test_from, fold.test_to
                )?;
            }
        }
        Ok(())
    }
}
