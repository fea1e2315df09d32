"""Exit strategies from config data: a named rule set with overrides, or rules composed from primitives.

.. code-block:: toml

    [exit]                      # a built-in set with its parameters overridden
    name = "smart_exits"
    time_stop = 25
    hard_stop = 0.07

    [exit]                      # a new exit composed from primitives, no code
    name = "my_exit"
    rules = [
      { kind = "hard_stop", pct = 0.07 },
      { kind = "trailing_stop", tiers = [[0.15, "pct", 0.95], [-inf, "atr", 2.0]], activation = 0.05 },
      { kind = "ma_break", period = 10 },
      { kind = "time_stop", sessions = 30 },
    ]

Every unknown kind or key is a :class:`~trading_playbook.core.errors.ConfigError` naming it and the
closest valid one.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import math
from collections.abc import Mapping, Sequence
from typing import Any

from trading_playbook.core.errors import ConfigError
from trading_playbook.core.exits.spec import (
    EXIT_RULE_TYPES,
    NAMED_EXITS,
    ExitRule,
    ExitSpec,
    HardStop,
    TrailTier,
    named_exit,
)

__all__ = ["closest", "exit_spec_from_config", "named_exit_params", "rule_from_dict"]

_SPEC_KEYS = ("hard_stop", "description")
_CHOICES: dict[str, tuple[str, ...]] = {"basis": ("close", "resting"), "update": ("new_peak", "every_close")}


def closest(word: str, valid: Sequence[str]) -> str:
    """``"; did you mean 'x'?"`` for the closest valid word, or the list of valid ones."""
    match = difflib.get_close_matches(word, list(valid), n=1, cutoff=0.5)
    if match:
        return f"; did you mean {match[0]!r}?"
    return f"; valid: {', '.join(sorted(valid))}"


def named_exit_params(name: str) -> dict[str, Any]:
    """The overridable parameters of a built-in set and their defaults."""
    factory = NAMED_EXITS[name]
    return {p.name: p.default for p in inspect.signature(factory).parameters.values()}


def exit_spec_from_config(
    name: str | None, rules: Sequence[Mapping[str, Any]] | None, params: Mapping[str, Any] | None = None
) -> ExitSpec:
    """Build an :class:`ExitSpec` from an ``[exit]`` table.

    Parameters
    ----------
    name
        A built-in set (``smart_exits``, ``scaled_exits``, ``trend_following_75``, ``hybrid_trailing``,
        ``fixed``) when ``rules`` is None; otherwise the label of the composed exit (default
        ``"custom"``).
    rules
        Primitives in order, each a mapping with ``kind`` and the primitive's fields.
    params
        Overrides of the built-in set's parameters (``hard_stop``, ``time_stop``, ``target``), or for
        composed rules ``hard_stop`` (default: the first ``hard_stop`` rule's pct, else 0.08) and
        ``description``.
    """
    params = dict(params or {})
    if rules is None:
        if name is None:
            raise ConfigError("[exit] needs a name (a built-in rule set) or rules = [...]")
        if name not in NAMED_EXITS:
            raise ConfigError(f"[exit] unknown rule set {name!r}{closest(name, list(NAMED_EXITS))}")
        valid = named_exit_params(name)
        for key in params:
            if key not in valid:
                raise ConfigError(f"[exit] {name}: unknown parameter {key!r}{closest(key, list(valid))}")
        return named_exit(name, **params)
    built = tuple(rule_from_dict(r, position=i) for i, r in enumerate(rules))
    for key in params:
        if key not in _SPEC_KEYS:
            raise ConfigError(f"[exit] unknown key {key!r}{closest(key, [*_SPEC_KEYS, 'name', 'rules'])}")
    hard_stop = params.get("hard_stop")
    if hard_stop is None:
        hard_stop = next((r.pct for r in built if isinstance(r, HardStop)), 0.08)
    return ExitSpec(
        name=name or "custom",
        rules=built,
        hard_stop=_number("hard_stop", hard_stop, "[exit]"),
        description=str(params.get("description", "")),
    )


def rule_from_dict(data: Mapping[str, Any], *, position: int = 0) -> ExitRule:
    """One primitive from ``{kind = ..., field = value, ...}``."""
    where = f"[exit] rules[{position}]"
    if not isinstance(data, Mapping):
        raise ConfigError(f'{where}: each rule must be a table like {{ kind = "time_stop", sessions = 20 }}')
    kind = data.get("kind")
    if not isinstance(kind, str):
        raise ConfigError(f"{where}: a rule needs kind = one of {', '.join(EXIT_RULE_TYPES)}")
    if kind not in EXIT_RULE_TYPES:
        raise ConfigError(f"{where}: unknown rule kind {kind!r}{closest(kind, list(EXIT_RULE_TYPES))}")
    cls = EXIT_RULE_TYPES[kind]
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name != "kind"}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key == "kind":
            continue
        if key not in fields:
            raise ConfigError(f"{where} ({kind}): unknown key {key!r}{closest(key, list(fields))}")
        kwargs[key] = _convert(key, value, f"{where} ({kind})")
    try:
        rule: ExitRule = cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"{where} ({kind}): {exc}") from exc
    return rule


def _convert(key: str, value: Any, where: str) -> Any:
    if key == "tiers":
        if not isinstance(value, Sequence) or isinstance(value, str) or not value:
            raise ConfigError(f'{where}: tiers must be a list like [[0.15, "pct", 0.95], [-inf, "atr", 2.0]]')
        return tuple(_tier(t, where) for t in value)
    if key in ("levels",):
        return tuple(_number(key, v, where) for v in value)
    if key == "reasons":
        return tuple(str(v) for v in value)
    if key in _CHOICES and value not in _CHOICES[key]:
        raise ConfigError(
            f"{where}: {key} must be one of {', '.join(map(repr, _CHOICES[key]))}, got {value!r}"
        )
    if key in ("period", "sessions", "atr_period") and (
        isinstance(value, bool) or not isinstance(value, int) or value < 1
    ):
        raise ConfigError(f"{where}: {key} must be a whole number >= 1, got {value!r}")
    if isinstance(value, list):
        return tuple(value)
    return value


def _tier(value: Any, where: str) -> TrailTier:
    if isinstance(value, Mapping):
        unknown = [k for k in value if k not in ("min_profit", "mode", "value")]
        if unknown:
            raise ConfigError(
                f"{where}: unknown tier key {unknown[0]!r}{closest(unknown[0], ['min_profit', 'mode', 'value'])}"
            )
        items = [value.get("min_profit", -math.inf), value.get("mode"), value.get("value")]
    elif isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 3:
        items = list(value)
    else:
        raise ConfigError(f'{where}: a tier is [min_profit, "pct" | "atr", value], got {value!r}')
    min_profit, mode, level = items
    if mode not in ("pct", "atr"):
        raise ConfigError(f'{where}: tier mode must be "pct" or "atr", got {mode!r}')
    return TrailTier(_number("min_profit", min_profit, where), mode, _number("value", level, where))


def _number(key: str, value: Any, where: str) -> float:
    if isinstance(value, str) and value.strip().lower() in ("-inf", "-infinity"):
        return -math.inf
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{where}: {key} must be a number, got {value!r}")
    return float(value)
