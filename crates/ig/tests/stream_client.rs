//! Client <-> sandbox stream server: quotes, trade updates, and recovery from dropped, silent,
//! LOOPed and ENDed connections and from expired tokens.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod stream_common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use scalper_ig::stream::{StreamEvent, StreamStatus, Subscription, UpdateStatus};
use scalper_ig::DealStatus;
use scalper_model::{AccountId, Direction, Price};
use scalper_sandbox::bus::{BusEvent, StreamFault, TradeKind};
use stream_common::{d, epic, server, wait_event, wait_quotes, ACCOUNT};

const KEEPALIVE: Duration = Duration::from_millis(100);

fn connected(rebound: Option<bool>) -> impl FnMut(&StreamEvent) -> bool {
    move |ev| {
        matches!(ev, StreamEvent::Status(StreamStatus::Connected { rebound: r, .. })
            if rebound.is_none_or(|want| *r == want))
    }
}

fn max_ts(quotes: &[scalper_model::Quote]) -> i64 {
    quotes.iter().map(|q| q.ts.millis()).max().unwrap_or(0)
}

#[tokio::test]
async fn quotes_arrive_for_several_epics_with_exact_prices() {
    let h = server(KEEPALIVE).await;
    let (e1, e2, e3) = (
        epic("CS.D.EURUSD.CFD.IP"),
        epic("IX.D.FTSE.DAILY.IP"),
        epic("CS.D.GBPUSD.CFD.IP"),
    );
    let (client, mut rx) = h.start(vec![
        Subscription::Price(e1.clone()),
        Subscription::Price(e2.clone()),
        Subscription::ChartTick(e3.clone()),
    ]);
    for _ in 0..3 {
        wait_event(&mut rx, "subscribed", |e| {
            matches!(e, StreamEvent::Subscribed(_))
        })
        .await;
    }
    h.price(&e1, "1.08123", "1.08131", 1_700_000_000_001);
    h.price(&e2, "7500.5", "7501.5", 1_700_000_000_002);
    h.price(&e3, "1.25371", "1.25390", 1_700_000_000_003);
    let quotes = wait_quotes(&mut rx, &[e1.clone(), e2.clone(), e3.clone()], 0).await;
    let q1 = quotes.iter().find(|q| q.epic == e1).unwrap();
    assert_eq!(
        (q1.bid, q1.offer),
        (Price::new(d("1.08123")), Price::new(d("1.08131")))
    );
    assert_eq!(q1.ts.millis(), 1_700_000_000_001);
    let q2 = quotes.iter().find(|q| q.epic == e2).unwrap();
    assert_eq!(
        (q2.bid, q2.offer),
        (Price::new(d("7500.5")), Price::new(d("7501.5")))
    );
    let q3 = quotes.iter().find(|q| q.epic == e3).unwrap();
    assert_eq!(q3.offer, Price::new(d("1.25390")));
    client.shutdown().await;
}

#[tokio::test]
async fn trade_confirm_and_position_update_arrive() {
    let h = server(KEEPALIVE).await;
    let (client, mut rx) = h.start(vec![Subscription::Trade]);
    wait_event(&mut rx, "TRADE subscribed", |e| {
        matches!(e, StreamEvent::Subscribed(Subscription::Trade))
    })
    .await;
    let account = AccountId::new(ACCOUNT).unwrap();
    let confirm = r#"{"dealReference":"SCALP-1-000001","dealId":"DIAAAAB1","dealStatus":"ACCEPTED","reason":"SUCCESS","status":"OPEN","epic":"CS.D.EURUSD.CFD.IP","direction":"BUY","level":1.08131,"size":1,"stopLevel":1.0800,"limitLevel":null,"affectedDeals":[{"dealId":"DIAAAAB1","status":"OPENED"}]}"#;
    let opu = r#"{"dealReference":"SCALP-1-000001","dealId":"DIAAAAB1","dealIdOrigin":"DIAAAAB1","status":"OPEN","dealStatus":"ACCEPTED","epic":"CS.D.EURUSD.CFD.IP","direction":"BUY","level":1.08131,"size":1,"stopLevel":1.08,"currency":"USD"}"#;
    for (kind, json) in [(TradeKind::Confirms, confirm), (TradeKind::Opu, opu)] {
        h.bus
            .send(BusEvent::Trade {
                account: account.clone(),
                kind,
                json: json.to_string(),
            })
            .unwrap();
    }
    // Another account's trades must not leak into ours.
    h.bus
        .send(BusEvent::Trade {
            account: AccountId::new("OTHER9").unwrap(),
            kind: TradeKind::Confirms,
            json: confirm.replace("DIAAAAB1", "DIOTHER"),
        })
        .unwrap();
    let StreamEvent::Confirm(c) = wait_event(&mut rx, "CONFIRMS", |e| {
        matches!(e, StreamEvent::Confirm(_))
    })
    .await
    else {
        unreachable!()
    };
    assert_eq!(c.deal_status, DealStatus::Accepted);
    assert_eq!(c.deal_id.unwrap().as_str(), "DIAAAAB1");
    assert_eq!(c.direction, Some(Direction::Buy));
    assert_eq!(c.level, Some(Price::new(d("1.08131"))));
    assert_eq!(c.stop_level, Some(Price::new(d("1.0800"))));
    let StreamEvent::Position(p) =
        wait_event(&mut rx, "OPU", |e| matches!(e, StreamEvent::Position(_))).await
    else {
        unreachable!()
    };
    assert_eq!(p.status, UpdateStatus::Open);
    assert_eq!(p.deal_id.as_str(), "DIAAAAB1");
    // A second, different confirm (same field) is delivered too; the other account's is not.
    h.bus
        .send(BusEvent::Trade {
            account,
            kind: TradeKind::Confirms,
            json: confirm.replace("SCALP-1-000001", "SCALP-1-000002"),
        })
        .unwrap();
    let StreamEvent::Confirm(c2) = wait_event(&mut rx, "second CONFIRMS", |e| {
        matches!(e, StreamEvent::Confirm(_))
    })
    .await
    else {
        unreachable!()
    };
    assert_eq!(c2.deal_reference.unwrap().as_str(), "SCALP-1-000002");
    client.shutdown().await;
}

