"""`edgekit check`: compare a report with a baseline report and decide pass or regression.

Rules (one Finding per artifact and metric):
- latency: decided on effect size. With raw samples on both sides, the ratio of the medians
  new/baseline gets a seeded bootstrap confidence interval (edgekit/report/interval.py), and the
  row regresses only when the WHOLE interval lies above 1 + threshold: a large but noisy change is
  not proven, and a tiny change does not matter however many samples make it "significant" (a
  significance test flags a +0.3 % drift between two runs of thousands of samples).
  Without raw samples on both sides the median ratio alone decides, and the finding says so.
- accuracy: task accuracy drop in percentage points > threshold (exact, no test).
- parity: the verdict got worse (pass → warn → fail).
- size: growth by more than the threshold (exact).
- an artifact that was ok in the baseline and is missing or failed now is a regression.
- a reference flagged as not beating chance (report.json reference.health.flags) fails the check.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from edgekit.errors import UsageError
from edgekit.report.interval import CONFIDENCE, median_ratio_interval
from edgekit.report.rows import reference_flags
from edgekit.report.samples import bench_samples, median_ms

PARITY_ORDER = {"pass": 0, "warn": 1, "fail": 2}


@dataclass(frozen=True)
class Thresholds:
    max_latency_regression: float = 0.10  # fraction: 0.10 = median may grow by 10 %
    max_accuracy_drop: float = 1.0  # percentage points
    max_size_growth: float = 0.05  # fraction


@dataclass
class Finding:
    artifact: str
    metric: str  # latency p50 | accuracy | parity | size | status | learned the task
    baseline: str
    new: str
    change: str
    limit: str
    regression: bool
    note: str = ""
    # latency only: median(new)/median(baseline) and its bootstrap interval (None without raw samples)
    ratio: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None


@dataclass
class CheckResult:
    findings: list[Finding] = field(default_factory=list)

    @property
    def regressions(self) -> list[Finding]:
        return [f for f in self.findings if f.regression]

    @property
    def passed(self) -> bool:
        return not self.regressions


def parse_fraction(text: str, option: str) -> float:
    """'10%' or '10' → 0.10. Percent is the only unit, so '0.1' means 0.1 %, as written."""
    raw = str(text).strip().removesuffix("%").strip()
    try:
        value = float(raw)
    except ValueError:
        raise UsageError(f"{option} must be a percentage like 10% , got {text!r}") from None
    if not 0 <= value < 1000:
        raise UsageError(f"{option} must be between 0% and 1000%, got {text!r}")
    return value / 100.0


def _key(a: dict) -> str:
    return f"{a['format']}-{a['quant']}"


def _valid_samples(samples: np.ndarray | None, name: str, side: str) -> np.ndarray | None:
    if samples is not None and samples.size and not (np.all(np.isfinite(samples)) and samples.min() >= 0):
        bad = samples[~(np.isfinite(samples) & (samples >= 0))]
        raise UsageError(
            f"{side} row {name}: bench samples must be finite latencies >= 0 ms, got {bad[:3].tolist()}",
            hint="regenerate the report with `edgekit bench RUN_DIR`",
        )
    return samples


def _latency(name: str, old: dict, new: dict, th: Thresholds) -> Finding | None:
    m_old, m_new = median_ms(old.get("bench")), median_ms(new.get("bench"))
    if m_old is None or m_new is None or m_old <= 0:
        return None
    limit = 1.0 + th.max_latency_regression
    s_old = _valid_samples(bench_samples(old.get("bench")), name, "baseline")
    s_new = _valid_samples(bench_samples(new.get("bench")), name, "report")
    if s_old is not None and s_new is not None and s_old.size and s_new.size:
        ci = median_ratio_interval(s_old, s_new)
        ratio, low, high = ci.ratio, ci.low, ci.high
        regression = low > limit
        # The median alone is past the limit but the measurement cannot rule out less: say so.
        note = "" if regression or ratio <= limit else f"interval reaches ×{low:.3f}: not proven"
        rule = f"×{limit:.2f} < whole CI"
    else:
        ratio, low, high = m_new / m_old, None, None
        regression = ratio > limit
        note = "no raw samples on both sides: median rule only"
        rule = f"+{th.max_latency_regression:.0%}"
    return Finding(
        name,
        "latency p50",
        f"{m_old:.4g} ms",
        f"{m_new:.4g} ms",
        f"{ratio - 1.0:+.1%}",
        rule,
        regression,
        note,
        ratio,
        low,
        high,
    )


def _accuracy(name: str, old: dict, new: dict, th: Thresholds) -> Finding | None:
    a_old, a_new = (old.get("parity") or {}).get("accuracy"), (new.get("parity") or {}).get("accuracy")
    if a_old is None or a_new is None:
        return None
    drop_pp = (a_old - a_new) * 100.0
    return Finding(
        name,
        "accuracy",
        f"{a_old:.4f}",
        f"{a_new:.4f}",
        f"{0.0 - drop_pp + 0.0:+.2f} pp",
        f"-{th.max_accuracy_drop:g} pp",
        drop_pp > th.max_accuracy_drop + 1e-9,
    )


def _parity(name: str, old: dict, new: dict) -> Finding | None:
    v_old, v_new = (old.get("parity") or {}).get("verdict"), (new.get("parity") or {}).get("verdict")
    if v_old not in PARITY_ORDER or v_new not in PARITY_ORDER:
        return None
    worse = PARITY_ORDER[v_new] > PARITY_ORDER[v_old]
    return Finding(name, "parity", v_old, v_new, "worse" if worse else "same or better", "no worse", worse)


def _size(name: str, old: dict, new: dict, th: Thresholds) -> Finding | None:
    s_old, s_new = (
        (old.get("artifact") or {}).get("size_bytes"),
        (new.get("artifact") or {}).get("size_bytes"),
    )
    if not s_old or s_new is None:
        return None
    growth = s_new / s_old - 1.0
    return Finding(
        name,
        "size",
        f"{s_old} B",
        f"{s_new} B",
        f"{growth:+.1%}",
        f"+{th.max_size_growth:.0%}",
        growth > th.max_size_growth + 1e-12,
    )


def _reference(report: dict) -> list[Finding]:
    """A reference that does not beat chance fails the check whatever the baseline says: every
    artifact "passes" parity against a model that learned nothing."""
    return [
        Finding("reference", "learned the task", "-", "flagged", "-", "must beat chance", True, note=flag)
        for flag in reference_flags(report)
    ]


def _run_by_other_shards(report: dict) -> dict[str, str]:
    """Rows of the target's plan that a shard report leaves to the other shards → why they are absent."""
    shard = report.get("shard") or {}
    own = {"-".join(c) for c in shard.get("cells", [])}
    text = f"not run by this shard ({shard.get('index')}/{shard.get('count')})"
    return {"-".join(c): text for c in shard.get("planned", []) if "-".join(c) not in own}


