//! Recording and querying: the full trade lifecycle, exact decimal P&L, day statistics that
//! survive a reopen, strict transitions, system events, listings, exports and reports.
#![allow(clippy::unwrap_used)]

mod common;

use common::{d, dref, intent, open, ts, EURUSD};
use scalper_journal::{
    write_trades_csv, write_trades_json, Amendment, Close, ConfirmOutcome, Fill, JournalError,
    PartialClose, SystemEvent, TradeFilter,
};
use scalper_model::{DealId, DealState, Direction, Epic, Money, Price, Size};

fn close(at: i64, level: &str, pnl: &str, fees: &str) -> Close {
    Close {
        ts: ts(at),
        level: Price::new(d(level)),
        pnl: Money::new(d(pnl)),
        fees: Money::new(d(fees)),
        reason: "target".into(),
    }
}

fn accepted(id: &str, level: &str) -> ConfirmOutcome {
    ConfirmOutcome::Accepted {
        deal_id: DealId::new(id).unwrap(),
        level: Some(Price::new(d(level))),
    }
}

/// Intent, confirm and close for one trade.
fn round_trip(j: &mut scalper_journal::Journal, r: &str, at: i64, pnl: &str) {
    j.record_intent(&intent(r, Direction::Buy, "1", at))
        .unwrap();
    j.record_confirm(
        &dref(r),
        ts(at + 10),
        &accepted(&format!("DI{r}"), "1.08120"),
    )
    .unwrap();
    j.record_close(&dref(r), &close(at + 1000, "1.08150", pnl, "0.10"))
        .unwrap();
}

#[test]
fn full_lifecycle_is_journaled_in_order_with_exact_decimals() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = open(&dir.path().join("j.sqlite"));
    let r = dref("REF-1");
    let id = j
        .record_intent(&intent("REF-1", Direction::Sell, "1.50", 0))
        .unwrap();
    assert_eq!(
        j.unresolved_trades().unwrap().len(),
        1,
        "intent is unresolved"
    );
    assert_eq!(j.record_submitted(&r, ts(1)).unwrap(), DealState::Submitted);
    assert_eq!(
        j.record_confirm(&r, ts(5), &accepted("DIAAAA1", "1.08125"))
            .unwrap(),
        DealState::Accepted
    );
    let fill = Fill {
        ts: ts(6),
        deal_id: DealId::new("DIAAAA1").unwrap(),
        level: Price::new(d("1.08125")),
        size: Size::new(d("1.50")),
        stop_level: None,
        limit_level: None,
    };
    assert_eq!(j.record_fill(&r, &fill).unwrap(), DealState::Open);
    let amend = Amendment {
        ts: ts(7),
        stop_level: Some(Price::new(d("1.08200"))),
        limit_level: None,
    };
    j.record_amendment(&r, &amend).unwrap();
    assert_eq!(j.open_trades().unwrap().len(), 1);
    assert_eq!(
        j.record_close_submitted(&r, ts(8)).unwrap(),
        DealState::Closing
    );
    assert_eq!(
        j.record_close_rejected(&r, ts(9), "MARKET_CLOSED").unwrap(),
        DealState::Open
    );
    j.record_close_submitted(&r, ts(10)).unwrap();
    j.record_close(&r, &close(11, "1.08100", "0.375", "0.01"))
        .unwrap();

    let t = j.trade(id).unwrap().unwrap();
    assert_eq!(t.state, DealState::Closed);
    assert_eq!(t.deal_id.as_ref().unwrap().as_str(), "DIAAAA1");
    assert_eq!(t.open_level.unwrap().value().to_string(), "1.08125");
    assert_eq!(t.stop_level.unwrap().value().to_string(), "1.08200");
    assert_eq!(t.limit_level.unwrap().value().to_string(), "1.08300");
    assert_eq!(t.size.value().to_string(), "1.50");
    assert_eq!(t.pnl.unwrap().value().to_string(), "0.375");
    assert_eq!(t.net_pnl().unwrap(), Money::new(d("0.365")));
    assert!(j.open_trades().unwrap().is_empty());
    let kinds: Vec<String> = j.history(id).unwrap().into_iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            "intent",
            "submitted",
            "confirm_accepted",
            "fill",
            "amendment",
            "close_submitted",
            "close_rejected",
            "close_submitted",
            "closed"
        ]
    );
    let detail = j.detail(id).unwrap().unwrap().to_string();
    assert!(
        detail.contains("REF-1") && detail.contains("DIAAAA1"),
        "{detail}"
    );
}

