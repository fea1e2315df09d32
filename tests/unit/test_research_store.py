"""SQLite trial store: round trip, NaN metrics, study identity, corrupt files."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from trading_playbook.core.errors import CacheError
from trading_playbook.research.executors import TrialOutcome
from trading_playbook.research.store import TrialStore, stable_hash, trial_key


def test_round_trip_keeps_params_metrics_returns_and_dates(tmp_path: Path) -> None:
    dates = np.array(["2020-01-02", "2020-01-03", "2020-01-06"], dtype="datetime64[D]")
    outcome = TrialOutcome(
        index=4,
        params={"exit.time_stop": 17, "scanner.min_volume_ratio": 1.2},
        metrics={"sharpe": 1.25, "calmar": float("nan"), "profit_factor": float("inf"), "trades": 31.0},
        returns=np.array([0.01, -0.005, 0.0]),
        dates=dates,
        seconds=0.5,
    )
    with TrialStore(tmp_path / "t.sqlite") as store:
        study = store.open_study({"method": "grid"})
        store.record(study, 4, trial_key(outcome.params), outcome)
    with TrialStore(tmp_path / "t.sqlite") as store:  # reopened: persisted
        (trial,) = store.trials(study)
        assert store.completed_keys(study) == {trial_key(outcome.params)}
    assert trial.number == 4 and trial.status == "ok"
    assert trial.params == outcome.params
    assert trial.metrics["sharpe"] == 1.25 and trial.metrics["trades"] == 31.0
    # JSON has no NaN or infinity: both come back as NaN (undefined).
    assert math.isnan(trial.metrics["calmar"]) and math.isnan(trial.metrics["profit_factor"])
    np.testing.assert_array_equal(trial.returns, outcome.returns)
    np.testing.assert_array_equal(trial.dates, dates)


def test_failed_trial_is_recorded_with_its_error(tmp_path: Path) -> None:
    outcome = TrialOutcome(index=0, params={"a.b": 1}, metrics={}, error="SimulationError: no session")
    with TrialStore(tmp_path / "t.sqlite") as store:
        study = store.open_study({"x": 1})
        store.record(study, 0, trial_key(outcome.params), outcome)
        (trial,) = store.trials(study)
    assert trial.status == "failed" and trial.error == "SimulationError: no session"


def test_study_and_trial_identity_is_stable() -> None:
    assert stable_hash({"b": 1, "a": [1, 2]}) == stable_hash({"a": [1, 2], "b": 1})
    assert trial_key({"x": 1}, "2020-01-01", None) != trial_key({"x": 1}, "2021-01-01", None)
    assert trial_key({"x": 1}) != trial_key({"x": 1.5})


def test_studies_are_separate(tmp_path: Path) -> None:
    outcome = TrialOutcome(index=0, params={"a.b": 1}, metrics={"trades": 1.0})
    with TrialStore(tmp_path / "t.sqlite") as store:
        first = store.open_study({"n": 1})
        second = store.open_study({"n": 2})
        assert first != second and store.open_study({"n": 1}) == first
        store.record(first, 0, "k", outcome)
        assert store.completed_keys(second) == set()


def test_corrupt_file_is_a_cache_error(tmp_path: Path) -> None:
    path = tmp_path / "t.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(CacheError, match="not a usable SQLite database"):
        TrialStore(path)
