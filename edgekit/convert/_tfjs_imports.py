"""Import the tensorflowjs SavedModel → graph model converter without its unresolvable extras.

tensorflowjs 4.22 (its last release) imports two optional modules at import time that
`edgekit setup tfjs` installs it without (see edgekit/setup/tfjs_converter.py):

- `tensorflow_decision_forests`: imported unconditionally by
  `tensorflowjs/converters/tf_saved_model_conversion_v2.py` only to support TF-DF ops, and its
  wheels pin an older TensorFlow, so it cannot be installed beside TF 2.21;
- `tensorflowjs.converters.jax_conversion`: imported by `tensorflowjs/converters/__init__.py`; it
  imports `jax`, which is not installed. We never fake `jax` itself: Keras imports it if present.

Upstream: https://github.com/tensorflow/tfjs/issues/8655 (tensorflowjs 4.22 with TF 2.20 / current
JAX: the tensorflow_decision_forests and JAX imports break the converter) and
https://github.com/tensorflow/tfjs/issues/8301 (the TF-DF dependency conflict). Drop this module
when a tensorflowjs release makes both imports optional.

The placeholders live in `sys.modules` only while the converter is imported. The converter keeps
its own references, and removing them afterwards keeps the rest of the process honest: code that
later probes for TF-DF or the JAX converter sees that they are not installed.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import sys
import types

from edgekit.convert.tfjs_fold import install as install_fold

TFDF = "tensorflow_decision_forests"
JAX_CONVERSION = "tensorflowjs.converters.jax_conversion"
CONVERTER = "tensorflowjs.converters.tf_saved_model_conversion_v2"
FOLD_MODULE = "tensorflowjs.converters.fold_batch_norms"
PLACEHOLDER_ATTR = "__edgekit_placeholder__"


def import_tfjs_converter() -> types.ModuleType:
    """Return tensorflowjs's SavedModel converter module; safe to call any number of times."""
    if CONVERTER in sys.modules:
        return sys.modules[CONVERTER]
    from edgekit.setup.tfjs_converter import require_converter

    require_converter("TF.js conversion")  # puts `edgekit setup tfjs`'s folder on sys.path
    installed = [name for name in _missing_modules() if _install_placeholder(name)]
    try:
        converter = importlib.import_module(CONVERTER)
        # the same batch-norm folding, without its per-element Python loop (edgekit/convert/tfjs_fold.py)
        install_fold(importlib.import_module(FOLD_MODULE))
        return converter
    finally:
        for name in installed:
            if getattr(sys.modules.get(name), PLACEHOLDER_ATTR, False):
                del sys.modules[name]


def _missing_modules() -> list[str]:
    missing = []
    if TFDF not in sys.modules and importlib.util.find_spec(TFDF) is None:
        missing.append(TFDF)
    # jax_conversion's own file is always there; what it cannot import is jax. Probing it with
    # find_spec would import tensorflowjs.converters, which is exactly the import that fails.
    if JAX_CONVERSION not in sys.modules and importlib.util.find_spec("jax") is None:
        missing.append(JAX_CONVERSION)
    return missing


def _install_placeholder(name: str) -> bool:
    if name in sys.modules:
        return False
    module = types.ModuleType(name, f"edgekit placeholder for {name}, which is not installed.")
    # A real spec keeps importlib.util.find_spec(name) from raising while the placeholder is there.
    module.__spec__ = importlib.machinery.ModuleSpec(name, loader=None)
    setattr(module, PLACEHOLDER_ATTR, True)
    if name == JAX_CONVERSION:
        module.convert_jax = _convert_jax_unavailable  # type: ignore[attr-defined]
    sys.modules[name] = module
    return True


def _convert_jax_unavailable(*args: object, **kwargs: object) -> None:
    raise ImportError("tensorflowjs's JAX converter needs jax, which edgekit does not install")
