"""The figures of analysis.plots: each draws a Figure of the expected shape, and the numbers it
shows agree with values computed here independently (closed forms, keras.applications counts)."""

import math
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import PathCollection  # noqa: E402
from matplotlib.container import BarContainer, ErrorbarContainer  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import analysis.cost  # noqa: E402
from analysis import plots  # noqa: E402
from analysis.plots.cost import ROLE_ORDER  # noqa: E402
from analysis.plots.roofline import LATENCY_TERMS  # noqa: E402
from analysis.plots.style import MODEL_COLORS  # noqa: E402
from analysis.plots.tradeoffs import ALPHA_COLORS  # noqa: E402
from analysis.accuracy.tradeoffs import paper_points, published_with_costs  # noqa: E402
from analysis.cost.separable import block_savings, keras_layer_ratios  # noqa: E402
from analysis.speed import roofline, tables  # noqa: E402
from analysis.variants import Variant  # noqa: E402
from nets.backend import keras  # noqa: E402

VGG, MOBILENET = "VGG16", "MobileNet 1.0/224"
# VGG16's convolutions, (side of the output map, input channels, output channels), and its
# fully connected layers (inputs, outputs): the paper's configuration D.
VGG_CONVS = [(224, 3, 64), (224, 64, 64), (112, 64, 128), (112, 128, 128)] + [(56, 128, 256)] + [(56, 256, 256)] * 2 \
    + [(28, 256, 512)] + [(28, 512, 512)] * 2 + [(14, 512, 512)] * 3
VGG_FC = [(7 * 7 * 512, 4096), (4096, 4096), (4096, 1000)]
# MobileNet's thirteen separable blocks: their output channels N (the paper's Table 1).
MOBILENET_N = [64, 128, 128, 256, 256] + [512] * 6 + [1024, 1024]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def vgg_table(vgg16_model):
    return analysis.cost.layer_table(vgg16_model)


@pytest.fixture(scope="module")
def mobilenet_table(mobilenet_model):
    return analysis.cost.layer_table(mobilenet_model)


def _percent(text):
    return float(re.fullmatch(r"([0-9.]+) %", text).group(1))


def _offsets(ax):
    """The (x, y) of every point drawn with scatter on ``ax``."""
    return [tuple(p) for c in ax.collections if isinstance(c, PathCollection) for p in c.get_offsets()]


def _error_bars(ax, axis="y"):
    """The (low, high) ends of every error bar on ``ax`` along ``axis``, in drawing order."""
    ends = []
    for container in ax.containers:
        if isinstance(container, ErrorbarContainer):
            for segments in container.lines[2]:
                column = 1 if axis == "y" else 0
                if all(np.isclose(seg[0][1 - column], seg[1][1 - column]) for seg in segments.get_segments()):
                    ends += [tuple(sorted((seg[0][column], seg[1][column]))) for seg in segments.get_segments()]
    return ends


def _bars(ax):
    return [c for c in ax.containers if isinstance(c, BarContainer)]


# --- cost -------------------------------------------------------------------------------------

def test_separable_ratio_curves_and_points_are_the_closed_form():
    measured = keras_layer_ratios((3, 5), (2, 16, 128), in_channels=4, side=4)
    fig = plots.draw_separable_ratio(measured, max_channels=256)
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    ax = fig.axes[0]
    curves = [line for line in ax.get_lines() if len(line.get_xdata()) == 256]
    assert len(curves) == 2 and len(ax.get_lines()) == 4  # a curve and a floor per k
    n = np.arange(1, 257)
    for curve, k in zip(curves, (3, 5)):
        np.testing.assert_allclose(curve.get_ydata(), 1 / n + 1 / k**2)
    points = sorted(_offsets(ax))
    expected = sorted((n, 1 / n + 1 / k**2) for k in (3, 5) for n in (2, 16, 128))
    np.testing.assert_allclose(points, expected)
    note = next(t.get_text() for t in ax.texts if t.get_text().startswith("the notes"))
    assert f"{656 / 4608:.3f}" in note and f"{4608 / 656:.1f}× fewer" in note
    assert [t.get_text() for t in ax.texts if t.get_text().startswith("floor")] == ["floor 1/9", "floor 1/25"]


