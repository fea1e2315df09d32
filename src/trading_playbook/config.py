"""The TOML configuration: frozen, validated pydantic models.

A config file has the tables ``[data]``, ``[scanner]``, ``[exit]``, ``[sizer]``, ``[portfolio]``,
``[report]``, ``[broker]`` (how a paper or live account reaches Alpaca) and ``[live]`` (the hard limits
of a live account); a multi-strategy portfolio replaces ``[scanner]``/``[exit]``/``[sizer]`` by
``[[sleeves]]`` entries that each carry their own. An unknown key is an error that names the key
and the closest valid one. Component tables (scanner, exit, sizer) accept the component's own
parameters by name; they are checked against the registered component's signature.

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
import hashlib
import json
import math
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from trading_playbook.core.errors import ConfigError, UnknownComponentError
from trading_playbook.ml.settings import MLConfig

__all__ = [
    "BrokerConfig",
    "ComponentConfig",
    "DataConfig",
    "LiveConfig",
    "PlaybookConfig",
    "PortfolioConfig",
    "ReportConfig",
    "SleeveConfig",
    "load_config",
    "parse_config",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataConfig(_Frozen):
    """``[data]``: where bars come from and how prices are adjusted."""

    source: Literal["file", "alpaca", "synthetic", "cache"] = "synthetic"
    path: str | None = None
    adjustment: Literal["split", "all", "raw"] = "split"
    symbols: tuple[str, ...] = ()
    start: str | None = None
    end: str | None = None
    columns: dict[str, str] = Field(default_factory=dict)
    validation: Literal["reject", "repair"] = "reject"
    feed: str = "iex"
    synthetic_symbols: int = Field(default=40, ge=1, le=5000)
    synthetic_seed: int = 7
    cache_dir: str | None = None
    url: str | None = None  # alpaca: market-data REST base URL (default APCA_API_DATA_URL, else Alpaca's)

    @field_validator("start", "end", mode="before")
    @classmethod
    def _iso_date(cls, value: Any) -> Any:
        if value is None:
            return None
        text = str(value)
        import datetime as dt

        try:
            return dt.date.fromisoformat(text[:10]).isoformat()
        except ValueError:
            raise ValueError(f"{text!r} is not an ISO date (YYYY-MM-DD)") from None

    @model_validator(mode="after")
    def _check(self) -> DataConfig:
        if self.source == "file" and not self.path:
            raise ValueError('source = "file" needs path = "..." (a Parquet/CSV file or a folder)')
        if self.start and self.end and self.start > self.end:
            raise ValueError(f"start {self.start} is after end {self.end}")
        return self


class ComponentConfig(BaseModel):
    """``[scanner]``, ``[exit]`` or ``[sizer]``: a registered component by name plus its parameters."""

    model_config = ConfigDict(extra="allow", frozen=True)

    name: str | None = None
    rules: tuple[dict[str, Any], ...] | None = None  # exit only: compose primitives

    def params(self) -> dict[str, Any]:
        """The component's own parameters (everything but ``name`` and ``rules``)."""
        return dict(self.model_extra or {})


class PortfolioConfig(_Frozen):
    """``[portfolio]``: capital, slots, fills and costs (RULES sections 4 and 6)."""

    starting_capital: float = Field(default=100_000.0, gt=0)
    max_positions: int = Field(default=3, ge=1)
    entry_fill: Literal["next_open", "close"] = "next_open"
    exit_fill: Literal["close", "next_open"] = "close"
    slippage_bps: float = Field(default=5.0, ge=0)
    commission_per_share: float = Field(default=0.0, ge=0)
    commission_per_order: float = Field(default=0.0, ge=0)
    commission_min: float = Field(default=0.0, ge=0)


class ReportConfig(_Frozen):
    """``[report]``: how results are judged and shown."""

    benchmark_symbol: str | None = "SPY"
    risk_free_rate: float = 0.0
    survivorship_warning: bool | None = None  # None: warn for file/cache data of today's constituents
    bootstrap_seed: int = 0
    title: str | None = None


class BrokerConfig(_Frozen):
    """``[broker]``: where a paper or live account reaches Alpaca (see ``data.alpaca_settings``).

    Each URL defaults to its conventional environment variable (``APCA_API_BASE_URL``,
    ``APCA_API_STREAM_URL``, ``APCA_API_DATA_STREAM_URL``), else to Alpaca's. Keys are never set here:
    they come from the environment only.
    """

    trading_url: str | None = None
    trading_stream_url: str | None = None
    data_stream_url: str | None = None
    opg_fallback: Literal["day", "skip"] = "day"  # an opg order that expired unfilled
    decide_minutes_before_close: float = Field(default=15.0, gt=10.0, le=120.0)  # cls orders close at -10
    fill_wait_seconds: float = Field(default=60.0, ge=0.0, le=3600.0)
    close_wait_seconds: float = Field(default=300.0, ge=0.0, le=7200.0)

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

    max_order_value: float = Field(gt=0)
    max_exposure: float = Field(gt=0)
    max_orders_per_day: int = Field(ge=1)
    max_daily_loss: float = Field(gt=0)


