"""Loading a whole cached source from its pack (issue 14): block by block on one or two threads, with
the session axis from the pack's footer, bit for bit the panel of the per-symbol files read at once.

A small cache with late listings, early delistings, holes inside a symbol's history and splits,
packed in row groups of three symbols (four blocks). The per-symbol files are moved away while the
pack is read, so a load that fell back to them would fail: the pack alone made the panel.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

import trading_playbook.data.api as api
import trading_playbook.data.pack as pack
from trading_playbook.core.errors import DataError
from trading_playbook.core.panel import Panel, panel_from_arrays
from trading_playbook.data import BarCache, DataRequest, load_panel
from trading_playbook.data.model import BarArrays
from trading_playbook.data.synthetic import synthetic_arrays
from trading_playbook.data.validate import validate_bars

PANEL_FIELDS = ("open", "high", "low", "close", "volume", "raw_close", "available")


def _bars_with_holes() -> BarArrays:
    bars = synthetic_arrays(11, "2012-01-01", "2014-12-31", seed=5)
    keep = np.ones(len(bars), dtype=bool)
    second = np.flatnonzero(bars.codes == 2)
    keep[second[5::7]] = False  # every 7th bar of SYN002 missing
    keep[np.flatnonzero(bars.codes == 7)[100:140]] = False  # a 40-session hole in SYN007
    split = bars.values["split"].copy()
    split[second[300]] = 0.5  # a reverse split beside the generator's own splits
    values = {k: (split if k == "split" else v)[keep] for k, v in bars.values.items()}
    return BarArrays(bars.symbols, bars.codes[keep], bars.day[keep], values, bars.origin)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> BarCache:
    monkeypatch.setattr(pack, "PACK_BLOCK_SYMBOLS", 3)
    store = BarCache(tmp_path / "cache")
    bars, _ = validate_bars(_bars_with_holes())
    store.store("syn", bars)
    store.repack("syn")
    assert pack.pack_layout(store, "syn") == pack.PACK_LAYOUT
    return store


def _request(cache: BarCache, adjustment: str = "split", **more: object) -> DataRequest:
    return DataRequest(source="cache", path="syn", cache_dir=str(cache.root), adjustment=adjustment, **more)


def _from_files(cache: BarCache, adjustment: str) -> Panel:
    """The panel of every bar at once, read from the per-symbol files (the loader before the pack)."""
    bars = cache.read("syn", adjustment=adjustment, packed=False)
    return panel_from_arrays(bars.codes, bars.symbols, bars.day, dict(bars.values), adjustment)


def _assert_same(panel: Panel, expected: Panel) -> None:
    assert panel.symbols == expected.symbols
    assert panel.sessions.tobytes() == expected.sessions.tobytes()
    for name in PANEL_FIELDS:
        got, want = getattr(panel, name), getattr(expected, name)
        assert got.dtype == want.dtype and got.shape == want.shape, name
        assert got.tobytes() == want.tobytes(), name  # NaN payloads and signed zeros included
    for name in ("rows", "cols", "coefficients"):
        np.testing.assert_array_equal(getattr(panel.splits, name), getattr(expected.splits, name))


def _files_away(cache: BarCache) -> list[Path]:
    moved = []
    for entry in cache.catalog.entries("syn"):
        path = cache.file_path(entry)
        path.rename(path.with_suffix(".away"))
        moved.append(path)
    return moved


def _rewrite_pack(cache: BarCache, metadata: dict[bytes, bytes]) -> None:
    """The pack with another footer (same row groups and bytes of bars), the catalog told its size."""
    entry = cache.catalog.pack("syn")
    assert entry is not None
    path = cache.root / "packs" / entry.file
    with pq.ParquetFile(path) as handle:
        groups = [handle.read_row_group(i) for i in range(handle.num_row_groups)]
    groups = [g.replace_schema_metadata(metadata) for g in groups]
    with pq.ParquetWriter(path, groups[0].schema, compression="none", write_page_checksum=True) as out:
        for group in groups:
            out.write_table(group, row_group_size=group.num_rows)
    with cache.catalog.transaction() as con:
        cache.catalog.put_pack(con, dataclasses.replace(entry, size=path.stat().st_size))


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("adjustment", ["split", "all", "raw"])
def test_the_pack_load_is_the_panel_of_the_files_bit_for_bit(
    cache: BarCache, adjustment: str, threads: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(api, "LOAD_THREADS", threads)
    expected = _from_files(cache, adjustment)
    assert not expected.available.all() and expected.splits.rows.shape[0] >= 3
    _files_away(cache)
    panel, info = load_panel(_request(cache, adjustment))
    _assert_same(panel, expected)
    assert info["rows"] == int(expected.available.sum()) and info["symbols"] == 11


def test_the_footer_holds_the_session_axis_and_an_older_pack_still_loads(cache: BarCache) -> None:
    expected = _from_files(cache, "split")
    entry = cache.catalog.pack("syn")
    meta = pq.read_schema(cache.root / "packs" / entry.file).metadata
    np.testing.assert_array_equal(
        np.frombuffer(meta[b"playbook.sessions"], "<i8"), expected.sessions.view(np.int64)
    )
    _rewrite_pack(cache, {})  # a pack written before the footer held the axis: read from its days
    _files_away(cache)
    panel, _ = load_panel(_request(cache))
    _assert_same(panel, expected)
    assert cache.catalog.pack("syn") is not None  # still the pack in use


@pytest.mark.parametrize("change", ["a session dropped", "a session added"])
def test_a_footer_that_does_not_fit_the_bars_is_dropped_for_the_files(cache: BarCache, change: str) -> None:
    expected = _from_files(cache, "split")
    days = expected.sessions.view(np.int64)
    if change == "a session dropped":  # the bars of that day are off the axis
        days = np.delete(days, 10)
    else:  # a weekend day without bars
        days = np.sort(np.append(days, days[10] + 2 if days[11] - days[10] > 2 else days[0] - 1))
    _rewrite_pack(cache, {b"playbook.sessions": days.astype("<i8").tobytes(), b"playbook.layout": b"2"})
    panel, _ = load_panel(_request(cache))
    _assert_same(panel, expected)
    assert list((cache.root / "quarantine").iterdir())  # the pack was set aside (rebuilt on the next load)


def test_a_pack_failing_its_checksum_in_a_later_block_is_dropped_for_the_files(
    cache: BarCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(api, "LOAD_THREADS", 2)
    expected = _from_files(cache, "split")
    entry = cache.catalog.pack("syn")
    path = cache.root / "packs" / entry.file
    column = pq.ParquetFile(path).metadata.row_group(2).column(3)  # the close of the third block
    data = bytearray(path.read_bytes())
    data[column.data_page_offset + column.total_compressed_size // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    panel, _ = load_panel(_request(cache))
    _assert_same(panel, expected)
    assert any(p.name.startswith(entry.file) for p in (cache.root / "quarantine").iterdir())


def test_a_quarantined_symbol_stops_the_load_unless_missing_symbols_are_allowed(cache: BarCache) -> None:
    cache.quarantine(cache.catalog.entry("syn", "SYN004"), "checksum mismatch (test)")
    with pytest.raises(DataError, match=r"1 of 11 expected symbol\(s\) missing: SYN004 \(quarantined"):
        load_panel(_request(cache))
    panel, info = load_panel(_request(cache, allow_missing=True))
    _assert_same(panel, _from_files(cache, "split"))
    assert "SYN004" not in panel.symbols and info["missing_symbols"] == ["SYN004"]
