"""What every format plugin shares: the request it receives and the registry it joins.

A format plugin is one module in edgekit/convert/ that registers a `FormatPlugin`: its name, the
quant modes it declares, and a `convert(request) -> Artifact` function. The same signature for
every format keeps the matrix runner format-agnostic.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.artifact import Artifact
from edgekit.errors import ConversionError
from edgekit.registry import Registry


@dataclass
class ConversionRequest:
    reference: Path  # the reference SavedModel folder
    format: str
    quant: str
    out_dir: Path  # the artifact's own folder; the converter writes the model here
    # Representative inputs through the shared preprocessing, float32 [N, H, W, C]; needed by
    # full-integer modes. None means "not available": such modes must fail, never invent data.
    calibration: np.ndarray | None = None
    options: dict[str, Any] = field(default_factory=dict)  # per-format options from the recipe
    metadata: dict[str, Any] = field(default_factory=dict)  # labels, normalization, input spec to embed


@dataclass(frozen=True)
class FormatPlugin:
    name: str
    quant_modes: tuple[str, ...]
    convert: Callable[[ConversionRequest], Artifact]
    description: str = ""
    default_runtime: str = ""
    # Install parts its converter needs (edgekit.setup.extras.require_installed): extras such as
    # "tf", or "tfjs" for the converter that `edgekit setup tfjs` installs.
    requires: tuple[str, ...] = ("tf",)


FORMATS: Registry[FormatPlugin] = Registry("format")


def register_format(plugin: FormatPlugin, aliases: tuple[str, ...] = ()) -> FormatPlugin:
    return FORMATS.register(plugin.name, plugin, description=plugin.description, aliases=aliases)


def declared_mode(fmt: str, quant: str, declared: tuple[str, ...]) -> str:
    """QUANT (any alias) as its canonical name, if format FMT declares it; a ConversionError otherwise."""
    from edgekit.quant import QUANT_MODES

    mode = QUANT_MODES.canonical(quant) if quant in QUANT_MODES else quant
    if mode not in declared:
        raise ConversionError(
            f"{fmt} has no quant mode {quant!r}", hint=f"{fmt} supports: {', '.join(declared)}"
        )
    return mode
