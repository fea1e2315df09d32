"""Helpers of the paper-account tests (importable from every test folder): a small slice of the shared S&P 500 data and configs over it.

The slice (48 symbols spread over the alphabet, 2004-06 .. 2008-06) is written once per test process
as a Parquet file, so each account step loads it in a fraction of a second; everything else (the
journal, the data files) is real and on disk.
"""

from __future__ import annotations

import functools
import textwrap
from pathlib import Path

import pandas as pd

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "sp500_daily.parquet"


@functools.lru_cache(maxsize=1)
def shared_bars() -> pd.DataFrame:
    """The whole shared table (read once per process)."""
    return pd.read_parquet(SHARED)


FIRST_BAR, LAST_BAR = "2004-06-01", "2008-06-30"


@functools.lru_cache(maxsize=1)
def subset_symbols(n: int = 48) -> tuple[str, ...]:
    symbols = sorted(pd.read_parquet(SHARED, columns=["symbol"])["symbol"].astype(str).unique())
    step = max(1, len(symbols) // n)
    return tuple(symbols[::step][:n])


@functools.lru_cache(maxsize=4)
def subset_file(directory: str) -> Path:
    """The slice as ``<directory>/sp500_slice.parquet`` (written once)."""
    path = Path(directory) / "sp500_slice.parquet"
    if not path.exists():
        bars = shared_bars()
        keep = bars["symbol"].astype(str).isin(subset_symbols()) & bars["date"].between(FIRST_BAR, LAST_BAR)
        part = bars[keep].copy()
        part["symbol"] = part["symbol"].astype(str)
        path.parent.mkdir(parents=True, exist_ok=True)
        part.to_parquet(path)
    return path


def write_config(
    path: Path,
    data: Path,
    *,
    start: str = "2006-01-01",
    end: str = "2007-12-31",
    exit_name: str = "smart_exits",
    entry_fill: str = "next_open",
    exit_fill: str = "close",
    preset: str = "relaxed",
    max_positions: int = 5,
    sleeves: bool = False,
    extra: str = "",
) -> Path:
    """A config over the slice; ``sleeves`` gives two strategies sharing the capital."""
    strategy = f"""
        [scanner]
        name = "daily_breakout"
        preset = "{preset}"

        [exit]
        name = "{exit_name}"
    """
    if sleeves:
        strategy = """
            [[sleeves]]
            name = "smart"
            weight = 0.6
            max_positions = 4
            scanner = { name = "daily_breakout", preset = "moderate" }
            exit = { name = "smart_exits" }

            [[sleeves]]
            name = "scaled"
            weight = 0.4
            max_positions = 3
            scanner = { name = "daily_breakout", preset = "relaxed" }
            exit = { name = "scaled_exits" }
            sizer = { name = "risk", fraction = 0.01 }
        """
    text = f"""
        [data]
        source = "file"
        path = "{data}"
        start = "{start}"
        end = "{end}"
        {textwrap.dedent(strategy)}
        [portfolio]
        max_positions = {max_positions}
        entry_fill = "{entry_fill}"
        exit_fill = "{exit_fill}"
        commission_per_order = 1.0
        {extra}
    """
    path.write_text(textwrap.dedent(text))
    return path
