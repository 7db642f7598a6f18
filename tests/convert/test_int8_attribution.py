"""int8 error attribution names the Keras layer to keep in float, and keeping it recovers parity.

The model has one layer int8 cannot represent: inside `outlier_block` one channel is 10^4 times the
others, so that tensor's int8 step is larger than every value the classifier uses and they all
round to zero (the outlier-channel failure of real networks, made certain). Attribution
must name that Keras layer, and `keep_float: [outlier_block]` must bring top-1 agreement back.
"""

from __future__ import annotations

import numpy as np
import pytest
from tiny_models import tiny_images

from edgekit.convert.tflite_debug import keras_layers

SIZE = (32, 32)


def test_keras_layers_from_tflite_names():
    assert keras_layers("model/features/MatMul;model/outlier_block/mul") == ["features", "outlier_block"]
    assert keras_layers("model_1/re_lu/Relu6;model_1/conv2d/Conv2D") == ["re_lu", "conv2d"]
    assert keras_layers("edgekit_classifier/probabilities/MatMul21:33") == ["probabilities"]
    # a nested model: the innermost scope is the layer
    assert keras_layers("model/mobilenetv2/Conv1/Conv2D") == ["Conv1"]
    # ops traced inside a restored SavedModel (a hub backbone) carry no Keras name
    assert keras_layers("FusedBatchNormV3;Conv2D291") == [] and keras_layers("depthwise11") == []


@pytest.fixture(scope="module")
def outlier_reference(tmp_path_factory):
    import tensorflow as tf
    import tf_keras

    class OutlierBlock(tf_keras.layers.Layer):
        """Inside: one channel 10^4 times the others. Out: that channel masked off, a small range.

        Kept in float, its output is quantized on its own (small) range and nothing is lost. (Had
        the layer ended in a slice, the slice's output would share its input's huge int8 scale
        and no choice of layer to keep float short of the classifier could help.)"""

        def call(self, x):
            gain = tf.constant([1e4] + [1.0] * 15, tf.float32)
            mask = tf.constant([0.0] + [1.0] * 15, tf.float32)
            return tf.nn.relu(x * gain) * mask

    L = tf_keras.layers
    tf_keras.utils.set_random_seed(0)
    inputs = tf_keras.Input((*SIZE, 3), name="image")
    x = L.Conv2D(8, 3, strides=2, padding="same", name="stem")(inputs)
    x = L.ReLU(6.0, name="stem_relu")(x)
    x = L.GlobalAveragePooling2D(name="pool")(x)
    x = L.Dense(16, name="features")(x)
    x = OutlierBlock(name="outlier_block")(x)
    outputs = L.Dense(3, activation="softmax", name="probabilities")(x)
    model = tf_keras.Model(inputs, outputs)
    # Standardise the logits so the float model's predictions depend on the small channels and
    # spread over the classes (random weights alone predict one class for every image).
    features = tf_keras.Model(inputs, model.get_layer("outlier_block").output).predict(
        tiny_images(64, SIZE, seed=3), verbose=0
    )
    head = model.get_layer("probabilities")
    w, _ = head.get_weights()
    z = features @ w
    head.set_weights([w / z.std(0) * 3, -z.mean(0) / z.std(0) * 3])

    folder = tmp_path_factory.mktemp("outlier")
    spec = tf.TensorSpec([1, *SIZE, 3], tf.float32, name="image")

    @tf.function(input_signature=[spec])
    def serve(image):
        return {"probabilities": model(image, training=False)}

    tf.saved_model.save(model, str(folder / "saved_model"), signatures={"serving_default": serve})
    test = tiny_images(100, SIZE, seed=2)
    return folder, tiny_images(32, SIZE, seed=1), test, model.predict(test, verbose=0).argmax(1)


def _agreement(model_bytes: bytes, images: np.ndarray, reference: np.ndarray) -> float:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=model_bytes)
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    predicted = []
    for image in images:
        interpreter.set_tensor(inp["index"], image[None].astype(np.float32))
        interpreter.invoke()
        predicted.append(int(interpreter.get_tensor(out["index"])[0].argmax()))
    return float(np.mean(np.asarray(predicted) == reference))


@pytest.mark.slow  # three TFLite conversions and two debugger runs: about a minute on a loaded machine
def test_attribution_names_the_keras_layer_and_keeping_it_float_recovers_parity(outlier_reference):
    from edgekit.convert.tflite_debug import _converter, layer_errors, selective_int8

    folder, calibration, test, reference = outlier_reference
    assert np.bincount(reference, minlength=3).max() < 80  # the float model's classes vary

    plain = _agreement(_converter(folder, calibration).convert(), test, reference)
    assert plain < 0.5  # int8 destroys it (measured: 0.20, chance is about 0.33)

    worst = layer_errors(folder, calibration, test[:16])
    assert "outlier_block" in worst[0]["keras_layers"], worst
    assert worst[0]["signal_lost"] > 0.5

    model_bytes, kept = selective_int8(folder, calibration, ["outlier_block"])
    assert kept and all("outlier_block" in name for name in kept)
    # measured: 0.99 (one image of 100 near a class boundary flips under the int8 stem)
    assert _agreement(model_bytes, test, reference) >= 0.97


@pytest.mark.slow
def test_keep_float_refuses_a_name_that_matches_nothing_with_the_keras_names(outlier_reference):
    from edgekit.convert.tflite_debug import selective_int8
    from edgekit.errors import ConversionError

    folder, calibration, _, _ = outlier_reference
    with pytest.raises(ConversionError, match=r"none of \['outlier'\]") as info:
        selective_int8(folder, calibration, ["outlier"])  # a substring of a Keras name is not a name
    assert "outlier_block" in info.value.hint and "features" in info.value.hint
