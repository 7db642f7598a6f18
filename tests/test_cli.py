"""CLI exit codes and output: run as a real process, as a user would."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from edgekit import __version__

FIXTURES = Path(__file__).parent / "fixtures" / "recipes"


def edgekit(*args, cwd=None, timeout=120):
    return subprocess.run(
        [sys.executable, "-m", "edgekit", *args], capture_output=True, text=True, cwd=cwd, timeout=timeout
    )


def test_version():
    r = edgekit("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"edgekit {__version__}"


@pytest.mark.parametrize("command", [[], ["convert"], ["list"]])
def test_help_has_examples(command):
    r = edgekit(*command, "--help")
    assert r.returncode == 0
    if command:
        assert "Examples" in r.stdout


def test_list_targets_with_glob_and_json():
    r = edgekit("list", "targets", "rpi*", "--json")
    assert r.returncode == 0
    rows = json.loads(r.stdout)
    names = [row["name"] for row in rows]
    assert "rpi4" in names and "rpi5" in names and "host" not in names
    assert "rpi" in next(row for row in rows if row["name"] == "rpi4")["aliases"]


@pytest.mark.parametrize("what,expected", [("formats", "tflite"), ("quant", "int8"), ("runtimes", "litert")])
def test_list_registries(what, expected):
    r = edgekit("list", what)
    assert r.returncode == 0 and expected in r.stdout


def test_list_unknown_kind_is_a_usage_error():
    r = edgekit("list", "gadgets")
    assert r.returncode == 2 and "cannot list 'gadgets'" in r.stderr


def test_unknown_target_lists_targets_and_suggests():
    r = edgekit("convert", "--target", "rpi6")
    assert r.returncode == 2
    assert "unknown target 'rpi6'" in r.stderr and "Did you mean" in r.stderr
    assert "rpi4" in r.stderr and "rpi5" in r.stderr
    assert "Traceback" not in r.stderr


def test_nosuch_target():
    r = edgekit("convert", "--target", "nosuch")
    assert r.returncode == 2 and "available targets:" in r.stderr


def test_bad_recipe_field_names_the_path():
    r = edgekit("convert", str(FIXTURES / "epochs_zero.yaml"), "--target", "rpi")
    assert r.returncode == 2 and "train.epochs: must be ≥ 1, got 0" in r.stderr
    assert "Traceback" not in r.stderr


def test_missing_recipe_file(tmp_path):
    r = edgekit("convert", str(tmp_path / "missing.yaml"))
    assert r.returncode == 2 and "recipe file not found" in r.stderr


def test_bad_set_override():
    r = edgekit("convert", "--set", "train.epochs")
    assert r.returncode == 2 and "--set expects key=value" in r.stderr


def test_unknown_quant_mode_suggests():
    r = edgekit("convert", "--target", "rpi", "--quant", "int9")
    assert r.returncode == 2 and "unknown quant mode 'int9'" in r.stderr


def test_unknown_option_is_a_usage_error():
    r = edgekit("convert", "--no-such-flag")
    assert r.returncode == 2 and "No such option" in r.stderr


def test_convert_says_which_recipe_it_uses(tmp_path):
    (tmp_path / "edgekit.yaml").write_text(
        "name: x\nsource: {handle: 'demo:shapes-cnn'}\ndata: {kind: shapes}\ntrain: {epochs: 0}\n"
    )
    r = edgekit("convert", cwd=tmp_path)
    assert "found ./edgekit.yaml" in r.stdout and r.returncode == 2


def _all_commands():
    """Every command path of the typer app, sub-apps included."""
    import typer.main

    from edgekit.cli import app

    def walk(group, prefix):
        for name, cmd in getattr(group, "commands", {}).items():
            if getattr(cmd, "commands", None):
                yield from walk(cmd, prefix + [name])
            else:
                yield prefix + [name]

    return list(walk(typer.main.get_command(app), []))


def test_every_command_has_help_with_examples(capsys):
    from edgekit.cli import main

    commands = _all_commands()
    assert {"convert", "list", "train", "bench", "pull", "report", "bundle", "verify", "check"} <= {
        c[0] for c in commands
    }
    missing = []
    for path in commands:
        assert main([*path, "--help"]) == 0
        if "Example" not in capsys.readouterr().out:
            missing.append(" ".join(path))
    assert missing == []


def test_tensorflow_import_noise_stays_out_of_a_command(tmp_path):
    """absl logs 'Could not find cuda drivers' / 'failed call to cuInit' before TF_CPP_MIN_LOG_LEVEL applies."""
    script = (
        "import sys\n"
        "from edgekit.cli import app, main\n"
        "@app.command('import-tf')\n"
        "def import_tf():\n"
        "    import tensorflow  # noqa: F401\n"
        "    print('imported')\n"
        "sys.exit(main(['import-tf']))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("EDGEKIT_VERBOSE", "TF_CPP_MIN_LOG_LEVEL")}
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300
    )
    assert proc.returncode == 0 and proc.stdout.strip() == "imported", proc.stderr
    assert proc.stderr == ""
    verbose = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**env, "EDGEKIT_VERBOSE": "1"},
        timeout=300,
    )
    assert (
        verbose.returncode == 0
    )  # and with EDGEKIT_VERBOSE=1 nothing is hidden (what TF prints varies by machine)


@pytest.mark.parametrize(
    "words, cword, expected", [("edgekit con", 1, "convert"), ("edgekit setup t", 2, "tfjs")]
)
def test_shell_completion_completes_commands(words, cword, expected, tmp_path):
    env = {**os.environ, "COMP_WORDS": words, "COMP_CWORD": str(cword), "_EDGEKIT_COMPLETE": "complete_bash"}
    script = Path(sys.executable).parent / "edgekit"  # the console script: completion keys on its name
    proc = subprocess.run([script], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert proc.stdout.split() == [expected], proc.stderr


def test_show_completion_prints_a_script():
    # SHELL set: without a value typer falls back to detecting the parent process's shell
    env = {**os.environ, "SHELL": "/bin/bash"}
    proc = subprocess.run(
        [Path(sys.executable).parent / "edgekit", "--show-completion", "bash"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert proc.returncode == 0 and "_edgekit_completion" in proc.stdout


def test_ctrl_c_inside_a_command_exits_130_with_the_message(tmp_path):
    script = (
        "import sys\n"
        "from edgekit.cli import app, main\n"
        "@app.command('interrupt-me')\n"
        "def interrupt_me():\n"
        "    raise KeyboardInterrupt\n"
        "sys.exit(main(['interrupt-me']))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=120, check=False
    )
    assert proc.returncode == 130 and "interrupted: nothing half-written was kept" in proc.stderr
