//! The paper/sim broker: fills with spread, latency and slippage; IG dealing rules; stop and
//! limit triggering on quotes (gaps fill worse, never better); bar fills at the next open with
//! the stop-first intrabar rule; resolution of references; commission.

#![allow(
    clippy::unwrap_used,
    clippy::many_single_char_names,
    clippy::field_reassign_with_default,
    clippy::needless_pass_by_value,
    clippy::cast_possible_wrap
)]

mod common;

use common::*;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use scalper_engine::sim::intrabar_exit;
use scalper_engine::{
    AmendOrder, BrokerCommand, BrokerEvent, CloseCause, CloseOrder, OpenOrder, SimBroker, SimConfig,
};
use scalper_model::{Candle, Direction, Epic, MarketStatus, Quote, RejectReason};

fn q(offset: i64, bid: Decimal, offer: Decimal) -> Quote {
    Quote {
        epic: epic(),
        bid: p(bid),
        offer: p(offer),
        ts: ts(offset),
    }
}

fn open(
    n: u64,
    direction: Direction,
    sz: Decimal,
    stop: Option<Decimal>,
    limit: Option<Decimal>,
) -> BrokerCommand {
    BrokerCommand::Open(OpenOrder {
        deal_ref: r(n),
        epic: epic(),
        direction,
        size: size(sz),
        stop_distance: stop.map(pts),
        limit_distance: limit.map(pts),
        currency: "USD".into(),
        expiry: "-".into(),
        stop_kind: scalper_engine::StopKind::Normal,
    })
}

fn sim(cfg: SimConfig) -> SimBroker {
    SimBroker::new(
        SimConfig {
            deal_id_prefix: "D".into(),
            ..cfg
        },
        vec![instrument()],
    )
}

fn accepted_at(
    n: u64,
    deal: &str,
    level: Decimal,
    sz: Decimal,
    stop: Option<Decimal>,
    limit: Option<Decimal>,
    offset: i64,
) -> BrokerEvent {
    BrokerEvent::Accepted {
        deal_ref: r(n),
        deal_id: scalper_model::DealId::new(deal).unwrap(),
        level: p(level),
        size: size(sz),
        stop_level: stop.map(p),
        limit_level: limit.map(p),
        at: ts(offset),
    }
}

#[test]
fn market_orders_fill_on_the_next_quote_by_default() {
    let mut b = sim(SimConfig::default());
    assert!(b.on_quote(&q(0, dec!(1.1000), dec!(1.1001))).is_empty());
    assert!(b
        .submit(open(
            1,
            Direction::Buy,
            dec!(1),
            Some(dec!(10)),
            Some(dec!(20))
        ))
        .is_empty());
    assert_eq!(b.pending_orders(), 1);
    let ev = b.on_quote(&q(100, dec!(1.1002), dec!(1.1003)));
    assert_eq!(
        ev,
        vec![accepted_at(
            1,
            "D00000001",
            dec!(1.1003),
            dec!(1),
            Some(dec!(1.0993)),
            Some(dec!(1.1023)),
            100
        )]
    );
}

#[test]
fn latency_zero_fills_on_the_triggering_quote_and_latency_ms_waits() {
    let mut b = sim(SimConfig {
        latency_ms: Some(0),
        ..SimConfig::default()
    });
    b.on_quote(&q(0, dec!(1.1000), dec!(1.1001)));
    let ev = b.submit(open(1, Direction::Sell, dec!(1), None, None));
    assert_eq!(
        ev,
        vec![accepted_at(
            1,
            "D00000001",
            dec!(1.1000),
            dec!(1),
            None,
            None,
            0
        )]
    );

    let mut b = sim(SimConfig {
        latency_ms: Some(500),
        ..SimConfig::default()
    });
    b.on_quote(&q(0, dec!(1.1000), dec!(1.1001)));
    assert!(b
        .submit(open(1, Direction::Buy, dec!(1), None, None))
        .is_empty());
    assert!(b.on_quote(&q(499, dec!(1.1001), dec!(1.1002))).is_empty());
    let ev = b.on_quote(&q(500, dec!(1.1004), dec!(1.1005)));
    assert_eq!(
        ev,
        vec![accepted_at(
            1,
            "D00000001",
            dec!(1.1005),
            dec!(1),
            None,
            None,
            500
        )]
    );
}

