"""`edgekit bundle`: collect a run's chosen artifacts into one deterministic archive.

Layout inside the archive (flat, no top folder):
    manifest.json  SHA256SUMS  labels.txt  [SHA256SUMS.sig: with --sign, an ed25519 signature of SHA256SUMS]
    artifacts/<format>-<quant>/<model file(s)>, artifact.json
    firmware/<recipe>_<quant>_tflite.h / .cc      (one pair per artifact whose format has c_array)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from edgekit.bundle.archive import archive_kind, source_date_epoch, tar_gz_bytes, zip_bytes
from edgekit.bundle.carray import c_source_pair, model_symbol
from edgekit.bundle.manifest import artifact_entry, build_manifest, sha256_bytes, sha256sums
from edgekit.bundle.signature import SIGNATURE, sign_sums, signing_key
from edgekit.errors import BundleError, UsageError
from edgekit.fsutil import atomic_write_bytes

if TYPE_CHECKING:
    from edgekit.convert import FormatPlugin

SKIP_IN_ARTIFACT = {"labels.txt", "preprocessing.json"}  # one copy at the top level is enough


def resolve_run_dir(run_dir: Path, target: str | None) -> Path:
    """RUN_DIR may be out/<recipe>/<target> or out/<recipe> with --target picking the folder."""
    if (run_dir / "report.json").is_file():
        return run_dir
    if target and (run_dir / target / "report.json").is_file():
        return run_dir / target
    found = sorted(p.parent.name for p in run_dir.glob("*/report.json"))
    hint = (
        f"run folders here: {', '.join(found)}; pick one with --target"
        if found
        else "run `edgekit convert` first"
    )
    raise UsageError(
        f"{run_dir} holds no report.json" + (f" and no {target}/report.json" if target else ""), hint=hint
    )


def choose_rows(report: dict, names: list[str]) -> list[dict]:
    """Requested artifacts, or by default every converted one whose parity did not fail."""
    ok = {
        f"{a['format']}-{a['quant']}": a
        for a in report["artifacts"]
        if a.get("status") == "ok" and a.get("artifact")
    }
    if names:
        unknown = [n for n in names if n not in ok]
        if unknown:
            raise UsageError(
                f"artifact {unknown[0]!r} is not a converted artifact of this run",
                hint=f"available: {', '.join(sorted(ok)) or 'none'}",
            )
        return [ok[n] for n in names]
    rows = [a for n, a in sorted(ok.items()) if (a.get("parity") or {}).get("verdict") != "fail"]
    if not rows:
        raise BundleError(
            "no artifact to bundle: none converted with a parity verdict other than fail",
            hint="pick one explicitly with --artifact FORMAT-QUANT",
        )
    return rows


def _plugin(row: dict) -> FormatPlugin:
    """The row's format plugin: what the bundle may do with its files."""
    from edgekit.convert import FORMATS

    return FORMATS.get(row["format"])


def _model_sha256(model: Path, row: dict) -> str:
    """What the artifact's recorded sha256 covers: the model file, or with external data (ONNX
    over 2 GiB: model.onnx + model.onnx.data) the model and its data files together."""
    from edgekit.convert.onnx_external import artifact_data_files, files_sha256

    try:
        data = artifact_data_files(row["artifact"].get("metadata") or {})
    except ValueError as exc:
        raise BundleError(f"{model.parent}: the report's artifact record is damaged: {exc}") from None
    missing = [n for n in data if not (model.parent / n).is_file()]
    if missing:
        raise BundleError(
            f"{model.parent / missing[0]} is missing: {model.name} keeps its weights there",
            hint="rerun `edgekit convert`",
        )
    return files_sha256(model.parent, [model.name, *data]) if data else sha256_bytes(model.read_bytes())


def _artifact_files(run: Path, row: dict) -> tuple[dict[str, bytes], str]:
    name = f"{row['format']}-{row['quant']}"
    folder = run / "artifacts" / name
    model = folder / row["artifact"]["path"]
    if not model.is_file():
        raise BundleError(
            f"{model} is missing: the run folder does not match its report.json",
            hint="rerun `edgekit convert`",
        )
    # A folder format's sha256 covers the whole folder (TF.js: model.json + shards), not its model file.
    if not _plugin(row).folder and _model_sha256(model, row) != row["artifact"]["sha256"]:
        raise BundleError(
            f"{model} changed after the report was written (sha256 differs from report.json)",
            hint="rerun `edgekit convert` so the report describes these bytes",
        )
    files = {
        f"artifacts/{name}/{p.relative_to(folder).as_posix()}": p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name not in SKIP_IN_ARTIFACT
    }
    return files, f"artifacts/{name}/{row['artifact']['path']}"


def bundle_files(run: Path, report: dict, rows: list[dict]) -> dict[str, bytes]:
    """Every file of the bundle, by archive path, manifest.json and SHA256SUMS included."""
    files = {"labels.txt": (run / "reference" / "labels.txt").read_bytes()}
    entries = []
    for row in rows:
        art_files, model_path = _artifact_files(run, row)
        files.update(art_files)
        c_files = None
        if _plugin(row).c_array:
            symbol = model_symbol(report["recipe"]["name"], row["quant"])
            header, source = c_source_pair(
                symbol, art_files[model_path], model_path, row["artifact"]["sha256"]
            )
            c_files = {"symbol": symbol, "header": f"firmware/{symbol}.h", "source": f"firmware/{symbol}.cc"}
            files[c_files["header"]], files[c_files["source"]] = header.encode(), source.encode()
        entries.append(artifact_entry(row, model_path, c_files))
    pre_path = run / "reference" / "preprocessing.json"
    preprocessing = json.loads(pre_path.read_text()) if pre_path.is_file() else None
    manifest = build_manifest(report, preprocessing, entries, files)
    files["manifest.json"] = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
    files["SHA256SUMS"] = sha256sums(files)
    return files


def write_bundle(
    run_dir: Path,
    out: Path | None,
    target: str | None = None,
    names: list[str] | None = None,
    sign_key: Path | None = None,
) -> Path:
    """Write the bundle; with SIGN_KEY (an ed25519 private key file) also SHA256SUMS.sig."""
    from edgekit.report.schema import load_report

    run = resolve_run_dir(run_dir, target)
    report = load_report(run)
    if target and report["target"]["name"] != target:
        raise UsageError(
            f"--target {target} does not match the run's target {report['target']['name']!r} ({run})",
            hint="leave --target out, or point RUN_DIR at the parent folder out/<recipe>",
        )
    if not (run / "reference" / "labels.txt").is_file():
        raise BundleError(f"{run / 'reference' / 'labels.txt'} is missing", hint="rerun `edgekit convert`")
    out = out or run / f"{report['recipe']['name']}-{report['target']['name']}.bundle.tar.gz"
    kind = archive_kind(out)
    key = signing_key(sign_key) if sign_key is not None else None  # a bad key fails before any work
    files = bundle_files(run, report, choose_rows(report, names or []))
    if key is not None:
        files[SIGNATURE] = sign_sums(files["SHA256SUMS"], key)
    writer = tar_gz_bytes if kind == "tar.gz" else zip_bytes
    return atomic_write_bytes(out, writer(files, source_date_epoch()))
