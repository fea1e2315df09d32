"""Dask executor on a real LocalCluster (127.0.0.1): results identical to the local executor."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from _research_toy import ToyJob

from trading_playbook.research.executors import DaskExecutor, LocalExecutor, TrialTask
from trading_playbook.research.params import grid_points, parse_params

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster():  # type: ignore[no-untyped-def]
    import _research_toy
    import cloudpickle

    # Workers import the package but not the tests folder: ship the toy module by value.
    cloudpickle.register_pickle_by_value(_research_toy)
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as local_cluster:
        yield local_cluster
    cloudpickle.unregister_pickle_by_value(_research_toy)


def test_dask_matches_local_and_ships_job_once_per_worker(cluster) -> None:  # type: ignore[no-untyped-def]
    specs = parse_params(["a.x=1:5:1", "exit.y=0:1:0.25"])
    tasks = [TrialTask(i, p) for i, p in enumerate(grid_points(specs))]
    job = ToyJob(token="toy-dask", payload=np.arange(100_000, dtype=np.float64))
    with LocalExecutor(2) as local:
        expected = sorted(local.run(job, tasks), key=lambda o: o.index)
    with DaskExecutor(cluster.scheduler_address) as dask_executor:
        assert dask_executor.workers == 2
        got = sorted(dask_executor.run(job, tasks), key=lambda o: o.index)
        again = list(dask_executor.run(job, tasks[:4]))
    assert [o.index for o in got] == list(range(25))
    for a, b in zip(expected, got, strict=True):
        assert a.params == b.params
        assert a.metrics["sharpe"] == b.metrics["sharpe"]
        np.testing.assert_array_equal(a.returns, b.returns)
        np.testing.assert_array_equal(a.dates, b.dates)
    # One state per worker process for the whole sweep (and the second run of the same job).
    outcomes = [*got, *again]
    states = {(o.metrics["pid"], o.metrics["state_id"]) for o in outcomes}
    assert len(states) == len({o.metrics["pid"] for o in outcomes}) <= 2


def test_dask_unreachable_scheduler_is_a_config_error() -> None:
    from trading_playbook.core.errors import ConfigError

    with pytest.raises(ConfigError):
        DaskExecutor(None)


def test_dask_and_local_optimize_identical_on_synthetic_engine(cluster, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from trading_playbook.config import parse_config
    from trading_playbook.engine import load_data
    from trading_playbook.research.optimize import OptimizeSettings, optimize
    from trading_playbook.research.store import TrialStore

    cfg = parse_config(
        {
            "data": {
                "source": "synthetic",
                "synthetic_symbols": 12,
                "start": "2013-01-01",
                "end": "2017-12-31",
            },
            "scanner": {"name": "daily_breakout", "preset": "relaxed"},
            "portfolio": {"max_positions": 4},
        }
    )
    workspace = load_data(cfg)
    specs = parse_params(["scanner.min_volume_ratio=0.8:1.2:0.2", "exit.time_stop=10,17"])
    settings = OptimizeSettings(min_trades=5)
    tables = {}
    for name, executor in (("local", LocalExecutor(2)), ("dask", DaskExecutor(cluster.scheduler_address))):
        with TrialStore(tmp_path / name / "trials.sqlite") as store, executor:
            result = optimize(cfg, specs, settings, store=store, executor=executor, workspace=workspace)
        tables[name] = result
    local, dask = tables["local"], tables["dask"]
    cols = [c for c in local.table.columns if c not in ("seconds",)]
    assert len(local.table) == 6
    assert local.table[cols].equals(dask.table[cols])
    assert local.returns.equals(dask.returns)
    assert local.best_params == dask.best_params
    assert local.dsr == dask.dsr
    assert local.pbo is not None and dask.pbo is not None and local.pbo.pbo == dask.pbo.pbo


def test_cli_optimize_on_dask_matches_local(cluster, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import json

    from typer.testing import CliRunner

    from trading_playbook.cli import app

    config = tmp_path / "syn.toml"
    config.write_text(
        '[data]\nsource = "synthetic"\nsynthetic_symbols = 8\nstart = "2014-01-01"\nend = "2016-12-31"\n'
        '[scanner]\nname = "daily_breakout"\npreset = "relaxed"\n'
    )
    common = ["optimize", str(config), "-p", "exit.time_stop=10,17,25", "--min-trades", "1"]
    local = CliRunner().invoke(app, [*common, "--out", str(tmp_path / "local"), "--workers", "1"])
    dask = CliRunner().invoke(
        app,
        [
            *common,
            "--out",
            str(tmp_path / "dask"),
            "--executor",
            "dask",
            "--scheduler",
            cluster.scheduler_address,
        ],
    )
    assert local.exit_code == 0, local.output
    assert dask.exit_code == 0, dask.output
    a = json.loads((tmp_path / "local" / "summary.json").read_text())
    b = json.loads((tmp_path / "dask" / "summary.json").read_text())
    for key in ("best_params", "best_metrics", "deflated_sharpe", "pbo", "trials"):
        assert a[key] == b[key], key
