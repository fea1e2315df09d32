"""The ``ml_score`` scanner: a base scanner's setups ranked or filtered by a model trained before them.

Config::

    [scanner]
    name = "ml_score"
    models = "ml-out/models"   # written by 'playbook ml train'
    model = "hgb"              # which kind (optional when the folder holds one)
    mode = "rank"              # rank: order by the prediction; filter: drop setups below a threshold
    quantile = 0.5             # filter: the fold's training-prediction quantile (or threshold = 0.55)

The base scanner (name and parameters) is the one the models were trained on, read from the manifest;
``base`` / ``base_params`` may restate it and must then match.

**The cutoff rule.** A setup of session t is scored only by the latest model whose training cutoff
is before t (:func:`~trading_playbook.ml.folds.usable_model`). Sessions before the first cutoff have
no usable model: a backtest whose first session is not after the earliest cutoff fails loudly
(:meth:`MLScoreScanner.check_window`, called by ``engine.simulate`` for both engines), and so does the
per-date protocol for such a date. In ``rank`` mode the setup's ``score`` is the prediction
(probability of a win, or expected R), so both engines rank by it (ties: volume ratio, symbol); in
``filter`` mode the rule score is kept and setups below the threshold are removed.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from trading_playbook.core.errors import ConfigError, SimulationError
from trading_playbook.core.panel import Panel
from trading_playbook.core.scanners.base import rank_order, session_position
from trading_playbook.core.types import Setup, SetupTable
from trading_playbook.ml.dataset import slice_table
from trading_playbook.ml.features import feature_frame
from trading_playbook.ml.folds import usable_model, usable_models
from trading_playbook.ml.models import predict
from trading_playbook.ml.store import load_models

__all__ = ["MLScoreScanner"]


class MLScoreScanner:
    """Ranks (``mode="rank"``) or filters (``mode="filter"``) a base scanner's setups with saved models.

    Parameters
    ----------
    models : str
        Folder written by ``playbook ml train`` (``OUT/models``).
    model : str, optional
        Model kind (``logistic``, ``hgb``, ``lightgbm``); required when the folder holds several.
    mode : str
        ``rank`` or ``filter``.
    threshold, quantile : float, optional
        ``filter`` only, one of them: an absolute threshold on the prediction, or a quantile of the
        fold's training predictions saved with the model (one of ``[ml] filter_quantiles``).
    base, base_params
        The wrapped scanner; default (and must equal) the one the models were trained on.
    """

    name: ClassVar[str] = "ml_score"

    def __init__(
        self,
        models: str,
        model: str | None = None,
        mode: str = "rank",
        threshold: float | None = None,
        quantile: float | None = None,
        base: str | None = None,
        base_params: dict[str, Any] | None = None,
    ) -> None:
        from trading_playbook import registry

        self.store = load_models(models)
        self.entries = self.store.of_kind(model)
        self.kind = self.entries[0].kind
        self.mode = mode
        self.threshold = None if threshold is None else float(threshold)
        self.quantile = None if quantile is None else float(quantile)
        self._check_mode()
        trained = self.store.meta["scanner"]
        name = base or trained["name"]
        params = dict(base_params) if base_params is not None else dict(trained["params"])
        if name != trained["name"] or params != trained["params"]:
            raise ConfigError(
                f"ml_score: base scanner {name} {params} differs from the one the models in "
                f"{self.store.folder} were trained on ({trained['name']} {trained['params']}); retrain or "
                "drop base/base_params"
            )
        self.base = registry.get_scanner(name, **params)
        self.cutoffs = np.array([m.training_cutoff for m in self.entries], dtype="datetime64[D]")

    def _check_mode(self) -> None:
        if self.mode not in ("rank", "filter"):
            raise ConfigError(f"ml_score mode {self.mode!r}: use 'rank' or 'filter'")
        if self.mode == "rank" and (self.threshold is not None or self.quantile is not None):
            raise ConfigError("ml_score: threshold/quantile apply to mode = 'filter' only")
        if self.mode == "filter" and (self.threshold is None) == (self.quantile is None):
            raise ConfigError("ml_score mode 'filter' needs exactly one of threshold = X or quantile = Q")
        if self.quantile is not None:
            saved = sorted(self.entries[0].thresholds)
            if str(self.quantile) not in saved:
                raise ConfigError(
                    f"ml_score quantile {self.quantile}: the models saved thresholds for quantiles "
                    f"{', '.join(saved) or 'none'} ([ml] filter_quantiles); retrain or pick one of them"
                )

    # ------------------------------------------------------------------ identity
    def params(self) -> dict[str, Any]:
        """What the scan depends on (memo key of the engine's Workspace)."""
        return {
            "models": str(self.store.folder),
            "model": self.kind,
            "mode": self.mode,
            "threshold": self.threshold,
            "quantile": self.quantile,
            "fingerprint": self.store.fingerprint,
        }

    def __repr__(self) -> str:
        return f"MLScoreScanner({', '.join(f'{k}={v!r}' for k, v in self.params().items())})"

    # ------------------------------------------------------------------ the cutoff rule
    def check_window(self, first_session: Any, last_session: Any) -> None:
        """Fail unless a model trained before ``first_session`` exists (every scan of the run needs one)."""
        first = np.datetime64(first_session, "D")
        if usable_model(self.cutoffs, first) < 0:
            raise SimulationError(
                f"ml_score: the run starts {first} but the earliest {self.kind} model in {self.store.folder} "
                f"was trained on data up to {self.cutoffs[0]}; a session may only use a model trained "
                f"before it: start the run after {self.cutoffs[0]} or train with an earlier window"
            )

    # ------------------------------------------------------------------ scanning
    def predictions(self, panel: Panel, table: SetupTable) -> tuple[np.ndarray, np.ndarray]:
        """Per setup row: the index of the model used (-1: none usable) and its prediction (NaN)."""
        sessions = panel.sessions.astype("datetime64[D]")[np.asarray(table.session_idx)]
        which = usable_models(self.cutoffs, sessions)
        pred = np.full(len(table), np.nan)
        if len(table) == 0:
            return which, pred
        X = feature_frame(panel, table, tuple(self.store.meta["feature_specs"]))[self.store.features]
        values = X.to_numpy(dtype=np.float64)
        for m in np.unique(which[which >= 0]):
            rows = np.flatnonzero(which == m)
            estimator = self.store.estimator(self.entries[int(m)])
            pred[rows] = predict(estimator, values[rows], self.store.target)
        return which, pred

    def scan(self, panel: Panel) -> SetupTable:
        """The base setups of sessions with a usable model, re-scored (rank) or thinned (filter)."""
        table = self.base.scan(panel)
        which, pred = self.predictions(panel, table)
        keep = which >= 0
        if self.mode == "rank":
            score = pred
        else:
            if self.threshold is not None:
                limit = np.full(len(table), self.threshold)
            else:
                key = str(self.quantile)
                per_model = np.array([m.thresholds[key] for m in self.entries] + [np.nan])
                limit = per_model[which]  # which == -1 picks the NaN: such rows are dropped anyway
            with np.errstate(invalid="ignore"):
                keep &= pred >= limit
            score = np.asarray(table.score, dtype=np.float64)
        rows = np.flatnonzero(keep)
        out = slice_table(table, rows)
        out = SetupTable(
            **{**{n: getattr(out, n) for n in SetupTable.__dataclass_fields__}, "score": score[rows]}
        )
        order = rank_order(out.session_idx, out.score, out.volume_ratio, out.symbol_idx)
        return slice_table(out, order)

    def scan_for_setups(self, date: Any, data: Panel) -> list[Setup]:
        """Per-date protocol (live/paper): the ranked setups of ``date``; fails without a usable model."""
        t = session_position(data, date)
        self.check_window(data.sessions[t], data.sessions[t])
        cut = data.truncate(t)
        table = self.scan(cut)
        return table.to_setups(table.session_slice(t), cut.sessions, cut.symbols)
