"""What a stage process (edgekit/convert/tflite_stages.py) does at a C++ call meant for a process of its own.

Outside a stage process, such a call runs in a child process while its caller waits
(edgekit/convert/tflite_apart.py `call_in_child`). In a stage process it suspends instead: the call's
arguments go to files in the stage folder, and the process ends with SUSPENDED; the worker makes
the call with no TensorFlow process alive beside it and runs the stage again, from the start. The
stage's calls are numbered in the order the conversion makes them, so on the next run the same
call (checked by a digest of its arguments) is answered with its result, or with None when the call
failed (its caller then does what it does when a child process fails).
"""

from __future__ import annotations

import hashlib
import os
import pickle
from pathlib import Path
from typing import Any

STAGE_ENV = "EDGEKIT_TFLITE_STAGE_FOLDER"  # set in a stage process: the folder its stages share
SUSPENDED = 75  # a stage process's exit code when it stopped at a call (EX_TEMPFAIL)
PENDING = "pending-call.pkl"  # (key, module paths, function, arguments): the call the worker makes next
# an argument (FILE_ARGUMENT, path) stands for the bytes of the file at path (absolute, or beside call.pkl)
FILE_ARGUMENT = "edgekit:file"


class Suspend(BaseException):
    """Raised at a call in a stage process: past TensorFlow's `except Exception` handlers."""


class _Counter:
    calls = 0  # the stage process's calls so far, in order


def stage_folder() -> Path | None:
    folder = os.environ.get(STAGE_ENV)
    return Path(folder) if folder else None


def read_result(result: Path, mutable: bool) -> bytes | bytearray:
    """RESULT's bytes; a bytearray if MUTABLE (read straight into it, no second copy)."""
    if not mutable:
        return result.read_bytes()
    data = bytearray(result.stat().st_size)
    with result.open("rb") as f:
        f.readinto(data)
    return data


def result_path(folder: Path, key: str) -> Path:
    return folder / f"{key}.result"


def failed_path(folder: Path, key: str) -> Path:
    return folder / f"{key}.failed"


def _digest(paths: list[str], function: str, args: list[Any]) -> str:
    h = hashlib.sha256(pickle.dumps((paths, function)))
    for arg in args:
        h.update(arg if isinstance(arg, (bytes, bytearray, memoryview)) else pickle.dumps(arg))
    return h.hexdigest()


def staged_call(folder: Path, paths: list[str], function: str, args: list[Any], mutable: bool) -> Any:
    """In the stage process working in FOLDER: the result of PATHS[-1].FUNCTION(*ARGS) made by the
    worker (None if it failed there); raises Suspend when the worker has not made it yet."""
    key = f"call{_Counter.calls}-{function}"
    _Counter.calls += 1
    digest = _digest(paths, function, args)
    recorded = folder / f"{key}.digest"
    if recorded.is_file() and recorded.read_text() == digest:
        if result_path(folder, key).is_file():
            return read_result(result_path(folder, key), mutable)
        if failed_path(folder, key).is_file():
            return None
    passed = []
    for i, arg in enumerate(args):
        if isinstance(arg, (bytes, bytearray, memoryview)):
            (folder / f"{key}.arg{i}").write_bytes(arg)
            arg = (FILE_ARGUMENT, str(folder / f"{key}.arg{i}"))
        passed.append(arg)
    recorded.write_text(digest)
    (folder / PENDING).write_bytes(pickle.dumps((key, paths, function, passed)))
    raise Suspend
