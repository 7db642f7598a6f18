"""`edgekit convert MODEL`: recognise a trained model on the command line, check it, load it.

MODEL is a SavedModel folder, a `.keras` file or a TF Hub / Kaggle Models handle of a complete
model: one float32 image input [N, H, W, 3] and one [N, K] output. Everything a user can get wrong
(a missing path, a folder that is not a SavedModel, a file that does not load, an input size the
model does not take) is found here, before the run writes anything, and is a usage error (exit 2)
that says what was received and how to fix it. A model whose graph does more than compute is
refused by the sources' op scan (exit 3), as for any other source.
"""

from __future__ import annotations

import json
import math
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from edgekit.errors import RefusedError, SourceError, UsageError
from edgekit.sources.base import LOCKFILE_NAME, ModuleInfo, ResolvedSource, SourceSettings

if TYPE_CHECKING:
    from edgekit.model_data import GivenImages

HANDLE_PREFIXES = (
    "tfhub:",
    "kaggle:",
    "https://tfhub.dev/",
    "http://tfhub.dev/",
    "https://www.kaggle.com/models/",
    "https://kaggle.com/models/",
)
KERAS_SUFFIX = ".keras"
_MODEL_FORMS = "a SavedModel folder (with saved_model.pb), a .keras file, or a tfhub:/kaggle: handle"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_MAX_SIDE = 8192


@dataclass
class LoadedModel:
    """A trained model in memory, checked to take one [1, H, W, 3] float32 image and give [1, K]."""

    source: ResolvedSource  # spec, canonical id, sha256 of its bytes, scan and provenance
    input_size: tuple[int, int]
    value_range: tuple[float, float]
    classes: int  # K, the width of the output
    owner: Any  # the object that owns the variables (tracked when the reference is exported)
    call: Callable[[Any], Any]  # float32 tensor [N, H, W, 3] → [N, K]

    def predict(self, x: np.ndarray, batch: int = 32) -> np.ndarray:
        import tensorflow as tf

        outs = [np.asarray(self.call(tf.constant(x[i : i + batch]))) for i in range(0, len(x), batch)]
        return np.concatenate(outs).astype(np.float32) if outs else np.zeros((0, self.classes), np.float32)


@dataclass
class ModelRequest:
    """What the user asked for on the command line: parsed and checked without TensorFlow."""

    spec: str
    kind: str  # saved_model | keras | handle
    name: str  # the run's name: out/<name>/<target>/
    data: Path | None = None  # --data: an image folder or an .npz
    input_size: tuple[int, int] | None = None  # --input-shape
    value_range: tuple[float, float] | None = None  # --value-range
    # Loaded once per command and shared by every target of a multi-target run.
    loaded: LoadedModel | None = field(default=None, repr=False, compare=False)
    images: GivenImages | None = field(default=None, repr=False, compare=False)
    # What the run's inputs were (set by the data step), for the report: edgekit/from_model.py
    inputs: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def where(self) -> Path:
        """What report.json's recipe.path names for this run: the model's folder or file, or its handle."""
        if self.kind != "handle":
            return Path(self.spec).expanduser().resolve()
        from edgekit.sources.handles import parse_handle

        # A URL's '//' would not survive as a Path; its canonical id (tfhub:..., kaggle:...) does.
        return Path(getattr(parse_handle(self.spec), "canonical", self.spec))

    def load(self, settings: SourceSettings | None = None) -> LoadedModel:
        """The model, loaded and checked once; SETTINGS steer resolving it (--set source.*)."""
        if self.loaded is None:
            self.loaded = load_model(self, settings or SourceSettings(lockfile=Path.cwd() / LOCKFILE_NAME))
        return self.loaded

    def describe(self) -> dict[str, Any]:
        """report.json's `model` section: what was converted and what the parity inputs were."""
        loaded = self.loaded
        return {
            "spec": self.spec,
            "kind": self.kind,
            "input_size": list(loaded.input_size) if loaded else None,
            "value_range": list(loaded.value_range) if loaded else None,
            "outputs": loaded.classes if loaded else None,
            "inputs": dict(self.inputs),
        }

    def read_images(self) -> GivenImages | None:
        """--data's images, read once; None without --data."""
        if self.images is None and self.data is not None:
            from edgekit.model_data import read_images

            self.images = read_images(self.data)
        return self.images


def model_kind(arg: str) -> str | None:
    """saved_model | keras | handle when ARG names a trained model; None when it is (or may be) a recipe."""
    if arg.lower().startswith(HANDLE_PREFIXES):
        return "handle"
    path = Path(arg).expanduser()
    if path.suffix.lower() == KERAS_SUFFIX:
        return "keras"
    if path.is_dir():
        return "saved_model"
    return None


