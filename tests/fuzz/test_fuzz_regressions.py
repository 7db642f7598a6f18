"""Mutants the fuzzer once turned into tracebacks, replayed by (loader, seed, case): each must now
be a typed error. The seed files are built deterministically in code (the .tflite seed is not:
the converter's output varies, so its findings, struct.error on offsets past the end and TypeError
on negative uint32 fields, are covered by the sampled cases instead)."""

from __future__ import annotations

import pytest
from engine import replay
from loaders import LOADERS

from edgekit.errors import EdgekitError

FOUND = [
    ("onnx", 61),  # TypeError: an op type that is bytes (invalid UTF-8 in the protobuf string)
    ("onnx", 159),  # TypeError: int(None) for a Conv's group attribute
    ("tfjs-model.json", 11),  # AttributeError: a weightsManifest group that is a number
    ("recipe", 24),  # yaml ReaderError raised while the loader was built: a control character
    ("bench-json", 35),  # OverflowError: a saved analysis with absurd numbers reached the latency model
    ("bench-json", 627),  # OSError: an artifact path too long for the file system
    ("bundle", 12),  # zlib.error: damaged deflate data inside the gzip stream
    ("device-profile", 48),  # yaml ReaderError, as for recipes
]
FOUND_SEED_2 = [
    ("recipe", 2024),  # OSError: a source.handle too long for the file system, met by the path checks
]


@pytest.mark.parametrize("name,case,seed", [(*f, 1) for f in FOUND] + [(*f, 2) for f in FOUND_SEED_2])
def test_mutant_that_once_crashed_is_a_typed_error(name, case, seed, seeds, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    loader = LOADERS[name]
    path = tmp_path / loader.file_name
    path.write_bytes(replay(loader, seeds[name], seed=seed, case=case))
    with pytest.raises(EdgekitError) as err:
        loader.run(path, seeds)
    assert err.value.exit_code == (1 if name == "bundle" else 2)  # `edgekit verify` exits 1 for a bad bundle
    assert "Traceback" not in str(err.value) and err.value.message
