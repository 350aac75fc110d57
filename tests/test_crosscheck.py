"""Our counts against two independent counters: fvcore (torch backend) and the TF profiler."""

import math

from nets.backend import keras
import pandas as pd
import pytest

from analysis.cost import layer_table
from analysis.cost.crosscheck import MAC_LAYER_TYPES, crosscheck, crosscheck_summary
from analysis.cost.fvcore_count import fvcore_counts
from analysis.cost.tf_profiler import layer_of_op, tf_profiler_counts
from analysis.paths import quick_mode
from analysis.variants import Variant

SMALL = Variant("mobilenet", alpha=0.25, resolution=128)
# MobileNet 1.0/224 in multiply-adds: the paper's 569M, as a closed form of Table 1.
MOBILENET_224_MACS = 568_740_352
VGG16_MACS = 15_470_264_320


@pytest.fixture(scope="module")
def small_mobilenet():
    return crosscheck(SMALL).set_index("name", drop=False)


@pytest.fixture(scope="module")
def vgg16_table():
    # The graph with variables: freezing 138M parameters takes tens of seconds
    # and does not change a count (test_freezing_does_not_change_counts).
    return crosscheck(Variant("vgg16"), freeze=False).set_index("name", drop=False)


def _elements(shape):
    return math.prod(shape)


# ---------------------------------------------------------------- attribution


@pytest.mark.parametrize(
    ("op_name", "layer"),
    [
        ("mobilenet_1/conv1_1/convolution", "conv1"),
        ("mobilenet_1/conv1_bn_1/batchnorm/mul_1", "conv1_bn"),
        ("mobilenet_1/conv_dw_1_1/depthwise", "conv_dw_1"),
        ("mobilenet_1/conv_dw_13_1/depthwise", "conv_dw_13"),
        ("mobilenet_1/conv_dw_13_bn_1/batchnorm/Rsqrt", "conv_dw_13_bn"),
        ("vgg_16_1/conv1_1_1/BiasAdd", "conv1_1"),
        ("mobilenet_1/conv1/convolution", "conv1"),  # scopes not made unique
        ("Identity", None),
        ("mobilenet_1/unknown_1/Mul", None),
    ],
)
def test_ops_go_to_the_layer_of_a_whole_scope_component(op_name, layer):
    names = {"conv1", "conv1_bn", "conv_dw_1", "conv_dw_13", "conv_dw_13_bn", "conv1_1", "conv1_2"}
    assert layer_of_op(op_name, names) == layer


def test_ops_of_nested_models_go_to_their_qualified_layer():
    names = {"stem/conv", "stem/bn", "conv"}
    assert layer_of_op("m_1/stem_1/conv_1/convolution", names, {"stem"}) == "stem/conv"
    assert layer_of_op("m_1/stem_1/bn_1/batchnorm/mul", names, {"stem"}) == "stem/bn"
    assert layer_of_op("m_1/conv_1/convolution", names, {"stem"}) == "conv"
    assert layer_of_op("m_1/stem_1/other_1/Mul", names, {"stem"}) is None


