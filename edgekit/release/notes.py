"""Release notes (Markdown) from two release summaries, and the CHANGELOG entry (Keep a Changelog)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from edgekit.release.summary import Diff

CHANGELOG_HEADER = (
    "# Changelog\n\nReleases of this model, newest first. The format follows "
    "[Keep a Changelog](https://keepachangelog.com/en/1.1.0/); versions follow "
    "[Semantic Versioning](https://semver.org/).\n"
)


def _num(v: Any, fmt: str) -> str:
    return "–" if v is None else format(v, fmt)


def _size(n: Any) -> str:
    if n is None:
        return "–"
    return f"{n} B" if n < 1024 else f"{n / 1024:.1f} KB" if n < 1024 * 1024 else f"{n / 1024 / 1024:.2f} MB"


def _delta(o: Any, n: Any, fmt: str, unit: str = "") -> str:
    if o is None or n is None or o == n:
        return "" if o == n else "new" if o is None else "gone"
    return f"{n - o:{fmt}}{unit}"


def _parity(p: dict | None) -> str:
    if not p or not p.get("verdict"):
        return "–"
    return f"{p['verdict']} (top-1 {_num(p.get('top1_agreement'), '.3f')}, max err {_num(p.get('max_abs_err'), '.3g')})"


def _metric_rows(name: str, o: dict | None, n: dict) -> list[tuple[str, str, str, str]]:
    o = o or {}
    rows: list[tuple[str, Any, Any, Callable[[Any], str], str, str]] = [
        ("size", o.get("size_bytes"), n.get("size_bytes"), _size, "+.0f", " B"),
        (
            "parity-set accuracy",
            (o.get("parity") or {}).get("accuracy"),
            (n.get("parity") or {}).get("accuracy"),
            lambda v: _num(v, ".3f"),
            "+.3f",
            "",
        ),
        (
            "host p50",
            o.get("host_p50_ms"),
            n.get("host_p50_ms"),
            lambda v: _num(v, ".3f") + " ms" if v is not None else "–",
            "+.3f",
            " ms",
        ),
        (
            "target estimate",
            o.get("estimate_ms"),
            n.get("estimate_ms"),
            lambda v: _num(v, ".2f") + " ms" if v is not None else "–",
            "+.2f",
            " ms",
        ),
        ("tensor arena", o.get("arena_bytes"), n.get("arena_bytes"), _size, "+.0f", " B"),
    ]
    out = [
        (f"{name} {label}", show(ov), show(nv), _delta(ov, nv, fmt, unit))
        for label, ov, nv, show, fmt, unit in rows
        if ov is not None or nv is not None
    ]
    op, np_ = _parity(o.get("parity")), _parity(n.get("parity"))
    out.insert(1, (f"{name} parity", op, np_, "" if op == np_ else "changed"))
    if n.get("micro_parity") or o.get("micro_parity"):
        om, nm = (
            (o.get("micro_parity") or {}).get("verdict") or "–",
            (n.get("micro_parity") or {}).get("verdict") or "–",
        )
        out.insert(2, (f"{name} TFLite Micro vs LiteRT", om, nm, "" if om == nm else "changed"))
    return out


def _table(head: tuple[str, ...], rows: Sequence[tuple[str, ...]], first: bool = False) -> list[str]:
    """A Markdown table; a first release has nothing to compare with, so only name and value."""
    if first:
        head, rows = (head[0], head[2]), [(r[0], r[2]) for r in rows]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return lines + ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows]


def render_notes(
    name: str,
    version: str,
    previous: str | None,
    old: dict | None,
    new: dict,
    d: Diff,
    signer: str | None,
    reference: str | None = None,
) -> str:
    prev, first = previous or "none", previous is None
    lines = [
        f"# {name} {version}",
        "",
        f"Previous release: {prev}. " + (f"Signed with ed25519 key {signer}." if signer else "Not signed."),
        "",
    ]
    if previous is None:
        lines += ["First release.", ""]
    else:
        lines += ["## Changes", ""]
        lines += [f"- **breaking**: {b}" for b in d.breaking] + [f"- added: {a}" for a in d.added]
        lines += [f"- removed: {r}" for r in d.removed] + [f"- {c}" for c in d.changed]
        if not (d.breaking or d.added or d.removed or d.changed):
            lines.append("- same model bytes as the previous release (measurements below)")
        lines += ["", f"Semantic version: this release needs at least a {d.needed} version bump.", ""]
    if reference:
        lines += [
            f"Includes the reference SavedModel ({reference}): a pinned source for other projects "
            "(`edgekit pull oci://…`).",
            "",
        ]
    for target in sorted(new):
        t, ot = new[target], (old or {}).get(target) or {}
        lines += [f"## {target}", ""]
        rows = [
            (
                "reference accuracy",
                _num(ot.get("reference_accuracy"), ".3f") if ot else "–",
                _num(t.get("reference_accuracy"), ".3f"),
                _delta(ot.get("reference_accuracy"), t.get("reference_accuracy"), "+.3f") if ot else "new",
            )
        ]
        for art in sorted(t["artifacts"]):
            rows += _metric_rows(art, (ot.get("artifacts") or {}).get(art), t["artifacts"][art])
        lines += _table(("", prev, version, "change"), rows, first) + [""]
        tool_rows = [
            (
                k,
                str((ot.get("toolchain") or {}).get(k, "–")),
                str(v),
                "" if (ot.get("toolchain") or {}).get(k) == v else "changed",
            )
            for k, v in sorted(t["toolchain"].items())
        ]
        lines += ["### Toolchain", ""] + _table(("package", prev, version, "change"), tool_rows, first) + [""]
        in_rows = [
            (
                k,
                str((ot.get("inputs") or {}).get(k, "–")),
                str(v),
                "" if (ot.get("inputs") or {}).get(k) == v else "changed",
            )
            for k, v in sorted(t["inputs"].items())
        ]
        lines += ["### Inputs", ""] + _table(("input", prev, version, "change"), in_rows, first) + [""]
    return "\n".join(lines).rstrip() + "\n"


def changelog_entry(version: str, created_unix: int, d: Diff, first: bool, new: dict) -> str:
    day = time.strftime("%Y-%m-%d", time.gmtime(created_unix))
    lines = [f"## [{version}] - {day}", ""]
    if first:
        lines += (
            ["### Added", ""]
            + [f"- {t}: {', '.join(sorted(new[t]['artifacts']))}" for t in sorted(new)]
            + [""]
        )
        return "\n".join(lines)
    sections = [
        ("Changed", [f"**breaking**: {b}" for b in d.breaking] + d.changed),
        ("Added", d.added),
        ("Removed", d.removed),
    ]
    for title, items in sections:
        if items:
            lines += [f"### {title}", ""] + [f"- {i}" for i in items] + [""]
    if len(lines) == 2:
        lines += ["### Changed", "", "- rebuilt with no artifact change", ""]
    return "\n".join(lines)


def add_to_changelog(path: Path, entry: str) -> str:
    """The changelog text with ENTRY above the newest release (the file is written by the caller)."""
    text = path.read_text() if path.is_file() else CHANGELOG_HEADER
    marker = text.find("\n## [")
    if text.startswith("\n## [Unreleased]", marker) if marker >= 0 else False:  # releases go below Unreleased
        marker = text.find("\n## [", marker + 1)
    if marker < 0:
        return text.rstrip("\n") + "\n\n" + entry
    return text[: marker + 1] + entry + "\n" + text[marker + 1 :]
