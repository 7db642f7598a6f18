"""`edgekit bench` exit codes and output: a table for people, schema-valid JSON for machines."""

from __future__ import annotations

import json

from edgekit.bench.result import schema_errors
from edgekit.cli import main

QUICK_ARGS = ["--min-runs", "5", "--min-time", "0.05", "--warmup", "1"]


def test_json_output_for_a_run_dir(run_dir, capsys):
    assert main(["bench", str(run_dir), "--threads", "1", "--json", *QUICK_ARGS]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema_version"] == 1 and len(doc["results"]) == 1
    [r] = doc["results"]
    assert schema_errors(r) == [] and r["status"] == "ok" and r["protocol"]["min_runs"] == 5


def test_table_names_the_artifact_and_a_failed_one_exits_1(tflite_artifact, corrupt_tflite, capsys):
    assert main(["bench", str(tflite_artifact.folder), str(corrupt_tflite), *QUICK_ARGS]) == 1
    out = capsys.readouterr()
    assert "tflite-fp32" in out.out and "FAILED" in out.out and "failed" in out.err


def test_missing_path_is_a_usage_error(tmp_path, capsys):
    assert main(["bench", str(tmp_path / "nope.tflite")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_help_shows_examples(capsys):
    assert main(["bench", "--help"]) == 0
    assert "edgekit bench out/demo/rpi4/" in capsys.readouterr().out
