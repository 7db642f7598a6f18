"""`edgekit convert --json` on a run whose reference learns nothing.

stdout is one JSON document; everything a person reads (progress, the summary table, notes) goes to
stderr. The run trains with a learning rate of 1e-9, so its validation loss cannot move: the train
step, the summary, report.json/md and `edgekit check` must all say the reference is not to be
trusted, while every artifact still converts (`check --json` alone: tests/report/test_check_json.py).
"""

from __future__ import annotations

import json
import os

import pytest

from edgekit.cli import main

TINY = [
    "--set",
    "data.num_images=160",
    "--set",
    "train.epochs=2",
    "--set",
    "bench.min_runs=5",
    "--set",
    "bench.min_time_s=0.05",
    "--quant",
    "fp32",
]
# No second phase: unfreezing lets batch norm's moving statistics change the model whatever the
# learning rate. With 1e-9 the validation loss is then the same fixed model's loss every epoch.
LEARNS_NOTHING = ["--set", "train.learning_rate=1e-9", "--set", "train.fine_tune.enabled=false"]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setitem(os.environ, "EDGEKIT_CACHE", str(tmp_path / "cache"))


def test_convert_json_of_a_run_that_learned_nothing(cache, tmp_path, capsys):
    rc = main(
        ["convert", "--target", "host", "--out", str(tmp_path / "out"), "--json", *TINY, *LEARNS_NOTHING]
    )
    out, err = capsys.readouterr()
    doc = json.loads(out)  # the whole of stdout parses: nothing else was printed there
    assert rc == 0 == doc["exit_code"]  # a useless reference is flagged, not an error of the run
    run_dir = tmp_path / "out" / "demo" / "host"
    assert doc["run_dir"] == str(run_dir)
    assert doc["report"] == json.loads((run_dir / "report.json").read_text())
    assert [(a["format"], a["quant"], a["status"]) for a in doc["report"]["artifacts"]] == [
        ("tflite", "fp32", "ok")
    ]
    assert "recipe:" in err and "parity-set accuracy (ref)" in err and "wrote " in err

    health = doc["report"]["reference"]["health"]
    assert health["loss_moved"] is False and any("validation loss did not move" in f for f in health["flags"])
    assert "⚠ not clearly better than chance" in err and "⚠ reference not trustworthy" in err
    assert "reference not trustworthy" in (run_dir / "report.md").read_text()
    assert main(["check", str(run_dir), "--baseline", str(run_dir / "report.json")]) == 1
    assert "| reference | learned the task |" in capsys.readouterr().out
