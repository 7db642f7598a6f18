"""Calibration models rebuilt from the graphs ncnn benchmarks (Tencent/ncnn, benchmark/*.param).

ncnn's benchmark README names its SqueezeNet and MobileNetV3 rows without a version or an input
size; the .param files its benchncnn tool loads pin the graphs, and benchncnn.cpp pins the inputs
(SqueezeNet 227x227, MobileNetV3 224x224). These builders follow those files layer by layer, so
the published ncnn rows of the two models can be fitted and held out like any other row:

- squeezenet.param is SqueezeNet v1.1 (64 3x3 stride-2 filters in conv1, pooling after fire3 and
  fire5) converted from Caffe: ceil-mode max pooling, and conv10 keeps a padding of 1, so it runs
  on 16x16 instead of 14x14 (the shapes the file annotates).
- mobilenet_v3.param is a MobileNetV3-Large 1.0 variant: the 160-channel stage has one 672-wide
  block at stride 1 before the stride-2 one and a single 960-wide block (the paper's table has
  stride 2 first and two 960-wide blocks), squeeze-excitation is a pair of fully connected layers
  (ReLU, hard sigmoid) at a quarter of the width, and the head applies hard swish after pooling.

Keras is imported inside functions only: importing this module is cheap.
"""

from __future__ import annotations

from typing import Any

# MobileNetV3 blocks of mobilenet_v3.param: (kernel, expanded width, out, squeeze-excite, activation, stride)
_MOBILENET_V3_BLOCKS = [
    (3, 16, 16, False, "relu", 1),
    (3, 64, 24, False, "relu", 2),
    (3, 72, 24, False, "relu", 1),
    (5, 72, 40, True, "relu", 2),
    (5, 120, 40, True, "relu", 1),
    (5, 120, 40, True, "relu", 1),
    (3, 240, 80, False, "hard_swish", 2),
    (3, 200, 80, False, "hard_swish", 1),
    (3, 184, 80, False, "hard_swish", 1),
    (3, 184, 80, False, "hard_swish", 1),
    (3, 480, 112, True, "hard_swish", 1),
    (3, 672, 112, True, "hard_swish", 1),
    (5, 672, 160, True, "hard_swish", 1),
    (5, 672, 160, True, "hard_swish", 2),
    (5, 960, 160, True, "hard_swish", 1),
]

# SqueezeNet v1.1 fire modules of squeezenet.param: (squeeze, expand per branch), "pool" = max pool
_SQUEEZENET_FIRES: list[tuple[int, int] | str] = [
    (16, 64),
    (16, 64),
    "pool",
    (32, 128),
    (32, 128),
    "pool",
    (48, 192),
    (48, 192),
    (64, 256),
    (64, 256),
]


def _caffe_max_pool(x: Any, layers: Any) -> Any:
    """3x3 stride-2 max pooling rounded up like Caffe's: pad the far edge when a window is cut off.

    Inputs are ReLU outputs (>= 0), so a zero pad never wins the max: the result is Caffe's.
    """
    if (int(x.shape[1]) - 3) % 2:
        x = layers.ZeroPadding2D(((0, 1), (0, 1)))(x)
    return layers.MaxPooling2D(3, 2)(x)


def _fire(x: Any, layers: Any, squeeze: int, expand: int) -> Any:
    s = layers.Conv2D(squeeze, 1, activation="relu")(x)
    e1 = layers.Conv2D(expand, 1, activation="relu")(s)
    e3 = layers.Conv2D(expand, 3, padding="same", activation="relu")(s)
    return layers.Concatenate()([e1, e3])


def squeezenet_v11(resolution: int = 227) -> Any:
    import keras
    from keras import layers

    inp = keras.Input((resolution, resolution, 3))
    x = layers.Conv2D(64, 3, 2, activation="relu")(inp)  # no padding: 227 -> 113
    x = _caffe_max_pool(x, layers)
    for fire in _SQUEEZENET_FIRES:
        x = _caffe_max_pool(x, layers) if fire == "pool" else _fire(x, layers, *fire)
    x = layers.ZeroPadding2D(1)(x)  # conv10's pad=1 in the .param: a 1x1 convolution over 16x16
    x = layers.Conv2D(1000, 1, activation="relu")(x)
    x = layers.Softmax()(layers.GlobalAveragePooling2D()(x))
    return keras.Model(inp, x, name="squeezenet_v1.1_ncnn")


def _squeeze_excite(x: Any, layers: Any, width: int) -> Any:
    s = layers.GlobalAveragePooling2D()(x)
    s = layers.Dense(width // 4, activation="relu")(s)
    s = layers.Dense(width, activation="hard_sigmoid")(s)
    return layers.Multiply()([x, layers.Reshape((1, 1, width))(s)])


def _bottleneck(x: Any, layers: Any, block: tuple[int, int, int, bool, str, int]) -> Any:
    kernel, width, out, se, act, stride = block
    cin = int(x.shape[-1])
    inp = x
    if width != cin:
        x = layers.Activation(act)(layers.Conv2D(width, 1)(x))
    x = layers.DepthwiseConv2D(kernel, stride, padding="same")(x)
    if se:  # in the .param the activation follows the squeeze-excitation, not the depthwise conv
        x = _squeeze_excite(x, layers, width)
    x = layers.Conv2D(out, 1)(layers.Activation(act)(x))
    return layers.Add()([inp, x]) if stride == 1 and cin == out else x


def mobilenet_v3(resolution: int = 224) -> Any:
    import keras
    from keras import layers

    inp = keras.Input((resolution, resolution, 3))
    x = layers.Activation("hard_swish")(layers.Conv2D(16, 3, 2, padding="same")(inp))
    for block in _MOBILENET_V3_BLOCKS:
        x = _bottleneck(x, layers, block)
    x = layers.Activation("hard_swish")(layers.Conv2D(960, 1)(x))
    x = layers.Activation("hard_swish")(layers.GlobalAveragePooling2D()(x))
    x = layers.Dense(1280, activation="hard_swish")(x)
    x = layers.Softmax()(layers.Dense(1000)(x))
    return keras.Model(inp, x, name="mobilenet_v3_ncnn")
