"""The adb transport with Debian's real `adb` client and server against adbd_standin.py, a device-side
stand-in that speaks adbd's transport protocol on 127.0.0.1 (`adb connect 127.0.0.1:PORT`).

The adb server runs isolated: its own port (ANDROID_ADB_SERVER_PORT) and HOME (its keys go there),
started once for the session and ended with `adb kill-server`. Shell commands of the "device" run
in /bin/sh on this machine, and device paths are this machine's paths. The agent runs with this
environment's Python (the core-install proof is in test_ssh.py)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from adbd_standin import DEFAULT_FEATURES, LEGACY_FEATURES, AdbdStandIn
from process_support import alive, ended

from edgekit.cli import main
from edgekit.devices.adb import AdbTransport, split_status
from edgekit.devices.errors import DeviceConnectionError, DeviceTimeoutError
from edgekit.devices.spec import parse_uri

PROTOCOLS = {"shell_v2": DEFAULT_FEATURES, "legacy": LEGACY_FEATURES}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _adb(env: dict[str, str], *args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["adb", *args],
        env={**os.environ, **env},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="session")
def adb_server(tmp_path_factory) -> Iterator[dict[str, str]]:
    """An adb server of its own: a free port, HOME in a temp folder (~/.android keys go there) and
    TMPDIR there too (the server's log, adb.UID.log, goes to TMPDIR)."""
    if shutil.which("adb") is None:
        pytest.skip("Debian's adb client is not installed (apt-get install adb)")
    home = str(tmp_path_factory.mktemp("adb-home"))
    env = {"HOME": home, "ANDROID_ADB_SERVER_PORT": str(_free_port())}
    started = _adb({**env, "TMPDIR": home}, "start-server")
    assert started.returncode == 0, started.stderr
    yield env
    _adb(env, "kill-server")


@pytest.fixture
def adb_env(adb_server, monkeypatch) -> dict[str, str]:
    """edgekit's `adb` calls in this test talk to the isolated server."""
    for key, value in adb_server.items():
        monkeypatch.setenv(key, value)
    for key in ("ANDROID_SERIAL", "ANDROID_SDK_HOME", "ANDROID_USER_HOME", "ADB_VENDOR_KEYS", "ADB_TRACE"):
        monkeypatch.delenv(key, raising=False)
    return adb_server


@contextlib.contextmanager
def attached(env: dict[str, str], features: tuple[str, ...]) -> Iterator[AdbdStandIn]:
    """A stand-in device, `adb connect`ed; disconnected and stopped afterwards."""
    device = AdbdStandIn(features).start()
    try:
        done = _adb(env, "connect", device.serial)
        assert f"connected to {device.serial}" in done.stdout, done.stdout + done.stderr
        ready = _adb(env, "-s", device.serial, "wait-for-device", timeout=30)
        assert ready.returncode == 0, ready.stderr
        yield device
    finally:
        _adb(env, "disconnect", device.serial)
        device.stop()


@pytest.fixture(params=list(PROTOCOLS))
def device(request, adb_env) -> Iterator[AdbdStandIn]:
    """One stand-in per shell protocol: shell v2, and legacy (no shell_v2 in its features)."""
    with attached(adb_env, PROTOCOLS[request.param]) as d:
        yield d


@pytest.fixture
def v2_device(adb_env) -> Iterator[AdbdStandIn]:
    with attached(adb_env, DEFAULT_FEATURES) as d:
        yield d


def transport(device: AdbdStandIn) -> AdbTransport:
    return AdbTransport(parse_uri(f"adb:{device.serial}"))


def uses_v2(device: AdbdStandIn) -> bool:
    return "shell_v2" in device.features


def test_the_exit_status_is_recovered_with_and_without_shell_v2(device):
    t = transport(device)
    t.connect(10)
    done = t.run("printf 'no newline'; echo oops >&2; exit 3", 30)
    assert done.returncode == 3
    assert done.stdout.startswith("no newline") and "__EDGEKIT_RC" not in done.stdout
    if uses_v2(device):
        assert "oops" in done.stderr and "oops" not in done.stdout
    else:  # legacy: one merged stream, and `adb shell` itself exited 0
        assert "oops" in done.stdout
    shells = [s for s in device.opened() if s.startswith("shell")]
    assert shells and all(
        s.startswith("shell,v2,") if uses_v2(device) else s.startswith("shell:") for s in shells
    )


def test_split_status_reads_only_a_final_marker():
    assert split_status("a\n__EDGEKIT_RC=0\n") == ("a", 0)
    assert split_status("a\r\n__EDGEKIT_RC=12\r\n") == ("a", 12)
    assert split_status("__EDGEKIT_RC=0 printed by the command\nthen cut") is None


def test_push_run_and_pull(device, adb_env, tmp_path):
    """Files and folders pushed with the real client arrive whole; `adb pull` brings a file back."""
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    payload = os.urandom(300_000)  # several DATA chunks of the sync protocol
    (src / "sub" / "blob.bin").write_bytes(payload)
    (src / "top.txt").write_text("top\n")
    (tmp_path / "single.json").write_text("{}")
    remote = tmp_path / "device-tmp" / "edgekit-run-1"
    t = transport(device)
    t.connect(10)
    assert t.run(f"mkdir -p {remote}", 30).returncode == 0
    t.push(src, str(remote), 60)
    t.push(tmp_path / "single.json", str(remote), 60)
    done = t.run(f"cd {remote} && sha256sum src/sub/blob.bin && cat src/top.txt single.json", 30)
    assert done.returncode == 0
    assert done.stdout.split()[0] == hashlib.sha256(payload).hexdigest()
    assert done.stdout.endswith("top\n{}")
    pulled = tmp_path / "pulled.bin"
    got = _adb(adb_env, "-s", device.serial, "pull", f"{remote}/src/sub/blob.bin", str(pulled))
    assert got.returncode == 0, got.stderr
    assert pulled.read_bytes() == payload
    verbs = {line.split()[1] for line in device.log if line.startswith("sync ")}
    assert (
        {"STAT", "SEND", "RECV"} <= verbs <= {"STAT", "LIST", "SEND", "RECV"}
    )  # v1 only: no *_v2 advertised


def test_a_push_to_a_missing_folder_is_a_connection_error_with_adbs_message(v2_device, tmp_path):
    (tmp_path / "f.txt").write_text("x")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(
        DeviceConnectionError, match="adb push of f.txt.*couldn't create file: Not a directory"
    ):
        transport(v2_device).push(tmp_path / "f.txt", f"{blocker}/sub", 30)


@pytest.mark.devices
def test_ten_mib_of_output(device):
    t = transport(device)
    done = t.run(
        "head -c 10485760 /dev/zero | tr '\\0' o; head -c 10485760 /dev/zero | tr '\\0' e >&2; exit 7", 120
    )
    assert done.returncode == 7
    if uses_v2(device):
        assert len(done.stdout) == 10 * 1024 * 1024 and set(done.stdout) == {"o"}
        assert len(done.stderr) == 10 * 1024 * 1024 and set(done.stderr) == {"e"}
    else:
        assert done.stdout == "o" * (10 * 1024 * 1024) + "e" * (10 * 1024 * 1024)


def test_ten_mib_on_stdout_over_shell_v2(v2_device):
    done = transport(v2_device).run("head -c 10485760 /dev/zero | tr '\\0' o", 120)
    assert done.returncode == 0 and len(done.stdout) == 10 * 1024 * 1024 and set(done.stdout) == {"o"}


def test_an_unknown_serial_is_a_connection_error(adb_env):
    with pytest.raises(DeviceConnectionError, match="not found"):
        AdbTransport(parse_uri("adb:127.0.0.1:1")).connect(10)


def test_an_unauthorized_device_is_a_connection_error_with_adbs_advice(adb_env):
    """A phone that never got "Allow USB debugging" tapped: adb offers its key and waits."""
    device = AdbdStandIn(require_auth=True).start()
    try:
        done = _adb(adb_env, "connect", device.serial)
        assert f"failed to authenticate to {device.serial}" in done.stdout
        t = transport(device)
        with pytest.raises(DeviceConnectionError, match="device unauthorized") as caught:
            t.connect(10)
        assert "confirmation dialog on your device" in str(caught.value)
        with pytest.raises(DeviceConnectionError, match="could not run the command.*device unauthorized"):
            t.run("true", 10)
        assert "AUTH 3" in device.log and not device.opened()  # the key was offered; nothing ran
    finally:
        _adb(adb_env, "disconnect", device.serial)
        device.stop()


def _hang_and_clean_up(device: AdbdStandIn, tmp_path: Path) -> None:
    folder = tmp_path / "run"
    folder.mkdir()
    pid_file = tmp_path / "child.pid"
    t = transport(device)
    with pytest.raises(DeviceTimeoutError, match="deadline"):
        t.run_in_folder(str(folder), f"sleep 300 & echo $! > {pid_file}; wait", 2)
    child = int(pid_file.read_text())
    if uses_v2(device):  # adbd sends SIGHUP to the shell only: what it started in the background lives on
        assert alive(child)
    t.remove_folder(str(folder), kill=True)
    assert not folder.exists() and ended(child)


def test_a_hanging_command_is_stopped_and_cleaned_up(v2_device, tmp_path):
    _hang_and_clean_up(v2_device, tmp_path)


@pytest.mark.devices
def test_a_hanging_command_is_stopped_and_cleaned_up_with_either_shell(device, tmp_path):
    _hang_and_clean_up(device, tmp_path)


def _vanish_when(device: AdbdStandIn, started: Path) -> threading.Thread:
    def unplug() -> None:
        deadline = time.monotonic() + 60
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        device.vanish()

    watcher = threading.Thread(target=unplug, daemon=True)
    watcher.start()
    return watcher


def test_a_device_that_vanishes_mid_command_is_a_connection_error(device, tmp_path):
    started = tmp_path / "started"
    watcher = _vanish_when(device, started)
    t = transport(device)
    with pytest.raises(DeviceConnectionError) as caught:
        t.run(f"echo partial; touch {started}; sleep 300", 60)
    watcher.join(30)
    # adb itself exits 0 and prints nothing here, even with shell v2: only the missing marker tells
    assert "the adb connection ended before the command did: adb exited 0 and no exit status came" in str(
        caught.value
    )
    with pytest.raises(
        DeviceConnectionError, match="adb could not run the command on the device: error: device offline"
    ):
        t.run("true", 30)  # and the device stays gone


def write_devices(folder: Path, serial: str, workdir: Path, **extra) -> None:
    entry = {
        "uri": f"adb:{serial}",
        "profile": "android-high",
        "python": sys.executable,
        "workdir": str(workdir),
        **extra,
    }
    (folder / "devices.yaml").write_text(yaml.safe_dump({"devices": {"pixel": entry}}))


def bench_json(capsys, argv: list[str]) -> tuple[int, dict | None, str]:
    code = main(["bench", *argv, "--min-runs", "5", "--min-time", "0", "--warmup", "1", "--json"])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else None), err


