"""The typed results the steps of a run put on each matrix row: parity and bench (the estimate is
edgekit.targets.estimator.Estimate).

Steps read and write these objects; they become plain dicts only where report.json is written
(Row.to_dict) and where a step records a result for a later run to reuse (from_dict reads it
back). The dict layouts are the report's: edgekit/report/report.schema.json for parity,
edgekit/bench/result.schema.json for a measurement.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any


@dataclass
class ParityResult:
    """How far an artifact's outputs are from the reference's on the same inputs, and the verdict."""

    samples: int
    cosine: float  # mean over samples of the cosine similarity of output vectors
    max_abs_err: float
    mean_abs_err: float
    top1_agreement: float
    accuracy: float | None  # task accuracy of the artifact on the labelled inputs
    reference_accuracy: float | None
    verdict: str  # pass | warn | fail
    reasons: list[str] = field(default_factory=list)
    # Set only where they apply (and only then written): the firmware runtime's own check against
    # LiteRT (edgekit/runtimes/tflm.py), and the int8 error per layer when int8 parity is not a pass.
    micro: dict[str, Any] | None = None
    worst_layers: list[dict[str, Any]] | None = None

    @property
    def passed(self) -> bool:
        return self.verdict == "pass"

    def fail(self, reason: str) -> None:
        """A later check (TFLite Micro) found the artifact wrong: the verdict is fail, with why."""
        self.verdict = "fail"
        self.reasons.append(reason)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for optional in ("micro", "worst_layers"):
            if d[optional] is None:
                del d[optional]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ParityResult:
        """A recorded result back; KeyError/TypeError/ValueError when D is not one (the caller redoes it)."""
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown parity field(s) {sorted(unknown)}")
        result = cls(**d)
        if not isinstance(result.verdict, str) or not isinstance(result.reasons, list):
            raise TypeError("parity verdict must be a string and reasons a list")
        return result


@dataclass(frozen=True)
class BenchResult:
    """One measurement of one artifact (on the host, or on a device with `--device`).

    The whole record is what bench/result.schema.json specifies, published as is by `edgekit
    bench --json` and in report.json; the fields beside it are the parts the pipeline reads.
    """

    status: str  # ok | failed
    error: str | None
    validity: str | None  # VALID | UNSTABLE | INVALID | FAILED
    p50_ms: float | None
    device: str | None  # the device's name, for a measurement made on one
    record: dict[str, Any] = field(repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        return dict(self.record)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BenchResult:
        if not isinstance(d, dict) or d.get("status") not in ("ok", "failed"):
            raise ValueError(f"not a bench result: status {d.get('status') if isinstance(d, dict) else d!r}")
        device = d.get("device")
        return cls(
            status=d["status"],
            error=d.get("error"),
            validity=d.get("validity"),
            p50_ms=d.get("p50_ms"),
            device=device.get("name") if isinstance(device, dict) else None,
            record=dict(d),
        )
