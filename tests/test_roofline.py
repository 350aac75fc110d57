"""Roofline bounds and the latency model against closed forms and synthetic data."""

import dataclasses
import math

from nets.backend import keras
import numpy as np
import pandas as pd
import pytest

from analysis import plots
from analysis.cost import layer_table
from analysis.speed import cpu, latency_fit, machine, roofline, study
from analysis.speed.latency import Timing
from analysis.speed.runtimes import configuration
from analysis.variants import Variant, mobilenet_grid


@pytest.fixture(scope="module")
def conv_bn_table():
    inputs = keras.Input((16, 16, 8))
    x = keras.layers.Conv2D(32, 3, padding="same", use_bias=False, name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="conv_bn")(x)
    x = keras.layers.ReLU(6.0, name="conv_relu")(x)
    return layer_table(keras.Model(inputs, x))


def test_conv_bound_closed_form(conv_bn_table):
    bounds = roofline.layer_bounds(conv_bn_table, peak_gflops=100.0, bandwidth_gbs=10.0).set_index("name")
    flops = 2 * 16 * 16 * 32 * 3 * 3 * 8
    traffic = 4 * (16 * 16 * 8 + 16 * 16 * 32 + 3 * 3 * 8 * 32)
    row = bounds.loc["conv"]
    assert row["ops"] == flops and row["traffic_bytes"] == traffic
    assert row["compute_ms"] == pytest.approx(flops / 100e9 * 1e3)
    assert row["memory_ms"] == pytest.approx(traffic / 10e9 * 1e3)
    assert row["bound_ms"] == max(row["compute_ms"], row["memory_ms"])
    assert bounds.loc["conv_relu", "bound"] == "memory"


def test_fusing_keeps_ops_and_drops_inner_traffic(conv_bn_table):
    plain = roofline.layer_bounds(conv_bn_table, 100.0, 10.0)
    fused = roofline.layer_bounds(conv_bn_table, 100.0, 10.0, fused=True)
    assert list(fused["name"]) == ["conv"] and fused.loc[0, "fused"] == ["conv_bn", "conv_relu"]
    assert fused["ops"].sum() == plain["ops"].sum()
    assert fused["traffic_bytes"].sum() == plain.set_index("name").loc["conv", "traffic_bytes"]


def test_cache_bandwidth_applies_to_layers_that_fit(conv_bn_table):
    bounds = roofline.layer_bounds(conv_bn_table, 100.0, 10.0, levels=roofline.two_levels(10.0, 100.0, 10**9))
    assert (bounds["bandwidth_gbs"] == 100.0).all()


def _dense_table():
    """One fully connected layer, 256 -> 128, with the float32 bytes a layer_table records."""
    return pd.DataFrame([{"name": "dense", "type": "Dense", "kernel_size": None, "input_shape": (256,),
                          "flops": 2 * 256 * 128, "other_ops": 128, "activation_bytes": 4 * 128,
                          "weight_bytes": 4 * (256 * 128 + 128)}])


def test_bounds_per_precision_scale_the_bytes_of_every_element():
    elements = 256 + 128 + 256 * 128 + 128  # input, output, weights and biases
    by_precision = {p: roofline.layer_bounds(_dense_table(), 100.0, 10.0, batch=1, precision=p).loc[0]
                    for p in ("fp32", "bf16", "int8")}
    for precision, width in (("fp32", 4), ("bf16", 2), ("int8", 1)):
        assert by_precision[precision]["traffic_bytes"] == width * elements
    assert by_precision["int8"]["memory_ms"] == by_precision["fp32"]["memory_ms"] / 4
    assert by_precision["bf16"]["memory_ms"] == by_precision["fp32"]["memory_ms"] / 2
    assert by_precision["int8"]["compute_ms"] == by_precision["fp32"]["compute_ms"]  # the same peak passed
    default = roofline.layer_bounds(_dense_table(), 100.0, 10.0)
    pd.testing.assert_frame_equal(default, roofline.layer_bounds(_dense_table(), 100.0, 10.0, precision="fp32"))
    with pytest.raises(ValueError, match="precision.*'fp16'"):
        roofline.layer_bounds(_dense_table(), 100.0, 10.0, precision="fp16")


PRECISION_PROFILE = {"peak_gflops": 100.0, "peaks": {"fp32": 100.0, "bf16": 200.0, "int8": 400.0},
                     "bandwidth_gbs": 20.0}


