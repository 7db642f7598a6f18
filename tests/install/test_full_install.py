"""Everything from the built wheel with plain pip: the demo recipe to TFLite, ONNX and TF.js, and
the TF.js artifact measured in Node by the runner shipped inside the installed package."""

from __future__ import annotations

import json
import time
from importlib import metadata
from pathlib import Path

import pytest
from install_support import folder_mb, make_venv, ok, pip_install, record, run

pytestmark = pytest.mark.packaging


@pytest.fixture(scope="module")
def full(dist, tmp_path_factory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("full")
    bin_dir = make_venv(root / "venv")
    seconds = pip_install(bin_dir, f"{dist['wheel']}[all]")
    env = {"EDGEKIT_TOOLS": str(root / "tools"), "EDGEKIT_CACHE": str(root / "cache")}
    started = time.perf_counter()
    ok(run([bin_dir / "edgekit", "setup", "all"], cwd=root, env=env))
    setup_s = time.perf_counter() - started
    record(
        'everything: `pip install "edgekit_ml-….whl[all]"`',
        time=f"{seconds:.0f} s",
        size=folder_mb(bin_dir.parent),
        then=f"`edgekit setup all`: {setup_s:.0f} s, {folder_mb(root / 'tools')} in the tools folder",
    )
    return bin_dir, env


def test_pip_check_is_clean_and_no_console_script_is_broken(full, tmp_path):
    bin_dir, _env = full
    ok(run([bin_dir / "python", "-m", "pip", "check"], cwd=tmp_path))
    code = (
        "import importlib.metadata as m, json\n"
        "bad = []\n"
        "for ep in m.entry_points(group='console_scripts'):\n"
        "    try: ep.load()\n"
        "    except Exception as exc: bad.append(f'{ep.name}: {type(exc).__name__}: {exc}')\n"
        "print(json.dumps(bad))"
    )
    broken = json.loads(
        ok(run([bin_dir / "python", "-c", code], cwd=tmp_path)).stdout.strip().splitlines()[-1]
    )
    assert broken == []
    assert not (bin_dir / "tensorflowjs_converter").exists()


def test_demo_converts_to_three_formats_and_benches_tfjs_in_node(full, tmp_path):
    bin_dir, env = full
    argv = [
        bin_dir / "edgekit",
        "convert",
        "--target",
        "host",
        "--format",
        "tflite",
        "--format",
        "onnx",
        "--format",
        "tfjs",
        "--quant",
        "fp32",
        "--set",
        "train.epochs=1",
        "--set",
        "train.fine_tune.epochs=1",
        "--threads",
        "1",
    ]
    proc = ok(run(argv, cwd=tmp_path, env=env))
    report = json.loads((tmp_path / "out" / "demo" / "host" / "report.json").read_text())
    rows = {(a["format"], a["quant"]): a for a in report["artifacts"]}
    assert set(rows) == {("tflite", "fp32"), ("onnx", "fp32"), ("tfjs", "fp32")}, proc.stderr
    assert all(r["status"] == "ok" for r in rows.values()), rows
    tfjs = rows[("tfjs", "fp32")]
    assert tfjs["bench"]["runtime"]["runtime"] == "tfjs-node" and tfjs["bench"]["p50_ms"] > 0, tfjs["bench"]
    # The runner is the installed package's, copied into this test's tools folder, not the checkout's.
    runners = list((Path(env["EDGEKIT_TOOLS"]) / "js").glob("runner-*/runner.mjs"))
    assert len(runners) == 1
    site = ok(
        run(
            [
                bin_dir / "python",
                "-c",
                "import edgekit, pathlib; print(pathlib.Path(edgekit.__file__).parent)",
            ],
            cwd=tmp_path,
        )
    )
    installed_runner = Path(site.stdout.strip()) / "js" / "runner.mjs"
    assert (
        "site-packages" in str(installed_runner) and installed_runner.read_bytes() == runners[0].read_bytes()
    )


def test_installed_version_matches_the_package(full, tmp_path):
    bin_dir, _env = full
    out = ok(run([bin_dir / "edgekit", "--version"], cwd=tmp_path)).stdout
    assert out.strip() == f"edgekit {metadata.version('edgekit-ml')}"
