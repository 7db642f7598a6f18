"""Runs that start from a trained model: the steps that stand in for source → data → train.

`edgekit convert MODEL` has nothing to fine-tune: the given model becomes the run's reference (saved
into <run>/reference/ with the same serving signature, labels.txt and preprocessing.json a trained
run exports), so convert, parity, bench, estimate, report, bundle and multi-target runs go on
unchanged. Its steps are `model` (load and check it), `data` (calibration and parity images from
--data, or generated inputs) and `reference`, which is skipped when the model's bytes, input and
classes are unchanged, and taken from a sibling target's run folder when another target made it.

--data is split in two, seeded: half the images calibrate the full-integer modes, the other half
are the parity set, so an int8 artifact is never checked on the images it was calibrated on. With
labels, the reference's accuracy is measured on the parity set; without, there is none.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import ValidationError

from edgekit import __version__
from edgekit.errors import RecipeError, UsageError
from edgekit.interrupt import checkpoint
from edgekit.matrix import Row
from edgekit.model_data import GENERATED_INPUTS, GivenImages, class_names_for, generated_images
from edgekit.model_input import LoadedModel, ModelRequest
from edgekit.recipe import DataSection, Recipe, apply_override, format_error
from edgekit.reuse import link_tree, sibling_with
from edgekit.sources.base import ResolvedSource, SourceSettings
from edgekit.stages import MIN_CALIBRATION_WARNING, PreparedData, Reference
from edgekit.steps import input_key, progress
from edgekit.train.data import LabelledData, Splits
from edgekit.train.preprocess import Preprocessing, preprocess

if TYPE_CHECKING:
    from edgekit.pipeline import RunContext

CALIBRATED_MODES = ("int8", "int16x8")  # full-integer: activation ranges come from calibration images
NO_DATA_REASON = "needs calibration images and none were given: pass --data (an image folder or an .npz)"
SPLIT_SEED = 0
_NOT_SETTABLE = ("data", "train")
# The model itself and its input come from MODEL, --input-shape and --value-range; the rest of the
# source section (allow_unpinned, allow_publishers, hub_url, kaggle_url) applies.
_FROM_OPTIONS = {
    "source.handle": "MODEL",
    "source.input_size": "--input-shape",
    "source.value_range": "--value-range",
}
# A model named on the command line is always scanned strictly (as `convert --allow-unsafe-ops` says).
_STRICT = "source.allow_unsafe_ops"
# What another target's reference step must still have for this run to take it.
_REFERENCE_OUTPUTS = [
    "reference/saved_model/saved_model.pb",
    "reference/labels.txt",
    "reference/preprocessing.json",
]


class ModelRecipe(Recipe):
    """A run's settings when it starts from a trained model: no data section unless --data gave one.
    (The train section keeps its defaults and is never read: nothing is trained.)"""

    data: DataSection | None = None  # type: ignore[assignment]  # a recipe must have data; this run need not


def model_recipe(req: ModelRequest, overrides: list[str]) -> Recipe:
    """The run's settings: the defaults, the model and --data, then --set for the sections that apply."""
    for item in overrides:
        key = item.partition("=")[0].strip()
        if key in _FROM_OPTIONS:
            raise UsageError(
                f"--set {item}: a run from a trained model takes {key} from {_FROM_OPTIONS[key]}",
                hint=f"use {_FROM_OPTIONS[key]} instead",
            )
        if key == _STRICT:
            raise UsageError(
                f"--set {item}: a MODEL given on the command line is always scanned strictly",
                hint="a Keras model can be converted from its .keras file instead (checked by its config, not the op scan)",
            )
        section = key.split(".")[0]
        if section in _NOT_SETTABLE:
            raise UsageError(
                f"--set {item}: a run from a trained model has no {section} section to set",
                hint="--set applies to source (its allow_* settings), quantize, convert, parity, bench and output here; "
                "the model's input comes from --input-shape and --value-range, its data from --data",
            )
    source: dict[str, Any] = {"handle": req.spec}
    if req.input_size is not None:
        source["input_size"] = list(req.input_size)
    if req.value_range is not None:
        source["value_range"] = list(req.value_range)
    raw: dict[str, Any] = {"name": req.name, "source": source}
    if req.data is not None:
        raw["data"] = {"kind": "npz" if req.data.is_file() else "folder", "path": str(req.data)}
    for item in overrides:
        apply_override(raw, item)
    try:
        return ModelRecipe.model_validate(raw)
    except ValidationError as exc:
        lines = [format_error(dict(e)) for e in exc.errors()]
        raise RecipeError("--set: " + "\n  ".join(lines), hint="see docs/recipe.md for the fields") from None


