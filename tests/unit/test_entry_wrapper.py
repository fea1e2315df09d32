"""A kernel's Python wrapper is compiled unoptimised (``_jit._EntryLibrary``), the kernel itself as usual."""

from __future__ import annotations

import re

import numpy as np
import pytest

from trading_playbook.core._jit import njit


@njit(error_model="python")
def _mean(x: np.ndarray, n: int) -> float:  # pragma: no cover - numba
    total = 0.0
    for i in range(n):
        total += x[i]
    return total / n


def _definitions(kernel: object) -> dict[str, str]:
    """The wrapper's and the kernel's ``define`` lines, each with its attribute group's text."""
    library = next(iter(kernel.overloads.values())).library  # type: ignore[attr-defined]
    lines = library.get_llvm_str().splitlines()
    groups = dict(re.findall(r"^attributes (#\d+) = \{(.*)\}$", "\n".join(lines), re.M))
    heads = {}
    for head in (line for line in lines if line.startswith("define")):
        group = re.search(r"(#\d+) \{$", head)
        heads["wrapper" if "@_ZN7cpython" in head else "kernel"] = head + (groups[group[1]] if group else "")
    return heads


def test_the_wrapper_is_optnone_and_the_kernel_is_optimised() -> None:
    assert _mean(np.array([1.0, 2.0, 4.5]), 3) == 2.5
    heads = _definitions(_mean)
    assert set(heads) == {"wrapper", "kernel"}
    assert "optnone" in heads["wrapper"] and "noinline" in heads["wrapper"]
    assert "optnone" not in heads["kernel"]


def test_errors_still_cross_the_unoptimised_wrapper() -> None:
    with pytest.raises(ZeroDivisionError):
        _mean(np.array([1.0]), 0)
    assert _mean(np.array([3.0, 1.0]), 2) == 2.0
