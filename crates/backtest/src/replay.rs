//! Replay: the engine run again, with the sim broker and a live run's own configuration, over
//! the quotes that run received (its recording), and compared with what the run journaled,
//! trade by trade.
//!
//! The sim broker fills each market order on the quote it was decided on (no latency, no
//! slippage), so the replay is what the backtest promised for exactly the quotes the run saw;
//! like IG to a live run, it reports a stop or limit after the quote that triggered it.
//! A pair of trades (one live, one replayed) is matched on its entry decision: the same
//! direction decided on the same quote. Its P&L difference is split into
//! - **latency**: the market moved between the deciding quote and the fill (the quote in
//!   force when the broker filled, against the deciding quote; a fill between that quote and
//!   the next one streamed is on a price the throttled stream did not show, and all latency);
//! - **slippage**: the broker filled worse than its own price at that moment;
//! - **exit timing**: the two exits were decided on different quotes (typically a stop or
//!   limit placed from a different fill), valued as the whole exit difference;
//! - **other**: what is left (sizes, fees, rounding).
//!
//! Trades only the replay made are **missed** (their P&L is what live did not get), trades
//! only the run made are **extra**. The decision hash (SHA-256 over each trade's direction,
//! size, entry decision time and exit decision time) is the same for both when the run did
//! what the backtest would have done.

use rust_decimal::Decimal;
use std::collections::VecDeque;

use scalper_engine::sim::{SimBroker, SimConfig};
use scalper_engine::{
    Action, BrokerCommand, BrokerEvent, ClosedTrade, Command, Driver, Engine, EngineConfig,
    EngineEvent, EngineInit, Venue,
};
use scalper_model::{Direction, Instrument, Money, Price, Quote, Size, Timestamp};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::cache::recording::RecordedQuote;
use crate::error::BacktestError;
use crate::metrics::TradeRecord;
use crate::parse::to_decimal;
use crate::record::RawQuote;

/// A trade as the live run journaled it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveTrade {
    /// The journal's trade id.
    pub id: i64,
    pub direction: Direction,
    pub size: Size,
    /// The quote the entry was decided on (IG's time), when journaled.
    pub signal_at: Option<Timestamp>,
    pub opened_at: Timestamp,
    pub entry_level: Price,
    /// The quote a close the engine sent was decided on.
    pub exit_signal_at: Option<Timestamp>,
    pub closed_at: Option<Timestamp>,
    pub exit_level: Option<Price>,
    /// Net P&L (after fees) in the account currency; `None` while not known.
    pub pnl: Option<Money>,
    /// Request sent to outcome confirmed, ms (local clock).
    pub latency_ms: Option<i64>,
    pub reason: String,
}

impl LiveTrade {
    /// The entry decision's time: the deciding quote when journaled, else the fill.
    pub fn decided_at(&self) -> Timestamp {
        self.signal_at.unwrap_or(self.opened_at)
    }
}

/// What a replay of a run needs.
#[derive(Debug, Clone)]
pub struct ReplayInput {
    /// The run's engine configuration.
    pub config: EngineConfig,
    /// The instruments as the broker described them to the run.
    pub instruments: Vec<Instrument>,
    /// The run's start state: the equity it sized with and the session day's totals.
    pub init: EngineInit,
    /// Every quote the run received (any instrument), with its receive time; in any order
    /// across instruments, in recorded order within one.
    pub quotes: Vec<(usize, RecordedQuote)>,
    /// Wall clock when the run's one-second timer started (`None`: timers every second of
    /// quote time, as a backtest sends them).
    pub timer_started_wall_ms: Option<i64>,
    /// Wall clock when the run stopped trading (the last timer sent).
    pub ended_wall_ms: Option<i64>,
    /// The run closed every position at its end (`at_end = "flatten"`).
    pub flatten_at_end: bool,
    /// The run's closed trades, by instrument (index into `instruments`).
    pub live: Vec<(usize, LiveTrade)>,
}

