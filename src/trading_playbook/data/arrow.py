"""Arrow tables to and from :class:`BarArrays` without pandas object columns (the fast path)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from trading_playbook.core.errors import DataError
from trading_playbook.data.model import BAR_COLUMNS, VALUE_COLUMNS, BarArrays, normalize_symbol

__all__ = [
    "arrays_from_table",
    "column_numpy",
    "read_parquet",
    "rename_columns",
    "renamed_columns",
    "table_from_arrays",
]


def read_parquet(
    source: Any, columns: list[str] | None = None, *, verify: bool = False, threads: bool = True
) -> pa.Table:
    """One Parquet file (a path or a buffer) as an Arrow table; ``verify`` checks the page CRCs.

    ``pyarrow.parquet.ParquetFile`` rather than ``read_table``: ``read_table`` goes through
    ``pyarrow.dataset``, whose import pulls in pandas (about 0.4 s of a command that needs none of it).
    """
    import pyarrow.parquet as pq

    with pq.ParquetFile(source, page_checksum_verification=verify) as handle:
        return handle.read(columns=columns, use_threads=threads)


def column_numpy(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """An Arrow column of fixed-width numbers or dates as numpy: a view of its buffer (no copy) when
    it is one chunk without nulls, a concatenation of such views for several chunks.

    pyarrow's own ``to_numpy`` imports pandas on first use (about 0.4 s); only columns with nulls or
    of other types take that path here.
    """
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    parts = [_chunk_numpy(chunk) for chunk in chunks]
    if len(parts) == 1:
        return parts[0]
    if not parts:
        return np.zeros(0, dtype=_NUMPY_TYPES.get(str(column.type), np.float64))
    return np.concatenate(parts)


# Arrow types whose values buffer numpy can view as is
_NUMPY_TYPES: dict[str, Any] = {
    "double": np.float64,
    "float": np.float32,
    "int64": np.int64,
    "int32": np.int32,
    "int16": np.int16,
    "int8": np.int8,
    "uint64": np.uint64,
    "uint32": np.uint32,
    "uint16": np.uint16,
    "uint8": np.uint8,
    "date32[day]": "datetime64[D]",
}


def _chunk_numpy(chunk: pa.Array) -> np.ndarray:
    dtype = _NUMPY_TYPES.get(str(chunk.type))
    if dtype is None or chunk.null_count:
        return np.asarray(chunk.to_numpy(zero_copy_only=False))
    if dtype == "datetime64[D]":
        return _chunk_numpy(chunk.view(pa.int32())).astype("datetime64[D]")
    width = np.dtype(dtype).itemsize
    buffer = chunk.buffers()[1]
    return np.frombuffer(buffer, dtype=dtype, count=len(chunk), offset=chunk.offset * width)


def rename_columns(table: pa.Table, mapping: dict[str, str], origin: str) -> pa.Table:
    """Apply a column-name mapping (old -> new); standard names also match case-insensitively."""
    return table.rename_columns(renamed_columns(table.column_names, mapping, origin))


def renamed_columns(columns: list[str], mapping: dict[str, str], origin: str) -> list[str]:
    """The names :func:`rename_columns` gives ``columns`` (a file's column names, in order)."""
    unknown = [old for old in mapping if old not in columns]
    if unknown:
        raise DataError(
            f"{origin}: column mapping names {unknown} which the file lacks; its columns are {columns}"
        )
    names = [mapping.get(name, name) for name in columns]
    standard = {c.lower(): c for c in (*BAR_COLUMNS, *VALUE_COLUMNS)}
    present = set(names)
    for i, name in enumerate(names):
        target = standard.get(name.lower().replace(" ", "_"))
        if target is not None and target not in present:
            names[i] = target
            present.add(target)
    return names


def arrays_from_table(table: pa.Table, origin: str, symbol: str | None = None) -> BarArrays:
    """Convert a standard-named Arrow table to :class:`BarArrays`.

    ``symbol`` names the symbol of a one-symbol file without a ``symbol`` column.
    """
    required = [c for c in BAR_COLUMNS if c != "symbol" or symbol is None]
    missing = [c for c in required if c not in table.column_names]
    if missing:
        raise DataError(
            f"{origin}: lacks column(s) {missing}; its columns are {table.column_names}. Map them with "
            "a column mapping (CLI: --columns 'Adj Close=adjusted_close,Date=date')"
        )
    if symbol is not None and "symbol" not in table.column_names:
        symbols: tuple[str, ...] = (normalize_symbol(symbol),)
        codes = np.zeros(table.num_rows, dtype=np.int64)
    else:
        symbols, codes = _symbol_codes(table.column("symbol"), origin)
    values = {
        name: _float_array(table.column(name), name, origin)
        for name in VALUE_COLUMNS
        if name in table.column_names
    }
    return BarArrays(symbols, codes, _days(table.column("date"), origin), values, origin)


def table_from_arrays(bars: BarArrays, *, with_symbol: bool = True) -> pa.Table:
    """An Arrow table of ``bars`` (symbol as a dictionary column, date as date32)."""
    columns: dict[str, pa.Array] = {}
    if with_symbol:
        columns["symbol"] = pa.DictionaryArray.from_arrays(
            pa.array(bars.codes.astype(np.int32)), pa.array(list(bars.symbols), pa.string())
        )
    columns["date"] = pa.array(bars.day.astype("datetime64[D]"), pa.date32())
    for name in VALUE_COLUMNS:
        if name in bars.values:
            columns[name] = pa.array(bars.values[name], pa.float64())
    return pa.table(columns)


def _symbol_codes(column: pa.ChunkedArray, origin: str) -> tuple[tuple[str, ...], np.ndarray]:
    """Sorted, validated symbols and each row's code, via the dictionary (no per-row strings)."""
    if column.null_count:
        raise DataError(f"{origin}: {column.null_count} rows without a symbol; fill or drop them")
    if not pa.types.is_dictionary(column.type):
        import pyarrow.compute as pc  # a plain string column (a dictionary column needs none)

        column = pc.dictionary_encode(column)
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if isinstance(array, pa.ChunkedArray):  # pragma: no cover - combine_chunks returns an Array
        array = array.combine_chunks()
    names = [normalize_symbol(s) for s in array.dictionary.to_pylist()]
    symbols = tuple(sorted(set(names)))
    pos = {s: i for i, s in enumerate(symbols)}
    remap = np.array([pos[s] for s in names], dtype=np.int64)
    indices = column_numpy(array.indices).astype(np.int64, copy=False)
    return symbols, remap[indices]


def _days(column: pa.ChunkedArray, origin: str) -> np.ndarray:
    """Session dates as datetime64[D]; time of day dropped, time zones read as local wall time."""
    if column.null_count:
        raise DataError(f"{origin}: {column.null_count} rows have no date; drop them")
    kind = column.type
    if pa.types.is_date32(kind):  # the usual layout (what the cache and its pack hold): a view
        return column_numpy(column).astype("datetime64[D]", copy=False)
    import pyarrow.compute as pc  # other date types (about 0.15 s to import)

    if pa.types.is_timestamp(kind) and kind.tz is not None:
        column = pc.local_timestamp(column)
        kind = column.type
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        return np.asarray(column_numpy(pc.cast(column, pa.date32())), dtype="datetime64[D]")
    import pandas as pd  # text dates only (Parquet and typed CSV columns never get here)

    try:
        parsed = pd.to_datetime(pd.Series(column.to_numpy(zero_copy_only=False)))
    except (ValueError, TypeError) as exc:
        raise DataError(f"{origin}: column 'date' holds values that are not dates ({exc})") from exc
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_localize(None)
    return parsed.to_numpy().astype("datetime64[D]")


def _float_array(column: pa.ChunkedArray, name: str, origin: str) -> np.ndarray:
    try:
        if column.type != pa.float64():
            import pyarrow.compute as pc

            column = pc.cast(column, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise DataError(f"{origin}: column {name!r} holds non-numeric values ({exc})") from exc
    return np.asarray(column_numpy(column), dtype=np.float64)
