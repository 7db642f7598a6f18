"""Device profiles: data files in edgekit/targets/profiles/*.yaml, loaded into one registry.

A profile holds hardware facts and a default plan (which formats and quant modes to produce, and
with how many threads to run). Users add their own profiles from a YAML path.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from edgekit.errors import UsageError
from edgekit.registry import Registry

PROFILE_DIR = Path(__file__).parent / "profiles"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Hardware(_Strict):
    cpu: str
    cores: int = Field(ge=1)
    clock_ghz: float = Field(gt=0)
    simd: str = "none"
    dotprod: bool = False
    mem_bandwidth_gbs: float = Field(gt=0)
    ram_mb: int = Field(gt=0)
    storage_mb: int | None = Field(default=None, gt=0)
    flash_kb: int | None = Field(default=None, gt=0)  # microcontrollers only
    os_bits: int | None = None


class Plan(_Strict):
    formats: list[str] = Field(min_length=1)
    quant: dict[str, list[str]]  # format -> quant modes
    threads: int = Field(default=1, ge=1)


class TargetProfile(_Strict):
    name: str
    aliases: list[str] = []
    description: str
    hardware: Hardware
    runtimes: list[str]
    plan: Plan
    notes: str = ""


def load_profile_file(path: str | Path) -> TargetProfile:
    """Parse one profile YAML; errors name the file and the field path."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise UsageError(f"target profile file not found: {path}") from None
    except yaml.YAMLError as exc:
        raise UsageError(f"{path}: not valid YAML: {exc}") from None
    try:
        return TargetProfile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise UsageError(f"{path}: {where}: {first['msg']}, got {first.get('input')!r}") from None


@lru_cache(maxsize=1)
def builtin_targets() -> Registry[TargetProfile]:
    registry: Registry[TargetProfile] = Registry("target")
    for path in sorted(PROFILE_DIR.glob("*.yaml")):
        profile = load_profile_file(path)
        registry.register(profile.name, profile, description=profile.description, aliases=tuple(profile.aliases))
    return registry


def resolve_target(name_or_path: str) -> TargetProfile:
    """A built-in profile by name or alias, or a user profile from a YAML path."""
    if name_or_path.endswith((".yaml", ".yml")):
        return load_profile_file(name_or_path)
    return builtin_targets().get(name_or_path)
