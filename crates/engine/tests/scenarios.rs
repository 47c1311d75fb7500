//! Scenario tests: scripted event sequences fed to the engine, asserting the exact actions
//! and state after each step — entries, exits, every risk rule, the kill switch, the
//! broker-failure policy and unknown-outcome handling.

#![allow(
    clippy::unwrap_used,
    clippy::many_single_char_names,
    clippy::field_reassign_with_default,
    clippy::needless_pass_by_value,
    clippy::cast_possible_wrap
)]

mod common;

use chrono::NaiveDate;
use common::*;
use rust_decimal_macros::dec;
use scalper_engine::config::HhMm;
use scalper_engine::{
    Action, AmendOrder, BrokerCommand, BrokerEvent, BrokerFailurePolicy, CloseCause, CloseOrder,
    ClosedTrade, Command, EngineEvent, EngineInit, Entry, FailureKind, HaltReason, Intent,
    LogLevel, OpenOrder, OpenedTrade, Refusal, RiskPerTrade, TradingWindow,
};
use scalper_model::{DealState, Direction, MarketStatus, RejectReason};

fn open_order(
    n: u64,
    direction: Direction,
    sz: rust_decimal::Decimal,
    stop: Option<rust_decimal::Decimal>,
    limit: Option<rust_decimal::Decimal>,
) -> Action {
    Action::Broker(BrokerCommand::Open(OpenOrder {
        deal_ref: r(n),
        epic: epic(),
        direction,
        size: size(sz),
        stop_distance: stop.map(pts),
        limit_distance: limit.map(pts),
        currency: "USD".into(),
        expiry: "-".into(),
        stop_kind: scalper_engine::StopKind::Normal,
    }))
}

fn close_order(n: u64, deal: u32, direction: Direction, sz: rust_decimal::Decimal) -> Action {
    Action::Broker(BrokerCommand::Close(CloseOrder {
        deal_ref: r(n),
        deal_id: did(deal),
        epic: epic(),
        direction,
        size: size(sz),
        expiry: "-".into(),
    }))
}

fn refused(direction: Direction, reason: Refusal) -> Vec<Action> {
    vec![Action::Refused {
        epic: epic(),
        direction: Some(direction),
        reason,
    }]
}

fn warn(msg: &str) -> Action {
    Action::Log {
        level: LogLevel::Warn,
        epic: Some(epic()),
        message: msg.into(),
    }
}

/// Opens trade 1 (ref 1, deal D1): long 0.5 at 1.1001, stop 10 points (1.0991).
fn open_long(h: &mut Harness) {
    let a = h.quote_with(
        0,
        dec!(1.1000),
        dec!(1.1001),
        vec![enter(Direction::Buy, dec!(10), None)],
    );
    assert_eq!(
        a,
        vec![open_order(
            1,
            Direction::Buy,
            dec!(0.5),
            Some(dec!(10)),
            None
        )]
    );
    let a = h.send(accepted(1, 1, dec!(1.1001), dec!(0.5), 10));
    assert!(matches!(a.as_slice(), [Action::TradeOpened(_)]), "{a:?}");
}

#[test]
fn entry_fill_and_stop_exit() {
    let mut cfg = test_config();
    cfg.risk.risk_per_trade = RiskPerTrade::Percent(dec!(0.5));
    let mut h = Harness::new(cfg);
    let a = h.quote_with(
        0,
        dec!(1.1000),
        dec!(1.1001),
        vec![enter(Direction::Buy, dec!(10), Some(dec!(20)))],
    );
    // 0.5% of 10000 = 50; 10 points x 10 per point = 100 per unit -> 0.5.
    assert_eq!(
        a,
        vec![open_order(
            1,
            Direction::Buy,
            dec!(0.5),
            Some(dec!(10)),
            Some(dec!(20))
        )]
    );
    assert_eq!(h.engine.trades()[0].state, DealState::Submitted);
    assert_eq!(h.engine.open_positions(), 1);

    let a = h.send(accepted(1, 1, dec!(1.1001), dec!(0.5), 10));
    assert_eq!(
        a,
        vec![Action::TradeOpened(OpenedTrade {
            trade_id: 1,
            deal_ref: r(1),
            deal_id: did(1),
            epic: epic(),
            direction: Direction::Buy,
            size: size(dec!(0.5)),
            level: p(dec!(1.1001)),
            stop_level: Some(p(dec!(1.0991))),
            limit_level: Some(p(dec!(1.1021))),
            at: ts(10),
            paper: false,
        })]
    );
    assert_eq!(h.engine.trades()[0].state, DealState::Open);

    assert_eq!(h.send(quote(20, dec!(1.0995), dec!(1.0996))), vec![]);
    let a = h.send(closed(1, dec!(1.0991), CloseCause::Stop, 30));
    assert_eq!(
        a,
        vec![Action::TradeClosed(ClosedTrade {
            trade_id: 1,
            deal_ref: r(1),
            deal_id: did(1),
            epic: epic(),
            direction: Direction::Buy,
            size: size(dec!(0.5)),
            entry_time: ts(10),
            entry_price: p(dec!(1.1001)),
            exit_time: ts(30),
            exit_price: p(dec!(1.0991)),
            pnl: money(dec!(-50)),
            cause: CloseCause::Stop,
            reason: String::new(),
            paper: false,
        })]
    );
    let s = h.engine.summary();
    assert_eq!((s.trades, s.wins, s.losses), (1, 0, 1));
    assert_eq!(s.pnl, money(dec!(-50)));
    assert_eq!(s.max_drawdown, money(dec!(50)));
    assert_eq!(s.open_positions, 0);
    assert_eq!(s.equity, money(dec!(9950)));
    assert!(h.engine.trades().is_empty());
    assert_eq!(h.engine.closed_trades().len(), 1);
    // Percent sizing follows equity: 0.5% of 9950 over 100 per unit = 0.4975 -> 0.49.
    let a = h.quote_with(
        40,
        dec!(1.1000),
        dec!(1.1001),
        vec![enter(Direction::Buy, dec!(10), None)],
    );
    assert_eq!(
        a,
        refused(
            Direction::Buy,
            Refusal::SizeBelowMinimum {
                size: size(dec!(0.49)),
                min: size(dec!(0.5))
            }
        )
    );
}

#[test]
fn short_target_exit_is_a_win() {
    let mut h = Harness::new(test_config());
    let a = h.quote_with(
        0,
        dec!(1.1000),
        dec!(1.1001),
        vec![enter(Direction::Sell, dec!(10), Some(dec!(20)))],
    );
    assert_eq!(
        a,
        vec![open_order(
            1,
            Direction::Sell,
            dec!(0.5),
            Some(dec!(10)),
            Some(dec!(20))
        )]
    );
    let a = h.send(accepted(1, 1, dec!(1.1000), dec!(0.5), 5));
    let Action::TradeOpened(t) = &a[0] else {
        panic!("{a:?}")
    };
    assert_eq!(
        (t.stop_level, t.limit_level),
        (Some(p(dec!(1.1010))), Some(p(dec!(1.0980))))
    );
    let a = h.send(closed(1, dec!(1.0980), CloseCause::Limit, 50));
    let Action::TradeClosed(c) = &a[0] else {
        panic!("{a:?}")
    };
    assert_eq!(c.pnl, money(dec!(100)));
    assert_eq!(c.cause, CloseCause::Limit);
    let s = h.engine.summary();
    assert_eq!(
        (s.trades, s.wins, s.losses, s.pnl, s.max_drawdown),
        (1, 1, 0, money(dec!(100)), money(dec!(0)))
    );
}

