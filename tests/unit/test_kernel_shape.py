"""The simulation kernels stay readable (issue 13): no numba function of ``core/simulate`` is longer
than 120 lines or takes more than 12 parameters; state travels in the NamedTuples of ``_records``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SIMULATE = Path(__file__).resolve().parents[2] / "src" / "trading_playbook" / "core" / "simulate"
MAX_LINES = 120
MAX_PARAMETERS = 12


def kernels() -> list[tuple[str, ast.FunctionDef]]:
    found = []
    for path in sorted(SIMULATE.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            decorators = [ast.unparse(d) for d in getattr(node, "decorator_list", [])]
            if isinstance(node, ast.FunctionDef) and any(
                "njit" in d or "loop_kernel" in d for d in decorators
            ):
                found.append((f"{path.name}:{node.name}", node))
    return found


def test_there_are_kernels_to_check() -> None:
    names = [name for name, _ in kernels()]
    assert "_kernels.py:simulate_nb" in names and len(names) > 10


@pytest.mark.parametrize(("name", "node"), kernels(), ids=[name for name, _ in kernels()])
def test_kernel_is_short_with_few_parameters(name: str, node: ast.FunctionDef) -> None:
    lines = (node.end_lineno or node.lineno) - node.lineno + 1
    assert lines <= MAX_LINES, f"{name} has {lines} lines"
    assert len(node.args.args) <= MAX_PARAMETERS, f"{name} takes {len(node.args.args)} parameters"
