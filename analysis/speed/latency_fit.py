"""A latency fit: a network's time predicted from its roofline bounds and a few counts.

The latency fit predicts a network's time as
``e_matrix * B_matrix + e_depthwise * B_depthwise + e_elementwise * B_elementwise + B_bound
+ c_layer * layers + c_graph * graph_layers + c_position * depthwise_positions
+ c_channel * channels + c_act * activation_values``,
with ``B_g`` the summed bound of a group of (fused) layers: matrix products
(full and pointwise convolutions), depthwise convolutions, element-wise
layers (residual adds, squeeze-and-excitation products, padding, input
scaling: ``ELEMENTWISE_TYPES``), and the layers charged at their bound,
factor 1 (``B_bound``: pooling, reshapes, and the fully connected layers,
which at batch 1 multiply a matrix by a vector and so stream their weights
once, at the measured bandwidth: MobileNets have almost no such work and no
fit could pin a factor down). The counts carry the costs no bound sees: a
fixed cost per fused layer (a kernel launch) and per layer of the unfused
Keras graph (a runtime that runs batch norm and activations as operations of
their own pays for each), per output position of a depthwise convolution
(its inner loop runs once per position whatever the channel count, which
dominates thin layers), and per output channel of every layer
(resolution-independent setup that grows with the width: weight packing,
per-channel parameters, XLA's per-group loops), and per output value of an
activation that is not a clamp (swish, sigmoid: ``c_act * activation_values``).
The coefficients are fitted per runtime by non-negative least squares on
measured end-to-end times, relative error weighted, over the validated
variants and anchor variants (``analysis.speed.study``) whose mix of the
groups differs from theirs: Conv and shallow MobileNets at every precision,
and keras.applications networks with element-wise layers at fp32.

Bounds come from ``analysis.speed.roofline``; the study that measures and
validates a fit is ``analysis.speed.study``.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import nnls

from analysis.cost.formulas import tensor_elements
from analysis.speed.roofline import role_group
from analysis.speed.runtimes import Configuration
from nets.errors import BadInput

# The latency fit's groups: matrix-product-like layers (full and
# pointwise convolutions) and depthwise convolutions, one efficiency factor
# each. The rest is charged at its bound (FIXED_GROUP): MobileNet's few such
# layers (a global pool, a reshape, a 1000-way classifier) have almost no
# bound, so a factor of their own would be fitted to nothing and then applied
# to VGG16's large pooling and fully connected layers.
FIT_GROUPS = ("Matrix product", "Depthwise", "Element-wise")
FIXED_GROUP = "Other"
# Layers of the "Element-wise" group: they combine or rescale tensors value by value (residual
# adds, squeeze-and-excitation products, concatenations, padding, input scaling). Some runtimes
# fuse them into the convolution before them (a cost near 0), others run each as a pass over
# memory (a cost near or above their bound): a factor of their own, pinned down by the
# anchor networks that hold them (``analysis.speed.study.zoo_anchor_variants``).
ELEMENTWISE_TYPES = frozenset({
    "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Rescaling",
    "Normalization", "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D", "Cropping1D", "Cropping2D",
    "Cropping3D", "ReLU", "Activation", "BatchNormalization"})
# Layers that ``role_group`` puts in a fitted group but the fit charges at
# their bound: at batch 1 a fully connected layer is a matrix-vector product,
# which streams its weights once.
BOUND_CHARGED_ROLES = ("Fully connected",)
# Counted features, each with a fitted cost per unit (ms).
COUNT_FEATURES = ("layers", "graph_layers", "depthwise_positions", "channels", "activation_values")
# Activations that a runtime applies as a clamp in the epilogue of the convolution before them, at
# no cost of their own. Any other (swish, sigmoid, hard-sigmoid, GELU) is counted per value:
# LiteRT, for one, runs swish as a sigmoid and a product, each a pass over the tensor.
CLAMP_ACTIVATIONS = frozenset({"relu", "relu6"})


def fit_group(role, layer_type=""):
    """The latency fit's group of a layer (its ``layer_role`` and class name): a ``FIT_GROUPS``
    entry or ``FIXED_GROUP``. ``keras.ops`` calls (``ops.Add``) are element-wise."""
    if role in BOUND_CHARGED_ROLES:
        return FIXED_GROUP
    group = role_group(role)
    if group == "Other" and (layer_type in ELEMENTWISE_TYPES or layer_type.startswith("ops.")):
        return "Element-wise"
    return group


def _spatial_positions(shape):
    return int(np.prod(shape[:-1])) if shape else 0


def latency_features(bounds, batch=1):
    """Features of the latency fit for one network (a fused ``layer_bounds`` table for ``batch``).

    Returns:
        A dict: the summed bound of each group (ms; ``FIT_GROUPS`` and
        ``FIXED_GROUP``), ``layers`` (the fused layer count), ``graph_layers``
        (the layers before fusion: Keras' layers and ``keras.ops`` calls but
        the input), ``depthwise_positions``
        (output positions of the depthwise convolutions, height x width summed
        over them, times ``batch``), ``channels`` (output channels summed
        over every layer) and ``activation_values`` (output values of the layers
        times the activations they apply that are not a clamp, ``CLAMP_ACTIVATIONS``, times
        ``batch``: a convolution with swish followed by a ReLU counts its output once).
    """
    groups = pd.Series([fit_group(r, t) for r, t in zip(bounds["role"], bounds["type"])], index=bounds.index)
    summed = bounds.groupby(groups)["bound_ms"].sum()
    features = {group: float(summed.get(group, 0.0)) for group in FIT_GROUPS + (FIXED_GROUP,)}
    shapes = bounds["output_shape"]
    features["layers"] = float(len(bounds))
    fused_away = sum(len(names) for names in bounds["fused"]) if "fused" in bounds else 0
    features["graph_layers"] = float(len(bounds) + fused_away)
    features["depthwise_positions"] = float(batch * sum(
        _spatial_positions(shape) for shape, group in zip(shapes, groups) if group == "Depthwise"))
    features["channels"] = float(sum(shape[-1] for shape in shapes if shape))
    features["activation_values"] = float(batch * sum(
        tensor_elements(shape) * sum(name not in CLAMP_ACTIVATIONS for name in names)
        for shape, names in zip(shapes, bounds["activations_applied"])))
    return features


@dataclass
class LatencyFit:
    """time_ms = sum(efficiency[group] * bound_ms of the group) + bound_ms of FIXED_GROUP
    + sum(unit_ms[count] * count) over ``COUNT_FEATURES``."""

    configuration: str
    efficiency: dict
    unit_ms: dict

    def terms(self, features):
        """The predicted time split by term, ms: one entry per fitted group, ``FIXED_GROUP``
        (charged at its bound) and one per ``COUNT_FEATURES`` entry."""
        return {**{g: self.efficiency[g] * features[g] for g in FIT_GROUPS}, FIXED_GROUP: features[FIXED_GROUP],
                **{c: self.unit_ms[c] * features[c] for c in COUNT_FEATURES}}

    def predict(self, features):
        return sum(self.terms(features).values())


PRIOR_WEIGHT = 0.0


def fit_latency(features, measured_ms, configuration, prior_weight=PRIOR_WEIGHT):
    """Fit efficiencies (>= 0, one per fitted group) and costs per unit of ``COUNT_FEATURES`` by NNLS,
    on relative error.

    Args:
        features: list of ``latency_features`` dicts, one per network variant.
        measured_ms: the measured median time of each, in ms.
        configuration: the label of the runtime and precision they were measured on.
        prior_weight: strength of an optional pull of each efficiency towards 1
            (time = roofline bound), for features too collinear to pin a
            group down; 0 (the default) turns it off: the anchor
            variants separate the groups instead, and a runtime such as XLA
            whose depthwise kernels run many times their bound must not be
            pulled towards it.
    """
    columns = list(FIT_GROUPS) + list(COUNT_FEATURES)
    matrix = np.array([[f[c] for c in columns] for f in features], dtype=float)
    measured = np.asarray(measured_ms, dtype=float)
    target = measured - np.array([f[FIXED_GROUP] for f in features], dtype=float)
    weights = 1.0 / measured  # fit relative errors, so small variants count as much as VGG16
    rows, values = matrix * weights[:, None], target * weights
    if prior_weight:
        prior = np.zeros((len(FIT_GROUPS), len(columns)))
        prior[:, :len(FIT_GROUPS)] = np.sqrt(prior_weight) * np.eye(len(FIT_GROUPS))
        rows = np.vstack([rows, prior])
        values = np.concatenate([values, np.full(len(FIT_GROUPS), np.sqrt(prior_weight))])
    coefficients, _ = nnls(rows, values)
    groups = len(FIT_GROUPS)
    return LatencyFit(configuration=configuration, efficiency=dict(zip(FIT_GROUPS, map(float, coefficients[:groups]))),
                      unit_ms=dict(zip(COUNT_FEATURES, map(float, coefficients[groups:]))))


def validate_latency_fit(labels, features, measured_ms, configuration, prior_weight=PRIOR_WEIGHT,
                         anchors=((), ())):
    """Leave-one-out validation: each variant (by label) predicted by a fit to all the others.

    ``anchors``: (features, measured_ms) of anchor variants, part of every fit and never predicted.

    Returns:
        A DataFrame with variant, measured_ms, predicted_ms and error (relative).
    """
    extra_features, extra_ms = (list(part) for part in anchors)
    rows = []
    for i, label in enumerate(labels):
        keep = [j for j in range(len(labels)) if j != i]
        fit = fit_latency([features[j] for j in keep] + extra_features,
                          [measured_ms[j] for j in keep] + extra_ms, configuration, prior_weight)
        predicted = fit.predict(features[i])
        rows.append({"configuration": configuration, "variant": label, "measured_ms": float(measured_ms[i]),
                     "predicted_ms": predicted, "error": predicted / measured_ms[i] - 1.0})
    return pd.DataFrame(rows)


FEATURE_NAMES = FIT_GROUPS + (FIXED_GROUP,) + COUNT_FEATURES


def row_features(measurements):
    """The ``latency_features`` dicts of the rows of a ``latency_fit_study`` table."""
    return [{name: row[f"feature_{name}"] for name in FEATURE_NAMES} for _, row in measurements.iterrows()]


def predicted_terms(measurements, variant):
    """How the latency fit on every row (``fit_by_configuration``) splits ``variant``'s time on each
    runtime and precision: a DataFrame, one row per configuration (``litert``, ``litert int8``),
    one column per term (ms), measured_ms and its interquartile range measured_ms_iqr (NaN where the
    measurements have no iqr_ms)."""
    rows = {}
    named = measurements.assign(configuration=configurations(measurements))
    for name, fit in fit_by_configuration(measurements).items():
        row = named[(named["configuration"] == name) & (named["variant"] == variant.label)]
        if row.empty:
            raise BadInput(f"No measurement of {variant.label!r} on {name}. Received variants "
                           f"{sorted(measurements['variant'].unique())}")
        rows[name] = {**fit.terms(row_features(row)[0]), "measured_ms": float(row["median_ms"].iloc[0]),
                      "measured_ms_iqr": float(row["iqr_ms"].iloc[0]) if "iqr_ms" in row else float("nan")}
    return pd.DataFrame(rows).T


def configurations(measurements):
    """Each row's configuration label (``litert``, ``litert int8``)."""
    return [Configuration(r, p).label for r, p in zip(measurements["runtime"], measurements["precision"])]


