"""What every data loader returns: labelled uint8 images, and the check each loader runs on its labels.

Its own module so that the loaders (folder.py, tfrecord.py, tfds.py, arrays.py) and data.py, which
dispatches to them, do not import each other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgekit.errors import DataError

SUBSETS = ("train", "validation", "test")


@dataclass
class LabelledData:
    images: np.ndarray  # uint8 [N, H, W, 3]
    labels: np.ndarray  # int64 [N]
    class_names: tuple[str, ...]
    subset: np.ndarray | None = None  # int8 [N] index into SUBSETS when the user brought their own split

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, index: np.ndarray) -> LabelledData:
        return LabelledData(self.images[index], self.labels[index], self.class_names)


def check_labels(labels: np.ndarray, class_names: tuple[str, ...], origin: str) -> None:
    """Every loader calls this: a label outside the class list is an error that names where it came from."""
    bad = np.flatnonzero((labels < 0) | (labels >= len(class_names)))
    if bad.size:
        raise DataError(
            f"{origin}: label {int(labels[bad[0]])} (item {int(bad[0])}) is outside the class list "
            f"0..{len(class_names) - 1} ({', '.join(class_names)})",
            hint="fix the label, or declare every class name",
        )
