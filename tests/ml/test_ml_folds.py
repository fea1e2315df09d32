"""Purged walk-forward folds: the purge catches a label leaking across the boundary, the embargo, the
training cutoff, the cutoff rule for using a model, and the purged inner splits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trading_playbook.ml.folds import (
    LabelLeakError,
    PurgedFold,
    check_purged,
    evaluation_mask,
    inner_splits,
    purge_boundary,
    purged_folds,
    training_mask,
    usable_model,
    usable_models,
)

SESSIONS = pd.bdate_range("2018-01-01", "2021-12-31").to_numpy().astype("datetime64[D]")


def _frame(rows: list[tuple[str, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "symbol": [f"S{i}" for i in range(len(rows))],
            "signal_date": pd.to_datetime([r[0] for r in rows]),
            "exit_date": pd.to_datetime([r[1] for r in rows]),
            "traded": True,
        }
    )


def _fold(embargo: int) -> PurgedFold:
    return PurgedFold(
        0,
        "2018-01-01",
        "2020-12-31",
        "2021-01-01",
        "2021-12-31",
        str(purge_boundary(SESSIONS, "2021-01-01", embargo)),
    )


def test_boundary_is_embargo_sessions_before_the_test_start() -> None:
    assert str(purge_boundary(SESSIONS, "2021-01-01", 0)) == "2021-01-01"
    assert str(purge_boundary(SESSIONS, "2021-01-01", 1)) == "2020-12-31"
    assert str(purge_boundary(SESSIONS, "2021-01-01", 3)) == "2020-12-29"


def test_the_purge_drops_labels_ending_on_or_after_the_boundary() -> None:
    fold = _fold(embargo=2)  # boundary 2020-12-30
    frame = _frame(
        [
            ("2020-06-01", "2020-06-20"),  # kept
            ("2020-12-10", "2020-12-29"),  # exits the session before the boundary: kept
            ("2020-12-11", "2020-12-30"),  # exits on the boundary (inside the embargo): purged
            ("2020-12-15", "2021-01-05"),  # label runs into the test window: purged
            ("2021-01-04", "2021-01-10"),  # a test setup
        ]
    )
    keep = training_mask(frame, fold)
    assert keep.tolist() == [True, True, False, False, False]
    assert evaluation_mask(frame, fold).tolist() == [False, False, False, False, True]
    cutoff = check_purged(frame[keep], fold)
    assert str(cutoff) == "2020-12-29" and cutoff < np.datetime64(fold.test_start)


def test_a_leaking_label_is_caught_before_fitting() -> None:
    fold = _fold(embargo=2)
    frame = _frame([("2020-06-01", "2020-06-20"), ("2020-12-15", "2021-01-05")])
    with pytest.raises(
        LabelLeakError, match=r"S1 signalled 2020-12-15 exits 2021-01-05.*purge boundary 2020-12-30"
    ):
        check_purged(frame, fold)  # the unpurged set: the second label overlaps the test window
    with pytest.raises(LabelLeakError, match="boundary"):
        check_purged(_frame([("2020-12-11", "2020-12-30")]), fold)  # inside the embargo
    check_purged(frame[training_mask(frame, fold)], fold)  # the purged set passes


def test_the_cutoff_rule_picks_the_latest_model_trained_before_the_session() -> None:
    cutoffs = [np.datetime64("2020-12-29"), np.datetime64("2021-12-29")]
    assert usable_model(cutoffs, np.datetime64("2020-06-01")) == -1
    assert usable_model(cutoffs, np.datetime64("2020-12-29")) == -1  # the cutoff day itself: not before
    assert usable_model(cutoffs, np.datetime64("2020-12-30")) == 0
    assert usable_model(cutoffs, np.datetime64("2021-12-29")) == 0
    assert usable_model(cutoffs, np.datetime64("2021-12-30")) == 1
    assert usable_model(cutoffs, np.datetime64("2030-01-01")) == 1
    days = np.array(
        ["2020-12-28", "2020-12-29", "2020-12-30", "2021-12-29", "2021-12-30"], dtype="datetime64[D]"
    )
    assert usable_models(cutoffs, days).tolist() == [-1, -1, 0, 0, 1]


def test_inner_splits_are_time_ordered_and_purged() -> None:
    rng = np.random.default_rng(3)
    signal = np.sort(rng.choice(SESSIONS[:700], 300))
    exit_ = signal + rng.integers(1, 40, signal.size).astype("timedelta64[D]")
    frame = pd.DataFrame({"signal_date": signal, "exit_date": exit_})
    splits = inner_splits(frame, SESSIONS, 3, embargo=5)
    assert len(splits) == 3
    for fit, val in splits:
        first = frame["signal_date"].iloc[val].min()
        boundary = purge_boundary(SESSIONS, str(first.date()), 5)
        assert (frame["signal_date"].iloc[fit] < first).all()
        assert (frame["exit_date"].iloc[fit].to_numpy().astype("datetime64[D]") < boundary).all()


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, SESSIONS.size - 2), st.integers(0, 60)), min_size=1, max_size=80),
    st.integers(0, 10),
    st.booleans(),
)
def test_property_no_training_label_reaches_its_test_window(rows, embargo, anchored) -> None:
    signal = SESSIONS[[r[0] for r in rows]]
    exit_ = SESSIONS[[min(r[0] + r[1], SESSIONS.size - 1) for r in rows]]
    frame = pd.DataFrame({"symbol": "X", "signal_date": signal, "exit_date": exit_, "traded": True})
    for fold in purged_folds(SESSIONS, train="1y", test="6m", embargo=embargo, anchored=anchored):
        keep = training_mask(frame, fold)
        start = np.datetime64(fold.test_start)
        boundary = np.datetime64(fold.purge_boundary)
        assert boundary <= start
        kept_exit = exit_[keep]
        assert (kept_exit < boundary).all()
        assert (
            (signal[keep] >= np.datetime64(fold.train_start))
            & (signal[keep] <= np.datetime64(fold.train_end))
        ).all()
        # every dropped in-window row really overlapped
        inside = (signal >= np.datetime64(fold.train_start)) & (signal <= np.datetime64(fold.train_end))
        assert (exit_[inside & ~keep] >= boundary).all()
        if keep.any():
            assert check_purged(frame[keep], fold) < start
