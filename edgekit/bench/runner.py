"""Run each artifact's measurement in a fresh worker process and always come back with a result.

A worker that exits non-zero, is killed by a signal (a segfaulting runtime) or runs past its
timeout becomes a failed result with the error and the tail of its stderr; the bench goes on.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from edgekit.bench.measure import Protocol
from edgekit.bench.result import failed_result
from edgekit.bench.targets import BenchTarget

DEFAULT_TIMEOUT_S = 600.0
STDERR_TAIL = 4000  # characters: enough for a Python traceback or a runtime's abort message


def bench_target(
    target: BenchTarget, protocol: Protocol, runtime: str | None = None, timeout_s: float = DEFAULT_TIMEOUT_S
) -> dict:
    """One result dict for one artifact, measured in a fresh `python -m edgekit.bench.worker`."""
    with tempfile.TemporaryDirectory(prefix="edgekit-bench-") as tmp:
        out = Path(tmp) / "result.json"
        request: dict[str, Any] = {
            "target": target.to_request(),
            "runtime": runtime,
            "protocol": protocol.to_dict(),
            "out": str(out),
        }
        proc, stderr, error = _run_worker(request, timeout_s)
        if out.is_file():  # the worker finished and said what happened, ok or failed
            return _read_result(out, target, request, stderr)
    return failed_result(
        target.label,
        request["target"],
        request["protocol"],
        runtime,
        error or _exit_message(proc.returncode),
        _tail(stderr),
    )


def _run_worker(request: dict, timeout_s: float) -> tuple[subprocess.Popen, str, str | None]:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "edgekit.bench.worker", json.dumps(request)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )  # its own group: a timeout kills the Node/Chromium children too
    try:
        _, stderr = proc.communicate(timeout=timeout_s)
        return proc, stderr, None
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        _, stderr = proc.communicate()
        return proc, stderr, f"the measurement ran past its {timeout_s:g} s timeout and was killed"
    except BaseException:
        # Ctrl-C: being in its own session, the worker never got the terminal's signal, and would
        # go on measuring after the run has ended.
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise


def _read_result(out: Path, target: BenchTarget, request: dict, stderr: str) -> dict:
    try:
        result = json.loads(out.read_text())
    except ValueError as exc:
        return failed_result(
            target.label,
            request["target"],
            request["protocol"],
            request["runtime"],
            f"the worker wrote an unreadable result: {exc}",
            _tail(stderr),
        )
    if result["status"] == "failed":
        result["label"] = target.label
        result["stderr_tail"] = result.get("stderr_tail") or _tail(stderr)
    return result


def _exit_message(code: int) -> str:
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"the measuring process was killed by {name} (the runtime crashed)"
    return f"the measuring process exited with status {code} without writing a result"


def _tail(text: str | None) -> str | None:
    text = (text or "").strip()
    return text[-STDERR_TAIL:] or None


def bench_paths(
    paths: list[Path],
    protocol: Protocol,
    runtime: str | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    on_result=None,
) -> list[dict]:
    """Measure every artifact the paths name, one worker each, in order; never raises for one artifact."""
    from edgekit.bench.targets import expand

    results = []
    for target in expand([Path(p) for p in paths]):
        result = bench_target(target, protocol, runtime, timeout_s)
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results
