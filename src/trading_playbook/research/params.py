"""The ``--param`` grammar: which configuration keys a sweep varies and over which values.

One ``--param`` is ``KEY=VALUES`` where ``KEY`` is a dotted configuration key
(``scanner.min_volume_ratio``, ``exit.time_stop``, ``sleeves.smart.exit.time_stop``) and ``VALUES`` is

- an inclusive range ``START:STOP:STEP`` (``0.8:1.6:0.2`` -> 0.8, 1.0, 1.2, 1.4, 1.6); the values are
  computed in decimal arithmetic so ``0.8 + 3 * 0.2`` is exactly ``1.4``, not ``1.4000000000000001``;
  the range is integer when all three numbers are integers (``10:30:5``);
- a comma-separated list ``10,17,25`` or ``smart_exits,scaled_exits``;
- a single value ``17`` (a fixed override, still recorded as a parameter).

Values are typed: integers, then floats, then ``true``/``false``, else strings.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from trading_playbook.core.errors import ConfigError

__all__ = [
    "ParamSpec",
    "ParamValue",
    "grid_points",
    "parse_param",
    "parse_params",
    "random_points",
    "setup_key",
]

ParamValue = int | float | bool | str

#: Most points a range may expand to (a typo like ``0:1000000:1`` should fail, not hang).
MAX_RANGE_POINTS = 100_000

#: Config sections whose parameters never change the setups (so trials sharing every other
#: parameter reuse the same scan).
_POST_SCAN_SECTIONS = ("exit", "sizer", "portfolio")


@dataclass(frozen=True)
class ParamSpec:
    """One swept parameter: its dotted key, its candidate values and how they were given.

    Attributes
    ----------
    key : str
        Dotted configuration key, passed to ``PlaybookConfig.with_overrides``.
    values : tuple of ParamValue
        Candidate values in the order given (ranges ascending).
    kind : {"range", "list"}
        ``range`` for ``START:STOP:STEP`` (TPE samples it as a stepped number), ``list`` otherwise
        (TPE samples it as a category).
    """

    key: str
    values: tuple[ParamValue, ...]
    kind: Literal["range", "list"]
    start: float | None = None
    stop: float | None = None
    step: float | None = None

    @property
    def is_integer(self) -> bool:
        """True when every value is an int (not a bool)."""
        return all(isinstance(v, int) and not isinstance(v, bool) for v in self.values)

    def __str__(self) -> str:
        if self.kind == "range":
            return f"{self.key}={_fmt(self.start)}:{_fmt(self.stop)}:{_fmt(self.step)}"
        return f"{self.key}={','.join(str(v) for v in self.values)}"


def parse_param(text: str) -> ParamSpec:
    """Parse one ``KEY=VALUES`` parameter (see the module docstring).

    Parameters
    ----------
    text : str
        For example ``"scanner.min_volume_ratio=0.8:1.6:0.2"`` or ``"exit.time_stop=10,17,25"``.

    Returns
    -------
    ParamSpec

    Raises
    ------
    ConfigError
        On a missing ``=``, an empty key or value, a malformed range or duplicated values.

    Examples
    --------
    >>> parse_param("scanner.min_volume_ratio=0.8:1.6:0.2").values
    (0.8, 1.0, 1.2, 1.4, 1.6)
    >>> parse_param("exit.time_stop=10,17,25").values
    (10, 17, 25)
    """
    key, sep, raw = text.partition("=")
    key, raw = key.strip(), raw.strip()
    if not sep or not key or not raw:
        raise ConfigError(
            f"--param {text!r}: expected KEY=VALUES, e.g. scanner.min_volume_ratio=0.8:1.6:0.2 "
            "(inclusive range) or exit.time_stop=10,17,25 (list)"
        )
    if any(not part or not part.replace("_", "").isalnum() for part in key.split(".")):
        raise ConfigError(f"--param {text!r}: {key!r} is not a dotted configuration key like exit.time_stop")
    if ":" in raw:
        return _parse_range(key, raw, text)
    values = tuple(_typed(part.strip(), text) for part in raw.split(","))
    if len(set(map(repr, values))) != len(values):
        raise ConfigError(f"--param {text!r}: a value is listed twice")
    return ParamSpec(key=key, values=values, kind="list")


def parse_params(texts: list[str] | tuple[str, ...]) -> list[ParamSpec]:
    """Parse several ``--param`` options; a key given twice is an error."""
    specs = [parse_param(t) for t in texts]
    seen: set[str] = set()
    for spec in specs:
        if spec.key in seen:
            raise ConfigError(f"--param {spec.key} is given twice; give each key once")
        seen.add(spec.key)
    return specs


def grid_points(specs: list[ParamSpec]) -> list[dict[str, ParamValue]]:
    """Every combination of the specs' values (the first spec varies slowest)."""
    if not specs:
        return [{}]
    keys = [s.key for s in specs]
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*(s.values for s in specs))]


