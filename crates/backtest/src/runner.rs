//! [`run_backtest`]: streams the data through the engine's sim broker and the live `Engine`
//! with event time only (no wall clock), closes what is open at the last record, and builds
//! the [`BacktestReport`]. Same data, options and seed give bit-identical trades.

use std::collections::BTreeMap;
use std::path::Path;

use rust_decimal::Decimal;
use scalper_engine::{
    step, step_quote, Action, ClosedTrade, Command, Engine, EngineEvent, EngineInit, MarginWatch,
    OpenedTrade, SimBroker,
};
use scalper_model::economics::{currency_decimals, round_to_currency};
use scalper_model::{normalized, Direction, Instrument, Money, Price, Size, Timestamp};
use serde::{Deserialize, Serialize};

use crate::curve::{CurveEnvelope, PricePoint};
use crate::data;
use crate::error::BacktestError;
use crate::funding::Funding;
use crate::hash::TradesHasher;
use crate::metrics::{EquityPoint, Metrics, MetricsAccumulator, TradeRecord};
use crate::options::{engine_setup, sim_config, BacktestOptions};
use crate::output::TradesFile;
use crate::parse::to_decimal;
use crate::record::{self, DataKind, Record, RecordSource};

pub use scalper_engine::CLOSE_OUT_PERCENT;

/// Records read at a time.
const BATCH: usize = 1024;

/// Progress of a run, reported every 65,536 records and once at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub records: u64,
    pub bytes_done: u64,
    pub bytes_total: u64,
}

/// The outcome of a backtest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BacktestReport {
    /// Friendly name and epic.
    pub instrument: String,
    pub epic: String,
    pub strategy: String,
    /// The strategy's parameters after `--set`.
    pub strategy_config: serde_json::Value,
    pub data_kind: DataKind,
    /// Records fed to the engine (inside from/to).
    pub records: u64,
    pub first_ts: Option<Timestamp>,
    pub last_ts: Option<Timestamp>,
    /// True when every record came from the binary cache.
    pub from_cache: bool,
    /// Currency of every amount below.
    pub currency: String,
    pub initial_equity: Money,
    pub final_equity: Money,
    pub metrics: Metrics,
    /// SHA-256 of the trade list (see [`trades_hash`](crate::hash::trades_hash)), built as
    /// trades close: the same with or without `keep_trades`.
    pub trades_hash: String,
    /// Entries refused by risk.
    pub refusals: u64,
    /// Margin close-outs: times equity fell below 50% of the open positions' margin and
    /// everything was closed.
    #[serde(default)]
    pub margin_closeouts: u64,
    /// The refusals by rule (`size_below_minimum`, `halted`, ...), each with its count and
    /// its first occurrence: why a run stopped trading.
    #[serde(default)]
    pub refusals_by_rule: BTreeMap<String, RefusalStat>,
    /// Every closed trade in close order with [`BacktestOptions::keep_trades`]; empty
    /// otherwise (the count is `metrics.trades`).
    pub trades: Vec<TradeRecord>,
    /// The equity curve for plotting, bounded: at most
    /// [`MAX_CURVE_POINTS`](crate::curve::MAX_CURVE_POINTS) (4,098) points in time order, the
    /// first and the last and, in each of up to 2,048 equal time buckets, the lowest and the
    /// highest (see [`CurveEnvelope`]). Drawdown is measured on every point, not on these.
    pub equity_curve: Vec<EquityPoint>,
    /// The mid-price curve for plotting entries and exits, bounded like `equity_curve`; only
    /// with [`BacktestOptions::keep_prices`], else empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub price_curve: Vec<PricePoint>,
}

/// How often a risk rule refused an entry, and the first time it did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusalStat {
    pub count: u64,
    pub first_at: Timestamp,
    /// The first refusal, as the log says it.
    pub first: String,
}

#[derive(Debug, Clone)]
struct OpenPos {
    direction: Direction,
    size: Size,
    level: Price,
    funding: Money,
    /// Entry time, epoch ms.
    entry: i64,
}

/// Follows trades and equity through the engine's actions. Each closed trade updates the
/// metrics, the trade-list hash and the bounded curve, and is kept or written only when the
/// options ask, so a run's memory does not grow with its trades.
struct Book<'a> {
    inst: &'a Instrument,
    commission_pct: Decimal,
    start: Money,
    realised: Money,
    open: BTreeMap<u64, OpenPos>,
    last_bid: i64,
    last_ask: i64,
    metrics: MetricsAccumulator,
    hash: TradesHasher,
    curve: CurveEnvelope,
    /// The mid-price envelope, with `keep_prices`.
    prices: Option<CurveEnvelope<PricePoint>>,
    /// Every trade, with `keep_trades`.
    trades: Option<Vec<TradeRecord>>,
    sink: Option<TradesFile>,
    /// The reason and currency buffers of a trade written but not kept, reused from trade
    /// to trade.
    reason: String,
    currency: String,
    refused: BTreeMap<&'static str, RefusalStat>,
    /// Margin close-outs: whether one is due, in progress, and how many there were.
    margin: MarginWatch,
}

