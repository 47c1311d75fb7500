//! Positions open at the broker when the engine starts (restored from the journal, or adopted
//! by reconciliation): counted in the limits, closed by the kill switch, closed by strategy
//! exits only when they are our own, and booked with the journal's reference when they close.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::field_reassign_with_default,
    clippy::needless_pass_by_value,
    dead_code
)]

mod common;

use common::*;
use rust_decimal_macros::dec;
use scalper_engine::{
    Action, BrokerCommand, CloseCause, Command, EngineError, EngineEvent, EngineInit, Intent,
    Refusal, RestoredPosition,
};
use scalper_model::{DealReference, DealState, Direction};

fn restored(deal: u32, reference: &str, direction: Direction, adopted: bool) -> RestoredPosition {
    RestoredPosition {
        epic: epic(),
        direction,
        size: size(dec!(1)),
        deal_reference: DealReference::new(reference).unwrap(),
        deal_id: did(deal),
        level: p(dec!(1.1000)),
        opened_at: Some(ts(-60_000)),
        stop_level: Some(p(dec!(1.0980))),
        limit_level: None,
        adopted,
        trade_id: None,
        stop_kind: scalper_engine::StopKind::Normal,
        premium_points: None,
        partial_pnl: scalper_model::Money::ZERO,
    }
}

fn with_positions(positions: Vec<RestoredPosition>) -> Harness {
    let init = EngineInit {
        positions,
        ..EngineInit::default()
    };
    Harness::build(test_config(), init, false)
}

