"""Hostile archives are refused, and nothing lands outside the staging folder."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from edgekit.errors import SourceError, UnsafeModelError
from edgekit.sources.extract import find_module_root, safe_extract
from sources_support import snapshot, tar_gz, tar_members


def _file(name: str, data: bytes = b"x") -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), data


def _special(name: str, kind: bytes, link: str = "") -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    if kind in (tarfile.CHRTYPE, tarfile.BLKTYPE):
        info.devmajor, info.devminor = 1, 3
    return info, None


def hostile_archives(outside: Path) -> dict[str, tuple[bytes, str]]:
    """name → (archive bytes, words the refusal must contain). OUTSIDE is the folder they aim at."""
    ok = _file("saved_model.pb", b"\x08\x01")
    rel_out = "../" * 6 + str(outside).lstrip("/")
    return {
        "absolute path": (tar_members([ok, _file(str(outside / "abs.txt"))]), "absolute path"),
        "dot-dot": (tar_members([ok, _file("../escape.txt")]), "contains '..'"),
        "nested dot-dot": (tar_members([ok, _file("variables/../../escape.txt")]), "contains '..'"),
        "symlink outside": (tar_members([ok, _special("evil", tarfile.SYMTYPE, rel_out), _file("evil/x.txt")]), "links outside"),
        "absolute symlink": (tar_members([ok, _special("evil", tarfile.SYMTYPE, str(outside))]), "absolute path"),
        "hardlink outside": (tar_members([ok, _special("evil", tarfile.LNKTYPE, rel_out + "/secret.txt")]), "links outside"),
        "symlink to a folder": (tar_members([ok, _special("vars", tarfile.SYMTYPE, "."), _file("vars/x")]), "not a file earlier"),
        "character device": (tar_members([ok, _special("null", tarfile.CHRTYPE)]), "character device"),
        "block device": (tar_members([ok, _special("disk", tarfile.BLKTYPE)]), "block device"),
        "fifo": (tar_members([ok, _special("pipe", tarfile.FIFOTYPE)]), "FIFO"),
        "duplicate name": (tar_members([ok, _file("a.txt", b"1"), _file("a.txt", b"2")]), "given twice"),
        "too many entries": (tar_gz({f"f{i:03d}": b"" for i in range(60)} | {"saved_model.pb": b""}), "more than 50 entries"),
        "compression bomb": (tar_gz({"saved_model.pb": b"", "variables/zeros": bytes(3 << 20)}), "more than 1048576 bytes"),
    }


CASES = list(hostile_archives(Path("/x")))


@pytest.mark.parametrize("case", CASES)
def test_hostile_archive_is_refused_and_writes_nothing_outside(case, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("keep me")
    data, words = hostile_archives(outside)[case]
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(data)
    staging = tmp_path / "staging"
    before = snapshot(tmp_path, exclude=staging)

    with pytest.raises(UnsafeModelError) as err:
        safe_extract(archive, staging, max_entries=50, max_bytes=1 << 20)

    assert words in str(err.value), str(err.value)
    assert snapshot(tmp_path, exclude=staging) == before
    assert (outside / "secret.txt").read_text() == "keep me"
    written = sum(p.stat().st_size for p in staging.rglob("*") if p.is_file() and not p.is_symlink())
    assert written <= 1 << 20  # the cap is enforced on bytes written, not on what headers claim
    assert not any(p.is_symlink() for p in staging.rglob("*"))


def test_links_inside_become_plain_copies(tmp_path):
    ok = _file("saved_model.pb", b"pb")
    data = tar_members([ok, _file("variables/v.data", b"weights"), _special("variables/alias", tarfile.SYMTYPE, "v.data"),
                        _special("hard", tarfile.LNKTYPE, "./variables/v.data")])
    (tmp_path / "a.tgz").write_bytes(data)
    safe_extract(tmp_path / "a.tgz", tmp_path / "out")
    out = tmp_path / "out"
    assert (out / "variables" / "alias").read_bytes() == b"weights" and not (out / "variables" / "alias").is_symlink()
    assert (out / "hard").read_bytes() == b"weights"


def test_modes_from_the_archive_are_not_kept(tmp_path):
    info, data = _file("saved_model.pb", b"pb")
    info.mode = 0o4777  # setuid, world-writable
    (tmp_path / "a.tgz").write_bytes(tar_members([(info, data)]))
    safe_extract(tmp_path / "a.tgz", tmp_path / "out")
    assert (tmp_path / "out" / "saved_model.pb").stat().st_mode & 0o7777 == 0o644


@pytest.mark.parametrize(
    "data",
    [b"this is not an archive at all" * 10, tar_gz({"saved_model.pb": b"x" * 5000})[:-200], b"\x1f\x8b\x08\x00garbage"],
    ids=["not-a-tar", "truncated-gzip", "bad-gzip"],
)
def test_corrupt_archives_are_source_errors(data, tmp_path):
    (tmp_path / "a.tgz").write_bytes(data)
    with pytest.raises(SourceError) as err:
        safe_extract(tmp_path / "a.tgz", tmp_path / "out")
    assert not isinstance(err.value, UnsafeModelError)
    assert "corrupt" in str(err.value)


def test_module_root_is_the_archive_root_or_its_single_folder(tmp_path):
    (tmp_path / "a" / "model").mkdir(parents=True)
    (tmp_path / "a" / "model" / "saved_model.pb").write_bytes(b"")
    assert find_module_root(tmp_path / "a", what="x") == tmp_path / "a" / "model"
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "model.tflite").write_bytes(b"")
    with pytest.raises(SourceError, match="holds no SavedModel.*model.tflite"):
        find_module_root(tmp_path / "b", what="the archive")


def test_plain_tar_and_nested_folders_extract(tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, payload in {"m/saved_model.pb": b"pb", "m/variables/variables.index": b"ix"}.items():
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    (tmp_path / "a.tar").write_bytes(buf.getvalue())
    safe_extract(tmp_path / "a.tar", tmp_path / "out")
    assert (tmp_path / "out" / "m" / "variables" / "variables.index").read_bytes() == b"ix"