def open_model(req: ModelRequest, overrides: list[str]) -> Recipe:
    """Before the run writes anything: the settings, the model loaded and checked, --data read and
    matched to the model's outputs. Every problem here is an error that leaves no trace on disk."""
    recipe = model_recipe(req, overrides)
    loaded = req.load(SourceSettings.from_recipe(recipe.source, Path.cwd()))
    given = req.read_images()
    if given is not None:
        if len(given) < 2:
            raise UsageError(
                f"--data {given.origin}: {len(given)} image(s); at least 2 are needed "
                "(half calibrate full-integer modes, half check parity)",
                hint="give more images, or leave --data out to compare outputs on generated inputs",
            )
        class_names_for(given, loaded.classes)
    return recipe


def skip_uncalibrated(rows: list[Row], req: ModelRequest, target: str) -> list[Row]:
    """Without --data, full-integer rows are skipped with the reason; they are never calibrated on noise."""
    if req.data is not None:
        return rows
    for row in rows:
        if row.status == "pending" and row.quant in CALIBRATED_MODES:
            row.status, row.error = "skipped", f"{row.quant} {NO_DATA_REASON}"
    if not any(r.status == "pending" for r in rows):
        modes = ", ".join(sorted({r.quant for r in rows}))
        raise UsageError(
            f"nothing to convert for {target}: every planned mode ({modes}) needs calibration images "
            "and no --data was given",
            hint="pass --data (an image folder or an .npz), or ask for a float mode with --quant fp32",
        )
    return rows


def model_steps(ctx: RunContext, req: ModelRequest) -> tuple[ResolvedSource, PreparedData, Reference]:
    """The run's source, data and reference, from the trained model (edgekit.stages' types)."""
    loaded = model_step(ctx, req)
    checkpoint()
    data = data_step(ctx, req, loaded)
    checkpoint()
    return loaded.source, data, reference_step(ctx, req, loaded, data)


def model_step(ctx: RunContext, req: ModelRequest) -> LoadedModel:
    with ctx.steps.step("model", req.spec) as note:
        loaded = req.load()  # loaded and checked before the run folder was made; here it is reported
        h, w = loaded.input_size
        note(
            f"{loaded.source.canonical}  input {h}x{w}, {loaded.classes} outputs, "
            f"sha256 {loaded.source.sha256[:12]}…"
        )
    return loaded


def data_step(ctx: RunContext, req: ModelRequest, loaded: LoadedModel) -> PreparedData:
    with ctx.steps.step("data", "calibration and parity images") as note:
        given = req.read_images() or generated_images(
            loaded.input_size, min(GENERATED_INPUTS, ctx.recipe.parity.max_samples)
        )
        names = class_names_for(given, loaded.classes)
        preproc = Preprocessing(loaded.input_size, loaded.value_range)
        parity, calibration = _split(
            given, ctx.recipe.parity.max_samples, ctx.recipe.quantize.calibration_samples
        )
        x_calibration, x_none, x_parity = _preprocessed(
            given.images, (calibration, np.zeros(0, np.int64), parity), preproc
        )
        fingerprint = input_key(
            _array_hash(given.images),
            None if given.labels is None else _array_hash(given.labels),
            names,
            given.kind,
            SPLIT_SEED,
        )
        data = PreparedData.of_arrays(
            _splits(given, calibration, parity, names),
            preproc,
            (x_calibration, x_none, x_parity, x_calibration),
            fingerprint,
            "generated inputs" if given.kind == "generated" else "given images",
        )
        req.inputs = {
            "data": given.origin,
            "kind": given.kind,
            "labelled": given.labels is not None,
            "parity_images": len(parity),
            "calibration_images": len(calibration),
        }
        if given.kind == "generated":
            note(f"no --data: parity on {len(parity)} generated inputs; full-integer modes skipped")
        else:
            labelled = "labelled" if given.labels is not None else "unlabelled"
            note(
                f"{len(given)} {labelled} images: {len(calibration)} to calibrate, {len(parity)} to check parity"
            )
    if given.kind != "generated" and len(calibration) < MIN_CALIBRATION_WARNING:
        progress(
            f"[yellow]warning[/]: only {len(calibration)} calibration images (fewer than "
            f"{MIN_CALIBRATION_WARNING}); int8 ranges may be poor"
        )
    return data