/// Runs a fault against a client streaming two epics and checks: a gap is reported, the
/// client reconnects as expected, and fresh quotes flow again for both epics.
async fn recovers_from(fault: StreamFault, expect_rebound: bool, gap_reason: &str) -> u32 {
    let h = server(KEEPALIVE).await;
    let (e1, e2) = (epic("CS.D.EURUSD.CFD.IP"), epic("CS.D.USDJPY.CFD.IP"));
    let ticker = h.ticker(vec![e1.clone(), e2.clone()]);
    let (client, mut rx) = h.start(vec![
        Subscription::Price(e1.clone()),
        Subscription::Price(e2.clone()),
        Subscription::Trade,
    ]);
    let first = wait_event(&mut rx, "first connect", connected(Some(false))).await;
    let StreamEvent::Status(StreamStatus::Connected {
        session_id: first_session,
        ..
    }) = first
    else {
        unreachable!()
    };
    let before = wait_quotes(&mut rx, &[e1.clone(), e2.clone()], 0).await;
    h.bus.send(BusEvent::StreamFault(fault)).unwrap();
    // (A gap from an unrelated hiccup of a loaded machine would not match the reason.)
    wait_event(&mut rx, "gap", |e| {
        matches!(e, StreamEvent::Status(StreamStatus::Gap { reason, .. }) if reason.contains(gap_reason))
    })
    .await;
    let again = wait_event(&mut rx, "reconnect", connected(Some(expect_rebound))).await;
    let StreamEvent::Status(StreamStatus::Connected { session_id, .. }) = again else {
        unreachable!()
    };
    assert_eq!(
        session_id == first_session,
        expect_rebound,
        "session id after reconnect"
    );
    let mut after = max_ts(&before);
    while let Some(q) = rx.quotes.try_recv() {
        after = after.max(q.ts.millis());
    }
    wait_quotes(&mut rx, &[e1, e2], after).await;
    if !expect_rebound {
        // A new session must have resubscribed TRADE too.
        wait_event(&mut rx, "TRADE resubscribed", |e| {
            matches!(e, StreamEvent::Subscribed(Subscription::Trade))
        })
        .await;
    }
    ticker.abort();
    let relogins = h.creds.relogins.load(Ordering::SeqCst);
    client.shutdown().await;
    relogins
}

#[tokio::test]
async fn dropped_connection_rebinds_with_all_subscriptions() {
    assert_eq!(
        recovers_from(StreamFault::DropConnections, true, "WebSocket").await,
        0
    );
}

