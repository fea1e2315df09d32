"""Daily bars from Alpaca's market-data API through alpaca-py.

Split factors and the raw close
-------------------------------
The engine needs raw prices plus split coefficients (RULES section 1: the scanner's ``min_price``
uses the raw close, and adjustment is done by the panel). Alpaca serves bars either raw or adjusted,
not split events with the bars, so each fetch asks for the same range twice, ``adjustment=raw`` and
``adjustment=split``. For consecutive bars of a symbol the cumulative factor is
``F_t = raw_close_t / split_close_t`` and the split coefficient taking effect at t is
``k_t = F_{t-1} / F_t``; values within 0.5 % of 1 are 1 (rounding noise), others snap to a simple
fraction (2, 3/2, 1/10, ...) when within 0.5 % of one. The first bar of a fetch has no predecessor, so
its coefficient is unknown (NaN) and the cache keeps the stored one; the cache extends each fetch one
session back into stored data so that a split on the first missing session is still seen.
``adjustment="all"`` adds a third request whose close becomes ``adjusted_close``.

Networking
----------
Requests are multi-symbol (up to 100 symbols each); alpaca-py follows ``next_page_token``. Each HTTP
request is retried on 429 and 5xx with exponential backoff, honouring ``Retry-After`` (urllib3's
``Retry`` mounted on the SDK's session; the SDK's own fixed 3-second retry is switched off), and has a
timeout. The market-data URL and the keys are settings (``data.alpaca_settings``): the URL from
``[data] url``, ``APCA_API_DATA_URL`` or Alpaca's; the keys only from the environment
(``ALPACA_API_KEY``/``ALPACA_SECRET_KEY`` or ``APCA_API_KEY_ID``/``APCA_API_SECRET_KEY``). They go into
request headers and nowhere else: not into logs, errors, the cache or the fetch log.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd

from trading_playbook.core.errors import SourceError
from trading_playbook.data.alpaca_settings import Credentials, load_credentials, redact, resolve_endpoint
from trading_playbook.data.model import BarArrays, concat_arrays, normalize_symbol, to_frame

__all__ = ["KEY_ENV", "SECRET_ENV", "AlpacaSource", "minute_payload_frames", "split_coefficients"]

log = logging.getLogger(__name__)

KEY_ENV = "ALPACA_API_KEY"
SECRET_ENV = "ALPACA_SECRET_KEY"
TIMEOUT = (10.0, 60.0)  # connect, read (seconds): a silent server must not hang a fetch forever
RETRY_STATUSES = (429, 500, 502, 503, 504)
_BATCH = 100
_NY = "America/New_York"


def split_coefficients(raw_close: np.ndarray, split_close: np.ndarray) -> np.ndarray:
    """Split coefficient per bar of one symbol from raw and split-adjusted closes (first bar NaN).

    >>> split_coefficients(np.array([100.0, 102.0, 51.0]), np.array([50.0, 51.0, 51.0])).tolist()
    [nan, 1.0, 2.0]
    """
    factor = raw_close / split_close
    k = np.full(factor.shape[0], np.nan)
    if factor.shape[0] > 1:
        k[1:] = factor[:-1] / factor[1:]
    for i in np.flatnonzero(np.isfinite(k)):
        k[i] = _snap(float(k[i]))
    return k


def _snap(k: float) -> float:
    if abs(k - 1.0) < 0.005:
        return 1.0
    nice = Fraction(k).limit_denominator(20)
    return float(nice) if abs(float(nice) / k - 1.0) < 0.005 else round(k, 6)


class AlpacaSource:
    """Alpaca daily bars (raw prices with derived split coefficients) as a bar source.

    Parameters
    ----------
    feed
        ``iex`` (free) or ``sip``; always sent explicitly.
    base_url
        The market-data REST base URL (default: env ``APCA_API_DATA_URL``, else Alpaca's); a proxy, or
        a test server on 127.0.0.1.
    max_retries, backoff
        Retries per HTTP request on 429/5xx and the exponential backoff factor in seconds
        (waits ``backoff * 2**n``, capped at 30 s, or what ``Retry-After`` says).
    """

    def __init__(
        self,
        feed: str = "iex",
        *,
        base_url: str | None = None,
        max_retries: int = 5,
        backoff: float = 0.5,
        with_adjusted_close: bool = False,
    ) -> None:
        self.feed = feed.lower()
        self.base_url = base_url or None
        self.max_retries = max_retries
        self.backoff = backoff
        self.with_adjusted_close = with_adjusted_close
        self.name = f"alpaca-{self.feed}"
        self.missing: tuple[str, ...] = ()
        self._client: Any = None
        self._credentials: Credentials | None = None

    def _make_client(self) -> Any:
        try:
            from alpaca.data.historical import StockHistoricalDataClient
        except ImportError as exc:
            raise SourceError(
                "the Alpaca source needs alpaca-py: pip install 'trading-playbook[alpaca]'"
            ) from exc
        from requests.adapters import HTTPAdapter
        from urllib3.util.retry import Retry

        self._credentials = load_credentials(error=SourceError)
        endpoint = resolve_endpoint("data_url", self.base_url)
        log.info("Alpaca market data from %s", endpoint)
        client = StockHistoricalDataClient(
            api_key=self._credentials.key_id,
            secret_key=self._credentials.secret,
            raw_data=True,
            url_override=endpoint.url,
        )
        retry = Retry(
            total=self.max_retries,
            connect=self.max_retries,
            read=self.max_retries,
            status=self.max_retries,
            backoff_factor=self.backoff,
            backoff_max=30.0,
            status_forcelist=RETRY_STATUSES,
            allowed_methods=frozenset({"GET"}),
            respect_retry_after_header=True,
            raise_on_status=False,
        )
        adapter = HTTPAdapter(max_retries=retry)
        # alpaca-py exposes no retry policy for its session; these two attributes are its internals:
        # mount our retrying adapter and turn off its fixed-wait retry so waits are not doubled.
        client._session.mount("https://", adapter)
        client._session.mount("http://", adapter)
        client._session.request = _with_timeout(client._session.request)
        client._retry = 0
        return client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = self._make_client()
        return self._client

    # ------------------------------------------------------------------ BarSource
    def fetch(self, symbols: Sequence[str], start: str | None = None, end: str | None = None) -> pd.DataFrame:
        return to_frame(self.fetch_arrays(symbols, start, end))

    def fetch_arrays(
        self, symbols: Sequence[str], start: str | None = None, end: str | None = None
    ) -> BarArrays:
        """Raw bars with split coefficients for ``symbols`` and sessions ``start``..``end``."""
        if not symbols:
            raise SourceError("the Alpaca source needs an explicit symbols list (e.g. --symbols AAPL,MSFT)")
        if start is None or end is None:
            raise SourceError("the Alpaca source needs start and end dates")
        names = sorted({normalize_symbol(s) for s in symbols})
        parts = [self._fetch_batch(names[i : i + _BATCH], start, end) for i in range(0, len(names), _BATCH)]
        bars = concat_arrays(parts, origin=f"Alpaca ({self.feed})")
        got = set(bars.symbols)
        self.missing = tuple(s for s in names if s not in got)
        if self.missing:
            log.warning(
                "Alpaca returned no bars for %s between %s and %s", ", ".join(self.missing), start, end
            )
        return bars

    def minute_bars(
        self, symbols: Sequence[str], start: dt.datetime, end: dt.datetime
    ) -> dict[str, pd.DataFrame]:
        """Raw minute bars of ``symbols`` with ``start <= t <= end`` (aware datetimes), per symbol."""
        from alpaca.data.enums import Adjustment, DataFeed
        from alpaca.data.requests import StockBarsRequest
        from alpaca.data.timeframe import TimeFrame

        names = sorted({normalize_symbol(s) for s in symbols})
        what = f"minute bars of {len(names)} symbol(s) {start.isoformat()}..{end.isoformat()}"
        request = StockBarsRequest(
            symbol_or_symbols=names,
            timeframe=TimeFrame.Minute,
            start=start,
            end=end,
            adjustment=Adjustment.RAW,
            feed=DataFeed(self.feed),
        )
        payload = self._get_bars(request, what)
        return minute_payload_frames(payload, what)

    def _get_bars(self, request: Any, what: str) -> Any:
        """alpaca-py's ``get_stock_bars``; a failure is a :class:`SourceError` without the keys in it."""
        log.info("Alpaca request: %s", what)
        try:
            return self.client.get_stock_bars(request)
        except SourceError:
            raise
        except Exception as exc:
            secrets = self._credentials.secrets if self._credentials else ()
            raise SourceError(
                redact(f"Alpaca request for {what} failed: {_describe(exc)}", secrets)
            ) from None

    def _fetch_batch(self, symbols: list[str], start: str, end: str) -> BarArrays:
        raw = self._request(symbols, start, end, "raw")
        adjusted = self._request(symbols, start, end, "split")
        total = self._request(symbols, start, end, "all") if self.with_adjusted_close else None
        parts = []
        for symbol in symbols:
            bars = raw.get(symbol)
            if bars is None or bars.empty:
                continue
            parts.append(
                self._symbol_arrays(
                    symbol, bars, adjusted.get(symbol), None if total is None else total.get(symbol)
                )
            )
        return concat_arrays(parts, origin=f"Alpaca ({self.feed})")

    def _symbol_arrays(
        self, symbol: str, raw: pd.DataFrame, split: pd.DataFrame | None, total: pd.DataFrame | None
    ) -> BarArrays:
        origin = f"Alpaca ({self.feed})"
        split_close = _aligned(raw, split, symbol, origin)
        values = {
            "open": raw["o"].to_numpy(np.float64),
            "high": raw["h"].to_numpy(np.float64),
            "low": raw["l"].to_numpy(np.float64),
            "close": raw["c"].to_numpy(np.float64),
            "volume": raw["v"].to_numpy(np.float64),
            "split": split_coefficients(raw["c"].to_numpy(np.float64), split_close),
        }
        if total is not None:
            values["adjusted_close"] = _aligned(raw, total, symbol, origin)
        day = raw.index.to_numpy().astype("datetime64[D]")
        return BarArrays((symbol,), np.zeros(day.shape[0], np.int64), day, values, origin)

    def _request(self, symbols: list[str], start: str, end: str, adjustment: str) -> dict[str, pd.DataFrame]:
        """One SDK call (it pages through ``next_page_token``); bars per symbol indexed by session."""
        from alpaca.data.enums import Adjustment, DataFeed
        from alpaca.data.requests import StockBarsRequest
        from alpaca.data.timeframe import TimeFrame

        try:
            feed = DataFeed(self.feed)
        except ValueError as exc:
            raise SourceError(f"unknown Alpaca feed {self.feed!r}; use iex or sip") from exc
        request = StockBarsRequest(
            symbol_or_symbols=symbols,
            timeframe=TimeFrame.Day,
            start=_new_york(start),
            end=_new_york(end) + dt.timedelta(days=1) - dt.timedelta(seconds=1),
            adjustment=Adjustment(adjustment),
            feed=feed,
        )
        what = f"{len(symbols)} symbol(s) {start}..{end} ({adjustment})"
        payload = self._get_bars(request, what)
        return _parse_payload(payload, what)


def _with_timeout(request: Any) -> Any:
    """``requests.Session.request`` with a default timeout (alpaca-py sets none)."""

    def call(method: str, url: str, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", TIMEOUT)
        return request(method, url, **kwargs)

    return call


def minute_payload_frames(payload: Any, what: str) -> dict[str, pd.DataFrame]:
    """Minute bars per symbol (``t`` a UTC timestamp, ``open .. volume``) from a raw bars payload."""
    if not isinstance(payload, dict):
        raise SourceError(f"Alpaca response for {what} is malformed: expected an object of bars per symbol")
    out: dict[str, pd.DataFrame] = {}
    for symbol, bars in payload.items():
        try:
            frame = pd.DataFrame(bars)
            frame = pd.DataFrame(
                {
                    "t": pd.to_datetime(frame["t"], utc=True),
                    "open": frame["o"].astype(np.float64),
                    "high": frame["h"].astype(np.float64),
                    "low": frame["l"].astype(np.float64),
                    "close": frame["c"].astype(np.float64),
                    "volume": frame["v"].astype(np.float64),
                }
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise SourceError(
                f"Alpaca response for {what} is malformed for {symbol}: {type(exc).__name__} {exc}"
            ) from None
        out[normalize_symbol(symbol)] = frame
    return out


def _new_york(value: str) -> dt.datetime:
    """Midnight of a session date in New York (daily bars are stamped there), as a UTC instant."""
    day = pd.Timestamp(value).date()
    return pd.Timestamp(day).tz_localize(_NY).tz_convert("UTC").to_pydatetime()


def _describe(exc: Exception) -> str:
    status = getattr(exc, "status_code", None)
    if status is not None:
        return f"HTTP {status} after retries ({str(exc)[:200]})"
    name = type(exc).__name__
    if isinstance(exc, ValueError):
        return f"malformed response ({name}: {str(exc)[:200]})"
    return f"{name}: {str(exc)[:200]}"


def _parse_payload(payload: Any, what: str) -> dict[str, pd.DataFrame]:
    """Bars per symbol indexed by session (the New York date of each bar's stamp), parsed in one pass."""
    if not isinstance(payload, dict):
        raise SourceError(f"Alpaca response for {what} is malformed: expected an object of bars per symbol")
    names, counts, flat = [], [], []
    for symbol, bars in payload.items():
        if not isinstance(bars, list):
            raise SourceError(
                f"Alpaca response for {what} is malformed for {symbol}: expected a list of bars"
            )
        names.append(symbol)
        counts.append(len(bars))
        flat.extend(bars)
    if not flat:
        return {}
    try:
        frame = pd.DataFrame.from_records(flat, columns=["t", "o", "h", "l", "c", "v"])
        stamps = pd.to_datetime(frame["t"], utc=True).dt.tz_convert(_NY)
        index = pd.DatetimeIndex(stamps.dt.tz_localize(None).dt.normalize(), name="date")
        values = frame[["o", "h", "l", "c", "v"]].astype(np.float64)
    except (KeyError, ValueError, TypeError) as exc:
        raise SourceError(f"Alpaca response for {what} is malformed: {type(exc).__name__} {exc}") from None
    if values.isna().to_numpy().any():
        row = int(np.flatnonzero(values.isna().any(axis=1).to_numpy())[0])
        owner = names[int(np.searchsorted(np.cumsum(counts), row, side="right"))]
        raise SourceError(
            f"Alpaca response for {what} is malformed for {owner}: a bar lacks a price or volume"
        )
    values.index = index
    out: dict[str, pd.DataFrame] = {}
    offset = 0
    for symbol, n in zip(names, counts, strict=True):
        part = values.iloc[offset : offset + n]
        offset += n
        if n:
            out[normalize_symbol(symbol)] = part[~part.index.duplicated(keep="last")].sort_index()
    return out


def _aligned(raw: pd.DataFrame, other: pd.DataFrame | None, symbol: str, origin: str) -> np.ndarray:
    if other is None:
        raise SourceError(
            f"{origin}: adjusted bars for {symbol} are missing while raw bars exist; retry the fetch"
        )
    close = other["c"].reindex(raw.index)
    if close.isna().any():
        day = close.index[close.isna()][0].date()
        raise SourceError(
            f"{origin}: adjusted and raw bars of {symbol} disagree on session {day}; retry the fetch"
        )
    return close.to_numpy(np.float64)
