"""Every CLI command meets bad input with a message naming it, never a traceback (issue 9, point 8).

Each row of ``BAD_INPUTS`` runs one command through the real entry point (``playbook`` =
``trading_playbook.cli.main``) with one bad input and checks that it fails, prints the expected
fragment of its message, and prints no traceback. ``test_every_command_has_a_bad_input`` fails when a
command has no row: **a new command (``paper``, ``serve``, ``ml``, ...) adds at least one row here.**

Arguments may use ``{tmp}`` (a per-test folder holding the files of :func:`workdir`) and ``{cache}``
(a cache folder with one ingested source, ``uni``).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import typer

from trading_playbook.cli import app, main
from trading_playbook.data.model import to_frame
from trading_playbook.data.synthetic import synthetic_arrays


@dataclass(frozen=True)
class BadInput:
    """One command run with one bad input, and a fragment of the message it must print."""

    command: str  # the command as typed after "playbook", e.g. "data ingest"
    args: tuple[str, ...]
    expect: str


GOOD = "{tmp}/good.toml"
OPT = ("--out", "{tmp}/opt", "--workers", "1")

BAD_INPUTS: list[BadInput] = [
    # data
    BadInput("data ingest", ("{tmp}/empty.parquet", "--cache-dir", "{tmp}/c1"), "has no rows"),
    BadInput("data ingest", ("{tmp}/nope.parquet", "--cache-dir", "{tmp}/c1"), "does not exist"),
    BadInput("data ingest", ("{tmp}/inf.parquet", "--cache-dir", "{tmp}/c1"), "a price is infinite"),
    BadInput("data ingest", ("{tmp}/good.toml",), "unknown file type"),
    BadInput("data ingest", ("{tmp}/bars.parquet", "--source-name", "../x"), "invalid source name"),
    BadInput("data ingest", ("{tmp}/bars.parquet", "--cache-dir", "{tmp}/afile"), "cannot use"),
    BadInput(
        "data fetch",
        ("--symbols", "AAPL", "--start", "2020-01-01", "--end", "2020-02-01", "--cache-dir", "{tmp}/c2"),
        "ALPACA_API_KEY",
    ),
    BadInput(
        "data fetch",
        ("--symbols", "AAPL", "--start", "2020-01-01", "--end", "2020-02-01", "--adjustment", "dividend"),
        "unknown adjustment",
    ),
    BadInput("data ls", ("--cache-dir", "{tmp}/afile"), "cannot use"),
    BadInput("data verify", ("--cache-dir", "{tmp}/afile"), "cannot use"),
    BadInput(
        "data verify",
        (
            "--cache-dir",
            "{cache}",
        ),
        "1 of 6 expected symbol(s) missing: SYN001",
    ),
    # point-in-time universes
    BadInput("data universe add", ("sp500", "{tmp}/nope.csv"), "does not exist"),
    BadInput(
        "data universe add", ("sp500", "{tmp}/overlap.csv"), "lines 2 and 3: ticker AAA has overlapping"
    ),
    BadInput("data universe add", ("S&P", "{tmp}/members.csv"), "universe name 'S&P' is not valid"),
    BadInput("data universe list", ("--cache-dir", "{tmp}/afile"), "cannot use"),
    BadInput("data universe show", ("nope",), "no universe named 'nope' is registered"),
    BadInput("data universe remove", ("nope",), "no universe named 'nope' is registered"),
    BadInput("backtest", ("{tmp}/unknown_universe.toml",), "no universe named 'sp400' is registered"),
    BadInput("backtest", ("{tmp}/bad_universe.toml",), "end_date 2014-01-01 is before start_date 2015-01-01"),
    # scanning and backtesting
    BadInput("scan", (GOOD, "--date", "2014-01-10"), "too little history to scan 2014-01-10"),
    BadInput("scan", (GOOD, "--date", "1990-01-02"), "1990-01-02"),
    BadInput("scan", ("{tmp}/strict.toml", "--date", "2015-06-01"), "portfolio.max_positions = '5'"),
    BadInput("strategies", ("--kind", "indicator"), "--kind must be scanner, exit or sizer"),
    BadInput("backtest", ("{tmp}/strict.toml",), "portfolio.max_positions = '5': expected an integer"),
    BadInput("backtest", ("{tmp}/nope.toml",), "does not exist"),
    BadInput("backtest", ("{tmp}/broken.toml",), "not valid TOML"),
    BadInput("backtest", ("{tmp}/lost.toml",), "does not exist (relative to the config file's folder"),
    BadInput("backtest", ("{tmp}/inf.toml",), "a price is infinite"),
    BadInput("backtest", (GOOD, "--out", "{tmp}/afile"), "is an existing file"),
    BadInput("backtest", (GOOD, "--out", "{tmp}/afile/run"), "is a file, so the folder cannot be created"),
    BadInput("backtest", (GOOD, "--out", "{tmp}"), "not a run folder"),
    BadInput("backtest", (GOOD, "--engine", "warp", "--out", "{tmp}/w"), "unknown engine 'warp'"),
    BadInput("backtest", (GOOD, "--start", "1990-01-01", "--end", "1990-12-31"), "the data covers"),
    BadInput("check-lookahead", ("{tmp}/strict.toml",), "portfolio.max_positions"),
    BadInput("check-lookahead", (GOOD, "--cuts", "0"), "--cuts"),
    # the run registry
    BadInput("runs ls", ("--limit", "0"), "--limit"),
    BadInput("runs show", ("nope",), "nope"),
    BadInput("runs compare", ("nope",), "needs two or more run ids"),
    BadInput("report", ("nope",), "nope"),
    # research
    BadInput(
        "optimize",
        (GOOD, "--param", "exit.time_stop=abc", *OPT),
        "exit.time_stop = 'abc': expected an integer",
    ),
    BadInput(
        "optimize",
        (GOOD, "--param", "exit.time_stop=5,9", "--objective", "sharp", *OPT),
        "did you mean 'sharpe'",
    ),
    BadInput(
        "optimize", (GOOD, "--param", "data.start=2015-01-01", *OPT), "the data and the window are the same"
    ),
    BadInput("optimize", (GOOD, "--param", "exit.time_stop=5:1:1", *OPT), "STOP (1) is below START (5)"),
    BadInput("optimize", (GOOD, "--method", "annealing", *OPT), "--method must be grid, random or tpe"),
    BadInput("optimize", (GOOD, "--executor", "ray", *OPT), "--executor must be 'local' or 'dask'"),
    BadInput("walk-forward", (GOOD, "--train", "3q", *OPT), "duration '3q'"),
    BadInput("walk-forward", (GOOD, "--objective", "luck", *OPT), "--objective 'luck' is not a metric"),
    BadInput(
        "walk-forward", (GOOD, "--param", "scanner.preset=loose", *OPT), "unknown daily_breakout preset"
    ),
    # paper accounts
    BadInput("paper init", ("{tmp}/nope.toml", "--account", "a"), "does not exist"),
    BadInput("paper init", (GOOD, "--account", "a1", "--broker", "alpaca"), "ALPACA_API_KEY"),
    BadInput("paper init", (GOOD, "--account", "a2", "--live"), "--live applies to --broker alpaca only"),
    BadInput("paper step", ("--account", "nope"), "no paper account 'nope'"),
    BadInput("paper status", ("--account", "nope"), "no paper account 'nope'"),
    BadInput("paper history", ("--account", "nope"), "no paper account 'nope'"),
    BadInput("paper drift", ("--account", "nope"), "no paper account 'nope'"),
    BadInput("paper run", ("--account", "nope"), "no paper account 'nope'"),
    BadInput("paper reconcile", ("--account", "nope"), "no paper account 'nope'"),
    BadInput("paper halt", ("--account", "nope"), "no paper account 'nope'"),
    BadInput("paper replay", ("{tmp}/nope.toml", "--out", "{tmp}/rp"), "does not exist"),
    # learned setup scoring
    BadInput("ml dataset", ("{tmp}/strict.toml", "--out", "{tmp}/mld"), "portfolio.max_positions"),
    BadInput("ml train", (GOOD, "--train", "3q", "--out", "{tmp}/mlt"), "duration '3q'"),
    BadInput("ml train", (GOOD, "--models", "forest", "--out", "{tmp}/mlt"), "unknown ['forest']"),
    # paper accounts
    BadInput("paper init", (GOOD, "--account", "bad-name"), "account name 'bad-name' is not valid"),
    BadInput("paper init", ("{tmp}/strict.toml", "--account", "x"), "portfolio.max_positions"),
    BadInput("paper init", (GOOD, "--account", "x", "--broker", "ib"), "unknown broker 'ib'"),
    BadInput("paper replay", ("{tmp}/strict.toml", "--out", "{tmp}/rp"), "portfolio.max_positions"),
    BadInput(
        "paper replay",
        (GOOD, "--out", "{tmp}/rp", "--start", "1990-01-01", "--end", "1990-12-31"),
        "the data covers",
    ),
    # the dashboard
    BadInput("serve", ("--host", "0.0.0.0"), "refusing to serve on 0.0.0.0 without an access token"),
    BadInput("serve", ("--host", "0.0.0.0", "--token", "short"), "use at least 16"),
    BadInput("serve", ("--port", "0"), "Invalid value for '--port'"),
]


def _leaf_commands(group: Any, prefix: str = "") -> list[str]:
    names = []
    for name, command in sorted(group.commands.items()):
        path = f"{prefix}{name}"
        if hasattr(command, "commands"):  # a group (typer vendors its own click)
            names.extend(_leaf_commands(command, f"{path} "))
        else:
            names.append(path)
    return names


def test_every_command_has_a_bad_input() -> None:
    commands = _leaf_commands(typer.main.get_command(app))
    covered = {case.command for case in BAD_INPUTS}
    lacking = [c for c in commands if c not in covered]
    assert not lacking, (
        f"commands without a bad-input row: {lacking}; add a BadInput row for each to BAD_INPUTS in "
        "tests/integration/test_cli_bad_inputs.py"
    )
    assert covered <= set(commands), covered - set(commands)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("bad_inputs")
    frame = to_frame(synthetic_arrays(6, "2014-01-01", "2016-12-31", seed=2))
    frame["symbol"] = frame["symbol"].astype(str)
    frame.to_parquet(tmp / "bars.parquet")
    frame.iloc[:0].to_parquet(tmp / "empty.parquet")
    with_inf = frame.copy()
    with_inf.loc[5, "high"] = np.inf
    with_inf.to_parquet(tmp / "inf.parquet")
    (tmp / "afile").write_text("not a folder\n")
    good = (
        '[data]\nsource = "synthetic"\nsynthetic_symbols = 6\nstart = "2014-01-01"\nend = "2016-12-31"\n'
        '[scanner]\nname = "daily_breakout"\npreset = "relaxed"\n'
    )
    (tmp / "good.toml").write_text(good)
    (tmp / "strict.toml").write_text(good + '[portfolio]\nmax_positions = "5"\n')
    (tmp / "broken.toml").write_text("[data\nsource = 1\n")
    (tmp / "lost.toml").write_text('[data]\nsource = "file"\npath = "nowhere/bars.parquet"\n')
    (tmp / "inf.toml").write_text('[data]\nsource = "file"\npath = "inf.parquet"\n')
    (tmp / "members.csv").write_text("ticker,start_date,end_date\nSYN000,2014-01-01,\n")
    (tmp / "overlap.csv").write_text(
        "ticker,start_date,end_date\nAAA,2014-01-01,2015-01-01\nAAA,2014-06-01,\n"
    )
    (tmp / "reversed.csv").write_text("ticker,start_date,end_date\nAAA,2015-01-01,2014-01-01\n")
    (tmp / "unknown_universe.toml").write_text(good + '[universe]\nmembership = "sp400"\n')
    (tmp / "bad_universe.toml").write_text(good + '[universe]\nmembership = "reversed.csv"\n')
    from typer.testing import CliRunner

    from trading_playbook.data import BarCache

    cache = tmp / "cache"
    ingest = ["data", "ingest", str(tmp / "bars.parquet"), "--source-name", "uni", "--cache-dir", str(cache)]
    assert CliRunner().invoke(app, ingest).exit_code == 0
    store = BarCache(cache)
    store.quarantine(store.catalog.entry("uni", "SYN001"), "damaged on purpose by the test")
    return tmp


@pytest.mark.parametrize("case", BAD_INPUTS, ids=[f"{c.command}:{' '.join(c.args)}"[:70] for c in BAD_INPUTS])
def test_bad_input_is_a_message_not_a_traceback(case: BadInput, workdir: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("PLAYBOOK_HOME", str(workdir / "home"))
    monkeypatch.setenv("PLAYBOOK_CACHE_DIR", str(workdir / "default-cache"))
    monkeypatch.setenv("COLUMNS", "250")
    for name in (
        "ALPACA_API_KEY",
        "ALPACA_SECRET_KEY",
        "APCA_API_KEY_ID",
        "APCA_API_SECRET_KEY",
        "PLAYBOOK_SERVE_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)
    args = [a.format(tmp=workdir, cache=workdir / "cache") for a in case.args]
    monkeypatch.setattr(sys, "argv", ["playbook", *case.command.split(), *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    out, err = capsys.readouterr()
    text = " ".join((out + err).split())  # one line: terminal wrapping must not split the fragment
    assert exit_info.value.code not in (0, None), text
    assert "Traceback" not in out + err, out + err
    assert " ".join(case.expect.split()) in text, text
