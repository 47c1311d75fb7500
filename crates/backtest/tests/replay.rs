//! The replay's comparison and attribution on synthetic runs whose differences are known: a
//! "live" run that took exactly the replay's trades matches it (same decision hash, nothing to
//! explain); one whose fills were worse or later, or that missed or added trades, has its
//! P&L difference explained to the cent by slippage, latency, missed and extra trades.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::cast_possible_wrap,
    clippy::cast_possible_truncation
)]

use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use scalper_backtest::{
    replay_run, InstrumentReplay, InstrumentSpec, LiveTrade, RawQuote, RecordedQuote, ReplayInput,
};
use scalper_engine::{EngineConfig, EngineInit};
use scalper_model::{Direction, Instrument, Money, Price, Timestamp};

const T0: i64 = 1_767_600_000_000;

fn config() -> EngineConfig {
    EngineConfig::from_toml(
        r#"
[strategy]
kind = "ema-cross"
fast = 3
slow = 8
[risk]
max_trades_per_day = 100000
cooldown_after_losses = 0
max_spread_points = 100
"#,
    )
    .unwrap()
}

fn instrument() -> Instrument {
    InstrumentSpec::named("EUR_USD").resolve().unwrap()
}

/// A deterministic zig-zag around 1.08 (fixed point 1e-9), one quote every 250 ms, with a
/// one-pip spread: the EMAs cross every few dozen quotes.
fn quotes(n: usize) -> Vec<RawQuote> {
    (0..n)
        .map(|i| {
            let phase = (i % 60) as i64;
            let wave = if phase < 30 { phase } else { 60 - phase };
            // 0.1 pip steps plus a slow drift.
            let mid = 1_080_000_000 + wave * 10_000 + (i as i64 / 7) * 1_000;
            RawQuote {
                ts: T0 + i as i64 * 250,
                bid: mid - 5_000,
                ask: mid + 5_000,
            }
        })
        .collect()
}

fn input(q: &[RawQuote], live: Vec<LiveTrade>) -> ReplayInput {
    ReplayInput {
        config: config(),
        instruments: vec![instrument()],
        init: EngineInit {
            equity: Money::new(dec!(10000)),
            ..EngineInit::default()
        },
        quotes: q
            .iter()
            .map(|q| {
                (
                    0,
                    RecordedQuote {
                        quote: *q,
                        received_ms: q.ts,
                    },
                )
            })
            .collect(),
        // Timers every second of receive time from the first quote.
        timer_started_wall_ms: Some(T0),
        ended_wall_ms: q.last().map(|q| q.ts),
        flatten_at_end: true,
        live: live.into_iter().map(|t| (0, t)).collect(),
    }
}

fn replay(q: &[RawQuote], live: Vec<LiveTrade>) -> InstrumentReplay {
    let mut out = replay_run(&input(q, live)).unwrap();
    assert_eq!(out.len(), 1);
    out.remove(0)
}

/// The replay's own trades as a run would have journaled them, had every fill been on the
/// deciding quote.
fn as_live(r: &InstrumentReplay) -> Vec<LiveTrade> {
    r.missed
        .iter()
        .enumerate()
        .map(|(i, t)| LiveTrade {
            id: i as i64 + 1,
            direction: t.direction,
            size: t.size,
            signal_at: Some(t.entry_time),
            opened_at: t.entry_time,
            entry_level: t.entry_price,
            exit_signal_at: Some(t.exit_time),
            closed_at: Some(t.exit_time),
            exit_level: Some(t.exit_price),
            pnl: Some(t.pnl),
            latency_ms: Some(3),
            reason: t.reason.clone(),
        })
        .collect()
}

fn explained(r: &InstrumentReplay) {
    assert_eq!(
        r.attribution.total(),
        r.live_pnl - r.replay_pnl,
        "the attribution must add up to the P&L difference: {:?}",
        r.attribution
    );
}

#[test]
fn a_run_that_took_the_replays_decisions_matches_it_trade_for_trade() {
    let q = quotes(2_000);
    let alone = replay(&q, Vec::new());
    assert!(alone.replay_trades >= 10, "{} trades", alone.replay_trades);
    let live = as_live(&alone);
    let r = replay(&q, live.clone());
    assert!(r.matches(), "{} vs {}", r.live_hash, r.replay_hash);
    assert_eq!(r.pairs.len(), live.len());
    assert!(r.missed.is_empty() && r.extra.is_empty());
    assert!(r.pairs.iter().all(scalper_backtest::Pair::same_decisions));
    assert_eq!(r.live_pnl, r.replay_pnl);
    assert_eq!(r.attribution.total(), Money::ZERO);
    // The replay is deterministic.
    assert_eq!(replay(&q, live).replay_hash, r.replay_hash);
}

