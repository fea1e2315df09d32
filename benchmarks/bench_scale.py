"""Scale benchmark (issue 14): synthetic universes of 5,000 and 20,000 symbols over 25 years.

Run on demand (minutes, gigabytes)::

    .venv/bin/python benchmarks/bench_scale.py                      # 5,000 symbols: cache + synthetic
    .venv/bin/python benchmarks/bench_scale.py --symbols 20000 --chunked --skip-cache

Each figure is one ``playbook backtest CONFIG --no-charts --no-record --timings`` child process
(`moderate` preset + `smart_exits`, 1996-2020), timed from spawn to exit, with its CPU time (user +
system) and its peak memory (the child's max RSS from ``os.wait4``), and the phases it prints:

1. **from the cache** (``--symbols`` symbols generated once into a cache folder, block by block, with
   the pack written; later runs reuse it): bars ``load <= 5 s``, ``backtest`` (setups + simulation +
   metrics) ``<= 3 s``, peak RSS ``<= 3 GB``;
2. **synthetic end to end** (generation included): ``<= 15 s``;
3. with ``--chunked``: the same runs in ``[data] mode = "chunked"``; a 20,000-symbol universe must
   complete, its time and peak memory reported (aim: well under 6 GB on the shared machine).

Bars are for a quiet machine: the load average is printed next to every figure.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _launcher import launch

REPO = Path(__file__).resolve().parents[1]
PLAYBOOK = Path(sys.executable).with_name("playbook")
START, END = "1996-01-01", "2020-12-31"
STRATEGY = """
[scanner]
name = "daily_breakout"
preset = "moderate"

[exit]
name = "smart_exits"

[sizer]
name = "percent_equity"

