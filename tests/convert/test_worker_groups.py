"""How conversion jobs are split between worker processes."""

from __future__ import annotations

from pathlib import Path

from edgekit.convert.runner import ConvertJob, worker_groups


def _format(name: str, modes: int) -> list[ConvertJob]:
    return [ConvertJob(name, f"q{i}", Path("ref"), Path(f"out/{name}-{i}")) for i in range(modes)]


def _names(groups: list[list[ConvertJob]]) -> list[list[str]]:
    return [sorted({job.format for job in group}, key=[j.format for j in group].index) for group in groups]


def test_as_many_groups_as_formats_when_there_are_enough_workers():
    formats = [_format("tflite", 5), _format("onnx", 4), _format("tfjs", 2)]
    assert worker_groups(formats, 3) == formats
    assert worker_groups(formats, 8) == formats


def test_more_formats_than_workers_packs_whole_formats_most_jobs_first():
    formats = [_format("tflite", 5), _format("onnx", 4), _format("tfjs", 4)]
    groups = worker_groups(formats, 2)
    assert _names(groups) == [["tflite"], ["onnx", "tfjs"]]
    assert [len(g) for g in groups] == [5, 8]
    # every job exactly once, and a format's jobs stay in their order
    assert sorted(id(j) for g in groups for j in g) == sorted(id(j) for f in formats for j in f)
    assert [j.quant for j in groups[1]] == ["q0", "q1", "q2", "q3"] * 2


def test_formats_keep_their_given_order_within_a_group():
    formats = [_format("tfjs", 1), _format("toy", 1), _format("tflite", 3)]
    assert _names(worker_groups(formats, 2)) == [["tflite"], ["tfjs", "toy"]]
    assert _names(worker_groups(formats, 1)) == [["tfjs", "toy", "tflite"]]