#[test]
fn exit_intent_closes_with_reason() {
    let mut h = Harness::new(test_config());
    open_long(&mut h);
    let exit = Intent::Exit {
        direction: Some(Direction::Buy),
        reason: "signal".into(),
    };
    let a = h.quote_with(20, dec!(1.1010), dec!(1.1011), vec![exit.clone()]);
    assert_eq!(a, vec![close_order(2, 1, Direction::Sell, dec!(0.5))]);
    assert_eq!(h.engine.trades()[0].state, DealState::Closing);
    // A second exit while closing sends nothing more.
    assert_eq!(
        h.quote_with(30, dec!(1.1010), dec!(1.1011), vec![exit]),
        vec![]
    );
    let a = h.send(closed(1, dec!(1.1010), CloseCause::Engine, 40));
    let Action::TradeClosed(c) = &a[0] else {
        panic!("{a:?}")
    };
    assert_eq!((c.reason.as_str(), c.pnl), ("signal", money(dec!(45))));
}

#[test]
fn max_hold_time_closes_on_timer() {
    let mut h = Harness::new(test_config());
    let entry = Intent::Enter(Entry {
        max_hold_ms: Some(30_000),
        ..match enter(Direction::Buy, dec!(10), None) {
            Intent::Enter(e) => e,
            _ => unreachable!(),
        }
    });
    h.quote_with(0, dec!(1.1000), dec!(1.1001), vec![entry]);
    h.send(accepted(1, 1, dec!(1.1001), dec!(0.5), 10));
    assert_eq!(h.send(quote(30_009, dec!(1.1000), dec!(1.1001))), vec![]);
    assert_eq!(
        h.send(timer(30_010)),
        vec![close_order(2, 1, Direction::Sell, dec!(0.5))]
    );
    let a = h.send(closed(1, dec!(1.1000), CloseCause::Engine, 30_020));
    let Action::TradeClosed(c) = &a[0] else {
        panic!("{a:?}")
    };
    assert_eq!(
        (c.reason.as_str(), c.pnl, c.holding_ms()),
        ("max hold time", money(dec!(-5)), 30_010)
    );
}

#[test]
fn trailing_stop_is_amended_in_steps() {
    let mut h = Harness::new(test_config());
    let entry = Intent::Enter(Entry {
        trailing_distance: Some(pts(dec!(5))),
        ..match enter(Direction::Buy, dec!(10), None) {
            Intent::Enter(e) => e,
            _ => unreachable!(),
        }
    });
    h.quote_with(0, dec!(1.1000), dec!(1.1001), vec![entry]);
    h.send(accepted(1, 1, dec!(1.1001), dec!(0.5), 10));
    let amend = |stop| {
        vec![Action::Broker(BrokerCommand::Amend(AmendOrder {
            deal_id: did(1),
            epic: epic(),
            stop_level: Some(p(stop)),
            limit_level: None,
        }))]
    };
    assert_eq!(
        h.send(quote(20, dec!(1.1004), dec!(1.1005))),
        amend(dec!(1.0999))
    );
    // Less than one point of improvement: no amendment.
    assert_eq!(h.send(quote(30, dec!(1.10045), dec!(1.10055))), vec![]);
    assert_eq!(
        h.send(quote(40, dec!(1.1010), dec!(1.1011))),
        amend(dec!(1.1005))
    );
    // A pullback never loosens the stop.
    assert_eq!(h.send(quote(50, dec!(1.1006), dec!(1.1007))), vec![]);
    assert_eq!(h.engine.trades()[0].stop_level, Some(p(dec!(1.1005))));
    // A refused amendment restores the previous stop.
    assert_eq!(
        h.send(quote(60, dec!(1.1020), dec!(1.1021))),
        amend(dec!(1.1015))
    );
    let a = h.send(EngineEvent::Broker(BrokerEvent::AmendRejected {
        deal_id: did(1),
        reason: RejectReason::StopOrLimitLevel,
        detail: None,
    }));
    assert_eq!(
        a,
        vec![warn(
            "stop amendment of D1 refused: stop or limit at an invalid level"
        )]
    );
    assert_eq!(h.engine.trades()[0].stop_level, Some(p(dec!(1.1005))));
}

#[test]
fn sizing_widens_stops_floors_and_caps() {
    // A 1-point stop is widened to the 2-point minimum; size from the widened stop.
    let mut h = Harness::new(test_config());
    let a = h.quote_with(
        0,
        dec!(1.1000),
        dec!(1.1001),
        vec![enter(Direction::Buy, dec!(1), Some(dec!(1)))],
    );
    assert_eq!(
        a,
        vec![open_order(
            1,
            Direction::Buy,
            dec!(2.5),
            Some(dec!(2)),
            Some(dec!(2))
        )]
    );

    let mut cfg = test_config();
    cfg.risk.max_size = Some(dec!(1));
    let mut h = Harness::new(cfg);
    let a = h.quote_with(
        0,
        dec!(1.1000),
        dec!(1.1001),
        vec![enter(Direction::Buy, dec!(2), None)],
    );
    assert_eq!(
        a,
        vec![open_order(1, Direction::Buy, dec!(1), Some(dec!(2)), None)]
    );

    let mut cfg = test_config();
    cfg.risk.risk_per_trade = RiskPerTrade::Amount(dec!(15));
    let mut h = Harness::new(cfg);
    // 15 / (20 x 10) = 0.075 -> 0.07 < 0.5.
    let a = h.quote_with(
        0,
        dec!(1.1000),
        dec!(1.1001),
        vec![enter(Direction::Buy, dec!(20), None)],
    );
    assert_eq!(
        a,
        refused(
            Direction::Buy,
            Refusal::SizeBelowMinimum {
                size: size(dec!(0.07)),
                min: size(dec!(0.5))
            }
        )
    );
    let a = h.quote_with(
        1,
        dec!(1.1000),
        dec!(1.1001),
        vec![enter(Direction::Buy, dec!(600), None)],
    );
    assert_eq!(
        a,
        refused(
            Direction::Buy,
            Refusal::StopTooFar {
                distance: dec!(600),
                max: dec!(500)
            }
        )
    );
    // A fixed size is floored to the step; no stop and no size cannot be sized.
    let fixed = Intent::Enter(Entry {
        direction: Direction::Sell,
        size: Some(size(dec!(1.237))),
        stop_distance: None,
        limit_distance: None,
        trailing_distance: None,
        max_hold_ms: None,
        reason: "fixed".into(),
        stop_kind: scalper_engine::StopKind::Normal,
    });
    let a = h.quote_with(2, dec!(1.1000), dec!(1.1001), vec![fixed]);
    assert_eq!(
        a,
        vec![open_order(1, Direction::Sell, dec!(1.23), None, None)]
    );
    let mut h = Harness::new(test_config());
    let bare = Intent::Enter(Entry {
        direction: Direction::Buy,
        size: None,
        stop_distance: None,
        limit_distance: None,
        trailing_distance: None,
        max_hold_ms: None,
        reason: "bare".into(),
        stop_kind: scalper_engine::StopKind::Normal,
    });
    let a = h.quote_with(0, dec!(1.1000), dec!(1.1001), vec![bare]);
    assert_eq!(a, refused(Direction::Buy, Refusal::NoStopToSizeFrom));
    assert_eq!(h.engine.summary().refusals, 1);
}

#[test]
fn max_spread_at_entry() {
    let mut h = Harness::new(test_config());
    let a = h.quote_with(
        0,
        dec!(1.1000),
        dec!(1.1006),
        vec![enter(Direction::Buy, dec!(10), None)],
    );
    assert_eq!(
        a,
        refused(
            Direction::Buy,
            Refusal::SpreadTooWide {
                spread: dec!(6),
                max: dec!(5)
            }
        )
    );
    let a = h.quote_with(
        1,
        dec!(1.1000),
        dec!(1.1005),
        vec![enter(Direction::Buy, dec!(10), None)],
    );
    assert_eq!(
        a,
        vec![open_order(
            1,
            Direction::Buy,
            dec!(0.5),
            Some(dec!(10)),
            None
        )]
    );
}