#[test]
fn slippage_is_always_adverse() {
    // 1 point + half the spread (2 points) = 2 points against us.
    let cfg = SimConfig {
        latency_ms: Some(0),
        slippage_points: dec!(1),
        slippage_spread_fraction: dec!(0.5),
        ..SimConfig::default()
    };
    let mut b = sim(cfg);
    b.on_quote(&q(0, dec!(1.1000), dec!(1.1002)));
    let ev = b.submit(open(1, Direction::Buy, dec!(1), None, None));
    assert_eq!(
        ev,
        vec![accepted_at(
            1,
            "D00000001",
            dec!(1.1004),
            dec!(1),
            None,
            None,
            0
        )]
    );
    let ev = b.submit(open(2, Direction::Sell, dec!(1), None, None));
    assert_eq!(
        ev,
        vec![accepted_at(
            2,
            "D00000002",
            dec!(1.0998),
            dec!(1),
            None,
            None,
            0
        )]
    );
}

#[test]
fn stops_fill_at_the_gapped_price_and_limits_at_their_level() {
    let mut b = sim(SimConfig {
        latency_ms: Some(0),
        ..SimConfig::default()
    });
    b.on_quote(&q(0, dec!(1.1000), dec!(1.1001)));
    b.submit(open(
        1,
        Direction::Buy,
        dec!(1),
        Some(dec!(10)),
        Some(dec!(20)),
    )); // stop 1.0991
    b.submit(open(
        2,
        Direction::Sell,
        dec!(1),
        Some(dec!(10)),
        Some(dec!(20)),
    )); // limit 1.0980
    assert!(b.on_quote(&q(10, dec!(1.0992), dec!(1.0993))).is_empty());
    // Gap through the long's stop (bid 1.0985 < 1.0991) and the short's limit (offer 1.0976 < 1.0980).
    let ev = b.on_quote(&q(20, dec!(1.0975), dec!(1.0976)));
    assert_eq!(
        ev,
        vec![
            BrokerEvent::PositionClosed {
                deal_id: did_str("D00000001"),
                level: p(dec!(1.0975)),
                pnl: Some(money(dec!(-260))),
                cause: CloseCause::Stop,
                at: ts(20)
            },
            BrokerEvent::PositionClosed {
                deal_id: did_str("D00000002"),
                level: p(dec!(1.0980)),
                pnl: Some(money(dec!(200))),
                cause: CloseCause::Limit,
                at: ts(20)
            },
        ]
    );
    assert!(b.positions().is_empty());
}

fn did_str(s: &str) -> scalper_model::DealId {
    scalper_model::DealId::new(s).unwrap()
}

#[test]
fn dealing_rules_are_enforced() {
    let mut b = sim(SimConfig::default());
    let rej = |n: u64, reason: RejectReason| {
        vec![BrokerEvent::Rejected {
            deal_ref: r(n),
            reason,
            detail: None,
        }]
    };
    assert_eq!(
        b.submit(open(1, Direction::Buy, dec!(1), None, None)),
        rej(1, RejectReason::MarketOffline)
    );
    b.on_quote(&q(0, dec!(1.1000), dec!(1.1001)));
    assert_eq!(
        b.submit(open(2, Direction::Buy, dec!(0.4), None, None)),
        rej(2, RejectReason::MinimumDealSize)
    );
    assert_eq!(
        b.submit(open(3, Direction::Buy, dec!(0.505), None, None)),
        rej(3, RejectReason::SizeIncrement)
    );
    assert_eq!(
        b.submit(open(4, Direction::Buy, dec!(1), Some(dec!(1)), None)),
        rej(4, RejectReason::StopOrLimitLevel)
    );
    assert_eq!(
        b.submit(open(5, Direction::Buy, dec!(1), None, Some(dec!(501))),),
        rej(5, RejectReason::StopOrLimitLevel)
    );
    b.set_market_status(&epic(), MarketStatus::EditsOnly);
    assert_eq!(
        b.submit(open(6, Direction::Buy, dec!(1), None, None)),
        rej(6, RejectReason::MarketClosedWithEdits)
    );
    // Resolution finds the recorded outcome, or proves that no deal exists.
    assert_eq!(
        b.submit(BrokerCommand::Resolve {
            deal_ref: r(2),
            epic: epic()
        }),
        rej(2, RejectReason::MinimumDealSize)
    );
    assert_eq!(
        b.submit(BrokerCommand::Resolve {
            deal_ref: r(9),
            epic: epic()
        }),
        rej(9, RejectReason::NoDeal)
    );
}

