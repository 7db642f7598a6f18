"""Measuring on a device over a real OpenSSH server on 127.0.0.1; the device side is a venv with
only the core install of the wheel built from this checkout (no TensorFlow)."""

from __future__ import annotations

import json
import stat
import threading
import time
from pathlib import Path

import pytest
import yaml
from demo_settings import tiny_demo
from process_support import ended

from edgekit.bench.result import schema_errors
from edgekit.cli import main
from edgekit.devices.errors import DeviceTimeoutError
from edgekit.devices.spec import parse_uri

pytestmark = pytest.mark.devices


def write_devices(folder: Path, sshd, python: Path, more: dict | None = None, **extra) -> Path:
    workdir = folder / "device-work"
    workdir.mkdir(exist_ok=True)
    entry = {
        "uri": sshd.uri,
        "profile": "rpi4",
        "python": str(python),
        "workdir": str(workdir),
        "ssh_config": str(sshd.client_config),
        **extra,
    }
    devices = {"lab-pi4": entry, **(more or {})}
    (folder / "devices.yaml").write_text(yaml.safe_dump({"devices": devices}))
    return workdir


def script(path: Path, text: str) -> Path:
    path.write_text("#!/bin/sh\n" + text)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def bench_json(capsys, argv: list[str]) -> tuple[int, dict | None, str]:
    code = main(["bench", *argv, "--min-runs", "5", "--min-time", "0", "--warmup", "1", "--json"])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else None), err


def test_bench_on_device_with_the_core_install(sshd, core_python, artifacts, tmp_path, monkeypatch, capsys):
    workdir = write_devices(tmp_path, sshd, core_python)
    monkeypatch.chdir(tmp_path)
    code, doc, err = bench_json(capsys, [str(artifacts["run_dir"]), "--device", "lab-pi4", "--threads", "2"])
    assert code == 0, err
    results = {r["label"]: r for r in doc["results"]}
    assert set(results) == {"onnx-fp32", "tflite-fp32"}
    for label, r in results.items():
        assert r["status"] == "ok" and r["p50_ms"] > 0 and r["runs"] >= 5, r
        assert (
            r["device"]["name"] == "lab-pi4"
            and r["device"]["profile"] == "rpi4"
            and r["device"]["uri"] == sshd.uri
        )
        assert r["artifact"]["path"] == str(
            artifacts[label.split("-")[0]].resolve()
        )  # host path, not the device's
        assert r["runtime"]["threads"] == 2 and r["input"]["source"] == "run-dir"
        assert "tensorflow" not in r["host"]["packages"]  # measured by the light install
        assert r["host"]["python"] and r["device"]["fingerprint"]["before"]["cores"] >= 1
        assert schema_errors(r) == []
    assert results["tflite-fp32"]["runtime"]["runtime"] == "litert"
    assert results["onnx-fp32"]["runtime"]["runtime"] == "onnxruntime"
    assert list(workdir.iterdir()) == []  # every per-run folder removed


