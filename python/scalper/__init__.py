"""scalper: backtest, sweep and run trading strategies on scalper's Rust engine.

A strategy is a built-in one by name (``"ema-cross"``, ``"sma-cross"``, ``"scalper"``) or a
Python class with ``on_quote(self, quote, ctx)`` (and optionally ``on_bar``, ``on_fill``,
``on_timer``) returning ``None``, an :class:`Enter` / :class:`Exit` / :class:`Reduce`, or a list of
them. The
Rust engine runs it: risk approves or refuses every entry and only the engine trades, exactly
as in the ``scalper`` CLI, so a Python strategy and the same strategy in Rust give the same
trades.

An exception in a strategy (or a return value that is not intents) stops that strategy: it is
reported with its traceback (``Report.strategy_errors`` and a :class:`StrategyWarning`), no
further entries are made, and open positions stay managed by the engine (stops, limits,
trailing, max hold, end-of-run flatten); ``on_error="flatten"`` also closes them at once.
"""

from __future__ import annotations

import json
import warnings
from decimal import Decimal
from typing import Any, Dict, List, Optional, Sequence, Union

from ._scalper import (  # noqa: F401  (re-exported)
    Bar,
    Context,
    Enter,
    Exit,
    Fill,
    Quote,
    Reduce,
    ScalperError,
    __version__,
    strategy_names,
    synth,
)
from ._scalper import _backtest, _demo, _run, _sweep

BUY = "BUY"
SELL = "SELL"

__all__ = [
    "BUY",
    "SELL",
    "Bar",
    "Context",
    "Enter",
    "Exit",
    "Fill",
    "Quote",
    "Reduce",
    "Report",
    "ScalperError",
    "Strategy",
    "StrategyWarning",
    "SweepReport",
    "RunReport",
    "backtest",
    "demo",
    "run",
    "strategy_names",
    "sweep",
    "synth",
]


class StrategyWarning(UserWarning):
    """A Python strategy raised or returned something that is not intents; it was stopped."""


class Strategy:
    """Optional base class for Python strategies.

    Define ``on_quote(self, quote, ctx)`` and/or ``on_bar(self, bar, ctx)``; optionally
    ``on_fill(self, fill, ctx)`` and ``on_timer(self, now_ms, ctx)`` (defining ``on_timer``
    makes the engine send timer events, once a second of data time). ``on_fill`` only observes:
    a fill cannot send orders, and a value it returns is not used (a warning says so, once).
    The class is called
    with the run's ``params`` as keyword arguments, once per instrument. ``name`` (default:
    the class name) is the name the strategy is registered under.
    """

    name: Optional[str] = None


_MONEY_FIELDS = ("size", "entry_price", "exit_price", "pnl", "commission", "funding")
_METRIC_MONEY = (
    "gross_profit",
    "gross_loss",
    "net_pnl",
    "expectancy",
    "max_drawdown",
    "commission",
    "funding",
)


def _decimals(d: Dict[str, Any], keys: Sequence[str]) -> Dict[str, Any]:
    for k in keys:
        v = d.get(k)
        if isinstance(v, str):
            d[k] = Decimal(v)
    return d


class Report:
    """A backtest's report: the same content as ``scalper backtest --json``.

    Attributes: ``strategy``, ``strategy_config``, ``instrument``, ``epic``, ``currency``,
    ``records``, ``initial_equity`` and ``final_equity`` (Decimal), ``metrics`` (dict; money
    as Decimal), ``trades`` (list of dicts; money and prices as Decimal), ``trades_hash`` (the
    SHA-256 of the trade list, as the CLI prints it), ``refusals`` (count),
    ``refusals_by_rule`` (rule -> ``{"count", "first_at", "first"}``), ``margin_closeouts``,
    ``equity_curve`` (bounded), ``strategy_errors`` (tracebacks of a failed Python strategy).
    """

    def __init__(self, data: Dict[str, Any], strategy_errors: List[str]):
        self._data = data
        self.strategy: str = data["strategy"]
        self.strategy_config: Any = data.get("strategy_config")
        self.instrument: str = data["instrument"]
        self.epic: str = data["epic"]
        self.currency: str = data["currency"]
        self.records: int = data["records"]
        self.initial_equity = Decimal(data["initial_equity"])
        self.final_equity = Decimal(data["final_equity"])
        self.metrics: Dict[str, Any] = _decimals(dict(data["metrics"]), _METRIC_MONEY)
        self.trades: List[Dict[str, Any]] = [
            _decimals(dict(t), _MONEY_FIELDS) for t in data.get("trades", [])
        ]
        self.trades_hash: str = data["trades_hash"]
        self.refusals: int = data["refusals"]
        self.refusals_by_rule: Dict[str, Any] = data.get("refusals_by_rule", {})
        self.margin_closeouts: int = data.get("margin_closeouts", 0)
        self.equity_curve: List[Dict[str, Any]] = data.get("equity_curve", [])
        self.strategy_errors: List[str] = list(strategy_errors)

    def to_dict(self) -> Dict[str, Any]:
        """The report as the CLI's ``--json`` has it (decimals as strings)."""
        out = dict(self._data)
        out["strategy_errors"] = list(self.strategy_errors)
        return out

    def to_pandas(self):
        """The trades as a ``pandas.DataFrame`` (needs pandas), one row per trade, with
        ``entry_time`` / ``exit_time`` as UTC datetimes and money as Decimal."""
        try:
            import pandas as pd
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError("Report.to_pandas() needs pandas: pip install pandas") from e
        df = pd.DataFrame(self.trades)
        for col in ("entry_time", "exit_time"):
            if col in df:
                df[col] = pd.to_datetime(df[col], unit="ms", utc=True)
        return df

    def __repr__(self) -> str:
        m = self.metrics
        return (
            f"Report(strategy={self.strategy!r}, instrument={self.instrument!r}, "
            f"trades={m['trades']}, net_pnl={m['net_pnl']} {self.currency}, "
            f"trades_hash={self.trades_hash[:12]}..., refusals={self.refusals}"
            + (f", strategy_errors={len(self.strategy_errors)}" if self.strategy_errors else "")
            + ")"
        )


