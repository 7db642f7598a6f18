"""Check the install parts a format's converter needs: extras, and the TF.js converter.

Its own module so that extras.py (the table every command consults) never imports the converter
installer, which itself builds on extras.py.
"""

from __future__ import annotations

from collections.abc import Sequence

from edgekit.setup.extras import require_extra
from edgekit.setup.tfjs_converter import require_converter


def require_installed(parts: Sequence[str], needed_by: str) -> None:
    """Raise NotInstalledError for the first missing part: an extra name or "tfjs" (the converter)."""
    for part in parts:
        if part == "tfjs":
            require_converter(needed_by)
        else:
            require_extra(part, needed_by)