impl Book<'_> {
    /// The sim broker's commission on one fill (in account currency).
    fn commission(&self, level: Price, size: Size) -> Money {
        scalper_engine::sim::commission(self.inst, self.commission_pct, level, size)
    }

    /// IG's margin close-out ([`MarginWatch`], as paper runs apply it), checked once per
    /// second of data time: true when equity (with open P&L and funding) has fallen below
    /// [`CLOSE_OUT_PERCENT`] of the margin of the open positions and no close-out is already
    /// under way.
    fn margin_call(&mut self, now: i64) -> bool {
        if self.inst.margin.is_none() || !self.margin.due(now, !self.open.is_empty()) {
            return false;
        }
        let used: Money = self
            .open
            .values()
            .map(|p| self.inst.margin_for(p.size, p.level))
            .fold(Money::ZERO, |a, b| a + b);
        let equity = self.equity();
        self.margin.close_out(equity, used)
    }

    /// Takes the actions of an event at `now` (epoch ms).
    fn on_actions(&mut self, actions: &[Action], now: i64) -> Result<(), BacktestError> {
        let mut closed = false;
        for a in actions {
            match a {
                Action::TradeOpened(OpenedTrade {
                    trade_id,
                    direction,
                    size,
                    level,
                    at,
                    ..
                }) => {
                    self.open.insert(
                        *trade_id,
                        OpenPos {
                            direction: *direction,
                            size: *size,
                            level: *level,
                            funding: Money::ZERO,
                            entry: at.millis(),
                        },
                    );
                }
                Action::TradeClosed(c) => {
                    self.close(c)?;
                    closed = true;
                }
                Action::Refused { reason, .. } => {
                    self.refused
                        .entry(reason.rule())
                        .or_insert_with(|| RefusalStat {
                            count: 0,
                            first_at: Timestamp::from_millis(now),
                            first: reason.to_string(),
                        })
                        .count += 1;
                }
                _ => {}
            }
        }
        if closed {
            // Later trades enter no earlier than now or the oldest open position, which
            // the end of the run closes at the latest.
            let open_since = self.open.values().map(|p| p.entry).min();
            self.metrics.settle(
                open_since.map(Timestamp::from_millis),
                Timestamp::from_millis(now),
            );
        }
        Ok(())
    }

    fn close(&mut self, c: &ClosedTrade) -> Result<(), BacktestError> {
        let funding = self
            .open
            .remove(&c.trade_id)
            .map_or(Money::ZERO, |p| p.funding);
        let commission =
            self.commission(c.entry_price, c.size) + self.commission(c.exit_price, c.size);
        let pnl = c.pnl + funding;
        self.realised += pnl;
        // Neither the metrics nor the hash read the reason or the currency: copy them only
        // for the list or file.
        let mut reason = std::mem::take(&mut self.reason);
        let mut currency = std::mem::take(&mut self.currency);
        if self.trades.is_some() || self.sink.is_some() {
            reason.clone_from(&c.reason);
            currency.clear();
            currency.push_str(self.inst.account_currency());
        }
        let ccy = self.inst.account_currency();
        let t = TradeRecord {
            id: c.trade_id,
            direction: c.direction,
            size: Size::new(normalized(c.size.value())),
            entry_time: c.entry_time,
            entry_price: Price::new(normalized(c.entry_price.value())),
            exit_time: c.exit_time,
            exit_price: Price::new(normalized(c.exit_price.value())),
            currency,
            pnl: in_currency(pnl, ccy),
            commission: in_currency(commission, ccy),
            funding: in_currency(funding, ccy),
            cause: c.cause,
            reason,
        };
        self.metrics.add_trade(&t);
        self.hash.push(&t);
        if let Some(sink) = &mut self.sink {
            sink.write(&t)?;
        }
        if let Some(list) = &mut self.trades {
            list.push(t);
        } else {
            self.reason = t.reason;
            self.currency = t.currency;
        }
        let eq = self.equity();
        self.point(EquityPoint {
            ts: c.exit_time,
            equity: eq,
        });
        Ok(())
    }

    /// Mark-to-market equity at the last bid (longs) / ask (shorts).
    fn equity(&self) -> Money {
        let mut e = self.start + self.realised;
        for p in self.open.values() {
            let exit = match p.direction {
                Direction::Buy => self.last_bid,
                Direction::Sell => self.last_ask,
            };
            let pnl = self
                .inst
                .pnl(p.direction, p.size, p.level, Price::new(to_decimal(exit)));
            e += pnl + p.funding;
        }
        Money::new(normalized(e.value()))
    }

    /// A point of the equity curve.
    fn point(&mut self, p: EquityPoint) {
        self.metrics.add_equity(p);
        self.curve.push(p);
    }

    /// A periodic sample (for Sharpe and Sortino), also a point of the curve.
    fn sample(&mut self, ts: i64) {
        let p = EquityPoint {
            ts: Timestamp::from_millis(ts),
            equity: self.equity(),
        };
        self.metrics.add_sample(p);
        self.point(p);
    }
}

