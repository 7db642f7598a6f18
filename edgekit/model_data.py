"""`edgekit convert MODEL --data PATH`: the images that calibrate and check a trained model.

PATH is a folder of images (one subfolder per class gives labels, in sorted order of the folder
names, the order Keras' image_dataset_from_directory uses; loose images give none) or an .npz
with an array `x` (`images` also works) of images [N, H, W, 3] (uint8, or float in [0, 1]) and,
for labels, `y` (or `labels`) [N] and optionally `class_names`. Without --data, parity runs on
generated inputs (seeded noise images), labelled as such everywhere, and full-integer modes,
which need real calibration images, are skipped.

Images go through the one preprocessing function every trained run uses (resize to the model's
input size, scale into its value range). Every problem is a usage error (exit 2) naming the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgekit.errors import DataError, UsageError

GENERATED_INPUTS = 32  # parity inputs made when no --data is given (at most parity.max_samples)
GENERATED_SEED = 0
_NPZ_HINT = (
    "give an .npz with an array x of images [N, H, W, 3] (uint8, or float in [0, 1]) and, for labels, y [N]"
)


@dataclass
class GivenImages:
    images: np.ndarray  # uint8 [N, H, W, 3], or float32 in [0, 1]
    labels: np.ndarray | None  # int64 [N]; None: unlabelled
    class_names: tuple[str, ...] | None  # from the class folders or the .npz
    kind: str  # folder | npz | generated
    origin: str  # where they came from, for the report

    def __len__(self) -> int:
        return len(self.images)


def read_images(path: Path) -> GivenImages:
    """The images at PATH (an image folder or an .npz), checked; DataErrors become usage errors."""
    try:
        return _read_npz(path) if path.is_file() else _read_folder(path)
    except DataError as exc:
        raise UsageError(f"--data {path}: {exc.message}", hint=exc.hint or _NPZ_HINT) from None


def generated_images(size: tuple[int, int], count: int) -> GivenImages:
    """Seeded uniform noise images at SIZE: outputs can be compared on them, nothing can be measured."""
    rng = np.random.default_rng(GENERATED_SEED)
    images = rng.integers(0, 256, (count, *size, 3), dtype=np.uint8)
    return GivenImages(
        images, None, None, "generated", f"{count} generated noise images (seed {GENERATED_SEED})"
    )


def class_names_for(given: GivenImages, classes: int) -> tuple[str, ...]:
    """Names for the model's K outputs; the data's labels and names must fit them."""
    names = given.class_names
    if names is not None and len(names) != classes:
        raise UsageError(
            f"--data {given.origin}: {len(names)} classes ({', '.join(names[:8])}{', …' if len(names) > 8 else ''}) "
            f"but the model has {classes} outputs",
            hint="give one class folder (or class name) per model output, in the model's output order",
        )
    if given.labels is not None and len(given.labels):
        bad = np.flatnonzero((given.labels < 0) | (given.labels >= classes))
        if bad.size:
            raise UsageError(
                f"--data {given.origin}: label {int(given.labels[bad[0]])} (item {int(bad[0])}) is outside "
                f"the model's {classes} outputs 0..{classes - 1}",
                hint="labels are the index of the model's output for each image",
            )
    return names or tuple(f"class_{i}" for i in range(classes))


def _read_folder(root: Path) -> GivenImages:
    from edgekit.train.folder import IMAGE_SUFFIXES, load_image_folder
    from edgekit.train.images import decode_files, stack_images

    subfolders = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    if subfolders:
        data = load_image_folder(root)
        return GivenImages(data.images, data.labels, data.class_names, "folder", f"{root} (class folders)")
    files = sorted(p for p in root.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise DataError(
            f"{root} has no images ({', '.join(IMAGE_SUFFIXES)}) and no class subfolders",
            hint="put the images in the folder, or one subfolder of images per class for labels",
        )
    images = stack_images(decode_files(files), [str(f) for f in files])
    return GivenImages(images, None, None, "folder", f"{root} (unlabelled)")


def _read_npz(path: Path) -> GivenImages:
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError) as exc:  # not a zip, a pickled object array, a truncated file
        raise DataError(f"cannot read it as an .npz: {exc}", hint=_NPZ_HINT) from None
    x = _first(arrays, "x", "images")
    if x is None:
        raise DataError(f"it has no array x (it holds {sorted(arrays) or 'nothing'})", hint=_NPZ_HINT)
    y = _first(arrays, "y", "labels")
    if x.ndim == 3:  # grey [N, H, W]
        x = x[..., None]
    if x.ndim != 4 or x.shape[-1] not in (1, 3) or len(x) == 0:
        raise DataError(f"x has shape {list(x.shape)}; expected images [N, H, W, 3] (or 1 channel), N ≥ 1")
    if x.dtype != np.uint8:
        x = _unit_float(x)
    if x.shape[-1] == 1:
        x = np.repeat(x, 3, axis=-1)
    labels = None
    if y is not None:
        if y.shape != (len(x),) or not np.issubdtype(y.dtype, np.integer):
            raise DataError(
                f"y has shape {list(y.shape)} and dtype {y.dtype}; expected {len(x)} integer labels, one per image in x"
            )
        labels = y.astype(np.int64)
    names = tuple(str(n) for n in arrays["class_names"]) if "class_names" in arrays else None
    return GivenImages(x, labels, names, "npz", str(path))


def _first(arrays: dict[str, np.ndarray], *keys: str) -> np.ndarray | None:
    return next((arrays[k] for k in keys if k in arrays), None)


def _unit_float(x: np.ndarray) -> np.ndarray:
    if not np.issubdtype(x.dtype, np.floating):
        raise DataError(f"x has dtype {x.dtype}; expected uint8 (0..255) or float in [0, 1]")
    x = x.astype(np.float32)
    lo, hi = (float(x.min()), float(x.max())) if x.size else (0.0, 0.0)
    if not (np.isfinite(lo) and np.isfinite(hi)) or lo < 0.0 or hi > 1.0:
        raise DataError(
            f"x holds float values in [{lo:.3g}, {hi:.3g}]; float images must lie in [0, 1] "
            "(edgekit scales them into the model's value range itself)",
            hint="store the images unscaled (uint8, or float in [0, 1]) and pass --value-range LO,HI for the model",
        )
    return x