def model_request(
    arg: str | None,
    *,
    data: Path | None = None,
    input_shape: str | None = None,
    value_range: str | None = None,
    name: str | None = None,
) -> ModelRequest | None:
    """ARG (convert's positional argument) as a trained model; None when it is a recipe or absent."""
    kind = model_kind(arg) if arg else None
    if kind is None or arg is None:
        given = [
            opt
            for opt, value in (
                ("--data", data),
                ("--input-shape", input_shape),
                ("--value-range", value_range),
                ("--name", name),
            )
            if value is not None
        ]
        if given:
            raise UsageError(
                f"{', '.join(given)} only apply when converting a trained model, and "
                f"{repr(arg) + ' is read as a recipe' if arg else 'no MODEL was given'}",
                hint=f"give MODEL as {_MODEL_FORMS}; a recipe names its data in its data: section",
            )
        return None
    _check_local(arg, kind)
    return ModelRequest(
        spec=arg,
        kind=kind,
        name=_run_name(arg, kind, name),
        data=_check_data_path(data) if data is not None else None,
        input_size=parse_input_shape(input_shape) if input_shape is not None else None,
        value_range=parse_value_range(value_range) if value_range is not None else None,
    )


def _check_local(arg: str, kind: str) -> None:
    if kind == "handle":
        from edgekit.sources.handles import parse_handle

        try:
            parse_handle(arg)
        except (SourceError, UsageError) as exc:
            raise UsageError(f"MODEL {arg!r}: {exc.message}", hint=exc.hint) from None
        return
    path = Path(arg).expanduser()
    if kind == "keras" and not path.is_file():
        state = "is a folder" if path.is_dir() else "does not exist"
        raise UsageError(
            f"MODEL {arg!r}: {path} {state}",
            hint="give the .keras file that model.save('model.keras') wrote",
        )
    if kind == "saved_model" and not (path / "saved_model.pb").is_file():
        raise UsageError(
            f"MODEL {arg!r}: {path} is a folder without saved_model.pb, so it is not a SavedModel",
            hint="give the folder that holds saved_model.pb (tf.saved_model.save writes one), "
            "a .keras file, or a recipe YAML",
        )


def _check_data_path(data: Path) -> Path:
    path = data.expanduser()
    if path.is_dir() or (path.is_file() and path.suffix.lower() == ".npz"):
        return path.resolve()
    state = "does not exist" if not path.exists() else "is neither a folder nor an .npz file"
    raise UsageError(
        f"--data {str(data)!r}: {path} {state}",
        hint="give a folder of images (class subfolders for labels) or an .npz with an array x (and y for labels)",
    )


def _run_name(arg: str, kind: str, given: str | None) -> str:
    if given is not None:
        if not _NAME.match(given):
            raise UsageError(
                f"--name {given!r}: a run name is letters, digits, '_', '.' and '-', starting with a letter or digit",
                hint="for example --name mobilenet-v2",
            )
        return given
    stem = arg.rstrip("/").rsplit("/", 1)[-1] if kind == "handle" else Path(arg).expanduser().resolve().name
    if kind == "handle" and stem.isdigit():  # tfhub:google/model/5 → model-5
        parts = arg.rstrip("/").split("/")
        stem = f"{parts[-2]}-{stem}" if len(parts) > 1 else stem
    stem = stem.removesuffix(KERAS_SUFFIX)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", stem).strip("-.") or "model"
    return name if _NAME.match(name) else f"model-{name}"


def parse_input_shape(text: str) -> tuple[int, int]:
    """--input-shape: H,W or HxW (or HxWx3); the model's image height and width."""
    parts = [p for p in re.split(r"[x,\s]+", text.strip().lower()) if p]
    try:
        dims = [int(p) for p in parts]
    except ValueError:
        dims = []
    if len(dims) == 3 and dims[2] == 3:
        dims = dims[:2]
    if len(dims) != 2 or not all(1 <= d <= _MAX_SIDE for d in dims):
        raise UsageError(
            f"--input-shape {text!r}: expected height and width as HxW, each 1..{_MAX_SIDE} (RGB images)",
            hint="for example --input-shape 224x224",
        )
    return dims[0], dims[1]


def parse_value_range(text: str) -> tuple[float, float]:
    """--value-range LO,HI: the input range the model was trained on (images are scaled into it)."""
    try:
        lo, hi = (float(p) for p in text.split(","))
    except ValueError:
        lo = hi = math.nan
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise UsageError(
            f"--value-range {text!r}: expected LO,HI with finite LO < HI",
            hint="for example --value-range -1,1 for a model trained on images scaled to [-1, 1]",
        )
    return lo, hi