class SleeveConfig(_Frozen):
    """``[[sleeves]]``: one strategy of a multi-strategy portfolio sharing the capital pool."""

    name: str
    weight: float | None = Field(default=None, gt=0, le=1)  # None: equal weights
    max_positions: int | None = Field(default=None, ge=1)  # None: portfolio.max_positions
    scanner: ComponentConfig = Field(default_factory=lambda: ComponentConfig(name="daily_breakout"))
    exit: ComponentConfig = Field(default_factory=lambda: ComponentConfig(name="smart_exits"))
    sizer: ComponentConfig = Field(default_factory=lambda: ComponentConfig(name="percent_equity"))


class PlaybookConfig(_Frozen):
    """A whole run configuration. Build it with :func:`load_config` or :func:`parse_config`."""

    data: DataConfig = Field(default_factory=DataConfig)
    scanner: ComponentConfig = Field(default_factory=lambda: ComponentConfig(name="daily_breakout"))
    exit: ComponentConfig = Field(default_factory=lambda: ComponentConfig(name="smart_exits"))
    sizer: ComponentConfig = Field(default_factory=lambda: ComponentConfig(name="percent_equity"))
    portfolio: PortfolioConfig = Field(default_factory=PortfolioConfig)
    report: ReportConfig = Field(default_factory=ReportConfig)
    broker: BrokerConfig = Field(default_factory=BrokerConfig)
    live: LiveConfig | None = None
    sleeves: tuple[SleeveConfig, ...] = ()
    ml: MLConfig | None = None  # [ml]: learned setup scoring (trading_playbook.ml)
    name: str | None = None

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
        if data["live"] is None:
            del data["live"]
        if data.get("ml") is None:
            data.pop("ml", None)  # configs without [ml] keep the identity (hash) they had
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
        return parse_config(raw, origin="override")

    # ------------------------------------------------------------------ resolved parts
    def data_request(self) -> Any:
        """The :class:`trading_playbook.data.DataRequest` for ``[data]``."""
        from trading_playbook.data import DataRequest

        fields = self.data.model_dump()  # [data] keys are the DataRequest fields
        fields["symbols"] = tuple(s.upper() for s in self.data.symbols)
        return DataRequest(**fields)

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
    return parse_config(raw, origin=str(p))


def parse_config(raw: Mapping[str, Any], *, origin: str = "<config>") -> PlaybookConfig:
    """Validate a config mapping (as read from TOML)."""
    try:
        cfg = PlaybookConfig.model_validate(dict(raw))
    except ValidationError as exc:
        raise ConfigError(_explain(exc, origin)) from None
    _check_components(cfg, origin)
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
            for key in comp.params():
                if valid is not None and key not in valid:
                    raise ConfigError(
                        f"{origin}: unknown key {prefix}{kind}.{key} for {kind} {comp.name!r}"
                        f"{_did_you_mean(key, valid)}; valid parameters: {', '.join(sorted(valid)) or 'none'}"
                    )


def _explain(exc: ValidationError, origin: str) -> str:
    lines = []
    for err in exc.errors():
        loc = [str(x) for x in err["loc"]]
        key = ".".join(loc)
        if err["type"] == "extra_forbidden":
            valid = _valid_keys(loc[:-1])
            lines.append(f"unknown key {key!r}{_did_you_mean(loc[-1], valid)}")
        else:
            lines.append(f"{key}: {err['msg']}")
    return f"{origin}: invalid configuration:\n  " + "\n  ".join(lines)


def _valid_keys(parent: list[str]) -> list[str]:
    model: Any = PlaybookConfig
    for part in parent:
        if part.isdigit():
            continue
        field = model.model_fields.get(part)
        if field is None:
            return []
        ann = field.annotation
        args = getattr(ann, "__args__", ())
        candidates = [ann, *args]
        model = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
        if model is None:
            return []
    return list(model.model_fields)


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


def _component_parameters(registry: Any, kind: str, name: str) -> set[str] | None:
    """Parameter names a registered component accepts (None: any); unknown names raise with matches."""
    try:
        return registry.component_parameters(kind, name)  # type: ignore[no-any-return]
    except UnknownComponentError as exc:
        raise UnknownComponentError(f"[{kind}] name: {exc}") from None