def test_machine_bounds_take_the_peak_of_their_precision():
    bounds = {p: roofline.machine_bounds(_dense_table(), PRECISION_PROFILE, precision=p).loc[0]
              for p in ("fp32", "bf16", "int8")}
    ops = 2 * 256 * 128 + 128
    for precision, peak in PRECISION_PROFILE["peaks"].items():
        assert bounds[precision]["compute_ms"] == pytest.approx(ops / (peak * 1e9) * 1e3, rel=1e-12)
    with pytest.raises(ValueError, match="no bf16 peak.*precision='bf16'"):
        roofline.machine_bounds(_dense_table(), {**PRECISION_PROFILE, "peaks": {"fp32": 100.0, "bf16": None,
                                                                               "int8": 400.0}}, precision="bf16")
    with pytest.raises(ValueError, match="no int8 peak"):
        roofline.machine_bounds(_dense_table(), {"peak_gflops": 100.0, "bandwidth_gbs": 20.0}, precision="int8")
    with pytest.raises(ValueError, match="precision.*'int4'"):
        roofline.machine_bounds(_dense_table(), PRECISION_PROFILE, precision="int4")


def test_vgg16_fc6_at_batch_1_is_memory_bound_and_4x_faster_at_int8():
    table = layer_table(Variant.parse("VGG16/224").build())
    fc6 = {p: roofline.machine_bounds(table, PRECISION_PROFILE, batch=1, precision=p).set_index("name").loc["fc6"]
           for p in ("fp32", "int8")}
    # fc6: a 7x7 convolution, 512 -> 4096 channels, on the 7x7x512 output of pool5.
    weights = 7 * 7 * 512 * 4096 + 4096
    int8_bytes = 7 * 7 * 512 + 4096 + weights
    assert fc6["int8"]["traffic_bytes"] == int8_bytes and fc6["fp32"]["traffic_bytes"] == 4 * int8_bytes
    assert fc6["fp32"]["bound"] == fc6["int8"]["bound"] == "memory"
    assert fc6["int8"]["bound_ms"] == pytest.approx(int8_bytes / 20e9 * 1e3, rel=1e-12)
    assert fc6["fp32"]["bound_ms"] / fc6["int8"]["bound_ms"] == pytest.approx(4, rel=1e-12)


UNIT_MS = {"layers": 0.01, "graph_layers": 0.004, "depthwise_positions": 2e-5, "channels": 3e-4,
           "activation_values": 1e-6}


def _synthetic_features(rng, groups):
    layers = float(rng.integers(20, 90))
    return dict(zip(groups, rng.uniform(0.1, 2.0, len(groups))), Other=float(rng.uniform(0, 0.5)),
                layers=layers, graph_layers=layers + float(rng.integers(0, 200)),
                depthwise_positions=float(rng.integers(0, 40_000)), channels=float(rng.integers(1_000, 15_000)),
                activation_values=float(rng.integers(0, 5_000_000)))


def _synthetic_time(truth, f):
    return (sum(truth[g] * f[g] for g in truth) + f["Other"]
            + sum(UNIT_MS[c] * f[c] for c in latency_fit.COUNT_FEATURES))


def test_latency_model_recovers_known_coefficients():
    truth = {"Matrix product": 1.5, "Depthwise": 3.0, "Element-wise": 0.3}
    assert tuple(truth) == latency_fit.FIT_GROUPS and tuple(UNIT_MS) == latency_fit.COUNT_FEATURES
    rng = np.random.default_rng(0)
    features = [_synthetic_features(rng, truth) for _ in range(12)]
    # "Other" is charged at its bound: factor 1.
    measured = [_synthetic_time(truth, f) for f in features]
    model = latency_fit.fit_latency(features, measured, "synthetic")
    for group, value in truth.items():
        assert model.efficiency[group] == pytest.approx(value, rel=1e-6)
    assert model.unit_ms == pytest.approx(UNIT_MS, rel=1e-6)
    labels = [str(i) for i in range(12)]
    validation = latency_fit.validate_latency_fit(labels, features, measured, "synthetic")
    assert validation["error"].abs().max() < 1e-6
    with_prior = latency_fit.validate_latency_fit(labels, features, measured, "synthetic", prior_weight=0.001)
    assert with_prior["error"].abs().max() < 0.1  # a weak prior towards 1 costs little on exact data
    # With features that cannot tell two groups apart, the prior keeps both factors finite and near 1.
    collinear = [dict(f, Depthwise=f["Matrix product"], Other=0.0, depthwise_positions=0.0, channels=0.0, layers=0.0,
                      graph_layers=0.0, activation_values=0.0, **{"Element-wise": 0.0}) for f in features]
    tied = latency_fit.fit_latency(collinear, [2 * f["Matrix product"] for f in collinear], "tied",
                                      prior_weight=0.01)
    assert tied.efficiency["Matrix product"] == pytest.approx(tied.efficiency["Depthwise"], rel=1e-3)


