"""The per-layer table against Keras' own counts and closed forms."""

import math

from nets.backend import keras
import pandas as pd
import pytest

from analysis.cost import layer_table, summarize
from nets.errors import BadInput


def test_one_row_per_layer_in_order(mobilenet_model):
    table = layer_table(mobilenet_model)
    assert list(table["name"]) == [layer.name for layer in mobilenet_model.layers]
    assert list(table["type"]) == [type(layer).__name__ for layer in mobilenet_model.layers]


@pytest.mark.parametrize("fixture", ["vgg16_model", "mobilenet_model"])
def test_parameters_per_layer_are_keras_counts(fixture, request):
    model = request.getfixturevalue(fixture)
    table = layer_table(model).set_index("name")
    for layer in model.layers:
        assert table.loc[layer.name, "params"] == layer.count_params()
    assert table["params"].sum() == model.count_params()


def test_batch_norm_statistics_are_non_trainable(mobilenet_model):
    table = layer_table(mobilenet_model).set_index("name")
    channels = mobilenet_model.get_layer("conv_pw_13_bn").output.shape[-1]
    assert table.loc["conv_pw_13_bn", "trainable_params"] == 2 * channels
    assert table.loc["conv_pw_13_bn", "non_trainable_params"] == 2 * channels
    totals = summarize(mobilenet_model)
    assert totals["non_trainable_params"] == 21_888  # keras.applications: 4,253,864 - 4,231,976


def test_output_shapes_are_the_model_shapes(vgg16_model):
    table = layer_table(vgg16_model).set_index("name")
    for layer in vgg16_model.layers:
        assert table.loc[layer.name, "output_shape"] == tuple(layer.output.shape[1:])


class Mystery(keras.layers.Layer):
    """A layer class no counter knows."""

    def call(self, x):
        return 2 * x


def test_unknown_layer_is_flagged_not_counted():
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, name="known")(inputs)
    x = Mystery(name="unknown")(x)
    x = keras.layers.Conv2D(4, 3, name="after")(x)
    table = layer_table(keras.Model(inputs, x))
    row = table.set_index("name").loc["unknown"]
    assert not row["supported"] and row["macs"] is pd.NA and row["other_ops"] is pd.NA
    totals = summarize(table)
    assert totals["unsupported"] == ["unknown"]
    assert totals["unsupported_types"] == ["Mystery"]
    assert totals["lower_bound"] and table.attrs["lower_bound"]
    assert table.attrs["unsupported_types"] == ["Mystery"]
    assert totals["macs"] == 6 * 6 * 4 * 3 * 3 * 3 + 4 * 4 * 4 * 3 * 3 * 4
    # No receptive field through a layer nobody knows.
    assert table.set_index("name")["receptive_field"][["unknown", "after"]].isna().all()


def test_complete_totals_are_not_a_lower_bound(mobilenet_model):
    totals = summarize(mobilenet_model)
    assert not totals["lower_bound"] and totals["unsupported_types"] == []


def test_open_input_size_asks_for_a_resolution():
    inputs = keras.Input((None, None, 3))
    model = keras.Model(inputs, keras.layers.Conv2D(4, 3)(inputs))
    with pytest.raises(BadInput, match="--resolution") as raised:
        layer_table(model)
    assert isinstance(raised.value, ValueError) and "\n" not in str(raised.value)
    assert "(None, None, None, 3)" in str(raised.value)


def test_mobilenet_v3_without_input_shape_asks_for_a_resolution():
    model = keras.applications.MobileNetV3Small(input_shape=None, weights=None)
    with pytest.raises(BadInput, match="--resolution"):
        layer_table(model)


# ---------------------------------------------------------------- nested and shared


