"""Shared fixtures: one synthetic benchmark file (as `scalper synth` writes it) per session."""

import os

import pytest

import scalper


@pytest.fixture(scope="session")
def quotes(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "eurusd.csv"
    scalper.synth(str(path), quotes=200_000, seed=7)
    return str(path)


def scalper_bin():
    """The CLI binary `cargo test`/`cargo build` left (`SCALPER_BIN` overrides)."""
    explicit = os.environ.get("SCALPER_BIN")
    if explicit:
        return explicit
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(root, "target")
    path = os.path.join(target, "debug", "scalper")
    assert os.path.exists(path), f"build the CLI first (cargo build -p scalper-cli): {path}"
    return path
