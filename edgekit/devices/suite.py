"""The calibration suite for `edgekit targets calibrate --device`: small vision models built in
code (no download), converted to TFLite fp32 and full-integer int8 on the host (needs the tf
extra), cached by their definition so a second calibration converts nothing.

The models differ in resolution, width and op mix (standard convs, depthwise-separable blocks,
a dense head) so that the fit sees compute- and memory-bound work; eight artifacts give the
leave-one-artifact-out held-out error that `targets calibrate` reports.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from edgekit.fsutil import atomic_write_text

SUITE_VERSION = 1
QUANTS = ("fp32", "int8")
CALIBRATION_IMAGES = 32


@dataclass(frozen=True)
class SuiteModel:
    name: str
    size: int  # input height = width
    width: int  # channels of the first conv; later blocks double it
    blocks: int  # depthwise-separable blocks
    standard_convs: int  # extra full 3x3 convs (compute-heavy)


SUITE = (
    SuiteModel("dw-64-w8", 64, 8, 2, 0),
    SuiteModel("dw-96-w16", 96, 16, 3, 0),
    SuiteModel("conv-96-w16", 96, 16, 1, 2),
    SuiteModel("dw-128-w24", 128, 24, 3, 1),
)


def default_cache() -> Path:
    from edgekit.paths import user_cache_base

    return user_cache_base() / "device-suite"


def _key() -> str:
    text = json.dumps(
        {"version": SUITE_VERSION, "models": [asdict(m) for m in SUITE], "quants": QUANTS}, sort_keys=True
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _build(m: SuiteModel):
    import tf_keras

    tf_keras.utils.set_random_seed(0)
    L = tf_keras.layers
    inputs = tf_keras.Input((m.size, m.size, 3), name="image")
    x = L.ReLU(6.0)(
        L.BatchNormalization()(L.Conv2D(m.width, 3, strides=2, padding="same", use_bias=False)(inputs))
    )
    for _ in range(m.standard_convs):
        x = L.Conv2D(m.width, 3, padding="same", activation="relu")(x)
    channels = m.width
    for i in range(m.blocks):
        x = L.ReLU(6.0)(L.DepthwiseConv2D(3, strides=2 if i % 2 == 0 else 1, padding="same")(x))
        channels *= 2 if i % 2 == 0 else 1
        x = L.ReLU(6.0)(L.BatchNormalization()(L.Conv2D(channels, 1, use_bias=False)(x)))
    x = L.GlobalAveragePooling2D()(x)
    return tf_keras.Model(inputs, L.Dense(10, activation="softmax", name="probabilities")(x))


def build_suite(cache: Path | None = None, progress=None) -> list[Path]:
    """Artifact folders (tflite fp32 and int8 of every suite model), converted once and cached."""
    import numpy as np

    from edgekit.artifact import ARTIFACT_JSON
    from edgekit.convert import FORMATS, ConversionRequest
    from edgekit.train.export import export_reference
    from edgekit.train.preprocess import Preprocessing
    from edgekit.train.shapes import generate_shapes

    root = (cache or default_cache()) / _key()
    folders = []
    for m in SUITE:
        wanted = [root / m.name / f"tflite-{q}" for q in QUANTS]
        folders += wanted
        if all((f / ARTIFACT_JSON).is_file() for f in wanted):
            continue
        if progress:
            progress(f"building {m.name}")
        reference = export_reference(
            _build(m),
            root / m.name / "reference",
            Preprocessing((m.size, m.size)),
            tuple(str(i) for i in range(10)),
        )
        images, _, _ = generate_shapes(CALIBRATION_IMAGES, size=m.size, seed=1)
        calibration = images.astype(np.float32) / 255.0
        for q, folder in zip(QUANTS, wanted):
            FORMATS.get("tflite").convert(
                ConversionRequest(reference, "tflite", q, folder, calibration=calibration)
            ).save()
    atomic_write_text(
        root / "suite.json",
        json.dumps({"version": SUITE_VERSION, "models": [asdict(m) for m in SUITE]}, indent=1),
    )
    return folders
