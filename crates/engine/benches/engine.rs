//! Decision latency per quote: how long `Engine::process` takes to turn one quote into
//! actions (strategy, risk, position management), with the sim broker in the loop. Criterion
//! reports the mean; a separate pass records every call and prints p50/p99/max.

#![allow(clippy::unwrap_used, clippy::cast_possible_wrap)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use scalper_engine::strategy::EmaCrossConfig;
use scalper_engine::{
    step, Engine, EngineConfig, EngineEvent, EngineInit, SimBroker, SimConfig, StrategyConfig,
};
use scalper_model::market::default_fx_rules;
use scalper_model::{Epic, Instrument, Price, Quote, Timestamp};

fn instrument() -> Instrument {
    Instrument {
        epic: Epic::new("CS.D.EURUSD.CFD.IP").unwrap(),
        name: "EUR/USD".into(),
        point_size: dec!(0.0001),
        value_per_point: dec!(10),
        currency: "USD".into(),
        account_currency: String::new(),
        account_rate: Decimal::ONE,
        expiry: "-".into(),
        rules: default_fx_rules(),
        kind: scalper_model::ProductKind::Cfd,
        contract_size: Some(dec!(100000)),
        margin: scalper_model::MarginRules::default(),
    }
}

fn quotes(n: usize) -> Vec<Quote> {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let epic = instrument().epic;
    let mut mid: i64 = 110_000;
    (0..n)
        .map(|i| {
            mid += rng.gen_range(-6..=6);
            let spread = rng.gen_range(6..=10);
            Quote {
                epic: epic.clone(),
                bid: Price::new(Decimal::new(mid * 10 - spread * 5, 6)),
                offer: Price::new(Decimal::new(mid * 10 + spread * 5, 6)),
                ts: Timestamp::from_millis(1_704_182_400_000 + i as i64 * 250),
            }
        })
        .collect()
}

fn config(strategy: StrategyConfig) -> EngineConfig {
    let mut cfg = EngineConfig {
        strategy,
        ..EngineConfig::default()
    };
    cfg.risk.max_trades_per_day = u32::MAX;
    cfg.risk.daily_loss_limit = None;
    cfg
}

fn setup(cfg: &EngineConfig) -> (Engine, SimBroker) {
    let engine = Engine::new(cfg.clone(), vec![instrument()], EngineInit::default()).unwrap();
    let broker = SimBroker::new(SimConfig::default(), vec![instrument()]);
    (engine, broker)
}

fn strategies() -> Vec<(&'static str, EngineConfig)> {
    vec![
        ("scalper", config(StrategyConfig::default())),
        (
            "ema-cross",
            config(StrategyConfig::EmaCross(EmaCrossConfig {
                fast: 10,
                slow: 30,
                size: Decimal::ONE,
            })),
        ),
    ]
}

/// Per-call latency of `process` (broker fills excluded), sorted.
fn latencies(cfg: &EngineConfig, qs: &[Quote]) -> (Vec<Duration>, u64) {
    let (mut engine, mut broker) = setup(cfg);
    let mut out = Vec::new();
    let mut lat = Vec::with_capacity(qs.len());
    for q in qs {
        for ev in broker.on_quote(q) {
            step(&mut engine, &mut broker, EngineEvent::Broker(ev), &mut out);
        }
        out.clear();
        let t = Instant::now();
        engine.process_into(EngineEvent::Quote(q.clone()), &mut out);
        lat.push(t.elapsed());
        for a in out.drain(..) {
            if let scalper_engine::Action::Broker(cmd) = a {
                for ev in broker.submit(cmd) {
                    engine.process(EngineEvent::Broker(ev));
                }
            }
        }
    }
    lat.sort_unstable();
    (lat, engine.summary().trades)
}

fn bench(c: &mut Criterion) {
    let qs = quotes(200_000);
    for (name, cfg) in strategies() {
        let (lat, trades) = latencies(&cfg, &qs);
        let pct = |p: f64| lat[((lat.len() - 1) as f64 * p) as usize];
        println!(
            "decision latency per quote [{name}]: p50 {:?}  p99 {:?}  max {:?}  ({} quotes, {} trades)",
            pct(0.50),
            pct(0.99),
            lat[lat.len() - 1],
            lat.len(),
            trades
        );
    }

    let mut group = c.benchmark_group("engine");
    let batch = &qs[..20_000];
    group.throughput(Throughput::Elements(batch.len() as u64));
    for (name, cfg) in strategies() {
        group.bench_function(format!("{name}/20k-quotes-with-sim"), |b| {
            b.iter_batched(
                || setup(&cfg),
                |(mut engine, mut broker)| {
                    let mut out = Vec::new();
                    for q in batch {
                        step(
                            &mut engine,
                            &mut broker,
                            EngineEvent::Quote(q.clone()),
                            &mut out,
                        );
                        out.clear();
                    }
                    black_box(engine.summary())
                },
                criterion::BatchSize::LargeInput,
            );
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).measurement_time(Duration::from_secs(5));
    targets = bench
}
criterion_main!(benches);