/// Removes a partly written trades CSV when the run fails before it is finished.
struct PartialFile<'a>(Option<&'a Path>);

impl PartialFile<'_> {
    /// The file is complete: keep it.
    fn keep(&mut self) {
        self.0 = None;
    }
}

impl Drop for PartialFile<'_> {
    fn drop(&mut self) {
        if let Some(p) = self.0 {
            // Best effort: the run's own error is what gets reported.
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Runs a backtest without progress reporting.
pub fn run_backtest(opts: &BacktestOptions) -> Result<BacktestReport, BacktestError> {
    run_backtest_with_progress(opts, &mut |_| {})
}

/// Runs a backtest, calling `progress` every 65,536 records and at the end.
pub fn run_backtest_with_progress(
    opts: &BacktestOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<BacktestReport, BacktestError> {
    if opts.data.is_empty() {
        return Err(BacktestError::NoData);
    }
    let inst = opts.instrument.resolve_for(opts.account.as_ref())?;
    opts.instrument.check_data_kind(&inst, &opts.data)?;
    let src = data::open_data(&opts.data, &opts.data_options)?;
    run_on_source(opts, src, progress)
}

/// Runs a backtest on any record source (e.g. synthetic data in tests and benchmarks).
pub fn run_on_source<S: RecordSource>(
    opts: &BacktestOptions,
    mut src: S,
    progress: &mut dyn FnMut(Progress),
) -> Result<BacktestReport, BacktestError> {
    let inst = opts.instrument.resolve_for(opts.account.as_ref())?;
    let (cfg, strategy) = engine_setup(opts, &inst)?;
    let mut broker = SimBroker::new(sim_config(opts)?, vec![inst.clone()]);
    // The sim broker never reports an unknown outcome here, so the engine never asks it to
    // resolve one: it need not remember outcomes.
    broker.keep_outcomes(0);
    let init = EngineInit {
        equity: Money::new(opts.initial_equity),
        ..EngineInit::default()
    };
    let built = strategy
        .build(&inst)
        .map_err(scalper_engine::EngineError::from)?;
    let mut engine = Engine::with_strategies(cfg, vec![(inst.clone(), built)], init)?;
    // The book follows every close: the engine's own history would be a copy per trade.
    engine.set_closed_history(0);
    if opts.initial_equity <= Decimal::ZERO {
        return Err(BacktestError::option("initial_equity", "must be > 0"));
    }
    let mut funding = opts.funding.as_ref().map(Funding::new).transpose()?;
    if opts.metrics.period_ms <= 0 {
        return Err(BacktestError::option("metrics.period_ms", "must be > 0"));
    }
    let kind = src.kind();
    let timer = match opts.timer_ms {
        Some(t) if t <= 0 => return Err(BacktestError::option("timer_ms", "must be > 0")),
        Some(t) if kind == DataKind::Quotes => Some(t),
        _ => None,
    };
    let sink = opts
        .trades_csv
        .as_deref()
        .map(TradesFile::create)
        .transpose()?;
    let mut partial = PartialFile(opts.trades_csv.as_deref());
    let start = Money::new(opts.initial_equity);
    let mut book = Book {
        inst: &inst,
        commission_pct: opts.commission_pct,
        start,
        realised: Money::ZERO,
        open: BTreeMap::new(),
        last_bid: 0,
        last_ask: 0,
        metrics: MetricsAccumulator::new(start, &opts.metrics),
        hash: TradesHasher::new(),
        curve: CurveEnvelope::default(),
        prices: opts.keep_prices.then(CurveEnvelope::default),
        trades: opts.keep_trades.then(Vec::new),
        sink,
        reason: String::new(),
        currency: String::new(),
        refused: BTreeMap::new(),
        margin: MarginWatch::new(),
    };
    let from = opts.from.map_or(i64::MIN, Timestamp::millis);
    let to = opts.to.map_or(i64::MAX, Timestamp::millis);
    let period = opts.metrics.period_ms;
    let epic = inst.epic.clone();
    // Records are read in batches (a cached run is decoded straight into `batch`). Two
    // quotes alternate: each record's quote is written while the one before it is processed,
    // so the broker and the engine never read a quote just written (a wide read of freshly
    // written narrow fields stalls the CPU), and no epic is copied per record.
    let blank = scalper_model::Quote {
        epic: epic.clone(),
        bid: Price::new(Decimal::ZERO),
        offer: Price::new(Decimal::ZERO),
        ts: Timestamp::from_millis(0),
    };
    let mut quotes = [blank.clone(), blank];
    let mut slot = 0;
    let mut actions: Vec<Action> = Vec::with_capacity(16);
    let (mut records, mut first, mut last) = (0u64, None, None);
    let mut next_sample = i64::MIN;
    let mut timers = timer.map(Timers::new);
    let mut seen = 0u64;
    let mut batch: Vec<Record> = Vec::with_capacity(BATCH);
    let mut more = true;
    while more {
        batch.clear();
        // An error comes after the records before it, which are processed first.
        let read = src.next_batch(&mut batch, BATCH);
        more = *read.as_ref().unwrap_or(&false);
        fill_quote(&mut quotes[slot], batch.first());
        for (i, rec) in batch.iter().enumerate() {
            let this = slot;
            slot ^= 1;
            fill_quote(&mut quotes[slot], batch.get(i + 1));
            seen += 1;
            if seen.trailing_zeros() >= 16 {
                let (bytes_done, bytes_total) = src.progress();
                progress(Progress {
                    records: seen,
                    bytes_done,
                    bytes_total,
                });
            }
            let ts = rec.ts();
            if ts < from || ts >= to {
                continue;
            }
            records += 1;
            if first.is_none() || book.prices.is_some() {
                let level = to_decimal(match rec {
                    Record::Quote(q) => record::mid(q.bid, q.ask),
                    Record::Bar(b) => b.close,
                });
                if first.is_none() {
                    opts.instrument.check_price_scale(&inst, level)?;
                    first = Some(ts);
                }
                if let Some(prices) = &mut book.prices {
                    prices.push(PricePoint {
                        ts: Timestamp::from_millis(ts),
                        mid: Price::new(level),
                    });
                }
            }
            last = Some(ts);
            if ts >= next_sample {
                // The first record samples the starting equity; later ones the equity at
                // each period boundary (before the record is processed).
                book.sample(ts);
                next_sample = (ts.div_euclid(period) + 1) * period;
            }
            // A timer nothing needs is skipped (this record moves the clock just the same).
            let due = timers.as_mut().and_then(|t| t.before(ts));
            if let Some(at) = due.filter(|_| engine.timer_has_work()) {
                step(
                    &mut engine,
                    &mut broker,
                    EngineEvent::Timer(Timestamp::from_millis(at)),
                    &mut actions,
                );
            }
            if let Some(f) = &mut funding {
                let nights = f.crossed(ts);
                if nights > 0 && !book.open.is_empty() {
                    let mid = Price::new(to_decimal(record::mid(book.last_bid, book.last_ask)));
                    for p in book.open.values_mut() {
                        p.funding += f.charge(&inst, p.direction, p.size, mid, nights);
                    }
                }
            }
            match rec {
                Record::Quote(q) => {
                    book.last_bid = q.bid;
                    book.last_ask = q.ask;
                    step_quote(&mut engine, &mut broker, &quotes[this], &mut actions);
                }
                Record::Bar(b) => {
                    let half = b.spread.unwrap_or(0) / 2;
                    book.last_bid = b.close - half;
                    book.last_ask = b.close + (b.spread.unwrap_or(0) - half);
                    let event = EngineEvent::Candle(b.to_candle(&epic));
                    step(&mut engine, &mut broker, event, &mut actions);
                }
            }
            if !actions.is_empty() {
                book.on_actions(&actions, ts)?;
                actions.clear();
            }
            if book.margin_call(ts) {
                // IG's close-out: every position closed at market (the next quote).
                let event = EngineEvent::Command(Command::CloseAll);
                step(&mut engine, &mut broker, event, &mut actions);
                book.on_actions(&actions, ts)?;
                actions.clear();
            }
        }
        read?;
    }
    let (bytes_done, bytes_total) = src.progress();
    progress(Progress {
        records: seen,
        bytes_done,
        bytes_total,
    });
    if records == 0 {
        return Err(BacktestError::EmptyRange);
    }
    let end = last.unwrap_or(0);
    finish(&mut engine, &mut broker, &mut book, &mut actions, end)?;
    book.sample(end);
    let span = end - first.unwrap_or(0);
    let metrics = book.metrics.finish(span);
    let final_equity = book.equity();
    if let Some(sink) = book.sink.take() {
        sink.finish()?;
    }
    partial.keep();
    Ok(BacktestReport {
        instrument: inst.name.clone(),
        epic: inst.epic.to_string(),
        strategy: strategy.name().to_string(),
        strategy_config: serde_json::to_value(&strategy).unwrap_or_default(),
        data_kind: kind,
        records,
        first_ts: first.map(Timestamp::from_millis),
        last_ts: last.map(Timestamp::from_millis),
        from_cache: src.all_cached(),
        currency: inst.account_currency().to_string(),
        initial_equity: start,
        final_equity,
        trades_hash: book.hash.finish(),
        refusals: engine.summary().refusals,
        margin_closeouts: book.margin.closeouts(),
        refusals_by_rule: book
            .refused
            .iter()
            .map(|(rule, stat)| ((*rule).to_string(), stat.clone()))
            .collect(),
        metrics,
        trades: book.trades.unwrap_or_default(),
        equity_curve: book.curve.points(),
        price_curve: book.prices.map(|p| p.points()).unwrap_or_default(),
    })
}

/// An amount rounded to `currency`'s minor unit and written with its decimals (`-320.00`
/// GBP, `-1100` JPY).
fn in_currency(m: Money, currency: &str) -> Money {
    let mut v = round_to_currency(m, currency).value();
    v.rescale(currency_decimals(currency));
    Money::new(v)
}

/// Writes a quote record into `quote` (bars and `None` leave it alone).
fn fill_quote(quote: &mut scalper_model::Quote, rec: Option<&Record>) {
    if let Some(Record::Quote(q)) = rec {
        quote.bid = Price::new(to_decimal(q.bid));
        quote.offer = Price::new(to_decimal(q.ask));
        quote.ts = Timestamp::from_millis(q.ts);
    }
}

/// Timer events on event time: one per `every` ms boundary crossed, collapsed to the last
/// boundary of a gap (the engine only looks at the latest time).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timers {
    every: i64,
    next: Option<i64>,
}

impl Timers {
    pub(crate) fn new(every: i64) -> Self {
        Self { every, next: None }
    }

    /// The timer to send before a record at `ts`, if a boundary lies strictly before it.
    pub(crate) fn before(&mut self, ts: i64) -> Option<i64> {
        match self.next {
            None => {
                self.next = Some((ts.div_euclid(self.every) + 1) * self.every);
                None
            }
            Some(next) if ts > next => {
                let at = (ts - 1).div_euclid(self.every) * self.every;
                self.next = Some(at + self.every);
                Some(at)
            }
            Some(_) => None,
        }
    }
}

/// End of data: close everything at the last quote and settle pending orders.
fn finish(
    engine: &mut Engine,
    broker: &mut SimBroker,
    book: &mut Book<'_>,
    out: &mut Vec<Action>,
    now: i64,
) -> Result<(), BacktestError> {
    step(engine, broker, EngineEvent::Command(Command::CloseAll), out);
    book.on_actions(out, now)?;
    out.clear();
    // Pending orders fill at the last quote; their reports may ask for more (bounded).
    for _ in 0..8 {
        let mut queue: std::collections::VecDeque<_> = broker.finish().into();
        if queue.is_empty() {
            break;
        }
        while let Some(ev) = queue.pop_front() {
            let start = out.len();
            engine.process_into(EngineEvent::Broker(ev), out);
            for a in &out[start..] {
                if let Action::Broker(c) = a {
                    queue.extend(broker.submit(c.clone()));
                }
            }
        }
        book.on_actions(out, now)?;
        out.clear();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Timers;

    #[test]
    fn timers_follow_event_time_and_collapse_gaps() {
        let mut t = Timers::new(1000);
        assert_eq!(t.before(500), None); // first record: next boundary 1000
        assert_eq!(t.before(1000), None); // a record on the boundary comes first
        assert_eq!(t.before(1001), Some(1000));
        assert_eq!(t.before(1500), None);
        assert_eq!(t.before(2500), Some(2000));
        // A 10-second gap sends one timer, at its last boundary.
        assert_eq!(t.before(12_300), Some(12_000));
        assert_eq!(t.before(12_900), None);
    }
}
