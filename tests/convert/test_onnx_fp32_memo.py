"""Every ONNX quant mode in a process shares one tf2onnx export of the reference."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from edgekit.convert import onnx_fp32_memo
from edgekit.errors import ConversionError


@pytest.fixture
def exports(monkeypatch, tmp_path):
    """Count the exports; each writes a small file and one warning, or fails when asked."""
    calls: list[tuple[Path, int]] = []

    def fake_export(saved_model: Path, opset: int, out: Path, warnings: list[str]) -> Path:
        if (saved_model / "FAIL").exists():
            raise ConversionError("tf2onnx could not convert")
        calls.append((saved_model, opset))
        out.write_bytes(f"onnx {opset} {len(calls)}".encode())
        warnings.append(f"tf2onnx: note {len(calls)}")
        return out

    monkeypatch.setattr(onnx_fp32_memo, "export_fp32", fake_export)
    monkeypatch.setattr(onnx_fp32_memo, "_exports", {})
    monkeypatch.setattr(onnx_fp32_memo, "_folder", None)
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    return calls


def _saved_model(tmp_path: Path, name: str = "saved_model") -> Path:
    folder = tmp_path / name
    (folder / "variables").mkdir(parents=True)
    (folder / "saved_model.pb").write_bytes(b"graph")
    (folder / "variables" / "variables.data-00000-of-00001").write_bytes(b"weights")
    return folder


def test_one_export_for_every_mode_with_its_warnings_each_time(exports, tmp_path):
    saved_model = _saved_model(tmp_path)
    seen = []
    for _ in range(4):
        warnings: list[str] = []
        path = onnx_fp32_memo.exported_fp32(saved_model, 17, warnings)
        seen.append((path, path.read_bytes(), warnings))
    assert len(exports) == 1
    assert all(s == seen[0] for s in seen)
    assert seen[0][2] == ["tf2onnx: note 1"]
    assert seen[0][0].is_relative_to(Path(os.environ["TMPDIR"]))


def test_another_opset_or_changed_weights_export_again(exports, tmp_path):
    saved_model = _saved_model(tmp_path)
    first = onnx_fp32_memo.exported_fp32(saved_model, 17, []).read_bytes()
    assert onnx_fp32_memo.exported_fp32(saved_model, 15, []).read_bytes() == b"onnx 15 2"
    weights = saved_model / "variables" / "variables.data-00000-of-00001"
    weights.write_bytes(b"other weights")
    assert onnx_fp32_memo.exported_fp32(saved_model, 17, []).read_bytes() == b"onnx 17 3"
    assert first == b"onnx 17 1"
    assert len(exports) == 3


def test_a_failed_export_is_not_remembered(exports, tmp_path):
    saved_model = _saved_model(tmp_path)
    (saved_model / "FAIL").write_text("")
    with pytest.raises(ConversionError):
        onnx_fp32_memo.exported_fp32(saved_model, 17, [])
    (saved_model / "FAIL").unlink()
    assert onnx_fp32_memo.exported_fp32(saved_model, 17, []).read_bytes() == b"onnx 17 1"


def test_folders_of_gone_processes_are_removed_and_live_ones_kept(exports, tmp_path):
    tmp = Path(os.environ["TMPDIR"])
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    orphan = tmp / f"{onnx_fp32_memo.PREFIX}{gone.pid}-abc"
    live = tmp / f"{onnx_fp32_memo.PREFIX}{os.getppid()}-def"
    for folder in (orphan, live):
        (folder / "opset17").mkdir(parents=True)
        (folder / "opset17" / "fp32.onnx").write_bytes(b"x")
    onnx_fp32_memo.exported_fp32(_saved_model(tmp_path), 17, [])
    assert not orphan.exists()
    assert live.exists()


def test_a_remembered_export_whose_file_has_gone_is_made_again(exports, tmp_path):
    saved_model = _saved_model(tmp_path)
    path = onnx_fp32_memo.exported_fp32(saved_model, 17, [])
    path.unlink()
    again = onnx_fp32_memo.exported_fp32(saved_model, 17, [])
    assert again.read_bytes() == b"onnx 17 2"


def test_each_export_has_its_own_file(exports, tmp_path):
    a, b = _saved_model(tmp_path, "a"), _saved_model(tmp_path, "b")
    first = onnx_fp32_memo.exported_fp32(a, 17, [])
    remembered = dict(onnx_fp32_memo._exports)
    second = onnx_fp32_memo.exported_fp32(b, 17, [])
    assert first != second and not first.exists()  # the last reference's export was removed
    onnx_fp32_memo._exports.update(remembered)  # even a stale memo entry cannot read the new file
    assert onnx_fp32_memo.exported_fp32(a, 17, []).read_bytes() == b"onnx 17 3"
