"""Ctrl-C that always stops a run, at once or at the next checkpoint.

Python raises KeyboardInterrupt wherever the main thread happens to be when SIGINT arrives. When
that is inside a finalizer (`__del__`, a weakref callback: TensorFlow and LiteRT objects have
many, and the garbage collector runs them at arbitrary points), CPython prints "Exception ignored"
and the interrupt is lost: a run interrupted during a conversion then finished every step and
exited 0. Inside `interruptible()`, SIGINT also sets a flag that nothing can swallow, and
`checkpoint()` (called between steps and after each conversion) raises KeyboardInterrupt again
when the first one went missing.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

_interrupted = threading.Event()


def _on_sigint(signum: int, frame: object) -> None:
    _interrupted.set()
    raise KeyboardInterrupt


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """Within the block, SIGINT is remembered until a checkpoint (or the block's end) acts on it.

    Only the default Ctrl-C behaviour is replaced: a process that ignores SIGINT (started in the
    background by a shell) or that installed its own handler keeps it.
    """
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield
        return
    _interrupted.clear()
    signal.signal(signal.SIGINT, _on_sigint)
    try:
        yield
        checkpoint()  # the block ended normally, yet a SIGINT arrived and its exception was swallowed
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        _interrupted.clear()


def checkpoint() -> None:
    """Raise KeyboardInterrupt if SIGINT arrived inside `interruptible()`, even if its first raise was lost."""
    if _interrupted.is_set():
        raise KeyboardInterrupt


def ignore_sigint() -> None:
    """For worker processes: Ctrl-C reaches the whole process group, and the parent alone decides
    (it stops its workers itself, so none is left converting after the run has ended)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
