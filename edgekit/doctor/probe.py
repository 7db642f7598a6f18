"""Is one install part usable right now, and if not, what fixes it? Used by `edgekit doctor`.

A part is what a format's converter or a runtime declares in `requires`: an extra ("tf",
"viz"), "tfjs" (the converter `edgekit setup tfjs` installs), "node", "js-runner" (the TF.js
runner's npm packages), "chromium", or a Python module by import name. Probes never import
heavy modules (TensorFlow takes seconds): they look for them.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from importlib import metadata

from edgekit.errors import EdgekitError
from edgekit.setup.extras import EXTRAS, module_available

# import name → distribution name, to report versions without importing
DISTRIBUTIONS = {
    "numpy": "numpy",
    "ai_edge_litert": "ai-edge-litert",
    "onnx": "onnx",
    "onnxruntime": "onnxruntime",
    "pydantic": "pydantic",
    "yaml": "pyyaml",
    "typer": "typer",
    "rich": "rich",
    "tensorflow": "tensorflow",
    "tf_keras": "tf-keras",
    "tensorflow_hub": "tensorflow-hub",
    "tf2onnx": "tf2onnx",
    "matplotlib": "matplotlib",
    "tensorboard": "tensorboard",
    "tensorflowjs": "tensorflowjs",
    "tflite_micro": "tflite-micro",
    "cryptography": "cryptography",
    "oras": "oras",
}
CORE_MODULES = ("numpy", "ai_edge_litert", "onnx", "onnxruntime", "pydantic", "yaml", "typer", "rich")


@dataclass(frozen=True)
class Probe:
    ok: bool
    detail: str
    fix: str | None = None


def module_version(module: str) -> str | None:
    try:
        return metadata.version(DISTRIBUTIONS.get(module, module))
    except metadata.PackageNotFoundError:
        return None


def probe_modules(modules: tuple[str, ...], fix: str) -> Probe:
    missing = [m for m in modules if not module_available(m)]
    if missing:
        return Probe(False, f"missing {', '.join(missing)}", fix)
    return Probe(True, ", ".join(f"{m} {module_version(m) or '?'}" for m in modules))


def probe(part: str) -> Probe:
    if part in EXTRAS:
        return probe_modules(EXTRAS[part].modules, EXTRAS[part].install_line())
    probes = {
        "tfjs": _probe_tfjs,
        "node": _probe_node,
        "js-runner": _probe_js_runner,
        "chromium": _probe_chromium,
    }
    if part in probes:
        return probes[part]()
    return probe_modules((part,), f'pip install --force-reinstall "edgekit-ml"  (provides {part})')


def probe_all(parts: tuple[str, ...]) -> Probe:
    """The first failing part's probe, else one that joins every part's detail."""
    results = [probe(p) for p in parts]
    failed = [r for r in results if not r.ok]
    if failed:
        return failed[0]
    return Probe(True, "; ".join(r.detail for r in results) or "nothing extra needed")


def _probe_tfjs() -> Probe:
    from edgekit.setup.extras import TFJS_HINT
    from edgekit.setup.tfjs_converter import converter_location

    location = converter_location()
    if location is None:
        return Probe(False, "tensorflowjs is not installed", TFJS_HINT.removeprefix("run "))
    return Probe(
        True, f"tensorflowjs {module_version('tensorflowjs') or ''} at {location}".replace("  ", " ")
    )


def _probe_node() -> Probe:
    from edgekit.setup.js_runner import NODE_HINT, node_version, require_node

    try:
        node = require_node()
    except EdgekitError as exc:
        return Probe(False, exc.message, NODE_HINT)
    return Probe(
        True,
        f"node {'.'.join(map(str, node_version(node) or ()))} at {node}; npm {'found' if shutil.which('npm') else 'MISSING'}",
    )


def _probe_js_runner() -> Probe:
    from edgekit.setup.js_runner import ensure_runner

    try:
        return Probe(True, f"ready at {ensure_runner(install=False)}")
    except EdgekitError as exc:
        return Probe(False, exc.message, (exc.hint or "").removeprefix("run "))


def _probe_chromium() -> Probe:
    from edgekit.runtimes._tfjs_browser import find_chromium

    try:
        return Probe(True, find_chromium())
    except EdgekitError as exc:
        return Probe(False, exc.message, exc.hint)
