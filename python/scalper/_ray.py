"""Sweeps on a Ray cluster: every backtest of the sweep (each grid point, and in walk-forward
each fold's grid points and its out-of-sample run) is one Ray task running the Rust engine in a
worker; the strategy (a name, or a Python class shipped through Ray's object store) is
registered there first. Data files are shared by path (absolute: the workers must see the same
files, as on one machine or a shared file system). Ranking and folds are computed by the same
Rust code as the local sweep, so the report is identical."""

from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Optional


def _remote():
    import ray

    @ray.remote
    def point(strategy: Any, options_json: str) -> str:
        from scalper import _scalper

        return _scalper._run_point(strategy, options_json)

    return point


def sweep(
    data: List[str],
    strategy: Any,
    grid: Dict[str, List[Any]],
    metric: str,
    walk_forward: Optional[int],
    address: Optional[str],
    options: Dict[str, Any],
):
    try:
        import ray
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError('executor="ray" needs Ray: pip install "ray[default]"') from e
    from . import SweepReport, _warn
    from ._scalper import _sweep

    if not ray.is_initialized():
        ray.init(address=address, log_to_driver=False, logging_level="warning")
    point = _remote()
    shared = ray.put(strategy)

    def runner(runs: List[str]) -> List[str]:
        return ray.get([point.remote(shared, r) for r in runs])

    options["data"] = [os.path.abspath(p) for p in data]
    text, errors = _sweep(strategy, grid, options, None, metric, walk_forward, runner=runner)
    _warn(errors)
    return SweepReport(json.loads(text), errors)
