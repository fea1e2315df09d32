"""What numba compiles on a first run: only the kernels the run needs, each once (issue 9, point 9).

Each distinct signature of a kernel is a compile of its own (seconds on a first run): an argument
whose layout differs between calls (a column slice of a 2-D buffer is not C-contiguous) or a literal
constant passed to a kernel compiles it again. The run below starts from an empty numba cache, in a
process of its own, with the compile worker off so that every compile happens where it is seen.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

AUDIT = textwrap.dedent(
    """
    import json, sys
    from numba.core.event import Listener, install_listener
    from typer.testing import CliRunner
    from trading_playbook.cli import app

    compiled = []
    others = []  # numba's own functions compiled for the run (its overloads of min, max, int...)

    class Audit(Listener):
        def on_start(self, event):
            d = event.data["dispatcher"]
            module = d.py_func.__module__
            if not module.startswith("trading_playbook."):
                others.append(module + "." + d.py_func.__qualname__ + " " + str(event.data["args"]))
            else:
                own_code = getattr(d, "entry", True)  # False: a called-only kernel (_jit.callee_kernel)
                name = module.rsplit(".", 1)[1] + "." + d.py_func.__name__
                compiled.append([name, str(event.data["args"]), own_code])

        def on_end(self, event):
            pass

    with install_listener("numba:compile", Audit()):
        args = ["backtest", sys.argv[1], "--out", sys.argv[2], "--no-charts", "--no-record",
                "--start", "2019-01-01"]
        result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    import re
    from trading_playbook.core.simulate._kernels import simulate_nb
    ir = next(iter(simulate_nb.overloads.values())).library.get_llvm_str()
    heads = [line for line in ir.splitlines() if line.startswith("define")]
    print(json.dumps(sorted({m for h in heads for m in re.findall(r"(?<=\\d)([A-Za-z_]+_nb)(?=B\\d)", h)})))
    print("linalg", "scipy.linalg" in sys.modules)
    print(json.dumps(others))
    print(json.dumps(compiled))
    """
)

# what a fast backtest of the synthetic demo compiles: the generator, the breakout scanner, the bar
# index and session loop (with every kernel it calls), and the two metrics kernels
NEEDED = {
    "_synthetic_nb": {
        "symbol_bars_nb",
        "_phases_nb",
        "_next_state_nb",
        "_round2",
        "_dividends_nb",
        "_adjusted_close_nb",
    },
    "_breakout_stream": {"prepare_chunk_nb", "_symbol_nb", "_window_mean_nb", "_good_sum_nb"},
    "_breakout_kernels": {"rank_hits_nb", "_score_nb"},
    "_bars_nb": {"bar_index_nb", "mean_at_nb", "bars_before_nb", "previous_at_nb"},
    "_window_mean": {"window_mean_nb"},  # its own module: a backtest imports no other indicator kernel
    "_benchmark_nb": {"equal_weight_growth_nb"},
    "_bootstrap_nb": {"bootstrap_trades_nb"},
}
# of those, the kernels Python calls: the only ones with machine code (and a cache entry) of their
# own; every other kernel is compiled once, into its callers' code (_jit.callee_kernel, loop_kernel)
ENTRIES = {
    "_synthetic_nb.symbol_bars_nb",
    "_breakout_stream.prepare_chunk_nb",
    "_breakout_kernels.rank_hits_nb",
    "_bars_nb.bar_index_nb",
    "_kernels.simulate_nb",
    "_benchmark_nb.equal_weight_growth_nb",
    "_bootstrap_nb.bootstrap_trades_nb",
}
# the functions of the session loop's machine code (its kernels LLVM chose not to inline, numba's
# Python wrapper included): the kernels marked ``loop_kernel(inline="always")`` are never among them
LOOP_FUNCTIONS = {"simulate_nb", "close_rules_nb", "scale_out_nb", "scan_nb", "enter_at_close_nb"}


def test_a_first_backtest_compiles_only_what_it_runs_each_kernel_once(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "NUMBA_CACHE_DIR": str(tmp_path / "numba-cache"),
        "PLAYBOOK_HOME": str(tmp_path / "home"),
        "PLAYBOOK_COMPILE_WORKER": "0",
    }
    done = subprocess.run(
        [sys.executable, "-c", AUDIT, str(ROOT / "examples" / "synthetic_demo.toml"), str(tmp_path / "out")],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[-3] == "linalg False"  # numba's BLAS probe deferred: no kernel uses linear algebra
    # numba compiles its overloads of the builtins (min, max, int on numbers) as functions of their
    # own, per signature and process, never cached: the kernels use core._builtins_nb's intrinsics
    assert json.loads(lines[-2]) == []
    compiled = json.loads(lines[-1])
    names = [name for name, _, _ in compiled]
    twice = {name for name in names if names.count(name) > 1}
    assert not twice, [c for c in compiled if c[0] in twice]
    by_module: dict[str, set[str]] = {}
    for name in names:
        module, func = name.split(".")
        by_module.setdefault(module, set()).add(func)
    loop = {m: by_module.pop(m) for m in ("_kernels", "_book_nb", "_exits_nb") if m in by_module}
    assert "simulate_nb" in loop["_kernels"]
    assert by_module == NEEDED
    assert {name for name, _, own_code in compiled if own_code} == ENTRIES
    # the session loop's optimised code: every other loop kernel inlined into these (a kernel LLVM
    # stops inlining is a call passing the state tuples, and the loop runs slower)
    loop_functions = set(json.loads(lines[-4]))
    assert "simulate_nb" in loop_functions and loop_functions <= LOOP_FUNCTIONS, loop_functions
