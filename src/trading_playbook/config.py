"""The TOML configuration: frozen, validated pydantic models.

A config file has the tables ``[data]``, ``[scanner]``, ``[exit]``, ``[sizer]``, ``[portfolio]``,
``[report]``, ``[backtest]``, optionally ``[universe]`` (a point-in-time universe), ``[broker]`` (how a
paper or live account reaches Alpaca) and ``[live]`` (the hard limits of a live account); a multi-strategy
portfolio replaces ``[scanner]``/``[exit]``/``[sizer]`` by ``[[sleeves]]`` entries that each carry their
own. An unknown key is an error that names the key
and the closest valid one. Component tables (scanner, exit, sizer) accept the component's own
parameters by name; they are checked against the registered component's signature and types.

Types are strict: a string where a number is expected (``max_positions = "5"``) is an error naming the
key, as is a float where an integer is expected; TOML's own types are accepted as they come (an
integer where a float is expected, a TOML date for a date). ``[data]`` is
:class:`trading_playbook.data.DataRequest` itself (``DataConfig`` is that class). Relative paths in
``[data]`` (``path`` of a file source, ``cache_dir``) are relative to the config file's folder.

Example::

    [data]
    source = "synthetic"
    [scanner]
    name = "daily_breakout"
    preset = "moderate"
    [exit]
    name = "smart_exits"
    time_stop = 20
    [portfolio]
    max_positions = 5
"""

from __future__ import annotations

import copy
import difflib
import functools
import hashlib
import json
import math
import os
import tomllib
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    Strict,
    ValidationError,
    model_validator,
)

from trading_playbook.core.errors import ConfigError, PlaybookError, UnknownComponentError
from trading_playbook.data.api import DataRequest, iso_date
from trading_playbook.ml.settings import MLConfig

__all__ = [
    "BacktestConfig",
    "BrokerConfig",
    "ComponentConfig",
    "DataConfig",
    "LiveConfig",
    "PlaybookConfig",
    "PortfolioConfig",
    "ReportConfig",
    "SleeveConfig",
    "UniverseConfig",
    "load_config",
    "parse_config",
]


# Strict scalar types: TOML's integers are accepted for floats, nothing is parsed from strings.
Int = Annotated[int, Strict()]
Float = Annotated[float, Strict()]
Bool = Annotated[bool, Strict()]
Str = Annotated[str, Strict()]
IsoDate = Annotated[str | None, BeforeValidator(iso_date)]

#: ``[data]``: where bars come from and how prices are adjusted. One definition: the data layer's
#: request, validated from TOML by pydantic (its annotations carry the strict types and bounds).
DataConfig = DataRequest


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BacktestConfig(_Frozen):
    """``[backtest]``: a backtest window inside the data (default: ``[data] start`` and ``end``).

    For file and cache data ``[data] start``/``end`` are the window already; for synthetic and Alpaca
    data they also set the range generated or fetched, so a narrower window goes here (``playbook
    optimize --start/--end`` writes it into ``best.toml``).
    """

    start: IsoDate = None
    end: IsoDate = None

    @model_validator(mode="after")
    def _order(self) -> BacktestConfig:
        if self.start and self.end and self.start > self.end:
            raise ValueError(f"start {self.start} is after end {self.end}")
        return self


class ComponentConfig(BaseModel):
    """``[scanner]``, ``[exit]`` or ``[sizer]``: a registered component by name plus its parameters."""

    model_config = ConfigDict(extra="allow", frozen=True)

    name: Str | None = None
    rules: tuple[dict[Str, Any], ...] | None = None  # exit only: compose primitives

    def params(self) -> dict[str, Any]:
        """The component's own parameters (everything but ``name`` and ``rules``)."""
        return dict(self.model_extra or {})


class PortfolioConfig(_Frozen):
    """``[portfolio]``: capital, slots, fills and costs (RULES sections 4 and 6)."""

    starting_capital: Float = Field(default=100_000.0, gt=0)
    max_positions: Int = Field(default=3, ge=1)
    entry_fill: Literal["next_open", "close"] = "next_open"
    exit_fill: Literal["close", "next_open"] = "close"
    slippage_bps: Float = Field(default=5.0, ge=0)
    commission_per_share: Float = Field(default=0.0, ge=0)
    commission_per_order: Float = Field(default=0.0, ge=0)
    commission_min: Float = Field(default=0.0, ge=0)