def test_every_kind_of_convolution_against_fvcore_and_the_tf_profiler():
    layers = keras.layers
    inputs = keras.Input((12, 12, 4), name="image")
    x = layers.SeparableConv2D(8, 3, depth_multiplier=2, name="separable")(inputs)
    x = layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same", name="depthwise")(x)
    x = layers.Conv2D(8, 3, groups=4, name="grouped")(x)
    x = layers.Conv2DTranspose(4, 3, strides=2, padding="same", name="transposed")(x)
    x = keras.Sequential([layers.Conv2D(4, 1, name="conv"), layers.BatchNormalization(name="bn")], name="inner")(x)
    y = layers.Reshape((16 * 16, 4), name="to_1d")(x)
    y = layers.Conv1D(3, 3, name="conv1d")(y)
    y = layers.SeparableConv1D(3, 3, name="separable1d")(y)
    y = layers.DepthwiseConv1D(3, name="depthwise1d")(y)
    y = layers.GlobalAveragePooling1D(name="pool")(y)
    z = layers.Reshape((4, 4, 4, 1), name="to_3d")(layers.Dense(64, name="dense")(y))
    z = layers.Conv3D(2, 3, name="conv3d")(z)
    z = layers.Conv3DTranspose(2, 2, name="transposed3d")(z)
    model = keras.Model(inputs, layers.Dense(5, name="out")(layers.Flatten(name="flat")(z)), name="kinds")
    table = crosscheck(model, freeze=False).set_index("name")
    # Closed forms, worked by hand.
    hand = {
        "separable": 10 * 10 * (4 * 2) * 9 + 10 * 10 * 8 * 8,
        "depthwise": 10 * 10 * 16 * 9,
        "grouped": 8 * 8 * 8 * 9 * (16 // 4),
        "transposed": 8 * 8 * 8 * 9 * 4,  # every input element meets 3*3*4 weights
        "inner/conv": 16 * 16 * 4 * 4,
        "conv1d": 254 * 3 * 3 * 4,
        "separable1d": 252 * 3 * 3 + 252 * 3 * 3,
        "depthwise1d": 250 * 3 * 3,
        "dense": 3 * 64,
        "conv3d": 2 * 2 * 2 * 2 * 27,
        "transposed3d": 2 * 2 * 2 * 2 * 8 * 2,
        "out": 2 * 3 * 3 * 3 * 5,
    }
    for name, macs in hand.items():
        assert table.loc[name, "macs"] == macs == table.loc[name, "fvcore_macs"], name
    assert set(table.index[table["type"].isin(MAC_LAYER_TYPES)]) == set(hand)
    agreeing = [name for name in hand if name != "transposed3d"]
    assert table.loc[agreeing, "agree"].all()
    assert (2 * table.loc[agreeing, "macs"] == table.loc[agreeing, "tf_conv_flops"]).all()
    # The TF profiler has no count for a 3-D transposed convolution, and the note says so.
    row = table.loc["transposed3d"]
    assert not row["agree"] and row["tf_conv_flops"] == 0 and "Conv3DBackpropInputV2" in row["tf_uncounted"]
    assert "Conv3DBackpropInputV2 has no count" in row["note"]


def test_tf_profiler_counts_dense_layers_with_clashing_names():
    inputs = keras.Input((8,), name="input")
    x = keras.layers.Dense(4, name="dense")(inputs)
    x = keras.layers.Dense(3, activation="softmax", name="dense_1")(x)
    model = keras.Model(inputs, x, name="tiny")
    table = tf_profiler_counts(model).set_index("name")
    assert table.loc["dense", "tf_ops"] == {"BiasAdd": 4, "MatMul": 2 * 8 * 4}
    assert table.loc["dense_1", "tf_ops"] == {"BiasAdd": 3, "MatMul": 2 * 4 * 3, "Softmax": 5 * 3}
    ours = layer_table(model).set_index("name")
    for name in ("dense", "dense_1"):
        assert table.loc[name, "tf_conv_flops"] == 2 * ours.loc[name, "macs"]
    assert "(outside layers)" not in table.index
    assert table["tf_flops"].sum() == table.attrs["total_flops"]


def test_freezing_does_not_change_counts():
    model = SMALL.build()
    frozen, unfrozen = tf_profiler_counts(model), tf_profiler_counts(model, freeze=False)
    assert frozen.equals(unfrozen)
    assert frozen.attrs["total_flops"] == unfrozen.attrs["total_flops"]


# ---------------------------------------------------------------- agreement


@pytest.mark.parametrize("fixture", ["small_mobilenet", pytest.param("vgg16_table", marks=pytest.mark.slow)])
def test_every_conv_layer_agrees_exactly_across_the_three_counters(fixture, request):
    table = request.getfixturevalue(fixture)
    mac_rows = table[table["type"].isin(MAC_LAYER_TYPES)]
    assert len(mac_rows) > 0
    assert (mac_rows["macs"] == mac_rows["fvcore_macs"]).all()
    assert (2 * mac_rows["macs"] == mac_rows["tf_conv_flops"]).all()
    assert mac_rows["agree"].all()
    assert table.loc[~table["type"].isin(MAC_LAYER_TYPES), "agree"].isna().all()
    summary = crosscheck_summary(table)
    assert summary["all_agree"] and summary["disagreeing"] == []
    assert summary["fvcore_total_macs"] == summary["fvcore_macs"] == summary["ours_macs"]
    assert summary["tf_conv_flops"] == summary["ours_flops"] == 2 * summary["ours_macs"]
    assert summary["tf_unattributed_flops"] == 0
    assert summary["tf_total_flops"] == summary["tf_conv_flops"] + summary["tf_other_flops"]


def test_every_layer_has_a_row(small_mobilenet):
    model = SMALL.build()
    assert list(small_mobilenet["name"]) == [layer.name for layer in model.layers]
    assert crosscheck_summary(small_mobilenet)["mac_layers"] == 28  # conv1, 13 x (dw, pw), conv_preds


def test_fvcore_counts_depthwise_as_grouped_convolution(small_mobilenet):
    depthwise = small_mobilenet[small_mobilenet["type"] == "DepthwiseConv2D"]
    assert len(depthwise) == 13
    for _, row in depthwise.iterrows():
        assert row["fvcore_macs"] == _elements(row["output_shape"]) * 3 * 3
        assert row["fvcore_by_operator"] == {"conv": row["fvcore_macs"]}
        assert row["tf_ops"] == {"DepthwiseConv2dNative": 2 * row["fvcore_macs"]}


@pytest.mark.slow  # fvcore on the full MobileNet in a worker; the small MobileNet checks fvcore fast, test_cost the 569M
def test_fvcore_total_of_mobilenet_224_is_the_papers_569m(mobilenet_model):
    counts = fvcore_counts(Variant("mobilenet"))
    assert counts.attrs["total_macs"] == MOBILENET_224_MACS
    assert counts["fvcore_macs"].sum() == MOBILENET_224_MACS
    ours = layer_table(mobilenet_model).set_index("name")["macs"]
    for _, row in counts[counts["type"].isin(MAC_LAYER_TYPES)].iterrows():
        assert row["fvcore_macs"] == ours[row["name"]], row["name"]


@pytest.mark.slow  # VGG16 through all three counters; the small MobileNet checks them fast
def test_vgg16_totals(vgg16_table):
    summary = crosscheck_summary(vgg16_table)
    assert summary["fvcore_total_macs"] == summary["ours_macs"] == VGG16_MACS


@pytest.mark.skipif(quick_mode(), reason="freezing VGG16's 138M parameters takes about a minute; QUICK=0 runs it")
def test_vgg16_frozen_graph_agrees():
    summary = crosscheck_summary(crosscheck(Variant("vgg16")))
    assert summary["all_agree"]
    assert summary["tf_conv_flops"] == 2 * VGG16_MACS


# ---------------------------------------------------------------- what each counter leaves out


def test_a_layer_fvcore_cannot_run_is_reported_not_dropped(small_mobilenet):
    row = small_mobilenet.loc["input"]  # an InputLayer cannot be called on its own
    assert row["fvcore_error"]
    assert row["fvcore_macs"] is pd.NA
    assert "fvcore could not run" in row["note"]
    assert crosscheck_summary(small_mobilenet)["fvcore_errors"] == ["input"]


def test_fvcore_lists_batch_norm_and_relu6_as_unsupported(small_mobilenet):
    bn = small_mobilenet.loc["conv_pw_1_bn"]
    assert bn["fvcore_macs"] == 0
    assert {"aten::sub", "aten::rsqrt_", "aten::mul_", "aten::add_"} <= set(bn["fvcore_unsupported"])
    relu = small_mobilenet.loc["conv_pw_1_relu"]
    assert relu["fvcore_unsupported"] == {"aten::relu6": 1}
    assert "fvcore counts 0 for unsupported aten::relu6" in relu["note"]
    whole_model = small_mobilenet.attrs["fvcore_unsupported"]
    assert whole_model["aten::relu6"] == 27 and whole_model["aten::softmax"] == 1


def test_fvcore_size_arithmetic_is_told_apart(small_mobilenet):
    strided = small_mobilenet.loc["conv1"]  # stride 2, SAME: Keras' torch backend pads explicitly
    assert strided["fvcore_unsupported"]["aten::pad"] == 1
    assert "aten::pad" not in strided["fvcore_size_arithmetic"]
    assert set(strided["fvcore_size_arithmetic"]) == {"aten::add", "aten::mul", "aten::sub"}
    assert small_mobilenet.loc["conv_pw_1", "fvcore_unsupported"] == {}
    # The bias of conv_preds is real work on data, not size arithmetic.
    assert small_mobilenet.loc["conv_preds", "fvcore_unsupported"] == {"aten::add": 1}
    assert small_mobilenet.loc["conv_preds", "fvcore_size_arithmetic"] == {}


def test_tf_profiler_conventions_for_other_ops(small_mobilenet):
    t = small_mobilenet
    bn = t.loc["conv_pw_1_bn"]
    elements, channels = _elements(bn["output_shape"]), bn["output_shape"][-1]
    assert bn["other_ops"] == 2 * elements
    # Scale and shift per element, plus the per-channel arithmetic that the
    # frozen graph does not fold: var+eps, Rsqrt (2), gamma*, mean*, beta-.
    assert bn["tf_other_flops"] == 2 * elements + 6 * channels
    assert bn["tf_ops"]["Rsqrt"] == 2 * channels
    relu = t.loc["conv_pw_1_relu"]
    assert relu["tf_flops"] == 0 and relu["tf_uncounted"] == ["Relu6"]
    assert relu["other_ops"] == _elements(relu["output_shape"])
    pool = t.loc["global_pool"]
    assert pool["tf_ops"] == {"Mean": _elements(t.loc["conv_pw_13_relu", "output_shape"])}
    assert t.loc["conv_preds", "tf_ops"]["BiasAdd"] == t.loc["conv_preds", "other_ops"] == 1000
    assert t.loc["predictions", "tf_ops"] == {"Softmax": 5 * 1000}
    assert t.loc["predictions", "other_ops"] == 3 * 1000
    assert "TF profiler counts 0 for Relu6" in relu["note"]


@pytest.mark.slow  # VGG16 through all three counters
def test_vgg16_bias_relu_and_max_pool(vgg16_table):
    conv = vgg16_table.loc["conv3_1"]
    outputs = _elements(conv["output_shape"])
    assert conv["tf_ops"]["BiasAdd"] == outputs and conv["tf_uncounted"] == ["Relu"]
    assert conv["other_ops"] == 2 * outputs  # bias + ReLU
    assert conv["fvcore_unsupported"] == {"aten::add": 1}  # the bias
    assert conv["fvcore_ignored"] == {"aten::relu": 1}  # in fvcore's ignore list: not even listed
    assert "fvcore ignores aten::relu x1" in conv["note"]
    pool = vgg16_table.loc["pool3"]
    outputs = _elements(pool["output_shape"])
    assert pool["tf_ops"] == {"MaxPool": 4 * outputs}
    assert pool["other_ops"] == 3 * outputs
    assert pool["fvcore_unsupported"] == {"aten::max_pool2d": 1}


@pytest.mark.slow  # another worker; the small MobileNet's non-default alpha and resolution cross to it fast
def test_the_worker_builds_the_variant_it_is_sent():
    # Every non-default option crosses to the torch subprocess: a depth multiplier of 2 doubles
    # each depthwise output, so conv_dw_1 does 32 x 2 channels x 3 x 3 per position of its 32x32 map.
    variant = Variant("mobilenet", alpha=1.0, resolution=64, depth_multiplier=2, num_classes=10)
    counts = fvcore_counts(variant).set_index("name")
    assert counts.loc["conv_dw_1", "fvcore_macs"] == 32 * 32 * (32 * 2) * 3 * 3
    assert counts.loc["conv_preds", "fvcore_macs"] == 1024 * 10