def test_block_savings_shows_each_block_on_the_curve(mobilenet_table):
    fig = plots.draw_block_savings(block_savings(mobilenet_table))
    curve_ax, bar_ax = fig.axes
    assert len(bar_ax.containers) == 2 and all(len(c) == 13 for c in bar_ax.containers)
    blocks = sorted(_offsets(curve_ax))
    np.testing.assert_allclose(blocks, sorted((n, 1 / n + 1 / 9) for n in MOBILENET_N))
    savings = [t.get_text() for t in bar_ax.texts]
    assert savings == [f"{1 / (1 / n + 1 / 9):.1f}×" for n in MOBILENET_N]
    group_labels = [t.get_text() for t in curve_ax.texts if t.get_text().startswith("block")]
    assert len(group_labels) == len(set(MOBILENET_N)) and "blocks 6–11\nN=512, 8.8×" in group_labels


def _keras_role(layer):
    kind = type(layer).__name__
    if kind == "Dense" or layer.name == "conv_preds":
        return "Fully connected"
    if kind == "DepthwiseConv2D":
        return "Conv DW 3x3"
    if kind == "Conv2D":
        return "Conv 1x1" if tuple(layer.kernel_size) == (1, 1) else "Conv 3x3"
    return "Batch norm" if kind == "BatchNormalization" else None


def _keras_param_shares(model):
    totals = {}
    for layer in model.layers:
        role = _keras_role(layer)
        if role:
            totals[role] = totals.get(role, 0) + layer.count_params()
    return {role: 100 * count / model.count_params() for role, count in totals.items()}


def _bar_labels_by_role(ax, container, roles=ROLE_ORDER):
    """{role: label text} of one network's bars (seaborn leaves out the roles a network lacks)."""
    labels = [t for t in ax.texts if t.get_text()]
    by_y = {round(bar.get_y() + bar.get_height() / 2): bar for bar in container}
    texts = {}
    for text in labels:
        y = round(text.xy[1])
        if y in by_y and abs(text.xy[1] - (by_y[y].get_y() + by_y[y].get_height() / 2)) < 1e-6 \
                and abs(text.xy[0] - by_y[y].get_width()) < 1e-6:
            texts[roles[y]] = text.get_text()
    return texts


def test_role_shares_are_the_keras_applications_shares(vgg_table, mobilenet_table, keras_vgg16):
    roles = pd.concat({VGG: analysis.cost.role_totals(vgg_table), "MobileNet": analysis.cost.role_totals(mobilenet_table)},
                      names=["network", "role"])
    roles = roles[(roles["params"] > 0) | (roles["macs"] > 0)]
    fig = plots.draw_role_shares(roles)
    params_ax, macs_ax = fig.axes
    assert [t.get_text() for t in params_ax.get_yticklabels()] == list(ROLE_ORDER)
    assert len(params_ax.containers) == 2  # one per network
    for container, model in zip(params_ax.containers, [keras_vgg16, keras.applications.MobileNet(weights=None)]):
        shown = {role: _percent(text) for role, text in _bar_labels_by_role(params_ax, container).items()}
        expected = _keras_param_shares(model)
        assert set(shown) == set(expected)
        for role, share in expected.items():
            assert shown[role] == pytest.approx(share, abs=0.05 if share >= 0.1 else 0.005), role
    # VGG16's MACs in closed form: its fully connected layers do under 1 % of them.
    conv_macs = sum(side * side * 9 * m * n for side, m, n in VGG_CONVS)
    fc_macs = sum(m * n for m, n in VGG_FC)
    vgg_macs = {role: _percent(t) for role, t in _bar_labels_by_role(macs_ax, macs_ax.containers[0]).items()}
    assert vgg_macs["Fully connected"] == pytest.approx(100 * fc_macs / (conv_macs + fc_macs), abs=0.05)
    assert vgg_macs["Conv 3x3"] == pytest.approx(100 * conv_macs / (conv_macs + fc_macs), abs=0.05)


