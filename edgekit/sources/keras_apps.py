"""keras: sources — a keras.applications architecture saved as a Hub-style feature extractor.

`keras:MobileNetV2?size=160&alpha=0.35` builds the tf_keras application without its classifier,
puts the application's own input preprocessing inside the model (so, like every TF Hub image
module, it takes float RGB in [0, 1]), and saves it as a SavedModel with a fixed-size serving
signature that `hub.KerasLayer` loads.

Pretrained weights are used only when the exact weight file tf_keras would download is already on
disk (edgekit never lets a library download unverified bytes); otherwise resolving fails and names
the file. A randomly initialized backbone (seed 0) is built only when the handle asks for it with
`weights=random`: fine-tuning a head on random features trains to chance, and a run that did so
by accident once looked like a success at every step.
"""

from __future__ import annotations

import contextlib
import difflib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from edgekit.errors import SourceError, UsageError
from edgekit.sources.handle_types import KerasAppHandle, query_options

# Preprocessing modes, expressed as Keras layers on a [0, 1] input:
#   tf     → x * 2 - 1                   (MobileNet V1/V2, Inception, Xception, ResNetV2, NASNet)
#   raw255 → x * 255, model normalizes   (EfficientNet, EfficientNetV2, MobileNetV3, ConvNeXt, RegNet)
#   torch  → (x - mean) / std            (DenseNet)
#   caffe  → BGR, x * 255 - mean         (ResNet V1, VGG)


@dataclass(frozen=True)
class AppSpec:
    name: str
    size: int
    mode: str
    options: frozenset[str] = field(default_factory=frozenset)


_MOBILE_OPTS = frozenset({"alpha"})
_APPS: tuple[AppSpec, ...] = (
    AppSpec("MobileNet", 224, "tf", _MOBILE_OPTS),
    AppSpec("MobileNetV2", 224, "tf", _MOBILE_OPTS),
    AppSpec("MobileNetV3Small", 224, "raw255", frozenset({"alpha", "minimalistic"})),
    AppSpec("MobileNetV3Large", 224, "raw255", frozenset({"alpha", "minimalistic"})),
    *(
        AppSpec(f"EfficientNetB{i}", s, "raw255")
        for i, s in enumerate((224, 240, 260, 300, 380, 456, 528, 600))
    ),
    *(
        AppSpec(f"EfficientNetV2{v}", s, "raw255")
        for v, s in (("B0", 224), ("B1", 240), ("B2", 260), ("B3", 300), ("S", 384), ("M", 480), ("L", 480))
    ),
    AppSpec("ResNet50", 224, "caffe"),
    AppSpec("ResNet101", 224, "caffe"),
    AppSpec("ResNet152", 224, "caffe"),
    AppSpec("ResNet50V2", 224, "tf"),
    AppSpec("ResNet101V2", 224, "tf"),
    AppSpec("ResNet152V2", 224, "tf"),
    AppSpec("InceptionV3", 299, "tf"),
    AppSpec("InceptionResNetV2", 299, "tf"),
    AppSpec("Xception", 299, "tf"),
    AppSpec("DenseNet121", 224, "torch"),
    AppSpec("DenseNet169", 224, "torch"),
    AppSpec("DenseNet201", 224, "torch"),
    AppSpec("NASNetMobile", 224, "tf"),
    AppSpec("NASNetLarge", 331, "tf"),
    AppSpec("VGG16", 224, "caffe"),
    AppSpec("VGG19", 224, "caffe"),
    AppSpec("ConvNeXtTiny", 224, "raw255"),
    AppSpec("ConvNeXtSmall", 224, "raw255"),
)
APPS = {a.name.lower(): a for a in _APPS}

_IMAGENET_MEAN_RGB = (0.485, 0.456, 0.406)
_IMAGENET_STD_RGB = (0.229, 0.224, 0.225)
_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
RANDOM_SEED = 0
_HINT = "for example keras:MobileNetV2?size=160&alpha=0.35 (size: N or HxW; alpha: MobileNet family only; weights: imagenet or random)"
# Accepted by every architecture: imagenet (the default; the weight file must be on disk) or random.
_COMMON_OPTS = frozenset({"weights"})
WEIGHTS_CHOICES = ("imagenet", "random")


def parse_keras_handle(text: str) -> KerasAppHandle:
    body = text.split(":", 1)[1]
    name, _, query = body.partition("?")
    spec = APPS.get(name.strip().lower())
    if spec is None:
        close = difflib.get_close_matches(name.strip(), [a.name for a in _APPS], n=3, cutoff=0.5)
        hint = (
            f"did you mean {', '.join('keras:' + c for c in close)}?"
            if close
            else "see `edgekit pull --help` for the list"
        )
        raise UsageError(f"source {text!r}: unknown keras.applications architecture {name!r}", hint=hint)
    opts = query_options(query, text)
    size = _parse_size(opts.pop("size", None), spec, text)
    unknown = set(opts) - spec.options - _COMMON_OPTS
    if unknown:
        allowed = ", ".join(sorted(spec.options | _COMMON_OPTS | {"size"}))
        raise UsageError(
            f"source {text!r}: option(s) {', '.join(sorted(unknown))} not accepted by {spec.name}",
            hint=f"allowed: {allowed}",
        )
    normalized = {k: _normalize_option(k, v, text) for k, v in opts.items()}
    if normalized.get("weights") == "imagenet":  # the default: one canonical id with or without it
        del normalized["weights"]
    return KerasAppHandle(spec.name, size, tuple(sorted(normalized.items())))


