//! Reconciliation: one test per class (matched, broker-only, journal-only, size mismatch,
//! direction mismatch, unresolved with each lookup result) on the pure function, then the
//! report applied to a real journal.
#![allow(clippy::unwrap_used)]

mod common;

use common::{d, dref, intent, open, ts, EURUSD};
use scalper_journal::{
    reconcile, BrokerPosition, BrokerView, ConfirmLookup, ConfirmOutcome, Fill, ReconAction,
    ReconClass, Trade, TradeId,
};
use scalper_model::{DealId, DealState, Direction, Epic, Money, OrderType, Price, Size, Timestamp};

fn trade(
    id: i64,
    r: &str,
    state: DealState,
    deal: Option<&str>,
    dir: Direction,
    size: &str,
) -> Trade {
    Trade {
        id: TradeId(id),
        deal_reference: dref(r),
        epic: Epic::new(EURUSD).unwrap(),
        direction: dir,
        size: Size::new(d(size)),
        order_type: OrderType::Market,
        stop_level: None,
        limit_level: None,
        paper: false,
        adopted: false,
        strategy: None,
        state,
        deal_id: deal.map(|x| DealId::new(x).unwrap()),
        open_level: None,
        close_level: None,
        pnl: None,
        fees: Money::ZERO,
        created_at: Timestamp::from_millis(0),
        opened_at: None,
        closed_at: None,
        reason: None,
        execution: scalper_journal::Execution::default(),
        stop_kind: scalper_journal::StopKind::default(),
    }
}

fn pos(deal: &str, r: Option<&str>, dir: Direction, size: &str) -> BrokerPosition {
    BrokerPosition {
        deal_id: DealId::new(deal).unwrap(),
        deal_reference: r.map(dref),
        epic: Epic::new(EURUSD).unwrap(),
        direction: dir,
        size: Size::new(d(size)),
        level: Price::new(d("1.08100")),
        stop_level: Some(Price::new(d("1.07900"))),
        limit_level: None,
    }
}

fn get(j: &scalper_journal::Journal, r: &str) -> Trade {
    j.trade_by_reference(&dref(r)).unwrap().unwrap()
}

fn view(positions: Vec<BrokerPosition>) -> BrokerView {
    BrokerView {
        positions,
        ..BrokerView::default()
    }
}

#[test]
fn matched_by_deal_id_needs_nothing() {
    let t = trade(1, "R1", DealState::Open, Some("D1"), Direction::Buy, "1");
    let rep = reconcile(&[t], &view(vec![pos("D1", None, Direction::Buy, "1")]));
    assert_eq!(rep.items.len(), 1);
    assert_eq!(rep.items[0].class, ReconClass::Matched);
    assert_eq!(rep.items[0].action, ReconAction::None);
    assert!(rep.is_clean());
}

#[test]
fn matched_by_reference_resolves_an_unknown_outcome_to_open() {
    let t = trade(1, "R1", DealState::Unknown, None, Direction::Buy, "1");
    let rep = reconcile(
        &[t],
        &view(vec![pos("D9", Some("R1"), Direction::Buy, "1")]),
    );
    assert_eq!(rep.items[0].class, ReconClass::Matched);
    assert_eq!(
        rep.items[0].action,
        ReconAction::MarkOpen {
            deal_id: DealId::new("D9").unwrap(),
            level: Price::new(d("1.08100"))
        }
    );
    assert!(!rep.is_clean());
}

#[test]
fn broker_only_is_adopted() {
    let rep = reconcile(&[], &view(vec![pos("D7", None, Direction::Sell, "2")]));
    assert_eq!(rep.items[0].class, ReconClass::BrokerOnly);
    assert_eq!(rep.items[0].action, ReconAction::Adopt);
    assert_eq!(rep.adopted().count(), 1);
    assert_eq!(rep.count(ReconClass::BrokerOnly), 1);
}