#[test]
fn per_instrument_spread_override() {
    let mut cfg = test_config();
    cfg.instruments.insert(
        "EUR_USD".into(),
        scalper_engine::InstrumentConfig {
            strategy: None,
            max_spread_points: Some(dec!(1)),
        },
    );
    let mut h = Harness::new(cfg);
    let a = h.quote_with(
        0,
        dec!(1.1000),
        dec!(1.1002),
        vec![enter(Direction::Buy, dec!(10), None)],
    );
    assert_eq!(
        a,
        refused(
            Direction::Buy,
            Refusal::SpreadTooWide {
                spread: dec!(2),
                max: dec!(1)
            }
        )
    );
}

#[test]
fn max_open_positions_per_instrument_and_total() {
    let mut h = Harness::new(test_config());
    h.quote_with(
        0,
        dec!(1.1000),
        dec!(1.1001),
        vec![enter(Direction::Buy, dec!(10), None)],
    );
    // The submitted (not yet filled) entry already counts.
    let a = h.quote_with(
        1,
        dec!(1.1000),
        dec!(1.1001),
        vec![enter(Direction::Buy, dec!(10), None)],
    );
    assert_eq!(
        a,
        refused(
            Direction::Buy,
            Refusal::MaxOpenPerInstrument { open: 1, max: 1 }
        )
    );

    let mut cfg = test_config();
    cfg.risk.max_open_positions = 1;
    let mut h = Harness::build(cfg, EngineInit::default(), true);
    h.quote_with(
        0,
        dec!(1.1000),
        dec!(1.1001),
        vec![enter(Direction::Buy, dec!(10), None)],
    );
    h.script(1, vec![enter(Direction::Sell, dec!(10), None)]);
    let a = h.send(quote_on(epic2(), 1, dec!(1.2500), dec!(1.2501)));
    assert_eq!(
        a,
        vec![Action::Refused {
            epic: epic2(),
            direction: Some(Direction::Sell),
            reason: Refusal::MaxOpenPositions { open: 1, max: 1 }
        }]
    );
}

#[test]
fn max_trades_per_day_resets_next_session_day() {
    let mut cfg = test_config();
    cfg.risk.max_trades_per_day = 1;
    let mut h = Harness::new(cfg);
    open_long(&mut h);
    h.send(closed(1, dec!(1.0991), CloseCause::Stop, 20));
    let a = h.quote_with(
        30,
        dec!(1.1000),
        dec!(1.1001),
        vec![enter(Direction::Buy, dec!(10), None)],
    );
    assert_eq!(
        a,
        refused(
            Direction::Buy,
            Refusal::MaxTradesPerDay { trades: 1, max: 1 }
        )
    );
    // 2024-01-03 00:00 UTC is 16 hours after T0.
    let a = h.quote_with(
        16 * 3_600_000,
        dec!(1.1000),
        dec!(1.1001),
        vec![enter(Direction::Buy, dec!(10), None)],
    );
    assert_eq!(
        a,
        vec![open_order(
            2,
            Direction::Buy,
            dec!(0.5),
            Some(dec!(10)),
            None
        )]
    );
    assert_eq!(h.engine.session_day(), NaiveDate::from_ymd_opt(2024, 1, 3));
}

#[test]
fn trading_hours_windows_are_time_zone_aware() {
    let window = |start: &str, end: &str, tz: &str, days: Vec<chrono::Weekday>| TradingWindow {
        start: start.parse::<HhMm>().unwrap(),
        end: end.parse::<HhMm>().unwrap(),
        timezone: tz.into(),
        days,
    };
    let mut cfg = test_config();
    cfg.risk.trading_hours = vec![window("08:00", "08:30", "UTC", vec![])];
    let mut h = Harness::new(cfg);
    let a = h.quote_with(
        -1000,
        dec!(1.1000),
        dec!(1.1001),
        vec![enter(Direction::Buy, dec!(10), None)],
    );
    assert_eq!(a, refused(Direction::Buy, Refusal::OutsideTradingHours));
    let a = h.quote_with(
        0,
        dec!(1.1000),
        dec!(1.1001),
        vec![enter(Direction::Buy, dec!(10), None)],
    );
    assert_eq!(a.len(), 1);
    assert!(matches!(a[0], Action::Broker(_)));

    // 08:00 UTC is 09:00 in Paris in January; only Mondays -> refused on this Tuesday.
    let mut cfg = test_config();
    cfg.risk.trading_hours = vec![window(
        "09:00",
        "09:30",
        "Europe/Paris",
        vec![chrono::Weekday::Mon],
    )];
    let mut h = Harness::new(cfg.clone());
    let a = h.quote_with(
        0,
        dec!(1.1000),
        dec!(1.1001),
        vec![enter(Direction::Buy, dec!(10), None)],
    );
    assert_eq!(a, refused(Direction::Buy, Refusal::OutsideTradingHours));
    cfg.risk.trading_hours[0].days = vec![chrono::Weekday::Tue];
    let mut h = Harness::new(cfg);
    let a = h.quote_with(
        0,
        dec!(1.1000),
        dec!(1.1001),
        vec![enter(Direction::Buy, dec!(10), None)],
    );
    assert!(matches!(a.as_slice(), [Action::Broker(_)]), "{a:?}");

    // An overnight window (22:00-02:00) belongs to the day it starts.
    let mut cfg = test_config();
    cfg.risk.trading_hours = vec![window("22:00", "02:00", "UTC", vec![chrono::Weekday::Tue])];
    let h = Harness::new(cfg);
    assert!(!h.engine.risk().in_trading_hours(ts(0)));
    assert!(h.engine.risk().in_trading_hours(ts(15 * 3_600_000))); // Tue 23:00
    assert!(h.engine.risk().in_trading_hours(ts(17 * 3_600_000))); // Wed 01:00
    assert!(!h.engine.risk().in_trading_hours(ts(18 * 3_600_000))); // Wed 02:00
}

#[test]
fn cooldown_after_consecutive_losses() {
    let mut cfg = test_config();
    cfg.risk.cooldown_after_losses = 2;
    cfg.risk.cooldown_ms = 60_000;
    let mut h = Harness::new(cfg);
    open_long(&mut h);
    let a = h.send(closed(1, dec!(1.0991), CloseCause::Stop, 20));
    assert_eq!(a.len(), 1);
    h.quote_with(
        30,
        dec!(1.1000),
        dec!(1.1001),
        vec![enter(Direction::Buy, dec!(10), None)],
    );
    h.send(accepted(2, 2, dec!(1.1001), dec!(0.5), 40));
    let a = h.send(closed(2, dec!(1.0991), CloseCause::Stop, 50));
    assert!(matches!(a[0], Action::TradeClosed(_)));
    assert_eq!(
        a[1],
        warn("2 consecutive losses: no entries until 2024-01-02T08:01:00.050Z")
    );
    let a = h.quote_with(
        60,
        dec!(1.1000),
        dec!(1.1001),
        vec![enter(Direction::Buy, dec!(10), None)],
    );
    assert_eq!(
        a,
        refused(
            Direction::Buy,
            Refusal::Cooldown {
                losses: 2,
                until: ts(60_050)
            }
        )
    );
    let a = h.quote_with(
        60_050,
        dec!(1.1000),
        dec!(1.1001),
        vec![enter(Direction::Buy, dec!(10), None)],
    );
    assert_eq!(
        a,
        vec![open_order(
            3,
            Direction::Buy,
            dec!(0.5),
            Some(dec!(10)),
            None
        )]
    );
}

#[test]
fn stale_quote_guard() {
    let mut h = Harness::new(test_config());
    assert_eq!(h.send(quote(0, dec!(1.1000), dec!(1.1001))), vec![]);
    h.script(0, vec![enter(Direction::Buy, dec!(10), None)]);
    assert_eq!(
        h.send(timer(6000)),
        refused(
            Direction::Buy,
            Refusal::StaleQuote {
                age_ms: 6000,
                max_ms: 5000
            }
        )
    );
    let mut h = Harness::new(test_config());
    h.send(quote(0, dec!(1.1000), dec!(1.1001)));
    h.script(0, vec![enter(Direction::Buy, dec!(10), None)]);
    assert_eq!(
        h.send(timer(5000)),
        vec![open_order(
            1,
            Direction::Buy,
            dec!(0.5),
            Some(dec!(10)),
            None
        )]
    );
    // No quote at all.
    let mut h = Harness::new(test_config());
    h.script(0, vec![enter(Direction::Buy, dec!(10), None)]);
    assert_eq!(h.send(timer(0)), refused(Direction::Buy, Refusal::NoQuote));
}

