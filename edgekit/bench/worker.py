"""The measuring process: `python -m edgekit.bench.worker '<json request>'`.

One fresh process per artifact, so no artifact inherits another's allocator state, thread pools
or page cache warmth, and peak RSS is this artifact's alone. The worker writes one result JSON
(see result.py) to request["out"]; if it dies before that, the parent (runner.py) reports it.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path

EXIT_FAILED = 3  # the worker ran and wrote a failed result (load error, bad input)


def _peak_rss_kb(who: int) -> int | None:
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(who).ru_maxrss
    return int(peak // 1024) if sys.platform == "darwin" else int(peak)  # macOS reports bytes, Linux KiB


def _load_artifact(target: dict):
    from edgekit.artifact import Artifact
    from edgekit.bench.bare import artifact_from_file

    path = Path(target["path"])
    return (
        Artifact.load(path)
        if target["kind"] == "artifact-dir"
        else artifact_from_file(path, target["format"])
    )


def measure_request(request: dict) -> dict:
    import resource

    from edgekit.bench.host import host_fingerprint
    from edgekit.bench.inputs import inputs_for
    from edgekit.bench.measure import Protocol, measure
    from edgekit.bench.result import now, ok_result
    from edgekit.runtimes import load_session

    started = now()
    target, protocol = request["target"], Protocol(**request["protocol"])
    artifact = _load_artifact(target)
    inputs = inputs_for(artifact, Path(target["reference"]) if target.get("reference") else None)
    m = measure(
        lambda: load_session(artifact, protocol.threads, request.get("runtime")), inputs.x[:1], protocol
    )
    result = ok_result(
        artifact, m, protocol, inputs, host_fingerprint(), _peak_rss_kb(resource.RUSAGE_SELF), started
    )
    result["peak_rss_children_kb"] = _peak_rss_kb(resource.RUSAGE_CHILDREN) or None
    if target["kind"] == "file":
        result["label"] = target["path"]
    return result


def main(argv: list[str]) -> int:
    from edgekit.bench.result import failed_result
    from edgekit.errors import EdgekitError
    from edgekit.fsutil import atomic_write_json

    request = json.loads(argv[0])
    target = request["target"]
    try:
        result, code = measure_request(request), 0
    except EdgekitError as exc:
        result, code = (
            failed_result(target["path"], target, request["protocol"], request.get("runtime"), str(exc)),
            EXIT_FAILED,
        )
    except Exception as exc:  # a runtime bug must become a failed row with its trace, not a lost one
        error = f"{type(exc).__name__}: {exc}"
        result = failed_result(
            target["path"],
            target,
            request["protocol"],
            request.get("runtime"),
            error,
            stderr_tail=traceback.format_exc()[-4000:],
        )
        code = EXIT_FAILED
    atomic_write_json(request["out"], result)
    return code


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.exit(main(sys.argv[1:]))