def compare_reports(report: dict, baseline: dict, th: Thresholds) -> CheckResult:
    new_rows = {_key(a): a for a in report.get("artifacts", [])}
    result = CheckResult(_reference(report))
    elsewhere = _run_by_other_shards(report)
    for old in baseline.get("artifacts", []):
        name, new = _key(old), new_rows.get(_key(old))
        if old.get("status") != "ok":
            continue
        if new is None and name in elsewhere:  # not missing: another shard of this run measures it
            result.findings.append(
                Finding(
                    name,
                    "status",
                    "ok",
                    elsewhere[name],
                    "-",
                    "-",
                    False,
                    note="merge the shards' reports (edgekit report merge) to check it",
                )
            )
            continue
        if new is None or new.get("status") != "ok":
            why = "missing from the report" if new is None else f"{new.get('status')}: {new.get('error')}"
            result.findings.append(Finding(name, "status", "ok", why, "-", "must stay ok", True))
            continue
        for f in (
            _latency(name, old, new, th),
            _accuracy(name, old, new, th),
            _parity(name, old, new),
            _size(name, old, new, th),
        ):
            if f is not None:
                result.findings.append(f)
    old_names = {_key(a) for a in baseline.get("artifacts", [])}
    for name in sorted(set(new_rows) - old_names):
        result.findings.append(
            Finding(
                name,
                "status",
                "-",
                new_rows[name].get("status", "?"),
                "new",
                "-",
                False,
                note="not in the baseline: nothing to compare",
            )
        )
    return result


def _ratio_cell(f: Finding) -> str:
    if f.ratio is None:
        return "-"
    if f.ci_low is None or f.ci_high is None:
        return f"×{f.ratio:.3f}"
    return f"×{f.ratio:.3f} ({f.ci_low:.3f}–{f.ci_high:.3f})"


def render_check_markdown(result: CheckResult, baseline_path: str) -> str:
    head = "✅ no regression" if result.passed else f"❌ {len(result.regressions)} regression(s)"
    lines = [
        f"### edgekit check: {head}",
        "",
        f"baseline: `{baseline_path}`",
        "",
        f"| artifact | metric | baseline | new | change | limit | ratio ({CONFIDENCE:.0%} CI) | verdict |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for f in result.findings:
        verdict = "❌ regression" if f.regression else "ok"
        if f.note:
            verdict += f" ({f.note})"
        cells = (f.artifact, f.metric, f.baseline, f.new, f.change, f.limit, _ratio_cell(f), verdict)
        # Pipes and line breaks are what break a row; the cells are edgekit's own words otherwise,
        # kept readable for the terminal copy of this table.
        lines.append("| " + " | ".join(" ".join(str(c).split()).replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def check_json(result: CheckResult, baseline_path: str, th: Thresholds) -> dict:
    """`edgekit check --json`: the verdict, the thresholds it used and every finding."""
    return {
        "passed": result.passed,
        "regressions": len(result.regressions),
        "baseline": baseline_path,
        "thresholds": asdict(th),
        "confidence": CONFIDENCE,
        "latency_rule": (
            "regression when the whole bootstrap interval of median(new)/median(baseline) "
            "lies above 1 + max_latency_regression"
        ),
        "findings": [asdict(f) for f in result.findings],
    }