def test_block_shares_label_each_block_with_its_share_and_count(vgg_table, mobilenet_table):
    vgg_blocks = analysis.cost.block_totals(vgg_table).drop(index="input")
    mobilenet_blocks = analysis.cost.block_totals(mobilenet_table).drop(index="input")
    fig = plots.draw_block_shares({VGG: vgg_blocks, "MobileNet": mobilenet_blocks})
    assert len(fig.axes) == 4
    vgg_params_ax = fig.axes[0]
    assert len(vgg_params_ax.patches) == len(vgg_blocks)
    texts = [t.get_text() for t in vgg_params_ax.texts]
    fc6 = 7 * 7 * 512 * 4096 + 4096
    total = sum(9 * m * n + n for _, m, n in VGG_CONVS) + sum(m * n + n for m, n in VGG_FC)
    assert f"{fc6 / 1e6:,.2f} M" in texts
    assert f"{100 * fc6 / total:.1f} %" in texts
    assert vgg_params_ax.get_title() == f"{VGG}: parameters per block"


def test_params_per_block_counts_and_axis(vgg_table, mobilenet_table):
    vgg_blocks = analysis.cost.block_totals(vgg_table)
    mobilenet_blocks = analysis.cost.block_totals(mobilenet_table)
    fig = plots.draw_params_per_block({VGG: vgg_blocks, "MobileNet": mobilenet_blocks})
    vgg_ax, mobilenet_ax = fig.axes
    conv1 = (3 * 3 * 3 * 64 + 64) + (3 * 3 * 64 * 64 + 64)
    assert f"{conv1:,}" in [t.get_text() for t in vgg_ax.texts]
    assert len(vgg_ax.patches) == 5 + 3  # five convolution blocks and fc6-fc8; pools and input hold none
    mobilenet_conv1 = 3 * 3 * 3 * 32 + 4 * 32  # the kernel and the batch norm's four vectors
    assert f"{mobilenet_conv1:,}" in [t.get_text() for t in mobilenet_ax.texts]
    assert vgg_ax.get_xlim() == pytest.approx((100, 20 * (7 * 7 * 512 * 4096 + 4096)))


def test_alpha_rho_heatmaps_show_the_papers_mult_adds_and_keras_parameters():
    sweep = analysis.cost.cost_sweep([Variant("mobilenet"), Variant("mobilenet", alpha=0.25, resolution=128)],
                                     progress=False)
    fig = plots.draw_alpha_rho_heatmaps(sweep)
    assert len(fig.axes) == 4  # two heatmaps and their colour bars
    macs_ax, params_ax = fig.axes[0], fig.axes[1]
    macs = sorted(float(t.get_text()) for t in macs_ax.texts if t.get_text())
    assert macs == [14, 569]  # the MobileNet paper's Table 6 and 7, in millions
    small = keras.applications.MobileNet(input_shape=(128, 128, 3), alpha=0.25, weights=None)
    full = keras.applications.MobileNet(weights=None)
    params = sorted(float(t.get_text()) for t in params_ax.texts if t.get_text())
    assert params == [round(small.count_params() / 1e6, 2), round(full.count_params() / 1e6, 2)]


# --- speed ------------------------------------------------------------------------------------

def _latency(medians):
    """A benchmark table from {(variant, runtime, batch): median ms}."""
    return pd.DataFrame([{"variant": v, "runtime": r, "batch": b, "median_ms": ms, "iqr_ms": ms / 10,
                          "ms_per_image": ms / b, "gflops": 1.0}
                         for (v, r, b), ms in medians.items()])


