"""Features of a setup, all known at its decision close (the close of the signal session t).

Two groups:

- the setup's own fields (:data:`SETUP_FEATURES`): rule score, base length and width, volume ratio,
  distance from the high, RS;
- indicators named in ``[ml] features`` as ``kind:arg[:arg]`` strings:

  ========================  ======================================================================
  ``atr_pct:N``             ATR_N_t / close_t (the symbol's volatility)
  ``sma_slope:N:K``         SMA_N_t / SMA_N of the symbol's bar K bars earlier - 1
  ``close_sma:N``           close_t / SMA_N_t - 1
  ``breadth:N``             share of symbols with a bar at t whose close_t > SMA_N_t (market breadth)
  ``index_trend:N[:SYM]``   index_t / SMA_N(index)_t - 1; the index is symbol SYM when given, else the
                            equal-weight index of the loaded universe (mean daily return of the
                            symbols with a bar, compounded)
  ========================  ======================================================================

Every value at session t uses bars up to t only (the core indicators are causal), so features computed
on a panel cut at t equal those computed on the whole panel (a test proves it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from trading_playbook.core import indicators
from trading_playbook.core.errors import ConfigError
from trading_playbook.core.panel import Panel
from trading_playbook.core.types import SetupTable

__all__ = ["SETUP_FEATURES", "FeatureSpec", "feature_columns", "feature_frame", "parse_feature"]

SETUP_FEATURES: tuple[str, ...] = (
    "score",
    "base_days",
    "base_width",
    "volume_ratio",
    "distance_from_high",
    "rs",
)
_KINDS: dict[str, tuple[int, int]] = {  # kind -> (integer args required, optional symbol allowed)
    "atr_pct": (1, 0),
    "sma_slope": (2, 0),
    "close_sma": (1, 0),
    "breadth": (1, 0),
    "index_trend": (1, 1),
}
_SYMBOL = re.compile(r"^[A-Za-z0-9.\-]+$")


@dataclass(frozen=True)
class FeatureSpec:
    """One parsed ``kind:arg[:arg]`` feature."""

    kind: str
    args: tuple[int, ...]
    symbol: str | None = None

    @property
    def column(self) -> str:
        """The column name in the dataset, e.g. ``sma_slope_50_20`` or ``index_trend_200_SPY``."""
        parts = [self.kind, *map(str, self.args)] + ([self.symbol] if self.symbol else [])
        return "_".join(parts)


def parse_feature(text: str) -> FeatureSpec:
    """Parse ``kind:arg[:arg]``; a :class:`ConfigError` names the spec and the valid kinds."""
    parts = [p.strip() for p in str(text).split(":")]
    kind = parts[0]
    if kind not in _KINDS:
        raise ConfigError(
            f"ml feature {text!r}: unknown kind {kind!r}; use one of "
            "atr_pct:N, sma_slope:N:K, close_sma:N, breadth:N, index_trend:N[:SYMBOL]"
        )
    n_int, n_sym = _KINDS[kind]
    args = parts[1:]
    symbol = None
    if n_sym and len(args) == n_int + 1:
        symbol = args.pop().upper()
        if not _SYMBOL.match(symbol):
            raise ConfigError(f"ml feature {text!r}: {symbol!r} is not a symbol")
    if len(args) != n_int or not all(a.isdigit() and int(a) >= 1 for a in args):
        raise ConfigError(f"ml feature {text!r}: {kind} needs {n_int} positive whole number(s) after ':'")
    return FeatureSpec(kind, tuple(int(a) for a in args), symbol)


def feature_columns(specs: tuple[str, ...]) -> list[str]:
    """Every model input column: the setup fields, then the named indicators in config order."""
    return [*SETUP_FEATURES, *(parse_feature(s).column for s in specs)]


def feature_frame(panel: Panel, table: SetupTable, specs: tuple[str, ...]) -> pd.DataFrame:
    """One row per setup of ``table`` (same order), one column per feature (:func:`feature_columns`)."""
    t = np.asarray(table.session_idx, dtype=np.int64)
    j = np.asarray(table.symbol_idx, dtype=np.int64)
    out: dict[str, np.ndarray] = {
        name: np.asarray(getattr(table, name), dtype=np.float64) for name in SETUP_FEATURES
    }
    cache: dict[tuple[str, int], np.ndarray] = {}
    for text in specs:
        spec = parse_feature(text)
        out[spec.column] = _feature_values(panel, spec, t, j, cache)
    return pd.DataFrame(out)


def _sma(panel: Panel, n: int, cache: dict[tuple[str, int], np.ndarray]) -> np.ndarray:
    key = ("sma", n)
    if key not in cache:
        cache[key] = indicators.sma(panel.close, n, panel.available)
    return cache[key]


def _feature_values(
    panel: Panel, spec: FeatureSpec, t: np.ndarray, j: np.ndarray, cache: dict[tuple[str, int], np.ndarray]
) -> np.ndarray:
    if spec.kind == "atr_pct":
        atr = indicators.atr(panel.high, panel.low, panel.close, panel.available, spec.args[0])
        return np.asarray(atr[t, j] / panel.close[t, j], dtype=np.float64)
    if spec.kind == "close_sma":
        sma = _sma(panel, spec.args[0], cache)
        return np.asarray(panel.close[t, j] / sma[t, j] - 1.0, dtype=np.float64)
    if spec.kind == "sma_slope":
        sma = _sma(panel, spec.args[0], cache)
        earlier = _bars_earlier(sma, panel.available, spec.args[1])
        return np.asarray(sma[t, j] / earlier[t, j] - 1.0, dtype=np.float64)
    if spec.kind == "breadth":
        return np.asarray(_breadth(panel, _sma(panel, spec.args[0], cache))[t], dtype=np.float64)
    return np.asarray(_index_trend(panel, spec.args[0], spec.symbol)[t], dtype=np.float64)


def _bars_earlier(values: np.ndarray, available: np.ndarray, k: int) -> np.ndarray:
    """Each bar's value ``k`` of the symbol's own bars earlier (NaN with fewer earlier bars)."""
    layout = indicators.BarLayout.from_available(available)
    flat = layout.compress(values)
    shifted = np.full_like(flat, np.nan)
    ok = layout.position >= k
    idx = np.flatnonzero(ok)
    shifted[idx] = flat[idx - k]
    return layout.expand(shifted)


def _breadth(panel: Panel, sma: np.ndarray) -> np.ndarray:
    """Per session: share of symbols with a bar and a defined SMA whose close is above it."""
    defined = panel.available & np.isfinite(sma)
    above = np.where(defined, panel.close > np.where(defined, sma, np.inf), False)
    counts = defined.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, above.sum(axis=1) / np.maximum(counts, 1), np.nan)


def _index_trend(panel: Panel, n: int, symbol: str | None) -> np.ndarray:
    """Per session: index / SMA_n(index) - 1 (NaN until n index values exist)."""
    if symbol is not None:
        col = panel.symbol_index(symbol)
        level = np.where(panel.available[:, col], panel.close[:, col], np.nan)
    else:
        prev = indicators.previous_bar(panel.close, panel.available)
        ret = panel.close / prev - 1.0
        ok = panel.available & np.isfinite(ret)
        counts = ok.sum(axis=1)
        mean = np.where(counts > 0, np.where(ok, ret, 0.0).sum(axis=1) / np.maximum(counts, 1), 0.0)
        level = np.cumprod(1.0 + mean)
    series = pd.Series(level)
    sma = series.dropna().rolling(n, min_periods=n).mean().reindex(series.index)
    return np.asarray(series / sma - 1.0, dtype=np.float64)
