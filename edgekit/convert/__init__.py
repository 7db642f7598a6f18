"""Format plugins: one module per format, one registry (FORMATS), the same signature for all."""

from __future__ import annotations

import importlib

from edgekit.convert.base import (
    FORMATS,
    ConversionRequest,
    FormatPlugin,
    folder_format,
    format_of_file,
    register_format,
    resolve_hook,
    target_runtime,
    unregister_format,
)
from edgekit.plugins import load_plugins

# Each module registers itself on import; heavy imports happen inside its convert function.
PLUGIN_MODULES = ("edgekit.convert.tflite", "edgekit.convert.onnx", "edgekit.convert.tfjs")

for _name in PLUGIN_MODULES:
    try:
        importlib.import_module(_name)
    except (
        ModuleNotFoundError
    ) as exc:  # a plugin not written yet; a missing dependency inside one still raises
        if exc.name != _name:
            raise

# Plugins from outside edgekit (edgekit/plugins.py), after the built-in ones they may build on.
load_plugins()

__all__ = [
    "FORMATS",
    "ConversionRequest",
    "FormatPlugin",
    "folder_format",
    "format_of_file",
    "register_format",
    "resolve_hook",
    "target_runtime",
    "unregister_format",
]
