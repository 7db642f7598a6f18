"""The command line's start-up stays light: `edgekit --help` imports no estimator, profile or runtime."""

import json
import subprocess
import sys

import pytest

# Modules that a command imports when it needs them, never at start-up (each one costs tenths of a
# second or more: the estimator loads the profiles, the profiles pydantic and YAML).
NOT_AT_STARTUP = (
    "edgekit.targets.estimator",
    "edgekit.targets.profile",
    "tensorflow",
    "keras",
    "onnx",
    "onnxruntime",
    "tf2onnx",
    "tensorflowjs",
)

PROBE = """
import contextlib, io, json, sys
import edgekit.cli
with contextlib.redirect_stdout(io.StringIO()):
    rc = edgekit.cli.main(json.loads(sys.argv[1]))
assert rc == 0, rc
print(json.dumps(sorted(m for m in json.loads(sys.argv[2]) if m in sys.modules)))
"""


@pytest.mark.parametrize("argv", [["--help"], ["convert", "--help"]])
def test_startup_imports_nothing_heavy(argv):
    r = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(argv), json.dumps(NOT_AT_STARTUP)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == [], f"imported by `edgekit {' '.join(argv)}`: {r.stdout}"
