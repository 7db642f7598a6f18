"""Labelled image data: load it (generated shapes, image folders, .npz) and split it, seeded.

Images are kept as uint8 arrays at their stored size; preprocess.py resizes and scales them, in
one place, for every consumer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgekit.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


@dataclass
class LabelledData:
    images: np.ndarray  # uint8 [N, H, W, 3]
    labels: np.ndarray  # int64 [N]
    class_names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, index: np.ndarray) -> "LabelledData":
        return LabelledData(self.images[index], self.labels[index], self.class_names)


@dataclass
class Splits:
    train: LabelledData
    validation: LabelledData
    test: LabelledData


def load_data(section, base_dir: Path) -> LabelledData:
    """section: recipe.DataSection."""
    if section.kind == "shapes":
        from edgekit.train.shapes import generate_shapes

        images, labels, names = generate_shapes(section.num_images, noise=section.noise, seed=section.split.seed)
        return LabelledData(images, labels, names)
    path = Path(section.path).expanduser()
    path = path if path.is_absolute() else base_dir / path
    if section.kind == "folder":
        return load_image_folder(path)
    return load_npz(path)


def load_image_folder(root: Path) -> LabelledData:
    if not root.is_dir():
        raise DataError(f"data.path {root} is not a folder", hint="give a folder with one subfolder of images per class")
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(class_dirs) < 2:
        raise DataError(f"{root} has {len(class_dirs)} class subfolder(s); a classifier needs at least 2")
    images, labels = [], []
    for label, folder in enumerate(class_dirs):
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise DataError(f"class folder {folder} has no images ({', '.join(IMAGE_SUFFIXES)})")
        for f in files:
            images.append(decode_image(f))
            labels.append(label)
    return LabelledData(_stack(images, root), np.array(labels, np.int64), tuple(p.name for p in class_dirs))


def decode_image(path: Path) -> np.ndarray:
    import tensorflow as tf

    try:
        img = tf.io.decode_image(path.read_bytes(), channels=0, expand_animations=False).numpy()
    except (tf.errors.InvalidArgumentError, ValueError) as exc:
        raise DataError(f"cannot decode image {path}: {str(exc).splitlines()[0]}") from None
    if img.shape[-1] == 1:
        img = np.repeat(img, 3, axis=-1)
    if img.shape[-1] != 3:
        raise DataError(f"image {path} has {img.shape[-1]} channels; expected 1 (grey) or 3 (RGB)")
    return img


def _stack(images: list[np.ndarray], root: Path) -> np.ndarray:
    shapes = {im.shape for im in images}
    if len(shapes) == 1:
        return np.stack(images)
    import tensorflow as tf

    # Mixed sizes: bring everything to the most common size; preprocessing resizes again later.
    h, w, _ = max(shapes, key=lambda s: sum(im.shape == s for im in images))
    return np.stack([tf.image.resize(im, (h, w)).numpy().round().clip(0, 255).astype(np.uint8) for im in images])


def load_npz(path: Path) -> LabelledData:
    if not path.is_file():
        raise DataError(f"data.path {path} does not exist", hint="give an .npz with 'images' and 'labels' arrays")
    with np.load(path, allow_pickle=False) as z:
        keys = set(z.files)
        if not {"images", "labels"} <= keys:
            raise DataError(f"{path} must hold arrays 'images' and 'labels'; it holds {sorted(keys)}")
        images, labels = z["images"], z["labels"].astype(np.int64)
        names = tuple(str(n) for n in z["class_names"]) if "class_names" in keys else None
    if images.ndim != 4 or images.shape[-1] != 3 or len(images) != len(labels):
        raise DataError(f"{path}: images must be [N, H, W, 3] with N labels; got images {images.shape}, labels {labels.shape}")
    n_classes = int(labels.max()) + 1
    names = names or tuple(f"class_{i}" for i in range(n_classes))
    bad = labels[(labels < 0) | (labels >= len(names))]
    if bad.size:
        raise DataError(f"{path}: label {int(bad[0])} is outside the class list 0..{len(names) - 1}")
    if images.dtype != np.uint8:
        images = (np.clip(images, 0, 1) * 255).round().astype(np.uint8)
    return LabelledData(images, labels, names)


def split_data(data: LabelledData, validation: float, test: float, seed: int) -> Splits:
    """Stratified, seeded split: every class appears in every split when it has enough images."""
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {"train": [], "validation": [], "test": []}
    for label in range(len(data.class_names)):
        idx = np.flatnonzero(data.labels == label)
        rng.shuffle(idx)
        n_test = max(1, round(len(idx) * test)) if test > 0 else 0
        n_val = round(len(idx) * validation)
        parts["test"].append(idx[:n_test])
        parts["validation"].append(idx[n_test : n_test + n_val])
        parts["train"].append(idx[n_test + n_val :])
    take = {k: np.sort(np.concatenate(v)) for k, v in parts.items()}
    if len(take["train"]) == 0:
        raise DataError(f"no training images left after the split ({len(data)} images in all)")
    return Splits(data.take(take["train"]), data.take(take["validation"]), data.take(take["test"]))
