"""The golden result: the canonical shared-data run pinned figure by figure (issue 9, point 13).

The canonical configuration is ``examples/sp500_breakout.toml``: the shared S&P 500 data
(split-adjusted, 2000-01-03 .. 2021-04-21), the ``moderate`` breakout preset, ``smart_exits``,
``percent_equity`` over 10 positions, next-open entries, exits at the close, 5 bp slippage. Both
engines run it through the facade (``engine.run_backtest``) and must reproduce the pinned trade count,
final equity, total return, CAGR, Sharpe, max drawdown, the count of every exit reason and a few
trades field by field (first, middle, last).

Parity between the two engines cannot catch a change made to both at once; this can. A change of
this result must be deliberate and reviewed, through the update path:

    PLAYBOOK_UPDATE_GOLDEN=1 .venv/bin/pytest tests/regression/test_golden.py

rewrites ``tests/regression/golden/sp500_breakout.json`` from the fast engine's run (the test still
requires the reference engine to agree), and the diff of that file is what the reviewer reads. Say
in the commit why the result changed.

Issue 17 (a close entry that cash cannot pay frees its slot) concerns ``entry_fill = "close"``
only: this run uses next-open entries, so that decision left it unchanged.

Integers, dates and reasons compare exactly; floats to a relative 1e-12 (the engines are
deterministic; the tolerance only absorbs last-bit differences of numpy's summation between
builds, never a change of a trade).
"""

from __future__ import annotations

import collections
import json
import os
from pathlib import Path
from typing import Any

import pytest
from fast_fixtures import DATA

from trading_playbook.config import load_config
from trading_playbook.core.types import RunResult
from trading_playbook.engine import Workspace, load_data, run_backtest

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "examples" / "sp500_breakout.toml"
GOLDEN = Path(__file__).resolve().parent / "golden" / "sp500_breakout.json"
UPDATE = os.environ.get("PLAYBOOK_UPDATE_GOLDEN") == "1"
REL = 1e-12
HEADLINE = ("trades", "final_equity", "total_return", "cagr", "sharpe", "max_drawdown")
TRADE_FIELDS = (
    "symbol",
    "entry_date",
    "exit_date",
    "entry_price",
    "exit_price",
    "shares",
    "exit_reason",
    "pnl",
    "sessions_held",
    "mfe",
    "mae",
)


def summary(result: RunResult) -> dict[str, Any]:
    """What the golden file pins of one run."""
    trades = result.trades
    picks = sorted({0, len(trades) // 2, len(trades) - 1}) if trades else []
    return {
        "config": CONFIG.relative_to(REPO).as_posix(),
        "first_session": result.data["first_session"],
        "last_session": result.data["last_session"],
        **{key: result.metrics[key] for key in HEADLINE},
        "exit_reasons": dict(sorted(collections.Counter(t.exit_reason for t in trades).items())),
        "sample_trades": [
            {"index": i, **{key: trades[i].to_dict()[key] for key in TRADE_FIELDS}} for i in picks
        ],
    }


@pytest.fixture(scope="module")
def workspace() -> tuple[Any, Workspace]:
    if not DATA.exists():
        pytest.skip(f"shared data not found at {DATA}")
    cfg = load_config(CONFIG).with_overrides({"data.path": str(DATA.resolve())})
    return cfg, load_data(cfg)


def differences(got: Any, want: Any, where: str = "") -> list[str]:
    """Every place where ``got`` differs from ``want`` (floats within ``REL``)."""
    if isinstance(want, dict) and isinstance(got, dict):
        out = [f"{where}.{k}: missing" for k in want if k not in got]
        out += [f"{where}.{k}: unexpected {got[k]!r}" for k in got if k not in want]
        for key in sorted(want.keys() & got.keys()):
            out += differences(got[key], want[key], f"{where}.{key}")
        return out
    if isinstance(want, list) and isinstance(got, list):
        if len(got) != len(want):
            return [f"{where}: {len(got)} items, golden has {len(want)}"]
        return [
            d
            for i, (g, w) in enumerate(zip(got, want, strict=True))
            for d in differences(g, w, f"{where}[{i}]")
        ]
    if isinstance(want, float) and isinstance(got, float) and got == pytest.approx(want, rel=REL):
        return []
    return [] if got == want else [f"{where}: {got!r}, golden {want!r}"]


@pytest.mark.parametrize("engine", ["fast", "reference"])
def test_canonical_run_matches_the_golden_file(workspace: tuple[Any, Workspace], engine: str) -> None:
    cfg, ws = workspace
    got = summary(run_backtest(cfg, workspace=ws, engine=engine))
    if UPDATE and engine == "fast":
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(json.dumps(got, indent=2) + "\n", encoding="utf-8")
    want = json.loads(GOLDEN.read_text(encoding="utf-8"))
    found = differences(got, want)
    assert not found, (
        f"the {engine} engine's canonical run differs from {GOLDEN.name} (if intended, rerun with "
        "PLAYBOOK_UPDATE_GOLDEN=1 and explain the change in the commit):\n" + "\n".join(found)
    )
