"""`edgekit setup tfjs`: the tensorflowjs converter, installed without its unusable dependencies.

tensorflowjs 4.22 (its last release) declares tensorflow-decision-forests, which pins TensorFlow
2.19, and jax/flax, which its SavedModel → graph model converter never uses. No resolver (pip or
uv in a project that depends on edgekit) can install it beside TensorFlow 2.21, so it is not a
dependency of any extra. Instead this step installs exactly that wheel, hash-checked and with
no dependencies, into edgekit's tools folder (not site-packages), and edgekit appends that folder
to sys.path when it converts. Nothing lands in the environment's bin/: the `tensorflowjs_converter`
script there would crash at start (it imports tensorflow_decision_forests), so none is installed.
The modules it imports at import time without needing them are handled by
edgekit/convert/_tfjs_imports.py. What it does need (TensorFlow, tf-keras, tensorflow-hub, six,
importlib-resources, packaging) comes with the `tf` extra.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from edgekit.errors import NotInstalledError, SetupError
from edgekit.paths import tools_root
from edgekit.setup.extras import (
    TFJS_VERSION,
    converter_missing_error,
    module_available,
    require_extra,
)
from edgekit.setup.process import run_setup_command

TFJS_WHEEL_SHA256 = "bd4deb1e7feab538ee7f2625fe85446742bb4765bebab345b534688ab41e3e1c"
_CONVERTER_FILE = Path("tensorflowjs") / "converters" / "tf_saved_model_conversion_v2.py"
INSTALL_TIMEOUT_S = 600.0


def install_dir() -> Path:
    return tools_root() / "python" / f"tensorflowjs-{TFJS_VERSION}"


def installed_here() -> bool:
    return (install_dir() / _CONVERTER_FILE).is_file()


def add_to_path() -> None:
    """Make the tools folder's tensorflowjs importable; one in site-packages (if any) still wins."""
    folder = str(install_dir())
    if installed_here() and folder not in sys.path:
        sys.path.append(folder)


def converter_location() -> str | None:
    """Where tensorflowjs would be imported from, or None when it is not installed anywhere."""
    if installed_here():
        add_to_path()
        return str(install_dir())
    if not module_available("tensorflowjs"):
        return None
    import importlib.util

    spec = importlib.util.find_spec("tensorflowjs")
    origin = Path(spec.origin).parent if spec and spec.origin else None
    if origin is None or origin.parent.name.startswith("tensorflowjs-"):
        return None  # another tools folder put on sys.path earlier in this process (EDGEKIT_TOOLS changed)
    return str(origin)


def require_converter(needed_by: str) -> None:
    if converter_location() is None:
        raise converter_missing_error(needed_by)


def install(force: bool = False, log: Callable[[str], None] = print) -> Path:
    """Install the pinned wheel into install_dir(); returns it. A no-op when already there."""
    require_extra("tf", "the TF.js converter")
    final = install_dir()
    if installed_here() and not force:
        log(f"tensorflowjs {TFJS_VERSION} already installed in {final}")
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.partial-", dir=final.parent))
    try:
        log(
            f"installing tensorflowjs {TFJS_VERSION} (sha256 {TFJS_WHEEL_SHA256[:12]}…, no dependencies) into {final}"
        )
        _run_installer(staging)
        if not (staging / _CONVERTER_FILE).is_file():
            raise SetupError(f"the installer finished but {staging / _CONVERTER_FILE} is missing")
        shutil.rmtree(staging / "bin", ignore_errors=True)  # console scripts that would crash
        _replace(staging, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final


def _replace(staging: Path, final: Path) -> None:
    if final.exists():
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        final.rename(old)
        shutil.rmtree(old, ignore_errors=True)
    staging.rename(final)


def _run_installer(target: Path) -> None:
    requirements = target.parent / f".{target.name}.requirements.txt"
    requirements.write_text(f"tensorflowjs=={TFJS_VERSION} --hash=sha256:{TFJS_WHEEL_SHA256}\n")
    try:
        run_setup_command(
            installer_command(target, requirements),
            "installing tensorflowjs",
            INSTALL_TIMEOUT_S,
            "check that the package index is reachable (pip/uv settings) and run it again",
        )
    finally:
        requirements.unlink(missing_ok=True)


def installer_command(target: Path, requirements: Path) -> list[str]:
    """pip when this environment has it, else uv (uv-made environments have no pip)."""
    common = ["--no-deps", "--require-hashes", "--target", str(target), "-r", str(requirements)]
    if module_available("pip"):
        return [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "--no-input", *common]
    uv = shutil.which("uv")
    if uv:
        return [uv, "pip", "install", "--python", sys.executable, *common]
    raise NotInstalledError(
        "neither pip nor uv is available to install tensorflowjs",
        hint=f"`{sys.executable} -m ensurepip`, or install uv, then run `edgekit setup tfjs` again",
    )