class ReportConfig(_Frozen):
    """``[report]``: how results are judged and shown."""

    benchmark_symbol: Str | None = "SPY"
    risk_free_rate: Float = 0.0
    survivorship_warning: Bool | None = None  # None: warn for file/cache data of today's constituents
    bootstrap_seed: Int = 0
    title: Str | None = None


class BrokerConfig(_Frozen):
    """``[broker]``: where a paper or live account reaches Alpaca (see ``data.alpaca_settings``).

    Each URL defaults to its conventional environment variable (``APCA_API_BASE_URL``,
    ``APCA_API_STREAM_URL``, ``APCA_API_DATA_STREAM_URL``), else to Alpaca's. Keys are never set here:
    they come from the environment only.
    """

    trading_url: Str | None = None
    trading_stream_url: Str | None = None
    data_stream_url: Str | None = None
    opg_fallback: Literal["day", "skip"] = "day"  # an opg order that expired unfilled
    decide_minutes_before_close: Float = Field(default=15.0, gt=10.0, le=120.0)  # cls orders close at -10
    fill_wait_seconds: Float = Field(default=60.0, ge=0.0, le=3600.0)
    close_wait_seconds: Float = Field(default=300.0, ge=0.0, le=7200.0)

    def endpoint_settings(self, data_url: str | None = None) -> dict[str, str | None]:
        """The four endpoint settings as ``data.alpaca_settings.resolve_endpoints`` takes them."""
        return {
            "trading_url": self.trading_url,
            "data_url": data_url,
            "trading_stream_url": self.trading_stream_url,
            "data_stream_url": self.data_stream_url,
        }


class LiveConfig(_Frozen):
    """``[live]``: hard limits a live Alpaca account must have (all required; dollars).

    ``max_order_value``: the largest entry order (shares x last close); ``max_exposure``: positions plus
    pending entries at last prices; ``max_orders_per_day``: entry orders sent per session;
    ``max_daily_loss``: the loss since the previous close (Alpaca's ``last_equity - equity``) at which
    open entries are cancelled and no new ones are sent.
    """

    max_order_value: Float = Field(gt=0)
    max_exposure: Float = Field(gt=0)
    max_orders_per_day: Int = Field(ge=1)
    max_daily_loss: Float = Field(gt=0)


class UniverseConfig(_Frozen):
    """``[universe]``: a point-in-time universe (:mod:`trading_playbook.core.universe`).

    ``membership`` is a membership CSV (``ticker,start_date,end_date[,data_symbol]``, relative to the
    config file's folder) or the name of a universe registered with ``playbook data universe add``.
    ``policy``: ``hold`` (a stock that leaves while held exits as usual) or ``exit`` (sold at the close
    of its last member day, reason UNIVERSE_EXIT). A price series with bars in member stays more than
    ``reuse_gap_days`` apart is cut in two (``reused_tickers = "split"``) or refused (``"refuse"``).
    """

    membership: Str
    policy: Literal["hold", "exit"] = "hold"
    reused_tickers: Literal["split", "refuse"] = "split"
    reuse_gap_days: Int = Field(default=365, ge=1)


class SleeveConfig(_Frozen):
    """``[[sleeves]]``: one strategy of a multi-strategy portfolio sharing the capital pool."""

    name: Str
    weight: Float | None = Field(default=None, gt=0, le=1)  # None: equal weights
    max_positions: Int | None = Field(default=None, ge=1)  # None: portfolio.max_positions
    scanner: ComponentConfig = Field(default_factory=lambda: ComponentConfig(name="daily_breakout"))
    exit: ComponentConfig = Field(default_factory=lambda: ComponentConfig(name="smart_exits"))
    sizer: ComponentConfig = Field(default_factory=lambda: ComponentConfig(name="percent_equity"))


