"""The steps of `edgekit convert`, one function each. pipeline.py lists them in order."""

from __future__ import annotations

import json
import shutil
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgekit import __version__
from edgekit.artifact import ARTIFACT_JSON, Artifact
from edgekit.errors import EdgekitError
from edgekit.fsutil import atomic_dir, atomic_write_json, atomic_write_text
from edgekit.matrix import Row
from edgekit.steps import input_key, progress
from edgekit.train.data import Splits
from edgekit.train.preprocess import Preprocessing

MIN_CALIBRATION_WARNING = 50


@dataclass
class PreparedData:
    splits: Splits
    preproc: Preprocessing
    x_train: np.ndarray
    x_val: np.ndarray
    x_test: np.ndarray
    calibration: np.ndarray
    fingerprint: str


@dataclass
class Reference:
    folder: Path
    key: str
    accuracy: float
    class_names: list[str]


def resolve_source_step(ctx):
    from edgekit.sources import SourceSettings, resolve_source

    s = ctx.recipe.source
    with ctx.steps.step("source", s.handle) as note:
        settings = SourceSettings.from_recipe(s, ctx.recipe_path.parent)
        source = resolve_source(s.handle, settings, base_dir=ctx.recipe_path.parent)
        h, w = source.info.input_size
        note(f"{source.canonical}  input {h}x{w}, sha256 {source.sha256[:12]}…")
    return source


def data_step(ctx, source) -> PreparedData:
    from edgekit.train.data import load_data, split_data
    from edgekit.train.preprocess import preprocess

    d = ctx.recipe.data
    with ctx.steps.step("data", d.kind) as note:
        data = load_data(d, ctx.recipe_path.parent)
        splits = split_data(data, d.split.validation, d.split.test, d.split.seed)
        preproc = Preprocessing(tuple(source.info.input_size), tuple(source.info.value_range))
        xs = [preprocess(p.images, preproc) for p in (splits.train, splits.validation, splits.test)]
        calibration = _calibration_set(xs[0], ctx.recipe.quantize.calibration_samples, d.split.seed)
        fingerprint = input_key(_array_hash(data.images), _array_hash(data.labels), data.class_names)
        note(f"{len(data)} images, {len(data.class_names)} classes: train {len(splits.train)}, "
             f"validation {len(splits.validation)}, test {len(splits.test)}")
    return PreparedData(splits, preproc, *xs, calibration, fingerprint)


def _array_hash(a: np.ndarray) -> str:
    import hashlib

    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def _calibration_set(x_train: np.ndarray, count: int, seed: int) -> np.ndarray:
    """Representative data for int8: a seeded sample of the preprocessed training split."""
    n = min(count, len(x_train))
    if n < MIN_CALIBRATION_WARNING:
        progress(f"[yellow]warning[/]: only {n} calibration samples (fewer than {MIN_CALIBRATION_WARNING}); int8 ranges may be poor")
    idx = np.sort(np.random.default_rng(seed).choice(len(x_train), n, replace=False))
    return x_train[idx]


def train_step(ctx, source, data: PreparedData) -> Reference:
    folder = ctx.run_dir / "reference"
    key = input_key(ctx.recipe.section_dict("train"), ctx.recipe.section_dict("data"), source.sha256,
                    data.fingerprint, data.preproc, __version__)
    with ctx.steps.step("train", "fine-tuning") as note:
        if ctx.steps.is_done("train", key, [folder / "saved_model" / "saved_model.pb", folder / "train.json"]):
            summary = json.loads((folder / "train.json").read_text())
            note(f"unchanged, reused: test accuracy {summary['test_accuracy']:.3f}")
        else:
            summary = _train_and_export(ctx, source, data, folder)
            ctx.steps.mark_done("train", key)
            note(f"test accuracy {summary['test_accuracy']:.3f} on {summary['test_images']} images "
                 f"(chance {1 / len(summary['class_names']):.3f})")
    return Reference(folder, key, summary["test_accuracy"], summary["class_names"])


def _train_and_export(ctx, source, data: PreparedData, folder: Path) -> dict:
    from edgekit.train.export import export_reference
    from edgekit.train.finetune import fine_tune, seed_everything
    from edgekit.train.model import build_classifier

    train = ctx.recipe.train
    seed_everything(train.seed, train.deterministic)
    names = data.splits.train.class_names
    model, backbone = build_classifier(source.path, data.preproc, len(names), train.head)
    result = fine_tune(model, backbone, data.x_train, data.splits.train.labels, data.x_val,
                       data.splits.validation.labels, train, progress)
    probs = model.predict(data.x_test, batch_size=64, verbose=0)
    accuracy = float(np.mean(probs.argmax(1) == data.splits.test.labels))
    export_reference(model, folder, data.preproc, names)
    summary = {"test_accuracy": accuracy, "test_images": len(data.x_test), "class_names": list(names),
               "source": source.to_dict(), **result.to_dict()}
    atomic_write_json(folder / "train.json", summary)
    return summary


