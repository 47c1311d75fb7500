"""scalper.demo: a Python strategy through the live runtime against the in-process IG
sandbox (orders and paper fills); a failing one stops entries and leaves nothing open."""

import pytest

import scalper
from strategies import EmaCross


def test_python_strategy_trades_on_the_sandbox(tmp_path):
    r = scalper.demo(
        EmaCross,
        params={"fast": 3, "slow": 8},
        duration="6s",
        speed=60,
        instruments=["EUR_USD"],
        journal=str(tmp_path / "j.sqlite"),
    )
    assert r.trades > 0, r
    assert r.strategy_errors == []
    assert r.positions_left == [] and r.paper is False
    assert r.broker_balance_change is None or r.broker_balance_change == r.pnl
    assert (tmp_path / "j.sqlite").exists()


class FailsAfterEntering(scalper.Strategy):
    def __init__(self):
        self.n = 0

    def on_quote(self, q, ctx):
        self.n += 1
        if self.n == 5:
            return scalper.Enter(scalper.BUY, size=1, stop=30)
        if self.n > 5 and ctx.position is not None:
            raise ValueError("strategy bug")
        return None


def test_a_failing_strategy_halts_entries_and_positions_stay_managed(tmp_path):
    with pytest.warns(scalper.StrategyWarning, match="strategy bug"):
        r = scalper.demo(
            FailsAfterEntering,
            duration="4s",
            speed=60,
            instruments=["EUR_USD"],
            paper=True,
            journal=str(tmp_path / "j.sqlite"),
        )
    assert len(r.strategy_errors) == 1 and "Traceback" in r.strategy_errors[0]
    # The one position was managed to the end and flattened: nothing left open.
    assert r.trades == 1 and r.positions_left == [] and r.paper is True


def test_run_refuses_live_without_both_flags(monkeypatch):
    monkeypatch.setenv("IG_USERNAME", "u")
    monkeypatch.setenv("IG_PASSWORD", "p")
    monkeypatch.setenv("IG_API_KEY", "k")
    monkeypatch.setenv("IG_DEMO", "false")
    with pytest.raises(TypeError, match="asked for twice"):
        scalper.run("ema-cross")