class PlaybookConfig(_Frozen):
    """A whole run configuration. Build it with :func:`load_config` or :func:`parse_config`."""

    data: DataRequest = Field(default_factory=DataRequest)
    backtest: BacktestConfig = Field(default_factory=BacktestConfig)
    scanner: ComponentConfig = Field(default_factory=lambda: ComponentConfig(name="daily_breakout"))
    exit: ComponentConfig = Field(default_factory=lambda: ComponentConfig(name="smart_exits"))
    sizer: ComponentConfig = Field(default_factory=lambda: ComponentConfig(name="percent_equity"))
    portfolio: PortfolioConfig = Field(default_factory=PortfolioConfig)
    report: ReportConfig = Field(default_factory=ReportConfig)
    broker: BrokerConfig = Field(default_factory=BrokerConfig)
    live: LiveConfig | None = None
    sleeves: tuple[SleeveConfig, ...] = ()
    ml: MLConfig | None = None  # [ml]: learned setup scoring (trading_playbook.ml)
    universe: UniverseConfig | None = None  # [universe]: trade a symbol only while it is a member
    name: Str | None = None
    _base_dir: Path | None = PrivateAttr(default=None)  # the config file's folder (relative paths)

    @property
    def base_dir(self) -> Path | None:
        """The folder relative paths in ``[data]`` are resolved against (the config file's folder)."""
        return self._base_dir

    @model_validator(mode="after")
    def _check_sleeves(self) -> PlaybookConfig:
        names = [s.name for s in self.sleeves]
        if len(set(names)) != len(names):
            raise ValueError(f"sleeve names must be unique, got {names}")
        given = [s.weight for s in self.sleeves if s.weight is not None]
        if given and sum(given) > 1.0 + 1e-9:
            raise ValueError(f"sleeve weights add up to {sum(given):g} > 1")
        return self

    # ------------------------------------------------------------------ identity
    def to_dict(self) -> dict[str, Any]:
        """The full resolved configuration as plain JSON-able data.

        Connection settings (``[data] url``, the ``[broker]`` URLs) appear only when set, so a config
        that does not use them keeps the hash it had before they existed.
        """
        data = self.model_dump(mode="json")
        if data["data"].get("url") is None:
            del data["data"]["url"]
        if data["broker"] == BrokerConfig().model_dump(mode="json"):
            del data["broker"]
        for optional in ("live", "ml", "universe"):
            if data.get(optional) is None:
                data.pop(optional, None)  # configs without the table keep the identity (hash) they had
        return _normalise(data)

    @property
    def config_hash(self) -> str:
        """sha256 of the canonical JSON of :meth:`to_dict` (first 16 hex digits)."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    # ------------------------------------------------------------------ changes
    def with_overrides(self, overrides: Mapping[str, Any]) -> PlaybookConfig:
        """A new validated config with dotted keys replaced.

        Keys look like ``scanner.min_volume_ratio``, ``exit.time_stop``, ``portfolio.max_positions`` or,
        for sleeves, ``sleeves.<name or index>.exit.time_stop``.
        """
        raw = _plain(self.model_dump(mode="python"))
        for dotted, value in overrides.items():
            _set_dotted(raw, dotted, value)
        return parse_config(raw, origin="override", base_dir=self._base_dir)

    # ------------------------------------------------------------------ resolved parts
    def data_request(self) -> DataRequest:
        """``[data]`` with its relative paths resolved against the config file's folder."""
        import dataclasses

        path = self.data.path
        if self.data.source == "file" and path:
            path = str(self.resolve_path(path, "path"))
        cache_dir = str(self.resolve_path(self.data.cache_dir, "cache_dir")) if self.data.cache_dir else None
        return dataclasses.replace(self.data, path=path, cache_dir=cache_dir)

    def resolve_path(self, text: str, key: str, table: str = "data") -> Path:
        """A path of the ``[table]`` table made absolute against the config's folder; a missing one is an
        error naming the absolute path tried (and the file a path relative to the current folder would
        name)."""
        given = Path(text).expanduser()
        base = self._base_dir or Path.cwd()
        path = given if given.is_absolute() else base / given
        if key == "cache_dir" or path.exists() or self._base_dir is None:
            return Path(os.path.normpath(path))  # no config file: the loader names the missing path
        hint = ""
        if not given.is_absolute() and given.exists():
            fix = os.path.relpath(given.resolve(), self._base_dir)
            hint = (
                f"; {given.resolve()} exists relative to the current folder, but paths in a config are "
                f"relative to the config file's folder: write {key} = {fix!r}"
            )
        raise ConfigError(
            f"[{table}] {key} = {text!r}: {os.path.normpath(path)} does not exist"
            + (f" (relative to the config file's folder {base})" if not given.is_absolute() else "")
            + (hint or "; check the path")
        )

    def window(self, start: Any = None, end: Any = None) -> tuple[Any, Any]:
        """The backtest window: explicit ``start``/``end``, else ``[backtest]``, else ``[data]``."""
        first = start if start is not None else (self.backtest.start or self.data.start)
        last = end if end is not None else (self.backtest.end or self.data.end)
        return first, last

    def portable_dict(self) -> dict[str, Any]:
        """:meth:`to_dict` with ``[data]`` paths made absolute, for a config written elsewhere."""
        data = self.to_dict()
        request = self.data_request()
        if self.data.source == "file":
            data["data"]["path"] = request.path
        if request.cache_dir:
            data["data"]["cache_dir"] = request.cache_dir
        if self.universe is not None and _is_membership_path(self.universe.membership):
            base = self._base_dir or Path.cwd()
            given = Path(self.universe.membership).expanduser()
            data["universe"]["membership"] = os.path.normpath(given if given.is_absolute() else base / given)
        return data

    def component_params(
        self, kind: str, name: str, component: ComponentConfig, table: str
    ) -> dict[str, Any]:
        """``component``'s parameters with its path parameters resolved against the config's folder."""
        from trading_playbook.registry import component_path_params

        params = dict(component.params())
        for key in component_path_params(kind, name):  # type: ignore[arg-type]
            if isinstance(params.get(key), str):
                params[key] = str(self.resolve_path(params[key], key, table))
        return params

    def sleeve_configs(self) -> tuple[SleeveConfig, ...]:
        """The sleeves with weights and slots resolved (a plain config is one sleeve of weight 1)."""
        if not self.sleeves:
            return (
                SleeveConfig(
                    name="main",
                    weight=1.0,
                    max_positions=self.portfolio.max_positions,
                    scanner=self.scanner,
                    exit=self.exit,
                    sizer=self.sizer,
                ),
            )
        given = sum(s.weight for s in self.sleeves if s.weight is not None)
        unset = [s for s in self.sleeves if s.weight is None]
        share = (1.0 - given) / len(unset) if unset else 0.0
        if unset and share <= 0:
            raise ConfigError("sleeve weights leave nothing for the sleeves without a weight")
        out = []
        for s in self.sleeves:
            out.append(
                s.model_copy(
                    update={
                        "weight": s.weight if s.weight is not None else share,
                        "max_positions": s.max_positions or self.portfolio.max_positions,
                    }
                )
            )
        return tuple(out)


