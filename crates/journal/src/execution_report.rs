//! `report --execution`: how trades were executed, by instrument and by hour of day (UTC, of
//! the deciding quote): slippage of the fill against the quote decided on (points and money),
//! latency from request to acknowledgement and to confirmation, and the spreads paid at entry
//! and exit. From the journal's execution record ([`Execution`](crate::Execution)); trades
//! without one (paper-only fields missing, adopted positions, older journals) are counted apart.

use std::collections::BTreeMap;
use std::fmt;

use rust_decimal::Decimal;
use scalper_model::{Money, Timestamp};
use serde::{Deserialize, Serialize};

use crate::{Journal, JournalError, Trade};

/// One line of the execution report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExecutionRow {
    /// An epic, `HH:00` (UTC hour), or `total`.
    pub key: String,
    /// Trades with a fill compared against their deciding quote.
    pub trades: u32,
    /// Mean and worst slippage of the entry fills, points (positive: worse than the quote).
    pub slippage_points_mean: Option<Decimal>,
    pub slippage_points_worst: Option<Decimal>,
    /// Fills worse than their quote, and better.
    pub adverse: u32,
    pub favourable: u32,
    /// Slippage of the entry fills, summed, in the account currency.
    pub slippage: Money,
    /// Mean slippage of the closes the engine sent, points.
    pub exit_slippage_points_mean: Option<Decimal>,
    /// Request sent to acknowledged, and to confirmed, ms: mean and 90th percentile.
    pub ack_ms_mean: Option<i64>,
    pub confirm_ms_mean: Option<i64>,
    pub confirm_ms_p90: Option<i64>,
    /// Mean spread at entry and at exit, points.
    pub entry_spread_mean: Option<Decimal>,
    pub exit_spread_mean: Option<Decimal>,
}

/// The execution report over trades closed in `[from, to)`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExecutionReport {
    pub from: Timestamp,
    pub to: Timestamp,
    pub instruments: Vec<ExecutionRow>,
    pub hours: Vec<ExecutionRow>,
    pub total: ExecutionRow,
    /// Closed broker trades with no execution record (journaled before it existed, adopted).
    pub without_record: u32,
    /// Paper trades, left out: their fills are simulated.
    pub paper: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}

fn mean(values: &[Decimal]) -> Option<Decimal> {
    if values.is_empty() {
        return None;
    }
    let n = Decimal::from(values.len());
    Some((values.iter().sum::<Decimal>() / n).round_dp(2))
}

fn mean_ms(values: &[i64]) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    let n = i64::try_from(values.len()).unwrap_or(i64::MAX);
    Some(values.iter().sum::<i64>() / n)
}

/// The nearest-rank 90th percentile.
fn p90(values: &[i64]) -> Option<i64> {
    let mut v = values.to_vec();
    v.sort_unstable();
    let rank = (v.len() * 9).div_ceil(10);
    v.get(rank.checked_sub(1)?).copied()
}

fn row<'a>(key: String, trades: impl IntoIterator<Item = &'a Trade>) -> ExecutionRow {
    let mut r = ExecutionRow {
        key,
        ..ExecutionRow::default()
    };
    let (mut slip, mut exit_slip, mut entry_spread, mut exit_spread) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut ack, mut confirm) = (Vec::new(), Vec::new());
    for t in trades {
        let e = &t.execution;
        if let Some(s) = e.slippage_points {
            r.trades += 1;
            slip.push(s);
            r.adverse += u32::from(s > Decimal::ZERO);
            r.favourable += u32::from(s < Decimal::ZERO);
            r.slippage += e.slippage.unwrap_or(Money::ZERO);
        }
        exit_slip.extend(e.exit_slippage_points);
        entry_spread.extend(e.entry_spread);
        exit_spread.extend(e.exit_spread);
        if let (Some(s), Some(a)) = (e.sent_at, e.acked_at) {
            ack.push(a.millis() - s.millis());
        }
        confirm.extend(e.latency_ms());
    }
    r.slippage_points_mean = mean(&slip);
    r.slippage_points_worst = slip.iter().copied().max();
    r.exit_slippage_points_mean = mean(&exit_slip);
    r.entry_spread_mean = mean(&entry_spread);
    r.exit_spread_mean = mean(&exit_spread);
    r.ack_ms_mean = mean_ms(&ack);
    r.confirm_ms_mean = mean_ms(&confirm);
    r.confirm_ms_p90 = p90(&confirm);
    r
}

