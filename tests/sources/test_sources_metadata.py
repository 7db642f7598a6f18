"""Module metadata: input size and output width from the signature, the catalogue or the recipe."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sources_support import MOBILENET_KAGGLE, folder_files, tar_gz

from edgekit.errors import SourceError
from edgekit.recipe import SourceSection
from edgekit.sources import SourceSettings, resolve_source
from edgekit.sources.catalogue import by_kaggle
from edgekit.sources.metadata import module_info, module_info_from_saved_model


def _module(folder, shape, *, signature: bool):
    import tensorflow as tf

    class M(tf.Module):
        def __init__(self):
            super().__init__()
            self.w = tf.Variable(tf.ones([3, 5]))

        @tf.function(input_signature=[tf.TensorSpec(shape, tf.float32)])
        def __call__(self, x):
            return tf.matmul(tf.reduce_mean(x, [1, 2]), self.w)

    m = M()
    tf.saved_model.save(m, str(folder), signatures={"serving_default": m.__call__} if signature else None)
    return folder


@pytest.fixture(scope="module")
def any_size_module(tmp_path_factory):
    return _module(tmp_path_factory.mktemp("any") / "m", [None, None, None, 3], signature=True)


def test_size_from_the_call_function_when_there_is_no_signature(tmp_path):
    folder = _module(tmp_path / "m", [None, 16, 12, 3], signature=False)
    info = module_info(folder)
    assert info.input_size == (16, 12) and info.origin == "signature"


def test_any_size_module_needs_the_catalogue_or_the_recipe(any_size_module):
    with pytest.raises(SourceError, match="accepts any size") as err:
        module_info(any_size_module)
    assert "source.input_size" in err.value.hint
    with pytest.raises(SourceError, match="does not fix height and width"):
        module_info_from_saved_model(any_size_module)
    entry = by_kaggle("google/mobilenet-v2/tensorflow2/100-224-feature-vector")
    from_catalogue = module_info(any_size_module, catalogue=entry)
    assert (from_catalogue.input_size, from_catalogue.origin) == ((224, 224), "catalogue")
    assert from_catalogue.output_dim == 5  # the file's own signature wins over the catalogue
    from_recipe = module_info(
        any_size_module, catalogue=entry, input_size=(160, 160), value_range=(-1.0, 1.0)
    )
    assert (from_recipe.input_size, from_recipe.value_range, from_recipe.origin) == (
        (160, 160),
        (-1.0, 1.0),
        "recipe",
    )


def test_downloaded_catalogue_module_gets_its_training_size(server, settings, any_size_module):
    server.add_kaggle(MOBILENET_KAGGLE, tar_gz(folder_files(any_size_module)))
    resolved = resolve_source(
        "https://tfhub.dev/google/imagenet/mobilenet_v2_100_224/feature_vector/5", settings
    )
    assert resolved.info.input_size == (224, 224) and resolved.info.origin == "catalogue"
    overridden = resolve_source(MOBILENET_KAGGLE, replace(settings, input_size=(192, 192)))
    assert overridden.info.input_size == (192, 192) and overridden.info.origin == "recipe"


def test_settings_from_a_recipe_section(tmp_path):
    section = SourceSection(
        handle="acme/net/tensorFlow2/small",
        allow_unpinned=True,
        allow_publishers=["google", "acme"],
        allow_unsafe_ops=True,
        hub_url="http://mirror",
        kaggle_url="http://kmirror",
        input_size=(96, 96),
        value_range=(-1.0, 1.0),
    )
    s = SourceSettings.from_recipe(section, tmp_path, offline=True)
    assert s.lockfile == tmp_path / "edgekit.lock" and s.offline and s.allow_unpinned and s.allow_unsafe_ops
    assert (
        s.publishers() == {"google", "acme"}
        and s.hub_base() == "http://mirror"
        and s.kaggle_base() == "http://kmirror"
    )
    assert s.input_size == (96, 96) and s.value_range == (-1.0, 1.0)
    assert SourceSettings.from_recipe(SourceSection(handle="x")).publishers() == {
        "google",
        "tensorflow",
        "keras",
    }


def test_cache_root_defaults(monkeypatch, tmp_path):
    monkeypatch.delenv("EDGEKIT_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert SourceSettings().cache_root() == tmp_path / "xdg" / "edgekit"
    monkeypatch.setenv("EDGEKIT_CACHE", str(tmp_path / "env"))
    assert SourceSettings().cache_root() == tmp_path / "env"
    assert SourceSettings(cache_dir=tmp_path / "explicit").cache_root() == tmp_path / "explicit"
    monkeypatch.setenv("EDGEKIT_OFFLINE", "yes")
    assert SourceSettings().is_offline()