def test_model_features_of_mobilenet_match_the_paper_table():
    """Counts from the MobileNet paper's Table 1 (alpha 1, 224x224), not from the code."""

    bounds = roofline.machine_bounds(layer_table(Variant("mobilenet").build()),
                                     {"peak_gflops": 100.0, "bandwidth_gbs": 20.0}, batch=2)
    features = latency_fit.latency_features(bounds, batch=2)
    # Depthwise outputs: 112^2 once, 56^2 twice, 28^2 twice, 14^2 six times, 7^2 twice (per image).
    assert features["depthwise_positions"] == 2 * (112**2 + 2 * 56**2 + 2 * 28**2 + 6 * 14**2 + 2 * 7**2)
    depthwise = [32, 64, 128, 128, 256, 256] + [512] * 6 + [1024]
    pointwise = [64, 128, 128, 256, 256] + [512] * 6 + [1024, 1024]
    # conv1, 13 depthwise and 13 pointwise convolutions, the global pool, the 1000-way classifier
    # (batch norm, ReLU, dropout, reshape and softmax fused into the layer before them).
    assert features["channels"] == 32 + sum(depthwise) + sum(pointwise) + 1024 + 1000
    assert features["layers"] == 1 + 13 + 13 + 1 + 1
    # Before fusion, every layer Keras lists but the input.
    assert features["graph_layers"] == len(Variant("mobilenet").build().layers) - 1
    assert features["Element-wise"] == 0.0  # no residual add, product, padding or rescaling
    # The classifier is charged at its bound, not in the matrix-product group.
    classifier = bounds.loc[bounds["role"] == "Fully connected", "bound_ms"].sum()
    assert classifier > 0
    assert features["Other"] == pytest.approx(
        classifier + bounds.loc[bounds["role"].map(roofline.role_group) == "Other", "bound_ms"].sum())


def test_anchor_variants_join_every_fit_but_are_not_predicted():
    truth = {"Matrix product": 2.0, "Depthwise": 5.0}
    # Validated variants whose groups grow together (collinear), as the MobileNet family's do...
    counts = {"layers": 30.0, "graph_layers": 80.0, "depthwise_positions": 0.0, "channels": 0.0, "Element-wise": 0.0,
              "activation_values": 0.0}
    family = [{"Matrix product": s, "Depthwise": 0.5 * s, "Other": 0.01, **counts} for s in (1.0, 2.0, 3.0, 4.0)]
    # ...and anchor variants with another mix, which pin each group's factor down.
    other_mix = [{"Matrix product": 3.0, "Depthwise": 0.0, "Other": 0.01, **counts},
                 {"Matrix product": 0.2, "Depthwise": 2.0, "Other": 0.01, **counts}]
    time = lambda f: sum(truth[g] * f[g] for g in truth) + f["Other"]  # noqa: E731
    validation = latency_fit.validate_latency_fit(
        ["a", "b", "c", "d"], family, [time(f) for f in family], "synthetic",
        anchors=(other_mix, [time(f) for f in other_mix]))
    assert list(validation["variant"]) == ["a", "b", "c", "d"]
    assert validation["error"].abs().max() < 1e-6
    # A network of another kind is predicted only with the anchors' help.
    vgg_like = {"Matrix product": 10.0, "Depthwise": 0.0, "Other": 0.5, **counts, "layers": 20.0}
    with_anchors = latency_fit.fit_latency(family + other_mix, [time(f) for f in family + other_mix], "s")
    assert with_anchors.predict(vgg_like) == pytest.approx(time(vgg_like), rel=1e-6)


def test_machine_profile_is_well_formed():
    profile = machine.measure(matrix_size=256, repeats=2).to_dict()
    assert profile["cores"] >= 1 and profile["peak_gflops"] > 0 and profile["bandwidth_gbs"] > 0
    assert math.isclose(profile["ridge_flops_per_byte"], profile["peak_gflops"] / profile["bandwidth_gbs"])
    assert profile["triad_bytes"] >= 4 * cpu.last_level_cache_bytes() - 12


