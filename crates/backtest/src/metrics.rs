//! Report metrics: win rate, profit factor, expectancy, total return, maximum drawdown,
//! Sharpe and Sortino (from equity sampled every `period_ms`, annualised with
//! `periods_per_year`), exposure and average holding time, built online by
//! [`MetricsAccumulator`] as trades close. Money stays decimal; ratios are f64.

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use scalper_engine::CloseCause;
use scalper_model::{Direction, Money, Price, Size, Timestamp};
use serde::{Deserialize, Serialize};

/// How returns are sampled for Sharpe and Sortino.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MetricsOptions {
    /// Equity is sampled at the first record of every period of this length. Default: a day.
    pub period_ms: i64,
    /// Periods per year for annualising. Default 252.
    pub periods_per_year: f64,
}

impl Default for MetricsOptions {
    fn default() -> Self {
        Self {
            period_ms: 86_400_000,
            periods_per_year: 252.0,
        }
    }
}

/// One closed round trip as reported (P&L in the report currency).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TradeRecord {
    pub id: u64,
    pub direction: Direction,
    pub size: Size,
    pub entry_time: Timestamp,
    pub entry_price: Price,
    pub exit_time: Timestamp,
    pub exit_price: Price,
    /// The account currency of `pnl`, `commission` and `funding` (each with its decimals).
    /// Filled when the trade is kept or written; the metrics and the hash do not read it.
    #[serde(default)]
    pub currency: String,
    /// Net P&L: price move less commissions, plus funding.
    pub pnl: Money,
    /// Commission of both fills (already in `pnl`).
    pub commission: Money,
    /// Overnight funding (already in `pnl`; negative = cost).
    pub funding: Money,
    pub cause: CloseCause,
    pub reason: String,
}

/// Equity (mark-to-market) at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EquityPoint {
    pub ts: Timestamp,
    pub equity: Money,
}

/// The headline numbers of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub trades: u64,
    pub wins: u64,
    pub losses: u64,
    /// Wins / trades (0..1); `None` without trades.
    pub win_rate: Option<f64>,
    pub gross_profit: Money,
    pub gross_loss: Money,
    pub net_pnl: Money,
    /// Gross profit / gross loss; `None` when nothing was lost.
    pub profit_factor: Option<f64>,
    /// Net P&L per trade.
    pub expectancy: Option<Money>,
    /// Net P&L / initial equity, percent.
    pub total_return_pct: f64,
    /// Largest peak-to-trough fall of the equity curve (positive amount) and as % of peak.
    pub max_drawdown: Money,
    pub max_drawdown_pct: f64,
    pub sharpe: Option<f64>,
    pub sortino: Option<f64>,
    /// Share of the data's time span with a position open, percent.
    pub exposure_pct: f64,
    pub avg_holding_ms: Option<f64>,
    pub commission: Money,
    pub funding: Money,
}

fn f(d: Decimal) -> f64 {
    d.to_f64().unwrap_or(0.0)
}

/// Computes the metrics of whole lists (a convenience over [`MetricsAccumulator`]):
/// `samples` are the periodic equity samples (for Sharpe/Sortino), `curve` every equity point
/// (for drawdown), `span_ms` the data's time span.
pub fn compute(
    trades: &[TradeRecord],
    curve: &[EquityPoint],
    samples: &[EquityPoint],
    initial_equity: Money,
    span_ms: i64,
    opts: &MetricsOptions,
) -> Metrics {
    let mut acc = MetricsAccumulator::new(initial_equity, opts);
    for t in trades {
        acc.add_trade(t);
    }
    for p in curve {
        acc.add_equity(*p);
    }
    for p in samples {
        acc.add_sample(*p);
    }
    acc.finish(span_ms)
}

/// [`Metrics`] built online, one closed trade and one equity point at a time, so a run's
/// memory does not grow with its trades: only the periodic returns (one per `period_ms`) and
/// the holding intervals that a still-open position may overlap are kept. Fed the same
/// trades and points in the same order, it gives exactly what [`compute`] gives.
#[derive(Debug, Clone)]
pub struct MetricsAccumulator {
    initial_equity: Money,
    periods_per_year: f64,
    trades: u64,
    wins: u64,
    losses: u64,
    gross_profit: Money,
    gross_loss: Money,
    commission: Money,
    funding: Money,
    holding_ms: f64,
    peak: Money,
    max_drawdown: Money,
    max_drawdown_pct: f64,
    exposure: Exposure,
    last_sample: Option<f64>,
    returns: Vec<f64>,
}

impl MetricsAccumulator {
    pub fn new(initial_equity: Money, opts: &MetricsOptions) -> Self {
        Self {
            initial_equity,
            periods_per_year: opts.periods_per_year,
            trades: 0,
            wins: 0,
            losses: 0,
            gross_profit: Money::ZERO,
            gross_loss: Money::ZERO,
            commission: Money::ZERO,
            funding: Money::ZERO,
            holding_ms: 0.0,
            peak: initial_equity,
            max_drawdown: Money::ZERO,
            max_drawdown_pct: 0.0,
            exposure: Exposure::default(),
            last_sample: None,
            returns: Vec::new(),
        }
    }

    /// Counts a closed trade (any order; see [`Self::settle`] for what keeps exposure small).
    pub fn add_trade(&mut self, t: &TradeRecord) {
        self.trades += 1;
        if t.pnl > Money::ZERO {
            self.wins += 1;
            self.gross_profit += t.pnl;
        } else if t.pnl < Money::ZERO {
            self.losses += 1;
            self.gross_loss -= t.pnl;
        }
        self.commission += t.commission;
        self.funding += t.funding;
        self.holding_ms += t.exit_time.since(t.entry_time) as f64;
        self.exposure
            .add(t.entry_time.millis(), t.exit_time.millis());
    }

