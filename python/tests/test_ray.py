"""scalper.sweep(executor="ray"): a Ray head started on loopback, each backtest a Ray task,
the same report as the local sweep (built-in and Python strategies, walk-forward too)."""

import json
import os
import shutil
import socket
import subprocess
import sys

import pytest

import scalper
from conftest import scalper_bin
from strategies import EmaCross

ray = pytest.importorskip("ray")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def head(tmp_path_factory):
    bin_dir = os.path.dirname(sys.executable)
    ray_cli = os.path.join(bin_dir, "ray") if os.path.exists(os.path.join(bin_dir, "ray")) else shutil.which("ray")
    port = _free_port()
    env = dict(os.environ)
    # The workers import the tests' strategies module (the class is pickled by reference).
    env["PYTHONPATH"] = os.pathsep.join(
        [os.path.dirname(__file__)] + [p for p in [env.get("PYTHONPATH")] if p]
    )
    tmp = str(tmp_path_factory.mktemp("ray"))
    cmd = [
        ray_cli, "start", "--head", "--node-ip-address=127.0.0.1", f"--port={port}",
        "--num-cpus=2", "--include-dashboard=false", "--disable-usage-stats",
        f"--temp-dir={tmp}",
    ]
    # `ray start` returns once the head is up (or fails): no sleeping here.
    subprocess.run(cmd, check=True, env=env, timeout=180, capture_output=True)
    address = f"127.0.0.1:{port}"
    try:
        yield address
    finally:
        if ray.is_initialized():
            ray.shutdown()
        subprocess.run([ray_cli, "stop"], env=env, timeout=120, capture_output=True)


def _rows(report):
    return [(r["params"], r["trades_hash"], r["metrics"], r["error"]) for r in report.rows]


def test_ray_sweep_equals_the_local_one(head, quotes):
    grid = {"fast": [5, 10], "slow": [20, 40]}
    local = scalper.sweep(quotes, "ema-cross", grid, jobs=2)
    remote = scalper.sweep(quotes, "ema-cross", grid, executor="ray", address=head)
    assert _rows(remote) == _rows(local)
    assert remote.metric == local.metric
    # A Python strategy runs in the workers too, with the built-in's hashes.
    py = scalper.sweep(quotes, EmaCross, grid, executor="ray", address=head)
    assert [r["trades_hash"] for r in py.rows] == [r["trades_hash"] for r in local.rows]
    # Walk-forward: every fold's runs are Ray tasks; folds as the local sweep's.
    wl = scalper.sweep(quotes, "ema-cross", grid, jobs=2, walk_forward=2)
    wr = scalper.sweep(quotes, "ema-cross", grid, executor="ray", address=head, walk_forward=2)
    assert wr.folds == wl.folds and len(wr.folds) == 2


def _cli(*args):
    return subprocess.run([scalper_bin(), *args], capture_output=True, text=True, timeout=600)


def test_cli_sweep_on_ray_equals_the_local_one(head, quotes):
    grid = ["--grid", "fast=5,10", "--grid", "slow=20,40"]
    common = ["sweep", "--data", quotes, "--strategy", "ema-cross", *grid, "--json"]
    ray_args = ["--ray", head, "--python", sys.executable]
    local = _cli(*common)
    remote = _cli(*common, *ray_args)
    assert local.returncode == 0, local.stderr
    assert remote.returncode == 0, remote.stderr
    assert "connected to Ray" in remote.stderr
    # Byte for byte: the same rows, metrics (floats included), hashes and ranking.
    assert remote.stdout == local.stdout
    assert len(json.loads(remote.stdout)["rows"]) == 4
    wl = _cli(*common, "--walk-forward", "2")
    wr = _cli(*common, "--walk-forward", "2", *ray_args)
    assert wr.returncode == 0, wr.stderr
    assert wr.stdout == wl.stdout and len(json.loads(wr.stdout)["folds"]) == 2


def test_cli_sweep_on_ray_says_what_is_missing(quotes, tmp_path):
    common = ["sweep", "--data", quotes, "--strategy", "ema-cross", "--grid", "fast=5,10"]
    # Nothing listens there: refused at once with how to start a head, not after Ray's retries.
    nobody = _cli(*common, "--ray", f"127.0.0.1:{_free_port()}", "--python", sys.executable)
    assert nobody.returncode == 2
    assert "no Ray cluster at 127.0.0.1:" in nobody.stderr and "ray start --head" in nobody.stderr
    # A Python without the package (an empty venv): told how to install it.
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    missing = _cli(*common, "--ray", "127.0.0.1:1", "--python", str(bare / "bin" / "python"))
    assert missing.returncode == 2
    assert "has no scalper package" in missing.stderr and "pip install ./python" in missing.stderr
    gone = _cli(*common, "--ray", "127.0.0.1:1", "--python", str(tmp_path / "no-python"))
    assert gone.returncode == 2 and "was not found" in gone.stderr