def test_theoretical_peak_formula(monkeypatch):
    # A Zen 2 (family 23, model 0x31: EPYC Rome): two 256-bit FMA pipes, AVX2, no AVX-512.
    monkeypatch.setattr(cpu, "cpuinfo", lambda: {"vendor_id": "AuthenticAMD", "cpu family": "23",
                                                     "model": "49", "cpu MHz": "2000.000", "flags": "fma avx2"})
    assert cpu.theoretical_peak_gflops(cores=4) == 4 * 2 * 8 * 2 * 2.0


def test_time_layers_times_every_layer_on_its_own_input(conv_bn_table):
    inputs = keras.Input((16, 16, 8))
    x = keras.layers.Conv2D(4, 3, padding="same", name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="conv_bn")(x)
    times = roofline.time_layers(keras.Model(inputs, x), batch=2, repeats=3, warmup=1)
    assert list(times["name"]) == ["conv", "conv_bn"]
    assert (times["measured_ms"] > 0).all()


@pytest.mark.slow  # times five networks; the held-out study below and test_latency's reuse tests stay fast
def test_latency_model_study_measures_or_reuses_every_variant(tmp_path):
    profile = {"peak_gflops": 100.0, "bandwidth_gbs": 20.0}
    specs = mobilenet_grid((0.25, 0.5, 0.75), (32,))
    anchors = [Variant("mobilenet", alpha=0.25, resolution=32, conv=True)]
    first, validation = study.latency_fit_study(profile, [configuration("keras")],
                                                study.StudyNetworks(specs[:2], anchors), timing=Timing(repeats=4, rounds=2),
                                                progress=False)
    assert list(first["variant"]) == ["MobileNet 0.25/32", "MobileNet 0.5/32", "Conv MobileNet 0.25/32"]
    assert list(first["anchor"]) == [False, False, True]
    assert (first["median_ms"] > 0).all() and (first["bound_ms"] > 0).all() and (first["repeats"] == 4).all()
    assert list(validation["variant"]) == ["MobileNet 0.25/32", "MobileNet 0.5/32"]  # anchors not predicted
    path = tmp_path / "earlier.csv"
    first.to_csv(path, index=False)
    again, validation = study.latency_fit_study(profile, [configuration("keras")], study.StudyNetworks(specs, anchors),
                                                timing=Timing(repeats=4), progress=False, reuse=path)
    assert list(again["median_ms"][:2]) == pytest.approx(list(first["median_ms"][:2]), rel=1e-12)  # reused
    assert again.loc[2, "variant"] == "MobileNet 0.75/32" and again.loc[2, "median_ms"] > 0  # measured
    assert len(validation) == 3 and np.isfinite(validation["predicted_ms"]).all()


def test_fit_by_configuration_reads_the_features_the_study_recorded():
    truth = {"Matrix product": 1.5, "Depthwise": 4.0, "Element-wise": 0.5}
    rng = np.random.default_rng(1)
    rows = []
    labels = [variant.label for variant in mobilenet_grid()[:8]]
    for label in labels:
        features = _synthetic_features(rng, truth)
        rows.append({"variant": label, "runtime": "synthetic", "precision": "fp32",
                     "median_ms": _synthetic_time(truth, features),
                     **{f"feature_{name}": value for name, value in features.items()}})
    table = pd.DataFrame(rows)
    fit = latency_fit.fit_by_configuration(table)["synthetic"]
    for group, value in truth.items():
        assert fit.efficiency[group] == pytest.approx(value, rel=1e-6)
    assert fit.unit_ms == pytest.approx(UNIT_MS, rel=1e-6)
    # The split of one network's time: each term its true coefficient times its feature.
    terms = latency_fit.predicted_terms(table, Variant.parse(labels[3])).loc["synthetic"]
    row = rows[3]
    assert terms["Depthwise"] == pytest.approx(4.0 * row["feature_Depthwise"], rel=1e-6)
    assert terms["Other"] == row["feature_Other"]
    assert terms["channels"] == pytest.approx(UNIT_MS["channels"] * row["feature_channels"], rel=1e-6)
    assert terms["measured_ms"] == row["median_ms"]
    with pytest.raises(ValueError, match="No measurement of 'VGG16'"):
        latency_fit.predicted_terms(table, Variant("vgg16"))
    ax = plots.draw_latency_terms(latency_fit.predicted_terms(table, Variant.parse(labels[3])))
    widths = sorted(round(patch.get_width(), 9) for patch in ax.patches)
    expected = terms.drop(["measured_ms", "measured_ms_iqr"])  # the measured time is a tick, not a bar
    assert widths == sorted(round(float(v), 9) for v in expected)
    with pytest.raises(ValueError, match="without"):
        plots.draw_latency_terms(pd.DataFrame({"Matrix product": [1.0]}))


