"""Host side of a device measurement: stage, push, run the agent, read its result, clean up.

Per artifact: a fresh folder `<workdir>/edgekit-run-<random>` on the device receives the artifact
(and the run's bench inputs and preprocessing), the agent checks their sha256 there and measures,
and the folder is removed afterwards, on failure and at the deadline too (its processes killed
first). Several devices are measured in parallel, one artifact at a time per device. A dropped
connection raises DeviceConnectionError and nothing measured on any device is returned.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import tempfile
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from edgekit.bench.inputs import BENCH_INPUTS
from edgekit.bench.measure import Protocol
from edgekit.bench.result import failed_result
from edgekit.bench.targets import BenchTarget
from edgekit.devices.agent import (
    EXIT_FAILED,
    EXIT_INTEGRITY,
    EXIT_OK,
    PROTOCOL_VERSION,
    RESULT_PREFIX,
)
from edgekit.devices.errors import (
    DeviceConnectionError,
    DeviceError,
    DeviceTimeoutError,
)
from edgekit.devices.spec import DeviceSpec, remote_env_prefix
from edgekit.devices.transport import Transport, tail
from edgekit.fsutil import sha256_tree

DEFAULT_TIMEOUT_S = 600.0
GRACE_S = 30.0  # the agent's own alarm fires at the deadline; the client is stopped this much later
GRACE_ENV = "EDGEKIT_DEVICE_GRACE_S"


def grace_s() -> float:
    try:
        return max(0.0, float(os.environ.get(GRACE_ENV, GRACE_S)))
    except ValueError:
        return GRACE_S


PUSH_TIMEOUT_S = 600.0
ALARM_STATUS = 128 + 14  # the device shell's status for a process ended by SIGALRM (the agent's deadline)
_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def open_transport(spec: DeviceSpec) -> Transport:
    if spec.transport == "ssh":
        from edgekit.devices.ssh import SshTransport

        return SshTransport(spec)
    from edgekit.devices.adb import AdbTransport

    return AdbTransport(spec)


def _device_lock(spec: DeviceSpec) -> threading.Lock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(spec.address, threading.Lock())


def measurable_on_devices(fmt: str | None) -> bool:
    """The device agent can measure FMT (its plugin's on_devices); a format edgekit does not know is
    left to the agent, which says what it cannot load."""
    from edgekit.convert import FORMATS

    return fmt is None or fmt not in FORMATS or FORMATS.get(fmt).on_devices


def device_formats() -> list[str]:
    from edgekit.convert import FORMATS

    return [e.name for e in FORMATS if e.value.on_devices]


def format_display(fmt: str | None) -> str:
    from edgekit.convert import FORMATS

    return FORMATS.get(fmt).display if fmt and fmt in FORMATS else str(fmt)


def stage(target: BenchTarget, folder: Path) -> dict:
    """Copy what the agent needs into FOLDER; the request's target with paths relative to the run folder."""
    if not measurable_on_devices(target.format):
        raise DeviceError(
            f"{target.path}: {format_display(target.format)} models do not run in a device's Python runtimes "
            "(TF.js runs in Node or a browser)"
        )
    if target.kind == "artifact-dir":
        shutil.copytree(target.path, folder / "artifact")
        path = "artifact"
    else:
        (folder / "artifact").mkdir()
        shutil.copy2(target.path, folder / "artifact" / target.path.name)
        for name in _data_files(target):  # an artifact folder carries its data files already
            (folder / "artifact" / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(target.path.parent / name, folder / "artifact" / name)
        path = f"artifact/{target.path.name}"
    reference = None
    if target.reference is not None:
        (folder / "reference").mkdir()
        for name in (BENCH_INPUTS, "preprocessing.json"):
            if (target.reference / name).is_file():
                shutil.copy2(target.reference / name, folder / "reference" / name)
        reference = "reference"
    return {"kind": target.kind, "path": path, "format": target.format, "reference": reference}


def _data_files(target: BenchTarget) -> list[str]:
    """The external data files a bare ONNX model names (they travel with it), checked to exist."""
    if target.format != "onnx":
        return []
    from edgekit.convert.onnx_external import model_data_files

    try:
        names = model_data_files(target.path)
    except Exception:  # a damaged file: the device's runtime reports it, as for any model
        return []
    for name in names:
        rel = Path(name)
        if rel.is_absolute() or ".." in rel.parts or not (target.path.parent / rel).is_file():
            raise DeviceError(
                f"{target.path} keeps its weights in {name!r}, which is not a file beside it",
                hint="keep the model's .data file in the same folder as the .onnx file",
            )
    return names


def manifest(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): sha256_tree(p) for p in sorted(folder.rglob("*")) if p.is_file()
    }


class DeviceBench:
    """Measures bench targets on one device through an open transport."""

    def __init__(
        self, transport: Transport, protocol: Protocol, runtime: str | None, timeout_s: float
    ) -> None:
        self.t, self.spec, self.protocol, self.runtime, self.timeout_s = (
            transport,
            transport.spec,
            protocol,
            runtime,
            timeout_s,
        )

    def measure(self, target: BenchTarget) -> dict:
        with tempfile.TemporaryDirectory(prefix="edgekit-stage-") as tmp:
            staged = Path(tmp) / "run"
            staged.mkdir()
            request = {
                "protocol_version": PROTOCOL_VERSION,
                "target": stage(target, staged),
                "runtime": self.runtime,
                "protocol": self.protocol.to_dict(),
                "deadline_s": self.timeout_s,
                "manifest": manifest(staged),
            }
            (staged / "request.json").write_text(json.dumps(request))
            folder = f"{self.spec.workdir}/edgekit-run-{uuid.uuid4().hex[:12]}"
            result = self._run(staged, folder, request)
        return self._annotate(result, target, folder)

    def _run(self, staged: Path, folder: str, request: dict) -> dict:
        made = self.t.run(f"mkdir -p {shlex.quote(folder)}", 60.0)
        if made.returncode != 0:
            raise DeviceError(
                f"{self.spec.name}: cannot create {folder} on the device: {tail(made.stderr or made.stdout)}",
                hint="set a writable workdir for the device in devices.yaml",
            )
        killed = False
        try:
            for item in sorted(staged.iterdir()):
                self.t.push(item, folder, PUSH_TIMEOUT_S)
            env = remote_env_prefix(self.spec)
            command = f"exec {'env ' + env + ' ' if env else ''}{self.spec.python} -m edgekit.devices.agent {shlex.quote(folder)}"
            try:
                done = self.t.run_in_folder(folder, command, self.timeout_s + grace_s())
            except DeviceTimeoutError:
                killed = True
                return self._failed(
                    request,
                    f"the measurement on {self.spec.name} ran past its {self.timeout_s:g} s "
                    "deadline; its processes and run folder on the device were removed",
                )
            return self._parse(done, request)
        except DeviceConnectionError:
            killed = True
            raise
        finally:
            self._cleanup(folder, killed)

    def _cleanup(self, folder: str, kill: bool) -> None:
        try:
            self.t.remove_folder(folder, kill=kill)
        except DeviceError:
            pass  # the connection is gone: the agent's alarm ends the process; the folder is in workdir

    def _parse(self, done, request: dict) -> dict:
        line = next((ln for ln in reversed(done.stdout.splitlines()) if ln.startswith(RESULT_PREFIX)), None)
        if line is None and done.returncode == ALARM_STATUS:
            return self._failed(
                request,
                f"the measurement on {self.spec.name} ran past its {self.timeout_s:g} s deadline "
                "and the agent ended itself",
                tail(done.stderr) or None,
            )
        if line is None or done.returncode not in (EXIT_OK, EXIT_FAILED, EXIT_INTEGRITY):
            err = tail(done.stderr)
            if "No module named" in err and "edgekit" in err:
                raise DeviceError(
                    f"{self.spec.name}: {self.spec.python} on the device has no edgekit-ml: {err.splitlines()[-1]}",
                    hint=f"on the device: {self.spec.python} -m pip install edgekit-ml (the core install is enough)",
                )
            return self._failed(
                request,
                f"the agent on {self.spec.name} exited {done.returncode} without a result",
                err or None,
            )
        try:
            return json.loads(line[len(RESULT_PREFIX) :])
        except ValueError as exc:
            return self._failed(request, f"the agent on {self.spec.name} printed an unreadable result: {exc}")

    def _failed(self, request: dict, error: str, stderr_tail: str | None = None) -> dict:
        return failed_result(
            request["target"]["path"],
            request["target"],
            request["protocol"],
            self.runtime,
            error,
            stderr_tail,
        )

    def _annotate(self, result: dict, target: BenchTarget, folder: str) -> dict:
        """Host paths and the device's identity in the result (the remote folder no longer exists)."""
        result["label"] = target.label
        result.setdefault("artifact", {})["path"] = str(target.path.resolve())
        fp = result.pop("device_fingerprint", None)
        result["device"] = {**self.spec.describe(), "remote_folder": folder, "fingerprint": fp}
        return result


def bench_device(
    spec: DeviceSpec,
    targets: list[BenchTarget],
    protocol: Protocol,
    runtime: str | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    on_result: Callable[[dict], None] | None = None,
    transport: Transport | None = None,
) -> list[dict]:
    """Every target measured on one device, in order, one at a time."""
    t = transport or open_transport(spec)
    results = []
    with _device_lock(spec), t:
        t.connect(60.0)
        bench = DeviceBench(t, protocol, runtime, timeout_s)
        for target in targets:
            result = bench.measure(target)
            results.append(result)
            if on_result is not None:
                on_result(result)
    return results


def bench_devices(
    specs: list[DeviceSpec],
    targets: list[BenchTarget],
    protocol: Protocol,
    runtime: str | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    on_result: Callable[[dict], None] | None = None,
) -> list[dict]:
    """All devices in parallel; results in device order. Any device error is raised after all finish."""
    with ThreadPoolExecutor(max_workers=max(1, len(specs))) as pool:
        futures = [
            pool.submit(bench_device, s, targets, protocol, runtime, timeout_s, on_result) for s in specs
        ]
        errors = [f.exception() for f in futures]
    for exc in errors:
        if exc is not None:
            raise exc
    return [r for f in futures for r in f.result()]
