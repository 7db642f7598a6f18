"""TensorFlow Lite Micro runtime (the `tflite-micro` package): runs .tflite artifacts in TFLM's own
interpreter, inside a fixed tensor arena, the way microcontroller firmware does.

The arena defaults to the size edgekit predicts for TFLM (targets/arena.py, the figure behind the
`mcu-m7` RAM verdict), so running an artifact here proves or disproves that verdict. An arena
that is too small is a RuntimeLoadError naming the size TFLM needs (found by bisection: TFLM
itself only says that allocation failed). Ops TFLM lacks are found from the flatbuffer before
TFLM is asked to load it, and named.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from edgekit.artifact import Artifact
from edgekit.errors import RuntimeLoadError
from edgekit.runtimes.base import (
    RuntimePlugin,
    checked_model_file,
    dequantize,
    quantize,
    register_runtime,
)

if TYPE_CHECKING:
    from edgekit.results import ParityResult


class _CheckedRow(Protocol):
    """What add_micro_parity reads and writes on a matrix row (edgekit.matrix.Row)."""

    format: str
    quant: str
    artifact: Artifact | None
    parity: ParityResult | None
    notes: list[str]


# Profiles name the device runtime "tflite-micro" (targets/profile.py DEVICE_ONLY_RUNTIMES); this
# plugin is its host stand-in, so parity and bench keep running in LiteRT for such targets and the
# micro runtime adds its own parity row (micro_parity below).
DEVICE_RUNTIME = "tflite-micro"
MAX_ARENA = 64 * 1024 * 1024  # beyond this the failure is not about the arena


class ArenaTooSmallError(RuntimeLoadError):
    """The arena given to TFLM cannot hold the model's tensors; `needed` is the smallest that can."""

    def __init__(self, message: str, *, arena: int, needed: int, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.arena, self.needed = arena, needed


@contextmanager
def _captured_stderr() -> Iterator[list[str]]:
    """TFLM reports why it failed on the C stderr (fd 2); keep it out of the user's terminal and
    hand the text to the caller for the error message."""
    lines: list[str] = []
    with tempfile.TemporaryFile() as sink:
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        try:
            yield lines
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            lines.extend(line for line in sink.read().decode(errors="replace").splitlines() if line.strip())


def _try_open(data: bytes, arena: int) -> tuple[Any | None, list[str]]:
    from tflite_micro import runtime

    with _captured_stderr() as log:
        try:
            return runtime.Interpreter.from_bytes(data, arena_size=arena), log
        except (RuntimeError, ValueError):
            interp = None
    return interp, log


def needed_arena_bytes(data: bytes, low: int = 0) -> int | None:
    """The arena TFLM can always allocate this model in, or None when no arena up to MAX_ARENA
    works (the model fails for another reason). TFLM aligns the arena's start to 16 bytes, so the
    smallest working size moves with where the buffer happens to lie: the bisected minimum is
    rounded up to 16 and given 16 more."""
    hi = max(low * 2, 4096)
    while _try_open(data, hi)[0] is None:
        if hi >= MAX_ARENA:
            return None
        hi = min(hi * 2, MAX_ARENA)
    lo = low
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _try_open(data, mid)[0] is None:
            lo = mid
        else:
            hi = mid
    return (hi + 15) // 16 * 16 + 16


def lacking_ops(path: Path) -> list[str]:
    """Op types of the model that TFLM's op resolver does not register (targets/opsupport.py)."""
    from edgekit.targets import analyze
    from edgekit.targets.opsupport import unsupported_ops

    return unsupported_ops(analyze(path), DEVICE_RUNTIME)


def predicted_arena_bytes(path: Path) -> int:
    from edgekit.targets import analyze
    from edgekit.targets.arena import tflm_arena_bytes

    return tflm_arena_bytes(analyze(path))


class TFLMSession:
    def __init__(self, artifact: Artifact, threads: int = 1, arena_bytes: int | None = None) -> None:
        path = checked_model_file(artifact, "tflite", "TFLite Micro")
        missing = lacking_ops(path)
        if missing:
            raise RuntimeLoadError(
                f"TFLite Micro lacks op(s) {', '.join(missing)} used by {path}",
                hint="change the model to avoid them, or pick a target whose runtime has them",
            )
        self.artifact, self.threads = artifact, 1  # TFLM runs on one core whatever is asked
        self.arena_bytes = arena_bytes if arena_bytes is not None else predicted_arena_bytes(path)
        self.predicted = arena_bytes is None
        data = path.read_bytes()
        self._interp, log = _try_open(data, self.arena_bytes)
        if self._interp is None:
            self._raise_load_failure(path, data, log)
        self.input, self.output = artifact.inputs[0], artifact.outputs[0]

    def _raise_load_failure(self, path: Path, data: bytes, log: list[str]) -> None:
        needed = needed_arena_bytes(data, self.arena_bytes)
        if needed is None:
            detail = next(
                (line for line in log if "ailed" in line or "find" in line), log[0] if log else "no message"
            )
            raise RuntimeLoadError(f"TFLite Micro cannot load {path}: {detail}")
        whose = "the predicted arena" if self.predicted else "an arena"
        raise ArenaTooSmallError(
            f"{whose} of {self.arena_bytes} bytes is too small for {path.name}: TFLite Micro needs {needed} bytes",
            arena=self.arena_bytes,
            needed=needed,
            hint=f"give the firmware's tensor arena at least {needed} bytes",
        )

    def prepare(self, x: np.ndarray) -> np.ndarray:
        return quantize(np.asarray(x, np.float32), self.input)

    def invoke(self, prepared: np.ndarray) -> np.ndarray:
        # Not wrapped in _captured_stderr: bench times this call. TFLM's own lines reach stderr.
        interp = self._interp
        if interp is None:
            raise RuntimeLoadError(f"TFLite Micro: the session for {self.artifact.path.name} is closed")
        try:
            interp.set_input(prepared, 0)
            interp.invoke()
            return interp.get_output(0)
        except (RuntimeError, ValueError) as exc:  # a kernel that fails at run time, a wrong input
            raise RuntimeLoadError(
                f"TFLite Micro failed to run {self.artifact.path.name}: "
                f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
            ) from None

    def predict(self, x: np.ndarray) -> np.ndarray:
        outs = [dequantize(self.invoke(self.prepare(x[i : i + 1])), self.output) for i in range(len(x))]
        return np.concatenate(outs).astype(np.float32)

    def info(self) -> dict[str, Any]:
        from importlib.metadata import PackageNotFoundError, version

        try:
            v = version("tflite-micro")
        except PackageNotFoundError:
            v = "unknown"
        return {
            "runtime": "tflm",
            "version": v,
            "threads": 1,
            "delegate": None,
            "arena_bytes": self.arena_bytes,
        }

    def close(self) -> None:
        self._interp = None


def load_tflm(artifact: Artifact, threads: int) -> TFLMSession:
    return TFLMSession(artifact, threads)


def micro_parity(artifact: Artifact, x: np.ndarray, threads: int) -> dict[str, Any]:
    """Run ARTIFACT in TFLM with the predicted arena and in LiteRT on the same inputs: the micro
    runtime's parity row. Raises RuntimeLoadError for lacking ops or too small an arena."""
    from edgekit.convert.parity import compare
    from edgekit.runtimes.litert import LiteRTSession

    micro = TFLMSession(artifact)
    litert = LiteRTSession(artifact, threads)
    try:
        ours, theirs = micro.predict(x), litert.predict(x)
    finally:
        micro.close()
        litert.close()
    parity = compare(theirs, ours, None, "int8").to_dict()
    return {
        "runtime": "tflm",
        "against": "litert",
        "arena_bytes": micro.arena_bytes,
        **{
            k: parity[k] for k in ("samples", "cosine", "max_abs_err", "top1_agreement", "verdict", "reasons")
        },
    }


def add_micro_parity(row: _CheckedRow, x: np.ndarray, threads: int) -> None:
    """For a target that runs TFLite Micro: the int8 .tflite ROW also runs in TFLM. A micro run that
    disagrees with LiteRT fails the row's parity; lacking ops or a small arena fail the row."""
    from edgekit.setup.extras import EXTRAS

    if row.format != "tflite" or row.quant != "int8" or row.parity is None or row.artifact is None:
        return
    if EXTRAS["micro"].missing():
        row.notes.append("not run in TFLite Micro: the `micro` extra (tflite-micro) is not installed")
        return
    micro = micro_parity(row.artifact, x, threads)
    row.parity.micro = micro
    row.notes.append(
        f"TFLite Micro ({micro['arena_bytes']} byte arena) vs LiteRT: {micro['verdict']}, "
        f"top-1 agreement {micro['top1_agreement']:.3f}, max |err| {micro['max_abs_err']:.3g}"
    )
    if micro["verdict"] == "fail":
        row.parity.fail("TFLite Micro disagrees with LiteRT: " + "; ".join(micro["reasons"]))


register_runtime(
    RuntimePlugin(
        "tflm",
        ("tflite",),
        load_tflm,
        "TensorFlow Lite Micro's interpreter (tflite-micro), predicted arena, one thread",
        requires=("tflite_micro",),
    )
)