def random_points(specs: list[ParamSpec], n: int, *, seed: int) -> list[dict[str, ParamValue]]:
    """``n`` distinct combinations drawn uniformly without replacement from the grid.

    When the grid has at most ``n`` points, the whole grid is returned (in grid order).
    The draw depends only on ``seed``, so a resumed run draws the same trials.
    """
    if n < 1:
        raise ConfigError(f"--trials must be >= 1, got {n}")
    sizes = [len(s.values) for s in specs]
    total = 1
    for size in sizes:
        total *= size
    if total <= n:
        return grid_points(specs)
    rng = random.Random(seed)
    flat = sorted(rng.sample(range(total), n)) if total <= 10_000_000 else _sample_large(rng, total, n)
    points: list[dict[str, ParamValue]] = []
    for index in flat:
        point: dict[str, ParamValue] = {}
        # Mixed-radix decoding, last spec fastest, matching grid_points' order.
        for spec, size in zip(reversed(specs), reversed(sizes), strict=True):
            index, pos = divmod(index, size)
            point[spec.key] = spec.values[pos]
        points.append({s.key: point[s.key] for s in specs})
    return points


def setup_key(params: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """The part of a trial's parameters that can change its setups (scanner, data, sleeves' scanners).

    Trials with equal keys produce the same setups, so the executors send them to the same worker,
    one after the other, and the worker's workspace memo serves the scan once.
    """
    return tuple(sorted((k, repr(v)) for k, v in params.items() if not _is_post_scan(k)))


def _is_post_scan(key: str) -> bool:
    parts = key.split(".")
    if parts[0] == "sleeves" and len(parts) > 2:
        parts = parts[2:]
    return parts[0] in _POST_SCAN_SECTIONS


def _sample_large(rng: random.Random, total: int, n: int) -> list[int]:
    chosen: set[int] = set()
    while len(chosen) < n:
        chosen.add(rng.randrange(total))
    return sorted(chosen)


def _parse_range(key: str, raw: str, text: str) -> ParamSpec:
    parts = [p.strip() for p in raw.split(":")]
    if len(parts) != 3:
        raise ConfigError(
            f"--param {text!r}: a range is START:STOP:STEP with an inclusive STOP, e.g. 10:30:5"
        )
    try:
        start, stop, step = (Decimal(p) for p in parts)
    except InvalidOperation as exc:
        raise ConfigError(f"--param {text!r}: range bounds and step must be numbers") from exc
    if not step > 0:
        raise ConfigError(f"--param {text!r}: the step must be positive")
    if stop < start:
        raise ConfigError(f"--param {text!r}: STOP ({stop}) is below START ({start}); write START:STOP:STEP")
    count = int((stop - start) // step) + 1
    if count > MAX_RANGE_POINTS:
        raise ConfigError(f"--param {text!r}: the range has {count} points; use a larger step")
    integer = all(_is_int_text(p) for p in parts)
    decimals = [start + i * step for i in range(count)]
    values: tuple[ParamValue, ...] = (
        tuple(int(d) for d in decimals) if integer else tuple(float(d) for d in decimals)
    )
    return ParamSpec(
        key=key, values=values, kind="range", start=float(start), stop=float(stop), step=float(step)
    )


def _is_int_text(text: str) -> bool:
    body = text[1:] if text[:1] in "+-" else text
    return body.isdigit()


def _typed(text: str, whole: str) -> ParamValue:
    if not text:
        raise ConfigError(f"--param {whole!r}: an empty value in the list")
    if _is_int_text(text):
        return int(text)
    try:
        return float(text)
    except ValueError:
        pass
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    return text


def _fmt(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else repr(value)
