"""The explorers of analysis.explore, headless: each widget is made, its controls are moved as a
user would move them, and what it shows is checked against values worked out here (closed forms,
keras.applications counts, sums of products by hand, the shipped CSVs read with pandas)."""

import json
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from analysis import explore, paths, plots  # noqa: E402
from analysis.plots.convolution import convolution_kinds_counts  # noqa: E402
from nets.errors import BadInput  # noqa: E402
from nets.backend import keras  # noqa: E402

REFERENCE = paths.DATA_DIR / "study"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _texts(ax):
    return " ".join([ax.get_title(loc="left"), *(t.get_text() for t in ax.texts)])


def _static(explorer):
    """What a reader without a kernel sees: the text/html of the widget's cell output."""
    bundle = explorer._repr_mimebundle_()
    assert WIDGET_VIEW in bundle  # the live widget, for JupyterLab
    assert bundle["text/html"] == explorer.output.value and bundle["text/html"]
    return bundle["text/html"]


# --- The convolution pictures ------------------------------------------------------------------

@pytest.mark.parametrize("m, n, k", [(16, 32, 3), (64, 128, 5), (3, 8, 1)])
def test_convolution_kinds_prints_the_closed_forms(m, n, k):
    fig = plots.draw_convolution_kinds(in_channels=m, out_channels=n, kernel=k)
    standard, depthwise, pointwise = k * k * m * n, k * k * m, m * n
    panels = [_texts(ax) for ax in fig.axes]
    assert len(panels) == 3
    assert f"= {standard:,}" in panels[0] and f"{n} filters, each {k}×{k}×{m}" in panels[0]
    assert f"= {depthwise:,}" in panels[1] and f"{m} filters, each {k}×{k}×1" in panels[1]
    assert f"= {pointwise:,}" in panels[2] and f"{n} filters, each 1×1×{m}" in panels[2]
    footer = " ".join(t.get_text() for t in fig.texts)
    assert f"= {depthwise + pointwise:,} parameters" in footer
    assert f"{(depthwise + pointwise) / standard:.3f}" in footer
    assert f"{1 / n + 1 / k**2:.3f}" in footer


def test_convolution_kinds_is_the_notes_example_by_default():
    counts = convolution_kinds_counts(16, 32, 3)
    assert (counts["standard"], counts["separable"]) == (16 * 32 * 3 * 3, 16 * 3 * 3 + 16 * 32) == (4608, 656)
    text = " ".join(_texts(ax) for ax in plots.draw_convolution_kinds().axes)
    assert "4,608" in text and "144" in text and "512" in text


def test_convolution_kinds_refuses_a_bad_size():
    with pytest.raises(BadInput, match="in_channels"):
        plots.draw_convolution_kinds(in_channels=0)


# --- The depthwise stepper ---------------------------------------------------------------------

def _hand_sum(image, kernel, row, col, channel):
    k = kernel.shape[0]
    return sum(image[row + a, col + b, channel] * kernel[a, b, channel] for a in range(k) for b in range(k))


def test_depthwise_step_is_a_sum_of_products_per_channel():
    image, kernel = explore.example_depthwise_input(side=6, channels=2, kernel=3, seed=3)
    out_side = 6 - 3 + 1
    for index in range(out_side * out_side):
        step = explore.depthwise_step(image, kernel, index)
        assert (step.row, step.col) == divmod(index, out_side)
        expected = [_hand_sum(image, kernel, step.row, step.col, c) for c in range(2)]
        np.testing.assert_array_equal(step.values, expected)
        np.testing.assert_array_equal(step.output[step.row, step.col], expected)


def test_depthwise_output_is_keras_depthwise_conv2d():
    image, kernel = explore.example_depthwise_input(side=7, channels=3, kernel=3, seed=1)
    layer = keras.layers.DepthwiseConv2D(3, padding="valid", use_bias=False)
    layer.build((None, 7, 7, 3))
    layer.set_weights([kernel[:, :, :, None]])
    expected = keras.ops.convert_to_numpy(layer(image[None].astype("float32")))[0]
    np.testing.assert_allclose(explore.depthwise_step(image, kernel).output, expected, rtol=1e-6)


