"""Saved models: one joblib file per fold and kind plus ``manifest.json`` to reproduce and check them.

The manifest records, per model, its fold windows, purge boundary and **training cutoff**, the tuned
parameters and filter thresholds, the file and its sha256; and, for the whole set, the features (names
and specs), the target, the base scanner and exit, the embargo, the config hash, the data fingerprint
and the library versions. Loading checks each file's hash before unpickling it: only load model folders
you wrote yourself (a pickle runs code).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from trading_playbook.core.errors import ConfigError
from trading_playbook.ml import require_module

if TYPE_CHECKING:
    from trading_playbook.ml.train import TrainResult

__all__ = ["MANIFEST", "ModelSet", "SavedModel", "load_models", "save_models"]

MANIFEST = "manifest.json"
SCHEMA = 1


@dataclass
class SavedModel:
    """One model's manifest entry; :meth:`ModelSet.estimator` loads it."""

    kind: str
    fold: int
    test_start: str
    test_end: str
    purge_boundary: str
    training_cutoff: str
    params: dict[str, Any]
    thresholds: dict[str, float]
    file: str
    sha256: str
    n_train: int = 0


@dataclass
class ModelSet:
    """A folder of saved models (all kinds), read from its manifest."""

    folder: Path
    meta: dict[str, Any]
    models: list[SavedModel]
    _loaded: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def features(self) -> list[str]:
        return list(self.meta["features"])

    @property
    def target(self) -> str:
        return str(self.meta["target"])

    def kinds(self) -> list[str]:
        return sorted({m.kind for m in self.models})

    def of_kind(self, kind: str | None) -> list[SavedModel]:
        """The models of ``kind`` (the only kind when None) ordered by training cutoff."""
        kinds = self.kinds()
        if kind is None:
            if len(kinds) != 1:
                raise ConfigError(
                    f'{self.folder}: holds models {kinds}; choose one with model = "..." in [scanner]'
                )
            kind = kinds[0]
        chosen = [m for m in self.models if m.kind == kind]
        if not chosen:
            raise ConfigError(f"{self.folder}: no {kind!r} model; it holds {', '.join(kinds) or 'none'}")
        return sorted(chosen, key=lambda m: (m.training_cutoff, m.fold))

    def estimator(self, entry: SavedModel) -> Any:
        """The fitted estimator of ``entry`` (hash-checked, loaded once)."""
        if entry.file not in self._loaded:
            joblib = require_module("joblib")
            require_module("sklearn")
            path = self.folder / entry.file
            if not path.is_file():
                raise ConfigError(f"{path}: model file listed in {MANIFEST} is missing; retrain")
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            if digest != entry.sha256:
                raise ConfigError(f"{path}: sha256 differs from {MANIFEST}; the file changed, retrain")
            self._loaded[entry.file] = joblib.load(path)
        return self._loaded[entry.file]

    @property
    def fingerprint(self) -> str:
        """sha256 of the manifest (what a scan with these models depends on)."""
        text = json.dumps({"meta": self.meta, "models": [m.__dict__ for m in self.models]}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def save_models(result: TrainResult, folder: str | Path, meta: dict[str, Any]) -> Path:
    """Write every fitted model and the manifest under ``folder``; returns the manifest path."""
    joblib = require_module("joblib")
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    entries = []
    for fm in result.models:
        rel = f"{fm.kind}/fold_{fm.fold.index:02d}.joblib"
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        joblib.dump(fm.model, path)
        entries.append(
            {
                "kind": fm.kind,
                "fold": fm.fold.index,
                "train_start": fm.fold.train_start,
                "train_end": fm.fold.train_end,
                "test_start": fm.fold.test_start,
                "test_end": fm.fold.test_end,
                "purge_boundary": fm.fold.purge_boundary,
                "training_cutoff": fm.training_cutoff,
                "params": fm.params,
                "thresholds": fm.thresholds,
                "n_train": fm.n_train,
                "file": rel,
                "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            }
        )
    manifest = {"schema": SCHEMA, **meta, "training": result.settings, "models": entries}
    out = root / MANIFEST
    out.write_text(json.dumps(manifest, indent=2, sort_keys=True, default=_json), encoding="utf-8")
    return out


def load_models(folder: str | Path) -> ModelSet:
    """Read a model folder's manifest (models load lazily, on first use)."""
    root = Path(folder)
    path = root / MANIFEST
    if not path.is_file():
        raise ConfigError(
            f'{root}: no {MANIFEST}; point models = "..." at the models/ folder written by '
            "'playbook ml train CONFIG --out DIR' (DIR/models)"
        )
    raw = json.loads(path.read_text(encoding="utf-8"))
    if raw.get("schema") != SCHEMA:
        raise ConfigError(f"{path}: model manifest schema {raw.get('schema')!r}, expected {SCHEMA}; retrain")
    fields = set(SavedModel.__dataclass_fields__)
    models = [SavedModel(**{k: v for k, v in m.items() if k in fields}) for m in raw.pop("models")]
    return ModelSet(folder=root, meta=raw, models=models)


def _json(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")
