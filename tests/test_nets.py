"""The two networks against keras.applications, the source notes and the paper."""

from nets.backend import keras
import numpy as np
import pytest

import nets

# The source notes' comments: output of each VGG16 block after its pool.
NOTES_VGG16_POOL_SHAPES = {
    "pool1": (112, 112, 64),
    "pool2": (56, 56, 128),
    "pool3": (28, 28, 256),
    "pool4": (14, 14, 512),
    "pool5": (7, 7, 512),
}
# The notes' comments on MobileNet: (block, output shape) at 224x224.
NOTES_MOBILENET_SHAPES = {
    "conv1_relu": (112, 112, 32),
    "conv_pw_1_relu": (112, 112, 64),
    "conv_pw_2_relu": (56, 56, 128),
    "conv_pw_3_relu": (56, 56, 128),
    "conv_pw_4_relu": (28, 28, 256),
    "conv_pw_5_relu": (28, 28, 256),
    "conv_pw_6_relu": (14, 14, 512),
    "conv_pw_11_relu": (14, 14, 512),
    "conv_pw_12_relu": (7, 7, 1024),
    "conv_pw_13_relu": (7, 7, 1024),
}


def _shape(model, name):
    return tuple(model.get_layer(name).output.shape[1:])


def test_vgg16_parameters_match_keras_applications(vgg16_model, keras_vgg16):
    assert vgg16_model.count_params() == keras_vgg16.count_params() == 138_357_544


def test_vgg16_without_top_matches_keras_applications():
    ours = nets.vgg16(include_top=False)
    reference = keras.applications.VGG16(weights=None, include_top=False)
    assert ours.count_params() == reference.count_params() == 14_714_688
    assert ours.output.shape[1:] == (7, 7, 512)


def test_vgg16_shapes_follow_the_notes(vgg16_model):
    for name, shape in NOTES_VGG16_POOL_SHAPES.items():
        assert _shape(vgg16_model, name) == shape
    assert _shape(vgg16_model, "conv1_2") == (224, 224, 64)
    assert _shape(vgg16_model, "fc6") == (1, 1, 4096)
    assert _shape(vgg16_model, "fc7") == (1, 1, 4096)
    assert _shape(vgg16_model, "fc8") == (1, 1, 1000)
    assert vgg16_model.output.shape[1:] == (1000,)


def test_vgg16_layer_names_are_the_slim_scopes(vgg16_model):
    names = [layer.name for layer in vgg16_model.layers if layer.weights]
    expected = [f"conv{b}_{i}" for b, n in enumerate((2, 2, 3, 3, 3), 1) for i in range(1, n + 1)]
    assert names == expected + ["fc6", "fc7", "fc8"]


def test_vgg16_head_is_convolutional_with_dropout(vgg16_model):
    fc6 = vgg16_model.get_layer("fc6")
    assert isinstance(fc6, keras.layers.Conv2D) and fc6.kernel_size == (7, 7) and fc6.padding == "valid"
    assert vgg16_model.get_layer("dropout6").rate == pytest.approx(0.5)
    assert vgg16_model.get_layer("fc8").activation is keras.activations.linear


