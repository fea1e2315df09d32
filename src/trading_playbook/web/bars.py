"""The bars of one symbol as a run saw them, for the trade page's candlestick chart.

The run's stored configuration names its data (``[data]``); the symbol is loaded alone through the
same :func:`~trading_playbook.data.load_panel` path and the same adjustment, over the same loaded range,
so the prices match the fills (split factors use every split in the loaded data, RULES section 1).
Only sources that can be read without writing are loaded: files and the seeded synthetic universe.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from trading_playbook.core.errors import PlaybookError
from trading_playbook.core.panel import Panel

__all__ = ["READABLE_SOURCES", "BarsUnavailable", "SymbolBars", "load_symbol_bars", "resolved_request"]

READABLE_SOURCES = ("file", "synthetic")


class BarsUnavailable(PlaybookError):
    """The bars of a trade's symbol cannot be loaded; the message says why and what to do."""


@dataclass(frozen=True)
class SymbolBars:
    """One symbol's adjusted bars (a one-column panel) and the config the run used."""

    panel: Panel
    config: Any  # PlaybookConfig

    @property
    def dates(self) -> list[str]:
        return [str(d) for d in np.asarray(self.panel.sessions).astype("datetime64[D]")]


def resolved_request(config: dict[str, Any], data_root: Path, what: str = "the run") -> tuple[Any, Any]:
    """The config and its data request with a relative file path resolved from ``data_root``."""
    from trading_playbook.config import parse_config

    try:
        cfg = parse_config(config, origin=f"{what}'s stored configuration")
    except PlaybookError as exc:
        raise BarsUnavailable(f"{what}'s configuration cannot be rebuilt here: {exc}") from exc
    request = cfg.data_request()
    if request.source not in READABLE_SOURCES:
        raise BarsUnavailable(
            f"bars of {request.source!r} data are not loaded by the dashboard (it opens no cache "
            "read-write); open the run's report.html for its charts"
        )
    if request.source == "file":
        path = Path(str(request.path)).expanduser()
        if not path.is_absolute():
            path = data_root / path
        if not path.exists():
            raise BarsUnavailable(
                f"{what}'s data file {request.path} is not found from {data_root}; start "
                "`playbook serve` in the folder the backtest ran in (or pass --data-root)"
            )
        request = replace(request, path=str(path))
    return cfg, request


def load_symbol_bars(doc: dict[str, Any], symbol: str, data_root: Path) -> SymbolBars:
    """The adjusted bars of ``symbol`` from the run's data (one-column panel)."""
    from trading_playbook.data import load_panel

    cfg, request = resolved_request(doc["config"], data_root)
    request = replace(request, symbols=(symbol.upper(),))
    try:
        panel, _ = load_panel(request)
    except PlaybookError as exc:
        raise BarsUnavailable(f"the bars of {symbol} cannot be loaded: {exc}") from exc
    if symbol.upper() not in panel.symbols:
        raise BarsUnavailable(f"the run's data has no bars for {symbol}")
    return SymbolBars(panel=panel.select([symbol.upper()]), config=cfg)
