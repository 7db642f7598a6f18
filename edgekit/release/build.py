"""`edgekit release RUN_DIR --version X.Y.Z`: bundle every target of a run, compare with the previous
release, check the version, write notes and a CHANGELOG entry, sign.

Layout: <releases>/<name>/<version>/ holds release.json, signature.json (when signed),
RELEASE_NOTES.md and <name>-<target>.bundle.tar.gz per target; <releases>/<name>/CHANGELOG.md
gains an entry (or --changelog PATH). The folder appears whole or not at all.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

from edgekit.errors import UsageError
from edgekit.fsutil import atomic_dir, atomic_write_text
from edgekit.release import notes as notes_mod
from edgekit.release.semver import Version, check_bump, parse_version
from edgekit.release.store import (
    NOTES,
    RELEASE_FORMAT,
    RELEASE_JSON,
    SIGNATURE_JSON,
    load_meta,
    local_versions,
)
from edgekit.release.summary import diff, target_summary


@dataclass
class Made:
    folder: Path
    version: Version
    previous: Version | None
    signer: str | None
    changelog: Path
    needed: str


def run_folders(run_dir: Path) -> list[Path]:
    """RUN_DIR is one target's run (out/<recipe>/<target>) or a recipe's folder of them (out/<recipe>)."""
    if (run_dir / "report.json").is_file():
        return [run_dir]
    found = sorted(p.parent for p in run_dir.glob("*/report.json"))
    if not found:
        raise UsageError(
            f"{run_dir} holds no report.json and no <target>/report.json", hint="run `edgekit convert` first"
        )
    return found


REFERENCE = "reference.tar.gz"


def _reference(runs: list[Path]) -> tuple[dict[str, bytes], dict | None]:
    """The runs' reference SavedModel as a deterministic reference.tar.gz (what `edgekit pull oci://…`
    hands another team as a source), when every run of the release was trained to the same bytes."""
    import json as _json

    from edgekit.bundle.archive import source_date_epoch, tar_gz_bytes
    from edgekit.fsutil import sha256_tree

    folders = [run / "reference" / "saved_model" for run in runs]
    if not all((f / "saved_model.pb").is_file() for f in folders):
        return {}, None
    trees = {sha256_tree(f) for f in folders}
    if len(trees) != 1:
        return {}, None  # targets trained apart: no single model to hand out
    root = folders[0]
    files = {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
    pre = runs[0] / "reference" / "preprocessing.json"
    meta = {
        "file": REFERENCE,
        "tree_sha256": trees.pop(),
        "preprocessing": _json.loads(pre.read_text()) if pre.is_file() else None,
    }
    return {REFERENCE: tar_gz_bytes(files, source_date_epoch())}, meta


def _bundles(runs: list[Path]) -> tuple[str, dict[str, dict], dict[str, bytes]]:
    from edgekit.bundle.archive import source_date_epoch, tar_gz_bytes
    from edgekit.bundle.build import bundle_files, choose_rows
    from edgekit.report.schema import load_report

    name, targets, files = None, {}, {}
    for run in runs:
        report = load_report(run)
        recipe, target = report["recipe"]["name"], report["target"]["name"]
        if name not in (None, recipe):
            raise UsageError(
                f"{run} is a run of recipe {recipe!r}, the others of {name!r}",
                hint="release one recipe at a time",
            )
        name = recipe
        rows = choose_rows(report, [])
        bundle = f"{recipe}-{target}.bundle.tar.gz"
        files[bundle] = tar_gz_bytes(bundle_files(run, report, rows), source_date_epoch())
        targets[target] = target_summary(report, rows, bundle)
    return str(name), targets, files


def _file_record(data: bytes) -> dict:
    return {"sha256": hashlib.sha256(data).hexdigest(), "size_bytes": len(data)}


def make_release(
    run_dir: Path, version: str, releases: Path, sign_key: Path | None = None, changelog: Path | None = None
) -> Made:
    from edgekit.bundle.archive import source_date_epoch

    new = parse_version(version)
    key = None
    if sign_key is not None:
        from edgekit.signing.keys import key_id, load_private_key

        key = load_private_key(sign_key)  # before any work: a bad key costs nothing
    runs = run_folders(run_dir)
    name, targets, files = _bundles(runs)
    ref_files, reference = _reference(runs)
    files.update(ref_files)
    series = releases / name
    existing = local_versions(series)
    if new in existing:
        raise UsageError(
            f"release {name} {new} already exists at {existing[new]}",
            hint="releases are immutable: pick a new version",
        )
    older = sorted(v for v in existing if v < new)
    previous = older[-1] if older else None
    old_meta = (
        load_meta((existing[previous] / RELEASE_JSON).read_bytes(), str(existing[previous]))
        if previous
        else None
    )
    d = diff(old_meta["targets"] if old_meta else None, targets)
    check_bump(new, previous, d.needed, d.breaking or d.added)
    newer = sorted(v for v in existing if v > new)
    if newer:
        raise UsageError(
            f"release {new} is older than the existing release {newer[-1]}",
            hint=f"use a version above {newer[-1]}",
        )
    created = source_date_epoch() or int(time.time())
    signer = key_id(key.public_key()) if key is not None else None
    files[NOTES] = notes_mod.render_notes(
        name,
        str(new),
        str(previous) if previous else None,
        old_meta["targets"] if old_meta else None,
        targets,
        d,
        signer,
        REFERENCE if reference else None,
    ).encode()
    meta = {
        "release_format": RELEASE_FORMAT,
        "name": name,
        "version": str(new),
        "created_unix": created,
        "previous": str(previous) if previous else None,
        "semver_bump_needed": d.needed,
        "targets": targets,
        "reference": reference,
        "files": {n: _file_record(b) for n, b in sorted(files.items())},
    }
    files[RELEASE_JSON] = (json.dumps(meta, indent=2, sort_keys=True) + "\n").encode()
    if key is not None:
        from edgekit.signing.signatures import sign, signature_bytes

        files[SIGNATURE_JSON] = signature_bytes(sign(files[RELEASE_JSON], key))
    folder = write_folder(series, str(new), files)
    log = changelog or series / "CHANGELOG.md"
    entry = notes_mod.changelog_entry(str(new), created, d, previous is None, targets)
    atomic_write_text(log, notes_mod.add_to_changelog(log, entry))
    return Made(folder, new, previous, signer, log, d.needed)


def write_folder(series: Path, version: str, files: dict[str, bytes]) -> Path:
    """The release folder appears whole or not at all (written beside it, then renamed)."""
    with atomic_dir(series / version) as tmp:
        for n, data in files.items():
            (tmp / n).write_bytes(data)
    return series / version
