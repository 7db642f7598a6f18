"""The TF.js runtimes: Node (wasm and cpu backends) and real headless Chromium.

Each runtime runs the tiny fp32 artifact; the browser's outputs are compared with Node's, Node's
with the reference. Failure paths (corrupt model.json, missing packages, missing browser, a runner
that does not answer in time) must raise RuntimeLoadError promptly and leave no process behind.
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from tiny_models import tiny_images

from edgekit.convert import FORMATS, ConversionRequest
from edgekit.errors import NotInstalledError, RuntimeLoadError, UsageError
from edgekit.runtimes import RUNTIMES, load_session, runtime_for
from edgekit.runtimes.tfjs import load_browser, load_node
from edgekit.setup.js_runner import ensure_runner


def _node_ready() -> bool:
    try:
        ensure_runner(install=False)
    except NotInstalledError:
        return False
    return shutil.which("node") is not None


needs_node = pytest.mark.skipif(
    not _node_ready(), reason="TF.js runner not installed: run `edgekit setup js`"
)


def _chromium_found() -> bool:
    from edgekit.runtimes._tfjs_browser import find_chromium

    try:
        find_chromium()
    except NotInstalledError:
        return False
    return True


needs_chromium = pytest.mark.skipif(
    not _chromium_found(), reason="headless Chromium missing: install the Debian package chromium"
)


@pytest.fixture(scope="module")
def artifact(tiny_reference, tmp_path_factory):
    out = tmp_path_factory.mktemp("tfjs-rt") / "tfjs-fp32"
    return FORMATS.get("tfjs").convert(ConversionRequest(tiny_reference, "tfjs", "fp32", out))


@pytest.fixture(scope="module")
def x():
    return tiny_images(6, seed=11)


@pytest.fixture(scope="module")
def node_out(artifact, x):
    with load_node(artifact) as session:
        return session.predict(x)


def _damaged_copy(artifact, tmp_path: Path):
    folder = tmp_path / "copy"
    shutil.copytree(artifact.folder, folder)
    return dataclasses.replace(artifact, path=folder / artifact.path.name)


def _processes_mentioning(text: str) -> list[int]:
    """Live processes whose command line contains TEXT (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if text in cmdline and state not in ("Z", "X"):
                found.append(int(entry.name))
    return found


def test_both_runtimes_registered_for_tfjs(artifact):
    assert RUNTIMES.get("tfjs-node").formats == ("tfjs",) and RUNTIMES.get("tfjs-browser").formats == (
        "tfjs",
    )
    assert runtime_for(artifact).name == "tfjs-node"


@needs_node
def test_node_wasm_matches_reference_and_reports_settings(artifact, tiny_reference, x, node_out):
    import tensorflow as tf

    serve = tf.saved_model.load(str(tiny_reference / "saved_model")).signatures["serving_default"]
    ref = np.concatenate(
        [serve(image=tf.constant(x[i : i + 1]))["probabilities"].numpy() for i in range(len(x))]
    )
    assert node_out.shape == (6, 3) and node_out.dtype == np.float32
    assert np.abs(node_out - ref).max() < 1e-5  # measured 3e-8
    with load_session(artifact, threads=2) as session:
        info = session.info()
    assert (info["runtime"], info["version"], info["backend"]) == ("tfjs-node", "4.22.0", "wasm")
    assert info["simd"] is True and info["wasm_binary"] == "tfjs-backend-wasm-simd.wasm"
    # tfjs-backend-wasm never enables threads under Node (tensorflow/tfjs#3830): one thread.
    assert info["threads_supported"] is False and info["threads"] == 1 and info["threads_requested"] == 2
    assert info["inputs"] == ["image"] and info["first_run_ms"] > 0


@needs_node
def test_node_cpu_backend_is_selectable(artifact, x, node_out):
    with load_node(artifact, backend="cpu") as session:
        out = session.predict(x)
        assert session.info()["backend"] == "cpu"
    np.testing.assert_allclose(out, node_out, atol=1e-6)


@needs_node
def test_prepare_invoke_and_time_runs(artifact, x, node_out):
    with load_node(artifact) as session:
        prepared = session.prepare(x[:1])
        np.testing.assert_array_equal(session.invoke(prepared), node_out[:1])
        latencies = session.time_runs(prepared, warmup=2, min_runs=7, min_time_s=0.0)
        assert len(latencies) == 7 and all(v > 0 for v in latencies)
        started = time.perf_counter()
        latencies = session.time_runs(prepared, warmup=0, min_runs=3, min_time_s=0.3)
        assert len(latencies) >= 3 and time.perf_counter() - started >= 0.3
        capped = session.time_runs(prepared, warmup=0, min_runs=2, min_time_s=60.0, max_runs=5)
        assert len(capped) == 5  # max_runs ends the loop long before 60 s
        assert session.predict(x[:0]).shape == (0, 3)


@needs_node
def test_bad_shapes_and_closed_sessions_are_refused(artifact, x):
    session = load_node(artifact)
    with pytest.raises(UsageError, match="takes a batch shaped like"):
        session.predict(x[:, :16])
    with pytest.raises(UsageError, match="one sample batch"):
        session.prepare(x[:2])
    session.close()
    session.close()  # closing twice is harmless
    with pytest.raises(RuntimeLoadError, match="closed"):
        session.predict(x)


@needs_node
@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda folder: (folder / "model.json").write_text("{ this is not json"), "could not load"),
        (lambda folder: (folder / "group1-shard1of1.bin").unlink(), "could not load"),
    ],
)
def test_damaged_artifact_is_a_load_error_not_a_hang(artifact, tmp_path, damage, message):
    broken = _damaged_copy(artifact, tmp_path)
    damage(broken.folder)
    started = time.perf_counter()
    with pytest.raises(RuntimeLoadError, match=message):
        load_node(broken, timeout_s=30)
    assert time.perf_counter() - started < 20
    assert _processes_mentioning(str(broken.folder)) == []


