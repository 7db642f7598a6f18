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


class DataSection(_Section):
    kind: Literal["shapes", "folder", "npz"] = "folder"
    path: str | None = None  # folder of class subfolders, or .npz file
    num_images: int = Field(800, ge=8)  # shapes only: how many images to generate
    noise: float = Field(0.35, ge=0.0, le=2.0)  # shapes only: pixel noise; higher = harder task
    split: SplitSection = SplitSection()

    @model_validator(mode="after")
    def _path_needed(self) -> "DataSection":
        if self.kind != "shapes" and not self.path:
            raise ValueError(f"data.path is required when data.kind is {self.kind!r}")
        return self


class HeadSection(_Section):
    dropout: float = Field(0.2, ge=0.0, lt=1.0)
    hidden: list[int] = []


class FineTuneSection(_Section):
    enabled: bool = True
    epochs: int = Field(2, ge=1)
    learning_rate: float | None = Field(None, gt=0.0)  # default: train.learning_rate / 10
    unfreeze: Literal["all"] = "all"


class TrainSection(_Section):
    epochs: int = Field(3, ge=1)
    batch_size: int = Field(32, ge=1)
    learning_rate: float = Field(1e-3, gt=0.0)
    optimizer: Literal["adam", "sgd"] = "adam"
    head: HeadSection = HeadSection()
    fine_tune: FineTuneSection = FineTuneSection()
    seed: int = 0
    deterministic: bool = True


class QuantizeSection(_Section):
    calibration_samples: int = Field(200, ge=1)
    int8_io: Literal["int8", "uint8", "float32"] = "int8"


class ParitySection(_Section):
    samples: int = Field(64, ge=1)


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