def wants_random_weights(handle: KerasAppHandle) -> bool:
    """True when the handle opted in to a randomly initialized backbone (weights=random)."""
    return dict(handle.options).get("weights") == "random"


def _parse_size(value: str | None, spec: AppSpec, text: str) -> tuple[int, int]:
    if value is None:
        return (spec.size, spec.size)
    parts = value.lower().split("x")
    if len(parts) not in (1, 2) or not all(p.isdigit() for p in parts):
        raise UsageError(f"source {text!r}: size must be N or HxW, got {value!r}", hint=_HINT)
    h, w = int(parts[0]), int(parts[-1])
    if not (32 <= h <= 1024 and 32 <= w <= 1024):
        raise UsageError(f"source {text!r}: size must be between 32 and 1024, got {value!r}", hint=_HINT)
    return (h, w)


def _normalize_option(key: str, value: str, text: str) -> str:
    if key == "alpha":
        try:
            alpha = float(value)
        except ValueError:
            raise UsageError(f"source {text!r}: alpha must be a number, got {value!r}", hint=_HINT) from None
        if not 0.0 < alpha <= 2.0:
            raise UsageError(f"source {text!r}: alpha must be in (0, 2], got {value!r}", hint=_HINT)
        return repr(alpha)
    if key == "weights":
        if value.lower() not in WEIGHTS_CHOICES:
            raise UsageError(
                f"source {text!r}: weights must be imagenet or random, got {value!r}", hint=_HINT
            )
        return value.lower()
    if key == "minimalistic":
        if value.lower() not in {"true", "false", "1", "0"}:
            raise UsageError(
                f"source {text!r}: minimalistic must be true or false, got {value!r}", hint=_HINT
            )
        return "true" if value.lower() in {"true", "1"} else "false"
    return value


@dataclass
class BuiltApp:
    model: Any  # tf_keras.Model taking [0, 1] RGB, returning the pooled feature vector
    output_dim: int
    weights_file: Path | None  # the ImageNet weights used, or None for random init
    notes: list[str]
    weights_wanted: str | None = None  # the file name that would have given ImageNet weights


class _WeightsUnreachable(Exception):
    def __init__(self, fname: str, reason: str) -> None:
        super().__init__(fname)
        self.fname = fname
        self.reason = reason


def weights_dirs(cache_root: Path) -> list[Path]:
    """Where a pretrained weight file may already be: edgekit's cache, then the Keras cache."""
    keras_home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return [cache_root / "keras-weights", Path(keras_home) / "models"]


@contextlib.contextmanager
def _local_weights_only(dirs: list[Path], used: list[Path]) -> Iterator[None]:
    """Make tf_keras look weight files up locally instead of downloading them.

    Upstream workaround: tf_keras applications call data_utils.get_file, which downloads from
    storage.googleapis.com when the file is missing and has no offline switch. We replace it for
    the duration of one build (every application module calls it through the data_utils module
    attribute) and restore it afterwards; nothing in site-packages is edited.
    """
    from tf_keras.src.utils import data_utils

    original = data_utils.get_file

    def lookup(
        fname=None, origin=None, *args: Any, file_hash=None, hash_algorithm="auto", **kwargs: Any
    ) -> str:
        name = fname or os.path.basename(urlsplit(origin or "").path)
        for folder in dirs:
            candidate = folder / name
            if candidate.is_file():
                if file_hash and not data_utils.validate_file(
                    str(candidate), file_hash, algorithm=hash_algorithm
                ):
                    raise _WeightsUnreachable(name, f"{candidate} does not match the hash tf_keras expects")
                used.append(candidate)
                return str(candidate)
        raise _WeightsUnreachable(name, f"{name} is not in {' or '.join(str(d) for d in dirs)}")

    data_utils.get_file = lookup
    try:
        yield
    finally:
        data_utils.get_file = original


def _random_handle(handle: KerasAppHandle) -> str:
    return KerasAppHandle(
        handle.app, handle.size, tuple(sorted({**dict(handle.options), "weights": "random"}.items()))
    ).canonical


