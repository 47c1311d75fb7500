//! Sandbox -> client quote latency over the loopback WebSocket (bus publish to `QuoteReceiver`
//! delivery). A benchmark, not a check: run with
//! `cargo test -p scalper-sandbox --release --test stream_latency -- --ignored --nocapture`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod stream_common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rust_decimal::Decimal;
use scalper_ig::stream::{StreamEvent, Subscription};
use scalper_model::{MarketStatus, Price, Timestamp};
use scalper_sandbox::bus::BusEvent;
use stream_common::{epic, server, wait_event};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run in --release with --ignored --nocapture"]
async fn quote_latency_p50_p99() {
    let h = server(Duration::from_secs(5)).await;
    let e = epic("CS.D.EURUSD.CFD.IP");
    let (client, mut rx) = h.start(vec![Subscription::Price(e.clone())]);
    wait_event(&mut rx, "subscribed", |ev| {
        matches!(ev, StreamEvent::Subscribed(_))
    })
    .await;
    let n = 3000u32;
    let mut sent: HashMap<Decimal, Instant> = HashMap::new();
    let mut lat = Vec::with_capacity(n as usize);
    for i in 0..n {
        let bid = Decimal::new(1_000_000 + i64::from(i), 6);
        sent.insert(bid, Instant::now());
        h.bus
            .send(BusEvent::Price {
                epic: e.clone(),
                bid: Price::new(bid),
                offer: Price::new(bid + Decimal::new(2, 4)),
                ts: Timestamp::from_millis(1_700_000_000_000 + i64::from(i)),
                status: MarketStatus::Tradeable,
            })
            .unwrap();
        // One quote in flight at a time: measures latency, not queueing.
        let q = tokio::time::timeout(Duration::from_secs(5), rx.quotes.recv())
            .await
            .unwrap()
            .unwrap();
        if let Some(t0) = sent.get(&q.bid.value()) {
            lat.push(t0.elapsed());
        }
    }
    lat.sort();
    let pct = |p: f64| lat[((lat.len() as f64 - 1.0) * p) as usize];
    println!(
        "sandbox->client quote latency over {} samples: p50 {:?}, p99 {:?}, max {:?}",
        lat.len(),
        pct(0.50),
        pct(0.99),
        lat[lat.len() - 1]
    );
    client.shutdown().await;
}