#[test]
fn journal_only_is_marked_closed_externally() {
    let t = trade(1, "R1", DealState::Open, Some("D1"), Direction::Buy, "1");
    let rep = reconcile(&[t], &view(vec![]));
    assert_eq!(rep.items[0].class, ReconClass::JournalOnly);
    assert_eq!(
        rep.items[0].action,
        ReconAction::MarkClosedExternally {
            deal_id: None,
            level: None
        }
    );
}

#[test]
fn size_mismatch_adopts_the_broker_size() {
    let t = trade(1, "R1", DealState::Open, Some("D1"), Direction::Buy, "2");
    let rep = reconcile(
        &[t],
        &view(vec![pos("D1", Some("R1"), Direction::Buy, "1.5")]),
    );
    assert_eq!(rep.items[0].class, ReconClass::SizeMismatch);
    assert_eq!(
        rep.items[0].action,
        ReconAction::AdoptBrokerSize {
            size: Size::new(d("1.5"))
        }
    );
    assert!(!rep.blocks_trading());
}

#[test]
fn direction_mismatch_blocks_trading() {
    let t = trade(1, "R1", DealState::Open, Some("D1"), Direction::Buy, "1");
    let rep = reconcile(&[t], &view(vec![pos("D1", None, Direction::Sell, "1")]));
    assert_eq!(rep.items[0].class, ReconClass::DirectionMismatch);
    assert_eq!(rep.items[0].action, ReconAction::BlockTrading);
    assert!(rep.blocks_trading());
    assert!(rep.to_string().contains("TRADING BLOCKED"));
}

#[test]
fn unresolved_outcomes_follow_the_confirm_lookup() {
    let refs = ["U1", "U2", "U3", "U4"];
    let trades: Vec<Trade> = refs
        .iter()
        .zip(1_i64..)
        .map(|(r, i)| trade(i, r, DealState::Submitted, None, Direction::Buy, "1"))
        .collect();
    let mut v = view(vec![]);
    v.confirms.insert(
        dref("U1"),
        ConfirmLookup::Rejected {
            reason: "INSUFFICIENT_FUNDS".into(),
        },
    );
    v.confirms.insert(
        dref("U2"),
        ConfirmLookup::Accepted {
            deal_id: DealId::new("D2").unwrap(),
            level: None,
        },
    );
    v.confirms.insert(dref("U3"), ConfirmLookup::NotFound);
    let rep = reconcile(&trades, &v);
    assert!(rep.items.iter().all(|i| i.class == ReconClass::Unresolved));
    let actions: Vec<&ReconAction> = rep.items.iter().map(|i| &i.action).collect();
    assert_eq!(
        actions,
        [
            &ReconAction::MarkRejected {
                reason: "INSUFFICIENT_FUNDS".into()
            },
            &ReconAction::MarkClosedExternally {
                deal_id: Some(DealId::new("D2").unwrap()),
                level: None
            },
            &ReconAction::MarkNotExecuted,
            &ReconAction::BlockInstrument,
        ]
    );
    assert_eq!(rep.blocked_epics(), [Epic::new(EURUSD).unwrap()]);
}

#[test]
fn accepted_confirm_matches_a_position_by_its_deal_id() {
    let t = trade(1, "R1", DealState::Intent, None, Direction::Buy, "1");
    let mut v = view(vec![pos("D5", None, Direction::Buy, "1")]);
    v.confirms.insert(
        dref("R1"),
        ConfirmLookup::Accepted {
            deal_id: DealId::new("D5").unwrap(),
            level: None,
        },
    );
    let rep = reconcile(&[t], &v);
    assert_eq!(rep.items.len(), 1, "{rep}");
    assert_eq!(rep.items[0].class, ReconClass::Matched);
}

#[test]
fn report_serialises_and_prints_every_item() {
    let t = trade(1, "R1", DealState::Open, Some("D1"), Direction::Buy, "1");
    let rep = reconcile(&[t], &view(vec![pos("D2", None, Direction::Buy, "1")]));
    let text = rep.to_string();
    assert!(
        text.contains("journal-only 1") && text.contains("broker-only 1"),
        "{text}"
    );
    let json = serde_json::to_value(&rep).unwrap();
    assert_eq!(json["items"][0]["class"], "journal_only");
    assert_eq!(json["items"][1]["action"]["action"], "adopt");
    let back: scalper_journal::ReconciliationReport = serde_json::from_value(json).unwrap();
    assert_eq!(back, rep);
}

