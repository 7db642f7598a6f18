"""The one preprocessing function: training, evaluation, calibration and parity all call it.

Images arrive as uint8 [N, H, W, 3] (0..255) or float in [0, 1]; they leave as float32
[N, h, w, 3] at the module's input size, scaled to the module's value range. Writing it once
means every artifact is checked on exactly the inputs the model was trained on.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from edgekit.fsutil import atomic_write_json

PREPROCESSING_JSON = "preprocessing.json"


@dataclass(frozen=True)
class Preprocessing:
    input_size: tuple[int, int]  # (height, width)
    value_range: tuple[float, float] = (0.0, 1.0)
    resize: str = "bilinear"
    channels: int = 3

    def save(self, folder: Path) -> Path:
        return atomic_write_json(folder / PREPROCESSING_JSON, asdict(self))

    @classmethod
    def load(cls, folder: Path) -> Preprocessing:
        d = json.loads((folder / PREPROCESSING_JSON).read_text())
        return cls(tuple(d["input_size"]), tuple(d["value_range"]), d["resize"], d["channels"])

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (*self.input_size, self.channels)


def to_unit_float(images: np.ndarray) -> np.ndarray:
    if images.dtype == np.uint8:
        return images.astype(np.float32) / 255.0
    return images.astype(np.float32)


def preprocess_tensor(images, spec: Preprocessing):
    """The graph version, used inside tf.data: uint8 or [0,1]-float tensor [..., H, W, 3] → float32."""
    import tensorflow as tf

    x = tf.cast(images, tf.float32)
    if images.dtype == tf.uint8:
        x = x / 255.0
    if tuple(x.shape[-3:-1]) != tuple(spec.input_size):
        x = tf.image.resize(x, spec.input_size, method=spec.resize)
    lo, hi = spec.value_range
    return x * (hi - lo) + lo


def preprocess(images: np.ndarray, spec: Preprocessing, batch: int = 256) -> np.ndarray:
    """uint8 or [0,1]-float images → float32 at spec.input_size in spec.value_range.

    The same ops as preprocess_tensor, so arrays and tf.data pipelines agree bit for bit.
    """
    x = to_unit_float(images)
    if x.shape[1:3] != tuple(spec.input_size):
        import tensorflow as tf

        x = np.concatenate(
            [
                tf.image.resize(x[i : i + batch], spec.input_size, method=spec.resize).numpy()
                for i in range(0, len(x), batch)
            ]
            or [np.zeros((0, *spec.input_shape), np.float32)]
        )
    lo, hi = spec.value_range
    return (x * (hi - lo) + lo).astype(np.float32)
