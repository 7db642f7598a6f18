"""edgekit: pull, fine-tune, quantize, convert, check and benchmark vision models for edge devices.

The public Python API. Names are imported on first use, so `import edgekit` (and the CLI's
start-up) stays fast:

    from edgekit import ConvertOptions, run_convert
    result = run_convert(ConvertOptions(recipe_path=Path("edgekit.yaml"), target="rpi4"))
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.2.0"

_API = {
    "ConvertOptions": "edgekit.pipeline",
    "run_convert": "edgekit.pipeline",
    "load_recipe": "edgekit.recipe",
    "Recipe": "edgekit.recipe",
    "resolve_source": "edgekit.sources",
    "SourceSettings": "edgekit.sources",
    "Artifact": "edgekit.artifact",
    "FORMATS": "edgekit.convert",
    "ConversionRequest": "edgekit.convert",
    "RUNTIMES": "edgekit.runtimes",
    "load_session": "edgekit.runtimes",
    "resolve_target": "edgekit.targets",
    "analyze": "edgekit.targets",
    "estimate": "edgekit.targets",
    "EdgekitError": "edgekit.errors",
}

__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'edgekit' has no attribute {name!r}")
