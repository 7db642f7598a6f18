"""The steps of `edgekit convert`, one function each. pipeline.py lists them in order."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from edgekit import __version__
from edgekit.artifact import ARTIFACT_JSON, Artifact
from edgekit.errors import EdgekitError
from edgekit.fsutil import atomic_write_json, atomic_write_text
from edgekit.matrix import Row
from edgekit.results import BenchResult, ParityResult
from edgekit.reuse import link_tree, sibling_with
from edgekit.steps import input_key, progress
from edgekit.train.data import Splits
from edgekit.train.preprocess import Preprocessing

if TYPE_CHECKING:
    from edgekit.bench.measure import Protocol
    from edgekit.convert.runner import ConvertJob
    from edgekit.pipeline import RunContext
    from edgekit.targets.analysis import GraphAnalysis
    from edgekit.targets.estimator import Estimate

MIN_CALIBRATION_WARNING = 50


Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # train, validation, test, calibration


@dataclass
class PreparedData:
    """The run's images, split. The preprocessed arrays are made on first use: an unchanged re-run,
    whose steps all reuse their records, never resizes an image (nor imports TensorFlow to)."""

    splits: Splits
    preproc: Preprocessing
    fingerprint: str  # identifies the images and labels (the training and parity keys)
    calibration_key: str  # identifies the calibration images as preprocessed (the conversion keys)
    make_arrays: Callable[[], Arrays]
    parity_inputs: str = "held-out images"  # what x_test is, in the parity step's progress line

    @classmethod
    def of_arrays(
        cls,
        splits: Splits,
        preproc: Preprocessing,
        arrays: Arrays,
        fingerprint: str,
        parity_inputs: str = "held-out images",
    ) -> PreparedData:
        return cls(splits, preproc, fingerprint, _array_hash(arrays[3]), lambda: arrays, parity_inputs)

    @cached_property
    def _arrays(self) -> Arrays:
        return self.make_arrays()

    @property
    def x_train(self) -> np.ndarray:
        return self._arrays[0]

    @property
    def x_val(self) -> np.ndarray:
        return self._arrays[1]

    @property
    def x_test(self) -> np.ndarray:
        return self._arrays[2]

    @property
    def calibration(self) -> np.ndarray:
        return self._arrays[3]

    @property
    def test_count(self) -> int:
        return len(self.splits.test.images)


@dataclass
class Reference:
    folder: Path
    key: str
    accuracy: float | None  # None: a given model with no labelled data to measure it on
    class_names: list[str]
    health: dict = field(default_factory=dict)  # train/evaluate.py chance_check: does it beat chance?


def resolve_source_step(ctx: RunContext):
    from edgekit.sources import SourceSettings, resolve_source

    s = ctx.recipe.source
    with ctx.steps.step("source", s.handle) as note:
        settings = SourceSettings.from_recipe(s, ctx.recipe_path.parent)
        source = resolve_source(s.handle, settings, base_dir=ctx.recipe_path.parent)
        h, w = source.info.input_size
        note(f"{source.canonical}  input {h}x{w}, sha256 {source.sha256[:12]}…")
    return source


def data_step(ctx: RunContext, source) -> PreparedData:
    from edgekit.train.data import load_data, split_data
    from edgekit.train.preprocess import preprocess

    d = ctx.recipe.data
    with ctx.steps.step("data", d.kind) as note:
        data = load_data(d, ctx.recipe_path.parent)
        splits = split_data(data, d.split.validation, d.split.test, d.split.seed)
        preproc = Preprocessing(tuple(source.info.input_size), tuple(source.info.value_range))
        picked = _calibration_indices(
            len(splits.train), ctx.recipe.quantize.calibration_samples, d.split.seed
        )
        subset = _array_hash(data.subset) if data.subset is not None else None
        fingerprint = input_key(_array_hash(data.images), _array_hash(data.labels), data.class_names, subset)
        calibration_key = input_key(_array_hash(splits.train.images[picked]), preproc)

        def make_arrays() -> Arrays:
            xs = [preprocess(p.images, preproc) for p in (splits.train, splits.validation, splits.test)]
            return xs[0], xs[1], xs[2], xs[0][picked]

        note(
            f"{len(data)} images, {len(data.class_names)} classes: train {len(splits.train)}, "
            f"validation {len(splits.validation)}, test {len(splits.test)}"
        )
    return PreparedData(splits, preproc, fingerprint, calibration_key, make_arrays)


def _array_hash(a: np.ndarray) -> str:
    import hashlib

    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def _calibration_indices(train_count: int, count: int, seed: int) -> np.ndarray:
    """Representative data for int8: a seeded sample of the training split (these indices of it)."""
    n = min(count, train_count)
    if n < MIN_CALIBRATION_WARNING:
        progress(
            f"[yellow]warning[/]: only {n} calibration samples (fewer than {MIN_CALIBRATION_WARNING}); int8 ranges may be poor"
        )
    return np.sort(np.random.default_rng(seed).choice(train_count, n, replace=False))


# What another target's training must still have for this run to take it (relative to its run folder).
_TRAIN_OUTPUTS = ["reference/saved_model/saved_model.pb", "reference/train.json", "train/evaluation.json"]


def _sibling(ctx: RunContext, record: str, key: str, outputs: list[str]) -> Path | None:
    """Another target's run folder that finished RECORD with KEY (never with --force)."""
    return None if ctx.steps.force else sibling_with(ctx.run_dir, record, key, outputs)


