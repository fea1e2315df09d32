"""The component registry: built-ins, decorators, unknown names and entry-point plugins."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from importlib import metadata
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trading_playbook import registry
from trading_playbook.core.errors import ConfigError, UnknownComponentError
from trading_playbook.core.exits.spec import ExitSpec
from trading_playbook.core.sizing import PercentEquitySizer, RiskSizer


def test_builtins_are_registered() -> None:
    names = {(c.kind, c.name) for c in registry.list_components()}
    for exit_name in ("smart_exits", "scaled_exits", "trend_following_75", "hybrid_trailing", "fixed"):
        assert ("exit", exit_name) in names
    for sizer in ("percent_equity", "percent_cash", "risk", "fixed_dollar", "atr_target"):
        assert ("sizer", sizer) in names
    assert ("scanner", "daily_breakout") in names


def test_get_builtins_with_params() -> None:
    spec = registry.get_exit_strategy("scaled_exits", time_stop=30)
    assert isinstance(spec, ExitSpec) and spec.rules[-1].sessions == 30
    assert registry.get_sizer("risk", fraction=0.02) == RiskSizer(0.02)
    assert registry.get_sizer("percent_equity") == PercentEquitySizer()
    scanner = registry.get_scanner("daily_breakout", preset="moderate")
    assert hasattr(scanner, "scan_for_setups")


def test_unknown_name_lists_closest() -> None:
    with pytest.raises(UnknownComponentError, match="did you mean 'smart_exits'"):
        registry.get_exit_strategy("smart_exit")
    with pytest.raises(UnknownComponentError, match=r"Registered:.*percent_cash"):
        registry.get_sizer("zzz")


def test_unknown_parameter_names_the_closest() -> None:
    with pytest.raises(ConfigError, match="unknown parameter 'fractoin'; did you mean 'fraction'"):
        registry.get_sizer("percent_cash", fractoin=0.1)


def test_parameters_and_descriptions() -> None:
    info = {(c.kind, c.name): c for c in registry.list_components()}
    assert info["sizer", "atr_target"].parameters() == {
        "risk_fraction": 0.01,
        "atr_multiple": 2.0,
        "atr_period": 10,
        "max_fraction": None,
    }
    assert info["exit", "smart_exits"].parameters() == {"hard_stop": 0.08, "time_stop": 17}
    assert info["sizer", "risk"].summary().startswith("Risk")
    assert "preset" in info["scanner", "daily_breakout"].parameters()


def test_decorators_register_user_components() -> None:
    @registry.register_sizer("test_half_cash", description="half of cash")
    class HalfCash:
        def __init__(self, cap: int = 10) -> None:
            self.cap = cap

        def size(self, setup, context):
            return 0

    try:
        got = registry.get_sizer("test_half_cash", cap=3)
        assert isinstance(got, HalfCash) and got.cap == 3
        (info,) = [c for c in registry.list_components("sizer") if c.name == "test_half_cash"]
        assert (info.summary(), info.parameters(), info.source) == ("half of cash", {"cap": 10}, "user")
    finally:
        del registry._REGISTRY["sizer"]["test_half_cash"]


def test_entry_point_discovery_monkeypatched(monkeypatch: pytest.MonkeyPatch) -> None:
    eps = {
        "trading_playbook.scanners": [
            metadata.EntryPoint(
                "fake_scanner", "trading_playbook.core.sizing:RiskSizer", "trading_playbook.scanners"
            )
        ],
        "trading_playbook.exits": [
            metadata.EntryPoint("broken_exit", "no_such_module_xyz:Thing", "trading_playbook.exits")
        ],
    }
    monkeypatch.setattr(registry.metadata, "entry_points", lambda group: eps.get(group, []))
    registry._reset_plugins()
    try:
        assert isinstance(registry.get_scanner("fake_scanner", fraction=0.5), RiskSizer)
        with pytest.raises(ConfigError, match=r"broken_exit.*failed to load"):
            registry.get_exit_strategy("broken_exit")
    finally:
        registry._reset_plugins()


PLUGIN = '''
"""A third-party plugin."""
from dataclasses import dataclass


@dataclass
class LunarScanner:
    """Scans only on full moons."""

    phase: float = 1.0

    def scan_for_setups(self, date, panel):
        return []
'''


def test_entry_point_plugin_in_a_real_distribution(tmp_path: Path) -> None:
    (tmp_path / "lunar_plugin.py").write_text(PLUGIN)
    dist = tmp_path / "lunar_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: lunar-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[trading_playbook.scanners]\nlunar = lunar_plugin:LunarScanner\n")
    script = textwrap.dedent(
        """
        from trading_playbook.registry import get_scanner, list_components
        info = [c for c in list_components("scanner") if c.name == "lunar"][0]
        print(info.source, info.summary(), info.parameters(), get_scanner("lunar", phase=0.5).phase)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        env={"PYTHONPATH": str(tmp_path), "PATH": ""},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "plugin lunar-plugin Scans only on full moons. {'phase': 1.0} 0.5"


def test_playbook_strategies_lists_everything() -> None:
    from trading_playbook.cli import app

    result = CliRunner().invoke(app, ["strategies"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    for name in ("daily_breakout", "smart_exits", "trend_following_75", "atr_target", "fixed_dollar"):
        assert name in result.output
    assert "time_stop=17" in result.output
    only = CliRunner().invoke(app, ["strategies", "--kind", "sizer"], env={"COLUMNS": "250"})
    assert "smart_exits" not in only.output and "percent_cash" in only.output


def test_a_built_in_name_is_found_without_scanning_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    # scanning every distribution's entry points cost about 0.1 s of each command's start-up
    scans: list[str] = []

    def entry_points(group: str) -> list[metadata.EntryPoint]:
        scans.append(group)
        return []

    monkeypatch.setattr(registry.metadata, "entry_points", entry_points)
    registry._reset_plugins()
    try:
        assert registry.component_parameters("exit", "smart_exits") is not None
        assert registry.get_sizer("percent_equity") is not None
        assert scans == []
        with pytest.raises(ConfigError, match="unknown"):  # an unknown name still looks at the plugins
            registry.get_scanner("no_such_scanner_xyz")
        assert scans  # every group was scanned once
    finally:
        registry._reset_plugins()
