"""The SQLite + Parquet cache: round trips, gap filling, corruption, atomicity, concurrency."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from trading_playbook.core.errors import CacheError, DataError
from trading_playbook.data import (
    BarCache,
    CacheLoadError,
    DataRequest,
    SyntheticSource,
    fill_cache,
    load_panel,
    resolve_cache_dir,
)
from trading_playbook.data.catalog import Catalog
from trading_playbook.data.synthetic import synthetic_arrays


def same(a, b) -> bool:
    return (
        a.symbols == b.symbols
        and np.array_equal(a.day, b.day)
        and all(
            np.array_equal(a.values[k], b.values[k], equal_nan=True)
            for k in ("open", "close", "volume", "split")
        )
    )


@pytest.fixture
def bars():
    return synthetic_arrays(6, "2015-01-01", "2016-12-31", seed=3)


class CountingSource(SyntheticSource):
    """The synthetic universe, counting fetches."""

    def __init__(self) -> None:
        super().__init__(n_symbols=4, seed=5, start="2015-01-01", end="2016-12-31")
        self.calls: list[tuple[tuple[str, ...], str | None, str | None]] = []

    def fetch_arrays(self, symbols=(), start=None, end=None):
        self.calls.append((tuple(symbols), start, end))
        return super().fetch_arrays(symbols, start, end)


def test_store_and_read_round_trip(bars, tmp_path) -> None:
    cache = BarCache(tmp_path)
    summary = cache.store("demo", bars)
    assert (summary.symbols, summary.rows) == (6, len(bars))
    assert same(cache.read("demo"), bars)
    assert same(cache.read("demo", ["syn002"]), bars.select(["SYN002"]))
    entries = cache.catalog.entries("demo")
    assert [e.symbol for e in entries] == list(bars.symbols)
    assert all(len(e.checksum) == 32 for e in entries)
    with pytest.raises(DataError, match="SYN999"):
        cache.read("demo", ["SYN999"])


def test_merge_replaces_overlapping_sessions(bars, tmp_path) -> None:
    cache = BarCache(tmp_path)
    one = bars.select(["SYN000"])
    early = one.take(one.day <= np.datetime64("2016-03-31"))
    late = one.take(one.day >= np.datetime64("2016-01-01"))
    late.values["close"] = late.values["close"].copy()  # changed closes in the overlap must win
    late.values["close"][:10] += 0.01
    late.values["high"] = np.maximum(late.values["high"], late.values["close"])
    cache.store("demo", early)
    cache.store("demo", late)
    got = cache.read("demo", ["SYN000"])
    assert np.array_equal(got.day, one.day)
    k = int(np.searchsorted(got.day, np.datetime64("2016-01-01")))
    np.testing.assert_array_equal(got.values["close"][k:], late.values["close"])
    np.testing.assert_array_equal(got.values["close"][:k], early.values["close"][:k])
    assert len(list((tmp_path / "bars" / "demo").iterdir())) == 1  # the old file was removed


def test_fill_fetches_only_missing_ranges(tmp_path) -> None:
    cache = BarCache(tmp_path)
    src = CountingSource()
    fill_cache(cache, src, ["SYN000", "SYN001"], "2015-01-01", "2015-06-30")
    fill_cache(cache, src, ["SYN000", "SYN001", "SYN002"], "2015-01-01", "2015-12-31")
    fill_cache(cache, src, ["SYN000", "SYN001", "SYN002"], "2015-03-01", "2015-12-31")
    assert src.calls == [
        (("SYN000", "SYN001"), "2015-01-02", "2015-06-30"),
        (("SYN000", "SYN001"), "2015-06-30", "2015-12-31"),  # widened one session into stored data
        (("SYN002",), "2015-01-02", "2015-12-31"),
    ]
    full = src.fetch_arrays(["SYN000", "SYN001", "SYN002"], "2015-01-01", "2015-12-31")
    assert same(cache.read(src.name), full)


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_corrupt_file_quarantined_then_refetched(tmp_path, damage: str) -> None:
    cache = BarCache(tmp_path)
    src = CountingSource()
    fill_cache(cache, src, ["SYN000", "SYN001"], "2015-01-01", "2015-12-31")
    before = cache.read(src.name)
    entry = cache.catalog.entry(src.name, "SYN001")
    path = cache.file_path(entry)
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        path.write_bytes(bytes(data[: len(data) // 2]))
    else:
        data[len(data) // 3] ^= 0xFF  # same size: only the page CRC can tell
        path.write_bytes(bytes(data))
    with pytest.raises(CacheLoadError, match="SYN001") as failure:
        cache.read(src.name, packed=False)
    assert failure.value.symbols == ["SYN001"]
    assert not path.exists() and len(list((tmp_path / "quarantine" / src.name).iterdir())) == 1
    assert cache.catalog.entry(src.name, "SYN001") is None
    assert cache.catalog.fetch_log()[0]["status"] == "quarantined"
    src.calls.clear()
    fill_cache(cache, src, ["SYN000", "SYN001"], "2015-01-01", "2015-12-31")
    assert src.calls == [(("SYN001",), "2015-01-02", "2015-12-31")]
    assert same(cache.read(src.name), before)


def test_pack_used_when_current_and_dropped_when_damaged(bars, tmp_path) -> None:
    cache = BarCache(tmp_path)
    cache.store("demo", bars)
    assert cache.catalog.pack("demo") is None
    assert same(cache.read("demo"), bars)  # full read from the per-symbol files builds the pack
    pack = cache.catalog.pack("demo")
    assert pack is not None and pack.rows == len(bars)
    for entry in cache.catalog.entries("demo"):  # the pack alone now serves loads
        cache.file_path(entry).rename(cache.file_path(entry).with_suffix(".away"))
    assert same(cache.read("demo"), bars)
    assert same(cache.read("demo", ["SYN004", "SYN001"]), bars.select(["SYN001", "SYN004"]))
    for entry in cache.catalog.entries("demo"):
        cache.file_path(entry).with_suffix(".away").rename(cache.file_path(entry))
    # a write makes the pack stale: the next load reads the files and repacks
    one = bars.select(["SYN000"])
    one.values["volume"] = one.values["volume"] + 1
    cache.store("demo", one)
    got = cache.read("demo")
    assert np.array_equal(got.values["volume"][: len(one)], one.values["volume"])
    assert cache.catalog.pack("demo").state != pack.state
    # a damaged pack is quarantined and the per-symbol files are read instead
    path = tmp_path / "packs" / cache.catalog.pack("demo").file
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    again = cache.read("demo", packed=True)
    assert same(again, got)
    assert any(p.name.startswith(path.name) for p in (tmp_path / "quarantine").iterdir())


def test_corrupt_file_never_returned_by_load_panel(bars, tmp_path) -> None:
    cache = BarCache(tmp_path)
    cache.store("demo", bars)
    path = cache.file_path(cache.catalog.entry("demo", "SYN000"))
    path.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(CacheError, match="SYN000"):
        load_panel(DataRequest(source="cache", path="demo", cache_dir=str(tmp_path)))
    # quarantined: the source is now incomplete, and a load refuses rather than run on fewer symbols
    with pytest.raises(DataError, match=r"1 of 6 expected symbol\(s\) missing: SYN000 \(quarantined"):
        load_panel(DataRequest(source="cache", path="demo", cache_dir=str(tmp_path)))
    panel, info = load_panel(
        DataRequest(source="cache", path="demo", cache_dir=str(tmp_path), allow_missing=True)
    )
    assert "SYN000" not in panel.symbols and panel.n_symbols == 5
    assert info["missing_symbols"] == ["SYN000"] and "quarantined" in info["incomplete"][0]


def test_failed_write_leaves_previous_state(bars, tmp_path, monkeypatch) -> None:
    cache = BarCache(tmp_path)
    old = bars.select(["SYN000"])
    cache.store("demo", old)
    new = old.take(np.arange(len(old)))
    new.values["volume"] = new.values["volume"] + 1

    def boom(*args, **kwargs):
        raise RuntimeError("killed between the file rename and the catalog commit")

    monkeypatch.setattr(Catalog, "put_entry", staticmethod(boom))
    with pytest.raises(RuntimeError):
        cache.store("demo", new)
    monkeypatch.undo()
    fresh = BarCache(tmp_path)
    assert same(fresh.read("demo"), old)
    assert len(fresh.orphans()) == 1  # the new file, never committed, is ignored


KILL_SCRIPT = textwrap.dedent(
    """
    import sys
    from trading_playbook.data.cache import BarCache
    from trading_playbook.data.synthetic import synthetic_arrays
    bars = synthetic_arrays(60, "2010-01-01", "2019-12-31", seed=2)
    bars.values["volume"] = bars.values["volume"] + 1   # version B differs from A in every row
    print("ready", flush=True)
    BarCache(sys.argv[1]).store("demo", bars, threads=1)
    print("done", flush=True)
    """
)


def test_killed_ingest_leaves_consistent_cache(tmp_path) -> None:
    cache = BarCache(tmp_path)
    version_a = synthetic_arrays(60, "2010-01-01", "2019-12-31", seed=2)
    cache.store("demo", version_a)
    proc = subprocess.Popen(
        [sys.executable, "-c", KILL_SCRIPT, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "ready"
    entries_a = {e.symbol: e.checksum for e in cache.catalog.entries("demo")}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # kill once a few symbols were rewritten
        changed = sum(e.checksum != entries_a[e.symbol] for e in cache.catalog.entries("demo"))
        if changed >= 3:
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    fresh = BarCache(tmp_path)
    entries = fresh.catalog.entries("demo")
    assert len(entries) == 60
    changed = 0
    for entry in entries:
        got = fresh.verify_entry(entry)  # full checksum: every file the catalog names is complete
        a = version_a.select([entry.symbol])
        assert np.array_equal(got.day, a.day)
        delta = got.values["volume"] - a.values["volume"]
        assert np.all(delta == 0) or np.all(delta == 1), entry.symbol  # A or B, never a mix
        changed += int(delta[0] == 1)
    assert 3 <= changed < 60


def _writer(root: str, worker: int) -> None:
    bars = synthetic_arrays(8, "2015-01-01", "2016-12-31", seed=9)
    # each worker stores its own quarter of the sessions for every symbol (overlapping symbols)
    quarter = np.array_split(np.unique(bars.day), 4)[worker]
    part = bars.take(np.isin(bars.day, quarter)).compact()
    BarCache(root).store("shared", part, threads=2)


def test_concurrent_writers(tmp_path) -> None:
    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), w)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    cache = BarCache(tmp_path)
    full = synthetic_arrays(8, "2015-01-01", "2016-12-31", seed=9)
    for entry in cache.catalog.entries("shared"):
        cache.verify_entry(entry)
    assert same(cache.read("shared"), full)  # no update lost
    assert cache.orphans() == []


@pytest.mark.parametrize("bad", ["../etc", "A/B", "..", ".hidden", "A'; DROP TABLE symbols;--", "", "X" * 16])
def test_symbol_and_source_names_validated(bad: str, bars, tmp_path) -> None:
    cache = BarCache(tmp_path)
    cache.store("demo", bars)
    with pytest.raises(DataError, match="invalid symbol"):
        cache.read("demo", [bad])
    with pytest.raises(DataError, match="invalid source name"):
        cache.read(f"{bad}/x", [])
    assert len(cache.catalog.entries()) == 6  # nothing dropped


def test_cache_dir_resolution(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PLAYBOOK_CACHE_DIR", str(tmp_path / "env"))
    assert resolve_cache_dir() == tmp_path / "env"
    assert resolve_cache_dir(tmp_path / "explicit") == tmp_path / "explicit"
    monkeypatch.delenv("PLAYBOOK_CACHE_DIR")
    assert "trading-playbook" in str(resolve_cache_dir())


def test_catalog_uses_wal(tmp_path) -> None:
    BarCache(tmp_path)
    import sqlite3

    con = sqlite3.connect(tmp_path / "catalog.sqlite")
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.close()
    assert os.path.exists(tmp_path / "locks")
    assert Path(tmp_path / "bars").is_dir()
