"""scalper.sweep: the CLI's local sweep, with built-ins and Python strategies."""

import scalper
from strategies import EmaCross


def test_local_sweep_matches_single_backtests(quotes):
    grid = {"fast": [5, 10], "slow": [30, 40]}
    s = scalper.sweep(quotes, "ema-cross", grid, jobs=2)
    assert len(s.rows) == 4
    assert [dict(r["params"]) for r in s.rows] == [
        {"fast": "5", "slow": "30"},
        {"fast": "5", "slow": "40"},
        {"fast": "10", "slow": "30"},
        {"fast": "10", "slow": "40"},
    ]
    for row in s.rows:
        p = {k: int(v) for k, v in row["params"]}
        assert row["trades_hash"] == scalper.backtest(quotes, "ema-cross", params=p).trades_hash
    py = scalper.sweep(quotes, EmaCross, grid, jobs=2)
    assert [r["trades_hash"] for r in py.rows] == [r["trades_hash"] for r in s.rows]
