"""The data step: the recipe's images loaded and split, with the keys that identify them
(PreparedData); the preprocessed arrays are made on first use."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from edgekit.steps import input_key, progress
from edgekit.train.data import Splits
from edgekit.train.preprocess import Preprocessing

if TYPE_CHECKING:
    from edgekit.pipeline import RunContext

MIN_CALIBRATION_WARNING = 50


Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # train, validation, test, calibration


@dataclass
class PreparedData:
    """The run's images, split. The preprocessed arrays are made on first use: an unchanged re-run,
    whose steps all reuse their records, never resizes an image (nor imports TensorFlow to)."""

    splits: Splits
    preproc: Preprocessing
    fingerprint: str  # identifies the images and labels (the training and parity keys)
    calibration_key: str  # identifies the calibration images as preprocessed (the conversion keys)
    make_arrays: Callable[[], Arrays]
    parity_inputs: str = "held-out images"  # what x_test is, in the parity step's progress line

    @classmethod
    def of_arrays(
        cls,
        splits: Splits,
        preproc: Preprocessing,
        arrays: Arrays,
        fingerprint: str,
        parity_inputs: str = "held-out images",
    ) -> PreparedData:
        return cls(splits, preproc, fingerprint, _array_hash(arrays[3]), lambda: arrays, parity_inputs)

    @cached_property
    def _arrays(self) -> Arrays:
        return self.make_arrays()

    @property
    def x_train(self) -> np.ndarray:
        return self._arrays[0]

    @property
    def x_val(self) -> np.ndarray:
        return self._arrays[1]

    @property
    def x_test(self) -> np.ndarray:
        return self._arrays[2]

    @property
    def calibration(self) -> np.ndarray:
        return self._arrays[3]

    @property
    def test_count(self) -> int:
        return len(self.splits.test.images)


def data_step(ctx: RunContext, source) -> PreparedData:
    from edgekit.train.data import load_data, split_data
    from edgekit.train.preprocess import preprocess

    d = ctx.recipe.data
    with ctx.steps.step("data", d.kind) as note:
        data = load_data(d, ctx.recipe_path.parent)
        splits = split_data(data, d.split.validation, d.split.test, d.split.seed)
        preproc = Preprocessing(tuple(source.info.input_size), tuple(source.info.value_range))
        picked = _calibration_indices(
            len(splits.train), ctx.recipe.quantize.calibration_samples, d.split.seed
        )
        subset = _array_hash(data.subset) if data.subset is not None else None
        fingerprint = input_key(_array_hash(data.images), _array_hash(data.labels), data.class_names, subset)
        calibration_key = input_key(_array_hash(splits.train.images[picked]), preproc)

        def make_arrays() -> Arrays:
            xs = [preprocess(p.images, preproc) for p in (splits.train, splits.validation, splits.test)]
            return xs[0], xs[1], xs[2], xs[0][picked]

        note(
            f"{len(data)} images, {len(data.class_names)} classes: train {len(splits.train)}, "
            f"validation {len(splits.validation)}, test {len(splits.test)}"
        )
    return PreparedData(splits, preproc, fingerprint, calibration_key, make_arrays)


def _array_hash(a: np.ndarray) -> str:
    import hashlib

    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def _calibration_indices(train_count: int, count: int, seed: int) -> np.ndarray:
    """Representative data for int8: a seeded sample of the training split (these indices of it)."""
    n = min(count, train_count)
    if n < MIN_CALIBRATION_WARNING:
        progress(
            f"[yellow]warning[/]: only {n} calibration samples (fewer than {MIN_CALIBRATION_WARNING}); int8 ranges may be poor"
        )
    return np.sort(np.random.default_rng(seed).choice(train_count, n, replace=False))