def test_latency_vs_batch_one_panel_per_runtime():
    latency = _latency({(v, r, b): ms * b for v, ms in ((VGG, 100.0), (MOBILENET, 10.0))
                        for r in ("keras", "litert") for b in (1, 4)})
    fig = plots.draw_latency_vs_batch(latency, title="t")
    assert len(fig.axes) == 2 and [ax.get_title() for ax in fig.axes] == ["keras", "litert"]
    lines = [line for line in fig.axes[0].get_lines() if line.get_marker() == "o"]
    assert [list(line.get_ydata()) for line in lines] == [[100.0, 100.0], [10.0, 10.0]]


def test_latency_vs_batch_error_bars_span_the_iqr_per_image():
    # Per call: VGG16 100 ms (IQR 8) at batch 1 and 400 ms (IQR 20) at batch 4; MobileNet 10 ms (IQR 3), 40 ms (IQR 6).
    latency = pd.DataFrame({"variant": [VGG, VGG, MOBILENET, MOBILENET], "runtime": "keras", "batch": [1, 4, 1, 4],
                            "median_ms": [100.0, 400.0, 10.0, 40.0], "iqr_ms": [8.0, 20.0, 3.0, 6.0]})
    latency["ms_per_image"] = latency["median_ms"] / latency["batch"]
    ax = plots.draw_latency_vs_batch(latency).axes[0]
    # Per image: 100 ± 4 and 100 ± 2.5; 10 ± 1.5 and 10 ± 0.75 (the IQR over the batch, centred on the median).
    np.testing.assert_allclose(_error_bars(ax), [(96, 104), (97.5, 102.5), (8.5, 11.5), (9.25, 10.75)])


def test_speed_ratios_and_their_bars():
    latency = _latency({(VGG, "keras", 1): 100.0, (MOBILENET, "keras", 1): 10.0,
                        (VGG, "keras", 8): 640.0, (MOBILENET, "keras", 8): 40.0,
                        (VGG, "xla", 1): 90.0, (MOBILENET, "xla", 1): 30.0,
                        (VGG, "xla", 8): 600.0, (MOBILENET, "xla", 8): 200.0})
    speed = tables.speed_ratios(latency, slower=VGG, faster=MOBILENET, mac_ratio=20.0)
    assert list(speed.index) == [("keras", 1), ("keras", 8), ("xla", 1), ("xla", 8)]
    assert list(speed["speed_ratio"]) == [10.0, 16.0, 3.0, 3.0]
    assert list(speed["share_of_mac_ratio_%"]) == [50.0, 80.0, 15.0, 15.0]
    fig = plots.draw_speed_ratio(speed, 20.0, title="ratios")
    ax = fig.axes[0]
    assert len(_bars(ax)) == 2  # one per batch size
    assert [bar.get_height() for bar in _bars(ax)[0]] == [10.0, 3.0]
    assert [t.get_text() for t in ax.texts] == ["10.0×", "3.0×", "16.0×", "3.0×"]
    assert any(list(line.get_ydata()) == [20.0, 20.0] for line in ax.get_lines())
    with pytest.raises(ValueError, match="faster"):
        tables.speed_ratios(latency, slower=VGG, faster="AlexNet", mac_ratio=20.0)


def test_speed_ratio_error_bars_are_the_ratio_of_quartiles():
    latency = pd.DataFrame({"variant": [VGG, MOBILENET], "runtime": "keras", "batch": 1,
                            "median_ms": [100.0, 10.0], "iqr_ms": [20.0, 2.0]})
    speed = tables.speed_ratios(latency, slower=VGG, faster=MOBILENET, mac_ratio=27.0)
    ax = plots.draw_speed_ratio(speed, 27.0).axes[0]
    # VGG16's quartiles 90 and 110 ms, MobileNet's 9 and 11: from 90 / 11 to 110 / 9 times faster.
    np.testing.assert_allclose(_error_bars(ax), [(90 / 11, 110 / 9)])
    assert ax.get_ylim()[1] >= 110 / 9


