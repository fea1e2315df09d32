"""`playbook` commands of this group (filled in by the group's owner)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this group's commands to the root app."""
