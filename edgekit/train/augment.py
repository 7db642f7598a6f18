"""Training-only augmentation: flip, crop, rotation, brightness, contrast (recipe train.augment).

Stateless random ops driven by a per-image seed from the pipeline, so two runs with the same seed
see the same augmented images (determinism) while every epoch sees different ones.
"""

from __future__ import annotations

import math


def is_enabled(aug) -> bool:
    return bool(aug.flip or aug.crop or aug.rotation or aug.brightness or aug.contrast)


def augment(image, seed, aug):
    """image: float32 [H, W, 3] in [0, 1] (before value-range scaling); seed: int64 [2]. aug: recipe.AugmentSection."""
    import tensorflow as tf

    seeds = tf.random.experimental.stateless_split(seed, num=5)
    if aug.flip:
        image = tf.image.stateless_random_flip_left_right(image, seeds[0])
    if aug.crop:
        image = _random_crop(image, seeds[1], aug.crop)
    if aug.rotation:
        image = _random_rotate(image, seeds[2], aug.rotation)
    if aug.brightness:
        image = tf.image.stateless_random_brightness(image, aug.brightness, seeds[3])
    if aug.contrast:
        image = tf.image.stateless_random_contrast(image, 1 - aug.contrast, 1 + aug.contrast, seeds[4])
    return tf.clip_by_value(image, 0.0, 1.0)


def _random_crop(image, seed, fraction: float):
    import tensorflow as tf

    h, w = image.shape[0], image.shape[1]
    keep = tf.random.stateless_uniform([], seed, 1 - fraction, 1.0)
    ch = tf.cast(tf.round(keep * h), tf.int32)
    cw = tf.cast(tf.round(keep * w), tf.int32)
    crop = tf.image.stateless_random_crop(image, tf.stack([ch, cw, 3]), seed=seed[::-1])
    return tf.image.resize(crop, (h, w))


def _random_rotate(image, seed, degrees: float):
    """Rotation about the centre via ImageProjectiveTransformV3 (the op Keras' RandomRotation uses)."""
    import tensorflow as tf

    h, w = float(image.shape[0]), float(image.shape[1])
    angle = tf.random.stateless_uniform([], seed, -degrees, degrees) * (math.pi / 180)
    cos, sin = tf.cos(angle), tf.sin(angle)
    # Maps output pixel (x, y) to input pixel: rotate about the image centre.
    x0 = ((w - 1) - (cos * (w - 1) - sin * (h - 1))) / 2
    y0 = ((h - 1) - (sin * (w - 1) + cos * (h - 1))) / 2
    transform = tf.stack([cos, -sin, x0, sin, cos, y0, 0.0, 0.0])[None]
    out = tf.raw_ops.ImageProjectiveTransformV3(
        images=image[None],
        transforms=transform,
        output_shape=tf.constant([int(h), int(w)]),
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="REFLECT",
    )
    return out[0]