#[test]
fn confirm_on_an_intent_implies_it_was_sent() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = open(&dir.path().join("j.sqlite"));
    j.record_intent(&intent("A", Direction::Buy, "1", 0))
        .unwrap();
    let s = j
        .record_confirm(
            &dref("A"),
            ts(1),
            &ConfirmOutcome::Unknown {
                detail: "timeout".into(),
            },
        )
        .unwrap();
    assert_eq!(s, DealState::Unknown);
    j.record_intent(&intent("B", Direction::Buy, "1", 0))
        .unwrap();
    let s = j
        .record_confirm(
            &dref("B"),
            ts(1),
            &ConfirmOutcome::Rejected {
                reason: "MARKET_CLOSED".into(),
            },
        )
        .unwrap();
    assert_eq!(s, DealState::Rejected);
    let b = j.trade_by_reference(&dref("B")).unwrap().unwrap();
    assert_eq!(b.reason.as_deref(), Some("MARKET_CLOSED"));
    let unresolved: Vec<String> = j
        .unresolved_trades()
        .unwrap()
        .into_iter()
        .map(|t| t.deal_reference.to_string())
        .collect();
    assert_eq!(unresolved, ["A"]);
}

#[test]
fn impossible_transition_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = open(&dir.path().join("j.sqlite"));
    round_trip(&mut j, "R", 0, "1");
    let before = j.history(scalper_journal::TradeId(1)).unwrap().len();
    let err = j
        .record_close(&dref("R"), &close(5000, "1", "2", "0"))
        .unwrap_err();
    assert!(
        matches!(
            err,
            JournalError::Transition {
                state: DealState::Closed,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        j.history(scalper_journal::TradeId(1)).unwrap().len(),
        before
    );
    let t = j.trade_by_reference(&dref("R")).unwrap().unwrap();
    assert_eq!(t.pnl, Some(Money::new(d("1"))));
}

#[test]
fn duplicate_and_unknown_references_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = open(&dir.path().join("j.sqlite"));
    j.record_intent(&intent("R", Direction::Buy, "1", 0))
        .unwrap();
    let err = j
        .record_intent(&intent("R", Direction::Buy, "1", 0))
        .unwrap_err();
    assert!(matches!(err, JournalError::DuplicateReference(_)), "{err}");
    let err = j.record_submitted(&dref("NOPE"), ts(0)).unwrap_err();
    assert!(matches!(err, JournalError::UnknownReference(_)), "{err}");
}

/// Part of `r` closed at `at` for `pnl`, `remaining` left open.
fn part(j: &mut scalper_journal::Journal, r: &str, at: i64, pnl: &str, remaining: &str) {
    j.record_partial_close(
        &dref(r),
        &PartialClose {
            ts: ts(at),
            close_reference: dref(&format!("{r}-P{at}")),
            level: Price::new(d("1.08150")),
            size: Size::new(d("1")),
            remaining: Size::new(d(remaining)),
            pnl: Money::new(d(pnl)),
            reason: "partial".into(),
        },
    )
    .unwrap();
}

#[test]
fn partial_closes_count_on_the_day_they_were_made_and_stay_with_the_open_trade() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.sqlite");
    let day = 86_400_000;
    {
        let mut j = open(&path);
        for (r, at) in [("P1", -day), ("P2", 0), ("P3", -day)] {
            j.record_intent(&intent(r, Direction::Buy, "3", at))
                .unwrap();
            j.record_confirm(
                &dref(r),
                ts(at + 10),
                &accepted(&format!("DI{r}"), "1.08120"),
            )
            .unwrap();
        }
        // P1: a part yesterday, a part today, still open.
        part(&mut j, "P1", -day + 100, "4.00", "2");
        part(&mut j, "P1", 100, "3.00", "1");
        // P2: a part today, the rest today (its P&L is the whole trade's: 2.50 + 7.50).
        part(&mut j, "P2", 200, "2.50", "2");
        j.record_close(&dref("P2"), &close(300, "1.08200", "10.00", "0"))
            .unwrap();
        // P3: a part yesterday, the rest today (5.00 + 1.00).
        part(&mut j, "P3", -day + 200, "5.00", "2");
        j.record_close(&dref("P3"), &close(400, "1.08100", "6.00", "0"))
            .unwrap();
    } // restart
    let j = open(&path);
    let today = j.day_stats(ts(0), ts(day)).unwrap();
    assert_eq!(
        today.realised_pnl,
        Money::new(d("14.00")),
        "3 + 2.50 + 7.50 + 1"
    );
    assert_eq!((today.trades_closed, today.wins), (2, 2));
    // The day's equity curve: each part when it was made, each close less its parts.
    assert_eq!(
        j.closes_between(ts(0), ts(day)).unwrap(),
        [
            (ts(100), Money::new(d("3.00"))),
            (ts(200), Money::new(d("2.50"))),
            (ts(300), Money::new(d("7.50"))),
            (ts(400), Money::new(d("1.00"))),
        ]
    );
    let yesterday = j.day_stats(ts(-day), ts(0)).unwrap();
    assert_eq!(yesterday.realised_pnl, Money::new(d("9.00")), "4 + 5");
    let open_trade = j.trade_by_reference(&dref("P1")).unwrap().unwrap();
    assert_eq!(open_trade.size, Size::new(d("1")));
    assert_eq!(j.partial_pnl(open_trade.id).unwrap(), Money::new(d("7.00")));
    let closed = j.trade_by_reference(&dref("P2")).unwrap().unwrap();
    assert_eq!(j.partial_pnl(closed.id).unwrap(), Money::new(d("2.50")));
}

