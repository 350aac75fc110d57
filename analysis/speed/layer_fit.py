"""A latency fit learned per layer, on the in-context times of a runtime's own profiler.

Each layer group g (``analysis.speed.profile.profile_group``: Convolution, Depthwise,
Pointwise, Fully connected, Other) costs ``efficiency[g] x bound_ms + unit_ms[g]`` per layer,
its roofline bound on the study's machine (fused, at the configuration's precision). A
network costs the sum of its layers plus what its layers do not account for:
``per_layer_ms x layers + fixed_ms``. Coefficients are non-negative (NNLS); each layer's error
is weighted by its network's time, so every network counts alike.

It is validated as the network-level fit is (``analysis.speed.latency_fit``): each profiled
network predicted leave-one-out, and the unseen networks, never profiled, predicted from their
layers' bounds alone.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import nnls

GROUPS = ("Convolution", "Depthwise", "Pointwise", "Fully connected", "Other")


@dataclass
class LayerFit:
    """ms of a layer of group g = efficiency[g] x its bound + unit_ms[g]; a network adds
    per_layer_ms for each layer and fixed_ms."""

    configuration: str
    efficiency: dict
    unit_ms: dict
    per_layer_ms: float
    fixed_ms: float

    def predict_layers(self, bounds):
        """ms per layer of a fused ``machine_bounds`` table (with a ``group`` column)."""
        return np.array([self.efficiency[g] * b + self.unit_ms[g] for g, b in zip(bounds["group"], bounds["bound_ms"])])

    def predict(self, bounds):
        """ms of the network whose fused bounds are ``bounds``."""
        return float(self.predict_layers(bounds).sum()) + self.per_layer_ms * len(bounds) + self.fixed_ms


def _nnls(columns, target, weights):
    coefficients, _ = nnls(np.column_stack(columns) * weights[:, None], np.asarray(target) * weights)
    return coefficients


def fit_layers(layers, networks, configuration):
    """Fit a ``LayerFit`` on profiled ``layers`` (network, group, bound_ms, ms; unattributed rows
    left out) and their ``networks`` (network, median_ms, layers_ms, layer_count)."""
    median = networks.set_index("network")["median_ms"]
    efficiency, unit = {}, {}
    for group in GROUPS:
        rows = layers[layers["group"] == group]
        if rows.empty:
            efficiency[group], unit[group] = 1.0, 0.0
            continue
        weights = 1.0 / rows["network"].map(median).to_numpy(dtype=float)
        efficiency[group], unit[group] = _nnls([rows["bound_ms"].to_numpy(float), np.ones(len(rows))],
                                               rows["ms"].to_numpy(float), weights)
    rest = (networks["median_ms"] - networks["layers_ms"]).to_numpy(float)
    per_layer, fixed = _nnls([networks["layer_count"].to_numpy(float), np.ones(len(networks))], rest,
                             1.0 / networks["median_ms"].to_numpy(float))
    return LayerFit(configuration, {g: float(v) for g, v in efficiency.items()}, {g: float(v) for g, v in unit.items()},
                    float(per_layer), float(fixed))


def study_rows(profiles, totals, configuration):
    """(layers, networks) of one configuration of a study's ``layer_profiles`` and
    ``layer_profile_totals``, as ``fit_layers`` takes them."""
    mine = profiles[(profiles["configuration"] == configuration) & profiles["group"].isin(GROUPS)]
    layers = mine.rename(columns={"variant": "network"})[["network", "layer", "group", "bound_ms", "ms"]]
    counts = mine.groupby("variant").size()
    networks = totals[totals["configuration"] == configuration].rename(columns={"variant": "network"})
    networks = networks.assign(layer_count=networks["network"].map(counts).to_numpy(float),
                               layers_ms=networks["network"].map(mine.groupby("variant")["ms"].sum()).to_numpy(float))
    return layers.reset_index(drop=True), networks[["network", "median_ms", "layers_ms", "layer_count"]].reset_index(drop=True)


def network_bounds(profiles, network, configuration):
    """The fused bounds of a profiled ``network`` on ``configuration`` (its profile's rows)."""
    rows = profiles[(profiles["variant"] == network) & (profiles["configuration"] == configuration)]
    return rows[rows["group"].isin(GROUPS)][["group", "bound_ms"]]


def validate_layer_fit(profiles, totals, configuration):
    """Leave-one-out: each profiled network of ``configuration`` predicted by a fit to the others.

    Returns:
        A DataFrame: configuration, variant, measured_ms, predicted_ms, error (predicted / measured - 1).
    """
    layers, networks = study_rows(profiles, totals, configuration)
    rows = []
    for network in networks["network"]:
        fit = fit_layers(layers[layers["network"] != network], networks[networks["network"] != network], configuration)
        measured = float(networks.loc[networks["network"] == network, "median_ms"].iloc[0])
        predicted = fit.predict(network_bounds(profiles, network, configuration))
        rows.append({"configuration": configuration, "variant": network, "measured_ms": measured,
                     "predicted_ms": predicted, "error": predicted / measured - 1.0})
    return pd.DataFrame(rows)


def predict_unseen(profiles, totals, configuration, unseen, profile):
    """The networks of ``unseen`` (a ``predict_validation`` table: variant, runtime, precision,
    measured_ms) on ``configuration``, predicted by the per-layer fit to every profiled network,
    from their fused bounds on ``profile`` (the study's machine)."""
    from analysis.cost.table import layer_table
    from analysis.speed.profile import profile_group
    from analysis.speed.roofline import machine_bounds
    from analysis.speed.runtimes import parse_configuration
    from analysis.variants import Variant

    config = parse_configuration(configuration)
    fit = fit_layers(*study_rows(profiles, totals, configuration), configuration)
    mine = unseen[(unseen["runtime"] == config.runtime) & (unseen["precision"] == config.precision)]
    rows = []
    for _, row in mine.iterrows():
        bounds = machine_bounds(layer_table(Variant.parse(row["variant"]).build()), profile, precision=config.precision)
        bounds["group"] = [profile_group(role) for role in bounds["role"]]
        predicted = fit.predict(bounds)
        rows.append({"configuration": configuration, "variant": row["variant"], "measured_ms": row["measured_ms"],
                     "predicted_ms": predicted, "error": predicted / row["measured_ms"] - 1.0,
                     "network_fit_error": row["error"]})
    return pd.DataFrame(rows)


# A configuration needs this many profiled networks for its per-layer fit to be validated.
MIN_NETWORKS = 3


def fitted_configurations(totals):
    """The configurations of a study's ``layer_profile_totals`` with at least ``MIN_NETWORKS`` profiled networks."""
    timed = totals.dropna(subset=["median_ms"]) if "median_ms" in totals else totals.iloc[0:0]
    counts = timed.groupby("configuration")["variant"].nunique()
    return [config for config, count in counts.items() if count >= MIN_NETWORKS]


def predicted_terms(profiles, totals, configuration, bounds):
    """The per-layer fit's prediction for a network whose fused bounds are ``bounds`` (with a
    ``group`` column), split into one term per layer group and the network's rest, ms."""
    fit = fit_layers(*study_rows(profiles, totals, configuration), configuration)
    per_layer = pd.Series(fit.predict_layers(bounds), index=bounds.index)
    terms = {group: float(per_layer[bounds["group"] == group].sum()) for group in GROUPS}
    terms["rest of the network"] = fit.per_layer_ms * len(bounds) + fit.fixed_ms
    return terms
