"""Published real-device latencies (calibration/published_latency.csv) as normalized rows.

Each usable CSV row becomes one `PublishedRow`: which calibration model (zoo key), dtype,
runtime family, thread count, device and OS bitness. Rows that cannot be used (GPU/NNAPI
delegates, models with no graph to analyse, fp16 GPU modes) are returned with the reason, so
`targets evaluate` can say what was left out and why.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgekit import yamlsafe
from edgekit.errors import UsageError
from edgekit.targets.latency_model import ARITHMETIC

PACKAGE_CALIBRATION = Path(__file__).parent
LATENCY_CSV = "published_latency.csv"
DEVICES_YAML = "devices.yaml"

# CSV model name -> zoo key pattern ({w} width, {r} resolution). Models missing here have no
# graph edgekit can build (TFLite's SqueezeNet: version not stated; InceptionV4). ncnn's two
# unnamed models are the graphs of its benchmark/*.param files, at the input sizes its
# benchncnn.cpp runs (SqueezeNet 227, not the 224 the CSV assumes): see zoo_ncnn.py.
_MODEL_KEYS = {
    "MobileNetV1": "mobilenet_v1_{w}_{r}",
    "MobileNetV2": "mobilenet_v2_{w}_{r}",
    "MobileNetV3-Large": "mobilenet_v3_large_{r}",
    "MobileNetV3-Small": "mobilenet_v3_small_{r}",
    "InceptionV3": "inception_v3_{r}",
    "NASNet-Mobile": "nasnet_mobile_{r}",
    "ResNetV2-101": "resnet101_v2_{r}",
    "ResNet50": "resnet50_{r}",
    "EfficientNet-B0": "efficientnet_b0_{r}",
    **{f"EfficientNet-Lite{i}": f"efficientnet_lite{i}_{{r}}" for i in range(5)},
    "SqueezeNet (ncnn benchmark model; version not stated)": "ncnn_squeezenet_v1.1_227",
    "MobileNetV3 (ncnn benchmark model; variant not stated)": "ncnn_mobilenet_v3_224",
}


@dataclass(frozen=True)
class DeviceSpec:
    key: str
    cpu: str
    cores: int
    big_cores: int
    clock_ghz: float
    simd_bits: int
    fp32_macs_per_cycle: float
    dotprod: bool
    mem_bandwidth_gbs: float
    source: str = ""


@dataclass(frozen=True)
class PublishedRow:
    line: int  # line in the CSV (header = 1)
    model: str  # zoo key
    dtype: str  # fp32 | int8
    family: str  # runtime family: tflite, tflite-2018, xnnpack, ncnn, tfjs-wasm, tfjs-wasm-simd
    threads: int
    device: str  # device key from devices.yaml
    os_bits: int | None  # None: not stated
    latency_ms: float
    source: str
    arithmetic: str = "simd"  # simd | scalar | fp16: how the runtime computed (latency_model.macs_per_cycle)


@dataclass
class Calibration:
    rows: list[PublishedRow]
    skipped: list[tuple[int, str]]  # (CSV line, reason)
    devices: dict[str, DeviceSpec]
    table: dict[str, Any]  # devices.yaml as read: families, arithmetic, winograd, estimate_families


def load_device_table(folder: Path) -> tuple[dict[str, DeviceSpec], dict[str, Any]]:
    path = folder / DEVICES_YAML
    if not path.is_file():
        path = PACKAGE_CALIBRATION / DEVICES_YAML  # the shared folder has only the CSVs
    table = yamlsafe.load(path, what="device table", error=UsageError)
    if not isinstance(table, dict) or not isinstance(table.get("devices"), dict):
        raise UsageError(
            f"{path}: a device table is a mapping with a 'devices' mapping, got {type(table).__name__}"
        )
    specs = {}
    for key, d in table["devices"].items():
        fields = {k: v for k, v in d.items() if k != "names"} if isinstance(d, dict) else {}
        try:
            specs[key] = DeviceSpec(key=key, **fields)
        except TypeError as exc:  # a missing or unknown field
            raise UsageError(f"{path}: devices.{key}: {exc}") from None
    return specs, table


def _model_key(model: str, width_res: str) -> str | None:
    pattern = _MODEL_KEYS.get(model.strip())
    if pattern is None:
        return None
    m = re.match(r"\s*(?:(\d+(?:\.\d+)?)/)?(\d+)", width_res)
    if m is None:
        return None
    width = float(m.group(1) or 1.0)
    return pattern.format(w=f"{width}", r=int(m.group(2)))


def _dtype(precision: str) -> str | None:
    p = precision.lower()
    if "int8" in p:  # uint8 QAT, int8 PTQ, int8 per-channel: all full-integer 8-bit kernels
        return "int8"
    return "fp32" if p.startswith("fp32") else None


def _threads(text: str, spec: DeviceSpec, not_stated: int) -> int | None:
    t = text.strip().lower()
    if t.startswith("#big") or "big cores" in t and not t[0].isdigit():
        return spec.big_cores
    if t.startswith("multi"):
        return spec.cores
    if t.startswith("not stated"):
        return not_stated
    m = re.match(r"(\d+)", t)
    return int(m.group(1)) if m else None


def _os_bits(text: str) -> int | None:
    m = re.match(r"\s*(32|64)\b", text)
    return int(m.group(1)) if m else None


def _family(r: dict[str, str], table: dict[str, Any]) -> str | None:
    fam = table["families"].get(r["source"].strip())
    return fam.get(r["delegate"].strip()) if isinstance(fam, dict) else fam


def _arithmetic(r: dict[str, str], family: str, table: dict[str, Any]) -> str:
    rules = table.get("arithmetic", {})
    by_note = [a for text, a in rules.get("notes", {}).items() if text in r.get("notes", "")]
    arithmetic = str(by_note[0] if by_note else rules.get("families", {}).get(family, "simd"))
    if arithmetic not in ARITHMETIC:
        raise UsageError(f"{DEVICES_YAML}: arithmetic: {arithmetic!r} is not one of {', '.join(ARITHMETIC)}")
    return arithmetic


def _parse_row(
    line: int, r: dict[str, str], specs: dict[str, DeviceSpec], names: dict[str, str], table: dict[str, Any]
) -> PublishedRow | str:
    """A normalized row, or the reason the row cannot be used."""
    noisy = [t for t in table.get("exclude_notes", []) if t in r.get("notes", "")]
    if noisy:
        return f"the source marks it {noisy[0]!r}: {r['notes']}"
    if r["delegate"].strip() not in table["cpu_delegates"]:
        return f"delegate {r['delegate']!r} is not a CPU runtime"
    model = _model_key(r["model"], r["width/resolution"])
    if model is None:
        return f"no graph for model {r['model']!r} {r['width/resolution']!r}"
    dtype = _dtype(r["precision"])
    device = names.get(r["device"].strip())
    family = _family(r, table)
    if dtype is None or device is None or family is None:
        return f"unmapped precision/device/source: {r['precision']!r} {r['device']!r} {r['source']!r}"
    threads = _threads(r["threads"], specs[device], int(table.get("threads_not_stated", 1)))
    if threads is None:
        return f"thread count {r['threads']!r} not understood"
    return PublishedRow(
        line,
        model,
        dtype,
        family,
        threads,
        device,
        _os_bits(r["os_bits"]),
        float(r["latency_ms"]),
        r["source"].strip(),
        _arithmetic(r, family, table),
    )


def load_published(folder: str | Path = PACKAGE_CALIBRATION, models: set[str] | None = None) -> Calibration:
    """Usable rows of FOLDER/published_latency.csv (restricted to MODELS when given)."""
    folder = Path(folder)
    path = folder / LATENCY_CSV
    if not path.is_file():
        raise UsageError(
            f"calibration data not found: {path}", hint="pass --calibration DIR holding published_latency.csv"
        )
    specs, table = load_device_table(folder)
    names = {n: key for key, d in table["devices"].items() for n in d["names"]}
    rows, skipped = [], []
    with path.open(newline="") as fh:
        for line, r in enumerate(csv.DictReader(fh), start=2):
            parsed = _parse_row(line, r, specs, names, table)
            if isinstance(parsed, str):
                skipped.append((line, parsed))
            elif models is not None and parsed.model not in models:
                skipped.append((line, f"model {parsed.model} not selected"))
            else:
                rows.append(parsed)
    return Calibration(rows, skipped, specs, table)