#[test]
fn day_stats_survive_a_restart_and_respect_the_boundary() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.sqlite");
    let day = 86_400_000;
    {
        let mut j = open(&path);
        round_trip(&mut j, "Y1", -day, "50"); // yesterday: excluded
        round_trip(&mut j, "T1", 0, "-12.34");
        round_trip(&mut j, "T2", 2000, "0.01");
        round_trip(&mut j, "T3", 4000, "-7.5");
        j.record_intent(&intent("T4", Direction::Buy, "1", 6000))
            .unwrap();
        j.record_intent(&intent("T5", Direction::Buy, "1", 7000))
            .unwrap();
        j.record_confirm(
            &dref("T5"),
            ts(7001),
            &ConfirmOutcome::Rejected { reason: "X".into() },
        )
        .unwrap();
    } // "crash": the journal is dropped
    let j = open(&path);
    let s = j.day_stats(ts(0), ts(day)).unwrap();
    assert_eq!(s.realised_pnl, Money::new(d("-19.83")));
    assert_eq!(s.fees, Money::new(d("0.30")));
    assert_eq!(s.net_pnl(), Money::new(d("-20.13")));
    assert_eq!(
        (s.trades_opened, s.trades_closed, s.wins, s.losses),
        (4, 3, 1, 2)
    );
    assert_eq!(j.open_trades().unwrap().len(), 0);
    assert_eq!(j.unresolved_trades().unwrap().len(), 1);
    // The day's closes in order, each net of its fees (the status page's equity curve).
    assert_eq!(
        j.closes_between(ts(0), ts(day)).unwrap(),
        [
            (ts(1000), Money::new(d("-12.44"))),
            (ts(3000), Money::new(d("-0.09"))),
            (ts(5000), Money::new(d("-7.60"))),
        ]
    );
}

#[test]
fn system_events_are_journaled() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = open(&dir.path().join("j.sqlite"));
    let epic = Epic::new(EURUSD).unwrap();
    let events = [
        SystemEvent::RiskRefusal {
            epic,
            direction: Some(Direction::Buy),
            size: None,
            reason: "spread 3.1 > 1.5".into(),
        },
        SystemEvent::KillSwitch {
            reason: "ctrl-c".into(),
            close_positions: true,
        },
        SystemEvent::BrokerFallback {
            policy: "halt".into(),
            reason: "503".into(),
        },
        SystemEvent::Login {
            account: Some("ABC12".into()),
        },
        SystemEvent::Refresh,
        SystemEvent::TokenErrorRecovered {
            detail: "invalid token".into(),
        },
        SystemEvent::StreamGap { gap_ms: 4200 },
    ];
    for (e, i) in events.iter().zip(0_i64..) {
        j.record_event(ts(i), e).unwrap();
    }
    let all = j.events(ts(0), ts(100), None).unwrap();
    let kinds: Vec<&str> = all.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "risk_refusal",
            "kill_switch",
            "broker_fallback",
            "login",
            "refresh",
            "token_error_recovered",
            "stream_gap"
        ]
    );
    assert_eq!(all[0].detail["reason"], "spread 3.1 > 1.5");
    assert_eq!(all[6].detail["gap_ms"], 4200);
    assert_eq!(j.events(ts(0), ts(100), Some("refresh")).unwrap().len(), 1);
}

