"""`edgekit doctor`: every check has a status, and every failing one the command that fixes it."""

from __future__ import annotations

import json

import pytest

from edgekit.cli import main
from edgekit.setup import extras


def _doctor_json(capsys) -> dict:
    code = main(["doctor", "--json", "--no-tf-gpu"])
    out = json.loads(capsys.readouterr().out)
    out["exit"] = code
    return out


def test_doctor_json_lists_every_section(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("EDGEKIT_TOOLS", str(tmp_path / "tools"))
    report = _doctor_json(capsys)
    sections = {c["section"] for c in report["checks"]}
    assert sections == {"python", "extras", "tools", "formats", "runtimes", "storage", "gpu"}
    names = {(c["section"], c["name"]) for c in report["checks"]}
    assert {
        ("formats", "tflite"),
        ("formats", "onnx"),
        ("formats", "tfjs"),
        ("runtimes", "litert"),
        ("runtimes", "tfjs-node"),
        ("runtimes", "tfjs-browser"),
    } <= names
    assert report["exit"] == 0 and report["ok"] is True
    for check in report["checks"]:
        assert check["ok"] or check["fix"], check  # a gap always comes with its fix
    # an empty tools folder: the TF.js converter and runner are missing and say how to get them
    by_name = {(c["section"], c["name"]): c for c in report["checks"]}
    assert not by_name[("tools", "tfjs")]["ok"] and "edgekit setup tfjs" in by_name[("tools", "tfjs")]["fix"]
    assert (
        not by_name[("tools", "js-runner")]["ok"]
        and "edgekit setup js" in by_name[("tools", "js-runner")]["fix"]
    )
    assert not by_name[("formats", "tfjs")]["ok"] and by_name[("formats", "tflite")]["ok"]


def test_doctor_names_a_missing_extra(capsys, monkeypatch):
    real = extras.module_available
    monkeypatch.setattr(
        "edgekit.doctor.probe.module_available", lambda n: False if n == "tensorflow" else real(n)
    )
    monkeypatch.setattr(extras, "module_available", lambda n: False if n == "tensorflow" else real(n))
    by_name = {(c["section"], c["name"]): c for c in _doctor_json(capsys)["checks"]}
    assert not by_name[("extras", "tf")]["ok"] and "edgekit-ml[tf]" in by_name[("extras", "tf")]["fix"]
    assert not by_name[("formats", "onnx")]["ok"] and "tensorflow" in by_name[("formats", "onnx")]["detail"]


def test_doctor_table_prints_fixes_literally(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("EDGEKIT_TOOLS", str(tmp_path / "tools"))
    assert main(["doctor", "--no-tf-gpu"]) == 0
    out = capsys.readouterr().out
    assert "to fix:" in out and "edgekit setup tfjs" in out


@pytest.mark.parametrize("argv", [["setup", "--help"], ["doctor", "--help"]])
def test_help_has_examples(argv, capsys):
    assert main(argv) == 0
    assert "Examples" in capsys.readouterr().out
