"""The TF.js runner: JavaScript shipped inside the package, its npm packages in the tools folder.

edgekit/js/ (runner.mjs, lib/, browser/, package.json, package-lock.json) is package data. Node
resolves ES-module imports relative to the importing file, so the runner cannot use packages
installed elsewhere: `edgekit setup js` (or the first TF.js measurement) copies the shipped files
into tools/js/runner-<hash of those files>/ and runs `npm ci` there, from the shipped lockfile,
so the versions are exactly the locked ones. A new edgekit release with a different runner gets a
new folder; an old folder is never modified. EDGEKIT_JS_DIR points at a ready runner folder
instead (one with node_modules already installed), e.g. a checkout's edgekit/js after `npm ci`.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from edgekit.errors import NotInstalledError, SetupError
from edgekit.paths import tools_root
from edgekit.setup.process import run_setup_command

PACKAGED_JS = Path(__file__).resolve().parents[1] / "js"
MIN_NODE_MAJOR = 18
NPM_TIMEOUT_S = 900.0
_MARKER = Path("node_modules") / "@tensorflow" / "tfjs-backend-wasm" / "package.json"
NODE_HINT = f"install Node.js {MIN_NODE_MAJOR} or newer (with npm), e.g. `apt-get install nodejs npm`, then run `edgekit setup js`"
SETUP_HINT = (
    "run `edgekit setup js` (npm ci of the TF.js runner's locked packages into edgekit's tools folder)"
)


def runner_files(source: Path = PACKAGED_JS) -> list[Path]:
    """The runner's own files (relative paths), without node_modules, sorted."""
    return sorted(
        p.relative_to(source)
        for p in source.rglob("*")
        if p.is_file() and "node_modules" not in p.relative_to(source).parts and "__pycache__" not in p.parts
    )


def runner_fingerprint(source: Path = PACKAGED_JS) -> str:
    digest = hashlib.sha256()
    for rel in runner_files(source):
        digest.update(rel.as_posix().encode() + b"\0" + (source / rel).read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def runner_dir() -> Path:
    return tools_root() / "js" / f"runner-{runner_fingerprint()}"


def is_ready(folder: Path) -> bool:
    return (folder / _MARKER).is_file() and (folder / "runner.mjs").is_file()


def node_version(node: str | None = None) -> tuple[int, ...] | None:
    """Node's version as a tuple, or None when there is no working `node`."""
    node = node or shutil.which("node")
    if node is None:
        return None
    try:
        out = subprocess.run(
            [node, "--version"], capture_output=True, text=True, timeout=30, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.match(r"v?(\d+)\.(\d+)\.(\d+)", out.strip())
    return tuple(int(x) for x in match.groups()) if match else None


def require_node() -> str:
    node = shutil.which("node")
    version = node_version(node)
    if node is None or version is None:
        raise NotInstalledError(
            "the TF.js runtimes need Node.js, and there is no working `node` on PATH", hint=NODE_HINT
        )
    if version[0] < MIN_NODE_MAJOR:
        found = ".".join(map(str, version))
        raise NotInstalledError(
            f"the TF.js runtimes need Node.js {MIN_NODE_MAJOR}+, found {found} at {node}", hint=NODE_HINT
        )
    return node


def ensure_runner(install: bool = True, log: Callable[[str], None] | None = None) -> Path:
    """A runner folder with its npm packages; installs them on first use unless install=False."""
    override = os.environ.get("EDGEKIT_JS_DIR")
    if override:
        folder = Path(override).expanduser()
        if not is_ready(folder):
            raise NotInstalledError(
                f"EDGEKIT_JS_DIR={override} is not a ready TF.js runner (no runner.mjs or {_MARKER})",
                hint=f"run `npm ci` in {folder}, or unset EDGEKIT_JS_DIR to use edgekit's own runner",
            )
        return folder
    folder = runner_dir()
    if is_ready(folder):
        return folder
    if not install:
        raise NotInstalledError(
            f"the TF.js runner's npm packages are not installed ({folder})", hint=SETUP_HINT
        )
    return install_runner(log=log or _stderr)


def install_runner(force: bool = False, log: Callable[[str], None] | None = None) -> Path:
    log = log or _stderr
    require_node()
    npm = shutil.which("npm")
    if npm is None:
        raise NotInstalledError(
            "`npm` is not on PATH (it installs the TF.js runner's packages)", hint=NODE_HINT
        )
    final = runner_dir()
    final.parent.mkdir(parents=True, exist_ok=True)
    from edgekit.filelock import FileLock

    with FileLock(final.parent / f"{final.name}.lock", timeout_s=NPM_TIMEOUT_S + 60):
        if is_ready(final) and not force:
            return final  # another process installed it while we waited
        log(f"installing the TF.js runner's npm packages (npm ci from the shipped lockfile) into {final}")
        staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.partial-", dir=final.parent))
        try:
            for rel in runner_files():
                (staging / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(PACKAGED_JS / rel, staging / rel)
            _npm_ci(npm, staging)
            if not is_ready(staging):
                raise SetupError(f"npm ci finished but {staging / _MARKER} is missing")
            if final.exists():
                shutil.rmtree(final)
            staging.rename(final)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return final


def _npm_ci(npm: str, folder: Path) -> None:
    run_setup_command(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        f"npm ci in {folder}",
        NPM_TIMEOUT_S,
        "check that the npm registry is reachable (npm config), then run `edgekit setup js` again",
        cwd=folder,
    )


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
