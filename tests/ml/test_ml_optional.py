"""scikit-learn / LightGBM are an optional extra: with their import blocked, everything else imports
and runs, and an ML command stops with a one-line "install '.[ml]'" message."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BLOCK = """
import sys
class _Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"sklearn", "lightgbm", "joblib", "threadpoolctl"}:
            raise ImportError(f"{name} blocked by the test")
        return None
sys.meta_path.insert(0, _Block())
for mod in [m for m in sys.modules if m.split(".")[0] in {"sklearn", "lightgbm", "joblib", "threadpoolctl"}]:
    del sys.modules[mod]
"""

CONFIG = """
[data]
source = "synthetic"
synthetic_symbols = 8
start = "2014-01-01"
end = "2015-12-31"
[scanner]
name = "daily_breakout"
preset = "relaxed"
[ml]
models = ["logistic"]
"""


def _run(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BLOCK + code, *args], capture_output=True, text=True, timeout=600
    )


def test_ml_train_without_the_extra_is_a_one_line_install_hint(tmp_path: Path) -> None:
    config = tmp_path / "ml.toml"
    config.write_text(CONFIG)
    done = _run(
        "from trading_playbook.cli import main; sys.argv = ['playbook', *sys.argv[1:]]; main()",
        "ml",
        "train",
        str(config),
        "--out",
        str(tmp_path / "out"),
    )
    assert done.returncode == 1
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert "install '.[ml]'" in lines[0] and "sklearn is not installed" in lines[0]
    assert not (tmp_path / "out").exists()


def test_everything_else_works_without_the_extra(tmp_path: Path) -> None:
    config = tmp_path / "ml.toml"
    config.write_text(CONFIG)
    code = f"""
import importlib
for name in ("trading_playbook", "trading_playbook.ml.scanner", "trading_playbook.ml.pipeline",
             "trading_playbook.ml.report", "trading_playbook.ml.backtests", "trading_playbook.cli"):
    importlib.import_module(name)
from trading_playbook.config import load_config
from trading_playbook.engine import load_data, run_backtest
from trading_playbook.ml.dataset import build_dataset, write_dataset
from trading_playbook.registry import list_components
cfg = load_config({str(config)!r})
ws = load_data(cfg)
result = run_backtest(cfg, workspace=ws)
assert result.trades and result.metrics["sharpe"] is not None
assert "ml_score" in [c.name for c in list_components("scanner")]
paths = write_dataset(build_dataset(cfg, ws), {str(tmp_path / "ds")!r})
assert all(p.is_file() for p in paths)
import sys as _s
assert not any(m.split(".")[0] in ("sklearn", "lightgbm") for m in _s.modules)
print("ok")
"""
    done = _run(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("ok")
