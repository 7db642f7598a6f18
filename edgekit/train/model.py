"""The classifier: a TF Hub backbone (through tf_keras, as hub.KerasLayer needs) plus a small head."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgekit.train.devices import precision_policy
from edgekit.train.preprocess import Preprocessing


def import_hub():
    """tensorflow_hub imports pkg_resources, which warns on every import; that warning is not the user's business."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
        import tensorflow_hub

    return tensorflow_hub


def build_classifier(
    module_path: Path, preproc: Preprocessing, num_classes: int, head, mixed_precision: bool = False
) -> tuple[Any, Any]:  # (tf_keras.Model, hub.KerasLayer): tf_keras has no type information
    """(model, backbone layer). head: recipe.HeadSection. The backbone starts frozen.

    Under mixed precision the head computes in float16; the backbone stays float32 because a
    SavedModel's functions are traced for float32 inputs and cannot be re-typed.
    """
    import tf_keras

    hub = import_hub()
    with precision_policy(mixed_precision):
        backbone = hub.KerasLayer(str(module_path), trainable=False, name="backbone", dtype="float32")
        inputs = tf_keras.Input(shape=preproc.input_shape, name="image")
        x = backbone(inputs)
        for i, units in enumerate(head.hidden):
            x = tf_keras.layers.Dense(units, activation="relu", name=f"head_dense_{i}")(x)
        if head.dropout > 0:
            x = tf_keras.layers.Dropout(head.dropout, name="head_dropout")(x)
        # float32 output even under mixed precision: softmax in float16 loses the small probabilities.
        outputs = tf_keras.layers.Dense(
            num_classes, activation="softmax", dtype="float32", name="probabilities"
        )(x)
        return tf_keras.Model(inputs, outputs, name="edgekit_classifier"), backbone


def float32_twin(model, module_path: Path, preproc: Preprocessing, num_classes: int, head):
    """The same network built in float32 with the trained weights: the reference is always float32,
    whatever precision trained it, so converters never see float16 casts."""
    twin, _ = build_classifier(module_path, preproc, num_classes, head, mixed_precision=False)
    twin.set_weights(model.get_weights())
    return twin
