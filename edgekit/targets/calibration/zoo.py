"""The calibration models: standard architectures with published device latencies, built in code.

keras.applications provides most of them (weights=None: the architecture is what latency depends
on). EfficientNet-Lite is not in keras.applications; it is built here from its published recipe
(EfficientNet-B0 blocks without squeeze-excitation, ReLU6, stem and head not scaled, first and
last stage repeats not scaled; tensorflow/tpu models/official/efficientnet/lite). Each build is
checked against the published MAC count in calibration/model_macs.csv by `targets evaluate`.
The SqueezeNet and MobileNetV3 graphs of ncnn's benchmark are rebuilt in zoo_ncnn.py.

TensorFlow is imported inside functions only: importing this module is cheap.
"""

from __future__ import annotations

import contextlib
import fnmatch
import io
import math
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgekit.errors import ConversionError, UsageError
from edgekit.fsutil import atomic_write_bytes
from edgekit.quiet import quiet_native_stderr
from edgekit.targets.calibration import zoo_ncnn


@dataclass(frozen=True)
class ZooModel:
    key: str  # mobilenet_v2_1.0_224
    builder: str  # keras.applications class name, or a key of _BUILT_HERE
    resolution: int
    kwargs: dict[str, Any] = field(default_factory=dict)
    macs_name: str = ""  # the model's row in model_macs.csv, for the MAC-count check

    @property
    def arch(self) -> str:
        """The architecture, whatever the width or resolution: leave-one-model-out holds out all of it."""
        return _BUILT_HERE[self.builder][1] if self.builder in _BUILT_HERE else self.builder


def _zoo() -> dict[str, ZooModel]:
    models = [
        *(
            ZooModel(f"mobilenet_v1_{a}_224", "MobileNet", 224, {"alpha": float(a)}, f"MobileNetV1 {a}")
            for a in ("1.0", "0.75", "0.5", "0.25")
        ),
        ZooModel("mobilenet_v1_1.0_128", "MobileNet", 128, {"alpha": 1.0}),
        *(
            ZooModel(f"mobilenet_v2_{a}_224", "MobileNetV2", 224, {"alpha": float(a)}, f"MobileNetV2 {a}")
            for a in ("1.0", "1.4", "0.75", "0.5", "0.35")
        ),
        ZooModel(
            "mobilenet_v3_large_224",
            "MobileNetV3Large",
            224,
            {"include_preprocessing": False},
            "MobileNetV3-Large 1.0",
        ),
        ZooModel(
            "mobilenet_v3_small_224",
            "MobileNetV3Small",
            224,
            {"include_preprocessing": False},
            "MobileNetV3-Small 1.0",
        ),
        ZooModel("efficientnet_b0_224", "EfficientNetB0", 224, {}, "EfficientNet-B0"),
        ZooModel("resnet50_224", "ResNet50", 224, {}, "ResNet50"),
        ZooModel("inception_v3_299", "InceptionV3", 299, {}, "InceptionV3"),
        ZooModel("nasnet_mobile_224", "NASNetMobile", 224, {}, "NASNet-A Mobile"),
        ZooModel("resnet101_v2_299", "ResNet101V2", 299, {}),
        *(
            ZooModel(
                f"efficientnet_lite{i}_{r}",
                "efficientnet_lite",
                r,
                {"width": w, "depth": d},
                f"EfficientNet-Lite{i}",
            )
            for i, (w, d, r) in enumerate(
                [(1.0, 1.0, 224), (1.0, 1.1, 240), (1.1, 1.2, 260), (1.2, 1.4, 280), (1.4, 1.8, 300)]
            )
        ),
        # The graphs ncnn's benchmark runs (zoo_ncnn.py): only its README publishes them.
        ZooModel(
            "ncnn_squeezenet_v1.1_227", "ncnn_squeezenet", 227, {}, "SqueezeNet 1.1 (ncnn benchmark graph)"
        ),
        ZooModel(
            "ncnn_mobilenet_v3_224", "ncnn_mobilenet_v3", 224, {}, "MobileNetV3-Large (ncnn benchmark graph)"
        ),
    ]
    return {m.key: m for m in models}


ZOO: dict[str, ZooModel] = _zoo()


def select(patterns: list[str] | None) -> list[ZooModel]:
    """Zoo models whose key matches any glob in PATTERNS (all when none)."""
    if not patterns:
        return list(ZOO.values())
    chosen = [m for m in ZOO.values() if any(fnmatch.fnmatchcase(m.key, p.lower()) for p in patterns)]
    if not chosen:
        raise UsageError(f"no calibration model matches {patterns}", hint=f"known: {', '.join(ZOO)}")
    return chosen


