"""The TOML config: validation, did-you-mean errors, overrides, sleeves, hashing."""

from __future__ import annotations

from pathlib import Path

import pytest

from trading_playbook.config import load_config, parse_config
from trading_playbook.core.errors import ConfigError, UnknownComponentError

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_are_the_rules_defaults() -> None:
    cfg = parse_config({})
    assert cfg.portfolio.starting_capital == 100_000
    assert cfg.portfolio.max_positions == 3
    assert cfg.portfolio.entry_fill == "next_open" and cfg.portfolio.exit_fill == "close"
    assert cfg.portfolio.slippage_bps == 5
    assert cfg.data.adjustment == "split"
    assert cfg.scanner.name == "daily_breakout" and cfg.exit.name == "smart_exits"
    assert cfg.sizer.name == "percent_equity"


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        ({"portfolio": {"max_position": 3}}, "did you mean 'max_positions'"),
        ({"dat": {}}, "did you mean 'data'"),
        ({"data": {"sourse": "file"}}, "did you mean 'source'"),
        ({"scanner": {"name": "daily_breakout", "min_volume_ratoi": 1.0}}, "did you mean 'min_volume_ratio'"),
        ({"exit": {"name": "smart_exits", "time_stopp": 3}}, "did you mean 'time_stop'"),
        ({"sizer": {"name": "risk", "fractoin": 0.01}}, "did you mean 'fraction'"),
        ({"data": {"source": "parquet"}}, "data.source"),
        ({"data": {"source": "file"}}, "needs path"),
        ({"data": {"start": "2020-13-01"}}, "not an ISO date"),
        ({"data": {"start": "2020-01-01", "end": "2019-01-01"}}, "after end"),
        ({"portfolio": {"max_positions": 0}}, "portfolio.max_positions"),
        ({"portfolio": {"entry_fill": "open"}}, "portfolio.entry_fill"),
    ],
)
def test_bad_keys_and_values_are_named(raw: dict, needle: str) -> None:
    with pytest.raises(ConfigError, match=None) as info:
        parse_config(raw, origin="my.toml")
    assert needle in str(info.value)
    assert "my.toml" in str(info.value)


def test_unknown_component_lists_closest_matches() -> None:
    with pytest.raises(UnknownComponentError, match="smart_exits"):
        parse_config({"exit": {"name": "smart_exit"}})
    with pytest.raises(UnknownComponentError, match="percent_equity"):
        parse_config({"sizer": {"name": "percent_equty"}})


def test_overrides_are_validated_and_do_not_mutate() -> None:
    cfg = parse_config({"scanner": {"name": "daily_breakout", "preset": "moderate"}})
    new = cfg.with_overrides(
        {"scanner.min_volume_ratio": 1.4, "exit.time_stop": 10, "portfolio.max_positions": 7}
    )
    assert new.scanner.params() == {"preset": "moderate", "min_volume_ratio": 1.4}
    assert new.exit.params() == {"time_stop": 10}
    assert new.portfolio.max_positions == 7
    assert cfg.scanner.params() == {"preset": "moderate"}
    assert new.config_hash != cfg.config_hash
    with pytest.raises(ConfigError, match="did you mean 'min_volume_ratio'"):
        cfg.with_overrides({"scanner.min_volume_rati": 1.0})
    with pytest.raises(ConfigError, match="unknown table"):
        cfg.with_overrides({"scaner.preset": "default"})


def test_hash_is_stable_and_content_based() -> None:
    a = parse_config({"portfolio": {"max_positions": 5}})
    b = parse_config({"portfolio": {"max_positions": 5, "slippage_bps": 5}})
    assert a.config_hash == b.config_hash  # the resolved config is what counts
    assert a.config_hash != parse_config({"portfolio": {"max_positions": 4}}).config_hash


