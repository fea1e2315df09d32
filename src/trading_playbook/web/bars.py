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


def resolved_request(
    config: dict[str, Any], data_root: Path, what: str = "the run", recorded_path: str | None = None
) -> tuple[Any, Any]:
    """The config and the data request to load its bars.

    A file source reads ``recorded_path`` when it is an existing absolute path (the file the run
    read, from ``result.json``'s ``data.path``); otherwise the config's own path, resolved from
    ``data_root`` when relative.
    """
    from trading_playbook.config import parse_config

    try:
        cfg = parse_config(config, origin=f"{what}'s stored configuration", base_dir=data_root)
    except PlaybookError as exc:
        raise BarsUnavailable(f"{what}'s configuration cannot be rebuilt here: {exc}") from exc
    source = cfg.data.source
    if source not in READABLE_SOURCES:
        raise BarsUnavailable(
            f"bars of {source!r} data are not loaded by the dashboard (it opens no cache "
            "read-write); open the run's report.html for its charts"
        )
    if (
        source == "file"
        and recorded_path
        and Path(recorded_path).is_absolute()
        and Path(recorded_path).exists()
    ):
        return cfg, replace(cfg.data, path=recorded_path)
    try:
        return cfg, cfg.data_request()
    except PlaybookError as exc:
        raise BarsUnavailable(
            f"{what}'s data file {cfg.data.path} is not found from {data_root}; start `playbook serve` "
            "in the folder the backtest ran in (or pass --data-root)"
        ) from exc


def load_symbol_bars(doc: dict[str, Any], symbol: str, data_root: Path) -> SymbolBars:
    """The adjusted bars of ``symbol`` from the run's data (one-column panel)."""
    from trading_playbook.data import load_panel

    cfg, request = resolved_request(
        doc["config"], data_root, recorded_path=(doc.get("data") or {}).get("path")
    )
    request = replace(request, symbols=(symbol.upper(),))
    try:
        panel, _ = load_panel(request)
    except PlaybookError as exc:
        raise BarsUnavailable(f"the bars of {symbol} cannot be loaded: {exc}") from exc
    if symbol.upper() not in panel.symbols:
        raise BarsUnavailable(f"the run's data has no bars for {symbol}")
    return SymbolBars(panel=panel.select([symbol.upper()]), config=cfg)