    /// A point of the equity curve, in time order: drawdown is measured over every point.
    pub fn add_equity(&mut self, p: EquityPoint) {
        if p.equity > self.peak {
            self.peak = p.equity;
        }
        let dd = self.peak - p.equity;
        if dd > self.max_drawdown {
            self.max_drawdown = dd;
        }
        if self.peak > Money::ZERO {
            let pct = f(dd.value()) / f(self.peak.value()) * 100.0;
            if pct > self.max_drawdown_pct {
                self.max_drawdown_pct = pct;
            }
        }
    }

    /// A periodic equity sample, in time order, for Sharpe and Sortino. It is not an equity
    /// point by itself: add it with [`Self::add_equity`] too when it is on the curve.
    pub fn add_sample(&mut self, p: EquityPoint) {
        let e = f(p.equity.value());
        if let Some(prev) = self.last_sample {
            if prev > 0.0 {
                self.returns.push(e / prev - 1.0);
            }
        }
        self.last_sample = Some(e);
    }

    /// Lets exposure drop what no later trade can change, keeping a few intervals however
    /// many trades close. The caller promises that every trade added from now on enters at or
    /// after `open_since` (the earliest entry of the positions still open, `None` when flat)
    /// or `now`, whichever is earlier, and that a position open since `open_since` will be
    /// added with an exit at or after `now`. Without calls, every interval is kept.
    pub fn settle(&mut self, open_since: Option<Timestamp>, now: Timestamp) {
        self.exposure
            .settle(open_since.map(Timestamp::millis), now.millis());
    }

    /// The metrics of everything added so far; `span_ms` is the data's time span.
    pub fn finish(&self, span_ms: i64) -> Metrics {
        let n = self.trades;
        let (gp, gl) = (self.gross_profit, self.gross_loss);
        let net = gp - gl;
        let (sharpe, sortino) = ratios(&self.returns, self.periods_per_year);
        let initial = self.initial_equity;
        Metrics {
            trades: n,
            wins: self.wins,
            losses: self.losses,
            win_rate: (n > 0).then(|| self.wins as f64 / n as f64),
            gross_profit: gp,
            gross_loss: gl,
            net_pnl: net,
            profit_factor: (gl > Money::ZERO).then(|| f(gp.value()) / f(gl.value())),
            expectancy: (n > 0).then(|| Money::new(net.value() / Decimal::from(n)).round_cents()),
            total_return_pct: if initial.is_zero() {
                0.0
            } else {
                f(net.value()) / f(initial.value()) * 100.0
            },
            max_drawdown: self.max_drawdown,
            max_drawdown_pct: self.max_drawdown_pct,
            sharpe,
            sortino,
            exposure_pct: if span_ms <= 0 || n == 0 {
                0.0
            } else {
                (self.exposure.total() as f64 / span_ms as f64 * 100.0).min(100.0)
            },
            avg_holding_ms: (n > 0).then(|| self.holding_ms / n as f64),
            commission: self.commission,
            funding: self.funding,
        }
    }
}

/// Annualised Sharpe (mean / sample std) and Sortino (mean / downside deviation, target 0).
fn ratios(r: &[f64], per_year: f64) -> (Option<f64>, Option<f64>) {
    if r.len() < 2 {
        return (None, None);
    }
    let n = r.len() as f64;
    let mean = r.iter().sum::<f64>() / n;
    let var = r.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    let down = r.iter().map(|x| x.min(0.0).powi(2)).sum::<f64>() / n;
    let ann = per_year.sqrt();
    let sharpe = (var > 0.0).then(|| mean / var.sqrt() * ann);
    let sortino = (down > 0.0).then(|| mean / down.sqrt() * ann);
    (sharpe, sortino)
}

/// Time with at least one position open: the union of the holding intervals, in ms.
/// `pending` holds disjoint intervals sorted by time that a later trade may still overlap;
/// [`Exposure::settle`] moves those that no later trade can reach into `settled`.
#[derive(Debug, Clone, Default)]
struct Exposure {
    settled: i64,
    pending: Vec<(i64, i64)>,
}

impl Exposure {
    fn add(&mut self, start: i64, end: i64) {
        let (mut s, mut e) = (start, end.max(start));
        // Pending intervals that overlap or touch [s, e] are i..j.
        let i = self.pending.partition_point(|&(_, pe)| pe < s);
        let j = self.pending.partition_point(|&(ps, _)| ps <= e);
        if i < j {
            s = s.min(self.pending[i].0);
            e = e.max(self.pending[j - 1].1);
        }
        self.pending.splice(i..j, [(s, e)]);
    }

    /// See [`MetricsAccumulator::settle`].
    fn settle(&mut self, open_since: Option<i64>, now: i64) {
        let bound = open_since.map_or(now, |o| o.min(now));
        // No later interval starts before `bound`: those ending by then are final.
        let k = self.pending.partition_point(|&(_, e)| e <= bound);
        if k > 0 {
            self.settled += self.pending.drain(..k).map(|(s, e)| e - s).sum::<i64>();
        }
        // The open position will cover [open_since, now]: the gaps between the remaining
        // intervals (all ending after open_since) that lie before `now` will be filled.
        if open_since.is_some_and(|o| o <= now) {
            let mut out = 0;
            for i in 0..self.pending.len() {
                let (s, e) = self.pending[i];
                if out > 0 && s <= now {
                    self.pending[out - 1].1 = e;
                } else {
                    self.pending[out] = (s, e);
                    out += 1;
                }
            }
            self.pending.truncate(out);
        }
    }

    fn total(&self) -> i64 {
        self.settled + self.pending.iter().map(|(s, e)| e - s).sum::<i64>()
    }
}

#[cfg(test)]
pub(crate) mod tests;
