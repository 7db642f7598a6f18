"""The device fingerprint, read on the device before and after each measurement, and the trust
verdict it gives: a measurement taken while the device throttled or ran hot is UNTRUSTED.

Runs inside the agent on the device (standard library only). Every reading is optional: a file
that does not exist on this kind of device is recorded as None, never an error.
"""

from __future__ import annotations

import glob
import os
import platform
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

HOT_C = 80.0  # Raspberry Pi firmware starts soft-throttling at 80 °C (60 °C on some boards if configured)
# vcgencmd get_throttled bits: 0-3 are "now", 16-19 "has happened since boot".
THROTTLE_NOW = {0: "under-voltage", 1: "ARM frequency capped", 2: "throttled", 3: "soft temperature limit"}
THROTTLE_SINCE_BOOT_SHIFT = 16


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text(errors="replace").strip().strip("\x00")
    except OSError:
        return None


def _command(argv: list[str]) -> str | None:
    if shutil.which(argv[0]) is None:
        return None
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _int(text: str | None) -> int | None:
    return int(text) if text and text.lstrip("-").isdigit() else None


def model() -> str | None:
    return _read("/proc/device-tree/model") or _command(["getprop", "ro.product.model"]) or None


def _cpu_number(folder: str) -> int:
    m = re.search(r"cpu(\d+)/cpufreq$", folder)
    return int(m.group(1)) if m else -1


def cpus(root: str = "/sys/devices/system/cpu") -> list[dict[str, Any]]:
    out = []
    for folder in sorted(glob.glob(f"{root}/cpu[0-9]*/cpufreq"), key=_cpu_number):
        cur, top = _int(_read(f"{folder}/scaling_cur_freq")), _int(_read(f"{folder}/cpuinfo_max_freq"))
        out.append(
            {
                "cpu": folder.split("/")[-2],
                "mhz": cur // 1000 if cur else None,
                "max_mhz": top // 1000 if top else None,
                "governor": _read(f"{folder}/scaling_governor"),
            }
        )
    return out


def temperatures(root: str = "/sys/class/thermal") -> dict[str, float]:
    out = {}
    for zone in sorted(glob.glob(f"{root}/thermal_zone*")):
        milli = _int(_read(f"{zone}/temp"))
        if milli is not None:
            out[_read(f"{zone}/type") or os.path.basename(zone)] = milli / 1000.0
    return out


def throttled() -> int | None:
    """vcgencmd's throttle bit field (Raspberry Pi), or None where there is no vcgencmd."""
    text = _command(["vcgencmd", "get_throttled"])
    if not text or "=" not in text:
        return None
    try:
        return int(text.split("=", 1)[1], 0)
    except ValueError:
        return None


def fingerprint() -> dict[str, Any]:
    return {
        "model": model(),
        "machine": platform.machine(),
        "cores": os.cpu_count(),
        "cpus": cpus(),
        "temperatures_c": temperatures(),
        "throttled": throttled(),
        "os": f"{platform.system()} {platform.release()}",
        "os_release": _os_release(),
    }


def _os_release() -> str | None:
    text = _read("/etc/os-release") or ""
    for line in text.splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip('"')
    return _command(["getprop", "ro.build.version.release"])


def trust_reasons(before: dict[str, Any], after: dict[str, Any], hot_c: float = HOT_C) -> list[str]:
    """Why a measurement between BEFORE and AFTER cannot be trusted (empty: nothing seen)."""
    reasons = []
    for when, fp in (("before", before), ("after", after)):
        bits = fp.get("throttled")
        if bits:
            now = [name for bit, name in THROTTLE_NOW.items() if bits & (1 << bit)]
            if now:
                reasons.append(
                    f"throttled {when} the run (vcgencmd get_throttled={bits:#x}: {', '.join(now)})"
                )
    b, a = before.get("throttled"), after.get("throttled")
    if b is not None and a is not None:
        new = (a & ~b) >> THROTTLE_SINCE_BOOT_SHIFT & 0xF
        if new and not any("after" in r for r in reasons):
            names = [name for bit, name in THROTTLE_NOW.items() if new & (1 << bit)]
            reasons.append(
                f"throttled during the run (vcgencmd get_throttled {b:#x} -> {a:#x}: {', '.join(names)})"
            )
    for when, fp in (("before", before), ("after", after)):
        hot = {zone: t for zone, t in (fp.get("temperatures_c") or {}).items() if t >= hot_c}
        if hot:
            zone, t = max(hot.items(), key=lambda kv: kv[1])
            reasons.append(f"overheated {when} the run ({zone} at {t:.1f} °C >= {hot_c:g} °C)")
    return reasons
