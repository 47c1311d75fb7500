//! Tick-to-order latency through the sandbox on loopback: from the moment the sandbox publishes
//! a quote to the moment its REST middleware sees the dealing request the engine sent because of
//! it (stream encode, WebSocket, stream client, event loop, engine, journal write-ahead,
//! execution task, HTTP). Two runs: nothing else in flight, and with an opening request on
//! another instrument held by the sandbox (`hold-deal`) for the whole measurement.
//!
//! `cargo bench -p scalper-live --bench tick_to_order` (`SCALPER_BENCH_SAMPLES`, default 300;
//! `SCALPER_BENCH_DEBUG=1` prints each sample over 3 ms with its request;
//! `SCALPER_BENCH_HTTP=1` runs with telemetry and the HTTP server of `--http`, scraped for
//! `/metrics` and `/api/status` every 100 ms, the status page open (its `/api/equity` read and
//! `/api/events` followed) and the log tail on, and prints the decision-latency histogram's
//! mean; `SCALPER_BENCH_RECORD=1` records every quote as `--record` does, the recorder's
//! tap on the stream and its writer thread beside the run; `SCALPER_BENCH_SHADOW=1` runs the
//! shadow paper engine of `--shadow` beside live, fed every quote and what live did).
//! Client-side rate limiting is off: the budget pacing IG's allowances is not what is measured,
//! and so is the sandbox's stream throttle (`SandboxConfig::stream_max_frequency`), whose wait
//! for the next 50 ms interval is IG's, not scalper's.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use scalper_ig::SessionVersion;
use scalper_live::{Interrupts, RunOptions};
use scalper_model::Epic;
use scalper_sandbox::{RequestSeen, Sandbox, SandboxConfig, SandboxHandle};
use tokio::sync::broadcast;

fn eurusd() -> Epic {
    Epic::new("CS.D.EURUSD.CFD.IP").unwrap()
}

fn gbpusd() -> Epic {
    Epic::new("CS.D.GBPUSD.CFD.IP").unwrap()
}

/// Prices alternating by 5 points: the 2/4 EMAs cross on every quote, so each quote leads to
/// one dealing request (an open when flat, a close when in a position).
fn bid_at(base: Decimal, i: u64) -> Decimal {
    base + Decimal::new(i64::try_from(i % 2).unwrap_or(0) * 5, 4)
}

fn is_dealing(r: &RequestSeen) -> bool {
    r.path.contains("/positions/otc") && r.method != "GET"
}

/// Publishes quotes on `epic` until the next dealing request arrives; returns the latency
/// from the quote that caused it.
async fn next_order(
    sandbox: &SandboxHandle,
    tap: &mut broadcast::Receiver<RequestSeen>,
    epic: &Epic,
    base: Decimal,
    i: &mut u64,
) -> Duration {
    loop {
        *i += 1;
        let bid = bid_at(base, *i);
        // Requests that followed the previous quote (a close and a new entry come together).
        while tap.try_recv().is_ok() {}
        let sent = Instant::now();
        sandbox.set_price(epic, bid, bid + dec!(0.0001)).unwrap();
        let until = tokio::time::Instant::now() + Duration::from_millis(200);
        loop {
            match tokio::time::timeout_at(until, tap.recv()).await {
                Ok(Ok(r)) if is_dealing(&r) && r.at >= sent => {
                    let latency = r.at.saturating_duration_since(sent);
                    if std::env::var_os("SCALPER_BENCH_DEBUG").is_some()
                        && latency > Duration::from_millis(3)
                    {
                        eprintln!("slow: {} {} {latency:?} (quote {i})", r.method, r.path);
                    }
                    // Let the deal complete before the next quote.
                    tokio::time::sleep(Duration::from_millis(15)).await;
                    return latency;
                }
                Ok(Ok(r)) => {
                    if std::env::var_os("SCALPER_BENCH_DEBUG").is_some() {
                        eprintln!("request {} {}", r.method, r.path);
                    }
                }
                Ok(Err(broadcast::error::RecvError::Lagged(_))) => {}
                Ok(Err(broadcast::error::RecvError::Closed)) => panic!("sandbox gone"),
                Err(_) => break,
            }
        }
    }
}

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "{name:<40} n={:<4} p50={:>7.1} µs  p90={:>7.1} µs  p99={:>7.1} µs  max={:>7.1} µs",
        samples.len(),
        at(0.5).as_secs_f64() * 1e6,
        at(0.9).as_secs_f64() * 1e6,
        at(0.99).as_secs_f64() * 1e6,
        samples[samples.len() - 1].as_secs_f64() * 1e6,
    );
}

