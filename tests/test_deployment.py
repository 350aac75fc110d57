"""The deployment answer (per runtime and precision) from hand-made rows, and the latency study
at two precisions on small networks."""

import numpy as np
import pandas as pd
import pytest

from analysis.speed import deployment, latency_fit, study
from analysis.speed.latency import Timing
from analysis.speed.runtimes import configurations
from analysis.variants import Variant


def rows():
    frame = pd.DataFrame([
        # variant, runtime, precision, ms per image, bound ms
        ("MobileNet 1.0/224", "keras", "fp32", 12.0, 1.0),
        ("VGG16", "keras", "fp32", 160.0, 40.0),
        ("MobileNet 1.0/224", "openvino", "int8", 2.0, 0.5),
        ("VGG16", "openvino", "int8", 40.0, 10.0),
        ("MobileNet 1.0/224", "openvino", "bf16", np.nan, 0.7),
        ("VGG16", "openvino", "bf16", np.nan, 20.0),
    ], columns=["variant", "runtime", "precision", "ms_per_image", "bound_ms"])
    frame["iqr_ms"] = 0.1
    frame["macs"] = frame["variant"].map({"MobileNet 1.0/224": 568_740_352, "VGG16": 15_470_264_320})
    frame["fraction_of_bound"] = frame["bound_ms"] / frame["ms_per_image"]
    frame["note"] = ["", "", "", "", "bf16 is not supported by this CPU", "bf16 is not supported by this CPU"]
    frame["configuration"] = ["keras", "keras", "openvino int8", "openvino int8", "openvino bf16", "openvino bf16"]
    return frame


def test_deployment_table_by_hand():
    table = deployment.deployment_table(rows()).set_index("configuration")
    assert table.loc["keras", "speed ratio"] == pytest.approx(160 / 12)
    assert table.loc["openvino int8", "speed ratio"] == pytest.approx(20.0)
    assert table.loc["keras", "MAC ratio"] == pytest.approx(15_470_264_320 / 568_740_352)  # 27.2
    assert table.loc["openvino int8", "VGG16 of bound"] == pytest.approx(0.25)
    assert "not supported" in table.loc["openvino bf16", "note"]


def test_fastest_configuration_is_named():
    fastest = deployment.fastest_configurations(rows()).set_index("variant")
    assert fastest.loc["VGG16", "fastest"] == "openvino int8"
    assert fastest.loc["MobileNet 1.0/224", "times faster than keras fp32"] == pytest.approx(6.0)


def test_offered_configurations():
    assert deployment.offered_configurations(("litert", "onnxruntime")) == [
        "litert", "litert int8", "onnxruntime", "onnxruntime int8"]


@pytest.mark.slow  # int8 conversions of every variant; test_roofline's held-out study and fit_by_runtime tests stay fast
def test_latency_study_fits_each_precision(tmp_path, monkeypatch):
    from analysis.speed import conversions

    monkeypatch.setattr(conversions.paths, "CACHE_DIR", tmp_path)
    profile = {"peak_gflops": 100.0, "bandwidth_gbs": 20.0, "peaks": {"fp32": 100.0, "bf16": None, "int8": 400.0}}
    variants = [Variant("mobilenet", alpha=a, resolution=r, num_classes=10) for a, r in ((0.25, 32), (0.5, 32), (0.25, 64))]
    fp32_only = Variant("mobilenet", alpha=0.25, resolution=32, num_classes=10, conv=True)
    measurements, validation = study.latency_fit_study(
        profile, configurations(["litert"], ["fp32", "int8"]), study.StudyNetworks(variants, fp32_anchors=[fp32_only]),
        timing=Timing(repeats=3), progress=False)
    assert sorted(set(zip(validation["runtime"], validation["precision"]))) == [("litert", "fp32"), ("litert", "int8")]
    calibrating = measurements[measurements["variant"] == fp32_only.label]
    assert list(calibrating["precision"]) == ["fp32"] and calibrating["anchor"].all()
    assert fp32_only.label not in set(validation["variant"])
    bounds = measurements.pivot(index="variant", columns="precision", values="bound_ms").dropna()
    assert len(bounds) == len(variants) and (bounds["int8"] < bounds["fp32"]).all()  # 4x the peak and a quarter of the bytes
    assert set(latency_fit.fit_by_configuration(measurements)) == {"litert", "litert int8"}