#[test]
fn listing_filters_and_exports() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = open(&dir.path().join("j.sqlite"));
    round_trip(&mut j, "A", 0, "10.5");
    round_trip(&mut j, "B", 10_000, "-3");
    j.record_intent(&intent("C", Direction::Sell, "2", 20_000))
        .unwrap();
    assert_eq!(j.trades(&TradeFilter::default()).unwrap().len(), 3);
    let last2 = j
        .trades(&TradeFilter {
            limit: Some(2),
            ..TradeFilter::default()
        })
        .unwrap();
    let refs: Vec<String> = last2.iter().map(|t| t.deal_reference.to_string()).collect();
    assert_eq!(refs, ["B", "C"]);
    let closed = j
        .trades(&TradeFilter {
            state: Some(DealState::Closed),
            from: Some(ts(5000)),
            ..TradeFilter::default()
        })
        .unwrap();
    assert_eq!(closed.len(), 1);

    let all = j.trades(&TradeFilter::default()).unwrap();
    let mut csv = Vec::new();
    write_trades_csv(&all, &mut csv).unwrap();
    let csv = String::from_utf8(csv).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 4);
    assert!(lines[0].starts_with("id,deal_reference,deal_id,epic"));
    assert!(lines[1].contains(",10.5,0.10,target"), "{}", lines[1]);
    let mut json = Vec::new();
    write_trades_json(&all, &mut json).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(v[1]["pnl"], "-3");
    assert_eq!(v[2]["state"], "intent");
}

#[test]
fn report_per_day_and_instrument_with_drawdown() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = open(&dir.path().join("j.sqlite"));
    let day = 86_400_000;
    round_trip(&mut j, "D1A", 0, "10");
    round_trip(&mut j, "D1B", 2000, "-4");
    round_trip(&mut j, "D1C", 4000, "-3");
    round_trip(&mut j, "D2A", day, "5");
    let r = j.report(ts(-day), ts(2 * day)).unwrap();
    assert_eq!(r.days.len(), 2);
    assert_eq!(r.days[0].key, "2026-11-26");
    assert_eq!(r.days[0].trades, 3);
    assert_eq!(r.days[0].wins, 1);
    assert_eq!(r.days[0].pnl, Money::new(d("3")));
    assert_eq!(r.days[0].fees, Money::new(d("0.30")));
    // Net curve 9.9, 5.8, 2.7: drawdown 7.2 from the peak.
    assert_eq!(r.days[0].max_drawdown, Money::new(d("7.2")));
    assert_eq!(r.instruments.len(), 1);
    assert_eq!(r.total.trades, 4);
    assert!((r.total.win_rate - 0.5).abs() < 1e-9);
    assert_eq!(r.total.net_pnl, Money::new(d("7.6")));
    let text = r.to_string();
    assert!(
        text.contains("2026-11-27") && text.contains(EURUSD),
        "{text}"
    );
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["total"]["pnl"], "8");
}

#[test]
fn late_confirm_after_the_position_was_seen_keeps_it_open() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = open(&dir.path().join("j.sqlite"));
    let id = j
        .record_intent(&intent("L", Direction::Buy, "1", 0))
        .unwrap();
    let fill = Fill {
        ts: ts(1),
        deal_id: DealId::new("DL").unwrap(),
        level: Price::new(d("1.08110")),
        size: Size::new(d("1")),
        stop_level: None,
        limit_level: None,
    };
    assert_eq!(j.record_fill(&dref("L"), &fill).unwrap(), DealState::Open);
    let s = j
        .record_confirm(&dref("L"), ts(2), &accepted("DL", "1.08110"))
        .unwrap();
    assert_eq!(s, DealState::Open);
    assert_eq!(j.history(id).unwrap().len(), 3);
}

#[test]
fn the_fill_records_the_stop_and_limit_the_position_opened_with() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = open(&dir.path().join("j.sqlite"));
    let id = j
        .record_intent(&intent("LV", Direction::Buy, "1", 0))
        .unwrap();
    let fill = Fill {
        ts: ts(1),
        deal_id: DealId::new("DLV").unwrap(),
        level: Price::new(d("1.08110")),
        size: Size::new(d("1")),
        stop_level: Some(Price::new(d("1.08010"))),
        limit_level: Some(Price::new(d("1.08310"))),
    };
    j.record_fill(&dref("LV"), &fill).unwrap();
    let t = j.trade(id).unwrap().unwrap();
    assert_eq!(t.stop_level, Some(Price::new(d("1.08010"))));
    assert_eq!(t.limit_level, Some(Price::new(d("1.08310"))));
    // An amendment moves them; a later fill without levels keeps them.
    j.record_amendment(
        &dref("LV"),
        &Amendment {
            ts: ts(2),
            stop_level: Some(Price::new(d("1.08100"))),
            limit_level: None,
        },
    )
    .unwrap();
    let t = j.trade(id).unwrap().unwrap();
    assert_eq!(t.stop_level, Some(Price::new(d("1.08100"))));
    assert_eq!(t.limit_level, Some(Price::new(d("1.08310"))));
}
