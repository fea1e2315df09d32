"""A fake Alpaca for tests: real HTTP and WebSocket servers on 127.0.0.1 that alpaca-py reaches through
``url_override``.

- REST (``FakeAlpaca.url``): ``/v2/account``, ``/v2/clock``, ``/v2/calendar``, ``/v2/assets/{symbol}``,
  ``/v2/orders`` (submit, list, cancel all), ``/v2/orders/{id}`` (get, replace, cancel),
  ``/v2/orders:by_client_order_id``, ``/v2/positions`` (list, close all), ``/v2/positions/{symbol}``
  (get, close) and ``/v2/stocks/bars`` (1Day and 1Min, raw/split/all adjustments, pages).
- WebSocket (one port): ``/stream`` (``trade_updates``, JSON) and ``/v2/{feed}`` (bars, msgpack).
- A clock the test drives (``advance_to``), an XNYS calendar with early closes, an order lifecycle
  with ``opg``/``cls``/``day``/``gtc`` semantics against fed bars (``orders.py`` documents the fills),
  and injectable faults (``faults.py``).
- For a real ``playbook`` process (one a test kills): ``process_clock.py`` serves the driven clock
  over HTTP and runs the package's CLI on it.
"""

from .clock import ET, to_utc
from .faults import HttpFault, OrderFault
from .market import Bar, synth_minutes
from .orders import Order
from .server import KEY, SECRET, FakeAlpaca

__all__ = [
    "ET",
    "KEY",
    "SECRET",
    "Bar",
    "FakeAlpaca",
    "HttpFault",
    "Order",
    "OrderFault",
    "synth_minutes",
    "to_utc",
]
