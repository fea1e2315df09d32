"""Fixtures shared by the Alpaca account tests (one fault-free baseline run per test session)."""

from __future__ import annotations

from typing import Any

import pytest

from fakes.alpaca import KEY, SECRET


@pytest.fixture(scope="session")
def keys():
    """The fake Alpaca's keys in the environment."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ALPACA_API_KEY", KEY)
        mp.setenv("ALPACA_SECRET_KEY", SECRET)
        yield


@pytest.fixture(scope="session")
def baseline(tmp_path_factory, keys) -> dict[str, Any]:
    """The fault-free six-session run every fault and restart test must end like."""
    from .alpaca_harness import market_bars
    from .test_alpaca_account_faults import account_run, summary

    tmp = tmp_path_factory.mktemp("baseline")
    fake, _ = account_run(tmp, market_bars())
    found = summary(tmp / "home", fake)
    assert [t[0] for t in found["trades"]] == ["XOM"]
    assert {p[0] for p in found["positions"]} == {"FB", "V"}
    return found
