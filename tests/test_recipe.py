"""Recipe validation: one invalid fixture per error message, each naming the field path."""

import copy
from pathlib import Path

import pytest
import yaml

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
    recipe = load_recipe(
        BUNDLED_DEMO, ["train.epochs=2", "train.fine_tune.enabled=false", "bench.min_time_s=0.1"]
    )
    assert (
        recipe.train.epochs == 2
        and recipe.train.fine_tune.enabled is False
        and recipe.bench.min_time_s == 0.1
    )
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


# --- malformed recipes and command lines: exit 2 before any step, nothing written ----------------


BASE = {
    "name": "t",
    "source": {"handle": "demo:shapes-cnn"},
    "data": {"kind": "shapes", "num_images": 64},
    "train": {"epochs": 1},
}


def _with(path: str, value):
    """BASE with PATH (a.b.c) set to VALUE."""
    raw = copy.deepcopy(BASE)
    node = raw
    *parents, last = path.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value
    return raw


def _yaml(raw) -> bytes:
    return yaml.safe_dump(raw).encode()


BILLION_LAUGHS = (
    b"name: t\na: &a [x, x, x, x, x, x, x, x, x]\n"
    + b"".join(f"{c}: &{c} [{', '.join(['*' + p] * 9)}]\n".encode() for p, c in zip("abcdefgh", "bcdefghi"))
    + b"source: {handle: demo:shapes-cnn}\ndata: {kind: shapes, items: *i}\n"
)
DEEP = b"name: t\nsource: {handle: demo:shapes-cnn}\ndata: " + b"[" * 2000 + b"]" * 2000 + b"\n"

