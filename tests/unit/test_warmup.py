"""The first run's compile worker (``trading_playbook._warmup``): what it compiles besides the session loop."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from trading_playbook import _warmup
from trading_playbook.core.scanners import _breakout_kernels as bk
from trading_playbook.registry import get_scanner
from trading_playbook.testing import random_ohlc_panel


def test_the_worker_compiles_the_rank_kernel_for_the_signature_the_scanner_uses() -> None:
    get_scanner("daily_breakout", preset="moderate").scan(random_ohlc_panel(np.random.default_rng(0), 120, 4))
    _warmup.rank_no_hits()
    assert len(bk.rank_hits_nb.signatures) == 1, bk.rank_hits_nb.signatures  # no second compile


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('name = "x"\n', True),  # no scanner named: the default, daily_breakout
        ('[scanner]\nname = "daily_breakout"\npreset = "moderate"\n', True),
        ('[scanner]\nname = "my_plugin"\n', False),
        ('[scanner]\nname = "my_plugin"\n[[sleeves]]\nname = "b"\n', True),  # a sleeve on the default
        ('[scanner]\nname = "my_plugin"\n[[sleeves]]\nname = "b"\n[sleeves.scanner]\nname = "p2"\n', False),
        ("not toml [", False),
    ],
)
def test_uses_breakout_reads_the_config(tmp_path: Path, text: str, expected: bool) -> None:
    config = tmp_path / "run.toml"
    config.write_text(text, encoding="utf-8")
    assert _warmup.uses_breakout(["backtest", "--out", str(tmp_path / "o"), str(config)]) is expected


def test_uses_breakout_without_a_readable_config(tmp_path: Path) -> None:
    assert not _warmup.uses_breakout(["backtest", str(tmp_path / "missing.toml")])
    assert not _warmup.uses_breakout(["backtest"])


def test_start_early_asks_for_the_rank_kernel_of_a_breakout_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[tuple[str, ...]] = []
    monkeypatch.setattr(_warmup, "looks_cached", lambda: False)
    monkeypatch.setattr(_warmup, "start_worker", lambda flags=(): started.append(tuple(flags)) or object())
    monkeypatch.delenv(_warmup.WORKER_ENV, raising=False)
    config = tmp_path / "run.toml"
    for text in ('[scanner]\nname = "daily_breakout"\n', '[scanner]\nname = "my_plugin"\n'):
        config.write_text(text, encoding="utf-8")
        _warmup.start_early(["backtest", str(config)])
        assert _warmup.take_early() is not None
    assert started == [(_warmup.RANK_FLAG,), ()]
