"""`edgekit targets ...` and `edgekit list targets`: exit codes and output."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from edgekit.cli import main

from .synthetic import mobile_like


def run(capsys, *args):
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_list_targets_lists_every_profile(capsys):
    code, out, _ = run(capsys, "list", "targets", "--json")
    names = {row["name"] for row in json.loads(out)}
    assert code == 0 and {"rpi3", "rpi4", "rpi5", "rpi-zero2w", "jetson-nano", "android-high", "android-mid",
                          "browser", "mcu-m7", "host"} <= names


def test_show_prints_the_profile_and_the_alias_it_resolved(capsys):
    code, out, err = run(capsys, "targets", "show", "rpi")
    assert code == 0 and "rpi → rpi4" in err
    assert "Cortex-A72" in out and "held-out LOSO" in out and "held-out LOMO" in out


def test_show_json_and_unknown_name(capsys):
    code, out, _ = run(capsys, "targets", "show", "mcu-m7", "--json")
    assert code == 0 and json.loads(out)["hardware"]["flash_kb"] == 2048
    code, _, err = run(capsys, "targets", "show", "rpi55")
    assert code == 2 and "Did you mean 'rpi5'" in err


def test_bad_profile_file_exits_2_naming_file_and_field(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ndescription: y\nhardware: {cpu: a, cores: 0, clock_ghz: 1, mem_bandwidth_gbs: 1, ram_mb: 1}\n"
                   "runtimes: [litert]\nplan: {formats: [tflite], quant: {tflite: [fp32]}}\n")
    code, _, err = run(capsys, "targets", "show", str(bad))
    assert code == 2 and str(bad) in err and "hardware.cores" in err


def test_analyze_and_estimate_an_onnx_file(tiny_onnx, tmp_path, capsys):
    import shutil

    path = shutil.copy(tiny_onnx, tmp_path / "m.onnx")
    code, out, _ = run(capsys, "targets", "analyze", str(path), "--json")
    assert code == 0 and json.loads(out)["total_macs"] == 55296 + 7056 + 3136 + 144 + 324 + 36 + 20
    code, out, _ = run(capsys, "targets", "estimate", str(path), "-t", "rpi4", "--json")
    d = json.loads(out)
    assert code == 0 and d["latency_ms"] is None and d["fits"] is True and d["runtime"] == "onnxruntime"


def test_calibrate_writes_a_profile_the_estimator_uses(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    results = []
    for i, scale in enumerate((0.5, 1.0, 2.0)):
        g = mobile_like(scale, name=f"m{i}")
        results += [{"artifact": g.to_dict(), "p50_ms": 20.0 * scale ** 0.9 * f, "threads": t}
                    for t, f in ((1, 1.0), (4, 0.45))]
    (tmp_path / "bench.json").write_text(json.dumps(results))
    code, out, _ = run(capsys, "targets", "calibrate", "bench.json", "--name", "my-pi", "--base", "rpi4")
    assert code == 0 and (tmp_path / "my-pi.yaml").is_file() and "held-out" in out
    code, out, err = run(capsys, "targets", "show", "my-pi.yaml")
    assert code == 0 and "6 measurements (litert), base rpi4" in out


@pytest.mark.parametrize("command", ["show", "analyze", "estimate", "fit", "evaluate", "calibrate"])
def test_every_targets_command_has_examples(capsys, command):
    code, out, _ = run(capsys, "targets", command, "--help")
    assert code == 0 and "Examples" in out


def test_targets_cli_does_not_import_tensorflow():
    code = "import sys, edgekit.targets.cli, edgekit.targets; print('tensorflow' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "False"
