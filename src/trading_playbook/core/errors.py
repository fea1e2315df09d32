"""One exception tree for the whole package.

Every error a user can meet derives from :class:`PlaybookError`. Vendor errors (pyarrow, sqlite3,
alpaca-py, pydantic) are translated at the boundary: ``raise DataError(...) from exc``.
Messages name the file, symbol, row or key at fault and say how to fix it.
"""

from __future__ import annotations

__all__ = [
    "CacheError",
    "ConfigError",
    "DataError",
    "DataValidationError",
    "PlaybookError",
    "SimulationError",
    "SourceError",
    "UnknownComponentError",
]


class PlaybookError(Exception):
    """Root of every error raised by trading_playbook."""


class ConfigError(PlaybookError):
    """A configuration file or parameter is invalid (names the key and the closest valid one)."""


class UnknownComponentError(ConfigError):
    """A scanner, exit strategy or sizer name is not registered (lists the closest matches)."""


class DataError(PlaybookError):
    """Market data is missing, malformed or inconsistent."""


class DataValidationError(DataError):
    """Bars failed validation on the way in (names file, symbol, date and the fix)."""


class SourceError(DataError):
    """A data source (file, Alpaca, ...) failed to deliver bars."""


class CacheError(DataError):
    """The local cache is unusable (corrupt file, locked catalog, ...)."""


class SimulationError(PlaybookError):
    """The engine was asked to do something impossible (no sessions, bad parameters, ...)."""
