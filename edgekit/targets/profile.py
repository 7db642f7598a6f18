"""Device profiles: data files in edgekit/targets/profiles/*.yaml, loaded into one registry.

A profile holds hardware facts, the runtimes the device has, a default plan (which formats and
quant modes to produce, and with how many threads to run), and which published device results
calibrate its estimates. Users add their own profiles from a YAML path; `edgekit targets
calibrate` writes such a file with factors fitted on the user's own measurements.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from edgekit import yamlsafe
from edgekit.errors import UsageError
from edgekit.registry import Registry

PROFILE_DIR = Path(__file__).parent / "profiles"
# Runtimes that exist only on devices (graph analysis and memory/flash verdicts, no host run);
# every other runtime name must be registered in edgekit.runtimes.
DEVICE_ONLY_RUNTIMES = ("tflite-micro",)


def known_formats() -> list[str]:
    from edgekit.convert import FORMATS

    return FORMATS.names()


def known_runtimes() -> list[str]:
    from edgekit.runtimes import RUNTIMES

    return [*RUNTIMES.names(), *DEVICE_ONLY_RUNTIMES]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Hardware(_Strict):
    cpu: str
    cores: int = Field(ge=1)
    big_cores: int | None = Field(default=None, ge=1)  # big.LITTLE: cores worth running on
    clock_ghz: float = Field(gt=0)
    simd: str = "none"  # neon, avx2, wasm-simd128, dsp, none
    simd_bits: int = Field(default=128, ge=32)
    fp32_macs_per_cycle: float = Field(default=4.0, gt=0)  # per core; see calibration/devices.yaml
    dotprod: bool = False  # Armv8.2 SDOT/UDOT: 4x the fp32 MAC rate for int8
    mem_bandwidth_gbs: float = Field(gt=0)
    ram_mb: float = Field(gt=0)
    ram_available_mb: float | None = Field(default=None, gt=0)  # what one model may use; default ram_mb
    storage_mb: int | None = Field(default=None, gt=0)
    flash_kb: int | None = Field(default=None, gt=0)  # microcontrollers only
    os_bits: Literal[32, 64] | None = None

    @model_validator(mode="after")
    def _big_cores_fit(self) -> Hardware:
        if self.big_cores is not None and self.big_cores > self.cores:
            raise ValueError(f"big_cores ({self.big_cores}) cannot exceed cores ({self.cores})")
        return self

    @property
    def core_bandwidth_gbs(self) -> float:
        """Memory bandwidth per core that runs threads (the big cores): what thread scaling depends on."""
        return self.mem_bandwidth_gbs / (self.big_cores or self.cores)

    @property
    def usable_ram_bytes(self) -> int:
        return int((self.ram_available_mb or self.ram_mb) * 1024 * 1024)


class Plan(_Strict):
    formats: list[str] = Field(min_length=1)
    quant: dict[str, list[str]]  # format -> quant modes
    threads: int = Field(default=1, ge=1)

    @field_validator("formats")
    @classmethod
    def _known_formats(cls, v: list[str]) -> list[str]:
        bad = [f for f in v if f not in known_formats()]
        if bad:
            raise ValueError(f"unknown format {bad[0]!r}; known formats: {', '.join(known_formats())}")
        return v

    @field_validator("quant")
    @classmethod
    def _known_quant(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        from edgekit.quant import QUANT_MODES

        for fmt, modes in v.items():
            if fmt not in known_formats():
                raise ValueError(f"unknown format {fmt!r}; known formats: {', '.join(known_formats())}")
            bad = [m for m in modes if m not in QUANT_MODES]
            if bad:
                raise ValueError(
                    f"unknown quant mode {bad[0]!r} for {fmt}; known: {', '.join(QUANT_MODES.names())}"
                )
        return v


class Calibration(_Strict):
    # Key of calibration/devices.yaml whose published results fit this profile's estimates.
    device: str | None = None
    # Factors fitted on the user's own measurements by `edgekit targets calibrate`.
    fitted: dict[str, Any] | None = None


class TargetProfile(_Strict):
    name: str = Field(min_length=1)
    aliases: list[str] = []
    description: str
    hardware: Hardware
    runtimes: list[str] = Field(min_length=1)
    plan: Plan
    calibration: Calibration = Calibration()
    notes: str = ""

    @field_validator("runtimes")
    @classmethod
    def _known_runtimes(cls, v: list[str]) -> list[str]:
        bad = [r for r in v if r not in known_runtimes()]
        if bad:
            raise ValueError(f"unknown runtime {bad[0]!r}; known runtimes: {', '.join(known_runtimes())}")
        return v

    @model_validator(mode="after")
    def _plan_fits_hardware(self) -> TargetProfile:
        if self.plan.threads > self.hardware.cores:
            raise ValueError(
                f"plan.threads ({self.plan.threads}) exceeds hardware.cores ({self.hardware.cores})"
            )
        return self


def _field_path(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(top level)"


def load_profile_file(path: str | Path) -> TargetProfile:
    """Parse one profile YAML; errors name the file and the field path."""
    path = Path(path)
    data = yamlsafe.load(path, what="target profile", error=UsageError)
    if not isinstance(data, dict):
        raise UsageError(f"{path}: (top level): a profile is a mapping of fields, got {type(data).__name__}")
    try:
        return TargetProfile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise UsageError(
            f"{path}: {_field_path(first['loc'])}: {first['msg']}, got {first.get('input')!r}",
            hint="profile fields are described in docs/targets.md; `edgekit targets show rpi4` prints a complete one",
        ) from None


@lru_cache(maxsize=1)
def builtin_targets() -> Registry[TargetProfile]:
    registry: Registry[TargetProfile] = Registry("target")
    for path in sorted(PROFILE_DIR.glob("*.yaml")):
        profile = load_profile_file(path)
        registry.register(
            profile.name, profile, description=profile.description, aliases=tuple(profile.aliases)
        )
    return registry


def resolve_target(name_or_path: str) -> TargetProfile:
    """A built-in profile by name or alias, or a user profile from a YAML path."""
    if name_or_path.endswith((".yaml", ".yml")):
        return load_profile_file(name_or_path)
    return builtin_targets().get(name_or_path)


def alias_note(name_or_path: str) -> str | None:
    """'rpi → rpi4' when NAME is an alias of a built-in profile, else None."""
    if name_or_path.endswith((".yaml", ".yml")):
        return None
    canonical = builtin_targets().canonical(name_or_path)
    return f"{name_or_path} → {canonical}" if canonical != name_or_path.strip().lower() else None
