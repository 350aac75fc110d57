"""analysis.cost.trace and analysis.plots.receptive: the tables and figures of notebooks 01 and 02,
against closed forms and counts by hand."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

import nets  # noqa: E402
from analysis import plots  # noqa: E402
from analysis.cost import layer_table  # noqa: E402
from analysis.cost import trace  # noqa: E402
from analysis.cost.separable import separable_conv_cost, standard_conv_cost  # noqa: E402
from nets.errors import BadInput  # noqa: E402
from nets.backend import keras  # noqa: E402

# VGG16's windows before the classifier: (kernel, stride), 3x3/1 convolutions and 2x2/2 pools.
VGG16_WINDOWS = [(3, 1)] * 2 + [(2, 2)] + [(3, 1)] * 2 + [(2, 2)] + ([(3, 1)] * 3 + [(2, 2)]) * 3


@pytest.fixture(scope="module")
def vgg_table():
    return layer_table(nets.vgg16())


@pytest.fixture(scope="module")
def mobilenet_table():
    return layer_table(nets.mobilenet())


def test_vgg16_receptive_trace_is_the_recurrence_by_hand(vgg_table):
    rows = trace.receptive_trace(vgg_table)
    r, j, expected = 1, 1, []
    for kernel, stride in VGG16_WINDOWS:
        r, j = r + (kernel - 1) * j, j * stride
        expected.append((r, j))
    assert list(zip(rows["receptive_field"], rows["jump"])) == expected
    assert list(rows["depth"]) == list(range(1, 19))
    named = rows.set_index("name")
    assert named.loc["conv5_3", "receptive_field"] == 196 and named.loc["pool5", "receptive_field"] == 212
    assert named.loc["pool5", "jump"] == 32
    assert "fc6" not in named.index


def test_mobilenet_receptive_trace_ends_at_conv_pw_13(mobilenet_table):
    rows = trace.receptive_trace(mobilenet_table)
    assert rows["name"].iloc[0] == "conv1" and rows["name"].iloc[-1] == "conv_pw_13"
    assert len(rows) == 27  # conv1 and 13 depthwise-pointwise pairs
    # conv1 3x3/2, then 3x3 depthwise with strides 1,2,1,2,1,2,1,1,1,1,1,2,1 and 1x1 pointwise.
    r, j = 3, 2
    for stride in (1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1):
        r, j = r + 2 * j, j * stride
    assert rows["receptive_field"].iloc[-1] == r == 315 and rows["jump"].iloc[-1] == j == 32


@pytest.mark.parametrize("n, side, stacked, single", [(1, 3, 9, 9), (2, 5, 18, 25), (3, 7, 27, 49)])
def test_stacked_3x3_is_the_closed_form(n, side, stacked, single):
    table = trace.stacked_3x3(depths=(1, 2, 3), channels=512)
    row = table.loc[n]
    assert row["receptive_field"] == side == 2 * n + 1
    assert row["stacked_per_C2"] == stacked and row["single_per_C2"] == single
    assert row["stacked_weights"] == stacked * 512**2 and row["single_weights"] == single * 512**2
    assert row["weight_ratio"] == pytest.approx(single / stacked)
    assert row["stacked_relus"] == n and row["single_relus"] == 1


def test_stacked_3x3_sees_as_far_as_vgg_conv5(vgg_table):
    """Three stacked 3x3 at jump 16 grow the field as one 7x7 would: 100 + 6 * 16 = 196."""
    named = trace.receptive_trace(vgg_table).set_index("name")
    side = trace.stacked_3x3(depths=(3,)).loc[3, "receptive_field"]
    assert named.loc["pool4", "receptive_field"] + (side - 1) * named.loc["pool4", "jump"] \
        == named.loc["conv5_3", "receptive_field"]


def test_notes_shapes_agree(vgg_table, mobilenet_table):
    vgg = trace.notes_check(vgg_table, trace.NOTES_VGG16_SHAPES)
    mobilenet = trace.notes_check(mobilenet_table, trace.NOTES_MOBILENET_SHAPES, by="block")
    assert vgg["agrees"].all() and list(vgg.index) == list(trace.NOTES_VGG16_SHAPES)
    assert mobilenet["agrees"].all() and mobilenet.loc["block 12", "name"] == "conv_pw_12_relu"


def test_notes_check_finds_a_wrong_shape_and_names_bad_input(vgg_table):
    checked = trace.notes_check(vgg_table, {"pool5": (7, 7, 256)})
    assert not checked["agrees"].any()
    with pytest.raises(BadInput, match="by must be"):
        trace.notes_check(vgg_table, {}, by="row")
    with pytest.raises(BadInput, match="unknown keys"):
        trace.notes_check(vgg_table, {"pool9": (1, 1, 1)})
    with pytest.raises(BadInput, match="layer_table"):
        trace.shape_trace(vgg_table[["name"]])


def test_overview_and_shape_trace(vgg_table, mobilenet_table):
    table = trace.overview({"VGG16": vgg_table, "MobileNet": mobilenet_table})
    assert table.loc["VGG16", "layers"] == 25 and table.loc["MobileNet", "layers"] == 87
    assert table.loc["VGG16", "input"] == (224, 224, 3) and table.loc["MobileNet", "output"] == (1000,)
    assert table.loc["VGG16", "params"] == 138_357_544 and table.loc["MobileNet", "params"] == 4_253_864
    shapes = trace.shape_trace(vgg_table)
    assert list(shapes.columns) == [*trace.TRACE_COLUMNS, "block"]
    assert shapes.set_index("name").loc["pool3", "block"] == "conv3"


def _tiny_models():
    inputs = keras.Input((8, 8, 16), name="input")
    standard = keras.Model(inputs, keras.layers.Conv2D(32, 3, padding="same", use_bias=False)(inputs),
                           name="standard")
    depthwise = keras.layers.DepthwiseConv2D(3, padding="same", use_bias=False)(inputs)
    separable = keras.Model(inputs, keras.layers.Conv2D(32, 1, use_bias=False)(depthwise), name="separable")
    return standard, separable


def test_standard_and_separable_layers_agree_with_the_formula():
    standard, separable = _tiny_models()
    kernels = trace.kernel_shapes(standard, separable)
    assert list(kernels["kernel_shape"]) == [(3, 3, 16, 32), (3, 3, 16, 1), (1, 1, 16, 32)]
    assert list(kernels["count_params"]) == [4608, 144, 512]
    assert list(kernels["model"]) == ["standard", "separable", "separable"]
    tables = trace.layer_tables([standard, separable])
    assert "InputLayer" not in set(tables["type"]) and list(dict.fromkeys(tables["model"])) == ["standard", "separable"]
    formulas = {"standard": standard_conv_cost(3, 16, 32, 8, 8), "separable": separable_conv_cost(3, 16, 32, 8, 8)}
    totals = trace.agreement(tables, formulas)
    assert totals["agree"].all()
    assert list(totals["params"]) == [4608, 656] and list(totals["macs"]) == [4608 * 64, 656 * 64]
    with pytest.raises(BadInput, match="formulas"):
        trace.agreement(tables, {"standard": formulas["standard"]})


def test_figures_draw(vgg_table, mobilenet_table):
    traces = {"VGG16": trace.receptive_trace(vgg_table), "MobileNet": trace.receptive_trace(mobilenet_table)}
    fig = plots.draw_receptive_field(traces, annotate=("conv5_3",))
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "conv5_3: 196" in texts and "pool5: 212" in texts and "conv_pw_13: 315" in texts
    plt.close(fig)
    gallery = plots.draw_architecture_gallery({"VGG16": vgg_table, "MobileNet": mobilenet_table})
    assert len(gallery.axes) == 2
    plt.close(gallery)
    # The legend sits under the last panel and names what any panel draws: MobileNet's depthwise
    # convolutions, drawn above VGG16 here, which has none.
    gallery = plots.draw_architecture_gallery({"MobileNet": mobilenet_table, "VGG16": vgg_table})
    labels = [text.get_text() for text in gallery.axes[-1].get_legend().get_texts()]
    assert "DepthwiseConv2D" in labels and "MaxPooling2D" in labels
    plt.close(gallery)
    with pytest.raises(BadInput):
        plots.draw_receptive_field({})
    with pytest.raises(BadInput):
        plots.draw_architecture_gallery({})
