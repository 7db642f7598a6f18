"""A TFLite converter for the reference that loads the SavedModel into Python only where it must.

`tf.lite.TFLiteConverter.from_saved_model` loads the SavedModel with tf.saved_model.load to list
its signatures, and `convert()` loads it again only to read its graph_debug_info (source locations
for error messages); the conversion itself reads the files in C++. Converting five quant modes
therefore loaded the reference ten times, and each load held every weight as a TF variable while
the C++ conversion held them again. Here the signature is known ("serving_default"), so the
converter is built directly. The debug info comes from the SavedModel's debug/ file: a SavedModel
saved without one (edgekit's references are) has empty debug info, which is what the load gives
too, so nothing is loaded; one with a debug file is loaded once per process
(edgekit/convert/saved_model_memo.py), as the debug info's function names are the loaded ones.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from edgekit.convert.saved_model_memo import SERVE, shared_load

SIGNATURE = "serving_default"


def saved_model_converter(saved_model: Path) -> Any:
    """What TFLiteConverter.from_saved_model(saved_model, [SIGNATURE]) returns, without loading the model."""
    import tensorflow as tf
    from tensorflow.lite.python import lite

    # from_saved_model records the source kind in the model's conversion metadata; so do we
    lite.TFLiteConverterBase._set_original_model_type(  # noqa: SLF001
        lite.conversion_metadata_fb.ModelType.TF_SAVED_MODEL
    )
    converter = lite.TFLiteSavedModelConverterV2(str(saved_model), set(SERVE), [SIGNATURE])
    if not converter.saved_model_dir:  # TensorFlow chose its function-based path: let it load as it does
        return tf.lite.TFLiteConverter.from_saved_model(str(saved_model), signature_keys=[SIGNATURE])
    return converter


def has_debug_info(saved_model: str | Path) -> bool:
    """Was SAVED_MODEL saved with its debug info (tf.saved_model.SaveOptions(save_debug_info=True))?"""
    from tensorflow.python.saved_model import constants, path_helpers

    return Path(path_helpers.get_debug_dir(str(saved_model)), constants.DEBUG_INFO_FILENAME_PB).exists()


def debug_info_source(export_dir: str | Path, tags: Any = None) -> Any:
    """What the converter's `_load(export_dir, tags)` is used for: an object with its graph_debug_info.

    Without a debug file, tf.saved_model.load gives an empty GraphDebugInfo: so does this, unloaded."""
    if has_debug_info(export_dir):
        return shared_load(export_dir, tags)
    from tensorflow.core.framework import graph_debug_info_pb2

    return SimpleNamespace(graph_debug_info=graph_debug_info_pb2.GraphDebugInfo())


@contextlib.contextmanager
def loaded_once() -> Iterator[None]:
    """While converting: the converter's own SavedModel load is answered by `debug_info_source`."""
    from tensorflow.lite.python import lite

    original = lite._load  # noqa: SLF001
    lite._load = debug_info_source  # noqa: SLF001
    try:
        yield
    finally:
        lite._load = original  # noqa: SLF001
