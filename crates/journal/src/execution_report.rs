//! `report --execution`: how trades were executed, by instrument and by hour of day (UTC, of
//! the deciding quote): slippage of the fill against the quote decided on (points and money),
//! latency from request to acknowledgement and to confirmation, and the spreads paid at entry
//! and exit. From the journal's execution record ([`Execution`](crate::Execution)); trades
//! without one (paper-only fields missing, adopted positions, older journals) are counted apart.
//! Runs with `--shadow` add live against shadow paper per instrument, from the journal's
//! `shadow_trade` events.

use std::collections::BTreeMap;
use std::fmt;

use rust_decimal::Decimal;
use scalper_model::{Money, Timestamp};
use serde::{Deserialize, Serialize};

use crate::{Journal, JournalError, ShadowOutcome, ShadowTrade, SystemEvent, Trade};

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
    /// Live against shadow paper (`run --shadow`), by instrument, then `total`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shadow: Vec<ShadowRow>,
}

/// Live against shadow paper for one instrument (or `total`). Points are signed against live
/// (+ is worse than paper); money is in the account currency.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ShadowRow {
    pub key: String,
    pub pairs: u32,
    /// Live trades paper did not make, and paper trades live did not make.
    pub live_only: u32,
    pub shadow_only: u32,
    pub pnl_live: Money,
    pub pnl_shadow: Money,
    /// Live less shadow.
    pub pnl_difference: Money,
    pub entry_slippage_points_mean: Option<Decimal>,
    pub exit_slippage_points_mean: Option<Decimal>,
    /// From the decision to live's fill, ms.
    pub entry_delay_ms_mean: Option<i64>,
}

fn shadow_row<'a>(key: String, trades: impl IntoIterator<Item = &'a ShadowTrade>) -> ShadowRow {
    let mut r = ShadowRow {
        key,
        ..ShadowRow::default()
    };
    let (mut entry, mut exit, mut delay) = (Vec::new(), Vec::new(), Vec::new());
    for t in trades {
        match t.outcome {
            ShadowOutcome::Paired => r.pairs += 1,
            ShadowOutcome::LiveOnly => r.live_only += 1,
            ShadowOutcome::ShadowOnly => r.shadow_only += 1,
        }
        r.pnl_live += t.live.as_ref().map_or(Money::ZERO, |l| l.pnl);
        r.pnl_shadow += t.shadow.as_ref().map_or(Money::ZERO, |l| l.pnl);
        entry.extend(t.entry_slippage_points);
        exit.extend(t.exit_slippage_points);
        delay.extend(t.entry_delay_ms);
    }
    r.pnl_difference = r.pnl_live - r.pnl_shadow;
    r.entry_slippage_points_mean = mean(&entry);
    r.exit_slippage_points_mean = mean(&exit);
    r.entry_delay_ms_mean = mean_ms(&delay);
    r
}