def test_deployment_figure_draws_each_configuration_that_ran():
    from analysis import plots

    fig = plots.draw_deployment(deployment.deployment_table(rows()))
    left, right = fig.axes
    assert [t.get_text() for t in right.get_xticklabels()] == ["keras", "openvino int8"]  # bf16 did not run
    assert [round(b.get_height(), 6) for b in right.patches] == [round(160 / 12, 6), 20.0]


def test_deployed_points_and_their_front():
    from analysis.accuracy.tradeoffs import deployed_points

    accuracy = pd.DataFrame([
        {"variant": "MobileNet 0.5/32", "fp32_accuracy": 0.90, "runtime": "litert", "precision": "int8", "accuracy": 0.89},
        {"variant": "VGG16/32", "fp32_accuracy": 0.95, "runtime": "litert", "precision": "int8", "accuracy": 0.95}])
    latency = pd.DataFrame([
        {"variant": v, "runtime": "litert", "precision": p, "configuration": c, "ms_per_image": ms}
        for v, p, c, ms in (("MobileNet 0.5/32", "fp32", "litert", 0.2), ("MobileNet 0.5/32", "int8", "litert int8", 0.1),
                            ("VGG16/32", "fp32", "litert", 3.0), ("VGG16/32", "int8", "litert int8", 1.0))])
    points = deployed_points(accuracy, latency).set_index(["variant", "configuration"])
    assert points.loc[("MobileNet 0.5/32", "litert"), "accuracy_%"] == pytest.approx(90.0)  # the network's own
    assert points.loc[("MobileNet 0.5/32", "litert int8"), "accuracy_%"] == pytest.approx(89.0)
    # VGG16 fp32 is slower than VGG16 int8 at the same accuracy: dominated. MobileNet fp32 (0.2 ms,
    # 90 %) is beaten by nothing faster and as accurate.
    assert list(points["pareto"]) == [True, True, False, True]


def test_published_accuracy_meets_the_latency_of_each_precision():
    from analysis.accuracy.tradeoffs import published_deployed_points

    latency = pd.DataFrame([
        {"variant": v, "runtime": r, "precision": p, "ms_per_image": ms}
        for v, r, p, ms in (("MobileNet 1.0/224", "litert", "fp32", 3.0), ("MobileNet 1.0/224", "litert", "int8", 1.0),
                            ("MobileNet 1.0/224", "openvino", "bf16", 1.5), ("VGG16", "litert", "fp32", 80.0),
                            ("VGG16", "litert", "int8", 20.0))])
    points = published_deployed_points(latency).set_index(["variant", "configuration"])
    # Printed: TF-slim 70.9 % float and 69.7 % quantized; the MobileNet paper's Table 8, VGG16 71.5 %.
    assert points.loc[("MobileNet 1.0/224", "litert"), "accuracy_%"] == pytest.approx(70.9)
    assert points.loc[("MobileNet 1.0/224", "litert int8"), "accuracy_%"] == pytest.approx(69.7)
    assert points.loc[("VGG16", "litert"), "accuracy_%"] == pytest.approx(71.5)
    assert len(points) == 3  # no bf16 accuracy is published, and no int8 VGG16: neither is assumed
    # VGG16 fp32 (80 ms, 71.5 %) is the most accurate; MobileNet int8 (1 ms) the fastest; MobileNet
    # fp32 (3 ms, 70.9 %) beats nothing faster and as accurate: all three on the front.
    assert points["pareto"].tolist() == [True, True, True]
