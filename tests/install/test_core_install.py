"""The core install (no extras): measuring, estimating, bundles and checks without TensorFlow."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from install_support import folder_mb, make_venv, ok, pip_install, record, run

pytestmark = pytest.mark.packaging


@pytest.fixture(scope="module")
def core(dist, tmp_path_factory) -> Path:
    bin_dir = make_venv(tmp_path_factory.mktemp("core") / "venv")
    seconds = pip_install(bin_dir, str(dist["wheel"]))
    record("core: `pip install edgekit_ml-….whl`", time=f"{seconds:.0f} s", size=folder_mb(bin_dir.parent))
    return bin_dir


@pytest.fixture(scope="module")
def models(tiny_reference, tmp_path_factory) -> dict[str, Path]:
    """A .tflite and an .onnx artifact folder, converted here by the development environment."""
    from edgekit.convert import FORMATS, ConversionRequest

    out = tmp_path_factory.mktemp("models")
    return {
        fmt: FORMATS.get(fmt)
        .convert(ConversionRequest(tiny_reference, fmt, "fp32", out / f"{fmt}-fp32"))
        .path
        for fmt in ("tflite", "onnx")
    }


def test_core_has_no_tensorflow_and_a_working_command(core, tmp_path):
    proc = run([core / "python", "-c", "import tensorflow"], cwd=tmp_path)
    assert proc.returncode != 0 and "No module named 'tensorflow'" in proc.stderr
    assert "Usage: edgekit" in ok(run([core / "edgekit", "--help"], cwd=tmp_path)).stdout
    scripts = sorted(p.name for p in core.iterdir())
    assert "tensorflowjs_converter" not in scripts and "edgekit" in scripts


def test_core_edgekit_is_the_installed_one(core, tmp_path):
    where = ok(run([core / "python", "-c", "import edgekit; print(edgekit.__file__)"], cwd=tmp_path)).stdout
    assert "site-packages" in where


def test_doctor_reports_core_and_how_to_get_the_rest(core, tmp_path):
    proc = ok(
        run(
            [core / "edgekit", "doctor", "--json", "--no-tf-gpu"],
            cwd=tmp_path,
            env={"EDGEKIT_TOOLS": str(tmp_path / "tools")},
        )
    )
    report = json.loads(proc.stdout)
    checks = {(c["section"], c["name"]): c for c in report["checks"]}
    assert report["ok"] is True
    assert checks[("extras", "core")]["ok"] and not checks[("extras", "tf")]["ok"]
    assert "edgekit-ml[tf]" in checks[("extras", "tf")]["fix"]
    assert checks[("runtimes", "litert")]["ok"] and checks[("runtimes", "onnxruntime")]["ok"]
    assert not checks[("formats", "tflite")]["ok"] and "tensorflow" in checks[("formats", "tflite")]["detail"]
    assert not checks[("tools", "tfjs")]["ok"] and "edgekit setup tfjs" in checks[("tools", "tfjs")]["fix"]


def test_bench_and_estimate_tflite_and_onnx(core, models, tmp_path):
    for fmt, model in models.items():
        bench = json.loads(
            ok(
                run(
                    [core / "edgekit", "bench", model, "--min-runs", "5", "--min-time", "0", "--json"],
                    cwd=tmp_path,
                )
            ).stdout
        )
        [result] = bench["results"]
        assert (
            result["status"] == "ok"
            and result["p50_ms"] > 0
            and result["runtime"]["runtime"] in ("litert", "onnxruntime")
        ), result
        estimate = json.loads(
            ok(
                run(
                    [core / "edgekit", "targets", "estimate", model, "--target", "rpi4", "--json"],
                    cwd=tmp_path,
                )
            ).stdout
        )
        assert estimate["format"] == fmt and estimate["peak_ram_bytes"] > 0, estimate
        if fmt == "tflite":  # the published rows calibrate LiteRT; ONNX Runtime gets memory only
            assert estimate["latency_ms"] > 0, estimate


def test_bundle_and_verify(core, tmp_path):
    from synthetic import write_run_dir

    run_dir = write_run_dir(tmp_path / "runs")
    bundle = tmp_path / "fw.tar.gz"
    ok(run([core / "edgekit", "bundle", run_dir, "--out", bundle], cwd=tmp_path))
    assert "verifies" in ok(run([core / "edgekit", "verify", bundle], cwd=tmp_path)).stdout
    extracted = tmp_path / "extracted"
    import tarfile

    with tarfile.open(bundle) as tar:
        tar.extractall(extracted, filter="data")
    manifest = next(extracted.rglob("manifest.json"))
    manifest.write_text(manifest.read_text().replace('"', "'", 1))  # one byte changed
    proc = run([core / "edgekit", "verify", manifest.parent], cwd=tmp_path)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    "argv, extra",
    [
        (["convert", "--target", "rpi"], "edgekit-ml[tf]"),
        (["train"], "edgekit-ml[tf]"),
        (["pull", "keras:MobileNetV2"], "edgekit-ml[tf]"),
    ],
)
def test_tensorflow_commands_name_the_extra(core, tmp_path, argv, extra):
    proc = run([core / "edgekit", *argv], cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert extra in proc.stderr and "Traceback" not in proc.stderr
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_pip_installs_from_a_git_url(tmp_path):
    """`pip install "edgekit-ml @ git+URL"` builds from the repository (a file://localhost URL stands in for a git host)."""
    from install_support import REPO

    bin_dir = make_venv(tmp_path / "venv")
    pip_install(bin_dir, "--no-deps", f"edgekit-ml @ git+file://localhost{REPO}")
    shown = ok(run([bin_dir / "python", "-m", "pip", "show", "edgekit-ml"], cwd=tmp_path)).stdout
    assert "Name: edgekit-ml" in shown
    assert len(list((bin_dir.parent / "lib").glob("python3*/site-packages/edgekit/js/runner.mjs"))) == 1


@pytest.mark.skipif(shutil.which("uv") is None, reason="uv is not installed")
@pytest.mark.parametrize(
    "platform, extras",
    [
        ("aarch64-manylinux_2_28", []),  # 64-bit Raspberry Pi OS, Jetson: the core
        ("aarch64-manylinux_2_28", ["tf"]),
        ("x86_64-manylinux_2_28", ["all"]),
        ("aarch64-apple-darwin", ["all"]),
    ],
)
def test_resolves_with_wheels_only_on_supported_platforms(platform, extras):
    """Every dependency has a binary wheel there (no compiler on a Pi); riscv64 shows the check bites."""
    from install_support import REPO

    def compile_for(target: str) -> subprocess.CompletedProcess:
        argv = [
            "uv",
            "pip",
            "compile",
            REPO / "pyproject.toml",
            "--python-platform",
            target,
            "--python-version",
            "3.11",
            "--only-binary",
            ":all:",
            "--quiet",
            *[arg for e in extras for arg in ("--extra", e)],
        ]
        return run(argv)

    pinned = ok(compile_for(platform)).stdout
    assert "ai-edge-litert==" in pinned and "onnxruntime==" in pinned
    assert ("tensorflow==" in pinned) == bool(extras)
    assert compile_for("riscv64-unknown-linux").returncode != 0
