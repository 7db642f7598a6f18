"""The memory budget of conversion processes: parsing the recipe's limit and reading a process's RSS.

Converters hold several copies of a model's graph and weights at once (tf2onnx's peak is many
times the weight bytes), so a large model can use all of a machine's memory. Conversions run in
worker processes whose resident memory the parent reads from /proc, and a worker that takes the
processes together over the budget is stopped: its row fails and names the limit, instead of the
kernel's OOM killer choosing a victim among the user's programs.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from edgekit.errors import UsageError

AUTO_SHARE = 0.75  # "auto": this share of physical memory for all conversion processes together
_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 1024, "m": 1000**2, "mb": 1000**2, "mib": 1024**2}
_UNITS |= {"g": 1000**3, "gb": 1000**3, "gib": 1024**3, "t": 1000**4, "tb": 1000**4, "tib": 1024**4}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$", re.IGNORECASE)
SIZE_EXAMPLES = "'auto', 'none', or a size such as 4GiB, 2500MB or 3.5GiB"


def parse_memory_limit(value: str | int | None) -> int | None:
    """Bytes for a recipe's `convert.memory_limit`; None for 'none' (no limit)."""
    if value is None or (isinstance(value, str) and value.strip().lower() == "none"):
        return None
    if isinstance(value, int):
        if value <= 0:
            raise UsageError(f"convert.memory_limit must be positive, got {value}", hint=SIZE_EXAMPLES)
        return value
    if value.strip().lower() == "auto":
        total = physical_memory()
        return int(total * AUTO_SHARE) if total else None
    m = _SIZE.match(value)
    unit = m.group(2).lower() if m else ""
    if m is None or unit not in _UNITS or float(m.group(1)) <= 0:
        raise UsageError(f"convert.memory_limit: cannot read {value!r} as a size", hint=SIZE_EXAMPLES)
    return int(float(m.group(1)) * _UNITS[unit])


def physical_memory() -> int | None:
    """Bytes of physical memory, or None where the platform does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def resident_bytes(pid: int) -> int | None:
    """Resident memory of process PID (Linux /proc), or None when it cannot be read (gone, or no /proc)."""
    try:
        fields = Path(f"/proc/{pid}/statm").read_text().split()
        return int(fields[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, IndexError, ValueError):
        return None


def descendants(pid: int) -> list[int]:
    """The processes PID started, and theirs, from /proc/PID/task/*/children (Linux); [] where unreadable."""
    found: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        try:
            tasks = list(Path(f"/proc/{parent}/task").iterdir())
        except OSError:
            continue
        for task in tasks:
            try:
                children = [int(c) for c in (task / "children").read_text().split()]
            except (OSError, ValueError):
                continue
            found.extend(children)
            todo.extend(children)
    return found


def tree_resident_bytes(pid: int) -> int | None:
    """Resident memory of PID and every process below it: a converter may do part of its work in a
    process of its own, and that process's memory counts against the same limit."""
    own = resident_bytes(pid)
    if own is None:
        return None
    return own + sum(resident_bytes(child) or 0 for child in descendants(pid))


def reset_peak() -> None:
    """Start a new peak-RSS window for this process (Linux 4.0+; elsewhere the peak is the process's)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def peak_bytes() -> int | None:
    """This process's peak resident memory since start or the last reset_peak()."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def format_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1024
    return f"{n:.2f} GiB"