#[test]
fn stream_gap_blocks_entries_until_a_fresh_quote() {
    let mut h = Harness::new(test_config());
    h.send(quote(0, dec!(1.1000), dec!(1.1001)));
    let a = h.send(EngineEvent::StreamGap {
        epic: None,
        at: ts(1),
    });
    assert_eq!(
        a,
        vec![Action::Log {
            level: LogLevel::Warn,
            epic: None,
            message: "price stream gap: no entries until a fresh quote".into()
        }]
    );
    h.script(0, vec![enter(Direction::Buy, dec!(10), None)]);
    assert_eq!(
        h.send(timer(2)),
        refused(Direction::Buy, Refusal::StreamGap)
    );
    let a = h.quote_with(
        3,
        dec!(1.1000),
        dec!(1.1001),
        vec![enter(Direction::Buy, dec!(10), None)],
    );
    assert_eq!(
        a,
        vec![open_order(
            1,
            Direction::Buy,
            dec!(0.5),
            Some(dec!(10)),
            None
        )]
    );
}

#[test]
fn market_status_must_be_tradeable() {
    let mut h = Harness::new(test_config());
    let a = h.send(EngineEvent::MarketStatus {
        epic: epic(),
        status: MarketStatus::EditsOnly,
        at: ts(0),
    });
    assert_eq!(
        a,
        vec![Action::Log {
            level: LogLevel::Info,
            epic: Some(epic()),
            message: "market status TRADEABLE -> EDITS_ONLY".into()
        }]
    );
    let a = h.quote_with(
        1,
        dec!(1.1000),
        dec!(1.1001),
        vec![enter(Direction::Buy, dec!(10), None)],
    );
    assert_eq!(
        a,
        refused(
            Direction::Buy,
            Refusal::MarketNotTradeable {
                status: "EDITS_ONLY".into()
            }
        )
    );
    assert_eq!(
        h.engine.market(&epic()).unwrap().status,
        &MarketStatus::EditsOnly
    );
}

#[test]
fn daily_loss_limit_closes_locks_and_unlocks_next_day() {
    let mut cfg = test_config();
    cfg.risk.daily_loss_limit = Some(dec!(40));
    let mut h = Harness::new(cfg);
    open_long(&mut h);
    assert_eq!(h.send(quote(15, dec!(1.0994), dec!(1.0995))), vec![]); // open P&L -35
    let a = h.send(quote(20, dec!(1.0993), dec!(1.0994))); // open P&L -40
    assert_eq!(
        a,
        vec![
            Action::Halted { reason: HaltReason::DailyLossLimit },
            Action::Log {
                level: LogLevel::Error,
                epic: None,
                message: "daily loss limit 40 reached (day P&L 0, open P&L -40): closing positions, trading locked until 2024-01-03T00:00:00.000Z".into(),
            },
            close_order(2, 1, Direction::Sell, dec!(0.5)),
        ]
    );
    assert_eq!(h.engine.halted(), Some(HaltReason::DailyLossLimit));
    let a = h.quote_with(
        30,
        dec!(1.0993),
        dec!(1.0994),
        vec![enter(Direction::Buy, dec!(10), None)],
    );
    assert_eq!(
        a,
        refused(
            Direction::Buy,
            Refusal::Halted {
                reason: HaltReason::DailyLossLimit
            }
        )
    );
    let a = h.send(closed(1, dec!(1.0993), CloseCause::Engine, 40));
    let Action::TradeClosed(c) = &a[0] else {
        panic!("{a:?}")
    };
    assert_eq!(
        (c.pnl, c.reason.as_str()),
        (money(dec!(-40)), "daily loss limit")
    );
    assert_eq!(h.engine.summary().day_pnl, money(dec!(-40)));
    let a = h.quote_with(
        16 * 3_600_000,
        dec!(1.1000),
        dec!(1.1001),
        vec![enter(Direction::Buy, dec!(10), None)],
    );
    assert_eq!(
        a,
        vec![
            Action::Resumed {
                reason: "new session day: daily loss limit reset".into()
            },
            open_order(3, Direction::Buy, dec!(0.5), Some(dec!(10)), None),
        ]
    );
    assert_eq!(h.engine.summary().day_pnl, money(dec!(0)));
}

#[test]
fn daily_loss_limit_holds_after_restart() {
    let mut cfg = test_config();
    cfg.risk.daily_loss_limit = Some(dec!(40));
    let init = EngineInit {
        day_realised_pnl: money(dec!(-45)),
        day_trades: 3,
        day: NaiveDate::from_ymd_opt(2024, 1, 2),
        ..EngineInit::default()
    };
    let mut h = Harness::build(cfg.clone(), init.clone(), false);
    let a = h.quote_with(
        0,
        dec!(1.1000),
        dec!(1.1001),
        vec![enter(Direction::Buy, dec!(10), None)],
    );
    assert_eq!(
        a,
        vec![
            Action::Halted { reason: HaltReason::DailyLossLimit },
            Action::Log {
                level: LogLevel::Error,
                epic: None,
                message: "daily loss limit 40 reached (day P&L -45, open P&L 0): closing positions, trading locked until 2024-01-03T00:00:00.000Z".into(),
            },
            Action::Refused { epic: epic(), direction: Some(Direction::Buy), reason: Refusal::Halted { reason: HaltReason::DailyLossLimit } },
        ]
    );
    // Values restored for another day are discarded.
    let stale = EngineInit {
        day: NaiveDate::from_ymd_opt(2024, 1, 1),
        ..init.clone()
    };
    let mut h = Harness::build(cfg.clone(), stale, false);
    let a = h.quote_with(
        0,
        dec!(1.1000),
        dec!(1.1001),
        vec![enter(Direction::Buy, dec!(10), None)],
    );
    assert_eq!(
        a,
        vec![open_order(
            1,
            Direction::Buy,
            dec!(0.5),
            Some(dec!(10)),
            None
        )]
    );
    // The restored trade count counts toward the daily maximum.
    cfg.risk.daily_loss_limit = None;
    cfg.risk.max_trades_per_day = 3;
    let mut h = Harness::build(cfg, init, false);
    let a = h.quote_with(
        0,
        dec!(1.1000),
        dec!(1.1001),
        vec![enter(Direction::Buy, dec!(10), None)],
    );
    assert_eq!(
        a,
        refused(
            Direction::Buy,
            Refusal::MaxTradesPerDay { trades: 3, max: 3 }
        )
    );
}

#[test]
fn kill_switch_closes_positions_and_blocks_entries() {
    let mut h = Harness::new(test_config());
    open_long(&mut h);
    let a = h.send(EngineEvent::Command(Command::Halt {
        close_positions: None,
    }));
    assert_eq!(
        a,
        vec![
            Action::Halted {
                reason: HaltReason::KillSwitch
            },
            Action::Log {
                level: LogLevel::Warn,
                epic: None,
                message: "kill switch: entries stopped, closing every position".into()
            },
            close_order(2, 1, Direction::Sell, dec!(0.5)),
        ]
    );
    let a = h.quote_with(
        20,
        dec!(1.1000),
        dec!(1.1001),
        vec![enter(Direction::Buy, dec!(10), None)],
    );
    assert_eq!(
        a,
        refused(
            Direction::Buy,
            Refusal::Halted {
                reason: HaltReason::KillSwitch
            }
        )
    );
    h.send(closed(1, dec!(1.1000), CloseCause::Engine, 30));
    assert_eq!(h.engine.open_positions(), 0);
    assert_eq!(
        h.send(EngineEvent::Command(Command::Resume)),
        vec![Action::Resumed {
            reason: "kill switch lifted".into()
        }]
    );
    let a = h.quote_with(
        40,
        dec!(1.1000),
        dec!(1.1001),
        vec![enter(Direction::Buy, dec!(10), None)],
    );
    assert_eq!(
        a,
        vec![open_order(
            3,
            Direction::Buy,
            dec!(0.5),
            Some(dec!(10)),
            None
        )]
    );
}

