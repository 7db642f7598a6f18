"""What every format plugin shares: the request it receives and the registry it joins.

A format plugin is one module in edgekit/convert/ that registers a `FormatPlugin`: its name, the
quant modes it declares, and a `convert(request) -> Artifact` function. The same signature for
every format keeps the matrix runner format-agnostic.
"""

from __future__ import annotations

import importlib
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


# A capability implemented outside the format's module: a callable, or "package.module:function"
# imported when first used, so that declaring it imports neither the libraries it needs nor the
# layer it lives in (graph analysis is in edgekit.targets, above edgekit.convert).
Hook = Callable[..., Any] | str


@dataclass(frozen=True)
class FormatPlugin:
    """Everything edgekit knows about one format: the one place a format's facts live.

    The matrix, bench, estimate, report and bundle ask this record; none of them names a format.
    Importing it must not import the format's libraries: the converter and the hooks do that
    when called (the light install runs bench, targets, report and bundle without TensorFlow).
    """

    name: str
    quant_modes: tuple[str, ...]
    convert: Callable[[ConversionRequest], Artifact]
    description: str = ""
    default_runtime: str = ""  # the runtime (edgekit.runtimes name) parity and bench use by default
    # Install parts its converter needs (edgekit.setup.requires.require_installed): extras such as
    # "tf", or "tfjs" for the converter that `edgekit setup tfjs` installs.
    requires: tuple[str, ...] = ("tf",)
    label: str = ""  # the name people know it by, for messages ("TF.js"); defaults to name
    # ---- the artifact on disk
    model_file: str = ""  # the file the converter writes into the artifact folder ("model.tflite")
    suffixes: tuple[str, ...] = ()  # a bare file whose name ends so is this format (".tflite")
    # The model file is one of a folder of files (TF.js: model.json + weight shards): the artifact's
    # sha256 covers the folder, so the model file alone is never checked against it.
    folder: bool = False
    # ---- what the other steps can do with it
    target_runtimes: tuple[str, ...] = ()  # runtimes as target profiles name them, preferred first
    analysis: Hook | None = None  # (model file) -> GraphAnalysis: latency and memory estimates
    # No graph reader of its own: estimated from the same reference's fp32 TFLite graph.
    estimated_from_tflite: bool = False
    op_support: Hook | None = None  # (GraphAnalysis, target runtime) -> sorted op types it lacks
    describe: Hook | None = None  # (bare model file) -> (inputs, outputs) TensorSpecs, for `edgekit bench`
    c_array: bool = False  # the bundle also carries it as a C array for firmware (firmware/*.h, *.cc)
    on_devices: bool = False  # the device agent's Python runtimes can measure it (`--device`)

    @property
    def display(self) -> str:
        return self.label or self.name


FORMATS: Registry[FormatPlugin] = Registry("format")


def register_format(plugin: FormatPlugin, aliases: tuple[str, ...] = ()) -> FormatPlugin:
    return FORMATS.register(plugin.name, plugin, description=plugin.description, aliases=aliases)


def unregister_format(name: str) -> FormatPlugin:
    return FORMATS.unregister(name)


def resolve_hook(hook: Hook) -> Callable[..., Any]:
    """HOOK itself, or the function a "package.module:function" string names (imported now)."""
    if callable(hook):
        return hook
    module, _, attr = hook.partition(":")
    return getattr(importlib.import_module(module), attr)


def format_of_file(path: Path) -> str | None:
    """The format whose suffix PATH's name ends with; None when no registered format claims it."""
    name = path.name.lower()
    return next((e.name for e in FORMATS if any(name.endswith(s) for s in e.value.suffixes)), None)


def folder_format(folder: Path, *, alone: bool = False) -> str | None:
    """The folder-layout format (TF.js) whose model file FOLDER holds; None if none. ALONE: also
    None when FOLDER holds a model file of a single-file format beside it. (An artifact folder
    says its format in artifact.json; this is for folders without one.)"""
    single = [e.value for e in FORMATS if not e.value.folder]
    if alone and any(any(folder.glob(f"*{s}")) for p in single for s in p.suffixes):
        return None
    return next((e.name for e in FORMATS if e.value.folder and (folder / e.value.model_file).is_file()), None)


def target_runtime(fmt: str, runtimes: list[str] | tuple[str, ...]) -> str | None:
    """The first of FMT's target runtimes that RUNTIMES (a target profile's) lists; None if none."""
    plugin = FORMATS.get(fmt) if fmt in FORMATS else None
    return next((r for r in plugin.target_runtimes if r in runtimes), None) if plugin else None


def declared_mode(fmt: str, quant: str, declared: tuple[str, ...]) -> str:
    """QUANT (any alias) as its canonical name, if format FMT declares it; a ConversionError otherwise."""
    from edgekit.quant import QUANT_MODES

    mode = QUANT_MODES.canonical(quant) if quant in QUANT_MODES else quant
    if mode not in declared:
        raise ConversionError(
            f"{fmt} has no quant mode {quant!r}", hint=f"{fmt} supports: {', '.join(declared)}"
        )
    return mode
