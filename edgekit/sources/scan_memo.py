"""Scan results remembered by the bytes they were computed from.

Reading a SavedModel's graph needs TensorFlow's protobuf classes, and importing TensorFlow costs
seconds on every run, although a cached module's graph never changes. A scan's findings depend
only on saved_model.pb, keras_metadata.pb, the allowlist and edgekit's version, so they are kept
under the cache folder keyed by those bytes' sha256; any change to one of them scans again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

from edgekit import __version__
from edgekit.fsutil import atomic_write_json
from edgekit.paths import cache_root
from edgekit.sources.opscan import ALLOWLIST_PATH, Finding, ScanReport

INPUTS = ("saved_model.pb", "keras_metadata.pb")


def scan_key(path: Path) -> str:
    digest = hashlib.sha256(__version__.encode())
    for name in INPUTS:
        file = path / name
        digest.update(name.encode() + b"\0" + (file.read_bytes() if file.is_file() else b"-"))
    digest.update(ALLOWLIST_PATH.read_bytes())
    return digest.hexdigest()


def remembered_scan(path: Path, scan: Callable[[Path], ScanReport]) -> ScanReport:
    """SCAN(PATH), or the result it gave for the same bytes before."""
    memo = cache_root() / "scans" / f"{scan_key(path)}.json"
    try:
        data = json.loads(memo.read_text())
        return ScanReport(
            path,
            [Finding(**f) for f in data["findings"]],
            int(data["nodes"]),
            int(data["functions"]),
        )
    except (OSError, ValueError, KeyError, TypeError):  # none yet, or unreadable: scan again
        pass
    report = scan(path)
    try:
        atomic_write_json(memo, report.to_dict())
    except OSError:  # a read-only cache still scans, only every time
        pass
    return report
