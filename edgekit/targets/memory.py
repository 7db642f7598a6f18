"""Peak RAM and flash of an artifact on a target, and whether it fits.

On Linux/Android runtimes the model file is mapped, and the CPU kernels keep a repacked copy of the
weights in their own layout (XNNPACK, ONNX Runtime prepacking); weights stored as fp16 or as TF.js
uint8/uint16 are expanded to float32 when loaded. TFLite Micro keeps weights in flash and needs
RAM only for the tensor arena: TFLM's planned activations plus its bookkeeping (targets/arena.py). The runtime's
own code and heap are not included: the verdict is about the model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from edgekit.targets.analysis.graph import GraphAnalysis
from edgekit.targets.profile import TargetProfile

_EXPAND_ON_LOAD = {"fp16": 2, "uint16": 2, "uint8": 4}  # stored weight width -> float32

MIB = 1024 * 1024


@dataclass
class MemoryVerdict:
    peak_ram_bytes: int
    usable_ram_bytes: int
    flash_bytes: int | None
    flash_limit_bytes: int | None
    components: dict[str, int]
    warnings: list[str] = field(default_factory=list)

    @property
    def fits_ram(self) -> bool:
        return self.peak_ram_bytes <= self.usable_ram_bytes

    @property
    def fits_flash(self) -> bool:
        return self.flash_limit_bytes is None or (self.flash_bytes or 0) <= self.flash_limit_bytes

    @property
    def fits(self) -> bool:
        return self.fits_ram and self.fits_flash

    def to_dict(self) -> dict[str, Any]:
        return {
            "peak_ram_bytes": self.peak_ram_bytes,
            "usable_ram_bytes": self.usable_ram_bytes,
            "components": self.components,
            "flash_bytes": self.flash_bytes,
            "flash_limit_bytes": self.flash_limit_bytes,
            "fits_ram": self.fits_ram,
            "fits_flash": self.fits_flash,
        }


def _mb(n: int) -> str:
    return f"{n / MIB:.1f} MB" if n >= MIB / 10 else f"{n / 1024:.0f} KB"


def memory_verdict(
    analysis: GraphAnalysis, profile: TargetProfile, runtime: str | None, quant: str
) -> MemoryVerdict:
    hw = profile.hardware
    if runtime == "tflite-micro":
        from edgekit.targets.arena import tflm_arena_bytes

        components = {"arena_bytes": tflm_arena_bytes(analysis)}
        flash, flash_limit = analysis.size_bytes, (hw.flash_kb * 1024 if hw.flash_kb else None)
    else:
        components = {
            "model_bytes": analysis.size_bytes,
            "packed_weight_bytes": analysis.weight_bytes * _EXPAND_ON_LOAD.get(quant, 1),
            "activation_bytes": analysis.peak_activation_bytes,
        }
        flash, flash_limit = None, None
    v = MemoryVerdict(sum(components.values()), hw.usable_ram_bytes, flash, flash_limit, components)
    if not v.fits_ram:
        parts = ", ".join(
            f"{k.removesuffix('_bytes').replace('_', ' ')} {_mb(b)}" for k, b in components.items()
        )
        v.warnings.append(
            f"does not fit: needs about {_mb(v.peak_ram_bytes)} of RAM ({parts}); "
            f"{profile.name} has {_mb(v.usable_ram_bytes)} for a model"
        )
    if not v.fits_flash:
        v.warnings.append(
            f"does not fit: {_mb(flash or 0)} of flash needed, {profile.name} has {_mb(flash_limit or 0)}"
        )
    if hw.storage_mb and analysis.size_bytes > hw.storage_mb * MIB:
        v.warnings.append(
            f"the model file ({_mb(analysis.size_bytes)}) is larger than {profile.name}'s storage"
        )
    return v
