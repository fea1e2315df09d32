"""The comparable rule in backtrader: several symbols in one ``Cerebro``, sharing one broker's cash.

backtrader is used as a library only (GPL-3.0); no code is copied.

How the rule maps onto backtrader: one strategy over all data feeds; per feed the indicators
``Highest(high(-1), 20)``, ``SMA(close, 50)`` and ``SMA(volume(-1), 20)``. Orders fill at the signal
bar's close (``broker.set_coc(True)``, like the other peers); on the entry fill a resting ``Stop``
sell order is placed 8 % below the fill (backtrader fills a gap through it at the open); once
``time_stop`` bars are held the stop is cancelled and the position closed at the close. At most
``max_positions`` positions (open or pending), each 10 % of the broker's value, feeds visited in
symbol order; 5 bp slippage (``slip_perc``). ``stdstats=False`` (no observers), the lean setting.

Timed: building the feeds and ``Cerebro`` and ``cerebro.run()``, on a subset of symbols in one
cerebro; the figure for the whole universe is extrapolated linearly in bars and labelled so.
"""

from __future__ import annotations

import math
import time

import backtrader as bt
from peers_common import ComparableRule, PeerTiming, symbol_frame

from trading_playbook.core.panel import Panel

__all__ = ["BreakoutStrategy", "run_backtrader"]


class BreakoutStrategy(bt.Strategy):  # type: ignore[misc]
    """20-day breakout with trend and volume filters, 8 % stop, time stop, shared cash."""

    params = (
        ("breakout", 20),
        ("trend_sma", 50),
        ("volume_window", 20),
        ("volume_ratio", 1.5),
        ("stop", 0.08),
        ("time_stop", 17),
        ("max_positions", 10),
    )

    def __init__(self) -> None:
        p = self.params
        self.ind = {}
        for d in self.datas:
            self.ind[d] = (
                bt.ind.Highest(d.high(-1), period=p.breakout),
                bt.ind.SMA(d.close, period=p.trend_sma),
                bt.ind.SMA(d.volume(-1), period=p.volume_window),
            )
        self.entry_len: dict[object, int] = {}  # feed -> len(feed) at the entry fill
        self.stop_order: dict[object, bt.Order] = {}
        self.pending: set[object] = set()  # feeds with an entry order not yet filled
        self.trades_closed = 0

    def prenext(self) -> None:
        # feeds start at different dates (IPOs); trade those that are ready
        self.next()

    def notify_order(self, order: bt.Order) -> None:
        d = order.data
        if order.status == order.Completed:
            if order.isbuy():
                self.pending.discard(d)
                self.entry_len[d] = len(d)
                price = order.executed.price * (1.0 - self.params.stop)
                self.stop_order[d] = self.sell(
                    data=d, size=order.executed.size, exectype=bt.Order.Stop, price=price
                )
            else:
                self.entry_len.pop(d, None)
                stop = self.stop_order.pop(d, None)
                if stop is not None and stop is not order:
                    self.cancel(stop)
        elif order.status in (order.Canceled, order.Margin, order.Rejected) and order.isbuy():
            self.pending.discard(d)

    def notify_trade(self, trade: bt.Trade) -> None:
        if trade.isclosed:
            self.trades_closed += 1

    def next(self) -> None:
        p = self.params
        now = self.datetime[0]
        held = len(self.entry_len) + len(self.pending)
        value = self.broker.getvalue()
        for d in self.datas:
            if len(d) <= p.trend_sma or d.datetime[0] != now:
                continue  # not enough history yet, or no bar this session
            if d in self.entry_len:
                if len(d) - self.entry_len[d] >= p.time_stop:
                    stop = self.stop_order.pop(d, None)
                    if stop is not None:
                        self.cancel(stop)
                    self.close(data=d)
                continue
            if d in self.pending or held >= p.max_positions:
                continue
            prev_high, sma, avg_volume = self.ind[d]
            close = d.close[0]
            if close > prev_high[0] and close > sma[0] and d.volume[0] > p.volume_ratio * avg_volume[0]:
                shares = math.floor(value / p.max_positions / close)
                if shares > 0:
                    self.buy(data=d, size=shares)
                    self.pending.add(d)
                    held += 1


def run_backtrader(
    panel: Panel, symbols: list[str], rule: ComparableRule
) -> tuple[list[PeerTiming], dict[str, float]]:
    """One timed cerebro over ``symbols``; extrapolated linearly in bars to the whole panel."""
    frames = {s: symbol_frame(panel, s) for s in symbols}
    start = time.perf_counter()
    cerebro = bt.Cerebro(stdstats=False)
    for s in symbols:
        cerebro.adddata(bt.feeds.PandasData(dataname=frames[s], openinterest=None), name=s)
    cerebro.addstrategy(
        BreakoutStrategy,
        breakout=rule.breakout,
        trend_sma=rule.trend_sma,
        volume_window=rule.volume_window,
        volume_ratio=rule.volume_ratio,
        stop=rule.stop,
        time_stop=rule.time_stop,
        max_positions=rule.max_positions,
    )
    cerebro.broker.setcash(rule.starting_capital)
    cerebro.broker.set_coc(True)
    cerebro.broker.set_slippage_perc(0.0005)
    strategy = cerebro.run()[0]
    seconds = time.perf_counter() - start
    bars_timed = sum(len(f) for f in frames.values())
    bars_total = int(panel.available.sum())
    n = panel.n_symbols
    trades = int(strategy.trades_closed)
    rows = [PeerTiming("backtrader", f"one cerebro, {len(symbols)} symbols", seconds, len(symbols), trades)]
    if len(symbols) < n:
        rows.append(
            PeerTiming(
                "backtrader",
                f"EXTRAPOLATED to {n} symbols (x bars)",
                seconds * bars_total / bars_timed,
                n,
                extrapolated_from=len(symbols),
                measured_seconds=seconds,
            )
        )
    sanity = {
        "trades": float(trades),
        "final_value": float(cerebro.broker.getvalue()),
        "bars_timed": float(bars_timed),
    }
    return rows, sanity
