"""Quotes per second of `ema-cross` run by the engine: the built-in by name, and the same
strategy written in Python (python/tests/strategies.py) through the package; both must give
the same trade-list hash. Use a release build (`maturin develop --release`).

    python python/bench/ema_cross.py [--data FILE] [--quotes N]

Without --data, N quotes (default 1,000,000) from scalper.synth. `cargo bench -p
scalper-example-ema-cross-rs` prints the path of its benchmark file for --data.
"""

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))

import scalper  # noqa: E402
from strategies import EmaCross  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data")
    ap.add_argument("--quotes", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    data = a.data
    if data is None:
        data = os.path.join(tempfile.gettempdir(), f"scalper-bench-{a.quotes}.csv")
        if not os.path.exists(data):
            scalper.synth(data, a.quotes, seed=42)
    opts = dict(latency_ms=0, keep_trades=False, params={"fast": 10, "slow": 30})
    first = scalper.backtest(data, "ema-cross", **opts)  # builds the cache
    n = first.records
    hashes = {}
    for label, strategy in (("built-in ema-cross", "ema-cross"), ("Python EmaCross", EmaCross)):
        best = float("inf")
        for _ in range(a.runs):
            t = time.perf_counter()
            r = scalper.backtest(data, strategy, **opts)
            best = min(best, time.perf_counter() - t)
        hashes[label] = r.trades_hash
        print(
            f"{label:<20} {best:8.3f} s {n / best / 1e6:8.3f} M quotes/s   "
            f"{r.metrics['trades']} trades   hash {r.trades_hash[:16]}"
        )
    assert len(set(hashes.values())) == 1, hashes


if __name__ == "__main__":
    main()