fn closes(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Broker(BrokerCommand::Close(c)) => Some(c.deal_id.to_string()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_restored_position_counts_in_the_per_instrument_limit() {
    let mut h = with_positions(vec![restored(1, "OWN-1", Direction::Buy, false)]);
    let t = &h.engine.trades()[0];
    assert_eq!(t.state, DealState::Open);
    assert_eq!(t.entry_level, Some(p(dec!(1.1000))));
    assert_eq!(t.stop_level, Some(p(dec!(1.0980))));
    let a = h.quote_with(
        0,
        dec!(1.1000),
        dec!(1.1001),
        vec![enter(Direction::Buy, dec!(10), None)],
    );
    assert!(
        a.iter().any(|a| matches!(
            a,
            Action::Refused {
                reason: Refusal::MaxOpenPerInstrument { open: 1, .. },
                ..
            }
        )),
        "a second entry on the instrument must be refused: {a:?}"
    );
    assert!(
        !a.iter()
            .any(|a| matches!(a, Action::Broker(BrokerCommand::Open(_)))),
        "no order may be sent: {a:?}"
    );
}

#[test]
fn strategy_exits_close_own_positions_but_not_adopted_ones() {
    let mut h = with_positions(vec![
        restored(1, "OWN-1", Direction::Buy, false),
        restored(2, "ADOPT-D2", Direction::Buy, true),
    ]);
    let a = h.quote_with(
        0,
        dec!(1.1000),
        dec!(1.1001),
        vec![Intent::Exit {
            direction: None,
            reason: "signal".into(),
        }],
    );
    assert_eq!(closes(&a), vec!["D1".to_string()]);
}

#[test]
fn the_kill_switch_closes_adopted_positions_too() {
    let mut h = with_positions(vec![
        restored(1, "OWN-1", Direction::Sell, false),
        restored(2, "ADOPT-D2", Direction::Buy, true),
    ]);
    h.quote_with(0, dec!(1.1000), dec!(1.1001), vec![]);
    let a = h.send(EngineEvent::Command(Command::Halt {
        close_positions: Some(true),
    }));
    assert_eq!(closes(&a), vec!["D1".to_string(), "D2".to_string()]);
}

#[test]
fn a_broker_side_close_is_booked_under_the_journal_reference() {
    let mut h = with_positions(vec![restored(7, "ADOPT-D7", Direction::Buy, true)]);
    h.quote_with(0, dec!(1.1000), dec!(1.1001), vec![]);
    let a = h.send(closed(7, dec!(1.0980), CloseCause::Stop, 1_000));
    let closed = a
        .iter()
        .find_map(|a| match a {
            Action::TradeClosed(c) => Some(c.clone()),
            _ => None,
        })
        .expect("a closed trade");
    assert_eq!(closed.deal_ref.as_str(), "ADOPT-D7");
    assert_eq!(closed.entry_price, p(dec!(1.1000)));
    assert_eq!(closed.exit_price, p(dec!(1.0980)));
    // 1 lot, 20 points against, 10 per point: -200.
    assert_eq!(closed.pnl, money(dec!(-200)));
    assert_eq!(h.engine.summary().open_positions, 0);
}

#[test]
fn a_restored_guaranteed_stop_costs_its_premium_and_the_trade_keeps_its_partial_pnl() {
    let mut pos = restored(8, "REF-G8", Direction::Buy, false);
    pos.stop_kind = scalper_engine::StopKind::Guaranteed;
    pos.premium_points = Some(pts(dec!(3)));
    pos.partial_pnl = money(dec!(25));
    let init = EngineInit {
        day_realised_pnl: money(dec!(25)),
        positions: vec![pos],
        ..EngineInit::default()
    };
    let mut h = Harness::build(test_config(), init, false);
    h.quote_with(0, dec!(1.1000), dec!(1.1001), vec![]);
    let a = h.send(closed(8, dec!(1.0980), CloseCause::Stop, 1_000));
    let closed = a
        .iter()
        .find_map(|a| match a {
            Action::TradeClosed(c) => Some(c.clone()),
            _ => None,
        })
        .expect("a closed trade");
    // -200 for the 20 points, -30 for the 3-point premium, +25 realised before the restart.
    assert_eq!(closed.pnl, money(dec!(-205)));
    assert!(closed.reason.contains("premium"), "{}", closed.reason);
    // The day had the part already: only the rest and the premium are added to it.
    assert_eq!(h.engine.summary().day_pnl, money(dec!(-205)));
}

#[test]
fn new_trades_after_a_restore_get_fresh_ids() {
    let mut h = with_positions(vec![restored(1, "OWN-1", Direction::Buy, false)]);
    h.send(closed(1, dec!(1.1010), CloseCause::Limit, 0));
    let a = h.quote_with(
        1_000,
        dec!(1.1000),
        dec!(1.1001),
        vec![enter(Direction::Buy, dec!(10), None)],
    );
    assert!(a
        .iter()
        .any(|a| matches!(a, Action::Broker(BrokerCommand::Open(_)))));
    let ids: Vec<u64> = h.engine.trades().iter().map(|t| t.trade_id).collect();
    assert!(!ids.contains(&1), "trade ids must not repeat: {ids:?}");
}

#[test]
fn a_position_on_an_instrument_the_run_does_not_trade_is_an_error() {
    let mut pos = restored(1, "OWN-1", Direction::Buy, false);
    pos.epic = epic2();
    let init = EngineInit {
        positions: vec![pos],
        ..EngineInit::default()
    };
    let err = scalper_engine::Engine::new(test_config(), vec![instrument()], init).unwrap_err();
    assert!(
        matches!(err, EngineError::PositionOnUnknownInstrument { .. }),
        "{err}"
    );
}

#[test]
fn restored_positions_and_new_trades_take_the_numbers_they_are_given() {
    let mut pos = restored(7, "SCALP-J-7", Direction::Buy, false);
    pos.trade_id = Some(41);
    let init = EngineInit {
        positions: vec![pos],
        first_trade_id: Some(57),
        ..EngineInit::default()
    };
    let engine = scalper_engine::Engine::new(test_config(), vec![instrument()], init).unwrap();
    assert_eq!(engine.trades()[0].trade_id, 41, "the journal's number");
    // A first number below a restored one never reuses it.
    let mut pos = restored(8, "SCALP-J-8", Direction::Buy, false);
    pos.trade_id = Some(90);
    let init = EngineInit {
        positions: vec![pos],
        first_trade_id: Some(57),
        ..EngineInit::default()
    };
    let engine = scalper_engine::Engine::new(test_config(), vec![instrument()], init).unwrap();
    assert_eq!(engine.trades()[0].trade_id, 90);
}
