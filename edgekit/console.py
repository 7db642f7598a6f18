"""The two rich consoles: stdout for results, stderr for progress and errors.

When output is not a terminal (CI logs, pipes) rich would assume 80 columns and fold the summary
table into unreadable cells, so a wider fixed width is used there.
"""

import sys

from rich.console import Console


def _width(stream) -> int | None:
    return None if stream.isatty() else 160


console = Console(highlight=False, width=_width(sys.stdout))
err_console = Console(stderr=True, highlight=False, width=_width(sys.stderr))