# case → (recipe bytes, or a function of the tmp folder that returns them; words the message must hold)
RECIPES = {
    "threshold above 1": (
        _yaml(_with("parity.thresholds", {"int8": {"min_top1": 1.5}})),
        "parity.thresholds: int8.min_top1 must be in [0, 1]",
    ),
    "negative max_abs": (
        _yaml(_with("parity.thresholds", {"fp16": {"max_abs": -0.1}})),
        "parity.thresholds: fp16.max_abs",
    ),
    "threshold for an unknown mode": (
        _yaml(_with("parity.thresholds", {"int9": {"min_top1": 0.9}})),
        "parity.thresholds: unknown quant mode 'int9'",
    ),
    "negative batch size": (_yaml(_with("train.batch_size", -4)), "train.batch_size: must be ≥ 1, got -4"),
    "absurd batch size": (_yaml(_with("train.batch_size", 10**9)), "train.batch_size: must be ≤ 65536"),
    "absurd epochs": (_yaml(_with("train.epochs", 10**9)), "train.epochs: must be ≤ 10000"),
    "infinite learning rate": (
        b"name: t\nsource: {handle: demo:shapes-cnn}\ndata: {kind: shapes}\ntrain: {learning_rate: .inf}\n",
        "train.learning_rate",
    ),
    "NaN learning rate": (
        b"name: t\nsource: {handle: demo:shapes-cnn}\ndata: {kind: shapes}\ntrain: {learning_rate: .nan}\n",
        "train.learning_rate",
    ),
    "absurd image count": (_yaml(_with("data.num_images", 10**7)), "data.num_images: must be ≤ 20000"),
    "split leaves no training data": (
        _yaml(_with("data.split", {"validation": 0.5, "test": 0.49})),
        "leaves 1% of the images for training",
    ),
    "split leaves no training image per class": (
        _yaml(_with("data", {"kind": "shapes", "num_images": 8, "split": {"validation": 0.4, "test": 0.4}})),
        "data.split: with 8 images (2 per class)",
    ),
    "zero input size": (
        _yaml(_with("source.input_size", [0, 224])),
        "source.input_size[0]: must be ≥ 1, got 0",
    ),
    "reversed value range": (
        _yaml(_with("source.value_range", [1.0, 0.0])),
        "source.value_range: must be [low, high]",
    ),
    "negative hidden units": (
        _yaml(_with("train.head", {"hidden": [-1]})),
        "train.head.hidden[0]: must be ≥ 1",
    ),
    "zero threads": (_yaml(_with("bench.threads", 0)), "bench.threads: must be ≥ 1"),
    "negative bench time": (_yaml(_with("bench.min_time_s", -1)), "bench.min_time_s: must be > 0"),
    "opset out of range": (_yaml(_with("convert.onnx", {"opset": 99})), "convert.onnx.opset: must be ≤ 18"),
    "mirror that is not http": (_yaml(_with("source.hub_url", "ftp://mirror")), "source.hub_url: must match"),
    "duplicate class names": (
        _yaml(_with("data", {"kind": "tfrecord", "path": "recs", "tfrecord": {"class_names": ["a", "a"]}})),
        "data.tfrecord.class_names: class names must be unique",
    ),
    "mixed precision sometimes": (
        _yaml(_with("train.mixed_precision", "sometimes")),
        "train.mixed_precision: must be one of 'auto', 'on' or 'off'",
    ),
    "empty output dir": (_yaml(_with("output.dir", "")), "output.dir: must not be empty"),
    "data folder missing": (_yaml(_with("data", {"kind": "folder", "path": "nope"})), "data.path: "),
    "data folder is a file": (
        _yaml(_with("data", {"kind": "folder", "path": "recipe.yaml"})),
        "is not a folder",
    ),
    "npz is a folder": (_yaml(_with("data", {"kind": "npz", "path": "."})), "data.path: "),
    "no tfrecord files": (
        _yaml(_with("data", {"kind": "tfrecord", "path": "records/*.tfrecord"})),
        "no TFRecord files found",
    ),
    "local source missing": (_yaml(_with("source.handle", "./models/net")), "source.handle: "),
    "local source without saved_model.pb": (_yaml(_with("source.handle", "./")), "has no saved_model.pb"),
    "billion laughs": (BILLION_LAUGHS, "expands to more than 100000 values"),
    "deep nesting": (DEEP, "nested more than 32 levels deep"),
    "recursive alias": (
        b"name: t\nsource: {handle: demo:shapes-cnn}\ndata: &d {kind: shapes, x: *d}\n",
        "refers to itself",
    ),
    "UTF-16 with BOM": (_yaml(BASE).decode().encode("utf-16"), "encoded as UTF-16"),
    "UTF-16 without BOM": (_yaml(BASE).decode().encode("utf-16-le"), "NUL bytes"),
    "non-UTF-8 byte": (
        b"name: t\xe9\nsource: {handle: demo:shapes-cnn}\ndata: {kind: shapes}\n",
        "not UTF-8 text: byte b'\\xe9' at offset 7 (line 1)",
    ),
    "source path too long": (_yaml(_with("source.handle", "./" + "a" * 5000)), "source.handle: './aaaa"),
    "data path too long": (_yaml(_with("data", {"kind": "folder", "path": "a" * 5000})), "data.path: 'aaaa"),
    "huge file": (b"name: t\n" + b"# padding\n" * 120_000, "more than the 1048576 a recipe may have"),
}

# case → (extra command-line arguments, words the message must hold); the recipe is BASE
COMMAND_LINES = {
    "--set out of range": (["--set", "train.epochs=0"], "train.epochs: must be ≥ 1, got 0"),
    "--set not an on/off value": (["--set", "train.mixed_precision=maybe"], "train.mixed_precision"),
    "--set without =": (["--set", "train.epochs"], "--set expects key=value"),
    "--set deep YAML": (["--set", "data.noise=" + "[" * 100 + "]" * 100], "nested more than 32 levels deep"),
    "--set split leaving no training data": (["--set", "data.split.validation=0.9"], "data.split"),
    "unknown target": (["--target", "rpi9000"], "rpi9000"),
    "unknown format": (["--format", "tflight"], "tflight"),
    "unknown quant mode": (["--quant", "int9"], "int9"),
    "zero threads": (["--threads", "0"], "--threads"),
    "target profile file missing": (["--target", "nope.yaml"], "nope.yaml"),
    "--out is a file": (["--out", "recipe.yaml"], "cannot create the run folder"),
}


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def _convert(tmp_path, monkeypatch, capsys, recipe: bytes, *args: str) -> tuple[int, str]:
    from edgekit.cli import main

    (tmp_path / "recipe.yaml").write_bytes(recipe)
    monkeypatch.chdir(tmp_path)
    before = _files(tmp_path)
    code = main(["convert", str(tmp_path / "recipe.yaml"), "--format", "tflite", *args])
    out = capsys.readouterr()
    assert _files(tmp_path) == before, "files were written"
    return code, out.out + out.err