#[test]
fn worse_and_later_fills_are_explained_as_slippage_and_latency() {
    let q = quotes(2_000);
    let inst = instrument();
    let alone = replay(&q, Vec::new());
    let mut live = as_live(&alone);
    let half_pip = dec!(0.00005);
    // Trade 0: filled half a pip worse than the broker's own price at the deciding quote
    // (slippage). Trade 1: filled one quote later at that quote's price (latency).
    let t = &mut live[0];
    let worse = |d: Direction| half_pip * d.sign();
    let slipped = Price::new(t.entry_level.value() + worse(t.direction));
    let cost = inst.pnl(t.direction, t.size, t.entry_level, slipped);
    t.entry_level = slipped;
    t.opened_at = Timestamp::from_millis(t.opened_at.millis() + 1);
    t.pnl = Some(t.pnl.unwrap() - cost);

    let t = &mut live[1];
    let later = q
        .iter()
        .find(|x| x.ts > t.opened_at.millis())
        .copied()
        .unwrap();
    let level = Price::new(
        Decimal::new(
            match t.direction {
                Direction::Buy => later.ask,
                Direction::Sell => later.bid,
            },
            9,
        )
        .normalize(),
    );
    let moved = inst.pnl(t.direction, t.size, t.entry_level, level);
    t.entry_level = level;
    t.opened_at = Timestamp::from_millis(later.ts);
    t.pnl = Some(t.pnl.unwrap() - moved);

    let r = replay(&q, live);
    // Entry decisions are the same; only the fills differ.
    assert!(r.matches());
    assert_eq!(r.pairs[0].entry.slippage_points, dec!(0.5));
    assert_eq!(r.pairs[0].entry.latency_points, Decimal::ZERO);
    assert_eq!(r.attribution.slippage, Money::ZERO - cost);
    assert_eq!(r.pairs[1].entry.slippage_points, Decimal::ZERO);
    assert_ne!(r.pairs[1].entry.latency_points, Decimal::ZERO);
    assert_eq!(r.attribution.latency, Money::ZERO - moved);
    assert_eq!(r.attribution.other, Money::ZERO);
    explained(&r);
}

#[test]
fn missed_and_extra_trades_are_named_and_valued() {
    let q = quotes(2_000);
    let alone = replay(&q, Vec::new());
    let mut live = as_live(&alone);
    // The run missed the third trade, and took one of its own the replay never did.
    let gone = live.remove(2);
    let mut own = live[0].clone();
    own.id = 99;
    own.direction = own.direction.opposite();
    own.signal_at = Some(Timestamp::from_millis(own.signal_at.unwrap().millis() + 1));
    own.pnl = Some(Money::new(dec!(-12.34)));
    live.push(own);
    let r = replay(&q, live);
    assert!(!r.matches());
    assert_eq!(r.missed.len(), 1);
    assert_eq!(r.missed[0].entry_time, gone.opened_at);
    assert_eq!(r.attribution.missed, Money::ZERO - gone.pnl.unwrap());
    assert_eq!(r.extra.len(), 1);
    assert_eq!(r.extra[0].trade.id, 99);
    assert_eq!(r.attribution.extra, Money::new(dec!(-12.34)));
    explained(&r);
}

/// A fill between the quote in force and the next one streamed is on a price the throttled
/// stream never showed: the market moved, which is latency, and no slippage is invented.
#[test]
fn a_fill_between_two_streamed_quotes_is_latency_not_slippage() {
    let q = quotes(2_000);
    let inst = instrument();
    let alone = replay(&q, Vec::new());
    let mut live = as_live(&alone);
    let t = &mut live[0];
    let i = q.partition_point(|x| x.ts <= t.opened_at.millis());
    let (now, next) = (q[i - 1], q[i]);
    let at = |x: RawQuote| match t.direction {
        Direction::Buy => x.ask,
        Direction::Sell => x.bid,
    };
    assert_ne!(at(now), at(next), "the zig-zag moves every quote");
    // Half way to the next quote: a tick the stream did not show.
    let level = Price::new(Decimal::new(i64::midpoint(at(now), at(next)), 9).normalize());
    let moved = inst.pnl(t.direction, t.size, t.entry_level, level);
    t.entry_level = level;
    t.opened_at = Timestamp::from_millis(t.opened_at.millis() + 1);
    t.pnl = Some(t.pnl.unwrap() - moved);

    let r = replay(&q, live);
    assert!(r.matches());
    let entry = &r.pairs[0].entry;
    assert_eq!(entry.slippage_points, Decimal::ZERO);
    assert_eq!(entry.market_at_fill, Some(level));
    assert_eq!(entry.latency_points.abs(), dec!(0.05));
    assert_eq!(r.attribution.latency, Money::ZERO - moved);
    assert_eq!(r.attribution.slippage, Money::ZERO);
    explained(&r);
}

/// A stop IG triggered on a price no recorded quote shows (the market ticked between two
/// streamed updates) cannot be replayed on the same quote: the pair's exit differs and says
/// why.
#[test]
fn a_broker_close_on_a_price_the_stream_never_showed_is_named() {
    let q = quotes(2_000);
    let alone = replay(&q, Vec::new());
    let mut live = as_live(&alone);
    let which = live
        .iter()
        .position(|t| t.closed_at.is_some_and(|c| c.millis() % 1000 != 0))
        .expect("a trade closed inside a second");
    let t = &mut live[which];
    // IG dates it to the second and closed it a tenth of a pip above anything streamed.
    let closed = t.closed_at.unwrap().millis();
    t.closed_at = Some(Timestamp::from_millis(closed - closed % 1000));
    t.exit_signal_at = None;
    let highest = q.iter().map(|x| x.ask).max().unwrap();
    t.exit_level = Some(Price::new(Decimal::new(highest, 9) + dec!(0.00001)));

    let r = replay(&q, live);
    let pair = r
        .pairs
        .iter()
        .find(|p| p.live.id == which as i64 + 1)
        .unwrap();
    assert!(
        pair.exit.is_none(),
        "an exit on no recorded quote cannot match"
    );
    let note = pair.exit_note.as_deref().unwrap_or_default();
    assert!(
        note.contains("on a price the stream never showed"),
        "{note:?}"
    );
    explained(&r);
}