def _is_membership_path(spec: str) -> bool:
    from trading_playbook.data.universe import is_path

    return is_path(spec)


# ---------------------------------------------------------------------- loading


def load_config(path: str | Path) -> PlaybookConfig:
    """Read and validate a TOML config file; errors name the file and the key."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(
            f"config file {str(p)!r} does not exist; pass the path of a .toml file (see examples/)"
        )
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML: {exc}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {p.absolute()} cannot be read ({exc})") from exc
    return parse_config(raw, origin=str(p), base_dir=p.parent.absolute())


def parse_config(
    raw: Mapping[str, Any], *, origin: str = "<config>", base_dir: str | os.PathLike[str] | None = None
) -> PlaybookConfig:
    """Validate a config mapping (as read from TOML).

    ``base_dir`` is the folder relative ``[data]`` paths are resolved against (:func:`load_config`
    passes the config file's folder; default: the current folder when the data is loaded).
    """
    try:
        cfg = PlaybookConfig.model_validate(dict(raw))
    except ValidationError as exc:
        raise ConfigError(_explain(exc, origin)) from None
    except PlaybookError as exc:  # [data] cross-field checks of DataRequest
        raise ConfigError(f"{origin}: invalid configuration:\n  data: {exc}") from None
    _check_components(cfg, origin)
    if base_dir is not None:
        cfg._base_dir = Path(base_dir)
    return cfg


def _check_components(cfg: PlaybookConfig, origin: str) -> None:
    """Check component names and parameter names against the registry, with close matches."""
    from trading_playbook import registry

    for sleeve in cfg.sleeve_configs():
        prefix = f"sleeves.{sleeve.name}." if cfg.sleeves else ""
        for kind in ("scanner", "exit", "sizer"):
            comp: ComponentConfig = getattr(sleeve, kind)
            if kind == "exit" and comp.rules is not None:
                continue
            if comp.name is None:
                raise ConfigError(f'{origin}: [{prefix}{kind}] needs name = "..."')
            valid = _component_parameters(registry, kind, comp.name)  # raises UnknownComponentError
            types = _parameter_types(registry, kind, comp.name)
            for key, value in comp.params().items():
                if valid is not None and key not in valid:
                    raise ConfigError(
                        f"{origin}: unknown key {prefix}{kind}.{key} for {kind} {comp.name!r}"
                        f"{_did_you_mean(key, valid)}; valid parameters: {', '.join(sorted(valid)) or 'none'}"
                    )
                _check_type(value, types.get(key), f"{origin}: {prefix}{kind}.{key}")


def _explain(exc: ValidationError, origin: str) -> str:
    lines = []
    for err in exc.errors():
        loc = [str(x) for x in err["loc"]]
        key = ".".join(loc)
        if err["type"] in ("extra_forbidden", "unexpected_keyword_argument"):
            valid = _valid_keys(loc[:-1])
            lines.append(f"unknown key {key!r}{_did_you_mean(loc[-1], valid)}")
        elif err["type"] in _TYPE_ERRORS:
            lines.append(f"{key} = {err['input']!r}: {_TYPE_ERRORS[err['type']]}")
        else:
            lines.append(f"{key}: {err['msg'].removeprefix('Value error, ')}")
    return f"{origin}: invalid configuration:\n  " + "\n  ".join(lines)


_TYPE_ERRORS = {
    "int_type": "expected an integer (write it without quotes or decimals, e.g. 5)",
    "float_type": "expected a number (write it without quotes, e.g. 0.25)",
    "bool_type": "expected true or false (without quotes)",
    "string_type": 'expected a text in quotes (e.g. "value")',
    "tuple_type": 'expected a list (e.g. ["AAPL", "MSFT"])',
    "dict_type": "expected a table",
    "model_type": "expected a table",
    "dataclass_type": "expected a table",
}


def _valid_keys(parent: list[str]) -> list[str]:
    import dataclasses

    model: Any = PlaybookConfig
    for part in parent:
        if part.isdigit():
            continue
        fields = _fields_of(model)
        if part not in fields:
            return []
        ann = fields[part]
        candidates = [ann, *getattr(ann, "__args__", ())]
        model = next(
            (
                c
                for c in candidates
                if isinstance(c, type) and (issubclass(c, BaseModel) or dataclasses.is_dataclass(c))
            ),
            None,
        )
        if model is None:
            return []
    return list(_fields_of(model))


def _fields_of(model: Any) -> dict[str, Any]:
    """Field name -> annotation of a pydantic model or a dataclass."""
    import dataclasses

    if dataclasses.is_dataclass(model):
        hints = typing.get_type_hints(model)
        return {f.name: hints.get(f.name) for f in dataclasses.fields(model)}
    return {name: f.annotation for name, f in model.model_fields.items()}


def _did_you_mean(key: str, valid: list[str] | set[str]) -> str:
    close = difflib.get_close_matches(key, sorted(valid), n=1, cutoff=0.5)
    return f"; did you mean {close[0]!r}?" if close else ""


def _set_dotted(raw: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node: Any = raw
    for i, part in enumerate(parts[:-1]):
        if isinstance(node, list):
            node = _sleeve_node(node, part, dotted)
            continue
        if part not in node or node[part] is None:
            if i == 0 and part not in PlaybookConfig.model_fields:
                raise ConfigError(
                    f"override {dotted!r}: unknown table {part!r}"
                    f"{_did_you_mean(part, list(PlaybookConfig.model_fields))}"
                )
            node[part] = {}
        node = node[part]
    if isinstance(node, list):
        raise ConfigError(f"override {dotted!r}: name a sleeve and a key, e.g. sleeves.NAME.exit.time_stop")
    node[parts[-1]] = value


def _sleeve_node(sleeves: list[Any], part: str, dotted: str) -> Any:
    if part.isdigit() and int(part) < len(sleeves):
        return sleeves[int(part)]
    for sleeve in sleeves:
        if sleeve.get("name") == part:
            return sleeve
    names = [s.get("name") for s in sleeves]
    raise ConfigError(f"override {dotted!r}: no sleeve {part!r}; sleeves are {names}")


def _normalise(value: Any) -> Any:
    """Tuples to lists, non-finite floats to strings, recursively (stable JSON)."""
    if isinstance(value, Mapping):
        return {str(k): _normalise(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_normalise(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return copy.copy(value)


def _plain(value: Any) -> Any:
    """Tuples to lists, recursively (a mutable copy to apply overrides to)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _parameter_types(registry: Any, kind: str, name: str) -> dict[str, tuple[type, ...]]:
    """The scalar types each parameter of a component accepts (parameters of other types: absent).

    From the factory's annotations, else from the type of the parameter's default.
    """
    try:
        defaults: dict[str, Any] = registry.component_defaults(kind, name)
        hints = _hints(registry.component_factory(kind, name))
    except PlaybookError:
        return {}
    out: dict[str, tuple[type, ...]] = {}
    for key, default in defaults.items():
        accepted = _scalar_types(hints[key]) if key in hints else _scalar_types(type(default))
        if accepted:
            out[key] = accepted
    return out


def _hints(factory: Any) -> dict[str, Any]:
    """The factory's resolved annotations (a copy of the cached ones)."""
    return dict(_cached_hints(factory))


@functools.lru_cache(maxsize=512)
def _cached_hints(factory: Any) -> dict[str, Any]:
    # Resolving annotations (typing.get_type_hints) costs ~1 ms; a sweep parses a config per trial.
    import dataclasses

    target = factory
    if isinstance(factory, type) and not dataclasses.is_dataclass(factory):
        target = factory.__init__
    try:
        return typing.get_type_hints(target)
    except Exception:  # unresolvable annotations (a plugin's): fall back to the defaults' types
        return {}


def _scalar_types(annotation: Any) -> tuple[type, ...]:
    """Python types a scalar annotation accepts (``int | None`` -> int, None); () when not scalar."""
    if annotation is bool:
        return (bool,)
    if annotation is int:
        return (int,)
    if annotation is float:
        return (int, float)
    if annotation is str:
        return (str,)
    if typing.get_origin(annotation) is Literal:
        return tuple(dict.fromkeys(type(a) for a in typing.get_args(annotation)))
    args = typing.get_args(annotation)
    if args and typing.get_origin(annotation) in (typing.Union, type(int | None)):
        parts = [_scalar_types(a) if a is not type(None) else (type(None),) for a in args]
        if all(parts):
            return tuple(dict.fromkeys(t for p in parts for t in p))
    return ()


_TYPE_NAMES = {bool: "true or false", int: "an integer", float: "a number", str: "a text", type(None): ""}


def _check_type(value: Any, accepted: tuple[type, ...] | None, where: str) -> None:
    """A component parameter of the wrong type is an error naming it (bools are not numbers)."""
    if not accepted or value is None:
        return
    if isinstance(value, bool):
        ok = bool in accepted
    else:
        ok = isinstance(value, tuple(t for t in accepted if t is not bool))
    if not ok:
        shown = [t for t in accepted if not (t is int and float in accepted)]  # "a number" covers both
        names = " or ".join(n for t in shown if (n := _TYPE_NAMES.get(t, t.__name__)))
        raise ConfigError(f"{where} = {value!r}: expected {names}")


def _component_parameters(registry: Any, kind: str, name: str) -> set[str] | None:
    """Parameter names a registered component accepts (None: any); unknown names raise with matches."""
    try:
        return registry.component_parameters(kind, name)  # type: ignore[no-any-return]
    except UnknownComponentError as exc:
        raise UnknownComponentError(f"[{kind}] name: {exc}") from None
