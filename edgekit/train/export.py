"""Export the reference: the fine-tuned float SavedModel every converter starts from.

One serving signature with a named input of fixed shape and dtype ([1, H, W, 3] float32 "image")
and probabilities out, plus labels.txt and preprocessing.json beside it.
"""

from __future__ import annotations

from pathlib import Path

from edgekit.fsutil import atomic_dir, atomic_write_text
from edgekit.train.preprocess import Preprocessing

INPUT_NAME = "image"
OUTPUT_NAME = "probabilities"
LABELS_TXT = "labels.txt"


def export_reference(model, folder: Path, preproc: Preprocessing, class_names: tuple[str, ...]) -> Path:
    import tensorflow as tf

    spec = tf.TensorSpec([1, *preproc.input_shape], tf.float32, name=INPUT_NAME)

    @tf.function(input_signature=[spec])
    def serve(image):
        return {OUTPUT_NAME: model(image, training=False)}

    with atomic_dir(folder) as tmp:
        tf.saved_model.save(model, str(tmp / "saved_model"), signatures={"serving_default": serve})
        atomic_write_text(tmp / LABELS_TXT, "".join(f"{name}\n" for name in class_names))
        preproc.save(tmp)
    return folder
