//! Performance reports over closed trades: per UTC day, per instrument and in total, with
//! trades, win rate, P&L, fees and maximum drawdown of cumulative net P&L.

use std::collections::BTreeMap;
use std::fmt;

use scalper_model::{Money, Timestamp};
use serde::{Deserialize, Serialize};

use crate::{Journal, JournalError, Trade};

/// A `--to` beyond any trade: 3000-01-01T00:00:00Z. Reports up to it say "all closed trades".
pub const FAR_FUTURE_MS: i64 = 32_503_680_000_000;

/// One line of a report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReportRow {
    /// `YYYY-MM-DD` (UTC day), an epic, or `total`.
    pub key: String,
    /// Closed trades with known P&L.
    pub trades: u32,
    pub wins: u32,
    pub losses: u32,
    /// wins / trades (0 when there are none); statistics, so f64.
    pub win_rate: f64,
    /// Gross P&L.
    pub pnl: Money,
    pub fees: Money,
    /// `pnl - fees`.
    pub net_pnl: Money,
    /// Largest peak-to-trough fall of cumulative net P&L, as a positive amount.
    pub max_drawdown: Money,
    /// Closed trades whose P&L is still pending (closed externally).
    pub pnl_pending: u32,
    /// Paper trades a paper run left open (no exit price, no P&L).
    #[serde(default)]
    pub paper_abandoned: u32,
}

/// A report for `[from, to)` by close time.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub from: Timestamp,
    pub to: Timestamp,
    pub days: Vec<ReportRow>,
    pub instruments: Vec<ReportRow>,
    /// Trades at the broker (paper trades excluded).
    pub total: ReportRow,
    /// Paper trades (simulated fills), apart from the broker's.
    #[serde(default)]
    pub paper_total: ReportRow,
    /// The account currency of every amount (from the last run's start), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}

/// Builds one row from trades in close order.
fn row<'a>(key: String, trades: impl IntoIterator<Item = &'a Trade>) -> ReportRow {
    let mut r = ReportRow {
        key,
        ..ReportRow::default()
    };
    let (mut cum, mut peak) = (Money::ZERO, Money::ZERO);
    for t in trades {
        let Some(pnl) = t.pnl else {
            if t.reason.as_deref() == Some(crate::write::PAPER_ABANDONED) {
                r.paper_abandoned += 1;
            } else {
                r.pnl_pending += 1;
            }
            continue;
        };
        r.trades += 1;
        if pnl > Money::ZERO {
            r.wins += 1;
        } else {
            r.losses += 1;
        }
        r.pnl += pnl;
        r.fees += t.fees;
        cum += pnl - t.fees;
        peak = peak.max(cum);
        r.max_drawdown = r.max_drawdown.max(peak - cum);
    }
    r.net_pnl = r.pnl - r.fees;
    if r.trades > 0 {
        r.win_rate = f64::from(r.wins) / f64::from(r.trades);
    }
    r
}

fn day_key(ts: Option<Timestamp>) -> String {
    ts.and_then(Timestamp::to_datetime)
        .map_or_else(|| "unknown".into(), |d| d.format("%Y-%m-%d").to_string())
}

/// Builds a report from closed trades (in close order); pure, for tests and other sources.
pub fn build_report(from: Timestamp, to: Timestamp, closed: &[Trade]) -> Report {
    let mut days: BTreeMap<String, Vec<&Trade>> = BTreeMap::new();
    let mut epics: BTreeMap<String, Vec<&Trade>> = BTreeMap::new();
    // Paper trades get rows of their own ("paper ..."): they never met the broker.
    let mode = |t: &Trade| if t.paper { "paper " } else { "" };
    for t in closed {
        days.entry(format!("{}{}", mode(t), day_key(t.closed_at)))
            .or_default()
            .push(t);
        epics
            .entry(format!("{}{}", mode(t), t.epic))
            .or_default()
            .push(t);
    }
    Report {
        from,
        to,
        days: days.into_iter().map(|(k, v)| row(k, v)).collect(),
        instruments: epics.into_iter().map(|(k, v)| row(k, v)).collect(),
        total: row("total".into(), closed.iter().filter(|t| !t.paper)),
        paper_total: row("paper total".into(), closed.iter().filter(|t| t.paper)),
        currency: None,
    }
}

impl Journal {
    /// Report over trades closed in `[from, to)`.
    pub fn report(&self, from: Timestamp, to: Timestamp) -> Result<Report, JournalError> {
        Ok(Report {
            currency: self.account_currency()?,
            ..build_report(from, to, &self.closed_trades(from, to)?)
        })
    }

    /// The account currency the latest run started with (`engine_start`), when the broker
    /// reported one.
    pub fn account_currency(&self) -> Result<Option<String>, JournalError> {
        let last = self.query_events(
            "WHERE kind = 'engine_start' AND json_extract(detail, '$.currency') IS NOT NULL ORDER BY seq DESC LIMIT 1",
            &[],
        )?;
        Ok(last.into_iter().find_map(|e| {
            e.detail
                .get("currency")
                .and_then(|c| c.as_str())
                .map(str::to_string)
        }))
    }
}

fn write_row(f: &mut fmt::Formatter<'_>, r: &ReportRow) -> fmt::Result {
    writeln!(
        f,
        "{:<22} {:>6} {:>5} {:>5} {:>6.1}% {:>12} {:>10} {:>12} {:>10}{}",
        r.key,
        r.trades,
        r.wins,
        r.losses,
        r.win_rate * 100.0,
        r.pnl.round_cents().to_string(),
        r.fees.round_cents().to_string(),
        r.net_pnl.round_cents().to_string(),
        r.max_drawdown.round_cents().to_string(),
        match (r.pnl_pending, r.paper_abandoned) {
            (0, 0) => String::new(),
            (p, 0) => format!("  ({p} pending)"),
            (0, a) => format!("  ({a} paper abandoned, no exit price)"),
            (p, a) => format!("  ({p} pending, {a} paper abandoned, no exit price)"),
        }
    )
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let period = if self.from == Timestamp::from_millis(0) && self.to.millis() >= FAR_FUTURE_MS
        {
            "all closed trades".to_string()
        } else {
            format!("trades closed from {} to {}", self.from, self.to)
        };
        let currency = self.currency.as_deref().map_or_else(
            || " (amounts in the account currency)".to_string(),
            |c| format!(" (amounts in {c})"),
        );
        writeln!(f, "report: {period}{currency}")?;
        let header = format!(
            "{:<22} {:>6} {:>5} {:>5} {:>7} {:>12} {:>10} {:>12} {:>10}",
            "", "trades", "wins", "losses", "win%", "pnl", "fees", "net", "drawdown"
        );
        writeln!(
            f,
            "{}",
            header.replacen(&" ".repeat(22), "by day                ", 1)
        )?;
        for r in &self.days {
            write_row(f, r)?;
        }
        writeln!(f, "by instrument")?;
        for r in &self.instruments {
            write_row(f, r)?;
        }
        write_row(f, &self.total)?;
        if self.paper_total.trades > 0 || self.paper_total.paper_abandoned > 0 {
            write_row(f, &self.paper_total)?;
        }
        Ok(())
    }
}
