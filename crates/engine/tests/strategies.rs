//! The built-in strategies: ema-cross and sma-cross exactly as issue #7 specifies, the scalper
//! trading with its default parameters on simulated FX quotes, and bit-identical repeat runs
//! through the engine and the sim broker.

#![allow(
    clippy::unwrap_used,
    clippy::many_single_char_names,
    clippy::field_reassign_with_default,
    clippy::needless_pass_by_value,
    clippy::cast_possible_wrap
)]

mod common;

use common::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use scalper_engine::strategy::{EmaCross, EmaCrossConfig, ScalperConfig, SmaCross, SmaCrossConfig};
use scalper_engine::{
    step, Action, BrokerCommand, Command, Engine, EngineConfig, EngineEvent, EngineInit, Intent,
    SimBroker, SimConfig, Strategy, StrategyConfig, StrategyContext,
};
use scalper_model::{Candle, Direction, Price, Quote, Size};

fn ctx(inst: &scalper_model::Instrument) -> StrategyContext<'_> {
    StrategyContext {
        instrument: inst,
        now: ts(0),
        position: None,
        open_trades: 0,
    }
}

fn mid_quote(i: i64, mid: Decimal) -> Quote {
    Quote {
        epic: epic(),
        bid: p(mid),
        offer: p(mid),
        ts: ts(i),
    }
}

fn sides(intents: &[Intent]) -> Vec<String> {
    intents
        .iter()
        .map(|i| match i {
            Intent::Enter(e) => format!("enter {} {}", e.direction, e.size.unwrap_or_default()),
            Intent::Exit { direction, .. } => {
                format!("exit {}", direction.map_or("ALL", |d| d.as_str()))
            }
            Intent::Reduce {
                direction,
                fraction,
                ..
            } => format!(
                "reduce {} {fraction}",
                direction.map_or("ALL", |d| d.as_str())
            ),
        })
        .collect()
}

#[test]
fn ema_cross_follows_the_issue_rules() {
    let inst = instrument();
    // fast = 1 (alpha 1: the mid itself), slow = 3 (alpha 0.5), both seeded with the first mid.
    let mut s = EmaCross::new(EmaCrossConfig {
        fast: 1,
        slow: 3,
        size: dec!(2),
    });
    let mut run = |i: i64, mid: Decimal| sides(&s.on_quote(&mid_quote(i, mid), &ctx(&inst)));
    assert!(run(0, dec!(1.0)).is_empty()); // slow has seen 1 quote
    assert!(run(1, dec!(1.2)).is_empty()); // 2 quotes: still warming up
                                           // 3rd quote: slow = 1.1 + 0.5 x (1.0 - 1.1) = 1.05; fast 1.0 < 1.05 -> short.
    assert_eq!(run(2, dec!(1.0)), ["enter SELL 2"]);
    assert!(run(3, dec!(1.0)).is_empty()); // slow 1.025, still short
                                           // fast 1.1 > slow 1.0625 -> flip: close the short, open a long.
    assert_eq!(run(4, dec!(1.1)), ["exit SELL", "enter BUY 2"]);
    // Equal averages (a flat series: fast = slow = mid) never set a target.
    let mut s = EmaCross::new(EmaCrossConfig {
        fast: 1,
        slow: 2,
        size: dec!(1),
    });
    for i in 0..5 {
        assert!(
            s.on_quote(&mid_quote(i, dec!(1.0)), &ctx(&inst)).is_empty(),
            "equal averages never trade"
        );
    }
}