def test_sleeves_resolve_weights_and_slots() -> None:
    cfg = parse_config(
        {
            "portfolio": {"max_positions": 4},
            "sleeves": [
                {"name": "a", "weight": 0.5, "exit": {"name": "smart_exits"}},
                {"name": "b", "max_positions": 2, "exit": {"name": "scaled_exits"}},
                {"name": "c", "exit": {"name": "fixed"}},
            ],
        }
    )
    sleeves = cfg.sleeve_configs()
    assert [s.weight for s in sleeves] == [0.5, 0.25, 0.25]
    assert [s.max_positions for s in sleeves] == [4, 2, 4]
    over = cfg.with_overrides({"sleeves.b.exit.time_stop": 12})
    assert over.sleeve_configs()[1].exit.params() == {"time_stop": 12}
    with pytest.raises(ConfigError, match="weights add up"):
        parse_config({"sleeves": [{"name": "a", "weight": 0.7}, {"name": "b", "weight": 0.6}]})
    with pytest.raises(ConfigError, match="unique"):
        parse_config({"sleeves": [{"name": "a"}, {"name": "a"}]})
    with pytest.raises(ConfigError, match="no sleeve"):
        cfg.with_overrides({"sleeves.zz.exit.time_stop": 12})


def test_plain_config_is_one_sleeve_of_weight_one() -> None:
    (sleeve,) = parse_config({"portfolio": {"max_positions": 6}}).sleeve_configs()
    assert sleeve.weight == 1.0 and sleeve.max_positions == 6


def test_composed_exit_rules_are_accepted() -> None:
    cfg = parse_config({"exit": {"name": "mine", "rules": [{"kind": "hard_stop", "pct": 0.05}]}})
    assert cfg.exit.rules == ({"kind": "hard_stop", "pct": 0.05},)


@pytest.mark.parametrize("path", sorted((ROOT / "examples").glob("*.toml")), ids=lambda p: p.name)
def test_every_example_config_loads(path: Path) -> None:
    cfg = load_config(path)
    assert cfg.to_dict()["data"]["source"] in {"synthetic", "file", "cache", "alpaca"}
    request = cfg.data_request()  # a file path resolves (relative to examples/) to a file that exists
    assert request.source != "file" or Path(request.path).is_file()


def test_missing_file_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[data\nsource = 1\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)


def test_data_table_is_the_data_request() -> None:
    from trading_playbook.config import DataConfig
    from trading_playbook.data import DataRequest

    assert DataConfig is DataRequest  # one definition: no field list to keep in step
    request = parse_config(
        {"data": {"source": "file", "path": "x.parquet", "symbols": ["aapl", "msft"], "start": "2010-01-01"}}
    ).data_request()
    assert isinstance(request, DataRequest)
    assert request.symbols == ("AAPL", "MSFT") and request.start == "2010-01-01"
    assert Path(request.path) == Path.cwd() / "x.parquet"  # no config file: the current folder


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        ({"portfolio": {"max_positions": "5"}}, "portfolio.max_positions = '5': expected an integer"),
        ({"portfolio": {"max_positions": 5.0}}, "portfolio.max_positions = 5.0: expected an integer"),
        ({"portfolio": {"starting_capital": "1e5"}}, "portfolio.starting_capital = '1e5': expected a number"),
        ({"portfolio": {"slippage_bps": True}}, "portfolio.slippage_bps = True: expected a number"),
        ({"report": {"survivorship_warning": "yes"}}, "report.survivorship_warning = 'yes': expected true"),
        ({"data": {"synthetic_symbols": "40"}}, "data.synthetic_symbols = '40': expected an integer"),
        ({"data": {"symbols": "AAPL"}}, "data.symbols = 'AAPL': expected a list"),
        ({"data": {"allow_missing": 1}}, "data.allow_missing = 1: expected true or false"),
        ({"data": {"start": 20200101}}, "20200101 is not a date"),
        ({"sleeves": [{"name": "a", "weight": "0.5"}]}, "sleeves.0.weight = '0.5': expected a number"),
        ({"exit": {"name": "smart_exits", "time_stop": "17"}}, "exit.time_stop = '17': expected an integer"),
        ({"exit": {"name": "smart_exits", "time_stop": 17.5}}, "exit.time_stop = 17.5: expected an integer"),
        ({"scanner": {"name": "daily_breakout", "min_volume_ratio": "1"}}, "expected a number"),
        ({"scanner": {"name": "daily_breakout", "preset": 3}}, "scanner.preset = 3: expected a text"),
        ({"sizer": {"name": "risk", "fraction": False}}, "sizer.fraction = False: expected a number"),
        ({"backtest": {"start": "2020-13-01"}}, "backtest.start"),
        ({"backtest": {"start": "2020-02-01", "end": "2020-01-01"}}, "after end"),
    ],
)
def test_types_are_strict_and_errors_name_the_key(raw: dict, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(raw, origin="my.toml")
    assert needle in str(info.value) and "my.toml" in str(info.value)


def test_toml_natural_types_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        "[data]\nstart = 2015-01-02\nsymbols = ['aapl']\n"
        "[portfolio]\nstarting_capital = 50000\nslippage_bps = 0\n"
        "[scanner]\nname = 'daily_breakout'\nmin_volume_ratio = 2\n"
        "[backtest]\nstart = 2016-01-04\n"
    )
    cfg = load_config(path)
    assert cfg.data.start == "2015-01-02" and cfg.backtest.start == "2016-01-04"
    assert cfg.portfolio.starting_capital == 50_000.0 and isinstance(cfg.portfolio.starting_capital, float)
    assert cfg.scanner.params()["min_volume_ratio"] == 2
    assert cfg.window() == ("2016-01-04", None) and cfg.window("2017-01-03") == ("2017-01-03", None)


