import pytest

from edgekit.errors import UnknownNameError
from edgekit.registry import Registry


@pytest.fixture
def reg():
    r = Registry("target")
    r.register("rpi4", 4, description="Pi 4", aliases=("rpi",))
    r.register("rpi5", 5, description="Pi 5")
    r.register("host", 0)
    return r


def test_names_aliases_and_case(reg):
    assert reg.get("rpi4") == 4 and reg.get("RPI") == 4 and reg.canonical(" rpi ") == "rpi4"
    assert "rpi" in reg and "nosuch" not in reg
    assert reg.names() == ["host", "rpi4", "rpi5"]


def test_unknown_name_suggests_and_lists(reg):
    with pytest.raises(UnknownNameError) as info:
        reg.get("rpi6")
    err = info.value
    assert "unknown target 'rpi6'" in err.message and "Did you mean" in err.message
    assert "host, rpi4, rpi5" in err.hint and err.exit_code == 2


def test_no_suggestion_when_nothing_is_close(reg):
    with pytest.raises(UnknownNameError) as info:
        reg.get("zzzzzzzz")
    assert "Did you mean" not in info.value.message


def test_glob_listing_matches_names_and_aliases(reg):
    assert [e.name for e in reg.list("rpi*")] == ["rpi4", "rpi5"]
    assert [e.name for e in reg.list("rpi")] == ["rpi4"]


def test_duplicates_are_refused(reg):
    with pytest.raises(ValueError):
        reg.register("rpi", 1)


def test_builtin_registries_are_populated():
    from edgekit.convert import FORMATS
    from edgekit.quant import QUANT_MODES
    from edgekit.runtimes import RUNTIMES
    from edgekit.targets.profile import builtin_targets

    assert {"rpi4", "rpi5", "host"} <= set(builtin_targets().names())
    assert builtin_targets().canonical("rpi") == "rpi4"
    assert "tflite" in FORMATS and "litert" in RUNTIMES
    assert {"fp32", "int8"} <= set(FORMATS.get("tflite").quant_modes) <= set(QUANT_MODES.names())


def test_public_api_names_resolve():
    import edgekit

    for name in edgekit.__all__:
        assert getattr(edgekit, name) is not None, name
    with pytest.raises(AttributeError):
        edgekit.no_such_thing  # noqa: B018


@pytest.mark.parametrize(
    "target,fmt,runtime",
    [
        ("browser", "tfjs", "tfjs-browser"),
        ("rpi4", "tfjs", "tfjs-node"),
        ("rpi4", "tflite", "litert"),
        ("rpi4", "onnx", "onnxruntime"),
    ],
)
def test_parity_and_bench_use_the_targets_own_runtime(target, fmt, runtime):
    from edgekit.stages.common import _host_runtime
    from edgekit.targets.profile import resolve_target

    assert _host_runtime(resolve_target(target), fmt) == runtime