# EfficientNet-B0 stages: (kernel, repeats, in, out, expand ratio, stride)
_B0_STAGES = [
    (3, 1, 32, 16, 1, 1),
    (3, 2, 16, 24, 6, 2),
    (5, 2, 24, 40, 6, 2),
    (3, 3, 40, 80, 6, 2),
    (5, 3, 80, 112, 6, 1),
    (5, 4, 112, 192, 6, 2),
    (3, 1, 192, 320, 6, 1),
]


def _round_filters(filters: int, width: float) -> int:
    scaled = filters * width
    new = max(8, int(scaled + 4) // 8 * 8)
    return new + 8 if new < 0.9 * scaled else new


def _mbconv(x: Any, layers: Any, cin: int, cout: int, kernel: int, stride: int, expand: int) -> Any:
    inp = x
    if expand != 1:
        x = layers.Conv2D(cin * expand, 1, use_bias=False)(x)
        x = layers.ReLU(6.0)(layers.BatchNormalization()(x))
    x = layers.DepthwiseConv2D(kernel, stride, padding="same", use_bias=False)(x)
    x = layers.ReLU(6.0)(layers.BatchNormalization()(x))
    x = layers.BatchNormalization()(layers.Conv2D(cout, 1, use_bias=False)(x))
    return layers.Add()([inp, x]) if stride == 1 and cin == cout else x


def efficientnet_lite(resolution: int, width: float, depth: float) -> Any:
    import keras
    from keras import layers

    inp = keras.Input((resolution, resolution, 3))
    x = layers.Conv2D(32, 3, 2, padding="same", use_bias=False)(inp)  # stem fixed at 32 in Lite
    x = layers.ReLU(6.0)(layers.BatchNormalization()(x))
    cin = 32
    for i, (k, reps, _, out, e, s) in enumerate(_B0_STAGES):
        cout = _round_filters(out, width)
        fixed = i in (0, len(_B0_STAGES) - 1)  # Lite keeps the first and last stage depth
        for r in range(reps if fixed else math.ceil(depth * reps)):
            x = _mbconv(x, layers, cin, cout, k, s if r == 0 else 1, e)
            cin = cout
    x = layers.Conv2D(1280, 1, use_bias=False)(x)  # head fixed at 1280 in Lite
    x = layers.ReLU(6.0)(layers.BatchNormalization()(x))
    x = layers.Dense(1000)(layers.GlobalAveragePooling2D()(x))
    return keras.Model(inp, x, name="efficientnet_lite")


# The models keras.applications lacks: builder name -> (build function, architecture).
_BUILT_HERE: dict[str, tuple[Callable[..., Any], str]] = {
    "efficientnet_lite": (efficientnet_lite, "EfficientNetLite"),
    "ncnn_squeezenet": (zoo_ncnn.squeezenet_v11, "SqueezeNet"),
    "ncnn_mobilenet_v3": (zoo_ncnn.mobilenet_v3, "MobileNetV3Large"),
}


def build(model: ZooModel) -> Any:
    if model.builder in _BUILT_HERE:
        return _BUILT_HERE[model.builder][0](model.resolution, **model.kwargs)
    import keras

    cls: Callable[..., Any] = getattr(keras.applications, model.builder)
    return cls(weights=None, input_shape=(model.resolution, model.resolution, 3), **model.kwargs)


def _to_tflite(keras_model: Any, quant: str, resolution: int) -> bytes:
    import numpy as np
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(keras_model)
    if quant == "int8":
        # Full-integer like the published int8/uint8 models: int8 kernels end to end, int8 I/O.
        rng = np.random.default_rng(0)

        def representative() -> Any:
            for _ in range(2):
                yield [rng.uniform(-1, 1, (1, resolution, resolution, 3)).astype(np.float32)]

        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    elif quant != "fp32":
        raise UsageError(f"calibration models are converted as fp32 or int8, not {quant!r}")
    # Keras' export step prints every captured variable to stdout, and the converter warns about
    # input statistics the random representative data cannot give: keep the CLI output readable.
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return converter.convert()


def converted(model: ZooModel, quant: str, cache: Path) -> Path:
    """The .tflite of MODEL in QUANT, converted once and kept in CACHE."""
    path = cache / f"{model.key}-{quant}.tflite"
    if path.is_file():
        return path
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # TensorFlow logs on the native stderr when imported and while quantizing; a failure still shows it.
    with quiet_native_stderr():
        import keras

        keras.backend.clear_session()
        try:
            data = _to_tflite(build(model), quant, model.resolution)
        except Exception as exc:  # the converter raises many types; one model must not end the run
            raise ConversionError(f"calibration model {model.key} ({quant}) did not convert: {exc}") from exc
    return atomic_write_bytes(path, data)
