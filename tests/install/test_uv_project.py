"""A user's own uv project that depends on the built wheel, with every extra, locks and syncs."""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

import pytest
from install_support import folder_mb, ok, record, run

pytestmark = pytest.mark.packaging

PYPROJECT = """\
[project]
name = "my-vision-app"
version = "0.1.0"
requires-python = ">=3.11,<3.14"
dependencies = ["edgekit-ml[all]"]

[tool.uv.sources]
edgekit-ml = {{ path = "{wheel}" }}
"""


@pytest.mark.skipif(shutil.which("uv") is None, reason="uv is not installed")
def test_user_uv_project_locks_and_syncs(dist, tmp_path):
    wheel = tmp_path / Path(dist["wheel"]).name
    shutil.copyfile(dist["wheel"], wheel)
    (tmp_path / "pyproject.toml").write_text(PYPROJECT.format(wheel=wheel.name))
    uv = shutil.which("uv")
    python = ["--python", f"{sys.version_info.major}.{sys.version_info.minor}"]
    started = time.perf_counter()
    ok(run([uv, "lock", *python], cwd=tmp_path))
    lock = (tmp_path / "uv.lock").read_text()
    assert (
        'name = "edgekit-ml"' in lock
        and 'name = "tensorflow"' in lock
        and 'name = "tensorflowjs"' not in lock
    )
    ok(run([uv, "sync", "--locked", *python], cwd=tmp_path))
    record(
        "a uv project with `edgekit-ml[all]` (wheel source)",
        time=f"{time.perf_counter() - started:.0f} s (lock + sync)",
        size=folder_mb(tmp_path / ".venv"),
    )
    out = ok(
        run(
            [uv, "run", "--locked", "edgekit", "doctor", "--json", "--no-tf-gpu"],
            cwd=tmp_path,
            env={"EDGEKIT_TOOLS": str(tmp_path / "tools")},
        )
    ).stdout
    checks = {(c["section"], c["name"]): c["ok"] for c in json.loads(out)["checks"]}
    assert checks[("extras", "tf")] and checks[("formats", "tflite")] and checks[("formats", "onnx")]