def test_vgg16_options():
    model = nets.vgg16(num_classes=10, spatial_squeeze=False, dropout_keep_prob=0.8,
                       input_shape=(256, 256, 3))
    assert model.output.shape[1:] == (2, 2, 10)
    assert model.get_layer("dropout7").rate == pytest.approx(0.2)
    probabilities = nets.vgg16(num_classes=5, classifier_activation="softmax")(
        np.random.default_rng(0).uniform(size=(2, 224, 224, 3)).astype("float32"))
    np.testing.assert_allclose(np.sum(probabilities, axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("alpha", [1.0, 0.75, 0.5, 0.25])
# Every width at 224 in the fast tier; the other sizes (the same builder, a smaller input) in the slow one.
@pytest.mark.parametrize("size", [224, pytest.param(160, marks=pytest.mark.slow), pytest.param(128, marks=pytest.mark.slow)])
def test_mobilenet_parameters_match_keras_applications(alpha, size):
    ours = nets.mobilenet(alpha=alpha, input_shape=(size, size, 3))
    reference = keras.applications.MobileNet(weights=None, alpha=alpha, input_shape=(size, size, 3))
    assert ours.count_params() == reference.count_params()
    trainable = sum(int(np.prod(w.shape)) for w in ours.trainable_weights)
    assert trainable == sum(int(np.prod(w.shape)) for w in reference.trainable_weights)


def test_mobilenet_default_counts(mobilenet_model):
    # keras.applications' documented counts (shared/reference/SOURCES.md).
    assert mobilenet_model.count_params() == 4_253_864
    assert sum(int(np.prod(w.shape)) for w in mobilenet_model.trainable_weights) == 4_231_976


def test_mobilenet_depth_multiplier_and_no_top_match_keras():
    ours = nets.mobilenet(depth_multiplier=2, include_top=False, input_shape=(96, 96, 3))
    reference = keras.applications.MobileNet(weights=None, depth_multiplier=2, include_top=False,
                                             input_shape=(96, 96, 3))
    assert ours.count_params() == reference.count_params()


def test_mobilenet_weighted_layer_names_match_keras_applications(mobilenet_model):
    reference = keras.applications.MobileNet(weights=None)
    ours = [layer.name for layer in mobilenet_model.layers if layer.weights]
    theirs = [layer.name for layer in reference.layers if layer.weights]
    assert ours == theirs


def test_mobilenet_shapes_follow_the_notes(mobilenet_model):
    for name, shape in NOTES_MOBILENET_SHAPES.items():
        assert _shape(mobilenet_model, name) == shape
    assert mobilenet_model.output.shape[1:] == (1000,)
    relu = mobilenet_model.get_layer("conv_pw_5_relu")
    assert relu.max_value == 6.0
    assert not mobilenet_model.get_layer("conv_pw_5").use_bias


def test_mobilenet_softmax_and_logits():
    x = np.random.default_rng(0).uniform(size=(3, 64, 64, 3)).astype("float32")
    probabilities = nets.mobilenet(input_shape=(64, 64, 3), num_classes=7)(x)
    np.testing.assert_allclose(np.sum(probabilities, axis=1), 1.0, rtol=1e-5)
    logits = nets.mobilenet(input_shape=(64, 64, 3), num_classes=7, classifier_activation=None)
    assert logits.layers[-1].name == "reshape_2"


def _conv_mobilenet_params(alpha=1.0):
    """Closed form from the paper's Table 1: full 3x3 convolutions, BN, the classifier."""
    channels = [32, 64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512, 1024, 1024]
    channels = [int(c * alpha) for c in channels]
    convs = 3 * 3 * 3 * channels[0] + sum(9 * a * b for a, b in zip(channels, channels[1:]))
    batch_norm = 4 * sum(channels)
    return convs + batch_norm + channels[-1] * 1000 + 1000


def test_conv_mobilenet_is_table_4():
    model = nets.mobilenet(separable=False)
    assert model.count_params() == _conv_mobilenet_params()
    assert round(model.count_params() / 1e6, 1) == 29.3  # the paper's Table 4
    assert not any(isinstance(layer, keras.layers.DepthwiseConv2D) for layer in model.layers)
    assert _shape(model, "conv_13_relu") == (7, 7, 1024)


def test_shallow_mobilenet_is_table_5():
    model = nets.mobilenet(shallow=True)
    names = {layer.name for layer in model.layers}
    assert not any(f"conv_dw_{i}" in names for i in range(7, 12))
    assert round(model.count_params() / 1e6, 1) == 2.9  # the paper's Table 5
    assert _shape(model, "conv_pw_12_relu") == (7, 7, 1024)


@pytest.mark.parametrize(
    "build, argument, received",
    [
        (lambda: nets.mobilenet(alpha=0), "alpha", "alpha=0"),
        (lambda: nets.mobilenet(alpha=-0.5), "alpha", "alpha=-0.5"),
        (lambda: nets.mobilenet(depth_multiplier=0), "depth_multiplier", "depth_multiplier=0"),
        (lambda: nets.mobilenet(depth_multiplier=1.5), "depth_multiplier", "depth_multiplier=1.5"),
        (lambda: nets.mobilenet(num_classes=0), "num_classes", "num_classes=0"),
        (lambda: nets.vgg16(num_classes=0), "num_classes", "num_classes=0"),
        (lambda: nets.mobilenet(input_shape=(31, 64, 3)), "input_shape", "input_shape=(31, 64, 3)"),
        (lambda: nets.vgg16(input_shape=(16, 16, 3), include_top=False), "input_shape", "input_shape=(16, 16, 3)"),
        (lambda: nets.vgg16(input_shape=(160, 160, 3)), "input_shape", "input_shape=(160, 160, 3)"),
        (lambda: nets.vgg16(input_shape=(288, 288, 3)), "input_shape", "input_shape=(288, 288, 3)"),
        (lambda: nets.vgg16(dropout_keep_prob=0), "dropout_keep_prob", "dropout_keep_prob=0"),
    ],
)
def test_bad_arguments_name_the_argument_and_value(build, argument, received):
    with pytest.raises(ValueError) as error:
        build()
    assert argument in str(error.value)
    assert f"Received {received}" in str(error.value)


def test_vgg16_small_input_without_top_is_accepted():
    model = nets.vgg16(include_top=False, input_shape=(32, 32, 3))
    assert model.output.shape[1:] == (1, 1, 512)


def test_vgg16_head_sized_to_a_small_input():
    model = nets.vgg16(input_shape=(32, 32, 3), num_classes=10, fc6_kernel_size=None, fc_units=256)
    assert model.get_layer("fc6").kernel_size == (1, 1)
    assert model.output.shape[1:] == (10,)
    convs = 14_714_688  # keras.applications.VGG16 without the top
    assert model.count_params() == convs + 512 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10
    with pytest.raises(ValueError, match="fc6_kernel_size=None"):
        nets.vgg16(input_shape=(32, 32, 3))
    with pytest.raises(ValueError, match="Received fc_units=0"):
        nets.vgg16(fc_units=0)