def _warn(errors: List[str]) -> None:
    for e in errors:
        warnings.warn(e, StrategyWarning, stacklevel=3)


StrategyLike = Union[str, type, Any]
PathLike = Union[str, "os.PathLike[str]"]


def backtest(
    data: Union[PathLike, Sequence[PathLike]],
    strategy: StrategyLike = "scalper",
    *,
    params: Optional[Dict[str, Any]] = None,
    **options: Any,
) -> Report:
    """Backtest ``strategy`` on ``data`` (quote or bar CSV, IG price JSON or ``.sbc`` cache).

    ``strategy`` is a name (built-in or registered) or a Python strategy class (called with
    ``params`` as keyword arguments) or instance. ``params`` are the strategy's parameters
    (``{"fast": 5}``, the CLI's ``--set fast=5``). Options (the CLI's defaults when absent):
    ``instrument`` ("EUR_USD"), ``set`` (list of "key=value", engine keys with a dot such as
    ``risk.max_open_positions=2``), ``latency_ms``, ``slippage_points``, ``commission_pct``,
    ``initial_equity`` (10000), ``account_currency`` ("GBP"), ``rate``, ``seed``, ``timer_ms``,
    ``price_scale`` ("market" or "ig"), ``cache`` (True), ``keep_trades`` (True),
    ``trades_csv`` (path), ``engine_toml`` (the ``[engine]`` table as TOML text),
    ``on_error`` ("halt" or "flatten"). Amounts are ints, strs or Decimals, never floats.

    Raises :class:`ScalperError` when the run cannot be made (bad data, options).
    """
    options["data"] = _paths(data)
    if params:
        options["params"] = dict(params)
    text, errors = _backtest(strategy, options)
    _warn(errors)
    return Report(json.loads(text), errors)


def _paths(data: Any) -> List[str]:
    import os

    if isinstance(data, (str, os.PathLike)):
        return [os.fspath(data)]
    return [os.fspath(d) for d in data]


class SweepReport:
    """A sweep's report, as ``scalper sweep --json``: ``metric``, ``rows`` (one per grid
    point in grid order: ``params``, ``metrics``, ``trades_hash``, ``error``) and ``folds``
    (walk-forward)."""

    def __init__(self, data: Dict[str, Any], strategy_errors: List[str]):
        self._data = data
        self.metric: str = data["metric"]
        self.rows: List[Dict[str, Any]] = data["rows"]
        self.folds: List[Dict[str, Any]] = data.get("folds", [])
        self.strategy_errors = list(strategy_errors)

    def to_dict(self) -> Dict[str, Any]:
        return dict(self._data)

    def to_pandas(self):
        """One row per grid point: its parameters, the metrics and the trade hash."""
        import pandas as pd

        rows = []
        for r in self.rows:
            row = {k: v for k, v in r["params"]}
            row.update(r.get("metrics") or {})
            row["trades_hash"] = r.get("trades_hash")
            row["error"] = r.get("error")
            rows.append(row)
        return pd.DataFrame(rows)

    def __repr__(self) -> str:
        return f"SweepReport(metric={self.metric!r}, rows={len(self.rows)}, folds={len(self.folds)})"


def sweep(
    data: Union[PathLike, Sequence[PathLike]],
    strategy: StrategyLike,
    grid: Dict[str, Sequence[Any]],
    *,
    params: Optional[Dict[str, Any]] = None,
    jobs: Optional[int] = None,
    metric: str = "sharpe",
    walk_forward: Optional[int] = None,
    executor: str = "local",
    address: Optional[str] = None,
    **options: Any,
) -> SweepReport:
    """Run ``strategy`` on every point of ``grid`` (``{"fast": [5, 10], "slow": [30]}``,
    first key varying slowest) as ``scalper sweep`` does: ``jobs`` threads (default: one per
    core), ranked by ``metric``; ``walk_forward=K`` for K folds. ``executor="ray"`` runs each
    grid point as a Ray task (``address``: the cluster, e.g. ``"127.0.0.1:6379"``; default:
    Ray's own lookup) with the same results. Other options as :func:`backtest`.
    """
    if params:
        options["params"] = dict(params)
    grid = {k: list(v) for k, v in grid.items()}
    if executor == "ray":
        from . import _ray

        return _ray.sweep(_paths(data), strategy, grid, metric, walk_forward, address, options)
    if executor != "local":
        raise ValueError(f'executor: {executor!r} is not "local" or "ray"')
    options["data"] = _paths(data)
    text, errors = _sweep(strategy, grid, options, jobs, metric, walk_forward)
    _warn(errors)
    return SweepReport(json.loads(text), errors)