def _split(given: GivenImages, max_parity: int, max_calibration: int) -> tuple[np.ndarray, np.ndarray]:
    """(parity, calibration) indices: disjoint halves of a seeded permutation; all parity when generated."""
    if given.kind == "generated":
        return np.arange(len(given)), np.zeros(0, np.int64)
    order = np.random.default_rng(SPLIT_SEED).permutation(len(given))
    half = len(given) // 2
    return np.sort(order[:half][:max_parity]), np.sort(order[half:][:max_calibration])


def _preprocessed(
    images: np.ndarray, parts: tuple[np.ndarray, ...], preproc: Preprocessing
) -> list[np.ndarray]:
    return [preprocess(images[idx], preproc) for idx in parts]


def _splits(
    given: GivenImages, calibration: np.ndarray, parity: np.ndarray, names: tuple[str, ...]
) -> Splits:
    """stages.PreparedData's splits: calibration images as `train`, parity images as `test`.
    Unlabelled data has labels None: stages.parity_step then measures agreement, not accuracy."""

    def part(idx: np.ndarray) -> LabelledData:
        labels = None if given.labels is None else given.labels[idx]
        return LabelledData(given.images[idx], labels, names)  # type: ignore[arg-type]  # None: unlabelled

    return Splits(part(calibration), part(np.zeros(0, np.int64)), part(parity))


def _array_hash(a: np.ndarray) -> str:
    import hashlib

    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def reference_step(ctx: RunContext, req: ModelRequest, loaded: LoadedModel, data: PreparedData) -> Reference:
    """The given model saved as the run's reference; skipped when its inputs are unchanged."""
    folder = ctx.run_dir / "reference"
    names = tuple(data.splits.test.class_names)
    key = input_key(
        "from-model", loaded.source.sha256, loaded.input_size, loaded.value_range, names, __version__
    )
    outputs = [ctx.run_dir / o for o in _REFERENCE_OUTPUTS]
    with ctx.steps.step("reference", "from the given model") as note:
        if ctx.steps.is_done("reference", key, outputs):
            text = "unchanged, reused"
        elif (
            sibling := None
            if ctx.steps.force
            else sibling_with(ctx.run_dir, "reference", key, _REFERENCE_OUTPUTS)
        ) is not None:
            link_tree(sibling / "reference", folder)
            ctx.steps.mark_done("reference", key, {"reused_from": sibling.name})
            text = f"same model as {sibling.name}'s, reused"
        else:
            _export(loaded, folder, data.preproc, names)
            ctx.steps.mark_done("reference", key, {"made_here": True, "model": loaded.source.canonical})
            text = f"saved from {loaded.source.canonical}"
        accuracy, health = _measured_accuracy(loaded, data)
        note(
            text
            + ("" if accuracy is None else f": accuracy {accuracy:.3f} on {len(data.x_test)} labelled images")
        )
    for flag in health.get("flags", []):
        progress(f"[bold yellow]warning[/]: {flag}")
    return Reference(folder, key, accuracy, list(names), health)


def _export(loaded: LoadedModel, folder: Path, preproc: Preprocessing, names: tuple[str, ...]) -> None:
    """The same reference a trained run exports: [1, H, W, 3] float32 "image" in, one output."""
    import tensorflow as tf

    from edgekit.train.export import export_reference

    class Servable(tf.Module):
        def __init__(self) -> None:
            super().__init__(name="given_model")
            self.owner = loaded.owner  # tracked, so its variables are saved with the reference
            # Keras 3 variables wrap a tf.Variable; unless those are tracked too, TensorFlow still
            # runs the saved reference but the TFLite converter freezes them as garbage (NaN outputs).
            self.tf_variables = [
                v.value if isinstance(getattr(v, "value", None), tf.Variable) else v
                for v in getattr(loaded.owner, "variables", [])
            ]

        def __call__(self, image: Any, training: bool = False) -> Any:
            return tf.cast(loaded.call(image), tf.float32)

    export_reference(Servable(), folder, preproc, names)


def _measured_accuracy(loaded: LoadedModel, data: PreparedData) -> tuple[float | None, dict[str, Any]]:
    """With labels: the reference's accuracy on the parity images and the chance check; else none."""
    labels = data.splits.test.labels
    if labels is None or len(labels) == 0:
        return None, {}
    from edgekit.train.evaluate import chance_check

    accuracy = float(np.mean(loaded.predict(data.x_test).argmax(1) == labels))
    return accuracy, chance_check(accuracy, labels, loaded.classes)
