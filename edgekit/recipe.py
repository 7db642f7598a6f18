"""Recipe: the YAML that says what to pull, how to train, what to produce and how to check it.

Pydantic models with `extra="forbid"` everywhere, so a typo is an error, and one formatter that
turns validation errors into `field.path: what is allowed, got what`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from edgekit.errors import RecipeError

BUNDLED_DEMO = Path(__file__).parent / "recipes" / "demo.yaml"
DEFAULT_RECIPE_NAME = "edgekit.yaml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class SourceSection(_Section):
    handle: str = Field(min_length=1)
    input_size: tuple[int, int] | None = None  # override what the module says: [H, W]
    value_range: tuple[float, float] | None = None
    allow_unpinned: bool = False
    allow_publishers: list[str] = ["google", "tensorflow", "keras"]
    allow_unsafe_ops: bool = False
    hub_url: str | None = None  # base URL of a TF Hub mirror (tests point it at a loopback server)
    kaggle_url: str | None = None


class SplitSection(_Section):
    validation: float = Field(0.15, ge=0.0, lt=1.0)
    test: float = Field(0.15, gt=0.0, lt=1.0)
    seed: int = 0


class TFRecordSpec(_Section):
    """How to read a TFRecord of tf.train.Example: which features hold the image and the label."""

    image_key: str = "image"
    label_key: str = "label"
    encoding: Literal["encoded", "raw"] = "encoded"  # encoded: PNG/JPEG bytes; raw: uint8 bytes of [H, W, C]
    shape: tuple[int, int, int] | None = None  # raw only: [H, W, C] of every image
    class_names: list[str] | None = None  # default: class_0 .. class_{max label}


class DataSection(_Section):
    kind: Literal["shapes", "folder", "npz", "tfrecord", "tfds"] = "folder"
    path: str | None = None  # folder of class subfolders, .npz file, TFRecord file/glob, or TFDS data_dir
    num_images: int = Field(800, ge=8)  # shapes only: how many images to generate
    noise: float = Field(0.35, ge=0.0, le=2.0)  # shapes only: pixel noise; higher = harder task
    tfrecord: TFRecordSpec = TFRecordSpec()
    tfds_name: str | None = None  # tfds only: e.g. "tf_flowers" (must already be in path / ~/tensorflow_datasets)
    tfds_split: str = "train"  # tfds only: the split to read before edgekit's own split
    split: SplitSection = SplitSection()

    @model_validator(mode="after")
    def _path_needed(self) -> "DataSection":
        if self.kind not in ("shapes", "tfds") and not self.path:
            raise ValueError(f"data.path is required when data.kind is {self.kind!r}")
        if self.kind == "tfds" and not self.tfds_name:
            raise ValueError("data.tfds_name is required when data.kind is 'tfds' (for example tf_flowers)")
        if self.kind == "tfrecord" and self.tfrecord.encoding == "raw" and self.tfrecord.shape is None:
            raise ValueError("data.tfrecord.shape [H, W, C] is required when data.tfrecord.encoding is 'raw'")
        return self


class HeadSection(_Section):
    dropout: float = Field(0.2, ge=0.0, lt=1.0)
    hidden: list[int] = []


class FineTuneSection(_Section):
    enabled: bool = True
    epochs: int = Field(2, ge=1)
    learning_rate: float | None = Field(None, gt=0.0)  # default: train.learning_rate / 10
    unfreeze: Literal["all"] | int = "all"  # "all", or N: only the backbone's last N layers
    label_smoothing: float = Field(0.0, ge=0.0, lt=1.0)  # phase 2 only

    @model_validator(mode="after")
    def _positive_layers(self) -> "FineTuneSection":
        if isinstance(self.unfreeze, int) and self.unfreeze < 1:
            raise ValueError(f"train.fine_tune.unfreeze: 'all' or a number of layers ≥ 1, got {self.unfreeze}")
        return self


class AugmentSection(_Section):
    """Random changes to training images only (never validation, test, calibration or parity)."""

    flip: bool = False  # left-right
    crop: float = Field(0.0, ge=0.0, lt=0.5)  # up to this fraction cut from the sides, then resized back
    rotation: float = Field(0.0, ge=0.0, le=180.0)  # up to ± this many degrees
    brightness: float = Field(0.0, ge=0.0, le=1.0)  # up to ± this much (images in [0, 1])
    contrast: float = Field(0.0, ge=0.0, lt=1.0)  # contrast factor in [1 - c, 1 + c]


class TrainSection(_Section):
    epochs: int = Field(3, ge=1)
    batch_size: int = Field(32, ge=1)
    learning_rate: float = Field(1e-3, gt=0.0)
    optimizer: Literal["adam", "sgd"] = "adam"
    head: HeadSection = HeadSection()
    fine_tune: FineTuneSection = FineTuneSection()
    augment: AugmentSection = AugmentSection()
    early_stopping: int | None = Field(None, ge=1)  # patience in epochs on validation loss; None: off
    class_weights: Literal["auto", "none"] = "none"  # auto: weight classes by inverse frequency
    mixed_precision: Literal["auto", "on", "off"] = "auto"  # auto: on when a GPU is present
    jit_compile: bool = False  # XLA
    distribute: Literal["auto", "none", "mirrored", "multi-worker"] = "auto"
    seed: int = 0
    deterministic: bool = True


class QuantizeSection(_Section):
    calibration_samples: int = Field(200, ge=1)  # drawn from the training split, seeded


class TFLiteOptions(_Section):
    int8_io: Literal["int8", "uint8", "float32"] = "int8"  # input/output type of full-integer models
    allow_flex: bool = False  # allow Select TF ops (most edge runtimes lack them)
    keep_float: list[str] = []  # int8: layers whose name contains one of these stay float
    analyze: bool = True  # XNNPACK share and GPU delegate compatibility per artifact


class ONNXOptions(_Section):
    opset: int = Field(17, ge=14, le=18)


class TFJSOptions(_Section):
    shard_size_bytes: int = Field(4 * 1024 * 1024, ge=1024)


class ConvertSection(_Section):
    parallel: bool = True  # one process per format when several formats are converted
    tflite: TFLiteOptions = TFLiteOptions()
    onnx: ONNXOptions = ONNXOptions()
    tfjs: TFJSOptions = TFJSOptions()

    def options_for(self, fmt: str) -> dict[str, Any]:
        section = getattr(self, fmt, None)
        return section.model_dump() if section is not None else {}


class ParitySection(_Section):
    max_samples: int = Field(500, ge=1)  # held-out images compared (the whole test split up to this)
    # per quant mode overrides of edgekit.convert.parity.PARITY_THRESHOLDS, e.g. {int8: {min_top1: 0.95}}
    thresholds: dict[str, dict[Literal["min_top1", "warn_top1", "max_abs", "min_cosine"], float]] = {}


class BenchSection(_Section):
    threads: int | None = Field(None, ge=1)
    min_runs: int = Field(20, ge=1)
    min_time_s: float = Field(0.5, gt=0.0)
    warmup_runs: int = Field(3, ge=0)


class OutputSection(_Section):
    dir: str = "out"


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
            raise RecipeError(f"recipe file not found: {given}", hint="check the path, or run without RECIPE for the demo")
        return given, "given"
    local = Path.cwd() / DEFAULT_RECIPE_NAME
    if local.is_file():
        return local, f"found ./{DEFAULT_RECIPE_NAME}"
    return BUNDLED_DEMO, f"no RECIPE and no ./{DEFAULT_RECIPE_NAME}: using the bundled demo"


def load_recipe(path: Path, overrides: list[str] = ()) -> Recipe:
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise RecipeError(f"recipe file not found: {path}") from None
    except yaml.YAMLError as exc:
        raise RecipeError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise RecipeError(f"{path}: a recipe is a mapping of sections, got {type(raw).__name__}")
    for item in overrides:
        apply_override(raw, item)
    return parse_recipe(raw, origin=str(path))


def parse_recipe(raw: dict[str, Any], origin: str = "recipe") -> Recipe:
    try:
        return Recipe.model_validate(raw)
    except ValidationError as exc:
        lines = [format_error(e) for e in exc.errors()]
        raise RecipeError(f"{origin}: " + "\n  ".join(lines), hint="see recipes/demo.yaml and the README's recipe section") from None


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
        node[parts[-1]] = yaml.safe_load(value)
    except yaml.YAMLError:
        node[parts[-1]] = value


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


def format_error(err: dict[str, Any]) -> str:
    """One pydantic error → 'train.epochs: must be ≥ 1, got 0'."""
    loc = ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in err["loc"]).replace(".[", "[")
    kind = err["type"]
    ctx = err.get("ctx", {})
    if kind == "extra_forbidden":
        return f"{loc}: unknown key (remove it or check its spelling)"
    if kind == "value_error":
        return f"{loc + ': ' if loc else ''}{ctx.get('error', err['msg'])}"
    template = _MESSAGES.get(kind)
    what = template.format(**ctx) if template else err["msg"].lower()
    if kind == "missing":
        return f"{loc}: {what}"
    return f"{loc}: {what}, got {err.get('input')!r}"