#[test]
fn kill_switch_can_leave_positions_with_their_stops() {
    let mut cfg = test_config();
    cfg.kill_switch.close_positions = false;
    let mut h = Harness::new(cfg);
    open_long(&mut h);
    let a = h.send(EngineEvent::Command(Command::Halt {
        close_positions: None,
    }));
    assert_eq!(
        a,
        vec![
            Action::Halted {
                reason: HaltReason::KillSwitch
            },
            Action::Log {
                level: LogLevel::Warn,
                epic: None,
                message: "kill switch: entries stopped, leaving positions with their stops".into()
            },
        ]
    );
    assert_eq!(h.engine.trades()[0].state, DealState::Open);
    assert_eq!(h.engine.trades()[0].stop_level, Some(p(dec!(1.0991))));
    // An explicit close request overrides the configuration.
    let a = h.send(EngineEvent::Command(Command::Halt {
        close_positions: Some(true),
    }));
    assert_eq!(a, vec![close_order(2, 1, Direction::Sell, dec!(0.5))]);
}

#[test]
fn kill_switch_closes_an_entry_still_in_flight_when_it_fills() {
    let mut h = Harness::new(test_config());
    h.quote_with(
        0,
        dec!(1.1000),
        dec!(1.1001),
        vec![enter(Direction::Buy, dec!(10), None)],
    );
    let a = h.send(EngineEvent::Command(Command::Halt {
        close_positions: Some(true),
    }));
    assert_eq!(a.len(), 2); // halted + log; nothing to close yet
    let a = h.send(accepted(1, 1, dec!(1.1001), dec!(0.5), 10));
    assert!(matches!(a[0], Action::TradeOpened(_)));
    assert_eq!(a[1..], [close_order(2, 1, Direction::Sell, dec!(0.5))]);
}

#[test]
fn broker_failure_halt_keeps_managing_then_reports_nothing_left() {
    let mut h = Harness::new(test_config());
    open_long(&mut h);
    let fail = EngineEvent::Broker(BrokerEvent::Failure {
        kind: FailureKind::Authentication,
        detail: "invalid credentials".into(),
    });
    let a = h.send(fail.clone());
    assert_eq!(
        a,
        vec![
            Action::Log {
                level: LogLevel::Error,
                epic: None,
                message: "broker failure (Authentication): invalid credentials; entries stopped, open positions still managed".into(),
            },
            Action::Halted { reason: HaltReason::BrokerFailure },
        ]
    );
    assert_eq!(h.send(fail), vec![]);
    let a = h.quote_with(
        20,
        dec!(1.1000),
        dec!(1.1001),
        vec![enter(Direction::Buy, dec!(10), None)],
    );
    assert_eq!(
        a,
        refused(
            Direction::Buy,
            Refusal::Halted {
                reason: HaltReason::BrokerFailure
            }
        )
    );
    // Exits are still managed.
    let exit = Intent::Exit {
        direction: None,
        reason: "signal".into(),
    };
    assert_eq!(
        h.quote_with(30, dec!(1.1000), dec!(1.1001), vec![exit]),
        vec![close_order(2, 1, Direction::Sell, dec!(0.5))]
    );
    let a = h.send(closed(1, dec!(1.1000), CloseCause::Engine, 40));
    assert!(matches!(a[0], Action::TradeClosed(_)));
    assert_eq!(
        a[1..],
        [Action::NothingLeftToManage {
            reason: HaltReason::BrokerFailure
        }]
    );
    assert_eq!(h.send(timer(50)), vec![]);
    assert!(!h.engine.summary().paper_fallback);

    // Flat at the failure: nothing left at once.
    let mut h = Harness::new(test_config());
    let a = h.send(EngineEvent::Broker(BrokerEvent::Failure {
        kind: FailureKind::Connectivity,
        detail: "down".into(),
    }));
    assert_eq!(
        a.last(),
        Some(&Action::NothingLeftToManage {
            reason: HaltReason::BrokerFailure
        })
    );
}

#[test]
fn broker_failure_paper_policy_marks_later_trades() {
    let mut cfg = test_config();
    cfg.on_broker_failure = BrokerFailurePolicy::Paper;
    let mut h = Harness::new(cfg);
    let a = h.send(EngineEvent::Broker(BrokerEvent::Failure {
        kind: FailureKind::Authentication,
        detail: "token refresh failed".into(),
    }));
    assert_eq!(
        a,
        vec![
            Action::Log {
                level: LogLevel::Error,
                epic: None,
                message: "broker failure (Authentication): token refresh failed; switching to PAPER trading (on_broker_failure = \"paper\")".into(),
            },
            Action::PaperFallback { detail: "token refresh failed".into() },
        ]
    );
    assert!(h.engine.summary().paper_fallback);
    assert_eq!(h.engine.halted(), None);
    h.quote_with(
        0,
        dec!(1.1000),
        dec!(1.1001),
        vec![enter(Direction::Buy, dec!(10), None)],
    );
    let a = h.send(accepted(1, 1, dec!(1.1001), dec!(0.5), 10));
    let Action::TradeOpened(t) = &a[0] else {
        panic!("{a:?}")
    };
    assert!(t.paper);
    let a = h.send(closed(1, dec!(1.1000), CloseCause::Stop, 20));
    let Action::TradeClosed(c) = &a[0] else {
        panic!("{a:?}")
    };
    assert!(c.paper);
}

#[test]
fn unknown_outcome_blocks_resubmission_until_resolved() {
    let mut cfg = test_config();
    cfg.resolve_retry_ms = 2000;
    let mut h = Harness::new(cfg);
    h.quote_with(
        0,
        dec!(1.1000),
        dec!(1.1001),
        vec![enter(Direction::Buy, dec!(10), None)],
    );
    let a = h.send(EngineEvent::Broker(BrokerEvent::OutcomeUnknown {
        deal_ref: r(1),
        detail: "timeout".into(),
    }));
    let resolve = Action::Broker(BrokerCommand::Resolve {
        deal_ref: r(1),
        epic: epic(),
    });
    assert_eq!(
        a,
        vec![
            warn(&format!(
                "outcome of {} unknown (timeout): resolving, nothing resent",
                r(1)
            )),
            resolve.clone()
        ]
    );
    assert_eq!(h.engine.trades()[0].state, DealState::Unknown);
    let a = h.quote_with(
        1000,
        dec!(1.1000),
        dec!(1.1001),
        vec![enter(Direction::Buy, dec!(10), None)],
    );
    assert_eq!(
        a,
        refused(
            Direction::Buy,
            Refusal::OutcomeUnknownPending { deal_ref: r(1) }
        )
    );
    assert_eq!(h.send(timer(1500)), vec![]);
    assert_eq!(h.send(timer(2000)), vec![resolve.clone()]);
    // Still unknown after the retry: nothing until the next timer retry (no loop).
    let still = EngineEvent::Broker(BrokerEvent::OutcomeUnknown {
        deal_ref: r(1),
        detail: "confirm not found".into(),
    });
    assert_eq!(h.send(still), vec![]);
    assert_eq!(h.send(timer(3999)), vec![]);
    assert_eq!(h.send(timer(4000)), vec![resolve]);
    let a = h.send(accepted(1, 7, dec!(1.1001), dec!(0.5), 2500));
    assert_eq!(
        a[0],
        Action::Log {
            level: LogLevel::Info,
            epic: Some(epic()),
            message: format!("outcome of {} resolved: accepted", r(1))
        }
    );
    assert!(matches!(a[1], Action::TradeOpened(_)));
    assert_eq!(h.engine.summary().unknown_outcomes_resolved, 1);
    assert_eq!(h.engine.trades()[0].unknown_ref, None);
}

