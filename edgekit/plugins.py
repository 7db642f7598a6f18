"""Format and runtime plugins from outside edgekit, known to every edgekit process.

edgekit measures each artifact in a fresh worker process and may convert in worker processes, so
a format registered only in the calling process would be unknown where it is converted or
measured. EDGEKIT_PLUGINS names, comma-separated, what registers the outside plugins:
"package.module:function" (the function is called with no arguments) or "package.module" (its
import registers them). Every edgekit process loads each one once, when its format or runtime
registry is first imported; workers inherit the variable.
"""

from __future__ import annotations

import importlib
import os

from edgekit.errors import UsageError

ENV = "EDGEKIT_PLUGINS"
_loaded: set[str] = set()


def plugin_refs(value: str | None = None) -> list[str]:
    raw = os.environ.get(ENV, "") if value is None else value
    return [r.strip() for r in raw.split(",") if r.strip()]


def load_plugins() -> None:
    """Load every plugin EDGEKIT_PLUGINS names that this process has not loaded yet."""
    for ref in plugin_refs():
        if ref in _loaded:
            continue
        # Marked before it runs: a plugin's registration imports the registries, which call this again.
        _loaded.add(ref)
        module, _, attr = ref.partition(":")
        try:
            loaded = importlib.import_module(module)
            register = getattr(loaded, attr) if attr else None
        except (ImportError, AttributeError) as exc:
            _loaded.discard(ref)
            raise UsageError(
                f"{ENV}: cannot load plugin {ref!r}: {exc}",
                hint=f'{ENV} takes "package.module:function" or "package.module" entries, '
                "importable by the Python that runs edgekit",
            ) from None
        if register is not None:
            register()