#[test]
fn sma_cross_trades_on_crossings_of_bar_closes() {
    let inst = instrument();
    let mut s = SmaCross::new(SmaCrossConfig {
        fast: 2,
        slow: 3,
        size: dec!(1),
        bar_ms: 60_000,
    });
    let bar = |i: i64, c: Decimal| Candle {
        epic: epic(),
        start: ts(i * 60_000),
        period_ms: 60_000,
        open: p(c),
        high: p(c),
        low: p(c),
        close: p(c),
        spread: None,
        volume: None,
    };
    let mut closes = vec![];
    for (i, c) in [dec!(3), dec!(2), dec!(1), dec!(1), dec!(4), dec!(0)]
        .into_iter()
        .enumerate()
    {
        closes.push(sides(&s.on_candle(&bar(i as i64, c), &ctx(&inst))));
    }
    // Bar 2: first full pair (fast 1.5, slow 2). Bar 3: fast 1 < slow 1.33, no cross.
    // Bar 4: fast 2.5 > slow 2 after being below -> crossed above. Bar 5: fast 2 > slow 1.67,
    // still above -> nothing.
    assert_eq!(closes[3], Vec::<String>::new());
    assert_eq!(closes[4], ["exit SELL", "enter BUY 1"]);
    assert_eq!(closes[5], Vec::<String>::new());
    let down = sides(&s.on_candle(&bar(6, dec!(0)), &ctx(&inst))); // fast 0 < slow 1.33
    assert_eq!(down, ["exit BUY", "enter SELL 1"]);
}

fn random_walk(seed: u64, n: usize, step_ms: i64) -> Vec<Quote> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut mid: i64 = 110_000; // in tenths of a point: 1.10000
    (0..n)
        .map(|i| {
            mid += rng.gen_range(-6..=6);
            let spread = rng.gen_range(6..=10); // 0.6 .. 1.0 points
            let bid = Decimal::new(mid * 10 - spread * 5, 6);
            let offer = Decimal::new(mid * 10 + spread * 5, 6);
            Quote {
                epic: epic(),
                bid: Price::new(bid),
                offer: Price::new(offer),
                ts: ts(i as i64 * step_ms),
            }
        })
        .collect()
}

fn run(cfg: &EngineConfig, sim_cfg: SimConfig, quotes: &[Quote]) -> (Engine, Vec<Action>) {
    let mut engine = Engine::new(cfg.clone(), vec![instrument()], EngineInit::default()).unwrap();
    let mut broker = SimBroker::new(sim_cfg, vec![instrument()]);
    let mut actions = Vec::new();
    for q in quotes {
        step(
            &mut engine,
            &mut broker,
            EngineEvent::Quote(q.clone()),
            &mut actions,
        );
    }
    step(
        &mut engine,
        &mut broker,
        EngineEvent::Command(Command::CloseAll),
        &mut actions,
    );
    for ev in broker.finish() {
        step(
            &mut engine,
            &mut broker,
            EngineEvent::Broker(ev),
            &mut actions,
        );
    }
    (engine, actions)
}

fn permissive(strategy: StrategyConfig) -> EngineConfig {
    let mut cfg = EngineConfig {
        strategy,
        ..EngineConfig::default()
    };
    cfg.risk.max_trades_per_day = 1_000_000;
    cfg.risk.cooldown_after_losses = 0;
    cfg.risk.daily_loss_limit = None;
    cfg
}

#[test]
fn ema_cross_flips_trade_twice_the_size_and_runs_are_bit_identical() {
    let quotes = random_walk(7, 3000, 250);
    let cfg = permissive(StrategyConfig::EmaCross(EmaCrossConfig {
        fast: 10,
        slow: 30,
        size: dec!(1),
    }));
    let sim_cfg = SimConfig {
        latency_ms: Some(0),
        ..SimConfig::default()
    };
    let (engine, actions) = run(&cfg, sim_cfg.clone(), &quotes);
    let s = engine.summary();
    assert!(s.trades > 10, "expected flips, got {}", s.trades);
    assert_eq!(s.open_positions, 0, "closed at the last quote");
    // Every flip is a close of 1 plus an open of 1 on the same quote: 2 x size traded.
    let mut volume_by_quote = std::collections::BTreeMap::<i64, Decimal>::new();
    for a in &actions {
        if let Action::Broker(BrokerCommand::Open(o)) = a {
            assert_eq!(o.size, Size::new(dec!(1)));
        }
    }
    for t in engine.closed_trades() {
        *volume_by_quote.entry(t.exit_time.millis()).or_default() += t.size.value();
        *volume_by_quote.entry(t.entry_time.millis()).or_default() += t.size.value();
    }
    let flips = volume_by_quote.values().filter(|v| **v == dec!(2)).count();
    assert!(
        flips as u64 >= s.trades - 1,
        "flips {flips} trades {}",
        s.trades
    );
    // P&L is the sum of the trades.
    let sum = engine
        .closed_trades()
        .iter()
        .fold(scalper_model::Money::ZERO, |a, t| a + t.pnl);
    assert_eq!(sum, s.pnl);

    let (again, actions2) = run(&cfg, sim_cfg, &quotes);
    assert_eq!(actions, actions2);
    assert_eq!(engine.closed_trades(), again.closed_trades());
}

