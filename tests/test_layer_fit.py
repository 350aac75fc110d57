"""The per-layer latency fit: coefficients recovered from layers made by a known model, and a
network predicted leave-one-out as the sum of its layers plus its rest."""

import numpy as np
import pandas as pd
import pytest

from analysis.speed import layer_fit

TRUE = {"efficiency": {"Convolution": 1.5, "Depthwise": 4.0, "Pointwise": 2.0, "Fully connected": 1.2, "Other": 3.0},
        "unit_ms": {"Convolution": 0.02, "Depthwise": 0.05, "Pointwise": 0.01, "Fully connected": 0.0, "Other": 0.03},
        "per_layer_ms": 0.004, "fixed_ms": 0.3}


def _study(networks=6, seed=0):
    """Profiles and totals of networks whose layers cost exactly ``TRUE``'s model."""
    rng = np.random.default_rng(seed)
    profiles, totals = [], []
    for n in range(networks):
        groups = rng.choice(layer_fit.GROUPS, size=20 + 5 * n)
        bounds = rng.uniform(0.01, 2.0, len(groups))
        ms = [TRUE["efficiency"][g] * b + TRUE["unit_ms"][g] for g, b in zip(groups, bounds)]
        label = f"net{n}"
        profiles.append(pd.DataFrame({"variant": label, "configuration": "openvino", "layer": [f"l{i}" for i in range(len(groups))],
                                      "group": groups, "bound_ms": bounds, "ms": ms}))
        median = sum(ms) + TRUE["per_layer_ms"] * len(groups) + TRUE["fixed_ms"]
        totals.append({"variant": label, "configuration": "openvino", "median_ms": median})
    return pd.concat(profiles, ignore_index=True), pd.DataFrame(totals)


def test_the_fit_recovers_the_model_that_made_the_layers():
    profiles, totals = _study()
    fit = layer_fit.fit_layers(*layer_fit.study_rows(profiles, totals, "openvino"), "openvino")
    for group in layer_fit.GROUPS:
        assert fit.efficiency[group] == pytest.approx(TRUE["efficiency"][group], rel=1e-6)
        assert fit.unit_ms[group] == pytest.approx(TRUE["unit_ms"][group], abs=1e-9)
    assert fit.per_layer_ms == pytest.approx(TRUE["per_layer_ms"], rel=1e-6)
    assert fit.fixed_ms == pytest.approx(TRUE["fixed_ms"], rel=1e-6)


def test_leave_one_out_predicts_each_network_as_its_layers_plus_its_rest():
    profiles, totals = _study()
    validation = layer_fit.validate_layer_fit(profiles, totals, "openvino")
    assert list(validation["variant"]) == list(totals["variant"])
    assert np.abs(validation["error"]).max() < 1e-6  # exact data: every held-out network is predicted exactly
    totals.loc[0, "median_ms"] *= 1.1  # a network 10 % slower than its layers say
    shifted = layer_fit.validate_layer_fit(profiles, totals, "openvino").set_index("variant")
    assert shifted.loc["net0", "error"] == pytest.approx(1 / 1.1 - 1, abs=0.01)


def test_unattributed_time_is_the_networks_rest_not_a_layer():
    profiles, totals = _study()
    extra = pd.DataFrame({"variant": "net0", "configuration": "openvino", "layer": ["unattributed"], "group": [""],
                          "bound_ms": [np.nan], "ms": [0.5]})
    layers, networks = layer_fit.study_rows(pd.concat([profiles, extra]), totals, "openvino")
    assert "unattributed" not in set(layers["layer"])
    counts = profiles.groupby("variant").size()
    assert networks.set_index("network")["layer_count"].to_dict() == counts.astype(float).to_dict()


def test_predict_uses_the_per_layer_fit_where_the_study_has_only_layer_profiles(tmp_path):
    import json

    from analysis import paths
    from analysis.cost.table import layer_table
    from analysis.speed.predict import predict
    from analysis.speed.profile import profile_group
    from analysis.speed.roofline import machine_bounds
    from analysis.speed.runtimes import configuration
    from analysis.study.folder import start_or_continue
    from analysis.variants import Variant
    from nets.errors import BadInput

    machine = json.loads((paths.DATA_DIR / "study" / "machine_profile.json").read_text())["profile"]
    study = start_or_continue(tmp_path / "s", "python -m analysis study", 15)
    study.write("machine_profile", pd.DataFrame({"quantity": ["cores"], "value": [2]}), profile=machine)
    profiles, totals = _study()
    study.write("layer_profiles", profiles)
    study.write("layer_profile_totals", totals)
    variant = Variant("mobilenet", alpha=0.25, resolution=64)
    prediction = predict(variant, configuration("openvino"), study=study)
    bounds = machine_bounds(layer_table(variant.build()), machine, precision="fp32")
    expected = sum(TRUE["efficiency"][profile_group(r)] * b + TRUE["unit_ms"][profile_group(r)]
                   for r, b in zip(bounds["role"], bounds["bound_ms"])) + TRUE["per_layer_ms"] * len(bounds) + TRUE["fixed_ms"]
    assert prediction.predicted_ms == pytest.approx(expected, rel=1e-5)
    assert prediction.fit_source.startswith("the per-layer fit on the given study")
    with pytest.raises(BadInput, match="holds no litert measurements"):
        predict(variant, configuration("litert"), study=study)
