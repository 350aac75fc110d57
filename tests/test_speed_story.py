"""analysis.speed.story: the tables of notebook 04, checked against hand-made inputs and shipped results."""

import dataclasses

import pandas as pd
import pytest

from analysis import paths, results
from nets.errors import BadInput
from analysis.speed import latency_fit, story

REFERENCE = paths.DATA_DIR / "study"  # the shipped reference study


@dataclasses.dataclass
class FakeProfile:
    peak_gflops: float = 100.0
    bandwidth_gbs: float = 10.0
    cache_bandwidth_gbs: float = 50.0
    last_level_cache_bytes: int = 32 * 2**20

    def to_dict(self):
        return dataclasses.asdict(self)


def test_steady_profile_retries_then_leaves_the_cache_out():
    calls = []

    def busy():
        calls.append(1)
        return FakeProfile(cache_bandwidth_gbs=5.0)

    profile, note = story.steady_profile(busy, tries=3)
    assert len(calls) == 3
    assert profile.cache_bandwidth_gbs is None and "left out" in note


def test_steady_profile_keeps_a_sane_profile():
    profile, note = story.steady_profile(FakeProfile, tries=3)
    assert profile.cache_bandwidth_gbs == 50.0 and note == ""
    with pytest.raises(BadInput):
        story.steady_profile(FakeProfile, tries=0)


def test_machine_table_ridge_points():
    table = story.machine_table({**FakeProfile().to_dict(), "cpu": "x", "cores": 2, "clock_ghz": 2.0,
                                 "theoretical_peak_gflops": 200.0, "peak_by_library": {"numpy": 100.0}})
    assert table.loc["ridge point, DRAM", "value"] == "10.0"  # 100 GFLOP/s / 10 GB/s
    assert table.loc["ridge point, cache", "value"] == "2.00"
    assert table.loc["measured peak / theoretical", "value"] == "50"
    one_level = story.machine_table({**FakeProfile(cache_bandwidth_gbs=None).to_dict(), "clock_ghz": None})
    assert one_level.loc["cache bandwidth (triad)", "value"] == "not measured"


def _bounds():
    return {"net": pd.DataFrame({"name": ["a", "b", "c", "d"], "role": ["x", "x", "y", "y"],
                                 "bound": ["memory", "compute", "compute", "memory"],
                                 "intensity": [1.0, 20.0, 5.0, 2.0], "ops": [1.0, 3.0, 4.0, 0.0],
                                 "bound_ms": [1.0, 1.0, 2.0, 4.0]})}


def test_memory_bound_counts_and_role_bounds():
    counts = story.memory_bound_counts(_bounds(), FakeProfile())  # DRAM ridge 10 FLOP/byte
    row = counts.loc["net"]
    assert row["memory-bound (roofline)"] == 2 and row["below the DRAM ridge"] == 3
    assert row["below DRAM ridge share_%"] == 75 and row["bound_ms"] == 8
    roles = story.role_bounds(_bounds()).loc["net"]
    assert roles.loc["x", "ops share_%"] == 50 and roles.loc["y", "bound time share_%"] == 75


def test_measured_by_role_and_keras_against_xla():
    bounds = _bounds()
    times = {"net": pd.DataFrame({"name": ["a", "b", "c", "d"], "measured_ms": [2.0, 2.0, 4.0, 4.0]})}
    roles = story.measured_by_role(bounds, times).loc["net"]
    assert roles.loc["x", "measured_ms"] == 4 and roles.loc["x", "bound / measured_%"] == 50
    assert roles.loc["y", "achieved GFLOP/s"] == pytest.approx(4.0 / 8.0 / 1e6)
    assert "add up to 12.0 ms" in story.layer_time_totals(times)
    xla = pd.DataFrame({"name": ["a", "b", "c", "d"], "measured_ms": [6.0, 6.0, 4.0, 4.0]})
    ratio = story.keras_against_xla(bounds["net"], times["net"], xla)
    assert ratio.loc["x", "xla / keras"] == 3 and ratio.loc["y", "xla / keras"] == 1