#[test]
fn scalper_defaults_trade_on_simulated_fx_quotes() {
    let quotes = random_walk(42, 20_000, 250);
    let cfg = EngineConfig::default();
    assert_eq!(
        cfg.strategy,
        StrategyConfig::Scalper(ScalperConfig::default())
    );
    let (engine, actions) = run(&cfg, SimConfig::default(), &quotes);
    let s = engine.summary();
    assert!(s.trades >= 5, "default scalper made {} trades", s.trades);
    let dirs: std::collections::HashSet<Direction> =
        engine.closed_trades().iter().map(|t| t.direction).collect();
    assert_eq!(dirs.len(), 2, "both directions traded");
    // Every entry carries a stop at least the market minimum and a target.
    for a in &actions {
        if let Action::Broker(BrokerCommand::Open(o)) = a {
            assert!(o.stop_distance.is_some_and(|d| d.value() >= dec!(2)));
            assert!(o.limit_distance.is_some());
        }
    }
    assert_eq!(
        s.wins + s.losses,
        s.trades
            - engine
                .closed_trades()
                .iter()
                .filter(|t| t.pnl.is_zero())
                .count() as u64
    );
}

#[test]
fn scalper_trailing_stop_amends_through_the_sim() {
    let quotes = random_walk(3, 20_000, 250);
    let strat = ScalperConfig {
        trailing_atr: Some(1.5),
        target_atr: 0.0,
        ..ScalperConfig::default()
    };
    let cfg = EngineConfig {
        strategy: StrategyConfig::Scalper(strat),
        ..EngineConfig::default()
    };
    let (engine, actions) = run(&cfg, SimConfig::default(), &quotes);
    let amends = actions
        .iter()
        .filter(|a| matches!(a, Action::Broker(BrokerCommand::Amend(_))))
        .count();
    assert!(amends > 0, "trailing stop never moved");
    assert!(engine.summary().trades > 0);
}

/// Stops and targets fixed in points (`stop_points`, `target_points`) replace the ATR
/// multiples on every entry, whatever the volatility.
#[test]
fn scalper_stops_and_targets_in_points() {
    let quotes = random_walk(42, 20_000, 250);
    let strat = ScalperConfig {
        stop_points: Some(dec!(7.5)),
        target_points: Some(dec!(12)),
        ..ScalperConfig::default()
    };
    let cfg = EngineConfig {
        strategy: StrategyConfig::Scalper(strat),
        ..EngineConfig::default()
    };
    let (engine, actions) = run(&cfg, SimConfig::default(), &quotes);
    let opens: Vec<_> = actions
        .iter()
        .filter_map(|a| match a {
            Action::Broker(BrokerCommand::Open(o)) => Some(o),
            _ => None,
        })
        .collect();
    assert!(opens.len() >= 5, "{} entries", opens.len());
    for o in opens {
        assert_eq!(
            o.stop_distance.map(scalper_model::Points::value),
            Some(dec!(7.5))
        );
        assert_eq!(
            o.limit_distance.map(scalper_model::Points::value),
            Some(dec!(12))
        );
    }
    assert!(engine.summary().trades > 0);
    let bad = ScalperConfig {
        target_points: Some(dec!(0)),
        ..ScalperConfig::default()
    };
    assert!(bad
        .validate()
        .unwrap_err()
        .to_string()
        .contains("target_points"));
}

