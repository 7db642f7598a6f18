"""The bundled demo backbone: a small CNN feature extractor, built in code, saved as a TF Hub module.

The demo must run with no network, so instead of downloading a feature extractor edgekit builds
one deterministically and saves it as a TF2 SavedModel with the reusable-SavedModel API (the
format tfhub.dev serves). The pipeline then loads it through `hub.KerasLayer`, exactly as it
would load a downloaded module. The module is cached, so it is built once per cache.
"""

from __future__ import annotations

from pathlib import Path

from edgekit.errors import SourceError
from edgekit.fsutil import atomic_dir, sha256_tree
from edgekit.sources.base import ModuleInfo, ResolvedSource, SourceSettings

DEMO_MODULES = {
    # name: (input size, feature width)
    "shapes-cnn": ((64, 64), 64),
}
_BUILD_VERSION = 3  # bump when the architecture changes so caches rebuild


def resolve_demo(spec: str, settings: SourceSettings) -> ResolvedSource:
    name = spec.split(":", 1)[1]
    if name not in DEMO_MODULES:
        raise SourceError(
            f"unknown demo module {spec!r}", hint=f"available: {', '.join('demo:' + n for n in DEMO_MODULES)}"
        )
    size, width = DEMO_MODULES[name]
    folder = settings.cache_root() / "demo" / f"{name}-v{_BUILD_VERSION}"
    if not (folder / "saved_model.pb").is_file():
        with atomic_dir(folder) as tmp:
            build_demo_module(tmp, size, width)
    return ResolvedSource(
        spec=spec,
        canonical=f"demo:{name}/{_BUILD_VERSION}",
        kind="demo",
        path=folder,
        sha256=sha256_tree(folder),
        info=ModuleInfo(input_size=size, value_range=(0.0, 1.0), output_dim=width, origin="signature"),
        notes=["demo backbone built in code and pre-trained on generated shapes (seed 9999), no download"],
    )


def build_demo_module(folder: Path, size: tuple[int, int], width: int) -> None:
    """A MobileNet-shaped miniature: conv stem, depthwise-separable blocks, global pooling."""
    import tensorflow as tf
    import tf_keras

    tf_keras.utils.set_random_seed(1234)
    layers = tf_keras.layers
    inputs = tf_keras.Input((*size, 3), name="images")
    x = layers.Conv2D(16, 3, strides=2, padding="same", use_bias=False)(inputs)
    x = layers.BatchNormalization(momentum=0.9)(x)
    x = layers.ReLU(6.0)(x)
    for filters, stride in ((24, 2), (32, 2), (width, 1)):
        x = layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization(momentum=0.9)(x)
        x = layers.ReLU(6.0)(x)
        x = layers.Conv2D(filters, 1, use_bias=False)(x)
        x = layers.BatchNormalization(momentum=0.9)(x)
        x = layers.ReLU(6.0)(x)
    outputs = layers.GlobalAveragePooling2D(name="feature_vector")(x)
    model = tf_keras.Model(inputs, outputs, name="demo_backbone")
    _pretrain(model, size)

    # A fixed-shape serving signature, as Hub image modules publish, so metadata can be read
    # from the SavedModel without loading it.
    @tf.function(input_signature=[tf.TensorSpec([None, *size, 3], tf.float32, name="images")])
    def serve(images):
        return {"feature_vector": model(images, training=False)}

    tf.saved_model.save(model, str(folder), signatures={"serving_default": serve})


def _pretrain(backbone, size: tuple[int, int]) -> None:
    """Pre-train on a separately seeded, less noisy draw of the shapes task.

    A random-init backbone gives near-constant features (its BatchNorm statistics are not
    real), so the demo would teach nothing about transfer learning. Pre-training on a
    related pretext set, as real Hub modules are pre-trained on ImageNet, gives features a
    head can use; the demo's own data (other seeds, more noise) is never seen here.
    """
    import tf_keras

    from edgekit.train.shapes import CLASSES, generate_shapes

    images, labels, _ = generate_shapes(1200, size=size[0], noise=0.25, seed=9999)
    head = tf_keras.layers.Dense(len(CLASSES), activation="softmax")
    model = tf_keras.Sequential([backbone, head])
    model.compile(tf_keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy")
    model.fit(images.astype("float32") / 255.0, labels, batch_size=32, epochs=4, verbose=0, shuffle=True)
