"""Helpers for the training tests (a unique module name: tests/ has several conftest.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

SIZE = (16, 16)


def build_tiny_module(folder: Path, size=SIZE) -> Path:
    """A hub-format SavedModel (loads through hub.KerasLayer): conv, BN, conv, global pooling → 8 features."""
    import tensorflow as tf
    import tf_keras

    tf_keras.utils.set_random_seed(7)
    L = tf_keras.layers
    inputs = tf_keras.Input((*size, 3), name="images")
    x = L.Conv2D(8, 3, strides=2, padding="same", use_bias=False, name="stem")(inputs)
    x = L.BatchNormalization(name="stem_bn")(x)
    x = L.ReLU()(x)
    x = L.Conv2D(8, 1, activation="relu", name="block")(x)
    outputs = L.GlobalAveragePooling2D(name="feature_vector")(x)
    model = tf_keras.Model(inputs, outputs)

    @tf.function(input_signature=[tf.TensorSpec([None, *size, 3], tf.float32, name="images")])
    def serve(images):
        return {"feature_vector": model(images, training=False)}

    tf.saved_model.save(model, str(folder), signatures={"serving_default": serve})
    return folder


def tiny_splits(n: int = 48, seed: int = 0):
    """Three classes of generated patterns at 16x16, split 60/20/20."""
    from edgekit.train.data import LabelledData, split_data
    from edgekit.train.shapes import generate_shapes

    images, labels, _ = generate_shapes(n, size=SIZE[0], noise=0.1, seed=seed)
    keep = labels < 3
    data = LabelledData(images[keep], labels[keep], ("horizontal", "vertical", "diagonal"))
    return split_data(data, 0.2, 0.2, seed)


def tiny_train_section(**changes):
    from edgekit.recipe import TrainSection

    base = {"epochs": 1, "batch_size": 8, "learning_rate": 0.01, "fine_tune": {"epochs": 1}}
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    return TrainSection.model_validate(base)


def write_png(path: Path, image: np.ndarray) -> Path:
    import tensorflow as tf

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(tf.io.encode_png(image).numpy())
    return path
