"""keras: sources — real keras.applications architectures, saved as Hub-style modules."""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.errors import SourceError
from edgekit.sources import SourceSettings, resolve_source
from edgekit.sources.keras_apps import RANDOM_SEED, _preprocess

MOBILENET = "keras:MobileNet?alpha=0.25&size=64"
MOBILENET_RANDOM = MOBILENET + "&weights=random"
WEIGHTS_FILE = "mobilenet_2_5_224_tf_no_top.h5"  # what tf_keras downloads for MobileNet alpha 0.25


@pytest.fixture(scope="module")
def keras_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("keras-cache")


def _run_module(path, x):
    import tensorflow_hub as hub
    import tf_keras

    model = tf_keras.Sequential([tf_keras.Input(x.shape[1:]), hub.KerasLayer(str(path), trainable=True)])
    return model(x).numpy(), model


def _reference(x, seed):
    """The same architecture built directly, fed with the application's own preprocessing."""
    import tf_keras

    tf_keras.utils.set_random_seed(seed)
    base = tf_keras.applications.MobileNet(
        alpha=0.25, input_shape=(64, 64, 3), include_top=False, weights=None, pooling="avg"
    )
    return base, base(tf_keras.applications.mobilenet.preprocess_input(x * 255.0), training=False).numpy()


def test_missing_imagenet_weights_is_an_error_naming_the_file_and_the_opt_in(keras_cache):
    with pytest.raises(SourceError, match=WEIGHTS_FILE) as err:
        resolve_source(MOBILENET, SourceSettings(cache_dir=keras_cache))
    assert "keras:MobileNet?alpha=0.25&size=64x64&weights=random" in err.value.hint
    assert str(keras_cache / "keras-weights") in err.value.hint


def test_keras_application_becomes_a_random_init_hub_module_when_asked(keras_cache):
    resolved = resolve_source(MOBILENET_RANDOM, SourceSettings(cache_dir=keras_cache))
    assert (
        resolved.canonical == "keras:MobileNet?alpha=0.25&size=64x64&weights=random"
        and resolved.kind == "keras"
    )
    assert resolved.info.input_size == (64, 64) and resolved.info.value_range == (0.0, 1.0)
    assert resolved.info.output_dim == 256 and resolved.info.origin == "signature"
    assert any("RANDOM INIT" in n and "weights=random" in n for n in resolved.notes)
    assert resolved.manifest["weights"] == "random" and resolved.manifest["random_seed"] == RANDOM_SEED
    assert resolved.manifest["scan"]["findings"] == []

    x = np.random.default_rng(0).random((2, 64, 64, 3), dtype=np.float32)
    features, model = _run_module(resolved.path, x)
    _, expected = _reference(x, RANDOM_SEED)
    np.testing.assert_allclose(features, expected, rtol=1e-4, atol=1e-4)  # [0, 1] in, preprocessing inside
    assert len(model.trainable_variables) > 0  # fine-tunable through hub.KerasLayer

    again = resolve_source(MOBILENET_RANDOM, SourceSettings(cache_dir=keras_cache))
    assert (again.path, again.sha256, again.notes) == (resolved.path, resolved.sha256, resolved.notes)
    # the cached random module is never handed out for the handle that did not opt in
    with pytest.raises(SourceError, match=WEIGHTS_FILE):
        resolve_source(MOBILENET, SourceSettings(cache_dir=keras_cache))


def test_pretrained_weights_on_disk_are_used(keras_cache):
    import tf_keras

    base, _ = _reference(np.zeros((1, 64, 64, 3), np.float32), seed=7)  # stands in for the ImageNet file
    (keras_cache / "keras-weights").mkdir(exist_ok=True)
    base.save_weights(str(keras_cache / "keras-weights" / WEIGHTS_FILE))

    for handle in (
        MOBILENET,
        MOBILENET.replace("?", "?weights=imagenet&"),
    ):  # the default, spelled out or not
        resolved = resolve_source(handle, SourceSettings(cache_dir=keras_cache))
        assert resolved.canonical == "keras:MobileNet?alpha=0.25&size=64x64"
        assert resolved.manifest["weights"] == "imagenet" and resolved.manifest["weights_sha256"]
        assert any("ImageNet weights from" in n for n in resolved.notes) and not any(
            "RANDOM" in n for n in resolved.notes
        )
    x = np.random.default_rng(1).random((2, 64, 64, 3), dtype=np.float32)
    features, _ = _run_module(resolved.path, x)
    expected = base(tf_keras.applications.mobilenet.preprocess_input(x * 255.0), training=False).numpy()
    np.testing.assert_allclose(features, expected, rtol=1e-4, atol=1e-4)
    random_path = keras_cache / "sources"
    assert len([p for p in random_path.iterdir() if not p.name.startswith(".")]) == 2  # one entry per weights


def test_configuration_without_published_weights_needs_the_opt_in(tmp_path):
    handle = "keras:MobileNetV3Small?alpha=0.75&minimalistic=true&size=64"
    with pytest.raises(SourceError, match="no ImageNet weights for") as err:
        resolve_source(handle, SourceSettings(cache_dir=tmp_path))
    assert "weights=random" in err.value.hint
    resolved = resolve_source(handle + "&weights=random", SourceSettings(cache_dir=tmp_path))
    assert any("RANDOM INIT" in n for n in resolved.notes)
    assert resolved.info.input_size == (64, 64) and resolved.info.output_dim == 432


def test_keras_publisher_can_be_disallowed(tmp_path):
    with pytest.raises(SourceError, match="publisher 'keras'"):
        resolve_source(MOBILENET, SourceSettings(cache_dir=tmp_path, allow_publishers=("google",)))


def test_architecture_that_cannot_take_the_size_is_a_source_error(tmp_path):
    with pytest.raises(SourceError, match="cannot build"):
        resolve_source("keras:InceptionV3?size=32", SourceSettings(cache_dir=tmp_path))


@pytest.mark.parametrize("mode", ["tf", "torch", "caffe", "raw255"])
def test_preprocessing_layers_match_the_applications_own(mode):
    import tf_keras
    from tf_keras.src.applications import imagenet_utils

    x = np.random.default_rng(2).random((2, 4, 4, 3), dtype=np.float32)
    inputs = tf_keras.Input((4, 4, 3))
    got = tf_keras.Model(inputs, _preprocess(mode, inputs))(x).numpy()
    if mode == "raw255":
        expected = x * 255.0
    else:
        expected = imagenet_utils.preprocess_input(x * 255.0, mode=mode, data_format="channels_last")
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-3)