def train_step(ctx: RunContext, source, data: PreparedData) -> Reference:
    from edgekit.train.evaluate import chance_check, loss_curve

    folder = ctx.run_dir / "reference"
    key = input_key(
        ctx.recipe.section_dict("train"),
        ctx.recipe.section_dict("data"),
        source.sha256,
        data.fingerprint,
        data.preproc,
        __version__,
    )
    with ctx.steps.step("train", "fine-tuning") as note:
        outputs = [
            folder / "saved_model" / "saved_model.pb",
            folder / "train.json",
            ctx.run_dir / "train" / "evaluation.json",
        ]
        if ctx.steps.is_done("train", key, outputs):
            summary = json.loads((folder / "train.json").read_text())
            text = f"unchanged, reused: test accuracy {summary['test_accuracy']:.3f}"
        elif (
            sibling := _sibling(ctx, "train", key, _TRAIN_OUTPUTS)
        ) is not None:  # another target trained on the same inputs
            link_tree(sibling / "reference", folder)
            link_tree(sibling / "train", ctx.run_dir / "train")
            summary = json.loads((folder / "train.json").read_text())
            ctx.steps.mark_done("train", key, {"reused_from": sibling.name})
            text = f"same inputs as {sibling.name}, reused: test accuracy {summary['test_accuracy']:.3f}"
        else:
            summary = _train_and_export(ctx, source, data, folder)
            ctx.steps.mark_done("train", key, {"made_here": True})
            text = (
                f"test accuracy {summary['test_accuracy']:.3f} on {summary['test_images']} images "
                f"(chance {1 / len(summary['class_names']):.3f})"
            )
        # Judged on every run, reused or not: a reference that learned nothing must never look done.
        health = chance_check(
            summary["test_accuracy"],
            data.splits.test.labels,
            len(summary["class_names"]),
            loss_curve(summary.get("phases", [])),
        )
        note(text + ("  [bold red]⚠ not clearly better than chance[/]" if health["flags"] else ""))
    for flag in health["flags"]:
        progress(f"[bold yellow]warning[/]: {flag}")
    return Reference(folder, key, summary["test_accuracy"], summary["class_names"], health)


def _train_and_export(ctx: RunContext, source, data: PreparedData, folder: Path) -> dict:
    """Fine-tune, evaluate, export. Training artifacts go to <run>/train/, the reference to FOLDER."""
    from edgekit.train.engine import train_classifier
    from edgekit.train.evaluate import evaluate, write_evaluation
    from edgekit.train.export import export_reference

    workdir = ctx.run_dir / "train"
    shutil.rmtree(workdir, ignore_errors=True)  # a rerun's logs and checkpoints must not mix with stale ones
    names = data.splits.train.class_names
    trained = train_classifier(source.path, data.splits, data.preproc, ctx.recipe.train, progress, workdir)
    evaluation = evaluate(trained.test_probabilities, data.splits.test.labels, names)
    write_evaluation(evaluation, workdir)
    export_reference(trained.model, folder, data.preproc, names)
    summary = {
        "test_accuracy": evaluation["accuracy"],
        "test_images": data.test_count,
        "class_names": list(names),
        "placement": trained.placement.__dict__,
        "source": source.to_dict(),
        **trained.result.to_dict(),
    }
    atomic_write_json(folder / "train.json", summary)
    return summary


