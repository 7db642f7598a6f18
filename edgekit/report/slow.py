"""Quant modes that run slower than fp32 in their own runtime, and why when it is known.

A smaller, "faster" mode can be many times slower than fp32 on the host: LiteRT has no XNNPACK
kernels for int16x8 and falls back to its reference kernels (a MobileNetV2 recipe measured 28 ms
against 0.31 ms for fp32), and ONNX Runtime runs dynamic-int8 convolutions as ConvInteger, which
has no optimised x86 kernel (13.3 ms against 0.40 ms). Such a row must say so rather than look
like any other. SLOW_KERNELS is also what target plans are checked against: a bundled profile's
plan never lists a mode its runtime has no optimised kernels for (tests/report/test_slow_modes.py);
`edgekit convert --quant MODE` still builds one on request.
"""

from __future__ import annotations

from edgekit.report.mannwhitney import mann_whitney_greater
from edgekit.report.samples import bench_samples, median_ms

# Slower only when the median is worse by more than this AND, with raw samples on both sides, a
# one-sided Mann-Whitney test agrees (the same two conditions as `edgekit check`).
MIN_SLOWDOWN = 0.10
# When either measurement is not VALID (noisy: a busy or oversubscribed host), the two rows were
# measured minutes apart under different load, which no test on the samples can see; then only a
# gap load does not explain counts. Seen: the demo's int8 row measured 1.8x "slower" than fp32
# (0.105 vs 0.058 ms, both UNSTABLE, 4 threads on a busy 2-core host); the README's run had 0.7x.
MIN_SLOWDOWN_NOISY = 1.0
ALPHA = 0.01

# (runtime, quant mode) -> (machines it applies to, or None for all; the reason).
SLOW_KERNELS: dict[tuple[str, str], tuple[tuple[str, ...] | None, str]] = {
    ("litert", "int16x8"): (
        None,
        "no optimised kernels for int16x8 in XNNPACK (LiteRT runs its reference kernels)",
    ),
    ("onnxruntime", "dynamic-int8"): (
        ("x86_64", "amd64", "i686", "x86"),
        "no optimised kernels for dynamic-int8 convolutions (ConvInteger) on x86",
    ),
}


def known_slow(runtime: str, quant: str, machine: str | None = None) -> str | None:
    """The reason RUNTIME has no fast kernels for QUANT (on MACHINE), or None when it is not known to be slow."""
    entry = SLOW_KERNELS.get((runtime, quant))
    if entry is None:
        return None
    machines, reason = entry
    if machines is not None and machine is not None and machine.lower() not in machines:
        return None
    return reason


def _runtime(a: dict) -> str | None:
    rt = (a.get("bench") or {}).get("runtime")
    return rt.get("runtime") if isinstance(rt, dict) else rt


def slower_than_fp32(artifact: dict, fp32: dict, machine: str | None = None) -> dict | None:
    """{runtime, ratio, p50_ms, fp32_p50_ms, p_value, reason, text} when ARTIFACT is measurably slower than FP32."""
    m, m32 = median_ms(artifact.get("bench")), median_ms(fp32.get("bench"))
    runtime = _runtime(artifact)
    if m is None or not m32 or runtime is None or runtime != _runtime(fp32):
        return None
    ratio = m / m32
    noisy = any((a.get("bench") or {}).get("validity", "VALID") != "VALID" for a in (artifact, fp32))
    if ratio <= 1.0 + (MIN_SLOWDOWN_NOISY if noisy else MIN_SLOWDOWN):
        return None
    s, s32 = bench_samples(artifact.get("bench")), bench_samples(fp32.get("bench"))
    p = mann_whitney_greater(s32, s).p_value if s is not None and s32 is not None else None
    if p is not None and p >= ALPHA:
        return None
    reason = known_slow(runtime, artifact["quant"], machine)
    text = (
        f"slower than fp32 in {runtime}: {m:.3g} ms vs {m32:.3g} ms p50 ({ratio:.1f}×"
        + (", noisy measurement" if noisy else "")
        + ")"
        + (f": {reason}" if reason else "")
    )
    return {
        "runtime": runtime,
        "ratio": round(ratio, 3),
        "p50_ms": m,
        "fp32_p50_ms": m32,
        "p_value": p,
        "noisy": noisy,
        "reason": reason,
        "text": text,
    }


def mark_slow_modes(report: dict) -> dict:
    """Set `slower_than_fp32` on every ok, measured row slower than its format's fp32 row (else None)."""
    rows = report.get("artifacts", [])
    machine = (report.get("host") or {}).get("machine")
    fp32 = {a["format"]: a for a in rows if a.get("quant") == "fp32" and a.get("status") == "ok"}
    for a in rows:
        base = fp32.get(a["format"])
        ok = a.get("status") == "ok" and a.get("quant") != "fp32"
        a["slower_than_fp32"] = slower_than_fp32(a, base, machine) if ok and base is not None else None
    return report


def slow_notes(report: dict) -> list[str]:
    """'tflite-int16x8: slower than fp32 in litert: ...' for every row marked slow."""
    return [
        f"{a['format']}-{a['quant']}: {a['slower_than_fp32']['text']}"
        for a in report.get("artifacts", [])
        if a.get("slower_than_fp32")
    ]