/// Live against shadow paper by instrument, then the total (empty without shadow trades).
pub fn build_shadow_rows(trades: &[ShadowTrade]) -> Vec<ShadowRow> {
    if trades.is_empty() {
        return Vec::new();
    }
    let mut epics: BTreeMap<String, Vec<&ShadowTrade>> = BTreeMap::new();
    for t in trades {
        epics.entry(t.epic.to_string()).or_default().push(t);
    }
    let mut rows: Vec<ShadowRow> = epics.into_iter().map(|(k, v)| shadow_row(k, v)).collect();
    rows.push(shadow_row("total".into(), trades));
    rows
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
        shadow: Vec::new(),
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
            shadow: build_shadow_rows(&self.shadow_trades(from, to)?),
            ..build_execution_report(from, to, &self.closed_trades(from, to)?)
        })
    }

    /// The `shadow_trade` events journaled in `[from, to)` (`run --shadow`).
    pub fn shadow_trades(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<ShadowTrade>, JournalError> {
        let events = self.events(from, to, Some("shadow_trade"))?;
        let mut out = Vec::with_capacity(events.len());
        for e in events {
            let event: SystemEvent = serde_json::from_value(e.detail)
                .map_err(|err| JournalError::decode("shadow trade event", err))?;
            if let SystemEvent::ShadowTrade(t) = event {
                out.push(*t);
            }
        }
        Ok(out)
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

fn write_shadow(f: &mut fmt::Formatter<'_>, rows: &[ShadowRow], currency: &str) -> fmt::Result {
    writeln!(
        f,
        "live vs shadow paper (--shadow): difference in points against paper (+ is worse), money in {currency}"
    )?;
    writeln!(
        f,
        "{:<22} {:>6} {:>9} {:>10} {:>12} {:>12} {:>12} {:>9} {:>9} {:>8}",
        "by instrument",
        "pairs",
        "live only",
        "paper only",
        "P&L live",
        "P&L paper",
        "difference",
        "entry",
        "exit",
        "delay"
    )?;
    for r in rows {
        writeln!(
            f,
            "{:<22} {:>6} {:>9} {:>10} {:>12} {:>12} {:>12} {:>9} {:>9} {:>8}",
            r.key,
            r.pairs,
            r.live_only,
            r.shadow_only,
            r.pnl_live.round_cents().to_string(),
            r.pnl_shadow.round_cents().to_string(),
            r.pnl_difference.round_cents().to_string(),
            opt(r.entry_slippage_points_mean),
            opt(r.exit_slippage_points_mean),
            opt(r.entry_delay_ms_mean),
        )?;
    }
    Ok(())
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
        if !self.shadow.is_empty() {
            write_shadow(f, &self.shadow, currency)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use scalper_model::{Direction, Epic, Price, Size};

    use super::*;
    use crate::ShadowLeg;

    /// A decimal from its text (test literals).
    macro_rules! dec {
        ($v:literal) => {
            stringify!($v).parse::<Decimal>().unwrap()
        };
    }

    fn leg(pnl: Decimal) -> ShadowLeg {
        ShadowLeg {
            trade_id: 1,
            size: Size::new(dec!(1)),
            entry: Price::new(dec!(1.1)),
            exit: Price::new(dec!(1.1)),
            opened_at: Timestamp::from_millis(0),
            closed_at: Timestamp::from_millis(1),
            pnl: Money::new(pnl),
        }
    }

    fn trade(
        epic: &str,
        outcome: ShadowOutcome,
        live: Option<Decimal>,
        paper: Option<Decimal>,
        slip: Option<Decimal>,
    ) -> ShadowTrade {
        ShadowTrade {
            epic: Epic::new(epic).unwrap(),
            direction: Direction::Buy,
            outcome,
            decided_at: Timestamp::from_millis(0),
            live: live.map(leg),
            shadow: paper.map(leg),
            same_quote: true,
            entry_slippage_points: slip,
            exit_slippage_points: slip,
            pnl_difference: None,
            entry_delay_ms: slip.map(|_| 40),
        }
    }

    #[test]
    fn shadow_rows_compare_live_with_paper_by_instrument_and_in_total() {
        let eur = "CS.D.EURUSD.CFD.IP";
        let gbp = "CS.D.GBPUSD.CFD.IP";
        let rows = build_shadow_rows(&[
            trade(
                eur,
                ShadowOutcome::Paired,
                Some(dec!(8)),
                Some(dec!(10)),
                Some(dec!(2)),
            ),
            trade(
                eur,
                ShadowOutcome::Paired,
                Some(dec!(-5)),
                Some(dec!(-5)),
                Some(dec!(0)),
            ),
            trade(gbp, ShadowOutcome::LiveOnly, Some(dec!(-3)), None, None),
            trade(gbp, ShadowOutcome::ShadowOnly, None, Some(dec!(4)), None),
        ]);
        let keys: Vec<_> = rows.iter().map(|r| r.key.as_str()).collect();
        assert_eq!(keys, [eur, gbp, "total"]);
        let e = &rows[0];
        assert_eq!((e.pairs, e.live_only, e.shadow_only), (2, 0, 0));
        assert_eq!(e.pnl_difference, Money::new(dec!(-2)));
        assert_eq!(e.entry_slippage_points_mean, Some(dec!(1)));
        assert_eq!(e.entry_delay_ms_mean, Some(40));
        let g = &rows[1];
        assert_eq!((g.pairs, g.live_only, g.shadow_only), (0, 1, 1));
        assert_eq!(g.entry_slippage_points_mean, None);
        let t = &rows[2];
        assert_eq!(t.pnl_live, Money::new(dec!(0)));
        assert_eq!(t.pnl_shadow, Money::new(dec!(9)));
        assert_eq!(t.pnl_difference, Money::new(dec!(-9)));
        assert!(build_shadow_rows(&[]).is_empty());
    }
}
