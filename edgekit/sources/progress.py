"""Download progress on stderr: a live bar on a terminal, a few plain lines in a CI log."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from edgekit.console import err_console

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

LOG_STEPS = (25, 50, 75, 100)  # percentages printed when stderr is not a terminal


class DownloadProgress:
    """Called as progress(done_bytes, total_bytes_or_None) by download_file after every chunk."""

    def __init__(self, label: str) -> None:
        self.label = label
        self._bar: Progress | None = None
        self._task: TaskID | None = None
        self._logged: set[int] = set()
        self.interactive = sys.stderr.isatty()

    def __call__(self, done: int, total: int | None) -> None:
        if self.interactive:
            self._update_bar(done, total)
        elif total:
            percent = done * 100 // total
            for step in LOG_STEPS:
                if percent >= step and step not in self._logged:
                    self._logged.add(step)
                    err_console.print(
                        f"  downloading {self.label}: {step} % of {_mb(total)}", highlight=False
                    )

    def _update_bar(self, done: int, total: int | None) -> None:
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TransferSpeedColumn,
        )

        if self._bar is None or self._task is None:
            bar = Progress(
                "  downloading",
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                console=err_console,
                transient=True,
            )
            bar.start()
            self._bar, self._task = bar, bar.add_task(self.label, total=total)
        self._bar.update(self._task, completed=done, total=total)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"