def fit_by_configuration(measurements):
    """The latency fit of each runtime and precision, fitted on every row of a
    ``latency_fit_study`` table (anchor variants included):
    {configuration: ``LatencyFit``}, e.g. ``{"litert": ..., "litert int8": ...}``."""
    named = measurements.assign(configuration=configurations(measurements))
    return {name: fit_latency(row_features(group), list(group["median_ms"]), name)
            for name, group in named.groupby("configuration", sort=False)}


def in_sample_errors(measurements):
    """Each validated variant of a ``latency_fit_study`` table predicted by the fit of its
    configuration to every row, itself included (``fit_by_configuration``, the fit ``predict`` uses):
    what the fit misses even on a variant it was fitted on (left out, ``validate_latency_fit``,
    a variant usually does worse).

    Returns:
        A DataFrame with runtime, precision, variant, measured_ms, predicted_ms and error (relative).
    """
    named = measurements.assign(configuration=configurations(measurements))
    fits = fit_by_configuration(measurements)
    validated = named[~named["anchor"]] if "anchor" in named else named
    predicted = [fits[name].predict(features)
                 for name, features in zip(validated["configuration"], row_features(validated))]
    rows = validated[["runtime", "precision", "variant", "median_ms"]].rename(columns={"median_ms": "measured_ms"})
    return rows.assign(predicted_ms=predicted, error=lambda t: t["predicted_ms"] / t["measured_ms"] - 1.0
                       ).reset_index(drop=True)
