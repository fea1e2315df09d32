"""Features: hand-worked values, config parsing, and the truncation test (features computed on data
cut at the signal session equal those computed on the whole panel)."""

from __future__ import annotations

import numpy as np
import pytest
from _engine_bars import make_panel

from trading_playbook.config import parse_config
from trading_playbook.core.errors import ConfigError
from trading_playbook.core.scanners.daily_breakout import DailyBreakoutScanner
from trading_playbook.core.types import SetupTable
from trading_playbook.engine import load_data
from trading_playbook.ml.dataset import slice_table
from trading_playbook.ml.features import SETUP_FEATURES, feature_columns, feature_frame, parse_feature


def _table(rows: list[tuple[int, int]]) -> SetupTable:
    k = len(rows)
    ones = np.ones(k)
    return SetupTable(
        session_idx=np.array([r[0] for r in rows], dtype=np.int64),
        symbol_idx=np.array([r[1] for r in rows], dtype=np.int64),
        reference_price=ones,
        initial_stop=ones,
        score=ones * 5,
        base_high=ones,
        base_days=np.full(k, 10, dtype=np.int64),
        base_width=ones * 0.1,
        volume_ratio=ones * 2,
        distance_from_high=ones * 0.01,
        rs=ones * 0.2,
    )


def test_hand_worked_values() -> None:
    # AAA closes 10, 11, 12, 13 (bars with high = close + 1, low = close - 1); BBB closes 20, 19, 18, 21
    a = [(c, c + 1, c - 1, c) for c in (10.0, 11.0, 12.0, 13.0)]
    b = [(c, c + 1, c - 1, c) for c in (20.0, 19.0, 18.0, 21.0)]
    panel = make_panel({"AAA": a, "BBB": b})
    specs = ("close_sma:2", "sma_slope:2:1", "atr_pct:2", "breadth:2", "index_trend:2", "index_trend:2:BBB")
    frame = feature_frame(panel, _table([(3, 0), (3, 1)]), specs)
    assert list(frame.columns) == feature_columns(specs)
    assert frame["close_sma_2"].tolist() == pytest.approx([13 / 12.5 - 1, 21 / 19.5 - 1])
    assert frame["sma_slope_2_1"].tolist() == pytest.approx([12.5 / 11.5 - 1, 19.5 / 18.5 - 1])
    # TR (H-L, |H-Cprev|, |L-Cprev|): AAA t2 = t3 = 2 -> ATR2 = 2; BBB t2 = 2, t3 = |22 - 18| = 4 -> ATR2 = 3
    assert frame["atr_pct_2"].tolist() == pytest.approx([2 / 13, 3 / 21])
    assert frame["breadth_2"].tolist() == pytest.approx([1.0, 1.0])  # both above their SMA2 at t3
    # equal-weight index: t1 mean(0.1, -0.05) = 0.025; t2 mean(1/11, -1/19); t3 mean(1/12, 3/18)
    r = [0.0, (0.1 - 0.05) / 2, (1 / 11 - 1 / 19) / 2, (1 / 12 + 3 / 18) / 2]
    level = np.cumprod(1 + np.array(r))
    assert frame["index_trend_2"].iloc[0] == pytest.approx(level[3] / level[2:4].mean() - 1)
    assert frame["index_trend_2_BBB"].iloc[0] == pytest.approx(21 / 19.5 - 1)
    for name in SETUP_FEATURES:
        assert name in frame.columns


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("atr_pct", "needs 1"),
        ("sma_slope:50", "needs 2"),
        ("ema:10", "unknown kind"),
        ("breadth:0", "positive"),
    ],
)
def test_bad_feature_specs_name_the_spec(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_feature(text)
    with pytest.raises(ConfigError, match=r"ml\.features"):
        parse_config({"ml": {"features": [text]}})


def test_feature_spec_column_names() -> None:
    assert parse_feature("index_trend:200:spy").column == "index_trend_200_SPY"
    assert parse_feature("sma_slope:50:20").column == "sma_slope_50_20"


def test_features_are_identical_on_data_cut_at_the_signal_session() -> None:
    cfg = parse_config(
        {"data": {"source": "synthetic", "synthetic_symbols": 12, "start": "2013-01-01", "end": "2015-12-31"}}
    )
    panel = load_data(cfg).panel
    scanner = DailyBreakoutScanner("relaxed")
    full = scanner.scan(panel)
    specs = ("atr_pct:10", "sma_slope:50:20", "close_sma:50", "breadth:50", "index_trend:100")
    whole = feature_frame(panel, full, specs)
    sessions = np.unique(full.session_idx)
    checked = 0
    for t in sessions[:: max(1, sessions.size // 12)]:
        cut = panel.truncate(int(t))
        rows = np.flatnonzero(full.session_idx == t)
        part = feature_frame(cut, slice_table(full, rows), specs)
        np.testing.assert_array_equal(part.to_numpy(), whole.iloc[rows].to_numpy())
        checked += 1
    assert checked >= 8
    assert whole["breadth_50"].notna().mean() > 0.9  # the comparison is not vacuous (NaN == NaN)
