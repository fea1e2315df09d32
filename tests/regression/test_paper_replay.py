"""Replay proves the engine: a fresh account stepped session by session, its state saved to the journal
and read back between every two sessions, equals ``playbook backtest --engine fast`` (issue 10, point 5).

On the shared S&P 500 data (a 48-symbol slice to keep CI short; ``benchmarks/replay_check.py`` runs
the full data and range on demand): every built-in exit with both fill modes, 2007, and a two-sleeve
config over 2006-2007 through the CLI (result.json, reports, run registry). Trades must be identical
and equity within 1e-9 relative (in practice bit for bit).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from _paper_data import subset_file, write_config
from typer.testing import CliRunner

from trading_playbook.cli import app
from trading_playbook.config import load_config
from trading_playbook.core.exits.spec import NAMED_EXITS
from trading_playbook.engine import load_data, run_backtest
from trading_playbook.history import list_runs
from trading_playbook.paper.replay import replay

REL = 1e-9
FILLS = {"next_open/close": ("next_open", "close"), "close/next_open": ("close", "next_open")}


def _close(a: float, b: float) -> bool:
    return a == b or abs(a - b) <= REL * max(abs(a), abs(b))


def assert_same(replayed, fast) -> None:  # type: ignore[no-untyped-def]
    assert len(replayed.trades) == len(fast.trades)
    for a, b in zip(replayed.trades, fast.trades, strict=True):
        da, db = a.to_dict(), b.to_dict()
        for key, value in da.items():
            if isinstance(value, float):
                assert _close(value, db[key]), (a.symbol, a.entry_date, key, value, db[key])
            else:
                assert value == db[key], (a.symbol, a.entry_date, key, value, db[key])
    for name in ("equity", "cash", "exposure"):
        x, y = getattr(replayed.equity, name), getattr(fast.equity, name)
        assert np.allclose(x, y, rtol=REL, atol=0.0), name
    np.testing.assert_array_equal(replayed.equity.positions, fast.equity.positions)
    np.testing.assert_array_equal(replayed.equity.dates, fast.equity.dates)
    for sleeve, values in fast.equity.sleeve_equity.items():
        assert np.allclose(replayed.equity.sleeve_equity[sleeve], values, rtol=REL, atol=0.0)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return subset_file(str(tmp_path_factory.getbasetemp() / "paper-data"))


@pytest.mark.parametrize("fills", sorted(FILLS))
@pytest.mark.parametrize("exit_name", sorted(NAMED_EXITS))
def test_replay_equals_the_fast_backtest(data: Path, tmp_path: Path, exit_name: str, fills: str) -> None:
    entry_fill, exit_fill = FILLS[fills]
    config = write_config(
        tmp_path / "cfg.toml", data, start="2007-01-01", end="2007-12-31", exit_name=exit_name,
        entry_fill=entry_fill, exit_fill=exit_fill, max_positions=6,
    )  # fmt: skip
    cfg = load_config(config)
    workspace = load_data(cfg)
    fast = run_backtest(cfg, workspace=workspace, engine="fast", metrics=False)
    replayed = replay(cfg, tmp_path / "out", workspace=workspace).result
    assert len(fast.trades) >= 15  # the configuration really trades
    assert replayed.engine == "replay"
    assert_same(replayed, fast)


def test_two_sleeves_through_the_cli(data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLAYBOOK_HOME", str(tmp_path / "home"))
    config = write_config(tmp_path / "cfg.toml", data, start="2006-01-01", end="2007-12-31", sleeves=True)
    out = tmp_path / "replay"
    result = CliRunner().invoke(app, ["paper", "replay", str(config), "--out", str(out), "--no-charts"])
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "result.json").read_text())
    assert doc["engine"] == "replay" and (out / "report.md").is_file() and (out / "journal.sqlite").is_file()
    (run,) = list_runs()
    assert run.engine == "replay"
    fast = run_backtest(load_config(config), engine="fast")
    assert {t["sleeve"] for t in doc["trades"]} == {"smart", "scaled"}
    assert len(doc["trades"]) == len(fast.trades) >= 30
    expected = json.loads(
        json.dumps([t.to_dict() for t in sorted(fast.trades, key=lambda t: (t.entry_date, t.symbol))])
    )
    assert doc["trades"] == expected
    assert [row["equity"] for row in doc["equity"]] == fast.equity.equity.tolist()
    assert doc["sleeve_equity"]["scaled"] == fast.equity.sleeve_equity["scaled"].tolist()
    assert doc["metrics"]["total_return"] == pytest.approx(fast.metrics["total_return"], rel=1e-12)
    # a replay never overwrites a journal
    again = CliRunner().invoke(app, ["paper", "replay", str(config), "--out", str(out), "--no-charts"])
    assert again.exit_code != 0 and "exists" in str(again.exception)
