"""A TFLite converter for the reference that loads the SavedModel into Python once per process.

`tf.lite.TFLiteConverter.from_saved_model` loads the SavedModel with tf.saved_model.load to list
its signatures, and `convert()` loads it again only to read its graph_debug_info (source locations
for error messages); the conversion itself reads the files in C++. Converting five quant modes
therefore loaded the reference ten times. Here the signature is known ("serving_default"), so the
converter is built directly, and the debug-info load is answered from the process's one load
(edgekit/convert/saved_model_memo.py).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from edgekit.convert.saved_model_memo import SERVE, loads_shared

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


def loaded_once() -> contextlib.AbstractContextManager[None]:
    """While converting: the converter's own SavedModel load comes from one load per process."""
    from tensorflow.lite.python import lite

    return loads_shared(lite, "_load")
