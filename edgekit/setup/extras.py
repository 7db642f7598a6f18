"""The optional parts of an install, and the one error a command raises when its part is missing."""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass

from edgekit.errors import NotInstalledError

DISTRIBUTION = "edgekit-ml"
# The TF.js converter is not an extra (its wheel's dependencies do not resolve beside TensorFlow):
# `edgekit setup tfjs` installs this pinned version (setup/tfjs_converter.py). Its version and hint
# live here so that the one missing-part error needs nothing from the installer.
TFJS_VERSION = "4.22.0"
TFJS_HINT = f"run `edgekit setup tfjs` (installs tensorflowjs {TFJS_VERSION} without its unresolvable dependencies; needs the `tf` extra)"


@dataclass(frozen=True)
class Extra:
    name: str
    modules: tuple[str, ...]  # import names whose presence means the extra is installed
    purpose: str

    def missing(self) -> list[str]:
        return [m for m in self.modules if not module_available(m)]

    def install_line(self) -> str:
        return f'pip install "{DISTRIBUTION}[{self.name}]"   (uv: uv add "{DISTRIBUTION}[{self.name}]")'


EXTRAS: dict[str, Extra] = {
    "tf": Extra(
        "tf",
        ("tensorflow", "tf_keras", "tensorflow_hub", "tf2onnx"),
        "pull, train and convert (TensorFlow, tf-keras, tensorflow-hub, tf2onnx)",
    ),
    "viz": Extra(
        "viz",
        ("matplotlib", "tensorboard"),
        "the confusion-matrix PNG and TensorBoard logs of training (skipped without them)",
    ),
    "micro": Extra("micro", ("tflite_micro",), "TensorFlow Lite Micro's interpreter (Linux only)"),
    "release": Extra("release", ("cryptography", "oras"), "signed releases and OCI registries"),
    "ray": Extra("ray", ("ray",), "`convert --executor ray`: matrix cells as tasks on a Ray cluster"),
}

# Extras that `all` leaves out: ray's plain install brings console scripts (`serve`, ...) that fail
# without Ray's own extras, and an `all` install must have no broken command (tests/install).
OUTSIDE_ALL = ("ray",)

# Top-level modules that belong to an extra: a ModuleNotFoundError for one of these anywhere in
# a command means that extra is missing, and the CLI says so instead of printing a traceback.
MODULE_TO_EXTRA = {
    **{m: name for name, extra in EXTRAS.items() for m in extra.modules},
    "tensorflow_estimator": "tf",
    "keras": "tf",
    "tensorflowjs": "tfjs",
}


def module_available(name: str) -> bool:
    if name in sys.modules:
        return sys.modules[name] is not None
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def require_extra(name: str, needed_by: str) -> None:
    """Raise NotInstalledError (exit 2) unless every module of extra `name` can be imported."""
    extra = EXTRAS[name]
    missing = extra.missing()
    if missing:
        raise missing_extra_error(name, needed_by, missing)


def missing_extra_error(name: str, needed_by: str, missing: list[str]) -> NotInstalledError:
    if name == "tfjs":
        return converter_missing_error(needed_by)
    extra = EXTRAS[name]
    return NotInstalledError(
        f"{needed_by} needs the `{name}` extra ({extra.purpose}); not installed in this environment "
        f"({sys.executable}): missing {', '.join(missing)}",
        hint=extra.install_line(),
    )


def converter_missing_error(needed_by: str) -> NotInstalledError:
    return NotInstalledError(
        f"{needed_by} needs the TF.js converter (tensorflowjs), which is not installed", hint=TFJS_HINT
    )


def extra_for_missing_module(exc: ModuleNotFoundError) -> str | None:
    top = (exc.name or "").split(".")[0]
    return MODULE_TO_EXTRA.get(top)