def test_depthwise_step_refuses_a_position_outside_the_output():
    image, kernel = explore.example_depthwise_input()
    with pytest.raises(BadInput, match="index"):
        explore.depthwise_step(image, kernel, 9)  # a 5x5 image and a 3x3 kernel: 9 positions
    with pytest.raises(BadInput, match="kernel"):
        explore.depthwise_step(image, kernel[:, :, :2])


def test_depthwise_stepper_steps_when_its_slider_moves():
    image, kernel = explore.example_depthwise_input()
    stepper = explore.depthwise_stepper(image, kernel)
    slider = stepper.controls["index"]
    assert (slider.min, slider.max) == (0, 8)
    first = _static(stepper)
    slider.value = 5
    assert (stepper.view.row, stepper.view.col) == (1, 2)
    for c in range(3):
        value = _hand_sum(image, kernel, 1, 2, c)
        assert f"channel {c + 1}: {value:g}" in stepper.output.value
    assert stepper.output.value != first
    fig = plots.draw_depthwise_step(stepper.view)
    assert len(fig.axes) == 3 * 4
    assert fig.axes[2].get_title() == f"products: Σ = {_hand_sum(image, kernel, 1, 2, 0):g}"


# --- The variant explorer ----------------------------------------------------------------------

def _vgg16_params():
    """VGG16's configuration D: 3x3 convolutions and three fully connected layers, with biases."""
    channels = [3, 64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512]
    convs = sum(9 * m * n + n for m, n in zip(channels, channels[1:]))
    fcs = sum(m * n + n for m, n in [(7 * 7 * 512, 4096), (4096, 4096), (4096, 1000)])
    return convs + fcs


def test_variant_explorer_counts_what_keras_applications_builds():
    explorer = explore.variant_explorer()
    assert explorer.view.variant.label == "MobileNet 1.0/224"
    assert explorer.view.totals["params"] == keras.applications.MobileNet(weights=None).count_params()
    _static(explorer)
    explorer.controls["alpha"].value = 0.5
    params = keras.applications.MobileNet(alpha=0.5, weights=None).count_params()
    assert explorer.view.variant.label == "MobileNet 0.5/224"
    assert explorer.view.totals["params"] == params
    assert f"{params:,} parameters" in explorer.output.value


