"""MACs, FLOPs and memory against closed forms worked out from the architecture."""

from nets.backend import keras
import pytest

import nets
from analysis.cost import layer_table, summarize
from analysis.cost import compare_table

VGG16_CONFIG_D = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
MOBILENET_TABLE_1 = [  # (stride, output channels) of each separable block, the paper's Table 1
    (1, 64), (2, 128), (1, 128), (2, 256), (1, 256), (2, 512), (1, 512), (1, 512), (1, 512),
    (1, 512), (1, 512), (2, 1024), (1, 1024),
]


def vgg16_macs_closed_form(size=224, classes=1000):
    macs, channels = 0, 3
    for item in VGG16_CONFIG_D:
        if item == "M":
            size //= 2
        else:
            macs += size * size * 3 * 3 * channels * item
            channels = item
    return macs + 7 * 7 * 512 * 4096 + 4096 * 4096 + 4096 * classes


def mobilenet_macs_closed_form(size=224, alpha=1.0, classes=1000):
    size = -(-size // 2)
    channels = int(32 * alpha)
    macs = size * size * 3 * 3 * 3 * channels
    for stride, out in MOBILENET_TABLE_1:
        out = int(out * alpha)
        size = -(-size // stride)
        macs += size * size * channels * 9 + size * size * channels * out
        channels = out
    return macs + channels * classes


def test_vgg16_total_macs(vgg16_model):
    totals = summarize(vgg16_model)
    assert totals["macs"] == vgg16_macs_closed_form() == 15_470_264_320
    assert totals["flops"] == 2 * totals["macs"]


@pytest.mark.parametrize("alpha, size", [(1.0, 224), (0.75, 192), (0.5, 160), (0.25, 128), (1.0, 97)])
def test_mobilenet_total_macs(alpha, size):
    totals = summarize(nets.mobilenet(alpha=alpha, input_shape=(size, size, 3)))
    assert totals["macs"] == mobilenet_macs_closed_form(size, alpha)


def test_mobilenet_default_macs(mobilenet_model):
    assert summarize(mobilenet_model)["macs"] == 568_740_352


def test_memory_columns_follow_float32(mobilenet_model):
    table = layer_table(mobilenet_model).set_index("name")
    row = table.loc["conv_pw_1"]
    assert row["activations"] == 112 * 112 * 64
    assert row["activation_bytes"] == 4 * 112 * 112 * 64
    assert row["weight_bytes"] == 4 * 32 * 64
    traffic = 4 * (112 * 112 * 32 + 112 * 112 * 64 + 32 * 64)
    assert row["arithmetic_intensity"] == pytest.approx(2 * 112 * 112 * 32 * 64 / traffic)
    assert table.loc["conv_pw_1", "input_shape"] == (112, 112, 32)
    assert table.loc["conv_dw_2", "strides"] == (2, 2) and table.loc["conv_dw_2", "kernel_size"] == (3, 3)


def test_other_ops_are_counted_apart_from_macs(vgg16_model, mobilenet_model):
    vgg = layer_table(vgg16_model).set_index("name")
    # conv1_1: a bias add and a ReLU per output element, and no more.
    assert vgg.loc["conv1_1", "other_ops"] == 2 * 224 * 224 * 64
    assert vgg.loc["pool1", "macs"] == 0 and vgg.loc["pool1", "other_ops"] == 3 * 112 * 112 * 64
    mobile = layer_table(mobilenet_model).set_index("name")
    assert mobile.loc["conv_dw_1_bn", "macs"] == 0
    assert mobile.loc["conv_dw_1_bn", "other_ops"] == 2 * 112 * 112 * 32
    assert mobile.loc["conv_dw_1", "other_ops"] == 0  # no bias, no fused activation
    assert mobile.loc["global_pool", "other_ops"] == 7 * 7 * 1024 + 1024


def test_flops_are_two_per_multiply_add_in_closed_form(mobilenet_model):
    # conv_pw_1: a 1x1 convolution from 32 to 64 channels over a 112x112 map (the paper's Table 1).
    pointwise = layer_table(mobilenet_model).set_index("name").loc["conv_pw_1"]
    assert pointwise["macs"] == 112 * 112 * 32 * 64
    assert pointwise["flops"] == 2 * 112 * 112 * 32 * 64


def test_dense_and_grouped_convolutions():
    inputs = keras.Input((6, 6, 8))
    x = keras.layers.Conv2D(4, 3, groups=2, use_bias=False, name="grouped")(inputs)
    x = keras.layers.Flatten(name="flat")(x)
    x = keras.layers.Dense(5, name="dense")(x)
    table = layer_table(keras.Model(inputs, x)).set_index("name")
    assert table.loc["grouped", "macs"] == 4 * 4 * 4 * 3 * 3 * 4
    assert table.loc["dense", "macs"] == 4 * 4 * 4 * 5
    assert table.loc["dense", "other_ops"] == 5  # the bias


def test_compare_table_ratios(vgg16_model, mobilenet_model):
    table = compare_table(summarize(vgg16_model), summarize(mobilenet_model)).set_index("quantity")
    assert table.loc["macs", "ratio"] == pytest.approx(15_470_264_320 / 568_740_352)
    assert round(table.loc["params", "ratio"]) == 33  # the paper: "32 times smaller"
