//! Guaranteed stops, broker-side trailing stops and partial closes, through the engine and the
//! simulated broker together (the same pair a paper run and a backtest use).
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use scalper_engine::sim::{step, SimBroker, SimConfig};
use scalper_engine::{
    Action, BrokerCommand, Engine, EngineInit, Entry, Intent, Refusal, StopKind, Strategy,
};
use scalper_model::{Direction, GuaranteedStopRules, Money, StopPremium};

/// EUR/USD (0.0001 a point, 10 USD a point per unit) with guaranteed stops no nearer than 10
/// points for a 1.5-point premium, and trailing stops in steps of at least 1 point.
fn market() -> scalper_model::Instrument {
    let mut i = instrument_for(epic());
    i.rules.guaranteed_stop = Some(GuaranteedStopRules {
        min_distance: pts(dec!(10)),
        premium: StopPremium::Points(dec!(1.5)),
    });
    i.rules.trailing_stops = true;
    i.rules.min_trailing_step = Some(pts(dec!(1)));
    i
}

struct Pair {
    engine: Engine,
    broker: SimBroker,
    queue: Queue,
    actions: Vec<Action>,
}

impl Pair {
    fn new(inst: scalper_model::Instrument) -> Self {
        let queue = Queue::default();
        let strategy = Box::new(Scripted(queue.clone())) as Box<dyn Strategy>;
        let engine = Engine::with_strategies(
            test_config(),
            vec![(inst.clone(), strategy)],
            EngineInit::default(),
        )
        .unwrap();
        let broker = SimBroker::new(
            SimConfig {
                latency_ms: Some(0),
                ..SimConfig::default()
            },
            vec![inst],
        );
        Self {
            engine,
            broker,
            queue,
            actions: Vec::new(),
        }
    }

    /// A quote at `offset_ms`, with `intents` for the strategy to return on it.
    fn quote(&mut self, offset_ms: i64, bid: Decimal, intents: Vec<Intent>) -> Vec<Action> {
        self.queue.lock().unwrap().push_back(intents);
        let mut out = Vec::new();
        step(
            &mut self.engine,
            &mut self.broker,
            quote(offset_ms, bid, bid + dec!(0.0001)),
            &mut out,
        );
        self.actions.extend(out.iter().cloned());
        out
    }
}

fn entry(direction: Direction, stop: Decimal, kind: StopKind) -> Intent {
    sized(direction, dec!(1), stop, kind)
}

fn sized(direction: Direction, sz: Decimal, stop: Decimal, kind: StopKind) -> Intent {
    Intent::Enter(Entry {
        direction,
        size: Some(size(sz)),
        stop_distance: Some(pts(stop)),
        limit_distance: None,
        trailing_distance: None,
        max_hold_ms: None,
        reason: "test".into(),
        stop_kind: kind,
    })
}

fn opens(actions: &[Action]) -> Vec<&scalper_engine::OpenOrder> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Broker(BrokerCommand::Open(o)) => Some(o),
            _ => None,
        })
        .collect()
}

fn closes(actions: &[Action]) -> Vec<&scalper_engine::ClosedTrade> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::TradeClosed(c) => Some(c),
            _ => None,
        })
        .collect()
}

#[test]
fn a_guaranteed_stop_is_widened_filled_at_its_level_through_a_gap_and_costs_its_premium() {
    let mut pair = Pair::new(market());
    let out = pair.quote(
        0,
        dec!(1.1000),
        vec![entry(Direction::Buy, dec!(3), StopKind::Guaranteed)],
    );
    let open = opens(&out);
    assert_eq!(open.len(), 1, "{out:?}");
    assert_eq!(open[0].stop_kind, StopKind::Guaranteed);
    assert_eq!(
        open[0].stop_distance,
        Some(pts(dec!(10))),
        "3 points is inside the guaranteed minimum: widened to 10"
    );
    // Filled at the offer 1.1001: the stop is at 1.0991. The price gaps 40 points through it.
    let out = pair.quote(1_000, dec!(1.0950), vec![]);
    let closed = closes(&out);
    assert_eq!(closed.len(), 1, "{out:?}");
    assert_eq!(
        closed[0].exit_price,
        p(dec!(1.0991)),
        "guaranteed: no slippage"
    );
    // 10 points lost (100 USD) and the 1.5-point premium (15 USD).
    assert_eq!(closed[0].pnl, Money::new(dec!(-115)));
    assert!(
        closed[0].reason.contains("premium 1.5 points"),
        "{}",
        closed[0].reason
    );
    assert_eq!(pair.engine.summary().pnl, Money::new(dec!(-115)));

    // A normal stop through the same gap fills at the gapped price and pays no premium.
    let mut pair = Pair::new(market());
    pair.quote(
        0,
        dec!(1.1000),
        vec![entry(Direction::Buy, dec!(10), StopKind::Normal)],
    );
    let out = pair.quote(1_000, dec!(1.0950), vec![]);
    let closed = closes(&out);
    assert_eq!(closed[0].exit_price, p(dec!(1.0950)));
    assert_eq!(closed[0].pnl, Money::new(dec!(-510)));
}