def test_bench_over_adb(v2_device, artifacts, tmp_path, monkeypatch, capsys):
    workdir = tmp_path / "data-local-tmp"
    workdir.mkdir()
    write_devices(tmp_path, v2_device.serial, workdir)
    monkeypatch.chdir(tmp_path)
    code, doc, err = bench_json(capsys, [str(artifacts["run_dir"]), "--device", "pixel"])
    assert code == 0, (err, doc)
    results = doc["results"]
    assert sorted(r["label"] for r in results) == ["onnx-fp32", "tflite-fp32"]
    for r in results:
        assert r["status"] == "ok"
        assert r["device"]["transport"] == "adb" and r["device"]["profile"] == "android-high"
        assert r["device"]["uri"] == f"adb:{v2_device.serial}"
    assert list(workdir.iterdir()) == []


@pytest.mark.devices
def test_bench_over_adb_without_shell_v2(adb_env, artifacts, tmp_path, monkeypatch, capsys):
    with attached(adb_env, LEGACY_FEATURES) as legacy:
        workdir = tmp_path / "data-local-tmp"
        workdir.mkdir()
        write_devices(tmp_path, legacy.serial, workdir)
        monkeypatch.chdir(tmp_path)
        code, doc, err = bench_json(capsys, [str(artifacts["tflite"]), "--device", "pixel"])
    assert code == 0, err
    [r] = doc["results"]
    assert r["status"] == "ok" and r["device"]["transport"] == "adb"
    assert list(workdir.iterdir()) == []


