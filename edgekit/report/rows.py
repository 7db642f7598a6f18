"""One row per artifact as display strings: shared by the terminal summary, report.md and report.html."""

from __future__ import annotations

# The accuracy column is measured on the parity images (a prefix of the test split, at most
# parity.max_samples), not the whole test split the reference's test accuracy is measured on; the
# reference's accuracy on the SAME images is shown beside it so the two cannot be confused.
ACCURACY = "parity-set accuracy (ref)"
COLUMNS = (
    "format",
    "quant",
    "status",
    "size",
    "parity",
    "top-1 agree",
    "max |err|",
    ACCURACY,
    "host p50",
    "host p90",
    "bench",
)
# Shown only when at least one artifact has a target estimate (the estimator may not have run).
ESTIMATE_COLUMNS = ("est. target", "target verdict")
# Shown only when artifacts were also measured on the user's devices (`convert --device`), next to the estimate.
DEVICE_COLUMN = "device p50"
_ESTIMATE_KEYS = ("latency_ms", "p50_ms", "estimated_ms", "mean_ms", "ms")


def human_size(n: int | None) -> str:
    """N bytes in binary units (report/units.py): '293.0 KiB', '8.6 MiB'."""
    from edgekit.report.units import size_unit

    if n is None:
        return "-"
    if n < 1024:
        return f"{n:.0f} B"
    unit, size = size_unit(n)
    return f"{n / size:.1f} {unit}"


def ms_text(v: float | None) -> str:
    return "-" if v is None else (f"{v:.3f} ms" if v < 1 else f"{v:.2f} ms")


def estimated_ms(estimate: dict | None) -> float | None:
    """The estimated target latency, whichever key the estimator used for it."""
    if not estimate:
        return None
    for key in _ESTIMATE_KEYS:
        value = estimate.get(key)
        if isinstance(value, dict):
            value = value.get("p50") or value.get("median") or value.get("mean")
        if isinstance(value, (int, float)):
            return float(value)
    return None


def estimate_verdict(estimate: dict | None) -> str:
    if not estimate:
        return "-"
    for key in ("verdict", "fit", "fits"):
        if key in estimate:
            v = estimate[key]
            return ("fits" if v else "does not fit") if isinstance(v, bool) else str(v)
    return "-"


def _parity_accuracy(p: dict) -> str:
    if not p or p.get("accuracy") is None:
        return "-"
    ref = p.get("reference_accuracy")
    return f"{p['accuracy']:.3f}" + (f" ({ref:.3f})" if ref is not None else "")


def accuracy_basis(report: dict) -> str:
    """One sentence saying which images each accuracy figure is measured on."""
    if report.get("model"):  # `convert MODEL`: no test split; parity images from --data, or generated
        return model_inputs_basis(report)
    ref = report.get("reference") or {}
    acc = ref.get("test_accuracy")
    n_test = (ref.get("health") or {}).get("test_images")
    samples = sorted(
        {n for a in report.get("artifacts", []) if (n := (a.get("parity") or {}).get("samples")) is not None}
    )
    text = (
        "reference test accuracy "
        + ("-" if acc is None else f"{acc:.3f}")
        + (f" on {n_test} test images" if n_test else " on the test split")
    )
    if samples:
        n = f"{samples[0]}" if len(samples) == 1 else f"{samples[0]}-{samples[-1]}"
        text += (
            f"; {ACCURACY}: each artifact's accuracy on the {n} parity images (the first of the test split), "
            "the reference's accuracy on the same images in brackets"
        )
    return text


def model_inputs_basis(report: dict) -> str:
    """accuracy_basis for a run from a trained model: which images parity used, and whether they were real."""
    inputs = (report.get("model") or {}).get("inputs") or {}
    acc = (report.get("reference") or {}).get("test_accuracy")
    n = inputs.get("parity_images", "?")
    if inputs.get("kind") == "generated":
        return (
            f"parity on {n} generated inputs (seeded noise, no --data): outputs compared, no accuracy; "
            "full-integer modes skipped (no calibration images)"
        )
    where = inputs.get("data", "--data")
    if acc is None:
        text = f"parity on {n} unlabelled images of {where} (no labels, so no accuracy)"
    else:
        text = (
            f"reference accuracy {acc:.3f} on the {n} labelled parity images of {where}; {ACCURACY}: each "
            "artifact's accuracy on them, the reference's in brackets"
        )
    return text + f"; {inputs.get('calibration_images', '?')} other images calibrate full-integer modes"


def reference_flags(report: dict) -> list[str]:
    """Why the reference itself is not trustworthy (does not beat chance, loss did not move); [] when fine."""
    health = (report.get("reference") or {}).get("health") or {}
    return [str(f) for f in health.get("flags") or []]


def columns_for(report: dict) -> tuple[str, ...]:
    has_estimate = any(a.get("estimate") for a in report.get("artifacts", []))
    has_device = any(a.get("device") for a in report.get("artifacts", []))
    columns: tuple[str, ...] = COLUMNS + ESTIMATE_COLUMNS if has_estimate else COLUMNS
    if has_device:
        at = columns.index("est. target") + 1 if has_estimate else len(columns)
        columns = columns[:at] + (DEVICE_COLUMN,) + columns[at:]
    return columns


def device_cell(results: list[dict] | None) -> str:
    """Measured p50 per device, with the device's name and any verdict other than VALID."""
    cells = []
    for r in results or []:
        name = (r.get("device") or {}).get("name", "?")
        if r.get("status") != "ok":
            cells.append(f"failed ({name})")
            continue
        verdict = "" if r.get("validity") == "VALID" else f" {r.get('validity')}"
        cells.append(f"{ms_text(r.get('p50_ms'))} ({name}){verdict}")
    return "; ".join(cells) or "-"


def display_row(a: dict) -> dict[str, str]:
    p, b, art = a.get("parity") or {}, a.get("bench") or {}, a.get("artifact") or {}
    return {
        "format": a["format"],
        "quant": a["quant"],
        "status": a["status"] if not a.get("error") else f"{a['status']}: {a['error']}",
        "size": human_size(art.get("size_bytes")),
        "parity": p.get("verdict", "-"),
        "top-1 agree": f"{p['top1_agreement']:.3f}" if p else "-",
        "max |err|": f"{p['max_abs_err']:.2g}" if p else "-",
        ACCURACY: _parity_accuracy(p),
        "host p50": ms_text(b.get("p50_ms"))
        + (f" ⚠ {slow['ratio']:.1f}× fp32" if (slow := a.get("slower_than_fp32")) else ""),
        "host p90": ms_text(b.get("p90_ms")),
        "bench": b.get("validity", "-"),
        "est. target": ms_text(estimated_ms(a.get("estimate"))),
        "target verdict": estimate_verdict(a.get("estimate")),
        DEVICE_COLUMN: device_cell(a.get("device")),
    }