def test_error_summary_by_configuration():
    validation = pd.DataFrame({"variant": ["p", "q", "r", "p"], "runtime": ["k", "k", "k", "k"],
                               "precision": ["fp32", "fp32", "fp32", "int8"], "error": [0.05, -0.2, 0.01, 0.3]})
    summary = story.error_summary(validation)
    assert summary.loc["k", "within ±10 %"] == "2/3" and summary.loc["k", "worst"] == "q"
    assert summary.loc["k", "median |error| %"] == pytest.approx(5.0)
    assert summary.loc["k int8", "worst error %"] == pytest.approx(30.0)


def test_latency_per_runtime_takes_each_network_from_its_source():
    study = pd.DataFrame({"variant": ["A", "A"], "runtime": ["k", "l"], "precision": ["fp32"] * 2,
                          "ms_per_image": [2.0, 1.0]})
    unseen = pd.DataFrame({"variant": ["B"], "runtime": ["k"], "precision": ["fp32"], "measured_ms": [5.0]})
    table = story.latency_per_runtime({"study": study, "unseen": unseen}, ["A", "B"])
    assert table.loc["A", "l"] == 1.0 and table.loc["B", "k"] == 5.0 and pd.isna(table.loc["B", "l"])
    assert list(table["source"]) == ["study", "unseen"]
    with pytest.raises(BadInput):
        story.latency_per_runtime({"study": study}, ["C"])


def test_shipped_results_give_the_notebook_tables():
    deployment = results.results("deployment_latency", REFERENCE)
    grades = story.shipped_grades(deployment)
    assert set(grades["runtime"]) >= {"keras", "xla", "litert"}
    row = grades.iloc[0]
    assert row["fraction_of_peak_%"] == pytest.approx(100 * row["gflops"] / deployment.attrs["peaks"]["fp32"])
    gpu = results.results("gpu_latency")
    lines = story.gpu_summary(gpu, "MobileNet 1.0/224", "VGG16", layers=86).splitlines()
    assert len(lines) == 4 and "H100" in lines[0]
    assert "TFLOP/s" in story.gpu_table(gpu)
    coefficients = story.fit_coefficients(results.results("latency_study", REFERENCE))
    assert "litert" in coefficients.index and (coefficients["ns per channel"] >= 0).all()


def _study_rows(measured_ms, matrix_bounds, calibration):
    features = {f"feature_{name}": 0.0 for name in latency_fit.FEATURE_NAMES}
    return pd.DataFrame([{**features, "feature_Matrix product": bound, "variant": f"v{i}", "runtime": "k",
                          "precision": "fp32", "median_ms": ms, "anchor": cal}
                         for i, (ms, bound, cal) in enumerate(zip(measured_ms, matrix_bounds, calibration))])


def test_in_sample_errors_of_a_fit_that_cannot_serve_both_variants():
    """Two variants with one and the same bound (1 ms) measured at 1 and 2 ms: minimizing
    ((p - 1) / 1)^2 + ((p - 2) / 2)^2 gives p = 1.2 ms for both, so +20 % and -40 %, whichever is
    left out; a calibration row joins the fit but is not reported."""
    study = _study_rows([1.0, 2.0, 3.0], [1.0, 1.0, 2.5], [False, False, True])
    errors = latency_fit.in_sample_errors(study[:2])
    assert list(errors["variant"]) == ["v0", "v1"]
    assert errors["predicted_ms"].tolist() == pytest.approx([1.2, 1.2])
    assert errors["error"].tolist() == pytest.approx([0.2, -0.4])
    assert list(latency_fit.in_sample_errors(study)["variant"]) == ["v0", "v1"]
    validation = pd.DataFrame({"variant": ["v0", "v1"], "runtime": ["k"] * 2, "precision": ["fp32"] * 2,
                               "error": [0.5, -0.6]})
    summary = story.error_summary(validation, study=study[:2])
    assert summary.loc["k", "worst |error| %, all fitted"] == pytest.approx(40.0)
    assert "worst |error| %, all fitted" not in story.error_summary(validation).columns