/// Every refusal of the sim broker carries the reason IG would give (IG's code in comments).
#[test]
fn close_requests_and_unknown_instruments_are_refused_with_their_reason() {
    let mut b = sim(SimConfig {
        latency_ms: Some(0),
        ..SimConfig::default()
    });
    let reason = |ev: Vec<BrokerEvent>| match &ev[..] {
        [BrokerEvent::Rejected { reason, .. }] => Some(reason.clone()),
        _ => None,
    };
    b.on_quote(&q(0, dec!(1.1000), dec!(1.1001)));
    // INSTRUMENT_NOT_FOUND
    let BrokerCommand::Open(o) = open(1, Direction::Buy, dec!(1), None, None) else {
        unreachable!()
    };
    let elsewhere = BrokerCommand::Open(OpenOrder {
        epic: Epic::new("CS.D.NOWHERE.CFD.IP").unwrap(),
        ..o
    });
    assert_eq!(
        reason(b.submit(elsewhere)),
        Some(RejectReason::InstrumentNotFound)
    );
    assert!(matches!(
        &b.submit(open(2, Direction::Buy, dec!(1), None, None))[..],
        [BrokerEvent::Accepted { .. }]
    ));
    let close = |n: u64, direction, sz| {
        BrokerCommand::Close(CloseOrder {
            deal_ref: r(n),
            deal_id: did_str("D00000001"),
            epic: epic(),
            direction,
            size: size(sz),
            expiry: "-".into(),
        })
    };
    // A close in the position's own direction: IG's POSITION_NOT_AVAILABLE_TO_CLOSE.
    assert_eq!(
        reason(b.submit(close(3, Direction::Buy, dec!(1)))),
        Some(RejectReason::PositionNotAvailableToClose)
    );
    // A close of another size than the position's: ORDER_SIZE_CANNOT_BE_FILLED.
    assert_eq!(
        reason(b.submit(close(4, Direction::Sell, dec!(2)))),
        Some(RejectReason::OrderSizeCannotBeFilled)
    );
    // POSITION_NOT_FOUND
    let mut gone = close(5, Direction::Sell, dec!(1));
    if let BrokerCommand::Close(c) = &mut gone {
        c.deal_id = did_str("D00000099");
    }
    assert_eq!(reason(b.submit(gone)), Some(RejectReason::PositionNotFound));
    // A market closed to dealing refuses closes too: MARKET_CLOSED_WITH_EDITS.
    b.set_market_status(&epic(), MarketStatus::EditsOnly);
    assert_eq!(
        reason(b.submit(close(6, Direction::Sell, dec!(1)))),
        Some(RejectReason::MarketClosedWithEdits)
    );
    assert_eq!(b.positions().len(), 1);
}

#[test]
fn a_close_racing_a_stop_is_rejected() {
    let mut b = sim(SimConfig::default());
    b.on_quote(&q(0, dec!(1.1000), dec!(1.1001)));
    b.submit(open(1, Direction::Buy, dec!(1), Some(dec!(10)), None));
    b.on_quote(&q(10, dec!(1.1000), dec!(1.1001))); // fills at 1.1001, stop 1.0991
    let close = BrokerCommand::Close(CloseOrder {
        deal_ref: r(2),
        deal_id: did_str("D00000001"),
        epic: epic(),
        direction: Direction::Sell,
        size: size(dec!(1)),
        expiry: "-".into(),
    });
    assert!(b.submit(close).is_empty());
    let ev = b.on_quote(&q(20, dec!(1.0990), dec!(1.0991)));
    assert!(matches!(
        ev[0],
        BrokerEvent::PositionClosed {
            cause: CloseCause::Stop,
            ..
        }
    ));
    assert_eq!(
        ev[1],
        BrokerEvent::Rejected {
            deal_ref: r(2),
            reason: RejectReason::PositionNotFound,
            detail: None,
        }
    );
}