def test_nested_models_are_counted_through_their_layers():
    stem = keras.Sequential([keras.layers.Conv2D(8, 3, name="conv"), keras.layers.BatchNormalization(name="bn")],
                            name="stem")
    block_in = keras.Input((6, 6, 8))
    block_out = keras.layers.Conv2D(8, 1, name="pw")(block_in)
    block = keras.Model(block_in, block_out, name="block")
    shared = keras.layers.Dense(8, name="shared")
    inputs = keras.Input((8, 8, 3), name="input")
    x = stem(inputs)
    x = block(x)
    x = shared(x)
    x = shared(x)  # called twice: parameters once, work twice
    model = keras.Model(inputs, x)
    table = layer_table(model).set_index("name")
    assert list(table.index) == ["input", "stem/conv", "stem/bn", "block/pw", "shared", "shared@1"]
    assert table["params"].sum() == model.count_params()
    assert table.loc["shared", "params"] == 8 * 8 + 8 and table.loc["shared@1", "params"] == 0
    assert table.loc["shared", "macs"] == table.loc["shared@1", "macs"] == 6 * 6 * 8 * 8
    assert table.loc["stem/conv", "macs"] == 6 * 6 * 8 * 3 * 3 * 3
    assert table.loc["block/pw", "macs"] == 6 * 6 * 8 * 8
    assert table.loc["stem/bn", "non_trainable_params"] == 2 * 8
    # The receptive field flows into and out of the nested models: 3x3, then 1x1 and dense.
    assert set(table["receptive_field"][1:]) == {3}


# ---------------------------------------------------------------- formulas in closed form


def _one_layer(layer, shape):
    inputs = keras.Input(shape)
    model = keras.Model(inputs, layer(inputs))
    return layer_table(model).iloc[-1], model


def _elements(shape):
    return math.prod(shape)


@pytest.mark.parametrize(("layer", "per_element"), [
    (keras.layers.LayerNormalization(), 7),  # mean, centre, square, sum, normalize + scale + centre
    (keras.layers.LayerNormalization(scale=False, center=False), 5),
    (keras.layers.Normalization(mean=0.5, variance=4.0), 2),
    (keras.layers.Rescaling(1 / 255), 1),
    (keras.layers.Rescaling(1 / 127.5, offset=-1), 2),
    (keras.layers.Activation("hard_swish"), 1),
    (keras.layers.Activation("hard_sigmoid"), 1),
    (keras.layers.Activation("swish"), 1),
    (keras.layers.Activation("gelu"), 1),
    (keras.layers.Activation("softmax"), 3),
    (keras.layers.Activation("linear"), 0),
    (keras.layers.ReLU(6.0), 1),
    (keras.layers.LeakyReLU(), 1),
    (keras.layers.Dropout(0.5), 0),
    (keras.layers.Identity(), 0),
])
def test_position_wise_layers(layer, per_element):
    row, _ = _one_layer(layer, (5, 5, 4))
    assert row["macs"] == 0 and row["other_ops"] == per_element * 5 * 5 * 4
    assert row["supported"]


def test_activation_of_a_function_outside_keras_is_unsupported():
    row, _ = _one_layer(keras.layers.Activation(lambda x: x), (5, 5, 4))
    assert not row["supported"] and row["other_ops"] is pd.NA


def test_keras_ops_in_a_graph_are_rows():
    inputs = keras.Input((4, 4, 2))
    x = keras.layers.ReLU(6.0, name="relu6")(inputs + 3.0) * (1.0 / 6.0)  # MobileNetV3's hard sigmoid
    table = layer_table(keras.Model(inputs, x))
    assert list(table["type"]) == ["InputLayer", "ops.Add", "ReLU", "ops.Multiply"]
    assert list(table["other_ops"]) == [0, 32, 32, 32]
    assert table["supported"].all()


def test_cropping_padding_permute_and_reshape_are_free():
    for layer, shape, out in [(keras.layers.Cropping2D(((1, 0), (1, 0))), (5, 5, 4), (4, 4, 4)),
                              (keras.layers.ZeroPadding2D(1), (5, 5, 4), (7, 7, 4)),
                              (keras.layers.Permute((2, 1, 3)), (5, 3, 4), (3, 5, 4)),
                              (keras.layers.Reshape((25, 4)), (5, 5, 4), (25, 4))]:
        row, _ = _one_layer(layer, shape)
        assert row["output_shape"] == out and row["macs"] == 0 and row["other_ops"] == 0


