"""Where edgekit keeps per-user files: one home for the cache folders every part uses."""

from __future__ import annotations

import os
from pathlib import Path


def user_cache_base() -> Path:
    """$XDG_CACHE_HOME/edgekit, else ~/.cache/edgekit: the parent of edgekit's own caches."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "edgekit"


def cache_root() -> Path:
    """The model cache: EDGEKIT_CACHE, else user_cache_base()."""
    env = os.environ.get("EDGEKIT_CACHE")
    return Path(env).expanduser() if env else user_cache_base()


def tools_root() -> Path:
    """What `edgekit setup` installs: EDGEKIT_TOOLS, else user_cache_base()/tools.

    Kept apart from EDGEKIT_CACHE on purpose: pointing the backbone cache at a scratch folder
    (as CI jobs and tests do) must not make edgekit reinstall its TF.js runner and converter.
    """
    env = os.environ.get("EDGEKIT_TOOLS")
    return Path(env).expanduser() if env else user_cache_base() / "tools"
