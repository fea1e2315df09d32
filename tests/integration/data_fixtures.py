"""Shared loaders for the data tests (the real data is read once per test session)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pandas as pd

from trading_playbook.testing import shared_data_path

SHARED = shared_data_path(Path(__file__).parent) or Path("shared/data/sp500_daily.parquet")


@lru_cache(maxsize=1)
def shared_bars() -> pd.DataFrame:
    """The whole shared table (read once)."""
    return pd.read_parquet(SHARED)


def shared_slice(symbols: list[str], start: str, end: str) -> pd.DataFrame:
    """Some symbols and dates of the shared table (read with a filter, not the whole file)."""
    bars = pd.read_parquet(
        SHARED,
        filters=[
            ("symbol", "in", symbols),
            ("date", ">=", pd.Timestamp(start)),
            ("date", "<=", pd.Timestamp(end)),
        ],
    )
    bars["symbol"] = bars["symbol"].astype(str)
    bars["volume"] = bars["volume"].astype("float64")
    return bars.sort_values(["symbol", "date"]).reset_index(drop=True)
