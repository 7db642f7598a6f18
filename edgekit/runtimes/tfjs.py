"""TF.js runtimes: `tfjs-node` (Node, wasm or cpu backend) and `tfjs-browser` (headless Chromium).

Both run the JavaScript in edgekit/js/ (lib/engine.mjs is shared), so the browser and Node execute the
same prediction and timing code. Starting Node or Chromium costs far more than one inference, so a
session keeps ONE long-lived process and talks to it with line-delimited JSON requests:

- `predict(x)` over N samples is a single round trip (the JS side loops over the batch);
- `time_runs(...)` times each invoke inside the JS runtime with performance.now(), so bench
  numbers contain no process or IPC hop;
- every request has a deadline; a process that misses it is killed and the call raises
  RuntimeLoadError, so a broken artifact can never hang a run.

Deadlines scale with the model: the runner times one zero-input inference when it loads
(`first_run_ms`, which includes warm-up and so errs on the slow side), and each request gets the
base timeout plus a generous multiple of that per inference it will do.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from edgekit.artifact import Artifact, TensorSpec
from edgekit.errors import RuntimeLoadError, UsageError
from edgekit.runtimes.base import RuntimePlugin, checked_model_file, register_runtime

BACKENDS = ("wasm", "cpu")
DEFAULT_TIMEOUT_S = 60.0
# Per expected inference, this many times the first (cold) inference's duration is allowed.
SLACK_PER_RUN = 5.0


def runner_folder() -> Path:
    """The TF.js runner with its npm packages (installed on first use; see edgekit/setup/js_runner.py)."""
    from edgekit.setup.js_runner import ensure_runner

    return ensure_runner()


@dataclass(frozen=True)
class Prepared:
    """An input tensor that lives inside the JS runtime, so timing never re-uploads it."""

    tensor: str
    shape: tuple[int, ...]


class Channel(Protocol):
    """How a session reaches its JS engine: a Node process or a page in Chromium."""

    def request(self, msg: dict[str, Any], timeout_s: float) -> dict[str, Any]: ...

    def staged(self, x: np.ndarray) -> contextlib.AbstractContextManager[str]: ...

    def close(self) -> None: ...


class TfjsSession:
    """A TF.js graph model loaded in a JS runtime; the same class serves Node and the browser."""

    def __init__(
        self,
        artifact: Artifact,
        channel: Channel,
        runtime: str,
        ready: dict[str, Any],
        threads: int,
        timeout_s: float,
    ) -> None:
        self.artifact = artifact
        self.input: TensorSpec = artifact.inputs[0]
        self.output: TensorSpec = artifact.outputs[0]
        self._channel: Channel | None = channel
        self._runtime = runtime
        self._info = dict(ready.get("info", {}))
        self._threads_requested = threads
        self._timeout_s = timeout_s
        self._first_run_s = max(float(self._info.get("first_run_ms", 1.0)), 1.0) / 1000.0
        self._finalizer = weakref.finalize(self, channel.close)

    def _deadline(self, runs: int, extra_s: float = 0.0) -> float:
        return self._timeout_s + extra_s + SLACK_PER_RUN * runs * self._first_run_s

    def _call(self, msg: dict[str, Any], runs: int = 0, extra_s: float = 0.0) -> dict[str, Any]:
        reply = self._channel_or_raise().request(msg, self._deadline(runs, extra_s))
        if not reply.get("ok"):
            raise RuntimeLoadError(
                f"{self._runtime} failed on {self.artifact.path}: {reply.get('error', 'no reason given')}"
            )
        return reply

    def _check(self, x: np.ndarray, batch_one: bool) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.float32)
        expected = self.input.shape
        rank_ok = x.ndim == len(expected)
        dims_ok = rank_ok and all(e < 0 or e == s for e, s in zip(expected[1:], x.shape[1:]))
        if not dims_ok or (batch_one and x.shape[0] != 1):
            what = "one sample batch" if batch_one else "a batch"
            raise UsageError(
                f"{self.artifact.name}: input {self.input.name!r} takes {what} shaped like {expected}; got {list(x.shape)}",
                hint="prepare() takes one sample batch; predict() splits [N, ...] batches into samples",
            )
        return x

    def prepare(self, x: np.ndarray) -> Prepared:
        x = self._check(x, batch_one=True)
        with self._channel_or_raise().staged(x) as ref:
            reply = self._call({"op": "prepare", "input": ref, "shape": list(x.shape)})
        return Prepared(reply["tensor"], tuple(x.shape))

    def invoke(self, prepared: Prepared) -> np.ndarray:
        reply = self._call({"op": "invoke", "tensor": prepared.tensor}, runs=1)
        return _decode(reply)

    def predict(self, x: np.ndarray) -> np.ndarray:
        x = self._check(x, batch_one=False)
        if len(x) == 0:
            return np.zeros((0, *self.output.shape[1:]), np.float32)
        with self._channel_or_raise().staged(x) as ref:
            reply = self._call({"op": "predict", "input": ref, "shape": list(x.shape)}, runs=len(x))
        return _decode(reply)

    def time_runs(
        self, prepared: Prepared, warmup: int, min_runs: int, min_time_s: float, max_runs: int = 100_000
    ) -> list[float]:
        """Per-invoke latencies in ms, timed inside the JS runtime: `warmup` untimed runs, then
        timed runs until both `min_runs` runs and `min_time_s` seconds are reached (at most max_runs)."""
        if warmup < 0 or min_runs < 1 or min_time_s < 0 or max_runs < min_runs:
            raise UsageError(
                f"time_runs needs warmup >= 0, 1 <= min_runs <= max_runs, min_time_s >= 0; "
                f"got warmup={warmup}, min_runs={min_runs}, max_runs={max_runs}, min_time_s={min_time_s}"
            )
        msg = {
            "op": "time",
            "tensor": prepared.tensor,
            "warmup": warmup,
            "min_runs": min_runs,
            "min_time_s": min_time_s,
            "max_runs": max_runs,
        }
        reply = self._call(msg, runs=warmup + min_runs, extra_s=2.0 * min_time_s)
        return [float(v) for v in reply["latencies_ms"]]

    def info(self) -> dict[str, Any]:
        info = {k: v for k, v in self._info.items() if k not in ("tfjs_version",)}
        return {
            "runtime": self._runtime,
            "version": self._info.get("tfjs_version", "unknown"),
            **info,
            "threads_requested": self._threads_requested,
        }

    def close(self) -> None:
        self._channel = None
        self._finalizer()  # closes the channel once, also when the session is garbage-collected

    def __enter__(self) -> TfjsSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _channel_or_raise(self) -> Channel:
        if self._channel is None:
            raise RuntimeLoadError(
                f"{self.artifact.path}: the {self._runtime} session is closed", hint="load the artifact again"
            )
        return self._channel


def _decode(reply: dict[str, Any]) -> np.ndarray:
    data = np.frombuffer(base64.b64decode(reply["output"]), dtype="<f4")
    return data.reshape(reply["shape"]).astype(np.float32)


class NodeChannel:
    """One `node runner.mjs --serve` process; requests and replies are JSON lines."""

    def __init__(self, model_json: Path, backend: str, threads: int) -> None:
        from edgekit.setup.js_runner import require_node

        folder = runner_folder()
        node = require_node()
        self._tmp = Path(tempfile.mkdtemp(prefix="edgekit-tfjs-node-"))
        self._stderr = open(self._tmp / "stderr.log", "w+b")
        cmd = [
            node,
            str(folder / "runner.mjs"),
            str(model_json),
            "--serve",
            "--backend",
            backend,
            "--threads",
            str(threads),
        ]
        try:
            self._proc = subprocess.Popen(
                cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, cwd=folder
            )
        except OSError as exc:
            self._stderr.close()
            shutil.rmtree(self._tmp, ignore_errors=True)
            raise RuntimeLoadError(f"cannot start the Node runner: {exc}") from exc
        self._lines: queue.Queue[bytes | None] = queue.Queue()
        threading.Thread(target=self._read, name="edgekit-tfjs-node-stdout", daemon=True).start()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def _read(self) -> None:
        stdout = self._proc.stdout
        assert stdout is not None
        with contextlib.suppress(OSError, ValueError), stdout:
            for line in stdout:
                self._lines.put(line)
        self._lines.put(None)  # EOF: the process exited or closed stdout

    def wait_ready(self, timeout_s: float) -> dict[str, Any]:
        return self._reply(0, timeout_s)

    def request(self, msg: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        with self._lock:
            msg = {**msg, "id": next(self._ids)}
            try:
                assert self._proc.stdin is not None
                self._proc.stdin.write(json.dumps(msg).encode() + b"\n")
                self._proc.stdin.flush()
            except OSError as exc:
                self.close()
                raise RuntimeLoadError(f"the Node runner is gone ({exc}){self._stderr_tail()}") from exc
            return self._reply(msg["id"], timeout_s)

    def _reply(self, msg_id: int, timeout_s: float) -> dict[str, Any]:
        try:
            line = self._lines.get(timeout=timeout_s)
        except queue.Empty:
            tail = self._stderr_tail()
            self.close()
            raise RuntimeLoadError(
                f"the Node runner did not answer within {timeout_s:.0f} s; it was stopped{tail}"
            ) from None
        if line is None:
            tail = self._stderr_tail()
            self.close()
            raise RuntimeLoadError(f"the Node runner exited (code {self._proc.poll()}){tail}")
        try:
            reply = json.loads(line)
        except ValueError:
            self.close()
            raise RuntimeLoadError(
                f"the Node runner wrote something that is not protocol JSON: {line[:200]!r}"
            ) from None
        if reply.get("id") != msg_id:
            self.close()
            raise RuntimeLoadError(
                f"the Node runner answered request {reply.get('id')} while {msg_id} was expected"
            )
        return reply

    @contextlib.contextmanager
    def staged(self, x: np.ndarray) -> Iterator[str]:
        fd, path = tempfile.mkstemp(suffix=".f32", dir=self._tmp)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(np.ascontiguousarray(x, dtype="<f4").tobytes())
            yield path
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

    def _stderr_tail(self, limit: int = 2000) -> str:
        with contextlib.suppress(OSError, ValueError):
            self._stderr.flush()
            text = (self._tmp / "stderr.log").read_text(errors="replace").strip()
            if text:
                return f"\n  node stderr (last lines): {text[-limit:]}"
        return ""

    def close(self) -> None:
        _stop_process(self._proc, graceful=b'{"id": -1, "op": "close"}\n')
        with contextlib.suppress(OSError):
            self._stderr.close()
        shutil.rmtree(self._tmp, ignore_errors=True)


def _stop_process(proc: subprocess.Popen, graceful: bytes | None = None, wait_s: float = 5.0) -> None:
    """Ask politely (a close request / closing stdin), then terminate, then kill; always reap."""
    if proc.poll() is None and proc.stdin is not None and graceful is not None:
        with contextlib.suppress(OSError, ValueError):
            proc.stdin.write(graceful)
            proc.stdin.flush()
    with contextlib.suppress(OSError, ValueError):
        if proc.stdin is not None:
            proc.stdin.close()
    for stop in (None, proc.terminate, proc.kill):
        if stop is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                stop()
        try:
            proc.wait(timeout=wait_s)
            break
        except subprocess.TimeoutExpired:
            continue


def _model_json(artifact: Artifact) -> Path:
    return checked_model_file(artifact, "tfjs", "TF.js")


def _check_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise UsageError(f"unknown TF.js backend {backend!r}", hint=f"TF.js backends: {', '.join(BACKENDS)}")
    return backend


def load_node(
    artifact: Artifact,
    threads: int = 1,
    *,
    backend: str = "wasm",
    timeout_s: float = DEFAULT_TIMEOUT_S,
    runtime_name: str = "tfjs-node",
) -> TfjsSession:
    """Load a tfjs artifact in Node. backend "wasm" (XNNPACK, SIMD where available) or "cpu"
    (plain JS kernels). tfjs-backend-wasm never uses threads in Node, so `threads` is recorded
    but the wasm backend runs on one thread there."""
    model_json, backend = _model_json(artifact), _check_backend(backend)
    channel = NodeChannel(model_json, backend, max(threads, 0))
    ready = _wait_ready(channel, timeout_s, f"TF.js could not load {model_json}")
    return TfjsSession(artifact, channel, runtime_name, ready, threads, timeout_s)


def _wait_ready(channel, timeout_s: float, failure: str) -> dict:
    """The runner's first message; the channel is closed (process killed) if it is not a success."""
    try:
        ready = channel.wait_ready(timeout_s)
    except BaseException:
        channel.close()
        raise
    if not ready.get("ok"):
        channel.close()
        raise RuntimeLoadError(f"{failure}: {ready.get('error', 'no reason given')}")
    return ready