def test_relative_paths_are_relative_to_the_config_file(tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "configs"
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "bars.parquet").write_bytes(b"")
    (folder / "c.toml").write_text(
        "[data]\nsource = 'file'\npath = 'data/bars.parquet'\ncache_dir = 'cache'\n"
    )
    monkeypatch.chdir(tmp_path)  # elsewhere: the path must not depend on the current folder
    cfg = load_config("configs/c.toml")
    request = cfg.data_request()
    assert Path(request.path) == folder / "data" / "bars.parquet"
    assert Path(request.cache_dir) == folder / "cache"
    assert cfg.with_overrides({"exit.time_stop": 5}).data_request().path == request.path
    assert cfg.portable_dict()["data"]["path"] == request.path  # best.toml written elsewhere still works
    # missing: the absolute path tried, and the file that a path relative to the current folder names
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "other.parquet").write_bytes(b"")
    (folder / "d.toml").write_text("[data]\nsource = 'file'\npath = 'data/other.parquet'\n")
    with pytest.raises(ConfigError) as info:
        load_config(folder / "d.toml").data_request()
    text = str(info.value)
    assert str(folder / "data" / "other.parquet") in text
    assert "relative to the config file's folder" in text and "'../data/other.parquet'" in text


# ---------------------------------------------------------------------------------------- [universe]
def test_universe_table_is_optional_strict_and_keeps_the_hash() -> None:
    plain = parse_config({"data": {"source": "synthetic"}})
    assert plain.universe is None and "universe" not in plain.to_dict()
    with_universe = parse_config({"data": {"source": "synthetic"}, "universe": {"membership": "sp500"}})
    assert with_universe.universe is not None and with_universe.universe.policy == "hold"
    assert with_universe.config_hash != plain.config_hash
    with pytest.raises(ConfigError, match="did you mean 'policy'"):
        parse_config({"universe": {"membership": "sp500", "polcy": "exit"}})
    with pytest.raises(ConfigError, match=r"universe\.policy"):
        parse_config({"universe": {"membership": "sp500", "policy": "sell"}})
    with pytest.raises(ConfigError, match=r"universe\.membership"):
        parse_config({"universe": {"policy": "exit"}})


def test_universe_survivorship_warning_is_measured(tmp_path: Path) -> None:
    # synthetic data is never flagged by the heuristic; with a universe the coverage decides: every
    # member seen -> no warning; a member without data (ZZZ, half the member-days) -> warning
    from trading_playbook.engine import run_backtest

    lines = "\n".join(f"SYN{i:03d},2010-01-01," for i in range(4))
    (tmp_path / "all.csv").write_text(f"ticker,start_date,end_date\n{lines}\n")
    (tmp_path / "some.csv").write_text(f"ticker,start_date,end_date\n{lines}\nZZZ,2010-01-01,\n")
    base = (
        '[data]\nsource = "synthetic"\nsynthetic_symbols = 4\nstart = "2014-01-01"\nend = "2015-12-31"\n'
        '[scanner]\nname = "daily_breakout"\npreset = "very_relaxed"\n'
    )
    for name, warned, unseen in (("all", False, 0.0), ("some", True, 0.2)):
        path = tmp_path / f"{name}.toml"
        path.write_text(base + f'[universe]\nmembership = "{name}.csv"\npolicy = "exit"\n')
        result = run_backtest(load_config(path))
        assert result.metrics["validation"]["survivorship_warning"] is warned
        assert result.data["coverage"]["unseen_share"] == pytest.approx(unseen)