#[test]
fn unknown_outcome_resolved_as_no_deal() {
    let mut h = Harness::new(test_config());
    h.quote_with(
        0,
        dec!(1.1000),
        dec!(1.1001),
        vec![enter(Direction::Buy, dec!(10), None)],
    );
    h.send(EngineEvent::Broker(BrokerEvent::OutcomeUnknown {
        deal_ref: r(1),
        detail: "502".into(),
    }));
    let a = h.send(EngineEvent::Broker(BrokerEvent::Rejected {
        deal_ref: r(1),
        reason: RejectReason::NoDeal,
        detail: Some("confirms expired, no position".into()),
    }));
    assert_eq!(
        a,
        vec![
            Action::Log {
                level: LogLevel::Info,
                epic: Some(epic()),
                message: format!("outcome of {} resolved: no deal", r(1))
            },
            warn(&format!(
                "entry {} rejected: no deal under this reference: confirms expired, no position",
                r(1)
            )),
        ]
    );
    assert!(h.engine.trades().is_empty());
    assert_eq!(h.engine.summary().unknown_outcomes_resolved, 1);
    let a = h.quote_with(
        10,
        dec!(1.1000),
        dec!(1.1001),
        vec![enter(Direction::Buy, dec!(10), None)],
    );
    assert_eq!(
        a,
        vec![open_order(
            2,
            Direction::Buy,
            dec!(0.5),
            Some(dec!(10)),
            None
        )]
    );
}

#[test]
fn refused_close_is_retried_and_unknown_close_resolved() {
    let mut cfg = test_config();
    cfg.resolve_retry_ms = 1000;
    let mut h = Harness::new(cfg);
    open_long(&mut h);
    let exit = Intent::Exit {
        direction: None,
        reason: "signal".into(),
    };
    h.quote_with(100, dec!(1.1000), dec!(1.1001), vec![exit]);
    let a = h.send(EngineEvent::Broker(BrokerEvent::Rejected {
        deal_ref: r(2),
        reason: RejectReason::MarketClosed,
        detail: None,
    }));
    assert_eq!(
        a,
        vec![warn(&format!(
            "close {} rejected: market closed; retrying at 2024-01-02T08:00:01.100Z",
            r(2)
        ))]
    );
    assert_eq!(h.engine.trades()[0].state, DealState::Open);
    assert_eq!(h.send(timer(1099)), vec![]);
    assert_eq!(
        h.send(timer(1100)),
        vec![close_order(3, 1, Direction::Sell, dec!(0.5))]
    );
    let a = h.send(EngineEvent::Broker(BrokerEvent::OutcomeUnknown {
        deal_ref: r(3),
        detail: "timeout".into(),
    }));
    assert_eq!(
        a[1],
        Action::Broker(BrokerCommand::Resolve {
            deal_ref: r(3),
            epic: epic()
        })
    );
    assert_eq!(h.engine.trades()[0].state, DealState::Closing);
    let a = h.send(closed(1, dec!(1.1000), CloseCause::Engine, 1200));
    assert!(matches!(a[0], Action::TradeClosed(_)));
    assert_eq!(h.engine.summary().unknown_outcomes_resolved, 1);
}

#[test]
fn reports_for_unknown_references_are_logged_not_applied() {
    let mut h = Harness::new(test_config());
    let a = h.send(closed(9, dec!(1.1), CloseCause::Manual, 0));
    assert_eq!(
        a,
        vec![Action::Log {
            level: LogLevel::Warn,
            epic: None,
            message: "position D9 closed but not ours".into()
        }]
    );
    let a = h.send(accepted(5, 5, dec!(1.1), dec!(1), 0));
    assert_eq!(
        a,
        vec![Action::Log {
            level: LogLevel::Warn,
            epic: None,
            message: format!("confirm for unknown deal reference {}", r(5))
        }]
    );
    assert_eq!(h.engine.summary().trades, 0);
}

#[test]
fn close_all_command_flattens_without_halting() {
    let mut h = Harness::new(test_config());
    open_long(&mut h);
    assert_eq!(
        h.send(EngineEvent::Command(Command::CloseAll)),
        vec![close_order(2, 1, Direction::Sell, dec!(0.5))]
    );
    assert_eq!(h.engine.halted(), None);
}

/// A run winding down (its duration is over) closes its positions but opens none: an entry
/// the strategy asks for then would outlive the run. Exits still work; nothing is halted.
#[test]
fn a_winding_down_engine_opens_nothing_but_still_closes() {
    let mut h = Harness::new(test_config());
    open_long(&mut h);
    h.engine.close_entries();
    assert_eq!(
        h.send(EngineEvent::Command(Command::CloseAll)),
        vec![close_order(2, 1, Direction::Sell, dec!(0.5))]
    );
    h.send(closed(1, dec!(1.1000), CloseCause::Engine, 30));
    assert_eq!(h.engine.open_positions(), 0);
    let a = h.quote_with(
        40,
        dec!(1.1000),
        dec!(1.1001),
        vec![enter(Direction::Buy, dec!(10), None)],
    );
    assert!(a.is_empty(), "no entry while winding down: {a:?}");
    assert_eq!(h.engine.halted(), None, "not a halt: nothing to alert");
    assert_eq!(h.engine.open_positions(), 0);
}

#[test]
fn flip_while_the_entry_is_in_flight() {
    let mut h = Harness::new(test_config());
    h.quote_with(
        0,
        dec!(1.1000),
        dec!(1.1001),
        vec![enter(Direction::Buy, dec!(10), None)],
    );
    // The long is not filled yet; the strategy flips: the long is marked to close on fill and
    // no longer counts toward the per-instrument maximum.
    let flip = vec![
        Intent::Exit {
            direction: Some(Direction::Buy),
            reason: "flip".into(),
        },
        enter(Direction::Sell, dec!(10), None),
    ];
    let a = h.quote_with(10, dec!(1.1000), dec!(1.1001), flip);
    assert_eq!(
        a,
        vec![open_order(
            2,
            Direction::Sell,
            dec!(0.5),
            Some(dec!(10)),
            None
        )]
    );
    assert_eq!(h.engine.market(&epic()).unwrap().open_trades, 1);
    let a = h.send(accepted(1, 1, dec!(1.1001), dec!(0.5), 20));
    assert!(matches!(a[0], Action::TradeOpened(_)));
    assert_eq!(a[1..], [close_order(3, 1, Direction::Sell, dec!(0.5))]);
}

#[test]
fn rejected_entry_pauses_the_instrument() {
    let mut cfg = test_config();
    cfg.risk.reject_cooldown_ms = 1000;
    let mut h = Harness::new(cfg);
    h.quote_with(
        0,
        dec!(1.1000),
        dec!(1.1001),
        vec![enter(Direction::Buy, dec!(10), None)],
    );
    let a = h.send(EngineEvent::Broker(BrokerEvent::Rejected {
        deal_ref: r(1),
        reason: RejectReason::LevelTolerance,
        detail: None,
    }));
    assert_eq!(
        a,
        vec![warn(&format!(
            "entry {} rejected: price moved beyond the order level",
            r(1)
        ))]
    );
    // The next signal inside the pause is refused with its reason, not resent.
    let a = h.quote_with(
        500,
        dec!(1.1000),
        dec!(1.1001),
        vec![enter(Direction::Buy, dec!(10), None)],
    );
    assert_eq!(
        a,
        vec![Action::Refused {
            epic: epic(),
            direction: Some(Direction::Buy),
            reason: Refusal::RecentlyRejected { until: ts(1000) },
        }]
    );
    // After the pause the same signal is sent.
    let a = h.quote_with(
        1000,
        dec!(1.1000),
        dec!(1.1001),
        vec![enter(Direction::Buy, dec!(10), None)],
    );
    assert_eq!(
        a,
        vec![open_order(
            2,
            Direction::Buy,
            dec!(0.5),
            Some(dec!(10)),
            None
        )]
    );
}

