"""A sweep's trial on the records-only path (``engine.run_trial``: the kernel's records, no ``Trade``
objects) gives exactly the metrics and daily returns of the full path (``run_backtest`` then
``trial_metrics``), for every kind of run a trial can be."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from trading_playbook.config import parse_config
from trading_playbook.engine import load_data, run_backtest, run_trial
from trading_playbook.research.executors import TrialTask
from trading_playbook.research.trial import BacktestJob, daily_returns, trial_metrics

DATA = {"source": "synthetic", "synthetic_symbols": 12, "start": "2012-01-01", "end": "2018-12-31"}
BASE: dict[str, Any] = {
    "data": DATA,
    "scanner": {"name": "daily_breakout", "preset": "relaxed"},
    "exit": {"name": "smart_exits"},
    "portfolio": {"max_positions": 4},
}
TWO_SLEEVES: dict[str, Any] = {
    "data": DATA,
    "portfolio": {"max_positions": 3, "commission_per_order": 1.0},
    "sleeves": [
        {
            "name": "smart",
            "weight": 0.5,
            "scanner": {"name": "daily_breakout", "preset": "relaxed"},
            "exit": {"name": "smart_exits"},
        },
        {
            "name": "scaled",
            "weight": 0.5,
            "scanner": {"name": "daily_breakout", "preset": "very_relaxed"},
            "exit": {"name": "scaled_exits"},
        },
    ],
}


@pytest.fixture(scope="module")
def workspace() -> Any:
    return load_data(parse_config(BASE))


def _same(a: dict[str, float], b: dict[str, float]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert (math.isnan(a[key]) and math.isnan(b[key])) or a[key] == b[key], key


CASES = [
    pytest.param(BASE, {}, None, None, id="smart_exits"),
    pytest.param(BASE, {"exit.hard_stop": 0.04, "exit.time_stop": 6}, None, None, id="exit_params"),
    pytest.param({**BASE, "exit": {"name": "scaled_exits"}}, {}, None, None, id="scaled_exits_partials"),
    pytest.param(
        {**BASE, "portfolio": {"max_positions": 4, "entry_fill": "close", "exit_fill": "next_open"}},
        {"portfolio.commission_per_share": 0.01},
        "2014-03-01",
        "2017-06-30",
        id="fills_costs_window",
    ),
    pytest.param(TWO_SLEEVES, {}, None, None, id="two_sleeves"),
]


@pytest.mark.parametrize(("config", "params", "start", "end"), CASES)
def test_records_only_trial_equals_the_full_path(
    workspace: Any, config: dict[str, Any], params: dict[str, Any], start: str | None, end: str | None
) -> None:
    cfg = parse_config(config)
    job = BacktestJob(config=cfg, workspace=workspace)
    outcome = job.run(workspace, TrialTask(index=0, params=params, start=start, end=end))
    full = run_backtest(cfg.with_overrides(params), workspace=workspace, start=start, end=end, metrics=False)
    assert len(full.trades) > 5
    _same(outcome.metrics, trial_metrics(full))
    returns, dates = daily_returns(full)
    assert np.array_equal(outcome.returns, returns) and np.array_equal(outcome.dates, dates)
    run = run_trial(cfg.with_overrides(params), workspace=workspace, start=start, end=end)
    assert run is not None
    assert run.pnl.tolist() == [t.pnl for t in full.trades]
    assert run.pnl_pct.tolist() == [t.pnl_pct for t in full.trades]
    assert run.r_multiple.tolist() == [t.r_multiple for t in full.trades]


def test_a_trial_without_trades_has_the_full_paths_metrics(workspace: Any) -> None:
    cfg = parse_config({**BASE, "scanner": {"name": "daily_breakout", "preset": "default", "min_price": 1e9}})
    outcome = BacktestJob(config=cfg, workspace=workspace).run(workspace, TrialTask(index=0, params={}))
    full = run_backtest(cfg, workspace=workspace, metrics=False)
    assert full.trades == [] and outcome.metrics["trades"] == 0.0
    _same(outcome.metrics, trial_metrics(full))


def test_the_reference_engine_takes_the_full_path(workspace: Any) -> None:
    cfg = parse_config(BASE)
    job = BacktestJob(config=cfg, workspace=workspace, engine="reference")
    assert job.trial_run(workspace, {}) is None
    outcome = job.run(workspace, TrialTask(index=0, params={}, start="2016-01-01"))
    full = run_backtest(cfg, workspace=workspace, start="2016-01-01", engine="reference", metrics=False)
    _same(outcome.metrics, trial_metrics(full))
