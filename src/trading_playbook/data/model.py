"""The long bar table and its columnar form.

The long bar table has one row per (symbol, session): ``symbol, date, open, high, low, close,
volume`` and optionally ``split`` (coefficient taking effect that session, 1.0 otherwise),
``dividend`` and ``adjusted_close``. Prices are raw (as traded); adjustment happens when the panel
is built (:func:`trading_playbook.core.panel.panel_from_arrays`).

Internally the data layer moves bars as :class:`BarArrays`: flat numpy arrays plus integer symbol
codes into a sorted symbol tuple. That form is what validation, the cache and the panel fast path
share; :func:`to_frame` and :func:`from_frame` convert to and from pandas.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from trading_playbook.core.errors import DataError

if TYPE_CHECKING:  # pandas only where a DataFrame comes in or goes out
    import pandas as pd

__all__ = [
    "BAR_COLUMNS",
    "OPTIONAL_COLUMNS",
    "PRICE_COLUMNS",
    "BarArrays",
    "concat_arrays",
    "from_frame",
    "normalize_symbol",
    "to_frame",
]

BAR_COLUMNS: tuple[str, ...] = ("symbol", "date", "open", "high", "low", "close", "volume")
PRICE_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close")
OPTIONAL_COLUMNS: tuple[str, ...] = ("split", "dividend", "adjusted_close")
VALUE_COLUMNS: tuple[str, ...] = (*PRICE_COLUMNS, "volume", *OPTIONAL_COLUMNS)

# Upper-case tickers such as AAPL, BRK.B or BF-B; no slash, no leading dot: safe as a file name.
_SYMBOL_RE = re.compile(r"^[A-Z0-9][A-Z0-9.\-]{0,14}$")


def normalize_symbol(symbol: object) -> str:
    """Upper-case and check a ticker; reject anything that could escape a folder.

    >>> normalize_symbol("brk.b")
    'BRK.B'
    """
    text = str(symbol).strip().upper()
    if not _SYMBOL_RE.fullmatch(text) or ".." in text:
        raise DataError(
            f"invalid symbol {symbol!r}: a ticker is 1-15 characters A-Z, 0-9, '.' or '-' and starts "
            "with a letter or digit (e.g. AAPL, BRK.B); fix the symbol list or the data's symbol column"
        )
    return text


@dataclass(frozen=True, eq=False)
class BarArrays:
    """Bars as flat arrays: ``codes`` index ``symbols`` (sorted, code-point order).

    ``day`` is ``datetime64[D]``; ``values`` maps column names (``open`` ... ``volume`` and present
    optional columns) to float64 arrays of the same length.
    """

    symbols: tuple[str, ...]
    codes: np.ndarray
    day: np.ndarray
    values: dict[str, np.ndarray]
    origin: str = "<memory>"

    def __len__(self) -> int:
        return int(self.day.shape[0])

    def take(self, index: np.ndarray) -> BarArrays:
        """Rows selected by an integer or boolean index (symbols without rows are kept)."""
        return replace(
            self,
            codes=self.codes[index],
            day=self.day[index],
            values={k: v[index] for k, v in self.values.items()},
        )

    def compact(self) -> BarArrays:
        """Drop symbols that have no rows and renumber the codes."""
        present = np.zeros(len(self.symbols), dtype=bool)
        present[self.codes] = True
        if present.all():
            return self
        remap = np.cumsum(present) - 1
        symbols = tuple(s for s, keep in zip(self.symbols, present, strict=True) if keep)
        return replace(self, symbols=symbols, codes=remap[self.codes].astype(np.int64))

    def is_sorted(self) -> bool:
        """True when rows are ordered by (symbol, date) with no duplicate."""
        if len(self) < 2:
            return True
        dcode = np.diff(self.codes)
        dday = np.diff(self.day.astype(np.int64))
        return bool(np.all((dcode > 0) | ((dcode == 0) & (dday > 0))))

    def sort(self) -> BarArrays:
        """Rows ordered by (symbol, date); stable, so equal keys keep their input order."""
        if self.is_sorted():
            return self
        order = np.lexsort((self.day.astype(np.int64), self.codes))
        return self.take(order)

    def select(self, symbols: tuple[str, ...] | list[str]) -> BarArrays:
        """Only the rows of ``symbols`` (unknown symbols raise a DataError naming them)."""
        wanted = {normalize_symbol(s) for s in symbols}
        missing = sorted(wanted - set(self.symbols))
        if missing:
            raise DataError(
                f"symbol(s) {', '.join(missing)} not in {self.origin}; check the symbols list "
                f"(the data holds {len(self.symbols)} symbols)"
            )
        keep = np.array([s in wanted for s in self.symbols], dtype=bool)
        return self.take(keep[self.codes]).compact()


def from_frame(frame: pd.DataFrame, origin: str = "<memory>") -> BarArrays:
    """A long bar DataFrame as :class:`BarArrays` (columns already use the standard names)."""
    import pandas as pd

    missing = [c for c in BAR_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(
            f"{origin}: bar table lacks column(s) {missing}; expected {list(BAR_COLUMNS)} "
            "(map other names with a column mapping, e.g. --columns Date=date)"
        )
    codes, uniques = pd.factorize(frame["symbol"].astype(str), sort=False)
    if (codes < 0).any():
        raise DataError(f"{origin}: rows without a symbol; fill or drop them")
    names = [normalize_symbol(s) for s in uniques]
    symbols, remap = _sorted_symbols(names)
    dates = frame["date"]
    if not pd.api.types.is_datetime64_any_dtype(dates):
        try:
            dates = pd.to_datetime(dates)
        except (ValueError, TypeError) as exc:
            raise DataError(f"{origin}: column 'date' holds values that are not dates ({exc})") from exc
    if getattr(dates.dt, "tz", None) is not None:
        dates = dates.dt.tz_localize(None)
    if dates.isna().any():
        raise DataError(f"{origin}: column 'date' has missing values; drop those rows")
    values = {c: _float(frame[c], c, origin) for c in VALUE_COLUMNS if c in frame.columns}
    return BarArrays(
        symbols=symbols,
        codes=remap[codes].astype(np.int64),
        day=dates.to_numpy().astype("datetime64[D]"),
        values=values,
        origin=origin,
    )


def to_frame(bars: BarArrays) -> pd.DataFrame:
    """The standard long table: categorical symbol, datetime64 date, float64 values."""
    import pandas as pd

    symbol = pd.Categorical.from_codes(bars.codes, categories=pd.Index(list(bars.symbols)))
    data: dict[str, object] = {"symbol": symbol, "date": bars.day.astype("datetime64[ns]")}
    for name in VALUE_COLUMNS:
        if name in bars.values:
            data[name] = bars.values[name]
    return pd.DataFrame(data)


def concat_arrays(parts: list[BarArrays], origin: str) -> BarArrays:
    """Concatenate several :class:`BarArrays` (symbols merged and re-sorted)."""
    parts = [p for p in parts if len(p)]
    if not parts:
        return BarArrays((), np.zeros(0, np.int64), np.zeros(0, "datetime64[D]"), {}, origin)
    symbols = tuple(sorted({s for p in parts for s in p.symbols}))
    pos = {s: i for i, s in enumerate(symbols)}
    codes = np.concatenate([np.array([pos[s] for s in p.symbols], np.int64)[p.codes] for p in parts])
    names = [c for c in VALUE_COLUMNS if any(c in p.values for p in parts)]
    values = {c: np.concatenate([p.values.get(c, _default(c, len(p))) for p in parts]) for c in names}
    day = np.concatenate([p.day for p in parts])
    return BarArrays(symbols, codes, day, values, origin)


def _default(column: str, n: int) -> np.ndarray:
    """Fill for an optional column a part lacks: split 1, dividend 0, adjusted_close NaN."""
    fill = {"split": 1.0, "dividend": 0.0}.get(column, np.nan)
    return np.full(n, fill, dtype=np.float64)


def _sorted_symbols(names: list[str]) -> tuple[tuple[str, ...], np.ndarray]:
    """Sorted unique symbols and the map from input position to sorted code."""
    symbols = tuple(sorted(set(names)))
    pos = {s: i for i, s in enumerate(symbols)}
    return symbols, np.array([pos[s] for s in names], dtype=np.int64)


def _float(column: pd.Series, name: str, origin: str) -> np.ndarray:
    if column.dtype == np.float64:
        return column.to_numpy()
    import pandas as pd

    try:
        return pd.to_numeric(column).to_numpy(dtype=np.float64, na_value=np.nan)
    except (ValueError, TypeError) as exc:
        raise DataError(f"{origin}: column {name!r} holds non-numeric values ({exc})") from exc