/// One event of the replay, in the order the run received them.
enum Step {
    Quote(usize, RawQuote),
    Timer(i64),
}

/// The run's events: its quotes in receive order, with its timer events between them at the
/// instants its timer fired (each at the latest quote time plus the wall time since that
/// quote arrived, as the live loop computes it).
fn events(input: &ReplayInput) -> Vec<Step> {
    let mut quotes: Vec<&(usize, RecordedQuote)> = input.quotes.iter().collect();
    // Stable: one instrument's quotes keep their recorded order.
    quotes.sort_by_key(|(_, q)| q.received_ms);
    let mut out = Vec::with_capacity(quotes.len() + quotes.len() / 2);
    let mut last_ts = i64::MIN;
    let mut last_recv = 0;
    if let Some(start) = input.timer_started_wall_ms {
        let end = input
            .ended_wall_ms
            .or_else(|| quotes.last().map(|(_, q)| q.received_ms))
            .unwrap_or(start);
        let mut next = start;
        let mut fire = |out: &mut Vec<Step>, upto: i64, last_ts: i64, last_recv: i64| {
            while next <= upto && next <= end {
                if last_ts > i64::MIN {
                    out.push(Step::Timer(last_ts + (next - last_recv)));
                }
                next += 1000;
            }
        };
        for (i, q) in quotes {
            fire(&mut out, q.received_ms - 1, last_ts, last_recv);
            last_ts = last_ts.max(q.quote.ts);
            last_recv = q.received_ms;
            out.push(Step::Quote(*i, q.quote));
        }
        fire(&mut out, end, last_ts, last_recv);
    } else {
        // No timer instants journaled: every second of quote time, as a backtest.
        let mut timers = crate::runner::Timers::new(1000);
        for (i, q) in quotes {
            if let Some(at) = timers.before(q.quote.ts) {
                out.push(Step::Timer(at));
            }
            out.push(Step::Quote(*i, q.quote));
        }
    }
    out
}

/// The sim broker as a live run meets IG: a stop or limit a quote triggers is reported after
/// that quote, not before it (IG's close reaches the run after the price that caused it), so
/// the engine cannot re-enter on the very quote that closed its position, as it cannot live.
struct AsLive<'a> {
    broker: &'a mut SimBroker,
    /// Reports the last quote caused, delivered after it.
    later: Vec<BrokerEvent>,
}

impl Venue for AsLive<'_> {
    fn reports_before(&mut self, event: &EngineEvent, out: &mut Vec<BrokerEvent>) {
        match event {
            EngineEvent::Quote(q) => self.later.extend(self.broker.on_quote(q)),
            other => Venue::reports_before(&mut *self.broker, other, out),
        }
    }

    fn reports_before_quote(&mut self, quote: &Quote, _out: &mut Vec<BrokerEvent>) {
        self.later.extend(self.broker.on_quote(quote));
    }

    fn submit(&mut self, cmd: &BrokerCommand, queue: &mut VecDeque<EngineEvent>) {
        Venue::submit(&mut *self.broker, cmd, queue);
    }
}

/// One event through the engine and the venue, then the broker reports it caused.
fn step(
    driver: &mut Driver,
    engine: &mut Engine,
    venue: &mut AsLive<'_>,
    event: EngineEvent,
    out: &mut Vec<Action>,
) {
    driver.step(engine, venue, event, out);
    for report in std::mem::take(&mut venue.later) {
        driver.step(engine, venue, EngineEvent::Broker(report), out);
    }
}

/// A closed replay trade as the backtest's trade record.
fn record_of(c: &ClosedTrade, currency: &str) -> TradeRecord {
    TradeRecord {
        id: c.trade_id,
        direction: c.direction,
        size: Size::new(c.size.value().normalize()),
        entry_time: c.entry_time,
        entry_price: c.entry_price,
        exit_time: c.exit_time,
        exit_price: c.exit_price,
        currency: currency.to_string(),
        pnl: c.pnl,
        commission: Money::ZERO,
        funding: Money::ZERO,
        cause: c.cause,
        reason: c.reason.clone(),
    }
}

