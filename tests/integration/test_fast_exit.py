"""The console script ends the process without the interpreter's teardown (``_entry.end_now``), and
only when nothing needs that teardown: every ``atexit`` callback and ``weakref.finalize`` still runs
once, buffered output is flushed, the exit status is the command's; another live thread, a status
that is not a number, or an output that cannot be flushed leave the usual exit in charge."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

_SCRIPT = """
import atexit, sys, tempfile, threading, time, weakref
from pathlib import Path

from trading_playbook._entry import end_now

marks = Path(sys.argv[1])
folder = Path(tempfile.mkdtemp())
atexit.register(lambda: marks.open("a").write("atexit\\n"))
class Holder: pass
holder = Holder()
weakref.finalize(holder, lambda: marks.open("a").write("finalize\\n"))
sys.stdout.write("buffered output")  # not flushed yet: a pipe is block-buffered
mode, code = sys.argv[2], sys.argv[3]
status = None if code == "none" else (int(code) if code.lstrip("-").isdigit() else code)
if mode == "thread":
    threading.Thread(target=time.sleep, args=(0.5,)).start()
end_now(status)
marks.open("a").write("returned\\n")
sys.exit(status)
"""


def _run(tmp_path: Path, mode: str, code: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    marks = tmp_path / "marks.txt"
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(marks), mode, code], capture_output=True, text=True, timeout=60
    )
    return done, marks.read_text().splitlines() if marks.exists() else []


@pytest.mark.parametrize(("code", "status"), [("0", 0), ("none", 0), ("3", 3), ("130", 130), ("-1", 255)])
def test_it_ends_here_after_every_exit_callback_once(tmp_path: Path, code: str, status: int) -> None:
    done, marks = _run(tmp_path, "alone", code)
    assert done.returncode == status
    assert done.stdout == "buffered output"
    assert marks == ["finalize", "atexit"]  # each once, and the code after end_now never ran


def test_another_live_thread_leaves_the_usual_exit(tmp_path: Path) -> None:
    done, marks = _run(tmp_path, "thread", "4")
    assert done.returncode == 4
    assert done.stdout == "buffered output"
    assert marks == ["returned", "finalize", "atexit"]  # the interpreter's own exit ran them


def test_a_message_status_leaves_the_usual_exit(tmp_path: Path) -> None:
    done, marks = _run(tmp_path, "alone", "bye")
    assert done.returncode == 1 and done.stderr.strip() == "bye"
    assert marks == ["returned", "finalize", "atexit"]


def test_the_backtest_command_ends_early_with_every_file_written(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        '[data]\nsource = "synthetic"\nsynthetic_symbols = 8\nsynthetic_seed = 5\n'
        'start = "2015-01-01"\nend = "2016-12-31"\n[scanner]\nname = "daily_breakout"\npreset = "relaxed"\n'
    )
    probe = (
        "import sys, threading\n"
        "from trading_playbook import _entry\n"
        "ended = _entry.end_now\n"
        "def watch(code):\n"
        "    print('END-NOW', code, [t.name for t in threading.enumerate()], file=sys.stderr, flush=True)\n"
        "    ended(code)\n"
        "_entry.end_now = watch\n"
        "_entry.main()\n"
        "print('AFTER-MAIN', file=sys.stderr)\n"
    )
    env = {**os.environ, "PLAYBOOK_HOME": str(tmp_path / "home")}
    out = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-c", probe, "backtest", str(config), "--out", str(out), "--no-record"],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "END-NOW 0 ['MainThread']" in done.stderr  # no thread left: the early end was taken
    assert "AFTER-MAIN" not in done.stderr
    assert "Wrote" in done.stdout
    result = json.loads((out / "result.json").read_text())
    assert result["metrics"] and (out / "trades.csv").read_text().count("\n") == len(result["trades"]) + 1
    assert (out / "report.html").read_text().rstrip().endswith("</html>")