def test_deployment_error_bars_are_the_iqr_and_the_ratio_of_quartiles():
    table = pd.DataFrame({"configuration": ["keras", "litert int8"], "runtime": ["keras", "litert"],
                          "precision": ["fp32", "int8"], f"{MOBILENET} ms": [10.0, 4.0], f"{MOBILENET} IQR ms": [2.0, 1.0],
                          f"{VGG} ms": [200.0, 80.0], f"{VGG} IQR ms": [40.0, 8.0], "speed ratio": [20.0, 20.0],
                          "MAC ratio": [27.0, 27.0], f"{VGG} of bound": [0.5, 0.4], "note": ""})
    left, right = plots.draw_deployment(table, small=MOBILENET, large=VGG).axes
    np.testing.assert_allclose(_error_bars(left), [(9, 11), (3.5, 4.5), (180, 220), (76, 84)])
    np.testing.assert_allclose(_error_bars(right), [(180 / 11, 220 / 9), (76 / 4.5, 84 / 3.5)])


def test_gpu_fraction_and_tradeoff_error_bars_span_the_iqr():
    gpu = pd.DataFrame({"variant": [VGG, VGG], "batch": [1, 8], "median_ms": [4.0, 16.0], "iqr_ms": [1.0, 4.0],
                        "device": "Test GPU"})
    gpu["ms_per_image"] = gpu["median_ms"] / gpu["batch"]
    per_call, per_image = plots.draw_gpu_latency(gpu).axes
    np.testing.assert_allclose(_error_bars(per_call), [(3.5, 4.5), (14, 18)])
    np.testing.assert_allclose(_error_bars(per_image), [(3.5, 4.5), (1.75, 2.25)])
    # A time of 2 ms with IQR 1 has quartiles 1.5 and 2.5: a fraction f of peak spans f * 2 / 2.5 .. f * 2 / 1.5.
    grades = pd.DataFrame({"variant": ["dense"], "runtime": ["keras"], "batch": [1], "median_ms": [2.0],
                           "iqr_ms": [1.0], "fraction_of_peak_%": [30.0], "fraction_of_bound_%": [60.0]})
    peak_ax, bound_ax = plots.draw_fraction_of_peak(grades).axes
    np.testing.assert_allclose(_error_bars(peak_ax), [(24, 40)])
    np.testing.assert_allclose(_error_bars(bound_ax), [(48, 80)])
    points = pd.DataFrame({"ms_per_image": [2.0, 8.0], "ms_per_image_iqr": [0.4, 3.0], "accuracy_%": [70.0, 71.0],
                           "network": ["MobileNet", "VGG16"], "precision": "fp32", "label": ""})
    ax = plots.draw_deployed_tradeoff(points).axes[0]
    np.testing.assert_allclose(sorted(_error_bars(ax, "x")), [(1.8, 2.2), (6.5, 9.5)])


def test_predicted_terms_and_roofline_error_bars_span_the_iqr():
    validation = pd.DataFrame({"runtime": ["keras", "litert"], "variant": [VGG, MOBILENET],
                               "measured_ms": [100.0, 5.0], "measured_ms_iqr": [10.0, 0.5],
                               "predicted_ms": [95.0, 5.5]})
    ax = plots.draw_predicted_vs_measured(validation)
    np.testing.assert_allclose(_error_bars(ax, "x"), [(95, 105), (4.75, 5.25)])
    terms = pd.DataFrame({term: [1.0] for term in LATENCY_TERMS} | {"measured_ms": [7.0], "measured_ms_iqr": [2.0]},
                         index=["keras"])
    np.testing.assert_allclose(_error_bars(plots.draw_latency_terms(terms), "x"), [(6, 8)])
    # A 64 -> 32 dense layer at batch 1: 2 * 64 * 32 FLOPs; timed at 1 ms with IQR 0.5 (quartiles 0.75, 1.25 ms).
    inputs = keras.Input((64,))
    table = analysis.cost.layer_table(keras.Model(inputs, keras.layers.Dense(32, use_bias=False, name="fc")(inputs)))
    bounds = {"dense": roofline.machine_bounds(table, _dense_profile())}
    measured = {"dense": pd.DataFrame({"name": ["fc"], "measured_ms": [1.0], "measured_ms_iqr": [0.5]})}
    ax = plots.draw_roofline(bounds, _dense_profile(), measured=measured)
    flops = 2 * 64 * 32
    np.testing.assert_allclose(_error_bars(ax), [(flops / 1.25e-3 / 1e9, flops / 0.75e-3 / 1e9)])