#[test]
fn insufficient_funds_stops_that_size_until_a_position_closes() {
    let mut cfg = test_config();
    cfg.risk.reject_cooldown_ms = 1000;
    let mut h = Harness::build(cfg, EngineInit::default(), true);
    // A position on the second instrument holds margin.
    h.script(1, vec![enter(Direction::Sell, dec!(10), None)]);
    h.send(quote_on(epic2(), 0, dec!(1.2500), dec!(1.2501)));
    let a = h.send(accepted(1, 1, dec!(1.2500), dec!(0.5), 1));
    assert!(matches!(a.as_slice(), [Action::TradeOpened(_)]), "{a:?}");
    // IG refuses the first instrument's entry for funds.
    h.quote_with(
        2,
        dec!(1.1000),
        dec!(1.1001),
        vec![enter(Direction::Buy, dec!(10), None)],
    );
    h.send(EngineEvent::Broker(BrokerEvent::Rejected {
        deal_ref: r(2),
        reason: RejectReason::InsufficientFunds,
        detail: None,
    }));
    // After the rejection pause, the same size is not sent again: nothing freed margin.
    let a = h.quote_with(
        1500,
        dec!(1.1000),
        dec!(1.1001),
        vec![enter(Direction::Buy, dec!(10), None)],
    );
    assert_eq!(
        a,
        refused(
            Direction::Buy,
            Refusal::BrokerRefusedFunds {
                size: size(dec!(0.5))
            }
        )
    );
    // The other position closes: margin is free and the entry goes out again.
    h.send(closed(1, dec!(1.2490), CloseCause::Limit, 1600));
    let a = h.quote_with(
        1700,
        dec!(1.1000),
        dec!(1.1001),
        vec![enter(Direction::Buy, dec!(10), None)],
    );
    assert_eq!(
        a,
        vec![open_order(
            3,
            Direction::Buy,
            dec!(0.5),
            Some(dec!(10)),
            None
        )]
    );
}

#[test]
fn refreshed_dealing_rules_apply_to_the_next_order() {
    let mut h = Harness::new(test_config());
    let mut rules = instrument().rules;
    rules.min_stop_distance = pts(dec!(5));
    let a = h.send(EngineEvent::DealingRules {
        epic: epic(),
        rules,
        at: ts(0),
    });
    assert!(
        matches!(a.as_slice(), [Action::Log { message, .. }] if message.contains("minimum stop distance 2 -> 5 points")),
        "{a:?}"
    );
    // A 3-point stop is widened to IG's new minimum, and sized on it (50 / (5 x 10) = 1).
    let a = h.quote_with(
        1,
        dec!(1.1000),
        dec!(1.1001),
        vec![enter(Direction::Buy, dec!(3), None)],
    );
    assert_eq!(
        a,
        vec![open_order(1, Direction::Buy, dec!(1), Some(dec!(5)), None)]
    );
    // The same rules again change nothing and say nothing.
    let a = h.send(EngineEvent::DealingRules {
        epic: epic(),
        rules: h.engine.market(&epic()).unwrap().rules.clone(),
        at: ts(2),
    });
    assert!(a.is_empty(), "{a:?}");
}

#[test]
fn the_brokers_available_to_deal_caps_the_margin_rule() {
    // EUR/USD with IG's 3.33% margin: 0.5 contract at 1.1000 needs 1,831.50 of margin.
    let mut inst = instrument();
    inst.margin = scalper_model::MarginRules::percent(dec!(3.33));
    let q = Queue::default();
    let mut engine = scalper_engine::Engine::with_strategies(
        test_config(),
        vec![(
            inst,
            Box::new(Scripted(q.clone())) as Box<dyn scalper_engine::Strategy>,
        )],
        EngineInit::default(),
    )
    .unwrap();
    // The engine's own estimate (10,000 of equity, nothing open) would carry it, but IG says
    // the account can deal only 1,000 more (other positions, or a margin call elsewhere).
    let a = engine.process(EngineEvent::AccountFunds {
        available_to_deal: money(dec!(1000)),
    });
    assert!(a.is_empty(), "{a:?}");
    q.lock()
        .unwrap()
        .push_back(vec![enter(Direction::Buy, dec!(10), None)]);
    let a = engine.process(quote(0, dec!(1.0999), dec!(1.1000)));
    assert!(
        matches!(a.as_slice(), [Action::Refused { reason, .. }] if reason.rule() == "insufficient_margin"),
        "{a:?}"
    );
    // Once IG reports room again, the same entry goes out.
    engine.process(EngineEvent::AccountFunds {
        available_to_deal: money(dec!(9000)),
    });
    q.lock()
        .unwrap()
        .push_back(vec![enter(Direction::Buy, dec!(10), None)]);
    let a = engine.process(quote(1, dec!(1.0999), dec!(1.1000)));
    assert!(
        matches!(a.as_slice(), [Action::Broker(BrokerCommand::Open(_))]),
        "{a:?}"
    );
}

#[test]
fn a_scheduled_flatten_closes_positions_and_blocks_entries_before_it() {
    // T0 is Tuesday 2024-01-02 08:00 UTC (London is on GMT).
    let mut cfg = test_config();
    cfg.schedule = vec![scalper_engine::schedule::FlattenAt {
        name: Some("rollover".into()),
        at: "08:10".parse().unwrap(),
        timezone: "Europe/London".into(),
        days: vec![],
        instruments: vec![],
        no_entries_before_min: 5,
        no_entries_after_min: 0,
    }];
    let mut h = Harness::new(cfg);
    open_long(&mut h);
    // 08:06: inside the five minutes before the flatten, entries are refused.
    let a = h.quote_with(
        360_000,
        dec!(1.1000),
        dec!(1.1001),
        vec![enter(Direction::Sell, dec!(10), None)],
    );
    assert_eq!(
        a,
        refused(
            Direction::Sell,
            Refusal::ScheduledFlatten {
                name: "rollover".into()
            }
        )
    );
    // 08:10: the position is closed, with the schedule as its reason.
    let a = h.send(quote(600_000, dec!(1.1002), dec!(1.1003)));
    assert_eq!(
        a,
        vec![
            Action::Log {
                level: LogLevel::Info,
                epic: None,
                message: "scheduled flatten (rollover)".into(),
            },
            close_order(2, 1, Direction::Sell, dec!(0.5)),
        ]
    );
    assert_eq!(
        h.engine.trades()[0].close_reason.as_deref(),
        Some("scheduled flatten (rollover)")
    );
    // After it, entries are allowed again (the closing position still counts as open).
    h.send(closed(1, dec!(1.1002), CloseCause::Engine, 600_100));
    let a = h.quote_with(
        600_200,
        dec!(1.1000),
        dec!(1.1001),
        vec![enter(Direction::Buy, dec!(10), None)],
    );
    assert!(
        matches!(a.as_slice(), [Action::Broker(BrokerCommand::Open(_))]),
        "{a:?}"
    );
}

#[test]
fn currency_exposure_and_leverage_limits_count_every_leg() {
    let mut cfg = test_config();
    cfg.risk.max_open_per_instrument = 2;
    cfg.risk.max_currency_exposure = Some(dec!(100000));
    let mut h = Harness::build(cfg.clone(), EngineInit::default(), true);
    // Long 0.5 EUR/USD at 1.1001: long EUR 55,005, short USD 55,005.
    open_long(&mut h);
    // Long 0.5 GBP/USD at 1.2501 would make USD -117,510: refused on USD.
    h.script(1, vec![enter(Direction::Buy, dec!(10), None)]);
    let a = h.send(quote_on(epic2(), 20, dec!(1.2500), dec!(1.2501)));
    assert_eq!(
        a,
        vec![Action::Refused {
            epic: epic2(),
            direction: Some(Direction::Buy),
            reason: Refusal::MaxCurrencyExposure {
                currency: "USD".into(),
                exposure: money(dec!(-117510)),
                max: money(dec!(100000)),
            },
        }]
    );
    // Short GBP/USD reduces the USD exposure and keeps GBP within the limit: sent.
    h.script(1, vec![enter(Direction::Sell, dec!(10), None)]);
    let a = h.send(quote_on(epic2(), 30, dec!(1.2500), dec!(1.2501)));
    assert!(
        matches!(a.as_slice(), [Action::Broker(BrokerCommand::Open(_))]),
        "{a:?}"
    );

    // Leverage: 10,000 of equity at most 5:1 = 50,000 of notional; one EUR/USD contract of
    // 0.5 is 55,005.
    cfg.risk.max_currency_exposure = None;
    cfg.risk.max_leverage = Some(dec!(5));
    let mut h = Harness::build(
        cfg,
        EngineInit {
            equity: money(dec!(10000)),
            ..EngineInit::default()
        },
        false,
    );
    let a = h.quote_with(
        0,
        dec!(1.1000),
        dec!(1.1001),
        vec![enter(Direction::Buy, dec!(10), None)],
    );
    assert!(
        matches!(a.as_slice(), [Action::Refused { reason: Refusal::MaxLeverage { max, .. }, .. }] if *max == dec!(5)),
        "{a:?}"
    );
}

