"""NumPy arrays in an .npz: 'images' [N, H, W, 3] (uint8, or float in [0, 1]), 'labels' [N], optional 'class_names'."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgekit.errors import DataError
from edgekit.train.labelled import LabelledData, check_labels


def load_npz(path: Path) -> LabelledData:
    if not path.is_file():
        raise DataError(
            f"data.path {path} does not exist", hint="give an .npz with 'images' and 'labels' arrays"
        )
    with np.load(path, allow_pickle=False) as z:
        keys = set(z.files)
        if not {"images", "labels"} <= keys:
            raise DataError(f"{path} must hold arrays 'images' and 'labels'; it holds {sorted(keys)}")
        images, labels = z["images"], z["labels"].astype(np.int64)
        names = tuple(str(n) for n in z["class_names"]) if "class_names" in keys else None
    return from_arrays(images, labels, names, str(path))


def from_arrays(
    images: np.ndarray, labels: np.ndarray, names: tuple[str, ...] | None, origin: str
) -> LabelledData:
    """In-memory arrays (the Python API's way in) with the same checks as a file."""
    labels = np.asarray(labels).astype(np.int64)
    if images.ndim == 3:  # grey [N, H, W]
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3) or len(images) != len(labels):
        raise DataError(
            f"{origin}: images must be [N, H, W, 3] with N labels; got images {images.shape}, labels {labels.shape}"
        )
    names = names or tuple(f"class_{i}" for i in range(int(labels.max()) + 1))
    check_labels(labels, names, origin)
    if images.dtype != np.uint8:
        images = (np.clip(images, 0, 1) * 255).round().astype(np.uint8)
    if images.shape[-1] == 1:
        images = np.repeat(images, 3, axis=-1)
    return LabelledData(images, labels, names)
