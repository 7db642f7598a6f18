"""Step bookkeeping: one line per step with its duration, and skip-when-unchanged by input hash.

A step records the hash of its inputs in `<run>/steps/<name>.json` after it succeeds; the next
run skips it when the hash matches and its outputs are still there.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from edgekit.console import err_console
from edgekit.fsutil import atomic_write_json
from edgekit.quiet import quiet_native_stderr


def input_key(*parts: Any) -> str:
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


class StepLog:
    def __init__(self, run_dir: Path, force: bool = False, redo: tuple[str, ...] = ()) -> None:
        self.folder = run_dir / "steps"
        self.force = force
        self.redo = redo  # records named with one of these prefixes are ignored (`--remeasure`: bench)
        self.timings: dict[str, float] = {}

    def _ignored(self, name: str) -> bool:
        return self.force or name.startswith(self.redo)

    def is_done(self, name: str, key: str, outputs: list[Path]) -> bool:
        record = self.folder / f"{name}.json"
        if self._ignored(name) or not record.is_file() or not all(p.exists() for p in outputs):
            return False
        try:
            return json.loads(record.read_text()).get("key") == key
        except ValueError:
            return False

    def recorded(self, name: str, key: str) -> dict[str, Any] | None:
        """The record a finished step left for these inputs (its `info` included), or None."""
        record = self.folder / f"{name}.json"
        if self._ignored(name) or not record.is_file():
            return None
        try:
            data = json.loads(record.read_text())
        except ValueError:
            return None
        return data if isinstance(data, dict) and data.get("key") == key else None

    def mark_done(self, name: str, key: str, info: dict[str, Any] | None = None) -> None:
        atomic_write_json(self.folder / f"{name}.json", {"key": key, "finished": time.time(), **(info or {})})

    @contextmanager
    def step(self, name: str, status: str = "") -> Iterator[Callable[[str], None]]:
        """Run a step under a spinner; yields `note(text)` whose last call becomes the summary."""
        notes: list[str] = []
        start = time.perf_counter()
        with err_console.status(f"[bold]{name}[/] {status}", spinner="dots"), quiet_native_stderr():
            yield notes.append
        took = time.perf_counter() - start
        self.timings[name] = took
        summary = notes[-1] if notes else ""
        err_console.print(f"[green]✓[/] {name:<10} {took:6.1f} s  {summary}", highlight=False)


def progress(text: str) -> None:
    """A line of progress inside a long step (epochs, one conversion of many)."""
    err_console.print(f"  [dim]{text}[/]", highlight=False)
