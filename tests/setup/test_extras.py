"""Missing extras are usage errors that name the extra and the install line, never tracebacks."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

import edgekit
from edgekit.cli import _missing_module, main
from edgekit.errors import NotInstalledError
from edgekit.setup import extras

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def tf_missing(monkeypatch):
    real = extras.module_available
    monkeypatch.setattr(extras, "module_available", lambda name: False if name == "tf2onnx" else real(name))


def test_require_extra_names_the_extra_and_the_install_line(tf_missing):
    with pytest.raises(NotInstalledError) as info:
        extras.require_extra("tf", "edgekit convert")
    assert info.value.exit_code == 2
    assert (
        "edgekit convert needs the `tf` extra" in info.value.message
        and "missing tf2onnx" in info.value.message
    )
    assert 'pip install "edgekit-ml[tf]"' in info.value.hint and 'uv add "edgekit-ml[tf]"' in info.value.hint


@pytest.mark.parametrize("argv", [["convert", "--target", "rpi"], ["train"], ["pull", "keras:MobileNetV2"]])
def test_tensorflow_commands_exit_2_before_writing(tf_missing, argv, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "edgekit-ml[tf]" in err  # printed literally: rich must not read "[tf]" as markup
    assert list(tmp_path.iterdir()) == []


def test_a_missing_module_deep_in_a_command_names_its_extra(capsys):
    assert _missing_module(ModuleNotFoundError("No module named 'matplotlib'", name="matplotlib")) == 2
    err = capsys.readouterr().err
    assert "`viz` extra" in err and "edgekit-ml[viz]" in err


def test_a_missing_module_of_no_extra_is_a_real_bug():
    with pytest.raises(ModuleNotFoundError):
        _missing_module(ModuleNotFoundError("No module named 'nonexistent_mod'", name="nonexistent_mod"))


def test_extras_in_pyproject_match_the_probes():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["name"] == "edgekit-ml" and project["version"] == edgekit.__version__
    optional = project["optional-dependencies"]
    assert set(extras.EXTRAS) <= set(optional) and "all" in optional
    core = " ".join(project["dependencies"])
    assert "tensorflow" not in core and "tensorflowjs" not in " ".join(
        d for deps in optional.values() for d in deps
    )
    for name, extra in extras.EXTRAS.items():
        declared = " ".join(optional[name]).replace("-", "_")
        assert all(module in declared for module in extra.modules), (name, extra.modules)
    in_all = [name for name in extras.EXTRAS if name not in extras.OUTSIDE_ALL]
    assert optional["all"] == [f"edgekit-ml[{','.join(in_all)}]"]


def test_convert_to_tfjs_without_the_converter_stops_before_any_step(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("EDGEKIT_TOOLS", str(tmp_path / "tools"))  # an empty tools folder
    monkeypatch.chdir(tmp_path)
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "tensorflowjs" else real_find_spec(name, *a),
    )
    monkeypatch.delitem(__import__("sys").modules, "tensorflowjs", raising=False)
    assert main(["convert", "--target", "browser", "--format", "tfjs"]) == 2
    err = capsys.readouterr().err
    assert "TF.js converter" in err and "edgekit setup tfjs" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no run folder, no tools folder


def test_the_package_imports_only_core_dependencies_at_module_level():
    """What a module imports when it loads must be in the core install (extras are imported inside
    functions). click, for one, comes with the dev tools (mkdocs) but not with edgekit-ml."""
    import ast
    import sys

    core = {"numpy", "ai_edge_litert", "onnx", "onnxruntime", "pydantic", "yaml", "typer", "rich", "edgekit"}
    allowed = core | set(sys.stdlib_module_names) | {"__future__"}

    def top_level_imports(tree):
        for node in tree.body:
            for inner in ast.walk(node) if isinstance(node, (ast.If, ast.Try)) else [node]:
                if isinstance(inner, ast.Import):
                    yield from (a.name for a in inner.names)
                elif isinstance(inner, ast.ImportFrom) and inner.level == 0:
                    yield inner.module or ""

    loaded_by = {"edgekit/bench/pytest_plugin.py": {"pytest"}}  # loaded by pytest itself
    found = [
        f"{rel}: {name}"
        for path in sorted((REPO / "edgekit").rglob("*.py"))
        for rel in [path.relative_to(REPO).as_posix()]
        for name in top_level_imports(ast.parse(path.read_text()))
        if name.split(".")[0] not in allowed | loaded_by.get(rel, set())
    ]
    assert found == []
