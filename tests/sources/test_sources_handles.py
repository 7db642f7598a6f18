"""Handle forms → one canonical id; malformed handles → clear errors. No network, no TensorFlow."""

from __future__ import annotations

import pytest

from edgekit.errors import SourceError, UsageError
from edgekit.sources import catalogue
from edgekit.sources.base import SourceSettings
from edgekit.sources.cache import Cache
from edgekit.sources.handles import (
    DemoHandle,
    HubHandle,
    KaggleHandle,
    KerasAppHandle,
    LocalHandle,
    parse_handle,
)

MOBILENET = "kaggle:google/mobilenet-v2/tensorflow2/100-224-feature-vector/5"


@pytest.mark.parametrize(
    "spec",
    [
        "https://tfhub.dev/google/imagenet/mobilenet_v2_100_224/feature_vector/5",
        "https://tfhub.dev/google/imagenet/mobilenet_v2_100_224/feature_vector/5?tf-hub-format=compressed",
        "http://tfhub.dev/Google/imagenet/mobilenet_v2_100_224/feature_vector/5/",
        "tfhub:google/imagenet/mobilenet_v2_100_224/feature_vector/5",
        "google/mobilenet-v2/tensorFlow2/100-224-feature-vector/5",
        "kaggle:google/mobilenet-v2/tensorflow2/100-224-feature-vector/5",
        "https://www.kaggle.com/models/google/mobilenet-v2/tensorFlow2/100-224-feature-vector/5",
        "https://www.kaggle.com/models/google/mobilenet-v2/frameworks/TensorFlow2/variations/100-224-feature-vector/versions/5",
    ],
)
def test_every_spelling_of_one_model_has_one_canonical_id(spec):
    handle = parse_handle(spec)
    assert isinstance(handle, KaggleHandle)
    assert handle.canonical == MOBILENET
    assert handle.pinned and handle.version == 5


def test_one_canonical_id_means_one_cache_folder(tmp_path):
    cache = Cache(tmp_path)
    folders = {
        cache.folder_for(parse_handle(s).canonical)
        for s in (
            "https://tfhub.dev/google/imagenet/mobilenet_v2_100_224/feature_vector/5",
            "google/mobilenet-v2/tensorFlow2/100-224-feature-vector/5",
        )
    }
    assert len(folders) == 1


def test_mirror_urls_are_recognized_by_their_base(tmp_path):
    settings = SourceSettings(hub_url="http://127.0.0.1:9/hub", kaggle_url="http://127.0.0.1:9/kaggle")
    hub = parse_handle("http://127.0.0.1:9/hub/acme/net/feature_vector/2", settings)
    kaggle = parse_handle("http://127.0.0.1:9/kaggle/models/acme/net/tensorFlow2/small/3", settings)
    assert (
        hub.canonical
        == parse_handle("https://tfhub.dev/acme/net/feature_vector/2").canonical
        == "tfhub:acme/net/feature_vector/2"
    )
    assert kaggle.canonical == "kaggle:acme/net/tensorflow2/small/3"


def test_download_urls_follow_the_services_conventions():
    settings = SourceSettings(hub_url="http://h:1", kaggle_url="http://k:2/")
    hub = parse_handle("tfhub:acme/net/feature_vector/2")
    kaggle = parse_handle(MOBILENET)
    assert hub.download_url(settings) == "http://h:1/acme/net/feature_vector/2?tf-hub-format=compressed"
    assert kaggle.download_url(settings) == (
        "http://k:2/api/v1/models/google/mobilenet-v2/tensorFlow2/100-224-feature-vector/5/download"
    )
    assert kaggle.with_version(7).version_url(settings).endswith("/100-224-feature-vector/get")


def test_environment_sets_the_mirrors(monkeypatch):
    monkeypatch.setenv("EDGEKIT_HUB_URL", "http://env-hub:5/")
    monkeypatch.setenv("EDGEKIT_KAGGLE_URL", "http://env-kaggle:6")
    assert SourceSettings().hub_base() == "http://env-hub:5"
    assert SourceSettings().kaggle_base() == "http://env-kaggle:6"
    assert SourceSettings(hub_url="http://explicit:7").hub_base() == "http://explicit:7"  # recipe wins