/// Runs the engine of a run again over its quotes and timers with the sim broker (fills on
/// the deciding quote), and compares each instrument's trades with the run's.
pub fn replay_run(input: &ReplayInput) -> Result<Vec<InstrumentReplay>, BacktestError> {
    let steps = events(input);
    let mut broker = SimBroker::new(
        SimConfig {
            latency_ms: Some(0),
            deal_id_prefix: "RP".to_string(),
            ..SimConfig::default()
        },
        input.instruments.clone(),
    );
    broker.keep_outcomes(0);
    let mut venue = AsLive {
        broker: &mut broker,
        later: Vec::new(),
    };
    let mut driver = Driver::new();
    let mut engine = Engine::new(
        input.config.clone(),
        input.instruments.clone(),
        input.init.clone(),
    )?;
    engine.set_closed_history(0);
    let n = input.instruments.len();
    let mut replayed: Vec<Vec<TradeRecord>> = vec![Vec::new(); n];
    let mut counts = vec![(0u64, None::<i64>, None::<i64>); n];
    let mut by_epic: Vec<Vec<RawQuote>> = vec![Vec::new(); n];
    let index = |epic: &scalper_model::Epic| input.instruments.iter().position(|i| &i.epic == epic);
    let mut actions: Vec<Action> = Vec::with_capacity(16);
    // The replay's refusals by instrument: (quote time, why), to say why a run's trade has
    // no twin.
    let mut refused: Vec<Vec<(i64, String)>> = vec![Vec::new(); n];
    let mut collect =
        |actions: &mut Vec<Action>, replayed: &mut Vec<Vec<TradeRecord>>, now: i64| {
            for a in actions.drain(..) {
                match a {
                    Action::TradeClosed(c) => {
                        if let Some(k) = index(&c.epic) {
                            let ccy = input.instruments[k].account_currency().to_string();
                            replayed[k].push(record_of(&c, &ccy));
                        }
                    }
                    Action::Refused { epic, reason, .. } => {
                        if let Some(k) = index(&epic) {
                            refused[k].push((now, reason.to_string()));
                        }
                    }
                    _ => {}
                }
            }
        };
    let mut now = i64::MIN;
    for event in &steps {
        match event {
            Step::Quote(i, q) => {
                let Some(inst) = input.instruments.get(*i) else {
                    continue;
                };
                let c = &mut counts[*i];
                c.0 += 1;
                c.1.get_or_insert(q.ts);
                c.2 = Some(q.ts);
                by_epic[*i].push(*q);
                now = q.ts;
                let quote = Quote {
                    epic: inst.epic.clone(),
                    bid: Price::new(to_decimal(q.bid).normalize()),
                    offer: Price::new(to_decimal(q.ask).normalize()),
                    ts: Timestamp::from_millis(q.ts),
                };
                step(
                    &mut driver,
                    &mut engine,
                    &mut venue,
                    EngineEvent::Quote(quote),
                    &mut actions,
                );
            }
            Step::Timer(at) => {
                now = *at;
                step(
                    &mut driver,
                    &mut engine,
                    &mut venue,
                    EngineEvent::Timer(Timestamp::from_millis(*at)),
                    &mut actions,
                );
            }
        }
        collect(&mut actions, &mut replayed, now);
    }
    if input.flatten_at_end {
        step(
            &mut driver,
            &mut engine,
            &mut venue,
            EngineEvent::Command(Command::CloseAll),
            &mut actions,
        );
        collect(&mut actions, &mut replayed, now);
    }
    let strategy_of = |inst: &Instrument| {
        input
            .config
            .instruments
            .iter()
            .find(|(name, _)| {
                scalper_model::market::resolve_instrument(name).as_ref() == Some(&inst.epic)
            })
            .and_then(|(_, c)| c.strategy.as_ref())
            .unwrap_or(&input.config.strategy)
            .name()
            .to_string()
    };
    let mut out = Vec::with_capacity(n);
    for (k, inst) in input.instruments.iter().enumerate() {
        let mut live: Vec<LiveTrade> = input
            .live
            .iter()
            .filter(|(i, _)| *i == k)
            .map(|(_, t)| t.clone())
            .collect();
        live.sort_by_key(|t| (t.decided_at(), t.id));
        let mut mine = std::mem::take(&mut replayed[k]);
        mine.sort_by_key(|t| (t.entry_time, t.id));
        let quotes = std::mem::take(&mut by_epic[k]);
        let (count, first, last) = counts[k];
        out.push(compare(
            inst,
            &quotes,
            &live,
            &mine,
            &refused[k],
            strategy_of(inst),
            (
                count,
                first.map(Timestamp::from_millis),
                last.map(Timestamp::from_millis),
            ),
        ));
    }
    Ok(out)
}

