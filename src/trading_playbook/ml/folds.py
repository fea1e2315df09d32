"""Purged walk-forward folds and the training cutoff rule.

Windows come from :func:`trading_playbook.research.walkforward.make_folds` (calendar offsets snapped
to sessions; rolling, or expanding with ``anchored``). For a fold whose test window starts at session
``s``:

- the **purge boundary** is the session ``embargo`` sessions before ``s`` (``s`` itself when the
  embargo is 0);
- a training sample is a traded setup whose signal is inside the training window **and whose label
  exit date is before the boundary**; one exiting on/after it would carry prices of (or next to) the
  test window into training, so it is dropped (purged);
- the **training cutoff** is the last session whose data the model saw: the latest exit date among the
  kept samples (features are known at the signal close, which is never after the exit). A model may
  score a setup of session t only when its cutoff is before t (:func:`usable_model`).

The same rule cuts the inner validation splits used to tune hyper-parameters inside the training fold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from trading_playbook.core.errors import SimulationError
from trading_playbook.research.walkforward import make_folds

__all__ = [
    "LabelLeakError",
    "PurgedFold",
    "check_purged",
    "evaluation_mask",
    "inner_splits",
    "purge_boundary",
    "purged_folds",
    "training_mask",
    "usable_model",
    "usable_models",
]


class LabelLeakError(SimulationError):
    """A training label overlaps the test window (or its embargo)."""


@dataclass(frozen=True)
class PurgedFold:
    """One fold's windows (ISO dates, inclusive) and its purge boundary."""

    index: int
    train_start: str
    train_end: str
    test_start: str
    test_end: str
    purge_boundary: str  # training labels must exit strictly before this session

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def _days(sessions: np.ndarray) -> np.ndarray:
    return np.asarray(sessions).astype("datetime64[D]")


def purge_boundary(sessions: np.ndarray, test_start: str, embargo: int) -> np.datetime64:
    """The session ``embargo`` sessions before ``test_start`` (the first session if there are fewer)."""
    days = _days(sessions)
    pos = int(np.searchsorted(days, np.datetime64(test_start, "D")))
    return np.datetime64(days[max(0, pos - int(embargo))], "D")


def purged_folds(
    sessions: np.ndarray,
    *,
    train: str,
    test: str,
    embargo: int,
    step: str | None = None,
    anchored: bool = False,
    start: str | None = None,
    end: str | None = None,
) -> list[PurgedFold]:
    """Walk-forward folds over ``sessions`` with each fold's purge boundary."""
    folds = make_folds(sessions, train=train, test=test, step=step, anchored=anchored, start=start, end=end)
    return [
        PurgedFold(
            index=f.index,
            train_start=f.train_start,
            train_end=f.train_end,
            test_start=f.test_start,
            test_end=f.test_end,
            purge_boundary=str(purge_boundary(sessions, f.test_start, embargo)),
        )
        for f in folds
    ]


def _dates(frame: pd.DataFrame, column: str) -> np.ndarray:
    return frame[column].to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")


def training_mask(frame: pd.DataFrame, fold: PurgedFold) -> np.ndarray:
    """Rows that may train the fold's model: traded, signal in the training window, exit before the
    purge boundary."""
    signal = _dates(frame, "signal_date")
    exit_ = _dates(frame, "exit_date")
    traded = frame["traded"].to_numpy(dtype=bool)
    inside = (signal >= np.datetime64(fold.train_start)) & (signal <= np.datetime64(fold.train_end))
    with np.errstate(invalid="ignore"):
        before = exit_ < np.datetime64(fold.purge_boundary)
    return np.asarray(traded & inside & before & ~np.isnat(exit_))


def evaluation_mask(frame: pd.DataFrame, fold: PurgedFold) -> np.ndarray:
    """Traded rows whose signal is in the fold's test window."""
    signal = _dates(frame, "signal_date")
    traded = frame["traded"].to_numpy(dtype=bool)
    return np.asarray(
        traded & (signal >= np.datetime64(fold.test_start)) & (signal <= np.datetime64(fold.test_end))
    )


def check_purged(train: pd.DataFrame, fold: PurgedFold) -> np.datetime64:
    """Guard before fitting: every training label exits before the boundary; returns the training cutoff.

    Raises :class:`LabelLeakError` naming the first leaking row otherwise.
    """
    if train.empty:
        raise LabelLeakError(f"fold {fold.index}: no training sample")
    exit_ = _dates(train, "exit_date")
    boundary = np.datetime64(fold.purge_boundary)
    leaking = np.isnat(exit_) | (exit_ >= boundary)
    if leaking.any():
        row = train.iloc[int(np.argmax(leaking))]
        raise LabelLeakError(
            f"fold {fold.index}: the training label of {row['symbol']} signalled {row['signal_date']:%Y-%m-%d} "
            f"exits {row['exit_date']} (on/after the purge boundary {fold.purge_boundary} before the test "
            f"window {fold.test_start}); purge it"
        )
    signal = _dates(train, "signal_date")
    if (signal >= np.datetime64(fold.test_start)).any():
        raise LabelLeakError(f"fold {fold.index}: a training signal is inside the test window")
    return np.datetime64(exit_.max(), "D")


def inner_splits(
    train: pd.DataFrame, sessions: np.ndarray, n_splits: int, embargo: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Time-ordered (fit, validate) row positions inside a training fold, purged like the outer folds.

    The training signal dates are cut into ``n_splits + 1`` consecutive blocks of (about) equal row
    counts; split k validates on block k and fits on earlier rows whose label exits before the
    session ``embargo`` sessions ahead of block k's first signal. Splits with an empty side are left out.
    """
    order = np.argsort(_dates(train, "signal_date"), kind="stable")
    signal = _dates(train, "signal_date")[order]
    exit_ = _dates(train, "exit_date")[order]
    blocks = np.array_split(np.arange(len(order)), n_splits + 1)
    out: list[tuple[np.ndarray, np.ndarray]] = []
    for block in blocks[1:]:
        if block.size == 0:
            continue
        first = signal[block[0]]
        boundary = purge_boundary(sessions, str(first), embargo)
        fit = np.flatnonzero((signal < first) & (exit_ < boundary))
        val = block[signal[block] >= first]
        if fit.size and val.size:
            out.append((order[fit], order[val]))
    return out


def usable_models(cutoffs: Sequence[np.datetime64] | np.ndarray, sessions: Any) -> np.ndarray:
    """Per session: index of the latest model whose training cutoff is before it; -1 when none is.

    ``cutoffs`` must be ascending. A model is never usable on its cutoff day itself.
    """
    days = np.asarray(cutoffs, dtype="datetime64[D]")
    when = np.asarray(sessions, dtype="datetime64[D]")
    return np.searchsorted(days, when, side="left").astype(np.int64) - 1


def usable_model(cutoffs: Sequence[np.datetime64] | np.ndarray, session: Any) -> int:
    """:func:`usable_models` for one session."""
    return int(usable_models(cutoffs, np.asarray([session], dtype="datetime64[D]"))[0])
