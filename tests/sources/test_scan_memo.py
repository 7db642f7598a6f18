"""Graph facts remembered by the graph's bytes: an unchanged module is not scanned or read (nor
TensorFlow imported for it) again, a changed one is, and a refusal stays a refusal."""

from __future__ import annotations

import shutil

import pytest

from edgekit.errors import UnsafeModelError
from edgekit.sources import opscan
from edgekit.sources.opscan import check_saved_model


@pytest.fixture
def scans(monkeypatch):
    calls = []
    real = opscan.scan_saved_model
    monkeypatch.setattr(opscan, "scan_saved_model", lambda path: (calls.append(path), real(path))[1])
    return calls


def test_an_unchanged_module_is_scanned_once(tiny_module, scans):
    first = check_saved_model(tiny_module, allow_unsafe_ops=False, what="tiny")
    again = check_saved_model(tiny_module, allow_unsafe_ops=False, what="tiny")
    assert len(scans) == 1
    assert again.to_dict() == first.to_dict() and again.path == tiny_module


def test_a_refused_module_stays_refused_from_the_remembered_scan(writer_module, scans):
    for _ in range(2):
        with pytest.raises(UnsafeModelError, match="WriteFile"):
            check_saved_model(writer_module, allow_unsafe_ops=False, what="writer")
    assert len(scans) == 1
    allowed = check_saved_model(writer_module, allow_unsafe_ops=True, what="writer")
    assert [f.op for f in allowed.findings] == ["WriteFile"] and len(scans) == 1


def test_other_bytes_are_scanned_again(tiny_module, writer_module, scans, tmp_path):
    copy = shutil.copytree(tiny_module, tmp_path / "module")
    check_saved_model(copy, allow_unsafe_ops=False, what="copy")
    shutil.copy2(writer_module / "saved_model.pb", copy / "saved_model.pb")  # the same folder, a new graph
    with pytest.raises(UnsafeModelError, match="WriteFile"):
        check_saved_model(copy, allow_unsafe_ops=False, what="copy")
    assert len(scans) == 2


def test_an_unreadable_memo_is_scanned_again(tiny_module, scans, tmp_path):
    from edgekit.sources.opscan import ALLOWLIST_PATH
    from edgekit.sources.scan_memo import scan_key

    check_saved_model(tiny_module, allow_unsafe_ops=False, what="tiny")
    memo = tmp_path / "env-cache" / "scans" / f"{scan_key(tiny_module, ALLOWLIST_PATH.read_bytes())}.json"
    memo.write_text("{not json")
    assert check_saved_model(tiny_module, allow_unsafe_ops=False, what="tiny").ok
    assert len(scans) == 2


def test_the_signature_facts_are_read_once(tiny_module, monkeypatch):
    from edgekit.sources import metadata

    reads = []
    real = metadata.read_saved_model_proto
    monkeypatch.setattr(metadata, "read_saved_model_proto", lambda path: (reads.append(path), real(path))[1])
    first = metadata.module_info(tiny_module)
    assert metadata.module_info(tiny_module) == first and len(reads) == 1
    assert first.input_size == (8, 8)
    assert metadata.module_info(tiny_module, input_size=(16, 16)).input_size == (
        16,
        16,
    )  # the recipe still wins