class RunReport:
    """A live run's summary, as ``scalper run --json`` / ``scalper demo --json`` print it:
    ``trades``, ``wins``, ``losses``, ``pnl`` and ``max_drawdown`` (Decimal), ``quotes``,
    ``refusals``, ``halted``, ``ended``, ``positions_left``, ``paper``, ``currency``, ... (every
    key of :meth:`to_dict` is an attribute), plus ``strategy_errors``."""

    def __init__(self, data: Dict[str, Any], strategy_errors: List[str]):
        self._data = dict(data)
        for k in ("pnl", "max_drawdown", "broker_balance_change"):
            if isinstance(self._data.get(k), str):
                self._data[k] = Decimal(self._data[k])
        self.strategy_errors = list(strategy_errors)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["_data"][name]
        except KeyError:
            raise AttributeError(name) from None

    def to_dict(self) -> Dict[str, Any]:
        return dict(self._data)

    def __repr__(self) -> str:
        d = self._data
        return (
            f"RunReport(trades={d.get('trades')}, pnl={d.get('pnl')} {d.get('currency') or ''}, "
            f"ended={d.get('ended')!r}, positions_left={len(d.get('positions_left') or [])}"
            + (f", strategy_errors={len(self.strategy_errors)}" if self.strategy_errors else "")
            + ")"
        )


def demo(
    strategy: StrategyLike = "scalper",
    *,
    params: Optional[Dict[str, Any]] = None,
    duration: str = "60s",
    speed: float = 30.0,
    seed: int = 42,
    instruments: Optional[Sequence[str]] = None,
    paper: bool = False,
    journal: Optional[str] = None,
    on_error: str = "halt",
    engine_toml: Optional[str] = None,
) -> RunReport:
    """Run ``strategy`` against the built-in IG sandbox, as ``scalper demo`` does: the sandbox
    starts in this process (REST, streaming, a seeded market simulator at ``speed`` simulated
    seconds per second), the engine logs in through the real IG client and trades
    ``instruments`` (default EUR_USD, GBP_USD, USD_JPY) for ``duration`` (``"60s"``, ``"5m"``)
    through the live runtime, journaling to ``journal`` (a new file; default one in the
    temporary directory). ``paper=True`` fills on the sandbox's quotes without sending orders.
    Ctrl-C stops entries and closes positions; a second one ends the run at once."""
    text, errors = _demo(
        strategy,
        params=dict(params) if params else None,
        duration=duration,
        speed=speed,
        seed=seed,
        instruments=list(instruments) if instruments else None,
        paper=paper,
        journal=journal,
        on_error=on_error,
        engine_toml=engine_toml,
    )
    _warn(errors)
    return RunReport(json.loads(text), errors)


def run(
    strategy: StrategyLike = "scalper",
    *,
    params: Optional[Dict[str, Any]] = None,
    instruments: Optional[Sequence[str]] = None,
    duration: Optional[str] = None,
    paper: bool = True,
    live: bool = False,
    api_url: Optional[str] = None,
    journal: Optional[str] = None,
    equity: int = 10000,
    on_error: str = "halt",
    engine_toml: Optional[str] = None,
) -> RunReport:
    """Run ``strategy`` on IG through the live runtime, as ``scalper run`` does. Credentials
    come from ``IG_USERNAME``, ``IG_PASSWORD``, ``IG_API_KEY`` in the environment; ``IG_DEMO``
    unset or true means IG's demo gateway (``IG_API_URL`` or ``api_url`` for another URL, such
    as a ``scalper sandbox``). ``paper=True`` (the default) fills from live quotes without
    orders. A LIVE account needs both ``IG_DEMO=false`` and ``live=True``."""
    import os

    missing = [v for v in ("IG_USERNAME", "IG_PASSWORD", "IG_API_KEY") if not os.environ.get(v)]
    if missing:
        raise ScalperError("missing in the environment: " + ", ".join(missing))
    demo_env = os.environ.get("IG_DEMO", "true").strip().lower() not in ("false", "0", "no")
    text, errors = _run(
        strategy,
        username=os.environ["IG_USERNAME"],
        password=os.environ["IG_PASSWORD"],
        api_key=os.environ["IG_API_KEY"],
        params=dict(params) if params else None,
        instruments=list(instruments) if instruments else None,
        duration=duration,
        paper=paper,
        demo=demo_env,
        live=live,
        api_url=api_url or os.environ.get("IG_API_URL"),
        journal=journal,
        equity=equity,
        on_error=on_error,
        engine_toml=engine_toml,
    )
    _warn(errors)
    return RunReport(json.loads(text), errors)