fn has_record(t: &Trade) -> bool {
    t.execution != crate::Execution::default()
}

/// Builds the execution report from closed trades; pure, for tests and other sources.
pub fn build_execution_report(from: Timestamp, to: Timestamp, closed: &[Trade]) -> ExecutionReport {
    let broker: Vec<&Trade> = closed.iter().filter(|t| !t.paper).collect();
    let recorded: Vec<&Trade> = broker.iter().copied().filter(|t| has_record(t)).collect();
    let mut epics: BTreeMap<String, Vec<&Trade>> = BTreeMap::new();
    let mut hours: BTreeMap<String, Vec<&Trade>> = BTreeMap::new();
    for t in &recorded {
        epics.entry(t.epic.to_string()).or_default().push(t);
        let at = t.execution.signal_at.or(t.opened_at);
        let hour = at
            .and_then(Timestamp::to_datetime)
            .map_or_else(|| "unknown".into(), |d| d.format("%H:00").to_string());
        hours.entry(hour).or_default().push(t);
    }
    ExecutionReport {
        from,
        to,
        instruments: epics.into_iter().map(|(k, v)| row(k, v)).collect(),
        hours: hours.into_iter().map(|(k, v)| row(k, v)).collect(),
        total: row("total".into(), recorded.iter().copied()),
        without_record: u32::try_from(broker.len() - recorded.len()).unwrap_or(u32::MAX),
        paper: u32::try_from(closed.len() - broker.len()).unwrap_or(u32::MAX),
        currency: None,
    }
}

impl Journal {
    /// The execution report over trades closed in `[from, to)`.
    pub fn execution_report(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<ExecutionReport, JournalError> {
        Ok(ExecutionReport {
            currency: self.account_currency()?,
            ..build_execution_report(from, to, &self.closed_trades(from, to)?)
        })
    }
}

fn opt<T: fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "-".into(), |v| v.to_string())
}

fn write_row(f: &mut fmt::Formatter<'_>, r: &ExecutionRow) -> fmt::Result {
    writeln!(
        f,
        "{:<22} {:>6} {:>9} {:>9} {:>9} {:>12} {:>9} {:>8} {:>8} {:>8} {:>8} {:>8}",
        r.key,
        r.trades,
        opt(r.slippage_points_mean),
        opt(r.slippage_points_worst),
        format!("{}/{}", r.adverse, r.favourable),
        r.slippage.round_cents().to_string(),
        opt(r.exit_slippage_points_mean),
        opt(r.ack_ms_mean),
        opt(r.confirm_ms_mean),
        opt(r.confirm_ms_p90),
        opt(r.entry_spread_mean),
        opt(r.exit_spread_mean),
    )
}

impl fmt::Display for ExecutionReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let currency = self.currency.as_deref().unwrap_or("the account currency");
        writeln!(
            f,
            "execution: slippage in points against the quote decided on (+ is worse), money in \
             {currency}, latency in ms (wall clock), spreads in points"
        )?;
        let header =
            |title: &str| {
                format!(
                "{title:<22} {:>6} {:>9} {:>9} {:>9} {:>12} {:>9} {:>8} {:>8} {:>8} {:>8} {:>8}",
                "trades", "slip", "worst", "bad/good", "slip money", "exit slip", "ack", "confirm",
                "p90", "spread", "exit spr"
            )
            };
        writeln!(f, "{}", header("by instrument"))?;
        for r in &self.instruments {
            write_row(f, r)?;
        }
        writeln!(f, "{}", header("by hour (UTC)"))?;
        for r in &self.hours {
            write_row(f, r)?;
        }
        write_row(f, &self.total)?;
        if self.without_record > 0 {
            writeln!(
                f,
                "{} closed trade(s) have no execution record (journaled before scalper kept one, or adopted)",
                self.without_record
            )?;
        }
        if self.paper > 0 {
            writeln!(
                f,
                "{} paper trade(s) left out (simulated fills)",
                self.paper
            )?;
        }
        Ok(())
    }
}