@pytest.mark.parametrize("case", list(RECIPES))
def test_malformed_recipe_exits_2_naming_the_field_before_any_step(case, tmp_path, monkeypatch, capsys):
    data, words = RECIPES[case]
    code, output = _convert(tmp_path, monkeypatch, capsys, data)
    assert code == 2, output
    assert words in " ".join(output.split()), output  # rich may wrap long lines
    assert "Traceback" not in output and "recipe.yaml" in output


@pytest.mark.parametrize("case", list(COMMAND_LINES))
def test_malformed_command_line_exits_2_before_any_step(case, tmp_path, monkeypatch, capsys):
    args, words = COMMAND_LINES[case]
    code, output = _convert(tmp_path, monkeypatch, capsys, _yaml(BASE), *args)
    assert code == 2, output
    assert words in " ".join(output.split()), output
    assert "Traceback" not in output


@pytest.mark.parametrize(
    "written,expected", [("on", "on"), ("off", "off"), ("yes", "on"), ("false", "off"), ("auto", "auto")]
)
def test_on_off_fields_mean_what_the_user_wrote(written, expected, tmp_path):
    # YAML 1.1 reads on/off/yes/false as booleans: in the file and in --set alike
    without_train = {k: v for k, v in BASE.items() if k != "train"}
    (tmp_path / "r.yaml").write_text(
        yaml.safe_dump(without_train) + f"train: {{mixed_precision: {written}}}\n"
    )
    assert load_recipe(tmp_path / "r.yaml").train.mixed_precision == expected
    assert load_recipe(BUNDLED_DEMO, [f"train.mixed_precision={written}"]).train.mixed_precision == expected


def test_the_help_example_for_mixed_precision_is_accepted():
    from edgekit import train_run

    source = Path(train_run.__file__).read_text()
    assert "--set train.mixed_precision=on" in source
    assert (
        load_recipe(
            BUNDLED_DEMO, ["train.mixed_precision=on", "train.jit_compile=true"]
        ).train.mixed_precision
        == "on"
    )


def test_paths_are_checked_relative_to_the_recipe(tmp_path):
    (tmp_path / "images" / "cat").mkdir(parents=True)
    (tmp_path / "net").mkdir()
    (tmp_path / "net" / "saved_model.pb").write_bytes(b"")
    raw = {**BASE, "source": {"handle": "./net"}, "data": {"kind": "folder", "path": "images"}}
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(raw))
    recipe = load_recipe(tmp_path / "r.yaml")
    assert recipe.data.path == "images"


def test_billion_laughs_fails_fast():
    import time

    from edgekit import yamlsafe

    assert len(BILLION_LAUGHS) < 600
    start = time.process_time()
    with pytest.raises(RecipeError, match="billion laughs"):
        yamlsafe.parse(BILLION_LAUGHS.decode(), origin="r.yaml", error=RecipeError)
    assert time.process_time() - start < 5  # CPU time: the refusal does not walk 9**9 nodes


def test_every_recipe_case_is_also_malformed_for_yaml_loaders_other_than_recipes(tmp_path):
    """The same bounded reader guards device profiles: same words, the profile's own file named."""
    from edgekit.errors import UsageError
    from edgekit.targets.profile import load_profile_file

    for case in ("billion laughs", "deep nesting", "UTF-16 with BOM", "non-UTF-8 byte", "huge file"):
        data, words = RECIPES[case]
        (tmp_path / "p.yaml").write_bytes(data)
        with pytest.raises(UsageError) as err:
            load_profile_file(tmp_path / "p.yaml")
        assert words.replace("recipe", "target profile") in str(err.value) and "p.yaml" in str(err.value)
