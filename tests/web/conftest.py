"""A playbook home with real runs and research outputs for the dashboard tests (built once per session).

- three real backtests of the seeded synthetic universe, recorded as ``playbook backtest`` records them:
  smart exits (fills at the close), scaled exits with partial sales (exits at the next open) and the
  resting-trail hybrid (entries at the close);
- an optimisation and a walk-forward written and recorded by the real CLI commands;
- a paper account on the same synthetic data, stepped through the first half of 2015;
- damaged records: a run whose stored result lacks its equity, one whose stored blob is not zlib, a
  research record whose folder lacks ``summary.json`` and one whose folder is gone.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trading_playbook.config import parse_config
from trading_playbook.engine import load_data, run_backtest
from trading_playbook.history import load_document, record_research, record_run, registry_path
from trading_playbook.reports import write_run
from trading_playbook.reports.json_result import dumps_canonical

SYNTHETIC = {
    "name": "web test",
    "data": {"source": "synthetic", "synthetic_symbols": 12, "synthetic_seed": 3, "start": "2012-01-01",
             "end": "2016-12-31"},
    "scanner": {"name": "daily_breakout", "preset": "relaxed"},
    "portfolio": {"max_positions": 4, "starting_capital": 100000},
}  # fmt: skip

VARIANTS = {
    "smart": {"exit": {"name": "smart_exits"}, "portfolio": {"exit_fill": "close"}},
    "scaled": {"exit": {"name": "scaled_exits"}, "portfolio": {"exit_fill": "next_open"}},
    "hybrid": {
        "exit": {"name": "hybrid_trailing"},
        "portfolio": {"entry_fill": "close", "exit_fill": "close"},
    },
}

RESEARCH_CONFIG = """
name = "web research"
[data]
source = "synthetic"
synthetic_symbols = 12
synthetic_seed = 3
start = "2012-01-01"
end = "2016-12-31"
[scanner]
name = "daily_breakout"
preset = "relaxed"
[exit]
name = "smart_exits"
[portfolio]
max_positions = 4
"""


@dataclass
class WebHome:
    """The home and the ids the tests look up."""

    home: Path
    runs: dict[str, str] = field(default_factory=dict)  # variant -> run id
    research: dict[str, str] = field(default_factory=dict)  # kind -> research id
    account: str = "webpaper"
    research_config: Path | None = None
    broken: dict[str, str] = field(default_factory=dict)  # what is broken -> id

    @property
    def registry(self) -> Path:
        return registry_path(self.home)


def _config(variant: str) -> dict:
    cfg = json.loads(json.dumps(SYNTHETIC))
    for section, values in VARIANTS[variant].items():
        cfg.setdefault(section, {}).update(values)
    cfg["name"] = f"web test {variant}"
    return cfg


def _record_backtests(home: WebHome, out_root: Path) -> None:
    for variant in VARIANTS:
        cfg = parse_config(_config(variant))
        workspace = load_data(cfg)
        result = run_backtest(cfg, workspace=workspace)
        out = out_root / variant
        write_run(result, out, panel=workspace.panel, formats=("json",))
        home.runs[variant] = record_run(result, out, db_path=home.registry)


def _record_research(home: WebHome, out_root: Path) -> None:
    from trading_playbook.cli import app

    config = out_root / "research.toml"
    config.write_text(RESEARCH_CONFIG)
    home.research_config = config
    env = {"PLAYBOOK_HOME": str(home.home)}
    common = ["--min-trades", "5", "--workers", "1"]
    runner = CliRunner()
    opt = runner.invoke(app, ["optimize", str(config), "-p", "exit.time_stop=10,17,25",
                              "-p", "scanner.min_volume_ratio=1.0,1.3", *common, "--out", str(out_root / "opt")],
                        env=env)  # fmt: skip
    assert opt.exit_code == 0, opt.output
    wf = runner.invoke(app, ["walk-forward", str(config), "--train", "2y", "--test", "1y",
                             "-p", "exit.time_stop=10,17", *common, "--out", str(out_root / "wf")], env=env)  # fmt: skip
    assert wf.exit_code == 0, wf.output
    with sqlite3.connect(home.registry) as conn:
        for research_id, kind in conn.execute("SELECT research_id, kind FROM research"):
            home.research[kind] = research_id


def _record_broken(home: WebHome, out_root: Path) -> None:
    """Records a crash or a disk problem could leave behind."""
    doc = load_document(home.runs["smart"], db_path=home.registry)
    del doc["equity"]
    with sqlite3.connect(home.registry) as conn:
        row = conn.execute("SELECT * FROM runs WHERE run_id = ?", (home.runs["smart"],)).fetchone()
        for name, blob, stamp in (
            ("no_equity", zlib.compress(dumps_canonical(doc).encode()), "20200101-000000-aaaaaa"),
            ("corrupt", b"this is not zlib", "20200101-000000-bbbbbb"),
        ):
            conn.execute(f"INSERT INTO runs VALUES ({', '.join('?' * len(row))})", (stamp, "2020-01-01T00:00:00Z",
                         *row[2:-1], blob))  # fmt: skip
            home.broken[name] = stamp
    half = out_root / "half-written"
    half.mkdir()
    shutil.copy(out_root / "opt" / "trials.parquet", half / "trials.parquet")
    home.broken["research_half"] = record_research("optimize", half, {"params": []}, db_path=home.registry)
    gone = out_root / "gone"
    gone.mkdir()
    home.broken["research_gone"] = record_research("walk-forward", gone, {}, db_path=home.registry)
    gone.rmdir()


PAPER_START, PAPER_FIRST_STEP = "2015-01-02", "2015-06-30"


def _paper_account(home: WebHome) -> None:
    from trading_playbook.paper.account import init_account, paper_home, step_account

    assert home.research_config is not None
    init_account(home.research_config, home.account, start=PAPER_START, home=home.home)
    step_account(home.account, until=PAPER_FIRST_STEP, home=home.home)
    (paper_home(home.home) / "damaged.sqlite").write_bytes(b"not a journal")


@pytest.fixture(scope="session")
def web_home(tmp_path_factory: pytest.TempPathFactory) -> WebHome:
    root = tmp_path_factory.mktemp("web")
    home = WebHome(home=root / "home")
    home.home.mkdir()
    _record_backtests(home, root / "out")
    _record_research(home, root / "out")
    _record_broken(home, root / "out")
    _paper_account(home)
    return home


# ------------------------------------------------------------------------------------- a real server

REPO = Path(__file__).resolve().parents[2]
PLAYBOOK = Path(sys.executable).parent / "playbook"  # the console script of this environment


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A `playbook serve` process and where it listens."""

    process: object
    url: str
    log: Path


@contextlib.contextmanager
def serve(
    home: Path, *args: str, env: dict[str, str] | None = None, token: str | None = None
) -> Iterator[Server]:
    """Start ``playbook serve --home HOME --port FREE ARGS`` (cwd: the repository) and wait until it answers."""
    import os
    import subprocess
    import time
    import urllib.error
    import urllib.request

    port = free_port()
    log = home.parent / f"serve-{port}.log"
    command = [str(PLAYBOOK), "serve", "--home", str(home), "--port", str(port), *args]
    environment = {k: v for k, v in os.environ.items() if k != "PLAYBOOK_SERVE_TOKEN"} | (env or {})
    with open(log, "wb") as out:
        process = subprocess.Popen(command, cwd=REPO, env=environment, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            request = urllib.request.Request(url + "/runs")
            if token:
                request.add_header("Authorization", f"Bearer {token}")
            try:
                with urllib.request.urlopen(request, timeout=5):
                    break
            except (urllib.error.URLError, ConnectionError):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"playbook serve did not start: {log.read_text()}") from None
                time.sleep(0.3)
        yield Server(process, url, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