/// Market hours from the broker (`[engine.calendar]`, defaults): EUR/USD announced with no IG
/// hours follows FX's New York week. T0 is Tuesday 2024-01-02 08:00 UTC; the week closes
/// Friday 2024-01-05 22:00 UTC (17:00 New York) and opens Sunday 22:00 UTC.
#[test]
fn market_hours_refuse_entries_near_and_after_the_close_and_flatten_before_the_weekend() {
    const H: i64 = 3_600_000;
    const MIN: i64 = 60_000;
    let fri_close = 3 * 24 * H + 14 * H; // Friday 22:00
    let sun_open = fri_close + 48 * H;
    let mut h = Harness::new(test_config());
    // With the time known (a first quote), the hours are logged as they arrive.
    assert!(h.send(quote(0, dec!(1.1000), dec!(1.1001))).is_empty());
    let a = h.send(EngineEvent::TradingHours {
        epic: epic(),
        times: vec![],
        at: ts(0),
    });
    assert!(
        matches!(a.as_slice(), [Action::Log { level: LogLevel::Info, message, .. }] if message.contains("open until")),
        "{a:?}"
    );
    open_long(&mut h);
    // Friday 21:50:30, inside the 10 minutes before the close: no entries.
    let a = h.quote_with(
        fri_close - 9 * MIN - 30_000,
        dec!(1.1000),
        dec!(1.1001),
        vec![enter(Direction::Sell, dec!(10), None)],
    );
    assert_eq!(
        a,
        refused(
            Direction::Sell,
            Refusal::MarketClosing {
                closes: ts(fri_close)
            }
        )
    );
    // Friday 21:55: the long position is closed before the weekend.
    let a = h.send(quote(fri_close - 5 * MIN, dec!(1.1002), dec!(1.1003)));
    assert_eq!(a.len(), 2, "{a:?}");
    assert!(
        matches!(&a[0], Action::Log { message, .. } if message.contains("scheduled flatten (before the market closes")),
        "{a:?}"
    );
    assert_eq!(a[1], close_order(2, 1, Direction::Sell, dec!(0.5)));
    h.send(closed(
        1,
        dec!(1.1002),
        CloseCause::Engine,
        fri_close - 5 * MIN + 100,
    ));
    // Saturday: closed, and the refusal says when it opens.
    let a = h.quote_with(
        fri_close + 12 * H,
        dec!(1.1000),
        dec!(1.1001),
        vec![enter(Direction::Buy, dec!(10), None)],
    );
    assert_eq!(
        a,
        refused(
            Direction::Buy,
            Refusal::MarketClosed {
                opens: Some(ts(sun_open))
            }
        )
    );
    // Sunday 22:01: open again.
    let a = h.quote_with(
        sun_open + MIN,
        dec!(1.1000),
        dec!(1.1001),
        vec![enter(Direction::Buy, dec!(10), None)],
    );
    assert!(
        matches!(a.as_slice(), [Action::Broker(BrokerCommand::Open(_))]),
        "{a:?}"
    );
}

/// A configured holiday (an early close) and IG's own daily window for an index-like market:
/// with `weekly_rules` off only IG's hours and the holiday count.
#[test]
fn a_holiday_early_close_and_ig_windows_gate_entries() {
    const MIN: i64 = 60_000;
    let mut cfg = test_config();
    cfg.calendar.weekly_rules = false;
    cfg.calendar.flatten_before = scalper_engine::calendar::FlattenBefore::Never;
    cfg.calendar.holidays = vec![scalper_engine::calendar::HolidayConfig {
        date: NaiveDate::from_ymd_opt(2024, 1, 2).unwrap(),
        early_close: Some("12:00".parse().unwrap()),
        instruments: vec!["EUR_USD".into()],
        name: Some("test holiday".into()),
    }];
    let mut h = Harness::new(cfg);
    // IG: 07:00-17:00 London (GMT in January), before the engine has seen any time: logged
    // with the first quote, at the broker's time.
    assert!(h
        .send(EngineEvent::TradingHours {
            epic: epic(),
            times: vec![("07:00".into(), "17:00".into())],
            at: ts(0),
        })
        .is_empty());
    let a = h.send(quote(0, dec!(1.1000), dec!(1.1001)));
    assert!(
        matches!(a.as_slice(), [Action::Log { message, .. }] if message.contains("open until 2024-01-02T12:00:00")),
        "{a:?}"
    );
    open_long(&mut h);
    // 11:55 London: the early close at 12:00 (in the market's zone: here IG's, London) is
    // within 10 minutes.
    let a = h.quote_with(
        3 * 60 * MIN + 55 * MIN,
        dec!(1.1000),
        dec!(1.1001),
        vec![enter(Direction::Sell, dec!(10), None)],
    );
    assert_eq!(
        a,
        refused(
            Direction::Sell,
            Refusal::MarketClosing {
                closes: ts(4 * 60 * MIN)
            }
        )
    );
    // No flatten with `flatten_before = "never"`: the position is still open at 12:30.
    let a = h.quote_with(
        4 * 60 * MIN + 30 * MIN,
        dec!(1.1000),
        dec!(1.1001),
        vec![enter(Direction::Sell, dec!(10), None)],
    );
    assert_eq!(
        a,
        refused(
            Direction::Sell,
            Refusal::MarketClosed {
                opens: Some(ts(23 * 60 * MIN))
            }
        )
    );
    assert_eq!(h.engine.trades()[0].state, DealState::Open);
}

#[test]
fn a_third_entry_in_flight_on_one_instrument_is_refused() {
    // A strategy flipping faster than the broker confirms: the first entry is marked to close
    // on fill, its replacement goes out, and a third flip waits for them.
    let mut h = Harness::new(test_config());
    h.quote_with(
        0,
        dec!(1.1000),
        dec!(1.1001),
        vec![enter(Direction::Buy, dec!(10), None)],
    );
    let flip = |to: Direction| {
        vec![
            Intent::Exit {
                direction: Some(to.opposite()),
                reason: "flip".into(),
            },
            enter(to, dec!(10), None),
        ]
    };
    let a = h.quote_with(10, dec!(1.1000), dec!(1.1001), flip(Direction::Sell));
    assert!(
        matches!(a[..], [Action::Broker(BrokerCommand::Open(_))]),
        "{a:?}"
    );
    let a = h.quote_with(20, dec!(1.1000), dec!(1.1001), flip(Direction::Buy));
    assert_eq!(
        a,
        refused(Direction::Buy, Refusal::EntryInFlight { deal_ref: r(2) })
    );
    // Once the first fills (and is closed at once), a new entry may go again.
    h.send(accepted(1, 1, dec!(1.1001), dec!(0.5), 30));
    let a = h.quote_with(40, dec!(1.1000), dec!(1.1001), flip(Direction::Buy));
    assert!(
        a.iter().any(
            |x| matches!(x, Action::Broker(BrokerCommand::Open(o)) if o.direction == Direction::Buy)
        ),
        "{a:?}"
    );
}
