"""Bundles: byte-identical rebuilds, manifest and C arrays, and every `verify` failure case."""

import io
import json
import os
import tarfile
import time

import pytest
from synthetic import write_run_dir

from edgekit.bundle.archive import read_bundle
from edgekit.bundle.build import write_bundle
from edgekit.bundle.verify import verify_bundle
from edgekit.cli import main
from edgekit.errors import BundleError


def _build_in(root, umask, tz, reverse, out_name="b.tar.gz"):
    old_umask, old_tz = os.umask(umask), os.environ.get("TZ")
    os.environ["TZ"] = tz
    time.tzset()
    try:
        run = write_run_dir(root)
        if reverse:  # same contents, files created in the opposite order
            names = sorted(p.relative_to(run).as_posix() for p in run.rglob("*") if p.is_file())
            import shutil

            shutil.rmtree(run)
            run = write_run_dir(root, order=list(reversed(names)))
        return write_bundle(run, root / out_name).read_bytes()
    finally:
        os.umask(old_umask)
        os.environ.pop("TZ") if old_tz is None else os.environ.__setitem__("TZ", old_tz)
        time.tzset()


@pytest.mark.parametrize("ext", ["tar.gz", "zip"])
def test_bundle_is_byte_identical_across_umask_timezone_and_creation_order(tmp_path, ext, monkeypatch):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    a = _build_in(tmp_path / "a", 0o022, "UTC", False, f"b.{ext}")
    time.sleep(1.1)  # different file mtimes on disk too
    b = _build_in(tmp_path / "b", 0o077, "Asia/Kolkata", True, f"b.{ext}")
    assert a == b
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    c = _build_in(tmp_path / "c", 0o022, "UTC", False, f"b.{ext}")
    assert c != a  # the epoch is honoured...
    assert c == _build_in(tmp_path / "d", 0o002, "America/New_York", True, f"b.{ext}")  # ...deterministically


def test_archive_headers_are_normalized(tmp_path):
    path = write_bundle(write_run_dir(tmp_path), tmp_path / "x.tar.gz")
    raw = path.read_bytes()
    assert raw[3] == 0 and raw[4:8] == b"\0\0\0\0"  # gzip: no FNAME flag, mtime 0
    with tarfile.open(path) as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == sorted(m.name for m in members)
    assert {(m.mtime, m.uid, m.gid, m.uname, m.gname, m.mode) for m in members} == {(0, 0, 0, "", "", 0o644)}


def test_manifest_and_c_arrays(tmp_path):
    path = write_bundle(write_run_dir(tmp_path), tmp_path / "x.tar.gz")
    files = {e.name: e.data for e in read_bundle(path)}
    assert {
        "labels.txt",
        "manifest.json",
        "SHA256SUMS",
        "firmware/demo_int8_tflite.h",
        "firmware/demo_int8_tflite.cc",
        "artifacts/tflite-int8/model.tflite",
    } <= set(files)
    m = json.loads(files["manifest.json"])
    int8 = next(a for a in m["artifacts"] if a["quant"] == "int8")
    assert int8["inputs"][0]["scale"] == 0.0039 and int8["inputs"][0]["zero_point"] == -128
    assert (
        int8["calibration"]["samples"] == 112
        and int8["parity"]["verdict"] == "pass"
        and int8["bench"]["p50_ms"] > 0
    )
    assert (
        m["source"]["handle"] == "demo:shapes-cnn/3"
        and m["recipe"]["hash"]
        and m["toolchain"]["tensorflow"] == "2.21.0"
    )
    assert {f["path"] for f in m["files"]} == set(files) - {"manifest.json", "SHA256SUMS"}
    model = files["artifacts/tflite-int8/model.tflite"]
    src = files["firmware/demo_int8_tflite.cc"].decode()
    assert "alignas(16) const unsigned char demo_int8_tflite[] = {" in src
    assert f"const unsigned int demo_int8_tflite_len = {len(model)};" in src
    body = src.split("= {", 1)[1].split("};", 1)[0]
    assert bytes(int(t, 16) for t in body.replace(",", " ").split()) == model
    assert "#ifndef EDGEKIT_DEMO_INT8_TFLITE_H_" in files["firmware/demo_int8_tflite.h"].decode()


