"""scalper.backtest: built-ins by name, Python strategies with the built-in's trade hash,
reports as Python objects, and errors in strategies stopping entries without crashing."""

from decimal import Decimal

import pytest

import scalper
from strategies import EmaCross


def test_builtin_by_name_gives_the_cli_report(quotes):
    r = scalper.backtest(quotes, "ema-cross", params={"fast": 5, "slow": 20})
    assert r.strategy == "ema-cross"
    assert r.metrics["trades"] == len(r.trades) > 100
    assert len(r.trades_hash) == 64
    assert isinstance(r.final_equity, Decimal)
    assert r.final_equity == r.initial_equity + sum(t["pnl"] for t in r.trades) - sum(
        t["commission"] + t["funding"] for t in r.trades
    ) or r.final_equity == r.initial_equity + r.metrics["net_pnl"]
    t = r.trades[0]
    assert t["direction"] in ("BUY", "SELL") and isinstance(t["pnl"], Decimal)
    assert r.strategy_errors == []
    # Deterministic: the same run gives the same trades.
    assert scalper.backtest(quotes, "ema-cross", params={"fast": 5, "slow": 20}).trades_hash == r.trades_hash
    assert "ema-cross" in scalper.strategy_names()


@pytest.mark.parametrize("params", [{}, {"fast": 5, "slow": 20, "size": 2}])
def test_python_ema_cross_gives_the_builtin_trade_hash(quotes, params):
    builtin = scalper.backtest(quotes, "ema-cross", params=params)
    py = scalper.backtest(quotes, EmaCross, params=params)
    assert py.strategy == "ema-cross-py"
    assert py.metrics["trades"] == builtin.metrics["trades"] > 100
    assert py.trades_hash == builtin.trades_hash
    assert py.strategy_errors == []


def test_an_instance_runs_too(quotes):
    r = scalper.backtest(quotes, EmaCross(fast=5, slow=20))
    assert r.trades_hash == scalper.backtest(quotes, "ema-cross", params={"fast": 5, "slow": 20}).trades_hash


class Raises(scalper.Strategy):
    """Opens one position with a stop, then raises on a later quote."""

    def __init__(self):
        self.n = 0

    def on_quote(self, q, ctx):
        self.n += 1
        if self.n == 100:
            return scalper.Enter(scalper.BUY, size=1, stop=20, reason="first")
        if self.n == 200:
            raise RuntimeError("boom in the strategy")
        return None


def test_an_exception_stops_entries_and_is_reported_with_its_traceback(quotes):
    with pytest.warns(scalper.StrategyWarning, match="boom in the strategy"):
        r = scalper.backtest(quotes, Raises)
    assert len(r.strategy_errors) == 1
    err = r.strategy_errors[0]
    assert "Traceback" in err and "test_backtest.py" in err and "RuntimeError" in err
    assert "on_quote" in err and "no more entries" in err
    # The position opened before the error was still managed: closed by its stop or at the end.
    assert r.metrics["trades"] == 1


class Garbage(scalper.Strategy):
    def __init__(self):
        self.n = 0

    def on_quote(self, q, ctx):
        self.n += 1
        if self.n == 50:
            return scalper.Enter("SELL", size=1)
        if self.n == 60:
            return [scalper.Exit(), "not an intent"]
        return None


def test_garbage_from_a_strategy_is_a_clear_error_and_positions_are_flattened(quotes):
    with pytest.warns(scalper.StrategyWarning):
        r = scalper.backtest(quotes, Garbage, on_error="flatten")
    (err,) = r.strategy_errors
    assert "item 1 is 'not an intent'" in err and "expected scalper.Enter, Exit or Reduce" in err
    assert r.metrics["trades"] == 1
    # Flattened at the error (the quote after the 60th), not at the end of the data.
    assert r.trades[0]["exit_time"] < r.trades[0]["entry_time"] + 60_000


class ActsOnFill(scalper.Strategy):
    def __init__(self):
        self.n = 0
        self.fills = 0

    def on_quote(self, q, ctx):
        self.n += 1
        return scalper.Enter("BUY", size=1, stop=20) if self.n % 500 == 1 else None

    def on_fill(self, fill, ctx):
        self.fills += 1
        return scalper.Exit()  # a mistake: fills cannot send orders


