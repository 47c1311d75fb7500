//! End to end through the full sandbox: the project's REST client (`IgClient`) is the stream's
//! credential source; prices set in the sandbox arrive as quotes; a position opened and amended
//! over REST yields CONFIRMS and OPU on the stream; invalidated tokens take the re-login path.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod stream_common;

use std::sync::Arc;
use std::time::Duration;

use rust_decimal_macros::dec;
use scalper_ig::stream::{StreamClient, StreamEvent, StreamStatus, Subscription, UpdateStatus};
use scalper_ig::{
    DealOutcome, DealStatus, Environment, IgClient, IgConfig, OpenRequest, PositionAmend,
    SessionVersion,
};
use scalper_model::{Direction, Epic, Points, Price, Size};
use scalper_sandbox::bus::StreamFault;
use scalper_sandbox::{Sandbox, SandboxConfig};
use secrecy::SecretString;
use stream_common::{fast_config, wait_event};
use tokio::time::Instant;

const EURUSD: &str = "CS.D.EURUSD.CFD.IP";

/// Sets a new price until a quote with exactly that bid arrives (prices from the sandbox's own
/// state may be in flight as well).
async fn price_arrives(
    sb: &scalper_sandbox::SandboxHandle,
    rx: &mut scalper_ig::stream::StreamReceivers,
    bid: rust_decimal::Decimal,
) {
    let epic = Epic::new(EURUSD).unwrap();
    sb.set_price(&epic, bid, bid + dec!(0.6)).unwrap();
    let deadline = Instant::now() + stream_common::DEADLINE;
    loop {
        let q = tokio::time::timeout_at(deadline, rx.quotes.recv())
            .await
            .expect("timed out waiting for the quote")
            .unwrap();
        if q.epic == epic && q.bid == Price::new(bid) {
            assert_eq!(q.offer, Price::new(bid + dec!(0.6)));
            return;
        }
    }
}

#[tokio::test]
async fn rest_deals_show_up_on_the_stream_and_expired_tokens_relogin() {
    let mut cfg = SandboxConfig::for_tests();
    cfg.stream_keepalive = Duration::from_millis(200);
    let sb = Sandbox::start(cfg).await.unwrap();
    let ig = IgClient::new(
        IgConfig::new(
            Environment::Demo,
            "sandbox",
            SecretString::from("sandbox-pass"),
            SecretString::from("sandbox-api-key"),
        )
        .with_api_url(sb.rest_url())
        .with_session_version(SessionVersion::V2)
        .for_local_tests(),
    )
    .unwrap();
    let epic = Epic::new(EURUSD).unwrap();
    let (client, mut rx) = StreamClient::start(
        fast_config(),
        Arc::new(ig.clone()),
        [Subscription::Price(epic.clone()), Subscription::Trade],
    );
    for _ in 0..2 {
        wait_event(&mut rx, "subscribed", |e| {
            matches!(e, StreamEvent::Subscribed(_))
        })
        .await;
    }
    price_arrives(&sb, &mut rx, dec!(10800.0)).await;

    // Open over REST: CONFIRMS and OPU (OPEN) on the stream.
    let mut open = OpenRequest::market(epic.clone(), Direction::Buy, Size::new(dec!(1)), "USD");
    open.force_open = true;
    open.stop_distance = Some(Points::new(dec!(20)));
    let DealOutcome::Accepted {
        deal_id,
        deal_reference,
        ..
    } = ig.open_position(&open).await.unwrap()
    else {
        panic!("deal not accepted")
    };
    let deal_id = deal_id.unwrap();
    // The sandbox publishes the OPU before the CONFIRMS (IG gives no order guarantee either).
    let (mut confirm, mut opu) = (None, None);
    while confirm.is_none() || opu.is_none() {
        match wait_event(&mut rx, "CONFIRMS and OPU of the open", |e| {
            matches!(e, StreamEvent::Confirm(_) | StreamEvent::Position(_))
        })
        .await
        {
            StreamEvent::Confirm(c) => confirm = Some(c),
            StreamEvent::Position(p) => opu = Some(p),
            _ => unreachable!(),
        }
    }
    let (c, p) = (confirm.unwrap(), opu.unwrap());
    assert_eq!(c.deal_reference.as_ref(), Some(&deal_reference));
    assert_eq!(c.deal_id.as_ref(), Some(&deal_id));
    assert_eq!(c.deal_status, DealStatus::Accepted);
    assert_eq!(c.direction, Some(Direction::Buy));
    assert!(c.stop_level.is_some(), "{c:?}");
    assert_eq!(p.deal_id, deal_id);
    assert_eq!(p.status, UpdateStatus::Open);
    assert_eq!(p.stop_level, c.stop_level);

    // Amend the stop and limit: an OPU UPDATED carries the new levels.
    let amend = PositionAmend {
        stop_level: Some(Price::new(dec!(10790))),
        limit_level: Some(Price::new(dec!(10850))),
    };
    assert!(ig
        .amend_position(&deal_id, &amend)
        .await
        .unwrap()
        .is_accepted());
    let ev = wait_event(
        &mut rx,
        "OPU of the amend",
        |e| matches!(e, StreamEvent::Position(p) if p.status == UpdateStatus::Updated),
    )
    .await;
    let StreamEvent::Position(p) = ev else {
        unreachable!()
    };
    assert_eq!(p.stop_level, Some(Price::new(dec!(10790))));
    assert_eq!(p.limit_level, Some(Price::new(dec!(10850))));

    // Tokens die; the session ends; the stream's create is refused (CONERR 1), the client
    // re-logs in over REST and comes back with a new session.
    assert!(sb.invalidate_tokens() > 0);
    sb.stream_fault(StreamFault::End { cause: 48 });
    wait_event(&mut rx, "CONERR 1", |e| {
        matches!(
            e,
            StreamEvent::Status(StreamStatus::SessionRefused { code: 1, .. })
        )
    })
    .await;
    wait_event(&mut rx, "new session", |e| {
        matches!(
            e,
            StreamEvent::Status(StreamStatus::Connected { rebound: false, .. })
        )
    })
    .await;
    price_arrives(&sb, &mut rx, dec!(10801.0)).await;
    client.shutdown().await;
    sb.shutdown().await;
}