/// Pairs one instrument's live and replayed trades and explains the difference.
fn compare(
    instrument: &Instrument,
    quotes: &[RawQuote],
    live: &[LiveTrade],
    replayed: &[TradeRecord],
    refused: &[(i64, String)],
    strategy: String,
    (count, first_quote, last_quote): (u64, Option<Timestamp>, Option<Timestamp>),
) -> InstrumentReplay {
    let inst = instrument;
    let mut pairs = Vec::new();
    let mut missed = Vec::new();
    let mut extra = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < live.len() || j < replayed.len() {
        match (live.get(i), replayed.get(j)) {
            (Some(l), Some(r)) if l.decided_at() == r.entry_time && l.direction == r.direction => {
                pairs.push(pair(inst, quotes, l.clone(), r.clone()));
                i += 1;
                j += 1;
            }
            (Some(l), Some(r)) if l.decided_at() <= r.entry_time => {
                extra.push(l.clone());
                i += 1;
            }
            (_, Some(r)) => {
                missed.push(r.clone());
                j += 1;
            }
            (Some(l), None) => {
                extra.push(l.clone());
                i += 1;
            }
            (None, None) => break,
        }
    }
    let extra: Vec<Extra> = extra
        .into_iter()
        .map(|t| Extra {
            replay_refused: refused
                .iter()
                .find(|(at, _)| *at == t.decided_at().millis())
                .map(|(_, why)| why.clone()),
            trade: t,
        })
        .collect();
    let sum = |it: &mut dyn Iterator<Item = Money>| it.fold(Money::ZERO, |a, b| a + b);
    let attribution = Attribution {
        latency: sum(&mut pairs.iter().map(|p| {
            Money::ZERO
                - p.entry.latency_cost
                - p.exit.as_ref().map_or(Money::ZERO, |e| e.latency_cost)
        })),
        slippage: sum(&mut pairs.iter().map(|p| {
            Money::ZERO
                - p.entry.slippage_cost
                - p.exit.as_ref().map_or(Money::ZERO, |e| e.slippage_cost)
        })),
        exit_timing: sum(&mut pairs.iter().map(|p| p.exit_timing)),
        missed: Money::ZERO - sum(&mut missed.iter().map(|t| t.pnl)),
        extra: sum(&mut extra.iter().map(|t| t.trade.pnl.unwrap_or(Money::ZERO))),
        other: sum(&mut pairs.iter().map(|p| p.other)),
    };
    let live_hash = decision_hash(live.iter().map(|t| {
        (
            t.direction,
            t.size,
            t.decided_at().millis(),
            live_exit_decided(t, quotes).map(Timestamp::millis),
        )
    }));
    let replay_hash = decision_hash(replayed.iter().map(|t| {
        (
            t.direction,
            t.size,
            t.entry_time.millis(),
            Some(t.exit_time.millis()),
        )
    }));
    let latencies: Vec<i64> = live.iter().filter_map(|t| t.latency_ms).collect();
    InstrumentReplay {
        epic: instrument.epic.to_string(),
        name: instrument.name.clone(),
        currency: instrument.account_currency().to_string(),
        quotes: count,
        first_quote,
        last_quote,
        strategy,
        live_trades: live.len(),
        replay_trades: replayed.len(),
        live_pnl: live
            .iter()
            .fold(Money::ZERO, |a, t| a + t.pnl.unwrap_or(Money::ZERO)),
        replay_pnl: replayed.iter().fold(Money::ZERO, |a, t| a + t.pnl),
        live_hash,
        replay_hash,
        pairs,
        missed,
        extra,
        attribution,
        #[allow(clippy::cast_precision_loss)] // a mean of milliseconds, for display
        mean_latency_ms: (!latencies.is_empty())
            .then(|| latencies.iter().sum::<i64>() as f64 / latencies.len() as f64),
    }
}

