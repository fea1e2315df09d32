"""The --param grammar: ranges, lists, typing, grids and random draws."""

from __future__ import annotations

import pytest

from trading_playbook.core.errors import ConfigError
from trading_playbook.research.params import (
    grid_points,
    parse_param,
    parse_params,
    random_points,
    setup_key,
)


def test_float_range_is_inclusive_and_exact() -> None:
    spec = parse_param("scanner.min_volume_ratio=0.8:1.6:0.2")
    # Decimal arithmetic: 0.8 + 3 * 0.2 is 1.4 exactly, not 1.4000000000000001.
    assert spec.values == (0.8, 1.0, 1.2, 1.4, 1.6)
    assert spec.kind == "range"
    assert all(isinstance(v, float) for v in spec.values)


def test_integer_range_and_list() -> None:
    assert parse_param("exit.time_stop=10:30:5").values == (10, 15, 20, 25, 30)
    spec = parse_param("exit.time_stop=10,17,25")
    assert spec.values == (10, 17, 25)
    assert spec.kind == "list" and spec.is_integer


def test_range_stop_not_on_step_is_excluded() -> None:
    assert parse_param("a.b=1:2:0.3").values == (1.0, 1.3, 1.6, 1.9)


def test_typed_lists() -> None:
    assert parse_param("exit.name=smart_exits,scaled_exits").values == ("smart_exits", "scaled_exits")
    assert parse_param("portfolio.flag=true,false").values == (True, False)
    assert parse_param("scanner.x=1,2.5").values == (1, 2.5)
    assert parse_param("scanner.x=-3").values == (-3,)


@pytest.mark.parametrize(
    "text",
    [
        "scanner.x",
        "=1,2",
        "scanner.x=",
        "scanner.x=1:2",
        "scanner.x=2:1:0.5",
        "scanner.x=1:2:0",
        "scanner.x=a:b:c",
        "scanner.x=1,1",
        "scanner..x=1",
        "scanner.x=1,,2",
        "a b=1",
    ],
)
def test_malformed_params_raise_config_error(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_param(text)


def test_duplicate_key_rejected() -> None:
    with pytest.raises(ConfigError, match="twice"):
        parse_params(["exit.time_stop=1,2", "exit.time_stop=3"])


def test_grid_first_spec_slowest() -> None:
    specs = parse_params(["a.x=1,2", "b.y=10,20,30"])
    points = grid_points(specs)
    assert len(points) == 6
    assert points[0] == {"a.x": 1, "b.y": 10}
    assert points[1] == {"a.x": 1, "b.y": 20}
    assert points[-1] == {"a.x": 2, "b.y": 30}
    assert grid_points([]) == [{}]


def test_random_points_distinct_deterministic_subset_of_grid() -> None:
    specs = parse_params(["a.x=1:20:1", "b.y=0:1:0.1"])
    grid = grid_points(specs)
    first = random_points(specs, 30, seed=3)
    assert first == random_points(specs, 30, seed=3)
    assert first != random_points(specs, 30, seed=4)
    assert len({tuple(p.items()) for p in first}) == 30
    assert all(p in grid for p in first)
    assert random_points(specs, 10_000, seed=3) == grid


def test_setup_key_ignores_post_scan_sections() -> None:
    a = {"scanner.min_volume_ratio": 1.2, "exit.time_stop": 10, "sizer.fraction": 0.1}
    b = {"scanner.min_volume_ratio": 1.2, "exit.time_stop": 25, "portfolio.max_positions": 5}
    c = {"scanner.min_volume_ratio": 1.4, "exit.time_stop": 10}
    assert setup_key(a) == setup_key(b) != setup_key(c)
    assert setup_key({"sleeves.smart.exit.time_stop": 3}) == ()
    assert setup_key({"sleeves.smart.scanner.preset": "default"}) != ()
