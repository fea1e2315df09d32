"""The labelled setup table: every setup the (rule) scanner produced, its features and its trade.

One row per setup of sessions ``start..end-1`` (no scan on the last session, as in a backtest):

- identity: ``signal_date``, ``symbol``, ``rank`` (0 = best by the rule ranking of that session),
  ``n_setups`` (setups that session);
- features: :func:`~trading_playbook.ml.features.feature_columns` (known at the signal close);
- label: ``traded`` (False when the symbol had no bar at the next open), ``entry_date``, ``exit_date``,
  ``exit_reason``, ``sessions_held``, ``r_multiple``, ``pnl_pct``, ``win`` (pnl > 0), ``mfe``, ``mae``,
  ``censored`` (still open at the horizon ``end``: ``END_OF_TEST``).

Each label trades ``floor(notional / reference price)`` shares (at least 1), ``notional`` =
``[ml] label_notional`` or ``starting_capital / max_positions``; with no commission, R and pnl % do not
depend on it (only the whole-share rounding of partial exits does).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trading_playbook.config import PlaybookConfig
from trading_playbook.core.errors import ConfigError, DataError
from trading_playbook.core.types import SetupTable
from trading_playbook.ml.features import feature_columns, feature_frame
from trading_playbook.ml.labels import LabelSimulator
from trading_playbook.ml.settings import MLConfig

__all__ = ["Dataset", "build_dataset", "ml_settings", "read_dataset", "slice_table", "write_dataset"]

DATASET_FILE = "setups.parquet"
META_FILE = "dataset.json"


@dataclass
class Dataset:
    """The labelled table plus what produced it (config hash, features, scanner, exit, horizon)."""

    frame: pd.DataFrame
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def features(self) -> list[str]:
        return list(self.meta["features"])


def ml_settings(cfg: PlaybookConfig) -> MLConfig:
    """The config's ``[ml]`` table (defaults when absent)."""
    ml = getattr(cfg, "ml", None)
    return ml if isinstance(ml, MLConfig) else MLConfig()


def slice_table(table: SetupTable, rows: np.ndarray | slice) -> SetupTable:
    """The rows ``rows`` of ``table`` (all columns)."""
    return SetupTable(**{name: getattr(table, name)[rows] for name in SetupTable.__dataclass_fields__})


def build_dataset(cfg: PlaybookConfig, workspace: Any, *, start: Any = None, end: Any = None) -> Dataset:
    """Label every setup of the config's scanner between ``start`` and ``end`` (default ``[data]``)."""
    from trading_playbook.engine import build_sleeves, portfolio_settings, window

    if cfg.sleeves:
        raise ConfigError("ml dataset works on one strategy; remove [[sleeves]] and use [scanner]/[exit]")
    if cfg.scanner.name == "ml_score":
        raise ConfigError(
            "ml dataset labels the setups of a rule scanner; set [scanner] name to the base scanner "
            "(e.g. daily_breakout), not ml_score"
        )
    ml = ml_settings(cfg)
    panel = workspace.panel
    lo, hi = window(
        panel, start if start is not None else cfg.data.start, end if end is not None else cfg.data.end
    )
    sleeve = build_sleeves(cfg)[0]
    if not hasattr(sleeve.scanner, "scan"):
        raise ConfigError(f"scanner {cfg.scanner.name!r} has no vectorised scan(panel); ml dataset needs one")
    table = workspace.setups_for(sleeve.scanner)
    rows = np.flatnonzero((table.session_idx >= lo) & (table.session_idx < hi))
    table = slice_table(table, rows)
    if len(table) == 0:
        raise DataError(
            f"the scanner found no setup between {panel.sessions[lo]} and {panel.sessions[hi]}; "
            "widen the dates or relax the scanner"
        )
    features = feature_frame(panel, table, ml.features)
    settings = portfolio_settings(cfg)
    notional = ml.label_notional or cfg.portfolio.starting_capital / cfg.portfolio.max_positions
    labels = _labels(LabelSimulator(panel, sleeve.exit, settings, hi), table, notional)
    frame = pd.concat([_identity(panel, table), features, labels], axis=1)
    meta = {
        "config_hash": cfg.config_hash,
        "features": feature_columns(ml.features),
        "feature_specs": list(ml.features),
        "target": ml.target,
        "scanner": {"name": cfg.scanner.name, "params": dict(cfg.scanner.params())},
        "exit": cfg.exit.name,
        "start": str(panel.sessions[lo]),
        "end": str(panel.sessions[hi]),
        "label_notional": notional,
        "data_fingerprint": panel.fingerprint,
        "rows": len(frame),
    }
    return Dataset(frame=frame, meta=meta)


