"""Profiles: every built-in loads, aliases resolve, errors name the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from edgekit.errors import UnknownNameError, UsageError
from edgekit.targets import alias_note, builtin_targets, load_profile_file, resolve_target
from edgekit.targets.calibration.published import PACKAGE_CALIBRATION, load_device_table
from edgekit.targets.fitted import load_fitted
from edgekit.targets.profile import PROFILE_DIR

from .synthetic import REQUIRED_TARGETS

REQUIRED = REQUIRED_TARGETS


def test_every_required_profile_is_built_in():
    assert set(REQUIRED) <= set(builtin_targets().names())


@pytest.mark.parametrize("name", REQUIRED)
def test_profiles_are_complete(name):
    p = resolve_target(name)
    assert p.runtimes and p.plan.formats and p.plan.threads >= 1
    assert all(fmt in p.plan.quant for fmt in p.plan.formats)
    assert p.hardware.ram_mb > 0 and p.hardware.mem_bandwidth_gbs > 0


def test_raspberry_pi_plans_stay_what_the_demo_needs():
    for name in ("rpi4", "rpi5"):
        p = resolve_target(name)
        assert (
            p.plan.formats == ["tflite"]
            and p.plan.quant == {"tflite": ["fp32", "int8"]}
            and p.plan.threads == 4
        )


def test_mcu_has_flash_and_tflite_micro():
    p = resolve_target("mcu-m7")
    assert p.hardware.flash_kb and p.runtimes == ["tflite-micro"] and p.plan.quant == {"tflite": ["int8"]}


@pytest.mark.parametrize(
    "alias, name",
    [
        ("rpi", "rpi4"),
        ("RPi", "rpi4"),
        ("rpi4b", "rpi4"),
        ("jetson", "jetson-nano"),
        ("web", "browser"),
        ("stm32h7", "mcu-m7"),
        ("pixel3a", "android-mid"),
    ],
)
def test_aliases_resolve_and_are_reported(alias, name):
    assert resolve_target(alias).name == name
    assert alias_note(alias) == f"{alias} → {name}"
    assert alias_note(name) is None


def test_unknown_target_suggests_the_closest():
    with pytest.raises(UnknownNameError, match="Did you mean 'rpi5'"):
        resolve_target("rpi55")


@pytest.mark.parametrize("name", [n for n in REQUIRED if resolve_target(n).calibration.device])
def test_calibrated_profiles_match_the_specs_they_were_fitted_with(name):
    """The estimator scales by the profile's hardware: it must be the hardware of the fitted device."""
    p = resolve_target(name)
    specs, _ = load_device_table(PACKAGE_CALIBRATION)
    spec = specs[p.calibration.device]
    hw = p.hardware
    assert (hw.clock_ghz, hw.fp32_macs_per_cycle, hw.dotprod, hw.mem_bandwidth_gbs) == (
        spec.clock_ghz,
        spec.fp32_macs_per_cycle,
        spec.dotprod,
        spec.mem_bandwidth_gbs,
    )
    assert p.calibration.device in load_fitted()["factors"]["devices"]


def _write(tmp_path: Path, mutate) -> Path:
    data = yaml.safe_load((PROFILE_DIR / "rpi4.yaml").read_text())
    mutate(data)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(
    "mutate, field",
    [
        (lambda d: d["hardware"].__setitem__("cores", 0), "hardware.cores"),
        (lambda d: d["hardware"].pop("clock_ghz"), "hardware.clock_ghz"),
        (lambda d: d["hardware"].__setitem__("turbo", True), "hardware.turbo"),
        (lambda d: d["hardware"].__setitem__("os_bits", 16), "hardware.os_bits"),
        (lambda d: d.__setitem__("runtimes", ["tensorrt"]), "runtimes"),
        (lambda d: d["plan"].__setitem__("formats", ["coreml"]), "plan.formats"),
        (lambda d: d["plan"].__setitem__("quant", {"tflite": ["int4"]}), "plan.quant"),
        (lambda d: d["plan"].__setitem__("threads", 8), "(top level)"),
    ],
)
def test_loading_errors_name_the_file_and_the_field(tmp_path, mutate, field):
    path = _write(tmp_path, mutate)
    with pytest.raises(UsageError) as err:
        load_profile_file(path)
    assert str(path) in err.value.message and f": {field}" in err.value.message
    assert err.value.exit_code == 2


def test_loading_errors_for_missing_file_bad_yaml_and_non_mapping(tmp_path):
    with pytest.raises(UsageError, match="not found"):
        load_profile_file(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed")
    with pytest.raises(UsageError, match="not valid YAML"):
        load_profile_file(bad)
    bad.write_text("- just\n- a list\n")
    with pytest.raises(UsageError, match="a profile is a mapping"):
        load_profile_file(bad)


def test_user_profile_from_yaml_path(tmp_path):
    path = _write(tmp_path, lambda d: d.update(name="my-pi", aliases=[]))
    good = tmp_path / "my-pi.yaml"
    path.rename(good)
    assert resolve_target(str(good)).name == "my-pi"
    assert alias_note(str(good)) is None
