"""Image folders: one subfolder per class, optionally inside train/ validation/ test/ (the user's split)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgekit.errors import DataError
from edgekit.train.images import decode_files, stack_images
from edgekit.train.labelled import SUBSETS, LabelledData

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
SPLIT_ALIASES = {"train": "train", "validation": "validation", "val": "validation", "test": "test"}


def load_image_folder(root: Path) -> LabelledData:
    if not root.is_dir():
        raise DataError(
            f"data.path {root} is not a folder", hint="give a folder with one subfolder of images per class"
        )
    split_dirs = {SPLIT_ALIASES[p.name]: p for p in root.iterdir() if p.is_dir() and p.name in SPLIT_ALIASES}
    if "train" in split_dirs and "test" in split_dirs:
        return _load_user_split(split_dirs)
    names = class_folders(root)
    files, labels = _list_files(root, names)
    return LabelledData(_decode(files), np.array(labels, np.int64), names)


def class_folders(root: Path) -> tuple[str, ...]:
    names = tuple(sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")))
    if len(names) < 2:
        raise DataError(
            f"{root} has {len(names)} class subfolder(s); a classifier needs at least 2",
            hint="make one subfolder per class, named after the class",
        )
    return names


def _list_files(root: Path, names: tuple[str, ...]) -> tuple[list[Path], list[int]]:
    files: list[Path] = []
    labels: list[int] = []
    for label, name in enumerate(names):
        folder = root / name
        found = (
            sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            if folder.is_dir()
            else []
        )
        if not found:
            raise DataError(
                f"class folder {folder} has no images ({', '.join(IMAGE_SUFFIXES)})",
                hint=f"add images of class {name!r}, or remove the folder",
            )
        files += found
        labels += [label] * len(found)
    return files, labels


def _load_user_split(split_dirs: dict[str, Path]) -> LabelledData:
    """train/ defines the classes; validation/ and test/ may only use those classes."""
    names = class_folders(split_dirs["train"])
    files: list[Path] = []
    labels: list[int] = []
    subset: list[int] = []
    for i, split in enumerate(SUBSETS):
        if split not in split_dirs:
            continue
        folder = split_dirs[split]
        extra = sorted(set(p.name for p in folder.iterdir() if p.is_dir()) - set(names))
        if extra:
            raise DataError(
                f"{folder} has class folder(s) {', '.join(extra)} that {split_dirs['train']} lacks",
                hint="every class needs training images; add them under train/ or remove the folder",
            )
        present = tuple(n for n in names if (folder / n).is_dir()) if split != "train" else names
        f, lab = _list_files(folder, present)
        files += f
        labels += [names.index(present[j]) for j in lab]
        subset += [i] * len(f)
    return LabelledData(_decode(files), np.array(labels, np.int64), names, np.array(subset, np.int8))


def _decode(files: list[Path]) -> np.ndarray:
    return stack_images(decode_files(files), [str(f) for f in files])