def test_squeeze_and_excitation():
    channels, squeezed = 16, 4
    inputs = keras.Input((6, 6, channels))
    x = keras.layers.GlobalAveragePooling2D(keepdims=True, name="squeeze")(inputs)
    x = keras.layers.Conv2D(squeezed, 1, activation="relu", name="reduce")(x)
    x = keras.layers.Conv2D(channels, 1, activation="hard_sigmoid", name="expand")(x)
    x = keras.layers.Multiply(name="excite")([inputs, x])
    table = layer_table(keras.Model(inputs, x)).set_index("name")
    assert table.loc["squeeze", "output_shape"] == (1, 1, channels)
    assert table.loc["squeeze", "other_ops"] == 6 * 6 * channels + channels  # adds, then a divide each
    assert table.loc["reduce", "macs"] == channels * squeezed
    assert table.loc["expand", "macs"] == squeezed * channels
    assert table.loc["expand", "other_ops"] == 2 * channels  # bias and activation
    assert table.loc["excite", "other_ops"] == 6 * 6 * channels  # one multiply per output
    # The gate is made from the whole map, so each output sees all 6 positions.
    assert table.loc["excite", "receptive_field"] == 6


def test_pooling_and_upsampling():
    row, _ = _one_layer(keras.layers.AveragePooling2D(2), (6, 6, 3))
    assert row["other_ops"] == (4 + 1) * 3 * 3 * 3  # 4 adds and a divide per output
    row, _ = _one_layer(keras.layers.MaxPooling2D(3, strides=1), (6, 6, 3))
    assert row["other_ops"] == 8 * 4 * 4 * 3
    row, _ = _one_layer(keras.layers.GlobalMaxPooling2D(keepdims=True), (6, 6, 3))
    assert row["output_shape"] == (1, 1, 3) and row["other_ops"] == 6 * 6 * 3 - 3
    row, _ = _one_layer(keras.layers.UpSampling2D(2), (3, 3, 2))
    assert row["output_shape"] == (6, 6, 2) and row["other_ops"] == 0  # nearest: copies
    row, _ = _one_layer(keras.layers.UpSampling2D(2, interpolation="bilinear"), (3, 3, 2))
    assert row["other_ops"] == (4 + 3) * 6 * 6 * 2  # 4 multiplies and 3 adds per output