/// One leg (entry or exit) of a matched pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leg {
    /// Decision times (IG's): the live run's (when known) and the replay's.
    pub live_decided_at: Option<Timestamp>,
    pub replay_decided_at: Timestamp,
    pub live_level: Price,
    pub replay_level: Price,
    /// The market's level (the side this leg deals at) in force when the live fill happened.
    pub market_at_fill: Option<Price>,
    /// Points worse for the trader than the replay (negative: better), split into the move
    /// while the order travelled and the broker's own slippage.
    pub latency_points: Decimal,
    pub slippage_points: Decimal,
    /// The same in the account currency, for the live size (positive: P&L lost).
    pub latency_cost: Money,
    pub slippage_cost: Money,
}

/// A live trade and its replayed twin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pair {
    pub live: LiveTrade,
    pub replay: TradeRecord,
    pub entry: Leg,
    /// `None` when the exits were decided on different quotes (see `exit_timing`).
    pub exit: Option<Leg>,
    /// Live P&L less the replay's.
    pub pnl_difference: Money,
    /// The exit difference when the exits were decided on different quotes.
    pub exit_timing: Money,
    /// Why the exits were decided on different quotes, when the comparison can tell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_note: Option<String>,
    /// Sizes, fees and rounding: the difference not explained by the legs.
    pub other: Money,
}

impl Pair {
    /// Both trades took the same decisions (entry and exit on the same quotes, same size).
    pub fn same_decisions(&self) -> bool {
        self.exit.is_some() && self.live.size == self.replay.size
    }
}

/// A trade only the run made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extra {
    #[serde(flatten)]
    pub trade: LiveTrade,
    /// The replay's risk refusal on the same quote, when it refused the entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay_refused: Option<String>,
}

/// Where the P&L difference comes from (live less replay; negative: live made less).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attribution {
    pub latency: Money,
    pub slippage: Money,
    pub exit_timing: Money,
    /// The P&L of the trades only the replay made, as a difference (minus their P&L).
    pub missed: Money,
    /// The P&L of the trades only the run made.
    pub extra: Money,
    pub other: Money,
}

impl Attribution {
    pub fn total(&self) -> Money {
        self.latency + self.slippage + self.exit_timing + self.missed + self.extra + self.other
    }
}

/// The replay of one instrument.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstrumentReplay {
    pub epic: String,
    pub name: String,
    pub currency: String,
    /// Quotes fed to the replay.
    pub quotes: u64,
    pub first_quote: Option<Timestamp>,
    pub last_quote: Option<Timestamp>,
    pub strategy: String,
    pub live_trades: usize,
    pub replay_trades: usize,
    pub live_pnl: Money,
    pub replay_pnl: Money,
    /// Decision hashes (see the module doc): equal when the run took the replay's decisions.
    pub live_hash: String,
    pub replay_hash: String,
    pub pairs: Vec<Pair>,
    /// Replay trades the run did not make.
    pub missed: Vec<TradeRecord>,
    /// Run trades the replay did not make.
    pub extra: Vec<Extra>,
    pub attribution: Attribution,
    /// Mean sent-to-confirmed time of the run's entries, ms.
    pub mean_latency_ms: Option<f64>,
}

