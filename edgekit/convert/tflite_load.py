"""A TFLite converter for the reference that loads the SavedModel into Python once per process.

`tf.lite.TFLiteConverter.from_saved_model` loads the SavedModel with tf.saved_model.load to list
its signatures, and `convert()` loads it again only to read its graph_debug_info (source locations
for error messages); the conversion itself reads the files in C++. Converting five quant modes
therefore loaded the reference ten times. Here the signature is known ("serving_default"), so the
converter is built directly, and the debug-info load is answered from one load per process,
remembered by the SavedModel's path and the size and mtime of its saved_model.pb.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SIGNATURE = "serving_default"
TAGS = frozenset({"serve"})
_loaded: dict[tuple[str, int, int, frozenset[str]], Any] = {}


def saved_model_converter(saved_model: Path) -> Any:
    """What TFLiteConverter.from_saved_model(saved_model, [SIGNATURE]) returns, without loading the model."""
    import tensorflow as tf
    from tensorflow.lite.python import lite

    # from_saved_model records the source kind in the model's conversion metadata; so do we
    lite.TFLiteConverterBase._set_original_model_type(  # noqa: SLF001
        lite.conversion_metadata_fb.ModelType.TF_SAVED_MODEL
    )
    converter = lite.TFLiteSavedModelConverterV2(str(saved_model), set(TAGS), [SIGNATURE])
    if not converter.saved_model_dir:  # TensorFlow chose its function-based path: let it load as it does
        return tf.lite.TFLiteConverter.from_saved_model(str(saved_model), signature_keys=[SIGNATURE])
    return converter


@contextlib.contextmanager
def loaded_once() -> Iterator[None]:
    """While converting: TensorFlow's own SavedModel loads in the converter come from one load per process."""
    from tensorflow.lite.python import lite

    original = lite._load  # noqa: SLF001 - the converter's module-level loader, replaced while converting

    def load(export_dir: str, tags: Any = None) -> Any:
        pb = Path(export_dir) / "saved_model.pb"
        stat = pb.stat()
        key = (str(Path(export_dir).resolve()), stat.st_size, stat.st_mtime_ns, frozenset(tags or TAGS))
        if key not in _loaded:
            _loaded.clear()  # one reference per process at a time: a new one replaces the last
            _loaded[key] = original(export_dir, tags)
        return _loaded[key]

    lite._load = load  # noqa: SLF001
    try:
        yield
    finally:
        lite._load = original  # noqa: SLF001
