"""Loading benchmark: shared data -> cache -> Panel, against a plain pyarrow read of the file.

Run: ``.venv/bin/python benchmarks/bench_load.py [--repeat 5]``. Prints medians and ratios:

- ingest of ``../shared/data/sp500_daily.parquet`` into an empty cache (read, validate, store): target <= 15 s;
- warm-cache load of all 504 symbols into the Panel (``load_panel(DataRequest(source="cache"))``):
  target <= 1.0 s and <= 2x ``pyarrow.parquet.read_table`` of the shared file in the same run;
- for reference: the per-symbol parallel read alone and the ``source="file"`` fast path.

Timings interleave the contenders and report medians, because the machine is shared.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

from trading_playbook.data import BarCache, DataRequest, FileSource, load_panel, validate_bars

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "sp500_daily.parquet"


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_load_") as tmp:
        cache_dir = Path(tmp) / "cache"

        def ingest() -> None:
            bars, _ = validate_bars(FileSource(SHARED).fetch_arrays())
            cache = BarCache(cache_dir)
            cache.store("sp500", bars, threads=8)
            cache.repack("sp500")  # what `playbook data ingest` does

        ingest_s = timed(ingest)
        request = DataRequest(source="cache", path="sp500", cache_dir=str(cache_dir))
        file_request = DataRequest(source="file", path=str(SHARED))
        cache = BarCache(cache_dir)
        first_load = timed(lambda: load_panel(request))
        runs: dict[str, list[float]] = {
            "plain read_table": [],
            "cache -> Panel": [],
            "per-symbol files -> arrays": [],
            "file -> Panel": [],
        }
        for _ in range(args.repeat):
            runs["plain read_table"].append(timed(lambda: pq.read_table(SHARED)))
            runs["cache -> Panel"].append(timed(lambda: load_panel(request)))
            runs["per-symbol files -> arrays"].append(timed(lambda: cache.read("sp500", packed=False)))
            runs["file -> Panel"].append(timed(lambda: load_panel(file_request)))
        panel, info = load_panel(request)
    med = {k: statistics.median(v) for k, v in runs.items()}
    plain = med["plain read_table"]
    print(
        f"shared file: {SHARED.resolve()}  ({info['rows']:,} bars, {info['symbols']} symbols, "
        f"{panel.n_sessions} sessions)"
    )
    print(
        f"ingest into an empty cache      {ingest_s:8.3f} s   (target <= 15 s)      {'OK' if ingest_s <= 15 else 'MISS'}"
    )
    print(f"first load after ingest         {first_load:8.3f} s")
    for name, value in med.items():
        print(f"{name:<31} {value:8.3f} s   {value / plain:5.2f}x plain   (median of {args.repeat})")
    load = med["cache -> Panel"]
    print(
        f"warm cache -> Panel: {load:.3f} s (target <= 1.0 s: {'OK' if load <= 1.0 else 'MISS'}), "
        f"{load / plain:.2f}x plain read_table (target <= 2x: {'OK' if load <= 2 * plain else 'MISS'})"
    )


if __name__ == "__main__":
    main()
