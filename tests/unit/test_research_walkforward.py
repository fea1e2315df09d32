"""Walk-forward: fold windows, per-fold selection, stitched equity, efficiency, stability, report."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from _research_toy import ToyBacktestJob, ToyWorkspace, WalkConfig, toy_sessions

from trading_playbook.core.errors import ConfigError
from trading_playbook.research.executors import LocalExecutor
from trading_playbook.research.optimize import OptimizeSettings
from trading_playbook.research.params import parse_params
from trading_playbook.research.store import TrialStore
from trading_playbook.research.trial import daily_returns
from trading_playbook.research.walkforward import (
    WalkForwardSettings,
    make_folds,
    parse_duration,
    walk_forward,
)


def test_parse_duration() -> None:
    assert parse_duration("3y").kwds == {"years": 3}
    assert parse_duration("18m").kwds == {"months": 18}
    for bad in ("", "3", "0y", "y", "3x", "-1y"):
        with pytest.raises(ConfigError):
            parse_duration(bad)


def test_rolling_folds_2003_2021_on_business_days() -> None:
    sessions = toy_sessions("1999-11-01", "2021-04-21")
    folds = make_folds(sessions, train="3y", test="1y", start="2003-01-01")
    # Test years 2006 .. 2020 and the partial 2021: 16 folds.
    assert len(folds) == 16
    assert (folds[0].train_start, folds[0].train_end) == ("2003-01-01", "2005-12-30")
    assert (folds[0].test_start, folds[0].test_end) == ("2006-01-02", "2006-12-29")
    assert (folds[-1].test_start, folds[-1].test_end) == ("2021-01-01", "2021-04-21")
    for a, b in itertools.pairwise(folds):
        # Test windows tile the range without overlap or gap; training ends before testing starts.
        assert a.test_end < b.test_start
        assert a.train_end < a.test_start
        assert np.busday_count(a.test_end, b.test_start) <= 1


def test_test_windows_are_the_calendar_years_asked_for() -> None:
    """Data starting after the start asked for must not shift the windows (it made a "1y" test window
    2017-01-03..2018-01-02 when the first session was 2014-01-03)."""
    from trading_playbook.data.calendar import xnys_sessions

    sessions = xnys_sessions("2014-01-03", "2020-12-31")
    folds = make_folds(sessions, train="3y", test="1y", start="2014-01-01")
    assert [(f.test_start, f.test_end) for f in folds] == [
        ("2017-01-03", "2017-12-29"),
        ("2018-01-02", "2018-12-31"),
        ("2019-01-02", "2019-12-31"),
        ("2020-01-02", "2020-12-31"),
    ]
    assert folds[0].train_start == "2014-01-03" and folds[0].train_end == "2016-12-30"


def test_anchored_folds_keep_start_and_step_differs() -> None:
    sessions = toy_sessions("2000-01-03", "2010-12-31")
    folds = make_folds(sessions, train="3y", test="1y", step="2y", anchored=True)
    assert {f.train_start for f in folds} == {"2000-01-03"}
    assert [f.test_start[:4] for f in folds] == ["2003", "2005", "2007", "2009"]


def test_no_fold_fits_is_an_error() -> None:
    with pytest.raises(ConfigError, match="no fold fits"):
        make_folds(toy_sessions("2010-01-01", "2011-06-30"), train="3y", test="1y")


def _walk(tmp_path: Path):  # type: ignore[no-untyped-def]
    specs = parse_params(["scanner.x=1:5:1"])
    settings = WalkForwardSettings(
        train="3y", test="1y", optimize=OptimizeSettings(method="grid", objective="sharpe", min_trades=30)
    )
    with TrialStore(tmp_path / "trials.sqlite") as store:
        return walk_forward(
            WalkConfig(),
            specs,
            settings,
            store=store,
            workspace=ToyWorkspace(toy_sessions()),
            executor=LocalExecutor(1),
            job=ToyBacktestJob(),
        )


def test_walk_forward_selects_per_fold_and_stitches_equity(tmp_path: Path) -> None:
    result = _walk(tmp_path)
    # Data 2010-2016, train 3y, test 1y: tests 2013, 2014, 2015, 2016.
    assert [f.fold.test_start[:4] for f in result.folds] == ["2013", "2014", "2015", "2016"]
    # The drift is 0.0004 x before 2013 and 0.0004 (6 - x) after. Training 2010-12: x = 5 best;
    # 2011-13: 2 years of x + 1 of (6 - x) -> 0.0004 (x + 6) -> x = 5; 2012-14: 0.0004 (12 - x) -> x = 1.
    assert [f.best_params["scanner.x"] for f in result.folds] == [5, 5, 1, 1]
    stitched = result.stitched
    runs = [f.test_run for f in result.folds]
    assert len(stitched.equity) == sum(len(r.equity) for r in runs)
    # Each test run started from the previous one's ending equity, so the stitched daily returns are
    # exactly the test runs' own returns, and the final equity is the last run's.
    stitched_returns, _ = daily_returns(stitched)
    np.testing.assert_allclose(
        stitched_returns, np.concatenate([daily_returns(r)[0] for r in runs]), rtol=1e-12
    )
    for previous, current in itertools.pairwise(runs):
        assert current.starting_capital == pytest.approx(previous.equity.equity[-1])
    assert stitched.equity.equity[-1] == runs[-1].equity.equity[-1]
    assert stitched.metrics["cagr"] is not None
    # Fold 1 chose x = 5 on 2010-12 but 2013 pays 0.0004 * 1: OOS CAGR well below IS CAGR.
    assert result.folds[0].efficiency is not None and result.folds[0].efficiency < 0.5
    stability = result.parameter_stability().iloc[0]
    assert (stability["distinct"], stability["changes"], stability["mode_share"]) == (2, 1, 0.5)


def test_walk_forward_report_files(tmp_path: Path) -> None:
    from trading_playbook.research.report import write_walkforward_report

    result = _walk(tmp_path)
    written = write_walkforward_report(result, tmp_path / "wf")
    text = written["md"].read_text()
    assert "Walk-forward efficiency" in text and "Parameter stability" in text
    assert (tmp_path / "wf" / "folds.csv").exists() and (tmp_path / "wf" / "folds.parquet").exists()
    assert (tmp_path / "wf" / "fold_00" / "report.md").exists()
    assert (tmp_path / "wf" / "oos" / "result.json").exists()


class _RecordingJob(ToyBacktestJob):
    """Records every window the trials and test runs ask for."""

    calls: list[tuple[str, str | None, str | None]] = []  # noqa: RUF012

    def run(self, state, task):  # type: ignore[no-untyped-def]
        self.calls.append(("trial", task.start, task.end))
        return super().run(state, task)

    def backtest(self, state, params, *, start, end, metrics=True):  # type: ignore[no-untyped-def]
        self.calls.append(("backtest", start, end))
        return super().backtest(state, params, start=start, end=end)


def test_fold_windows_never_look_past_their_end(tmp_path: Path) -> None:
    _RecordingJob.calls = []
    with TrialStore(tmp_path / "trials.sqlite") as store:
        result = walk_forward(
            WalkConfig(),
            parse_params(["scanner.x=1,5"]),
            WalkForwardSettings(train="3y", test="1y"),
            store=store,
            workspace=ToyWorkspace(toy_sessions()),
            executor=LocalExecutor(1),
            job=_RecordingJob(),
        )
    trial_windows = {(s, e) for kind, s, e in _RecordingJob.calls if kind == "trial"}
    # (Toy trials call backtest() too: keep the backtests that are not a trial's.)
    test_windows = [
        (s, e) for kind, s, e in _RecordingJob.calls if kind == "backtest" and (s, e) not in trial_windows
    ]
    # Every optimisation trial ran on exactly a fold's training window; every test run on its test window.
    assert trial_windows == {(f.fold.train_start, f.fold.train_end) for f in result.folds}
    assert test_windows == [(f.fold.test_start, f.fold.test_end) for f in result.folds]
    for f in result.folds:
        assert f.fold.train_end < f.fold.test_start
