"""Sources edgekit builds itself from Keras: `keras:<Application>` and local `.keras` files.

Both end as a SavedModel in the cache (saved once, verified by per-file hashes on each use) and
go through the same op scan as a download, so every source reaches training by one road.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edgekit.errors import SourceError
from edgekit.fsutil import atomic_write_json, sha256_file
from edgekit.sources.base import ResolvedSource, SourceSettings
from edgekit.sources.cache import Cache, CacheEntry
from edgekit.sources.handles import KerasAppHandle, LocalHandle
from edgekit.sources.keras_apps import (
    RANDOM_SEED,
    build_app,
    save_hub_module,
    wants_random_weights,
    weights_dirs,
)
from edgekit.sources.kerasfile import check_keras_file
from edgekit.sources.module_check import checked_source, tree_hash
from edgekit.sources.remote import check_publisher


def resolve_keras_app(spec: str, handle: KerasAppHandle, settings: SourceSettings) -> ResolvedSource:
    check_publisher(handle.publisher, settings, spec)
    cache = Cache(settings.cache_root())
    dirs = weights_dirs(cache.root)
    fill_notes: list[str] = []
    entry = _cached_app(cache, handle, dirs)
    if entry is None:
        entry, fill_notes = _build_into_cache(cache, handle, dirs)
    meta = entry.meta
    imagenet = bool(meta.get("weights_sha256"))
    return checked_source(
        spec,
        handle.canonical,
        "keras",
        entry.module_dir,
        tree_hash(entry.files),
        settings,
        what=handle.canonical,
        notes=list(meta.get("notes", [])) + fill_notes,
        manifest={
            "weights": "imagenet" if imagenet else "random",
            "weights_sha256": meta.get("weights_sha256"),
            "weights_file": meta.get("weights"),
            "weights_wanted": meta.get("weights_wanted"),
            "random_seed": None if imagenet else RANDOM_SEED,
            "cache_entry": str(entry.folder),
        },
    )


def _cache_id(handle: KerasAppHandle, weights_sha: str | None) -> str:
    # Random init and each weight file are different modules: each gets its own cache entry.
    return f"{handle.canonical}#" + (
        f"imagenet-{weights_sha[:16]}" if weights_sha else f"random-seed{RANDOM_SEED}"
    )


def _probe_path(cache: Cache, handle: KerasAppHandle) -> Path:
    return cache.root / "keras-probe" / f"{Cache.key_for(handle.canonical)}.json"


def _cached_app(cache: Cache, handle: KerasAppHandle, dirs: list[Path]) -> CacheEntry | None:
    """The intact entry a build would produce now, found without building (None: build).

    Building the architecture only to learn which weight file tf_keras wants costs seconds, so
    the first build records that file name; later runs check whether it is on disk now.
    """
    try:
        probe = json.loads(_probe_path(cache, handle).read_text())
    except (OSError, ValueError):
        return None
    name = probe.get("weights_wanted") if isinstance(probe, dict) else None
    found = next((d / name for d in dirs if name and (d / name).is_file()), None)
    if found is None and not wants_random_weights(handle):
        return None  # build_app says which file is missing; a random entry is used only when asked for
    entry = cache.lookup(_cache_id(handle, sha256_file(found) if found else None))
    return entry if entry is not None and not cache.verify(entry) else None


def _build_into_cache(cache: Cache, handle: KerasAppHandle, dirs: list[Path]) -> tuple[CacheEntry, list[str]]:
    built = build_app(handle, dirs)
    weights_sha = sha256_file(built.weights_file) if built.weights_file else None
    wanted = built.weights_file.name if built.weights_file else built.weights_wanted
    atomic_write_json(_probe_path(cache, handle), {"canonical": handle.canonical, "weights_wanted": wanted})

    def fill(staging: Path) -> dict[str, Any]:
        save_hub_module(built.model, staging / "module", handle.size)
        return {
            "kind": "keras",
            "weights": str(built.weights_file) if built.weights_file else None,
            "weights_sha256": weights_sha,
            "weights_wanted": wanted,
            "notes": built.notes,
        }

    filled = cache.fill(_cache_id(handle, weights_sha), fill)
    return filled.entry, filled.notes


def resolve_keras_file(spec: str, handle: LocalHandle, settings: SourceSettings) -> ResolvedSource:
    """A .keras file: refused if loading it would run code, else re-saved as a SavedModel."""
    path = handle.path
    check_keras_file(path)
    sha = sha256_file(path)
    canonical = f"keras-file:sha256:{sha}"

    def fill(staging: Path) -> dict[str, Any]:
        model = _load_keras_file(path)
        size = settings.input_size or _fixed_size(model, path)
        save_hub_module(model, staging / "module", (size[0], size[1]))
        return {"kind": "local", "url": path.as_uri(), "archive_sha256": sha}

    filled = Cache(settings.cache_root()).fill(canonical, fill)
    entry = filled.entry
    notes = list(filled.notes)
    if settings.value_range is None:
        notes.append(
            f"{path.name}: value range assumed [0, 1]; set source.value_range if the model expects another"
        )
    return checked_source(
        spec,
        canonical,
        "local",
        entry.module_dir,
        tree_hash(entry.files),
        settings,
        what=str(path),
        notes=notes,
        manifest={"keras_file": str(path), "keras_file_sha256": sha, "cache_entry": str(entry.folder)},
    )


def _load_keras_file(path: Path) -> Any:
    import tf_keras

    try:
        # safe_mode stays on: a second guard behind check_keras_file.
        return tf_keras.models.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # Keras raises many kinds (ValueError, TypeError, KeyError, ...)
        raise SourceError(
            f"{path.name} could not be loaded with tf_keras: {type(exc).__name__}: {exc}",
            hint="save it with tf_keras (model.save('m.keras')), or pass a SavedModel folder whose root object is callable",
        ) from exc


def _fixed_size(model: Any, path: Path) -> tuple[int, int]:
    shape = getattr(model, "input_shape", None)
    if isinstance(shape, tuple) and len(shape) == 4 and all(isinstance(d, int) and d > 0 for d in shape[1:3]):
        return (shape[1], shape[2])
    raise SourceError(
        f"{path.name}: its input shape {shape} does not fix height and width",
        hint="set source.input_size: [H, W] in the recipe",
    )