def convert_step(ctx: RunContext, reference: Reference, data: PreparedData, rows: list[Row]) -> list[Row]:
    from edgekit.convert.memory import parse_memory_limit

    todo = [r for r in rows if r.status == "pending"]
    with ctx.steps.step("convert", f"{len(todo)} artifact(s)") as note:
        jobs = {}
        for row in todo:
            key, final = _conversion_key(ctx, reference, data, row), _artifact_folder(ctx, row)
            record = f"convert-{row.name}"
            if ctx.steps.is_done(record, key, [final / ARTIFACT_JSON]):
                row.artifact, row.status = Artifact.load(final), "ok"
                row.notes.append("unchanged, reused")
            elif (
                sibling := _sibling(ctx, record, key, [f"artifacts/{row.name}/{ARTIFACT_JSON}"])
            ) is not None:
                # converted for another target from the same reference and settings
                link_tree(sibling / "artifacts" / row.name, final)
                row.artifact, row.status = Artifact.load(final), "ok"
                ctx.steps.mark_done(record, key, {"reused_from": sibling.name})
                row.notes.append(f"same as {sibling.name}'s, reused")
            else:
                jobs[row.name] = (row, _conversion_job(ctx, reference, data, row), key)

        done: list[str] = []

        def finished(outcome) -> None:
            row, _, key = jobs[f"{outcome.job.format}-{outcome.job.quant}"]
            done.append(row.name)
            if outcome.artifact is not None:
                row.artifact, row.status = outcome.artifact, "ok"
                measured = {"seconds": outcome.seconds, "peak_rss_bytes": outcome.peak_rss_bytes}
                ctx.steps.mark_done(f"convert-{row.name}", key, {"made_here": True, **measured})
                progress(f"[{len(done)}/{len(jobs)}] {row.name} converted")
                return
            row.fail(outcome.error)
            if outcome.trace:
                atomic_write_text(ctx.run_dir / "logs" / f"{row.name}.txt", outcome.trace)
            progress(f"[{len(done)}/{len(jobs)}] [red]{row.name} failed[/]: {row.error}")

        ctx.executor.convert(
            [job for _, job, _ in jobs.values()],
            ctx.recipe.convert.parallel,
            finished,
            parse_memory_limit(ctx.recipe.convert.memory_limit),
        )
        ok = sum(r.status == "ok" for r in todo)
        shared = sum(any(n.endswith("'s, reused") for n in r.notes) for r in todo)
        note(
            f"{ok} of {len(todo)} converted"
            + (f" ({shared} shared with another target)" if shared else "")
            + ("" if ok == len(todo) else f", {len(todo) - ok} failed")
        )
    return rows


def _conversion_key(ctx: RunContext, reference: Reference, data: PreparedData, row: Row) -> str:
    options = ctx.recipe.convert.options_for(row.format)
    return input_key(reference.key, row.format, row.quant, options, data.calibration_key, __version__)


def _artifact_folder(ctx: RunContext, row: Row) -> Path:
    return ctx.run_dir / "artifacts" / row.name


def _conversion_job(ctx: RunContext, reference: Reference, data: PreparedData, row: Row) -> ConvertJob:
    from edgekit.convert.runner import ConvertJob

    return ConvertJob(
        row.format,
        row.quant,
        reference.folder,
        _artifact_folder(ctx, row),
        ctx.recipe.convert.options_for(row.format),
        data.calibration,  # preprocessed here, the first time a conversion needs it
        _artifact_metadata(ctx, reference, data),
    )


def _artifact_metadata(ctx: RunContext, reference: Reference, data: PreparedData) -> dict:
    return {
        "labels": reference.class_names,
        "preprocessing": {
            "input_size": list(data.preproc.input_size),
            "value_range": list(data.preproc.value_range),
            "resize": data.preproc.resize,
        },
        "input": {"name": "image", "shape": [1, *data.preproc.input_shape], "dtype": "float32"},
        "edgekit_version": __version__,
        "recipe": ctx.recipe.name,
    }


