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


def _unreachable(address: Optional[str]) -> Optional[str]:
    """Why nothing can be listening at ``HOST:PORT`` (Ray itself retries for minutes), or None
    (also for ``auto`` and other forms Ray resolves itself)."""
    import socket

    if not address or address == "auto" or "://" in address or ":" not in address:
        return None
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=5):
            return None
    except ValueError:
        return f"{address!r} is not HOST:PORT (e.g. 127.0.0.1:6379, the head's GCS port)"
    except OSError as e:
        return (
            f"no Ray cluster at {address}: {e.strerror or e} (start one with "
            f"`ray start --head --port={port}`, or give the head's address)"
        )


def serve(address: Optional[str]) -> int:
    """The Ray driver behind ``scalper sweep --ray ADDRESS`` (the CLI starts
    ``python -m scalper._ray --address ADDRESS``). One JSON line each way:

    - first, this process answers ``{"ready": true, "version": ..., "ray": ..., "cpus": ...}``
      once connected, or ``{"error": ...}`` and exits 1;
    - then, for each line ``{"strategy": NAME, "runs": [options_json, ...]}`` it runs every
      run as a Ray task and answers ``{"outcomes": [outcome_json, ...]}`` in the same order
      (or ``{"error": ...}`` for the batch), until stdin ends.

    Anything else the process prints (Ray's own messages) goes to stderr, which the CLI keeps
    for its error messages and debug log."""
    import sys

    # The protocol owns fd 1; everything else that writes to stdout lands on stderr.
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    def say(obj: Dict[str, Any]) -> None:
        out.write(json.dumps(obj) + "\n")
        out.flush()

    try:
        import ray
    except ImportError:
        say({"error": f"the Python at {sys.executable} has no Ray: pip install \"ray[default]\""})
        return 1
    from . import __version__

    problem = _unreachable(address)
    if problem:
        say({"error": problem})
        return 1
    try:
        ray.init(address=address, log_to_driver=False, logging_level="warning")
        cpus = ray.cluster_resources().get("CPU", 0)
    except Exception as e:  # Ray raises ConnectionError, RuntimeError, ... by case
        say({"error": f"connecting to the Ray cluster at {address or '(auto)'}: {e}"})
        return 1
    say({"ready": True, "version": __version__, "ray": ray.__version__, "cpus": cpus})
    point = _remote()
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            batch = json.loads(line)
            strategy = batch["strategy"]
            runs = batch["runs"]
            outcomes = ray.get([point.remote(strategy, r) for r in runs])
            say({"outcomes": outcomes})
        except Exception as e:  # one failed batch is reported, the driver carries on
            say({"error": f"{type(e).__name__}: {e}"})
    ray.shutdown()
    return 0


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(prog="python -m scalper._ray")
    parser.add_argument("--address", default=None, help="the Ray cluster, e.g. 127.0.0.1:6379")
    raise SystemExit(serve(parser.parse_args().address))