def test_intents_returned_from_on_fill_are_not_silently_dropped(quotes):
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = scalper.backtest(quotes, ActsOnFill)
    said = [str(w.message) for w in caught if "on_fill returned" in str(w.message)]
    # Told once (not once per fill), with what to do instead; the strategy goes on trading.
    assert len(said) == 1, said
    assert "Exit" in said[0] and "return intents from on_quote" in said[0]
    assert r.strategy_errors == [] and r.metrics["trades"] > 1


def test_intents_refuse_floats_and_bad_directions():
    with pytest.raises(TypeError, match="floats are not exact"):
        scalper.Enter("BUY", size=1.5)
    with pytest.raises(ValueError, match="not \"BUY\" or \"SELL\""):
        scalper.Enter("UP")
    with pytest.raises(ValueError, match="must be > 0"):
        scalper.Enter("BUY", stop=0)
    e = scalper.Enter("sell", size="0.5", stop=Decimal("12.5"), reason="x")
    assert e.direction == "SELL" and "0.5" in repr(e)


def test_bad_options_and_data_raise(quotes, tmp_path):
    with pytest.raises(TypeError, match="unknown option"):
        scalper.backtest(quotes, "ema-cross", nope=1)
    with pytest.raises(scalper.ScalperError):
        scalper.backtest(str(tmp_path / "missing.csv"), "ema-cross")
    with pytest.raises(scalper.ScalperError, match="fast"):
        scalper.backtest(quotes, "ema-cross", params={"fast": 50})
    with pytest.raises(scalper.ScalperError, match="unknown strategy"):
        scalper.backtest(quotes, "no-such-strategy")


def test_to_pandas(quotes):
    pd = pytest.importorskip("pandas")
    df = scalper.backtest(quotes, "ema-cross").to_pandas()
    assert len(df) > 100 and "pnl" in df.columns
    assert str(df["entry_time"].dt.tz) == "UTC"


def test_hooks_get_fills_context_and_timers(quotes):
    seen = {"fills": [], "timers": 0, "positions": set()}

    class Hooks(scalper.Strategy):
        def __init__(self):
            self.n = 0

        def on_quote(self, q, ctx):
            self.n += 1
            seen["positions"].add(ctx.position)
            assert ctx.epic == "CS.D.EURUSD.CFD.IP" and ctx.time == q.time
            assert q.bid <= q.mid <= q.offer and q.bid_decimal <= q.offer_decimal
            if self.n == 10:
                return scalper.Enter(scalper.BUY, size=1, max_hold_ms=5_000)
            return None

        def on_fill(self, fill, ctx):
            seen["fills"].append((fill.direction, fill.closing, fill.size))

        def on_timer(self, now, ctx):
            seen["timers"] += 1

    r = scalper.backtest(quotes, Hooks)
    assert r.metrics["trades"] == 1
    assert seen["fills"] == [("BUY", False, Decimal(1)), ("SELL", True, Decimal(1))]
    assert seen["timers"] > 10
    assert seen["positions"] == {None, "BUY"}


def test_stop_kinds_and_partial_closes():
    assert scalper.Enter("BUY", size=2, stop=30, guaranteed=True).guaranteed
    with pytest.raises(ValueError, match="need a stop"):
        scalper.Enter("BUY", guaranteed=True)
    with pytest.raises(ValueError, match="not both"):
        scalper.Enter("BUY", stop=30, guaranteed=True, trailing_increment=5)
    with pytest.raises(ValueError, match="between 0 and 1"):
        scalper.Reduce(1)
    assert "0.5" in repr(scalper.Reduce("0.5", "BUY"))


class Halves(scalper.Strategy):
    def __init__(self):
        self.n = 0

    def on_quote(self, q, ctx):
        self.n += 1
        if self.n == 10:
            return scalper.Enter(scalper.BUY, size=2, reason="in")
        if self.n == 20:
            return scalper.Reduce("0.5", reason="half")
        return None


def test_a_partial_close_from_python(quotes):
    r = scalper.backtest(quotes, Halves)
    assert r.strategy_errors == []
    # The position closed at the end of the data is what the reduce left of it.
    assert r.trades[-1]["size"] == Decimal(1), r.trades
