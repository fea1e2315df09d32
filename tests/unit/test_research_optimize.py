"""optimize(): ranking, eligibility, SQLite store, resume after an interruption, random and TPE."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _research_toy import FakeConfig, ToyJob

from trading_playbook.research.executors import LocalExecutor, TrialJob, TrialOutcome, TrialTask
from trading_playbook.research.optimize import OptimizeSettings, objective_value, optimize
from trading_playbook.research.params import parse_params
from trading_playbook.research.store import TrialStore

SPECS = parse_params(["a.x=1:5:1", "exit.y=0:1:0.25"])


def _run(tmp_path: Path, settings: OptimizeSettings, executor=None):  # type: ignore[no-untyped-def]
    with TrialStore(tmp_path / "trials.sqlite") as store:
        return optimize(
            FakeConfig(), SPECS, settings, store=store, executor=executor or LocalExecutor(1), job=ToyJob()
        )


def test_objective_value_eligibility() -> None:
    assert objective_value({"trades": 30.0, "sharpe": 1.5}, "sharpe", 30) == 1.5
    assert objective_value({"trades": 29.0, "sharpe": 1.5}, "sharpe", 30) is None
    assert objective_value({"trades": 40.0, "sharpe": float("nan")}, "sharpe", 30) is None
    assert objective_value({"sharpe": 1.0}, "sharpe", 0) is None  # no trade count: ineligible


def test_grid_ranks_best_first_and_ineligible_last(tmp_path: Path) -> None:
    result = _run(tmp_path, OptimizeSettings(method="grid", objective="sharpe", min_trades=30))
    table = result.table
    assert len(table) == 25 and list(table["rank"]) == list(range(1, 26))
    # Maximum of -(x-3)^2 - (y-0.5)^2 over the grid: x = 3, y = 0.5.
    assert result.best_params == {"a.x": 3, "exit.y": 0.5}
    assert table.iloc[0]["objective"] == 0.0
    # x == 1 has 5 trades < 30: its five trials are ranked last, although -4 - ... beats x=5's values?
    # (x=5 gives -4 - ..., equal to x=1, so eligibility alone decides.)
    assert set(table.tail(5)["a.x"]) == {1}
    assert not table.tail(5)["eligible"].any()
    assert result.dsr is not None and 0.0 <= result.dsr.dsr <= 1.0
    assert result.dsr.n_trials == 25
    assert result.pbo is not None and result.pbo.n_blocks == 16
    assert result.returns.shape == (200, 25)


def test_store_records_every_trial(tmp_path: Path) -> None:
    result = _run(tmp_path, OptimizeSettings())
    with TrialStore(tmp_path / "trials.sqlite") as store:
        trials = store.trials(result.study)
    assert len(trials) == 25
    assert {tuple(sorted(t.params.items())) for t in trials} == {
        tuple(sorted(p.items()))
        for p in [
            dict(zip(["a.x", "exit.y"], r, strict=True))
            for r in result.table[["a.x", "exit.y"]].itertuples(index=False)
        ]
    }
    assert all(t.returns.shape == (200,) and t.dates.dtype == np.dtype("datetime64[D]") for t in trials)


class _Interrupting:
    """An executor that stops (like Ctrl-C) after ``after`` outcomes (counted across runs)."""

    workers = 1

    def __init__(self, after: int) -> None:
        self.after = after
        self.inner = LocalExecutor(1)

    def run(self, job: TrialJob, tasks: Sequence[TrialTask]) -> Iterator[TrialOutcome]:
        for outcome in self.inner.run(job, tasks):
            if self.after == 0:
                raise KeyboardInterrupt
            self.after -= 1
            yield outcome

    def close(self) -> None:
        self.inner.close()


def test_interrupted_run_resumes_where_it_stopped(tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path / "a", OptimizeSettings(), executor=_Interrupting(after=9))
    resumed = _run(tmp_path / "a", OptimizeSettings())
    assert resumed.trials_resumed == 9 and resumed.trials_run == 16
    fresh = _run(tmp_path / "b", OptimizeSettings())
    cols = ["trial", "a.x", "exit.y", "objective"]
    pd.testing.assert_frame_equal(resumed.table[cols], fresh.table[cols])
    # A third run finds everything done and runs nothing.
    again = _run(tmp_path / "a", OptimizeSettings())
    assert again.trials_run == 0 and again.trials_resumed == 25


def test_random_draws_subset_and_is_reproducible(tmp_path: Path) -> None:
    first = _run(tmp_path / "a", OptimizeSettings(method="random", trials=8, seed=5))
    second = _run(tmp_path / "b", OptimizeSettings(method="random", trials=8, seed=5))
    assert len(first.table) == 8
    pd.testing.assert_frame_equal(first.table[["a.x", "exit.y"]], second.table[["a.x", "exit.y"]])


def test_tpe_uses_optuna_sqlite_and_resumes(tmp_path: Path) -> None:
    settings = OptimizeSettings(method="tpe", trials=12, seed=1)
    result = _run(tmp_path, settings)
    assert (tmp_path / "optuna.sqlite").exists()
    assert 1 <= len(result.table) <= 12  # repeated suggestions are not run twice
    assert result.best_params is not None
    assert result.best_params["a.x"] in (1, 2, 3, 4, 5)
    more = _run(tmp_path, settings)
    assert more.trials_run == 0  # all 12 optuna trials were already told

    import optuna

    study = optuna.load_study(study_name=result.study, storage=f"sqlite:///{tmp_path / 'optuna.sqlite'}")
    assert len(study.trials) == 12


def test_no_eligible_trial_reports_a_note(tmp_path: Path) -> None:
    result = _run(tmp_path, OptimizeSettings(min_trades=1000))
    assert result.best_params is None
    assert any("No trial is eligible" in note for note in result.notes)


def test_tpe_resumes_a_trial_left_running_by_an_interruption(tmp_path: Path) -> None:
    import optuna

    settings = OptimizeSettings(method="tpe", trials=6, seed=2)
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path, settings, executor=_Interrupting(after=2))
    storage = f"sqlite:///{tmp_path / 'optuna.sqlite'}"
    (summary,) = optuna.get_all_study_summaries(storage)
    study = optuna.load_study(study_name=summary.study_name, storage=storage)
    assert any(t.state == optuna.trial.TrialState.RUNNING for t in study.trials)
    result = _run(tmp_path, settings)
    study = optuna.load_study(study_name=summary.study_name, storage=storage)
    assert len(study.trials) == 6
    assert all(t.state.is_finished() for t in study.trials)
    assert result.best_params is not None
