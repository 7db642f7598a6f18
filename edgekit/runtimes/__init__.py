"""Runtime plugins: load an artifact and run it. Parity and bench both use these."""

from __future__ import annotations

import importlib

from edgekit.artifact import Artifact
from edgekit.errors import RuntimeLoadError
from edgekit.plugins import load_plugins
from edgekit.runtimes.base import RUNTIMES, RuntimePlugin, Session, register_runtime

PLUGIN_MODULES = (
    "edgekit.runtimes.litert",
    "edgekit.runtimes.onnxruntime",
    "edgekit.runtimes.tfjs",
    "edgekit.runtimes.tflm",
)

for _name in PLUGIN_MODULES:
    try:
        importlib.import_module(_name)
    except ModuleNotFoundError as exc:
        if exc.name != _name:
            raise


# Plugins from outside edgekit (edgekit/plugins.py), after the built-in ones they may build on.
load_plugins()


def runtime_for(artifact: Artifact, name: str | None = None) -> RuntimePlugin:
    """The named runtime, else the format's default runtime, else any registered one for the format."""
    if not name:
        from edgekit.convert import FORMATS

        if artifact.format in FORMATS:
            name = FORMATS.get(artifact.format).default_runtime or None
    if name:
        plugin = RUNTIMES.get(name)
        if artifact.format not in plugin.formats:
            raise RuntimeLoadError(
                f"runtime {plugin.name} cannot run {artifact.format} artifacts (it runs {', '.join(plugin.formats)})"
            )
        return plugin
    for entry in RUNTIMES:
        if artifact.format in entry.value.formats:
            return entry.value
    raise RuntimeLoadError(f"no runtime registered for format {artifact.format!r}")


def load_session(artifact: Artifact, threads: int, runtime: str | None = None) -> Session:
    return runtime_for(artifact, runtime).load(artifact, threads)


__all__ = ["RUNTIMES", "RuntimePlugin", "Session", "register_runtime", "runtime_for", "load_session"]
