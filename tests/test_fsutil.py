import os

import pytest

from edgekit.fsutil import (
    atomic_dir,
    atomic_write_bytes,
    atomic_write_json,
    remove_stale_temporaries,
    sha256_tree,
)


def test_atomic_write_replaces_and_leaves_no_temporaries(tmp_path):
    target = tmp_path / "a" / "f.bin"
    atomic_write_bytes(target, b"one")
    atomic_write_bytes(target, b"two")
    assert target.read_bytes() == b"two"
    assert os.listdir(target.parent) == ["f.bin"]


def test_failed_atomic_dir_keeps_the_old_folder(tmp_path):
    final = tmp_path / "art"
    with atomic_dir(final) as tmp:
        (tmp / "x").write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_dir(final) as tmp:
            (tmp / "x").write_text("half")
            raise RuntimeError("interrupted")
    assert (final / "x").read_text() == "old"
    assert sorted(os.listdir(tmp_path)) == ["art"]


def test_stale_temporaries_are_removed(tmp_path):
    (tmp_path / ".model.tflite.123.tmp").write_text("half")
    (tmp_path / ".art.456.tmp").mkdir()
    atomic_write_json(tmp_path / "keep.json", {"a": 1})
    remove_stale_temporaries(tmp_path)
    assert os.listdir(tmp_path) == ["keep.json"]


def test_tree_hash_sees_names_and_bytes(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "f").write_text("x")
    h1 = sha256_tree(tmp_path / "a")
    (tmp_path / "a" / "f").write_text("y")
    h2 = sha256_tree(tmp_path / "a")
    (tmp_path / "a" / "f").rename(tmp_path / "a" / "g")
    assert len({h1, h2, sha256_tree(tmp_path / "a")}) == 3


def test_atomic_writes_get_ordinary_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        f = atomic_write_bytes(tmp_path / "f", b"x")
        with atomic_dir(tmp_path / "d"):
            pass
    finally:
        os.umask(old)
    assert f.stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "d").stat().st_mode & 0o777 == 0o755
