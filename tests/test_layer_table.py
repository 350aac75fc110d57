"""The per-layer table against Keras' own counts and closed forms."""

import math

from nets.backend import keras
import pandas as pd
import pytest

import nets
from analysis.cost import layer_table, summarize


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


def test_unknown_layer_is_flagged_not_counted():
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, name="known")(inputs)
    x = keras.layers.LayerNormalization(name="unknown")(x)
    table = layer_table(keras.Model(inputs, x))
    row = table.set_index("name").loc["unknown"]
    assert not row["supported"] and row["macs"] is pd.NA
    assert summarize(table)["unsupported"] == ["unknown"]
    assert summarize(table)["macs"] == 6 * 6 * 4 * 3 * 3 * 3