def _identity(panel: Any, table: SetupTable) -> pd.DataFrame:
    sessions = panel.sessions.astype("datetime64[D]")
    session_idx = np.asarray(table.session_idx)
    first = np.searchsorted(session_idx, session_idx, side="left")
    last = np.searchsorted(session_idx, session_idx, side="right")
    return pd.DataFrame(
        {
            "signal_date": pd.to_datetime(sessions[session_idx]),
            "symbol": [panel.symbols[j] for j in table.symbol_idx],
            "rank": np.arange(len(table)) - first,
            "n_setups": last - first,
        }
    )


def _labels(sim: LabelSimulator, table: SetupTable, notional: float) -> pd.DataFrame:
    sessions = sim.panel.sessions.astype("datetime64[D]")
    cols: dict[str, list[Any]] = {
        k: []
        for k in (
            "traded",
            "entry_date",
            "exit_date",
            "exit_reason",
            "sessions_held",
            "r_multiple",
            "pnl_pct",
            "mfe",
            "mae",
        )
    }
    for t, j, ref in zip(table.session_idx, table.symbol_idx, table.reference_price, strict=True):
        shares = max(1, math.floor(notional / float(ref)))
        label = sim.label(int(t), int(j), shares)
        cols["traded"].append(label is not None)
        if label is None:
            for key in ("entry_date", "exit_date"):
                cols[key].append(np.datetime64("NaT"))
            cols["exit_reason"].append("")
            for key in ("sessions_held", "r_multiple", "pnl_pct", "mfe", "mae"):
                cols[key].append(np.nan)
            continue
        cols["entry_date"].append(sessions[label.entry_session])
        cols["exit_date"].append(sessions[label.exit_session])
        cols["exit_reason"].append(label.exit_reason)
        cols["sessions_held"].append(label.sessions_held)
        for key in ("r_multiple", "pnl_pct", "mfe", "mae"):
            cols[key].append(getattr(label, key))
    out = pd.DataFrame(cols)
    out["entry_date"] = pd.to_datetime(out["entry_date"])
    out["exit_date"] = pd.to_datetime(out["exit_date"])
    out["win"] = (out["r_multiple"] > 0).astype("float64").where(out["traded"])
    out["censored"] = out["exit_reason"] == "END_OF_TEST"
    return out


def write_dataset(dataset: Dataset, out: str | Path) -> list[Path]:
    """Write ``setups.parquet`` and ``dataset.json`` under ``out``; returns the paths."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    table_path = folder / DATASET_FILE
    dataset.frame.to_parquet(table_path, index=False)
    meta_path = folder / META_FILE
    meta_path.write_text(json.dumps(dataset.meta, indent=2, sort_keys=True), encoding="utf-8")
    return [table_path, meta_path]


def read_dataset(path: str | Path) -> Dataset:
    """Read a dataset written by :func:`write_dataset` (``path`` is its folder)."""
    folder = Path(path)
    table_path, meta_path = folder / DATASET_FILE, folder / META_FILE
    if not table_path.is_file() or not meta_path.is_file():
        raise DataError(
            f"{folder}: no ml dataset here (need {DATASET_FILE} and {META_FILE}); "
            "write one with 'playbook ml dataset CONFIG --out DIR'"
        )
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    return Dataset(frame=pd.read_parquet(table_path), meta=meta)
