"""The calibration graphs rebuilt from ncnn's benchmark .param files match those files."""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.targets.calibration import zoo
from edgekit.targets.calibration.published import load_published


def _kernel_weights(model) -> int:
    """Weights without biases: what the .param files' weight_data_size fields add up to."""
    return sum(int(np.prod(w.shape)) for w in model.weights if len(w.shape) > 1)


def test_squeezenet_is_the_v1_1_graph_ncnn_runs_at_227():
    model = zoo.build(zoo.ZOO["ncnn_squeezenet_v1.1_227"])
    assert model.input_shape == (None, 227, 227, 3)
    # squeezenet.param: 6=1728 (conv1) + the fire modules + 6=512000 (conv10), summed by hand
    assert _kernel_weights(model) == 1_231_552
    pools = [tuple(layer.output.shape[1:3]) for layer in model.layers if "max_pooling" in layer.name]
    assert pools == [(56, 56), (28, 28), (14, 14)]  # Caffe's ceil-mode pooling (floor would give 27, 13)
    conv10 = [layer for layer in model.layers if "conv2d" in layer.name][-1]
    assert tuple(conv10.output.shape[1:]) == (16, 16, 1000)  # its pad=1: the shape the .param annotates


def test_mobilenet_v3_is_the_large_variant_of_ncnn_mobilenet_v3_param():
    model = zoo.build(zoo.ZOO["ncnn_mobilenet_v3_224"])
    # mobilenet_v3.param: every Convolution/ConvolutionDepthWise 6= and InnerProduct 2= field, summed
    assert _kernel_weights(model) == 5_115_080
    depthwise = [layer for layer in model.layers if "depthwise" in layer.name]
    assert [int(layer.output.shape[-1]) for layer in depthwise] == [
        16,
        64,
        72,
        72,
        120,
        120,
        240,
        200,
        184,
        184,
        480,
        672,
        672,
        672,
        960,
    ]
    assert [int(layer.output.shape[1]) for layer in depthwise][-3:] == [
        14,
        7,
        7,
    ]  # stride 2 on the second 672 block


@pytest.mark.parametrize(
    "key, arch", [("ncnn_squeezenet_v1.1_227", "SqueezeNet"), ("ncnn_mobilenet_v3_224", "MobileNetV3Large")]
)
def test_ncnn_rows_are_read_as_the_graph_ncnn_benchmarks(key, arch):
    rows = [r for r in load_published().rows if r.model == key]  # the CSV says "version not stated", 224
    assert {r.source for r in rows} == {"NCNN"} and {r.dtype for r in rows} == {"fp32"}
    assert {r.device for r in rows} == {"rpi3b+", "rpi4b", "rpi5", "rpi-zero2w", "jetson-nano-cpu"}
    assert zoo.ZOO[key].arch == arch  # leave-one-model-out holds it out with its architecture
