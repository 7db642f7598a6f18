"""The target's RAM and flash limits for the report's memory charts.

report.json records them under target (ram_bytes, flash_bytes, storage_bytes) since they were
added; a report written before that gets them from the built-in profile of the same name.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgekit.report.rows import human_size


@dataclass(frozen=True)
class Limits:
    ram_bytes: int | None
    flash_bytes: int | None  # flash on a microcontroller, storage elsewhere
    ram_text: str
    flash_text: str


def profile_limits(profile) -> dict[str, int | None]:
    """What report.json records about a TargetProfile's memory (see build.py)."""
    hw = profile.hardware
    return {
        "ram_bytes": hw.usable_ram_bytes,
        "flash_bytes": hw.flash_kb * 1024 if hw.flash_kb else None,
        "storage_bytes": hw.storage_mb * (1 << 20) if hw.storage_mb else None,
    }


def _recorded(report: dict) -> dict:
    target = report.get("target") or {}
    if "ram_bytes" in target:
        return target
    try:
        from edgekit.targets.profile import builtin_targets

        return profile_limits(builtin_targets().get(target.get("name", "")))
    except Exception:  # a user profile that is not built in: the charts say there is no limit
        return {}


def target_limits(report: dict) -> Limits:
    rec = _recorded(report)
    name = (report.get("target") or {}).get("name", "the target")
    ram, flash, storage = rec.get("ram_bytes"), rec.get("flash_bytes"), rec.get("storage_bytes")
    ram_text = f"{name} RAM for one model {human_size(ram)}" if ram else "no RAM limit"
    if flash:
        return Limits(ram, flash, ram_text, f"{name} flash {human_size(flash)}")
    if storage:
        return Limits(ram, storage, ram_text, f"{name} storage {human_size(storage)}")
    return Limits(ram, None, ram_text, "no flash or storage limit")