@pytest.mark.parametrize(
    ("spec", "canonical"),
    [
        (
            "https://tfhub.dev/google/imagenet/mobilenet_v2_100_224/feature_vector",
            "kaggle:google/mobilenet-v2/tensorflow2/100-224-feature-vector",
        ),
        ("acme/net/tensorFlow2/small", "kaggle:acme/net/tensorflow2/small"),
        ("https://tfhub.dev/acme/net/feature_vector", "tfhub:acme/net/feature_vector"),
    ],
)
def test_handles_without_version_are_unpinned(spec, canonical):
    handle = parse_handle(spec)
    assert not handle.pinned and handle.canonical == canonical


@pytest.mark.parametrize(
    ("spec", "canonical"),
    [
        ("keras:MobileNetV2", "keras:MobileNetV2?size=224x224"),
        ("keras:mobilenetv2?alpha=0.350&size=96", "keras:MobileNetV2?alpha=0.35&size=96x96"),
        ("keras:InceptionV3", "keras:InceptionV3?size=299x299"),
        (
            "keras:MobileNetV3Small?minimalistic=1&size=64x80",
            "keras:MobileNetV3Small?minimalistic=true&size=64x80",
        ),
        ("keras:ResNet50?weights=Random", "keras:ResNet50?size=224x224&weights=random"),
        ("keras:ResNet50?weights=imagenet", "keras:ResNet50?size=224x224"),  # the default has one id
    ],
)
def test_keras_handles(spec, canonical):
    handle = parse_handle(spec)
    assert isinstance(handle, KerasAppHandle) and handle.canonical == canonical


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("keras:MobileNetV9", "did you mean"),
        ("keras:ResNet50?alpha=0.5", "not accepted by ResNet50"),
        ("keras:MobileNetV2?size=12", "between 32 and 1024"),
        ("keras:MobileNetV2?alpha=big", "alpha must be a number"),
        ("keras:MobileNetV2?weights=none", "weights must be imagenet or random"),
        ("kaggle:google/mobilenet-v2/tfLite/100-224-feature-vector/5", "not a TensorFlow SavedModel"),
        ("https://example.com/google/model/1", "not a tfhub.dev or Kaggle Models URL"),
        ("tfhub:google", "<publisher>/<model...>/<version>"),
        ("tfhub:google/../etc/1", "invalid path segment"),
        ("kaggle:google/model/tensorflow2", "<owner>/<model>/<framework>/<variation>/<version>"),
        ("", "empty source handle"),
        ("whatever", "cannot understand source"),
    ],
)
def test_malformed_handles_are_usage_errors(spec, message):
    with pytest.raises(UsageError) as err:
        parse_handle(spec)
    assert message in str(err.value)
    assert err.value.hint


@pytest.mark.parametrize("spec", ["models/mine.tar.gz", "out/backbone/saved/model", "./net.keras"])
def test_missing_local_paths_say_so(spec, tmp_path):
    with pytest.raises(SourceError) as err:
        parse_handle(spec, base_dir=tmp_path)
    assert "no such file or folder" in str(err.value)
    assert str(tmp_path) in str(err.value)


def test_local_paths_resolve_against_the_recipe_folder(tmp_path):
    (tmp_path / "backbone").mkdir()
    (tmp_path / "m.tar.gz").write_bytes(b"")
    (tmp_path / "m.keras").write_bytes(b"")
    assert parse_handle("backbone", base_dir=tmp_path) == LocalHandle(
        (tmp_path / "backbone").resolve(), "folder"
    )
    assert parse_handle("m.tar.gz", base_dir=tmp_path).form == "archive"
    assert parse_handle(str(tmp_path / "m.keras")).form == "keras"
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(SourceError, match="cannot use as a model"):
        parse_handle("notes.txt", base_dir=tmp_path)


def test_demo_and_hub_handles_keep_their_kind():
    assert isinstance(parse_handle("demo:shapes-cnn"), DemoHandle)
    assert isinstance(parse_handle("https://tfhub.dev/acme/net/feature_vector/2"), HubHandle)


def test_catalogue_is_consistent():
    tfhub = [e.tfhub for e in catalogue.ENTRIES]
    kaggle = [e.kaggle for e in catalogue.ENTRIES]
    assert len(set(tfhub)) == len(tfhub) and len(set(kaggle)) == len(kaggle)
    for entry in catalogue.ENTRIES:
        handle = parse_handle(f"https://tfhub.dev/{entry.tfhub}/1")
        assert isinstance(handle, KaggleHandle) and handle.variation_path == entry.kaggle
        assert catalogue.by_kaggle(handle.variation_path) is entry
        assert entry.info().origin == "catalogue" and entry.info().value_range == (0.0, 1.0)