def load_model(req: ModelRequest, settings: SourceSettings) -> LoadedModel:
    """Load and check REQ's model (TensorFlow needed); usage errors for anything the user can fix."""
    if req.kind == "keras":
        return _load_keras_file(req)
    return _load_saved_model(req, settings)


# ---- .keras files ---------------------------------------------------------------------------------


def _load_keras_file(req: ModelRequest) -> LoadedModel:
    from edgekit.fsutil import sha256_file
    from edgekit.sources.kerasfile import check_keras_file

    path = Path(req.spec).expanduser().resolve()
    try:
        check_keras_file(path)  # refuses Lambda layers and foreign classes before anything is loaded
    except SourceError as exc:
        if isinstance(exc, RefusedError):
            raise
        raise UsageError(
            f"MODEL {req.spec!r}: {exc.message}", hint="save the model with model.save('model.keras')"
        ) from None
    version = _keras_version(path)
    model, loaded_with = _load_keras(path, version, req.spec)
    size = _keras_input_size(model, req)
    sha = sha256_file(path)
    value_range = req.value_range or (0.0, 1.0)
    notes = (
        [] if req.value_range else [f"{path.name}: input value range assumed [0, 1]; --value-range sets it"]
    )
    source = ResolvedSource(
        spec=req.spec,
        canonical=f"keras-file:sha256:{sha}",
        kind="local",
        path=path,
        sha256=sha,
        info=ModuleInfo(size, value_range, origin="recipe" if req.input_size else "signature"),
        notes=notes,
        manifest={
            "keras_file": str(path),
            "keras_version": version,
            "loaded_with": loaded_with,
            "scan": {"keras_config": "no Lambda layers, serialized code or classes outside Keras"},
        },
    )

    def call(x: Any) -> Any:
        return model(x, training=False)

    return _checked(req, source, size, value_range, model, call)


def _keras_version(path: Path) -> str | None:
    try:
        with zipfile.ZipFile(path) as zf:
            meta = json.loads(zf.read("metadata.json"))
    except (KeyError, OSError, ValueError, zipfile.BadZipFile):
        return None
    version = meta.get("keras_version") if isinstance(meta, dict) else None
    return str(version) if version is not None else None


def _load_keras(path: Path, version: str | None, spec: str) -> tuple[Any, str]:
    """Keras 3 files load with keras, Keras 2 files with tf_keras; safe_mode stays on for both."""
    first, second = ("keras", "tf_keras") if (version or "3").startswith("3") else ("tf_keras", "keras")
    errors = []
    for name in (first, second):
        try:
            module = __import__(name)
            return module.models.load_model(path, compile=False, safe_mode=True), name
        except Exception as exc:  # Keras raises many kinds (ValueError, TypeError, KeyError, ...)
            errors.append(f"{name}: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}")
    raise UsageError(
        f"MODEL {spec!r} could not be loaded ({'; '.join(errors)})",
        hint="save it again with model.save('model.keras') in the Keras that trained it",
    )


def _keras_input_size(model: Any, req: ModelRequest) -> tuple[int, int]:
    inputs = list(getattr(model, "inputs", None) or [])
    if len(inputs) != 1:
        raise UsageError(
            f"MODEL {req.spec!r} has {len(inputs)} inputs; edgekit converts models with one image input",
            hint="wrap the model so that it takes one [N, H, W, 3] image tensor",
        )
    shape = tuple(inputs[0].shape)
    if len(shape) != 4 or shape[-1] not in (3, None):
        raise UsageError(
            f"MODEL {req.spec!r}: its input has shape {list(shape)}; edgekit converts image models "
            "with an input [N, H, W, 3]",
            hint="wrap the model so that it takes one RGB image tensor",
        )
    return _fixed_or_given(req, shape[1], shape[2])


def _fixed_or_given(req: ModelRequest, h: Any, w: Any) -> tuple[int, int]:
    fixed = (int(h), int(w)) if isinstance(h, int) and isinstance(w, int) and h > 0 and w > 0 else None
    if req.input_size is not None and fixed is not None and req.input_size != fixed:
        raise UsageError(
            f"--input-shape {req.input_size[0]}x{req.input_size[1]} does not match MODEL {req.spec!r}, "
            f"whose input is fixed at {fixed[0]}x{fixed[1]}",
            hint=f"leave --input-shape out, or pass --input-shape {fixed[0]}x{fixed[1]}",
        )
    size = req.input_size or fixed
    if size is None:
        raise UsageError(
            f"MODEL {req.spec!r} takes images of any height and width, so the size to convert for is unknown",
            hint="pass the size it was trained at, for example --input-shape 224x224",
        )
    return size


