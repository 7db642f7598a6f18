"""Device tests: a real OpenSSH server on 127.0.0.1, a device-side venv with only the core install,
and Debian's `adb` against a protocol stand-in of adbd (adbd_standin.py). Tests that need sshd and
the core venv, and the slower adb variants, are marked `devices` and run only with `-m devices`
(the sshd ones build the wheel and install it, about two minutes the first time)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "install"))  # install_support: make_venv, pip_install, run, ok


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "devices: device measurements over a real sshd and a core-install venv (run with -m devices)",
    )


def pytest_collection_modifyitems(config, items):
    if "devices" in (config.getoption("-m") or ""):
        return
    marked = [item for item in items if item.get_closest_marker("devices") is not None]
    if marked:
        config.hook.pytest_deselected(items=marked)
        items[:] = [item for item in items if item.get_closest_marker("devices") is None]


@pytest.fixture(scope="session")
def sshd(tmp_path_factory):
    from sshd_support import SSHD, start_sshd

    if not Path(SSHD).exists() or shutil.which("ssh") is None:
        pytest.skip("OpenSSH server/client not installed (apt-get install openssh-server openssh-client)")
    server = start_sshd(tmp_path_factory.mktemp("sshd"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def core_python(tmp_path_factory) -> Path:
    """The device side: a fresh venv with only `pip install edgekit_ml-….whl` (no extras)."""
    from install_support import REPO, make_venv, ok, pip_install, run

    out = tmp_path_factory.mktemp("dist")
    if shutil.which("uv"):  # reuses its cached build environment: much faster than an isolated `build`
        ok(run(["uv", "build", "--wheel", "--out-dir", out, REPO], cwd=out))
    else:
        ok(run([sys.executable, "-m", "build", "--wheel", "--outdir", out, REPO], cwd=out))
    [wheel] = out.glob("*.whl")
    bin_dir = make_venv(tmp_path_factory.mktemp("device") / "venv")
    pip_install(bin_dir, str(wheel))
    return bin_dir / "python"


@pytest.fixture(scope="session")
def artifacts(tiny_reference, tmp_path_factory) -> dict[str, Path]:
    """A run directory with tflite-fp32 and onnx-fp32 artifact folders and bench inputs."""
    import numpy as np
    from tiny_models import tiny_images

    from edgekit.bench.inputs import BENCH_INPUTS
    from edgekit.convert import FORMATS, ConversionRequest

    run_dir = tmp_path_factory.mktemp("run") / "tiny" / "rpi4"
    ref = run_dir / "reference"
    shutil.copytree(tiny_reference, ref)
    np.save(ref / BENCH_INPUTS, tiny_images(4, seed=3))
    out = {}
    for fmt in ("tflite", "onnx"):
        artifact = FORMATS.get(fmt).convert(
            ConversionRequest(tiny_reference, fmt, "fp32", run_dir / "artifacts" / f"{fmt}-fp32")
        )
        artifact.save()
        out[fmt] = artifact.folder
    out["run_dir"] = run_dir
    return out
