"""TensorFlow Datasets by name, from data already on disk (edgekit never downloads at run time).

tensorflow-datasets is optional: it is imported only when a recipe asks for data.kind 'tfds'.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgekit.errors import DataError
from edgekit.train.images import stack_images
from edgekit.train.labelled import LabelledData, check_labels


def import_tfds():
    try:
        import tensorflow_datasets
    except ModuleNotFoundError as exc:
        if exc.name != "tensorflow_datasets":
            raise
        raise DataError(
            "data.kind 'tfds' needs the tensorflow-datasets package, which is not installed",
            hint="pip install tensorflow-datasets (or uv add tensorflow-datasets)",
        ) from None
    return tensorflow_datasets


def load_tfds(name: str, split: str, data_dir: Path | None) -> LabelledData:
    tfds = import_tfds()
    try:
        builder = tfds.builder(name, data_dir=str(data_dir) if data_dir else None)
    except Exception as exc:  # tfds raises its own DatasetNotFoundError family
        raise DataError(
            f"data.tfds_name {name!r}: {exc}", hint="check the name with tfds.list_builders()"
        ) from None
    if not builder.is_prepared():
        raise DataError(
            f"TFDS dataset {name!r} is not prepared in {builder.data_dir}",
            hint=f"on a machine with network: tfds build {name} (or tfds.load({name!r})), then copy the data_dir here",
        )
    ds = builder.as_dataset(split=split, as_supervised=True, shuffle_files=False)
    names = tuple(builder.info.features["label"].names)
    images, labels = [], []
    for image, label in ds.as_numpy_iterator():
        images.append(image)
        labels.append(int(label))
    y = np.array(labels, np.int64)
    origin = f"tfds {name}[{split}]"
    check_labels(y, names, origin)
    return LabelledData(stack_images(images, [f"{origin} item {i}" for i in range(len(images))]), y, names)