#[test]
fn strategy_config_by_name_and_set() {
    let mut s = StrategyConfig::from_name("EMA_CROSS").unwrap();
    s.set("fast", "5").unwrap();
    s.set("size", "2.5").unwrap();
    assert_eq!(
        s,
        StrategyConfig::EmaCross(EmaCrossConfig {
            fast: 5,
            slow: 30,
            size: dec!(2.5)
        })
    );
    assert!(s.set("fats", "5").unwrap_err().to_string().contains("fats"));
    assert!(s
        .set("fast", "50")
        .unwrap_err()
        .to_string()
        .contains("fast"));
    assert!(StrategyConfig::from_name("nope")
        .unwrap_err()
        .to_string()
        .contains("scalper, ema-cross, sma-cross"));
    let mut sc = StrategyConfig::from_name("scalper").unwrap();
    sc.set("trailing_atr", "1.5").unwrap();
    let StrategyConfig::Scalper(c) = sc else {
        panic!()
    };
    assert_eq!(c.trailing_atr, Some(1.5));
}

#[test]
fn sma_cross_on_bars_fills_at_the_next_open() {
    let cfg = permissive(StrategyConfig::SmaCross(SmaCrossConfig {
        fast: 2,
        slow: 3,
        size: dec!(1),
        bar_ms: 60_000,
    }));
    let mut engine = Engine::new(cfg, vec![instrument()], EngineInit::default()).unwrap();
    let mut broker = SimBroker::new(SimConfig::default(), vec![instrument()]);
    let bar = |i: i64, o: Decimal, c: Decimal| Candle {
        epic: epic(),
        start: ts(i * 60_000),
        period_ms: 60_000,
        open: p(o),
        high: p(o.max(c)),
        low: p(o.min(c)),
        close: p(c),
        spread: Some(dec!(0.0002)),
        volume: None,
    };
    let closes = [dec!(1.3), dec!(1.2), dec!(1.1), dec!(1.1), dec!(1.4)];
    let mut actions = Vec::new();
    for (i, c) in closes.iter().enumerate() {
        step(
            &mut engine,
            &mut broker,
            EngineEvent::Candle(bar(i as i64, *c, *c)),
            &mut actions,
        );
    }
    // The cross happened at the close of bar 4: an order is out, nothing filled yet.
    assert_eq!(broker.pending_orders(), 1);
    assert_eq!(engine.open_positions(), 1);
    step(
        &mut engine,
        &mut broker,
        EngineEvent::Candle(bar(5, dec!(1.5), dec!(1.5))),
        &mut actions,
    );
    let opened: Vec<_> = actions
        .iter()
        .filter_map(|a| match a {
            Action::TradeOpened(t) => Some(t.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(opened.len(), 1);
    // Next bar's open 1.5 plus half the 0.0002 spread.
    assert_eq!(opened[0].level, p(dec!(1.5001)));
    assert_eq!(opened[0].at, ts(5 * 60_000));
    assert_eq!(opened[0].direction, Direction::Buy);
}

#[test]
fn per_instrument_strategy_and_construction_errors() {
    let text = r#"
        [instruments.EUR_USD]
        strategy = { kind = "ema-cross", fast = 3, slow = 9 }
    "#;
    let cfg = EngineConfig::from_toml(text).unwrap();
    let mut gbp = instrument();
    gbp.epic = epic2();
    let engine = Engine::new(cfg.clone(), vec![instrument(), gbp], EngineInit::default()).unwrap();
    assert_eq!(engine.market(&epic()).unwrap().strategy, "ema-cross");
    assert_eq!(engine.market(&epic2()).unwrap().strategy, "scalper");
    let err = Engine::new(cfg.clone(), vec![], EngineInit::default()).unwrap_err();
    assert_eq!(err.to_string(), "no instruments to trade");
    let err =
        Engine::new(cfg, vec![instrument(), instrument()], EngineInit::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "instrument CS.D.EURUSD.CFD.IP listed twice"
    );
}

#[test]
fn closed_trade_history_is_bounded_and_the_totals_still_count_every_trade() {
    use scalper_engine::CLOSED_KEPT;
    let quotes = random_walk(11, 400_000, 100);
    let cfg = permissive(StrategyConfig::EmaCross(EmaCrossConfig {
        fast: 3,
        slow: 6,
        size: dec!(1),
    }));
    let sim_cfg = SimConfig {
        latency_ms: Some(0),
        ..SimConfig::default()
    };
    let (engine, actions) = run(&cfg, sim_cfg, &quotes);
    let reported: Vec<_> = actions
        .iter()
        .filter_map(|a| match a {
            Action::TradeClosed(c) => Some(c),
            _ => None,
        })
        .collect();
    let s = engine.summary();
    assert!(
        reported.len() > 2 * CLOSED_KEPT,
        "need more than {} trades, got {}",
        2 * CLOSED_KEPT,
        reported.len()
    );
    // The totals count every trade; the history keeps only the most recent ones.
    assert_eq!(s.trades, reported.len() as u64);
    assert_eq!(
        s.pnl,
        reported
            .iter()
            .fold(scalper_model::Money::ZERO, |a, t| a + t.pnl)
    );
    let kept = engine.closed_trades();
    assert!(
        (CLOSED_KEPT..2 * CLOSED_KEPT).contains(&kept.len()),
        "{}",
        kept.len()
    );
    let tail: Vec<_> = reported[reported.len() - kept.len()..]
        .iter()
        .map(|c| (*c).clone())
        .collect();
    assert_eq!(kept, tail.as_slice(), "the most recent trades, in order");
}

#[test]
fn step_quote_acts_exactly_like_step_with_an_owned_quote() {
    use scalper_engine::step_quote;
    let quotes = random_walk(5, 30_000, 250);
    // The scalper with a trailing stop: fills on the next quote, stops and limits triggered by
    // the broker before the engine sees the quote, amendments; and ema-cross flips.
    let mut scalper = ScalperConfig::default();
    scalper.trailing_atr = Some(1.0);
    let configs = [
        permissive(StrategyConfig::Scalper(scalper)),
        permissive(StrategyConfig::EmaCross(EmaCrossConfig::default())),
    ];
    for cfg in configs {
        for latency in [None, Some(0), Some(500)] {
            let sim_cfg = SimConfig {
                latency_ms: latency,
                ..SimConfig::default()
            };
            let (_, owned) = run(&cfg, sim_cfg.clone(), &quotes);
            let mut engine =
                Engine::new(cfg.clone(), vec![instrument()], EngineInit::default()).unwrap();
            let mut broker = SimBroker::new(sim_cfg, vec![instrument()]);
            let mut borrowed = Vec::new();
            for q in &quotes {
                step_quote(&mut engine, &mut broker, q, &mut borrowed);
            }
            step(
                &mut engine,
                &mut broker,
                EngineEvent::Command(Command::CloseAll),
                &mut borrowed,
            );
            for ev in broker.finish() {
                step(
                    &mut engine,
                    &mut broker,
                    EngineEvent::Broker(ev),
                    &mut borrowed,
                );
            }
            let trades = owned
                .iter()
                .filter(|a| matches!(a, Action::TradeClosed(_)))
                .count();
            assert!(trades > 5, "{latency:?}: only {trades} trades");
            assert_eq!(owned, borrowed, "{latency:?}");
        }
    }
}

#[test]
fn closed_history_can_be_turned_off_without_losing_the_totals() {
    let quotes = random_walk(3, 5_000, 250);
    let cfg = permissive(StrategyConfig::EmaCross(EmaCrossConfig::default()));
    let sim_cfg = SimConfig {
        latency_ms: Some(0),
        ..SimConfig::default()
    };
    let (kept, actions) = run(&cfg, sim_cfg.clone(), &quotes);
    let mut engine = Engine::new(cfg, vec![instrument()], EngineInit::default()).unwrap();
    engine.set_closed_history(0);
    let mut broker = SimBroker::new(sim_cfg, vec![instrument()]);
    let mut out = Vec::new();
    for q in &quotes {
        step(
            &mut engine,
            &mut broker,
            EngineEvent::Quote(q.clone()),
            &mut out,
        );
    }
    step(
        &mut engine,
        &mut broker,
        EngineEvent::Command(Command::CloseAll),
        &mut out,
    );
    assert!(kept.closed_trades().len() > 10);
    assert!(engine.closed_trades().is_empty());
    // The same trades, reported the same way; only the engine's copy is gone.
    assert_eq!(out, actions);
    assert_eq!(engine.summary().trades, kept.summary().trades);
    assert_eq!(engine.summary().pnl, kept.summary().pnl);
}
