"""``playbook serve``: the read-only web dashboard over the run registry, research and paper accounts."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["register", "serve_command"]


def serve_command(
    host: Annotated[
        str, typer.Option("--host", help="Address to bind. Anything but loopback needs --token.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.", min=1, max=65535)] = 8765,
    home: Annotated[
        Path | None,
        typer.Option(
            "--home", help="Playbook home to show (default: $PLAYBOOK_HOME or the user data folder)."
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            help="Access token every request must carry (default: $PLAYBOOK_SERVE_TOKEN). Required off loopback.",
            show_default=False,
        ),
    ] = None,
    data_root: Annotated[
        Path | None,
        typer.Option("--data-root", help="Folder that runs' relative data paths start from (default: here)."),
    ] = None,
    poll: Annotated[
        float,
        typer.Option("--poll", help="Seconds between refreshes of an open paper-account page.", min=0.5),
    ] = 5.0,
) -> None:
    """Serve the dashboard: runs, compare, trades, research and paper accounts, read-only."""
    from trading_playbook.core.errors import PlaybookError
    from trading_playbook.history import registry_path

    try:
        import uvicorn

        from trading_playbook.web.app import ServeSettings, create_app
        from trading_playbook.web.security import TOKEN_ENV, check_bind
    except ImportError as exc:
        raise PlaybookError(
            f"playbook serve needs the web extra ({exc.name} is missing): pip install 'trading-playbook[web]'"
        ) from exc

    secret = token if token is not None else (os.environ.get(TOKEN_ENV) or None)
    check_bind(host, secret)
    where = home if home is not None else registry_path().parent
    settings = ServeSettings(
        home=where.expanduser().resolve(),
        host=host,
        token=secret,
        data_root=(data_root or Path.cwd()).resolve(),
        poll_seconds=poll,
    )
    _check_port(host, port)
    app = create_app(settings)
    shown = f"[{host}]" if ":" in host else host
    typer.echo(
        f"Trading Playbook dashboard on http://{shown}:{port}/ (home {settings.home}"
        f"{', access token required' if secret else ''}); Ctrl+C stops it."
    )
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)


def _check_port(host: str, port: int) -> None:
    """A one-line error when the address cannot be bound (in use, or not an address of this machine)."""
    import socket

    from trading_playbook.core.errors import PlaybookError

    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
            probe.bind((host.strip("[]"), port))
    except OSError as exc:
        raise PlaybookError(
            f"cannot listen on {host}:{port} ({exc.strerror}); pick another --port or --host"
        ) from exc


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the root app."""
    app.command("serve")(serve_command)
