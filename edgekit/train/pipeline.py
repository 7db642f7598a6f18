"""tf.data pipelines: the training split (preprocess, cache, shuffle, augment, batch, prefetch) and
the evaluation splits (preprocess, batch, prefetch), all through the one preprocessing function.

Labels go out one-hot so label smoothing works; class weights go out as per-image sample weights,
which (unlike fit(class_weight=...)) also work with repeat() and every distribution strategy.
"""

from __future__ import annotations

import math

import numpy as np

from edgekit.train.augment import augment, is_enabled
from edgekit.train.preprocess import Preprocessing, preprocess_tensor


def class_weights(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Inverse-frequency weights normalised to mean 1 over the images (sklearn's 'balanced')."""
    counts = np.bincount(labels, minlength=num_classes).astype(np.float64)
    return np.where(counts > 0, len(labels) / (num_classes * np.maximum(counts, 1)), 0.0).astype(np.float32)


def train_dataset(
    images: np.ndarray,
    labels: np.ndarray,
    num_classes: int,
    preproc: Preprocessing,
    train,
    weights: np.ndarray | None = None,
):
    """(dataset, steps_per_epoch). train: recipe.TrainSection. Repeats forever; fit() counts the steps."""
    import tensorflow as tf

    aug = train.augment
    lo, hi = preproc.value_range
    unit = Preprocessing(preproc.input_size, (0.0, 1.0), preproc.resize)  # augment in [0, 1], scale after
    ds = tf.data.Dataset.from_tensor_slices((images, labels))
    ds = ds.map(lambda x, y: (preprocess_tensor(x, unit), y), num_parallel_calls=tf.data.AUTOTUNE).cache()
    ds = ds.shuffle(len(labels), seed=train.seed, reshuffle_each_iteration=True).repeat()
    if is_enabled(aug):
        # One seed per image drawn from a seeded stream: deterministic, and different every epoch.
        seeds = tf.data.Dataset.random(seed=train.seed).batch(2)
        ds = tf.data.Dataset.zip((ds, seeds)).map(
            lambda xy, s: (augment(xy[0], s, aug), xy[1]), num_parallel_calls=tf.data.AUTOTUNE
        )
    w = tf.constant(weights if weights is not None else np.ones(num_classes, np.float32))
    ds = ds.map(
        lambda x, y: (x * (hi - lo) + lo, tf.one_hot(y, num_classes), tf.gather(w, y)),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    ds = ds.batch(train.batch_size).prefetch(tf.data.AUTOTUNE)
    return _with_options(ds, train.deterministic), math.ceil(len(labels) / train.batch_size)


def eval_dataset(
    images: np.ndarray,
    labels: np.ndarray,
    num_classes: int,
    preproc: Preprocessing,
    batch_size: int,
    deterministic: bool = True,
):
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((images, labels))
    ds = ds.map(
        lambda x, y: (preprocess_tensor(x, preproc), tf.one_hot(y, num_classes)),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    return _with_options(ds.batch(batch_size).prefetch(tf.data.AUTOTUNE), deterministic)


def _with_options(ds, deterministic: bool):
    import tensorflow as tf

    opts = tf.data.Options()
    opts.deterministic = deterministic
    # Batches are split across replicas by data, not by files: arrays have no files to shard.
    opts.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return ds.with_options(opts)