def test_a_uri_works_without_a_devices_file(sshd, core_python, artifacts, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EDGEKIT_SSH_CONFIG", str(sshd.client_config))
    code, doc, err = bench_json(
        capsys, [str(artifacts["tflite"]), "--device", f"{sshd.uri}?python={core_python}"]
    )
    assert code == 0, err
    [r] = doc["results"]
    assert r["status"] == "ok" and r["device"]["name"] == sshd.uri and r["device"]["profile"] is None


def test_ten_mib_of_output_on_both_streams(sshd):
    with _transport(sshd) as t:
        t.connect(30)
        done = t.run(
            "head -c 10485760 /dev/zero | tr '\\0' o; head -c 10485760 /dev/zero | tr '\\0' e >&2; exit 7",
            120,
        )
    assert done.returncode == 7
    assert len(done.stdout) == 10 * 1024 * 1024 and set(done.stdout) == {"o"}
    assert len(done.stderr) == 10 * 1024 * 1024 and set(done.stderr) == {"e"}


def _transport(sshd):
    from dataclasses import replace

    from edgekit.devices.ssh import SshTransport

    return SshTransport(replace(parse_uri(sshd.uri), ssh_config=str(sshd.client_config)))


def test_a_hanging_command_is_stopped_and_its_processes_and_folder_removed(sshd, tmp_path):
    folder = tmp_path / "run-folder"
    folder.mkdir()
    pid_file = tmp_path / "child.pid"
    with _transport(sshd) as t:
        t.connect(30)
        with pytest.raises(DeviceTimeoutError, match="deadline"):
            t.run_in_folder(str(folder), f"sleep 300 & echo $! > {pid_file}; wait", 3)
        child = int(pid_file.read_text())
        t.remove_folder(str(folder), kill=True)
    assert ended(child) and not folder.exists()


def test_a_hanging_measurement_is_a_failed_row_and_leaves_nothing(
    sshd, artifacts, tmp_path, monkeypatch, capsys
):
    hang = script(tmp_path / "python", "exec sleep 300\n")
    workdir = write_devices(tmp_path, sshd, hang)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EDGEKIT_DEVICE_GRACE_S", "0")
    code, doc, _ = bench_json(capsys, [str(artifacts["tflite"]), "--device", "lab-pi4", "--timeout", "2"])
    assert code == 1
    [r] = doc["results"]
    assert r["status"] == "failed" and "ran past its 2 s deadline" in r["error"]
    assert list(workdir.iterdir()) == []


def test_a_dropped_connection_is_a_typed_error_and_nothing_is_recorded(
    sshd, core_python, artifacts, tmp_path, monkeypatch, capsys
):
    started = tmp_path / "started"
    slow = script(tmp_path / "python", f"touch {started}\nexec sleep 300\n")
    write_devices(tmp_path, sshd, slow)
    monkeypatch.chdir(tmp_path)
    dropped = threading.Event()

    def drop_when_running() -> None:
        while not started.exists():  # waits for the remote side to be running, then cuts the network
            time.sleep(0.02)
        dropped.set()
        sshd.drop_connections()

    watcher = threading.Thread(target=drop_when_running, daemon=True)
    watcher.start()
    code, doc, err = bench_json(capsys, [str(artifacts["tflite"]), "--device", "lab-pi4"])
    watcher.join(30)
    assert dropped.is_set()
    assert code == 1 and doc is None  # no result printed, not even a failed row
    assert "connection failed or dropped" in err and "Traceback" not in err


def test_an_artifact_damaged_on_the_way_is_not_run(sshd, core_python, artifacts, tmp_path):
    from edgekit.bench.measure import Protocol
    from edgekit.bench.targets import expand
    from edgekit.devices.remote import bench_device
    from edgekit.devices.ssh import SshTransport

    class Damaging(SshTransport):
        def push(self, local, remote_dir, timeout_s):
            super().push(local, remote_dir, timeout_s)
            if local.name == "artifact":  # one byte appended on the device after the copy
                self.run(f"printf x >> {remote_dir}/artifact/model.tflite", 30)

    workdir = tmp_path / "work"
    workdir.mkdir()
    from dataclasses import replace

    spec = replace(
        parse_uri(sshd.uri), ssh_config=str(sshd.client_config), python=str(core_python), workdir=str(workdir)
    )
    [r] = bench_device(
        spec, expand([artifacts["tflite"]]), Protocol(min_runs=3, min_time_s=0), transport=Damaging(spec)
    )
    assert r["status"] == "failed" and r["validity"] == "FAILED"
    assert (
        "integrity check failed before running: artifact/model.tflite: sha256 on the device is" in r["error"]
    )
    assert r["runs"] is None and list(workdir.iterdir()) == []


def test_a_throttled_device_gives_untrusted_results(
    sshd, core_python, artifacts, tmp_path, monkeypatch, capsys
):
    fake_bin = tmp_path / "fake-bin"
    fake_bin.mkdir()
    script(fake_bin / "vcgencmd", 'test "$1" = get_throttled && echo throttled=0x50005\n')
    write_devices(tmp_path, sshd, core_python, env={"PATH": f"{fake_bin}:/usr/bin:/bin"})
    monkeypatch.chdir(tmp_path)
    code, doc, err = bench_json(capsys, [str(artifacts["tflite"]), "--device", "lab-pi4"])
    assert code == 0, err
    [r] = doc["results"]
    assert r["status"] == "ok" and r["validity"] == "UNTRUSTED"
    assert any(
        "throttled before the run (vcgencmd get_throttled=0x50005: under-voltage, throttled)" in x
        for x in r["validity_reasons"]
    )
    assert r["device"]["fingerprint"]["after"]["throttled"] == 0x50005
    assert schema_errors(r) == []


def test_several_devices_in_parallel(sshd, core_python, artifacts, tmp_path, monkeypatch, capsys):
    other = {
        "uri": f"ssh://{sshd.user}@localhost:{sshd.port}",
        "python": str(core_python),
        "ssh_config": str(sshd.client_config),
    }
    write_devices(tmp_path, sshd, core_python, more={"lab-pi5": other})
    # localhost is another name for the same machine: its host key is listed under that name too
    known = sshd.folder / "known_hosts"
    known.write_text(known.read_text() + known.read_text().replace("[127.0.0.1]", "[localhost]"))
    monkeypatch.chdir(tmp_path)
    code, doc, err = bench_json(
        capsys,
        [str(artifacts["tflite"]), str(artifacts["onnx"]), "--device", "lab-pi4", "--device", "lab-pi5"],
    )
    assert code == 0, err
    got = sorted((r["device"]["name"], r["label"]) for r in doc["results"])
    assert got == [
        ("lab-pi4", "onnx-fp32"),
        ("lab-pi4", "tflite-fp32"),
        ("lab-pi5", "onnx-fp32"),
        ("lab-pi5", "tflite-fp32"),
    ]


def test_an_unknown_host_key_is_refused(sshd, core_python, artifacts, tmp_path, monkeypatch, capsys):
    strict = tmp_path / "ssh_config"
    strict.write_text(
        sshd.client_config.read_text().replace(
            str(sshd.folder / "known_hosts"), str(tmp_path / "empty_known_hosts")
        )
    )
    write_devices(tmp_path, sshd, core_python, ssh_config=str(strict))
    monkeypatch.chdir(tmp_path)
    code, doc, err = bench_json(capsys, [str(artifacts["tflite"]), "--device", "lab-pi4"])
    assert code == 1 and doc is None
    assert "ssh could not connect" in err and "Host key verification failed" in err


def test_a_device_without_edgekit_says_how_to_install_it(sshd, artifacts, tmp_path, monkeypatch, capsys):
    bare = script(tmp_path / "python", 'echo "/usr/bin/python3: No module named edgekit" >&2; exit 1\n')
    write_devices(tmp_path, sshd, bare)
    monkeypatch.chdir(tmp_path)
    code, doc, err = bench_json(capsys, [str(artifacts["tflite"]), "--device", "lab-pi4"])
    assert code == 1 and doc is None
    assert "has no edgekit-ml" in err and "pip install edgekit-ml" in err


TINY = tiny_demo(calibration_samples=None)


def test_convert_measures_on_the_host_and_on_the_device(sshd, core_python, tmp_path, monkeypatch, capsys):
    workdir = write_devices(tmp_path, sshd, core_python)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EDGEKIT_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "out"
    code = main(
        [
            "convert",
            "--target",
            "rpi4",
            "--format",
            "tflite",
            "--quant",
            "fp32",
            "--out",
            str(out),
            "--device",
            "lab-pi4",
            *TINY,
        ]
    )
    err = capsys.readouterr().err
    assert code == 0, err
    [run_dir] = out.glob("*/rpi4")
    report = json.loads((run_dir / "report.json").read_text())
    [row] = report["artifacts"]
    assert row["bench"]["status"] == "ok" and "device" not in row["bench"]  # the host measurement stays
    [on_device] = row["device"]
    assert (
        on_device["status"] == "ok"
        and on_device["device"]["name"] == "lab-pi4"
        and on_device["device"]["profile"] == "rpi4"
    )
    assert schema_errors(on_device) == []
    md = (run_dir / "report.md").read_text()
    assert "device p50" in md and "(lab-pi4)" in md
    header = next(line for line in md.splitlines() if "device p50" in line)
    assert header.index("est. target") < header.index("device p50")  # measured next to the estimate
    assert list(workdir.iterdir()) == []


def test_calibrate_a_profile_on_the_device(sshd, core_python, tmp_path, monkeypatch, capsys):
    workdir = write_devices(tmp_path, sshd, core_python)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    out = tmp_path / "my-pi.yaml"
    code = main(
        [
            "targets",
            "calibrate",
            "--device",
            "lab-pi4",
            "--name",
            "my-pi",
            "--threads",
            "2",
            "--out",
            str(out),
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    profile = yaml.safe_load(out.read_text())
    fitted = profile["calibration"]["fitted"]
    assert profile["name"] == "my-pi" and fitted["base"] == "rpi4"  # the device's profile from devices.yaml
    assert fitted["device"]["name"] == "lab-pi4" and fitted["device"]["uri"] == sshd.uri
    measured = json.loads((tmp_path / "my-pi.bench.json").read_text())["results"]
    assert sorted({r["runtime"]["threads"] for r in measured}) == [1, 2]
    assert {r["artifact"]["quant"] for r in measured} == {"fp32", "int8"}
    assert (
        fitted["measurements"] == len(measured)
        and fitted["artifacts"] == len({r["artifact"]["path"] for r in measured}) >= 3
    )
    assert fitted["held_out"]["n"] == len(measured)  # every artifact predicted from the other seven
    assert "held-out (leave one artifact out)" in captured.out and "wrote" in captured.out
    assert list(workdir.iterdir()) == []