#[test]
fn applying_a_report_updates_the_journal_and_journals_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.sqlite");
    let mut j = open(&path);
    let seen = |deal: &str, size: &str| Fill {
        ts: ts(1),
        deal_id: DealId::new(deal).unwrap(),
        level: Price::new(d("1.08000")),
        size: Size::new(d(size)),
        stop_level: None,
        limit_level: None,
    };
    // OPEN1 open at the broker; GONE closed meanwhile; SIZE partially closed; LOST never sent.
    for (r, deal, size) in [
        ("OPEN1", "D1", "1"),
        ("GONE", "D2", "1"),
        ("SIZE", "D3", "2"),
    ] {
        j.record_intent(&intent(r, Direction::Buy, size, 0))
            .unwrap();
        j.record_fill(&dref(r), &seen(deal, size)).unwrap();
    }
    j.record_intent(&intent("LOST", Direction::Buy, "1", 0))
        .unwrap();
    j.record_intent(&intent("UNK", Direction::Buy, "1", 0))
        .unwrap();
    // Killed after the broker executed it and before the confirm was journaled; its stop fired
    // before the restart.
    j.record_intent(&intent("FILLED", Direction::Buy, "1", 0))
        .unwrap();
    j.record_confirm(
        &dref("UNK"),
        ts(2),
        &ConfirmOutcome::Unknown {
            detail: "timeout".into(),
        },
    )
    .unwrap();

    let mut broker = view(vec![
        pos("D1", Some("OPEN1"), Direction::Buy, "1"),
        pos("D3", Some("SIZE"), Direction::Buy, "1.5"),
        pos("D4", Some("UNK"), Direction::Buy, "1"),
        pos("DX", None, Direction::Sell, "3"),
    ]);
    broker
        .confirms
        .insert(dref("LOST"), ConfirmLookup::NotFound);
    broker.confirms.insert(
        dref("FILLED"),
        ConfirmLookup::Accepted {
            deal_id: DealId::new("D5").unwrap(),
            level: Some(Price::new(d("1.08100"))),
        },
    );
    let rep = reconcile(&j.trades_to_reconcile().unwrap(), &broker);
    let applied = j.apply_reconciliation(ts(100), &rep).unwrap();
    assert_eq!(applied.adopted.len(), 1);

    assert_eq!(get(&j, "OPEN1").state, DealState::Open);
    let gone = get(&j, "GONE");
    assert_eq!(
        (gone.state, gone.pnl, gone.reason.as_deref()),
        (DealState::Closed, None, Some("closed_externally"))
    );
    assert_eq!(get(&j, "SIZE").size, Size::new(d("1.5")));
    // The confirm's deal id and level are kept, so its close can be valued from the history.
    let filled = get(&j, "FILLED");
    assert_eq!(
        (
            filled.state,
            filled.deal_id.as_ref().map(DealId::as_str),
            filled.open_level
        ),
        (
            DealState::Closed,
            Some("D5"),
            Some(Price::new(d("1.08100")))
        )
    );
    let pending: Vec<String> = j
        .pending_external_closes()
        .unwrap()
        .iter()
        .map(|t| t.deal_reference.to_string())
        .collect();
    assert_eq!(pending, ["GONE", "FILLED"]);
    assert_eq!(get(&j, "LOST").state, DealState::Rejected);
    let unk = get(&j, "UNK");
    assert_eq!(
        (unk.state, unk.deal_id.unwrap().as_str()),
        (DealState::Open, "D4")
    );
    let adopted = get(&j, "ADOPT-DX");
    assert!(adopted.adopted);
    assert_eq!(
        (adopted.state, adopted.direction),
        (DealState::Open, Direction::Sell)
    );
    assert_eq!(adopted.stop_level, Some(Price::new(d("1.07900"))));

    // The pending external close is completed later from the broker's history, exactly.
    let close = scalper_journal::Close {
        ts: ts(200),
        level: Price::new(d("1.07950")),
        pnl: Money::new(d("-5.00")),
        fees: Money::ZERO,
        reason: "external".into(),
    };
    j.record_close(&dref("GONE"), &close).unwrap();
    assert_eq!(get(&j, "GONE").pnl, Some(Money::new(d("-5.00"))));

    // A second reconciliation against the same broker is clean.
    let again = reconcile(&j.trades_to_reconcile().unwrap(), &broker);
    assert!(again.is_clean(), "{again}");
    let reports = j.events(ts(0), ts(1000), Some("reconciliation")).unwrap();
    assert_eq!(reports.len(), 1);
    assert_eq!(
        reports[0].detail["items"].as_array().unwrap().len(),
        rep.items.len()
    );
}

