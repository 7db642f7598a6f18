"""Raw samples survive the compressed encoding bit for bit; bad payloads are clear errors."""

from __future__ import annotations

import base64
import zlib

import numpy as np
import pytest

from edgekit.bench.samples import decode_samples, encode_samples
from edgekit.errors import BenchError


def test_round_trip_is_exact_and_little_endian_float64():
    samples = np.random.default_rng(0).gamma(4.0, 0.5, 1000)
    encoded = encode_samples(samples)
    np.testing.assert_array_equal(decode_samples({"samples_ms_b64z": encoded}), samples)
    raw = zlib.decompress(base64.b64decode(encoded))
    assert np.frombuffer(raw, "<f8")[0] == samples[0] and len(encoded) < samples.nbytes * 4 / 3


def test_plain_list_is_accepted():
    np.testing.assert_array_equal(decode_samples({"samples_ms": [1.5, 2.5]}), np.array([1.5, 2.5]))


@pytest.mark.parametrize(
    "result, message",
    [
        ({"status": "failed"}, "neither"),
        ({"samples_ms_b64z": "!!!"}, "not base64 zlib"),
        ({"samples_ms_b64z": base64.b64encode(zlib.compress(b"12345")).decode()}, "not a whole number"),
    ],
)
def test_bad_payloads_raise_bench_error(result, message):
    with pytest.raises(BenchError, match=message):
        decode_samples(result)
