"""The adb transport against a stand-in `adb` (fake_adb.py) that follows adb's documented
push/shell behaviour, including exit status 0 from `adb shell` without the shell v2 protocol.
The device side runs this environment's Python (the core-install proof is in test_ssh.py)."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from edgekit.cli import main
from edgekit.devices.adb import AdbTransport, split_status
from edgekit.devices.errors import DeviceConnectionError, DeviceTimeoutError
from edgekit.devices.spec import parse_uri

HERE = Path(__file__).resolve().parent


@pytest.fixture
def adb(tmp_path, monkeypatch):
    """`adb` on PATH is the stand-in; returns the device's state file (write "offline" to unplug it)."""
    bin_dir = tmp_path / "adb-bin"
    bin_dir.mkdir()
    tool = bin_dir / "adb"
    tool.write_text(f"#!{sys.executable}\n" + (HERE / "fake_adb.py").read_text())
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_ADB_SERIALS", "R58M12345")
    state = tmp_path / "adb-state"
    state.write_text("device")
    monkeypatch.setenv("FAKE_ADB_STATE", str(state))
    monkeypatch.delenv("FAKE_ADB_SHELL_V2", raising=False)
    return state


def transport() -> AdbTransport:
    return AdbTransport(parse_uri("adb:R58M12345"))


@pytest.mark.parametrize("v2", ["0", "1"])
def test_the_exit_status_is_recovered_with_and_without_shell_v2(adb, monkeypatch, v2):
    monkeypatch.setenv("FAKE_ADB_SHELL_V2", v2)
    t = transport()
    t.connect(10)
    done = t.run("printf 'no newline'; echo oops >&2; exit 3", 30)
    assert done.returncode == 3
    assert done.stdout.startswith("no newline") and "__EDGEKIT_RC" not in done.stdout
    assert ("oops" in done.stderr) if v2 == "1" else ("oops" in done.stdout)  # legacy: one stream


def test_split_status_reads_only_a_final_marker():
    assert split_status("a\n__EDGEKIT_RC=0\n") == ("a", 0)
    assert split_status("a\r\n__EDGEKIT_RC=12\r\n") == ("a", 12)
    assert split_status("__EDGEKIT_RC=0 printed by the command\nthen cut") is None


def test_ten_mib_of_output(adb):
    done = transport().run("head -c 10485760 /dev/zero | tr '\\0' o", 120)
    assert done.returncode == 0 and len(done.stdout) == 10 * 1024 * 1024


def test_an_unknown_serial_is_a_connection_error(adb):
    with pytest.raises(DeviceConnectionError, match="device 'nope' not found"):
        AdbTransport(parse_uri("adb:nope")).connect(10)


def test_a_hanging_command_is_stopped_and_cleaned_up(adb, tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    pid_file = tmp_path / "child.pid"
    t = transport()
    with pytest.raises(DeviceTimeoutError):
        t.run_in_folder(str(folder), f"sleep 300 & echo $! > {pid_file}; wait", 3)
    child = int(pid_file.read_text())
    assert Path(f"/proc/{child}").exists()  # stopping the adb client leaves the device process running
    t.remove_folder(str(folder), kill=True)
    assert not folder.exists()
    try:
        state = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        state = "gone"
    assert state in ("gone", "Z")


def write_devices(folder: Path, workdir: Path, **extra) -> None:
    entry = {
        "uri": "adb:R58M12345",
        "profile": "android-high",
        "python": sys.executable,
        "workdir": str(workdir),
        **extra,
    }
    (folder / "devices.yaml").write_text(yaml.safe_dump({"devices": {"pixel": entry}}))


def test_bench_over_adb(adb, artifacts, tmp_path, monkeypatch, capsys):
    workdir = tmp_path / "data-local-tmp"
    workdir.mkdir()
    write_devices(tmp_path, workdir)
    monkeypatch.chdir(tmp_path)
    code = main(
        [
            "bench",
            str(artifacts["run_dir"]),
            "--device",
            "pixel",
            "--min-runs",
            "5",
            "--min-time",
            "0",
            "--json",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    results = json.loads(out)["results"]
    assert sorted(r["label"] for r in results) == ["onnx-fp32", "tflite-fp32"]
    for r in results:
        assert (
            r["status"] == "ok"
            and r["device"]["transport"] == "adb"
            and r["device"]["profile"] == "android-high"
        )
    assert list(workdir.iterdir()) == []


def test_an_unplugged_device_is_a_typed_error_and_nothing_is_recorded(
    adb, artifacts, tmp_path, monkeypatch, capsys
):
    workdir = tmp_path / "data-local-tmp"
    workdir.mkdir()
    started = tmp_path / "started"
    slow = tmp_path / "python"
    slow.write_text(f"#!/bin/sh\ntouch {started}\nexec sleep 300\n")
    slow.chmod(0o755)
    write_devices(tmp_path, workdir, python=str(slow))
    monkeypatch.chdir(tmp_path)

    def unplug() -> None:
        while not started.exists():
            time.sleep(0.02)
        adb.write_text("offline")

    watcher = threading.Thread(target=unplug, daemon=True)
    watcher.start()
    code = main(["bench", str(artifacts["tflite"]), "--device", "pixel", "--json"])
    out, err = capsys.readouterr()
    watcher.join(30)
    assert code == 1 and out == ""
    assert "the adb connection ended before the command did" in err
    for pid_file in workdir.glob("*/.pid"):  # the unplugged device's process is still running: end it here
        os.killpg(int(pid_file.read_text()), signal.SIGKILL)


def test_an_agent_ended_by_its_own_deadline_is_a_failed_row(adb, artifacts, tmp_path, monkeypatch, capsys):
    workdir = tmp_path / "data-local-tmp"
    workdir.mkdir()
    alarmed = tmp_path / "python"  # stands in for the agent's SIGALRM at the deadline
    alarmed.write_text("#!/bin/sh\nkill -ALRM $$\n")
    alarmed.chmod(0o755)
    write_devices(tmp_path, workdir, python=str(alarmed))
    monkeypatch.chdir(tmp_path)
    code = main(["bench", str(artifacts["tflite"]), "--device", "pixel", "--json", "--timeout", "5"])
    out, err = capsys.readouterr()
    assert code == 1, err
    [r] = json.loads(out)["results"]
    assert r["status"] == "failed" and "ran past its 5 s deadline and the agent ended itself" in r["error"]
    assert list(workdir.iterdir()) == []
