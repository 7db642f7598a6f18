"""`edgekit targets ...` and `edgekit list targets`: exit codes and output."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from edgekit.cli import main

from .synthetic import REQUIRED_TARGETS, mobile_like


def run(capsys, *args):
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_list_targets_lists_every_profile(capsys):
    code, out, _ = run(capsys, "list", "targets", "--json")
    names = {row["name"] for row in json.loads(out)}
    assert code == 0 and set(REQUIRED_TARGETS) <= names


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
    bad.write_text(
        "name: x\ndescription: y\nhardware: {cpu: a, cores: 0, clock_ghz: 1, mem_bandwidth_gbs: 1, ram_mb: 1}\n"
        "runtimes: [litert]\nplan: {formats: [tflite], quant: {tflite: [fp32]}}\n"
    )
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
        results += [
            {"artifact": g.to_dict(), "p50_ms": 20.0 * scale**0.9 * f, "threads": t}
            for t, f in ((1, 1.0), (4, 0.45))
        ]
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


# ---- `targets estimate` reads the quant mode and runtime from the artifact -------------------------


def _estimate_json(capsys, *args):
    code, out, err = run(capsys, "targets", "estimate", *args, "--json")
    return code, (json.loads(out) if code == 0 else None), err


def _artifact_folder(folder, fmt, quant, model_name, model_bytes: bytes | None = None):
    from edgekit.artifact import Artifact

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / model_name
    if model_bytes is not None:
        path.write_bytes(model_bytes)
    Artifact(fmt, quant, path, "0" * 64, len(model_bytes or b""), [], []).save()
    return folder


def test_estimate_reads_int8_from_the_tensor_types_of_a_bare_tflite(tiny_tflite, capsys):
    code, d, err = _estimate_json(capsys, str(tiny_tflite["int8"]), "-t", "rpi4")
    assert (
        code == 0 and d["quant"] == "int8" and d["quant_from"] == "tensor types" and d["runtime"] == "litert"
    )
    assert d["latency_ms"] is not None and not any("check the artifact" in w for w in d["warnings"])
    code, _, err = run(capsys, "targets", "estimate", str(tiny_tflite["fp32"]), "-t", "rpi4")
    assert code == 0 and "tflite fp32 (quant mode from tensor types)" in err


def test_estimate_reads_the_quant_mode_from_artifact_json_and_says_when_quant_overrides_it(
    tiny_tflite, tmp_path, capsys
):
    folder = _artifact_folder(
        tmp_path / "tflite-int8", "tflite", "int8", "model.tflite", tiny_tflite["int8"].read_bytes()
    )
    for path in (folder, folder / "model.tflite"):
        code, d, _ = _estimate_json(capsys, str(path), "-t", "rpi5")
        assert code == 0 and (d["quant"], d["quant_from"], d["format"]) == ("int8", "artifact.json", "tflite")
    code, d, _ = _estimate_json(capsys, str(folder), "-t", "rpi5", "--quant", "fp32")
    assert code == 0 and d["quant"] == "fp32" and d["quant_from"] == "--quant"
    assert d["notes"] == ["--quant fp32 overrides int8 recorded for this artifact"]


def _tfjs_folder(folder, dtype: str | None):
    folder.mkdir(parents=True)
    weights = [
        {
            "name": "w",
            "shape": [3],
            "dtype": "float32",
            **({"quantization": {"dtype": dtype}} if dtype else {}),
        }
    ]
    (folder / "model.json").write_text(
        json.dumps({"format": "graph-model", "weightsManifest": [{"paths": ["g.bin"], "weights": weights}]})
    )
    return folder


def test_estimate_accepts_a_tfjs_artifact_folder_of_a_run(tiny_tflite, tmp_path, capsys):
    artifacts = tmp_path / "run" / "artifacts"
    _artifact_folder(
        artifacts / "tflite-fp32", "tflite", "fp32", "model.tflite", tiny_tflite["fp32"].read_bytes()
    )
    tfjs = _tfjs_folder(artifacts / "tfjs-uint8", "uint8")
    code, d, _ = _estimate_json(capsys, str(tfjs), "-t", "browser")
    assert code == 0 and (d["format"], d["quant"], d["quant_from"], d["runtime"]) == (
        "tfjs",
        "uint8",
        "model.json",
        "tfjs-browser",
    )
    assert d["latency_ms"] is not None and "tflite-fp32" in d["notes"][0]
    _artifact_folder(tfjs, "tfjs", "uint16", "model.json")  # artifact.json wins over model.json
    code, d, _ = _estimate_json(capsys, str(tfjs / "model.json"), "-t", "browser")
    assert code == 0 and (d["quant"], d["quant_from"]) == ("uint16", "artifact.json")


def test_tfjs_folder_without_a_tflite_graph_names_the_fix(tiny_tflite, tmp_path, capsys):
    tfjs = _tfjs_folder(tmp_path / "web_model", "float16")
    code, _, err = run(capsys, "targets", "estimate", str(tfjs), "-t", "browser")
    assert code == 2 and "estimated from the .tflite graph of the same reference" in err and "--graph" in err
    code, d, _ = _estimate_json(capsys, str(tfjs), "-t", "browser", "--graph", str(tiny_tflite["fp32"]))
    assert (
        code == 0 and d["quant"] == "fp16" and d["runtime"] == "tfjs-browser" and "(--graph)" in d["notes"][0]
    )
    code, _, err = run(
        capsys, "targets", "estimate", str(tfjs), "-t", "mcu-m7", "--graph", str(tiny_tflite["fp32"])
    )
    assert code == 2 and "mcu-m7 has no TF.js runtime" in err
    code, _, err = run(capsys, "targets", "estimate", str(tmp_path / "nope.tflite"), "-t", "rpi4")
    assert code == 2 and "does not exist" in err
