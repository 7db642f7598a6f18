"""`edgekit setup tfjs`: a hash-pinned wheel, no dependencies, no console scripts, all or nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from edgekit.errors import NotInstalledError, SetupError
from edgekit.setup import tfjs_converter as tc


@pytest.fixture
def tools(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("EDGEKIT_TOOLS", str(tmp_path / "tools"))
    return tmp_path / "tools"


def _fake_installer(target: Path) -> None:
    (target / tc._CONVERTER_FILE).parent.mkdir(parents=True)
    (target / tc._CONVERTER_FILE).write_text("# converter\n")
    (target / "bin").mkdir()
    (target / "bin" / "tensorflowjs_converter").write_text("#!/bin/sh\n")


def test_install_places_the_package_without_scripts_and_is_idempotent(tools, monkeypatch):
    calls = []
    monkeypatch.setattr(tc, "_run_installer", lambda target: (calls.append(target), _fake_installer(target)))
    folder = tc.install(log=lambda m: None)
    assert folder == tools / "python" / f"tensorflowjs-{tc.TFJS_VERSION}"
    assert (folder / tc._CONVERTER_FILE).is_file() and not (folder / "bin").exists()
    assert tc.install(log=lambda m: None) == folder and len(calls) == 1  # second call: already there
    assert [p.name for p in folder.parent.iterdir()] == [folder.name]  # no staging left behind


def test_failed_install_leaves_nothing(tools, monkeypatch):
    def failing(target):
        (target / "half-written").write_text("x")
        raise SetupError("installing tensorflowjs failed (exit 1)")

    monkeypatch.setattr(tc, "_run_installer", failing)
    with pytest.raises(SetupError):
        tc.install(log=lambda m: None)
    assert not tc.installed_here() and list((tools / "python").iterdir()) == []


def test_installed_folder_goes_on_sys_path_after_site_packages(tools, monkeypatch):
    monkeypatch.setattr(tc, "_run_installer", _fake_installer)
    monkeypatch.setattr(sys, "path", list(sys.path))
    tc.install(log=lambda m: None)
    tc.add_to_path()
    tc.add_to_path()
    assert sys.path.count(str(tc.install_dir())) == 1 and sys.path[-1] == str(tc.install_dir())


def test_installer_is_pip_when_present_else_uv(tmp_path, monkeypatch):
    req = tmp_path / "r.txt"
    monkeypatch.setattr(tc, "module_available", lambda name: True)
    cmd = tc.installer_command(tmp_path / "t", req)
    assert (
        cmd[:4] == [sys.executable, "-m", "pip", "install"]
        and "--no-deps" in cmd
        and "--require-hashes" in cmd
    )
    monkeypatch.setattr(tc, "module_available", lambda name: False)
    monkeypatch.setattr(tc.shutil, "which", lambda name: "/opt/bin/uv" if name == "uv" else None)
    cmd = tc.installer_command(tmp_path / "t", req)
    assert cmd[:3] == ["/opt/bin/uv", "pip", "install"] and "--target" in cmd and "--no-deps" in cmd
    monkeypatch.setattr(tc.shutil, "which", lambda name: None)
    with pytest.raises(NotInstalledError, match="neither pip nor uv"):
        tc.installer_command(tmp_path / "t", req)


def test_requirements_pin_the_wheel_hash(tmp_path, monkeypatch):
    seen = {}

    def fake_run(cmd, **kwargs):
        seen["req"] = Path(cmd[-1]).read_text()
        raise subprocess.TimeoutExpired(cmd, 1)

    monkeypatch.setattr("edgekit.setup.process.subprocess.run", fake_run)
    with pytest.raises(SetupError, match="took over"):
        tc._run_installer(tmp_path / "target")
    assert seen["req"] == f"tensorflowjs=={tc.TFJS_VERSION} --hash=sha256:{tc.TFJS_WHEEL_SHA256}\n"
    assert list(tmp_path.iterdir()) == []  # the requirements file is removed
