//! IG's trading allowance spent by entries: a close still goes at once (the planner's reserve),
//! while the next entry waits for the window, against the sandbox through the real client.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod sandbox_common;

use std::time::Duration;

use rust_decimal_macros::dec;
use sandbox_common::{start, EURUSD};
use scalper_ig::{
    CloseRequest, DealOutcome, Environment, IgClient, IgConfig, OpenRequest, SessionVersion,
};
use scalper_model::{Direction, Epic, Size};
use secrecy::SecretString;

#[tokio::test]
async fn a_close_is_not_delayed_by_entries_waiting_for_the_allowance() {
    let sb = start().await;
    let mut cfg = IgConfig::new(
        Environment::Demo,
        "sandbox",
        SecretString::from("sandbox-pass".to_string()),
        SecretString::from("sandbox-api-key"),
    )
    .with_api_url(sb.rest_url())
    .with_session_version(SessionVersion::V2)
    .for_local_tests();
    cfg.rate_limit = true;
    cfg.fetch_allowances = false;
    cfg.allowances.trading_per_minute = 10;
    let c = IgClient::new(cfg).unwrap();
    c.login().await.unwrap();
    let epic = Epic::new(EURUSD).unwrap();
    let open = || OpenRequest::market(epic.clone(), Direction::Buy, Size::new(dec!(1)), "USD");

    // Nine entries use everything but the reserve (those the margin refuses count too, as
    // they do at IG).
    let mut first = None;
    for _ in 0..9 {
        match c.open_position(&open()).await.unwrap() {
            DealOutcome::Accepted { deal_id, .. } => first = first.or(deal_id),
            DealOutcome::Rejected { .. } => assert!(first.is_some(), "the first entry opens"),
            other => panic!("{other:?}"),
        }
    }
    let held = c.positions().await.unwrap().len();
    let h = c.allowance_headroom();
    assert_eq!((h.trading, h.trading_limit), (1, 10), "{h:?}");

    // A tenth entry waits for the window to move (a minute).
    let waiting_entry = tokio::spawn({
        let (c, req) = (c.clone(), open());
        async move { c.open_position(&req).await }
    });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while c.allowance_headroom().waiting == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the entry never queued"
        );
        tokio::task::yield_now().await;
    }

    // The close takes the reserve and completes while the entry still waits.
    let close = CloseRequest {
        deal_id: first.unwrap(),
        position_direction: Direction::Buy,
        size: Size::new(dec!(1)),
        time_in_force: None,
        deal_reference: None,
    };
    let out = tokio::time::timeout(Duration::from_secs(20), c.close_position(&close))
        .await
        .expect("the close was not held behind the waiting entry")
        .unwrap();
    assert!(
        matches!(out, DealOutcome::Accepted { .. }),
        "the close went through: {out:?}"
    );
    assert!(!waiting_entry.is_finished(), "the entry is still waiting");
    assert_eq!(c.positions().await.unwrap().len(), held - 1);
    waiting_entry.abort();
}
