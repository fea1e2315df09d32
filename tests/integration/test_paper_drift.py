"""``playbook paper drift``: zero on a simulated account, exactly 10 bps per fill on a broker 10 bps worse."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _paper_data import subset_file, write_config
from typer.testing import CliRunner

from trading_playbook.cli import app
from trading_playbook.config import load_config
from trading_playbook.engine import load_data
from trading_playbook.paper.account import init_account, step_account
from trading_playbook.paper.drift import compute_drift


@pytest.fixture()
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, object]:
    monkeypatch.setenv("PLAYBOOK_HOME", str(tmp_path / "home"))
    data = subset_file(str(tmp_path.parent / "paper-data"))
    config = write_config(tmp_path / "cfg.toml", data, sleeves=True)
    return config, load_data(load_config(config))


def test_a_simulated_two_sleeve_account_has_zero_drift(world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config, workspace = world
    init_account(config, "sim", start="2006-06-01")
    step_account("sim", until="2006-09-29", panel=workspace.panel)
    doc = compute_drift("sim", workspace=workspace)
    s = doc["summary"]
    assert s["zero_drift"] and s["different"] == s["missed"] == s["extra"] == 0
    assert s["same"] >= 10 and s["fills"] >= 20
    assert s["mean_slippage_drift_bps"] == 0.0 and s["max_equity_difference"] == 0.0
    assert s["mean_realised_slippage_bps"] == pytest.approx(5.0, abs=1e-6)
    assert set(doc["sleeves"]) == {"smart", "scaled"}  # per-sleeve attribution
    assert all(v["pnl_difference"] == 0.0 for v in doc["sleeves"].values())
    out = CliRunner().invoke(app, ["paper", "drift", "--account", "sim", "--out", str(tmp_path / "drift")])
    assert out.exit_code == 0, out.output
    for name in ("drift.json", "drift.md", "drift.html", "charts/drift.svg"):
        assert (tmp_path / "drift" / name).is_file()
    assert json.loads((tmp_path / "drift" / "drift.json").read_text())["summary"]["zero_drift"] is True


def test_a_broker_ten_bps_worse_shows_exactly_that(world) -> None:  # type: ignore[no-untyped-def]
    config, workspace = world
    result = CliRunner().invoke(
        app,
        [
            "paper",
            "init",
            str(config),
            "--account",
            "worse",
            "--start",
            "2006-06-01",
            "--sim-slippage-bps",
            "15",
        ],
    )
    assert result.exit_code == 0, result.output
    step_account("worse", until="2006-09-29", panel=workspace.panel)
    doc = compute_drift("worse", workspace=workspace)
    drifts = [f["drift_bps"] for f in doc["fills"]]
    assert len(drifts) >= 20
    assert all(d == pytest.approx(10.0, abs=1e-6) for d in drifts)
    s = doc["summary"]
    assert s["configured_slippage_bps"] == 5.0
    assert s["mean_realised_slippage_bps"] == pytest.approx(15.0, abs=1e-6)
    assert s["mean_slippage_drift_bps"] == pytest.approx(10.0, abs=1e-6)
    assert not s["zero_drift"] and s["different"] > 0
    assert s["pnl_difference_closed_trades"] < 0  # worse fills cost money