# ---- SavedModel folders and hub handles -----------------------------------------------------------


def _load_saved_model(req: ModelRequest, settings: SourceSettings) -> LoadedModel:
    import tensorflow as tf

    source = _resolve(req, settings)
    loaded = tf.saved_model.load(str(source.path))
    call, fixed = _serving_call(loaded, req)
    size = _fixed_or_given(req, *fixed) if fixed else source.info.input_size
    value_range = req.value_range or source.info.value_range
    return _checked(req, source, size, value_range, loaded, call)


def _resolve(req: ModelRequest, settings: SourceSettings) -> ResolvedSource:
    """Through edgekit/sources: pinning and the lockfile (./edgekit.lock) for handles, the op scan for all."""
    from dataclasses import replace

    from edgekit.sources.resolve import resolve_source

    settings = replace(settings, input_size=req.input_size, value_range=req.value_range)
    try:
        return resolve_source(req.spec, settings, base_dir=Path.cwd())
    except SourceError as exc:
        # Refusals stay refusals (exit 3); a download that failed is not the user's mistake (exit 1).
        if isinstance(exc, RefusedError) or (req.kind == "handle" and "input size" not in exc.message):
            raise
        hint = "pass the size it was trained at, for example --input-shape 224x224"
        raise UsageError(
            f"MODEL {req.spec!r}: {exc.message}", hint=hint if "input size" in exc.message else exc.hint
        ) from None


def _serving_call(loaded: Any, req: ModelRequest) -> tuple[Callable[[Any], Any], tuple[Any, Any] | None]:
    """The function to convert: the serving signature, else the object itself (TF2 Hub modules).
    Also the (H, W) the signature fixes, when it does."""
    signature = getattr(loaded, "signatures", {}).get("serving_default")
    if signature is None:
        if not callable(loaded):
            raise UsageError(
                f"MODEL {req.spec!r} has no serving_default signature and is not callable",
                hint="save it with tf.saved_model.save(model, 'folder'), or convert its .keras file",
            )
        return loaded, None
    inputs = signature.structured_input_signature[1]
    outputs = signature.structured_outputs
    if len(inputs) != 1 or len(outputs) != 1:
        raise UsageError(
            f"MODEL {req.spec!r}: its serving signature takes {len(inputs)} input(s) ({', '.join(inputs)}) "
            f"and gives {len(outputs)} output(s) ({', '.join(outputs)}); edgekit converts one image in, one output",
            hint="export a serving signature with one image input and one [N, K] output",
        )
    ((in_name, spec),) = inputs.items()
    (out_name,) = outputs
    dims = spec.shape.as_list() if spec.shape.rank is not None else []
    if spec.dtype.name != "float32" or len(dims) != 4 or dims[-1] not in (3, None):
        raise UsageError(
            f"MODEL {req.spec!r}: its input {in_name!r} is {spec.dtype.name} {dims}; "
            "edgekit converts models that take float32 images [N, H, W, 3]",
            hint="export a signature whose input is a float32 image batch",
        )

    def call(x: Any) -> Any:
        return signature(**{in_name: x})[out_name]

    return call, (dims[1], dims[2])


def _checked(
    req: ModelRequest,
    source: ResolvedSource,
    size: tuple[int, int],
    value_range: tuple[float, float],
    owner: Any,
    call: Callable[[Any], Any],
) -> LoadedModel:
    """Run the model once on a zero image: it must take [1, H, W, 3] and give [1, K]."""
    import tensorflow as tf

    try:
        out = np.asarray(call(tf.zeros([1, *size, 3], tf.float32)))
    except Exception as exc:  # TensorFlow raises many kinds for a shape the graph cannot take
        first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
        raise UsageError(
            f"MODEL {req.spec!r} does not run on a [1, {size[0]}, {size[1]}, 3] float32 image: "
            f"{type(exc).__name__}: {first}",
            hint="pass the size it was trained at with --input-shape HxW",
        ) from None
    if out.ndim != 2 or out.shape[0] != 1 or out.shape[1] < 1:
        raise UsageError(
            f"MODEL {req.spec!r} gives an output of shape {list(out.shape)} for one image; edgekit "
            "compares classifier-style outputs [N, K]",
            hint="convert a model whose output is one score vector per image",
        )
    source.info = ModuleInfo(size, value_range, output_dim=int(out.shape[1]), origin=source.info.origin)
    return LoadedModel(source, size, value_range, int(out.shape[1]), owner, call)
