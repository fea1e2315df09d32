"""Trading Playbook: systematic swing-trading research for US equities.

The public API (imported lazily, so ``import trading_playbook.core`` stays light)::

    from trading_playbook import load_config, run_backtest
    result = run_backtest(load_config("examples/synthetic_demo.toml"))
    result.metrics["sharpe"], len(result.trades)

    from trading_playbook import BacktestEngine, get_scanner, get_exit_strategy, get_sizer
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "BacktestEngine": "trading_playbook.engine",
    "Workspace": "trading_playbook.engine",
    "load_data": "trading_playbook.engine",
    "run_backtest": "trading_playbook.engine",
    "load_config": "trading_playbook.config",
    "parse_config": "trading_playbook.config",
    "PlaybookConfig": "trading_playbook.config",
    "get_scanner": "trading_playbook.registry",
    "get_exit_strategy": "trading_playbook.registry",
    "get_sizer": "trading_playbook.registry",
    "register_scanner": "trading_playbook.registry",
    "register_exit_strategy": "trading_playbook.registry",
    "register_sizer": "trading_playbook.registry",
    "check_lookahead": "trading_playbook.lookahead",
    "DataRequest": "trading_playbook.data",
    "load_panel": "trading_playbook.data",
    "Panel": "trading_playbook.core.panel",
    "Setup": "trading_playbook.core.types",
    "Trade": "trading_playbook.core.types",
    "RunResult": "trading_playbook.core.types",
    "PlaybookError": "trading_playbook.core.errors",
    "ConfigError": "trading_playbook.core.errors",
    "DataError": "trading_playbook.core.errors",
    "SimulationError": "trading_playbook.core.errors",
}

__all__ = sorted([*_EXPORTS, "__version__"])


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'trading_playbook' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
