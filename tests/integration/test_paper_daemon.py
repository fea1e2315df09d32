"""The paper daemon on the XNYS calendar, driven by an injected clock, and stopped by a real signal.

Five simulated days from Monday 2019-11-25: Thanksgiving (Thursday 11-28) is a holiday and Friday
11-29 closes early at 13:00 New York time (18:00 UTC). The daemon must step after each close plus
its delay, skip the holiday, wake at the early close, and do it all in seconds.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from trading_playbook.paper import queries
from trading_playbook.paper.account import StepResult, init_account, step_account
from trading_playbook.paper.daemon import DaemonSettings, run_daemon, session_closes

UTC = dt.UTC
PLAYBOOK = [sys.executable, "-c", "from trading_playbook.cli import main; main()"]
CONFIG = """
[data]
source = "synthetic"
synthetic_symbols = 12
synthetic_seed = 5
start = "2018-06-01"
end = "2019-12-31"

[scanner]
name = "daily_breakout"
preset = "very_relaxed"

[exit]
name = "smart_exits"
"""


class FakeClock:
    """Time that jumps forward when the daemon sleeps."""

    def __init__(self, start: dt.datetime) -> None:
        self.now_ = start
        self.sleeps: list[float] = []

    def now(self) -> dt.datetime:
        return self.now_

    def sleep(self, seconds: float, stop: threading.Event) -> None:
        self.sleeps.append(seconds)
        self.now_ += dt.timedelta(seconds=max(0.0, seconds))


@pytest.fixture()
def account(tmp_path: Path) -> Path:
    config = tmp_path / "cfg.toml"
    config.write_text(textwrap.dedent(CONFIG))
    init_account(config, "demo", home=tmp_path / "home", start="2019-11-25")
    return tmp_path / "home"


def test_calendar_knows_the_holiday_and_the_early_close() -> None:
    closes = dict(session_closes(dt.date(2019, 11, 25), dt.date(2019, 12, 3)))
    assert dt.date(2019, 11, 28) not in closes
    assert closes[dt.date(2019, 11, 29)] == dt.datetime(2019, 11, 29, 18, 0, tzinfo=UTC)
    assert closes[dt.date(2019, 11, 27)] == dt.datetime(2019, 11, 27, 21, 0, tzinfo=UTC)


def test_five_simulated_days_with_a_holiday_and_an_early_close(account: Path) -> None:
    clock = FakeClock(dt.datetime(2019, 11, 25, 22, 0, tzinfo=UTC))
    calls: list[tuple[dt.datetime, dt.date]] = []

    def step(name: str, *, until: dt.date, home: Path | None = None) -> StepResult:
        calls.append((clock.now(), until))
        return step_account(name, until=until, home=home)

    lines: list[str] = []
    began = time.perf_counter()
    stepped = run_daemon(
        "demo", clock=clock, step=step, log=lines.append, max_steps=5, home=account,
        settings=DaemonSettings(delay=dt.timedelta(minutes=30)),
    )  # fmt: skip
    elapsed = time.perf_counter() - began
    assert elapsed < 30.0
    assert stepped == 5
    assert calls == [
        (dt.datetime(2019, 11, 25, 22, 0, tzinfo=UTC), dt.date(2019, 11, 25)),  # started after the close
        (dt.datetime(2019, 11, 26, 21, 30, tzinfo=UTC), dt.date(2019, 11, 26)),
        (dt.datetime(2019, 11, 27, 21, 30, tzinfo=UTC), dt.date(2019, 11, 27)),
        (
            dt.datetime(2019, 11, 29, 18, 30, tzinfo=UTC),
            dt.date(2019, 11, 29),
        ),  # early close, holiday skipped
        (dt.datetime(2019, 12, 2, 21, 30, tzinfo=UTC), dt.date(2019, 12, 2)),
    ]
    sessions = [row["date"] for row in queries.equity_history("demo", account)]
    assert sessions == ["2019-11-25", "2019-11-26", "2019-11-27", "2019-11-29", "2019-12-02"]
    assert any("stepped 1 session(s) to 2019-11-29" in line for line in lines)


def test_late_data_is_retried(account: Path) -> None:
    clock = FakeClock(dt.datetime(2019, 11, 26, 21, 40, tzinfo=UTC))
    late = {"left": 2}

    def step(name: str, *, until: dt.date, home: Path | None = None) -> StepResult:
        if until == dt.date(2019, 11, 26) and late["left"]:
            late["left"] -= 1
            return StepResult(name, note="no new session with data", latest_data=dt.date(2019, 11, 25))
        return step_account(name, until=until, home=home)

    lines: list[str] = []
    settings = DaemonSettings(delay=dt.timedelta(minutes=30), retry=dt.timedelta(minutes=10))
    run_daemon("demo", clock=clock, step=step, log=lines.append, max_steps=1, home=account, settings=settings)
    assert sum("retrying in 0:10:00" in line for line in lines) == 2
    assert clock.sleeps[:2] == [600.0, 600.0]


def _start_daemon(home: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PLAYBOOK_HOME": str(home)}
    return subprocess.Popen(
        [*PLAYBOOK, "paper", "run", "--account", "demo", "--retry", "60"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_daemon_cleanly_and_it_resumes(account: Path, signum: int) -> None:
    # the real clock is years after the synthetic data: the daemon catches up every session with
    # data, finds none for the latest close and waits to retry; the signal ends that wait at once
    proc = _start_daemon(account)
    out: list[str] = []
    deadline = time.time() + 120
    assert proc.stdout is not None
    while time.time() < deadline:
        line = proc.stdout.readline()
        out.append(line)
        if "retrying in" in line or "next step" in line:
            break
    proc.send_signal(signum)
    rest, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    text = "".join(out) + rest
    assert "stepped" in text and f"received signal {int(signum)}" in text and "stopped" in text
    assert queries.account_summary("demo", account)["last_session"] == "2019-12-31"
    # started again it resumes where it left off: nothing left to step
    again = step_account("demo", home=account)
    assert again.logs == [] and again.last_processed == dt.date(2019, 12, 31)
