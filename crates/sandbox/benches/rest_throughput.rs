//! Sustained REST throughput of the sandbox on loopback and its memory (RSS), measured with a
//! pool of concurrent reqwest clients over keep-alive connections. Prints numbers; asserts none.
//!
//! Run: `cargo bench -p scalper-sandbox --bench rest_throughput`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use scalper_sandbox::{MarketSchedule, Sandbox, SandboxConfig};

fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

async fn run(
    path: &'static str,
    workers: usize,
    secs: u64,
    sb: &scalper_sandbox::SandboxHandle,
    tokens: &(String, String),
) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let stop = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let http = reqwest::Client::new();
        let url = format!("{}{path}", sb.rest_url());
        let (cst, xst) = tokens.clone();
        let done = done.clone();
        tasks.push(tokio::spawn(async move {
            while Instant::now() < stop {
                let r = http
                    .get(&url)
                    .header("X-IG-API-KEY", "sandbox-api-key")
                    .header("Version", "3")
                    .header("CST", &cst)
                    .header("X-SECURITY-TOKEN", &xst)
                    .send()
                    .await
                    .unwrap();
                assert!(r.status().is_success());
                r.bytes().await.unwrap();
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let started = Instant::now();
    for t in tasks {
        t.await.unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let epic = scalper_model::Epic::new("CS.D.EURUSD.CFD.IP").unwrap();
    let mut sim =
        scalper_sandbox::catalog::simulator(&epic, 1, scalper_model::Timestamp::from_millis(0))
            .unwrap();
    let t = Instant::now();
    let n = 1_000_000;
    for _ in 0..n {
        std::hint::black_box(sim.next_quote());
    }
    println!(
        "MarketSim::next_quote: {:.0} quotes/s",
        f64::from(n) / t.elapsed().as_secs_f64()
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let before = rss_kib();
        // `SANDBOX_BENCH_SPEED=0` pauses the simulator: the difference is what the ticker costs.
        let speed = std::env::var("SANDBOX_BENCH_SPEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(10.0);
        println!("simulator speed {speed}");
        let sb = Sandbox::start(SandboxConfig { schedule: MarketSchedule::AlwaysOpen, speed, ..SandboxConfig::default() })
            .await
            .unwrap();
        let started = rss_kib();
        let http = reqwest::Client::new();
        let r = http
            .post(format!("{}/session", sb.rest_url()))
            .header("X-IG-API-KEY", "sandbox-api-key")
            .header("Version", "2")
            .json(&serde_json::json!({"identifier": "sandbox", "password": "sandbox-pass"}))
            .send()
            .await
            .unwrap();
        let tokens = (
            r.headers()["CST"].to_str().unwrap().to_string(),
            r.headers()["X-SECURITY-TOKEN"].to_str().unwrap().to_string(),
        );
        // Rounds of every endpoint in turn, 2 s each; the median and range per endpoint. One
        // 3 s window varied by ±20% from run to run on a shared 2-core machine: too little
        // to see a 10% change. `SANDBOX_BENCH_ROUNDS` sets the rounds (default 5).
        let rounds: usize = std::env::var("SANDBOX_BENCH_ROUNDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .filter(|r| *r > 0)
            .unwrap_or(5);
        let endpoints = [
            ("/accounts", 16),
            ("/markets/CS.D.EURUSD.CFD.IP", 16),
            ("/positions", 64),
            ("/prices/CS.D.EURUSD.CFD.IP?resolution=MINUTE&max=10", 16),
            ("/prices/CS.D.EURUSD.CFD.IP?resolution=HOUR&max=500&pageSize=0", 16),
        ];
        let mut seen = vec![Vec::new(); endpoints.len()];
        for _ in 0..rounds {
            for (i, (path, workers)) in endpoints.iter().enumerate() {
                seen[i].push(run(path, *workers, 2, &sb, &tokens).await);
            }
        }
        for ((path, workers), mut rps) in endpoints.iter().zip(seen) {
            rps.sort_by(f64::total_cmp);
            println!(
                "GET {path:<32} {workers:>3} connections: {:>9.0} req/s (median of {rounds}; {:.0}..{:.0})",
                rps[rps.len() / 2],
                rps[0],
                rps[rps.len() - 1]
            );
        }
        let t = Instant::now();
        let r = http
            .get(format!("{}/session/encryptionKey", sb.rest_url()))
            .header("X-IG-API-KEY", "sandbox-api-key")
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
        println!("first GET /session/encryptionKey (1024-bit RSA keygen): {:?}", t.elapsed());
        // Dealing: alternate BUY/SELL without forceOpen so positions net out (stays at <= 1).
        let done = Arc::new(AtomicU64::new(0));
        let stop = Instant::now() + Duration::from_secs(3);
        let mut tasks = Vec::new();
        for w in 0..4 {
            let http = reqwest::Client::new();
            let url = format!("{}/positions/otc", sb.rest_url());
            let (cst, xst) = tokens.clone();
            let done = done.clone();
            tasks.push(tokio::spawn(async move {
                let mut i = w;
                while Instant::now() < stop {
                    let dir = if i % 2 == 0 { "BUY" } else { "SELL" };
                    i += 1;
                    let r = http
                        .post(&url)
                        .header("X-IG-API-KEY", "sandbox-api-key")
                        .header("Version", "2")
                        .header("CST", &cst)
                        .header("X-SECURITY-TOKEN", &xst)
                        .json(&serde_json::json!({"epic": "CS.D.EURUSD.CFD.IP", "expiry": "-",
                            "direction": dir, "size": "1", "orderType": "MARKET", "currencyCode": "USD",
                            "forceOpen": false, "guaranteedStop": false}))
                        .send()
                        .await
                        .unwrap();
                    assert!(r.status().is_success());
                    r.bytes().await.unwrap();
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
        let t = Instant::now();
        for task in tasks {
            task.await.unwrap();
        }
        println!(
            "POST /positions/otc (market deals, 4 connections): {:.0} deals/s",
            done.load(Ordering::Relaxed) as f64 / t.elapsed().as_secs_f64()
        );
        let after = rss_kib();
        println!(
            "RSS (KiB, whole process incl. load generator): before start {before:?}, after start (30 min warm-up, 10 epics) {started:?}, after load {after:?}"
        );
        println!("{:?}", sb.state().requests);
        sb.shutdown().await;
    });
}
