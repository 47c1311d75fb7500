"""Shared fixtures: one synthetic benchmark file (as `scalper synth` writes it) per session."""

import pytest

import scalper


@pytest.fixture(scope="session")
def quotes(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "eurusd.csv"
    scalper.synth(str(path), quotes=200_000, seed=7)
    return str(path)
