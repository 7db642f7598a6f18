"""What a release says about itself (per target: artifacts, their specs, parity, latency, size,
toolchain, input hashes), and the difference between two releases, with the semver bump it needs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SPEC_KEYS = ("name", "shape", "dtype")  # scale/zero point move with every calibration: reported, not breaking


def _tensor(t: dict) -> dict:
    return {k: t.get(k) for k in ("name", "shape", "dtype", "scale", "zero_point")}


def artifact_summary(row: dict) -> dict[str, Any]:
    art, parity, bench, est = (
        row["artifact"],
        row.get("parity") or {},
        row.get("bench") or {},
        row.get("estimate") or {},
    )
    micro = parity.get("micro") or {}
    return {
        "format": row["format"],
        "quant": row["quant"],
        "sha256": art["sha256"],
        "size_bytes": art["size_bytes"],
        "inputs": [_tensor(t) for t in art.get("inputs", [])],
        "outputs": [_tensor(t) for t in art.get("outputs", [])],
        "parity": {k: parity.get(k) for k in ("verdict", "top1_agreement", "max_abs_err", "accuracy")},
        "micro_parity": {k: micro.get(k) for k in ("verdict", "arena_bytes", "max_abs_err")}
        if micro
        else None,
        "host_p50_ms": bench.get("p50_ms"),
        "estimate_ms": est.get("latency_ms"),
        "fits": est.get("fits"),
        "arena_bytes": ((est.get("memory") or {}).get("components") or {}).get("arena_bytes"),
    }


def target_summary(report: dict, rows: list[dict], bundle_file: str) -> dict[str, Any]:
    host = report.get("host") or {}
    return {
        "bundle": bundle_file,
        "reference_accuracy": report["reference"].get("test_accuracy"),
        "classes": list(report["reference"].get("classes") or []),
        "toolchain": {
            "edgekit": report.get("edgekit_version"),
            "python": host.get("python"),
            **(host.get("packages") or {}),
        },
        "inputs": {
            "recipe_hash": report["recipe"].get("hash"),
            "source": report["source"].get("canonical"),
            "source_sha256": report["source"].get("sha256"),
        },
        "artifacts": {f"{r['format']}-{r['quant']}": artifact_summary(r) for r in rows},
    }


@dataclass
class Diff:
    needed: str = "patch"  # the smallest semver bump these changes allow
    breaking: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)

    def need(self, level: str) -> None:
        from edgekit.release.semver import LEVELS

        if LEVELS.index(level) > LEVELS.index(self.needed):
            self.needed = level


def _spec(tensors: list[dict]) -> list[tuple]:
    return [tuple(str(t.get(k)) for k in SPEC_KEYS) for t in tensors]


def _spec_text(tensors: list[dict]) -> str:
    return (
        ", ".join(f"{t.get('name')} {t.get('dtype')}{list(t.get('shape') or [])}" for t in tensors) or "none"
    )


def diff(old: dict | None, new: dict) -> Diff:
    """OLD and NEW are release.json `targets` mappings (OLD None for a first release)."""
    d = Diff()
    if old is None:
        return d
    for target in sorted(set(old) - set(new)):
        d.removed.append(f"target {target}")
        d.breaking.append(f"target {target} was removed")
    for target in sorted(set(new) - set(old)):
        d.added.append(f"target {target} ({', '.join(sorted(new[target]['artifacts']))})")
    for target in sorted(set(old) & set(new)):
        _diff_target(target, old[target], new[target], d)
    if d.breaking:
        d.need("major")
    elif d.added:
        d.need("minor")
    return d


def _diff_target(target: str, o: dict, n: dict, d: Diff) -> None:
    if o.get("classes") != n.get("classes"):
        d.breaking.append(f"{target}: classes changed from {o.get('classes')} to {n.get('classes')}")
    oa, na = o["artifacts"], n["artifacts"]
    for name in sorted(set(oa) - set(na)):
        d.removed.append(f"{target} {name}")
        d.breaking.append(f"{target} {name} was removed")
    for name in sorted(set(na) - set(oa)):
        d.added.append(f"{target} {name}")
    for name in sorted(set(oa) & set(na)):
        for side in ("inputs", "outputs"):
            if _spec(oa[name][side]) != _spec(na[name][side]):
                d.breaking.append(
                    f"{target} {name}: {side[:-1]} spec changed from {_spec_text(oa[name][side])} "
                    f"to {_spec_text(na[name][side])}"
                )
        if oa[name]["sha256"] != na[name]["sha256"]:
            d.changed.append(f"{target} {name}: new model bytes (sha256 {na[name]['sha256'][:12]}…)")
