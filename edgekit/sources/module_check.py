"""The checks every module passes before edgekit hands it out: op scan, then metadata."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from edgekit.sources.base import ModuleInfo, ResolvedSource, SourceSettings
from edgekit.sources.catalogue import CatalogueEntry
from edgekit.sources.metadata import module_info
from edgekit.sources.opscan import ScanReport, check_saved_model


def inspect_module(
    path: Path, settings: SourceSettings, *, what: str, catalogue: CatalogueEntry | None = None
) -> tuple[ScanReport, ModuleInfo, list[str]]:
    """Scan PATH (refusing dangerous ops unless allowed) and read its ModuleInfo; notes for the user."""
    report = check_saved_model(path, allow_unsafe_ops=settings.allow_unsafe_ops, what=what)
    notes = []
    if report.findings:
        notes.append(f"UNSAFE OPS ALLOWED by explicit override (--allow-unsafe-ops): {report.describe()}")
    info = module_info(
        path, catalogue=catalogue, input_size=settings.input_size, value_range=settings.value_range
    )
    return report, info, notes


def checked_source(
    spec: str,
    canonical: str,
    kind: str,
    module_dir: Path,
    sha256: str,
    settings: SourceSettings,
    *,
    what: str,
    notes: Sequence[str] = (),
    manifest: dict[str, Any] | None = None,
) -> ResolvedSource:
    """Scan and describe MODULE_DIR, then hand it out: the last step shared by every resolver."""
    report, info, scan_notes = inspect_module(module_dir, settings, what=what)
    return ResolvedSource(
        spec=spec,
        canonical=canonical,
        kind=kind,
        path=module_dir,
        sha256=sha256,
        info=info,
        notes=[*notes, *scan_notes],
        manifest={**(manifest or {}), "scan": scan_manifest(report, settings)},
    )


def scan_manifest(report: ScanReport, settings: SourceSettings) -> dict[str, Any]:
    return {**report.to_dict(), "override": bool(report.findings) and settings.allow_unsafe_ops}


def tree_hash(files: dict[str, str]) -> str:
    """fsutil.sha256_tree computed from already-verified per-file hashes (same order, same bytes)."""
    h = hashlib.sha256()
    for rel in sorted(files, key=lambda r: tuple(r.split("/"))):
        h.update(rel.encode() + b"\0")
        h.update(files[rel].encode() + b"\n")
    return h.hexdigest()