#[test]
fn amendments_respect_the_minimum_distance() {
    let mut b = sim(SimConfig {
        latency_ms: Some(0),
        ..SimConfig::default()
    });
    b.on_quote(&q(0, dec!(1.1000), dec!(1.1001)));
    b.submit(open(1, Direction::Buy, dec!(1), Some(dec!(10)), None));
    let amend = |stop| {
        BrokerCommand::Amend(AmendOrder {
            deal_id: did_str("D00000001"),
            epic: epic(),
            stop_level: Some(p(stop)),
            limit_level: None,
        })
    };
    // Bid 1.1000, minimum 2 points: a stop above 1.0998 is refused.
    assert_eq!(
        b.submit(amend(dec!(1.0999))),
        vec![BrokerEvent::AmendRejected {
            deal_id: did_str("D00000001"),
            reason: RejectReason::StopOrLimitLevel,
            detail: None,
        }]
    );
    assert_eq!(
        b.submit(amend(dec!(1.0998))),
        vec![BrokerEvent::Amended {
            deal_id: did_str("D00000001"),
            stop_level: Some(p(dec!(1.0998))),
            limit_level: None
        }]
    );
    assert_eq!(b.positions()[0].stop_level, Some(p(dec!(1.0998))));
}

#[test]
fn commission_is_charged_per_fill_in_cents() {
    // Notional of 1 at 1.1000: 1.1 / 0.0001 x 10 = 110000; 0.001% = 1.10 per fill.
    let mut b = sim(SimConfig {
        latency_ms: Some(0),
        commission_pct: dec!(0.001),
        ..SimConfig::default()
    });
    b.on_quote(&q(0, dec!(1.1000), dec!(1.1000)));
    b.submit(open(1, Direction::Buy, dec!(1), None, None));
    let close = BrokerCommand::Close(CloseOrder {
        deal_ref: r(2),
        deal_id: did_str("D00000001"),
        epic: epic(),
        direction: Direction::Sell,
        size: size(dec!(1)),
        expiry: "-".into(),
    });
    b.on_quote(&q(10, dec!(1.1010), dec!(1.1010)));
    let ev = b.submit(close);
    // Gross 10 points x 10 = 100; minus 1.10 and 1.10 (1.101 x 100000 x 0.00001 = 1.1010 -> 1.10).
    assert_eq!(
        ev,
        vec![BrokerEvent::PositionClosed {
            deal_id: did_str("D00000001"),
            level: p(dec!(1.1010)),
            pnl: Some(money(dec!(97.80))),
            cause: CloseCause::Engine,
            at: ts(10)
        }]
    );
}

fn bar(start: i64, o: Decimal, h: Decimal, l: Decimal, c: Decimal) -> Candle {
    Candle {
        epic: epic(),
        start: ts(start),
        period_ms: 60_000,
        open: p(o),
        high: p(h),
        low: p(l),
        close: p(c),
        spread: Some(dec!(0.0002)),
        volume: None,
    }
}

#[test]
fn bars_fill_at_the_next_open_and_assume_the_stop_first() {
    let mut b = sim(SimConfig {
        latency_ms: Some(0),
        ..SimConfig::default()
    });
    assert!(b
        .on_bar(&bar(
            0,
            dec!(1.1000),
            dec!(1.1010),
            dec!(1.0990),
            dec!(1.1000)
        ))
        .is_empty());
    // Latency 0 does not apply to bars: the order waits for the next bar's open.
    assert!(b
        .submit(open(
            1,
            Direction::Buy,
            dec!(1),
            Some(dec!(10)),
            Some(dec!(10))
        ))
        .is_empty());
    // Opens 1.1000 -> buy at 1.1001 (half spread); stop 1.0991 and limit 1.1011 are both inside
    // the bar's bid range (1.0979..1.1019): the stop wins.
    let ev = b.on_bar(&bar(
        60_000,
        dec!(1.1000),
        dec!(1.1020),
        dec!(1.0980),
        dec!(1.1000),
    ));
    assert_eq!(
        ev[0],
        accepted_at(
            1,
            "D00000001",
            dec!(1.1001),
            dec!(1),
            Some(dec!(1.0991)),
            Some(dec!(1.1011)),
            60_000
        )
    );
    assert_eq!(
        ev[1],
        BrokerEvent::PositionClosed {
            deal_id: did_str("D00000001"),
            level: p(dec!(1.0991)),
            pnl: Some(money(dec!(-100))),
            cause: CloseCause::Stop,
            at: ts(120_000)
        }
    );
}

