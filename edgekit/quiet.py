"""Silence the native (C++) log lines TensorFlow and LiteRT write straight to file descriptor 2.

They bypass Python's logging, so the only way to keep progress output readable is to point fd 2
at a temporary file for the duration of a step, while Python's own sys.stderr (rich progress,
warnings) keeps writing to the real stderr. What the native side wrote is replayed when the step
fails, so nothing useful for debugging is lost. EDGEKIT_VERBOSE=1 turns this off.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
from collections.abc import Callable, Iterator


def _stderr_fd() -> int | None:
    try:
        return sys.stderr.fileno()
    except (AttributeError, io.UnsupportedOperation, ValueError):
        return None


@contextlib.contextmanager
def quiet_native_stderr(replay_if: Callable[[BaseException], bool] = lambda exc: True) -> Iterator[None]:
    """Hide native lines written to fd 2; replay the last of them when the block raises an
    exception for which `replay_if` is true (they may explain a crash; not a usage error)."""
    if os.environ.get("EDGEKIT_VERBOSE") or _stderr_fd() != 2:
        yield  # already captured (pytest capsys) or asked to be verbose
        return
    sys.stderr.flush()
    saved = os.dup(2)
    python_stderr = sys.stderr
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        sys.stderr = os.fdopen(
            os.dup(saved), "w", buffering=1, encoding=python_stderr.encoding, errors="replace"
        )
        try:
            yield
        except BaseException as exc:
            if replay_if(exc):
                capture.seek(0)
                sys.stderr.write(capture.read().decode(errors="replace")[-4000:])
            raise
        finally:
            sys.stderr.close()
            sys.stderr = python_stderr
            os.dup2(saved, 2)
            os.close(saved)
