"""Hostile archives are refused, and nothing lands outside the staging folder."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest
from sources_support import snapshot, tar_gz, tar_members

from edgekit.errors import SourceError, UnsafeModelError
from edgekit.sources.extract import find_module_root, safe_extract


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
        "symlink outside": (
            tar_members([ok, _special("evil", tarfile.SYMTYPE, rel_out), _file("evil/x.txt")]),
            "links outside",
        ),
        "absolute symlink": (
            tar_members([ok, _special("evil", tarfile.SYMTYPE, str(outside))]),
            "absolute path",
        ),
        "hardlink outside": (
            tar_members([ok, _special("evil", tarfile.LNKTYPE, rel_out + "/secret.txt")]),
            "links outside",
        ),
        "symlink to a folder": (
            tar_members([ok, _special("vars", tarfile.SYMTYPE, "."), _file("vars/x")]),
            "not a file earlier",
        ),
        "character device": (tar_members([ok, _special("null", tarfile.CHRTYPE)]), "character device"),
        "block device": (tar_members([ok, _special("disk", tarfile.BLKTYPE)]), "block device"),
        "fifo": (tar_members([ok, _special("pipe", tarfile.FIFOTYPE)]), "FIFO"),
        "duplicate name": (tar_members([ok, _file("a.txt", b"1"), _file("a.txt", b"2")]), "given twice"),
        "too many entries": (
            tar_gz({f"f{i:03d}": b"" for i in range(60)} | {"saved_model.pb": b""}),
            "more than 50 entries",
        ),
        "compression bomb": (
            tar_gz({"saved_model.pb": b"", "variables/zeros": bytes(3 << 20)}),
            "more than 1048576 bytes",
        ),
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
    data = tar_members(
        [
            ok,
            _file("variables/v.data", b"weights"),
            _special("variables/alias", tarfile.SYMTYPE, "v.data"),
            _special("hard", tarfile.LNKTYPE, "./variables/v.data"),
        ]
    )
    (tmp_path / "a.tgz").write_bytes(data)
    safe_extract(tmp_path / "a.tgz", tmp_path / "out")
    out = tmp_path / "out"
    assert (out / "variables" / "alias").read_bytes() == b"weights" and not (
        out / "variables" / "alias"
    ).is_symlink()
    assert (out / "hard").read_bytes() == b"weights"


def test_modes_from_the_archive_are_not_kept(tmp_path):
    info, data = _file("saved_model.pb", b"pb")
    info.mode = 0o4777  # setuid, world-writable
    (tmp_path / "a.tgz").write_bytes(tar_members([(info, data)]))
    safe_extract(tmp_path / "a.tgz", tmp_path / "out")
    assert (tmp_path / "out" / "saved_model.pb").stat().st_mode & 0o7777 == 0o644


@pytest.mark.parametrize(
    "data",
    [
        b"this is not an archive at all" * 10,
        tar_gz({"saved_model.pb": b"x" * 5000})[:-200],
        b"\x1f\x8b\x08\x00garbage",
    ],
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


# --- compression bombs -------------------------------------------------------------------------
# Built by concatenating compressed members (gzip, bzip2 and xz all read concatenated streams as
# one): one member holds the tar header of a huge file, then one small compressed MiB of zeros is
# repeated. A 1 GiB bomb costs ~1 MB (gzip) or ~50 KB (bzip2) and milliseconds to build.

_CODECS = {
    "gzip": lambda data: __import__("gzip").compress(data, 9),
    "bzip2": lambda data: __import__("bz2").compress(data, 9),
    "xz": lambda data: __import__("lzma").compress(data),
}


def _bomb_tar_head(unpacked: int, name: str) -> bytes:
    model = tarfile.TarInfo("saved_model.pb")
    model.size = 2
    big = tarfile.TarInfo(name)
    big.size = unpacked
    return (
        model.tobuf(format=tarfile.GNU_FORMAT)
        + b"\x08\x01".ljust(512, b"\0")
        + big.tobuf(format=tarfile.GNU_FORMAT)
    )


def bomb(codec: str, unpacked: int = 1 << 30, name: str = "variables/zeros") -> bytes:
    compress = _CODECS[codec]
    mib = compress(bytes(1 << 20))
    return b"".join([compress(_bomb_tar_head(unpacked, name)), mib * (unpacked >> 20), compress(bytes(1024))])


def single_stream_bzip2_bomb(unpacked: int) -> bytes:
    """One bzip2 stream (what `tar cjf` writes): a few hundred bytes that one decompress call
    turns into the whole payload, the case tarfile's own `r|bz2` reader handles badly."""
    import bz2

    comp = bz2.BZ2Compressor(9)
    parts = [comp.compress(_bomb_tar_head(unpacked, "variables/zeros"))]
    zeros = bytes(1 << 20)
    parts += [comp.compress(zeros) for _ in range(unpacked >> 20)]
    return b"".join(parts + [comp.compress(bytes(1024)), comp.flush()])