def test_transposed_1d_3d_grouped_and_depthwise_convolutions():
    row, model = _one_layer(keras.layers.Conv2DTranspose(5, 3, strides=2, use_bias=False), (4, 4, 2))
    assert row["output_shape"] == (9, 9, 5)
    assert row["macs"] == 4 * 4 * 2 * 3 * 3 * 5  # every input element meets k*k*C_out weights
    assert row["params"] == model.count_params() == 3 * 3 * 2 * 5
    row, _ = _one_layer(keras.layers.Conv1D(6, 3), (10, 4))
    assert row["macs"] == 8 * 6 * 3 * 4 and row["other_ops"] == 8 * 6
    row, _ = _one_layer(keras.layers.Conv3D(2, 3, use_bias=False), (5, 5, 5, 3))
    assert row["macs"] == 3 * 3 * 3 * 2 * 27 * 3
    row, _ = _one_layer(keras.layers.Conv2D(8, 3, groups=4, use_bias=False), (5, 5, 8))
    assert row["macs"] == 3 * 3 * 8 * 9 * (8 // 4)
    row, _ = _one_layer(keras.layers.DepthwiseConv2D(3, depth_multiplier=2, use_bias=False), (5, 5, 4))
    assert row["output_shape"] == (3, 3, 8) and row["macs"] == 3 * 3 * 8 * 9


def test_application_layers():
    from keras.src.applications.convnext import LayerScale
    from keras.src.applications.inception_resnet_v2 import CustomScaleLayer

    row, model = _one_layer(LayerScale(1e-6, 4), (5, 5, 4))
    assert row["other_ops"] == 5 * 5 * 4 and row["params"] == model.count_params() == 4
    a, b = keras.Input((3, 3, 2)), keras.Input((3, 3, 2))
    table = layer_table(keras.Model([a, b], CustomScaleLayer(0.17)([a, b])))
    assert table.iloc[-1]["other_ops"] == 2 * 3 * 3 * 2  # x + scale * r


# ---------------------------------------------------------------- receptive field


def test_receptive_field_follows_the_recurrence_by_hand():
    inputs = keras.Input((64, 64, 1), name="input")
    x = keras.layers.Conv2D(1, 3, padding="same", name="a")(inputs)   # r = 1 + 2*1 = 3, j = 1
    x = keras.layers.Conv2D(1, 3, strides=2, name="b")(x)              # r = 3 + 2*1 = 5, j = 2
    x = keras.layers.MaxPooling2D(2, name="c")(x)                      # r = 5 + 1*2 = 7, j = 4
    x = keras.layers.Conv2D(1, 3, dilation_rate=2, name="d")(x)        # k_eff 5: r = 7 + 4*4 = 23, j = 4
    x = keras.layers.ZeroPadding2D(1, name="e")(x)                     # unchanged
    x = keras.layers.Conv2DTranspose(1, 3, strides=2, name="f")(x)     # j = 2, r = 23 + 2*2 = 27
    table = layer_table(keras.Model(inputs, x)).set_index("name")
    assert list(table["receptive_field"]) == [1, 3, 5, 7, 23, 23, 27]
    assert list(table["jump"]) == [1, 1, 2, 4, 4, 4, 2]


def test_receptive_field_per_axis_and_of_merges():
    inputs = keras.Input((32, 32, 1))
    a = keras.layers.Conv2D(1, (1, 7), padding="same", name="a")(inputs)
    a = keras.layers.Conv2D(1, (7, 1), padding="same", name="b")(a)    # 7 on each axis, not 13
    c = keras.layers.Conv2D(1, 3, padding="same", name="c")(inputs)
    added = keras.layers.Add(name="add")([a, c])                       # the larger of 7 and 3
    joined = keras.layers.Concatenate(name="cat")([c, c])
    table = layer_table(keras.Model(inputs, [added, joined])).set_index("name")
    assert table.loc["b", "receptive_field"] == 7 and table.loc["add", "receptive_field"] == 7
    assert table.loc["cat", "receptive_field"] == 3


def test_vgg16_receptive_field(vgg16_model):
    table = layer_table(vgg16_model).set_index("name")
    # Per block: n stacked 3x3 convolutions add 2 j each, the 2x2 pool adds j and doubles j.
    assert table.loc["conv1_2", "receptive_field"] == 5
    assert table.loc["conv5_3", "receptive_field"] == 196 and table.loc["conv5_3", "jump"] == 16
    assert table.loc["pool5", "receptive_field"] == 212 and table.loc["pool5", "jump"] == 32
    assert table.loc["fc6", "receptive_field"] == 212 + 6 * 32  # a 7x7 VALID convolution on pool5


@pytest.mark.parametrize("n", [1, 2, 3])
def test_stacked_3x3_against_one_large_kernel(n):
    from analysis.cost.receptive import stacked_convolutions

    channels = 4
    inputs = keras.Input((16, 16, channels))
    x = inputs
    for _ in range(n):
        x = keras.layers.Conv2D(channels, 3, use_bias=False)(x)
    stacked = keras.Model(inputs, x)
    single = keras.Model(inputs, keras.layers.Conv2D(channels, 2 * n + 1, use_bias=False)(inputs))
    argument = stacked_convolutions(n, channels)
    assert argument["receptive_field"] == 2 * n + 1 == layer_table(stacked).iloc[-1]["receptive_field"]
    assert layer_table(single).iloc[-1]["receptive_field"] == 2 * n + 1
    assert argument["stacked_weights"] == 9 * n * channels**2 == stacked.count_params()
    assert argument["single_weights"] == (2 * n + 1) ** 2 * channels**2 == single.count_params()
    assert argument["stacked_nonlinearities"] == n


def test_roles_of_the_other_convolutions_and_pools():
    from analysis.cost import layer_role

    assert layer_role("c", "Conv1D", (3,)) == "Conv 3"
    assert layer_role("c", "Conv2DTranspose", (3, 3)) == "Conv 3x3"
    assert layer_role("d", "DepthwiseConv1D", (5,)) == "Conv DW 5"
    assert layer_role("p", "GlobalMaxPooling1D") == "Pooling"
    assert layer_role("a", "LeakyReLU") == "Activation"