#[tokio::test]
async fn silent_stream_is_detected_and_rebound() {
    assert_eq!(
        recovers_from(
            StreamFault::Silence { millis: 60_000 },
            true,
            "no data or PROBE"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn loop_rebinds_the_same_session() {
    assert_eq!(recovers_from(StreamFault::ForceLoop, true, "LOOP").await, 0);
}

#[tokio::test]
async fn end_creates_a_new_session_and_resubscribes() {
    assert_eq!(
        recovers_from(StreamFault::End { cause: 48 }, false, "END 48").await,
        0
    );
}

#[tokio::test]
async fn expired_tokens_take_the_relogin_path() {
    let h = server(KEEPALIVE).await;
    *h.creds.tokens.lock().unwrap() = ("expired".into(), "expired".into());
    let e1 = epic("CS.D.EURUSD.CFD.IP");
    let ticker = h.ticker(vec![e1.clone()]);
    let (client, mut rx) = h.start(vec![Subscription::Price(e1.clone())]);
    let refused = wait_event(&mut rx, "CONERR 1", |e| {
        matches!(e, StreamEvent::Status(StreamStatus::SessionRefused { .. }))
    })
    .await;
    assert!(
        matches!(
            refused,
            StreamEvent::Status(StreamStatus::SessionRefused { code: 1, .. })
        ),
        "{refused:?}"
    );
    wait_event(&mut rx, "connect after re-login", connected(Some(false))).await;
    assert_eq!(h.creds.relogins.load(Ordering::SeqCst), 1);
    wait_quotes(&mut rx, &[e1], 0).await;
    ticker.abort();
    client.shutdown().await;
}

#[tokio::test]
async fn refused_subscription_is_a_typed_event_and_others_still_work() {
    let h = server(KEEPALIVE).await;
    h.bus
        .send(BusEvent::StreamFault(StreamFault::RefuseSubscriptions {
            count: 1,
        }))
        .unwrap();
    // Give the server's bus listener its event before the client subscribes.
    let (e1, e2) = (epic("CS.D.EURUSD.CFD.IP"), epic("CS.D.USDJPY.CFD.IP"));
    let ticker = h.ticker(vec![e1.clone(), e2.clone()]);
    let (client, mut rx) = h.start(vec![
        Subscription::Price(e1.clone()),
        Subscription::Price(e2.clone()),
    ]);
    let ev = wait_event(&mut rx, "refusal", |e| {
        matches!(e, StreamEvent::SubscriptionRefused { .. })
    })
    .await;
    let StreamEvent::SubscriptionRefused {
        subscription,
        code,
        message,
    } = ev
    else {
        unreachable!()
    };
    assert_eq!(subscription, Subscription::Price(e1));
    assert_eq!(code, -1);
    assert!(message.contains("refused"), "{message}");
    wait_quotes(&mut rx, &[e2], 0).await;
    ticker.abort();
    client.shutdown().await;
}

#[tokio::test]
async fn runtime_subscribe_with_go_style_bind_after_create() {
    let h = server(KEEPALIVE).await;
    let (e1, e2) = (epic("CS.D.EURUSD.CFD.IP"), epic("CS.D.USDJPY.CFD.IP"));
    let ticker = h.ticker(vec![e1.clone(), e2.clone()]);
    let cfg = scalper_ig::stream::StreamConfig {
        bind_after_create: true,
        ..stream_common::fast_config()
    };
    let (client, mut rx) = h.start_with(cfg, vec![Subscription::Price(e1.clone())]);
    wait_event(&mut rx, "connect", connected(Some(false))).await;
    wait_quotes(&mut rx, std::slice::from_ref(&e1), 0).await;
    client
        .subscribe(Subscription::Price(e2.clone()))
        .await
        .unwrap();
    wait_event(
        &mut rx,
        "second subscription",
        |e| matches!(e, StreamEvent::Subscribed(Subscription::Price(x)) if *x == e2),
    )
    .await;
    wait_quotes(&mut rx, &[e1, e2], 0).await;
    ticker.abort();
    client.shutdown().await;
    // After shutdown the receivers end.
    let deadline = tokio::time::Instant::now() + stream_common::DEADLINE;
    loop {
        match tokio::time::timeout_at(deadline, rx.events.recv()).await {
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(e) => panic!("{e}: event channel still open after shutdown"),
        }
    }
}

#[tokio::test]
async fn a_fatally_refused_relogin_is_never_repeated() {
    let h = server(KEEPALIVE).await;
    *h.creds.tokens.lock().unwrap() = ("expired".into(), "expired".into());
    h.creds.refuse_relogin.store(true, Ordering::SeqCst);
    let (client, mut rx) = h.start(vec![Subscription::Trade]);
    let ev = wait_event(&mut rx, "credentials unavailable", |e| {
        matches!(
            e,
            StreamEvent::Status(StreamStatus::CredentialsUnavailable { .. })
        )
    })
    .await;
    assert!(
        matches!(
            ev,
            StreamEvent::Status(StreamStatus::CredentialsUnavailable { fatal: true, .. })
        ),
        "{ev:?}"
    );
    // The stream keeps trying (CONERR 1 again and again) but never logs in again.
    for _ in 0..3 {
        wait_event(&mut rx, "CONERR 1", |e| {
            matches!(
                e,
                StreamEvent::Status(StreamStatus::SessionRefused { code: 1, .. })
            )
        })
        .await;
    }
    assert_eq!(h.creds.relogins.load(Ordering::SeqCst), 1);
    client.shutdown().await;
}
