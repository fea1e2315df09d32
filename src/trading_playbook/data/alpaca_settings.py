"""Where the platform reaches Alpaca, and with which keys: user settings, never code.

Endpoints
---------
Four URLs, each resolved in this order: the config (``[data] url`` for market-data REST, ``[broker]``
for the rest), then the conventional environment variable, then Alpaca's default:

=================  ========================  ===========================================================
setting            environment variable      default (paper / live)
=================  ========================  ===========================================================
trading_url        ``APCA_API_BASE_URL``     ``https://paper-api.alpaca.markets`` / ``https://api.alpaca.markets``
data_url           ``APCA_API_DATA_URL``     ``https://data.alpaca.markets``
trading_stream_url ``APCA_API_STREAM_URL``   ``wss://paper-api.alpaca.markets/stream`` / ``wss://api.alpaca.markets/stream``
data_stream_url    ``APCA_API_DATA_STREAM_URL`` ``wss://stream.data.alpaca.markets`` (``/v2/{feed}`` is appended)
=================  ========================  ===========================================================

REST URLs are base URLs (alpaca-py appends ``/v2/...``); ``PLAYBOOK_ALPACA_DATA_URL`` is still read as
an older name of ``APCA_API_DATA_URL``. Keys travel in headers and the stream handshake, so a URL in
clear text (``http://``, ``ws://``) is accepted only for a loopback host (a local proxy or test server);
a paper setup pointing at the live trading host, or the reverse, is refused.

Keys
----
Only from the environment: ``ALPACA_API_KEY`` and ``ALPACA_SECRET_KEY``, or Alpaca's conventional
``APCA_API_KEY_ID`` and ``APCA_API_SECRET_KEY``. When both pairs are set they must agree. The key
values go into request headers and the stream handshake and nowhere else: :class:`Credentials` hides
them from ``repr``, :func:`redact` scrubs them from any text leaving the adapter (error messages), and
:class:`RedactingFilter` from log records of the loggers that could see them.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from trading_playbook.core.errors import ConfigError, PlaybookError

__all__ = [
    "ENDPOINT_VARIABLES",
    "KEY_PAIRS",
    "AlpacaEndpoints",
    "Credentials",
    "Endpoint",
    "RedactingFilter",
    "load_credentials",
    "redact",
    "redact_url",
    "resolve_endpoint",
    "resolve_endpoints",
]

KEY_PAIRS = (("ALPACA_API_KEY", "ALPACA_SECRET_KEY"), ("APCA_API_KEY_ID", "APCA_API_SECRET_KEY"))
ENDPOINT_VARIABLES: dict[str, tuple[str, ...]] = {
    "trading_url": ("APCA_API_BASE_URL",),
    "data_url": ("APCA_API_DATA_URL", "PLAYBOOK_ALPACA_DATA_URL"),
    "trading_stream_url": ("APCA_API_STREAM_URL",),
    "data_stream_url": ("APCA_API_DATA_STREAM_URL",),
}
_DEFAULTS = {
    ("trading_url", True): "https://paper-api.alpaca.markets",
    ("trading_url", False): "https://api.alpaca.markets",
    ("trading_stream_url", True): "wss://paper-api.alpaca.markets/stream",
    ("trading_stream_url", False): "wss://api.alpaca.markets/stream",
    ("data_url", True): "https://data.alpaca.markets",
    ("data_url", False): "https://data.alpaca.markets",
    ("data_stream_url", True): "wss://stream.data.alpaca.markets",
    ("data_stream_url", False): "wss://stream.data.alpaca.markets",
}
_LIVE_HOST, _PAPER_HOST = "api.alpaca.markets", "paper-api.alpaca.markets"
_CONFIG_KEY = {
    "trading_url": "[broker] trading_url",
    "data_url": "[data] url",
    "trading_stream_url": "[broker] trading_stream_url",
    "data_stream_url": "[broker] data_stream_url",
}


# ---------------------------------------------------------------------- keys


@dataclass(frozen=True)
class Credentials:
    """An Alpaca key pair read from the environment; ``repr`` names the variables, never the values."""

    key_id: str = field(repr=False)
    secret: str = field(repr=False)
    origin: str = ""

    def __repr__(self) -> str:
        return f"Credentials(from {self.origin})"

    __str__ = __repr__

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self.key_id, self.secret)


def load_credentials(
    environ: Mapping[str, str] | None = None, *, error: type[PlaybookError] = ConfigError
) -> Credentials:
    """The key pair from the environment, or ``error`` naming exactly what is missing or ambiguous."""
    env = os.environ if environ is None else environ
    found: list[tuple[str, str, Credentials]] = []
    for key_var, secret_var in KEY_PAIRS:
        key, secret = env.get(key_var, "").strip(), env.get(secret_var, "").strip()
        if key and secret:
            found.append((key_var, secret_var, Credentials(key, secret, f"{key_var}/{secret_var}")))
        elif key or secret:
            missing = secret_var if key else key_var
            present = key_var if key else secret_var
            raise error(
                f"Alpaca keys incomplete: {present} is set but {missing} is not; set both in the environment "
                "(keys are read from the environment only, never from files or options)"
            )
    if not found:
        (k1, s1), (k2, s2) = KEY_PAIRS
        raise error(
            f"Alpaca keys missing: set the environment variables {k1} and {s1} (or {k2} and {s2}); "
            "they are read from the environment only, never from files or options"
        )
    if len(found) == 2 and found[0][2].secrets != found[1][2].secrets:
        raise error(
            f"two different Alpaca key pairs are set ({found[0][2].origin} and {found[1][2].origin}); "
            "unset one pair so it is clear which account is used"
        )
    return found[0][2]


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every occurrence of each secret replaced by ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


class RedactingFilter(logging.Filter):
    """Rewrites log records so the given secrets never reach a handler.

    Attach it to a logger (it then sees that logger's own records) or to a handler (every record it
    emits). The record's message is formatted once, scrubbed, and its arguments dropped.
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = tuple(s for s in secrets if s)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message, self.secrets)
        if clean != message or record.args:
            record.msg, record.args = clean, ()
        if record.exc_info and record.exc_info[1] is not None:
            text = redact(str(record.exc_info[1]), self.secrets)
            if text != str(record.exc_info[1]):
                record.exc_info, record.exc_text = None, None
                record.msg = f"{record.msg} ({text})"
        return True