#[test]
fn a_guaranteed_stop_that_is_not_triggered_costs_nothing() {
    let mut pair = Pair::new(market());
    pair.quote(
        0,
        dec!(1.1000),
        vec![entry(Direction::Buy, dec!(10), StopKind::Guaranteed)],
    );
    let exit = Intent::Exit {
        direction: None,
        reason: "signal".into(),
    };
    pair.quote(1_000, dec!(1.1020), vec![exit]);
    let out = pair.quote(2_000, dec!(1.1020), vec![]);
    let all: Vec<_> = closes(&pair.actions).into_iter().cloned().collect();
    assert_eq!(all.len(), 1, "{out:?}");
    // Bought at 1.1001, sold at the bid 1.1020: 19 points, no premium.
    assert_eq!(all[0].pnl, Money::new(dec!(190)));
}

#[test]
fn stops_the_market_does_not_offer_are_refused_with_the_reason() {
    let mut plain = market();
    plain.rules.guaranteed_stop = None;
    plain.rules.trailing_stops = false;
    let mut pair = Pair::new(plain);
    let out = pair.quote(
        0,
        dec!(1.1000),
        vec![
            entry(Direction::Buy, dec!(10), StopKind::Guaranteed),
            entry(
                Direction::Buy,
                dec!(10),
                StopKind::Trailing {
                    increment: pts(dec!(1)),
                },
            ),
        ],
    );
    let reasons: Vec<String> = out
        .iter()
        .filter_map(|a| match a {
            Action::Refused { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .map(|r| {
            assert!(matches!(r, Refusal::StopKindUnavailable { .. }), "{r:?}");
            r.to_string()
        })
        .collect();
    assert_eq!(reasons.len(), 2, "{out:?}");
    assert!(
        reasons[0].contains("guaranteed stops are not offered"),
        "{}",
        reasons[0]
    );
    assert!(
        reasons[1].contains("trailing = \"engine\""),
        "{}",
        reasons[1]
    );
    assert!(opens(&out).is_empty());
}

#[test]
fn a_broker_trailing_stop_moves_in_whole_steps_without_engine_amendments_and_locks_in_profit() {
    let mut pair = Pair::new(market());
    let kind = StopKind::Trailing {
        increment: pts(dec!(0.5)),
    };
    let out = pair.quote(0, dec!(1.1000), vec![entry(Direction::Buy, dec!(5), kind)]);
    let open = opens(&out);
    assert_eq!(
        open[0].stop_kind,
        StopKind::Trailing {
            increment: pts(dec!(1))
        },
        "the increment is raised to the market's minimum step"
    );
    // Filled at 1.1001, stop 1.0996. At bid 1.10035 the stop is 7.5 points behind, 2.5 more
    // than the distance: it moves 2 whole steps.
    pair.quote(1_000, dec!(1.10035), vec![]);
    let t = &pair.engine.trades()[0];
    assert_eq!(t.stop_level, Some(p(dec!(1.0998))));
    pair.quote(2_000, dec!(1.1010), vec![]);
    assert_eq!(pair.engine.trades()[0].stop_level, Some(p(dec!(1.1005))));
    // A fall does not move it back; it closes the trade at the trailed stop, in profit.
    pair.quote(3_000, dec!(1.1007), vec![]);
    assert_eq!(pair.engine.trades()[0].stop_level, Some(p(dec!(1.1005))));
    let out = pair.quote(4_000, dec!(1.1004), vec![]);
    let closed = closes(&out);
    assert_eq!(closed.len(), 1, "{out:?}");
    assert_eq!(closed[0].pnl, Money::new(dec!(30)), "1.1001 -> 1.1004");
    let amends = pair
        .actions
        .iter()
        .filter(|a| matches!(a, Action::Broker(BrokerCommand::Amend(_))))
        .count();
    assert_eq!(
        amends, 0,
        "the broker trails: the engine sends no amendments"
    );
}

#[test]
fn a_partial_close_books_its_part_and_the_trade_reports_its_whole_pnl() {
    let mut pair = Pair::new(market());
    let buy = sized(Direction::Buy, dec!(3), dec!(20), StopKind::Normal);
    pair.quote(0, dec!(1.1000), vec![buy]);
    let half = Intent::Reduce {
        direction: Some(Direction::Buy),
        fraction: dec!(0.5),
        reason: "take half".into(),
    };
    let out = pair.quote(1_000, dec!(1.1011), vec![half]);
    let reduced: Vec<_> = out
        .iter()
        .filter_map(|a| match a {
            Action::TradeReduced(r) => Some(r),
            _ => None,
        })
        .collect();
    assert_eq!(reduced.len(), 1, "{out:?}");
    // 3 × 0.5 = 1.5, floored to the 0.01 step; 10 points on 1.5 = 150 USD.
    assert_eq!(reduced[0].closed_size, size(dec!(1.5)));
    assert_eq!(reduced[0].remaining, size(dec!(1.5)));
    assert_eq!(reduced[0].pnl, Money::new(dec!(150)));
    assert_eq!(reduced[0].reason, "take half");
    assert_eq!(pair.engine.trades()[0].size, size(dec!(1.5)));
    assert_eq!(pair.broker.positions()[0].size, size(dec!(1.5)));
    assert_eq!(pair.engine.summary().pnl, Money::new(dec!(150)));
    assert_eq!(pair.engine.summary().trades, 0, "still one open trade");

    let exit = Intent::Exit {
        direction: None,
        reason: "done".into(),
    };
    let out = pair.quote(2_000, dec!(1.0996), vec![exit]);
    let closed = closes(&out);
    assert_eq!(closed.len(), 1, "{out:?}");
    assert_eq!(closed[0].size, size(dec!(1.5)));
    // The rest lost 5 points on 1.5 (75 USD): the trade made 150 - 75.
    assert_eq!(closed[0].pnl, Money::new(dec!(75)));
    let s = pair.engine.summary();
    assert_eq!((s.pnl, s.trades, s.wins), (Money::new(dec!(75)), 1, 1));
    assert!(pair.broker.positions().is_empty());
}

#[test]
fn a_part_below_the_minimum_is_not_sent_and_a_remainder_below_it_closes_everything() {
    let mut pair = Pair::new(market());
    let buy = |sz| sized(Direction::Buy, sz, dec!(20), StopKind::Normal);
    let reduce = |f| Intent::Reduce {
        direction: None,
        fraction: f,
        reason: "trim".into(),
    };
    pair.quote(0, dec!(1.1000), vec![buy(dec!(0.8))]);
    // 0.8 × 0.5 = 0.4 is below the 0.5 minimum deal size.
    let out = pair.quote(1_000, dec!(1.1005), vec![reduce(dec!(0.5))]);
    assert!(
        !out.iter()
            .any(|a| matches!(a, Action::Broker(BrokerCommand::Close(_)))),
        "{out:?}"
    );
    assert!(out.iter().any(
        |a| matches!(a, Action::Log { message, .. } if message.contains("below the minimum deal size"))
    ));
    // 0.8 × 0.7 = 0.56 leaves 0.24, below the minimum: the whole position is closed.
    let out = pair.quote(2_000, dec!(1.1005), vec![reduce(dec!(0.7))]);
    let closes: Vec<_> = out
        .iter()
        .filter_map(|a| match a {
            Action::Broker(BrokerCommand::Close(c)) => Some(c.size),
            _ => None,
        })
        .collect();
    assert_eq!(closes, vec![size(dec!(0.8))]);
}

#[test]
fn a_close_asked_while_a_partial_close_is_in_flight_waits_for_it() {
    let mut pair = Pair::new(market());
    // Orders fill on the next quote: the partial close is still in flight when the exit comes.
    pair.broker = SimBroker::new(SimConfig::default(), vec![market()]);
    let buy = sized(Direction::Buy, dec!(2), dec!(20), StopKind::Normal);
    pair.quote(0, dec!(1.1000), vec![buy]);
    pair.quote(1_000, dec!(1.1000), vec![]);
    let reduce = Intent::Reduce {
        direction: None,
        fraction: dec!(0.5),
        reason: "trim".into(),
    };
    let exit = Intent::Exit {
        direction: None,
        reason: "out".into(),
    };
    pair.quote(2_000, dec!(1.1002), vec![reduce, exit]);
    let sizes: Vec<_> = pair
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::Broker(BrokerCommand::Close(c)) => Some(c.size),
            _ => None,
        })
        .collect();
    assert_eq!(sizes, vec![size(dec!(1))], "only the partial close is out");
    pair.quote(3_000, dec!(1.1003), vec![]);
    pair.quote(4_000, dec!(1.1003), vec![]);
    let sizes: Vec<_> = pair
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::Broker(BrokerCommand::Close(c)) => Some(c.size),
            _ => None,
        })
        .collect();
    assert_eq!(sizes, vec![size(dec!(1)), size(dec!(1))], "then the rest");
    assert!(pair.engine.trades().is_empty());
    assert!(pair.broker.positions().is_empty());
}
