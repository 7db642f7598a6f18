"""Tiny models and images built in code, shared by the tests (import as `from tiny_models import ...`)."""

from __future__ import annotations

import numpy as np

TINY_SIZE = (32, 32)
TINY_CLASSES = ("a", "b", "c")


def build_tiny_classifier(input_size=TINY_SIZE, classes=len(TINY_CLASSES), seed=0):
    """A tf_keras conv net with the op mix of a mobile backbone (conv, depthwise, BN, pool, dense)."""
    import tf_keras

    tf_keras.utils.set_random_seed(seed)
    L = tf_keras.layers
    inputs = tf_keras.Input((*input_size, 3), name="image")
    x = L.Conv2D(8, 3, strides=2, padding="same", use_bias=False)(inputs)
    x = L.BatchNormalization()(x)
    x = L.ReLU(6.0)(x)
    x = L.DepthwiseConv2D(3, padding="same")(x)
    x = L.Conv2D(16, 1, activation="relu")(x)
    x = L.GlobalAveragePooling2D()(x)
    outputs = L.Dense(classes, activation="softmax", name="probabilities")(x)
    return tf_keras.Model(inputs, outputs)


def tiny_images(n: int, input_size=TINY_SIZE, seed: int = 0) -> np.ndarray:
    """float32 [n, H, W, 3] in [0, 1], smooth enough that int8 calibration is meaningful."""
    from edgekit.train.shapes import generate_shapes

    images, _, _ = generate_shapes(n, size=input_size[0], noise=0.1, seed=seed)
    return images.astype(np.float32) / 255.0