def test_saved_pngs_are_at_least_1600_pixels_wide(tmp_path):
    from PIL import Image

    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([1, 2], [1, 2])
    png, _ = plots.save_fig(fig, "narrow", tmp_path)
    with Image.open(png) as image:
        assert image.width >= 1600


def _dense_profile():
    """A machine profile's dict: 100 GFLOP/s, 10 GB/s, no cache measured."""
    return {"cpu": "test", "cores": 1, "peak_gflops": 100.0, "theoretical_peak_gflops": None, "bandwidth_gbs": 10.0,
            "cache_bandwidth_gbs": None, "last_level_cache_bytes": None}


def test_roofline_grades_and_fraction_of_peak_closed_form():
    inputs = keras.Input((64,))
    model = keras.Model(inputs, keras.layers.Dense(32, use_bias=False, name="fc")(inputs))
    table = analysis.cost.layer_table(model)
    latency = _latency({("dense", "keras", 1): 0.002, ("dense", "keras", 2): 0.004})
    latency["gflops"] = [25.0, 50.0]
    grades = tables.roofline_grades(latency, {"dense": table}, _dense_profile())
    assert list(grades["fraction_of_peak_%"]) == [25.0, 50.0]
    # Memory-bound: input, output and weights at 10 GB/s, float32.
    traffic = [b * 64 * 4 + b * 32 * 4 + 64 * 32 * 4 for b in (1, 2)]
    np.testing.assert_allclose(grades["bound_ms"], [t / 10e9 * 1e3 for t in traffic])
    np.testing.assert_allclose(grades["fraction_of_bound_%"], [100 * t / 10e9 * 1e3 / ms
                                                               for t, ms in zip(traffic, (0.002, 0.004))])
    fig = plots.draw_fraction_of_peak(grades)
    peak_ax, bound_ax = fig.axes
    assert [bar.get_height() for bar in peak_ax.patches] == [25.0, 50.0]
    np.testing.assert_allclose([bar.get_height() for bar in bound_ax.patches], grades["fraction_of_bound_%"])
    with pytest.raises(ValueError, match="tables"):
        tables.roofline_grades(latency, {}, _dense_profile())


def test_roofline_points_sit_on_their_roof(mobilenet_table):
    profile = _dense_profile()
    bounds = {MOBILENET: roofline.machine_bounds(mobilenet_table, profile)}
    ax = plots.draw_roofline(bounds, profile)
    points = _offsets(ax)
    assert len(points) == int(((bounds[MOBILENET]["ops"] > 0) & (bounds[MOBILENET]["intensity"] > 0)).sum())
    for x, y in points:  # attainable = min(peak, bandwidth x intensity), no cache measured
        assert y == pytest.approx(min(100.0, 10.0 * x), rel=1e-9)
    roof = ax.get_lines()[0]
    np.testing.assert_allclose(roof.get_ydata(), np.minimum(100.0, 10.0 * np.asarray(roof.get_xdata())))
    assert "measured peak 100 GFLOP/s" in [t.get_text() for t in ax.texts]
    assert [t.get_text() for t in ax.get_legend().get_texts()][0] == MOBILENET


def test_gpu_latency_draws_every_variant_solid_or_not():
    gpu = pd.DataFrame({"variant": [VGG] * 2 + [MOBILENET] * 2 + ["MobileNet 0.5/160"] * 2,
                        "batch": [1, 8] * 3, "median_ms": [3.0, 20.0, 5.0, 6.0, 5.0, 5.5], "iqr_ms": 0.1,
                        "device": "Test GPU"})
    gpu["ms_per_image"] = gpu["median_ms"] / gpu["batch"]
    fig = plots.draw_gpu_latency(gpu, solid=(VGG, MOBILENET))
    assert len(fig.axes) == 2 and fig._suptitle.get_text().startswith("Test GPU")
    lines = [line for line in fig.axes[0].get_lines() if line.get_linestyle() != "None"]  # not the caps
    assert [line.get_linestyle() for line in lines] == ["-", "-", "-."]  # the third takes the third other style
    assert list(fig.axes[1].get_lines()[0].get_ydata()) == [3.0, 2.5]


