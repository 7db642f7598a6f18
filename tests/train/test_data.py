"""Each dataset kind loads; bad data gives an error naming the file or class."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from train_helpers import write_png

from edgekit.errors import DataError
from edgekit.recipe import DataSection
from edgekit.train.data import LabelledData, load_data, split_data

RNG = np.random.default_rng(0)


def rgb(h=8, w=8, c=3):
    return RNG.integers(0, 256, (h, w, c), dtype=np.uint8)


def make_folder(root: Path, per_class: dict[str, int]) -> Path:
    for name, n in per_class.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            write_png(root / name / f"{i}.png", rgb())
    return root


def load(tmp_path: Path, **section):
    return load_data(DataSection.model_validate(section), tmp_path)


def test_image_folder_loads_classes_in_sorted_order(tmp_path):
    make_folder(tmp_path / "imgs", {"cat": 3, "dog": 2})
    data = load(tmp_path, kind="folder", path="imgs")
    assert data.class_names == ("cat", "dog")
    assert data.images.shape == (5, 8, 8, 3) and data.images.dtype == np.uint8
    assert data.labels.tolist() == [0, 0, 0, 1, 1]


def test_image_folder_with_users_own_split(tmp_path):
    make_folder(tmp_path / "d" / "train", {"a": 3, "b": 3})
    make_folder(tmp_path / "d" / "test", {"a": 1, "b": 2})
    data = load(tmp_path, kind="folder", path="d")
    splits = split_data(data, 0.5, 0.5, seed=0)  # the user's split wins over the fractions
    assert (len(splits.train), len(splits.validation), len(splits.test)) == (6, 0, 3)
    assert splits.test.labels.tolist() == [0, 1, 1]


def test_empty_class_folder_is_named(tmp_path):
    make_folder(tmp_path / "imgs", {"cat": 2, "dog": 0})
    with pytest.raises(DataError, match=r"class folder .*imgs/dog has no images"):
        load(tmp_path, kind="folder", path="imgs")


def test_corrupt_image_is_named(tmp_path):
    make_folder(tmp_path / "imgs", {"cat": 2, "dog": 2})
    (tmp_path / "imgs" / "dog" / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(DataError, match=r"cannot decode image .*dog/broken.png"):
        load(tmp_path, kind="folder", path="imgs")


def test_mixed_channel_counts_name_both_files(tmp_path):
    make_folder(tmp_path / "imgs", {"cat": 2, "dog": 1})
    write_png(tmp_path / "imgs" / "dog" / "grey.png", rgb(c=1))
    with pytest.raises(
        DataError, match=r"mixed channel counts: .*dog/grey.png has 1 channel, .*cat/0.png has 3"
    ):
        load(tmp_path, kind="folder", path="imgs")


def test_all_grey_images_become_rgb(tmp_path):
    for name in ("a", "b"):
        write_png(tmp_path / "g" / name / "0.png", rgb(c=1))
    data = load(tmp_path, kind="folder", path="g")
    assert data.images.shape == (2, 8, 8, 3)
    assert np.array_equal(data.images[..., 0], data.images[..., 2])


def test_npz_loads_and_scales_floats(tmp_path):
    images = RNG.random((6, 8, 8, 3)).astype(np.float32)
    np.savez(
        tmp_path / "d.npz",
        images=images,
        labels=np.array([0, 1, 2, 0, 1, 2]),
        class_names=np.array(["x", "y", "z"]),
    )
    data = load(tmp_path, kind="npz", path="d.npz")
    assert data.class_names == ("x", "y", "z") and data.images.dtype == np.uint8
    assert np.abs(data.images / 255.0 - images).max() <= 0.5 / 255 + 1e-6


def test_npz_label_outside_class_list_names_the_file(tmp_path):
    np.savez(
        tmp_path / "d.npz",
        images=np.zeros((3, 4, 4, 3), np.uint8),
        labels=np.array([0, 1, 5]),
        class_names=np.array(["x", "y"]),
    )
    with pytest.raises(DataError, match=r"d.npz: label 5 \(item 2\) is outside the class list 0..1"):
        load(tmp_path, kind="npz", path="d.npz")


def write_records(path: Path, items, image_key="image", label_key="label", encode=True) -> Path:
    import tensorflow as tf

    with tf.io.TFRecordWriter(str(path)) as w:
        for image, label in items:
            data = tf.io.encode_png(image).numpy() if encode else image.tobytes()
            ex = tf.train.Example(
                features=tf.train.Features(
                    feature={
                        image_key: tf.train.Feature(bytes_list=tf.train.BytesList(value=[data])),
                        label_key: tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
                    }
                )
            )
            w.write(ex.SerializeToString())
    return path


def test_tfrecord_encoded_and_raw_load(tmp_path):
    items = [(rgb(), i % 2) for i in range(4)]
    write_records(tmp_path / "a.tfrecord", items[:2], image_key="img", label_key="y")
    write_records(tmp_path / "b.tfrecord", items[2:], image_key="img", label_key="y")
    data = load(
        tmp_path,
        kind="tfrecord",
        path="*.tfrecord",
        tfrecord={"image_key": "img", "label_key": "y", "class_names": ["even", "odd"]},
    )
    assert data.class_names == ("even", "odd") and data.labels.tolist() == [0, 1, 0, 1]
    assert np.array_equal(data.images, np.stack([im for im, _ in items]))
    write_records(tmp_path / "raw.tfrecord", items, encode=False)
    raw = load(
        tmp_path, kind="tfrecord", path="raw.tfrecord", tfrecord={"encoding": "raw", "shape": [8, 8, 3]}
    )
    assert np.array_equal(raw.images, data.images) and raw.class_names == ("class_0", "class_1")


def test_tfrecord_label_outside_class_list_names_file_and_record(tmp_path):
    write_records(tmp_path / "a.tfrecord", [(rgb(), 0), (rgb(), 3)])
    with pytest.raises(
        DataError, match=r"a.tfrecord record 1: label 3 .* outside the class list 0..1 \(a, b\)"
    ):
        load(tmp_path, kind="tfrecord", path="a.tfrecord", tfrecord={"class_names": ["a", "b"]})


def test_tfrecord_wrong_feature_key_names_file_and_key(tmp_path):
    write_records(tmp_path / "a.tfrecord", [(rgb(), 0)], image_key="picture")
    with pytest.raises(DataError, match=r"a.tfrecord record 0: .*image") as info:
        load(tmp_path, kind="tfrecord", path="a.tfrecord")
    assert "image_key 'image'" in info.value.hint


def test_tfds_without_the_package_says_how_to_install(tmp_path):
    import importlib.util

    if importlib.util.find_spec("tensorflow_datasets") is not None:
        pytest.skip("tensorflow-datasets is installed here; the missing-package path cannot be shown")
    with pytest.raises(DataError, match="needs the tensorflow-datasets package") as info:
        load(tmp_path, kind="tfds", tfds_name="tf_flowers")
    assert "pip install tensorflow-datasets" in info.value.hint


def test_tfds_loader_reads_a_prepared_dataset(tmp_path):
    pytest.importorskip(
        "tensorflow_datasets", reason="tensorflow-datasets is not installed (optional dependency)"
    )
    pytest.skip("building a TFDS dataset needs its download step (network), which tests do not have")


def test_split_is_seeded_and_stratified():
    labels = np.repeat([0, 1, 2], 20)
    data = LabelledData(np.zeros((60, 2, 2, 3), np.uint8), labels, ("a", "b", "c"))
    a, b = split_data(data, 0.2, 0.2, seed=3), split_data(data, 0.2, 0.2, seed=3)
    assert np.array_equal(a.test.labels, b.test.labels) and len(a.test) == 12
    assert np.bincount(a.validation.labels).tolist() == [4, 4, 4]


def test_class_without_training_images_is_named():
    data = LabelledData(np.zeros((5, 2, 2, 3), np.uint8), np.array([0, 0, 0, 0, 1]), ("many", "lonely"))
    with pytest.raises(DataError, match="class lonely has no training images"):
        split_data(data, 0.0, 0.2, seed=0)
