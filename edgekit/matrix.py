"""The conversion matrix: which (format, quant mode) combinations a run produces, and one row each.

A combination that fails becomes a row with its reason; it never stops the others.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from edgekit.errors import UsageError
from edgekit.results import BenchResult, ParityResult
from edgekit.targets.profile import TargetProfile

if TYPE_CHECKING:
    from edgekit.targets.estimator import Estimate


@dataclass
class Row:
    format: str
    quant: str
    status: str = "pending"  # ok | failed | skipped
    error: str | None = None
    artifact: Any = None  # edgekit.artifact.Artifact once converted
    # The steps' typed results; plain dicts only in report.json (to_dict).
    parity: ParityResult | None = None
    bench: BenchResult | None = None  # measured on the host
    estimate: Estimate | None = None  # predicted for the target
    device: list[BenchResult] | None = None  # `convert --device`: measured on the user's devices
    notes: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.format}-{self.quant}"

    def fail(self, error: Exception | str) -> None:
        self.status, self.error = "failed", str(error).split("\n  hint:")[0]

    def to_dict(self) -> dict[str, Any]:
        """The row as report.json's artifacts[] entry (edgekit/report/report.schema.json)."""
        return {
            "format": self.format,
            "quant": self.quant,
            "status": self.status,
            "error": self.error,
            "parity": self.parity.to_dict() if self.parity is not None else None,
            "bench": self.bench.to_dict() if self.bench is not None else None,
            "estimate": self.estimate.to_dict() if self.estimate is not None else None,
            "device": [r.to_dict() for r in self.device] if self.device is not None else None,
            "notes": self.notes,
            "artifact": self.artifact.to_dict() if self.artifact is not None else None,
        }


def plan_combinations(profile: TargetProfile, formats: list[str], quants: list[str]) -> list[Row]:
    """The target's plan, narrowed by --format/--quant. Unknown names are usage errors."""
    from edgekit.convert import FORMATS
    from edgekit.quant import QUANT_MODES

    wanted_formats = [FORMATS.canonical(f) for f in formats] or [
        FORMATS.canonical(f) for f in profile.plan.formats
    ]
    wanted_quants = [QUANT_MODES.canonical(q) for q in quants]
    rows = []
    for fmt in wanted_formats:
        declared = FORMATS.get(fmt).quant_modes
        modes = wanted_quants or profile.plan.quant.get(fmt) or ["fp32"]
        rows += [Row(fmt, q) for q in modes if q in declared]
        # Never drop a request silently: an explicitly asked mode the format lacks is a visible row.
        rows += [
            Row(fmt, q, "skipped", f"{fmt} has no quant mode {q} (it has {', '.join(declared)})")
            for q in wanted_quants
            if q not in declared
        ]
    if not any(r.status == "pending" for r in rows):
        raise UsageError(
            f"nothing to convert: no format among {', '.join(wanted_formats)} supports quant mode(s) {', '.join(wanted_quants)}",
            hint="see `edgekit list formats` and `edgekit list quant`",
        )
    return rows