def convert_step(ctx, reference: Reference, data: PreparedData, rows: list[Row]) -> list[Row]:
    from edgekit.convert import FORMATS

    todo = [r for r in rows if r.status == "pending"]
    with ctx.steps.step("convert", f"{len(todo)} artifact(s)") as note:
        for i, row in enumerate(todo, 1):
            progress(f"[{i}/{len(todo)}] {row.name}")
            try:
                row.artifact = _convert_one(ctx, reference, data, row, FORMATS.get(row.format))
                row.status = "ok"
            except EdgekitError as exc:
                row.fail(exc)
            except Exception as exc:  # a converter bug must not crash the whole matrix: keep the trace
                row.fail(f"{type(exc).__name__}: {exc}")
                atomic_write_text(ctx.run_dir / "logs" / f"{row.name}.txt", traceback.format_exc())
            if row.status == "failed":
                progress(f"[red]failed[/] {row.name}: {row.error}")
        ok = sum(r.status == "ok" for r in todo)
        note(f"{ok} of {len(todo)} converted" + ("" if ok == len(todo) else f", {len(todo) - ok} failed"))
    return rows


def _convert_one(ctx, reference: Reference, data: PreparedData, row: Row, plugin) -> Artifact:
    from edgekit.convert.base import ConversionRequest

    final = ctx.run_dir / "artifacts" / row.name
    options = {"int8_io": ctx.recipe.quantize.int8_io}
    key = input_key(reference.key, row.format, row.quant, options, _array_hash(data.calibration), __version__)
    step_name = f"convert-{row.name}"
    if ctx.steps.is_done(step_name, key, [final / ARTIFACT_JSON]):
        row.notes.append("unchanged, reused")
        return Artifact.load(final)
    with atomic_dir(final) as tmp:
        request = ConversionRequest(reference.folder, row.format, row.quant, tmp, data.calibration, options,
                                    _artifact_metadata(ctx, reference, data))
        artifact = plugin.convert(request)
        artifact.path = final / artifact.path.name
        for extra in ("labels.txt", "preprocessing.json"):  # metadata beside every artifact
            shutil.copy2(reference.folder / extra, tmp / extra)
        atomic_write_json(tmp / ARTIFACT_JSON, artifact.to_dict())
    ctx.steps.mark_done(step_name, key)
    return artifact


def _artifact_metadata(ctx, reference: Reference, data: PreparedData) -> dict:
    return {
        "labels": reference.class_names,
        "preprocessing": {"input_size": list(data.preproc.input_size), "value_range": list(data.preproc.value_range),
                          "resize": data.preproc.resize},
        "input": {"name": "image", "shape": [1, *data.preproc.input_shape], "dtype": "float32"},
        "edgekit_version": __version__,
        "recipe": ctx.recipe.name,
    }


def parity_step(ctx, reference: Reference, data: PreparedData, rows: list[Row]) -> None:
    from edgekit.convert.parity import compare
    from edgekit.runtimes import load_session
    from edgekit.runtimes.reference import ReferenceModel

    ok = [r for r in rows if r.status == "ok"]
    with ctx.steps.step("parity", f"{len(ok)} artifact(s) on {len(data.x_test)} held-out images") as note:
        x, labels = data.x_test, data.splits.test.labels
        ref_out = ReferenceModel(reference.folder).predict(x)
        for row in ok:
            try:
                session = load_session(row.artifact, ctx.threads)
                try:
                    row.parity = compare(ref_out, session.predict(x), labels, row.quant).to_dict()
                finally:
                    session.close()
            except EdgekitError as exc:
                row.fail(exc)
        verdicts = [r.parity["verdict"] for r in ok if r.parity]
        note(", ".join(f"{v} {verdicts.count(v)}" for v in ("pass", "warn", "fail") if v in verdicts) or "nothing to check")


def bench_step(ctx, data: PreparedData, rows: list[Row]) -> None:
    from edgekit.bench.measure import Protocol, measure
    from edgekit.runtimes import load_session

    b = ctx.recipe.bench
    protocol = Protocol(threads=ctx.threads, warmup_runs=b.warmup_runs, min_runs=b.min_runs, min_time_s=b.min_time_s)
    ok = [r for r in rows if r.status == "ok"]
    with ctx.steps.step("bench", f"host, {ctx.threads} thread(s)") as note:
        for row in ok:
            try:
                m = measure(lambda: load_session(row.artifact, ctx.threads), data.x_test[:1], protocol)
                row.bench = {**m.to_dict(), "samples_ms": m.samples_ms}
            except EdgekitError as exc:
                row.fail(exc)
        note(f"{len(ok)} artifact(s) measured, {ctx.threads} thread(s)")


def report_step(ctx, source, reference: Reference, rows: list[Row]) -> dict:
    from edgekit.report.build import build_report, write_reports

    with ctx.steps.step("report") as note:
        report = build_report(ctx, source, reference, rows)
        paths = write_reports(report, ctx.run_dir)
        note(", ".join(str(p.relative_to(ctx.run_dir)) for p in paths))
    return report