impl InstrumentReplay {
    /// The run took the replay's decisions, trade for trade.
    pub fn matches(&self) -> bool {
        self.live_hash == self.replay_hash
    }
}

/// A quote's price on the side a deal in `dir` trades at (offer for a buy).
fn side(q: &RawQuote, dir: Direction) -> Price {
    Price::new(
        to_decimal(match dir {
            Direction::Buy => q.ask,
            Direction::Sell => q.bid,
        })
        .normalize(),
    )
}

/// The level in force at `at` (the latest quote at or before it) on the side a deal in
/// `dir` trades at.
fn level_at(quotes: &[RawQuote], at: Timestamp, dir: Direction) -> Option<Price> {
    let i = quotes.partition_point(|q| q.ts <= at.millis());
    Some(side(quotes.get(i.checked_sub(1)?)?, dir))
}

/// The broker's price on the side a deal in `dir` trades at when it filled at `at` at
/// `level`: the quote in force then; but when the fill lies between that quote and the next
/// one streamed (within a second), the fill's own level. The broker deals on its newest
/// price, which the (throttled) stream shows a moment later or, when the market ticks faster
/// than the stream's updates, never: a fill on the way from one streamed price to the next
/// is the market having moved, which is latency, not slippage.
fn market_at_fill(
    quotes: &[RawQuote],
    at: Timestamp,
    dir: Direction,
    level: Price,
) -> Option<Price> {
    let in_force = level_at(quotes, at, dir)?;
    if in_force == level {
        return Some(in_force);
    }
    let from = quotes.partition_point(|q| q.ts <= at.millis());
    let on_the_way = quotes[from..]
        .first()
        .filter(|q| q.ts < at.millis() + 1000)
        .map(|q| side(q, dir))
        .is_some_and(|next| {
            let (lo, hi) = if next < in_force {
                (next, in_force)
            } else {
                (in_force, next)
            };
            lo <= level && level <= hi
        });
    Some(if on_the_way { level } else { in_force })
}

/// The time of the quote in force at `at`.
fn quote_time_at(quotes: &[RawQuote], at: Timestamp) -> Option<Timestamp> {
    let i = quotes.partition_point(|q| q.ts <= at.millis());
    Some(Timestamp::from_millis(quotes.get(i.checked_sub(1)?)?.ts))
}

/// One hash line per trade: `{direction},{size},{entry decision ms},{exit decision ms}`.
fn decision_hash(lines: impl Iterator<Item = (Direction, Size, i64, Option<i64>)>) -> String {
    let mut sha = Sha256::new();
    for (dir, size, entry, exit) in lines {
        let exit = exit.map_or_else(|| "-".to_string(), |e| e.to_string());
        sha.update(
            format!(
                "{},{},{entry},{exit}\n",
                dir.as_str(),
                size.value().normalize()
            )
            .as_bytes(),
        );
    }
    hex::encode(sha.finalize())
}

/// The live exit's decision time: the deciding quote of a close the engine sent; for a close
/// by the broker (a stop or limit), which IG dates to the second, the first quote of that
/// second at the level it closed at (the quote that triggered it), else the quote in force
/// when it closed.
fn live_exit_decided(t: &LiveTrade, quotes: &[RawQuote]) -> Option<Timestamp> {
    if let Some(at) = t.exit_signal_at {
        return Some(at);
    }
    broker_trigger(t, quotes).or_else(|| quote_time_at(quotes, t.closed_at?))
}

/// The quote that triggered a close by the broker (a stop or limit, which IG dates to the
/// second): the first quote of that second at the level it closed at.
fn broker_trigger(t: &LiveTrade, quotes: &[RawQuote]) -> Option<Timestamp> {
    let closed = t.closed_at?;
    let level = t.exit_level?;
    let from = quotes.partition_point(|q| q.ts < closed.millis());
    quotes[from..]
        .iter()
        .take_while(|q| q.ts < closed.millis() + 1000)
        // The close deals the other way: a buy closes at the bid.
        .find(|q| side(q, t.direction.opposite()) == level)
        .map(|q| Timestamp::from_millis(q.ts))
}