def parity_step(ctx: RunContext, reference: Reference, data: PreparedData, rows: list[Row]) -> None:
    from edgekit.runtimes.reference import ReferenceModel

    ok = [r for r in rows if r.status == "ok"]
    n = min(data.test_count, ctx.recipe.parity.max_samples)
    with ctx.steps.step("parity", f"{len(ok)} artifact(s) on {n} {data.parity_inputs}") as note:
        keys = {r.name: _parity_key(ctx, reference, data, r, n) for r in ok}
        todo = [r for r in ok if not _reuse_parity(ctx, r, keys[r.name])]
        labels = data.splits.test.labels  # None: unlabelled parity images (a run from a trained model)
        labels = None if labels is None else labels[:n]
        x = data.x_test[:n] if todo else np.empty((0,), np.float32)  # preprocessed only when needed
        ref_out = ReferenceModel(reference.folder).predict(x) if todo else np.empty((0,), np.float32)
        for row in todo:
            try:
                parity = row.parity = _check_one(ctx, row, ref_out, x, labels)
                if "tflite-micro" in ctx.profile.runtimes:  # the firmware's runtime: its own parity row
                    from edgekit.runtimes.tflm import add_micro_parity

                    add_micro_parity(row, x, ctx.threads)
                if not parity.passed and row.format == "tflite" and row.quant == "int8":
                    parity.worst_layers = _worst_layers(reference, data)
                ctx.steps.mark_done(f"parity-{row.name}", keys[row.name], {"parity": parity.to_dict()})
            except EdgekitError as exc:
                row.fail(exc)
        verdicts = [r.parity.verdict for r in ok if r.parity]
        reused = f"; {len(ok) - len(todo)} unchanged, reused" if len(todo) < len(ok) else ""
        note(
            (
                ", ".join(f"{v} {verdicts.count(v)}" for v in ("pass", "warn", "fail") if v in verdicts)
                or "nothing to check"
            )
            + reused
        )


def _parity_key(ctx: RunContext, reference: Reference, data: PreparedData, row: Row, n: int) -> str:
    """Everything a parity result depends on: the two models, the images, the thresholds, the runtimes."""
    thresholds = ctx.recipe.parity.thresholds.get(row.quant)
    return input_key(
        reference.key,
        row.artifact.sha256,
        data.fingerprint,
        n,
        ctx.threads,
        _host_runtime(ctx.profile, row.format),
        sorted(ctx.profile.runtimes),
        thresholds,
        __version__,
    )


def _reuse_parity(ctx: RunContext, row: Row, key: str) -> bool:
    """This run's recorded result for KEY, else another target's with the same key (same threads and runtimes)."""
    name = f"parity-{row.name}"
    record = ctx.steps.recorded(name, key)
    sibling = None if record is not None else _sibling(ctx, name, key, [])
    if sibling is not None:
        record = json.loads((sibling / "steps" / f"{name}.json").read_text())
        ctx.steps.mark_done(name, key, {"parity": record.get("parity"), "reused_from": sibling.name})
    if record is None or not isinstance(record.get("parity"), dict):
        return False
    try:
        row.parity = ParityResult.from_dict(record["parity"])
    except (KeyError, TypeError, ValueError):  # recorded by another version: checked again
        return False
    return True


def _check_one(
    ctx: RunContext, row: Row, ref_out: np.ndarray, x: np.ndarray, labels: np.ndarray
) -> ParityResult:
    from edgekit.convert.parity import compare
    from edgekit.runtimes import load_session

    session = load_session(row.artifact, ctx.threads, _host_runtime(ctx.profile, row.format))
    try:
        thresholds = ctx.recipe.parity.thresholds.get(row.quant)
        return compare(ref_out, session.predict(x), labels, row.quant, thresholds)
    finally:
        session.close()


def _worst_layers(reference: Reference, data: PreparedData) -> list[dict]:
    """Per-layer int8 error, shown when parity is not a clean pass (see convert/tflite_debug.py)."""
    from edgekit.convert.tflite_debug import layer_errors

    progress("int8 parity is not a pass: attributing the error to layers")
    return layer_errors(reference.folder, data.calibration, data.x_test[:16])