def _rewrite_tar(src, dst, edit):
    """Copy a bundle, letting EDIT(name, data) return new data, None (drop) or a TarInfo (replace)."""
    with tarfile.open(src) as tin, tarfile.open(dst, "w:gz") as tout:
        for m in tin.getmembers():
            out = edit(m.name, tin.extractfile(m).read())
            if isinstance(out, tarfile.TarInfo):
                tout.addfile(out)
            elif out is not None:
                m.size = len(out)
                tout.addfile(m, io.BytesIO(out))
        extra = edit("__extra__", None)
        if extra:
            info = tarfile.TarInfo(extra[0])
            info.size = len(extra[1])
            tout.addfile(info, io.BytesIO(extra[1]))
    return dst


def _symlink(name):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
    return info


def _flip(data):
    return data[:10] + bytes([data[10] ^ 1]) + data[11:]


CASES = {
    "extra": (
        lambda n, d: ("notes.txt", b"hi") if n == "__extra__" else d,
        "extra file notes.txt: not listed in SHA256SUMS",
    ),
    "missing": (
        lambda n, d: None if n == "labels.txt" else (None if n == "__extra__" else d),
        "missing file labels.txt",
    ),
    "changed": (
        lambda n, d: (
            _flip(d) if n == "artifacts/tflite-int8/model.tflite" else (None if n == "__extra__" else d)
        ),
        "artifacts/tflite-int8/model.tflite: sha256",
    ),
    "symlink": (
        lambda n, d: (
            _symlink(n) if n == "artifacts/tflite-fp32/model.tflite" else (None if n == "__extra__" else d)
        ),
        "artifacts/tflite-fp32/model.tflite is a symbolic link",
    ),
    "manifest": (
        lambda n, d: (
            d.replace(b'"rpi4"', b'"rpi5"') if n == "manifest.json" else (None if n == "__extra__" else d)
        ),
        "the manifest was edited after bundling",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_verify_failure_cases(tmp_path, case, capsys):
    good = write_bundle(write_run_dir(tmp_path), tmp_path / "good.tar.gz")
    assert verify_bundle(good).files == 15  # 3 artifacts x (model, artifact.json, .h, .cc) + 3
    edit, message = CASES[case]
    bad = _rewrite_tar(good, tmp_path / "bad.tar.gz", edit)
    with pytest.raises(BundleError) as exc:
        verify_bundle(bad)
    assert message in exc.value.message
    assert exc.value.message.count("\n  - ") == 1, exc.value.message  # exactly this one problem
    capsys.readouterr()
    assert main(["verify", str(bad)]) == 1
    assert " ".join(message.split()) in " ".join(
        capsys.readouterr().err.split()
    )  # the CLI prints the same message


def test_verify_extracted_folder_with_symlink(tmp_path):
    good = write_bundle(write_run_dir(tmp_path), tmp_path / "good.zip")
    folder = tmp_path / "x"
    import zipfile

    zipfile.ZipFile(good).extractall(folder)
    assert verify_bundle(folder).problems == []
    target = folder / "labels.txt"
    (folder / "copy.txt").write_bytes(target.read_bytes())
    target.unlink()
    target.symlink_to("copy.txt")
    with pytest.raises(BundleError, match="labels.txt is a symbolic link") as exc:
        verify_bundle(folder)
    assert "extra file copy.txt" in exc.value.message


def test_bundle_cli_choices_and_errors(tmp_path):
    run = write_run_dir(tmp_path)
    out = tmp_path / "fw.tar.gz"
    assert (
        main(["bundle", str(run.parent), "--target", "rpi4", "--artifact", "tflite-int8", "--out", str(out)])
        == 0
    )
    names = {e.name for e in read_bundle(out)}
    assert "artifacts/tflite-int8/model.tflite" in names and not any("fp32" in n for n in names)
    assert main(["verify", str(out)]) == 0
    assert main(["bundle", str(run), "--artifact", "onnx-fp32", "--out", str(out)]) == 2
    assert main(["bundle", str(run), "--out", str(tmp_path / "x.rar")]) == 2
    assert main(["bundle", str(run), "--target", "rpi5"]) == 2
    (run / "artifacts/tflite-fp32/model.tflite").write_bytes(b"changed")
    assert main(["bundle", str(run), "--out", str(out)]) == 1  # the report no longer describes these bytes
