"""Labelled image data: load it (generated shapes, image folders, TFRecord, TFDS, .npz) and split it, seeded.

Images are kept as uint8 arrays at their stored size; preprocess.py resizes and scales them, in
one place, for every consumer. Each loader lives in its own module and returns labelled.py's
LabelledData; this one dispatches and splits.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgekit.errors import DataError
from edgekit.train.labelled import SUBSETS, LabelledData


@dataclass
class Splits:
    train: LabelledData
    validation: LabelledData
    test: LabelledData


def load_data(section, base_dir: Path) -> LabelledData:
    """section: recipe.DataSection. Relative paths are relative to the recipe's folder."""
    if section.kind == "shapes":
        from edgekit.train.shapes import generate_shapes

        images, labels, names = generate_shapes(
            section.num_images, noise=section.noise, seed=section.split.seed
        )
        return LabelledData(images, labels, names)
    if section.kind == "tfds":
        from edgekit.train.tfds import load_tfds

        data_dir = _resolve(section.path, base_dir) if section.path else None
        return load_tfds(section.tfds_name, section.tfds_split, data_dir)
    if section.kind == "tfrecord":
        from edgekit.train.tfrecord import load_tfrecord

        return load_tfrecord(section.path, section.tfrecord, base_dir)
    path = _resolve(section.path, base_dir)  # the recipe requires data.path for folder and npz
    if section.kind == "folder":
        from edgekit.train.folder import load_image_folder

        return load_image_folder(path)
    from edgekit.train.arrays import load_npz

    return load_npz(path)


def _resolve(path: str, base_dir: Path) -> Path:
    p = Path(path).expanduser()
    return p if p.is_absolute() else base_dir / p


def split_data(data: LabelledData, validation: float, test: float, seed: int) -> Splits:
    """The user's own split when the data carries one, else a stratified, seeded split."""
    take = _user_split(data) if data.subset is not None else _seeded_split(data, validation, test, seed)
    if len(take["train"]) == 0:
        raise DataError(f"no training images left after the split ({len(data)} images in all)")
    missing = sorted(set(range(len(data.class_names))) - set(data.labels[take["train"]].tolist()))
    if missing:
        names = ", ".join(data.class_names[i] for i in missing)
        raise DataError(
            f"class {names} has no training images after the split",
            hint="add images of that class, or lower data.split.validation/test",
        )
    return Splits(*(data.take(take[k]) for k in SUBSETS))


def _user_split(data: LabelledData) -> dict[str, np.ndarray]:
    return {name: np.flatnonzero(data.subset == i) for i, name in enumerate(SUBSETS)}


def _seeded_split(data: LabelledData, validation: float, test: float, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {k: [] for k in SUBSETS}
    for label in range(len(data.class_names)):
        idx = np.flatnonzero(data.labels == label)
        rng.shuffle(idx)
        n_test = max(1, round(len(idx) * test)) if test > 0 else 0
        n_val = round(len(idx) * validation)
        parts["test"].append(idx[:n_test])
        parts["validation"].append(idx[n_test : n_test + n_val])
        parts["train"].append(idx[n_test + n_val :])
    return {k: np.sort(np.concatenate(v)) for k, v in parts.items()}
