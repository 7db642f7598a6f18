"""`edgekit convert --json`: stdout is one JSON document, everything a person reads (progress, the
summary table, notes) goes to stderr. `check --json` is tested in tests/report/test_check_json.py."""

from __future__ import annotations

import json
import os

import pytest

from edgekit.cli import main

TINY = ["--set", "data.num_images=160", "--set", "train.epochs=2", "--set", "train.fine_tune.epochs=1",
        "--set", "bench.min_runs=5", "--set", "bench.min_time_s=0.05", "--quant", "fp32"]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setitem(os.environ, "EDGEKIT_CACHE", str(tmp_path / "cache"))


def test_convert_json_prints_only_the_result_on_stdout(cache, tmp_path, capsys):
    rc = main(["convert", "--target", "host", "--out", str(tmp_path / "out"), "--json", *TINY])
    out, err = capsys.readouterr()
    doc = json.loads(out)  # the whole of stdout parses: nothing else was printed there
    assert rc == 0 == doc["exit_code"]
    run_dir = tmp_path / "out" / "demo" / "host"
    assert doc["run_dir"] == str(run_dir)
    assert doc["report"] == json.loads((run_dir / "report.json").read_text())
    assert [(a["format"], a["quant"], a["status"]) for a in doc["report"]["artifacts"]] == [("tflite", "fp32", "ok")]
    assert "recipe:" in err and "✓ train" in err and "parity-set accuracy (ref)" in err and "wrote " in err
