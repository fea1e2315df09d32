"""Market data: sources, validation, the cache and the loading API.

The rest of the package calls :func:`load_panel` (or :func:`load_bars`) with a frozen
:class:`DataRequest`::

    from trading_playbook.data import DataRequest, load_panel
    panel, info = load_panel(DataRequest(source="file", path="../shared/data/sp500_daily.parquet"))

Sources implement :class:`BarSource` (``fetch(symbols, start, end) -> long DataFrame``):
:class:`FileSource`, :class:`AlpacaSource`, :class:`SyntheticSource`. :class:`BarCache` stores bars
per (source, symbol) with a SQLite catalog; :func:`fill_cache` fetches only what it lacks.
"""

# Imported on first use, so a run loads only the sources it reads (Alpaca's client and pandas, the
# exchange calendar and the cache each cost a noticeable part of a second to import).
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, tuple[str, str]] = {
    "AlpacaSource": ("trading_playbook.data.alpaca", "AlpacaSource"),
    "DataRequest": ("trading_playbook.data.api", "DataRequest"),
    "load_arrays": ("trading_playbook.data.api", "load_arrays"),
    "load_bars": ("trading_playbook.data.api", "load_bars"),
    "load_panel": ("trading_playbook.data.api", "load_panel"),
    "BarCache": ("trading_playbook.data.cache", "BarCache"),
    "CacheLoadError": ("trading_playbook.data.cache", "CacheLoadError"),
    "resolve_cache_dir": ("trading_playbook.data.cache", "resolve_cache_dir"),
    "xnys_sessions": ("trading_playbook.data.calendar", "xnys_sessions"),
    "FileSource": ("trading_playbook.data.files", "FileSource"),
    "parse_column_mapping": ("trading_playbook.data.files", "parse_column_mapping"),
    "FillReport": ("trading_playbook.data.fill", "FillReport"),
    "fill_cache": ("trading_playbook.data.fill", "fill_cache"),
    "BAR_COLUMNS": ("trading_playbook.data.model", "BAR_COLUMNS"),
    "OPTIONAL_COLUMNS": ("trading_playbook.data.model", "OPTIONAL_COLUMNS"),
    "BarArrays": ("trading_playbook.data.model", "BarArrays"),
    "normalize_symbol": ("trading_playbook.data.model", "normalize_symbol"),
    "BarSource": ("trading_playbook.data.source", "BarSource"),
    "SyntheticSource": ("trading_playbook.data.synthetic", "SyntheticSource"),
    "synthetic_bars": ("trading_playbook.data.synthetic", "synthetic_bars"),
    "ValidationReport": ("trading_playbook.data.validate", "ValidationReport"),
    "validate_bars": ("trading_playbook.data.validate", "validate_bars"),
    "VALIDATION_RULES": ("trading_playbook.data.validate", "RULES"),
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    where = _EXPORTS.get(name)
    if where is None:
        raise AttributeError(f"module 'trading_playbook.data' has no attribute {name!r}")
    value = getattr(importlib.import_module(where[0]), where[1])
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
