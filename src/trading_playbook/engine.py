"""The backtest facade: config -> data -> setups -> simulation -> RunResult with metrics.

Two ways in:

- :func:`run_backtest` takes a :class:`~trading_playbook.config.PlaybookConfig` (what the CLI and
  the research tools use), optionally with a :class:`Workspace` that holds the loaded panel and
  memoises scanner features and setups across runs (parameter sweeps, walk-forward folds).
- :class:`BacktestEngine` is the design's object API::

      engine = BacktestEngine(
          scanner=get_scanner("daily_breakout", preset="moderate"),
          exit_strategy=get_exit_strategy("smart_exits"),
          sizer=get_sizer("percent_equity"),
          data=panel,                      # a Panel, a long bar DataFrame or a DataRequest
          starting_capital=100_000,
          max_positions=3,
      )
      result = engine.run("2005-01-01", "2012-12-31")

No lookahead by construction: the panel is cut after the last backtest session before anything
runs, and setups precomputed on a longer panel are used only up to that session (the vectorised
scanner is causal: a test and ``playbook check-lookahead`` prove it).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np

from trading_playbook.config import PlaybookConfig, SleeveConfig
from trading_playbook.core.errors import ConfigError, SimulationError
from trading_playbook.core.metrics import BenchmarkSeries, benchmark_from_panel, compute_metrics
from trading_playbook.core.panel import Panel, bars_to_panel
from trading_playbook.core.scanners.base import VectorScanner
from trading_playbook.core.simulate.settings import (
    PortfolioSettings,
    PreparedScanner,
    SleeveSpec,
    check_windows,
    scanner_cache_key,
)
from trading_playbook.core.types import EquityCurve, RunResult, SetupTable, Trade
from trading_playbook.data.notes import run_notes

if TYPE_CHECKING:
    from trading_playbook._early_load import EarlyLoad

__all__ = [
    "BacktestEngine",
    "EngineName",
    "TrialRun",
    "Workspace",
    "build_sleeves",
    "import_run_modules",
    "load_data",
    "run_backtest",
    "run_trial",
    "simulate",
]

EngineName = Literal["fast", "reference"]
ENGINES: tuple[str, ...] = ("fast", "reference")


@dataclass(eq=False)
class Workspace:
    """A loaded panel plus memo caches shared by every run on it.

    ``features`` caches scanner features (``scanner.prepare(panel)``) by ``scanner.features_key()``
    (None after the first scan with that key, which scans in one pass without keeping them);
    ``setups`` caches full-panel setup tables by the sleeve's ``cache_key`` (scanner class and
    parameters). Both are computed on the whole loaded panel once and sliced per run (valid because
    scanners are causal).
    """

    panel: Panel
    info: dict[str, Any] = field(default_factory=dict)
    features: dict[Any, Any] = field(default_factory=dict)
    setups: dict[Any, SetupTable] = field(default_factory=dict)
    benchmarks: dict[Any, BenchmarkSeries] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    # chunked mode (``trading_playbook.chunked``): the panel holds only what the fast engine reads and
    # the setups were scanned block by block at load time; nothing can be scanned again on it
    chunked: bool = False

    def benchmark(self, cfg: PlaybookConfig, lo: int, hi: int) -> BenchmarkSeries:
        """:func:`benchmark_for` on this panel (memoised: metrics and reports share it)."""
        key = (lo, hi, cfg.report.benchmark_symbol)
        if key not in self.benchmarks:
            self.benchmarks[key] = benchmark_for(cfg, self.panel, lo, hi)
        return self.benchmarks[key]

    def setups_for(self, sleeve: SleeveSpec | VectorScanner) -> SetupTable:
        """Setups of a sleeve's vectorised scanner (or of a scanner) on the whole panel, memoised under
        its ``cache_key`` (a scanner that does not name its parameters is scanned every time)."""
        scanner = sleeve.scanner if isinstance(sleeve, SleeveSpec) else sleeve
        key = sleeve.cache_key if isinstance(sleeve, SleeveSpec) else scanner_cache_key(scanner)
        table = self.setups.get(key) if key is not None else None
        if table is None and self.chunked:
            raise ConfigError(
                f"the scanner {type(scanner).__name__!r} was not scanned when the data was loaded in "
                '[data] mode = "chunked" (only the config\'s own sleeves are); use mode = "memory"'
            )
        if table is None:
            t0 = time.perf_counter()
            table = self._scan(cast(VectorScanner, scanner))
            if key is not None:
                self.setups[key] = table
            self.timings["setups"] = self.timings.get("setups", 0.0) + time.perf_counter() - t0
        return table

    def _scan(self, scanner: VectorScanner) -> SetupTable:
        from trading_playbook.core.scanners.chunked import BLOCK_SCAN_SYMBOLS, is_per_symbol, scan_in_blocks

        if self.panel.n_symbols > BLOCK_SCAN_SYMBOLS and is_per_symbol(scanner):
            # a large universe: no whole-panel feature table (a sweep rescans). A scanner that streams
            # the panel in one pass keeping only its hits scans it whole (blocks only add their copies:
            # about 0.4 s on 5,000 symbols); others go in blocks of symbols (same setups; the memory
            # of one block's features)
            if getattr(scanner, "streams_hits", False):
                return cast(SetupTable, scanner.scan(self.panel))
            return scan_in_blocks(scanner.scan, self.panel)
        if not isinstance(scanner, PreparedScanner):
            return scanner.scan(self.panel)
        fkey = (type(scanner).__qualname__, scanner.features_key())
        features = self.features.get(fkey)
        if features is None and fkey not in self.features:
            # the first scanner of these features: one pass, features and thresholds together (no
            # feature table); a second one (a sweep) prepares the features for every later trial
            self.features[fkey] = None
            return scanner.scan(self.panel)
        if features is None:
            features = scanner.prepare(self.panel)
            self.features[fkey] = features
        return cast(SetupTable, scanner.scan(self.panel, features))


def import_run_modules(engine: str = "fast") -> None:
    """Import what a backtest run uses (data loading, the registry, the engine, the reports), which
    are otherwise imported on first use, so a caller can time the run apart from the imports.

    The cyclic garbage collector is off meanwhile (:func:`trading_playbook._gc.collector_paused`, as for
    the commands' imports): the imported objects never become garbage.
    """
    from trading_playbook._gc import collector_paused

    with collector_paused():
        import trading_playbook.data.api
        import trading_playbook.registry
        import trading_playbook.reports.csv_files
        import trading_playbook.reports.markdown

        if engine == "fast":
            import trading_playbook.core.simulate.fast  # noqa: F401


def load_data(
    cfg: PlaybookConfig,
    *,
    progress: bool = False,
    symbols: Sequence[str] | None = None,
    chunked_ok: bool = False,
    early: EarlyLoad | None = None,
) -> Workspace:
    """Load the config's data into a :class:`Workspace` (once per process for sweeps).

    ``chunked_ok``: the caller runs backtests of the config's own sleeves with the fast engine, which
    is all a ``[data] mode = "chunked"`` workspace can do; other callers get a clear error instead.
    ``early``: a load started in a thread when the process started (``playbook backtest``): its panel
    is used when it loaded this very request (its error raised here), else the data is loaded here.
    The workspace's ``load`` timing is then the wait for the thread, ``load.thread`` the thread's time.
    """
    from trading_playbook._early_load import data_request
    from trading_playbook.data import load_panel

    t0 = time.perf_counter()
    request = data_request(cfg, symbols)
    if request.mode == "chunked":
        from trading_playbook.chunked import load_chunked

        if not chunked_ok:
            raise ConfigError(
                '[data] mode = "chunked" serves `playbook backtest` (the fast engine on the config\'s '
                'own sleeves); this command needs the whole panel in memory: use mode = "memory"'
            )
        return load_chunked(cfg, request)
    loaded = early.panel_for(request) if early is not None else None
    panel, info = loaded if loaded is not None else load_panel(request, progress=progress)
    info = dict(info)
    if cfg.universe is not None:  # a point-in-time universe: membership rides on the panel
        from trading_playbook.data.universe import apply_universe

        u = cfg.universe
        panel, info["coverage"], named = apply_universe(
            panel,
            membership=u.membership,
            policy=u.policy,
            reused_tickers=u.reused_tickers,
            reuse_gap_days=u.reuse_gap_days,
            base_dir=cfg.base_dir,
            cache_dir=request.cache_dir,
        )
        info.update(named)
    ws = Workspace(panel=panel, info=info)
    ws.timings["load"] = time.perf_counter() - t0
    if loaded is not None and early is not None:
        ws.timings["load.thread"] = early.seconds
    return ws


def build_scanner(cfg: PlaybookConfig, sleeve: SleeveConfig) -> Any:
    """The scanner of one sleeve, built through the registry (path parameters relative to the config)."""
    from trading_playbook import registry

    name = sleeve.scanner.name or "daily_breakout"
    table = "scanner" if sleeve.name == "main" and not cfg.sleeves else f"sleeves.{sleeve.name}.scanner"
    return registry.get_scanner(name, **cfg.component_params("scanner", name, sleeve.scanner, table))


def build_sleeves(cfg: PlaybookConfig) -> list[SleeveSpec]:
    """Scanner, exit and sizer objects of every sleeve, built through the registry, each sleeve
    resolved once (:class:`SleeveSpec` records whether its scanner is vectorised, whether its exit
    compiles, the indicators it reads and the stable cache key of its setups)."""
    from trading_playbook import registry
    from trading_playbook.core.exits.compose import exit_spec_from_config

    sleeves = []
    for sc in cfg.sleeve_configs():
        scanner = build_scanner(cfg, sc)
        if sc.exit.rules is not None:
            exit_strategy = exit_spec_from_config(
                sc.exit.name, [dict(r) for r in sc.exit.rules], sc.exit.params()
            )
        else:
            exit_strategy = registry.get_exit_strategy(sc.exit.name or "smart_exits", **sc.exit.params())
        sizer = registry.get_sizer(sc.sizer.name or "percent_equity", **sc.sizer.params())
        sleeves.append(
            SleeveSpec(
                name=sc.name,
                scanner=scanner,
                exit=exit_strategy,
                sizer=sizer,
                max_positions=int(sc.max_positions or cfg.portfolio.max_positions),
                weight=float(sc.weight or 1.0),
            )
        )
    return sleeves


def portfolio_settings(cfg: PlaybookConfig) -> PortfolioSettings:
    p = cfg.portfolio
    return PortfolioSettings(
        starting_capital=p.starting_capital,
        entry_fill=p.entry_fill,
        exit_fill=p.exit_fill,
        slippage_bps=p.slippage_bps,
        commission_per_share=p.commission_per_share,
        commission_per_order=p.commission_per_order,
        commission_min=p.commission_min,
    )


def window(panel: Panel, start: Any = None, end: Any = None) -> tuple[int, int]:
    """Inclusive session indices of ``[start, end]`` in the panel, with clear errors."""
    if panel.n_sessions == 0:
        raise SimulationError("the loaded data has no sessions")
    lo = 0 if start is None else panel.session_index(start, side="left")
    hi = panel.n_sessions - 1 if end is None else panel.session_index(end, side="right")
    first, last = panel.sessions[0], panel.sessions[-1]
    if lo > panel.n_sessions - 1 or hi < 0 or hi < lo:
        raise SimulationError(
            f"no session between start={start} and end={end}: the data covers {first} to {last}; "
            "change --start/--end or [data] start/end"
        )
    return lo, hi


def simulate(
    panel: Panel,
    sleeves: Sequence[SleeveSpec],
    settings: PortfolioSettings,
    *,
    start: int,
    end: int,
    engine: str = "fast",
    setups: Sequence[SetupTable | None] | None = None,
) -> tuple[list[Trade], EquityCurve]:
    """Run one engine on ``panel`` cut after ``end`` (no data after ``end`` is visible)."""
    if engine not in ENGINES:
        raise ConfigError(f"unknown engine {engine!r}; use 'fast' or 'reference'")
    if engine == "reference":
        from trading_playbook.core.simulate.reference import run_reference

        cut, _ = _cut_at(panel, sleeves, start, end, None)
        return run_reference(cut, sleeves, settings, start=start, end=end)
    from trading_playbook.core.simulate.fast import run_fast

    cut, tables = _cut_at(panel, sleeves, start, end, setups)
    return run_fast(cut, sleeves, settings, start=start, end=end, setups=tables)


def _cut_at(
    panel: Panel,
    sleeves: Sequence[SleeveSpec],
    start: int,
    end: int,
    setups: Sequence[SetupTable | None] | None,
) -> tuple[Panel, list[SetupTable] | None]:
    """``panel`` cut after ``end`` and each sleeve's setups up to ``end``, once the sleeves accept the
    window (e.g. ml_score's model cutoffs): what both the engines and a sweep's trial run on."""
    check_windows(sleeves, panel.sessions[start], panel.sessions[end])
    cut = panel.truncate(end)
    return cut, _tables_until(cut, sleeves, setups, end)


def _tables_until(
    cut: Panel, sleeves: Sequence[SleeveSpec], setups: Sequence[SetupTable | None] | None, end: int
) -> list[SetupTable] | None:
    """Each sleeve's precomputed setups up to ``end`` (a sleeve without them is scanned on ``cut``)."""
    if setups is None:
        return None
    return [
        _until(table, end) if table is not None else cast(VectorScanner, sleeve.scanner).scan(cut)
        for table, sleeve in zip(setups, sleeves, strict=True)
    ]


def run_backtest(
    cfg: PlaybookConfig,
    *,
    workspace: Workspace | None = None,
    start: Any = None,
    end: Any = None,
    engine: str = "fast",
    symbols: Sequence[str] | None = None,
    metrics: bool = True,
    beside_metrics: Callable[[RunResult], object] | None = None,
) -> RunResult:
    """Run the backtest a config describes and compute its metrics.

    ``start``/``end`` override ``[data] start/end``; ``symbols`` restricts the universe.
    ``beside_metrics(result)``, when given, is called with the run (no metrics yet) while the metrics'
    bootstrap draws on its threads (see :func:`with_metrics`); ``timings["metrics"]`` includes it.
    """
    t_start = time.perf_counter()
    ws = workspace if workspace is not None else load_data(cfg, symbols=symbols, chunked_ok=engine == "fast")
    panel = ws.panel
    if ws.chunked and (engine != "fast" or (symbols and workspace is not None)):
        raise ConfigError(
            '[data] mode = "chunked" runs the fast engine on the whole loaded universe (no --engine '
            'reference, no --symbols on a loaded workspace); use mode = "memory"'
        )
    if symbols and workspace is not None:
        panel = panel.select([s.upper() for s in symbols])
        ws = Workspace(panel=panel, info=ws.info)
    lo, hi = window(panel, *cfg.window(start, end))
    sleeves = build_sleeves(cfg)
    settings = portfolio_settings(cfg)

    t0 = time.perf_counter()
    setup_time_before = ws.timings.get("setups", 0.0)
    tables: list[SetupTable | None] | None = None
    if engine == "fast":
        tables = [ws.setups_for(s) if s.vectorised else None for s in sleeves]
    t1 = time.perf_counter()
    trades, equity = simulate(panel, sleeves, settings, start=lo, end=hi, engine=engine, setups=tables)
    t2 = time.perf_counter()

    result = RunResult(
        trades=trades,
        equity=equity,
        config=cfg.to_dict(),
        data=_data_info(ws, panel, lo, hi),
        starting_capital=settings.starting_capital,
        engine=engine,
        timings={
            "load": ws.timings.get("load", 0.0),
            "setups": ws.timings.get("setups", 0.0)
            - setup_time_before
            + ws.timings.get("setups_at_load", 0.0)
            if engine == "fast"
            else 0.0,
            "setups_total": t1 - t0,
            "simulation": t2 - t1,
        },
    )
    if metrics:
        t3 = time.perf_counter()
        benchmark = ws.benchmark(cfg, lo, hi)
        result = with_metrics(result, cfg, panel, lo, hi, benchmark=benchmark, meanwhile=beside_metrics)
        result.timings["metrics"] = time.perf_counter() - t3
    result.timings["total"] = time.perf_counter() - t_start
    return result


@dataclass(frozen=True)
class TrialRun:
    """What a sweep's trial reads of a backtest: the equity curve and the trades' numbers.

    ``pnl``, ``pnl_pct`` and ``r_multiple`` are the values of ``RunResult.trades`` in the same order
    (from the same records, :func:`~trading_playbook.core.simulate.fast.trade_numbers`), without
    building the :class:`Trade` objects.
    """

    equity: EquityCurve
    starting_capital: float
    pnl: np.ndarray
    pnl_pct: np.ndarray
    r_multiple: np.ndarray


def run_trial(
    cfg: PlaybookConfig, *, workspace: Workspace, start: Any = None, end: Any = None
) -> TrialRun | None:
    """The fast engine's run of ``cfg`` on ``workspace`` reduced to a :class:`TrialRun`, or None when
    a sleeve has no vectorised scanner (then run :func:`run_backtest`). Same trades and equity as
    ``run_backtest(cfg, workspace=workspace, engine="fast")``; no metrics, no :class:`Trade` objects."""
    from trading_playbook.core.simulate.fast import run_fast_records

    panel = workspace.panel
    lo, hi = window(panel, *cfg.window(start, end))
    sleeves = build_sleeves(cfg)
    if not all(s.vectorised for s in sleeves):
        return None
    settings = portfolio_settings(cfg)
    tables: list[SetupTable | None] = [workspace.setups_for(s) for s in sleeves]
    cut, until = _cut_at(panel, sleeves, lo, hi, tables)
    run = run_fast_records(cut, sleeves, settings, start=lo, end=hi, setups=until)
    numbers = run.numbers(cut)
    return TrialRun(
        equity=run.equity,
        starting_capital=settings.starting_capital,
        pnl=numbers.pnl[numbers.order],
        pnl_pct=numbers.pnl_pct,
        r_multiple=numbers.r_multiple,
    )


def benchmark_for(cfg: PlaybookConfig, panel: Panel, lo: int, hi: int) -> BenchmarkSeries:
    """Buy-and-hold comparison of sessions ``lo..hi``: the universe, and ``[report] benchmark_symbol``
    when the panel holds it."""
    symbol = cfg.report.benchmark_symbol or None
    if symbol is not None and symbol not in panel.symbols:
        symbol = None
    return benchmark_from_panel(panel, panel.sessions[lo], panel.sessions[hi], symbol)


def with_metrics(
    result: RunResult,
    cfg: PlaybookConfig,
    panel: Panel,
    lo: int,
    hi: int,
    *,
    benchmark: BenchmarkSeries | None = None,
    meanwhile: Callable[[RunResult], object] | None = None,
) -> RunResult:
    """``result`` with ``metrics`` computed (benchmark from the panel's window unless given).

    ``meanwhile(result)``, when given, is called once while the trade bootstrap draws on its threads
    (``compute_metrics(meanwhile=...)``): work that needs the run but not its metrics overlaps the
    draws. What it raises propagates.
    """
    if benchmark is None:
        benchmark = benchmark_for(cfg, panel, lo, hi)
    warn = cfg.report.survivorship_warning
    coverage = result.data.get("coverage") if isinstance(result.data, dict) else None
    if warn is None and isinstance(coverage, dict):  # a universe was given: measured, not guessed
        warn = float(coverage["unseen_share"]) > SURVIVORSHIP_UNSEEN_SHARE
    elif warn is None:
        warn = survivorship_suspected(panel, lo, hi, cfg.data.source)
    metrics = compute_metrics(
        result,
        benchmark=benchmark,
        risk_free_rate=cfg.report.risk_free_rate,
        survivorship_warning=bool(warn),
        seed=cfg.report.bootstrap_seed,
        meanwhile=None if meanwhile is None else functools.partial(meanwhile, result),
    )
    return replace(result, metrics=metrics, timings=dict(result.timings))


#: With a point-in-time universe, the survivorship warning is shown when more than this share of the
#: member-days of the run had no bar (members the run could not see: mostly delisted stocks).
SURVIVORSHIP_UNSEEN_SHARE = 0.01


def survivorship_suspected(panel: Panel, lo: int, hi: int, source: str) -> bool:
    """True when the universe looks like a list of today's constituents.

    Heuristic for real data (synthetic data is never flagged): over a window longer than a year,
    no symbol's data stops before the last session, i.e. nothing was delisted or dropped.
    """
    if source == "synthetic" or hi - lo < 252:
        return False
    avail = panel.available[: hi + 1]
    has_bar = avail.any(axis=0)
    last = avail.shape[0] - 1 - np.argmax(avail[::-1], axis=0)
    return bool(np.all(last[has_bar] >= hi - 5))


def _data_info(ws: Workspace, panel: Panel, lo: int, hi: int) -> dict[str, Any]:
    info = {k: v for k, v in ws.info.items() if isinstance(v, str | int | float | bool) or v is None}
    info.update(run_notes(ws.info, panel.symbols, ws.panel.symbols, str(panel.sessions[hi])))
    info.update(
        {
            "symbols": panel.n_symbols,
            "first_session": str(panel.sessions[lo]),
            "last_session": str(panel.sessions[hi]),
            "sessions": hi - lo + 1,
            "adjustment": panel.adjustment,
        }
    )
    if not info.get("fingerprint"):
        info["fingerprint"] = panel.fingerprint
    covered = ws.info.get("coverage")
    if covered is not None:
        from trading_playbook.data.universe import coverage_block

        days = covered.sessions
        first = int(np.searchsorted(days, panel.sessions[lo].astype("datetime64[D]"), side="left"))
        last = int(np.searchsorted(days, panel.sessions[hi].astype("datetime64[D]"), side="right")) - 1
        info["coverage"] = coverage_block(covered.window(first, last), ws.info)
    return info


def _until(table: SetupTable, end: int) -> SetupTable:
    """The rows of ``table`` at sessions <= ``end``."""
    n = int(np.searchsorted(table.session_idx, end, side="right"))
    if n == len(table):
        return table
    return SetupTable(**{name: getattr(table, name)[:n] for name in SetupTable.__dataclass_fields__})


class BacktestEngine:
    """The design's object API: components in, :class:`RunResult` out.

    Parameters
    ----------
    scanner, exit_strategy, sizer
        Component objects (see :mod:`trading_playbook.registry`); user-written Python components run on
        ``engine="reference"``.
    data
        A :class:`Panel`, a long bar DataFrame (``symbol, date, open, high, low, close, volume`` ...) or a
        :class:`trading_playbook.data.DataRequest`.
    starting_capital, max_positions, entry_fill, exit_fill, slippage_bps, commission_per_share,
    commission_per_order, commission_min
        Portfolio settings (RULES sections 4 and 6).
    engine
        ``"fast"`` (numba, default) or ``"reference"`` (plain Python, event-driven).
    """

    def __init__(
        self,
        *,
        scanner: Any,
        exit_strategy: Any,
        sizer: Any = None,
        data: Any,
        starting_capital: float = 100_000.0,
        max_positions: int = 3,
        entry_fill: Literal["next_open", "close"] = "next_open",
        exit_fill: Literal["close", "next_open"] = "close",
        slippage_bps: float = 5.0,
        commission_per_share: float = 0.0,
        commission_per_order: float = 0.0,
        commission_min: float = 0.0,
        adjustment: str = "split",
        engine: str = "fast",
    ) -> None:
        from trading_playbook.core.sizing import PercentEquitySizer

        self.panel = _as_panel(data, adjustment)
        self.sleeve = SleeveSpec(
            name="main",
            scanner=scanner,
            exit=exit_strategy,
            sizer=sizer if sizer is not None else PercentEquitySizer(),
            max_positions=max_positions,
        )
        self.settings = PortfolioSettings(
            starting_capital=starting_capital,
            entry_fill=entry_fill,
            exit_fill=exit_fill,
            slippage_bps=slippage_bps,
            commission_per_share=commission_per_share,
            commission_per_order=commission_per_order,
            commission_min=commission_min,
        )
        self.engine = engine

    def run(self, start_date: Any = None, end_date: Any = None) -> RunResult:
        """Simulate ``[start_date, end_date]`` (default: all loaded sessions); metrics included."""
        lo, hi = window(self.panel, start_date, end_date)
        trades, equity = simulate(
            self.panel, [self.sleeve], self.settings, start=lo, end=hi, engine=self.engine
        )
        result = RunResult(
            trades=trades,
            equity=equity,
            config={"engine": self.engine, "max_positions": self.sleeve.max_positions},
            data={
                "source": "in-memory",
                "symbols": self.panel.n_symbols,
                "first_session": str(self.panel.sessions[lo]),
                "last_session": str(self.panel.sessions[hi]),
                "fingerprint": self.panel.fingerprint,
            },
            starting_capital=self.settings.starting_capital,
            engine=self.engine,
        )
        benchmark = benchmark_from_panel(self.panel, self.panel.sessions[lo], self.panel.sessions[hi])
        metrics = compute_metrics(result, benchmark=benchmark)
        return replace(result, metrics=metrics)


def _as_panel(data: Any, adjustment: str) -> Panel:
    if isinstance(data, Panel):
        return data
    if type(data).__name__ == "DataFrame" and hasattr(data, "columns"):  # pandas, without importing it
        return bars_to_panel(data, adjustment)
    from trading_playbook.data import DataRequest, load_panel

    if isinstance(data, DataRequest):
        return load_panel(data)[0]
    raise ConfigError(f"data must be a Panel, a bar DataFrame or a DataRequest, got {type(data).__name__}")