@pytest.fixture
def no_limit_env(monkeypatch):
    for name in ("EDGEKIT_ARCHIVE_MAX_ENTRIES", "EDGEKIT_ARCHIVE_MAX_BYTES", "EDGEKIT_ARCHIVE_MAX_RATIO"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("codec", list(_CODECS))
def test_one_gib_bomb_is_refused_by_ratio_with_default_limits(codec, tmp_path, no_limit_env):
    data = bomb(codec)
    assert len(data) < 2 << 20  # the test stays small
    (tmp_path / "bomb.tar").write_bytes(data)
    with pytest.raises(UnsafeModelError, match="compression ratio above 100") as err:
        safe_extract(tmp_path / "bomb.tar", tmp_path / "out")
    assert "EDGEKIT_ARCHIVE_MAX_RATIO" in str(err.value)
    written = sum(p.stat().st_size for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert written <= 64 << 20  # stopped soon after the ratio is first judged (32 MiB), far below 1 GiB


def test_limits_come_from_the_environment(tmp_path, monkeypatch, no_limit_env):
    (tmp_path / "bomb.tar").write_bytes(bomb("gzip", 8 << 20))
    monkeypatch.setenv("EDGEKIT_ARCHIVE_MAX_BYTES", str(4 << 20))
    with pytest.raises(UnsafeModelError, match=f"more than {4 << 20} bytes.*EDGEKIT_ARCHIVE_MAX_BYTES"):
        safe_extract(tmp_path / "bomb.tar", tmp_path / "a")
    monkeypatch.setenv("EDGEKIT_ARCHIVE_MAX_ENTRIES", "1")
    with pytest.raises(UnsafeModelError, match="more than 1 entries"):
        safe_extract(tmp_path / "bomb.tar", tmp_path / "b")
    # an explicit value (SourceSettings, the Python API) wins over the environment
    safe_extract(tmp_path / "bomb.tar", tmp_path / "c", max_bytes=16 << 20, max_entries=5)
    assert (tmp_path / "c" / "variables" / "zeros").stat().st_size == 8 << 20


@pytest.mark.parametrize("value", ["lots", "-1", "0"])
def test_a_bad_limit_in_the_environment_is_a_usage_error(value, tmp_path, monkeypatch, no_limit_env):
    from edgekit.errors import UsageError

    (tmp_path / "a.tgz").write_bytes(tar_gz({"saved_model.pb": b""}))
    monkeypatch.setenv("EDGEKIT_ARCHIVE_MAX_RATIO", value)
    with pytest.raises(UsageError, match="EDGEKIT_ARCHIVE_MAX_RATIO"):
        safe_extract(tmp_path / "a.tgz", tmp_path / "out")


def test_well_compressed_small_archives_are_not_judged_by_ratio(tmp_path, no_limit_env):
    # 2 MiB of zeros compresses ~1000x: below the ratio floor it is a normal archive
    (tmp_path / "a.tar.bz2").write_bytes(bomb("bzip2", 2 << 20))
    safe_extract(tmp_path / "a.tar.bz2", tmp_path / "out")
    assert (tmp_path / "out" / "variables" / "zeros").stat().st_size == 2 << 20


_MEMORY_PROBE = """
import resource, sys
from pathlib import Path
from edgekit.errors import UnsafeModelError
from edgekit.sources.extract import safe_extract
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    safe_extract(Path(sys.argv[1]), Path(sys.argv[2]), max_ratio=1e9, max_bytes=int(sys.argv[3]))
except UnsafeModelError as exc:
    print("refused:", exc.message)
print("grew_kib", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base)
"""


def test_bzip2_bomb_unpacks_in_bounded_memory(tmp_path, no_limit_env):
    """Read 96 MiB of a one-stream bzip2 bomb (ratio cap off): memory must not follow the unpacked
    size (tarfile's `r|bz2` holds all 128 MiB at once and copies it on every 64 KiB read)."""
    import subprocess
    import sys

    data = single_stream_bzip2_bomb(128 << 20)
    assert len(data) < 4096
    (tmp_path / "bomb.tar.bz2").write_bytes(data)
    cap = 96 << 20
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            _MEMORY_PROBE,
            str(tmp_path / "bomb.tar.bz2"),
            str(tmp_path / "out"),
            str(cap),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert f"refused: archive bomb.tar.bz2 refused: unpacks to more than {cap} bytes" in done.stdout, (
        done.stdout
    )
    grew_kib = int(done.stdout.split("grew_kib")[1])
    assert grew_kib < 32 << 10, f"peak memory grew by {grew_kib} KiB while unpacking"


def test_bomb_pulled_from_the_server_is_refused_and_nothing_is_cached(tmp_path, no_limit_env):
    from sources_support import ModelServer

    from edgekit.sources import resolve_source
    from edgekit.sources.base import SourceSettings
    from edgekit.sources.cache import Cache

    server = ModelServer()
    try:
        server.add_tfhub("google/bomb/feature_vector/1", bomb("gzip"))
        settings = SourceSettings(
            cache_dir=tmp_path / "cache",
            lockfile=tmp_path / "edgekit.lock",
            hub_url=server.url,
            retry_backoff_s=0.0,
            timeout_s=10.0,
        )
        with pytest.raises(UnsafeModelError, match="compression ratio"):
            resolve_source("tfhub:google/bomb/feature_vector/1", settings)
    finally:
        server.close()
    cache = Cache(settings.cache_root())
    assert cache.entries() == [] and cache.staging_leftovers() == []
    assert not (tmp_path / "edgekit.lock").exists()
    leftover = sum(p.stat().st_size for p in (tmp_path / "cache").rglob("*") if p.is_file())
    assert leftover < 1 << 20, leftover  # locks and nothing else
