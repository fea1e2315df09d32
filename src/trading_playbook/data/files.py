"""Local files: Parquet or CSV, one long table or a folder with one file per symbol."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.csv as pacsv

from trading_playbook.core.errors import SourceError
from trading_playbook.data.arrow import arrays_from_table, read_parquet, rename_columns, renamed_columns
from trading_playbook.data.model import BarArrays, concat_arrays, to_frame
from trading_playbook.data.source import clip_dates

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["FileSource", "parse_column_mapping", "read_bar_file"]

PARQUET_SUFFIXES = (".parquet", ".pq")
CSV_SUFFIXES = (".csv", ".csv.gz", ".txt")


def parse_column_mapping(text: str | None) -> dict[str, str]:
    """``"Date=date,Adj Close=adjusted_close"`` as a dict (old name -> standard name)."""
    mapping: dict[str, str] = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        old, sep, new = item.partition("=")
        if not sep or not old.strip() or not new.strip():
            raise SourceError(f"column mapping item {item!r} is not old=new (e.g. 'Date=date')")
        mapping[old.strip()] = new.strip()
    return mapping


def read_bar_file(
    path: Path, columns: Mapping[str, str], symbol: str | None = None, skip: Sequence[str] = ()
) -> BarArrays:
    """Read one Parquet or CSV file of bars (``symbol`` names a one-symbol file's ticker).

    ``skip``: standard column names not to read (a Parquet file's other columns are not decoded).
    """
    origin = f"file {path}"
    name = path.name.lower()
    try:
        if name.endswith(PARQUET_SUFFIXES):
            table = read_parquet(path, _parquet_columns(path, columns, skip, origin) if skip else None)
        elif name.endswith(CSV_SUFFIXES):
            table = pacsv.read_csv(path)
        else:
            raise SourceError(f"{origin}: unknown file type; use .parquet or .csv")
    except FileNotFoundError as exc:
        raise SourceError(f"file {path.absolute()} does not exist; check the path") from exc
    except (pa.ArrowException, OSError) as exc:
        raise SourceError(f"{origin} could not be read ({exc}); is it a valid Parquet/CSV file?") from exc
    table = rename_columns(table, dict(columns), origin)
    if table.num_rows == 0:
        raise SourceError(
            f"{origin} has no rows (columns {', '.join(table.column_names)}); nothing to read: "
            "check that the file was exported completely"
        )
    return arrays_from_table(table, origin, symbol=symbol)


def _parquet_columns(path: Path, columns: Mapping[str, str], skip: Sequence[str], origin: str) -> list[str]:
    """The file's columns except those whose standard name (after the mapping) is in ``skip``."""
    import pyarrow.parquet as pq

    with pq.ParquetFile(path) as handle:
        schema = handle.schema_arrow
    # from the names alone (an empty table of the schema would import pandas for its metadata)
    renamed = renamed_columns(list(schema.names), dict(columns), origin)
    return [old for old, new in zip(schema.names, renamed, strict=True) if new not in skip]


class FileSource:
    """Bars from a Parquet/CSV long table or a folder of one file per symbol.

    Parameters
    ----------
    path
        A file holding a long table, or a folder whose files are named after their symbol
        (``AAPL.parquet``, ``BRK.B.csv``); a ``symbol`` column, when present, wins over the name.
    columns
        Column-name mapping, old name -> standard name (``{"Adj Close": "adjusted_close"}``).
    name
        The source name recorded in the cache.
    """

    def __init__(
        self,
        path: str | Path,
        columns: Mapping[str, str] | None = None,
        name: str = "file",
        skip_columns: Sequence[str] = (),
    ):
        self.path = Path(path).expanduser()
        self.columns = dict(columns or {})
        self.name = name
        self.skip_columns = tuple(skip_columns)  # standard columns not read (what a panel does not use)

    def fetch(
        self, symbols: Sequence[str] = (), start: str | None = None, end: str | None = None
    ) -> pd.DataFrame:
        """The long table of ``symbols`` (all when empty) between ``start`` and ``end``."""
        return to_frame(self.fetch_arrays(symbols, start, end))

    def fetch_arrays(
        self, symbols: Sequence[str] = (), start: str | None = None, end: str | None = None
    ) -> BarArrays:
        bars = self._read()
        if symbols:
            bars = bars.select(tuple(symbols))
        return clip_dates(bars, start, end)

    def _read(self) -> BarArrays:
        if not self.path.exists():
            raise SourceError(
                f"{self.path.absolute()} does not exist; check the path (a Parquet/CSV file or a folder "
                "of per-symbol files; in a config, relative to the config file's folder)"
            )
        if self.path.is_dir():
            return self._read_folder()
        return read_bar_file(self.path, self.columns, skip=self.skip_columns)

    def _read_folder(self) -> BarArrays:
        files = sorted(
            p
            for p in self.path.iterdir()
            if p.is_file() and p.name.lower().endswith(PARQUET_SUFFIXES + CSV_SUFFIXES)
        )
        if not files:
            raise SourceError(f"folder {self.path} holds no .parquet or .csv files")

        def read(path: Path) -> BarArrays:
            stem = path.name
            for suffix in PARQUET_SUFFIXES + CSV_SUFFIXES:
                if stem.lower().endswith(suffix):
                    stem = stem[: -len(suffix)]
                    break
            return read_bar_file(path, self.columns, symbol=stem, skip=self.skip_columns)

        with ThreadPoolExecutor(max_workers=8) as pool:
            parts = list(pool.map(read, files))
        return concat_arrays(parts, origin=f"folder {self.path}")
