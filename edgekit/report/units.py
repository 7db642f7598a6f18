"""One unit system in every report (tables, charts, Markdown, HTML, the terminal summary): binary
units written KiB/MiB/GiB, so that a table's "8.6 MiB" and a chart axis in MiB are the same number."""

from __future__ import annotations

SIZE_UNITS = (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10))


def size_unit(n: float) -> tuple[str, int]:
    """The largest binary unit in which N is at least 1 (KiB below that), as (name, bytes)."""
    return next(((u, b) for u, b in SIZE_UNITS if n >= b), SIZE_UNITS[-1])
