"""The device side: `python -m edgekit.devices.agent RUN_FOLDER`.

Runs from the device's core install of edgekit-ml, in a per-run folder the host filled with the
artifact, its inputs and request.json. It checks every file's sha256 against the request before
running anything, reads the device fingerprint, measures with the same protocol and code as
`edgekit bench` on the host (one fresh process per artifact), reads the fingerprint again, and
prints one result line `EDGEKIT-RESULT {json}` on stdout. SIGALRM ends it at the request's
deadline even if the runtime hangs, so it cannot outlive a connection that dropped.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sys
import traceback
from pathlib import Path

RESULT_PREFIX = "EDGEKIT-RESULT "
PROTOCOL_VERSION = 1
EXIT_OK, EXIT_FAILED, EXIT_INTEGRITY = 0, 3, 4


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def integrity_errors(folder: Path, manifest: dict[str, str]) -> list[str]:
    errors = []
    for rel, expected in sorted(manifest.items()):
        path = folder / rel
        if not path.is_file():
            errors.append(f"{rel} is missing on the device")
        elif (got := _sha256(path)) != expected:
            errors.append(f"{rel}: sha256 on the device is {got[:16]}…, the host sent {expected[:16]}…")
    return errors


def _absolute(folder: Path, target: dict) -> dict:
    return {
        **target,
        "path": str(folder / target["path"]),
        "reference": str(folder / target["reference"]) if target.get("reference") else None,
    }


def run(folder: Path) -> tuple[dict, int]:
    from edgekit.bench.result import failed_result
    from edgekit.devices.fingerprint import fingerprint, trust_reasons
    from edgekit.errors import EdgekitError

    request = json.loads((folder / "request.json").read_text())
    if request.get("protocol_version") != PROTOCOL_VERSION:
        raise SystemExit(
            f"request protocol {request.get('protocol_version')} != this agent's {PROTOCOL_VERSION}: "
            "install the same edgekit-ml version on the device as on the host"
        )
    signal.alarm(max(1, int(request["deadline_s"])))  # default SIGALRM action ends the process
    target = _absolute(folder, request["target"])

    def fail(error, tail=None):
        return failed_result(target["path"], target, request["protocol"], request.get("runtime"), error, tail)

    errors = integrity_errors(folder, request["manifest"])
    if errors:
        return fail("integrity check failed before running: " + "; ".join(errors)), EXIT_INTEGRITY
    before = fingerprint()
    try:
        from edgekit.bench.worker import measure_request

        result, code = measure_request({**request, "target": target}), EXIT_OK
    except EdgekitError as exc:
        result, code = fail(str(exc)), EXIT_FAILED
    except Exception as exc:  # a runtime bug must become a failed row with its trace
        result, code = fail(f"{type(exc).__name__}: {exc}", traceback.format_exc()[-4000:]), EXIT_FAILED
    after = fingerprint()
    result["device_fingerprint"] = {"before": before, "after": after}
    reasons = trust_reasons(before, after)
    if result["status"] == "ok" and reasons:
        result["validity"] = "UNTRUSTED"
        result["validity_reasons"] = reasons + list(result["validity_reasons"])
    return result, code


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m edgekit.devices.agent RUN_FOLDER", file=sys.stderr)
        return 2
    result, code = run(Path(argv[0]).resolve())
    sys.stdout.write(RESULT_PREFIX + json.dumps(result) + "\n")
    sys.stdout.flush()
    return code


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.exit(main(sys.argv[1:]))
