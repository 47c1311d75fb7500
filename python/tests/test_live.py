"""scalper.demo and scalper.run: a Python strategy through the live runtime against the
in-process IG sandbox and against a `scalper sandbox` process reached as IG is (orders and paper
fills); a failing one stops entries and leaves nothing open."""

import json
import subprocess
import time
import urllib.request

import pytest
from decimal import Decimal

import scalper
from conftest import scalper_bin
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


@pytest.fixture
def sandbox_process(tmp_path):
    """`scalper sandbox` on a free port, at 60x; yields its REST base URL."""
    proc = subprocess.Popen(
        [scalper_bin(), "--log-dir", str(tmp_path / "logs"), "sandbox", "--port", "0",
         "--speed", "60", "--always-open"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    url = None
    deadline = time.monotonic() + 60
    try:
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            if "REST base URL:" in line:
                url = line.split("REST base URL:", 1)[1].strip()
        assert url, "the sandbox did not print its URL"
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _balance(url):
    admin = url.replace("/gateway/deal", "/sandbox/state")
    with urllib.request.urlopen(admin, timeout=10) as r:
        state = json.load(r)
    (cfd,) = [a for a in state["accounts"] if a["accountId"] == "SANDBOX-CFD"]
    return Decimal(cfd["balance"])


def test_run_trades_on_ig_as_a_sandbox_process_and_says_why_a_login_fails(
    sandbox_process, monkeypatch, tmp_path
):
    monkeypatch.setenv("IG_API_URL", sandbox_process)
    monkeypatch.setenv("IG_USERNAME", "sandbox")
    monkeypatch.setenv("IG_API_KEY", "sandbox-api-key")
    monkeypatch.delenv("IG_DEMO", raising=False)
    # A wrong password: the reason IG gave and what to check, not just "logging in".
    monkeypatch.setenv("IG_PASSWORD", "not-the-password")
    with pytest.raises(scalper.ScalperError, match="error.security.invalid-details"):
        scalper.run(EmaCross, duration="5s", journal=str(tmp_path / "bad.sqlite"))
    monkeypatch.setenv("IG_PASSWORD", "sandbox-pass")
    before = _balance(sandbox_process)
    r = scalper.run(
        EmaCross,
        params={"fast": 2, "slow": 4},
        duration="8s",
        paper=False,
        instruments=["EUR_USD"],
        journal=str(tmp_path / "j.sqlite"),
    )
    assert r.trades > 0 and r.paper is False, r
    assert r.positions_left == [] and r.strategy_errors == []
    # Every trade went through IG's REST API: the broker's books agree to the penny.
    assert _balance(sandbox_process) - before == r.pnl
