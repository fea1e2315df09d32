"""What a run's data went through: the repairs, warnings and missing symbols ``result.json`` lists."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["run_notes"]


def run_notes(
    info: dict[str, Any], symbols: Sequence[str], loaded: Sequence[str], last_session: str
) -> dict[str, Any]:
    """What the data layer changed or flagged, for ``result.json`` ``data`` (nothing changes silently).

    ``repairs`` (every repaired row of the run's ``symbols``, and of symbols repair dropped entirely:
    not among the ``loaded`` ones), ``warnings`` of the run's symbols up to the last session, and
    ``missing_symbols`` and ``incomplete`` when an incomplete cached source was allowed.
    """
    held, present = set(symbols), set(loaded)
    notes: dict[str, Any] = {
        "repairs": [
            r for r in info.get("repairs", []) if r.get("symbol") in held or r.get("symbol") not in present
        ],
        "warnings": [
            w
            for w in info.get("warnings", [])
            if w.get("symbol") in held and w.get("date", "") <= last_session
        ],
    }
    for key in ("missing_symbols", "incomplete"):
        if info.get(key):
            notes[key] = list(info[key])
    return notes
