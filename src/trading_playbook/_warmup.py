"""Compile the fast engine's session loop into numba's on-disk cache, in a process of its own.

``python -m trading_playbook._warmup`` runs the fast engine once on a tiny seeded panel: numba compiles
:func:`~trading_playbook.core.simulate._kernels.simulate_nb` for the one signature every run uses (the
state NamedTuples have fixed dtypes and layouts; rule kinds, sizers and fill modes are data) and
writes it to its cache. On a first run the CLI starts it beside itself
(:func:`trading_playbook.cli._compile.simulation_warmup`), so the session loop compiles on the second
core while the first loads the data and compiles and runs the scanner.
"""

from __future__ import annotations


def compile_simulation() -> None:
    """Run the fast engine on a tiny panel (compiling and caching its session loop)."""
    import numpy as np

    from trading_playbook.core.exits.spec import named_exit
    from trading_playbook.core.simulate import fast
    from trading_playbook.core.simulate.settings import PortfolioSettings, SleeveSpec
    from trading_playbook.core.sizing import PercentEquitySizer
    from trading_playbook.testing import TableScanner, random_ohlc_panel, setup_table

    panel = random_ohlc_panel(np.random.default_rng(0), 40, 3)
    table = setup_table([(t, t % 3, 50.0, 1.0, 1.0) for t in range(20, 39)])
    sleeve = SleeveSpec("warm-up", TableScanner(table), named_exit("smart_exits"), PercentEquitySizer())
    fast.run_fast(panel, [sleeve], PortfolioSettings(), start=20, end=39, setups=[table])


if __name__ == "__main__":
    compile_simulation()
