"""The Alpaca trading API as the broker adapter uses it: alpaca-py's TradingClient with timeouts,
retries where they are safe, and orders that can never be sent twice.

Reads (GET) are retried on 429 and 5xx with exponential backoff, honouring ``Retry-After``. An order
submission is never retried blindly: when it times out, fails with a 5xx or loses its connection, the
order is looked up by its ``client_order_id``; only when Alpaca does not know it is it sent again
(which is safe: Alpaca refuses a second order with the same ``client_order_id``). Alpaca's 422
"client_order_id must be unique" means the order is already there: it is looked up and used.

Every error leaving this module is a :class:`BrokerError` whose text never contains the keys.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from trading_playbook.core.errors import PlaybookError
from trading_playbook.data.alpaca_settings import AlpacaEndpoints, Credentials, redact

__all__ = ["AlpacaTrading", "BrokerError", "OrderRejected"]

log = logging.getLogger(__name__)

TIMEOUT = (5.0, 20.0)  # connect, read (seconds)
_RETRY_STATUSES = (429, 500, 502, 503, 504)


class BrokerError(PlaybookError):
    """The broker could not do what was asked (network, refusal, unknown order); the message says why."""


class OrderRejected(BrokerError):
    """Alpaca refused an order outright (4xx other than a duplicate id): it was not placed."""

    def __init__(self, message: str, status: int | None) -> None:
        super().__init__(message)
        self.status = status


class AlpacaTrading:
    """Orders, positions, account and clock over alpaca-py, keys from :class:`Credentials`.

    Orders are plain dicts in Alpaca's JSON form (the client runs with ``raw_data=True``).
    """

    def __init__(
        self,
        credentials: Credentials,
        endpoints: AlpacaEndpoints,
        *,
        max_retries: int = 5,
        backoff: float = 0.5,
        lookup_attempts: int = 5,
        timeout: tuple[float, float] = TIMEOUT,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        from alpaca.trading.client import TradingClient
        from requests.adapters import HTTPAdapter
        from urllib3.util.retry import Retry

        self._secrets = credentials.secrets
        self.endpoints = endpoints
        self.lookup_attempts = lookup_attempts
        self.backoff = backoff
        self._sleep = sleep
        client = TradingClient(
            credentials.key_id,
            credentials.secret,
            paper=endpoints.paper,
            raw_data=True,
            url_override=endpoints.trading.url,
        )
        retry = Retry(
            total=max_retries,
            connect=max_retries,
            read=0,  # a read timeout may follow a request that took effect: the caller decides
            status=max_retries,
            backoff_factor=backoff,
            backoff_max=30.0,
            status_forcelist=_RETRY_STATUSES,
            allowed_methods=frozenset({"GET"}),  # never a POST, PATCH or DELETE
            respect_retry_after_header=True,
            raise_on_status=False,
        )
        adapter = HTTPAdapter(max_retries=retry)
        # alpaca-py exposes neither timeouts nor a retry policy; these are its session and counters
        client._session.mount("https://", adapter)
        client._session.mount("http://", adapter)
        request = client._session.request

        def with_timeout(method: str, url: str, **kwargs: Any) -> Any:
            kwargs.setdefault("timeout", timeout)
            return request(method, url, **kwargs)

        client._session.request = with_timeout
        client._retry = 0  # its own fixed 3 s wait on 429 is replaced by the adapter's backoff
        self.client = client

    # ------------------------------------------------------------------ reads
    def account(self) -> dict[str, Any]:
        return self._call("read the account", self.client.get_account)  # type: ignore[no-any-return]

    def clock(self) -> dict[str, Any]:
        return self._call("read the market clock", self.client.get_clock)  # type: ignore[no-any-return]

    def positions(self) -> list[dict[str, Any]]:
        return self._call("list positions", self.client.get_all_positions)  # type: ignore[no-any-return]

    def open_orders(self) -> list[dict[str, Any]]:
        from alpaca.trading.enums import QueryOrderStatus
        from alpaca.trading.requests import GetOrdersRequest

        request = GetOrdersRequest(status=QueryOrderStatus.OPEN, limit=500)
        return self._call("list open orders", self.client.get_orders, request)  # type: ignore[no-any-return]

    def order(self, client_order_id: str) -> dict[str, Any] | None:
        """The order with this ``client_order_id``, or None when Alpaca does not know it."""
        try:
            return self._call(  # type: ignore[no-any-return]
                f"look up order {client_order_id}", self.client.get_order_by_client_id, client_order_id
            )
        except OrderRejected as exc:
            if exc.status == 404:
                return None
            raise

    # ------------------------------------------------------------------ writes
    def submit(self, request: Any) -> dict[str, Any]:
        """Place an order (``request`` is an alpaca-py order request carrying a client_order_id).

        Returns the order, whether this call created it or an earlier one did.
        """
        coid = str(request.client_order_id)
        last = ""
        for attempt in range(self.lookup_attempts):
            try:
                return self._call(f"submit order {coid}", self.client.submit_order, request)  # type: ignore[no-any-return]
            except OrderRejected as exc:
                if exc.status == 422 and "client_order_id must be unique" in str(exc):
                    log.info("order %s was already submitted (Alpaca: client_order_id must be unique)", coid)
                    return self._known(coid)
                raise
            except BrokerError as exc:  # timeout, connection lost, 5xx: did it take effect?
                last = str(exc)
                log.warning("submitting %s failed (%s); looking it up before anything else", coid, exc)
                found = self._lookup(coid)
                if found is not None:
                    return found
                self._sleep(self.backoff * 2**attempt)
        raise BrokerError(
            f"order {coid} could not be placed after {self.lookup_attempts} attempts (each failed and a "
            f"lookup by client_order_id found nothing; last: {last.removeprefix('Alpaca could not ')}); "
            "it was not placed: step the account again later"
        )

    def replace(self, order_id: str, request: Any) -> dict[str, Any]:
        coid = str(request.client_order_id)
        try:
            return self._call(
                f"replace order {order_id} by {coid}", self.client.replace_order_by_id, order_id, request
            )  # type: ignore[no-any-return]
        except OrderRejected as exc:
            if exc.status == 422 and "client_order_id must be unique" in str(exc):
                return self._known(coid)
            raise
        except BrokerError:
            found = self._lookup(coid)
            if found is not None:
                return found
            raise

    def cancel(self, order_id: str) -> None:
        """Cancel an order; one that is already done is not an error (the caller reads its status)."""
        try:
            self._call(f"cancel order {order_id}", self.client.cancel_order_by_id, order_id)
        except OrderRejected as exc:
            if exc.status not in (404, 422):
                raise

    # ------------------------------------------------------------------ helpers
    def _known(self, coid: str) -> dict[str, Any]:
        found = self._lookup(coid)
        if found is None:
            raise BrokerError(
                f"Alpaca says order {coid} exists but cannot find it; check the account by hand"
            )
        return found

    def _lookup(self, coid: str) -> dict[str, Any] | None:
        for attempt in range(self.lookup_attempts):
            try:
                return self.order(coid)
            except OrderRejected:
                raise
            except BrokerError:
                self._sleep(self.backoff * 2**attempt)
        raise BrokerError(
            f"order {coid}: its submission failed and Alpaca could not be asked whether it arrived; "
            "nothing was resent. Step the account again when Alpaca answers (the order id is kept)"
        )

    def _call(self, what: str, fn: Callable[..., Any], *args: Any) -> Any:
        from alpaca.common.exceptions import APIError
        from requests.exceptions import RequestException

        try:
            return fn(*args)
        except APIError as exc:
            status = exc.status_code
            text = redact(f"Alpaca could not {what}: HTTP {status} {_message(exc)}", self._secrets)
            if status is not None and 400 <= status < 500 and status != 429:
                raise OrderRejected(text, status) from None
            raise BrokerError(text) from None
        except RequestException as exc:
            text = redact(f"Alpaca could not {what}: {type(exc).__name__}", self._secrets)
            raise BrokerError(text) from None


def _message(exc: Any) -> str:
    try:
        return str(exc.message)
    except Exception:  # not Alpaca's JSON error body
        return str(exc)[:200]