/// Why a live exit was decided on another quote than the replay's, when it can be told.
fn exit_note(live: &LiveTrade, replay: &TradeRecord, quotes: &[RawQuote]) -> Option<String> {
    let level = live.exit_level?;
    if live.exit_signal_at.is_none() && broker_trigger(live, quotes).is_none() {
        return Some(format!(
            "IG closed it at {} on a price the stream never showed (a market ticking faster than the stream's updates)",
            level.value().normalize()
        ));
    }
    (live.entry_level != replay.entry_price)
        .then(|| "its stop or limit was placed from another fill".into())
}

/// Compares a live trade with its replayed twin.
fn pair(inst: &Instrument, quotes: &[RawQuote], live: LiveTrade, replay: TradeRecord) -> Pair {
    let dir = live.direction;
    let size = live.size;
    let pts = |d: Decimal| inst.to_points(d).value();
    // Worse for the trader by `from -> to` on a leg dealing in `deal_dir`: paying more on a
    // buy, receiving less on a sell.
    let leg = |deal_dir: Direction,
               live_decided: Option<Timestamp>,
               replay_decided: Timestamp,
               live_level: Price,
               replay_level: Price,
               filled_at: Option<Timestamp>| {
        let market = filled_at.and_then(|at| market_at_fill(quotes, at, deal_dir, live_level));
        let worse = |from: Price, to: Price| (to.value() - from.value()) * deal_dir.sign();
        // The cost of dealing at `to` instead of `from`, for the live size.
        let cost = |from: Price, to: Price| inst.pnl(deal_dir, size, from, to);
        let (lat_pts, slip_pts, lat_cost, slip_cost) = match market {
            Some(m) => (
                pts(worse(replay_level, m)),
                pts(worse(m, live_level)),
                cost(replay_level, m),
                cost(m, live_level),
            ),
            None => (
                Decimal::ZERO,
                pts(worse(replay_level, live_level)),
                Money::ZERO,
                cost(replay_level, live_level),
            ),
        };
        Leg {
            live_decided_at: live_decided,
            replay_decided_at: replay_decided,
            live_level,
            replay_level,
            market_at_fill: market,
            latency_points: lat_pts,
            slippage_points: slip_pts,
            latency_cost: lat_cost,
            slippage_cost: slip_cost,
        }
    };
    let entry = leg(
        dir,
        live.signal_at,
        replay.entry_time,
        live.entry_level,
        replay.entry_price,
        Some(live.opened_at),
    );
    let live_exit_at = live_exit_decided(&live, quotes);
    let exit_dir = dir.opposite();
    let exit = match (live.exit_level, live_exit_at) {
        (Some(level), Some(at)) if at == replay.exit_time => Some(leg(
            exit_dir,
            Some(at),
            replay.exit_time,
            level,
            replay.exit_price,
            // A broker close fills on the quote that triggered it; an engine close when
            // confirmed.
            if live.exit_signal_at.is_some() {
                live.closed_at
            } else {
                Some(at)
            },
        )),
        _ => None,
    };
    let pnl_difference = live.pnl.unwrap_or(Money::ZERO) - replay.pnl;
    let exit_timing = match (&exit, live.exit_level) {
        // Valued on the live size: the exit level difference, as P&L.
        (None, Some(level)) => inst.pnl(dir, size, replay.exit_price, level),
        _ => Money::ZERO,
    };
    let explained = Money::ZERO
        - entry.latency_cost
        - entry.slippage_cost
        - exit
            .as_ref()
            .map_or(Money::ZERO, |e| e.latency_cost + e.slippage_cost)
        + exit_timing;
    let exit_note = exit
        .is_none()
        .then(|| exit_note(&live, &replay, quotes))
        .flatten();
    Pair {
        other: pnl_difference - explained,
        exit_note,
        live,
        replay,
        entry,
        exit,
        pnl_difference,
        exit_timing,
    }
}
