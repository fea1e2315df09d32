"""Market data: sources, validation, the cache and the loading API.

The rest of the package calls :func:`load_panel` (or :func:`load_bars`) with a frozen
:class:`DataRequest`::

    from trading_playbook.data import DataRequest, load_panel
    panel, info = load_panel(DataRequest(source="file", path="../shared/data/sp500_daily.parquet"))

Sources implement :class:`BarSource` (``fetch(symbols, start, end) -> long DataFrame``):
:class:`FileSource`, :class:`AlpacaSource`, :class:`SyntheticSource`. :class:`BarCache` stores bars
per (source, symbol) with a SQLite catalog; :func:`fill_cache` fetches only what it lacks.
"""

from trading_playbook.data.alpaca import AlpacaSource
from trading_playbook.data.api import DataRequest, load_arrays, load_bars, load_panel
from trading_playbook.data.cache import BarCache, CacheLoadError, resolve_cache_dir
from trading_playbook.data.calendar import xnys_sessions
from trading_playbook.data.files import FileSource, parse_column_mapping
from trading_playbook.data.fill import FillReport, fill_cache
from trading_playbook.data.model import BAR_COLUMNS, OPTIONAL_COLUMNS, BarArrays, normalize_symbol
from trading_playbook.data.source import BarSource
from trading_playbook.data.synthetic import SyntheticSource, synthetic_bars
from trading_playbook.data.validate import RULES as VALIDATION_RULES
from trading_playbook.data.validate import ValidationReport, validate_bars

__all__ = [
    "BAR_COLUMNS",
    "OPTIONAL_COLUMNS",
    "VALIDATION_RULES",
    "AlpacaSource",
    "BarArrays",
    "BarCache",
    "BarSource",
    "CacheLoadError",
    "DataRequest",
    "FileSource",
    "FillReport",
    "SyntheticSource",
    "ValidationReport",
    "fill_cache",
    "load_arrays",
    "load_bars",
    "load_panel",
    "normalize_symbol",
    "parse_column_mapping",
    "resolve_cache_dir",
    "synthetic_bars",
    "validate_bars",
    "xnys_sessions",
]