def load_browser(
    artifact: Artifact, threads: int = 1, *, backend: str = "wasm", timeout_s: float = DEFAULT_TIMEOUT_S
) -> TfjsSession:
    """Load a tfjs artifact in headless Chromium from a loopback server (see _tfjs_browser.py)."""
    from edgekit.runtimes._tfjs_browser import BrowserChannel, find_chromium

    model_json, backend = _model_json(artifact), _check_backend(backend)
    chromium = find_chromium()  # before the npm check: the browser is the rarer missing piece
    channel = BrowserChannel(
        chromium, model_json.parent, model_json.name, backend, max(threads, 0), runner_folder()
    )
    ready = _wait_ready(channel, timeout_s, f"TF.js in Chromium could not load {model_json}")
    return TfjsSession(artifact, channel, "tfjs-browser", ready, threads, timeout_s)


def load_node_cpu(artifact: Artifact, threads: int = 1) -> TfjsSession:
    """TF.js in Node on the plain-JS cpu backend: a baseline, and the fallback where wasm is unavailable."""
    return load_node(artifact, threads, backend="cpu", runtime_name="tfjs-node-cpu")


register_runtime(
    RuntimePlugin(
        "tfjs-node",
        ("tfjs",),
        load_node,
        "TF.js in Node, wasm backend with SIMD",
        requires=("node", "js-runner"),
    ),
    aliases=("tfjs", "tfjs-node-wasm"),
)
register_runtime(
    RuntimePlugin(
        "tfjs-node-cpu",
        ("tfjs",),
        load_node_cpu,
        "TF.js in Node, plain-JS cpu backend (select with --runtime tfjs-node-cpu)",
        requires=("node", "js-runner"),
    )
)
register_runtime(
    RuntimePlugin(
        "tfjs-browser",
        ("tfjs",),
        load_browser,
        "TF.js in headless Chromium (wasm backend, SIMD and threads when cross-origin isolated)",
        requires=("js-runner", "chromium"),
    ),
    aliases=("tfjs-chromium",),
)