# --- accuracy and training ------------------------------------------------------------------------

def test_batchnorm_momentum_curves_in_percent():
    runs = {0.99: {"accuracy": [0.2, 0.9], "val_accuracy": [0.1, 0.1]},
            0.9: {"accuracy": [0.2, 0.9], "val_accuracy": [0.4, 0.8]}}
    fig = plots.draw_batchnorm_momentum(runs, classes=10)
    train_ax, held_out_ax = fig.axes
    assert len(train_ax.get_lines()) == 3  # two runs and chance
    assert [list(line.get_ydata()) for line in held_out_ax.get_lines()[:2]] == [[10.0, 10.0], [40.0, 80.0]]
    assert list(held_out_ax.get_lines()[2].get_ydata()) == [10.0, 10.0]  # chance: 1 in 10
    assert [t.get_text() for t in fig.legends[0].get_texts()] == [
        "bn_momentum = 0.99", "bn_momentum = 0.9", "chance (10 classes)"]
    with pytest.raises(ValueError, match="two momenta"):
        plots.draw_batchnorm_momentum({0.9: runs[0.9]})


def test_tradeoff_style_rings_the_pareto_front():
    table = pd.DataFrame({"cost": [1.0, 2.0, 3.0, 4.0], "top1": [1.0, 3.0, 2.0, 5.0], "group": list("aabb"),
                          "res": [224, 128, 224, 128]})
    style = plots.TradeoffStyle(hue="group", shape="res", pareto=True, shape_title="resolution")
    ax = plots.draw_tradeoff(table, "cost", "top1", style)
    rings = [c for c in ax.collections if isinstance(c, PathCollection) and len(c.get_offsets()) > 1]
    assert [tuple(p) for p in rings[0].get_offsets()] == [(1.0, 1.0), (2.0, 3.0), (4.0, 5.0)]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "a", "b", "resolution 224", "resolution 128", "Pareto front"]
    with pytest.raises(ValueError, match="TradeoffStyle"):
        plots.draw_tradeoff(table, "cost", "top1", {"hue": "group"})


def test_tradeoff_panels_share_one_y_axis_and_one_legend():
    table = pd.DataFrame({"macs": [1.0, 2.0, 4.0], "ms": [0.5, 0.7, 3.0], "top1": [50.0, 60.0, 70.0],
                          "name": ["x", "y", "z"]})
    fig = plots.draw_tradeoff_panels(table, {"macs": ("against MACs", "MACs"), "ms": ("against time", "ms")}, "top1",
                                     plots.TradeoffStyle(hue="name", x_margin=0.25), ylabel="top-1, %", title="T")
    first, second = fig.axes
    assert [ax.get_title(loc="left") for ax in fig.axes] == ["against MACs", "against time"]
    assert (first.get_ylabel(), second.get_ylabel()) == ("top-1, %", "")
    assert first.get_legend() is None and second.get_legend() is not None
    assert first.margins()[0] == 0.25


def test_five_tradeoff_panels_wrap_to_rows_of_three():
    table = pd.DataFrame({f"c{i}": [1.0, 2.0, 4.0] for i in range(5)} | {"top1": [50.0, 60.0, 70.0], "name": list("xyz")})
    panels = {f"c{i}": (f"panel {i}", f"c{i}") for i in range(5)}
    fig = plots.draw_tradeoff_panels(table, panels, "top1", plots.TradeoffStyle(hue="name"), panel_size=(4, 3))
    shown = [ax for ax in fig.axes if ax.get_visible()]
    assert len(shown) == 5 and len(fig.axes) == 6  # a 2 x 3 grid, its sixth cell hidden
    assert tuple(fig.get_size_inches()) == (12.0, 6.0)  # three panels wide, two high
    assert [ax.get_ylabel() != "" for ax in shown] == [True, False, False, True, False]
    assert [ax.get_legend() is not None for ax in shown] == [False, False, False, False, True]


