"""The shipped examples run as documented."""

from __future__ import annotations

import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from trading_playbook import BacktestEngine, get_scanner
from trading_playbook.core.errors import SimulationError
from trading_playbook.data import synthetic_bars

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_python_exit_example_runs_on_the_reference_engine() -> None:
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / "python_exit.py")],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    assert "trades, total return" in out.stdout
    assert "GIVEBACK" in out.stdout  # the user's own exit reason reached the trades


def test_the_fast_engine_refuses_a_python_exit_with_a_hint() -> None:
    module = runpy.run_path(str(EXAMPLES / "python_exit.py"))  # registers the exit (not __main__)
    bars = synthetic_bars(n_symbols=4, start="2015-01-01", end="2016-12-31", seed=2)
    engine = BacktestEngine(
        scanner=get_scanner("daily_breakout", preset="relaxed"),
        exit_strategy=module["ProfitOrGiveback"](),
        data=bars,
        engine="fast",
    )
    with pytest.raises(SimulationError, match="reference"):
        engine.run()
