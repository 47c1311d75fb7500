//! What recording costs per quote, next to what the engine spends deciding on one:
//!
//! - `record/offer`: the trading side's hand-off ([`Tap::offer`] with the receive-time read
//!   the CLI's stream tap does), with the real writer thread draining the queue;
//! - `record/write`: the writer thread's work per quote ([`Recorder::push`] and a block
//!   written and synced every 4,096 quotes), and `record/write_second_of_50`: one flush
//!   interval at a busy live rate (50 quotes, then their block written and synced); the
//!   `_nosync` variants without the sync, which is waiting on the disk rather than CPU;
//! - `engine/decide/<strategy>`: a backtest's step per quote from memory (the engine, the sim
//!   broker and the metrics: what paper trading and the backtest spend on a quote), for the
//!   scalper and ema-cross strategies.
//!
//! `cargo bench -p scalper-backtest --bench record`. Numbers only; nothing is asserted.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/common/synth.rs"]
mod synth;

use std::time::Duration;

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use rust_decimal::Decimal;
use scalper_backtest::{
    run_on_source, BacktestOptions, DataKind, RawQuote, Record, RecordSource, RecordedPrices,
    Recorder, RecorderConfig,
};
use scalper_model::{Epic, Price, Quote, Timestamp};

fn quotes(n: usize) -> Vec<Quote> {
    let epic = Epic::new("CS.D.EURUSD.CFD.IP").unwrap();
    synth::quotes(n, 5)
        .map(|(ts, b, a)| Quote {
            epic: epic.clone(),
            bid: Price::new(Decimal::new(b, 5)),
            offer: Price::new(Decimal::new(a, 5)),
            ts: Timestamp::from_millis(ts),
        })
        .collect()
}

#[allow(clippy::disallowed_methods)] // the receive time, as the CLI's tap reads it
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(0))
}

fn offer(c: &mut Criterion) {
    let qs = quotes(4096);
    let mut g = c.benchmark_group("record");
    g.throughput(Throughput::Elements(qs.len() as u64));
    // A fresh recorder per batch (not timed): 4,096 quotes fit its queue, so every offer is a
    // real hand-off while the writer thread drains beside it, as in a run.
    g.bench_function("offer", |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().unwrap();
                let mut cfg = RecorderConfig::new(dir.path(), RecordedPrices::Market);
                cfg.sync_every = None;
                let (tap, handle) = scalper_backtest::recorder::spawn(cfg).unwrap();
                (dir, tap, Finish(Some(handle)))
            },
            |(dir, tap, handle)| {
                for q in &qs {
                    tap.offer(black_box(q), now_ms());
                }
                (dir, tap, handle)
            },
            BatchSize::PerIteration,
        );
    });
    g.finish();
}

/// Finishes the recorder when the batch's output is dropped (outside the timing), checking
/// that nothing was dropped.
struct Finish(Option<scalper_backtest::RecorderHandle>);

impl Drop for Finish {
    fn drop(&mut self) {
        if let Some(h) = self.0.take() {
            let s = h.finish();
            assert_eq!((s.quotes(), s.dropped), (4096, 0), "{s:?}");
        }
    }
}

fn write(c: &mut Criterion) {
    let qs = quotes(4096 * 8);
    let mut g = c.benchmark_group("record");
    g.throughput(Throughput::Elements(4096));
    for sync in [true, false] {
        g.bench_function(if sync { "write" } else { "write_nosync" }, |b| {
            b.iter_batched(
                || {
                    let dir = tempfile::tempdir().unwrap();
                    let mut cfg = RecorderConfig::new(dir.path(), RecordedPrices::Market);
                    cfg.sync_every = sync.then_some(Duration::ZERO);
                    let mut rec = Recorder::open(cfg).unwrap();
                    // The day file exists: what is timed is the steady state.
                    rec.push(&qs[0], 0).unwrap();
                    rec.flush().unwrap();
                    (dir, rec)
                },
                |(dir, mut rec)| {
                    for q in &qs[1..=4096] {
                        rec.push(q, q.ts.millis() + 10).unwrap();
                    }
                    rec.flush().unwrap();
                    (dir, rec)
                },
                BatchSize::PerIteration,
            );
        });
    }
    g.throughput(Throughput::Elements(50));
    for sync in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = RecorderConfig::new(dir.path(), RecordedPrices::Market);
        cfg.sync_every = sync.then_some(Duration::ZERO);
        let mut rec = Recorder::open(cfg).unwrap();
        let mut at = 0usize;
        let name = if sync {
            "write_second_of_50"
        } else {
            "write_second_of_50_nosync"
        };
        g.bench_function(name, |b| {
            b.iter(|| {
                for _ in 0..50 {
                    let q = &qs[at % qs.len()];
                    // Time moves on past the end of the list so quotes stay in order.
                    let mut q = q.clone();
                    q.ts = Timestamp::from_millis(
                        q.ts.millis() + i64::try_from(at / qs.len()).unwrap() * 10_000_000,
                    );
                    rec.push(&q, q.ts.millis() + 10).unwrap();
                    at += 1;
                }
                rec.flush().unwrap();
            });
        });
    }
    g.finish();
}

/// Records from memory (no file, no parsing): what is timed is the run's step.
struct Memory {
    records: std::vec::IntoIter<Record>,
}

impl Iterator for Memory {
    type Item = Result<Record, scalper_backtest::DataError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.records.next().map(Ok)
    }
}

impl RecordSource for Memory {
    fn kind(&self) -> DataKind {
        DataKind::Quotes
    }
    fn path(&self) -> &std::path::Path {
        std::path::Path::new("memory")
    }
    fn location(&self) -> scalper_backtest::Location {
        scalper_backtest::Location::File
    }
    fn progress(&self) -> (u64, u64) {
        (0, 0)
    }
    fn all_cached(&self) -> bool {
        true
    }
}

fn decide(c: &mut Criterion) {
    const N: usize = 100_000;
    let records: Vec<Record> = synth::quotes(N, 5)
        .map(|(ts, b, a)| {
            Record::Quote(RawQuote {
                ts,
                bid: b * 10_000,
                ask: a * 10_000,
            })
        })
        .collect();
    let mut g = c.benchmark_group("engine");
    g.throughput(Throughput::Elements(N as u64));
    for strategy in ["scalper", "ema-cross"] {
        let opts = BacktestOptions {
            strategy: Some(strategy.into()),
            latency_ms: Some(0),
            ..BacktestOptions::default()
        };
        g.bench_function(format!("decide/{strategy}"), |b| {
            b.iter(|| {
                let src = Memory {
                    records: records.clone().into_iter(),
                };
                let r = run_on_source(&opts, src, &mut |_| {}).unwrap();
                black_box(r.metrics.trades)
            });
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(5));
    targets = offer, write, decide
}
criterion_main!(benches);