def build_app(handle: KerasAppHandle, dirs: list[Path]) -> BuiltApp:
    """The feature extractor for HANDLE: ImageNet weights from disk, or random init when the handle asks."""
    spec = APPS[handle.app.lower()]
    if wants_random_weights(handle):
        notes = [
            (
                f"keras.applications {spec.name}: RANDOM INIT (seed {RANDOM_SEED}), as the handle asks (weights=random): "
                "no pretrained features, so expect accuracy near chance unless the backbone is fine-tuned on plenty of data"
            )
        ]
        return _wrap(spec, handle, _construct_random(spec, handle), None, notes)
    used: list[Path] = []
    random_hint = f"or train from a random initialization on purpose: {_random_handle(handle)}"
    try:
        with _local_weights_only(dirs, used):
            base = _construct(spec, handle, "imagenet")
    except _WeightsUnreachable as missing:
        raise SourceError(
            f"keras.applications {spec.name}: no ImageNet weights on disk: {missing.reason}",
            hint=f"put {missing.fname} in {dirs[0]} (edgekit never downloads it for you), {random_hint}",
        ) from None
    except (
        ValueError,
        TypeError,
    ) as exc:  # tf_keras: no published weights for this size/alpha, or no such model
        _construct_random(
            spec, handle
        )  # raises "cannot build" when the architecture itself refuses the options
        raise SourceError(
            f"keras.applications {spec.name}: tf_keras has no ImageNet weights for {handle.canonical} "
            f"({_first_line(exc)})",
            hint=f"pick a size/alpha with published weights, {random_hint}",
        ) from exc
    return _wrap(
        spec, handle, base, used[0], [f"keras.applications {spec.name}: ImageNet weights from {used[0]}"]
    )


def _construct_random(spec: AppSpec, handle: KerasAppHandle) -> Any:
    try:
        return _construct(spec, handle, None)
    except (ValueError, TypeError) as exc:
        raise SourceError(
            f"keras.applications {spec.name} cannot build {handle.canonical}: {_first_line(exc)}"
        ) from exc


def _wrap(
    spec: AppSpec, handle: KerasAppHandle, base: Any, weights: Path | None, notes: list[str]
) -> BuiltApp:
    """[0, 1] RGB in, the application's own preprocessing, then the backbone."""
    import tf_keras

    inputs = tf_keras.Input((*handle.size, 3), name="images")
    model = tf_keras.Model(
        inputs, base(_preprocess(spec.mode, inputs)), name=f"{spec.name.lower()}_feature_extractor"
    )
    return BuiltApp(model, int(model.output_shape[-1]), weights, notes, weights.name if weights else None)


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _construct(spec: AppSpec, handle: KerasAppHandle, weights: str | None) -> Any:
    import tf_keras

    tf_keras.utils.set_random_seed(RANDOM_SEED)
    kwargs: dict[str, Any] = {
        "include_top": False,
        "weights": weights,
        "input_shape": (*handle.size, 3),
        "pooling": "avg",
    }
    for key, value in handle.options:
        if key != "weights":  # edgekit's own option, decided by the caller
            kwargs[key] = float(value) if key == "alpha" else value == "true"
    return getattr(tf_keras.applications, spec.name)(**kwargs)


def _preprocess(mode: str, x: Any) -> Any:
    import tf_keras

    layers = tf_keras.layers
    if mode == "tf":
        return layers.Rescaling(2.0, offset=-1.0, name="to_minus1_1")(x)
    if mode == "raw255":
        return layers.Rescaling(255.0, name="to_0_255")(x)
    if mode == "torch":
        variance = [s * s for s in _IMAGENET_STD_RGB]
        return layers.Normalization(
            mean=list(_IMAGENET_MEAN_RGB), variance=variance, name="imagenet_normalize"
        )(x)
    if mode == "caffe":
        return _caffe_layer()(x)
    raise SourceError(f"internal: unknown preprocessing mode {mode!r}")


def _caffe_layer() -> Any:
    """RGB [0, 1] → BGR [0, 255] minus the ImageNet mean, as one fixed Dense on the channel axis.

    A Dense layer with a constant permutation kernel is exact and serializes as an ordinary
    layer (a Lambda would carry Python bytecode, which edgekit itself refuses to load).
    """
    import numpy as np
    import tf_keras

    kernel = np.zeros((3, 3), np.float32)
    for rgb, bgr in ((0, 2), (1, 1), (2, 0)):
        kernel[rgb, bgr] = 255.0
    bias = -np.asarray(_CAFFE_MEAN_BGR, np.float32)
    return tf_keras.layers.Dense(
        3,
        name="to_caffe_bgr",
        trainable=False,
        kernel_initializer=tf_keras.initializers.Constant(kernel),
        bias_initializer=tf_keras.initializers.Constant(bias),
    )


def save_hub_module(model: Any, folder: Path, size: tuple[int, int]) -> None:
    """Save a tf_keras model as a SavedModel hub.KerasLayer loads, with a fixed-size signature.

    The fixed [None, H, W, 3] serving signature lets edgekit read the input size from the file
    without loading it.
    """
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([None, *size, 3], tf.float32, name="images")])
    def serve(images):
        return {"feature_vector": model(images, training=False)}

    tf.saved_model.save(model, str(folder), signatures={"serving_default": serve})
