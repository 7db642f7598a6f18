"""Decoding and stacking images from files: the checks every file-based loader shares.

Errors name the file: a corrupt image, an unsupported channel count, or a mix of grey and colour
images (silently converting one kind would hide a data bug, e.g. masks mixed into photos).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from edgekit.errors import DataError


def decode_bytes(data: bytes, origin: str) -> np.ndarray:
    """PNG/JPEG/BMP/GIF bytes → uint8 [H, W, C] with C as stored."""
    import tensorflow as tf

    try:
        img = tf.io.decode_image(data, channels=0, expand_animations=False).numpy()
    except (tf.errors.InvalidArgumentError, ValueError) as exc:
        raise DataError(
            f"cannot decode image {origin}: {str(exc).splitlines()[0]}",
            hint="remove or replace the corrupt file",
        ) from None
    if img.shape[-1] not in (1, 3):
        raise DataError(
            f"image {origin} has {img.shape[-1]} channels; expected 1 (grey) or 3 (RGB)",
            hint="convert it to RGB, e.g. PIL Image.convert('RGB')",
        )
    return img


def decode_files(paths: list[Path]) -> list[np.ndarray]:
    """Decode in parallel: tf.io.decode_image releases the GIL, so threads use every core."""
    with ThreadPoolExecutor() as pool:
        return list(pool.map(lambda p: decode_bytes(p.read_bytes(), str(p)), paths))


def stack_images(images: list[np.ndarray], origins: list[str]) -> np.ndarray:
    """One uint8 [N, H, W, 3] array. All grey → RGB; grey mixed with RGB → error naming one of each."""
    channels = {im.shape[-1] for im in images}
    if len(channels) > 1:
        grey = next(o for o, im in zip(origins, images) if im.shape[-1] == 1)
        rgb = next(o for o, im in zip(origins, images) if im.shape[-1] == 3)
        raise DataError(
            f"images of mixed channel counts: {grey} has 1 channel, {rgb} has 3",
            hint="convert every image to RGB (or every one to grey) before training",
        )
    if channels == {1}:
        images = [np.repeat(im, 3, axis=-1) for im in images]
    shapes = {im.shape for im in images}
    if len(shapes) == 1:
        return np.stack(images)
    import tensorflow as tf

    # Mixed sizes: bring everything to the most common size; preprocessing resizes again later.
    h, w, _ = max(shapes, key=lambda s: sum(im.shape == s for im in images))
    return np.stack(
        [
            im
            if im.shape[:2] == (h, w)
            else tf.image.resize(im, (h, w)).numpy().round().clip(0, 255).astype(np.uint8)
            for im in images
        ]
    )
