"""Recipe: the YAML that says what to pull, how to train, what to produce and how to check it.

Pydantic models with `extra="forbid"` everywhere, so a typo is an error, and one formatter that
turns validation errors into `field.path: what is allowed, got what`. Everything checkable before
the first step is checked here: types, ranges (with sane upper bounds, so an absurd size fails now
and not an hour into training), rules across fields, and the paths the recipe names (load_recipe
checks they exist and are the right kind). The file itself is read by the bounded YAML reader.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from edgekit import yamlsafe
from edgekit.errors import DataError, RecipeError, SourceError, UsageError

BUNDLED_DEMO = Path(__file__).parent / "recipes" / "demo.yaml"
DEFAULT_RECIPE_NAME = "edgekit.yaml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def _on_off(value: Any) -> Any:
    """YAML 1.1 reads `on`/`off`/`yes`/`no` as booleans: an on/off field takes them as written."""
    if isinstance(value, bool):
        return "on" if value else "off"
    return value


class SourceSection(_Section):
    handle: str = Field(min_length=1)
    # override what the module says: [H, W]
    input_size: tuple[Annotated[int, Field(ge=1, le=8192)], Annotated[int, Field(ge=1, le=8192)]] | None = (
        None
    )
    value_range: tuple[float, float] | None = None
    allow_unpinned: bool = False
    allow_publishers: list[str] = ["google", "tensorflow", "keras"]
    allow_unsafe_ops: bool = False
    hub_url: str | None = Field(
        None, pattern=r"^https?://[^/\s]+"
    )  # base URL of a TF Hub mirror (tests: loopback)
    kaggle_url: str | None = Field(None, pattern=r"^https?://[^/\s]+")

    @field_validator("value_range")
    @classmethod
    def _range_ordered(cls, v: tuple[float, float] | None) -> tuple[float, float] | None:
        if v is not None and not (math.isfinite(v[0]) and math.isfinite(v[1]) and v[0] < v[1]):
            raise ValueError(f"must be [low, high] with finite low < high, got {list(v)}")
        return v


class SplitSection(_Section):
    validation: float = Field(0.15, ge=0.0, lt=1.0)
    test: float = Field(0.15, gt=0.0, lt=1.0)
    seed: int = 0

    @model_validator(mode="after")
    def _leaves_training_data(self) -> SplitSection:
        if self.validation + self.test >= 0.95:
            raise ValueError(
                f"validation + test is {self.validation + self.test:g}, which leaves "
                f"{max(0.0, 1 - self.validation - self.test):.0%} of the images for training; keep validation + test below 0.95"
            )
        return self


class TFRecordSpec(_Section):
    """How to read a TFRecord of tf.train.Example: which features hold the image and the label."""

    image_key: str = "image"
    label_key: str = "label"
    encoding: Literal["encoded", "raw"] = "encoded"  # encoded: PNG/JPEG bytes; raw: uint8 bytes of [H, W, C]
    shape: (
        tuple[Annotated[int, Field(ge=1, le=8192)], Annotated[int, Field(ge=1, le=8192)], Literal[1, 3, 4]]
        | None
    ) = None  # raw: [H, W, C]
    class_names: list[Annotated[str, Field(min_length=1)]] | None = Field(
        None, min_length=2
    )  # default: class_0 .. class_{max label}

    @field_validator("class_names")
    @classmethod
    def _unique(cls, v: list[str] | None) -> list[str] | None:
        if v is not None and len(set(v)) != len(v):
            dup = next(n for n in v if v.count(n) > 1)
            raise ValueError(f"class names must be unique, {dup!r} is given twice")
        return v


class DataSection(_Section):
    kind: Literal["shapes", "folder", "npz", "tfrecord", "tfds"] = "folder"
    path: str | None = None  # folder of class subfolders, .npz file, TFRecord file/glob, or TFDS data_dir
    num_images: int = Field(
        800, ge=8, le=20_000
    )  # shapes only: how many images to generate (64x64 each, in memory)
    noise: float = Field(0.35, ge=0.0, le=2.0)  # shapes only: pixel noise; higher = harder task
    tfrecord: TFRecordSpec = TFRecordSpec()
    tfds_name: str | None = (
        None  # tfds only: e.g. "tf_flowers" (must already be in path / ~/tensorflow_datasets)
    )
    tfds_split: str = "train"  # tfds only: the split to read before edgekit's own split
    split: SplitSection = SplitSection()

    @model_validator(mode="after")
    def _path_needed(self) -> DataSection:
        if self.kind not in ("shapes", "tfds") and not self.path:
            raise ValueError(f"data.path is required when data.kind is {self.kind!r}")
        if self.kind == "tfds" and not self.tfds_name:
            raise ValueError("data.tfds_name is required when data.kind is 'tfds' (for example tf_flowers)")
        if self.kind == "tfrecord" and self.tfrecord.encoding == "raw" and self.tfrecord.shape is None:
            raise ValueError("data.tfrecord.shape [H, W, C] is required when data.tfrecord.encoding is 'raw'")
        if self.kind == "shapes":
            self._shapes_split_leaves_training_images()
        return self

    def _shapes_split_leaves_training_images(self) -> None:
        # Mirrors train/data.py's per-class split, so "no training images" is caught before any step.
        from edgekit.train.shapes import CLASSES

        per_class = self.num_images // len(CLASSES)
        n_test = max(1, round(per_class * self.split.test))
        n_val = round(per_class * self.split.validation)
        if per_class - n_test - n_val < 1:
            raise ValueError(
                f"data.split: with {self.num_images} images ({per_class} per class), validation {self.split.validation:g} "
                f"and test {self.split.test:g} leave no training images; raise data.num_images or lower the split"
            )


class HeadSection(_Section):
    dropout: float = Field(0.2, ge=0.0, lt=1.0)
    hidden: list[Annotated[int, Field(ge=1, le=65536)]] = Field([], max_length=16)


class FineTuneSection(_Section):
    enabled: bool = True
    epochs: int = Field(2, ge=1, le=10_000)
    learning_rate: float | None = Field(None, gt=0.0, le=10.0)  # default: train.learning_rate / 10
    unfreeze: Literal["all"] | int = "all"  # "all", or N: only the backbone's last N layers
    label_smoothing: float = Field(0.0, ge=0.0, lt=1.0)  # phase 2 only

    @model_validator(mode="after")
    def _positive_layers(self) -> FineTuneSection:
        if isinstance(self.unfreeze, int) and self.unfreeze < 1:
            raise ValueError(
                f"train.fine_tune.unfreeze: 'all' or a number of layers ≥ 1, got {self.unfreeze}"
            )
        return self


class AugmentSection(_Section):
    """Random changes to training images only (never validation, test, calibration or parity)."""

    flip: bool = False  # left-right
    crop: float = Field(0.0, ge=0.0, lt=0.5)  # up to this fraction cut from the sides, then resized back
    rotation: float = Field(0.0, ge=0.0, le=180.0)  # up to ± this many degrees
    brightness: float = Field(0.0, ge=0.0, le=1.0)  # up to ± this much (images in [0, 1])
    contrast: float = Field(0.0, ge=0.0, lt=1.0)  # contrast factor in [1 - c, 1 + c]


class TrainSection(_Section):
    epochs: int = Field(3, ge=1, le=10_000)
    batch_size: int = Field(32, ge=1, le=65_536)
    learning_rate: float = Field(1e-3, gt=0.0, le=10.0)
    optimizer: Literal["adam", "sgd"] = "adam"
    head: HeadSection = HeadSection()
    fine_tune: FineTuneSection = FineTuneSection()
    augment: AugmentSection = AugmentSection()
    early_stopping: int | None = Field(
        None, ge=1, le=10_000
    )  # patience in epochs on validation loss; None: off
    class_weights: Literal["auto", "none"] = "none"  # auto: weight classes by inverse frequency
    mixed_precision: Literal["auto", "on", "off"] = "auto"  # auto: on when a GPU is present
    jit_compile: bool = False  # XLA
    distribute: Literal["auto", "none", "mirrored", "multi-worker"] = "auto"
    seed: int = 0
    deterministic: bool = True

    _mixed_precision_on_off = field_validator("mixed_precision", mode="before")(_on_off)


class QuantizeSection(_Section):
    calibration_samples: int = Field(200, ge=1, le=100_000)  # drawn from the training split, seeded


class TFLiteOptions(_Section):
    int8_io: Literal["int8", "uint8", "float32"] = "int8"  # input/output type of full-integer models
    allow_flex: bool = False  # allow Select TF ops (most edge runtimes lack them)
    keep_float: list[str] = []  # int8: layers whose name contains one of these stay float
    analyze: bool = True  # XNNPACK share and GPU delegate compatibility per artifact


class ONNXOptions(_Section):
    opset: int = Field(17, ge=14, le=18)


class TFJSOptions(_Section):
    shard_size_bytes: int = Field(4 * 1024 * 1024, ge=1024, le=1 << 30)


class ConvertSection(_Section):
    parallel: bool = True  # worker processes for the formats at once; false: one after another
    # resident memory of the conversion processes together: "auto" (75 % of physical memory),
    # "none", or a size such as 8GiB; a process that goes over it fails its row (edgekit/convert/memory.py)
    memory_limit: str = "auto"
    tflite: TFLiteOptions = TFLiteOptions()
    onnx: ONNXOptions = ONNXOptions()
    tfjs: TFJSOptions = TFJSOptions()

    @field_validator("memory_limit", mode="before")
    @classmethod
    def _readable_size(cls, v: object) -> str:
        from edgekit.convert.memory import SIZE_EXAMPLES, parse_memory_limit

        text = str(v)
        try:
            parse_memory_limit(text)
        except UsageError as exc:
            raise ValueError(f"cannot read {text!r} as a size; use {SIZE_EXAMPLES}") from exc
        return text

    def options_for(self, fmt: str) -> dict[str, Any]:
        section = getattr(self, fmt, None)
        return section.model_dump() if section is not None else {}


class ParitySection(_Section):
    max_samples: int = Field(
        500, ge=1, le=1_000_000
    )  # held-out images compared (the whole test split up to this)
    # per quant mode overrides of edgekit.convert.parity.PARITY_THRESHOLDS, e.g. {int8: {min_top1: 0.95}}
    thresholds: dict[str, dict[Literal["min_top1", "warn_top1", "max_abs", "min_cosine"], float]] = {}

    @field_validator("thresholds")
    @classmethod
    def _thresholds_in_range(cls, v: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        from edgekit.quant import QUANT_MODES

        for mode, limits in v.items():
            try:
                QUANT_MODES.get(mode)
            except (
                UsageError
            ) as exc:  # unknown mode: keep the registry's did-you-mean, under this field's path
                raise ValueError(exc.message) from None
            for name, value in limits.items():
                if name == "max_abs":
                    ok, allowed = math.isfinite(value) and value >= 0, "a finite number ≥ 0"
                else:
                    ok, allowed = 0.0 <= value <= 1.0, "in [0, 1]"
                if not ok:
                    raise ValueError(f"{mode}.{name} must be {allowed}, got {value!r}")
        return v


class BenchSection(_Section):
    threads: int | None = Field(None, ge=1, le=1024)
    min_runs: int = Field(20, ge=1, le=1_000_000)
    min_time_s: float = Field(0.5, gt=0.0, le=3600.0)
    warmup_runs: int = Field(3, ge=0, le=100_000)


class OutputSection(_Section):
    dir: str = Field("out", min_length=1)


class Recipe(_Section):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    source: SourceSection
    data: DataSection
    train: TrainSection = TrainSection()
    quantize: QuantizeSection = QuantizeSection()
    convert: ConvertSection = ConvertSection()
    parity: ParitySection = ParitySection()
    bench: BenchSection = BenchSection()
    output: OutputSection = OutputSection()

    def section_dict(self, name: str) -> dict[str, Any]:
        return getattr(self, name).model_dump(mode="json")


def find_recipe(given: Path | None) -> tuple[Path, str]:
    """The recipe to use and how it was chosen (printed so the user knows)."""
    if given is not None:
        if not given.is_file():
            raise RecipeError(
                f"recipe file not found: {given}", hint="check the path, or run without RECIPE for the demo"
            )
        return given, "given"
    local = Path.cwd() / DEFAULT_RECIPE_NAME
    if local.is_file():
        return local, f"found ./{DEFAULT_RECIPE_NAME}"
    return BUNDLED_DEMO, f"no RECIPE and no ./{DEFAULT_RECIPE_NAME}: using the bundled demo"


def load_recipe(path: Path, overrides: Sequence[str] = (), *, check_paths: bool = True) -> Recipe:
    """The recipe at PATH with --set OVERRIDES, fully validated; with CHECK_PATHS, the data folder
    and a local source must exist and be the right kind (relative to the recipe's folder)."""
    path = Path(path)
    raw = yamlsafe.load(path, what="recipe", error=RecipeError)
    if not isinstance(raw, dict):
        raise RecipeError(f"{path}: a recipe is a mapping of sections, got {type(raw).__name__}")
    for item in overrides:
        apply_override(raw, item)
    recipe = parse_recipe(raw, origin=str(path))
    if check_paths:
        check_recipe_paths(recipe, path.parent, origin=str(path))
    return recipe


def check_recipe_paths(recipe: Recipe, base_dir: Path, origin: str = "recipe") -> None:
    """Paths the recipe names exist and are the right kind; relative ones are relative to BASE_DIR."""
    from edgekit.sources.base import SourceSettings
    from edgekit.sources.handles import LocalHandle, parse_handle

    try:
        handle = parse_handle(
            recipe.source.handle, SourceSettings.from_recipe(recipe.source), base_dir=base_dir
        )
    except (SourceError, UsageError) as exc:
        raise RecipeError(f"{origin}: source.handle: {exc.message}", hint=exc.hint) from None
    except (OSError, ValueError) as exc:  # a name too long, a NUL byte: no file system has this path
        raise RecipeError(
            f"{origin}: source.handle: {recipe.source.handle[:80]!r} is not a usable path: "
            f"{getattr(exc, 'strerror', None) or exc}"
        ) from None
    if (
        isinstance(handle, LocalHandle)
        and handle.form == "folder"
        and not (handle.path / "saved_model.pb").is_file()
    ):
        raise RecipeError(
            f"{origin}: source.handle: {handle.path} has no saved_model.pb, so it is not a SavedModel folder",
            hint="give the folder that contains saved_model.pb",
        )
    try:
        _check_data_path(recipe.data, base_dir, origin)
    except (OSError, ValueError) as exc:
        raise RecipeError(
            f"{origin}: data.path: {str(recipe.data.path)[:80]!r} is not a usable path: "
            f"{getattr(exc, 'strerror', None) or exc}"
        ) from None


def _check_data_path(d: DataSection, base_dir: Path, origin: str) -> None:
    if not d.path:
        return
    where = Path(d.path).expanduser()
    where = where if where.is_absolute() else base_dir / where
    if d.kind in ("folder", "tfds") and not where.is_dir():
        what = (
            "a folder with one subfolder of images per class"
            if d.kind == "folder"
            else "a TFDS data_dir folder"
        )
        state = "is not a folder" if where.exists() else "does not exist"
        raise RecipeError(f"{origin}: data.path: {where} {state}", hint=f"data.kind {d.kind!r} needs {what}")
    if d.kind == "npz" and not where.is_file():
        state = "is a folder" if where.is_dir() else "does not exist"
        raise RecipeError(
            f"{origin}: data.path: {where} {state}",
            hint="data.kind 'npz' needs an .npz file with 'images' and 'labels'",
        )
    if d.kind == "tfrecord":
        from edgekit.train.tfrecord import find_record_files

        try:
            find_record_files(d.path, base_dir)
        except DataError as exc:
            raise RecipeError(f"{origin}: {exc.message}", hint=exc.hint) from None


def parse_recipe(raw: dict[str, Any], origin: str = "recipe") -> Recipe:
    try:
        return Recipe.model_validate(raw)
    except ValidationError as exc:
        lines = [format_error(e) for e in exc.errors()]
        raise RecipeError(
            f"{origin}: " + "\n  ".join(lines), hint="see recipes/demo.yaml and docs/recipe.md"
        ) from None


def apply_override(raw: dict[str, Any], item: str) -> None:
    """--set a.b.c=value: the value is parsed as YAML, so numbers and lists keep their types."""
    if "=" not in item:
        raise RecipeError(f"--set expects key=value, got {item!r}", hint="for example --set train.epochs=2")
    key, _, value = item.partition("=")
    parts = key.strip().split(".")
    node = raw
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise RecipeError(f"--set {key}: {part} is not a section")
        node = child
    try:
        node[parts[-1]] = yamlsafe.parse(value, origin=f"--set {key}", error=RecipeError)
    except RecipeError as exc:
        if not isinstance(exc.__context__, yaml.YAMLError):
            raise  # too deep or an alias bomb: an error, not text
        node[parts[-1]] = value  # not YAML at all: the text as written


_MESSAGES = {
    "greater_than_equal": "must be ≥ {ge}",
    "greater_than": "must be > {gt}",
    "less_than_equal": "must be ≤ {le}",
    "less_than": "must be < {lt}",
    "too_short": "must have at least {min_length} item(s)",
    "string_too_short": "must not be empty",
    "missing": "is required",
    "literal_error": "must be one of {expected}",
    "string_pattern_mismatch": "must match {pattern}",
}


def format_error(err: Mapping[str, Any]) -> str:
    """One pydantic error → 'train.epochs: must be ≥ 1, got 0'."""
    loc = ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in err["loc"]).replace(".[", "[")
    kind = err["type"]
    ctx: dict[str, Any] = dict(err.get("ctx") or {})
    if kind == "extra_forbidden":
        return f"{loc}: unknown key (remove it or check its spelling)"
    if kind == "value_error":
        return f"{loc + ': ' if loc else ''}{ctx.get('error', err['msg'])}"
    template = _MESSAGES.get(kind)
    what = template.format(**ctx) if template else err["msg"].lower()
    if kind == "missing":
        return f"{loc}: {what}"
    return f"{loc}: {what}, got {err.get('input')!r}"
