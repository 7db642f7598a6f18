"""The TF.js runner: copied from the package into the tools folder and `npm ci`-ed there."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from edgekit.errors import NotInstalledError, SetupError
from edgekit.setup import js_runner


def _script(folder: Path, name: str, body: str) -> Path:
    path = folder / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture
def fake_bin(tmp_path, monkeypatch) -> Path:
    """A PATH with only a fake node and npm (npm ci writes the marker package.json)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _script(bin_dir, "node", 'echo "v20.1.0"\n')
    _script(
        bin_dir,
        "npm",
        "/bin/mkdir -p node_modules/@tensorflow/tfjs-backend-wasm && echo {} > node_modules/@tensorflow/tfjs-backend-wasm/package.json\n",
    )
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("EDGEKIT_TOOLS", str(tmp_path / "tools"))
    monkeypatch.delenv("EDGEKIT_JS_DIR", raising=False)
    return bin_dir


def test_runner_files_are_shipped_in_the_package():
    files = {p.as_posix() for p in js_runner.runner_files()}
    assert {"runner.mjs", "lib/engine.mjs", "browser/page.mjs", "package.json", "package-lock.json"} <= files
    assert not any(f.startswith("node_modules") for f in files)


def test_fingerprint_follows_the_files(tmp_path):
    (tmp_path / "a.mjs").write_text("1")
    first = js_runner.runner_fingerprint(tmp_path)
    (tmp_path / "a.mjs").write_text("2")
    assert js_runner.runner_fingerprint(tmp_path) != first


def test_first_use_installs_once_into_the_tools_folder(fake_bin, tmp_path):
    messages = []
    folder = js_runner.ensure_runner(log=messages.append)
    assert folder.parent == tmp_path / "tools" / "js" and js_runner.is_ready(folder)
    assert (folder / "runner.mjs").read_bytes() == (js_runner.PACKAGED_JS / "runner.mjs").read_bytes()
    assert len(messages) == 1 and "npm ci" in messages[0]
    assert js_runner.ensure_runner(log=messages.append) == folder and len(messages) == 1
    assert not any(p.name.startswith(".") and "partial" in p.name for p in folder.parent.iterdir())


def test_not_installed_and_no_install_says_how(fake_bin):
    with pytest.raises(NotInstalledError, match="not installed") as info:
        js_runner.ensure_runner(install=False)
    assert "edgekit setup js" in info.value.hint


def test_failing_npm_leaves_nothing(fake_bin, tmp_path):
    _script(fake_bin, "npm", "echo 'npm ERR! network' >&2; exit 1\n")
    with pytest.raises(SetupError, match="npm ci in .* failed"):
        js_runner.install_runner(log=lambda m: None)
    assert [p.name for p in (tmp_path / "tools" / "js").iterdir() if not p.name.endswith(".lock")] == []


@pytest.mark.parametrize(
    "node_body, message",
    [
        (None, "no working `node`"),
        ('echo "v16.20.0"\n', "found 16.20.0"),
    ],
)
def test_missing_or_old_node_is_a_clear_error(fake_bin, node_body, message):
    if node_body is None:
        os.remove(fake_bin / "node")
    else:
        _script(fake_bin, "node", node_body)
    with pytest.raises(NotInstalledError, match=message) as info:
        js_runner.install_runner(log=lambda m: None)
    assert "Node.js 18" in info.value.hint and info.value.exit_code == 2


def test_edgekit_js_dir_must_be_a_ready_runner(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGEKIT_JS_DIR", str(tmp_path))
    with pytest.raises(NotInstalledError, match="not a ready TF.js runner"):
        js_runner.ensure_runner()
    (tmp_path / "runner.mjs").write_text("")
    marker = tmp_path / "node_modules" / "@tensorflow" / "tfjs-backend-wasm" / "package.json"
    marker.parent.mkdir(parents=True)
    marker.write_text("{}")
    assert js_runner.ensure_runner() == tmp_path
