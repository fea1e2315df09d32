"""Alpaca endpoints and keys as user settings: config, then environment, then defaults; keys from the
environment only, never shown."""

from __future__ import annotations

import io
import logging

import pytest

from trading_playbook.config import parse_config
from trading_playbook.core.errors import ConfigError, SourceError
from trading_playbook.data.alpaca_settings import (
    RedactingFilter,
    load_credentials,
    redact,
    redact_url,
    resolve_endpoints,
)

KEY, SECRET = "PKUNITKEY000111", "unit-secret-abcdefghijklmnop"


def test_keys_from_either_conventional_pair() -> None:
    ours = load_credentials({"ALPACA_API_KEY": KEY, "ALPACA_SECRET_KEY": SECRET})
    theirs = load_credentials({"APCA_API_KEY_ID": KEY, "APCA_API_SECRET_KEY": SECRET})
    assert ours.secrets == theirs.secrets == (KEY, SECRET)
    assert theirs.origin == "APCA_API_KEY_ID/APCA_API_SECRET_KEY"
    both = {
        "ALPACA_API_KEY": KEY,
        "ALPACA_SECRET_KEY": SECRET,
        "APCA_API_KEY_ID": KEY,
        "APCA_API_SECRET_KEY": SECRET,
    }
    assert load_credentials(both).origin == "ALPACA_API_KEY/ALPACA_SECRET_KEY"
    for text in (repr(ours), str(ours), f"{ours}"):
        assert KEY not in text and SECRET not in text


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({}, "ALPACA_API_KEY and ALPACA_SECRET_KEY (or APCA_API_KEY_ID and APCA_API_SECRET_KEY)"),
        ({"ALPACA_API_KEY": KEY}, "ALPACA_SECRET_KEY is not"),
        ({"APCA_API_SECRET_KEY": SECRET}, "APCA_API_KEY_ID is not"),
        (
            {
                "ALPACA_API_KEY": KEY,
                "ALPACA_SECRET_KEY": SECRET,
                "APCA_API_KEY_ID": "PKOTHER",
                "APCA_API_SECRET_KEY": "x",
            },
            "two different Alpaca key pairs",
        ),
    ],
)
def test_missing_or_ambiguous_keys_name_the_variable(environ: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError) as failure:
        load_credentials(environ)
    assert named in str(failure.value)
    assert KEY not in str(failure.value) and SECRET not in str(failure.value)
    with pytest.raises(SourceError):
        load_credentials(environ, error=SourceError)


def test_endpoint_defaults_for_paper_and_live() -> None:
    paper = resolve_endpoints(environ={})
    assert paper.trading.url == "https://paper-api.alpaca.markets" and paper.trading.origin == "default"
    assert paper.trading_stream.url == "wss://paper-api.alpaca.markets/stream"
    assert paper.data_stream_for("iex") == "wss://stream.data.alpaca.markets/v2/iex"
    live = resolve_endpoints(paper=False, environ={})
    assert live.trading.url == "https://api.alpaca.markets" and live.data.url == "https://data.alpaca.markets"


def test_config_beats_environment_beats_default() -> None:
    environ = {
        "APCA_API_BASE_URL": "https://proxy.example.com/alpaca/",
        "APCA_API_DATA_URL": "https://data-proxy.example.com",
        "APCA_API_STREAM_URL": "wss://proxy.example.com/stream",
        "APCA_API_DATA_STREAM_URL": "ws://127.0.0.1:9999",
    }
    from_env = resolve_endpoints(environ=environ)
    assert from_env.trading.url == "https://proxy.example.com/alpaca"  # trailing slash dropped
    assert from_env.trading.origin == "environment variable APCA_API_BASE_URL"
    assert from_env.data_stream_for("sip") == "ws://127.0.0.1:9999/v2/sip"
    from_config = resolve_endpoints(
        {"trading_url": "http://localhost:8080", "data_url": None}, environ=environ
    )
    assert (from_config.trading.url, from_config.trading.origin) == (
        "http://localhost:8080",
        "[broker] trading_url",
    )
    assert from_config.data.url == "https://data-proxy.example.com"
    legacy = resolve_endpoints(environ={"PLAYBOOK_ALPACA_DATA_URL": "http://127.0.0.1:1"})
    assert legacy.data.origin == "environment variable PLAYBOOK_ALPACA_DATA_URL"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"trading_url": "http://proxy.example.com"}, "clear text to proxy.example.com"),
        ({"data_stream_url": "ws://10.0.0.5:80"}, "clear text to 10.0.0.5"),
        ({"trading_stream_url": "https://paper-api.alpaca.markets/stream"}, "not a wss:// URL"),
        ({"data_url": "https://data.alpaca.markets/v2"}, "drop the trailing /v2"),
        ({"trading_url": "https://api.alpaca.markets"}, "LIVE trading API"),
        ({"trading_url": "proxy.example.com"}, "not a https:// URL"),
    ],
)
def test_bad_endpoints_are_refused_with_the_setting_named(settings: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as failure:
        resolve_endpoints(settings, environ={})
    name = next(iter(settings))
    origin = "[data] url" if name == "data_url" else f"[broker] {name}"
    assert message in str(failure.value) and str(failure.value).startswith(origin)


def test_live_setup_pointing_at_paper_is_refused() -> None:
    with pytest.raises(ConfigError, match="paper trading API"):
        resolve_endpoints(paper=False, environ={"APCA_API_BASE_URL": "https://paper-api.alpaca.markets"})


def test_proxy_credentials_in_a_url_are_not_shown() -> None:
    url = "https://user:hunter2@proxy.example.com:8443/alpaca"
    assert redact_url(url) == "https://***@proxy.example.com:8443/alpaca"
    endpoints = resolve_endpoints({"trading_url": url}, environ={})
    assert endpoints.trading.url == url  # the client still gets the real URL
    assert all("hunter2" not in line for line in endpoints.describe())


def test_redacting_filter_scrubs_messages_arguments_and_exceptions() -> None:
    logger = logging.getLogger("test.alpaca.redaction")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    logger.addFilter(RedactingFilter([KEY, SECRET]))
    logger.setLevel(logging.DEBUG)
    try:
        logger.debug("> TEXT %s", {"key_id": KEY, "secret_key": SECRET})
        try:
            raise ValueError(f"auth failed for {KEY}")
        except ValueError:
            logger.exception("stream error")
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert "***" in text and "stream error" in text and "auth failed" in text
    assert KEY not in text and SECRET not in text
    assert redact(f"{KEY}:{SECRET}", [KEY, SECRET]) == "***:***"


def test_broker_table_in_the_config() -> None:
    cfg = parse_config(
        {
            "broker": {"trading_url": "http://127.0.0.1:5000"},
            "data": {"source": "alpaca", "url": "http://127.0.0.1:5001"},
        }
    )
    assert cfg.broker.endpoint_settings(cfg.data.url)["data_url"] == "http://127.0.0.1:5001"
    assert cfg.data_request().url == "http://127.0.0.1:5001"
    assert cfg.to_dict()["broker"]["trading_url"] == "http://127.0.0.1:5000"
    with pytest.raises(ConfigError, match="did you mean 'trading_url'"):
        parse_config({"broker": {"trading_ur": "x"}})
    plain = parse_config({}).to_dict()  # unset connection settings are left out (hashes unchanged)
    assert "broker" not in plain and "url" not in plain["data"]
