"""Dispatch a source spec to the right resolver."""

from __future__ import annotations

from pathlib import Path

from edgekit.errors import SourceError
from edgekit.fsutil import sha256_tree
from edgekit.sources.base import ResolvedSource, SourceSettings
from edgekit.sources.metadata import module_info_from_saved_model


def resolve_source(spec: str, settings: SourceSettings | None = None, *, base_dir: Path | None = None) -> ResolvedSource:
    settings = settings or SourceSettings()
    path = Path(spec).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    if path.is_dir():
        return _resolve_local_dir(spec, path)
    raise SourceError(
        f"cannot resolve source {spec!r}: no such local SavedModel folder",
        hint="give a SavedModel folder (containing saved_model.pb)",
    )


def _resolve_local_dir(spec: str, path: Path) -> ResolvedSource:
    if not (path / "saved_model.pb").is_file():
        raise SourceError(f"source {spec!r}: {path} has no saved_model.pb, so it is not a SavedModel folder")
    path = path.resolve()
    return ResolvedSource(
        spec=spec,
        canonical=f"local:{path}",
        kind="local",
        path=path,
        sha256=sha256_tree(path),
        info=module_info_from_saved_model(path),
    )
