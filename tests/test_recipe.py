"""Recipe validation: one invalid fixture per error message, each naming the field path."""

from pathlib import Path

import pytest

from edgekit.errors import RecipeError
from edgekit.recipe import BUNDLED_DEMO, apply_override, find_recipe, load_recipe

FIXTURES = Path(__file__).parent / "fixtures" / "recipes"

CASES = {
    "epochs_zero.yaml": "train.epochs: must be ≥ 1, got 0",
    "unknown_key.yaml": "train.epochz: unknown key",
    "missing_source.yaml": "source: is required",
    "bad_literal.yaml": "data.kind: must be one of 'shapes', 'folder', 'npz', 'tfrecord' or 'tfds', got 'pictures'",
    "bad_type.yaml": "quantize.calibration_samples: input should be a valid integer",
    "folder_without_path.yaml": "data.path is required when data.kind is 'folder'",
    "bad_name.yaml": "name: must match",
    "not_a_mapping.yaml": "a recipe is a mapping of sections, got list",
    "broken_yaml.yaml": "not valid YAML",
    "bad_split.yaml": "data.split.test: must be < 1.0, got 1.5",
}


def test_every_fixture_has_a_case():
    assert sorted(p.name for p in FIXTURES.glob("*.yaml")) == sorted(CASES)


@pytest.mark.parametrize("name,expected", sorted(CASES.items()))
def test_invalid_recipe_names_the_problem(name, expected):
    with pytest.raises(RecipeError) as info:
        load_recipe(FIXTURES / name)
    assert expected in str(info.value)
    assert info.value.exit_code == 2
    assert name in str(info.value)  # the message names the file


def test_bundled_demo_is_valid():
    recipe = load_recipe(BUNDLED_DEMO)
    assert recipe.name == "demo"
    assert recipe.source.handle.startswith("demo:")
    assert recipe.train.fine_tune.enabled


def test_overrides_keep_types_and_validate():
    recipe = load_recipe(BUNDLED_DEMO, ["train.epochs=2", "train.fine_tune.enabled=false", "bench.min_time_s=0.1"])
    assert recipe.train.epochs == 2 and recipe.train.fine_tune.enabled is False and recipe.bench.min_time_s == 0.1
    with pytest.raises(RecipeError, match=r"train.epochs: must be ≥ 1, got -3"):
        load_recipe(BUNDLED_DEMO, ["train.epochs=-3"])


def test_override_without_equals_is_refused():
    with pytest.raises(RecipeError, match="key=value"):
        apply_override({}, "train.epochs")


def test_override_into_a_scalar_is_refused():
    with pytest.raises(RecipeError, match="is not a section"):
        apply_override({"name": "x"}, "name.sub=1")


def test_find_recipe_prefers_given_then_local_then_demo(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert find_recipe(None)[0] == BUNDLED_DEMO
    (tmp_path / "edgekit.yaml").write_text("name: x\n")
    assert find_recipe(None)[0] == tmp_path / "edgekit.yaml"
    with pytest.raises(RecipeError, match="recipe file not found"):
        find_recipe(tmp_path / "nope.yaml")
