"""Shared test setup (the fixture kit's pytest half; the builders live in ``trading_playbook.testing``).

- Every test gets its own PLAYBOOK_HOME, so nothing a test records (runs, research outputs, paper
  accounts) lands in the user's real registry; a test that needs a particular home sets its own.
- Hypothesis profiles: ``default`` prints a reproduction blob for every failure; ``ci`` (chosen when
  the environment has ``CI`` set, as ``.ci/run`` does) also derandomizes, so every CI run draws the
  same examples and a red run reproduces exactly. ``HYPOTHESIS_PROFILE`` overrides the choice.
- ``shared_data``: the shared S&P 500 file (the test is skipped where the checkout has none beside it).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

from trading_playbook.testing import shared_data_path

settings.register_profile("default", print_blob=True)
settings.register_profile("ci", print_blob=True, derandomize=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "default"))


@pytest.fixture(autouse=True)
def _isolated_playbook_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    home = tmp_path_factory.mktemp("playbook-home")
    monkeypatch.setenv("PLAYBOOK_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path of ``shared/data/sp500_daily.parquet`` beside this checkout (skips the test if absent)."""
    path = shared_data_path(Path(__file__).parent)
    if path is None:
        pytest.skip("the shared data (shared/data/sp500_daily.parquet) is not beside this checkout")
    return path