def test_variant_explorer_resolution_changes_shapes_not_parameters():
    explorer = explore.variant_explorer(alpha=0.5)
    params = explorer.view.totals["params"]
    explorer.controls["resolution"].value = 160
    table = explorer.view.table.set_index("name")
    assert table.loc["conv1", "output_shape"] == (160 // 2, 160 // 2, int(32 * 0.5))
    assert table.loc["conv_pw_13", "output_shape"] == (160 // 32, 160 // 32, int(1024 * 0.5))
    assert explorer.view.totals["params"] == params
    assert "MobileNet 0.5/160" in explorer.output.value


@pytest.mark.slow  # builds the 29M-parameter Conv MobileNet; test_nets checks Tables 4 and 5, the alpha test the controls
def test_variant_explorer_shallow_and_conv():
    explorer = explore.variant_explorer()
    full = explorer.view.totals["params"]
    explorer.controls["shallow"].value = True
    # Five 14x14x512 blocks gone: each a 3x3 depthwise (9 * 512), a 1x1 (512 * 512) and two batch
    # norms of 4 * 512 variables.
    assert full - explorer.view.totals["params"] == 5 * (9 * 512 + 512 * 512 + 2 * 4 * 512)
    explorer.controls["shallow"].value = False
    explorer.controls["conv"].value = True
    assert explorer.view.variant.label == "Conv MobileNet 1.0/224"
    assert round(explorer.view.totals["params"] / 1e6, 1) == 29.3  # the MobileNet paper's Table 4
    roles = explorer.view.roles
    assert "Conv DW 3x3" not in roles.index and roles.loc["Conv 3x3", "params_share_%"] > 90


def test_variant_explorer_vgg16():
    explorer = explore.variant_explorer()
    explorer.controls["network"].value = "vgg16"
    assert explorer.view.variant.label == "VGG16"
    assert explorer.view.totals["params"] == _vgg16_params() == 138_357_544
    assert all(explorer.controls[name].disabled for name in ("alpha", "conv", "shallow"))
    assert explorer.view.roles.loc["Fully connected", "params"] == 7 * 7 * 512 * 4096 + 4096 + 4096 * 4096 \
        + 4096 + 4096 * 1000 + 1000
    assert "138,357,544 parameters" in _static(explorer)


# --- The roofline explorer ---------------------------------------------------------------------

def _shipped_machine():
    """The reference study's machine profile, read from its file (the explorer reads it through the
    package; where no local study of this machine exists, the reference is the report's study)."""
    return json.loads((REFERENCE / "latency_study.json").read_text(encoding="utf8"))["profile"]


def _fc7_intensity(batch, bytes_per_element):
    """fc7 of VGG16 (a 1x1 convolution 4096 -> 4096, bias and ReLU fused): operations over the
    least traffic, its weights read once and batch x 4096 elements in and out."""
    ops = batch * (2 * 4096 * 4096 + 2 * 4096)
    traffic = bytes_per_element * ((4096 * 4096 + 4096) + 2 * batch * 4096)
    return ops / traffic


def test_roofline_explorer_ridge_and_layers_across_it():
    machine = _shipped_machine()
    explorer = explore.roofline_explorer()
    assert explorer.controls["peak_gflops"].value == pytest.approx(machine["peaks"]["fp32"])
    assert explorer.controls["bandwidth_gbs"].value == pytest.approx(machine["bandwidth_gbs"])
    assert explorer.view.ridge == pytest.approx(machine["peaks"]["fp32"] / machine["bandwidth_gbs"])
    _static(explorer)
    explorer.controls["peak_gflops"].value = 1000.0
    explorer.controls["bandwidth_gbs"].value = 10.0
    assert explorer.view.ridge == pytest.approx(100.0)
    assert "<b>100.0</b>" in explorer.output.value
    for bounds in explorer.view.bounds.values():
        working = bounds[bounds["ops"] > 0]
        assert ((working["intensity"] < 100.0) == (working["bound"] == "memory")).all()
    fc7 = explorer.view.bounds["VGG16"].set_index("name").loc["fc7"]
    assert fc7["intensity"] == pytest.approx(_fc7_intensity(1, 4)) and fc7["bound"] == "memory"
    memory_bound = explorer.view.summary.set_index(["network", "group"]).loc[("VGG16", "Matrix product"),
                                                                             "memory-bound"]
    explorer.controls["batch"].value = 256
    fc7 = explorer.view.bounds["VGG16"].set_index("name").loc["fc7"]
    assert _fc7_intensity(256, 4) > 100.0 > _fc7_intensity(1, 4)  # so fc7 crosses the ridge
    assert fc7["intensity"] == pytest.approx(_fc7_intensity(256, 4)) and fc7["bound"] == "compute"
    summary = explorer.view.summary.set_index(["network", "group"])
    assert summary.loc[("VGG16", "Matrix product"), "memory-bound"] < memory_bound


def test_roofline_explorer_precision_takes_its_peak_and_bytes():
    machine = _shipped_machine()
    explorer = explore.roofline_explorer()
    explorer.controls["precision"].value = "int8"
    assert explorer.controls["peak_gflops"].value == pytest.approx(machine["peaks"]["int8"])
    assert explorer.view.ridge == pytest.approx(machine["peaks"]["int8"] / machine["bandwidth_gbs"])
    fc7 = explorer.view.bounds["VGG16"].set_index("name").loc["fc7"]
    assert fc7["intensity"] == pytest.approx(_fc7_intensity(1, 1))


def test_roofline_view_refuses_bad_input():
    with pytest.raises(BadInput, match="bandwidth_gbs"):
        explore.roofline_view(100.0, 0.0)
    with pytest.raises(BadInput, match="precision"):
        explore.roofline_view(100.0, 10.0, precision="fp64")


# --- The latency and accuracy explorer ---------------------------------------------------------

def _published_top1(precision):
    """Published ImageNet top-1 by variant label, from the shipped CSVs: TF-slim's MobileNets (its
    quantized ones for int8) and, for fp32, VGG16 from the MobileNet paper's Table 8."""
    if precision == "int8":
        rows = pd.read_csv(paths.DATA_DIR / "quantized.csv")
        rows = rows[rows["source"] == "tf_slim_quant"]
        top1 = {}
    else:
        rows = pd.read_csv(paths.DATA_DIR / "published.csv", dtype={"table": str})
        vgg = rows[(rows["source"] == "mobilenet_paper") & (rows["model"] == "VGG16") & (rows["table"] == "8")]
        top1 = {"VGG16": float(vgg["top1"].iloc[0])}
        rows = rows[rows["source"] == "tf_slim"]
    for _, row in rows.iterrows():
        top1[f"MobileNet {float(row['alpha'])!r}/{int(row['resolution'])}"] = float(row["top1"])
    return top1


def _best_by_hand(runtime, precision, budget_ms):
    study = pd.read_csv(REFERENCE / "latency_study.csv")
    rows = study[(study["runtime"] == runtime) & (study["precision"] == precision)
                 & (study["ms_per_image"] <= budget_ms)].copy()
    rows["top1"] = rows["variant"].map(_published_top1(precision))
    rows = rows.dropna(subset=["top1"]).sort_values(["top1", "ms_per_image"], ascending=[False, True])
    return rows.iloc[0] if len(rows) else None


def test_budget_explorer_picks_the_most_accurate_network_under_the_budget():
    explorer = explore.budget_explorer(runtime="litert", precision="fp32", budget_ms=2.0)
    expected = _best_by_hand("litert", "fp32", 2.0)
    assert explorer.view.best["variant"] == expected["variant"]
    assert explorer.view.best["accuracy_%"] == expected["top1"]
    assert f"<b>{expected['variant']}</b>" in _static(explorer)
    explorer.controls["runtime"].value = "openvino"
    explorer.controls["budget_ms"].value = 5.0
    expected = _best_by_hand("openvino", "fp32", 5.0)
    assert explorer.view.best["variant"] == expected["variant"]
    assert explorer.view.best["ms_per_image"] == pytest.approx(expected["ms_per_image"])


def test_budget_explorer_offers_each_runtimes_precisions_and_says_when_nothing_fits():
    explorer = explore.budget_explorer(runtime="openvino", precision="fp32")
    explorer.controls["runtime"].value = "keras"
    assert tuple(explorer.controls["precision"].options) == ("fp32",)
    assert explorer.view.precision == "fp32"
    fastest = pd.read_csv(REFERENCE / "latency_study.csv").query("runtime == 'keras'")["ms_per_image"].min()
    explorer.controls["budget_ms"].value = max(b for b in explorer.controls["budget_ms"].options if b < fastest)
    assert explorer.view.best is None and explorer.view.under.empty
    assert "No network runs within" in explorer.output.value
    explorer.controls["budget_ms"].value = 1000.0
    assert explorer.view.best["variant"] == "VGG16"  # the most accurate of all, published 71.5 %


def test_budget_explorer_offers_its_budget():
    explorer = explore.budget_explorer(budget_ms=3.7)
    assert 3.7 in explorer.controls["budget_ms"].options and explorer.view.budget_ms == 3.7
    with pytest.raises(BadInput, match="budget_ms"):
        explore.budget_explorer(budget_ms=-1)


def test_budget_view_refuses_an_unknown_runtime():
    with pytest.raises(BadInput, match=re.escape("runtime")):
        explore.budget_view(runtime="tensorrt")