def test_an_unplugged_device_is_a_typed_error_and_nothing_is_recorded(
    v2_device, artifacts, tmp_path, monkeypatch, capsys
):
    workdir = tmp_path / "data-local-tmp"
    workdir.mkdir()
    started = tmp_path / "started"
    slow = tmp_path / "python"
    slow.write_text(f"#!/bin/sh\ntouch {started}\nexec sleep 300\n")
    slow.chmod(0o755)
    write_devices(tmp_path, v2_device.serial, workdir, python=str(slow))
    monkeypatch.chdir(tmp_path)
    watcher = _vanish_when(v2_device, started)
    code, doc, err = bench_json(capsys, [str(artifacts["tflite"]), "--device", "pixel"])
    watcher.join(30)
    assert code == 1 and doc is None  # no result printed, not even a failed row
    assert "the adb connection ended before the command did" in err and "Traceback" not in err
    for pid_file in workdir.glob("*/.pid"):  # the device is gone: end what it left running here
        with contextlib.suppress(ProcessLookupError):
            os.killpg(int(pid_file.read_text()), signal.SIGKILL)


def test_an_artifact_damaged_on_the_device_is_not_run(v2_device, artifacts, tmp_path):
    from dataclasses import replace

    from edgekit.bench.measure import Protocol
    from edgekit.bench.targets import expand
    from edgekit.devices.remote import bench_device

    class Damaging(AdbTransport):
        def push(self, local, remote_dir, timeout_s):
            super().push(local, remote_dir, timeout_s)
            if local.name == "artifact":  # one byte appended on the device after the copy
                self.run(f"printf x >> {remote_dir}/artifact/model.tflite", 30)

    workdir = tmp_path / "data-local-tmp"
    workdir.mkdir()
    spec = replace(parse_uri(f"adb:{v2_device.serial}"), python=sys.executable, workdir=str(workdir))
    [r] = bench_device(
        spec, expand([artifacts["tflite"]]), Protocol(min_runs=3, min_time_s=0), transport=Damaging(spec)
    )
    assert r["status"] == "failed" and r["validity"] == "FAILED"
    assert (
        "integrity check failed before running: artifact/model.tflite: sha256 on the device is" in r["error"]
    )
    assert r["runs"] is None and list(workdir.iterdir()) == []


def test_an_agent_ended_by_its_own_deadline_is_a_failed_row(
    v2_device, artifacts, tmp_path, monkeypatch, capsys
):
    workdir = tmp_path / "data-local-tmp"
    workdir.mkdir()
    alarmed = tmp_path / "python"  # stands in for the agent's SIGALRM at the deadline
    alarmed.write_text("#!/bin/sh\nkill -ALRM $$\n")
    alarmed.chmod(0o755)
    write_devices(tmp_path, v2_device.serial, workdir, python=str(alarmed))
    monkeypatch.chdir(tmp_path)
    code = main(["bench", str(artifacts["tflite"]), "--device", "pixel", "--json", "--timeout", "5"])
    out, err = capsys.readouterr()
    assert code == 1, err
    [r] = json.loads(out)["results"]
    assert r["status"] == "failed" and "ran past its 5 s deadline and the agent ended itself" in r["error"]
    assert list(workdir.iterdir()) == []