#[test]
fn closing_trade_still_open_at_the_broker_is_reopened() {
    let t = trade(
        1,
        "R1",
        DealState::Closing,
        Some("D1"),
        Direction::Sell,
        "1",
    );
    let rep = reconcile(
        &[t],
        &view(vec![pos("D1", Some("R1"), Direction::Sell, "1")]),
    );
    assert_eq!(rep.items[0].class, ReconClass::Matched);
    assert!(matches!(rep.items[0].action, ReconAction::MarkOpen { .. }));
}

#[test]
fn terminal_trades_are_ignored_and_a_position_matches_only_once() {
    let closed = trade(1, "R1", DealState::Closed, Some("D1"), Direction::Buy, "1");
    let a = trade(2, "R2", DealState::Open, Some("D2"), Direction::Buy, "1");
    let b = trade(3, "R3", DealState::Open, Some("D2"), Direction::Buy, "1");
    let rep = reconcile(
        &[closed, a, b],
        &view(vec![pos("D2", None, Direction::Buy, "1")]),
    );
    let classes: Vec<ReconClass> = rep.items.iter().map(|i| i.class).collect();
    assert_eq!(classes, [ReconClass::Matched, ReconClass::JournalOnly]);
}

#[test]
fn paper_trades_left_open_are_abandoned_never_reconciled_and_reported_apart() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = open(&dir.path().join("j.sqlite"));
    // A paper trade left open by a paper run, and a real one open at the broker.
    let mut paper = intent("PAPER-1", Direction::Buy, "1", 0);
    paper.paper = true;
    j.record_intent(&paper).unwrap();
    j.record_confirm(
        &dref("PAPER-1"),
        ts(1),
        &ConfirmOutcome::Accepted {
            deal_id: DealId::new("PAPERDEAL1").unwrap(),
            level: Some(Price::new(d("1.08100"))),
        },
    )
    .unwrap();
    j.record_intent(&intent("LIVE-1", Direction::Sell, "1", 2))
        .unwrap();
    let to_check: Vec<_> = j
        .trades_to_reconcile()
        .unwrap()
        .into_iter()
        .map(|t| t.deal_reference)
        .collect();
    assert_eq!(
        to_check,
        vec![dref("LIVE-1")],
        "paper never meets the broker"
    );

    let abandoned = j.abandon_paper_trades(ts(10)).unwrap();
    assert_eq!(abandoned.len(), 1);
    assert!(j.abandon_paper_trades(ts(11)).unwrap().is_empty(), "once");
    let t = j.trade_by_reference(&dref("PAPER-1")).unwrap().unwrap();
    assert_eq!(t.state, DealState::Closed);
    assert_eq!(t.pnl, None);
    let report = j.report(ts(0), ts(1_000_000)).unwrap();
    assert_eq!(report.total.pnl_pending, 0, "nothing pending at the broker");
    assert_eq!(report.paper_total.paper_abandoned, 1);
    let text = report.to_string();
    assert!(text.contains("paper total"), "{text}");
    assert!(text.contains("1 paper abandoned"), "{text}");
}
