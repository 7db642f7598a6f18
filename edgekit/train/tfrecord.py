"""TFRecord files of tf.train.Example with a declared feature spec (recipe data.tfrecord).

Records are parsed one file at a time so an error names the file and the record number.
"""

from __future__ import annotations

import glob
from pathlib import Path

import numpy as np

from edgekit.errors import DataError
from edgekit.train.images import decode_bytes, stack_images
from edgekit.train.labelled import LabelledData, check_labels


def find_record_files(path: str | Path, base_dir: Path) -> list[Path]:
    """A file, a folder of *.tfrecord* files, or a glob (relative to the recipe's folder)."""
    p = Path(path)
    if not p.is_absolute():
        p = base_dir / p
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if ".tfrecord" in f.name or f.suffix == ".tfrec")
    elif p.is_file():
        files = [p]
    else:
        files = sorted(Path(f) for f in glob.glob(str(p)))
    if not files:
        raise DataError(
            f"data.path {p}: no TFRecord files found",
            hint="give a .tfrecord file, a folder of them, or a glob",
        )
    return files


def load_tfrecord(path: str | Path, spec, base_dir: Path) -> LabelledData:
    """spec: recipe.TFRecordSpec."""
    images: list[np.ndarray] = []
    labels: list[int] = []
    origins: list[str] = []
    for file in find_record_files(path, base_dir):
        for i, (image, label) in enumerate(_read_file(file, spec)):
            origin = f"{file} record {i}"
            images.append(_image(image, spec, origin))
            labels.append(label)
            origins.append(origin)
    if not images:
        raise DataError(f"data.path {path}: the TFRecord files hold no records")
    y = np.array(labels, np.int64)
    names = (
        tuple(spec.class_names) if spec.class_names else tuple(f"class_{i}" for i in range(int(y.max()) + 1))
    )
    _check_labels_per_record(y, names, origins)
    return LabelledData(stack_images(images, origins), y, names)


def _read_file(file: Path, spec):
    import tensorflow as tf

    features = {
        spec.image_key: tf.io.FixedLenFeature([], tf.string),
        spec.label_key: tf.io.FixedLenFeature([], tf.int64),
    }
    try:
        for i, raw in enumerate(tf.data.TFRecordDataset(str(file))):
            try:
                ex = tf.io.parse_single_example(raw, features)
            except tf.errors.InvalidArgumentError as exc:
                raise DataError(
                    f"{file} record {i}: {_first_line(exc)}",
                    hint=f"data.tfrecord declares image_key {spec.image_key!r} (bytes) and "
                    f"label_key {spec.label_key!r} (int64); check the names and types",
                ) from None
            yield ex[spec.image_key].numpy(), int(ex[spec.label_key].numpy())
    except tf.errors.DataLossError as exc:
        raise DataError(f"{file} is not a valid TFRecord file: {_first_line(exc)}") from None


def _image(data: bytes, spec, origin: str) -> np.ndarray:
    if spec.encoding == "encoded":
        return decode_bytes(data, origin)
    h, w, c = spec.shape
    if len(data) != h * w * c:
        raise DataError(
            f"{origin}: raw image has {len(data)} bytes, data.tfrecord.shape {list(spec.shape)} needs {h * w * c}"
        )
    return decode_raw(data, spec.shape, origin)


def decode_raw(data: bytes, shape, origin: str) -> np.ndarray:
    img = np.frombuffer(data, np.uint8).reshape(shape)
    if img.shape[-1] not in (1, 3):
        raise DataError(f"image {origin} has {img.shape[-1]} channels; expected 1 (grey) or 3 (RGB)")
    return img


def _check_labels_per_record(y: np.ndarray, names: tuple[str, ...], origins: list[str]) -> None:
    bad = np.flatnonzero((y < 0) | (y >= len(names)))
    if bad.size:
        check_labels(y[bad[:1]], names, origins[bad[0]])


def _first_line(exc: Exception) -> str:
    return str(getattr(exc, "message", exc)).splitlines()[0]