def bench_step(ctx: RunContext, data: PreparedData, rows: list[Row]) -> None:
    import io

    from edgekit.bench.inputs import BENCH_INPUTS
    from edgekit.bench.measure import Protocol
    from edgekit.bench.targets import BenchTarget
    from edgekit.executors import BenchCell
    from edgekit.fsutil import atomic_write_bytes

    b = ctx.recipe.bench
    protocol = Protocol(
        threads=ctx.threads, warmup_runs=b.warmup_runs, min_runs=b.min_runs, min_time_s=b.min_time_s
    )
    reference = ctx.run_dir / "reference"
    inputs_key = input_key(data.fingerprint, data.preproc, data.test_count)
    if not ctx.steps.is_done("bench-inputs", inputs_key, [reference / BENCH_INPUTS]):
        buf = io.BytesIO()
        np.save(buf, data.x_test[:8])  # real held-out inputs for every later `edgekit bench <run dir>`
        atomic_write_bytes(reference / BENCH_INPUTS, buf.getvalue())
        ctx.steps.mark_done("bench-inputs", inputs_key)
    ok = [r for r in rows if r.status == "ok"]
    with ctx.steps.step("bench", f"host, {ctx.threads} thread(s), one process per artifact") as note:
        keys = _bench_keys(ctx, ok, protocol)
        todo = [r for r in ok if not _reuse_bench(ctx, r, keys[r.name])]
        cells = [
            BenchCell(
                BenchTarget("artifact-dir", row.artifact.folder, row.format, reference),
                _host_runtime(ctx.profile, row.format),
            )
            for row in todo
        ]
        for row, result in zip(todo, ctx.executor.bench(ctx.profile.name, cells, protocol)):
            outcome = BenchResult.from_dict(result)
            if outcome.ok:
                row.bench = outcome
                ctx.steps.mark_done(f"bench-{row.name}", keys[row.name], {"bench": result})
            else:
                row.fail(outcome.error or "failed")
                progress(f"[red]bench failed[/] {row.name}: {outcome.error}")
        measured = sum(r.bench is not None for r in todo)
        reused = len(ok) - len(todo)
        note(
            f"{measured} of {len(todo)} artifact(s) measured, {ctx.threads} thread(s)"
            + (f"; {reused} unchanged, reused (--remeasure measures again)" if reused else "")
        )


def _bench_keys(ctx: RunContext, rows: list[Row], protocol: Protocol) -> dict[str, str]:
    """Everything a host measurement depends on: the artifact, its runtime, the protocol, the threads,
    and the machine (its hardware and runtime versions, not its momentary clock or load)."""
    import platform
    from dataclasses import asdict

    from edgekit.bench.host import host_fingerprint

    machine = {k: v for k, v in host_fingerprint().items() if k not in ("cpu_mhz", "load_avg")}
    return {
        row.name: input_key(
            row.artifact.sha256 if row.artifact else None,
            row.format,
            _host_runtime(ctx.profile, row.format),
            asdict(protocol),
            ctx.threads,
            machine,
            platform.node(),
            ctx.executor.name,
            __version__,
        )
        for row in rows
    }


def _reuse_bench(ctx: RunContext, row: Row, key: str) -> bool:
    record = ctx.steps.recorded(f"bench-{row.name}", key)
    if record is None or not isinstance(record.get("bench"), dict):
        return False
    try:
        row.bench = BenchResult.from_dict(record["bench"])
    except (KeyError, TypeError, ValueError):  # recorded by another version: measured again
        return False
    return row.bench.ok


def device_bench_step(ctx: RunContext, rows: list[Row]) -> None:
    """`convert --device`: the same artifacts measured on the user's devices (edgekit/devices).
    A device that cannot be reached or drops stops the run (DeviceConnectionError): no device
    result of this run is kept."""
    from edgekit.bench.measure import Protocol
    from edgekit.bench.targets import BenchTarget
    from edgekit.convert import FORMATS
    from edgekit.devices.remote import bench_devices

    b = ctx.recipe.bench
    protocol = Protocol(
        threads=ctx.threads, warmup_runs=b.warmup_runs, min_runs=b.min_runs, min_time_s=b.min_time_s
    )
    ok = [
        r for r in rows if r.status == "ok" and FORMATS.get(r.format).on_devices
    ]  # TF.js runs in Node or a browser
    targets = [
        BenchTarget("artifact-dir", r.artifact.folder, r.format, ctx.run_dir / "reference") for r in ok
    ]
    names = ", ".join(d.name for d in ctx.devices)
    with ctx.steps.step(
        "device", f"{names}, {ctx.threads} thread(s), one artifact at a time per device"
    ) as note:
        results = bench_devices(ctx.devices, targets, protocol)
        by_folder: dict[str, list[dict]] = {}
        for result in results:
            by_folder.setdefault(result["artifact"]["path"], []).append(result)
        for row in ok:
            row.device = [
                BenchResult.from_dict(r) for r in by_folder.get(str(row.artifact.folder.resolve()), [])
            ]
            for r in row.device:
                if not r.ok:
                    progress(f"[red]device bench failed[/] {row.name} on {r.device}: {r.error}")
        measured = sum(r["status"] == "ok" for r in results)
        note(f"{measured} of {len(results)} measurement(s) on {names}")


