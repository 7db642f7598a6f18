"""A deterministic labelled image set generated in code: the demo's data, no download.

Four classes of periodic patterns (horizontal stripes, vertical stripes, diagonal stripes,
checkerboard) with random frequency, phase, colours and contrast, a random blob occluding part of
the image, and pixel noise. Low-contrast images under noise are genuinely ambiguous, so the task
is learnable but not trivially perfect; `noise` sets how hard it is.
"""

from __future__ import annotations

import numpy as np

CLASSES = ("horizontal", "vertical", "diagonal", "checker")


def generate_shapes(
    n: int, size: int = 64, noise: float = 0.35, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """n uint8 images [n, size, size, 3] and labels [n] (balanced, shuffled)."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % len(CLASSES)
    rng.shuffle(labels)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    images = np.empty((n, size, size, 3), np.uint8)
    for i, label in enumerate(labels):
        images[i] = _draw(rng, int(label), xx, yy, noise)
    return images, labels.astype(np.int64), CLASSES


def _draw(rng: np.random.Generator, label: int, xx: np.ndarray, yy: np.ndarray, noise: float) -> np.ndarray:
    freq = rng.uniform(2.5, 6.0)
    phase = rng.uniform(0, 2 * np.pi)
    wave = _PATTERNS[label](xx, yy, freq, phase)  # in [-1, 1]
    contrast = rng.uniform(0.08, 0.45)
    base = rng.uniform(0.3, 0.7, 3)
    tint = rng.uniform(0.5, 1.0, 3)
    img = base + contrast * wave[..., None] * tint
    bx, by, br = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.1, 0.25)
    blob = (xx - bx) ** 2 + (yy - by) ** 2 < br**2
    img = np.where(blob[..., None], rng.uniform(0, 1, 3), img)
    img = img + rng.normal(0, noise, img.shape)
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)


def _horizontal(xx, yy, f, p):
    return np.sin(2 * np.pi * f * yy + p)


def _vertical(xx, yy, f, p):
    return np.sin(2 * np.pi * f * xx + p)


def _diagonal(xx, yy, f, p):
    return np.sin(2 * np.pi * f * (xx + yy) / np.sqrt(2) + p)


def _checker(xx, yy, f, p):
    return np.sin(2 * np.pi * f * xx + p) * np.sin(2 * np.pi * f * yy + p)


_PATTERNS = (_horizontal, _vertical, _diagonal, _checker)
