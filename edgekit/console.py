"""The two rich consoles: stdout for results, stderr for progress and errors."""

from rich.console import Console

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)