[portfolio]
max_positions = 5
"""


def ensure_cache(folder: Path, n_symbols: int, seed: int) -> str:
    """The cached source ``synN`` (generated block by block once, then its pack); returns its name."""
    from trading_playbook.data import BarCache
    from trading_playbook.data.synthetic import synthetic_arrays
    from trading_playbook.data.validate import validate_bars

    name = f"syn{n_symbols}"
    cache = BarCache(folder)
    if cache.catalog.pack(name) is not None and len(cache.catalog.entries(name)) == n_symbols:
        _upgrade_pack(cache, name)
        return name
    t0 = time.perf_counter()
    for first in range(0, n_symbols, 500):
        count = min(500, n_symbols - first)
        bars = synthetic_arrays(n_symbols, START, END, seed, first=first, count=count, columns=("split",))
        cache.store(name, validate_bars(bars)[0], threads=4)
    cache.repack(name)
    print(f"generated {name} into {folder} in {time.perf_counter() - t0:.1f} s (once)")
    return name


def _upgrade_pack(cache: Any, name: str) -> None:
    """Rewrite a pack of an older layout as an ingest would write it now (``data.pack.PACK_LAYOUT``)."""
    from trading_playbook.data.pack import PACK_LAYOUT, pack_layout, write_pack

    if pack_layout(cache, name) == PACK_LAYOUT:
        return
    t0 = time.perf_counter()
    write_pack(cache, name, cache.catalog.entries(name), cache.read(name))
    print(f"rewrote the pack of {name} in the current layout in {time.perf_counter() - t0:.1f} s")


def spawn_and_wait(config: Path, out: Path, extra: list[str]) -> dict[str, float]:
    """One CLI child (through :func:`_launcher.launch`): wall time, CPU time and peak RSS, trades and its
    ``--timings``."""
    args = [
        str(PLAYBOOK),
        "backtest",
        str(config),
        "--out",
        str(out),
        "--no-charts",
        "--no-record",
        "--timings",
    ]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["COLUMNS"] = "200"
    with tempfile.TemporaryDirectory() as work:
        measured = launch([*args, *extra], Path(work), env, Path.cwd())
        text = (Path(work) / "cli.log").read_text(errors="replace")  # stdout and stderr
    if measured["code"]:
        sys.exit(f"playbook failed ({measured['code']}):\n{text}")
    phases = {
        m[1].strip(): float(m[2]) for m in re.finditer(r"│\s*([a-z][a-z._ ()]*?)\s*│\s*([\d.]+)\s*│", text)
    }
    trades = re.search(r"Trades\s*│\s*([\d,]+)", text)
    return {
        "wall": float(measured["seconds"]),
        "cpu": float(measured["cpu"]),
        "peak_mb": measured["maxrss_kb"] / 1024,
        "trades": float(trades[1].replace(",", "")) if trades else -1.0,
        **phases,
    }


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def report(label: str, f: dict[str, float]) -> None:
    backtest = f.get("setups", 0.0) + f.get("simulation", 0.0) + f.get("metrics", 0.0)
    print(
        f"{label}: {f['wall']:.1f} s wall, {f['cpu']:.1f} s CPU, peak {f['peak_mb']:,.0f} MB, "
        f"{f['trades']:,.0f} trades | load {f.get('load', 0):.2f} s, setups {f.get('setups', 0):.2f} s, "
        f"simulation {f.get('simulation', 0):.2f} s, metrics {f.get('metrics', 0):.2f} s "
        f"(backtest {backtest:.2f} s) | load average {os.getloadavg()[0]:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "playbook-scale-cache")
    parser.add_argument(
        "--chunked", action="store_true", help='also (or, with --skip-memory, only) mode = "chunked"'
    )
    parser.add_argument("--skip-memory", action="store_true", help="no in-memory runs")
    parser.add_argument(
        "--skip-cache",
        action="store_true",
        help="no cache runs (a 20,000-symbol pack needs the bars in memory once)",
    )
    parser.add_argument("--skip-synthetic", action="store_true")
    parser.add_argument("--make-cache", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    n = args.symbols
    if args.make_cache:
        ensure_cache(args.cache, n, args.seed)
        return
    modes = ([] if args.skip_memory else [("memory", [])]) + (
        [("chunked", ["--chunked"])] if args.chunked else []
    )
    print(f"{n:,} symbols x {START[:4]}-{END[:4]}, moderate + smart_exits; load average {os.getloadavg()}")
    with tempfile.TemporaryDirectory(prefix="bench_scale_") as tmp:
        folder = Path(tmp)
        data = f'[data]\nsource = "synthetic"\nsynthetic_symbols = {n}\nsynthetic_seed = {args.seed}\nstart = "{START}"\nend = "{END}"\n'
        synthetic = folder / "synthetic.toml"
        synthetic.write_text(f'name = "synthetic {n}"\n{data}{STRATEGY}')
        runs: list[tuple[str, str, Path]] = []
        if not args.skip_cache:
            # in a child: this process stays small (a child forked from it would inherit its peak RSS)
            made = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--make-cache",
                    "--symbols",
                    str(n),
                    "--seed",
                    str(args.seed),
                    "--cache",
                    str(args.cache),
                ],
                check=True,
            )
            assert made.returncode == 0
            source = f"syn{n}"
            cached = folder / "cache.toml"
            cached.write_text(
                f'name = "cache {n}"\n[data]\nsource = "cache"\npath = "{source}"\ncache_dir = "{args.cache}"\n{STRATEGY}'
            )
            runs += [("cache", mode, cached) for mode, _ in modes]
        if not args.skip_synthetic:
            runs += [("synthetic", mode, synthetic) for mode, _ in modes]
        flags = dict(modes)
        for kind, mode, config in runs:
            if kind == "cache":  # warm: the pack in the OS page cache, as on a second run
                spawn_and_wait(config, folder / "warm", flags[mode])
            f = spawn_and_wait(config, folder / f"{kind}-{mode}", flags[mode])
            report(f"{kind:9} {mode:7}", f)
            backtest = f.get("setups", 0.0) + f.get("simulation", 0.0) + f.get("metrics", 0.0)
            if kind == "cache" and n == 5_000:
                print(f"  bar: load <= 5 s: {f.get('load', 0):.2f} s {verdict(f.get('load', 99) <= 5)}")
                print(f"  bar: backtest <= 3 s warm: {backtest:.2f} s {verdict(backtest <= 3)}")
                print(f"  bar: peak RSS <= 3 GB: {f['peak_mb']:,.0f} MB {verdict(f['peak_mb'] <= 3 * 1024)}")
            if kind == "synthetic" and n == 5_000:
                print(
                    f"  bar: end to end, generation included, <= 15 s: {f['wall']:.1f} s {verdict(f['wall'] <= 15)}"
                )
            if n >= 20_000:
                print(
                    f"  bar: 20,000 x 25 y completes: {verdict(f['trades'] > 0)}; peak {f['peak_mb']:,.0f} MB "
                    f"(aim well under 6 GB: {verdict(f['peak_mb'] < 6 * 1024)})"
                )


if __name__ == "__main__":
    main()
