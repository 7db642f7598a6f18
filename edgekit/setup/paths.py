"""Where edgekit keeps per-user files: the cache root and the tools installed by `edgekit setup`."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """EDGEKIT_CACHE, else $XDG_CACHE_HOME/edgekit, else ~/.cache/edgekit."""
    env = os.environ.get("EDGEKIT_CACHE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "edgekit"


def tools_root() -> Path:
    """EDGEKIT_TOOLS, else ~/.cache/edgekit/tools.

    Kept apart from EDGEKIT_CACHE on purpose: pointing the backbone cache at a scratch folder
    (as CI jobs and tests do) must not make edgekit reinstall its TF.js runner and converter.
    """
    env = os.environ.get("EDGEKIT_TOOLS")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "edgekit" / "tools"
