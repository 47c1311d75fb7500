"""Type stubs of the native module (PyO3). Use the names re-exported by ``scalper``."""

from decimal import Decimal
from typing import Any, Dict, List, Optional, Tuple, Union

__version__: str

Amount = Union[int, str, Decimal]

class ScalperError(Exception):
    """A backtest, sweep or run could not be made (data, options, configuration)."""

class Quote:
    """A quote. ``mid``, ``bid``, ``offer`` are floats for indicators (``mid`` is the f64 the
    Rust strategies use, bit for bit); ``time`` is epoch ms; the ``*_decimal`` ones are exact."""

    mid: float
    bid: float
    offer: float
    time: int
    @property
    def bid_decimal(self) -> Decimal: ...
    @property
    def offer_decimal(self) -> Decimal: ...

class Bar:
    """A completed bar: ``open``, ``high``, ``low``, ``close`` (floats), ``start`` and
    ``period_ms`` in ms."""

    open: float
    high: float
    low: float
    close: float
    start: int
    period_ms: int

class Fill:
    """One of the instrument's positions opened (``closing`` False) or closed."""

    direction: str
    time: int
    closing: bool
    @property
    def size(self) -> Decimal: ...
    @property
    def level(self) -> Decimal: ...

class Context:
    """What a strategy may know besides the data."""

    time: int
    open_trades: int
    epic: str
    @property
    def position(self) -> Optional[str]:
        """``"BUY"``, ``"SELL"`` or ``None`` (flat): the net side of open positions."""

class Enter:
    """Open a position. Without ``size`` risk sizes it from ``stop`` (points)."""

    def __init__(
        self,
        direction: str,
        *,
        size: Optional[Amount] = None,
        stop: Optional[Amount] = None,
        limit: Optional[Amount] = None,
        trailing: Optional[Amount] = None,
        max_hold_ms: Optional[int] = None,
        reason: Optional[str] = None,
        guaranteed: bool = False,
        trailing_increment: Optional[Amount] = None,
    ) -> None:
        """``trailing``: an engine-managed trailing stop (points); ``guaranteed``: a
        guaranteed stop at ``stop``; ``trailing_increment``: IG's own trailing stop starting at
        ``stop`` and moving in steps of this many points."""
    @property
    def direction(self) -> str: ...
    @property
    def reason(self) -> str: ...
    @property
    def guaranteed(self) -> bool: ...

class Exit:
    """Close the instrument's positions of ``direction`` (all when ``None``)."""

    def __init__(self, direction: Optional[str] = None, *, reason: Optional[str] = None) -> None: ...

class Reduce:
    """Close ``fraction`` (0 < fraction < 1) of each position of ``direction`` (all when
    ``None``), rounded down to the market's size step."""

    def __init__(
        self, fraction: Amount, direction: Optional[str] = None, *, reason: Optional[str] = None
    ) -> None: ...

def strategy_names() -> List[str]:
    """The built-in strategies, then those registered in this process."""

def synth(
    out: str, quotes: int, seed: int = 1, instrument: str = "EUR_USD", ig_scaled: bool = False
) -> None:
    """Writes synthetic quotes from the sandbox's simulator, as ``scalper synth`` does."""

def _backtest(strategy: Any, options: Dict[str, Any]) -> Tuple[str, List[str]]: ...
def _sweep(
    strategy: Any,
    grid: Dict[str, List[Any]],
    options: Dict[str, Any],
    jobs: Optional[int] = None,
    metric: Optional[str] = None,
    walk_forward: Optional[int] = None,
    runner: Optional[Any] = None,
) -> Tuple[str, List[str]]: ...
def _demo(
    strategy: Any,
    *,
    params: Optional[Dict[str, Any]] = None,
    duration: str = "60s",
    speed: float = 30.0,
    seed: int = 42,
    instruments: Optional[List[str]] = None,
    paper: bool = False,
    journal: Optional[str] = None,
    on_error: str = "halt",
    engine_toml: Optional[str] = None,
) -> Tuple[str, List[str]]: ...
def _run(
    strategy: Any,
    *,
    username: str,
    password: str,
    api_key: str,
    params: Optional[Dict[str, Any]] = None,
    instruments: Optional[List[str]] = None,
    duration: Optional[str] = None,
    paper: bool = True,
    demo: bool = True,
    live: bool = False,
    api_url: Optional[str] = None,
    journal: Optional[str] = None,
    equity: int = 10000,
    on_error: str = "halt",
    engine_toml: Optional[str] = None,
) -> Tuple[str, List[str]]: ...
def _run_point(strategy: Any, options: str) -> str: ...
