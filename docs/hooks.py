"""MkDocs hook: render tables and figures from the files edgekit writes or ships, at build time.

The docs never copy a figure by hand. A page writes a placeholder and this hook fills it in from
the file that holds the figure:

    {{ table held-out-devices }}                               a Markdown table (see TABLES)
    {{ value fitted.json held_out/pooled/loso/median_abs_pct pct }}   one number from a data file
    {{ include profiles/rpi4.yaml }}                           a file's text, verbatim (inside a code fence)

The data files are found by name under edgekit/, so a file that moves inside the package is still
found; a missing or ambiguous file, an unknown table or a missing key fails the build (the docs
are built with --strict) with a message that names the placeholder and the page.
"""

from __future__ import annotations

import ast
import csv
import json
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from mkdocs.exceptions import PluginError

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "edgekit"

TABLE_RE = re.compile(r"\{\{\s*table\s+([\w-]+)\s*\}\}")
INCLUDE_RE = re.compile(r"\{\{\s*include\s+(\S+)\s*\}\}")
VALUE_RE = re.compile(r"\{\{\s*value\s+([\w.-]+)\s+(\S+?)(?:\s+(\w+))?\s*\}\}")


# ---------------------------------------------------------------------------------------------
# finding and reading the data files


@cache
def find(name: str) -> Path:
    """The one file called `name` under edgekit/ (name may include a parent folder: a/b.json)."""
    hits = sorted(p for p in PACKAGE.rglob(Path(name).name) if p.as_posix().endswith(name) and "__pycache__" not in p.parts)
    if len(hits) != 1:
        found = ", ".join(str(p.relative_to(ROOT)) for p in hits) or "none"
        raise PluginError(f"docs/hooks.py: expected exactly one {name} under edgekit/, found {found}")
    return hits[0]


@cache
def load(name: str) -> Any:
    path = find(name)
    if path.suffix == ".json":
        return json.loads(path.read_text())
    if path.suffix in (".yaml", ".yml"):
        return yaml.safe_load(path.read_text())
    if path.suffix == ".csv":
        with path.open(newline="") as fh:
            return list(csv.DictReader(fh))
    raise PluginError(f"docs/hooks.py: cannot read {path} (json, yaml or csv only)")


def dig(data: Any, key_path: str, where: str) -> Any:
    for part in key_path.split("/"):
        if not isinstance(data, dict) or part not in data:
            raise PluginError(f"{where}: key {part!r} of {key_path!r} not found")
        data = data[part]
    return data


def module_constant(module: str, name: str) -> Any:
    """A literal assigned at the top of an edgekit module, read without importing it."""
    tree = ast.parse(find(module).read_text())
    for node in tree.body:
        target = node.targets[0] if isinstance(node, ast.Assign) else getattr(node, "target", None)
        if isinstance(target, ast.Name) and target.id == name and node.value is not None:
            return ast.literal_eval(node.value)
    raise PluginError(f"docs/hooks.py: {module} has no literal {name}")


# ---------------------------------------------------------------------------------------------
# formatting


def pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1f} %"


def share(x: float | None) -> str:
    return "-" if x is None else f"{x * 100:.0f} %"