def test_paper_points_and_their_style():
    points = paper_points(published_with_costs())
    assert len(points) == 16 + 2
    assert set(points["group"]) == {f"MobileNet α = {a:g}" for a in (1.0, 0.75, 0.5, 0.25)} | {"VGG16", "Conv MobileNet"}
    assert set(points["group"]) <= set(plots.PAPER_STYLE.palette)
    assert set(points["shape"]) <= set(plots.PAPER_STYLE.markers)
    assert list(points.loc[points["label"] != "", "label"]) == ["VGG16", "Conv MobileNet"]
    palette = plots.alpha_palette(["MobileNet 0.25/32 bn_momentum=0.9", "VGG16"])
    assert palette == {"MobileNet 0.25/32 bn_momentum=0.9": ALPHA_COLORS[0.25], "VGG16": MODEL_COLORS["VGG16"]}


@pytest.mark.parametrize("draw, argument", [
    (plots.draw_separable_ratio, pd.DataFrame(columns=["k", "N", "measured"])),
    (plots.draw_alpha_rho_heatmaps, pd.DataFrame({"alpha": [1.0]})),
    (plots.draw_block_shares, {}),
    (plots.draw_latency_vs_batch, pd.DataFrame()),
])
def test_bad_tables_are_value_errors(draw, argument):
    with pytest.raises(ValueError):
        draw(argument)


def test_new_figures_are_saved_by_save_fig(tmp_path):
    measured = pd.DataFrame({"k": [3], "N": [32], "measured": [1 / 32 + 1 / 9]})
    written = plots.save_fig(plots.draw_separable_ratio(measured, max_channels=64), "ratio", tmp_path)
    assert [p.name for p in written] == ["ratio.png", "ratio.svg"] and all(p.stat().st_size for p in written)
    assert math.isclose(measured["measured"].iloc[0], 41 / 288)


def test_save_fig_never_leaves_a_half_written_figure(tmp_path, monkeypatch):
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    png, svg = plots.save_fig(fig, "kept", directory=tmp_path)
    before = png.read_bytes()

    def fail_midway(target, **kwargs):
        target.write(b"\x89PNG partial")
        raise RuntimeError("killed while drawing")

    monkeypatch.setattr(fig, "savefig", fail_midway)
    with pytest.raises(RuntimeError):
        plots.save_fig(fig, "kept", directory=tmp_path)
    assert png.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.png", "kept.svg"]
    plt.close(fig)


def test_role_shares_keep_every_role_that_holds_a_share():
    """ResNet50's 7x7 stem is a role outside ROLE_ORDER: it gets its bar, and each network's shares
    shown add up to 100 % (no role left out)."""
    table = analysis.cost.layer_table(keras.applications.ResNet50(weights=None))
    roles = pd.concat({"ResNet50": analysis.cost.role_totals(table)}, names=["network", "role"])
    fig = plots.draw_role_shares(roles)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]  # the axes share them
    assert "Conv 7x7" in labels and "Input" not in labels
    for ax in fig.axes:
        shown = [_percent(t) for t in _bar_labels_by_role(ax, ax.containers[0], labels).values()]
        assert sum(shown) == pytest.approx(100, abs=0.5)
    # The stem's MACs in closed form: 112 x 112 outputs x 64 filters x 7 x 7 x 3.
    macs_ax = fig.axes[1]
    macs = {role: _percent(t) for role, t in _bar_labels_by_role(macs_ax, macs_ax.containers[0], labels).items()}
    stem = 112 * 112 * 64 * 7 * 7 * 3
    assert macs["Conv 7x7"] == pytest.approx(100 * stem / table["macs"].sum(), abs=0.05)