def _host_runtime(profile, fmt: str) -> str | None:
    """The target's own runtime for FORMAT when it names one (the browser target measures TF.js
    in headless Chromium, not Node); None lets the format's default runtime run it."""
    from edgekit.runtimes import RUNTIMES

    for name in profile.runtimes:
        if name in RUNTIMES and fmt in RUNTIMES.get(name).formats:
            return RUNTIMES.canonical(name)
    return None


def estimate_step(ctx: RunContext, reference: Reference, rows: list[Row]) -> None:
    """The target's latency band, peak RAM and fit verdict per artifact (edgekit/targets)."""
    ok = [r for r in rows if r.status == "ok"]
    with ctx.steps.step("estimate", ctx.profile.name) as note:
        analyses: dict[str, GraphAnalysis] = {}
        for row in ok:
            try:
                row.estimate = _estimate_one(ctx, reference, row, analyses)
            except EdgekitError as exc:  # an estimate that cannot be made is a note, not a failed artifact
                row.notes.append(f"no estimate: {exc.message}")
            for warning in row.estimate.warnings if row.estimate else []:
                progress(f"[yellow]{row.name} on {ctx.profile.name}[/]: {warning}")
        made = sum(1 for r in ok if r.estimate and r.estimate.latency_ms is not None)
        note(f"{made} of {len(ok)} artifact(s) estimated for {ctx.profile.name}")


def _analysis_graph(ctx: RunContext, reference: Reference) -> Path:
    """An fp32 TFLite graph of the reference, for plans without one (the browser's is tfjs only).
    It lives under analysis/, not artifacts/: it is an input to the estimate, not a deliverable."""
    from edgekit.convert.runner import ConvertJob, run_job

    folder = ctx.run_dir / "analysis" / "tflite-fp32"
    if not ctx.steps.is_done("analysis-graph", reference.key, [folder / ARTIFACT_JSON]):
        run_job(ConvertJob("tflite", "fp32", reference.folder, folder, {"analyze": False}))
        ctx.steps.mark_done("analysis-graph", reference.key)
    return Artifact.load(folder).path


def _estimate_one(ctx: RunContext, reference: Reference, row: Row, analyses: dict) -> Estimate:
    from edgekit.convert import FORMATS, target_runtime
    from edgekit.targets import analyze, estimate

    plugin = FORMATS.get(row.format)
    if plugin.analysis is not None:
        analysis = analyses[row.name] = analyze(row.artifact.path)
        return estimate(analysis, ctx.profile, quant=row.quant, threads=ctx.threads)
    if not plugin.estimated_from_tflite:
        raise EdgekitError(f"{plugin.display} has no graph reader to estimate from")
    # TF.js: estimated from the same reference's fp32 TFLite graph (see targets/estimator.py).
    base = analyses.get("tflite-fp32")
    if base is None:
        base = analyses["tflite-fp32"] = analyze(_analysis_graph(ctx, reference))
    runtime = target_runtime(row.format, ctx.profile.runtimes) or plugin.default_runtime
    return estimate(base, ctx.profile, quant="fp32", threads=ctx.threads, runtime=runtime)


def report_step(ctx: RunContext, source, reference: Reference, rows: list[Row]) -> dict:
    from edgekit.report.build import build_report, write_reports
    from edgekit.report.carry import carry_earlier_rows

    with ctx.steps.step("report") as note:
        report = build_report(ctx, source, reference, rows)
        carried = carry_earlier_rows(report, ctx.run_dir)  # a narrowed run keeps the rows it did not redo
        paths = write_reports(report, ctx.run_dir)
        note(
            ", ".join(str(p.relative_to(ctx.run_dir)) for p in paths)
            + (f" ({carried} row(s) kept from an earlier run)" if carried else "")
        )
    return report
