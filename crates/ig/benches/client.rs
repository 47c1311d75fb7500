//! Client overhead per request on loopback: `IgClient::market` (session headers,
//! span, error classification, JSON decode and conversion into domain types) against a bare reqwest GET of
//! the same fake endpoint. Prints p50/p99 of both and of the difference.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use scalper_ig::{IgClient, SessionVersion};
use scalper_model::Epic;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let fake = rt.block_on(common::FakeIg::start());
    let client = IgClient::new(fake.config(SessionVersion::V2)).unwrap();
    rt.block_on(client.login()).unwrap();
    let creds = rt.block_on(client.stream_credentials()).unwrap();
    let cst = secrecy::ExposeSecret::expose_secret(&creds.cst).to_string();
    let xst = secrecy::ExposeSecret::expose_secret(&creds.xst).to_string();
    let epic = Epic::new("CO.D.CFI.Month2.IP").unwrap();
    let raw = reqwest::Client::new();
    let url = format!("{}/markets/CO.D.CFI.Month2.IP", fake.url());
    let raw_get = || async {
        // The fake checks credentials; send what it needs so both paths do the same work
        // on the server side, except that this one skips the client's session machinery.
        let body = raw
            .get(&url)
            .header("X-IG-API-KEY", common::API_KEY)
            .header("Version", "3")
            .header("CST", cst.as_str())
            .header("X-SECURITY-TOKEN", xst.as_str())
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        std::hint::black_box(body);
    };

    // Manual percentiles (criterion reports means and medians only).
    let n = 3000;
    let mut client_t = Vec::with_capacity(n);
    let mut raw_t = Vec::with_capacity(n);
    rt.block_on(async {
        for _ in 0..200 {
            client.market(&epic).await.unwrap();
            raw_get().await;
        }
        for _ in 0..n {
            let t = Instant::now();
            std::hint::black_box(client.market(&epic).await.unwrap());
            client_t.push(t.elapsed());
            let t = Instant::now();
            raw_get().await;
            raw_t.push(t.elapsed());
        }
    });
    client_t.sort();
    raw_t.sort();
    for (name, v) in [
        ("IgClient::market", &client_t),
        ("bare reqwest GET", &raw_t),
    ] {
        println!(
            "{name:28} p50 {:>8.1} us   p99 {:>8.1} us",
            percentile(v, 0.5).as_secs_f64() * 1e6,
            percentile(v, 0.99).as_secs_f64() * 1e6
        );
    }
    println!(
        "client overhead               p50 {:>8.1} us   p99 {:>8.1} us",
        (percentile(&client_t, 0.5).as_secs_f64() - percentile(&raw_t, 0.5).as_secs_f64()) * 1e6,
        (percentile(&client_t, 0.99).as_secs_f64() - percentile(&raw_t, 0.99).as_secs_f64()) * 1e6
    );

    let mut g = c.benchmark_group("loopback");
    g.bench_function("ig_client_market", |b| {
        b.to_async(&rt).iter(|| client.market(&epic));
    });
    g.bench_function("bare_reqwest_get", |b| b.to_async(&rt).iter(raw_get));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
