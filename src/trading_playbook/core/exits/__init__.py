"""Exit strategies: rule primitives and named sets (:mod:`.spec`), their interpreter (:mod:`.rules`),
composition from config data (:mod:`.compose`) and the ``check_exit`` protocol (:mod:`.protocol`)."""

from __future__ import annotations

from trading_playbook.core.exits.compose import exit_spec_from_config, rule_from_dict
from trading_playbook.core.exits.protocol import (
    Bar,
    ExitEngine,
    ExitStrategyProtocol,
    PositionView,
    ProtocolExitAdapter,
    as_exit_engine,
)
from trading_playbook.core.exits.rules import BarView, ExitOrder, ExitRuleEngine, ExitState, trail_level
from trading_playbook.core.exits.spec import NAMED_EXITS, ExitSpec, named_exit

__all__ = [
    "NAMED_EXITS",
    "Bar",
    "BarView",
    "ExitEngine",
    "ExitOrder",
    "ExitRuleEngine",
    "ExitSpec",
    "ExitState",
    "ExitStrategyProtocol",
    "PositionView",
    "ProtocolExitAdapter",
    "as_exit_engine",
    "exit_spec_from_config",
    "named_exit",
    "rule_from_dict",
    "trail_level",
]