async fn measure(held: bool, samples: usize) -> Vec<Duration> {
    // Simulated time starts now (the engine refuses quotes older than its clock) and moves only
    // with the prices the bench sets.
    let sandbox = Sandbox::start(SandboxConfig {
        start_time: None,
        // Every quote at once: IG's 20-a-second throttle would make each sample wait for its
        // interval (about 35 ms at this bench's pace), hiding what is measured.
        stream_max_frequency: None,
        ..SandboxConfig::for_tests()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let interrupts = Interrupts::manual();
    let kill = interrupts.kill_switch();
    let http = std::env::var_os("SCALPER_BENCH_HTTP").is_some();
    let (telemetry, view) = scalper_live::telemetry();
    // As in `scalper`: the log tail keeps records only once the server is attached to it.
    let view = if http {
        view.with_log(LOG_TAIL.clone())
    } else {
        view
    };
    let server = if http {
        let s = scalper_observe::Server::start(
            scalper_observe::HttpConfig {
                addr: "127.0.0.1:0".parse().unwrap(),
                allow_remote: false,
                control_token: None,
            },
            view.clone(),
        )
        .await
        .unwrap();
        let addr = s.local_addr();
        let scraper = tokio::spawn(async move {
            scrape(addr, "/api/equity").await;
            let page = tokio::spawn(follow_events(addr));
            let _page = AbortOnDrop(page);
            loop {
                for path in ["/metrics", "/api/status"] {
                    scrape(addr, path).await;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        Some((s, scraper))
    } else {
        None
    };
    let recording = std::env::var_os("SCALPER_BENCH_RECORD").map(|_| {
        scalper_backtest::recorder::spawn(scalper_backtest::RecorderConfig::new(
            dir.path().join("rec"),
            scalper_backtest::RecordedPrices::IgScaled,
        ))
        .unwrap()
    });
    let mut stream = scalper_ig::stream::StreamConfig::default();
    if let Some((tap, _)) = &recording {
        stream.quote_tap = Some(std::sync::Arc::new(RecordTap(tap.clone())));
    }
    let opts = RunOptions {
        stream,
        telemetry: http.then_some(telemetry),
        // `SCALPER_BENCH_NO_JOURNAL=1`: no journal, to see what its writes cost.
        journal: std::env::var_os("SCALPER_BENCH_NO_JOURNAL")
            .is_none()
            .then(|| dir.path().join("journal.sqlite")),
        durable_journal: false,
        interrupts: Some(interrupts),
        shadow: std::env::var_os("SCALPER_BENCH_SHADOW").is_some(),
        ..RunOptions::default()
    };
    let mut tap = sandbox.watch_requests();
    let run = tokio::spawn(scalper_live::run(
        common::client_with(&sandbox, SessionVersion::V2, |cfg| {
            cfg.rate_limit = false;
            cfg.fetch_allowances = false;
        }),
        common::busy_ema_config(5, 4),
        vec![eurusd(), gbpusd()],
        opts,
    ));
    // Wait for the stream: quotes reach the engine once its subscriptions are up.
    let mut i = 0u64;
    let warmup = Instant::now();
    loop {
        let latency = tokio::time::timeout(
            Duration::from_secs(2),
            next_order(&sandbox, &mut tap, &eurusd(), dec!(1.1000), &mut i),
        )
        .await;
        if latency.is_ok() {
            break;
        }
        assert!(
            warmup.elapsed() < Duration::from_secs(30),
            "no order within 30 s"
        );
    }
    if held {
        sandbox.inject_faults("hold-deal:120s:1").unwrap();
        let mut j = 0u64;
        next_order(&sandbox, &mut tap, &gbpusd(), dec!(1.2500), &mut j).await;
        assert_eq!(sandbox.state().faults_fired.get("hold-deal"), Some(&1));
    }
    let mut out = Vec::with_capacity(samples);
    for _ in 0..samples {
        out.push(next_order(&sandbox, &mut tap, &eurusd(), dec!(1.1000), &mut i).await);
    }
    if held {
        // The held request is still waiting: the samples were all taken during the hold.
        assert_eq!(sandbox.state().faults_fired.get("hold-deal"), Some(&1));
    }
    kill.press();
    kill.press();
    let _ = tokio::time::timeout(Duration::from_secs(20), run).await;
    sandbox.shutdown().await;
    if let Some((_, handle)) = recording {
        let s = handle.finish();
        println!(
            "recorded {} quotes ({} bytes, {} dropped, stopped: {:?})",
            s.quotes(),
            s.bytes(),
            s.dropped,
            s.stopped
        );
    }
    if let Some((s, scraper)) = server {
        scraper.abort();
        s.shutdown().await;
        let d = view.decision_latency();
        println!(
            "decision latency (telemetry histogram): {} events, mean {:.2} µs",
            d.count,
            d.sum_ns as f64 / d.count.max(1) as f64 / 1e3
        );
    }
    out
}

/// The recorder's tap on the stream, as `scalper run --record` puts it there.
#[derive(Debug)]
struct RecordTap(scalper_backtest::Tap);

impl scalper_ig::stream::QuoteTap for RecordTap {
    fn on_quote(&self, quote: &scalper_model::Quote) {
        #[allow(clippy::disallowed_methods)] // the receive time, as the CLI stamps it
        let at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(0));
        self.0.offer(quote, at);
    }
}

static LOG_TAIL: std::sync::LazyLock<scalper_live::LogTail> =
    std::sync::LazyLock::new(scalper_live::LogTail::new);

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Follows `/api/events` as the open status page does, until aborted.
async fn follow_events(addr: std::net::SocketAddr) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let Ok(mut s) = tokio::net::TcpStream::connect(addr).await else {
        return;
    };
    let req = format!("GET /api/events HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    if s.write_all(req.as_bytes()).await.is_ok() {
        let mut buf = vec![0u8; 64 * 1024];
        while matches!(s.read(&mut buf).await, Ok(n) if n > 0) {}
    }
}

/// One HTTP/1.1 GET, read to the end (what a Prometheus scrape costs the process).
async fn scrape(addr: std::net::SocketAddr, path: &str) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let Ok(mut s) = tokio::net::TcpStream::connect(addr).await else {
        return;
    };
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).await.is_ok() {
        let mut body = Vec::new();
        let _ = s.read_to_end(&mut body).await;
    }
}

fn main() {
    // `RUST_LOG=info` shows what the runtime does (nothing is logged by default); the log
    // tail keeps the last INFO records for the status page, as `scalper` does.
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    use tracing_subscriber::Layer as _;
    let _ = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_filter(tracing_subscriber::EnvFilter::from_default_env()),
        )
        .with(LOG_TAIL.layer())
        .try_init();
    let samples: usize = std::env::var("SCALPER_BENCH_SAMPLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let free = rt.block_on(measure(false, samples));
    report("tick-to-order, nothing else in flight", free);
    let held = rt.block_on(measure(true, samples));
    report("tick-to-order, a deal held on GBP/USD", held);
}
