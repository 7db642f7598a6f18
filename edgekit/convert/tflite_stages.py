"""A large model's TFLite conversion in stages: TensorFlow's C++ calls never run beside TensorFlow.

TensorFlow's C++ conversion call (`Convert`: load the SavedModel, import it into MLIR, optimise,
write the flatbuffer) holds about 4x the model's weights at its peak, and its MLIR quantizer more.
Run apart (edgekit/convert/tflite_apart.py), the process waiting for such a call still holds its
TensorFlow (about 0.6 GB) and the models it has made so far. Here a worker that has not imported
TensorFlow converts in stages, each a process of its own, one alive at a time:

1. a stage process (TensorFlow's Python side, as edgekit/convert/tflite.py runs it) converts until
   its first call meant for a process of its own, writes the call's arguments and ends (exit code
   SUSPENDED; edgekit/convert/tflite_stage_calls.py);
2. the worker makes the call in a process loading only the call's extension modules, which writes
   its result to a file;
3. the stage process runs again from the start: the calls made so far answer with their results,
   and it goes on to its next call, or to the end (the artifact and its analysis).

Each further run costs one more TensorFlow import (a few seconds) and repeats the Python side's own
work (the calibration, for full-integer modes); the bytes are the ones the in-process conversion
writes. A call that fails in its process is made by the stage process itself, so a converter error
reads as it always did.
"""

from __future__ import annotations

import importlib
import os
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from edgekit.convert.base import ConversionRequest
from edgekit.convert.tflite_apart import call_to_file
from edgekit.convert.tflite_stage_calls import (
    PENDING,
    STAGE_ENV,
    SUSPENDED,
    Suspend,
    failed_path,
    result_path,
)
from edgekit.errors import ConversionError

REQUEST, ARTIFACT, FAILURE = "request.pkl", "artifact.pkl", "failure.pkl"
MAX_RUNS = 8  # a conversion makes at most four such calls; more runs mean its calls do not repeat
STAGE_MAIN = "import sys; from edgekit.convert import tflite_stages; sys.exit(tflite_stages.stage_main())"


def converts_in_stages() -> bool:
    """Should this process convert a large model in stages? Only if TensorFlow is not imported here
    (with it resident, a stage process would add to it, not replace it) and it is not a stage itself."""
    return "tensorflow" not in sys.modules and STAGE_ENV not in os.environ


def in_stage_process() -> bool:
    return STAGE_ENV in os.environ


def convert_in_stages(request: ConversionRequest, convert: str) -> Any:
    """REQUEST converted by CONVERT ("module:function", which converts in-process in a stage process)
    in stage processes (see the module docstring); what CONVERT returns."""
    with tempfile.TemporaryDirectory(prefix="edgekit-tflite-stages-") as tmp:
        folder = Path(tmp)
        (folder / REQUEST).write_bytes(pickle.dumps((request, convert)))
        env = {**os.environ, STAGE_ENV: str(folder)}
        for _ in range(MAX_RUNS):
            code = subprocess.run(
                [sys.executable, "-c", STAGE_MAIN], env=env, stdout=subprocess.DEVNULL
            ).returncode
            if code != SUSPENDED:
                break
            key, paths, function, args = pickle.loads((folder / PENDING).read_bytes())
            if not call_to_file(paths, function, args, result_path(folder, key)):
                failed_path(folder, key).touch()
        if code == 0 and (folder / ARTIFACT).is_file():
            return pickle.loads((folder / ARTIFACT).read_bytes())
        if (folder / FAILURE).is_file():
            raise pickle.loads((folder / FAILURE).read_bytes())
        if code == SUSPENDED:
            raise ConversionError(
                f"tflite {request.quant}: the conversion did not finish in {MAX_RUNS} stages "
                "(its C++ calls changed from one stage to the next)",
                hint="this is a bug in edgekit: please report it with the output of the run "
                "made again with EDGEKIT_VERBOSE=1",
            )
        raise ConversionError(
            f"tflite {request.quant}: the conversion process ended with exit code {code}",
            hint="run again with EDGEKIT_VERBOSE=1 to see TensorFlow's own output",
        )


def stage_main() -> int:
    """A stage process: convert the request in STAGE_ENV's folder; 0, SUSPENDED, or 1 on failure."""
    folder = Path(os.environ[STAGE_ENV])
    request, convert = pickle.loads((folder / REQUEST).read_bytes())
    module, function = convert.split(":")
    try:
        artifact = getattr(importlib.import_module(module), function)(request)
    except Suspend:
        return SUSPENDED
    except Exception as exc:  # noqa: BLE001 - handed to the worker, which raises it as its own
        try:
            failure = pickle.dumps(exc)
        except Exception:  # noqa: BLE001 - an exception that does not pickle travels as its text
            failure = pickle.dumps(ConversionError(f"tflite {request.quant}: {type(exc).__name__}: {exc}"))
        (folder / FAILURE).write_bytes(failure)
        return 1
    (folder / ARTIFACT).write_bytes(pickle.dumps(artifact))
    return 0
