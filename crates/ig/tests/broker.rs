//! `IgBroker` maps engine commands onto the IG client and IG's outcomes onto broker events.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use common::FakeIg;
use rust_decimal_macros::dec;
use scalper_engine::event::{
    AmendOrder, BrokerCommand, BrokerEvent, CloseCause, CloseOrder, FailureKind, OpenOrder,
};
use scalper_engine::{Broker, ManualClock};
use scalper_ig::{IgBroker, IgClient, SessionVersion};
use scalper_model::{
    DealId, DealReference, Direction, Epic, Points, Price, RejectReason, Size, Timestamp,
};

fn broker(fake: &FakeIg, cfg: scalper_ig::IgConfig) -> IgBroker {
    let _ = fake;
    let clock = Arc::new(ManualClock::new(Timestamp::from_millis(1_000)));
    IgBroker::new(IgClient::new(cfg).unwrap(), clock)
}

fn open_cmd(r: &str) -> BrokerCommand {
    BrokerCommand::Open(OpenOrder {
        deal_ref: DealReference::new(r).unwrap(),
        epic: Epic::new("CS.D.EURUSD.CFD.IP").unwrap(),
        direction: Direction::Buy,
        size: Size::new(dec!(1)),
        stop_distance: Some(Points::new(dec!(10))),
        limit_distance: None,
        currency: "USD".into(),
        expiry: "-".into(),
        stop_kind: scalper_engine::StopKind::Normal,
    })
}

#[tokio::test]
async fn open_close_amend_map_to_broker_events() {
    let fake = FakeIg::start().await;
    let mut b = broker(&fake, fake.config(SessionVersion::V2));
    assert!(!b.is_paper());
    let ev = b.execute(open_cmd("ENG-1")).await;
    let [BrokerEvent::Accepted {
        deal_ref,
        deal_id,
        level,
        size,
        at,
        ..
    }] = ev.as_slice()
    else {
        panic!("{ev:?}")
    };
    assert_eq!(deal_ref.as_str(), "ENG-1");
    assert_eq!(deal_id.as_str(), "DEAL-ENG-1");
    assert_eq!((level.value(), size.value()), (dec!(1.08123), dec!(1)));
    assert_eq!(at.millis(), 1_000);
    let body = fake.state.last_open_body.lock().unwrap().clone().unwrap();
    assert_eq!(body["dealReference"], "ENG-1");
    assert_eq!(body["forceOpen"], true, "stop attached");
    assert_eq!(body["stopDistance"], 10);

    let ev = b
        .execute(BrokerCommand::Close(CloseOrder {
            deal_ref: DealReference::new("ENG-2").unwrap(),
            deal_id: deal_id.clone(),
            epic: Epic::new("CS.D.EURUSD.CFD.IP").unwrap(),
            direction: Direction::Sell,
            size: Size::new(dec!(1)),
            expiry: "-".into(),
        }))
        .await;
    assert!(
        matches!(
            ev.as_slice(),
            [BrokerEvent::PositionClosed {
                cause: CloseCause::Engine,
                ..
            }]
        ),
        "{ev:?}"
    );
    assert_eq!(fake.state.count("DELETE /positions/otc v1"), 1);

    let ev = b
        .execute(BrokerCommand::Amend(AmendOrder {
            deal_id: DealId::new("DEAL-ENG-1").unwrap(),
            epic: Epic::new("CS.D.EURUSD.CFD.IP").unwrap(),
            stop_level: Some(Price::new(dec!(1.07))),
            limit_level: None,
        }))
        .await;
    assert!(
        matches!(ev.as_slice(), [BrokerEvent::Amended { .. }]),
        "{ev:?}"
    );
    assert_eq!(fake.state.count("PUT /positions/otc/{id} v2"), 1);
}

#[tokio::test]
async fn resolve_without_confirm_or_position_is_rejected_and_auth_failure_is_reported() {
    let fake = FakeIg::start().await;
    fake.state.confirm_not_found.store(1000, Ordering::SeqCst);
    let mut cfg = fake.config(SessionVersion::V2);
    cfg.confirm_timeout = Duration::from_millis(200);
    let mut b = broker(&fake, cfg);
    let ev = b
        .execute(BrokerCommand::Resolve {
            deal_ref: DealReference::new("ENG-9").unwrap(),
            epic: Epic::new("CS.D.EURUSD.CFD.IP").unwrap(),
        })
        .await;
    assert!(
        matches!(
            ev.as_slice(),
            [BrokerEvent::Rejected {
                reason: RejectReason::NoDeal,
                detail: Some(_),
                ..
            }]
        ),
        "{ev:?}"
    );
    assert_eq!(
        fake.state.count("POST /positions/otc v2"),
        0,
        "resolve never deals"
    );

    let mut cfg = fake.config(SessionVersion::V2);
    cfg.password = secrecy::SecretString::from("wrong");
    let mut b = broker(&fake, cfg);
    let ev = b.execute(open_cmd("ENG-3")).await;
    assert!(
        matches!(
            ev.as_slice(),
            [
                BrokerEvent::Rejected {
                    reason: RejectReason::Refused(_),
                    ..
                },
                BrokerEvent::Failure {
                    kind: FailureKind::Authentication,
                    ..
                }
            ]
        ),
        "{ev:?}"
    );
}

/// An entry without a stop or limit still sends `forceOpen: true`: with `false`, IG would net
/// it against an opposite position of ours (closing that one) while the engine tracks both.
/// The special stops go out as IG wants them.
#[tokio::test]
async fn entries_never_net_and_special_stops_are_sent_as_ig_wants() {
    let fake = FakeIg::start().await;
    let mut b = broker(&fake, fake.config(SessionVersion::V2));
    let BrokerCommand::Open(mut o) = open_cmd("ENG-9") else {
        unreachable!()
    };
    o.stop_distance = None;
    b.execute(BrokerCommand::Open(o.clone())).await;
    let body = fake.state.last_open_body.lock().unwrap().clone().unwrap();
    assert_eq!(body["forceOpen"], true, "{body}");
    assert_eq!(body["guaranteedStop"], false, "{body}");
    assert!(body.get("trailingStop").is_none(), "{body}");

    o.deal_ref = DealReference::new("ENG-10").unwrap();
    o.stop_distance = Some(Points::new(dec!(8)));
    o.stop_kind = scalper_engine::StopKind::Trailing {
        increment: Points::new(dec!(2)),
    };
    b.execute(BrokerCommand::Open(o.clone())).await;
    let body = fake.state.last_open_body.lock().unwrap().clone().unwrap();
    assert_eq!(
        (
            &body["trailingStop"],
            &body["trailingStopIncrement"],
            &body["stopDistance"]
        ),
        (
            &serde_json::json!(true),
            &serde_json::json!(2),
            &serde_json::json!(8)
        ),
        "{body}"
    );
    assert!(body.get("stopLevel").is_none(), "{body}");

    o.deal_ref = DealReference::new("ENG-11").unwrap();
    o.stop_kind = scalper_engine::StopKind::Guaranteed;
    b.execute(BrokerCommand::Open(o)).await;
    let body = fake.state.last_open_body.lock().unwrap().clone().unwrap();
    assert_eq!(body["guaranteedStop"], true, "{body}");
    assert!(body.get("trailingStop").is_none(), "{body}");
}
