//! Deterministic synthetic quotes for tests and benchmarks: a seeded random walk of the mid
//! (in 0.00001 steps) with a 1-2 point spread, one quote every 50-150 ms.
#![allow(dead_code, clippy::unwrap_used)]

use std::io::Write;
use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// 2024-01-02T08:00:00Z.
pub const T0: i64 = 1_704_182_400_000;

/// Quotes as `(ts_ms, bid, ask)` in units of 0.00001.
pub fn quotes(n: usize, seed: u64) -> impl Iterator<Item = (i64, i64, i64)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut ts = T0;
    let mut mid: i64 = 110_000; // 1.10000
    (0..n).map(move |_| {
        ts += rng.gen_range(50..150);
        mid += rng.gen_range(-3..=3);
        mid = mid.clamp(50_000, 200_000);
        let spread = rng.gen_range(10..=20); // 1-2 points
        let bid = mid - spread / 2;
        (ts, bid, bid + spread)
    })
}

fn px(v: i64) -> String {
    format!("{}.{:05}", v / 100_000, v % 100_000)
}

/// Writes `n` quotes as `ts_ms,bid,ask` CSV.
pub fn write_csv(path: &Path, n: usize, seed: u64) {
    let f = std::fs::File::create(path).unwrap();
    let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
    writeln!(w, "ts_ms,bid,ask").unwrap();
    for (ts, b, a) in quotes(n, seed) {
        writeln!(w, "{ts},{},{}", px(b), px(a)).unwrap();
    }
    w.flush().unwrap();
}