def rho(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def num(x: float | None) -> str:
    return "-" if x is None else f"{x:.3g}"


def millions(x: float | None) -> str:
    return "-" if x is None else f"{x / 1e6:,.1f}"


def mb(x: float | None) -> str:
    return "-" if x is None else f"{x / 1e6:,.1f}"


FORMATS: dict[str, Callable[[Any], str]] = {"pct": pct, "share": share, "rho": rho, "num": num,
                                            "int": lambda x: f"{x:,}", "millions": millions, "mb": mb}


def markdown_table(header: list[str], rows: list[list[Any]]) -> str:
    def cell(v: Any) -> str:
        return str(v).replace("|", "\\|")

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# the tables


def profiles() -> list[dict[str, Any]]:
    folder = find("profiles/rpi4.yaml").parent
    return [yaml.safe_load(p.read_text()) for p in sorted(folder.glob("*.yaml"))]


def profiles_by_device() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for p in profiles():
        device = (p.get("calibration") or {}).get("device")
        if device:
            out.setdefault(device, []).append(p["name"])
    return out


def table_profiles() -> str:
    rows = []
    for p in profiles():
        plan = p.get("plan") or {}
        quant = "; ".join(f"{fmt} {', '.join(modes)}" for fmt, modes in (plan.get("quant") or {}).items())
        threads = plan.get("threads")
        rows.append([f"`{p['name']}`", ", ".join(p.get("aliases") or []) or "-", p.get("description", ""),
                     ", ".join(p.get("runtimes") or []), quant + (f"; {threads} thread(s)" if threads else ""),
                     (p.get("calibration") or {}).get("device") or "-"])
    return markdown_table(["name", "aliases", "device", "runtimes", "plan", "published results"], rows)


def held_out_row(label: list[str], m: dict[str, Any]) -> list[str]:
    loso, lomo = m.get("loso") or {}, m.get("lomo") or {}
    return [*label, str(loso.get("n", lomo.get("n", "-"))),
            pct(loso.get("median_abs_pct")), share(loso.get("within_25")), rho(loso.get("spearman")),
            pct(lomo.get("median_abs_pct")), share(lomo.get("within_25")), rho(lomo.get("spearman"))]


HELD_OUT_HEADER = ["rows", "LOSO median \\|err\\|", "LOSO within ±25 %", "LOSO ρ",
                   "LOMO median \\|err\\|", "LOMO within ±25 %", "LOMO ρ"]


def table_held_out_devices() -> str:
    fitted = load("fitted.json")
    by_device = profiles_by_device()
    rows = [held_out_row([f"`{d}`", ", ".join(f"`{p}`" for p in by_device.get(d, [])) or "-"], m)
            for d, m in sorted(fitted["held_out"]["devices"].items())]
    rows.append(held_out_row(["**all devices**", ""], fitted["held_out"]["pooled"]))
    return markdown_table(["device", "profile", *HELD_OUT_HEADER], rows)


def one_scheme_table(key: str, label: str) -> str:
    rows = [[f"`{name}`", str(m["n"]), pct(m["median_abs_pct"]), share(m["within_25"]), rho(m["spearman"]),
             num(m["ratio_p10"]), num(m["ratio_p90"])]
            for name, m in sorted(load("fitted.json")["held_out"][key].items())]
    return markdown_table([label, "rows", "median \\|err\\|", "within ±25 %", "ρ",
                           "p10 estimate/measured", "p90 estimate/measured"], rows)


def table_held_out_sources() -> str:
    return one_scheme_table("sources", "source left out")


def table_held_out_architectures() -> str:
    return one_scheme_table("architectures", "architecture left out")


def table_held_out_pooled() -> str:
    fitted = load("fitted.json")
    pooled, training = fitted["held_out"]["pooled"], fitted["training"]

    def row(name: str, m: dict[str, Any]) -> list[str]:
        return [name, str(m["n"]), pct(m["median_abs_pct"]), share(m["within_25"]), rho(m["spearman"]),
                num(m["ratio_p10"]), num(m["ratio_p90"])]

    sole = ", ".join(pooled["loso_sole_family"].get("sources", []))
    rows = [row("leave-one-source-out (LOSO)", pooled["loso"]),
            row("leave-one-model-out (LOMO)", pooled["lomo"]),
            row("LOSO, sources whose runtime another source also publishes", pooled["loso_shared_family"]),
            row(f"LOSO, sources that are their runtime's only one ({sole})", pooled["loso_sole_family"]),
            row("training fit (rows the fit saw; not an error estimate)", training)]
    return markdown_table(["scheme", "rows", "median \\|err\\|", "within ±25 %", "ρ",
                           "p10 estimate/measured", "p90 estimate/measured"], rows)


def table_bands() -> str:
    bands = load("fitted.json")["held_out"]["bands"]
    by_device = profiles_by_device()
    rows = [[f"`{d}`", ", ".join(f"`{p}`" for p in by_device.get(d, [])) or "-", num(b["ratio_p10"]), num(b["ratio_p90"]),
             str(b["n"]), b["from"]] for d, b in sorted(bands.items())]
    return markdown_table(["device", "profile", "p10 estimate/measured", "p90 estimate/measured", "held-out errors", "from"], rows)


def table_compute_cost() -> str:
    f = load("fitted.json")["factors"]
    dtypes = list(f["compute_cost"])
    classes = list(dict.fromkeys(c for d in dtypes for c in f["compute_cost"][d]))
    rows = [[f"`{c}`", *(num(f["compute_cost"][d].get(c)) for d in dtypes)] for c in classes]
    rows.append(["bytes moved (`byte_cost`)", *(num(f["memory_cost"].get(d, {}).get("bytes")) for d in dtypes)])
    rows.append(["parallel share at 4 GB/s per big core", *(num(f["parallel"].get(d)) for d in dtypes)])
    rows.append(["32-bit OS term", *(num(f["os32"].get(d)) for d in dtypes)])
    rows.append(["int8-on-SDOT term", *(num(f["dotprod"].get(d)) for d in dtypes)])
    return markdown_table(["factor", *dtypes], rows)


def table_families() -> str:
    fitted = load("fitted.json")
    fam = fitted["factors"]["families"]
    dtypes = sorted({d for v in fam.values() for d in v})
    rows = [[f"`{name}`" + (" (reference)" if name == fitted.get("reference_family") else ""),
             *(num(v.get(d)) for d in dtypes)] for name, v in sorted(fam.items())]
    return markdown_table(["runtime family", *dtypes], rows)


def table_device_factors() -> str:
    fitted = load("fitted.json")
    specs, devices = fitted["device_specs"], fitted["factors"]["devices"]
    rows = []
    for key, d in sorted(devices.items()):
        s = specs.get(key, {})
        rows.append([f"`{key}`", s.get("cpu", "-"), f"{s.get('cores', '-')} ({s.get('big_cores', '-')} big)",
                     num(s.get("clock_ghz")), str(s.get("fp32_macs_per_cycle", "-")), "yes" if s.get("dotprod") else "no",
                     num(s.get("mem_bandwidth_gbs")), per_core(s), num(d["scale"]), str(d["rows"]), ", ".join(d["sources"])])
    return markdown_table(["device", "CPU", "cores", "GHz", "fp32 MACs/cycle", "dotprod", "GB/s", "GB/s per big core",
                           "device term", "rows", "sources"], rows)


def per_core(spec: dict[str, Any]) -> str:
    bandwidth, cores = spec.get("mem_bandwidth_gbs"), spec.get("big_cores") or spec.get("cores")
    return num(bandwidth / cores) if bandwidth and cores else "-"


# What each prior of the fit is on; the centres and sigmas come from fitted.json.
PRIOR_MEANING = {
    "cls": "cost per MAC (or element) of each op class, relative to peak (log scale; centre log 2: half of peak)",
    "mem": "cost per byte moved at the device's bandwidth (log scale)",
    "ovh": "fixed cost per op (log scale)",
    "par": "parallel share at 4 GB/s per big core (logit scale; centre logit 0.8)",
    "parbw": "exponent of bandwidth per big core in the parallel share's logit (centre 0: none)",
    "os32": "32-bit OS term (log scale)",
    "fam": "runtime-family term (log scale)",
    "grp": "runtime-group term shared by runtimes of one kind (log scale)",
    "dev": "device term (log scale)",
    "dot": "int8-on-SDOT term (log scale)",
}


def table_priors() -> str:
    priors = load("fitted.json")["priors"]
    rows = [[f"`{name}`", PRIOR_MEANING.get(name, "-"), num(p["center"]), num(p["sigma"])] for name, p in priors.items()]
    return markdown_table(["parameter", "what it is", "prior centre", "prior sigma"], rows)


def table_calibration_models() -> str:
    models = load("model_features.json")["models"]
    rows = []
    for key, by_dtype in sorted(models.items()):
        fp32, int8 = by_dtype.get("fp32", {}), by_dtype.get("int8", {})
        rows.append([f"`{key}`", millions(fp32.get("total_macs")), str(fp32.get("num_ops", "-")),
                     mb(fp32.get("size_bytes")), mb(int8.get("size_bytes")),
                     mb(fp32.get("peak_activation_bytes")), mb(int8.get("peak_activation_bytes"))])
    return markdown_table(["model", "MACs (M)", "ops", "fp32 size (MB)", "int8 size (MB)",
                           "fp32 peak activations (MB)", "int8 peak activations (MB)"], rows)


def table_parity_thresholds() -> str:
    thresholds = module_constant("convert/parity.py", "PARITY_THRESHOLDS")
    rows = [[f"`{mode}`", str(t["min_top1"]), f"{t['max_abs']:g}", str(t["min_cosine"]), str(t["warn_top1"])]
            for mode, t in thresholds.items()]
    return markdown_table(["quant mode", "pass needs top-1 ≥", "max \\|err\\| ≤", "cosine ≥", "fail when top-1 <"], rows)


def table_rows_used() -> str:
    rows = load("fitted.json")["rows"]
    return markdown_table(["published rows", "count"], [["used (CPU results of models edgekit builds)", str(rows["used"])],
                                                       ["skipped", str(rows["skipped"])]])


TABLES: dict[str, Callable[[], str]] = {
    "profiles": table_profiles,
    "held-out-pooled": table_held_out_pooled,
    "held-out-devices": table_held_out_devices,
    "held-out-sources": table_held_out_sources,
    "held-out-architectures": table_held_out_architectures,
    "bands": table_bands,
    "compute-cost": table_compute_cost,
    "families": table_families,
    "device-factors": table_device_factors,
    "calibration-models": table_calibration_models,
    "parity-thresholds": table_parity_thresholds,
    "rows-used": table_rows_used,
    "priors": table_priors,
}


# ---------------------------------------------------------------------------------------------
# the hook


def render(markdown: str, where: str) -> str:
    def table(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in TABLES:
            raise PluginError(f"{where}: unknown table {name!r}; known: {', '.join(TABLES)}")
        return TABLES[name]()

    def value(m: re.Match[str]) -> str:
        file, key_path, fmt = m.group(1), m.group(2), m.group(3) or "num"
        if fmt not in FORMATS:
            raise PluginError(f"{where}: unknown format {fmt!r} in {m.group(0)}; known: {', '.join(FORMATS)}")
        return FORMATS[fmt](dig(load(file), key_path, f"{where}: {m.group(0)}"))

    def include(m: re.Match[str]) -> str:
        return find(m.group(1)).read_text().rstrip("\n")

    return INCLUDE_RE.sub(include, VALUE_RE.sub(value, TABLE_RE.sub(table, markdown)))


def on_page_markdown(markdown: str, page: Any, **_: Any) -> str:
    return render(markdown, page.file.src_uri)