@needs_node
def test_runner_that_misses_its_deadline_is_stopped(artifact, tmp_path):
    private = _damaged_copy(artifact, tmp_path)  # a path no other test's runner uses
    with pytest.raises(RuntimeLoadError, match="did not answer within"):
        load_node(private, timeout_s=0.01)
    assert _processes_mentioning(str(private.folder)) == []


def test_missing_node_modules_says_how_to_install(artifact, tmp_path, monkeypatch):
    monkeypatch.setenv("EDGEKIT_JS_DIR", str(tmp_path))
    with pytest.raises(NotInstalledError) as info:
        load_node(artifact)
    assert "npm ci" in str(info.value) and str(tmp_path) in str(info.value)


def test_unknown_backend_is_a_usage_error(artifact):
    with pytest.raises(UsageError, match="unknown TF.js backend 'webgl'"):
        load_node(artifact, backend="webgl")


def test_missing_chromium_says_which_package(artifact, monkeypatch):
    import edgekit.runtimes._tfjs_browser as browser

    monkeypatch.setattr(browser, "CHROMIUM_PATHS", ("/nonexistent/chromium",))
    monkeypatch.delenv("EDGEKIT_CHROMIUM", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(NotInstalledError) as info:
        load_browser(artifact)
    assert "apt-get install -y chromium" in str(info.value) and "EDGEKIT_CHROMIUM" in str(info.value)


def test_edgekit_chromium_is_used_and_checked(tmp_path, monkeypatch):
    from edgekit.runtimes._tfjs_browser import find_chromium

    fake = tmp_path / "my-chrome"
    fake.write_text("#!/bin/sh\n")
    monkeypatch.setenv("EDGEKIT_CHROMIUM", str(fake))
    with pytest.raises(NotInstalledError, match="not an executable file"):
        find_chromium()
    fake.chmod(0o755)
    assert find_chromium() == str(fake)


@needs_node
@needs_chromium
def test_browser_matches_node_and_leaves_no_browser(artifact, x, node_out):
    session = load_browser(artifact, threads=2)
    channel = session._channel
    try:
        out = session.predict(x)
        prepared = session.prepare(x[:1])
        latencies = session.time_runs(prepared, warmup=1, min_runs=5, min_time_s=0.0)
        info = session.info()
    finally:
        session.close()
    assert np.abs(out - node_out).max() < 1e-4  # measured 0.0: both run the same wasm kernels
    assert len(latencies) == 5 and all(v > 0 for v in latencies)
    assert (info["runtime"], info["backend"], info["simd"]) == ("tfjs-browser", "wasm", True)
    assert "HeadlessChrome" in info["platform"] and info["cross_origin_isolated"] is True
    assert info["wasm_binary"].startswith("tfjs-backend-wasm")
    assert _processes_mentioning(str(channel.profile)) == [] and not channel.profile.exists()


@needs_node
@needs_chromium
def test_browser_reports_a_corrupt_model(artifact, tmp_path, monkeypatch):
    import edgekit.runtimes._tfjs_browser as browser

    profiles = []
    launch = browser._launch
    monkeypatch.setattr(
        browser,
        "_launch",
        lambda chromium, url, profile, log: (profiles.append(profile), launch(chromium, url, profile, log))[
            1
        ],
    )
    broken = _damaged_copy(artifact, tmp_path)
    (broken.folder / "model.json").write_text("{ this is not json")
    started = time.perf_counter()
    with pytest.raises(RuntimeLoadError, match="could not load"):
        load_browser(broken, timeout_s=60)
    assert time.perf_counter() - started < 45
    assert len(profiles) == 1 and _processes_mentioning(str(profiles[0])) == []
