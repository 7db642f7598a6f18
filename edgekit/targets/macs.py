"""Multiply-accumulate counts from tensor shapes, one formula per kind of op.

A MAC is one multiply and one add. Conventions (the same as the published MAC counts of
MobileNet, ResNet and EfficientNet the estimator is calibrated on):
- convolution: every output element needs kernel_h * kernel_w * input channels per group MACs;
- depthwise convolution: kernel_h * kernel_w per output element (one input channel per filter);
- dense / matmul: the reduction length per output element;
- pooling: one accumulate (or compare) per window element per output element;
- reductions (mean, sum, max over axes): one per input element.
Bias adds, activations and other elementwise ops count no MACs: the estimator costs them by the
bytes they move, which is what limits them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def elements(shape: Sequence[int]) -> int:
    # Unknown (-1 / 0) dimensions are batch dimensions in every model edgekit converts: count 1.
    return math.prod(max(int(d), 1) for d in shape)


def conv_macs(output_shape: Sequence[int], kernel_h: int, kernel_w: int, in_channels_per_group: int) -> int:
    return elements(output_shape) * kernel_h * kernel_w * in_channels_per_group


def depthwise_macs(output_shape: Sequence[int], kernel_h: int, kernel_w: int) -> int:
    return elements(output_shape) * kernel_h * kernel_w


def dense_macs(output_shape: Sequence[int], reduction: int) -> int:
    return elements(output_shape) * reduction


def pool_macs(output_shape: Sequence[int], window_h: int, window_w: int) -> int:
    return elements(output_shape) * window_h * window_w


def reduce_macs(input_shape: Sequence[int]) -> int:
    return elements(input_shape)
