"""Facts read from a SavedModel's graph, remembered by the bytes they were computed from.

Reading a SavedModel's graph needs TensorFlow's protobuf classes, and importing TensorFlow costs
seconds on every run, although a cached module's graph never changes. What edgekit reads from it
(the op scan's findings, the serving signature's input size) depends only on saved_model.pb,
keras_metadata.pb, the rules applied (the allowlist, for the scan) and edgekit's version, so it is
kept under the cache folder keyed by those bytes' sha256; any change to one of them reads again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from edgekit import __version__
from edgekit.fsutil import atomic_write_json
from edgekit.paths import cache_root

T = TypeVar("T")
INPUTS = ("saved_model.pb", "keras_metadata.pb")


def scan_key(path: Path, rules: bytes) -> str:
    digest = hashlib.sha256(__version__.encode() + b"\0" + rules)
    for name in INPUTS:
        file = path / name
        digest.update(name.encode() + b"\0" + (file.read_bytes() if file.is_file() else b"-"))
    return digest.hexdigest()


def remembered(
    path: Path,
    rules: bytes,
    scan: Callable[[Path], T],
    dump: Callable[[T], dict[str, Any]],
    load: Callable[[Path, dict[str, Any]], T],
) -> T:
    """SCAN(PATH), or what it gave for the same bytes and RULES before (DUMP/LOAD: to and from JSON)."""
    memo = cache_root() / "scans" / f"{scan_key(path, rules)}.json"
    try:
        return load(path, json.loads(memo.read_text()))
    except (OSError, ValueError, KeyError, TypeError):  # none yet, or unreadable: scan again
        pass
    result = scan(path)
    try:
        atomic_write_json(memo, dump(result))
    except OSError:  # a read-only cache still scans, only every time
        pass
    return result
