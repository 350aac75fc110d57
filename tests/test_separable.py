"""The separable-convolution lesson against real Keras layers and the layer table."""

from nets.backend import keras
import numpy as np
import pytest

from analysis.cost import layer_table
from analysis.cost.separable import separable_conv_cost, separable_ratio, standard_conv_cost


def test_the_notes_example():
    assert standard_conv_cost(3, 16, 32).params == 16 * 32 * 3 * 3 == 4608
    assert separable_conv_cost(3, 16, 32).params == 16 * 3 * 3 + 16 * 32 == 656


def _keras_pair(k, m, n, h, w):
    """A standard and a depthwise separable Keras block, without biases, SAME padding."""
    inputs = keras.Input((h, w, m))
    standard = keras.layers.Conv2D(n, k, padding="same", use_bias=False, name="standard")(inputs)
    depthwise = keras.layers.DepthwiseConv2D(k, padding="same", use_bias=False, name="depthwise")(inputs)
    pointwise = keras.layers.Conv2D(n, 1, use_bias=False, name="pointwise")(depthwise)
    return keras.Model(inputs, [standard, pointwise])


@pytest.mark.parametrize("seed", range(6))
def test_random_shapes_against_keras_layers_and_the_table(seed):
    rng = np.random.default_rng(seed)
    k = int(rng.choice([1, 3, 5, 7]))
    m, n = (int(v) for v in rng.integers(1, 96, size=2))
    h, w = (int(v) for v in rng.integers(1, 20, size=2))
    model = _keras_pair(k, m, n, h, w)
    table = layer_table(model).set_index("name")
    standard, separable = standard_conv_cost(k, m, n, h, w), separable_conv_cost(k, m, n, h, w)
    assert standard.params == model.get_layer("standard").count_params()
    assert separable.params == (model.get_layer("depthwise").count_params()
                                + model.get_layer("pointwise").count_params())
    assert standard.macs == table.loc["standard", "macs"]
    assert separable.macs == table.loc["depthwise", "macs"] + table.loc["pointwise", "macs"]
    assert separable.macs / standard.macs == pytest.approx(separable_ratio(k, n))
    assert separable.params / standard.params == pytest.approx(separable_ratio(k, n))


def test_ratio_closed_form():
    assert separable_ratio(3, 32) == pytest.approx(656 / 4608)
    assert 1 / separable_ratio(3, 1024) == pytest.approx(8.93, abs=0.01)  # "8 to 9 times less"


@pytest.mark.parametrize("argument", ["kernel_size", "in_channels", "out_channels", "height", "width"])
def test_bad_arguments(argument):
    arguments = dict(kernel_size=3, in_channels=16, out_channels=32, height=1, width=1)
    arguments[argument] = 0
    with pytest.raises(ValueError, match=f"Received {argument}=0"):
        standard_conv_cost(**arguments)


def test_cost_comparison_rows():
    from analysis.cost.separable import cost_comparison

    table = cost_comparison(3, 16, 32, 8, 8).set_index("kind")
    assert table.loc["standard", "params"] == 4608
    assert table.loc["depthwise separable", "macs"] == 656 * 64
    assert table.loc["depthwise separable", "ratio"] == pytest.approx(1 / 32 + 1 / 9)


def test_keras_layer_ratios_follow_the_formula():
    from analysis.cost.separable import keras_layer_ratios

    table = keras_layer_ratios((3, 5), (4, 32), in_channels=16)
    assert len(table) == 4
    row = table[(table["k"] == 3) & (table["N"] == 32)].iloc[0]
    assert row["standard_params"] == 4608 and row["separable_params"] == 656
    assert table["measured"].to_numpy() == pytest.approx(table["formula"].to_numpy())


def test_block_savings_of_mobilenet(mobilenet_model):
    from analysis.cost.separable import block_savings

    blocks = block_savings(layer_table(mobilenet_model))
    assert list(blocks.index) == list(range(1, 14))
    first = blocks.loc[1]
    assert (first["M"], first["N"], first["output"]) == (32, 64, "112x112")
    assert first["separable_macs"] == 112 * 112 * 32 * 9 + 112 * 112 * 32 * 64
    assert first["standard_macs"] == 112 * 112 * 32 * 64 * 9
    assert blocks["ratio"].to_numpy() == pytest.approx(blocks["formula"].to_numpy())