#[test]
fn intrabar_rules() {
    let b = bar(0, dec!(1.1000), dec!(1.1020), dec!(1.0980), dec!(1.1000));
    let (s, l) = (Some(p(dec!(1.0990))), Some(p(dec!(1.1010))));
    assert_eq!(
        intrabar_exit(Direction::Buy, s, l, &b, dec!(0)),
        Some((p(dec!(1.0990)), CloseCause::Stop))
    );
    assert_eq!(
        intrabar_exit(Direction::Buy, None, l, &b, dec!(0)),
        Some((p(dec!(1.1010)), CloseCause::Limit))
    );
    assert_eq!(
        intrabar_exit(Direction::Sell, l, s, &b, dec!(0)),
        Some((p(dec!(1.1010)), CloseCause::Stop))
    );
    // A gap through the stop fills at the open.
    let gap = bar(0, dec!(1.0970), dec!(1.0975), dec!(1.0960), dec!(1.0970));
    assert_eq!(
        intrabar_exit(Direction::Buy, s, l, &gap, dec!(0)),
        Some((p(dec!(1.0970)), CloseCause::Stop))
    );
    // Nothing touched.
    let calm = bar(0, dec!(1.1000), dec!(1.1005), dec!(1.0995), dec!(1.1000));
    assert_eq!(intrabar_exit(Direction::Buy, s, l, &calm, dec!(0)), None);
}

#[test]
fn resolution_remembers_the_most_recent_outcomes_only() {
    use scalper_engine::sim::OUTCOMES_KEPT;
    let mut b = sim(SimConfig {
        latency_ms: Some(0),
        ..SimConfig::default()
    });
    b.on_quote(&q(0, dec!(1.1000), dec!(1.1001)));
    let total = OUTCOMES_KEPT as u64 + 100;
    // `r(n)` counts up from 1 each time: generate the references once.
    let mut gen = scalper_engine::DealRefGen::new("T", 0).unwrap();
    let refs: Vec<_> = (0..=total + 1).map(|_| gen.next_ref()).collect();
    let r = |n: u64| refs[usize::try_from(n - 1).unwrap()].clone();
    assert_eq!(r(3), common::r(3));
    let open = |n: u64, sz| match open(1, Direction::Buy, sz, None, None) {
        BrokerCommand::Open(o) => BrokerCommand::Open(OpenOrder {
            deal_ref: r(n),
            ..o
        }),
        other => other,
    };
    for n in 1..=total {
        // Below the minimum size: a rejection, remembered like a fill.
        assert_eq!(
            b.submit(open(n, dec!(0.1))),
            vec![BrokerEvent::Rejected {
                deal_ref: r(n),
                reason: RejectReason::MinimumDealSize,
                detail: None,
            }]
        );
    }
    let resolve = |b: &mut SimBroker, n: u64| {
        b.submit(BrokerCommand::Resolve {
            deal_ref: r(n),
            epic: epic(),
        })
    };
    // The oldest 100 are forgotten; every later one is still known.
    for n in [1, 50, 100] {
        assert!(
            matches!(&resolve(&mut b, n)[..], [BrokerEvent::Rejected { reason, .. }] if *reason == RejectReason::NoDeal),
            "{n}"
        );
    }
    for n in [101, total / 2, total] {
        assert!(
            matches!(&resolve(&mut b, n)[..], [BrokerEvent::Rejected { reason, .. }] if *reason == RejectReason::MinimumDealSize),
            "{n}"
        );
    }
    // A fill is resolved to its confirm.
    let fill = b.submit(open(total + 1, dec!(1)));
    assert!(matches!(&fill[..], [BrokerEvent::Accepted { .. }]));
    assert_eq!(resolve(&mut b, total + 1), fill);
}

#[test]
fn outcomes_can_be_forgotten_when_nothing_will_ask() {
    let mut b = sim(SimConfig {
        latency_ms: Some(0),
        ..SimConfig::default()
    });
    b.keep_outcomes(0);
    b.on_quote(&q(0, dec!(1.1000), dec!(1.1001)));
    let fill = b.submit(open(1, Direction::Buy, dec!(1), None, None));
    assert!(matches!(&fill[..], [BrokerEvent::Accepted { .. }]));
    assert_eq!(
        b.submit(BrokerCommand::Resolve {
            deal_ref: r(1),
            epic: epic(),
        }),
        vec![BrokerEvent::Rejected {
            deal_ref: r(1),
            reason: RejectReason::NoDeal,
            detail: None,
        }]
    );
    // Dealing itself is unchanged.
    assert_eq!(b.positions().len(), 1);
}