def test_best_profile_takes_the_highest_of_each_measurement():
    first = machine.measure(matrix_size=256, repeats=2)
    slower = dataclasses.replace(first, peak_gflops=first.peak_gflops / 2, bandwidth_gbs=first.bandwidth_gbs * 2,
                                 cache_bandwidth_gbs=first.cache_bandwidth_gbs / 3)
    best = machine.best(first, slower)
    assert best.peak_gflops == first.peak_gflops and best.bandwidth_gbs == 2 * first.bandwidth_gbs
    assert best.cache_bandwidth_gbs == first.cache_bandwidth_gbs
    assert best.ridge_flops_per_byte == pytest.approx(first.peak_gflops / (2 * first.bandwidth_gbs))
    assert machine.best(first) == first
    with pytest.raises(ValueError, match="MachineProfile"):
        machine.best({"peak_gflops": 1.0})


def test_activation_values_count_each_swish_and_sigmoid_but_no_clamp():
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="swish", name="swish_conv")(inputs)
    x = keras.layers.Conv2D(4, 1, name="gate")(x)
    x = keras.layers.Activation("sigmoid", name="gate_sigmoid")(x)
    x = keras.layers.Conv2D(4, 1, name="clamped")(x)
    x = keras.layers.ReLU(6.0, name="clamped_relu6")(x)
    table = layer_table(keras.Model(inputs, x))
    assert dict(zip(table["name"], table["activation"])) == {
        table["name"][0]: None, "swish_conv": "silu", "gate": None, "gate_sigmoid": "sigmoid", "clamped": None,
        "clamped_relu6": "relu6"}
    bounds = roofline.machine_bounds(table, {"peak_gflops": 100.0, "bandwidth_gbs": 20.0}, batch=3)
    features = latency_fit.latency_features(bounds, batch=3)
    # 16 x 16 x 8 swish values and 16 x 16 x 4 sigmoid values per image; ReLU6 is a clamp.
    assert features["activation_values"] == 3 * (16 * 16 * 8 + 16 * 16 * 4)
    assert features["graph_layers"] == 5 and features["layers"] == 3


def test_activation_values_count_every_activation_fused_into_a_layer():
    """A convolution's own swish, then a ReLU fused after it, counts the swish; a sigmoid then a
    swish applied to one output count it twice."""
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(6, 3, padding="same", activation="swish", name="swish_then_relu")(inputs)
    x = keras.layers.ReLU(name="relu_after_swish")(x)
    x = keras.layers.Conv2D(5, 1, name="two_passes")(x)
    x = keras.layers.Activation("sigmoid", name="sigmoid")(x)
    x = keras.layers.Activation("swish", name="swish")(x)
    bounds = roofline.machine_bounds(layer_table(keras.Model(inputs, x)), {"peak_gflops": 100.0, "bandwidth_gbs": 20.0})
    assert list(bounds["activations_applied"]) == [("silu", "relu"), ("sigmoid", "silu")]
    assert list(bounds["activation"]) == ["relu", "silu"]  # the last one, as the layer table shows
    features = latency_fit.latency_features(bounds)
    assert features["activation_values"] == 8 * 8 * 6 + 2 * (8 * 8 * 5)


def test_held_out_variants_are_timed_but_join_no_fit():
    profile = {"peak_gflops": 100.0, "bandwidth_gbs": 20.0}
    fitted = mobilenet_grid((0.25, 0.5), (32,))
    held = Variant("mobilenet", alpha=0.75, resolution=32)
    measurements, validation = study.latency_fit_study(profile, [configuration("keras")],
                                                       study.StudyNetworks(fitted, held_out=[held]),
                                                       timing=Timing(repeats=3), progress=False)
    assert list(measurements["held_out"]) == [False, False, True]
    assert held.label not in set(validation["variant"])
    rows, held_rows = study.split_held_out(measurements)
    assert list(rows["variant"]) == [v.label for v in fitted] and list(held_rows["variant"]) == [held.label]
    assert "held_out" not in rows.columns and held_rows["median_ms"].iloc[0] > 0