# ---------------------------------------------------------------------- endpoints


@dataclass(frozen=True)
class Endpoint:
    """One resolved URL and where it came from (for logs and error messages)."""

    url: str
    origin: str

    def __str__(self) -> str:
        return f"{redact_url(self.url)} ({self.origin})"


@dataclass(frozen=True)
class AlpacaEndpoints:
    """The four resolved URLs of one setup (paper or live)."""

    trading: Endpoint
    data: Endpoint
    trading_stream: Endpoint
    data_stream: Endpoint
    paper: bool = True

    def data_stream_for(self, feed: str) -> str:
        """The market-data stream URL of ``feed`` (``iex`` or ``sip``), as alpaca-py expects it."""
        return f"{self.data_stream.url.rstrip('/')}/v2/{feed.lower()}"

    def describe(self) -> list[str]:
        return [
            f"trading REST: {self.trading}",
            f"trading stream: {self.trading_stream}",
            f"market data REST: {self.data}",
            f"market data stream: {self.data_stream}",
        ]


def resolve_endpoints(
    settings: Mapping[str, str | None] | None = None,
    *,
    paper: bool = True,
    environ: Mapping[str, str] | None = None,
) -> AlpacaEndpoints:
    """Resolve the four URLs: ``settings`` (from the config), then the environment, then the defaults.

    ``settings`` maps ``trading_url``, ``data_url``, ``trading_stream_url`` and ``data_stream_url`` to a
    URL or None. Every URL is checked (scheme, host, no trailing ``/v2``, clear text only to loopback);
    errors name the setting or variable to fix.
    """
    given = dict(settings or {})
    unknown = sorted(set(given) - set(ENDPOINT_VARIABLES))
    if unknown:
        raise ConfigError(f"unknown Alpaca endpoint setting(s) {unknown}; use {sorted(ENDPOINT_VARIABLES)}")
    chosen = {
        name: resolve_endpoint(name, given.get(name), paper=paper, environ=environ)
        for name in ENDPOINT_VARIABLES
    }
    return AlpacaEndpoints(
        chosen["trading_url"],
        chosen["data_url"],
        chosen["trading_stream_url"],
        chosen["data_stream_url"],
        paper,
    )


def resolve_endpoint(
    name: str, value: str | None = None, *, paper: bool = True, environ: Mapping[str, str] | None = None
) -> Endpoint:
    """One URL: ``value`` (from the config) if set, else its environment variable, else the default."""
    env = os.environ if environ is None else environ
    origin = _CONFIG_KEY[name]
    if not value:
        variable = next((v for v in ENDPOINT_VARIABLES[name] if env.get(v, "").strip()), None)
        value, origin = (
            (env[variable].strip(), f"environment variable {variable}") if variable else (None, "")
        )
    if not value:
        value, origin = _DEFAULTS[(name, paper)], "default"
    endpoint = Endpoint(_checked(value, name, origin), origin)
    if name in ("trading_url", "trading_stream_url"):
        _check_mode(endpoint, paper)
    return endpoint


def redact_url(url: str) -> str:
    """``url`` without a ``user:password@`` part (a proxy's credentials)."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _checked(url: str, name: str, origin: str) -> str:
    stream = name.endswith("stream_url")
    secure, plain = ("wss", "ws") if stream else ("https", "http")
    parts = urlsplit(url)
    where = f"{origin} = {redact_url(url)!r}"
    if parts.scheme not in (secure, plain) or not parts.hostname:
        raise ConfigError(f"{where} is not a {secure}:// URL with a host (e.g. {_DEFAULTS[(name, True)]})")
    if parts.scheme == plain and not _loopback(parts.hostname):
        raise ConfigError(
            f"{where} would send the Alpaca keys in clear text to {parts.hostname}; use {secure}://, "
            "or a proxy on this machine (localhost / 127.0.0.1)"
        )
    if not stream and parts.path.rstrip("/").endswith("/v2"):
        raise ConfigError(f"{where}: drop the trailing /v2 (the client adds the API version)")
    return url.rstrip("/") if not stream else url


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_mode(endpoint: Endpoint, paper: bool) -> None:
    host = urlsplit(endpoint.url).hostname
    if paper and host == _LIVE_HOST:
        raise ConfigError(
            f"{endpoint.origin} points at the LIVE trading API ({host}) but the account is a paper account; "
            f"use {_PAPER_HOST} for paper trading"
        )
    if not paper and host == _PAPER_HOST:
        raise ConfigError(
            f"{endpoint.origin} points at the paper trading API ({host}) but live trading was asked for; "
            f"use {_LIVE_HOST}, or trade on paper"
        )
