"""Fixtures shared by the Alpaca account tests (one fault-free baseline run per test session)."""

from __future__ import annotations

from typing import Any

import pytest

from fakes.alpaca import KEY, SECRET


def _set_keys(mp: pytest.MonkeyPatch) -> None:
    for name in ("APCA_API_KEY_ID", "APCA_API_SECRET_KEY"):
        mp.delenv(name, raising=False)
    mp.setenv("ALPACA_API_KEY", KEY)
    mp.setenv("ALPACA_SECRET_KEY", SECRET)


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fake Alpaca's keys in the environment (for this test only)."""
    _set_keys(monkeypatch)


@pytest.fixture(scope="session")
def baseline(tmp_path_factory) -> dict[str, Any]:
    """The fault-free six-session run every fault and restart test must end like."""
    from .alpaca_harness import market_bars
    from .test_alpaca_account_faults import account_run, summary

    tmp = tmp_path_factory.mktemp("baseline")
    with pytest.MonkeyPatch.context() as mp:  # the keys only while the baseline runs
        _set_keys(mp)
        fake, _ = account_run(tmp, market_bars())
        found = summary(tmp / "home", fake)
    assert [t[0] for t in found["trades"]] == ["XOM"]
    assert {p[0] for p in found["positions"]} == {"FB", "V"}
    return found
